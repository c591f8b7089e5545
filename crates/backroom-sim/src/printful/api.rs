//! The HTTP face of the simulator: the v1 API routes behind a gate that counts, authorizes,
//! rate-limits and injects faults, and the control routes beside them.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::state::{ApiError, Draw, OrderRef, RateReading};
use super::{PrintfulSim, RecordedRequest, SimError, now, products};

pub(super) fn router(sim: PrintfulSim) -> Router {
    let api = Router::new()
        .route("/orders", get(list_orders).post(create_order))
        .route("/orders/{id}", get(get_order).delete(cancel_order))
        .route("/orders/{id}/confirm", post(confirm_order))
        .route("/v2/orders/{id}/shipments", get(list_shipments))
        .route("/store/products", get(list_products))
        .route("/store/products/{id}", get(get_product))
        .route(
            "/webhooks",
            get(get_webhooks).post(set_webhooks).delete(delete_webhooks),
        )
        .route_layer(middleware::from_fn_with_state(sim.clone(), gate));
    let control = Router::new()
        .route("/orders/{id}/advance", post(advance))
        .route("/orders/{id}/status", post(set_status))
        .route("/orders/{id}/shipments/delivery", post(set_delivery))
        .route(
            "/control/sync_variants/{id}",
            post(control_sync_variant).delete(remove_sync_variant),
        )
        .route("/control/paging", post(control_paging))
        .route("/control/orders", post(control_order))
        .route("/control/faults", post(control_faults))
        .route("/control/webhooks", post(control_webhooks))
        .route("/control/costs", post(control_costs))
        .route("/tracking/{number}", get(tracking));
    api.merge(control)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sim)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

/// Every API request passes here: it is counted and recorded, then refused when it has no
/// Bearer token (401), when a fault is armed, or when the minute's 120 requests are used up
/// (429); every answer gets the `X-Ratelimit-*` headers.
async fn gate(State(sim): State<PrintfulSim>, request: Request, next: Next) -> Response {
    let authorized = bearer_token(request.headers()).is_some();
    let (reading, fault) = {
        let mut st = sim.lock();
        st.calls += 1;
        st.requests.push(RecordedRequest {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            query: request.uri().query().map(str::to_string),
            store_id: request
                .headers()
                .get("x-pf-store-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        });
        let reading = st.window.take(Instant::now());
        let fault = if authorized && st.faults.fail_next > 0 {
            st.faults.fail_next -= 1;
            let status = st.faults.fail_status;
            st.faults.count(Draw::Fail(status));
            Some(status)
        } else if authorized && st.faults.fail_next_confirms > 0 && is_confirm(&request) {
            st.faults.fail_next_confirms -= 1;
            st.faults.count(Draw::Fail(500));
            Some(500)
        } else if authorized && !is_create(&request) {
            // A create's random fault is drawn by `create_order`, keyed by its external id.
            let key = format!(
                "{} {}?{}",
                request.method(),
                request.uri().path(),
                request.uri().query().unwrap_or_default()
            );
            match st.faults.draw(&key, false) {
                Draw::Fail(status) => Some(status),
                Draw::Pass | Draw::DropAnswer => None,
            }
        } else {
            None
        };
        (reading, fault)
    };
    if !authorized {
        let mut response = ApiError {
            status: 401,
            reason: "BadRequest",
            message: "Malformed Authorization header.".into(),
        }
        .into_response();
        rate_headers(response.headers_mut(), reading);
        return response;
    }
    if let Some(status) = fault {
        return injected(status, reading.limit);
    }
    if reading.exceeded {
        let mut response = too_many_requests();
        rate_headers(response.headers_mut(), reading);
        set(response.headers_mut(), "retry-after", &reading.reset_secs.to_string());
        return response;
    }
    let mut response = next.run(request).await;
    rate_headers(response.headers_mut(), reading);
    response
}

fn is_create(request: &Request) -> bool {
    request.method() == axum::http::Method::POST && request.uri().path().ends_with("/orders")
}

fn is_confirm(request: &Request) -> bool {
    request.method() == axum::http::Method::POST && request.uri().path().ends_with("/confirm")
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

fn too_many_requests() -> Response {
    ApiError {
        status: 429,
        reason: "TooManyRequests",
        message: "Too Many Requests: the API rate limit has been exceeded. Please try again later.".into(),
    }
    .into_response()
}

/// A fault armed by `fail_next`: a 429 that looks like the window ran out, or a server error.
fn injected(status: u16, limit: u32) -> Response {
    if status == 429 {
        let mut response = too_many_requests();
        let h = response.headers_mut();
        rate_headers(
            h,
            RateReading {
                limit,
                remaining: 0,
                reset_secs: 1,
                exceeded: true,
            },
        );
        set(h, "retry-after", "1");
        return response;
    }
    let message = match status {
        500..=599 => "Internal server error".to_string(),
        _ => format!("Simulated error {status}"),
    };
    let reason = if status >= 500 {
        "InternalServerError"
    } else {
        "BadRequest"
    };
    let mut response = ApiError {
        status,
        reason,
        message,
    }
    .into_response();
    rate_headers(
        response.headers_mut(),
        RateReading {
            limit,
            remaining: limit.saturating_sub(1),
            reset_secs: 60,
            exceeded: false,
        },
    );
    response
}

fn rate_headers(h: &mut HeaderMap, r: RateReading) {
    set(h, "x-ratelimit-limit", &r.limit.to_string());
    set(h, "x-ratelimit-remaining", &r.remaining.to_string());
    set(h, "x-ratelimit-reset", &r.reset_secs.to_string());
    set(h, "x-ratelimit-policy", &format!("{};w=60", r.limit));
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

fn ok(result: Value) -> Response {
    Json(json!({ "code": 200, "result": result })).into_response()
}

fn reference(id: &str) -> Result<OrderRef, ApiError> {
    OrderRef::parse(id).ok_or_else(ApiError::not_found)
}

/// A boolean query parameter as PHP-era APIs take them: `true`/`1` or `false`/`0`.
fn flag(q: &HashMap<String, String>, key: &str) -> Result<bool, ApiError> {
    match q.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) => match v.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(ApiError::bad_request(format!("Invalid {key} parameter: {v}"))),
        },
    }
}

fn number(q: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, ApiError> {
    match q.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::bad_request(format!("Invalid {key} parameter: {v}"))),
    }
}

/// The body as JSON; v1 answers malformed JSON with its own 430 status.
fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|e| ApiError {
        status: 430,
        reason: "InvalidJson",
        message: format!("Invalid JSON: {e}"),
    })
}

