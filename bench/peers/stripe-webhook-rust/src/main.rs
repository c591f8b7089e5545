//! The stripe-webhook function with nothing but its job: check `Stripe-Signature` on the raw
//! body (HMAC-SHA256 of `{t}.{body}` keyed with the signing secret, any `v1` may match, the
//! timestamp within 300 s of now), send the body to the events queue once, answer 200.
//!
//! It builds its SQS client exactly as backroom's function does (the ambient configuration with
//! the SDK's hyper client on rustls and ring, the workspace's aws-config features) and runs on the same `#[tokio::main]` runtime;
//! the secret comes from `STRIPE_WEBHOOK_SECRET` and the queue from `EVENTS_QUEUE_URL`. The
//! benchmark measures backroom's stripe-webhook against it (bench/report.md).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use hmac::{Hmac, Mac};
use lambda_http::{Body, Error, Request, Response, service_fn};
use sha2::Sha256;

const TOLERANCE_SECS: u64 = 300;

/// Whether `header` carries a `v1` signature of `body` by `secret`, made within the tolerance
/// of `now` (unix seconds).
fn verify(body: &[u8], header: &str, secret: &[u8], now: u64) -> bool {
    let mut timestamp = None;
    let mut signatures = vec![];
    for element in header.split(',') {
        match element.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = timestamp.filter(|t| t.abs_diff(now) <= TOLERANCE_SECS) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    signatures.iter().any(|s| mac.clone().verify_slice(s).is_ok())
}

fn answer(status: u16, body: &'static str) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let secret = std::env::var("STRIPE_WEBHOOK_SECRET")?;
    let queue_url = std::env::var("EVENTS_QUEUE_URL")?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (secret, queue_url, sqs) = (&secret, &queue_url, &sqs);
    lambda_http::run(service_fn(move |request: Request| async move {
        let header = request
            .headers()
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let body = request.body().as_ref();
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        if !verify(body, header, secret.as_bytes(), now) {
            return answer(400, r#"{"error":"invalid_signature"}"#);
        }
        sqs.send_message()
            .queue_url(queue_url)
            .message_body(String::from_utf8_lossy(body))
            .send()
            .await?;
        answer(200, r#"{"received":true}"#)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(body: &[u8], secret: &str, t: u64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn a_signature_is_accepted_only_for_its_body_secret_and_time() {
        let body = br#"{"id":"evt_1"}"#;
        let signed = header(body, "whsec_a", 1_000_000);
        assert!(verify(body, &signed, b"whsec_a", 1_000_000));
        assert!(verify(body, &format!("{signed},v0=00"), b"whsec_a", 1_000_300));
        assert!(verify(
            body,
            &format!("t=1000000,v1=00,{}", &signed[10..]),
            b"whsec_a",
            999_700
        ));
        assert!(!verify(body, &signed, b"whsec_b", 1_000_000));
        assert!(!verify(br#"{"id":"evt_2"}"#, &signed, b"whsec_a", 1_000_000));
        assert!(!verify(body, &signed, b"whsec_a", 1_000_301));
        assert!(!verify(body, "t=1000000", b"whsec_a", 1_000_000));
        assert!(!verify(body, "", b"whsec_a", 1_000_000));
    }
}
