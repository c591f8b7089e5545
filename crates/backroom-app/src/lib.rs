//! The shop's use cases and configuration. Lambdas and the `backroom` CLI are thin adapters
//! over this crate.

pub mod config;

pub use config::{Config, ConfigError};
