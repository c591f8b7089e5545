//! The reconciler's findings and runs.

#[allow(unused_imports)]
use super::prelude::*;
use super::*;

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

crate::names::text_names! {
    DiscrepancyKind {
        MissingOrder => "missing_order",
        AmountMismatch => "amount_mismatch",
        UnknownStripeSession => "unknown_stripe_session",
        NotSubmitted => "not_submitted",
        UnknownPrintfulOrder => "unknown_printful_order",
        StatusBehind => "status_behind",
        WebhookMisconfigured => "webhook_misconfigured",
        PaidHereNotAtStripe => "paid_here_not_at_stripe",
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
