//! The simulated store: orders, their transitions and the webhook events each transition makes,
//! as pure functions of the state and the time. No I/O here; `api.rs` and `mod.rs` serve and
//! deliver what these functions return.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use backroom_core::PrintfulEventKind;
use serde_json::{Map, Value, json};

use super::{FaultCounts, PrintfulCosts, RandomFaults, RecordedRequest, SimError, SyncProductSpec, WebhookDelivery};

/// v1's rate limit: 120 requests in a fixed window that refills every minute.
pub(crate) const RATE_LIMIT: u32 = 120;
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Printful's largest page, for v1 and v2 lists.
pub(crate) const MAX_PAGE: usize = 100;

/// v2's `delivery_status` values, as the OpenAPI document lists them.
pub(crate) const DELIVERY_STATUSES: [&str; 9] = [
    "unknown",
    "delivered",
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "available_for_pickup",
    "return_to_sender",
    "failure",
    "canceled",
];

/// Delivery statuses of a shipment still on its way, which `advance` delivers.
const ON_ITS_WAY: [&str; 5] = [
    "unknown",
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "available_for_pickup",
];

/// Statuses from which v1 `DELETE /orders/{id}` cancels.
const CANCELLABLE: [&str; 4] = ["draft", "pending", "failed", "onhold"];

/// The catalog variant given to store (sync) variants, whose catalog variant the simulator
/// cannot know; 4011 is the Bella + Canvas 3001 shirt of Printful's own examples.
const DEFAULT_CATALOG_VARIANT: i64 = 4011;

/// An order as `{id}` in a path names it: the Printful id, or `@external_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OrderRef {
    Id(i64),
    External(String),
}

impl OrderRef {
    pub(crate) fn parse(s: &str) -> Option<OrderRef> {
        match s.strip_prefix('@') {
            Some(ext) if !ext.is_empty() => Some(OrderRef::External(ext.to_string())),
            Some(_) => None,
            None => s.parse::<i64>().ok().filter(|id| *id > 0).map(OrderRef::Id),
        }
    }

    fn describe(&self) -> String {
        match self {
            OrderRef::Id(id) => id.to_string(),
            OrderRef::External(ext) => format!("@{ext}"),
        }
    }
}

/// An error in Printful's v1 shape: `{code, result: message, error: {reason, message}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            reason: "BadRequest",
            message: message.into(),
        }
    }

    pub(crate) fn not_found() -> ApiError {
        ApiError {
            status: 404,
            reason: "NotFound",
            message: "Not Found".into(),
        }
    }

    pub(crate) fn body(&self) -> Value {
        json!({
            "code": self.status,
            "result": self.message,
            "error": { "reason": self.reason, "message": self.message },
        })
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> ApiError {
        match &e {
            SimError::NotFound(_) => ApiError {
                status: 404,
                reason: "NotFound",
                message: e.to_string(),
            },
            SimError::InvalidState(_) => ApiError {
                status: 409,
                reason: "Conflict",
                message: e.to_string(),
            },
            SimError::InvalidRequest(_) => ApiError::bad_request(e.to_string()),
        }
    }
}

#[derive(Default)]
pub(crate) struct Faults {
    pub fail_next: u32,
    pub fail_status: u16,
    pub drop_next_create: bool,
    /// Confirms still to refuse with a 500 (see `PrintfulSim::fail_next_confirms`).
    pub fail_next_confirms: u32,
    pub random: Option<RandomFaults>,
    /// Calls seen so far per fault key, for the random faults' draws.
    pub seen: HashMap<String, u64>,
    pub injected: FaultCounts,
}

/// What a random draw decided for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Draw {
    Pass,
    Fail(u16),
    /// A create only: carried out, then its answer is lost.
    DropAnswer,
}

impl Faults {
    /// The fault, if any, for the next call with `key`. `create` allows [`Draw::DropAnswer`].
    /// Failures are counted in `injected` here; a lost answer by the create that carries it out.
    pub(crate) fn draw(&mut self, key: &str, create: bool) -> Draw {
        let Some(plan) = &self.random else { return Draw::Pass };
        let n = self.seen.entry(key.to_string()).or_insert(0);
        *n += 1;
        let x = unit(mix(plan.seed ^ mix(fnv1a(key)) ^ mix(*n)));
        let draw = if x < plan.rate_limited {
            Draw::Fail(429)
        } else if x < plan.rate_limited + plan.server_error {
            Draw::Fail(500)
        } else if create && x < plan.rate_limited + plan.server_error + plan.dropped_create {
            Draw::DropAnswer
        } else {
            Draw::Pass
        };
        if let Draw::Fail(_) = draw {
            self.count(draw);
        }
        draw
    }

    pub(crate) fn count(&mut self, draw: Draw) {
        match draw {
            Draw::Pass => {}
            Draw::Fail(429) => self.injected.rate_limited += 1,
            Draw::Fail(_) => self.injected.server_errors += 1,
            Draw::DropAnswer => self.injected.dropped_answers += 1,
        }
    }
}

fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64's finaliser: a well-spread 64-bit hash of `x`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from the top 53 bits.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) struct Webhook {
    pub url: Option<String>,
    pub types: Vec<String>,
    pub deliver: bool,
}

/// What the rate limiter says about one request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RateReading {
    pub limit: u32,
    pub remaining: u32,
    /// Whole seconds until the window refills.
    pub reset_secs: u64,
    pub exceeded: bool,
}

