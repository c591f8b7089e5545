//! The shop's use cases and configuration. Lambdas and the `backroom` CLI are thin adapters
//! over this crate: checkout, webhook ingest, event processing, and the HTTP routes.

pub mod alerts;
pub mod amounts;
pub mod catalog_import;
pub mod catchup;
pub mod checkout;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod disputes;
pub mod forget;
pub mod fulfillment;
pub mod http;
pub mod outbox;
pub mod process;
pub mod queue;
pub mod reconcile;
pub mod services;
pub mod status;
pub mod summary;
pub mod sweep;
pub mod watchdog;
pub mod wiring;
pub mod worker;

pub use backroom_ingest::{api, telemetry};
pub use config::{Config, ConfigError};
pub use queue::Queue;
