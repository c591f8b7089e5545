//! backroom's AWS adapters. The events queue is SQS (the worker reads batches through Lambda
//! and answers with the ids of the messages that failed); alerts go to SNS; metrics are EMF log lines.

pub mod emf;
pub mod sns;
pub mod sqs;
pub mod ssm;

pub use sns::SnsSink;
pub use sqs::{SqsQueue, message_from_attributes, message_from_lambda};