pub(crate) struct Window {
    pub limit: u32,
    started: Option<Instant>,
    used: u32,
}

impl Window {
    pub(crate) fn take(&mut self, at: Instant) -> RateReading {
        let started = match self.started {
            Some(s) if at.duration_since(s) < RATE_WINDOW => s,
            _ => {
                self.used = 0;
                self.started = Some(at);
                at
            }
        };
        self.used = self.used.saturating_add(1);
        let left = RATE_WINDOW.saturating_sub(at.duration_since(started));
        RateReading {
            limit: self.limit,
            remaining: self.limit.saturating_sub(self.used),
            reset_secs: left.as_secs() + u64::from(left.subsec_nanos() > 0),
            exceeded: self.used > self.limit,
        }
    }
}

struct SimItem {
    id: i64,
    external_id: Option<String>,
    sync_variant_id: Option<i64>,
    variant_id: Option<i64>,
    external_variant_id: Option<String>,
    warehouse_product_variant_id: Option<i64>,
    product_template_id: Option<i64>,
    quantity: u32,
    retail_price: Option<String>,
    name: String,
    /// What Printful charges the store per unit, in US cents.
    price_cents: i64,
}

struct SimOrder {
    id: i64,
    external_id: Option<String>,
    status: String,
    shipping: String,
    created: i64,
    updated: i64,
    recipient: Map<String, Value>,
    items: Vec<SimItem>,
    retail_costs: Map<String, Value>,
    /// What Printful charges for shipping, and its VAT rate and currency, as they were when
    /// the order was created or last updated.
    shipping_cents: i64,
    vat_bps: u32,
    costs_currency: String,
    shipments: Vec<Value>,
    /// Units shipped so far per item id.
    shipped: BTreeMap<i64, u32>,
    /// Where each shipment is, by shipment id, as v2 reports it.
    delivery: BTreeMap<i64, Delivery>,
}

/// A shipment's way to the buyer, as the carrier reports it (v2's `delivery_status`).
struct Delivery {
    status: String,
    /// Unix seconds, when delivered.
    delivered_at: Option<i64>,
    /// `(unix seconds, description)`, oldest first: v2's `tracking_events`.
    events: Vec<(i64, String)>,
}

pub(crate) struct State {
    store_id: i64,
    orders: BTreeMap<i64, SimOrder>,
    next_order_id: i64,
    next_item_id: i64,
    next_shipment_id: i64,
    pub calls: u64,
    pub requests: Vec<RecordedRequest>,
    pub faults: Faults,
    pub webhook: Webhook,
    pub window: Window,
    pub events: Vec<Value>,
    pub deliveries: Vec<WebhookDelivery>,
    pub costs: PrintfulCosts,
    /// The store's products, for `GET /store/products`.
    pub sync_products: Vec<SyncProductSpec>,
    /// The largest page the new list routes answer with (Printful's is 100); tests lower it
    /// to make clients walk several pages.
    pub max_page: usize,
}

/// A change's answer: the order as the API shows it, and the webhook events it caused.
pub(crate) type Changed = (Value, Vec<Value>);

impl State {
    pub(crate) fn new(store_id: i64, webhook_url: Option<String>) -> State {
        State {
            store_id,
            orders: BTreeMap::new(),
            // Ids in the range real Printful ids have, so that nothing relies on them being small.
            next_order_id: 100_000_001,
            next_item_id: 200_000_001,
            next_shipment_id: 300_000_001,
            calls: 0,
            requests: Vec::new(),
            faults: Faults::default(),
            webhook: Webhook {
                url: webhook_url,
                types: PrintfulEventKind::NAMES.iter().map(|t| t.to_string()).collect(),
                deliver: true,
            },
            window: Window {
                limit: RATE_LIMIT,
                started: None,
                used: 0,
            },
            events: Vec::new(),
            deliveries: Vec::new(),
            costs: PrintfulCosts::default(),
            sync_products: Vec::new(),
            max_page: MAX_PAGE,
        }
    }

    pub(crate) fn orders_json(&self) -> Vec<Value> {
        self.orders.values().map(|o| self.order_json(o)).collect()
    }

    pub(crate) fn order(&self, r: &OrderRef) -> Option<Value> {
        self.find(r).map(|id| self.order_json(&self.orders[&id]))
    }

