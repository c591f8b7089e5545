//! The one error type of the crate. Every failure here ends up in front of a developer (a failed
//! test or `backroom dev` refusing to start), so the message is the whole product: one sentence
//! that says what failed, followed by what the tool printed.

/// A failure to find, create, start, stop or use a PostgreSQL cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TestkitError {
    message: String,
}

impl TestkitError {
    pub(crate) fn new(message: impl Into<String>) -> TestkitError {
        TestkitError {
            message: message.into(),
        }
    }

    /// The full message, the same text as `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }
}
