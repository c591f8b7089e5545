//! The queue the webhook functions write to: SQS in AWS, in process locally.

use backroom_aws::SqsQueue;
use backroom_core::ports::{EventQueue, QueueError, QueueMessage};

use crate::queue::LocalQueue;

#[derive(Clone, Debug)]
pub enum Queue {
    Sqs(SqsQueue),
    Local(LocalQueue),
}

impl EventQueue for Queue {
    async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        match self {
            Queue::Sqs(q) => q.send(message).await,
            Queue::Local(q) => q.send(message).await,
        }
    }
}