    /// `GET /orders`: newest first, filtered by exact status, with v1 paging.
    pub(crate) fn list(&self, status: Option<&str>, offset: usize, limit: usize) -> (Vec<Value>, usize) {
        let matching: Vec<&SimOrder> = self
            .orders
            .values()
            .rev()
            .filter(|o| status.is_none_or(|s| o.status == s))
            .collect();
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|o| self.order_json(o))
            .collect();
        (page, total)
    }

    /// `POST /orders`. With `update_existing`, an order whose external id is taken is updated
    /// while it is still editable (draft or failed), else refused with OR-1, as v1 does.
    pub(crate) fn create(
        &mut self,
        body: &Value,
        confirm: bool,
        update_existing: bool,
        now: i64,
    ) -> Result<Changed, ApiError> {
        let new = parse_new_order(body)?;
        if let Some(ext) = &new.external_id
            && let Some(existing) = self.find(&OrderRef::External(ext.clone()))
        {
            if !update_existing {
                return Err(ApiError::bad_request(
                    "The external_id provided already exists and cannot be used",
                ));
            }
            return self.update_existing(existing, new, confirm, now);
        }
        let id = self.next_order_id;
        self.next_order_id += 1;
        let items = self.make_items(new.items);
        let order = SimOrder {
            id,
            external_id: new.external_id,
            status: if confirm { "pending".into() } else { "draft".into() },
            shipping: new.shipping,
            created: now,
            updated: now,
            recipient: new.recipient,
            items,
            retail_costs: new.retail_costs,
            shipping_cents: self.costs.shipping,
            vat_bps: self.costs.vat_bps,
            costs_currency: self.costs.currency.clone(),
            shipments: Vec::new(),
            shipped: BTreeMap::new(),
            delivery: BTreeMap::new(),
        };
        self.orders.insert(id, order);
        let order = &self.orders[&id];
        let events = vec![self.event(PrintfulEventKind::OrderCreated, now, order, None, None)];
        Ok((self.order_json(order), events))
    }

    fn update_existing(&mut self, id: i64, new: NewSimOrder, confirm: bool, now: i64) -> Result<Changed, ApiError> {
        let status = self.orders[&id].status.clone();
        if status != "draft" && status != "failed" {
            return Err(ApiError::bad_request(format!(
                "OR-1: The order is no longer editable. To be editable via API it must have one of the following statuses: draft, failed (it is {status})"
            )));
        }
        let items = self.make_items(new.items);
        let costs = self.costs.clone();
        let order = self.orders.get_mut(&id).expect("found above");
        order.recipient = new.recipient;
        order.items = items;
        order.retail_costs = new.retail_costs;
        order.shipping = new.shipping;
        order.shipping_cents = costs.shipping;
        order.vat_bps = costs.vat_bps;
        order.costs_currency = costs.currency;
        if confirm {
            order.status = "pending".into();
        }
        let at = tick(order, now);
        let order = &self.orders[&id];
        Ok((
            self.order_json(order),
            vec![self.event(PrintfulEventKind::OrderUpdated, at, order, None, None)],
        ))
    }

    /// `POST /orders/{id}/confirm`: a draft goes to `pending`.
    pub(crate) fn confirm(&mut self, r: &OrderRef, now: i64) -> Result<Changed, ApiError> {
        let id = self.find(r).ok_or_else(ApiError::not_found)?;
        let order = self.orders.get_mut(&id).expect("found");
        if order.status != "draft" {
            return Err(ApiError::bad_request(format!(
                "Only draft orders can be confirmed; this order is {}",
                order.status
            )));
        }
        order.status = "pending".into();
        let at = tick(order, now);
        let order = &self.orders[&id];
        Ok((
            self.order_json(order),
            vec![self.event(PrintfulEventKind::OrderUpdated, at, order, None, None)],
        ))
    }

    /// `DELETE /orders/{id}`: v1 cancels (it does not delete) an order that is not yet in
    /// production. `order_canceled` is sent for orders that had been confirmed, as Printful
    /// documents it; a draft's cancellation is only an `order_updated`.
    pub(crate) fn cancel(&mut self, r: &OrderRef, now: i64) -> Result<Changed, ApiError> {
        let id = self.find(r).ok_or_else(ApiError::not_found)?;
        let order = self.orders.get_mut(&id).expect("found");
        if !CANCELLABLE.contains(&order.status.as_str()) {
            return Err(ApiError::bad_request(format!(
                "This order can not be canceled, because its status is {}. Only draft, pending, failed and on hold orders can be canceled.",
                order.status
            )));
        }
        let was_draft = order.status == "draft";
        order.status = "canceled".into();
        let at = tick(order, now);
        let order = &self.orders[&id];
        let mut events = Vec::new();
        if !was_draft {
            events.push(self.event(
                PrintfulEventKind::OrderCanceled,
                at,
                order,
                None,
                Some("Canceled through the API"),
            ));
        }
        events.push(self.event(PrintfulEventKind::OrderUpdated, at, order, None, None));
        Ok((self.order_json(order), events))
    }

    /// One production step; see [`super::PrintfulSim::advance`]. With `one_line`, an order in
    /// production ships only its first line with units left (`partial` while others remain).
    pub(crate) fn advance(
        &mut self,
        r: &OrderRef,
        now: i64,
        public_base: &str,
        one_line: bool,
    ) -> Result<Changed, SimError> {
        let id = self.find(r).ok_or_else(|| SimError::NotFound(r.describe()))?;
        let shipment_id = self.next_shipment_id;
        let order = self.orders.get_mut(&id).expect("found");
        let status = order.status.clone();
        match status.as_str() {
            "pending" => {
                order.status = "inprocess".into();
                let at = tick(order, now);
                let order = &self.orders[&id];
                Ok((
                    self.order_json(order),
                    vec![self.event(PrintfulEventKind::OrderUpdated, at, order, None, None)],
                ))
            }
            "inprocess" | "partial" => {
                let at = tick(order, now);
                let number = format!("9400{shipment_id:018}");
                let mut lines = Vec::new();
                for item in &order.items {
                    let shipped = order.shipped.entry(item.id).or_insert(0);
                    let left = item.quantity.saturating_sub(*shipped);
                    // With `one_line`, only the first line with units left ships.
                    if left > 0 && (!one_line || lines.is_empty()) {
                        *shipped += left;
                        lines.push(json!({ "item_id": item.id, "quantity": left, "picked": 1, "printed": 1 }));
                    }
                }
                let shipment = json!({
                    "id": shipment_id,
                    "carrier": "USPS",
                    "service": "USPS First Class Mail",
                    "tracking_number": number,
                    "tracking_url": format!("{}/sim/printful/tracking/{number}", public_base.trim_end_matches('/')),
                    "created": at,
                    "ship_date": civil_date(at),
                    "shipped_at": at,
                    "reshipment": false,
                    "items": lines,
                });
                order.shipments.push(shipment.clone());
                order.delivery.insert(
                    shipment_id,
                    Delivery {
                        status: "in_transit".into(),
                        delivered_at: None,
                        events: vec![(at, "Shipment picked up by the carrier".into())],
                    },
                );
                let everything = order
                    .items
                    .iter()
                    .all(|i| order.shipped.get(&i.id).copied().unwrap_or(0) >= i.quantity);
                order.status = if everything { "fulfilled" } else { "partial" }.into();
                self.next_shipment_id += 1;
                let order = &self.orders[&id];
                let events = vec![
                    self.event(PrintfulEventKind::PackageShipped, at, order, Some(&shipment), None),
                    self.event(PrintfulEventKind::OrderUpdated, at, order, None, None),
                ];
                Ok((self.order_json(order), events))
            }
            "fulfilled" => {
                // The carrier delivers every package still on its way. v1 has no event for a
                // delivery, and the v1 order does not change: only v2's shipments show it.
                // Never before the shipment: stamps of changes in the same second run ahead
                // of the clock (see `tick`).
                let at = now.max(order.updated);
                let mut delivered = 0;
                for delivery in order.delivery.values_mut() {
                    if ON_ITS_WAY.contains(&delivery.status.as_str()) {
                        delivery.status = "delivered".into();
                        delivery.delivered_at = Some(at);
                        delivery.events.push((at, "Delivered".into()));
                        delivered += 1;
                    }
                }
                if delivered == 0 {
                    return Err(SimError::InvalidState(format!(
                        "order {} is fulfilled and none of its shipments is still on its way",
                        r.describe()
                    )));
                }
                let order = &self.orders[&id];
                Ok((self.order_json(order), Vec::new()))
            }
            "draft" => Err(SimError::InvalidState(format!(
                "order {} is a draft: confirm it before it can go into production",
                r.describe()
            ))),
            other => Err(SimError::InvalidState(format!(
                "order {} is {other}; only pending, inprocess, partial and fulfilled orders advance",
                r.describe()
            ))),
        }
    }

    /// Sets one shipment's `delivery_status` (the latest shipment when `shipment_id` is
    /// `None`), as the carrier would report it. `delivered` sets `delivered_at`; turning to
    /// `return_to_sender` sends v1's `package_returned` with the shipment and `reason`.
    /// Answers with the shipment as v2 shows it.
    pub(crate) fn set_delivery(
        &mut self,
        r: &OrderRef,
        shipment_id: Option<i64>,
        status: &str,
        reason: Option<&str>,
        now: i64,
        public_base: &str,
    ) -> Result<Changed, SimError> {
        if !DELIVERY_STATUSES.contains(&status) {
            return Err(SimError::InvalidRequest(format!(
                "{status:?} is not a delivery_status; Printful's are {}",
                DELIVERY_STATUSES.join(", ")
            )));
        }
        let id = self.find(r).ok_or_else(|| SimError::NotFound(r.describe()))?;
        let order = self.orders.get_mut(&id).expect("found");
        let shipment = match shipment_id {
            Some(s) => order
                .shipments
                .iter()
                .find(|v| v["id"] == s)
                .ok_or_else(|| SimError::NotFound(format!("shipment {s} of order {}", r.describe())))?,
            None => order
                .shipments
                .last()
                .ok_or_else(|| SimError::InvalidState(format!("order {} has no shipments yet", r.describe())))?,
        };
        let shipment = shipment.clone();
        let sid = shipment["id"].as_i64().expect("shipments have ids");
        let delivery = order.delivery.get_mut(&sid).expect("every shipment has a delivery");
        if delivery.status == status {
            let order = &self.orders[&id];
            return Ok((self.shipment_v2_json(order, &shipment, public_base), Vec::new()));
        }
        let returned = status == "return_to_sender";
        let reported = now.max(order.updated);
        delivery.status = status.to_string();
        delivery.delivered_at = (status == "delivered").then_some(reported);
        delivery.events.push((reported, delivery_description(status).into()));
        let mut events = Vec::new();
        if returned {
            let at = tick(order, now);
            let order = &self.orders[&id];
            let reason = reason.unwrap_or("The carrier returned the package to the fulfillment facility");
            events.push(self.event(
                PrintfulEventKind::PackageReturned,
                at,
                order,
                Some(&shipment),
                Some(reason),
            ));
        }
        let order = &self.orders[&id];
        Ok((self.shipment_v2_json(order, &shipment, public_base), events))
    }

    /// `GET /v2/orders/{id}/shipments`: one page of the order's shipments, oldest first, and
    /// how many there are.
    pub(crate) fn shipments_v2(
        &self,
        r: &OrderRef,
        offset: usize,
        limit: usize,
        public_base: &str,
    ) -> Option<(Vec<Value>, usize)> {
        let order = &self.orders[&self.find(r)?];
        let page = order
            .shipments
            .iter()
            .skip(offset)
            .take(limit)
            .map(|s| self.shipment_v2_json(order, s, public_base))
            .collect();
        Some((page, order.shipments.len()))
    }

    /// A v2 Shipment, from the v1 shipment and its delivery. `tracking_number` is not in the
    /// v2 beta document's Shipment schema but is in v2's shipment webhooks and v1; it is kept.
    fn shipment_v2_json(&self, order: &SimOrder, shipment: &Value, public_base: &str) -> Value {
        let sid = shipment["id"].as_i64().unwrap_or_default();
        let base = format!("{}/sim/printful/v2", public_base.trim_end_matches('/'));
        let delivery = order.delivery.get(&sid);
        let status = delivery.map_or("unknown", |d| d.status.as_str());
        let shipped_at = shipment["shipped_at"].as_i64().unwrap_or(order.updated);
        let items: Vec<Value> = shipment["items"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(n, line)| {
                let item_id = line["item_id"].as_i64().unwrap_or_default();
                let item = order.items.iter().find(|i| i.id == item_id);
                json!({
                    "id": sid * 1000 + i64::try_from(n).unwrap_or(0) + 1,
                    "order_item_id": item_id,
                    "order_item_external_id": item.and_then(|i| i.external_id.clone()),
                    "order_item_name": item.map(|i| i.name.clone()),
                    "quantity": line["quantity"],
                    "_links": { "order_item": { "href": format!("{base}/orders/{}/order-items/{item_id}", order.id) } },
                })
            })
            .collect();
        json!({
            "id": sid,
            "order_id": order.id,
            "order_external_id": order.external_id,
            "carrier": shipment["carrier"],
            "service": shipment["service"],
            "shipment_status": match status {
                "return_to_sender" => "returned",
                "canceled" => "canceled",
                _ => "shipped",
            },
            "shipped_at": rfc3339(shipped_at),
            "delivery_status": status,
            "delivered_at": delivery.and_then(|d| d.delivered_at).map(rfc3339),
            "departure_address": { "country_name": "United States", "country_code": "US", "state_code": "CA" },
            "is_reshipment": shipment["reshipment"],
            "tracking_number": shipment["tracking_number"],
            "tracking_url": shipment["tracking_url"],
            "tracking_events": delivery
                .map(|d| d.events.iter().map(|(t, text)| json!({ "triggered_at": rfc3339(*t), "description": text })).collect::<Vec<_>>())
                .unwrap_or_default(),
            "estimated_delivery": {
                "from_date": civil_date(shipped_at + 3 * 86_400),
                "to_date": civil_date(shipped_at + 7 * 86_400),
                "calculated_at": rfc3339(shipped_at),
            },
            "shipment_items": items,
            "_links": {
                "self": { "href": format!("{base}/shipments/{sid}") },
                "order": { "href": format!("{base}/orders/{}", order.id) },
            },
        })
    }

    /// See [`super::PrintfulSim::set_status`]. Setting the status an order already has
    /// changes nothing and sends nothing.
    pub(crate) fn set_status(
        &mut self,
        r: &OrderRef,
        status: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Changed, SimError> {
        if status.is_empty() || !status.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(SimError::InvalidRequest(format!(
                "{status:?} is not a status (lower-case letters and _)"
            )));
        }
        let id = self.find(r).ok_or_else(|| SimError::NotFound(r.describe()))?;
        let order = self.orders.get_mut(&id).expect("found");
        if order.status == status {
            let order = &self.orders[&id];
            return Ok((self.order_json(order), Vec::new()));
        }
        let left_hold = order.status == "onhold";
        order.status = status.to_string();
        let at = tick(order, now);
        let order = &self.orders[&id];
        let mut events = Vec::new();
        if left_hold {
            events.push(self.event(PrintfulEventKind::OrderRemoveHold, at, order, None, reason));
        }
        let specific = match status {
            "onhold" => Some(PrintfulEventKind::OrderPutHold),
            "failed" => Some(PrintfulEventKind::OrderFailed),
            "canceled" => Some(PrintfulEventKind::OrderCanceled),
            _ => None,
        };
        if let Some(t) = specific {
            events.push(self.event(t, at, order, None, reason));
        }
        events.push(self.event(PrintfulEventKind::OrderUpdated, at, order, None, None));
        Ok((self.order_json(order), events))
    }

    /// An order placed outside backroom: pending, with an address and an item nobody here chose.
    pub(crate) fn create_foreign(&mut self, external_id: Option<&str>, now: i64) -> Result<Changed, SimError> {
        let mut body = json!({
            "recipient": {
                "name": "Someone Else",
                "address1": "19749 Dearborn St",
                "city": "Chatsworth",
                "state_code": "CA",
                "country_code": "US",
                "zip": "91311",
            },
            "items": [{ "sync_variant_id": 9_999_999, "quantity": 1, "retail_price": "19.99", "name": "Something this shop does not sell" }],
            "retail_costs": { "currency": "USD" },
        });
        if let Some(ext) = external_id {
            body["external_id"] = json!(ext);
        }
        self.create(&body, true, false, now)
            .map_err(|e| SimError::InvalidRequest(e.message))
    }

    fn find(&self, r: &OrderRef) -> Option<i64> {
        match r {
            OrderRef::Id(id) => self.orders.contains_key(id).then_some(*id),
            OrderRef::External(ext) => self
                .orders
                .values()
                .find(|o| o.external_id.as_deref() == Some(ext.as_str()))
                .map(|o| o.id),
        }
    }

    fn make_items(&mut self, items: Vec<NewSimItem>) -> Vec<SimItem> {
        items
            .into_iter()
            .map(|i| {
                let id = self.next_item_id;
                self.next_item_id += 1;
                let cost = i
                    .sync_variant_id
                    .and_then(|v| self.costs.variants.get(&v).copied())
                    .unwrap_or(self.costs.default_item);
                SimItem {
                    id,
                    external_id: i.external_id,
                    sync_variant_id: i.sync_variant_id,
                    variant_id: i.variant_id,
                    external_variant_id: i.external_variant_id,
                    warehouse_product_variant_id: i.warehouse_product_variant_id,
                    product_template_id: i.product_template_id,
                    quantity: i.quantity,
                    name: i.name.unwrap_or_else(|| match i.sync_variant_id {
                        Some(v) => format!("Store variant {v}"),
                        None => "Catalog product".into(),
                    }),
                    retail_price: i.retail_price,
                    price_cents: cost,
                }
            })
            .collect()
    }

    /// A v1 Order object. Absent optional fields are left out rather than null (the schema
    /// declares them as plain strings), except `external_id`, which Printful sends as null.
    fn order_json(&self, o: &SimOrder) -> Value {
        let items: Vec<Value> = o.items.iter().map(item_json).collect();
        let subtotal: i64 = o.items.iter().map(|i| i.price_cents * i64::from(i.quantity)).sum();
        let shipping = o.shipping_cents;
        let vat = percent_of(subtotal + shipping, i64::from(o.vat_bps));
        let mut retail_costs = Map::new();
        for key in ["currency", "subtotal", "discount", "shipping", "tax"] {
            retail_costs.insert(key.into(), o.retail_costs.get(key).cloned().unwrap_or(Value::Null));
        }
        // Read-only: Printful works these out.
        retail_costs.insert("vat".into(), Value::Null);
        let sent = |key: &str| o.retail_costs.get(key).and_then(Value::as_str).and_then(parse_money);
        let retail_total = sent("subtotal").map(|sub| {
            money(sub - sent("discount").unwrap_or(0) + sent("shipping").unwrap_or(0) + sent("tax").unwrap_or(0))
        });
        retail_costs.insert("total".into(), json!(retail_total));
        json!({
            "id": o.id,
            "external_id": o.external_id,
            "store": self.store_id,
            "status": o.status,
            "shipping": o.shipping,
            "shipping_service_name": "Flat Rate (3-4 business days after fulfillment)",
            "created": o.created,
            "updated": o.updated,
            "recipient": o.recipient,
            "items": items,
            "branding_items": [],
            "incomplete_items": [],
            "costs": {
                "currency": o.costs_currency,
                "subtotal": money(subtotal),
                "discount": "0.00",
                "shipping": money(shipping),
                "digitization": "0.00",
                "additional_fee": "0.00",
                "fulfillment_fee": "0.00",
                "retail_delivery_fee": "0.00",
                "tax": "0.00",
                "vat": money(vat),
                "total": money(subtotal + shipping + vat),
            },
            "retail_costs": retail_costs,
            "pricing_breakdown": [],
            "shipments": o.shipments,
        })
    }

    /// A v1 webhook payload: `{type, created, retries, store, data: {order, shipment?, reason?}}`
    /// with the full order, `retries` 0 (delivery raises it on each retry).
    fn event(
        &self,
        kind: PrintfulEventKind,
        created: i64,
        order: &SimOrder,
        shipment: Option<&Value>,
        reason: Option<&str>,
    ) -> Value {
        let mut data = json!({ "order": self.order_json(order) });
        if let Some(s) = shipment {
            data["shipment"] = s.clone();
        }
        if let Some(r) = reason {
            data["reason"] = json!(r);
        }
        json!({ "type": kind.as_str(), "created": created, "retries": 0, "store": self.store_id, "data": data })
    }
}

