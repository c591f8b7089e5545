//! The typed configuration, read once per process (once per cold start in Lambda). This is the
//! only place that reads the environment; secrets are `SecretString`s and never printed.

use std::collections::HashMap;

use backroom_db::{DbConfig, DsqlConfig, DsqlRole};
use secrecy::SecretString;

/// The application role the functions use on DSQL when `DSQL_ROLE` is not set.
pub const DEFAULT_DSQL_APP_ROLE: &str = "backroom_app";

#[derive(Clone, Debug)]
pub struct Config {
    /// Where the database is, if configured.
    pub database: Option<DbConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no database configured: set DATABASE_URL (PostgreSQL) or DSQL_ENDPOINT (Aurora DSQL)")]
    NoDatabase,
    #[error("set only one of DATABASE_URL and DSQL_ENDPOINT")]
    TwoDatabases,
    #[error(
        "DSQL_ENDPOINT {0:?} is not <cluster-id>.dsql.<region>.on.aws and AWS_REGION is not set"
    )]
    NoRegion(String),
    #[error("{name} is set but empty")]
    Empty { name: &'static str },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(&std::env::vars().collect())
    }

    /// Reads a given set of variables (the environment, in production).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let get = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match vars.get(name) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Err(ConfigError::Empty { name }),
                Some(v) => Ok(Some(v.trim().to_string())),
            }
        };
        let database = match (get("DATABASE_URL")?, get("DSQL_ENDPOINT")?) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoDatabases),
            (Some(url), None) => Some(DbConfig::Url(SecretString::from(url))),
            (None, Some(endpoint)) => {
                let region = match get("AWS_REGION")? {
                    Some(r) => r,
                    None => region_of(&endpoint)
                        .ok_or_else(|| ConfigError::NoRegion(endpoint.clone()))?,
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
        Ok(Config { database })
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
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
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
        let c =
            Config::from_vars(&vars(&[("DSQL_ENDPOINT", "abc.dsql.eu-west-1.on.aws")])).unwrap();
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
            ConfigError::Empty {
                name: "DATABASE_URL"
            }
        );
        let none = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(
            none.require_database().unwrap_err(),
            ConfigError::NoDatabase
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = Config::from_vars(&vars(&[(
            "DATABASE_URL",
            "postgres://u:hunter2@localhost/db",
        )]))
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
