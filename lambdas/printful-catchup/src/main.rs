//! Scheduled: reads every in-flight order from Printful and applies it, looks for Printful
//! orders backroom did not make; then the watchdog looks for stuck orders.

// The futures of the AWS SDK and the use cases nest deeply; the default limit is too low to lay them out.
#![recursion_limit = "256"]

use std::time::Duration;

use backroom_app::{Config, catchup, telemetry, watchdog, wiring};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

/// Printful allows 120 requests a minute: one every half second stays inside it.
const PACE: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(true);
    let config = Config::load().await?;
    let worker = wiring::lambda_worker(&config).await?;
    let worker = &worker;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = catchup::catch_up_printful(worker, PACE).await?;
        let stuck = watchdog::watchdog(
            &worker.store,
            &worker.alerts,
            &watchdog::Deadlines::default(),
            chrono::Utc::now(),
        )
        .await?;
        Ok::<_, lambda_runtime::Error>(json!({ "printful": report, "stuck_orders": stuck }))
    }))
    .await
}
