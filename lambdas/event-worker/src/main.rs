//! Reads SQS batches of provider events and answers with the ones that failed.

// The futures of the AWS SDK and the use cases nest deeply; the default limit is too low to lay them out.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use backroom_app::worker::BatchItem;
use backroom_app::{Config, telemetry, wiring};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(true);
    let config = Config::load().await?;
    let worker = wiring::lambda_worker(&config).await?;
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let items = event
            .payload
            .records
            .iter()
            .map(|r| BatchItem {
                message_id: r.message_id.clone().unwrap_or_default(),
                message: backroom_aws::message_from_lambda(r),
            })
            .collect();
        // The invocation's deadline, on this process's clock.
        let left = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        let deadline = std::time::Instant::now() + left;
        let failed = worker.process_batch_until(items, Some(deadline)).await;
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failed
            .into_iter()
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                f
            })
            .collect();
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}
