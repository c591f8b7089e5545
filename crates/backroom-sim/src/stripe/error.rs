//! Errors in Stripe's shape: `{"error":{"type","code","message","param"}}` with Stripe's status
//! codes, so that clients exercise the same error paths as against the real API.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Why a simulator control call (pay, expire, refund, dispute) was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("no such {object}: {id:?}")]
    NotFound { object: &'static str, id: String },
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidRequest(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub type_: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>, param: Option<&str>) -> ApiError {
        ApiError {
            status,
            type_: "invalid_request_error",
            code: Some(code),
            message: message.into(),
            param: param.map(str::to_string),
        }
    }

    /// A parameter with a value Stripe would not accept.
    pub fn invalid(message: impl Into<String>, param: &str) -> ApiError {
        ApiError::new(400, "parameter_invalid", message, Some(param))
    }

    pub fn missing(param: &str) -> ApiError {
        ApiError::new(
            400,
            "parameter_missing",
            format!("Missing required param: {param}."),
            Some(param),
        )
    }

    /// Stripe's answer for an id it does not have: `No such checkout.session: 'cs_…'`.
    pub fn no_such(object: &str, id: &str, param: &str) -> ApiError {
        ApiError::new(
            404,
            "resource_missing",
            format!("No such {object}: '{id}'"),
            Some(param),
        )
    }

    /// A request the object's current state does not allow (no code, as Stripe sends it).
    pub fn state(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            type_: "invalid_request_error",
            code: None,
            message: message.into(),
            param: None,
        }
    }

    pub fn unrecognized_url(method: &str, path: &str) -> ApiError {
        ApiError {
            status: 404,
            type_: "invalid_request_error",
            code: None,
            message: format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
            param: None,
        }
    }

    /// Stripe's answer when something failed on its side (`api_error`, 500).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 500,
            type_: "api_error",
            code: None,
            message: message.into(),
            param: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 401,
            type_: "invalid_request_error",
            code: None,
            message: message.into(),
            param: None,
        }
    }

    pub fn idempotency(key: &str) -> ApiError {
        ApiError {
            status: 400,
            type_: "idempotency_error",
            code: None,
            message: format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
            ),
            param: None,
        }
    }

    pub fn body(&self) -> Value {
        let mut error = json!({ "type": self.type_, "message": self.message });
        if let Some(code) = self.code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        json!({ "error": error })
    }
}

impl From<SimError> for ApiError {
    fn from(err: SimError) -> ApiError {
        match &err {
            SimError::NotFound { object, id } => ApiError::no_such(object, id, "id"),
            SimError::InvalidState(_) => ApiError::state(err.to_string()),
            SimError::InvalidRequest(_) => ApiError::new(400, "parameter_invalid", err.to_string(), None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, axum::Json(self.body())).into_response();
        response.headers_mut().insert(
            "request-id",
            HeaderValue::from_str(&super::ids::new_id("req_", 14)).expect("ids are ASCII"),
        );
        response
    }
}
