//! Daily and after every deploy: the three-way comparison of Stripe, the database and
//! Printful, repairing what can be repaired and alerting on the rest. Weekly, with the input
//! `{"job":"digest"}`, it sends the owner the weekly digest instead.

// The futures of the AWS SDK and the use cases nest deeply; the default limit is too low to lay them out.
#![recursion_limit = "256"]

use backroom_app::reconcile::{self, ReconcileOptions};
use backroom_app::watchdog::Deadlines;
use backroom_app::{Config, digest, telemetry, wiring};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

/// What one invocation does.
#[derive(Debug, PartialEq, Eq)]
enum Job {
    Reconcile,
    Digest,
}

/// The job an input asks for: `{"job":"digest"}` is the weekly digest, `{"job":"reconcile"}` or
/// an input without `job` (the daily schedule's, CloudFormation's stack events) reconciles.
fn job(event: &Value) -> Result<Job, String> {
    match event.get("job") {
        None | Some(Value::Null) => Ok(Job::Reconcile),
        Some(Value::String(s)) if s == "reconcile" => Ok(Job::Reconcile),
        Some(Value::String(s)) if s == "digest" => Ok(Job::Digest),
        Some(other) => Err(format!(
            "unknown job {other}: the reconciler runs \"reconcile\" (the default) or \"digest\""
        )),
    }
}

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
    let (worker, options, config) = (&worker, &options, &config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match job(&event.payload)? {
            Job::Reconcile => {
                let run = reconcile::reconcile(worker, options, chrono::Utc::now()).await?;
                Ok::<_, lambda_runtime::Error>(serde_json::to_value(&run)?)
            }
            Job::Digest => {
                let d = digest::gather(
                    &worker.store,
                    7,
                    chrono::Utc::now(),
                    &Deadlines::default(),
                    config.fulfillment_paused,
                )
                .await?;
                let sent = digest::send(&worker.alerts, &d).await?;
                tracing::info!(week = %d.week, ?sent, "weekly digest");
                Ok(json!({ "job": "digest", "week": d.week, "sent": sent, "digest": d }))
            }
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weekly_schedule_input_runs_the_digest() {
        assert_eq!(job(&json!({"job": "digest"})), Ok(Job::Digest));
    }

    #[test]
    fn the_daily_schedule_and_stack_events_reconcile() {
        assert_eq!(job(&json!({"trigger": "schedule"})), Ok(Job::Reconcile));
        assert_eq!(job(&json!({"job": "reconcile"})), Ok(Job::Reconcile));
        assert_eq!(job(&json!({"job": null})), Ok(Job::Reconcile));
        let stack_event = json!({"source": "aws.cloudformation", "detail-type": "CloudFormation Stack Status Change"});
        assert_eq!(job(&stack_event), Ok(Job::Reconcile));
        assert_eq!(job(&Value::Null), Ok(Job::Reconcile));
    }

    #[test]
    fn an_unknown_job_is_refused_with_the_known_ones() {
        let err = job(&json!({"job": "digets"})).unwrap_err();
        assert!(err.contains("\"digets\"") && err.contains("digest"), "{err}");
        assert!(job(&json!({"job": 7})).is_err());
    }
}
