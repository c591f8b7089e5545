//! `POST /webhooks/printful/{token}`: check the token (and the v2 signature, required once a
//! secret is configured), queue, answer. Never touches the database.

use std::sync::Arc;

use backroom_ingest::{IngestConfig, telemetry, webhook_routes, with_json_fallback};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(true);
    let config = IngestConfig::load().await?;
    let ingest = backroom_ingest::sqs_ingest(&config).await?;
    lambda_http::run(with_json_fallback(webhook_routes(Arc::new(ingest)))).await
}
