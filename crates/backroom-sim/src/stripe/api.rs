//! The `/v1` API: authentication, parameters, idempotency, lists with Stripe's cursors, and
//! Stripe's errors. Routing is done here rather than by axum so that every unknown URL or method
//! gets Stripe's own "Unrecognized request URL" answer.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::disputes;
use super::error::ApiError;
use super::ids::new_id;
use super::objects::{self, Cause, NewLine, NewSession, NewShippingRate, ShippingOption};
use super::params::{self, Params, RangeFilter};
use super::state::{Change, IdempotentResult, Outbox, State as Account};
use super::{RecordedRequest, StripeSim};

/// How many line items an `expand[]=line_items` embeds; the rest are read from `/line_items`.
const EXPANDED_LINE_ITEMS: usize = 10;

/// Stripe forgets idempotency keys after a day.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

pub(crate) async fn handle(
    State(sim): State<StripeSim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.ensure_sweeper();
    if sim.take_fault() {
        return ApiError::internal("An unknown error occurred (injected by the simulator).").into_response();
    }
    // Nothing is answered before everything it may have read is on disk: a change whose save
    // failed, or that is still being written, is not answered from, by this request or any
    // other, since a client must never see an object that a restart would lose.
    match serve(&sim, &method, &uri, &headers, &body).and_then(|reply| {
        sim.persist().map_err(ApiError::internal)?;
        Ok(reply)
    }) {
        Ok(reply) => reply.into_response(),
        Err(err) => err.into_response(),
    }
}

