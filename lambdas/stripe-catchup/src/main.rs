//! Scheduled: lists the Stripe events since the cursor and processes the ones whose webhooks
//! were lost; then the watchdog looks for stuck orders.

// The futures of the AWS SDK and the use cases nest deeply; the default limit is too low to lay them out.
#![recursion_limit = "256"]

use backroom_app::{Config, catchup, telemetry, watchdog, wiring};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(true);
    let config = Config::load().await?;
    let worker = wiring::lambda_worker(&config).await?;
    let worker = &worker;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let now = chrono::Utc::now();
        let report = catchup::catch_up_stripe(worker, now).await?;
        let stuck = watchdog::watchdog(&worker.store, &worker.alerts, &watchdog::Deadlines::default(), now).await?;
        Ok::<_, lambda_runtime::Error>(json!({ "stripe": report, "stuck_orders": stuck }))
    }))
    .await
}
