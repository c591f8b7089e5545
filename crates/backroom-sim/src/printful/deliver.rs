//! Webhook delivery as Printful does it: a POST of the v1 event JSON, retried on a non-2xx
//! answer or a connection failure with `retries` raised each time (so a redelivery is a
//! different body with a different signature), on a spawned task so that no API call waits for
//! a receiver. Printful waits 1, 4, 16, 64, 256 and 1024 minutes between attempts; the simulator
//! waits 200 ms and doubles it, a few times.
//!
//! The v2 signature is computed here with the hmac crate directly, not with backroom-printful's
//! `sign`, so that the tests, which verify with backroom-printful, compare two implementations.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use hyper::body::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{PrintfulSim, WebhookDelivery};
use crate::sender::{self, InFlight};

/// Attempts per event, including the first.
const ATTEMPTS: u32 = 4;

/// The wait before the first retry; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Starts delivering one change's events to `url`, in order.
pub(crate) fn spawn(sim: &PrintfulSim, url: String, events: Vec<Value>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // Without a runtime there is nothing to deliver on; the events stay recorded.
        tracing::warn!("Printful simulator webhooks need a Tokio runtime; not delivering");
        return;
    };
    let guard = InFlight::start(sim);
    runtime.spawn(async move {
        for event in events {
            deliver(&guard.0, &url, event).await;
        }
        drop(guard);
    });
}

async fn deliver(sim: &PrintfulSim, url: &str, mut event: Value) {
    let secret = sim.inner.config.webhook_secret_hex.clone();
    let event_type = event["type"].as_str().unwrap_or_default().to_string();
    let order_id = event["data"]["order"]["id"].as_i64();
    let external_id = event["data"]["order"]["external_id"].as_str().map(str::to_string);
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let retries = attempt - 1;
        event["retries"] = Value::from(retries);
        let body = serde_json::to_vec(&event).expect("a JSON value always serialises");
        let signed = secret.as_deref().map(|s| signature(s, &body));
        let result = post(sim, url, &body, signed.as_ref()).await;
        let (status, error) = match result {
            Ok(status) => (Some(status), None),
            Err(e) => (None, Some(e)),
        };
        let success = status.is_some_and(|s| (200..300).contains(&s));
        sim.lock().deliveries.push(WebhookDelivery {
            event_type: event_type.clone(),
            order_id,
            external_id: external_id.clone(),
            attempt,
            retries,
            status,
            error: error.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            signature: signed.map(|(sig, _)| sig),
        });
        if success {
            return;
        }
        tracing::warn!(
            event_type,
            attempt,
            ?status,
            ?error,
            "Printful simulator webhook delivery failed"
        );
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
}

/// The v2 headers: the hex HMAC-SHA256 of the body keyed with the hex-decoded secret, and a
/// base64 "public key" that stands for the configuration (derived from the secret, since the
/// simulator has no key pair).
fn signature(secret_hex: &str, body: &[u8]) -> (String, String) {
    let key = hex::decode(secret_hex.trim()).unwrap_or_else(|_| {
        // A secret that is not hex cannot be what Printful returns; signing with its text would
        // hide the mistake, so the signature is made to fail verification instead.
        tracing::error!("the Printful simulator's webhook secret is not hex; webhooks will not verify");
        Vec::new()
    });
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(body);
    let signature = hex::encode(mac.finalize().into_bytes());
    let public =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest([b"public:".as_slice(), &key].concat()));
    (signature, public)
}

async fn post(sim: &PrintfulSim, url: &str, body: &[u8], signed: Option<&(String, String)>) -> Result<u16, String> {
    let mut headers = vec![
        ("content-type", "application/json"),
        ("user-agent", "Printful-Webhook-Simulator (backroom-sim)"),
    ];
    if let Some((signature, public_key)) = signed {
        headers.push(("x-pf-webhook-signature", signature));
        headers.push(("x-pf-webhook-public-key", public_key));
    }
    sender::post(&sim.inner.http, url, &headers, Bytes::copy_from_slice(body)).await
}