/// A successful answer, or a replayed one.
struct Reply {
    status: u16,
    body: Value,
    replayed: bool,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body,
            replayed: false,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = (status, axum::Json(self.body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            "request-id",
            HeaderValue::from_str(&new_id("req_", 14)).expect("ids are ASCII"),
        );
        headers.insert("stripe-version", HeaderValue::from_static(backroom_stripe::API_VERSION));
        if self.replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

fn serve(sim: &StripeSim, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<Reply, ApiError> {
    let path = uri.path();
    let Some(rest) = path.strip_prefix("/v1/") else {
        return Err(ApiError::unrecognized_url(method.as_str(), path));
    };
    authenticate(headers)?;
    let idempotency_key = header_str(headers, "idempotency-key");
    sim.lock().requests.push(RecordedRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: uri.query().map(str::to_string),
        idempotency_key: idempotency_key.clone(),
        stripe_version: header_str(headers, "stripe-version"),
    });
    sim.expire_due();

    let raw = if *method == Method::GET {
        uri.query().unwrap_or("").as_bytes()
    } else {
        body
    };
    let params = params::parse(raw)?;
    let p = Params::root(&params);
    let segments: Vec<&str> = rest.split('/').collect();
    let unrecognized = || ApiError::unrecognized_url(method.as_str(), path);
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["checkout", "sessions"]) => {
            let (mut new, shipping) = read_new_session(&p, sim.now())?;
            let expand = read_expand(&p, &["line_items"])?;
            let public_base = sim.inner.config.public_base.clone();
            idempotent(sim, idempotency_key, method, path, &params, |account, change| {
                new.shipping_options = resolve_shipping(account, &shipping, &new.currency, change.now)?;
                let session = account.create_session(&new, change.now, &public_base);
                let id = session["id"].as_str().unwrap_or_default().to_string();
                Ok((with_expansions(account, &id, session, &expand), Outbox::new()))
            })
        }
        ("GET", ["checkout", "sessions"]) => list_sessions(sim, &p),
        ("GET", ["checkout", "sessions", id]) => {
            p.only(&["expand"])?;
            let expand = read_expand(&p, &["line_items"])?;
            let account = sim.lock();
            let record = account
                .session(id)
                .ok_or_else(|| ApiError::no_such("checkout.session", id, "session"))?;
            Ok(Reply::ok(with_expansions(&account, id, record.object.clone(), &expand)))
        }
        ("GET", ["checkout", "sessions", id, "line_items"]) => {
            p.only(&["limit", "starting_after", "ending_before"])?;
            let paging = Paging::read(&p)?;
            let account = sim.lock();
            let record = account
                .session(id)
                .ok_or_else(|| ApiError::no_such("checkout.session", id, "session"))?;
            let (data, has_more) = paging.page(&record.line_items, |_| true, "line item")?;
            Ok(Reply::ok(objects::list(
                &format!("/v1/checkout/sessions/{id}/line_items"),
                data,
                has_more,
            )))
        }
        ("POST", ["checkout", "sessions", id, "expire"]) => {
            p.only(&["expand"])?;
            let expand = read_expand(&p, &["line_items"])?;
            let id = id.to_string();
            idempotent(sim, idempotency_key, method, path, &params, |account, change| {
                if account.session(&id).is_none() {
                    return Err(ApiError::no_such("checkout.session", &id, "session"));
                }
                let (session, out) = account.expire(&id, change).map_err(ApiError::from)?;
                Ok((with_expansions(account, &id, session, &expand), out))
            })
        }
        ("GET", ["events"]) => list_events(sim, &p),
        ("GET", ["events", id]) => {
            p.only(&["expand"])?;
            read_expand(&p, &[])?;
            let account = sim.lock();
            let event = account.event(id).ok_or_else(|| ApiError::no_such("event", id, "id"))?;
            Ok(Reply::ok(event.clone()))
        }
        ("GET", ["webhook_endpoints"]) => {
            p.only(&["limit", "starting_after", "ending_before"])?;
            let paging = Paging::read(&p)?;
            let endpoints = webhook_endpoints(sim, &sim.lock());
            let (data, has_more) = paging.page(&endpoints, |_| true, "webhook_endpoint")?;
            Ok(Reply::ok(objects::list("/v1/webhook_endpoints", data, has_more)))
        }
        ("POST", ["webhook_endpoints"]) => {
            let new = read_new_endpoint(&p)?;
            let configured = usize::from(sim.webhook_url().is_some());
            idempotent(sim, idempotency_key, method, path, &params, |account, change| {
                if account.webhook_endpoints.len() + configured >= MAX_WEBHOOK_ENDPOINTS {
                    return Err(ApiError::invalid(
                        format!(
                            "You have reached the maximum of {MAX_WEBHOOK_ENDPOINTS} webhook endpoints on this account."
                        ),
                        "url",
                    ));
                }
                let id = new_id("we_", 24);
                let endpoint = objects::created_webhook_endpoint(
                    &id,
                    &new.url,
                    &new.events,
                    new.api_version.as_deref(),
                    new.description.as_deref(),
                    change.now,
                );
                account.webhook_endpoints.push(endpoint.clone());
                // The signing secret is in this answer only (and in its idempotent replays).
                let mut answer = endpoint;
                answer["secret"] = json!(new_id("whsec_", 32));
                Ok((answer, Outbox::new()))
            })
        }
        ("GET", ["webhook_endpoints", id]) => {
            p.only(&["expand"])?;
            read_expand(&p, &[])?;
            let endpoint = webhook_endpoints(sim, &sim.lock())
                .into_iter()
                .find(|e| e["id"] == *id)
                .ok_or_else(|| ApiError::no_such("webhook_endpoint", id, "webhook_endpoint"))?;
            Ok(Reply::ok(endpoint))
        }
        ("POST", ["webhook_endpoints", id]) => {
            let update = read_endpoint_update(&p)?;
            let id = id.to_string();
            idempotent(sim, idempotency_key, method, path, &params, |account, _| {
                if id == CONFIGURED_ENDPOINT_ID {
                    return Err(ApiError::invalid(
                        format!(
                            "{CONFIGURED_ENDPOINT_ID} is the simulator's configured endpoint (StripeSimConfig::webhook_url) and cannot be changed through the API; create another endpoint instead."
                        ),
                        "webhook_endpoint",
                    ));
                }
                let endpoint = account
                    .webhook_endpoints
                    .iter_mut()
                    .find(|e| e["id"] == id.as_str())
                    .ok_or_else(|| ApiError::no_such("webhook_endpoint", &id, "webhook_endpoint"))?;
                if let Some(url) = &update.url {
                    endpoint["url"] = json!(url);
                }
                if let Some(events) = &update.events {
                    endpoint["enabled_events"] = json!(events);
                }
                if let Some(description) = &update.description {
                    endpoint["description"] = json!(description);
                }
                if let Some(disabled) = update.disabled {
                    endpoint["status"] = json!(if disabled { "disabled" } else { "enabled" });
                }
                Ok((endpoint.clone(), Outbox::new()))
            })
        }
        ("GET", ["charges"]) => list_charges(sim, &p),
        ("GET", ["charges", id]) => {
            p.only(&["expand"])?;
            let expand = read_expand(&p, &["balance_transaction"])?;
            let account = sim.lock();
            let mut charge = account
                .charge(id)
                .ok_or_else(|| ApiError::no_such("charge", id, "charge"))?
                .clone();
            if !expand.is_empty()
                && let Some(txn) = charge["balance_transaction"].as_str()
            {
                charge["balance_transaction"] = account.balance_transaction(txn, sim.now()).unwrap_or(Value::Null);
            }
            Ok(Reply::ok(charge))
        }
        ("GET", ["balance_transactions", id]) => {
            p.only(&["expand"])?;
            read_expand(&p, &[])?;
            let txn = sim
                .lock()
                .balance_transaction(id, sim.now())
                .ok_or_else(|| ApiError::no_such("balance_transaction", id, "id"))?;
            Ok(Reply::ok(txn))
        }
        ("POST", ["shipping_rates"]) => {
            p.only(&[
                "display_name",
                "type",
                "fixed_amount",
                "delivery_estimate",
                "tax_behavior",
                "tax_code",
                "metadata",
                "expand",
            ])?;
            read_expand(&p, &[])?;
            let new = read_shipping_rate(&p)?;
            idempotent(sim, idempotency_key, method, path, &params, |account, change| {
                let rate = objects::shipping_rate(&new_id("shr_", 24), change.now, &new);
                account.put_shipping_rate(rate.clone());
                Ok((rate, Outbox::new()))
            })
        }
        ("GET", ["shipping_rates", id]) => {
            p.only(&["expand"])?;
            read_expand(&p, &[])?;
            let account = sim.lock();
            let rate = account
                .shipping_rate(id)
                .ok_or_else(|| ApiError::no_such("shipping_rate", id, "shipping_rate"))?;
            Ok(Reply::ok(rate.clone()))
        }
        ("GET", ["promotion_codes", id]) => {
            p.only(&["expand"])?;
            let expand = read_expand(&p, &["promotion.coupon"])?;
            let account = sim.lock();
            let mut promo = account
                .promotion_code(id)
                .ok_or_else(|| ApiError::no_such("promotion_code", id, "promotion_code"))?
                .clone();
            if expand.is_empty() {
                promo["promotion"]["coupon"] = promo["promotion"]["coupon"]["id"].clone();
            }
            Ok(Reply::ok(promo))
        }
        ("GET", ["disputes"]) => list_disputes(sim, &p),
        ("GET", ["disputes", id]) => {
            p.only(&["expand"])?;
            read_expand(&p, &[])?;
            let account = sim.lock();
            let dispute = account
                .dispute(id)
                .ok_or_else(|| ApiError::no_such("dispute", id, "dispute"))?;
            Ok(Reply::ok(disputes::view(dispute, sim.now())))
        }
        ("POST", ["disputes", id]) => {
            let update = disputes::read_update(&p)?;
            read_expand(&p, &[])?;
            let id = id.to_string();
            idempotent(sim, idempotency_key, method, path, &params, |account, change| {
                let (dispute, out) = account.update_dispute(&id, &update, change)?;
                Ok((disputes::view(&dispute, change.now), out))
            })
        }
        _ => Err(unrecognized()),
    }
}