/// Moves an order's `updated` to now, or one second past its last change if that is later, so
/// that every change of an order has a later stamp (and a distinct webhook `created`) even when
/// a test makes several in one second.
fn tick(order: &mut SimOrder, now: i64) -> i64 {
    order.updated = now.max(order.updated + 1);
    order.updated
}

fn item_json(i: &SimItem) -> Value {
    let catalog_variant = i.variant_id.unwrap_or(DEFAULT_CATALOG_VARIANT);
    let mut v = json!({
        "id": i.id,
        "variant_id": catalog_variant,
        "quantity": i.quantity,
        "price": money(i.price_cents),
        "name": i.name,
        "product": {
            "variant_id": catalog_variant,
            "product_id": 71,
            "image": "https://files.cdn.printful.com/products/71/4011_1581412541.jpg",
            "name": i.name,
        },
        "files": [],
        "options": [],
        "discontinued": false,
        "out_of_stock": false,
    });
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            v[key] = value;
        }
    };
    put("external_id", json!(i.external_id));
    put("sync_variant_id", json!(i.sync_variant_id));
    put("external_variant_id", json!(i.external_variant_id));
    put("warehouse_product_variant_id", json!(i.warehouse_product_variant_id));
    put("product_template_id", json!(i.product_template_id));
    put("retail_price", json!(i.retail_price));
    v
}

