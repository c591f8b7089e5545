//! Building the use cases' collaborators from the configuration: the one way every process
//! makes them (the Lambda functions, `backroom dev`, the `backroom` CLI, the tests), once per
//! process (once per cold start in Lambda). What differs between processes is only the
//! configuration (`backroom dev` points it at its simulators) and the [`Tuning`]. The webhook
//! functions build their ingest with backroom-ingest alone and never come here.

use std::time::Duration;

use backroom_db::{Db, Store};
use backroom_ingest::Ingest;
use backroom_printful::{PrintfulClient, PrintfulSettings};
use backroom_stripe::{StripeClient, StripeSettings};

use crate::alerts::Alerts;
use crate::checkout::CheckoutSettings;
use crate::config::Config;
use crate::http::Shop;
use crate::outbox::Outbox;
use crate::services::Worker;

/// How a process uses the database and the providers.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// Database connections in the pool.
    pub connections: usize,
    /// Each request to Stripe, and to Printful, from sending to the end of the answer.
    pub stripe_timeout: Duration,
    pub printful_timeout: Duration,
    /// Printful's 429s retried per call, and the most a call waits between attempts in all.
    pub printful_max_retries: u32,
    pub printful_max_backoff: Duration,
}

impl Tuning {
    /// A Lambda instance serves one request at a time: one connection is enough.
    pub const LAMBDA: Tuning = Tuning {
        connections: 1,
        stripe_timeout: Duration::from_secs(10),
        printful_timeout: Duration::from_secs(10),
        printful_max_retries: 5,
        printful_max_backoff: Duration::from_secs(20),
    };

    /// A process on the owner's machine, with `connections` database connections.
    pub const fn local(connections: usize) -> Tuning {
        Tuning {
            connections,
            ..Tuning::LAMBDA
        }
    }
}

/// The collaborators, built from one configuration and sharing one database pool.
#[derive(Clone)]
pub struct Services {
    pub config: Config,
    pub tuning: Tuning,
    pub store: Store,
}

impl Services {
    /// Needs a database; the providers are asked for only by what uses them.
    pub fn new(config: Config, tuning: Tuning) -> anyhow::Result<Services> {
        let store = Store::new(
            Db::new(config.require_database()?.clone(), tuning.connections).with_isolation(config.db_isolation),
        );
        Ok(Services { config, tuning, store })
    }

    pub fn stripe(&self) -> anyhow::Result<StripeClient> {
        stripe(&self.config, &self.tuning)
    }

    pub fn printful(&self) -> anyhow::Result<PrintfulClient> {
        printful(&self.config, &self.tuning)
    }

    /// Alerts to SNS when both topics are configured, else to the console.
    pub async fn alerts(&self) -> Alerts {
        match self.config.alert_topics() {
            Some((ops, security)) => Alerts {
                store: self.store.clone(),
                sink: crate::alerts::Sink::Sns(backroom_aws::SnsSink::from_env(ops, security).await),
                cooldown: crate::alerts::DEFAULT_COOLDOWN,
            },
            None => Alerts::console(self.store.clone()),
        }
    }

    /// Order events to the EventBridge bus when `EVENT_BUS_NAME` is set (`AWS_ENDPOINT_URL` may
    /// point at a local emulator); else to the log on a local database or when the stack has
    /// them off (`ORDER_EVENTS_OFF`), and left in the outbox on Aurora DSQL otherwise (the CLI,
    /// which leaves them to the functions).
    pub fn outbox(&self) -> Outbox {
        let live =
            matches!(self.config.database, Some(backroom_db::DbConfig::Dsql(_))) && !self.config.order_events_off;
        Outbox::new(
            self.store.clone(),
            self.config.event_bus_name.as_deref(),
            self.config.events_include_email,
            live,
        )
    }

    /// The worker (and the scheduled jobs): the database, both providers, alerts, the outbox.
    pub async fn worker(&self) -> anyhow::Result<Worker> {
        Ok(Worker {
            store: self.store.clone(),
            stripe: self.stripe()?,
            printful: self.printful()?,
            alerts: self.alerts().await,
            paused: self.config.fulfillment_paused,
            outbox: self.outbox(),
        })
    }

    /// The storefront's routes: the database, Stripe and the checkout settings.
    pub fn shop(&self) -> anyhow::Result<Shop> {
        let c = &self.config;
        Ok(Shop {
            store: self.store.clone(),
            stripe: self.stripe()?,
            checkout: CheckoutSettings {
                storefront_origin: c.require_storefront_origin()?.to_string(),
                shipping_countries: c.shipping_countries.clone(),
                shipping_rate_ids: c.stripe_shipping_rates.clone(),
                automatic_tax: c.stripe_automatic_tax,
                allow_promotion_codes: c.stripe_promotion_codes,
            },
        })
    }

    /// The webhook routes' ingest, sending to `queue`, where one process serves them with the
    /// rest (`backroom dev`, the tests).
    pub fn ingest<Q>(&self, queue: Q) -> Ingest<Q> {
        Ingest::new(&self.config.ingest, self.config.stripe_livemode(), queue)
    }
}

/// The worker of a Lambda function.
pub async fn lambda_worker(config: &Config) -> anyhow::Result<Worker> {
    Services::new(config.clone(), Tuning::LAMBDA)?.worker().await
}

/// The Stripe client of the configuration (no database needed: `backroom setup` uses it alone).
pub fn stripe(config: &Config, tuning: &Tuning) -> anyhow::Result<StripeClient> {
    Ok(StripeClient::new(StripeSettings {
        secret_key: config.require_stripe_key()?.clone(),
        api_base: config.stripe_api_base.clone(),
        timeout: tuning.stripe_timeout,
    })?)
}

/// The Printful client of the configuration.
pub fn printful(config: &Config, tuning: &Tuning) -> anyhow::Result<PrintfulClient> {
    Ok(PrintfulClient::new(PrintfulSettings {
        token: config.require_printful_token()?.clone(),
        store_id: config.printful_store_id.clone(),
        api_base: config.printful_api_base.clone(),
        timeout: tuning.printful_timeout,
        max_retries: tuning.printful_max_retries,
        max_backoff: tuning.printful_max_backoff,
    })?)
}
