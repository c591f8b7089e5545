//! A stateful, in-memory Printful: the v1 Orders, Products and Webhook API routes backroom uses,
//! v2's order shipments, order progress driven by the test or the developer (confirm,
//! production, shipment, delivery or return, hold, failure, cancel), v1 webhooks with optional v2 signatures and Printful's retry behaviour, and fault
//! injection (429 storms, 5xx, a create whose answer is lost). `backroom dev` mounts
//! [`PrintfulSim::router`] under `/sim/printful`; tests start it alone with
//! [`PrintfulSim::serve_loopback`].
//!
//! API routes (Bearer token required; any non-empty token is accepted), as in Printful's v1
//! OpenAPI document, in the `{code, result, paging}` envelope, each answer with
//! `X-Ratelimit-Limit/Remaining/Reset` (120 requests per fixed 60-second window, as v1 has):
//! - `POST /orders[?confirm=true&update_existing=true]`, `GET /orders?status&offset&limit`
//! - `GET /orders/{id}`, `DELETE /orders/{id}` (cancel), `POST /orders/{id}/confirm`, where
//!   `{id}` is the Printful id or `@external_id`
//! - `GET /webhooks`, `POST /webhooks` (`{url, types}`), `DELETE /webhooks`
//! - `GET /store/products?offset&limit` (v1 paging: 20 by default, at most 100) and
//!   `GET /store/products/{id}` (`{id}` or `@external_id`): `SyncProduct`s and
//!   `{sync_product, sync_variants}` from [`PrintfulSimConfig::sync_products`], each variant
//!   with v1's fields plus `size`, `color` and `availability_status`
//! - v2: `GET /v2/orders/{id}/shipments?limit&offset` (`limit` 1 to 100, 20 by default):
//!   `{data, paging, _links}` of v2 `Shipment`s, oldest first, with `delivery_status`,
//!   `delivered_at`, `shipped_at` (RFC 3339), `tracking_number`, `tracking_url`, `carrier`,
//!   `shipment_items`, `tracking_events` and `estimated_delivery`
//!
//! Control routes (no token, not counted as API calls):
//! - `POST /orders/{id}/advance[?partial=true]`: pending → inprocess → fulfilled (with a
//!   shipment; with `partial=true` one line per shipment, `partial` until the last) →
//!   delivered (every shipment still on its way gets `delivery_status: delivered`)
//! - `POST /orders/{id}/shipments/delivery` `{"delivery_status": "return_to_sender",
//!   "shipment_id": …, "reason": "…"}`: one shipment's delivery status (the latest when no id
//!   is given), one of v2's values; a return sends `package_returned`
//! - `POST /control/sync_variants/{id}` `{"availability_status": "out_of_stock"}`,
//!   `DELETE /control/sync_variants/{id}` (the variant leaves its product)
//! - `POST /control/paging` `{"max_limit": 2}`: the largest page the products and v2 shipment
//!   lists answer with, so that tests can make clients walk pages
//! - `POST /orders/{id}/status` `{"status": "onhold", "reason": "…"}`
//! - `POST /control/orders` `{"external_id": "…"}` or `{}`: an order nobody here placed. The
//!   real `POST /orders` stays what Printful has (authorized, with recipient and items), so the
//!   two can never be confused.
//! - `POST /control/faults` `{"fail_next": 3, "status": 429}`, `{"drop_next_create": true}` or
//!   `{"fail_next_confirm": 1}`;
//!   from code, [`PrintfulSim::set_random_faults`] also draws faults at random from a seed
//! - `POST /control/webhooks` `{"deliver": false}` (and optionally `"url"`)
//! - `POST /control/costs` `{"currency": "EUR", "default_item": 1250, "variants": {"4711": 900},
//!   "shipping": 499, "vat_bps": 1900}` (every field optional, amounts in minor units): what
//!   later orders cost; answers with the whole table. From code, [`PrintfulSim::set_costs`], or
//!   [`PrintfulSimConfig::costs`] from the start.
//!
//! Money in orders, as v1 shows it (decimal strings with two decimals):
//! - `costs` {currency, subtotal, discount, shipping, digitization, additional_fee,
//!   fulfillment_fee, retail_delivery_fee, tax, vat, total}: what Printful charges the store.
//!   `subtotal` is the sum of each item's unit cost ([`PrintfulCosts::variants`] by
//!   `sync_variant_id`, else [`PrintfulCosts::default_item`]) times its quantity, also shown as
//!   the item's `price`; `shipping` is [`PrintfulCosts::shipping`]; `vat` is
//!   [`PrintfulCosts::vat_bps`] of subtotal plus shipping; `total` = subtotal - discount +
//!   shipping + tax + vat; the other parts are `0.00`.
//! - `retail_costs` {currency, subtotal, discount, shipping, tax, vat, total}: what the create
//!   sent (decimal strings or numbers, at least 0, written back with two decimals; `null` when
//!   not sent); `vat` and `total` are read-only, as the OpenAPI marks them: `vat` is `null` and
//!   `total` is subtotal - discount + shipping + tax when a subtotal was sent, else `null`.
//! - `GET /tracking/{number}`: the page shipments' `tracking_url` points to.
//!
//! Fidelity is checked by `tests/printful.rs`, which drives every route through
//! backroom-printful's client and verifies every webhook with its verifier.

