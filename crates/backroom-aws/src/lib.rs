//! backroom's AWS adapters. The events queue is SQS (the worker reads batches through Lambda
//! and answers with the ids of the messages that failed); alerts go to SNS; order events go to an
//! EventBridge bus; metrics are EMF log lines.

pub mod cloudwatch;
pub mod emf;
pub mod eventbridge;
pub mod sns;
pub mod sqs;
pub mod ssm;

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

pub use eventbridge::EventBridgePublisher;
pub use sns::SnsSink;
pub use sqs::{SqsQueue, message_from_attributes, message_from_lambda};
/// The SDK crates the adapters are built on, for code that sets AWS resources up (tests, tools).
pub use {aws_config, aws_sdk_eventbridge, aws_sdk_sns, aws_sdk_sqs};

/// The AWS SDK's HTTP client: hyper with rustls on ring, backroom's one crypto provider,
/// trusting the machine's root certificates as the SDK does by default. A new one for each
/// configuration, as the SDK makes its own: a client's pooled connections are tasks of the tokio
/// runtime that opened them, and a process (the CLI, the tests) may run more than one runtime.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Where every AWS SDK configuration of backroom starts: the ambient configuration
/// (environment, profile, `AWS_ENDPOINT_URL` for a local emulator) with [`http_client`].
/// Tests and tools add their endpoint, region and credentials to it.
pub fn sdk_defaults() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client())
}

/// The ambient AWS SDK configuration.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_defaults().load().await
}
