//! What can go wrong when talking to Stripe, sorted by whether trying again can help.

/// A failed call to the Stripe API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error object. `code` is Stripe's `error.code` when it sent one,
    /// else its `error.type` (for example `idempotency_error` or `api_error`), so that a caller
    /// can tell the cases apart without a second field.
    #[error("Stripe refused the request with HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// No complete answer arrived within the configured timeout. The request may or may not
    /// have been carried out by Stripe; retrying with the same idempotency key is safe.
    #[error("Stripe did not answer within the configured timeout")]
    Timeout,
    /// The request could not be sent or its answer could not be read (connection refused or
    /// reset, DNS, TLS), or the answer was an error status without a Stripe error body, such as a
    /// proxy's HTML page.
    #[error("could not talk to Stripe: {0}")]
    Transport(String),
    /// Stripe answered with success, but the body is not what this API version promises.
    #[error("could not read Stripe's answer: {0}")]
    Parse(String),
}

impl StripeError {
    /// True when the same call may succeed later: timeouts, transport failures, rate limiting
    /// (429), a conflicting request still in flight for the same idempotency key (409), and
    /// Stripe's own failures (5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            StripeError::Timeout | StripeError::Transport(_) => true,
            StripeError::Api { status, .. } => matches!(status, 409 | 429 | 500..=599),
            StripeError::Parse(_) => false,
        }
    }

    /// Stripe's answer for an object that does not exist (`resource_missing`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, StripeError::Api { status: 404, .. })
    }

    /// Converts async-stripe's error, naming the call that failed so that the message says what
    /// happened.
    pub(crate) fn from_client(err: stripe::StripeError, call: &str) -> StripeError {
        match err {
            stripe::StripeError::Stripe(api, status) => {
                let code = api
                    .code
                    .as_ref()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_else(|| api.type_.as_str().to_string());
                StripeError::Api {
                    status,
                    code: Some(code),
                    message: api
                        .message
                        .clone()
                        .unwrap_or_else(|| format!("{call} failed with no message")),
                }
            }
            stripe::StripeError::Timeout => StripeError::Timeout,
            stripe::StripeError::ClientError(msg) | stripe::StripeError::ConfigError(msg) => {
                StripeError::Transport(format!("{call}: {msg}"))
            }
            // async-stripe reports an error status whose body is not a Stripe error object with
            // this exact text and drops the status code. Such bodies come from something between
            // us and Stripe (a proxy or load balancer answering 502/503), so the call is worth
            // retrying; it is reported as a transport failure for that reason.
            stripe::StripeError::JSONDeserialize(msg) if msg == NON_STRIPE_ERROR_BODY => {
                StripeError::Transport(format!(
                    "{call}: the answer was an error status without a Stripe error body (for example a proxy's error page)"
                ))
            }
            stripe::StripeError::JSONDeserialize(msg) => StripeError::Parse(format!(
                "{call}: the body does not match async-stripe's types for API version {}: {msg}",
                crate::API_VERSION
            )),
        }
    }
}

/// The message async-stripe 1.0.0-rc.10 uses when an error response is not a Stripe error object
/// (`hyper/client.rs`). The crate is pinned with `=`, and a test checks this mapping against a
/// server that answers with an HTML error page.
const NON_STRIPE_ERROR_BODY: &str = "error deserializing Stripe error";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_are_the_transient_ones() {
        let api = |status| StripeError::Api {
            status,
            code: None,
            message: String::new(),
        };
        assert!(StripeError::Timeout.is_retryable());
        assert!(StripeError::Transport("reset".into()).is_retryable());
        for status in [409, 429, 500, 502, 503, 504] {
            assert!(api(status).is_retryable(), "{status}");
        }
        for status in [400, 401, 402, 403, 404] {
            assert!(!api(status).is_retryable(), "{status}");
        }
        assert!(!StripeError::Parse("x".into()).is_retryable());
    }

    #[test]
    fn messages_say_what_happened() {
        let err = StripeError::Api {
            status: 404,
            code: Some("resource_missing".into()),
            message: "No such checkout.session: 'cs_x'".into(),
        };
        assert_eq!(
            err.to_string(),
            "Stripe refused the request with HTTP 404 (resource_missing): No such checkout.session: 'cs_x'"
        );
        assert!(err.is_not_found());
    }
}