/// The id of the endpoint [`StripeSimConfig::webhook_url`](super::StripeSimConfig) stands for.
const CONFIGURED_ENDPOINT_ID: &str = "we_1SimBackroomEndpoint0";

/// Stripe's limit of webhook endpoints per account.
const MAX_WEBHOOK_ENDPOINTS: usize = 16;

/// Every webhook endpoint, newest first as Stripe lists them: those created through the API,
/// then the configured one, which exists since the simulator started.
fn webhook_endpoints(sim: &StripeSim, account: &Account) -> Vec<Value> {
    let configured = sim
        .webhook_url()
        .map(|url| objects::webhook_endpoint(CONFIGURED_ENDPOINT_ID, &url, sim.inner.started_at));
    account
        .webhook_endpoints
        .iter()
        .rev()
        .cloned()
        .chain(configured)
        .collect()
}

/// The create parameters of a webhook endpoint.
struct NewEndpoint {
    url: String,
    events: Vec<String>,
    api_version: Option<String>,
    description: Option<String>,
}

/// What an update may change; `None` leaves a field as it is.
struct EndpointUpdate {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    disabled: Option<bool>,
}

fn read_new_endpoint(p: &Params<'_>) -> Result<NewEndpoint, ApiError> {
    p.only(&["url", "enabled_events", "api_version", "description", "expand"])?;
    read_expand(p, &[])?;
    let url = read_url(p, "url")?.ok_or_else(|| ApiError::missing("url"))?;
    let events = read_event_types(p)?.ok_or_else(|| ApiError::missing("enabled_events"))?;
    let api_version = p.str("api_version")?.map(str::to_string);
    if let Some(version) = &api_version
        && !is_api_version(version)
    {
        return Err(ApiError::invalid(
            format!(
                "Invalid api_version: {version:?} is not a Stripe API version such as {}.",
                backroom_stripe::API_VERSION
            ),
            "api_version",
        ));
    }
    Ok(NewEndpoint {
        url,
        events,
        api_version,
        description: p.str("description")?.map(str::to_string),
    })
}

fn read_endpoint_update(p: &Params<'_>) -> Result<EndpointUpdate, ApiError> {
    p.only(&["url", "enabled_events", "disabled", "description", "expand"])?;
    read_expand(p, &[])?;
    Ok(EndpointUpdate {
        url: read_url(p, "url")?,
        events: read_event_types(p)?,
        description: p.str("description")?.map(str::to_string),
        disabled: p.bool("disabled")?,
    })
}

/// `enabled_events`: `*`, or event types written as Stripe writes them (`charge.refunded`).
fn read_event_types(p: &Params<'_>) -> Result<Option<Vec<String>>, ApiError> {
    if !p.has("enabled_events") {
        return Ok(None);
    }
    let events = p.strings("enabled_events")?;
    if events.is_empty() {
        return Err(ApiError::missing("enabled_events"));
    }
    let plausible = |e: &str| {
        e == "*"
            || (e.contains('.')
                && e.split('.')
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')))
    };
    if let Some((i, bad)) = events.iter().enumerate().find(|(_, e)| !plausible(e)) {
        return Err(ApiError::invalid(
            format!("Invalid enabled_events[{i}]: {bad:?} is not an event type."),
            "enabled_events",
        ));
    }
    Ok(Some(events))
}

/// `2026-09-30` or `2026-09-30.endive`.
fn is_api_version(v: &str) -> bool {
    let (date, name) = match v.split_once('.') {
        Some((date, name)) => (date, Some(name)),
        None => (v, None),
    };
    let b = date.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && name.is_none_or(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_lowercase()))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Any `sk_…` or `rk_…` key, as Bearer (what async-stripe sends) or Basic (what curl's `-u`
/// sends) authentication.
fn authenticate(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        ));
    };
    let key = if let Some(token) = value.strip_prefix("Bearer ") {
        token.trim().to_string()
    } else if let Some(encoded) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_default();
        decoded.split(':').next().unwrap_or_default().to_string()
    } else {
        String::new()
    };
    let plausible = (key.starts_with("sk_") || key.starts_with("rk_")) && key.len() > 3;
    if plausible {
        return Ok(());
    }
    let shown = if key.len() > 8 {
        format!("{}****{}", &key[..3], &key[key.len() - 4..])
    } else {
        "****".to_string()
    };
    Err(ApiError::unauthorized(format!("Invalid API Key provided: {shown}")))
}

