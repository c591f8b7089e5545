//! The shop's typed configuration, read once per process (once per cold start in Lambda), from
//! the variables backroom-ingest's `config` reads (the one place that reads the environment);
//! secrets are `SecretString`s and never printed.

use std::collections::HashMap;

use backroom_db::{DbConfig, DsqlConfig, DsqlRole, Isolation};
pub use backroom_ingest::config::{ConfigError, IngestConfig, SECRET_NAMES, Vars};
use secrecy::SecretString;

/// The application role the functions use on DSQL when `DSQL_ROLE` is not set.
pub const DEFAULT_DSQL_APP_ROLE: &str = "backroom_app";

/// Countries Stripe Checkout collects shipping addresses for when `SHIPPING_COUNTRIES` is unset.
pub const DEFAULT_SHIPPING_COUNTRIES: &[&str] = &[
    "AT", "AU", "BE", "CA", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "NL", "NO", "PT", "SE", "US",
];

#[derive(Clone, Debug)]
pub struct Config {
    /// Where the database is, if configured.
    pub database: Option<DbConfig>,
    /// `BACKROOM_DB_ISOLATION=serializable`: `backroom dev` runs its transactions SERIALIZABLE on
    /// its local PostgreSQL, so that contention aborts at COMMIT with 40001 as on Aurora DSQL
    /// (the flash-sale test's second run). The Lambda functions always use REPEATABLE READ, the
    /// only level DSQL has.
    pub db_isolation: Isolation,
    /// The webhook secrets and the events queue (what the webhook functions read alone).
    pub ingest: IngestConfig,
    pub stripe_secret_key: Option<SecretString>,
    pub stripe_api_base: Option<String>,
    /// Shipping rate ids offered at checkout when the catalog has no shipping zones.
    pub stripe_shipping_rates: Vec<String>,
    /// `STRIPE_AUTOMATIC_TAX=true`: Stripe Tax computes tax at checkout (set up at Stripe first).
    pub stripe_automatic_tax: bool,
    /// `STRIPE_PROMOTION_CODES=true`: the payment page takes promotion codes.
    pub stripe_promotion_codes: bool,
    pub shipping_countries: Vec<String>,
    /// The storefront's origin: the only origin allowed by CORS, and where Stripe sends the
    /// buyer back.
    pub storefront_origin: Option<String>,
    pub printful_token: Option<SecretString>,
    /// Sent as `X-PF-Store-Id` (account-level tokens need it).
    pub printful_store_id: Option<String>,
    pub printful_api_base: Option<String>,
    /// `FULFILLMENT_PAUSED=true`: paid orders wait until released.
    pub fulfillment_paused: bool,
    /// Our public base URL; the reconciler checks that both providers' webhooks point at it.
    pub webhook_base_url: Option<String>,
    pub alerts_topic_arn: Option<String>,
    pub security_topic_arn: Option<String>,
    /// The SSM parameter name of each secret: `<NAME>_PARAM`, else the template's default.
    /// `backroom setup secrets` writes them.
    pub secret_params: SecretParams,
    /// `DEAD_LETTER_QUEUE_URL`: the events queue's dead-letter queue, for `backroom dlq`.
    pub dead_letter_queue_url: Option<String>,
    /// `EVENT_BUS_NAME`: the EventBridge bus order events go to; without it they go to the log.
    pub event_bus_name: Option<String>,
    /// `ORDER_EVENTS_OFF=true`: the stack publishes no order events (template.yaml's
    /// `OrderEvents`), so a function on the live database writes them to its log and marks them
    /// sent instead of leaving them in the outbox for a bus.
    pub order_events_off: bool,
    /// `EVENTS_INCLUDE_EMAIL=true`: order events carry the buyer's e-mail address (off by default).
    pub events_include_email: bool,
    /// `BUYER_DATA_RETENTION_DAYS`: the buyer's email, name and address are forgotten this many
    /// days after delivery or cancellation (crate::forget); `None` (the default) keeps them.
    pub buyer_data_retention_days: Option<u32>,
}

/// The SSM parameter names of the secrets (see [`SECRET_NAMES`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretParams {
    pub stripe_secret_key: String,
    pub stripe_webhook_secrets: String,
    pub printful_token: String,
    pub printful_webhook_token: String,
    /// The template has no default for this one (v2 signed webhooks are optional); this name is
    /// the one `backroom setup secrets` proposes, to be passed as `PrintfulWebhookSecretParam`.
    pub printful_webhook_secret: String,
}

