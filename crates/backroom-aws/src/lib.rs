//! backroom's AWS adapters. The events queue is SQS (the worker reads batches through Lambda
//! and answers with the ids of the messages that failed); alerts go to SNS; order events go to an
//! EventBridge bus; metrics are EMF log lines.

pub mod cloudwatch;
pub mod emf;
pub mod eventbridge;
pub mod sns;
pub mod sqs;
pub mod ssm;

pub use eventbridge::EventBridgePublisher;
pub use sns::SnsSink;
pub use sqs::{SqsQueue, message_from_attributes, message_from_lambda};
/// The SDK crates the adapters are built on, for code that sets AWS resources up (tests, tools).
pub use {aws_config, aws_sdk_eventbridge, aws_sdk_sns, aws_sdk_sqs};
