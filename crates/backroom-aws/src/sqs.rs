//! The events queue on SQS: one standard queue (with a DLQ after 5 receives) for both providers.
//! The raw event is the body; the source, event id and type travel as message attributes, which
//! the worker checks against the body it parses (the body is what the signature covered).

use std::collections::HashMap;

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::MessageAttributeValue;
use backroom_core::ports::{EventQueue, EventSource, QueueError, QueueMessage};

pub const ATTR_SOURCE: &str = "source";
pub const ATTR_EVENT_ID: &str = "event_id";
pub const ATTR_TYPE: &str = "type";

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    /// A queue client from the ambient AWS configuration (`AWS_ENDPOINT_URL` points it at a
    /// local emulator).
    pub async fn from_env(url: impl Into<String>) -> SqsQueue {
        let sdk = crate::sdk_config().await;
        SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url)
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

fn text(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type is set")
}

impl EventQueue for SqsQueue {
    async fn send(&self, m: &QueueMessage) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(&m.body)
            .message_attributes(ATTR_SOURCE, text(m.source.as_str()))
            .message_attributes(ATTR_EVENT_ID, text(&m.event_id))
            .message_attributes(ATTR_TYPE, text(&m.event_type))
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

/// Reads a message as the worker Lambda receives it. `None` when it lacks our attributes (it did
/// not come from our webhook functions).
pub fn message_from_lambda(m: &SqsMessage) -> Option<QueueMessage> {
    let attr = |name: &str| m.message_attributes.get(name).and_then(|a| a.string_value.clone());
    message_from_parts(
        attr(ATTR_SOURCE)?,
        attr(ATTR_EVENT_ID)?,
        attr(ATTR_TYPE)?,
        m.body.clone()?,
    )
}

/// Reads a message from its attributes (as `ReceiveMessage` returns them) and body.
pub fn message_from_attributes(
    attributes: &HashMap<String, MessageAttributeValue>,
    body: &str,
) -> Option<QueueMessage> {
    let attr = |name: &str| attributes.get(name).and_then(|a| a.string_value().map(str::to_string));
    message_from_parts(
        attr(ATTR_SOURCE)?,
        attr(ATTR_EVENT_ID)?,
        attr(ATTR_TYPE)?,
        body.to_string(),
    )
}

fn message_from_parts(source: String, event_id: String, event_type: String, body: String) -> Option<QueueMessage> {
    let source = match source.as_str() {
        "stripe" => EventSource::Stripe,
        "printful" => EventSource::Printful,
        _ => return None,
    };
    Some(QueueMessage {
        source,
        event_id,
        event_type,
        body,
    })
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sqs::SqsMessageAttribute;

    use super::*;

    fn attribute(v: &str) -> SqsMessageAttribute {
        let mut a = SqsMessageAttribute::default();
        a.string_value = Some(v.into());
        a.data_type = Some("String".into());
        a
    }

    #[test]
    fn a_lambda_record_becomes_a_queue_message() {
        let mut m = SqsMessage::default();
        m.body = Some("{\"id\":\"evt_1\"}".into());
        m.message_attributes.insert(ATTR_SOURCE.into(), attribute("stripe"));
        m.message_attributes.insert(ATTR_EVENT_ID.into(), attribute("evt_1"));
        m.message_attributes
            .insert(ATTR_TYPE.into(), attribute("checkout.session.completed"));
        let q = message_from_lambda(&m).unwrap();
        assert_eq!(q.source, EventSource::Stripe);
        assert_eq!(q.event_id, "evt_1");
        assert_eq!(q.event_type, "checkout.session.completed");
        assert_eq!(q.body, "{\"id\":\"evt_1\"}");

        m.message_attributes.insert(ATTR_SOURCE.into(), attribute("elsewhere"));
        assert!(message_from_lambda(&m).is_none());
        m.message_attributes.remove(ATTR_SOURCE);
        assert!(message_from_lambda(&m).is_none());
    }
}