impl Default for SecretParams {
    /// The defaults of template.yaml's `*Param` parameters.
    fn default() -> SecretParams {
        SecretParams {
            stripe_secret_key: "/backroom/stripe/secret-key".into(),
            stripe_webhook_secrets: "/backroom/stripe/webhook-secrets".into(),
            printful_token: "/backroom/printful/token".into(),
            printful_webhook_token: "/backroom/printful/webhook-token".into(),
            printful_webhook_secret: "/backroom/printful/webhook-secret".into(),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(&backroom_ingest::config::process_vars())
    }

    /// Reads the process environment, fetching every secret named by a `<NAME>_PARAM` variable
    /// from SSM Parameter Store (once, at cold start).
    pub async fn load() -> Result<Config, ConfigError> {
        Config::from_vars(&backroom_ingest::config::load_vars().await?)
    }

    /// Reads a given set of variables (the environment, in production).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let v = Vars(vars);
        let get = |name: &'static str| v.get(name);
        let database = match (get("DATABASE_URL")?, get("DSQL_ENDPOINT")?) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoDatabases),
            (Some(url), None) => Some(DbConfig::Url(SecretString::from(url))),
            (None, Some(endpoint)) => {
                let region = match get("AWS_REGION")? {
                    Some(r) => r,
                    None => region_of(&endpoint).ok_or_else(|| ConfigError::NoRegion(endpoint.clone()))?,
                };
                let role = match get("DSQL_ROLE")?.as_deref() {
                    Some("admin") => DsqlRole::Admin,
                    Some(role) => DsqlRole::App(role.to_string()),
                    None => DsqlRole::App(DEFAULT_DSQL_APP_ROLE.to_string()),
                };
                Some(DbConfig::Dsql(DsqlConfig::new(endpoint, region, role)))
            }
            (None, None) => None,
        };
        let list = |name: &'static str| v.list(name);
        let mut shipping_countries = list("SHIPPING_COUNTRIES")?;
        for c in &shipping_countries {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ConfigError::Invalid {
                    name: "SHIPPING_COUNTRIES",
                    reason: format!("{c:?} is not a two-letter country code"),
                });
            }
        }
        if shipping_countries.is_empty() {
            shipping_countries = DEFAULT_SHIPPING_COUNTRIES.iter().map(|c| c.to_string()).collect();
        }
        let storefront_origin = get("STOREFRONT_ORIGIN")?.map(|o| o.trim_end_matches('/').to_string());
        if let Some(origin) = &storefront_origin
            && !(origin.starts_with("https://") || origin.starts_with("http://"))
        {
            return Err(ConfigError::Invalid {
                name: "STOREFRONT_ORIGIN",
                reason: "must start with https:// or http://".into(),
            });
        }
        // A parameter name set but empty means "not used" (as the template's optional
        // `PrintfulWebhookSecretParam`), so the default stands.
        let param = |name: &str, default: String| {
            vars.get(&format!("{name}_PARAM"))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
        };
        let flag = |name: &'static str| v.flag(name);
        let defaults = SecretParams::default();
        let secret_params = SecretParams {
            stripe_secret_key: param("STRIPE_SECRET_KEY", defaults.stripe_secret_key),
            stripe_webhook_secrets: param("STRIPE_WEBHOOK_SECRETS", defaults.stripe_webhook_secrets),
            printful_token: param("PRINTFUL_TOKEN", defaults.printful_token),
            printful_webhook_token: param("PRINTFUL_WEBHOOK_TOKEN", defaults.printful_webhook_token),
            printful_webhook_secret: param("PRINTFUL_WEBHOOK_SECRET", defaults.printful_webhook_secret),
        };
        Ok(Config {
            secret_params,
            dead_letter_queue_url: get("DEAD_LETTER_QUEUE_URL")?,
            database,
            db_isolation: match get("BACKROOM_DB_ISOLATION")? {
                None => Isolation::default(),
                Some(v) => Isolation::parse(&v).ok_or_else(|| ConfigError::Invalid {
                    name: "BACKROOM_DB_ISOLATION",
                    reason: format!("{v:?} is neither repeatable_read nor serializable"),
                })?,
            },
            ingest: IngestConfig::from_vars(vars)?,
            stripe_secret_key: get("STRIPE_SECRET_KEY")?.map(SecretString::from),
            stripe_api_base: get("STRIPE_API_BASE")?,
            stripe_shipping_rates: list("STRIPE_SHIPPING_RATES")?,
            stripe_automatic_tax: flag("STRIPE_AUTOMATIC_TAX")?,
            stripe_promotion_codes: flag("STRIPE_PROMOTION_CODES")?,
            shipping_countries,
            storefront_origin,
            webhook_base_url: get("WEBHOOK_BASE_URL")?.map(|u| u.trim_end_matches('/').to_string()),
            alerts_topic_arn: get("ALERTS_TOPIC_ARN")?,
            security_topic_arn: get("SECURITY_TOPIC_ARN")?,
            printful_token: get("PRINTFUL_TOKEN")?.map(SecretString::from),
            printful_store_id: get("PRINTFUL_STORE_ID")?,
            printful_api_base: get("PRINTFUL_API_BASE")?,
            event_bus_name: get("EVENT_BUS_NAME")?,
            order_events_off: flag("ORDER_EVENTS_OFF")?,
            events_include_email: flag("EVENTS_INCLUDE_EMAIL")?,
            buyer_data_retention_days: match get("BUYER_DATA_RETENTION_DAYS")? {
                None => None,
                Some(v) => match v.trim().parse::<u32>() {
                    Ok(days @ 1..=9999) => Some(days),
                    _ => {
                        return Err(ConfigError::Invalid {
                            name: "BUYER_DATA_RETENTION_DAYS",
                            reason: format!("{v:?} is not a number of days from 1 to 9999"),
                        });
                    }
                },
            },
            fulfillment_paused: flag("FULFILLMENT_PAUSED")?,
        })
    }

    pub fn require_storefront_origin(&self) -> Result<&str, ConfigError> {
        self.storefront_origin.as_deref().ok_or(ConfigError::Missing {
            name: "STOREFRONT_ORIGIN",
        })
    }

    /// Whether Stripe events must be live-mode: from the key's prefix when the key is known
    /// here, else from `STRIPE_MODE=live` (the webhook function has no key).
    pub fn stripe_livemode(&self) -> bool {
        match &self.stripe_secret_key {
            Some(key) => {
                let key = secrecy::ExposeSecret::expose_secret(key);
                key.starts_with("sk_live_") || key.starts_with("rk_live_")
            }
            None => self.ingest.stripe_mode_live,
        }
    }

    /// Both alert topics, when set.
    pub fn alert_topics(&self) -> Option<(&str, &str)> {
        Some((self.alerts_topic_arn.as_deref()?, self.security_topic_arn.as_deref()?))
    }

    pub fn require_printful_token(&self) -> Result<&SecretString, ConfigError> {
        self.printful_token
            .as_ref()
            .ok_or(ConfigError::Missing { name: "PRINTFUL_TOKEN" })
    }

    pub fn require_stripe_key(&self) -> Result<&SecretString, ConfigError> {
        self.stripe_secret_key.as_ref().ok_or(ConfigError::Missing {
            name: "STRIPE_SECRET_KEY",
        })
    }

    /// The database, or the error that says how to configure one.
    pub fn require_database(&self) -> Result<&DbConfig, ConfigError> {
        self.database.as_ref().ok_or(ConfigError::NoDatabase)
    }
}

