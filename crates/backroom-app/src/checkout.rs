//! `POST /checkout`: the order row first, then the Stripe Checkout Session for it.

use axum::http::StatusCode;
use backroom_core::ports::{CatalogStore, CreateOrderError, NewOrder, OrderStore, StoreError};
use backroom_core::shipping::{ShippingError, country_code, zone_for};
use backroom_core::{Cause, Email, Fact, NewOrderItem, OrderId, Sku};
use backroom_db::Store;
use backroom_stripe::{CheckoutLine, CheckoutRequest, StripeClient, StripeError};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use crate::api::ApiError;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_LINES: usize = 20;
pub const MAX_QUANTITY: u64 = 10;
/// How long the buyer has to pay (the stuck-order rule counts from it too).
pub use backroom_core::stuck::SESSION_LIFETIME;

/// A checkout request that passed every check that needs no database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutInput {
    pub items: Vec<NewOrderItem>,
    pub email: Option<Email>,
    /// Where the order ships (ISO 3166-1 alpha-2), when the storefront names it: the shop's
    /// shipping zones price by destination.
    pub country: Option<String>,
}

/// Parses and checks a request body. Every refusal names the field.
pub fn parse_checkout(content_type: Option<&str>, body: &[u8]) -> Result<CheckoutInput, ApiError> {
    let is_json = content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the order as JSON with Content-Type: application/json",
        ));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than 64 KiB",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object",
        ));
    };
    let items = match object.get("items") {
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_items",
                "items",
                "items must be a list of {sku, quantity}",
            ));
        }
        None => return Err(ApiError::invalid("missing_items", "items", "the order has no items")),
    };
    if items.is_empty() {
        return Err(ApiError::invalid("missing_items", "items", "the order has no items"));
    }
    if items.len() > MAX_LINES {
        return Err(ApiError::invalid(
            "too_many_items",
            "items",
            format!("an order has at most {MAX_LINES} lines"),
        ));
    }
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(ApiError::invalid(
                "invalid_items",
                format!("items[{i}]"),
                "each item is an object {sku, quantity}",
            ));
        };
        let sku = match item.get("sku") {
            Some(Value::String(s)) => {
                Sku::parse(s).map_err(|e| ApiError::invalid("invalid_sku", format!("items[{i}].sku"), e.to_string()))?
            }
            _ => {
                return Err(ApiError::invalid(
                    "invalid_sku",
                    format!("items[{i}].sku"),
                    "sku must be a string",
                ));
            }
        };
        let quantity = match item.get("quantity") {
            Some(Value::Number(n)) => n.as_u64().filter(|q| (1..=MAX_QUANTITY).contains(q)),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::invalid(
                "invalid_quantity",
                format!("items[{i}].quantity"),
                format!("quantity must be a whole number from 1 to {MAX_QUANTITY}"),
            )
        })?;
        lines.push(NewOrderItem {
            sku,
            quantity: quantity as u32,
        });
    }
    let email = match object.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            Email::parse(s).map_err(|_| ApiError::invalid("invalid_email", "email", "not a valid email address"))?,
        ),
        Some(_) => return Err(ApiError::invalid("invalid_email", "email", "email must be a string")),
    };
    let country = match object.get("country") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            Some(country_code(s).map_err(|e| ApiError::invalid("invalid_country", "country", e.to_string()))?)
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_country",
                "country",
                "country must be a string such as \"DE\"",
            ));
        }
    };
    Ok(CheckoutInput {
        items: lines,
        email,
        country,
    })
}

