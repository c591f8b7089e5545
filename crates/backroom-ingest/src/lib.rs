//! Provider-event ingest: the webhook functions' whole job, and nothing more. Verify the raw
//! bytes (Stripe's signature; Printful's URL token and v2 signature), classify the event by the
//! one list of kinds backroom handles (backroom-core's `provider_events`), queue it for the
//! worker. No database and no provider client: the two webhook functions link this crate and
//! not backroom-app, which keeps them small and quick to start.
//!
//! It also holds what every function shares at its edge: the JSON error every route answers
//! with ([`api`]), reading the environment ([`config`], the only place that does), and logging
//! ([`telemetry`]).

pub mod api;
pub mod config;
pub mod routes;
pub mod telemetry;

pub use config::{ConfigError, IngestConfig};
pub use routes::{Ingest, MAX_WEBHOOK_BYTES, webhook_routes, with_json_fallback};

/// The webhook functions' ingest: the configured verifiers, sending to the SQS queue at
/// `EVENTS_QUEUE_URL` (`AWS_ENDPOINT_URL` may point at a local emulator).
pub async fn sqs_ingest(config: &IngestConfig) -> Result<Ingest<backroom_aws::SqsQueue>, ConfigError> {
    let queue = backroom_aws::SqsQueue::from_env(config.require_queue_url()?).await;
    Ok(Ingest::new(config, config.stripe_mode_live, queue))
}
