//! Reading the process environment, once per process (once per cold start in Lambda). This is
//! the only place that reads it: the webhook functions' few settings here
//! ([`IngestConfig`]), the rest of the shop's in backroom-app's `Config`, which reads the same
//! variables through [`Vars`]. Secrets are `SecretString`s and never printed.

use std::collections::HashMap;

use secrecy::SecretString;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no database configured: set DATABASE_URL (PostgreSQL) or DSQL_ENDPOINT (Aurora DSQL)")]
    NoDatabase,
    #[error("set only one of DATABASE_URL and DSQL_ENDPOINT")]
    TwoDatabases,
    #[error("DSQL_ENDPOINT {0:?} is not <cluster-id>.dsql.<region>.on.aws and AWS_REGION is not set")]
    NoRegion(String),
    #[error("{name} is set but empty")]
    Empty { name: &'static str },
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{name} is not set")]
    Missing { name: &'static str },
}

/// Secrets that may be given as the name of an SSM SecureString parameter (`<NAME>_PARAM`)
/// instead of a value: that is how they reach the Lambda functions.
pub const SECRET_NAMES: [&str; 5] = [
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRETS",
    "PRINTFUL_TOKEN",
    "PRINTFUL_WEBHOOK_TOKEN",
    "PRINTFUL_WEBHOOK_SECRET",
];

/// `BACKROOM_LOG`: the log filter, read before the rest of the configuration so that a bad
/// configuration can be logged.
pub fn log_filter_setting() -> Option<String> {
    std::env::var("BACKROOM_LOG").ok()
}

/// `BACKROOM_STACK`: the deployed stack this process belongs to, the dimension of its metrics.
pub fn stack_setting() -> Option<String> {
    std::env::var(backroom_aws::emf::STACK_ENV).ok()
}

/// The process environment's variables.
pub fn process_vars() -> HashMap<String, String> {
    std::env::vars().collect()
}

/// The process environment, with every secret named by a `<NAME>_PARAM` variable fetched from
/// SSM Parameter Store (one call, at cold start) unless its value is set directly.
pub async fn load_vars() -> Result<HashMap<String, String>, ConfigError> {
    let mut vars = process_vars();
    let wanted: Vec<(&str, String)> = SECRET_NAMES
        .iter()
        .filter(|name| !vars.contains_key(**name))
        .filter_map(|name| vars.get(&format!("{name}_PARAM")).map(|param| (*name, param.clone())))
        .collect();
    if !wanted.is_empty() {
        let names: Vec<String> = wanted.iter().map(|(_, p)| p.clone()).collect();
        let values = backroom_aws::ssm::get_parameters(&names)
            .await
            .map_err(|reason| ConfigError::Invalid {
                name: "secrets",
                reason,
            })?;
        for (name, param) in wanted {
            if let Some(value) = values.get(&param) {
                vars.insert(name.to_string(), value.clone());
            }
        }
    }
    Ok(vars)
}

/// Typed reads of a set of variables: a value set but blank is a mistake, not an absence.
#[derive(Clone, Copy)]
pub struct Vars<'a>(pub &'a HashMap<String, String>);

impl Vars<'_> {
    /// The trimmed value, `None` when unset.
    pub fn get(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Err(ConfigError::Empty { name }),
            Some(v) => Ok(Some(v.trim().to_string())),
        }
    }

    /// A comma-separated list; empty when unset.
    pub fn list(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        Ok(self
            .get(name)?
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `true`/`1`/`yes` or `false`/`0`/`no`; unset is false.
    pub fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.get(name)?.as_deref() {
            None | Some("false") | Some("0") | Some("no") => Ok(false),
            Some("true") | Some("1") | Some("yes") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("{other:?} is neither true nor false"),
            }),
        }
    }

    pub fn secret(&self, name: &'static str) -> Result<Option<SecretString>, ConfigError> {
        Ok(self.get(name)?.map(SecretString::from))
    }
}

