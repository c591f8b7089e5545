//! What can go wrong talking to Printful, and whether trying again can help.

use std::time::Duration;

use serde_json::Value;

/// A failed Printful call. [`PrintfulError::is_retryable`] says whether the same call may
/// succeed later; [`PrintfulError::is_external_id_in_use`] recognises a duplicate create.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrintfulError {
    /// Printful answered with an error. `code` is Printful's error code (such as `OR-13`) when
    /// the body carries one, else the body's `error.reason` (such as `NotFound`); `message` is
    /// Printful's own text.
    #[error("Printful answered {status}{}: {message}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// No complete answer within the configured timeout. A POST may still have been carried
    /// out: look the order up by its external id before creating it again.
    #[error("Printful did not answer within the timeout")]
    Timeout,
    /// The connection failed (DNS, refused, reset, TLS).
    #[error("could not reach Printful: {0}")]
    Transport(String),
    /// Printful answered 2xx with a body that is not what the API documents.
    #[error("could not read Printful's answer: {0}")]
    Parse(String),
    /// Still refused with 429 after the allowed retries, or the next wait would have gone past
    /// the back-off bound. `retry_after` is what Printful asked for last.
    #[error("Printful is rate limiting this store; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// The settings cannot make a client (a malformed base URL or token).
    #[error("invalid Printful settings: {0}")]
    Config(String),
}

impl PrintfulError {
    /// A create refused because an order with this `external_id` already exists (OR-13,
    /// `EXTERNAL_ID_IN_USE`). Printful documents the code and its meaning ("The `external_id`
    /// provided already exists and cannot be used") but neither the HTTP status nor the body,
    /// so this accepts a 400 or 409 that carries the code `OR-13` or the name
    /// `EXTERNAL_ID_IN_USE`, or whose text speaks of the external id being in use, already
    /// existing, already used or a duplicate. Other 400s that merely name `external_id` (a
    /// malformed id, for example) do not match.
    pub fn is_external_id_in_use(&self) -> bool {
        let PrintfulError::Api {
            status: 400 | 409,
            code,
            message,
        } = self
        else {
            return false;
        };
        if code.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("OR-13")) {
            return true;
        }
        let text = format!("{} {}", code.as_deref().unwrap_or_default(), message).to_ascii_lowercase();
        if text.contains("or-13") || text.contains("external_id_in_use") {
            return true;
        }
        let names_external_id = text.contains("external_id") || text.contains("external id");
        let in_use = [
            "in use",
            "already exist",
            "already used",
            "already been used",
            "duplicate",
        ]
        .iter()
        .any(|p| text.contains(p));
        names_external_id && in_use
    }

    /// The same call may succeed later: a timeout, a connection failure, rate limiting or a
    /// server error. A timeout or 5xx on a create is retryable only after looking the order up.
    pub fn is_retryable(&self) -> bool {
        match self {
            PrintfulError::Timeout | PrintfulError::Transport(_) | PrintfulError::RateLimited { .. } => true,
            PrintfulError::Api { status, .. } => *status == 429 || *status == 419 || *status >= 500,
            PrintfulError::Parse(_) | PrintfulError::Config(_) => false,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, PrintfulError::Api { status: 404, .. })
    }

    /// Reads an error answer. v1 sends `{code, result: "message", error: {reason, message}}`;
    /// v2 may send RFC 7807 problem details (`{type, status, title, detail}`); anything else is
    /// kept as (the start of) its text.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> PrintfulError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let v = parsed.unwrap_or(Value::Null);
        let str_at = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let result = str_at("/result");
        let error_message = str_at("/error/message").or_else(|| str_at("/error"));
        let reason = str_at("/error/reason");
        let problem = str_at("/detail")
            .or_else(|| str_at("/details"))
            .or_else(|| str_at("/title"));
        let message = match (error_message, result) {
            (Some(m), Some(r)) if m != r => format!("{m} ({r})"),
            (Some(m), _) => m.to_string(),
            (None, Some(r)) => r.to_string(),
            (None, None) => match problem {
                Some(p) => p.to_string(),
                None => {
                    let text = String::from_utf8_lossy(body);
                    let text: String = text.trim().chars().take(300).collect();
                    if text.is_empty() {
                        format!("HTTP {status} with an empty body")
                    } else {
                        text
                    }
                }
            },
        };
        let code = [reason, error_message, result, str_at("/code"), problem]
            .into_iter()
            .flatten()
            .find_map(find_error_code)
            .or_else(|| reason.map(str::to_string));
        PrintfulError::Api { status, code, message }
    }
}