/// Runs a POST under Stripe's idempotency rules: the same key with the same parameters replays
/// the first answer; with other parameters it is refused. Only successful answers are stored,
/// since Stripe saves nothing for a request that failed validation. With a state file, the
/// change and its stored answer are saved before the answer is sent.
fn idempotent(
    sim: &StripeSim,
    key: Option<String>,
    method: &Method,
    path: &str,
    params: &Value,
    op: impl FnOnce(&mut Account, &Change) -> Result<(Value, Outbox), ApiError>,
) -> Result<Reply, ApiError> {
    if let Some(key) = &key
        && (key.is_empty() || key.len() > 255)
    {
        return Err(ApiError::invalid(
            "Idempotency-Key must be 1 to 255 characters.",
            "Idempotency-Key",
        ));
    }
    let cause = Cause {
        request_id: Some(new_id("req_", 14)),
        idempotency_key: key.clone(),
    };
    let change = sim.change(cause, true);
    let fingerprint = json!({ "method": method.as_str(), "path": path, "params": params });
    let (reply, out) = {
        let mut account = sim.lock();
        if let Some(key) = &key
            && let Some(stored) = account.idempotency.get(key)
            && stored.created + IDEMPOTENCY_TTL_SECS > change.now
        {
            if stored.fingerprint != fingerprint {
                return Err(ApiError::idempotency(key));
            }
            return Ok(Reply {
                status: stored.status,
                body: stored.body.clone(),
                replayed: true,
            });
        }
        let (body, out) = op(&mut account, &change)?;
        if let Some(key) = key {
            account.idempotency.insert(
                key,
                IdempotentResult {
                    fingerprint,
                    status: 200,
                    body: body.clone(),
                    created: change.now,
                },
            );
        }
        sim.changed(&account);
        (Reply::ok(body), out)
    };
    // On failure the change stays in memory and the client gets a 500, as from Stripe when it
    // cannot tell the outcome.
    sim.persist().map_err(ApiError::internal)?;
    sim.send(out);
    Ok(reply)
}

fn read_expand(p: &Params<'_>, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let expand = p.strings("expand")?;
    if let Some(bad) = expand.iter().find(|e| !allowed.contains(&e.as_str())) {
        return Err(ApiError::invalid(
            format!(
                "This property cannot be expanded ({bad}) in the backroom simulator; it expands: {}.",
                allowed.join(", ")
            ),
            "expand",
        ));
    }
    Ok(expand)
}

fn with_expansions(account: &Account, id: &str, mut session: Value, expand: &[String]) -> Value {
    if expand.iter().any(|e| e == "line_items")
        && let Some(record) = account.session(id)
    {
        let first: Vec<Value> = record.line_items.iter().take(EXPANDED_LINE_ITEMS).cloned().collect();
        let has_more = record.line_items.len() > EXPANDED_LINE_ITEMS;
        session["line_items"] = objects::list(&format!("/v1/checkout/sessions/{id}/line_items"), first, has_more);
    }
    session
}

/// A session's shipping option as asked for, before it is resolved against the account.
enum ShippingRequest {
    /// `shipping_options[N][shipping_rate]`, with its parameter name for errors.
    Rate { id: String, param: String },
    /// `shipping_options[N][shipping_rate_data]`, with its currency's parameter name.
    Data { rate: NewShippingRate, param: String },
}

/// Turns the asked-for options into the session's: rates looked up (an unknown id is Stripe's
/// `resource_missing`), every currency checked against the session's, and rates given inline
/// created with new `shr_` ids. Nothing is stored unless every option is good.
fn resolve_shipping(
    account: &mut Account,
    requests: &[ShippingRequest],
    currency: &str,
    now: i64,
) -> Result<Vec<ShippingOption>, ApiError> {
    let mut options = Vec::new();
    let mut created = Vec::new();
    for request in requests {
        let (rate, param) = match request {
            ShippingRequest::Rate { id, param } => {
                let rate = account.shipping_rate(id).cloned().ok_or_else(|| {
                    ApiError::new(
                        400,
                        "resource_missing",
                        format!("No such shipping rate: '{id}'"),
                        Some(param),
                    )
                })?;
                if rate["active"] != true {
                    return Err(ApiError::invalid(
                        format!("The shipping rate {id} is not active."),
                        param,
                    ));
                }
                (rate, param.clone())
            }
            ShippingRequest::Data { rate, param } => {
                let rate = objects::shipping_rate(&new_id("shr_", 24), now, rate);
                created.push(rate.clone());
                (rate, param.clone())
            }
        };
        let rate_currency = rate["fixed_amount"]["currency"].as_str().unwrap_or_default();
        if rate_currency != currency {
            return Err(ApiError::invalid(
                format!(
                    "The shipping rate's currency ({rate_currency}) must match the currency of the line items ({currency})."
                ),
                &param,
            ));
        }
        options.push(ShippingOption {
            rate: rate["id"].as_str().unwrap_or_default().to_string(),
            amount: rate["fixed_amount"]["amount"].as_i64().unwrap_or(0),
        });
    }
    for rate in created {
        account.put_shipping_rate(rate);
    }
    Ok(options)
}

