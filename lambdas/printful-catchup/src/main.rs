//! Scheduled: reads every in-flight order from Printful and applies it, follows shipped
//! orders' parcels to delivery, looks for Printful orders backroom did not make, forgets buyer
//! data past `BUYER_DATA_RETENTION_DAYS`; then the watchdog looks for stuck orders.

// The futures of the AWS SDK and the use cases nest deeply; the default limit is too low to lay them out.
#![recursion_limit = "256"]

use std::time::Duration;

use backroom_app::{Config, catchup, forget, telemetry, watchdog, wiring};
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
    let config = &config;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = catchup::catch_up_printful(worker, PACE).await?;
        // BUYER_DATA_RETENTION_DAYS: buyer data past its time is forgotten (off by default).
        let retention =
            forget::sweep_retention(&worker.store, config.buyer_data_retention_days, chrono::Utc::now()).await?;
        let stuck = watchdog::watchdog(
            &worker.store,
            &worker.alerts,
            &watchdog::Deadlines::default(),
            chrono::Utc::now(),
        )
        .await?;
        Ok::<_, lambda_runtime::Error>(json!({ "printful": report, "stuck_orders": stuck, "retention": retention }))
    }))
    .await
}
