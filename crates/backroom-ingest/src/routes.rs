//! Provider-event ingest, the webhook functions' whole job: verify the raw bytes, keep only
//! the event kinds backroom handles (backroom-core's one list per provider), queue them for the
//! worker, answer. No database and no provider client.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use backroom_core::ports::{EventQueue, EventSource, QueueMessage};
use backroom_core::{PrintfulEventKind, StripeEventKind};
use backroom_stripe::webhook::WebhookVerifier;
use serde_json::json;

use crate::api::ApiError;
use crate::config::IngestConfig;

/// The largest webhook body accepted (SQS's message limit).
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// Unknown paths answer with the same JSON error as every route. Apply it once, to the router
/// that is served (merged routers cannot each have a fallback).
pub fn with_json_fallback(router: Router) -> Router {
    router.fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "there is no such route")
}

/// The answer to a known route asked with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// The body, refused with 413 past `limit` bytes.
pub async fn read_limited(body: Body, limit: usize, message: &'static str) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message))
}

/// What the webhook functions need: verifiers and the queue. No database.
pub struct Ingest<Q> {
    /// Without it (no `STRIPE_WEBHOOK_SECRETS`), Stripe webhooks are refused.
    pub stripe_verifier: Option<WebhookVerifier>,
    /// The secret path segment of the Printful webhook URL; without it every Printful webhook is refused.
    pub printful_token: Option<secrecy::SecretString>,
    /// Printful's v2 signing secret (hex). When set, every Printful webhook must carry a valid
    /// signature; when not, the URL token alone admits one.
    pub printful_secret: Option<secrecy::SecretString>,
    pub queue: Q,
}

/// `POST /webhooks/stripe` and `POST /webhooks/printful/{token}`.
pub fn webhook_routes<Q: EventQueue + 'static>(ingest: Arc<Ingest<Q>>) -> Router {
    Router::new()
        .route("/webhooks/stripe", post(stripe_webhook))
        .route("/webhooks/printful/{token}", post(printful_webhook))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ingest)
}

async fn printful_webhook<Q: EventQueue>(
    State(ingest): State<Arc<Ingest<Q>>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // A wrong token looks exactly like a route that does not exist.
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "not found");
    let Some(expected) = &ingest.printful_token else {
        return Err(not_found());
    };
    if !backroom_printful::webhook::token_matches(expected, &token) {
        tracing::warn!("rejected a Printful webhook with a wrong token");
        backroom_aws::emf::count(backroom_aws::emf::Metric::WebhooksRejected, 1);
        return Err(not_found());
    }
    let bytes = read_limited(body, MAX_WEBHOOK_BYTES, "the webhook body is larger than 256 KiB").await?;
    // With PRINTFUL_WEBHOOK_SECRET set, the signature is required: leaving the header out must
    // not downgrade the check to the token alone. A header that is not text is a bad signature.
    let signature = headers
        .get(backroom_printful::webhook::SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or_default());
    if let Err(e) = backroom_printful::webhook::authenticate(ingest.printful_secret.as_ref(), &bytes, signature) {
        use backroom_printful::webhook::WebhookError;
        match &e {
            WebhookError::InvalidSecret | WebhookError::SecretNotConfigured => {
                tracing::error!(reason = %e, "rejected a Printful webhook: check PRINTFUL_WEBHOOK_SECRET");
            }
            _ => tracing::warn!(reason = %e, "rejected a Printful webhook"),
        }
        backroom_aws::emf::count(backroom_aws::emf::Metric::WebhooksRejected, 1);
        let (code, message) = match e {
            WebhookError::MissingSignature => ("missing_signature", "the webhook is not signed"),
            _ => ("invalid_signature", "the webhook signature does not match"),
        };
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, code, message));
    }
    let event = backroom_printful::webhook::parse_event(&bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_event", e.to_string()))?;
    if PrintfulEventKind::parse(&event.event_type).is_none() {
        tracing::info!(event_type = %event.event_type, "ignored a Printful event type backroom does not handle");
        return Ok(Json(json!({ "received": true, "queued": false })).into_response());
    }
    let body = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", "the body is not UTF-8"))?;
    let message = QueueMessage {
        source: EventSource::Printful,
        event_id: backroom_printful::webhook::event_id(&event),
        event_type: event.event_type.clone(),
        body,
    };
    ingest.queue.send(&message).await.map_err(|e| {
        tracing::error!(event_id = %message.event_id, error = %e, "could not queue a Printful event; Printful will retry");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "queue_unavailable", "the event could not be queued; retry later")
    })?;
    Ok(Json(json!({ "received": true, "queued": true })).into_response())
}

async fn stripe_webhook<Q: EventQueue>(
    State(ingest): State<Arc<Ingest<Q>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(body, MAX_WEBHOOK_BYTES, "the webhook body is larger than 256 KiB").await?;
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let Some(verifier) = &ingest.stripe_verifier else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "not found"));
    };
    let envelope = verifier
        .verify(&bytes, signature, chrono::Utc::now().timestamp())
        .map_err(|e| {
            tracing::warn!(reason = %e, "rejected a Stripe webhook");
            backroom_aws::emf::count(backroom_aws::emf::Metric::WebhooksRejected, 1);
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_signature", e.to_string())
        })?;
    if StripeEventKind::parse(&envelope.event_type).is_none() {
        tracing::info!(event_id = %envelope.id, event_type = %envelope.event_type, "ignored a Stripe event type backroom does not handle");
        return Ok(Json(json!({ "received": true, "queued": false })).into_response());
    }
    // The signature covered these exact bytes, and Stripe sends UTF-8 JSON; a body that is not
    // UTF-8 could not have parsed as an envelope above.
    let body = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", "the body is not UTF-8"))?;
    let message = QueueMessage {
        source: EventSource::Stripe,
        event_id: envelope.id.clone(),
        event_type: envelope.event_type,
        body,
    };
    ingest.queue.send(&message).await.map_err(|e| {
        tracing::error!(event_id = %envelope.id, error = %e, "could not queue a Stripe event; Stripe will retry");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            "the event could not be queued; retry later",
        )
    })?;
    Ok(Json(json!({ "received": true, "queued": true })).into_response())
}

impl<Q> Ingest<Q> {
    /// The verifiers the configuration asks for, sending to `queue`.
    pub fn new(config: &IngestConfig, livemode: bool, queue: Q) -> Ingest<Q> {
        Ingest {
            stripe_verifier: (!config.stripe_webhook_secrets.is_empty())
                .then(|| WebhookVerifier::new(config.stripe_webhook_secrets.clone(), livemode)),
            printful_token: config.printful_webhook_token.clone(),
            printful_secret: config.printful_webhook_secret.clone(),
            queue,
        }
    }
}