mod api;
mod deliver;
mod products;
mod state;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use serde_json::Value;
use tokio::sync::watch;

pub use products::{SyncProductSpec, SyncVariantSpec, demo_sync_products, sync_products_from_catalog};
use state::{OrderRef, State};

/// How the simulator behaves. [`Default`] suits `backroom dev`.
#[derive(Clone, Debug)]
pub struct PrintfulSimConfig {
    /// The origin browsers use, for example `http://127.0.0.1:3000`; tracking URLs are
    /// `{public_base}/sim/printful/tracking/{number}`.
    pub public_base: String,
    /// Where webhooks go; `None` until one is set (events are still recorded).
    pub webhook_url: Option<String>,
    /// A hex secret, as Printful's v2 `secret_key`. When set, every webhook carries
    /// `x-pf-webhook-signature` (hex HMAC-SHA256 of the raw body, keyed with the decoded secret)
    /// and `x-pf-webhook-public-key`; when not, webhooks are unsigned, as v1's are.
    pub webhook_secret_hex: Option<String>,
    /// The store id in orders (`store`) and webhooks.
    pub store_id: i64,
    /// How long a dropped create's answer hangs (see [`PrintfulSim::drop_next_create`]); longer
    /// than the client's timeout in tests.
    pub drop_delay: Duration,
    /// What Printful charges the store, for orders' `costs`.
    pub costs: PrintfulCosts,
    /// The store's products, for `GET /store/products`; by default the demo catalog's
    /// ([`demo_sync_products`]). [`sync_products_from_catalog`] makes them for another catalog.
    pub sync_products: Vec<SyncProductSpec>,
}

/// What Printful charges the store: per unit of each item and a flat shipping price per order,
/// in minor units of `currency`, and VAT on the lot. An order's `costs` are worked out when it
/// is created (or updated), so a change here applies to later orders only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintfulCosts {
    /// The currency of `costs`, upper case (Printful bills in the store's currency).
    pub currency: String,
    /// Per unit of an item whose `sync_variant_id` is not in `variants` (or that has none).
    pub default_item: i64,
    /// Per unit, by `sync_variant_id`.
    pub variants: BTreeMap<i64, i64>,
    /// Per order, whatever the items.
    pub shipping: i64,
    /// VAT in basis points on `subtotal - discount + shipping`, rounded half up; 0 by default.
    pub vat_bps: u32,
}

impl Default for PrintfulCosts {
    /// 12.50 USD per item and 4.99 USD shipping per order, no VAT.
    fn default() -> Self {
        PrintfulCosts {
            currency: "USD".into(),
            default_item: 1250,
            variants: BTreeMap::new(),
            shipping: 499,
            vat_bps: 0,
        }
    }
}

impl Default for PrintfulSimConfig {
    fn default() -> Self {
        PrintfulSimConfig {
            public_base: "http://127.0.0.1:3000".into(),
            webhook_url: None,
            webhook_secret_hex: None,
            store_id: 10,
            drop_delay: Duration::from_secs(30),
            costs: PrintfulCosts::default(),
            sync_products: demo_sync_products(),
        }
    }
}

/// Faults drawn at random for API calls, reproducibly: whether the n-th call with a given key
/// fails depends only on the seed, the key and n, so concurrent clients whose calls interleave
/// differently from run to run still meet the same faults. The key is the method, path and
/// query; for a create it is the order's external id, so each order's n-th create attempt
/// meets the same fate. The three shares are drawn from one number, so they add up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RandomFaults {
    pub seed: u64,
    /// Share of calls answered 429 with `Retry-After: 1` and nothing carried out.
    pub rate_limited: f64,
    /// Share of calls answered 500 with nothing carried out.
    pub server_error: f64,
    /// Share of creates carried out (the order exists, its webhooks go out) whose answer then
    /// hangs for `drop_delay`, as when a connection breaks after Printful committed.
    pub dropped_create: f64,
}