/// `abc.dsql.eu-west-1.on.aws` → `eu-west-1`.
fn region_of(endpoint: &str) -> Option<String> {
    let parts: Vec<&str> = endpoint.split('.').collect();
    match parts.as_slice() {
        [_, "dsql", region, "on", "aws"] => Some(region.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_local_url_is_used_as_given() {
        let c = Config::from_vars(&vars(&[("DATABASE_URL", "postgres://u@localhost/db")])).unwrap();
        match c.database {
            Some(DbConfig::Url(url)) => {
                assert_eq!(url.expose_secret(), "postgres://u@localhost/db")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_dsql_endpoint_gives_its_region_and_the_app_role() {
        let c = Config::from_vars(&vars(&[("DSQL_ENDPOINT", "abc.dsql.eu-west-1.on.aws")])).unwrap();
        match c.database {
            Some(DbConfig::Dsql(d)) => {
                assert_eq!(d.region, "eu-west-1");
                assert_eq!(d.role, DsqlRole::App("backroom_app".into()));
                assert_eq!(d.port, 5432);
            }
            other => panic!("{other:?}"),
        }
        let c = Config::from_vars(&vars(&[
            ("DSQL_ENDPOINT", "abc.dsql.eu-west-1.on.aws"),
            ("DSQL_ROLE", "admin"),
        ]))
        .unwrap();
        assert!(matches!(
            c.database,
            Some(DbConfig::Dsql(DsqlConfig {
                role: DsqlRole::Admin,
                ..
            }))
        ));
    }

    #[test]
    fn the_database_isolation_is_repeatable_read_unless_serializable_is_asked_for() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.db_isolation, Isolation::RepeatableRead);
        for v in ["serializable", "SERIALIZABLE"] {
            let c = Config::from_vars(&vars(&[("BACKROOM_DB_ISOLATION", v)])).unwrap();
            assert_eq!(c.db_isolation, Isolation::Serializable, "{v}");
        }
        let c = Config::from_vars(&vars(&[("BACKROOM_DB_ISOLATION", "repeatable-read")])).unwrap();
        assert_eq!(c.db_isolation, Isolation::RepeatableRead);
        assert!(matches!(
            Config::from_vars(&vars(&[("BACKROOM_DB_ISOLATION", "read committed")])),
            Err(ConfigError::Invalid {
                name: "BACKROOM_DB_ISOLATION",
                ..
            })
        ));
    }

    #[test]
    fn buyer_data_retention_is_off_unless_set_and_must_be_days() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.buyer_data_retention_days, None);
        let c = Config::from_vars(&vars(&[("BUYER_DATA_RETENTION_DAYS", "90")])).unwrap();
        assert_eq!(c.buyer_data_retention_days, Some(90));
        for bad in ["0", "-1", "ninety", "1.5"] {
            assert!(
                matches!(
                    Config::from_vars(&vars(&[("BUYER_DATA_RETENTION_DAYS", bad)])),
                    Err(ConfigError::Invalid {
                        name: "BUYER_DATA_RETENTION_DAYS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn mistakes_are_named() {
        let err = |pairs: &[(&str, &str)]| Config::from_vars(&vars(pairs)).unwrap_err();
        assert_eq!(
            err(&[("DATABASE_URL", "x"), ("DSQL_ENDPOINT", "y")]),
            ConfigError::TwoDatabases
        );
        assert_eq!(
            err(&[("DSQL_ENDPOINT", "my-cluster")]),
            ConfigError::NoRegion("my-cluster".into())
        );
        assert_eq!(
            err(&[("DATABASE_URL", " ")]),
            ConfigError::Empty { name: "DATABASE_URL" }
        );
        let none = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(none.require_database().unwrap_err(), ConfigError::NoDatabase);
    }

    #[test]
    fn secret_parameter_names_default_to_the_templates() {
        let c = Config::from_vars(&vars(&[
            ("STRIPE_SECRET_KEY_PARAM", "/shop-live/stripe/secret-key"),
            ("PRINTFUL_WEBHOOK_SECRET_PARAM", ""),
        ]))
        .unwrap();
        assert_eq!(c.secret_params.stripe_secret_key, "/shop-live/stripe/secret-key");
        assert_eq!(c.secret_params.printful_token, "/backroom/printful/token");
        assert_eq!(
            c.secret_params.printful_webhook_secret,
            "/backroom/printful/webhook-secret"
        );
    }

    #[test]
    fn order_events_go_to_the_log_without_email_unless_configured() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.event_bus_name, None);
        assert!(!c.events_include_email);
        assert!(!c.order_events_off);
        assert!(
            Config::from_vars(&vars(&[("ORDER_EVENTS_OFF", "true")]))
                .unwrap()
                .order_events_off
        );
        let c = Config::from_vars(&vars(&[
            ("EVENT_BUS_NAME", "shop-backroom"),
            ("EVENTS_INCLUDE_EMAIL", "true"),
        ]))
        .unwrap();
        assert_eq!(c.event_bus_name.as_deref(), Some("shop-backroom"));
        assert!(c.events_include_email);
        assert_eq!(
            Config::from_vars(&vars(&[("EVENTS_INCLUDE_EMAIL", "sometimes")])).unwrap_err(),
            ConfigError::Invalid {
                name: "EVENTS_INCLUDE_EMAIL",
                reason: "\"sometimes\" is neither true nor false".into()
            }
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = Config::from_vars(&vars(&[("DATABASE_URL", "postgres://u:hunter2@localhost/db")])).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