struct NewSimOrder {
    external_id: Option<String>,
    shipping: String,
    recipient: Map<String, Value>,
    items: Vec<NewSimItem>,
    retail_costs: Map<String, Value>,
}

struct NewSimItem {
    external_id: Option<String>,
    sync_variant_id: Option<i64>,
    variant_id: Option<i64>,
    external_variant_id: Option<String>,
    warehouse_product_variant_id: Option<i64>,
    product_template_id: Option<i64>,
    quantity: u32,
    retail_price: Option<String>,
    name: Option<String>,
}

/// Checks a create body as Printful documents it: recipient and items required; an
/// `external_id` of at most 32 characters of `[A-Za-z0-9_-]`; each item names exactly one
/// product source and a quantity of 1 to 1000; item external ids unique in the order.
fn parse_new_order(body: &Value) -> Result<NewSimOrder, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_request("The request body must be a JSON object"));
    };
    let external_id = match obj.get("external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(ApiError::bad_request("external_id must be a string")),
    };
    if let Some(ext) = &external_id
        && !valid_external_id(ext)
    {
        return Err(ApiError::bad_request(
            "Invalid external_id: it can be up to 32 characters long and contain digits, Latin letters, dashes and underscores",
        ));
    }
    let recipient = parse_recipient(obj.get("recipient"))?;
    let Some(Value::Array(raw_items)) = obj.get("items") else {
        return Err(ApiError::bad_request("Missing required parameter: items"));
    };
    if raw_items.is_empty() {
        return Err(ApiError::bad_request("The order must contain at least one item"));
    }
    let mut items = Vec::new();
    for (n, raw) in raw_items.iter().enumerate() {
        let item = parse_item(n, raw)?;
        if let Some(ext) = &item.external_id
            && items.iter().any(|i: &NewSimItem| i.external_id.as_ref() == Some(ext))
        {
            return Err(ApiError::bad_request(format!(
                "Item external_id {ext:?} is used twice in this order"
            )));
        }
        items.push(item);
    }
    let mut retail_costs = match obj.get("retail_costs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(ApiError::bad_request("retail_costs must be an object")),
    };
    let currency = match retail_costs.get("currency") {
        None | Some(Value::Null) => "USD".to_string(),
        Some(Value::String(c)) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => c.to_ascii_uppercase(),
        Some(other) => return Err(ApiError::bad_request(format!("Invalid retail_costs.currency: {other}"))),
    };
    retail_costs.insert("currency".into(), json!(currency));
    for key in ["subtotal", "discount", "shipping", "tax"] {
        let value = match retail_costs.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => parse_money(s),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|f| *f >= 0.0 && (f * 100.0 - (f * 100.0).round()).abs() < 1e-6)
                .map(|f| (f * 100.0).round() as i64),
            Some(_) => None,
        };
        let Some(cents) = value else {
            return Err(ApiError::bad_request(format!(
                "Invalid retail_costs.{key}: {} is not an amount such as \"12.50\"",
                retail_costs[key]
            )));
        };
        retail_costs.insert(key.into(), json!(money(cents)));
    }
    // Read-only fields: what a client sends is ignored, as Printful ignores it.
    retail_costs.remove("vat");
    retail_costs.remove("total");
    let shipping = match obj.get("shipping") {
        None | Some(Value::Null) => "STANDARD".to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(ApiError::bad_request("Invalid shipping method")),
    };
    Ok(NewSimOrder {
        external_id,
        shipping,
        recipient,
        items,
        retail_costs,
    })
}

