//! The status an order shows: one word per stage, derived from the order's state parts by the
//! state machine and stored for querying.

use std::fmt;

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

impl OrderStatus {
    pub const ALL: [OrderStatus; 14] = [
        OrderStatus::PendingPayment,
        OrderStatus::Failed,
        OrderStatus::Expired,
        OrderStatus::PaymentFailed,
        OrderStatus::Paid,
        OrderStatus::Submitted,
        OrderStatus::InProduction,
        OrderStatus::OnHold,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Refunded,
        OrderStatus::Canceled,
        OrderStatus::NeedsAttention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Failed => "failed",
            OrderStatus::Expired => "expired",
            OrderStatus::PaymentFailed => "payment_failed",
            OrderStatus::Paid => "paid",
            OrderStatus::Submitted => "submitted",
            OrderStatus::InProduction => "in_production",
            OrderStatus::OnHold => "on_hold",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Canceled => "canceled",
            OrderStatus::NeedsAttention => "needs_attention",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
