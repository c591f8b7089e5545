//! When an order is stuck: each stage has a deadline, counted from the order's creation (a
//! pending payment, whose checkout expires) or from its last change (every later stage). The
//! watchdog alerts on it, `backroom status` and the digest list it, and the database query that
//! finds candidates uses the same instants.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::status::OrderStatus;

/// How long the buyer has to pay. Stripe's minimum for `expires_at` is 30 minutes after the
/// session is created; the extra minute keeps a request that crosses a second boundary (or meets
/// a little clock skew) from being refused.
pub const SESSION_LIFETIME: chrono::Duration = chrono::Duration::minutes(31);

/// How long an order may stay in each stage before someone should look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlines {
    pub paid_to_submitted: Duration,
    pub submitted_to_production: Duration,
    pub production_to_shipped: Duration,
    /// After the checkout session's expiry, how long a pending payment may stay pending.
    pub pending_after_expiry: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            paid_to_submitted: Duration::from_secs(15 * 60),
            submitted_to_production: Duration::from_secs(48 * 3600),
            production_to_shipped: Duration::from_secs(10 * 24 * 3600),
            pending_after_expiry: Duration::from_secs(3600),
        }
    }
}

/// The stages that have a deadline.
pub const WATCHED: [OrderStatus; 4] = [
    OrderStatus::PendingPayment,
    OrderStatus::Paid,
    OrderStatus::Submitted,
    OrderStatus::InProduction,
];

/// Whether a stage's wait counts from the order's creation rather than its last change.
pub fn counts_from_creation(status: OrderStatus) -> bool {
    status == OrderStatus::PendingPayment
}

/// How long an order may wait in `status`; `None` for stages without a deadline.
pub fn allowed_wait(status: OrderStatus, d: &Deadlines) -> Option<chrono::Duration> {
    let c = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    match status {
        OrderStatus::PendingPayment => Some(SESSION_LIFETIME + c(d.pending_after_expiry)),
        OrderStatus::Paid => Some(c(d.paid_to_submitted)),
        OrderStatus::Submitted => Some(c(d.submitted_to_production)),
        OrderStatus::InProduction => Some(c(d.production_to_shipped)),
        _ => None,
    }
}

/// Since when an order in `status` waits, and from when it is overdue; `None` for stages
/// without a deadline.
pub fn deadline(
    status: OrderStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    d: &Deadlines,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let wait = allowed_wait(status, d)?;
    let since = if counts_from_creation(status) {
        created_at
    } else {
        updated_at
    };
    Some((since, since.checked_add_signed(wait).unwrap_or(since)))
}

/// Whether the order is past its stage's deadline at `now`.
pub fn is_stuck(
    status: OrderStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    d: &Deadlines,
    now: DateTime<Utc>,
) -> bool {
    deadline(status, created_at, updated_at, d).is_some_and(|(_, at)| now > at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_counts_from_creation_and_later_stages_from_the_last_change() {
        let d = Deadlines::default();
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let later = t0 + chrono::Duration::hours(5);
        let (since, at) = deadline(OrderStatus::PendingPayment, t0, later, &d).unwrap();
        assert_eq!((since, at), (t0, t0 + SESSION_LIFETIME + chrono::Duration::hours(1)));
        let (since, at) = deadline(OrderStatus::Paid, t0, later, &d).unwrap();
        assert_eq!((since, at), (later, later + chrono::Duration::minutes(15)));
        assert!(!is_stuck(
            OrderStatus::Paid,
            t0,
            later,
            &d,
            later + chrono::Duration::minutes(15)
        ));
        assert!(is_stuck(
            OrderStatus::Paid,
            t0,
            later,
            &d,
            later + chrono::Duration::minutes(16)
        ));
        assert_eq!(deadline(OrderStatus::Shipped, t0, later, &d), None);
        for s in WATCHED {
            assert!(allowed_wait(s, &d).is_some(), "{s}");
        }
    }
}
