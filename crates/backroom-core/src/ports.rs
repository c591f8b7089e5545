//! The capabilities the use cases need from the world, one small trait each. backroom-db
//! implements them on PostgreSQL / Aurora DSQL.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::{Catalog, Variant};
use crate::ids::{Email, OrderId, Sku};
use crate::machine::{Cause, Fact, Refusal, Transition};
use crate::money::{Cents, Currency, MoneyError};
use crate::order::{NewOrderItem, Order, OrderStatus, OverOrderLimit, TimelineEntry};

/// A failure of the store itself: worth retrying later, never the caller's fault.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] pub anyhow::Error);

/// An order as the checkout asks for it.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub id: OrderId,
    pub items: Vec<NewOrderItem>,
    pub email: Option<Email>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateOrderError {
    #[error("unknown SKU {sku}")]
    UnknownSku { index: usize, sku: Sku },
    #[error("{sku} is not for sale at the moment")]
    Inactive { index: usize, sku: Sku },
    #[error("{sku} is out of stock ({available} left)")]
    OutOfStock { index: usize, sku: Sku, available: u32 },
    /// More units of one SKU, over all lines, than one order may hold.
    #[error(transparent)]
    OverOrderLimit(#[from] OverOrderLimit),
    #[error("all items of one order must be in one currency")]
    MixedCurrencies { index: usize },
    #[error("the order is empty")]
    Empty,
    #[error("the order total is too large: {0}")]
    Total(MoneyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which provider an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Stripe,
    Printful,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Stripe => "stripe",
            EventSource::Printful => "printful",
        }
    }
}

/// A provider event to be processed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventClaim {
    pub source: EventSource,
    pub event_id: String,
    pub event_type: String,
}

/// What applying a fact did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Transitioned(Transition),
    /// Recorded on the timeline without a change of state.
    Noted(String),
    Refused(Refusal),
    /// The event had already been processed: nothing was done.
    AlreadyProcessed,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("no order {0}")]
    NotFound(OrderId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which orders to list.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub limit: Option<u32>,
}

pub trait OrderStore: Send + Sync {
    /// Prices the lines from the stored catalog, holds stock for limited SKUs and writes the
    /// order as `pending_payment`, all in one transaction. Nothing is written on a refusal.
    fn create_order(&self, order: NewOrder) -> impl Future<Output = Result<Order, CreateOrderError>> + Send;

