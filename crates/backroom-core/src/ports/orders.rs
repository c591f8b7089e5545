//! Orders: creating, reading and changing them, the inbox of provider events, the catch-up
//! cursors and what a payment says.

#[allow(unused_imports)]
use super::prelude::*;
use super::*;

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

/// A fact to apply to an order, with what comes with it.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    pub id: OrderId,
    pub fact: &'a Fact,
    pub cause: &'a Cause,
    /// The provider event that says it, marked processed in the same transaction.
    pub claim: Option<&'a EventClaim>,
    /// The payment's details, written whatever the state machine decides.
    pub details: Option<&'a PaymentDetails>,
    /// What Printful says of the order, written whatever the state machine decides. With it,
    /// the change applies only to an order backroom sent to Printful: any other is
    /// [`ApplyError::NotFound`] (a Printful order naming it was not made by backroom).
    pub printful: Option<&'a PrintfulUpdate>,
}

/// What a Printful order says, kept with ours.
#[derive(Clone, Debug, PartialEq)]
pub struct PrintfulUpdate {
    pub order_id: i64,
    /// Printful's bill, when it gave one.
    pub costs: Option<crate::earnings::PrintfulCosts>,
    pub shipments: Vec<ShipmentRecord>,
}

/// What a [`Change`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Changed {
    pub applied: Applied,
    /// The order as it is after the change; `None` when the event had already been processed
    /// (nothing was read or written).
    pub order: Option<Order>,
    /// The order event the change put in the outbox, to publish now.
    pub event: Option<super::OutboxEntry>,
    /// Earlier events of the order were still unpublished: publish them first, in order.
    pub outbox_behind: bool,
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

    /// [`OrderStore::apply_fact`] in the fewest round trips, for the worker: the payment's
    /// details (if any) written with the transition, and the order returned as it is after the
    /// change (read once, in the change's transaction), with the outbox entry the change made.
    fn apply_change(&self, change: Change<'_>) -> impl Future<Output = Result<Changed, ApplyError>> + Send;

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

/// What the payment provider says about a paid checkout, kept with the order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentDetails {
    pub payment_intent_id: Option<String>,
    pub email: Option<Email>,
    /// The shipping name and address, as the provider gave them.
    pub shipping: Option<crate::ShippingAddress>,
    /// What was charged, part by part.
    pub charged: Option<crate::order::Charged>,
    /// Stripe's fee for the payment, when it was booked.
    pub stripe_fee: Option<crate::Money>,
}
