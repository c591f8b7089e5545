//! The HTTP routes, one axum router served by the Lambda functions (through lambda_http) and by
//! `backroom dev`. The shop's handlers decode, call one use case (`checkout`, the order read)
//! and map its result; the webhook handlers are the ingest itself: verify the raw bytes, keep
//! only the event kinds backroom handles, queue.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use backroom_core::ports::{CatalogStore, EventQueue, EventSource, OrderStore, QueueMessage, ShipmentRecord};
use backroom_core::{Money, Order, OrderId, TimelineEntry};
use backroom_db::Store;
use backroom_stripe::StripeClient;
use backroom_stripe::webhook::WebhookVerifier;
use serde::Serialize;
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api::ApiError;
use crate::checkout::{self, CheckoutSettings, MAX_BODY_BYTES};
use crate::queue::Queue;

/// The largest webhook body accepted (SQS's message limit).
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// What the storefront-facing routes need.
pub struct Shop {
    pub store: Store,
    pub stripe: StripeClient,
    pub checkout: CheckoutSettings,
}

/// `GET /catalog`, `POST /checkout`, `GET /orders/{id}`, `GET /health`, with CORS for the
/// storefront's origin only.
pub fn shop_routes(shop: Arc<Shop>) -> Router {
    let cors = CorsLayer::new()
        // A list, not `exact`: only the storefront's own origin gets the header back.
        .allow_origin(AllowOrigin::list(
            HeaderValue::from_str(&shop.checkout.storefront_origin).ok(),
        ))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    Router::new()
        .route("/catalog", get(catalog))
        .route("/checkout", post(checkout_route))
        .route("/orders/{order_id}", get(order_status))
        // Before the CORS layer, so that a preflight (OPTIONS) still reaches the layer.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(cors)
        .route("/health", get(health).fallback(method_not_allowed))
        .with_state(shop)
}

