//! Daily and after every deploy: the three-way comparison of Stripe, the database and
//! Printful, repairing what can be repaired and alerting on the rest.

// The futures of the AWS SDK and the use cases nest deeply; the default limit is too low to lay them out.
#![recursion_limit = "256"]

use backroom_app::reconcile::{self, ReconcileOptions};
use backroom_app::{Config, telemetry, wiring};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(true);
    let config = Config::load().await?;
    let worker = wiring::lambda_worker(&config).await?;
    let options = ReconcileOptions {
        days: 30,
        fix: true,
        webhook_base_url: config.webhook_base_url.clone(),
    };
    let (worker, options) = (&worker, &options);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let run = reconcile::reconcile(worker, options, chrono::Utc::now()).await?;
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(&run)?)
    }))
    .await
}