    fn order(&self, id: OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    /// Newest first.
    fn orders(&self, filter: &OrderFilter) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;

    /// Oldest first.
    fn timeline(&self, id: OrderId) -> impl Future<Output = Result<Vec<TimelineEntry>, StoreError>> + Send;

    /// Applies a fact through the state machine and appends the timeline entry in one
    /// transaction; with a claim, the event is marked processed in that same transaction, and
    /// an event already processed changes nothing. Unpaid endings release the order's stock.
    fn apply_fact(
        &self,
        id: OrderId,
        fact: &Fact,
        cause: &Cause,
        claim: Option<&EventClaim>,
    ) -> impl Future<Output = Result<Applied, ApplyError>> + Send;

    /// Records the checkout session made for an order (idempotent).
    fn attach_checkout_session(
        &self,
        id: OrderId,
        session_id: &str,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records what the payment provider says about the payment (idempotent; a known value is
    /// never erased by a missing one).
    fn record_payment_details(
        &self,
        id: OrderId,
        details: &PaymentDetails,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores Stripe's fee and Printful's bill as they become known; `None` keeps what is stored.
    fn record_earnings(
        &self,
        id: OrderId,
        stripe_fee: Option<crate::Money>,
        printful_costs: Option<crate::earnings::PrintfulCosts>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The order paid through this payment intent, if any.
    fn order_by_payment_intent(
        &self,
        payment_intent_id: &str,
    ) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    /// Records the Printful order made for an order (idempotent).
    fn set_printful_order_id(
        &self,
        id: OrderId,
        printful_order_id: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds or updates a shipment; a known tracking number or URL is never erased.
    fn record_shipment(
        &self,
        id: OrderId,
        shipment: &ShipmentRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Oldest first.
    fn shipments(&self, id: OrderId) -> impl Future<Output = Result<Vec<ShipmentRecord>, StoreError>> + Send;

    /// Lets a paid order go to Printful while fulfillment is paused; false if it was already released.
    fn release_fulfillment(&self, id: OrderId) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A parcel on its way, as the fulfillment provider reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShipmentRecord {
    pub provider_shipment_id: i64,
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub shipped_at: Option<DateTime<Utc>>,
    pub reshipment: bool,
}

pub trait Inbox: Send + Sync {
    /// Marks an event processed; false if it already was.
    fn claim(&self, claim: &EventClaim) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn is_processed(
        &self,
        source: EventSource,
        event_id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Where a catch-up job got to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: String,
}

pub trait CursorStore: Send + Sync {
    fn cursor(&self, name: &str) -> impl Future<Output = Result<Option<Cursor>, StoreError>> + Send;
    fn set_cursor(&self, name: &str, cursor: &Cursor) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something smells like a stolen key or a forged request.
    Security,
    /// Something needs the owner's hand.
    Ops,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Security => "security",
            Severity::Ops => "ops",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "security" => Some(Severity::Security),
            "ops" => Some(Severity::Ops),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlert {
    pub severity: Severity,
    pub kind: String,
    pub order_id: Option<OrderId>,
    /// Alerts with the same key are one alert: a repeat inside the cool-down is only counted.
    pub dedupe_key: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub severity: Severity,
    pub kind: String,
    pub order_id: Option<OrderId>,
    pub message: String,
    pub at: DateTime<Utc>,
    pub occurrences: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertOutcome {
    /// New, or the cool-down since the last one has passed: tell the owner.
    Raise,
    /// A repeat inside the cool-down: counted, not sent again.
    Suppressed { occurrences: i64 },
}

pub trait AlertStore: Send + Sync {
    fn record_alert(
        &self,
        alert: &NewAlert,
        cooldown: Duration,
    ) -> impl Future<Output = Result<AlertOutcome, StoreError>> + Send;
    /// Newest first.
    fn alerts(&self, limit: u32) -> impl Future<Output = Result<Vec<Alert>, StoreError>> + Send;
}

/// A variant as sold now, with what is left of a limited stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogEntry {
    pub product_slug: String,
    pub product_name: String,
    pub description: String,
    pub variant: Variant,
    /// Units left for a limited SKU; `None` when unlimited.
    pub available: Option<u32>,
}

/// What a catalog sync changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// SKUs in the store but not in the file: deactivated, never deleted (orders refer to them).
    pub deactivated: usize,
    /// Shipping zones written or removed (zones are the file's, whole: no order refers to them).
    pub shipping_zones_changed: usize,
}

pub trait CatalogStore: Send + Sync {
    fn sync_catalog(&self, catalog: &Catalog) -> impl Future<Output = Result<SyncReport, StoreError>> + Send;
    /// In catalog order, active and inactive.
    fn catalog(&self) -> impl Future<Output = Result<Vec<CatalogEntry>, StoreError>> + Send;
    /// The shipping zones, in catalog order; empty when the catalog has none.
    fn shipping_zones(&self) -> impl Future<Output = Result<Vec<crate::ShippingZone>, StoreError>> + Send;
}

/// A provider event on its way from a webhook function to the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueMessage {
    pub source: EventSource,
    /// The provider's event id (Stripe) or a stable id made from the webhook (Printful).
    pub event_id: String,
    pub event_type: String,
    /// The raw body, exactly as received.
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the events queue is unavailable: {0}")]
pub struct QueueError(pub String);

/// The events queue: SQS in AWS, in process for `backroom dev` and tests.
pub trait EventQueue: Send + Sync {
    fn send(&self, message: &QueueMessage) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// Where the owner hears about alerts: SNS topics in AWS, the console locally.
pub trait AlertSink: Send + Sync {
    fn publish(&self, alert: &NewAlert) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What the payment provider says about a paid checkout, kept with the order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentDetails {
    pub payment_intent_id: Option<String>,
    pub email: Option<Email>,
    /// The shipping name and address as JSON, exactly as the provider gave them.
    pub shipping: Option<serde_json::Value>,
    /// What was charged, part by part.
    pub charged: Option<crate::order::Charged>,
    /// Stripe's fee for the payment, when it was booked.
    pub stripe_fee: Option<crate::Money>,
}

/// What the three-way comparison of Stripe, the database and Printful can find.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// A paid session whose order is not paid here: repaired by applying the session.
    MissingOrder,
    /// The amount or currency paid differs from the order's total.
    AmountMismatch,
    /// A session that carries no order id of ours: someone else uses the Stripe key.
    UnknownStripeSession,
    /// Paid here but not at Printful: advanced.
    NotSubmitted,
    /// A Printful order with no or an unknown external id: someone else uses the Printful token.
    UnknownPrintfulOrder,
    /// Printful is ahead of us: applied.
    StatusBehind,
    /// Our Stripe endpoint is missing, disabled or not subscribed; or Printful's webhook URL is not ours.
    WebhookMisconfigured,
    /// Paid in the database, but Stripe never took the money for its session: nothing backroom
    /// does makes that, so someone wrote to the database, or a session was swapped.
    PaidHereNotAtStripe,
}

impl DiscrepancyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::MissingOrder => "missing_order",
            DiscrepancyKind::AmountMismatch => "amount_mismatch",
            DiscrepancyKind::UnknownStripeSession => "unknown_stripe_session",
            DiscrepancyKind::NotSubmitted => "not_submitted",
            DiscrepancyKind::UnknownPrintfulOrder => "unknown_printful_order",
            DiscrepancyKind::StatusBehind => "status_behind",
            DiscrepancyKind::WebhookMisconfigured => "webhook_misconfigured",
            DiscrepancyKind::PaidHereNotAtStripe => "paid_here_not_at_stripe",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Discrepancy {
    pub kind: DiscrepancyKind,
    pub severity: Severity,
    pub order_id: Option<OrderId>,
    pub detail: String,
    /// Whether this run repaired it.
    pub repaired: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReconcileRun {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub window_days: u32,
    pub fix: bool,
    pub discrepancies: Vec<Discrepancy>,
    /// Calls made to each provider.
    pub stripe_calls: u64,
    pub printful_calls: u64,
}

pub trait ReconcileStore: Send + Sync {
    fn record_run(&self, run: &ReconcileRun) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn last_run(&self) -> impl Future<Output = Result<Option<ReconcileRun>, StoreError>> + Send;
}

/// The `source` of every order event on the event bus.
pub const ORDER_EVENT_SOURCE: &str = "backroom.orders";

/// An order transition the outside world hears about, one event each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderEventType {
    Paid,
    Submitted,
    Shipped,
    Refunded,
    Canceled,
    NeedsAttention,
}

impl OrderEventType {
    pub const ALL: [OrderEventType; 6] = [
        OrderEventType::Paid,
        OrderEventType::Submitted,
        OrderEventType::Shipped,
        OrderEventType::Refunded,
        OrderEventType::Canceled,
        OrderEventType::NeedsAttention,
    ];

    /// The event's `detail-type` on the bus.
    pub fn detail_type(self) -> &'static str {
        match self {
            OrderEventType::Paid => "Order Paid",
            OrderEventType::Submitted => "Order Submitted",
            OrderEventType::Shipped => "Order Shipped",
            OrderEventType::Refunded => "Order Refunded",
            OrderEventType::Canceled => "Order Canceled",
            OrderEventType::NeedsAttention => "Order Needs Attention",
        }
    }

    pub fn parse_detail_type(s: &str) -> Option<OrderEventType> {
        OrderEventType::ALL.into_iter().find(|t| t.detail_type() == s)
    }

    /// The status the order reached.
    pub fn status(self) -> OrderStatus {
        match self {
            OrderEventType::Paid => OrderStatus::Paid,
            OrderEventType::Submitted => OrderStatus::Submitted,
            OrderEventType::Shipped => OrderStatus::Shipped,
            OrderEventType::Refunded => OrderStatus::Refunded,
            OrderEventType::Canceled => OrderStatus::Canceled,
            OrderEventType::NeedsAttention => OrderStatus::NeedsAttention,
        }
    }

    /// The event a transition makes: one when the status shown changes to one of the six, none
    /// when only a hidden part moved or the status is of no interest outside (in production,
    /// on hold, delivered, the unpaid endings).
    pub fn of_transition(from: OrderStatus, to: OrderStatus) -> Option<OrderEventType> {
        if from == to {
            return None;
        }
        OrderEventType::ALL.into_iter().find(|t| t.status() == to)
    }
}

impl fmt::Display for OrderEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail_type())
    }
}

impl Serialize for OrderEventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.detail_type())
    }
}

/// One row of the order-event outbox: written in the transaction of the transition, marked
/// published after the bus accepted the event. Its id is the timeline entry's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub event_id: uuid::Uuid,
    pub order_id: OrderId,
    pub event_type: OrderEventType,
    /// When the transition happened (the timeline entry's time).
    pub at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// Failed publish attempts so far.
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// An amount in integer minor units with its currency, as the events carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventMoney {
    pub amount: i64,
    pub currency: String,
}

impl EventMoney {
    fn of(amount: Cents, currency: Currency) -> EventMoney {
        EventMoney {
            amount: amount.get(),
            currency: currency.code().to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventItem {
    pub sku: String,
    pub name: String,
    pub size: String,
    pub quantity: u32,
    pub unit_price: EventMoney,
    pub line_total: EventMoney,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventTracking {
    pub carrier: String,
    pub number: String,
    pub url: String,
}

/// The `detail` of an order event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderEventDetail {
    /// Stable across re-publishing: consumers de-duplicate on it.
    pub event_id: String,
    pub order_id: OrderId,
    pub order_number: i64,
    /// The status this event reports (the order may have moved on since).
    pub status: OrderStatus,
    pub occurred_at: DateTime<Utc>,
    pub items: Vec<EventItem>,
    pub total: EventMoney,
    /// Only when the owner has turned it on (`EVENTS_INCLUDE_EMAIL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// `Order Shipped` only: every parcel with a tracking number.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tracking: Vec<EventTracking>,
}

/// An event ready for the bus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderEvent {
    pub detail_type: OrderEventType,
    pub time: DateTime<Utc>,
    pub detail: OrderEventDetail,
}

impl OrderEvent {
    /// The event of an outbox entry, from the order and its shipments as stored now.
    pub fn build(
        entry: &OutboxEntry,
        order: &Order,
        shipments: &[ShipmentRecord],
        include_email: bool,
    ) -> Result<OrderEvent, MoneyError> {
        let currency = order.currency();
        let items = order
            .items
            .iter()
            .map(|i| {
                Ok(EventItem {
                    sku: i.sku.as_str().to_string(),
                    name: i.name.clone(),
                    size: i.size.clone(),
                    quantity: i.quantity,
                    unit_price: EventMoney::of(i.unit_price, currency),
                    line_total: EventMoney::of(i.line_total()?, currency),
                })
            })
            .collect::<Result<Vec<_>, MoneyError>>()?;
        let tracking = if entry.event_type == OrderEventType::Shipped {
            shipments
                .iter()
                .filter(|s| !s.tracking_number.is_empty() || !s.tracking_url.is_empty())
                .map(|s| EventTracking {
                    carrier: s.carrier.clone(),
                    number: s.tracking_number.clone(),
                    url: s.tracking_url.clone(),
                })
                .collect()
        } else {
            vec![]
        };
        Ok(OrderEvent {
            detail_type: entry.event_type,
            time: entry.at,
            detail: OrderEventDetail {
                event_id: entry.event_id.to_string(),
                order_id: order.id,
                order_number: order.number,
                status: entry.event_type.status(),
                occurred_at: entry.at,
                items,
                total: EventMoney::of(order.total.amount, currency),
                customer_email: if include_email {
                    order.email.as_ref().map(|e| e.as_str().to_string())
                } else {
                    None
                },
                tracking,
            },
        })
    }

    pub fn event_id(&self) -> &str {
        &self.detail.event_id
    }

    /// The detail as the JSON string the bus takes.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).unwrap_or_else(|_| "{}".into())
    }
}

/// The order-event outbox.
pub trait OrderEventStore: Send + Sync {
    /// Entries not yet published, oldest first: of one order, or of all orders when `order` is
    /// `None`; only those whose transition happened at or before `before` when given.
    fn unpublished_events(
        &self,
        order: Option<OrderId>,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send;

    /// Marks an entry published; false if it already was.
    fn mark_published(&self, event_id: uuid::Uuid) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Counts a failed attempt and keeps its error; the entry stays for the catch-up.
    fn record_publish_failure(
        &self,
        event_id: uuid::Uuid,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Newest first, published or not.
    fn recent_events(&self, limit: u32) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send;

    /// How many entries wait to be published.
    fn unpublished_count(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event bus did not take the event: {0}")]
pub struct PublishError(pub String);

/// Where order events go: EventBridge in AWS, the console for `backroom dev`.
pub trait EventPublisher: Send + Sync {
    fn publish(&self, event: &OrderEvent) -> impl Future<Output = Result<(), PublishError>> + Send;
}

#[cfg(test)]
mod order_event_tests {
    use super::*;
    use crate::order::OrderItem;
    use crate::{Money, OrderState};

    #[test]
    fn only_a_change_to_one_of_the_six_statuses_makes_an_event() {
        use OrderStatus::*;
        assert_eq!(
            OrderEventType::of_transition(PendingPayment, Paid),
            Some(OrderEventType::Paid)
        );
        assert_eq!(
            OrderEventType::of_transition(InProduction, Shipped),
            Some(OrderEventType::Shipped)
        );
        assert_eq!(
            OrderEventType::of_transition(Paid, NeedsAttention),
            Some(OrderEventType::NeedsAttention)
        );
        assert_eq!(OrderEventType::of_transition(Paid, Paid), None);
        assert_eq!(OrderEventType::of_transition(Submitted, InProduction), None);
        assert_eq!(OrderEventType::of_transition(Shipped, Delivered), None);
        assert_eq!(OrderEventType::of_transition(PendingPayment, Expired), None);
        for t in OrderEventType::ALL {
            assert_eq!(OrderEventType::parse_detail_type(t.detail_type()), Some(t));
            assert!(t.detail_type().starts_with("Order "));
        }
    }

    fn order(email: Option<&str>) -> Order {
        let eur = Currency::parse("EUR").unwrap();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Order {
            id: OrderId::new_random(),
            number: 42,
            state: OrderState::NEW,
            items: vec![OrderItem {
                sku: Sku::parse("tee-black-m").unwrap(),
                name: "Tee".into(),
                size: "M".into(),
                quantity: 2,
                unit_price: Cents::positive(2500).unwrap(),
                printful_sync_variant_id: 1,
            }],
            total: Money::new(Cents::new(5000).unwrap(), eur),
            email: email.map(|e| Email::parse(e).unwrap()),
            stripe_session_id: None,
            stripe_payment_intent_id: None,
            printful_order_id: None,
            shipping: None,
            fulfillment_released_at: None,
            submit_started_at: None,
            work: crate::owed::WorkLog::default(),
            charged: None,
            stripe_fee: None,
            printful_costs: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn entry(order: &Order, event_type: OrderEventType) -> OutboxEntry {
        OutboxEntry {
            event_id: uuid::Uuid::new_v4(),
            order_id: order.id,
            event_type,
            at: DateTime::from_timestamp(1_700_000_100, 0).unwrap(),
            published_at: None,
            attempts: 0,
            last_error: None,
        }
    }

    fn parcel() -> ShipmentRecord {
        ShipmentRecord {
            provider_shipment_id: 9,
            carrier: "DHL".into(),
            service: "Standard".into(),
            tracking_number: "JJD000123".into(),
            tracking_url: "https://track.example/JJD000123".into(),
            shipped_at: None,
            reshipment: false,
        }
    }

    #[test]
    fn the_detail_has_minor_units_the_id_and_email_only_when_asked() {
        let order = order(Some("buyer@example.com"));
        let paid = entry(&order, OrderEventType::Paid);
        let event = OrderEvent::build(&paid, &order, &[parcel()], false).unwrap();
        let detail: serde_json::Value = serde_json::from_str(&event.detail_json()).unwrap();
        assert_eq!(detail["event_id"], paid.event_id.to_string());
        assert_eq!(detail["order_id"], order.id.to_string());
        assert_eq!(detail["order_number"], 42);
        assert_eq!(detail["status"], "paid");
        assert_eq!(detail["total"], serde_json::json!({"amount": 5000, "currency": "EUR"}));
        assert_eq!(detail["items"][0]["unit_price"]["amount"], 2500);
        assert_eq!(detail["items"][0]["line_total"]["amount"], 5000);
        assert!(detail.get("customer_email").is_none(), "{detail}");
        assert!(
            detail.get("tracking").is_none(),
            "only Order Shipped carries tracking: {detail}"
        );

        let with_email = OrderEvent::build(&paid, &order, &[], true).unwrap();
        assert_eq!(with_email.detail.customer_email.as_deref(), Some("buyer@example.com"));
    }

    #[test]
    fn a_shipped_event_carries_tracking() {
        let order = order(None);
        let shipped = entry(&order, OrderEventType::Shipped);
        let event = OrderEvent::build(&shipped, &order, &[parcel()], true).unwrap();
        assert_eq!(event.detail_type.detail_type(), "Order Shipped");
        assert_eq!(event.time, shipped.at);
        assert_eq!(
            event.detail.tracking,
            vec![EventTracking {
                carrier: "DHL".into(),
                number: "JJD000123".into(),
                url: "https://track.example/JJD000123".into(),
            }]
        );
        assert_eq!(event.detail.customer_email, None, "the order has no e-mail");
    }
}
