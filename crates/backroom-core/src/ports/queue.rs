//! The events queue between the webhook functions and the worker.

#[allow(unused_imports)]
use super::prelude::*;
use super::*;

/// A provider event on its way from a webhook function to the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueMessage {
    pub source: EventSource,
    /// The provider's event id (Stripe) or a stable id made from the webhook (Printful).
    pub event_id: String,
    pub event_type: String,
    /// The raw body, exactly as received.
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the events queue is unavailable: {0}")]
pub struct QueueError(pub String);

/// The events queue: SQS in AWS, in process for `backroom dev` and tests.
pub trait EventQueue: Send + Sync {
    fn send(&self, message: &QueueMessage) -> impl Future<Output = Result<(), QueueError>> + Send;
}
