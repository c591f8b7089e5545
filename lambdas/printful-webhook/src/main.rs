//! `POST /webhooks/printful/{token}`: check the token (and the v2 signature, required once a
//! secret is configured), queue, answer. Never touches the database.

// The futures of the AWS SDK and the use cases nest deeply; the default limit is too low to lay them out.
#![recursion_limit = "256"]

use std::sync::Arc;

use backroom_app::{Config, http, telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(true);
    let config = Config::load().await?;
    let ingest = wiring::ingest(&config).await?;
    lambda_http::run(http::with_json_fallback(http::webhook_routes(Arc::new(ingest)))).await
}
