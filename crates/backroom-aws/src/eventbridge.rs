//! Order events to an EventBridge bus: one `PutEvents` entry per event, source
//! `backroom.orders`, the detail-type naming the transition and the detail as JSON with the
//! event's stable id. A call that fails, or an entry the bus refuses, is an error: the caller
//! leaves the event in the outbox for the catch-up.

use std::time::Duration;

use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use backroom_core::ports::{EventPublisher, ORDER_EVENT_SOURCE, OrderEvent, PublishError};

/// A publish never holds an order up for long: two attempts, five seconds at most.
const ATTEMPTS: u32 = 2;
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct EventBridgePublisher {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridgePublisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> EventBridgePublisher {
        EventBridgePublisher {
            client,
            bus_name: bus_name.into(),
        }
    }

    /// A client from an SDK configuration, with backroom's bounded retries and timeout.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bus_name: impl Into<String>) -> EventBridgePublisher {
        let config = aws_sdk_eventbridge::config::Builder::from(sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS))
            .timeout_config(TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).build())
            .build();
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::from_conf(config), bus_name)
    }

    /// A publisher from the ambient AWS configuration (`AWS_ENDPOINT_URL` points it at a local
    /// emulator).
    pub async fn from_env(bus_name: impl Into<String>) -> EventBridgePublisher {
        let sdk = crate::sdk_config().await;
        EventBridgePublisher::from_sdk(&sdk, bus_name)
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    pub fn client(&self) -> &aws_sdk_eventbridge::Client {
        &self.client
    }
}

/// The `PutEvents` entry of an order event.
pub fn entry(bus_name: &str, event: &OrderEvent) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus_name)
        .source(ORDER_EVENT_SOURCE)
        .detail_type(event.detail_type.detail_type())
        .detail(event.detail_json())
        .time(DateTime::from_millis(event.time.timestamp_millis()))
        .build()
}

impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, event: &OrderEvent) -> Result<(), PublishError> {
        let output = self
            .client
            .put_events()
            .entries(entry(&self.bus_name, event))
            .send()
            .await
            .map_err(|e| PublishError(DisplayErrorContext(&e).to_string()))?;
        if output.failed_entry_count() > 0 {
            let reason = output
                .entries()
                .iter()
                .find(|e| e.error_code().is_some())
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.error_code().unwrap_or_default(),
                        e.error_message().unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| "the entry was refused".into());
            return Err(PublishError(reason));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use backroom_core::ports::{OrderEventDetail, OrderEventType};
    use backroom_core::{OrderId, OrderStatus};

    use super::*;

    #[test]
    fn an_entry_names_the_bus_source_type_and_carries_the_id() {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let event = OrderEvent {
            detail_type: OrderEventType::Shipped,
            time: at,
            detail: OrderEventDetail {
                event_id: "0b8f3c1e-0000-4000-8000-000000000001".into(),
                order_id: OrderId::new_random(),
                order_number: 7,
                status: OrderStatus::Shipped,
                occurred_at: at,
                items: vec![],
                total: backroom_core::ports::EventMoney {
                    amount: 2500,
                    currency: "EUR".into(),
                },
                charged: None,
                customer_email: None,
                tracking: vec![],
            },
        };
        let e = entry("shop-backroom", &event);
        assert_eq!(e.event_bus_name(), Some("shop-backroom"));
        assert_eq!(e.source(), Some("backroom.orders"));
        assert_eq!(e.detail_type(), Some("Order Shipped"));
        assert_eq!(e.time().map(|t| t.secs()), Some(1_700_000_000));
        let detail: serde_json::Value = serde_json::from_str(e.detail().unwrap()).unwrap();
        assert_eq!(detail["event_id"], "0b8f3c1e-0000-4000-8000-000000000001");
        assert_eq!(detail["total"]["amount"], 2500);
        assert!(detail.get("customer_email").is_none());
    }
}
