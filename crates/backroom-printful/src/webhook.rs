//! Printful webhooks: authenticating them and reading them.
//!
//! v1 webhooks carry no signature, so our webhook URL holds a long random token
//! (`/webhooks/printful/{token}`), compared here in constant time. v2 webhooks are also signed:
//! `x-pf-webhook-signature` is the hex HMAC-SHA256 of the raw body, keyed with the *hex-decoded*
//! `secret_key` Printful returned when the webhook was configured. Once that secret is configured
//! the signature is required ([`authenticate`]). Neither carries a timestamp
//! or an event id, so a webhook is only ever a hint: the worker re-reads the order.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::lenient;

/// The v2 signature header: hex HMAC-SHA256 of the raw body.
pub const SIGNATURE_HEADER: &str = "x-pf-webhook-signature";

/// The v2 header naming (in base64) the public key of the configuration that fired.
pub const PUBLIC_KEY_HEADER: &str = "x-pf-webhook-public-key";

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The configured secret is empty or not hexadecimal: a setup mistake, not an attack.
    #[error("the Printful webhook secret is not a non-empty hexadecimal string")]
    InvalidSecret,
    /// A secret is configured but the request carries no signature: refused, or leaving the
    /// header out would downgrade a signed webhook to a token-only one.
    #[error("the Printful webhook is not signed, but a webhook secret is configured")]
    MissingSignature,
    /// The request is signed but no secret is configured to check the signature with.
    #[error("the Printful webhook is signed, but no webhook secret is configured to check it")]
    SecretNotConfigured,
    /// The signature is not hex, or does not match the body.
    #[error("the Printful webhook signature does not match the body")]
    BadSignature,
    /// The body is not a Printful event.
    #[error("not a Printful webhook event: {0}")]
    Malformed(String),
}

/// One webhook event, in either shape, reduced to what the worker needs to find the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `order_updated`, `package_shipped`, `shipment_sent`, ….
    pub event_type: String,
    /// Unix seconds: v1 `created`, or v2 `occurred_at`.
    pub created: i64,
    pub order_id: Option<i64>,
    pub external_id: Option<String>,
    pub shipment_id: Option<i64>,
    /// Why an order failed, was canceled or put on hold, or a package returned.
    pub reason: Option<String>,
}

/// The path under which backroom receives Printful's webhooks; the secret token follows it.
pub const WEBHOOK_PATH: &str = "/webhooks/printful/";

/// A webhook URL fit to print, store or send: when it has backroom's webhook path, whatever
/// follows the path (the secret token, and any query) is replaced by `<token>`; any other URL
/// is returned as it is.
pub fn redact_url(url: &str) -> String {
    match url.find(WEBHOOK_PATH) {
        Some(at) => format!("{}{WEBHOOK_PATH}<token>", &url[..at]),
        None => url.to_string(),
    }
}

/// Whether the token in the URL is ours. Both sides are hashed first, so the comparison takes
/// the same time whatever the lengths and wherever they differ. An empty expected token
/// matches nothing.
pub fn token_matches(expected: &SecretString, given: &str) -> bool {
    let expected = expected.expose_secret();
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    let same: bool = a.ct_eq(&b).into();
    same && !expected.is_empty()
}

/// Authenticates a request whose URL token already matched, given the configured v2 secret and
/// the `x-pf-webhook-signature` header, if any.
///
/// With a secret configured the signature is required: a request without it is refused, or
/// anyone holding the URL could downgrade a signed webhook to a token-only one by leaving the
/// header out. Without a secret the token alone admits a request (v1 webhooks are unsigned),
/// and a signed one is refused, since its signature cannot be checked.
pub fn authenticate(
    secret_hex: Option<&SecretString>,
    body: &[u8],
    signature_hex: Option<&str>,
) -> Result<(), WebhookError> {
    match (secret_hex, signature_hex) {
        (Some(secret), Some(signature)) => verify_signature(secret, body, signature),
        (Some(secret), None) => {
            // A broken secret is reported as such, whatever the request carries.
            keyed(secret.expose_secret())?;
            Err(WebhookError::MissingSignature)
        }
        (None, Some(_)) => Err(WebhookError::SecretNotConfigured),
        (None, None) => Ok(()),
    }
}

/// Checks a v2 signature over the raw body bytes (never over re-serialised JSON: a redelivery
/// changes `retries`, and so the body and its signature). The comparison is constant time.
pub fn verify_signature(secret_hex: &SecretString, body: &[u8], signature_hex: &str) -> Result<(), WebhookError> {
    let mac = keyed(secret_hex.expose_secret())?;
    let signature = hex::decode(signature_hex.trim()).map_err(|_| WebhookError::BadSignature)?;
    let mut mac = mac;
    mac.update(body);
    mac.verify_slice(&signature).map_err(|_| WebhookError::BadSignature)
}

/// The v2 signature of `body`, as Printful would send it; for the simulator and tests.
///
/// # Panics
/// When `secret_hex` is empty or not hexadecimal, which is a mistake in the caller's fixture.
pub fn sign(secret_hex: &str, body: &[u8]) -> String {
    let mut mac = keyed(secret_hex).expect("the webhook secret must be non-empty hex");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn keyed(secret_hex: &str) -> Result<HmacSha256, WebhookError> {
    let key = hex::decode(secret_hex.trim()).map_err(|_| WebhookError::InvalidSecret)?;
    if key.is_empty() {
        return Err(WebhookError::InvalidSecret);
    }
    HmacSha256::new_from_slice(&key).map_err(|_| WebhookError::InvalidSecret)
}

/// Reads an event in the v1 shape (`{type, created, retries, store, data: {order, shipment?,
/// reason?}}`, with the full order) or the v2 shape (`{type, occurred_at, retries, store_id,
/// data: {order: {id, external_id, status, …}, shipment?, reason?}}`). Ids may be numbers or
/// strings. The type and a time are required, since the event id is built from them.
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(WebhookError::Malformed("the body is not a JSON object".into()));
    }
    let event_type = lenient::non_empty(&v["type"]).ok_or_else(|| WebhookError::Malformed("no `type`".into()))?;
    let created = lenient::unix_time(&v["created"])
        .or_else(|| lenient::unix_time(&v["occurred_at"]))
        .ok_or_else(|| WebhookError::Malformed("neither `created` nor `occurred_at` is a time".into()))?;
    let data = &v["data"];
    Ok(WebhookEvent {
        event_type: event_type.trim().to_string(),
        created,
        order_id: lenient::int(&data["order"]["id"]),
        external_id: lenient::non_empty(&data["order"]["external_id"]),
        shipment_id: lenient::int(&data["shipment"]["id"]),
        reason: lenient::non_empty(&data["reason"]),
    })
}

/// A stable id for de-duplication: `{type}:{order}:{shipment}:{created}`, where the order is its
/// Printful id, else `@external_id`, else `-`. `retries` is left out on purpose, so that a
/// redelivery has the id of the original.
pub fn event_id(e: &WebhookEvent) -> String {
    let order = match (e.order_id, &e.external_id) {
        (Some(id), _) => id.to_string(),
        (None, Some(ext)) => format!("@{ext}"),
        (None, None) => "-".to_string(),
    };
    let shipment = e.shipment_id.map_or_else(|| "-".to_string(), |id| id.to_string());
    format!("{}:{order}:{shipment}:{}", e.event_type, e.created)
}