async fn create_order(
    State(sim): State<PrintfulSim>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let created = (|| {
        let confirm = flag(&q, "confirm")?;
        let update_existing = flag(&q, "update_existing")?;
        let body = json_body(&body)?;
        let mut st = sim.lock();
        let key = format!("create {}", body["external_id"].as_str().unwrap_or_default());
        let draw = st.faults.draw(&key, true);
        if let Draw::Fail(status) = draw {
            return Ok(Err(status));
        }
        let changed = st.create(&body, confirm, update_existing, now())?;
        let dropped = std::mem::take(&mut st.faults.drop_next_create) || draw == Draw::DropAnswer;
        if dropped {
            st.faults.count(Draw::DropAnswer);
        }
        Ok::<_, ApiError>(Ok((changed, dropped)))
    })();
    let created = match created {
        Ok(Err(status)) => {
            let limit = sim.lock().window.limit;
            return injected(status, limit);
        }
        Ok(Ok(done)) => Ok(done),
        Err(e) => Err(e),
    };
    match created {
        Ok(((order, events), dropped)) => {
            sim.send(events);
            if dropped {
                // The order exists and its webhooks are on their way; only the answer is late,
                // as when a connection breaks after Printful committed.
                tokio::time::sleep(sim.inner.config.drop_delay).await;
            }
            ok(order)
        }
        Err(e) => e.into_response(),
    }
}

async fn get_order(State(sim): State<PrintfulSim>, Path(id): Path<String>) -> Response {
    let found = reference(&id).and_then(|r| sim.lock().order(&r).ok_or_else(ApiError::not_found));
    match found {
        Ok(order) => ok(order),
        Err(e) => e.into_response(),
    }
}

