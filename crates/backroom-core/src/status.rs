//! The status an order shows: one word per stage, derived from the order's state parts by the
//! state machine and stored for querying.

use serde::{Deserialize, Serialize};

/// The status an order shows: a view over [`OrderState`], stored for querying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    /// The checkout could not create a payment session; nothing was charged.
    Failed,
    Expired,
    PaymentFailed,
    Paid,
    Submitted,
    InProduction,
    OnHold,
    PartiallyShipped,
    Shipped,
    Delivered,
    Refunded,
    Canceled,
    NeedsAttention,
}

crate::names::text_names! {
    OrderStatus {
        PendingPayment => "pending_payment",
        Failed => "failed",
        Expired => "expired",
        PaymentFailed => "payment_failed",
        Paid => "paid",
        Submitted => "submitted",
        InProduction => "in_production",
        OnHold => "on_hold",
        PartiallyShipped => "partially_shipped",
        Shipped => "shipped",
        Delivered => "delivered",
        Refunded => "refunded",
        Canceled => "canceled",
        NeedsAttention => "needs_attention",
    }
}
