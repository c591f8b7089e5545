//! Webhook delivery as Stripe does it: a POST of the event JSON with a `Stripe-Signature` made
//! at send time (a fresh `t` for every attempt), retried with back-off on a non-2xx answer or a
//! connection failure, each on its own task so that no API call waits for a receiver.

use std::time::Duration;

use hyper::body::Bytes;
use serde_json::Value;

use super::{Delivery, StripeSim, system_now};
use crate::sender::{self, InFlight};

/// The longest wait between attempts, however many there are.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Starts the delivery of one event (and its configured duplicates) to `url`.
pub(crate) fn spawn(sim: &StripeSim, url: &str, event: Value) {
    let body = Bytes::from(serde_json::to_vec(&event).expect("a JSON value always serialises"));
    let event_id = event["id"].as_str().unwrap_or_default().to_string();
    let event_type = event["type"].as_str().unwrap_or_default().to_string();
    for copy in 0..=sim.inner.config.duplicate_deliveries {
        let guard = InFlight::start(sim);
        let (url, body, event_id, event_type) = (url.to_string(), body.clone(), event_id.clone(), event_type.clone());
        tokio::spawn(async move {
            let sim = &guard.0;
            deliver_copy(sim, &url, body, &event_id, &event_type, copy).await;
            drop(guard);
        });
    }
}

async fn deliver_copy(sim: &StripeSim, url: &str, body: Bytes, event_id: &str, event_type: &str, copy: u32) {
    let config = &sim.inner.config;
    if !config.delivery_delay.is_zero() {
        tokio::time::sleep(config.delivery_delay).await;
    }
    let attempts = config.max_delivery_attempts.max(1);
    let mut backoff = config.retry_backoff;
    for attempt in 1..=attempts {
        let header = backroom_stripe::webhook::signature_header(&body, &config.webhook_secret, system_now());
        let result = post(sim, url, body.clone(), &header).await;
        let (status, error) = match &result {
            Ok(status) => (Some(*status), None),
            Err(e) => (None, Some(e.clone())),
        };
        let success = status.is_some_and(|s| (200..300).contains(&s));
        let delivered = {
            let mut state = sim.lock();
            state.deliveries.push(Delivery {
                event_id: event_id.to_string(),
                event_type: event_type.to_string(),
                copy,
                attempt,
                status,
                error: error.clone(),
            });
            if success && let Some(record) = state.events.iter_mut().find(|e| e.event["id"] == event_id) {
                record.delivered = true;
                record.event["pending_webhooks"] = Value::from(0);
                sim.changed(&state);
                true
            } else {
                false
            }
        };
        if delivered {
            // A failure is reported by `persist`; the delivery stands in memory either way.
            let _ = sim.persist();
        }
        if success {
            return;
        }
        tracing::warn!(event_id, attempt, ?status, ?error, "webhook delivery failed");
        if attempt < attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

async fn post(sim: &StripeSim, url: &str, body: Bytes, signature: &str) -> Result<u16, String> {
    let headers = [
        ("content-type", "application/json; charset=utf-8"),
        ("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
        ("stripe-signature", signature),
    ];
    sender::post(&sim.inner.http, url, &headers, body).await
}