fn valid_external_id(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Countries for which Printful needs a state code and a postal code.
const STATE_REQUIRED: [&str; 3] = ["US", "CA", "AU"];
const ZIP_REQUIRED: [&str; 4] = ["US", "CA", "AU", "GB"];

fn parse_recipient(v: Option<&Value>) -> Result<Map<String, Value>, ApiError> {
    let Some(Value::Object(raw)) = v else {
        return Err(ApiError::bad_request("Missing required parameter: recipient"));
    };
    const FIELDS: [&str; 13] = [
        "name",
        "company",
        "address1",
        "address2",
        "city",
        "state_code",
        "state_name",
        "country_code",
        "country_name",
        "zip",
        "phone",
        "email",
        "tax_number",
    ];
    let mut recipient = Map::new();
    for key in FIELDS {
        match raw.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                if !s.trim().is_empty() {
                    recipient.insert(key.into(), json!(s.trim()));
                }
            }
            Some(Value::Number(n)) => {
                recipient.insert(key.into(), json!(n.to_string()));
            }
            Some(_) => return Err(ApiError::bad_request(format!("Recipient {key} must be a string"))),
        }
    }
    for key in ["name", "address1", "city", "country_code"] {
        if !recipient.contains_key(key) {
            return Err(ApiError::bad_request(format!("Recipient {key} is missing")));
        }
    }
    let country = recipient["country_code"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::bad_request(format!(
            "Invalid recipient country code {country:?}"
        )));
    }
    if STATE_REQUIRED.contains(&country.as_str()) && !recipient.contains_key("state_code") {
        return Err(ApiError::bad_request(format!(
            "Recipient state_code is required for {country}"
        )));
    }
    if ZIP_REQUIRED.contains(&country.as_str()) && !recipient.contains_key("zip") {
        return Err(ApiError::bad_request(format!(
            "Recipient zip is required for {country}"
        )));
    }
    recipient.insert("country_code".into(), json!(country));
    Ok(recipient)
}