/// What the webhook functions need: the webhook secrets and the events queue.
#[derive(Clone, Debug, Default)]
pub struct IngestConfig {
    /// `STRIPE_WEBHOOK_SECRETS`: newest first; more than one while a rotated secret is still in use.
    pub stripe_webhook_secrets: Vec<SecretString>,
    /// `STRIPE_MODE=live`: the mode webhooks must carry when no Stripe key says it.
    pub stripe_mode_live: bool,
    /// `PRINTFUL_WEBHOOK_TOKEN`: the secret path segment of our Printful webhook URL.
    pub printful_webhook_token: Option<SecretString>,
    /// `PRINTFUL_WEBHOOK_SECRET`: Printful's v2 webhook secret (hex), when signed webhooks are configured.
    pub printful_webhook_secret: Option<SecretString>,
    /// `EVENTS_QUEUE_URL`: the SQS queue between the webhooks and the worker.
    pub events_queue_url: Option<String>,
}

impl IngestConfig {
    /// The process environment, secrets fetched from SSM.
    pub async fn load() -> Result<IngestConfig, ConfigError> {
        IngestConfig::from_vars(&load_vars().await?)
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<IngestConfig, ConfigError> {
        let v = Vars(vars);
        Ok(IngestConfig {
            stripe_webhook_secrets: v
                .list("STRIPE_WEBHOOK_SECRETS")?
                .into_iter()
                .map(SecretString::from)
                .collect(),
            stripe_mode_live: match v.get("STRIPE_MODE")?.as_deref() {
                None | Some("test") => false,
                Some("live") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "STRIPE_MODE",
                        reason: format!("{other:?} is neither test nor live"),
                    });
                }
            },
            printful_webhook_token: v.secret("PRINTFUL_WEBHOOK_TOKEN")?,
            printful_webhook_secret: v.secret("PRINTFUL_WEBHOOK_SECRET")?,
            events_queue_url: v.get("EVENTS_QUEUE_URL")?,
        })
    }

    pub fn require_queue_url(&self) -> Result<&str, ConfigError> {
        self.events_queue_url.as_deref().ok_or(ConfigError::Missing {
            name: "EVENTS_QUEUE_URL",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_webhook_settings_are_read_and_mistakes_named() {
        let c = IngestConfig::from_vars(&vars(&[
            ("STRIPE_WEBHOOK_SECRETS", "whsec_new, whsec_old"),
            ("STRIPE_MODE", "live"),
            ("EVENTS_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/events"),
        ]))
        .unwrap();
        assert_eq!(c.stripe_webhook_secrets.len(), 2);
        assert!(c.stripe_mode_live);
        assert!(c.printful_webhook_token.is_none());
        assert_eq!(
            c.require_queue_url().unwrap(),
            "https://sqs.eu-west-1.amazonaws.com/1/events"
        );
        let none = IngestConfig::from_vars(&vars(&[])).unwrap();
        assert_eq!(
            none.require_queue_url().unwrap_err(),
            ConfigError::Missing {
                name: "EVENTS_QUEUE_URL"
            }
        );
        assert!(matches!(
            IngestConfig::from_vars(&vars(&[("STRIPE_MODE", "prod")])),
            Err(ConfigError::Invalid {
                name: "STRIPE_MODE",
                ..
            })
        ));
        assert_eq!(
            IngestConfig::from_vars(&vars(&[("PRINTFUL_WEBHOOK_TOKEN", "  ")])).unwrap_err(),
            ConfigError::Empty {
                name: "PRINTFUL_WEBHOOK_TOKEN"
            }
        );
    }

    #[test]
    fn flags_and_lists_read_as_documented() {
        let m = vars(&[("A", "yes"), ("B", "0"), ("C", "maybe"), ("L", " x, ,y ")]);
        let v = Vars(&m);
        assert!(v.flag("A").unwrap());
        assert!(!v.flag("B").unwrap());
        assert!(!v.flag("UNSET").unwrap());
        assert!(v.flag("C").is_err());
        assert_eq!(v.list("L").unwrap(), vec!["x".to_string(), "y".to_string()]);
        assert!(v.list("UNSET").unwrap().is_empty());
    }
}
