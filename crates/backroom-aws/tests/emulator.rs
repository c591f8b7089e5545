//! The AWS adapters against a local AWS emulator (ministack): SQS send, batch receive, redrive to
//! the DLQ after the maximum receives, and SNS publish to both topics.

use aws_sdk_sqs::types::QueueAttributeName;
use backroom_aws::{SnsSink, SqsQueue, message_from_attributes};
use backroom_core::ports::{AlertSink, EventQueue, EventSource, NewAlert, QueueMessage, Severity};
use backroom_testkit::{new_queue, queue_arn, shared_aws, subscribe_queue};

async fn sdk() -> aws_config::SdkConfig {
    let endpoint = tokio::task::spawn_blocking(|| shared_aws().endpoint.clone())
        .await
        .unwrap();
    backroom_aws::sdk_defaults()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

async fn queue_with_dlq(sqs: &aws_sdk_sqs::Client, max_receives: u32) -> (String, String) {
    let dlq = sqs
        .create_queue()
        .queue_name(unique("dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = queue_arn(sqs, &dlq).await;
    let policy = format!("{{\"deadLetterTargetArn\":\"{dlq_arn}\",\"maxReceiveCount\":\"{max_receives}\"}}");
    let url = sqs
        .create_queue()
        .queue_name(unique("events"))
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (url, dlq)
}

fn message(id: &str) -> QueueMessage {
    QueueMessage {
        source: EventSource::Stripe,
        event_id: id.into(),
        event_type: "checkout.session.completed".into(),
        body: format!("{{\"id\":\"{id}\"}}"),
    }
}

#[tokio::test]
async fn events_go_through_sqs_with_their_attributes_and_poison_ends_in_the_dlq() {
    let sdk = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (url, dlq) = queue_with_dlq(&sqs, 5).await;
    let queue = SqsQueue::new(sqs.clone(), &url);
    for i in 0..3 {
        queue.send(&message(&format!("evt_{i}"))).await.unwrap();
    }
    let batch = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(batch.len(), 3, "one batch receive gets every message");
    let mut ids: Vec<String> = batch
        .iter()
        .map(|m| message_from_attributes(m.message_attributes.as_ref().unwrap(), m.body.as_deref().unwrap()).unwrap())
        .map(|q| {
            assert_eq!(q.body, format!("{{\"id\":\"{}\"}}", q.event_id));
            q.event_id
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["evt_0", "evt_1", "evt_2"]);
    for m in &batch {
        if m.body.as_deref() != Some("{\"id\":\"evt_0\"}") {
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle.clone().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    // evt_0 is never deleted: it is received until its count passes the maximum, then it moves.
    let mut receives = 1;
    loop {
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            break;
        }
        receives += 1;
        assert!(receives <= 5, "received {receives} times, more than the maximum of 5");
    }
    assert_eq!(receives, 5);
    let dead = sqs
        .receive_message()
        .queue_url(&dlq)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body.as_deref(), Some("{\"id\":\"evt_0\"}"));
}

#[tokio::test]
async fn a_queue_that_does_not_exist_is_an_error_not_a_silent_loss() {
    let sdk = sdk().await;
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        "http://127.0.0.1:1/000000000000/missing",
    );
    assert!(queue.send(&message("evt_x")).await.is_err());
}

#[tokio::test]
async fn alerts_reach_the_topic_of_their_severity() {
    let sdk = sdk().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut inboxes = vec![];
    let mut topics = vec![];
    for name in ["ops", "security"] {
        let topic = sns
            .create_topic()
            .name(unique(name))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let (inbox, arn) = new_queue(&sqs, &unique(name)).await;
        subscribe_queue(&sns, &topic, &arn).await;
        topics.push(topic);
        inboxes.push(inbox);
    }
    let sink = SnsSink::new(sns, &topics[0], &topics[1]);
    let alert = |severity, text: &str| NewAlert {
        severity,
        kind: "test".into(),
        order_id: None,
        dedupe_key: text.into(),
        message: text.into(),
    };
    sink.publish(&alert(Severity::Security, "someone else made a Stripe session"))
        .await
        .unwrap();
    sink.publish(&alert(Severity::Ops, "an order is stuck at Printful"))
        .await
        .unwrap();
    let read = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default()
        }
    };
    let ops = read(inboxes[0].clone()).await;
    let security = read(inboxes[1].clone()).await;
    assert_eq!(ops.len(), 1);
    assert_eq!(security.len(), 1);
    assert!(
        ops[0]
            .body
            .as_deref()
            .unwrap()
            .contains("an order is stuck at Printful")
    );
    assert!(
        security[0]
            .body
            .as_deref()
            .unwrap()
            .contains("someone else made a Stripe session")
    );
}