fn parse_item(n: usize, v: &Value) -> Result<NewSimItem, ApiError> {
    let Some(obj) = v.as_object() else {
        return Err(ApiError::bad_request(format!("OR-5: Item {n} is not an object")));
    };
    let int = |key: &str| -> Result<Option<i64>, ApiError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => integer(v)
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("Item {n}: {key} must be an integer"))),
        }
    };
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(x)) => Ok(Some(x.to_string())),
            Some(_) => Err(ApiError::bad_request(format!("Item {n}: {key} must be a string"))),
        }
    };
    let item = NewSimItem {
        external_id: text("external_id")?,
        sync_variant_id: int("sync_variant_id")?,
        variant_id: int("variant_id")?,
        external_variant_id: text("external_variant_id")?,
        warehouse_product_variant_id: int("warehouse_product_variant_id")?,
        product_template_id: int("product_template_id")?,
        quantity: 0,
        retail_price: text("retail_price")?,
        name: text("name")?,
    };
    let sources = [
        item.sync_variant_id.is_some(),
        item.external_variant_id.is_some(),
        item.warehouse_product_variant_id.is_some(),
        // A template is used together with a catalog variant, so the pair counts once.
        item.variant_id.is_some() || item.product_template_id.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if sources != 1 {
        return Err(ApiError::bad_request(format!(
            "Item {n} must name exactly one of sync_variant_id, external_variant_id, warehouse_product_variant_id or variant_id"
        )));
    }
    let quantity = match int("quantity")? {
        Some(q) if (1..=1000).contains(&q) => u32::try_from(q).expect("in range"),
        _ => {
            return Err(ApiError::bad_request(format!(
                "Item {n}: quantity must be between 1 and 1000"
            )));
        }
    };
    if let Some(p) = &item.retail_price
        && parse_money(p).is_none()
    {
        return Err(ApiError::bad_request(format!("Item {n}: invalid retail_price {p:?}")));
    }
    Ok(NewSimItem { quantity, ..item })
}

