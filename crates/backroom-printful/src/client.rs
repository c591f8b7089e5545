//! The v1 Orders API client.
//!
//! Retries, and why they are safe:
//! - 429 (and Printful's 419 "rate limited warning"): Printful did not carry the request out, so
//!   any method is repeated after `Retry-After` plus a little jitter, up to `max_retries` times,
//!   as long as the total wait stays within `max_backoff`. Then the call fails with
//!   [`PrintfulError::RateLimited`].
//! - 5xx and connection failures: only GETs are repeated (twice at most, within the same bound).
//!   A POST or DELETE that failed this way may have been carried out; the caller resolves it by
//!   reading the order (a lost create by `GET /orders/@{external_id}`).
//! - Timeouts: never repeated here. Every attempt has its own timeout, so a call takes at most
//!   about `(1 + retries) × timeout + max_backoff`.
//!
//! The wait budget is charged with the largest jitter a wait could get, not the jitter it got,
//! so whether a retry fits in the bound never depends on chance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::PrintfulError;
use crate::model::{NewOrder, Order, OrderPage, OrderRef, RateLimit, Shipment, WebhookConfig, kind};
use crate::products::SyncProduct;
use crate::v2;

/// Printful's API origin; v1 paths have no version prefix.
pub const DEFAULT_API_BASE: &str = "https://api.printful.com";

/// GETs answered with a 5xx or lost to a connection failure are tried this many more times.
const SAFE_RETRIES: u32 = 2;

/// The first wait before repeating a GET after a 5xx; it doubles each time.
const SAFE_RETRY_BASE: Duration = Duration::from_millis(250);

/// The wait when a 429 says nothing about when to come back.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How to reach Printful and how patient to be.
#[derive(Clone, Debug)]
pub struct PrintfulSettings {
    /// A private token (store-level, or account-level with `store_id`).
    pub token: SecretString,
    /// Sent as `X-PF-Store-Id`; needed with account-level tokens.
    pub store_id: Option<String>,
    /// `None` for [`DEFAULT_API_BASE`]; the simulator's is `http://127.0.0.1:PORT/sim/printful`.
    pub api_base: Option<String>,
    /// For each attempt, from sending the request to the end of the answer.
    pub timeout: Duration,
    /// Retries after 429, for each call.
    pub max_retries: u32,
    /// The most a call waits between attempts in all.
    pub max_backoff: Duration,
}

impl PrintfulSettings {
    /// Settings for the real API with the defaults backroom uses in Lambda: 10 s per attempt, up
    /// to 5 retries on 429 within 20 s of waiting.
    pub fn new(token: SecretString) -> PrintfulSettings {
        PrintfulSettings {
            token,
            store_id: None,
            api_base: None,
            timeout: Duration::from_secs(10),
            max_retries: 5,
            max_backoff: Duration::from_secs(20),
        }
    }
}

/// A Printful v1 client. Cheap to clone; clones share the connection pool, the call counter and
/// the last rate-limit reading.
#[derive(Clone)]
pub struct PrintfulClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    max_retries: u32,
    max_backoff: Duration,
    calls: AtomicU64,
    rate_limit: Mutex<Option<RateLimit>>,
}

impl std::fmt::Debug for PrintfulClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintfulClient")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

/// The largest page Printful serves, for v1 and v2 lists.
const MAX_PAGE: u32 = 100;

/// A successful answer: v1's `result` (or v2's `data`) and `paging`.
struct Envelope {
    result: Value,
    paging: Value,
}

