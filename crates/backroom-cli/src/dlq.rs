//! `backroom dlq list|redrive` against the events queue's dead-letter queue on SQS
//! (`DEAD_LETTER_QUEUE_URL`), as docs/operations.md does it with the AWS CLI.

use std::collections::{HashMap, HashSet};

use anyhow::anyhow;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::DlqCommand;

/// Receives per `list`: each returns up to ten messages, a sample of the queue, so a few calls
/// see more of it. Peeking changes nothing but the messages' receive counts.
const PEEKS: usize = 5;

/// The queue template.yaml names `<stack>-events-dlq`.
pub const DLQ_SUFFIX: &str = "-events-dlq";

/// The stack name in a dead-letter queue URL made by template.yaml, if it is one.
pub fn stack_from_dlq_url(url: &str) -> Option<String> {
    let name = url.trim_end_matches('/').rsplit('/').next()?;
    name.strip_suffix(DLQ_SUFFIX)
        .filter(|stack| !stack.is_empty())
        .map(str::to_string)
}

pub async fn run(url: &str, cmd: DlqCommand) -> anyhow::Result<()> {
    let sdk = backroom_aws::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    match cmd {
        DlqCommand::List { json } => list(&sqs, url, json).await,
        DlqCommand::Redrive => redrive(&sqs, url).await,
    }
}

async fn attribute(sqs: &aws_sdk_sqs::Client, url: &str, name: QueueAttributeName) -> anyhow::Result<String> {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .map_err(|e| anyhow!("could not read the queue {url}: {}", aws_error(e)))?;
    answer
        .attributes
        .and_then(|mut a| a.remove(&name))
        .ok_or_else(|| anyhow!("SQS did not say the {name} of {url}"))
}

/// What is in the dead-letter queue: SQS's approximate count and a sample of up to 50 messages
/// (as [`describe`] shows them), each left where it is.
pub(crate) async fn peek(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<(String, Vec<serde_json::Value>)> {
    let approximate = attribute(sqs, url, QueueAttributeName::ApproximateNumberOfMessages).await?;
    let mut seen = HashSet::new();
    let mut messages = Vec::new();
    for _ in 0..PEEKS {
        // A visibility timeout of 0 leaves every message where it is, for the worker's redrive
        // or the next look.
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| anyhow!("could not read the messages of {url}: {}", aws_error(e)))?
            .messages
            .unwrap_or_default();
        let before = messages.len();
        for m in got {
            let id = m.message_id.clone().unwrap_or_default();
            if seen.insert(id.clone()) {
                messages.push(describe(&m, id));
            }
        }
        if messages.len() == before {
            break;
        }
    }
    Ok((approximate, messages))
}

async fn list(sqs: &aws_sdk_sqs::Client, url: &str, json: bool) -> anyhow::Result<()> {
    let (approximate, messages) = peek(sqs, url).await?;
    if json {
        let body = serde_json::json!({
            "queue_url": url,
            "approximate_messages": approximate.parse::<u64>().ok(),
            "messages": messages,
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    if messages.is_empty() {
        println!("the dead-letter queue is empty");
        return Ok(());
    }
    println!(
        "about {approximate} message(s) in the dead-letter queue; {} shown (receive counts include this look)",
        messages.len()
    );
    for m in &messages {
        let text = |k: &str| m[k].as_str().unwrap_or("-").to_string();
        let receives = m["receive_count"]
            .as_u64()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "?".into());
        if m["source"].is_null() {
            println!(
                "{}  not a backroom event (message {}), {receives} receives",
                text("sent_at"),
                text("message_id")
            );
        } else {
            println!(
                "{}  {:<8}  {:<40}  {}  {receives} receives",
                text("sent_at"),
                text("source"),
                text("event_type"),
                text("event_id")
            );
        }
    }
    Ok(())
}

/// A message as `list` shows it: backroom's attributes (see `backroom_aws::sqs`), or nulls for a
/// message that did not come from the webhook functions.
fn describe(m: &aws_sdk_sqs::types::Message, id: String) -> serde_json::Value {
    let empty = HashMap::new();
    let event = backroom_aws::message_from_attributes(
        m.message_attributes.as_ref().unwrap_or(&empty),
        m.body.as_deref().unwrap_or_default(),
    );
    let system = |name: MessageSystemAttributeName| m.attributes.as_ref().and_then(|a| a.get(&name)).cloned();
    let receive_count = system(MessageSystemAttributeName::ApproximateReceiveCount).and_then(|n| n.parse::<u64>().ok());
    let sent_at = system(MessageSystemAttributeName::SentTimestamp)
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    serde_json::json!({
        "message_id": id,
        "source": event.as_ref().map(|e| e.source.as_str()),
        "event_id": event.as_ref().map(|e| e.event_id.clone()),
        "event_type": event.as_ref().map(|e| e.event_type.clone()),
        "receive_count": receive_count,
        "sent_at": sent_at,
    })
}

async fn redrive(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<()> {
    let arn = attribute(sqs, url, QueueAttributeName::QueueArn).await?;
    // Without a destination, SQS moves each message back to the queue it came from.
    let task = sqs
        .start_message_move_task()
        .source_arn(&arn)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "could not start moving the messages of {arn} back to the events queue: {}",
                aws_error(e)
            )
        })?;
    println!(
        "moving the messages of {arn} back to the queue they came from: task {}",
        task.task_handle().unwrap_or("(SQS gave no handle)")
    );
    println!("progress: aws sqs list-message-move-tasks --source-arn {arn}");
    Ok(())
}

/// An AWS SDK error in one short line: the service's code and message when it answered (the raw
/// answer, which the SDK's own text includes, is long and says nothing more), else the chain of
/// causes (a refused connection, a timeout, no credentials).
pub(crate) fn aws_error<E, R>(e: SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => return format!("{code}: {message}"),
        (Some(code), None) => return code.to_string(),
        _ => {}
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_is_read_from_the_template_s_dlq_name() {
        assert_eq!(
            stack_from_dlq_url("https://sqs.eu-west-1.amazonaws.com/123456789012/shop-live-events-dlq").as_deref(),
            Some("shop-live")
        );
        assert_eq!(
            stack_from_dlq_url("http://127.0.0.1:4566/000000000000/x-events-dlq/").as_deref(),
            Some("x")
        );
        assert_eq!(stack_from_dlq_url("https://sqs.example/1/my-queue"), None);
        assert_eq!(stack_from_dlq_url("https://sqs.example/1/-events-dlq"), None);
    }
}