/// An integer from a number or a string of digits: Printful's own examples send
/// `"quantity": "1"`.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `"28.00"`, `"28.5"` or `"28"` in cents; `None` for anything else or a negative amount.
pub(crate) fn parse_money(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse::<i64>().ok()?,
    };
    whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(cents)
}

/// `amount × bps / 10 000`, rounded half up (amounts are never negative here).
fn percent_of(amount: i64, bps: i64) -> i64 {
    (amount * bps + 5_000).div_euclid(10_000)
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", (cents / 100).abs(), (cents % 100).abs())
}

/// What a carrier's tracking says when a shipment reaches `status`.
fn delivery_description(status: &str) -> &'static str {
    match status {
        "delivered" => "Delivered",
        "pre_transit" => "Label created",
        "in_transit" => "In transit",
        "out_for_delivery" => "Out for delivery",
        "available_for_pickup" => "Available for pickup",
        "return_to_sender" => "Returned to sender",
        "failure" => "Delivery failed",
        "canceled" => "Shipment canceled",
        _ => "Status unknown",
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC) of a Unix time, as v2 writes its times.
pub(crate) fn rfc3339(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        civil_date(unix),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `YYYY-MM-DD` (UTC) of a Unix time, by the days-from-civil algorithm in reverse.
fn civil_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(1588716060), "2020-05-05");
        assert_eq!(civil_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn times_are_written_as_v2_writes_them() {
        assert_eq!(rfc3339(1588716060), "2020-05-05T22:01:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn money_is_read_and_written_in_cents() {
        assert_eq!(parse_money("28.00"), Some(2800));
        assert_eq!(parse_money("28.5"), Some(2850));
        assert_eq!(parse_money("28"), Some(2800));
        assert_eq!(parse_money("-1.00"), None);
        assert_eq!(parse_money("1.005"), None);
        assert_eq!(parse_money("abc"), None);
        assert_eq!(money(1260), "12.60");
    }

    #[test]
    fn order_references_are_ids_or_external_ids() {
        assert_eq!(OrderRef::parse("12"), Some(OrderRef::Id(12)));
        assert_eq!(OrderRef::parse("@abc"), Some(OrderRef::External("abc".into())));
        assert_eq!(OrderRef::parse("@"), None);
        assert_eq!(OrderRef::parse("abc"), None);
        assert_eq!(OrderRef::parse("-3"), None);
    }

    #[test]
    fn the_rate_window_refills_after_a_minute() {
        let mut w = Window {
            limit: RATE_LIMIT,
            started: None,
            used: 0,
        };
        let t0 = Instant::now();
        let first = w.take(t0);
        assert_eq!((first.remaining, first.reset_secs, first.exceeded), (119, 60, false));
        for _ in 1..RATE_LIMIT {
            w.take(t0);
        }
        assert!(w.take(t0 + Duration::from_secs(59)).exceeded);
        let refilled = w.take(t0 + Duration::from_secs(60));
        assert_eq!((refilled.remaining, refilled.exceeded), (119, false));
    }
}