async fn list_orders(State(sim): State<PrintfulSim>, Query(q): Query<HashMap<String, String>>) -> Response {
    let listed = (|| {
        let offset = number(&q, "offset", 0)?;
        // Printful's default page is 20 and its largest 100.
        let limit = match number(&q, "limit", 20)? {
            0 => 20,
            n => n.min(100),
        };
        let status = q.get("status").map(|s| s.trim()).filter(|s| !s.is_empty());
        let (orders, total) = sim.lock().list(status, offset, limit);
        Ok::<_, ApiError>(json!({
            "code": 200,
            "result": orders,
            "paging": { "total": total, "offset": offset, "limit": limit },
        }))
    })();
    match listed {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn confirm_order(State(sim): State<PrintfulSim>, Path(id): Path<String>) -> Response {
    let changed = reference(&id).and_then(|r| sim.lock().confirm(&r, now()));
    respond_changed(&sim, changed)
}

async fn cancel_order(State(sim): State<PrintfulSim>, Path(id): Path<String>) -> Response {
    let changed = reference(&id).and_then(|r| sim.lock().cancel(&r, now()));
    respond_changed(&sim, changed)
}

fn respond_changed(sim: &PrintfulSim, changed: Result<(Value, Vec<Value>), ApiError>) -> Response {
    match changed {
        Ok((order, events)) => {
            sim.send(events);
            ok(order)
        }
        Err(e) => e.into_response(),
    }
}

fn webhook_info(sim: &PrintfulSim) -> Value {
    let st = sim.lock();
    match &st.webhook.url {
        Some(url) => json!({ "url": url, "types": st.webhook.types, "params": {} }),
        None => json!({ "url": null, "types": [], "params": {} }),
    }
}

async fn get_webhooks(State(sim): State<PrintfulSim>) -> Response {
    ok(webhook_info(&sim))
}

/// `POST /webhooks {url, types}`: replaces the whole configuration, as v1 does.
async fn set_webhooks(State(sim): State<PrintfulSim>, body: Bytes) -> Response {
    let set = (|| {
        let body = json_body(&body)?;
        let url = body["url"]
            .as_str()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ApiError::bad_request("Missing required parameter: url"))?;
        let Some(types) = body["types"].as_array() else {
            return Err(ApiError::bad_request("Missing required parameter: types"));
        };
        let types: Vec<String> = types.iter().filter_map(|t| t.as_str().map(str::to_string)).collect();
        if let Some(unknown) = types
            .iter()
            .find(|t| backroom_core::PrintfulEventKind::parse(t).is_none() && !is_other_v1_event(t))
        {
            return Err(ApiError::bad_request(format!("Invalid webhook type: {unknown}")));
        }
        let mut st = sim.lock();
        st.webhook.url = Some(url.to_string());
        st.webhook.types = types;
        Ok(())
    })();
    match set {
        Ok(()) => ok(webhook_info(&sim)),
        Err(e) => e.into_response(),
    }
}

/// v1 event types the simulator accepts in a subscription but never sends.
fn is_other_v1_event(t: &str) -> bool {
    [
        "product_synced",
        "product_updated",
        "product_deleted",
        "stock_updated",
        "order_put_hold_approval",
    ]
    .contains(&t)
}

async fn delete_webhooks(State(sim): State<PrintfulSim>) -> Response {
    {
        let mut st = sim.lock();
        st.webhook.url = None;
        st.webhook.types.clear();
    }
    ok(webhook_info(&sim))
}

/// `POST /orders/{id}/advance[?partial=true]`.
async fn advance(
    State(sim): State<PrintfulSim>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let partial = match flag(&q, "partial") {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let moved = OrderRef::parse(&id)
        .ok_or_else(|| SimError::NotFound(id.clone()))
        .and_then(|r| sim.advance_ref(&r, partial));
    match moved {
        Ok(order) => ok(order),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /orders/{id}/shipments/delivery` `{"delivery_status": "return_to_sender",
/// "shipment_id": 300000001, "reason": "…"}` (`shipment_id` and `reason` optional): answers
/// with the shipment as v2 shows it.
async fn set_delivery(State(sim): State<PrintfulSim>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let changed = OrderRef::parse(&id)
        .ok_or_else(|| SimError::NotFound(id.clone()))
        .and_then(|r| {
            let status = body["delivery_status"]
                .as_str()
                .ok_or_else(|| SimError::InvalidRequest("the body needs a \"delivery_status\"".into()))?;
            let shipment_id = match &body["shipment_id"] {
                Value::Null => None,
                v => Some(v.as_i64().ok_or_else(|| {
                    SimError::InvalidRequest(format!("shipment_id must be a shipment's id, not {v}"))
                })?),
            };
            sim.set_delivery_ref(&r, shipment_id, status, body["reason"].as_str())
        });
    match changed {
        Ok(shipment) => ok(shipment),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A v2 `limit`: 1 to 100, 20 when absent.
fn v2_limit(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    match number(q, "limit", 20)? {
        n @ 1..=100 => Ok(n),
        n => Err(ApiError::bad_request(format!(
            "Invalid limit parameter: {n} (it must be between 1 and 100)"
        ))),
    }
}

/// `GET /v2/orders/{id}/shipments?limit&offset`: v2's `{data, paging, _links}`.
async fn list_shipments(
    State(sim): State<PrintfulSim>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let listed = (|| {
        let r = reference(&id)?;
        let offset = number(&q, "offset", 0)?;
        let asked = v2_limit(&q)?;
        let public_base = sim.inner.config.public_base.trim_end_matches('/').to_string();
        let st = sim.lock();
        let limit = asked.min(st.max_page);
        let (data, total) = st
            .shipments_v2(&r, offset, limit, &public_base)
            .ok_or_else(ApiError::not_found)?;
        let href = |at: usize| json!({ "href": format!("{public_base}/sim/printful/v2/orders/{id}/shipments?limit={limit}&offset={at}") });
        let last = total.saturating_sub(1) / limit * limit;
        let mut links = json!({ "self": href(offset), "first": href(0), "last": href(last) });
        if offset + limit < total {
            links["next"] = href(offset + limit);
        }
        if offset > 0 {
            links["previous"] = href(offset.saturating_sub(limit));
        }
        Ok::<_, ApiError>(json!({
            "data": data,
            "paging": { "total": total, "offset": offset, "limit": limit },
            "_links": links,
        }))
    })();
    match listed {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /store/products?offset&limit`: v1's paged list of sync products, in the store's order.
async fn list_products(State(sim): State<PrintfulSim>, Query(q): Query<HashMap<String, String>>) -> Response {
    let listed = (|| {
        let offset = number(&q, "offset", 0)?;
        let st = sim.lock();
        // v1 brings the limit into its range rather than refusing it, as for orders.
        let limit = match number(&q, "limit", 20)? {
            0 => 20,
            n => n.min(100),
        }
        .min(st.max_page);
        let total = st.sync_products.len();
        let page: Vec<Value> = st
            .sync_products
            .iter()
            .skip(offset)
            .take(limit)
            .map(products::product_json)
            .collect();
        Ok::<_, ApiError>(json!({
            "code": 200,
            "result": page,
            "paging": { "total": total, "offset": offset, "limit": limit },
        }))
    })();
    match listed {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /store/products/{id}`, `{id}` the sync product id or `@external_id`:
/// `{sync_product, sync_variants}`.
async fn get_product(State(sim): State<PrintfulSim>, Path(id): Path<String>) -> Response {
    let st = sim.lock();
    let found = match id.strip_prefix('@') {
        Some(ext) => st.sync_products.iter().find(|p| p.external_id == ext),
        None => id
            .parse::<i64>()
            .ok()
            .and_then(|n| st.sync_products.iter().find(|p| p.id == n)),
    };
    match found {
        Some(p) => ok(json!({
            "sync_product": products::product_json(p),
            "sync_variants": p.variants.iter().map(|v| products::variant_json(p, v)).collect::<Vec<_>>(),
        })),
        None => ApiError::not_found().into_response(),
    }
}

/// `POST /control/sync_variants/{id}` `{"availability_status": "out_of_stock"}`.
async fn control_sync_variant(State(sim): State<PrintfulSim>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let set = id
        .parse::<i64>()
        .map_err(|_| SimError::NotFound(format!("sync variant {id}")))
        .and_then(|id| {
            let status = body["availability_status"]
                .as_str()
                .ok_or_else(|| SimError::InvalidRequest("the body needs an \"availability_status\"".into()))?;
            sim.set_sync_variant_availability(id, status)?;
            Ok(id)
        });
    match set {
        Ok(id) => ok(json!({ "id": id, "availability_status": body["availability_status"] })),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `DELETE /control/sync_variants/{id}`: the variant is no longer in its product.
async fn remove_sync_variant(State(sim): State<PrintfulSim>, Path(id): Path<String>) -> Response {
    let removed = id
        .parse::<i64>()
        .map_err(|_| SimError::NotFound(format!("sync variant {id}")))
        .and_then(|n| sim.remove_sync_variant(n).map(|()| n));
    match removed {
        Ok(n) => ok(json!({ "id": n, "removed": true })),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /control/paging` `{"max_limit": 2}`: see [`PrintfulSim::set_max_page`].
async fn control_paging(State(sim): State<PrintfulSim>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let Some(n) = body["max_limit"].as_u64().and_then(|n| usize::try_from(n).ok()) else {
        return ApiError::bad_request("max_limit must be a number from 1 to 100").into_response();
    };
    sim.set_max_page(n);
    ok(json!({ "max_limit": sim.lock().max_page }))
}

async fn set_status(State(sim): State<PrintfulSim>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let changed = OrderRef::parse(&id)
        .ok_or_else(|| SimError::NotFound(id.clone()))
        .and_then(|r| {
            let status = body["status"]
                .as_str()
                .ok_or_else(|| SimError::InvalidRequest("the body needs a \"status\"".into()))?;
            sim.set_status_ref(&r, status, body["reason"].as_str())
        });
    match changed {
        Ok(order) => ok(order),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn control_order(State(sim): State<PrintfulSim>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let external_id = match &body["external_id"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => return ApiError::bad_request(format!("external_id must be a string, not {other}")).into_response(),
    };
    match sim.foreign_order(external_id.as_deref()) {
        Ok(order) => ok(order),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn control_faults(State(sim): State<PrintfulSim>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if let Some(n) = body.get("fail_next") {
        let n = n.as_u64().and_then(|n| u32::try_from(n).ok());
        let status = body["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(500);
        let Some(n) = n.filter(|_| (400..=599).contains(&status)) else {
            return ApiError::bad_request("fail_next needs a count and a 4xx or 5xx status").into_response();
        };
        sim.fail_next(n, status);
    }
    if body["drop_next_create"].as_bool() == Some(true) {
        sim.drop_next_create();
    }
    if let Some(n) = body.get("fail_next_confirm") {
        let Some(n) = n.as_u64().and_then(|n| u32::try_from(n).ok()) else {
            return ApiError::bad_request("fail_next_confirm needs a count").into_response();
        };
        sim.fail_next_confirms(n);
    }
    let st = sim.lock();
    ok(json!({
        "fail_next": st.faults.fail_next,
        "status": st.faults.fail_status,
        "drop_next_create": st.faults.drop_next_create,
        "fail_next_confirm": st.faults.fail_next_confirms,
    }))
}

/// `POST /control/costs`: see the module docs.
async fn control_costs(State(sim): State<PrintfulSim>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let current = sim.lock().costs.clone();
    match read_costs(&body, current) {
        Ok(costs) => {
            sim.set_costs(costs.clone());
            ok(json!({
                "currency": costs.currency,
                "default_item": costs.default_item,
                "variants": costs.variants.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "shipping": costs.shipping,
                "vat_bps": costs.vat_bps,
            }))
        }
        Err(e) => e.into_response(),
    }
}

/// The costs table with the fields `body` gives changed; amounts are whole minor units, at least 0.
fn read_costs(body: &Value, mut costs: super::PrintfulCosts) -> Result<super::PrintfulCosts, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_request("The request body must be a JSON object"));
    };
    let amount = |key: &str, v: &Value| {
        v.as_i64().filter(|a| *a >= 0).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{key} must be a whole amount in minor units, at least 0, not {v}"
            ))
        })
    };
    for (key, v) in obj {
        match key.as_str() {
            "currency" => match v.as_str() {
                Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                    costs.currency = c.to_ascii_uppercase();
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "currency must be a 3-letter code, not {v}"
                    )));
                }
            },
            "default_item" => costs.default_item = amount(key, v)?,
            "shipping" => costs.shipping = amount(key, v)?,
            "vat_bps" => {
                costs.vat_bps = v
                    .as_u64()
                    .and_then(|b| u32::try_from(b).ok())
                    .filter(|b| *b <= 10_000)
                    .ok_or_else(|| ApiError::bad_request(format!("vat_bps must be 0 to 10000, not {v}")))?;
            }
            "variants" => {
                let Some(map) = v.as_object() else {
                    return Err(ApiError::bad_request("variants must map sync variant ids to amounts"));
                };
                for (id, price) in map {
                    let id: i64 = id
                        .parse()
                        .map_err(|_| ApiError::bad_request(format!("variants: {id:?} is not a sync variant id")))?;
                    costs.variants.insert(id, amount("variants", price)?);
                }
            }
            other => return Err(ApiError::bad_request(format!("Unknown field {other:?}"))),
        }
    }
    Ok(costs)
}

async fn control_webhooks(State(sim): State<PrintfulSim>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if let Some(deliver) = body["deliver"].as_bool() {
        sim.set_webhook_delivery(deliver);
    }
    match body.get("url") {
        Some(Value::String(url)) => sim.set_webhook_url(Some(url.clone())),
        Some(Value::Null) => sim.set_webhook_url(None),
        _ => {}
    }
    let st = sim.lock();
    ok(json!({ "deliver": st.webhook.deliver, "url": st.webhook.url }))
}

async fn tracking(Path(number): Path<String>) -> Html<String> {
    let number: String = number.chars().filter(char::is_ascii_alphanumeric).collect();
    Html(format!(
        "<!doctype html><title>Tracking {number}</title><h1>Package {number}</h1>\
         <p>Shipped by the Printful simulator. A real carrier would show where it is now.</p>"
    ))
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

async fn method_not_allowed() -> Response {
    ApiError {
        status: 405,
        reason: "MethodNotAllowed",
        message: "Method Not Allowed".into(),
    }
    .into_response()
}