/// A fixed-amount shipping rate's parameters (`shipping_rate_data`, or `POST /v1/shipping_rates`),
/// validated as Stripe validates them.
pub(crate) fn read_shipping_rate(p: &Params<'_>) -> Result<NewShippingRate, ApiError> {
    match p.str("type")? {
        None | Some("fixed_amount") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                format!("Invalid type: must be fixed_amount, not {other:?}."),
                &p.name("type"),
            ));
        }
    }
    let display_name = p.required_str("display_name")?;
    if display_name.trim().is_empty() || display_name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "display_name must be 1 to 100 characters.",
            &p.name("display_name"),
        ));
    }
    let fixed = p
        .object("fixed_amount")?
        .ok_or_else(|| ApiError::missing(&p.name("fixed_amount")))?;
    fixed.only(&["amount", "currency"])?;
    let amount = fixed
        .int("amount")?
        .ok_or_else(|| ApiError::missing(&fixed.name("amount")))?;
    if amount < 0 {
        return Err(ApiError::invalid(
            "This value must be greater than or equal to 0.",
            &fixed.name("amount"),
        ));
    }
    let currency = fixed.required_str("currency")?.to_ascii_lowercase();
    if backroom_core::Currency::parse(&currency).is_err() {
        return Err(ApiError::invalid(
            format!("Invalid currency: {currency}."),
            &fixed.name("currency"),
        ));
    }
    let (mut minimum, mut maximum) = (None, None);
    if let Some(estimate) = p.object("delivery_estimate")? {
        estimate.only(&["minimum", "maximum"])?;
        for (key, slot) in [("minimum", &mut minimum), ("maximum", &mut maximum)] {
            let Some(bound) = estimate.object(key)? else { continue };
            bound.only(&["unit", "value"])?;
            let unit = bound.required_str("unit")?;
            if !["business_day", "day", "hour", "month", "week"].contains(&unit) {
                return Err(ApiError::invalid(
                    format!("Invalid unit: must be one of business_day, day, hour, month or week, not {unit:?}."),
                    &bound.name("unit"),
                ));
            }
            let value = bound
                .int("value")?
                .ok_or_else(|| ApiError::missing(&bound.name("value")))?;
            if value < 1 {
                return Err(ApiError::invalid(
                    "This value must be greater than or equal to 1.",
                    &bound.name("value"),
                ));
            }
            *slot = Some((unit.to_string(), value));
        }
    }
    let tax_behavior = p.str("tax_behavior")?.map(str::to_string);
    if let Some(b) = &tax_behavior
        && !["inclusive", "exclusive", "unspecified"].contains(&b.as_str())
    {
        return Err(ApiError::invalid(
            format!("Invalid tax_behavior: must be inclusive, exclusive or unspecified, not {b:?}."),
            &p.name("tax_behavior"),
        ));
    }
    Ok(NewShippingRate {
        display_name: display_name.to_string(),
        amount,
        currency,
        minimum,
        maximum,
        tax_behavior,
        tax_code: p.str("tax_code")?.map(str::to_string),
        metadata: read_metadata(p, "metadata")?,
    })
}

