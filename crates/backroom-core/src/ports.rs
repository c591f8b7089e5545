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
use crate::money::MoneyError;
use crate::order::{NewOrderItem, Order, OrderStatus, TimelineEntry};

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
}

pub trait CatalogStore: Send + Sync {
    fn sync_catalog(&self, catalog: &Catalog) -> impl Future<Output = Result<SyncReport, StoreError>> + Send;
    /// In catalog order, active and inactive.
    fn catalog(&self) -> impl Future<Output = Result<Vec<CatalogEntry>, StoreError>> + Send;
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