impl PrintfulClient {
    pub fn new(settings: PrintfulSettings) -> Result<PrintfulClient, PrintfulError> {
        let base_text = settings.api_base.as_deref().unwrap_or(DEFAULT_API_BASE);
        let base = Url::parse(base_text).map_err(|e| PrintfulError::Config(format!("api base {base_text:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(PrintfulError::Config(format!(
                "api base {base_text:?} is not an http(s) URL"
            )));
        }
        let token = settings.token.expose_secret().trim();
        if token.is_empty() {
            return Err(PrintfulError::Config("the token is empty".into()));
        }
        let mut headers = HeaderMap::new();
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| PrintfulError::Config("the token has characters a header cannot carry".into()))?;
        // Marked sensitive so that the header never shows in debug output of the request.
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("backroom/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(store) = settings.store_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let value = HeaderValue::from_str(store)
                .map_err(|_| PrintfulError::Config(format!("store id {store:?} cannot be a header")))?;
            headers.insert(HeaderName::from_static("x-pf-store-id"), value);
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*backroom_tls::client_config()).clone())
            .default_headers(headers)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| PrintfulError::Config(format!("could not build the HTTP client: {}", chain(&e))))?;
        Ok(PrintfulClient {
            inner: Arc::new(Inner {
                http,
                base,
                timeout: settings.timeout,
                max_retries: settings.max_retries,
                max_backoff: settings.max_backoff,
                calls: AtomicU64::new(0),
                rate_limit: Mutex::new(None),
            }),
        })
    }

    /// `POST /orders`: creates a draft. `confirm` is left out rather than sent as `false`, so
    /// that no reading of a `"false"` string can ever submit (and charge) the order.
    #[tracing::instrument(skip_all, fields(external_id = %order.external_id))]
    pub async fn create_order(&self, order: &NewOrder) -> Result<Order, PrintfulError> {
        let body = serde_json::to_vec(&order.to_json()).map_err(|e| PrintfulError::Parse(e.to_string()))?;
        let envelope = self.call(Method::POST, self.url(&["orders"], &[]), Some(body)).await?;
        parse_order(&envelope.result)
    }

    /// `POST /orders/{id}/confirm`: submits a draft for fulfilment (Printful charges the store).
    #[tracing::instrument(skip_all, fields(printful_order_id = id))]
    pub async fn confirm_order(&self, id: i64) -> Result<Order, PrintfulError> {
        let envelope = self
            .call(
                Method::POST,
                self.url(&["orders", &id.to_string(), "confirm"], &[]),
                None,
            )
            .await?;
        parse_order(&envelope.result)
    }

    /// `GET /orders/{id}`; `None` when Printful has no such order.
    #[tracing::instrument(skip_all, fields(printful_order_id = id))]
    pub async fn order(&self, id: i64) -> Result<Option<Order>, PrintfulError> {
        self.get_order(&id.to_string()).await
    }

    /// `GET /orders/@{external_id}`; `None` when Printful has no such order.
    #[tracing::instrument(skip_all, fields(external_id = %external_id))]
    pub async fn order_by_external_id(&self, external_id: &str) -> Result<Option<Order>, PrintfulError> {
        self.get_order(&format!("@{external_id}")).await
    }

    /// `GET /orders?status=&offset=&limit=`, newest first as Printful lists them. `limit` is
    /// brought into Printful's range 1..=100.
    #[tracing::instrument(skip_all, fields(status = status.unwrap_or(""), offset = offset, limit = limit))]
    pub async fn list_orders(&self, status: Option<&str>, offset: u32, limit: u32) -> Result<OrderPage, PrintfulError> {
        let limit = limit.clamp(1, 100);
        let mut query = vec![("offset", offset.to_string()), ("limit", limit.to_string())];
        if let Some(s) = status.map(str::trim).filter(|s| !s.is_empty()) {
            query.insert(0, ("status", s.to_string()));
        }
        let envelope = self.call(Method::GET, self.url(&["orders"], &query), None).await?;
        let Value::Array(list) = &envelope.result else {
            return Err(PrintfulError::Parse(format!(
                "the order list is {}, not an array",
                kind(&envelope.result)
            )));
        };
        let orders = list.iter().map(parse_order).collect::<Result<Vec<_>, _>>()?;
        let count = u32::try_from(orders.len()).unwrap_or(u32::MAX);
        let offset = crate::lenient::uint(&envelope.paging["offset"]).unwrap_or(offset);
        let total = crate::lenient::uint(&envelope.paging["total"]).unwrap_or_else(|| offset.saturating_add(count));
        Ok(OrderPage { orders, total, offset })
    }

    /// `DELETE /orders/{id}`: cancels a draft or pending order (v1 cancels; it does not delete).
    #[tracing::instrument(skip_all, fields(printful_order_id = id))]
    pub async fn cancel_order(&self, id: i64) -> Result<Order, PrintfulError> {
        let envelope = self
            .call(Method::DELETE, self.url(&["orders", &id.to_string()], &[]), None)
            .await?;
        parse_order(&envelope.result)
    }

    /// The order's shipments. v1 has no shipments endpoint; they are part of the order, so this
    /// is one `GET /orders/{id}`, and an unknown order is an `Api` 404 error.
    #[tracing::instrument(skip_all, fields(printful_order_id = id))]
    pub async fn shipments(&self, id: i64) -> Result<Vec<Shipment>, PrintfulError> {
        let envelope = self
            .call(Method::GET, self.url(&["orders", &id.to_string()], &[]), None)
            .await?;
        Ok(parse_order(&envelope.result)?.shipments)
    }

    /// `GET /v2/orders/{order}/shipments`, every page: each package of the order with its
    /// `delivery_status` and `delivered_at`, which v1 does not report. Pages are asked for 100
    /// at a time and read until `paging.total` is reached, whatever page size Printful chose to
    /// answer with. An unknown order is an `Api` 404 error.
    #[tracing::instrument(skip_all, fields(order = %order))]
    pub async fn order_shipments(&self, order: &OrderRef) -> Result<Vec<v2::Shipment>, PrintfulError> {
        let reference = order.to_string();
        let mut shipments = Vec::new();
        let mut offset: u32 = 0;
        loop {
            let query = [("limit", MAX_PAGE.to_string()), ("offset", offset.to_string())];
            let url = self.url(&["v2", "orders", &reference, "shipments"], &query);
            let envelope = self.call(Method::GET, url, None).await?;
            let list = page_items(&envelope, "the shipment list")?;
            for s in list {
                shipments.push(v2::Shipment::from_json(s).map_err(PrintfulError::Parse)?);
            }
            if !next_page(&envelope, list.len(), &mut offset) {
                return Ok(shipments);
            }
        }
    }

    /// The store's products with all their variants: every page of `GET /store/products`,
    /// then `GET /store/products/{id}` for each. A product deleted between the two reads is
    /// left out; a variant whose price is not an exact amount in its currency fails the whole
    /// read with a `Parse` error naming it, since importing it would sell at a wrong price.
    #[tracing::instrument(skip_all)]
    pub async fn sync_products(&self) -> Result<Vec<SyncProduct>, PrintfulError> {
        let mut ids = Vec::new();
        let mut offset: u32 = 0;
        loop {
            let query = [("offset", offset.to_string()), ("limit", MAX_PAGE.to_string())];
            let envelope = self
                .call(Method::GET, self.url(&["store", "products"], &query), None)
                .await?;
            let list = page_items(&envelope, "the product list")?;
            for p in list {
                let id = crate::lenient::int(&p["id"])
                    .ok_or_else(|| PrintfulError::Parse(format!("a sync product has no usable id: {}", p["id"])))?;
                ids.push(id);
            }
            if !next_page(&envelope, list.len(), &mut offset) {
                break;
            }
        }
        let mut products = Vec::with_capacity(ids.len());
        for id in ids {
            let url = self.url(&["store", "products", &id.to_string()], &[]);
            match self.call(Method::GET, url, None).await {
                Ok(envelope) => products.push(SyncProduct::from_json(&envelope.result).map_err(PrintfulError::Parse)?),
                Err(e) if e.is_not_found() => {
                    tracing::info!(
                        sync_product_id = id,
                        "a sync product was deleted while the products were read"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(products)
    }

    /// `GET /webhooks`: where the store's v1 webhooks go.
    #[tracing::instrument(skip_all)]
    pub async fn webhook_config(&self) -> Result<WebhookConfig, PrintfulError> {
        let envelope = self.call(Method::GET, self.url(&["webhooks"], &[]), None).await?;
        if !envelope.result.is_object() {
            return Err(PrintfulError::Parse(format!(
                "the webhook configuration is {}, not an object",
                kind(&envelope.result)
            )));
        }
        Ok(WebhookConfig::from_json(&envelope.result))
    }

    /// `POST /webhooks {url, types}`: sends the store's v1 webhooks of `types` to `url`,
    /// replacing the whole previous configuration (a store has one). The URL holds our secret
    /// path token, so it is never logged.
    #[tracing::instrument(skip_all)]
    pub async fn set_webhook_config(&self, url: &str, types: &[&str]) -> Result<WebhookConfig, PrintfulError> {
        let body = serde_json::to_vec(&serde_json::json!({ "url": url, "types": types }))
            .map_err(|e| PrintfulError::Parse(e.to_string()))?;
        let envelope = self
            .call(Method::POST, self.url(&["webhooks"], &[]), Some(body))
            .await?;
        if !envelope.result.is_object() {
            return Err(PrintfulError::Parse(format!(
                "the webhook configuration is {}, not an object",
                kind(&envelope.result)
            )));
        }
        Ok(WebhookConfig::from_json(&envelope.result))
    }

    /// HTTP requests made so far by this client and its clones, retries included.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The last `X-Ratelimit-*` headers Printful sent, if any answer carried them.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        *self.inner.rate_limit.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn get_order(&self, reference: &str) -> Result<Option<Order>, PrintfulError> {
        match self
            .call(Method::GET, self.url(&["orders", reference], &[]), None)
            .await
        {
            Ok(envelope) => parse_order(&envelope.result).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The base URL with path segments appended (each percent-encoded as needed) and a query.
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one call, with the retries the module documentation describes.
    async fn call(&self, method: Method, url: Url, body: Option<Vec<u8>>) -> Result<Envelope, PrintfulError> {
        let safe = method == Method::GET;
        let mut budget = Budget {
            limit: self.inner.max_backoff,
            charged: Duration::ZERO,
        };
        let mut rate_retries = 0;
        let mut safe_retries = 0;
        loop {
            let attempt = self.attempt(&method, &url, body.as_deref()).await;
            let retry_wait = match &attempt {
                Ok((status, headers, _)) if *status == 429 || *status == 419 => {
                    let asked = retry_after(headers);
                    if rate_retries >= self.inner.max_retries {
                        tracing::warn!(%method, path = url.path(), rate_retries, "Printful is still rate limiting; giving up");
                        return Err(PrintfulError::RateLimited { retry_after: asked });
                    }
                    let Some(wait) = budget.take(asked) else {
                        tracing::warn!(%method, path = url.path(), ?asked, "waiting for Printful's rate limit would pass the back-off bound");
                        return Err(PrintfulError::RateLimited { retry_after: asked });
                    };
                    rate_retries += 1;
                    Some(wait)
                }
                Ok((status, _, _)) if *status >= 500 && safe && safe_retries < SAFE_RETRIES => {
                    budget.take(SAFE_RETRY_BASE * 2u32.pow(safe_retries))
                }
                Err(PrintfulError::Transport(_)) if safe && safe_retries < SAFE_RETRIES => {
                    budget.take(SAFE_RETRY_BASE * 2u32.pow(safe_retries))
                }
                _ => None,
            };
            match (retry_wait, attempt) {
                (Some(wait), Ok((status, _, _))) => {
                    if status < 500 {
                        tracing::info!(%method, path = url.path(), status, ?wait, "rate limited by Printful; waiting");
                    } else {
                        safe_retries += 1;
                        tracing::warn!(%method, path = url.path(), status, ?wait, "Printful failed a read; trying again");
                    }
                    tokio::time::sleep(wait).await;
                }
                (Some(wait), Err(e)) => {
                    safe_retries += 1;
                    tracing::warn!(%method, path = url.path(), error = %e, ?wait, "could not reach Printful for a read; trying again");
                    tokio::time::sleep(wait).await;
                }
                (None, Ok((status, _, bytes))) => return interpret(status, &bytes),
                (None, Err(e)) => return Err(e),
            }
        }
    }

    /// One HTTP exchange, bounded by the timeout from sending to the last byte of the answer.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<(u16, HeaderMap, Vec<u8>), PrintfulError> {
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let mut request = self.inner.http.request(method.clone(), url.clone());
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.to_vec());
        }
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, bytes.to_vec()))
        };
        let outcome = match tokio::time::timeout(self.inner.timeout, exchange).await {
            Err(_) => Err(PrintfulError::Timeout),
            Ok(Err(e)) if e.is_timeout() => Err(PrintfulError::Timeout),
            Ok(Err(e)) => Err(PrintfulError::Transport(chain(&e))),
            Ok(Ok(answer)) => Ok(answer),
        };
        match &outcome {
            Ok((status, headers, _)) => {
                self.note_rate_limit(headers);
                tracing::debug!(%method, path = url.path(), status, "Printful answered");
            }
            Err(e) => tracing::debug!(%method, path = url.path(), error = %e, "Printful call failed"),
        }
        outcome
    }

    fn note_rate_limit(&self, headers: &HeaderMap) {
        let read = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let limit = read("x-ratelimit-limit").and_then(|v| v.parse().ok());
        let remaining = read("x-ratelimit-remaining").and_then(|v| v.parse().ok());
        let reset_secs = read("x-ratelimit-reset")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite());
        if limit.is_none() && remaining.is_none() && reset_secs.is_none() {
            return;
        }
        *self.inner.rate_limit.lock().unwrap_or_else(|p| p.into_inner()) = Some(RateLimit {
            limit,
            remaining,
            reset_secs,
        });
    }
}