/// The create parameters the simulator supports, validated as Stripe validates them; the
/// shipping options come separately, to be resolved against the account.
fn read_new_session(p: &Params<'_>, now: i64) -> Result<(NewSession, Vec<ShippingRequest>), ApiError> {
    p.only(&[
        "allow_promotion_codes",
        "automatic_tax",
        "mode",
        "line_items",
        "client_reference_id",
        "metadata",
        "payment_intent_data",
        "customer_email",
        "success_url",
        "cancel_url",
        "shipping_address_collection",
        "shipping_options",
        "expires_at",
        "expand",
    ])?;
    let mode = p.required_str("mode")?;
    if mode != "payment" {
        return Err(ApiError::invalid(
            format!("Invalid mode: the backroom simulator supports mode=payment only, not {mode:?}."),
            "mode",
        ));
    }
    let items = p.objects("line_items")?;
    if items.is_empty() {
        return Err(ApiError::missing("line_items"));
    }
    if items.len() > 100 {
        return Err(ApiError::invalid(
            "line_items may hold at most 100 items.",
            "line_items",
        ));
    }
    let mut lines = Vec::new();
    let mut currency: Option<String> = None;
    for item in &items {
        item.only(&["price_data", "quantity", "price"])?;
        if let Some(price) = item.str("price")? {
            return Err(ApiError::new(
                400,
                "resource_missing",
                format!("No such price: '{price}' (the backroom simulator knows no prices; use price_data)"),
                Some(&item.name("price")),
            ));
        }
        let price = item
            .object("price_data")?
            .ok_or_else(|| ApiError::missing(&item.name("price_data")))?;
        price.only(&["currency", "unit_amount", "product_data"])?;
        let code = price.required_str("currency")?.to_ascii_lowercase();
        if backroom_core::Currency::parse(&code).is_err() {
            return Err(ApiError::invalid(
                format!("Invalid currency: {code}."),
                &price.name("currency"),
            ));
        }
        match &currency {
            None => currency = Some(code),
            Some(first) if *first != code => {
                return Err(ApiError::invalid(
                    format!("All line items must use the same currency: {first} and {code} were given."),
                    &price.name("currency"),
                ));
            }
            Some(_) => {}
        }
        let unit_amount = price
            .int("unit_amount")?
            .ok_or_else(|| ApiError::missing(&price.name("unit_amount")))?;
        if unit_amount < 0 {
            return Err(ApiError::invalid(
                "This value must be greater than or equal to 0.",
                &price.name("unit_amount"),
            ));
        }
        let product = price
            .object("product_data")?
            .ok_or_else(|| ApiError::missing(&price.name("product_data")))?;
        product.only(&["name", "description", "images", "metadata"])?;
        let name = product.required_str("name")?;
        if name.trim().is_empty() {
            return Err(ApiError::invalid(
                "A product name must not be empty.",
                &product.name("name"),
            ));
        }
        let quantity = item
            .int("quantity")?
            .ok_or_else(|| ApiError::missing(&item.name("quantity")))?;
        if quantity < 1 {
            return Err(ApiError::invalid(
                "This value must be greater than or equal to 1.",
                &item.name("quantity"),
            ));
        }
        lines.push(NewLine {
            name: name.to_string(),
            unit_amount,
            quantity: quantity as u64,
        });
    }

    let client_reference_id = p.str("client_reference_id")?.map(str::to_string);
    if client_reference_id
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.len() > 200)
    {
        return Err(ApiError::invalid(
            "client_reference_id must be 1 to 200 characters.",
            "client_reference_id",
        ));
    }
    let metadata = read_metadata(p, "metadata")?;
    let payment_intent_metadata = match p.object("payment_intent_data")? {
        None => Default::default(),
        Some(pi) => {
            pi.only(&["metadata"])?;
            read_metadata(&pi, "metadata")?
        }
    };
    let success_url = read_url(p, "success_url")?;
    let cancel_url = read_url(p, "cancel_url")?;
    let allowed_countries = match p.object("shipping_address_collection")? {
        None => Vec::new(),
        Some(collection) => {
            collection.only(&["allowed_countries"])?;
            let countries = collection.strings("allowed_countries")?;
            if countries.is_empty() {
                return Err(ApiError::missing(&collection.name("allowed_countries")));
            }
            if let Some((i, bad)) = countries
                .iter()
                .enumerate()
                .find(|(_, c)| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(ApiError::invalid(
                    format!("Invalid allowed_countries[{i}]: {bad:?} is not an upper-case ISO 3166-1 alpha-2 code."),
                    &collection.name("allowed_countries"),
                ));
            }
            countries
        }
    };
    let options = p.objects("shipping_options")?;
    if options.len() > 5 {
        return Err(ApiError::invalid(
            "shipping_options may hold at most 5 options.",
            "shipping_options",
        ));
    }
    let mut shipping = Vec::new();
    for option in &options {
        option.only(&["shipping_rate", "shipping_rate_data"])?;
        let request = match (option.str("shipping_rate")?, option.object("shipping_rate_data")?) {
            (Some(id), None) => ShippingRequest::Rate {
                id: id.to_string(),
                param: option.name("shipping_rate"),
            },
            (None, Some(data)) => {
                data.only(&[
                    "display_name",
                    "type",
                    "fixed_amount",
                    "delivery_estimate",
                    "tax_behavior",
                    "tax_code",
                    "metadata",
                ])?;
                ShippingRequest::Data {
                    rate: read_shipping_rate(&data)?,
                    param: format!("{}[currency]", data.name("fixed_amount")),
                }
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "You may only specify one of these parameters: shipping_rate, shipping_rate_data.",
                    &option.name("shipping_rate"),
                ));
            }
            (None, None) => return Err(ApiError::missing(&option.name("shipping_rate"))),
        };
        shipping.push(request);
    }
    let allow_promotion_codes = p.bool("allow_promotion_codes")?.unwrap_or(false);
    let automatic_tax = match p.object("automatic_tax")? {
        None => false,
        Some(tax) => {
            tax.only(&["enabled", "liability"])?;
            tax.bool("enabled")?
                .ok_or_else(|| ApiError::missing(&tax.name("enabled")))?
        }
    };
    let expires_at = p.int("expires_at")?.unwrap_or(now + 24 * 3600);
    if expires_at < now + 30 * 60 {
        return Err(ApiError::invalid(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            "expires_at",
        ));
    }
    if expires_at > now + 24 * 3600 {
        return Err(ApiError::invalid(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            "expires_at",
        ));
    }
    let new = NewSession {
        lines,
        currency: currency.expect("at least one line item was read"),
        client_reference_id,
        metadata,
        payment_intent_metadata,
        customer_email: p.str("customer_email")?.map(str::to_string),
        success_url,
        cancel_url,
        allowed_countries,
        shipping_options: Vec::new(),
        allow_promotion_codes,
        automatic_tax,
        expires_at,
    };
    Ok((new, shipping))
}

fn read_metadata(p: &Params<'_>, key: &str) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let metadata = p.string_map(key)?;
    if metadata.len() > 50 {
        return Err(ApiError::invalid("Metadata may hold at most 50 keys.", &p.name(key)));
    }
    if let Some(k) = metadata
        .iter()
        .find(|(k, v)| k.len() > 40 || v.len() > 500)
        .map(|(k, _)| k)
    {
        let what = if k.len() > 40 {
            "keys must be at most 40 characters"
        } else {
            "values must be at most 500 characters"
        };
        return Err(ApiError::invalid(
            format!("Invalid metadata[{k}]: {what}."),
            &p.name(key),
        ));
    }
    Ok(metadata)
}

fn read_url(p: &Params<'_>, key: &str) -> Result<Option<String>, ApiError> {
    let Some(url) = p.str(key)? else { return Ok(None) };
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 5000 {
        return Err(ApiError::new(400, "url_invalid", "Not a valid URL", Some(key)));
    }
    Ok(Some(url.to_string()))
}

/// Stripe's list cursors: newest first, `limit` 1–100 (default 10), and `starting_after` or
/// `ending_before` naming an object of the list.
struct Paging {
    limit: usize,
    starting_after: Option<String>,
    ending_before: Option<String>,
}