/// Unknown paths answer with the same JSON error as every route. Apply it once, to the router
/// that is served (merged routers cannot each have a fallback).
pub fn with_json_fallback(router: Router) -> Router {
    router.fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "there is no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

#[derive(Serialize)]
struct PriceView {
    amount: i64,
    currency: &'static str,
}

impl From<Money> for PriceView {
    fn from(m: Money) -> Self {
        PriceView {
            amount: m.amount.get(),
            currency: m.currency.code(),
        }
    }
}

async fn catalog(State(shop): State<Arc<Shop>>) -> Result<Response, ApiError> {
    let entries = shop.store.catalog().await.map_err(|e| ApiError::internal(&e))?;
    let mut products: Vec<serde_json::Value> = vec![];
    let mut current: Option<(String, serde_json::Value)> = None;
    for e in entries.into_iter().filter(|e| e.variant.active) {
        let variant = json!({
            "sku": e.variant.sku,
            "size": e.variant.size,
            "price": PriceView::from(Money::new(e.variant.price, e.variant.currency)),
            "in_stock": e.available != Some(0),
            "stock_left": e.available,
        });
        match &mut current {
            Some((slug, p)) if *slug == e.product_slug => p["variants"].as_array_mut().expect("array").push(variant),
            _ => {
                if let Some((_, p)) = current.take() {
                    products.push(p);
                }
                current = Some((
                    e.product_slug.clone(),
                    json!({ "slug": e.product_slug, "name": e.product_name, "description": e.description, "variants": [variant] }),
                ));
            }
        }
    }
    products.extend(current.map(|(_, p)| p));
    Ok(Json(json!({ "products": products })).into_response())
}

async fn checkout_route(State(shop): State<Arc<Shop>>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let bytes = read_limited(body, MAX_BODY_BYTES, "the request body is larger than 64 KiB").await?;
    let input = checkout::parse_checkout(content_type, &bytes)?;
    let created = checkout::checkout(&shop.store, &shop.stripe, &shop.checkout, input).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn read_limited(body: Body, limit: usize, message: &'static str) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message))
}

/// What a success page shows: no address, no email.
#[derive(Serialize)]
pub struct OrderStatusView {
    order_id: OrderId,
    number: i64,
    status: backroom_core::OrderStatus,
    items: Vec<serde_json::Value>,
    /// The items, at the catalog's prices.
    subtotal: PriceView,
    /// What Stripe took off, added for shipping and for tax (zero until paid).
    discount: PriceView,
    shipping: PriceView,
    tax: PriceView,
    /// What the buyer paid; before payment, the subtotal.
    total: PriceView,
    timeline: Vec<serde_json::Value>,
    tracking: Vec<serde_json::Value>,
    /// A parcel that will not arrive, or the delivery date, in the buyer's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_note: Option<String>,
}

impl OrderStatusView {
    pub fn of(order: &Order, timeline: &[TimelineEntry], shipments: &[ShipmentRecord]) -> OrderStatusView {
        OrderStatusView {
            order_id: order.id,
            number: order.number,
            status: order.status(),
            items: order
                .items
                .iter()
                .map(|i| {
                    json!({
                        "sku": i.sku,
                        "name": i.name,
                        "size": i.size,
                        "quantity": i.quantity,
                        "unit_price": PriceView::from(Money::new(i.unit_price, order.total.currency)),
                    })
                })
                .collect(),
            subtotal: order.total.into(),
            discount: part(order, |c| c.discount),
            shipping: part(order, |c| c.shipping),
            tax: part(order, |c| c.tax),
            total: order
                .charged
                .map_or(order.total, |c| Money::new(c.total, order.total.currency))
                .into(),
            timeline: timeline
                .iter()
                .map(|e| json!({ "at": e.at, "status": e.to, "detail": e.detail }))
                .collect(),
            tracking: shipments
                .iter()
                .map(|s| json!({ "carrier": s.carrier, "number": s.tracking_number, "url": s.tracking_url }))
                .collect(),
            delivery_note: None,
        }
    }

    /// Adds what the carrier said about each parcel (crate::delivery).
    pub fn with_deliveries(mut self, deliveries: &[backroom_db::store::delivery::DeliveryRecord]) -> OrderStatusView {
        for (parcel, d) in self.tracking.iter_mut().zip(deliveries) {
            if let Some(words) = crate::delivery::parcel_words(d) {
                parcel["delivery"] = json!(words);
            }
        }
        self.delivery_note = crate::delivery::buyer_note(deliveries);
        self
    }
}

/// One part of what was charged, in the order's currency (zero before payment).
fn part(order: &Order, pick: impl Fn(&backroom_core::order::Charged) -> backroom_core::Cents) -> PriceView {
    let amount = order.charged.as_ref().map_or(backroom_core::Cents::ZERO, pick);
    Money::new(amount, order.total.currency).into()
}

async fn order_status(State(shop): State<Arc<Shop>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = OrderId::parse(&id)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_order_id", e.to_string()).field("order_id"))?;
    let order = shop.store.order(id).await.map_err(|e| ApiError::internal(&e))?;
    let Some(order) = order else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            "there is no such order",
        ));
    };
    let timeline = shop.store.timeline(id).await.map_err(|e| ApiError::internal(&e))?;
    let shipments = shop.store.shipments(id).await.map_err(|e| ApiError::internal(&e))?;
    let deliveries = shop.store.deliveries(id).await.map_err(|e| ApiError::internal(&e))?;
    Ok(Json(OrderStatusView::of(&order, &timeline, &shipments).with_deliveries(&deliveries)).into_response())
}

/// What the webhook functions need: verifiers and the queue. No database.
pub struct Ingest {
    /// Without it (no `STRIPE_WEBHOOK_SECRETS`), Stripe webhooks are refused.
    pub stripe_verifier: Option<WebhookVerifier>,
    /// The secret path segment of the Printful webhook URL; without it every Printful webhook is refused.
    pub printful_token: Option<secrecy::SecretString>,
    /// Printful's v2 signing secret (hex). When set, every Printful webhook must carry a valid
    /// signature; when not, the URL token alone admits one.
    pub printful_secret: Option<secrecy::SecretString>,
    pub queue: Queue,
}

/// `POST /webhooks/stripe` and `POST /webhooks/printful/{token}`.
pub fn webhook_routes(ingest: Arc<Ingest>) -> Router {
    Router::new()
        .route("/webhooks/stripe", post(stripe_webhook))
        .route("/webhooks/printful/{token}", post(printful_webhook))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ingest)
}

async fn printful_webhook(
    State(ingest): State<Arc<Ingest>>,
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

async fn stripe_webhook(
    State(ingest): State<Arc<Ingest>>,
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
    if backroom_stripe::StripeEventKind::parse(&envelope.event_type).is_none() {
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