/// The waiting one call may still do.
struct Budget {
    limit: Duration,
    charged: Duration,
}

impl Budget {
    /// The wait to sleep before the next attempt (`base` plus jitter of up to a tenth of it),
    /// or `None` when even the longest such wait would pass the limit.
    fn take(&mut self, base: Duration) -> Option<Duration> {
        let max_jitter = base / 10;
        let worst = base + max_jitter;
        if self.charged + worst > self.limit {
            return None;
        }
        self.charged += worst;
        let jitter_ms = u64::try_from(max_jitter.as_millis()).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        };
        Some(base + Duration::from_millis(jitter))
    }
}

/// How long a 429 asks us to wait: `Retry-After` in seconds (fractions accepted), else
/// `X-Ratelimit-Reset`, else one second.
fn retry_after(headers: &HeaderMap) -> Duration {
    let seconds = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
            .map(Duration::from_secs_f64)
    };
    seconds("retry-after")
        .or_else(|| seconds("x-ratelimit-reset"))
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

/// A final answer: a 2xx envelope, or the error it carries.
fn interpret(status: u16, body: &[u8]) -> Result<Envelope, PrintfulError> {
    if !(200..300).contains(&status) {
        return Err(PrintfulError::from_response(status, body));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| PrintfulError::Parse(format!("HTTP {status} with a body that is not JSON: {e}")))?;
    let Value::Object(mut map) = v else {
        return Err(PrintfulError::Parse(format!(
            "HTTP {status} with {}, not an object",
            kind(&v)
        )));
    };
    // v1 answers carry `result`; v2's `data` is accepted too, should a route ever answer in it.
    let result = map
        .remove("result")
        .or_else(|| map.remove("data"))
        .ok_or_else(|| PrintfulError::Parse(format!("HTTP {status} without a `result`")))?;
    let paging = map.remove("paging").unwrap_or(Value::Null);
    Ok(Envelope { result, paging })
}

