//! `GET /catalog`, `POST /checkout`, `GET /orders/{id}`, `GET /health` behind API Gateway.

// The futures of the AWS SDK and the use cases nest deeply; the default limit is too low to lay them out.
#![recursion_limit = "256"]

use std::sync::Arc;

use backroom_app::{Config, http, telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(true);
    let config = Config::load().await?;
    let shop = wiring::Services::new(config, wiring::Tuning::LAMBDA)?.shop()?;
    lambda_http::run(http::with_json_fallback(http::shop_routes(Arc::new(shop)))).await
}