/// Faults injected so far, by [`PrintfulSim::fail_next`], [`PrintfulSim::drop_next_create`]
/// and [`PrintfulSim::set_random_faults`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub rate_limited: u64,
    pub server_errors: u64,
    /// Creates carried out whose answer was lost.
    pub dropped_answers: u64,
}

/// One attempt to deliver one webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub event_type: String,
    pub order_id: Option<i64>,
    pub external_id: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The payload's `retries` field: `attempt - 1`.
    pub retries: u32,
    /// The receiver's HTTP status; `None` when no answer came.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// The exact bytes sent (as text): what the signature covers.
    pub body: String,
    /// The `x-pf-webhook-signature` header, when a secret is configured.
    pub signature: Option<String>,
}

/// One API request as received, for tests that check what a client sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Relative to `/sim/printful`, for example `/orders/@abc`.
    pub path: String,
    pub query: Option<String>,
    pub store_id: Option<String>,
}

/// Why a control call was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("no Printful order {0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidRequest(String),
}

/// The simulator. Cheap to clone: clones share one store.
#[derive(Clone)]
pub struct PrintfulSim {
    inner: Arc<Inner>,
}

struct Inner {
    config: PrintfulSimConfig,
    state: Mutex<State>,
    /// Webhook batches still being delivered.
    in_flight: watch::Sender<usize>,
    http: OnceLock<crate::sender::HttpClient>,
}

impl std::fmt::Debug for PrintfulSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintfulSim")
            .field("public_base", &self.inner.config.public_base)
            .finish_non_exhaustive()
    }
}

