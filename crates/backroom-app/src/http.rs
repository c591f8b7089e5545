//! The HTTP routes, one axum router served by the Lambda functions (through lambda_http) and by
//! `backroom dev`. The shop's handlers decode, call one use case (`checkout`, the order read)
//! and map its result; the webhook routes are backroom-ingest's, merged in where one process
//! serves everything (`backroom dev`, the tests).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use backroom_core::ports::{CatalogStore, OrderStore, ShipmentRecord};
use backroom_core::{Money, Order, OrderId, TimelineEntry};
use backroom_db::Store;
use backroom_stripe::StripeClient;
use serde::Serialize;
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api::ApiError;
use crate::checkout::{self, CheckoutSettings, MAX_BODY_BYTES};

pub use backroom_ingest::routes::{Ingest, MAX_WEBHOOK_BYTES, webhook_routes, with_json_fallback};
use backroom_ingest::routes::{method_not_allowed, read_limited};

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