/// What checkout needs to make a session.
#[derive(Clone, Debug, Default)]
pub struct CheckoutSettings {
    pub storefront_origin: String,
    /// Where addresses are collected when the catalog has no shipping zones.
    pub shipping_countries: Vec<String>,
    /// Pre-created Stripe shipping rates, offered when the catalog has no shipping zones.
    pub shipping_rate_ids: Vec<String>,
    /// `STRIPE_AUTOMATIC_TAX=true`: Stripe Tax adds the tax for the buyer's address.
    pub automatic_tax: bool,
    /// `STRIPE_PROMOTION_CODES=true`: the payment page takes promotion codes made at Stripe.
    pub allow_promotion_codes: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CheckoutCreated {
    pub order_id: OrderId,
    pub checkout_url: String,
}

/// Writes the order (holding stock), then creates its Checkout Session. When Stripe fails the
/// order is marked failed and its stock released before answering: 422 when Stripe refused the
/// session (400 or 402, with its reason), else 502. With shipping zones in the catalog the
/// destination's zone prices shipping and bounds the addresses Stripe collects; a destination
/// the shop does not ship to is refused before anything is written.
pub async fn checkout(
    store: &Store,
    stripe: &StripeClient,
    settings: &CheckoutSettings,
    input: CheckoutInput,
) -> Result<CheckoutCreated, ApiError> {
    let zones = store.shipping_zones().await.map_err(|e| store_error(&e))?;
    let zone = if zones.is_empty() {
        None
    } else {
        Some(zone_for(&zones, input.country.as_deref()).map_err(shipping_refusal)?)
    };
    let id = OrderId::new_random();
    let order = store
        .create_order(NewOrder {
            id,
            items: input.items,
            email: input.email.clone(),
        })
        .await
        .map_err(refusal)?;
    let (shipping_countries, shipping_rate_ids, shipping_options) = match zone {
        None => (
            settings.shipping_countries.clone(),
            settings.shipping_rate_ids.clone(),
            Vec::new(),
        ),
        Some(zone) => match zone.options(order.total) {
            Ok(options) => (zone.countries.clone(), Vec::new(), options),
            Err(e) => {
                fail_order(store, id).await;
                return Err(shipping_refusal(e));
            }
        },
    };
    let expires = Utc::now() + SESSION_LIFETIME;
    let request = CheckoutRequest {
        order_id: id,
        lines: order
            .items
            .iter()
            .map(|i| CheckoutLine {
                name: if i.size.is_empty() {
                    i.name.clone()
                } else {
                    format!("{} ({})", i.name, i.size)
                },
                unit_amount: i.unit_price,
                currency: order.total.currency,
                quantity: i.quantity,
            })
            .collect(),
        customer_email: input.email,
        success_url: format!("{}/success.html?order_id={id}", settings.storefront_origin),
        cancel_url: format!("{}/?canceled={id}", settings.storefront_origin),
        shipping_countries,
        shipping_rate_ids,
        shipping_options,
        automatic_tax: settings.automatic_tax,
        allow_promotion_codes: settings.allow_promotion_codes,
        expires_at: expires.timestamp(),
    };
    let session = match stripe.create_checkout_session(&request).await {
        Ok(session) => session,
        Err(e) => {
            if refused_by_stripe(&e) {
                tracing::warn!(order_id = %id, error = %e, "Stripe refused the checkout session");
            } else {
                tracing::error!(order_id = %id, error = %e, "could not create the checkout session");
            }
            fail_order(store, id).await;
            return Err(provider_failure(&e));
        }
    };
    let expires_at = chrono::DateTime::from_timestamp(session.expires_at, 0).unwrap_or(expires);
    if let Err(e) = store.attach_checkout_session(id, &session.id, expires_at).await {
        // The buyer never gets this session's page: give the stock back now rather than after
        // the abandoned-checkout sweep's grace.
        fail_order(store, id).await;
        return Err(store_error(&e));
    }
    Ok(CheckoutCreated {
        order_id: id,
        checkout_url: session.url,
    })
}

/// Marks an order whose session will not be made as failed, which releases its stock.
async fn fail_order(store: &Store, id: OrderId) {
    if let Err(e) = store
        .apply_fact(id, &Fact::CheckoutFailed, &Cause::Checkout, None)
        .await
    {
        tracing::error!(order_id = %id, error = %e, "could not mark the order failed");
    }
}

/// The answer when the shop cannot ship the order where the buyer asked.
fn shipping_refusal(e: ShippingError) -> ApiError {
    let code = match e {
        ShippingError::NotShipped(_) => "not_shipped_there",
        ShippingError::CountryNeeded => "missing_country",
        ShippingError::BadCountry(_) => "invalid_country",
        ShippingError::CurrencyMismatch { .. } => "shipping_unavailable",
    };
    ApiError::invalid(code, "country", e.to_string())
}

/// Stripe refused this session (HTTP 400 or 402: an invalid parameter, an address or country it
/// does not take, a declined card): sending it again will not help, and it is not an outage.
/// Its other answers (401/403, a bad key; 404, a missing shipping rate; 409/429; 5xx) and
/// transport failures are ours or Stripe's to fix, so they stay a 502 that the alarm sees.
fn refused_by_stripe(e: &StripeError) -> bool {
    matches!(e, StripeError::Api { status: 400 | 402, .. })
}

/// The answer to the storefront when the Checkout Session could not be created.
fn provider_failure(e: &StripeError) -> ApiError {
    match e {
        StripeError::Api { message, .. } if refused_by_stripe(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "payment_provider_refused",
            format!("the payment provider refused this checkout: {message}"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "payment_provider_unavailable",
            "the payment provider could not be reached; nothing was charged, please try again",
        ),
    }
}

fn refusal(e: CreateOrderError) -> ApiError {
    let item = |index: usize, what: &str| format!("items[{index}].{what}");
    match e {
        CreateOrderError::UnknownSku { index, sku } => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_sku",
            format!("there is no product {sku}"),
        )
        .field(item(index, "sku")),
        CreateOrderError::Inactive { index, sku } => ApiError::new(
            StatusCode::CONFLICT,
            "not_available",
            format!("{sku} is not for sale at the moment"),
        )
        .field(item(index, "sku")),
        CreateOrderError::OutOfStock { index, sku, available } => ApiError::new(
            StatusCode::CONFLICT,
            "out_of_stock",
            format!("{sku} is out of stock ({available} left)"),
        )
        .field(item(index, "quantity")),
        CreateOrderError::OverOrderLimit(e) => {
            ApiError::invalid("over_order_limit", item(e.index, "quantity"), e.to_string())
        }
        CreateOrderError::MixedCurrencies { index } => ApiError::invalid(
            "mixed_currencies",
            item(index, "sku"),
            "all items of an order must be priced in one currency",
        ),
        CreateOrderError::Empty => ApiError::invalid("missing_items", "items", "the order has no items"),
        CreateOrderError::Total(e) => ApiError::invalid("total_too_large", "items", e.to_string()),
        CreateOrderError::Store(e) => store_error(&e),
    }
}

/// A store failure as the storefront sees it: `busy` (503, `Retry-After: 1`) when the database
/// was only contended, else `internal`.
fn store_error(error: &StoreError) -> ApiError {
    match error.0.downcast_ref::<backroom_db::DbError>() {
        Some(db) if db.is_busy() => {
            tracing::warn!(error = %db, "the database is contended; asked the caller to come back");
            ApiError::busy()
        }
        _ => ApiError::internal(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json");

    fn code(ct: Option<&str>, body: &str) -> (u16, &'static str, Option<String>) {
        let e = parse_checkout(ct, body.as_bytes()).unwrap_err();
        (e.status.as_u16(), e.code, e.field)
    }

    #[test]
    fn a_good_request_parses() {
        let input = parse_checkout(
            Some("application/json; charset=utf-8"),
            br#"{"items":[{"sku":"FOG-MUG","quantity":2},{"sku":"GULL-TOTE","quantity":1}],"email":"a@b.co","note":"ignored"}"#,
        )
        .unwrap();
        assert_eq!(input.items.len(), 2);
        assert_eq!(input.items[0].quantity, 2);
        assert_eq!(input.email.unwrap().as_str(), "a@b.co");
        assert_eq!(input.country, None);
        let to = |c: &str| {
            parse_checkout(
                JSON,
                format!(r#"{{"items":[{{"sku":"A","quantity":1}}],"country":{c}}}"#).as_bytes(),
            )
        };
        assert_eq!(to("\"fr\"").unwrap().country.as_deref(), Some("FR"));
        assert_eq!(to("null").unwrap().country, None);
        assert!(
            parse_checkout(JSON, br#"{"items":[{"sku":"A","quantity":1}],"email":null}"#)
                .unwrap()
                .email
                .is_none()
        );
    }

    #[test]
    fn every_refusal_names_its_code_and_field() {
        let f = |s: &str| Some(s.to_string());
        assert_eq!(code(None, "{}"), (415, "unsupported_media_type", None));
        assert_eq!(code(Some("text/plain"), "{}"), (415, "unsupported_media_type", None));
        assert_eq!(
            code(JSON, &"x".repeat(MAX_BODY_BYTES + 1)),
            (413, "payload_too_large", None)
        );
        assert_eq!(code(JSON, "{"), (400, "invalid_json", None));
        assert_eq!(code(JSON, "[]"), (400, "invalid_json", None));
        assert_eq!(code(JSON, "{}"), (422, "missing_items", f("items")));
        assert_eq!(code(JSON, r#"{"items":[]}"#), (422, "missing_items", f("items")));
        assert_eq!(code(JSON, r#"{"items":{}}"#), (422, "invalid_items", f("items")));
        let many = format!(r#"{{"items":[{}]}}"#, vec![r#"{"sku":"A","quantity":1}"#; 21].join(","));
        assert_eq!(code(JSON, &many), (422, "too_many_items", f("items")));
        assert_eq!(code(JSON, r#"{"items":[1]}"#), (422, "invalid_items", f("items[0]")));
        assert_eq!(
            code(JSON, r#"{"items":[{"quantity":1}]}"#),
            (422, "invalid_sku", f("items[0].sku"))
        );
        assert_eq!(
            code(JSON, r#"{"items":[{"sku":"a b","quantity":1}]}"#),
            (422, "invalid_sku", f("items[0].sku"))
        );
        for q in ["0", "11", "-1", "1.5", "\"2\"", "null", "1e3", "18446744073709551616"] {
            let body = format!(r#"{{"items":[{{"sku":"A","quantity":1}},{{"sku":"B","quantity":{q}}}]}}"#);
            assert_eq!(
                code(JSON, &body),
                (422, "invalid_quantity", f("items[1].quantity")),
                "{q}"
            );
        }
        assert_eq!(
            code(JSON, r#"{"items":[{"sku":"A","quantity":1}],"email":"nope"}"#),
            (422, "invalid_email", f("email"))
        );
        assert_eq!(
            code(JSON, r#"{"items":[{"sku":"A","quantity":1}],"email":7}"#),
            (422, "invalid_email", f("email"))
        );
        for c in ["\"France\"", "7", "\"D1\""] {
            let body = format!(r#"{{"items":[{{"sku":"A","quantity":1}}],"country":{c}}}"#);
            assert_eq!(code(JSON, &body), (422, "invalid_country", f("country")), "{c}");
        }
    }
}