impl PrintfulSim {
    pub fn new(config: PrintfulSimConfig) -> PrintfulSim {
        let mut state = State::new(config.store_id, config.webhook_url.clone());
        state.costs = config.costs.clone();
        state.sync_products = config.sync_products.clone();
        PrintfulSim {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
                in_flight: watch::Sender::new(0),
                http: OnceLock::new(),
            }),
        }
    }

    /// The routes, without the `/sim/printful` prefix: nest this under `"/sim/printful"`.
    pub fn router(&self) -> Router {
        api::router(self.clone())
    }

    /// Starts a simulator alone on `127.0.0.1` at a free port, with `public_base` set to that
    /// origin, and returns it with its API base (`http://127.0.0.1:PORT/sim/printful`) for
    /// `PrintfulSettings::api_base`.
    ///
    /// # Panics
    /// When no loopback port can be bound, which leaves a test nothing to do.
    pub async fn serve_loopback(mut config: PrintfulSimConfig) -> (PrintfulSim, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the Printful simulator could not bind a port on 127.0.0.1");
        let addr = listener.local_addr().expect("a bound socket has an address");
        config.public_base = format!("http://{addr}");
        let sim = PrintfulSim::new(config);
        let app = Router::new().nest("/sim/printful", sim.router());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the Printful simulator stopped serving");
            }
        });
        (sim, format!("http://{addr}/sim/printful"))
    }

    /// What orders created from now on cost (see [`PrintfulCosts`]).
    pub fn set_costs(&self, costs: PrintfulCosts) {
        self.lock().costs = costs;
    }

    pub fn set_webhook_url(&self, url: Option<String>) {
        self.lock().webhook.url = url;
    }

    /// Moves an order one step through production: `pending` → `inprocess` (`order_updated`),
    /// then `inprocess` (or `partial`) → `fulfilled` with one shipment of everything not yet
    /// shipped (`package_shipped`, `order_updated`), then, on a `fulfilled` order, the carrier
    /// delivers every shipment still on its way (v2 `delivery_status` `delivered` with
    /// `delivered_at`; the v1 order does not change and no webhook is sent, as v1 has no event
    /// for it). Refused once nothing is left to do. Returns the order as the API shows it.
    pub async fn advance(&self, external_id: &str) -> Result<Value, SimError> {
        self.advance_ref(&OrderRef::External(external_id.to_string()), false)
    }

    /// Like [`advance`](PrintfulSim::advance), except that an order in production ships only
    /// its first line with units left, and stays `partial` while other lines wait: one
    /// shipment per call.
    pub async fn advance_partly(&self, external_id: &str) -> Result<Value, SimError> {
        self.advance_ref(&OrderRef::External(external_id.to_string()), true)
    }

    /// The carrier reports one shipment's `delivery_status` (the order's latest shipment when
    /// `shipment_id` is `None`): one of v2's values (`delivered`, `return_to_sender`,
    /// `failure`, `in_transit`, …; anything else is refused). `delivered` sets `delivered_at`;
    /// turning to `return_to_sender` sends v1's `package_returned` with the shipment and
    /// `reason`. Returns the shipment as v2 shows it.
    pub async fn set_delivery_status(
        &self,
        external_id: &str,
        shipment_id: Option<i64>,
        status: &str,
        reason: Option<&str>,
    ) -> Result<Value, SimError> {
        self.set_delivery_ref(
            &OrderRef::External(external_id.to_string()),
            shipment_id,
            status,
            reason,
        )
    }

    /// The store's products as they are now.
    pub fn sync_products(&self) -> Vec<SyncProductSpec> {
        self.lock().sync_products.clone()
    }

    /// Takes a sync variant out of its product, as deleting it in the dashboard does.
    pub fn remove_sync_variant(&self, id: i64) -> Result<(), SimError> {
        let mut st = self.lock();
        for product in &mut st.sync_products {
            if let Some(at) = product.variants.iter().position(|v| v.id == id) {
                product.variants.remove(at);
                return Ok(());
            }
        }
        Err(SimError::NotFound(format!("sync variant {id}")))
    }

    /// Sets a sync variant's `availability_status` (for example `out_of_stock`, or back to
    /// `active`): lower-case letters and `_`, including values Printful does not have yet.
    pub fn set_sync_variant_availability(&self, id: i64, status: &str) -> Result<(), SimError> {
        if status.is_empty() || !status.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(SimError::InvalidRequest(format!(
                "{status:?} is not an availability_status (lower-case letters and _)"
            )));
        }
        let mut st = self.lock();
        let variant = st
            .sync_products
            .iter_mut()
            .flat_map(|p| p.variants.iter_mut())
            .find(|v| v.id == id)
            .ok_or_else(|| SimError::NotFound(format!("sync variant {id}")))?;
        variant.availability_status = status.to_string();
        Ok(())
    }

    /// The largest page `GET /v2/orders/{id}/shipments` and `GET /store/products` answer with,
    /// whatever `limit` asks for (Printful's, and the default, is 100). Tests lower it to make
    /// a client walk several pages.
    pub fn set_max_page(&self, n: usize) {
        self.lock().max_page = n.clamp(1, state::MAX_PAGE);
    }

    /// Sets an order's status as Printful's staff or systems would, with the webhooks that go
    /// with it: `onhold` → `order_put_hold`, `failed` → `order_failed`, `canceled` →
    /// `order_canceled`, leaving `onhold` → `order_remove_hold`, and `order_updated` for every
    /// change. Any lower-case status is accepted, including ones Printful does not have yet,
    /// so that clients can be tested against them. Shipments are made only by [`advance`].
    ///
    /// [`advance`]: PrintfulSim::advance
    pub async fn set_status(&self, external_id: &str, status: &str, reason: Option<&str>) -> Result<(), SimError> {
        self.set_status_ref(&OrderRef::External(external_id.to_string()), status, reason)
            .map(|_| ())
    }

    /// A pending order that backroom did not place (as if made in the Printful dashboard or
    /// with a stolen token), with `order_created` sent. Returns its Printful id.
    ///
    /// # Panics
    /// When `external_id` is malformed or already in use, a mistake in the calling test.
    pub fn create_foreign_order(&self, external_id: Option<&str>) -> i64 {
        match self.foreign_order(external_id) {
            Ok(order) => order["id"].as_i64().expect("orders have ids"),
            Err(e) => panic!("could not create a foreign order: {e}"),
        }
    }

    /// The next `n` API calls answer `status`: 429 with `Retry-After: 1` and exhausted
    /// `X-Ratelimit-*` headers, or any other status with a Printful error body. Nothing they
    /// ask for is carried out.
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut st = self.lock();
        st.faults.fail_next = n;
        st.faults.fail_status = status;
    }

    /// The next create is carried out (the order exists, its webhooks go out), and then its
    /// answer hangs for `drop_delay`: the lost-response case a client must resolve by looking
    /// the order up by its external id.
    pub fn drop_next_create(&self) {
        self.lock().faults.drop_next_create = true;
    }

    /// The next `n` confirms (`POST /orders/{id}/confirm`) answer 500 and leave the draft a
    /// draft: the case of a create that worked and a confirm that did not. Other calls pass.
    pub fn fail_next_confirms(&self, n: u32) {
        self.lock().faults.fail_next_confirms = n;
    }

    /// Draws faults at random for every later API call (`None` stops them). Faults armed with
    /// [`fail_next`](PrintfulSim::fail_next) or [`drop_next_create`](PrintfulSim::drop_next_create)
    /// come first.
    pub fn set_random_faults(&self, faults: Option<RandomFaults>) {
        let mut st = self.lock();
        st.faults.random = faults;
        st.faults.seen.clear();
    }

    /// The faults injected so far.
    pub fn faults_injected(&self) -> FaultCounts {
        self.lock().faults.injected
    }

    /// Requests allowed per 60-second window before the simulator answers 429 with
    /// `Retry-After` set to the rest of the window. Printful's v1 limit, and the default, is
    /// 120; a long test suite sharing one simulator may want more.
    pub fn set_rate_limit(&self, per_minute: u32) {
        self.lock().window.limit = per_minute;
    }

    /// `false`: orders still change, but their webhooks are recorded and not sent (the
    /// lost-webhook case, for catch-up).
    pub fn set_webhook_delivery(&self, deliver: bool) {
        self.lock().webhook.deliver = deliver;
    }

    /// Every order as the API shows it, oldest first.
    pub fn orders(&self) -> Vec<Value> {
        self.lock().orders_json()
    }

    /// API requests received so far, including refused ones; control routes are not counted.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// Every API request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Every webhook event made so far (with `retries: 0`), including those not delivered.
    pub fn events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    /// Every delivery attempt so far, in the order they finished.
    pub fn deliveries(&self) -> Vec<WebhookDelivery> {
        self.lock().deliveries.clone()
    }

    /// Waits until every webhook started so far has been delivered or has used up its attempts.
    pub async fn settle(&self) {
        let mut rx = self.inner.in_flight.subscribe();
        // The sender lives in `inner`, which `self` keeps alive, so this cannot fail.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    fn advance_ref(&self, order: &OrderRef, one_line: bool) -> Result<Value, SimError> {
        let public_base = self.inner.config.public_base.clone();
        let (json, events) = self.lock().advance(order, now(), &public_base, one_line)?;
        self.send(events);
        Ok(json)
    }

    fn set_delivery_ref(
        &self,
        order: &OrderRef,
        shipment_id: Option<i64>,
        status: &str,
        reason: Option<&str>,
    ) -> Result<Value, SimError> {
        let public_base = self.inner.config.public_base.clone();
        let (json, events) = self
            .lock()
            .set_delivery(order, shipment_id, status, reason, now(), &public_base)?;
        self.send(events);
        Ok(json)
    }

    fn set_status_ref(&self, order: &OrderRef, status: &str, reason: Option<&str>) -> Result<Value, SimError> {
        let (json, events) = self.lock().set_status(order, status, reason, now())?;
        self.send(events);
        Ok(json)
    }

    fn foreign_order(&self, external_id: Option<&str>) -> Result<Value, SimError> {
        let (json, events) = self.lock().create_foreign(external_id, now())?;
        self.send(events);
        Ok(json)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as consistent as the operation got;
        // the simulator keeps serving rather than failing every later call.
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records the events of one change and, when delivery is on and a URL is set, sends those
    /// of the subscribed types in order on a spawned task.
    fn send(&self, events: Vec<Value>) {
        if events.is_empty() {
            return;
        }
        let (url, subscribed) = {
            let mut st = self.lock();
            st.events.extend(events.iter().cloned());
            let subscribed: Vec<Value> = events
                .into_iter()
                .filter(|e| st.webhook.types.iter().any(|t| e["type"] == t.as_str()))
                .collect();
            let url = if st.webhook.deliver {
                st.webhook.url.clone()
            } else {
                None
            };
            (url, subscribed)
        };
        if let Some(url) = url
            && !subscribed.is_empty()
        {
            deliver::spawn(self, url, subscribed);
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl crate::sender::Delivers for PrintfulSim {
    fn in_flight(&self) -> &watch::Sender<usize> {
        &self.inner.in_flight
    }
}