impl Paging {
    fn read(p: &Params<'_>) -> Result<Paging, ApiError> {
        let limit = p.int("limit")?.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            let message = if limit < 1 {
                "greater than or equal to 1"
            } else {
                "less than or equal to 100"
            };
            return Err(ApiError::new(
                400,
                "parameter_invalid_integer",
                format!("This value must be {message}."),
                Some("limit"),
            ));
        }
        let starting_after = p.str("starting_after")?.map(str::to_string);
        let ending_before = p.str("ending_before")?.map(str::to_string);
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: ending_before, starting_after.",
                "ending_before",
            ));
        }
        Ok(Paging {
            limit: limit as usize,
            starting_after,
            ending_before,
        })
    }

    /// One page of `items` (already in list order) that pass `keep`. A cursor is looked up among
    /// all items, so it may name one the filter leaves out, as on Stripe.
    fn page(
        &self,
        items: &[Value],
        keep: impl Fn(&Value) -> bool,
        object: &str,
    ) -> Result<(Vec<Value>, bool), ApiError> {
        let position = |cursor: &str, param: &str| {
            items.iter().position(|i| i["id"] == cursor).ok_or_else(|| {
                ApiError::new(
                    400,
                    "resource_missing",
                    format!("No such {object}: '{cursor}'"),
                    Some(param),
                )
            })
        };
        if let Some(cursor) = &self.starting_after {
            let at = position(cursor, "starting_after")?;
            let after: Vec<&Value> = items[at + 1..].iter().filter(|i| keep(i)).collect();
            let has_more = after.len() > self.limit;
            return Ok((after.into_iter().take(self.limit).cloned().collect(), has_more));
        }
        if let Some(cursor) = &self.ending_before {
            let at = position(cursor, "ending_before")?;
            let before: Vec<&Value> = items[..at].iter().filter(|i| keep(i)).collect();
            let start = before.len().saturating_sub(self.limit);
            return Ok((before[start..].iter().map(|v| (*v).clone()).collect(), start > 0));
        }
        let all: Vec<&Value> = items.iter().filter(|i| keep(i)).collect();
        let has_more = all.len() > self.limit;
        Ok((all.into_iter().take(self.limit).cloned().collect(), has_more))
    }
}

fn list_sessions(sim: &StripeSim, p: &Params<'_>) -> Result<Reply, ApiError> {
    p.only(&[
        "status",
        "created",
        "limit",
        "starting_after",
        "ending_before",
        "payment_intent",
    ])?;
    let paging = Paging::read(p)?;
    let created = RangeFilter::read(p, "created")?;
    let status = p.str("status")?;
    if let Some(s) = status
        && !["open", "complete", "expired"].contains(&s)
    {
        return Err(ApiError::invalid(
            format!("Invalid status: must be one of open, complete, or expired, not {s:?}."),
            "status",
        ));
    }
    let payment_intent = p.str("payment_intent")?;
    let account = sim.lock();
    // Newest first: the reverse of creation order.
    let items: Vec<Value> = account.sessions.iter().rev().map(|s| s.object.clone()).collect();
    let keep = |s: &Value| {
        status.is_none_or(|st| s["status"] == st)
            && payment_intent.is_none_or(|pi| s["payment_intent"] == pi)
            && created.contains(s["created"].as_i64().unwrap_or(0))
    };
    let (data, has_more) = paging.page(&items, keep, "checkout.session")?;
    Ok(Reply::ok(objects::list("/v1/checkout/sessions", data, has_more)))
}

/// `GET /v1/disputes`: newest first, filtered by `charge`, `payment_intent` and `created`.
fn list_disputes(sim: &StripeSim, p: &Params<'_>) -> Result<Reply, ApiError> {
    p.only(&[
        "charge",
        "payment_intent",
        "created",
        "limit",
        "starting_after",
        "ending_before",
        "expand",
    ])?;
    read_expand(p, &[])?;
    let paging = Paging::read(p)?;
    let created = RangeFilter::read(p, "created")?;
    let charge = p.str("charge")?;
    let payment_intent = p.str("payment_intent")?;
    let now = sim.now();
    let account = sim.lock();
    let items: Vec<Value> = account.disputes.iter().rev().map(|d| disputes::view(d, now)).collect();
    let keep = |d: &Value| {
        charge.is_none_or(|c| d["charge"] == c)
            && payment_intent.is_none_or(|pi| d["payment_intent"] == pi)
            && created.contains(d["created"].as_i64().unwrap_or(0))
    };
    let (data, has_more) = paging.page(&items, keep, "dispute")?;
    Ok(Reply::ok(objects::list("/v1/disputes", data, has_more)))
}