/// A page's items: the envelope's array.
fn page_items<'a>(envelope: &'a Envelope, what: &str) -> Result<&'a Vec<Value>, PrintfulError> {
    match &envelope.result {
        Value::Array(list) => Ok(list),
        other => Err(PrintfulError::Parse(format!("{what} is {}, not an array", kind(other)))),
    }
}

/// Moves `offset` past a page of `got` items and says whether another page is due:
/// while `paging.total` is not reached, and never after an empty page (so that a total that
/// overstates cannot loop). Without a total, a full page of [`MAX_PAGE`] means there may be more.
fn next_page(envelope: &Envelope, got: usize, offset: &mut u32) -> bool {
    let got = u32::try_from(got).unwrap_or(u32::MAX);
    if got == 0 {
        return false;
    }
    let start = crate::lenient::uint(&envelope.paging["offset"]).unwrap_or(*offset);
    *offset = start.saturating_add(got);
    match crate::lenient::uint(&envelope.paging["total"]) {
        Some(total) => *offset < total,
        None => got >= MAX_PAGE,
    }
}

fn parse_order(v: &Value) -> Result<Order, PrintfulError> {
    Order::from_json(v).map_err(PrintfulError::Parse)
}

/// An error with its causes, which is where reqwest keeps the useful part ("connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_charges_the_worst_case_so_the_count_is_certain() {
        let mut budget = Budget {
            limit: Duration::from_millis(350),
            charged: Duration::ZERO,
        };
        // Each wait of 100 ms is charged 110 ms: three fit in 350 ms, a fourth does not.
        for _ in 0..3 {
            let wait = budget.take(Duration::from_millis(100)).expect("fits");
            assert!(
                wait >= Duration::from_millis(100) && wait <= Duration::from_millis(110),
                "{wait:?}"
            );
        }
        assert_eq!(budget.take(Duration::from_millis(100)), None);
        // A zero wait always fits.
        assert_eq!(budget.take(Duration::ZERO), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_falls_back_to_the_reset_header_then_a_second() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), DEFAULT_RETRY_AFTER);
        h.insert("x-ratelimit-reset", HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&h), Duration::from_millis(500));
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Duration::from_secs(2));
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Duration::from_millis(500));
    }

    #[test]
    fn settings_are_checked_when_the_client_is_made() {
        let bad_base = PrintfulSettings {
            api_base: Some("ftp://example.com".into()),
            ..PrintfulSettings::new("t".into())
        };
        assert!(matches!(PrintfulClient::new(bad_base), Err(PrintfulError::Config(_))));
        let empty_token = PrintfulSettings::new("  ".into());
        assert!(matches!(
            PrintfulClient::new(empty_token),
            Err(PrintfulError::Config(_))
        ));
        let client = PrintfulClient::new(PrintfulSettings {
            api_base: Some("http://127.0.0.1:9/sim/printful/".into()),
            ..PrintfulSettings::new("t".into())
        })
        .expect("valid settings");
        assert_eq!(
            client.url(&["orders", "@ab_c-1"], &[("limit", "5".into())]).as_str(),
            "http://127.0.0.1:9/sim/printful/orders/@ab_c-1?limit=5"
        );
        // Characters Printful never allows in an external id are encoded, not sent raw.
        assert_eq!(
            client.url(&["orders", "@a/b c"], &[]).path(),
            "/sim/printful/orders/@a%2Fb%20c"
        );
    }
}
