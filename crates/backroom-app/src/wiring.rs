//! Building the use cases' dependencies from the configuration, once per process (once per cold
//! start in Lambda).

use std::time::Duration;

use anyhow::Context;
use backroom_aws::SqsQueue;
use backroom_db::{Db, Store};
use backroom_printful::{PrintfulClient, PrintfulSettings};
use backroom_stripe::webhook::WebhookVerifier;
use backroom_stripe::{StripeClient, StripeSettings};

use crate::alerts::Alerts;
use crate::checkout::CheckoutSettings;
use crate::config::Config;
use crate::events::Events;
use crate::fulfillment::Fulfiller;
use crate::http::{Ingest, Shop};
use crate::queue::Queue;
use crate::worker::Worker;

/// A Lambda instance serves one request at a time: one connection is enough.
pub const LAMBDA_CONNECTIONS: usize = 1;

pub fn store(config: &Config, connections: usize) -> anyhow::Result<Store> {
    Ok(Store::new(Db::new(config.require_database()?.clone(), connections)))
}

pub fn stripe(config: &Config) -> anyhow::Result<StripeClient> {
    let settings = StripeSettings {
        secret_key: config.require_stripe_key()?.clone(),
        api_base: config.stripe_api_base.clone(),
        timeout: Duration::from_secs(10),
    };
    Ok(StripeClient::new(settings)?)
}

pub fn checkout_settings(config: &Config) -> anyhow::Result<CheckoutSettings> {
    Ok(CheckoutSettings {
        storefront_origin: config.require_storefront_origin()?.to_string(),
        shipping_countries: config.shipping_countries.clone(),
        shipping_rate_ids: config.stripe_shipping_rates.clone(),
        automatic_tax: config.stripe_automatic_tax,
        allow_promotion_codes: config.stripe_promotion_codes,
    })
}

pub fn shop(config: &Config, connections: usize) -> anyhow::Result<Shop> {
    Ok(Shop {
        store: store(config, connections)?,
        stripe: stripe(config)?,
        checkout: checkout_settings(config)?,
    })
}

/// The Stripe webhook verifier, when `STRIPE_WEBHOOK_SECRETS` is set.
pub fn verifier(config: &Config) -> Option<WebhookVerifier> {
    if config.stripe_webhook_secrets.is_empty() {
        return None;
    }
    Some(WebhookVerifier::new(
        config.stripe_webhook_secrets.clone(),
        config.stripe_livemode(),
    ))
}

/// The webhook functions' dependencies: a verifier and SQS. No database.
pub async fn ingest(config: &Config) -> anyhow::Result<Ingest> {
    let url = config.events_queue_url.clone().context("EVENTS_QUEUE_URL is not set")?;
    Ok(Ingest {
        stripe_verifier: verifier(config),
        printful_token: config.printful_webhook_token.clone(),
        printful_secret: config.printful_webhook_secret.clone(),
        queue: Queue::Sqs(SqsQueue::from_env(url).await),
    })
}

pub fn printful(config: &Config) -> anyhow::Result<PrintfulClient> {
    Ok(PrintfulClient::new(PrintfulSettings {
        token: config.require_printful_token()?.clone(),
        store_id: config.printful_store_id.clone(),
        api_base: config.printful_api_base.clone(),
        timeout: Duration::from_secs(10),
        max_retries: 5,
        max_backoff: Duration::from_secs(20),
    })?)
}

/// Alerts to SNS when both topics are configured, else to the console.
pub async fn alerts(config: &Config, store: Store) -> Alerts {
    match config.alert_topics() {
        Some((ops, security)) => Alerts {
            store,
            sink: crate::alerts::Sink::Sns(backroom_aws::SnsSink::from_env(ops, security).await),
            cooldown: crate::alerts::DEFAULT_COOLDOWN,
        },
        None => Alerts::console(store),
    }
}

/// Order events to the EventBridge bus when `EVENT_BUS_NAME` is set (`AWS_ENDPOINT_URL` may
/// point at a local emulator); else to the log on a local database, and left in the outbox on
/// Aurora DSQL.
pub fn events(config: &Config, store: Store) -> Events {
    let live = matches!(config.database, Some(backroom_db::DbConfig::Dsql(_)));
    Events::new(
        store,
        config.event_bus_name.as_deref(),
        config.events_include_email,
        live,
    )
}

/// The worker for a Lambda function: alerts to SNS when configured.
pub async fn lambda_worker(config: &Config) -> anyhow::Result<Worker> {
    let mut worker = worker(config, LAMBDA_CONNECTIONS)?;
    let alerts = alerts(config, worker.store.clone()).await;
    worker.fulfiller.alerts = alerts.clone();
    worker.alerts = alerts;
    Ok(worker)
}

pub fn worker(config: &Config, connections: usize) -> anyhow::Result<Worker> {
    let store = store(config, connections)?;
    let alerts = Alerts::console(store.clone());
    let fulfiller = Fulfiller {
        store: store.clone(),
        printful: printful(config)?,
        alerts: alerts.clone(),
        paused: config.fulfillment_paused,
        events: events(config, store.clone()),
    };
    Ok(Worker {
        stripe: stripe(config)?,
        alerts,
        store,
        fulfiller,
    })
}