/// The first Printful error code in a text: two or three capital letters, a dash and digits,
/// standing alone (`OR-13`, `FL-2`).
fn find_error_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for start in 0..bytes.len() {
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let letters = bytes[start..].iter().take_while(|b| b.is_ascii_uppercase()).count();
        if !(2..=3).contains(&letters) || bytes.get(start + letters) != Some(&b'-') {
            continue;
        }
        let digits_at = start + letters + 1;
        let digits = bytes[digits_at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let end = digits_at + digits;
        if (1..=4).contains(&digits) && !bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
            return Some(text[start..end].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &str) -> PrintfulError {
        PrintfulError::from_response(status, body.as_bytes())
    }

    #[test]
    fn v1_errors_keep_printful_code_and_message() {
        let e = api(
            404,
            r#"{"code":404,"result":"Not Found","error":{"reason":"NotFound","message":"Not Found"}}"#,
        );
        assert_eq!(
            e,
            PrintfulError::Api {
                status: 404,
                code: Some("NotFound".into()),
                message: "Not Found".into()
            }
        );
        assert!(e.is_not_found());
        assert!(!e.is_retryable());
    }

    #[test]
    fn error_codes_are_found_where_printful_puts_them() {
        let in_reason = api(
            400,
            r#"{"code":400,"result":"x","error":{"reason":"OR-13","message":"x"}}"#,
        );
        let in_message = api(
            400,
            r#"{"code":400,"result":"OR-13: nope","error":{"reason":"BadRequest","message":"OR-13: nope"}}"#,
        );
        for e in [&in_reason, &in_message] {
            let PrintfulError::Api { code, .. } = e else {
                panic!("{e:?}")
            };
            assert_eq!(code.as_deref(), Some("OR-13"));
            assert!(e.is_external_id_in_use());
        }
        assert_eq!(find_error_code("see XOR-13x"), None);
        assert_eq!(find_error_code("FL-2"), Some("FL-2".into()));
        assert_eq!(find_error_code("ORDER-1"), None);
    }

    #[test]
    fn external_id_in_use_is_recognised_by_text_and_by_name() {
        let cases = [
            (
                400,
                r#"{"code":400,"result":"The external_id provided already exists and cannot be used","error":{"reason":"BadRequest","message":"The external_id provided already exists and cannot be used"}}"#,
                true,
            ),
            (
                409,
                r#"{"code":409,"result":"External ID 42 is already in use","error":{"reason":"Conflict","message":"External ID 42 is already in use"}}"#,
                true,
            ),
            (
                400,
                r#"{"code":400,"result":"bad","error":{"reason":"EXTERNAL_ID_IN_USE","message":"bad"}}"#,
                true,
            ),
            // A malformed id names the field but is not a duplicate.
            (
                400,
                r#"{"code":400,"result":"Invalid external_id","error":{"reason":"BadRequest","message":"external_id may contain only letters, digits, - and _"}}"#,
                false,
            ),
            // The right words with a status that is not a client error are something else.
            (
                500,
                r#"{"code":500,"result":"external_id already exists","error":{"reason":"Internal","message":"external_id already exists"}}"#,
                false,
            ),
        ];
        for (status, body, expected) in cases {
            assert_eq!(api(status, body).is_external_id_in_use(), expected, "{status} {body}");
        }
        assert!(!PrintfulError::Timeout.is_external_id_in_use());
    }

    #[test]
    fn other_shapes_still_give_a_message() {
        let problem = api(
            422,
            r#"{"type":"about:blank","status":422,"title":"Unprocessable","detail":"items[0] is out of stock"}"#,
        );
        assert_eq!(
            problem,
            PrintfulError::Api {
                status: 422,
                code: None,
                message: "items[0] is out of stock".into()
            }
        );
        let html = api(502, "<html>Bad gateway</html>");
        assert_eq!(
            html,
            PrintfulError::Api {
                status: 502,
                code: None,
                message: "<html>Bad gateway</html>".into()
            }
        );
        assert!(html.is_retryable());
        let empty = api(503, "");
        assert_eq!(
            empty,
            PrintfulError::Api {
                status: 503,
                code: None,
                message: "HTTP 503 with an empty body".into()
            }
        );
    }

    #[test]
    fn retryability_follows_the_cause() {
        assert!(PrintfulError::Timeout.is_retryable());
        assert!(PrintfulError::Transport("reset".into()).is_retryable());
        assert!(
            PrintfulError::RateLimited {
                retry_after: Duration::from_secs(1)
            }
            .is_retryable()
        );
        assert!(!PrintfulError::Parse("x".into()).is_retryable());
        assert!(!api(400, r#"{"code":400,"result":"bad"}"#).is_retryable());
    }
}