fn list_events(sim: &StripeSim, p: &Params<'_>) -> Result<Reply, ApiError> {
    p.only(&[
        "type",
        "types",
        "created",
        "limit",
        "starting_after",
        "ending_before",
        "delivery_success",
    ])?;
    let paging = Paging::read(p)?;
    let created = RangeFilter::read(p, "created")?;
    let single = p.str("type")?;
    let types = p.strings("types")?;
    if single.is_some() && p.has("types") {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: type, types.",
            "types",
        ));
    }
    if types.len() > 20 {
        return Err(ApiError::invalid("types may hold at most 20 event types.", "types"));
    }
    let delivery_success = p.bool("delivery_success")?;
    let account = sim.lock();
    let delivered: std::collections::HashMap<String, (bool, bool)> = account
        .events
        .iter()
        .map(|e| {
            (
                e.event["id"].as_str().unwrap_or_default().to_string(),
                (e.for_endpoint, e.delivered),
            )
        })
        .collect();
    let items: Vec<Value> = account.events.iter().rev().map(|e| e.event.clone()).collect();
    let keep = |e: &Value| {
        let event_type = e["type"].as_str().unwrap_or_default();
        let type_ok = match single {
            Some(pattern) => type_matches(pattern, event_type),
            None => types.is_empty() || types.iter().any(|t| t == event_type),
        };
        let delivery_ok = delivery_success.is_none_or(|wanted| {
            let (for_endpoint, ok) = delivered
                .get(e["id"].as_str().unwrap_or_default())
                .copied()
                .unwrap_or_default();
            // `false` lists events the endpoint should have had but has not acknowledged.
            if wanted { ok } else { for_endpoint && !ok }
        });
        type_ok && delivery_ok && created.contains(e["created"].as_i64().unwrap_or(0))
    };
    let (data, has_more) = paging.page(&items, keep, "event")?;
    Ok(Reply::ok(objects::list("/v1/events", data, has_more)))
}

/// `GET /v1/charges`, newest first, optionally of one payment intent, with
/// `expand[]=data.balance_transaction` as Stripe offers it.
fn list_charges(sim: &StripeSim, p: &Params<'_>) -> Result<Reply, ApiError> {
    p.only(&["payment_intent", "limit", "starting_after", "ending_before", "expand"])?;
    let paging = Paging::read(p)?;
    let expand = read_expand(p, &["data.balance_transaction"])?;
    let payment_intent = p.str("payment_intent")?;
    let account = sim.lock();
    let keep = |c: &Value| payment_intent.is_none_or(|pi| c["payment_intent"] == pi);
    // Only the matching charges are copied: a lookup by payment intent must not cost a copy of
    // every charge of the account (the worker asks once per paid order).
    let items: Vec<Value> = account.charges.iter().rev().filter(|c| keep(c)).cloned().collect();
    let (mut data, has_more) = paging.page(&items, keep, "charge")?;
    if !expand.is_empty() {
        for charge in &mut data {
            if let Some(txn) = charge["balance_transaction"].as_str() {
                charge["balance_transaction"] = account.balance_transaction(txn, sim.now()).unwrap_or(Value::Null);
            }
        }
    }
    Ok(Reply::ok(objects::list("/v1/charges", data, has_more)))
}

/// `type` accepts one `*` wildcard, as in `checkout.session.*`.
fn type_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == event_type,
        Some((prefix, suffix)) => {
            event_type.len() >= prefix.len() + suffix.len()
                && event_type.starts_with(prefix)
                && event_type.ends_with(suffix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({ "id": format!("o_{i}"), "n": i })).collect()
    }

    fn ids(page: &[Value]) -> Vec<&str> {
        page.iter().map(|v| v["id"].as_str().unwrap()).collect()
    }

    fn paging(limit: usize, after: Option<&str>, before: Option<&str>) -> Paging {
        Paging {
            limit,
            starting_after: after.map(str::to_string),
            ending_before: before.map(str::to_string),
        }
    }

    #[test]
    fn cursors_walk_the_list_both_ways() {
        let all = items(5);
        let (page, more) = paging(2, None, None).page(&all, |_| true, "x").unwrap();
        assert_eq!((ids(&page), more), (vec!["o_0", "o_1"], true));
        let (page, more) = paging(2, Some("o_1"), None).page(&all, |_| true, "x").unwrap();
        assert_eq!((ids(&page), more), (vec!["o_2", "o_3"], true));
        let (page, more) = paging(2, Some("o_3"), None).page(&all, |_| true, "x").unwrap();
        assert_eq!((ids(&page), more), (vec!["o_4"], false));
        let (page, more) = paging(2, None, Some("o_4")).page(&all, |_| true, "x").unwrap();
        assert_eq!((ids(&page), more), (vec!["o_2", "o_3"], true));
        let (page, more) = paging(2, None, Some("o_1")).page(&all, |_| true, "x").unwrap();
        assert_eq!((ids(&page), more), (vec!["o_0"], false));
        let odd = |v: &Value| v["n"].as_u64().unwrap() % 2 == 1;
        let (page, more) = paging(10, Some("o_0"), None).page(&all, odd, "x").unwrap();
        assert_eq!((ids(&page), more), (vec!["o_1", "o_3"], false));
        let err = paging(2, Some("o_9"), None).page(&all, |_| true, "event").unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (400, "No such event: 'o_9'"));
    }

    #[test]
    fn api_versions_are_dates_with_an_optional_name() {
        assert!(is_api_version(backroom_stripe::API_VERSION));
        assert!(is_api_version("2020-08-27"));
        for bad in [
            "",
            "2020-8-27",
            "2020-08-27.",
            "2020-08-27.Endive",
            "latest",
            "2020/08/27",
        ] {
            assert!(!is_api_version(bad), "{bad:?}");
        }
    }

    #[test]
    fn type_wildcards_match_like_stripe() {
        assert!(type_matches("checkout.session.*", "checkout.session.completed"));
        assert!(type_matches("charge.refunded", "charge.refunded"));
        assert!(!type_matches("checkout.session.*", "charge.refunded"));
        assert!(type_matches("*", "anything"));
    }
}
