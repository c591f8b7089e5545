//! Webhook delivery as Stripe does it: a POST of the event JSON with a `Stripe-Signature` made
//! at send time (a fresh `t` for every attempt), retried with back-off on a non-2xx answer or a
//! connection failure, each on its own task so that no API call waits for a receiver.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::{Delivery, StripeSim, system_now};

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One attempt may take this long before it counts as failed; Stripe allows a few seconds more.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest wait between attempts, however many there are.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Starts the delivery of one event (and its configured duplicates) to `url`.
pub(crate) fn spawn(sim: &StripeSim, url: &str, event: Value) {
    let body = Bytes::from(serde_json::to_vec(&event).expect("a JSON value always serialises"));
    let event_id = event["id"].as_str().unwrap_or_default().to_string();
    let event_type = event["type"].as_str().unwrap_or_default().to_string();
    for copy in 0..=sim.inner.config.duplicate_deliveries {
        // Counted before the task starts, so that `settle` called right after the API call that
        // caused this event already waits for it.
        sim.inner.in_flight.send_modify(|n| *n += 1);
        let guard = InFlight(sim.clone());
        let (url, body, event_id, event_type) = (url.to_string(), body.clone(), event_id.clone(), event_type.clone());
        tokio::spawn(async move {
            let sim = &guard.0;
            deliver_copy(sim, &url, body, &event_id, &event_type, copy).await;
            drop(guard);
        });
    }
}

/// Decrements the in-flight count when a delivery task ends, however it ends.
struct InFlight(StripeSim);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inner.in_flight.send_modify(|n| *n = n.saturating_sub(1));
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
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("webhook URL {url:?} is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "the simulator sends webhooks over plain http only, not to {url}"
        ));
    }
    let request = hyper::Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(
            hyper::header::USER_AGENT,
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .header("stripe-signature", signature)
        .body(Full::new(body))
        .map_err(|e| format!("could not build the webhook request: {e}"))?;
    let client = sim
        .inner
        .http
        .get_or_init(|| Client::builder(TokioExecutor::new()).build_http());
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("could not reach {url}: {e}"))?;
        let status = response.status().as_u16();
        // Read the answer to the end so that the connection can be reused; its content is
        // ignored, as Stripe ignores it.
        let _ = response.into_body().collect().await;
        Ok(status)
    };
    tokio::time::timeout(ATTEMPT_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("{url} did not answer within {ATTEMPT_TIMEOUT:?}")))
}
