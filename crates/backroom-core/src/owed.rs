//! What an order owes the outside world, derived from its committed state.
//!
//! Nothing here remembers that an effect was "scheduled": whether a Printful order must still be
//! created and confirmed, or cancelled after a full refund, follows from the order's state parts
//! alone. The worker attempts the work right after the commit that made it owed; the scheduled
//! jobs find every order that still owes something and attempt it again, with back-off, until
//! the state says nothing is owed. A redelivered event is therefore never the only way back to
//! an effect. The store keeps only the book-keeping of attempts (`WorkLog`).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::machine::{Fulfillment, Payment};
use crate::order::Order;
pub use crate::order::WorkLog;

/// A piece of work an order owes Printful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// Paid and not yet at Printful: create the order (or adopt it) and confirm it.
    Submit,
    /// Refunded in full while Printful may still have it before production: cancel it there.
    Cancel,
}

crate::names::text_names! {
    Work {
        Submit => "submit",
        Cancel => "cancel",
    }
}

/// How long after backroom started a Printful create a refunded order keeps looking for the
/// Printful order that create may have made. A create answers (or times out) within a minute;
/// an order that appears later still is found by the Printful catch-up's scan and cancelled.
pub const CREATE_SETTLES_AFTER: Duration = Duration::hours(1);

/// The first retry waits this long; each failure doubles it, up to `MAX_BACKOFF`.
pub const FIRST_BACKOFF: Duration = Duration::minutes(1);
pub const MAX_BACKOFF: Duration = Duration::hours(1);

/// Work that has failed for this long is news: the owner is told.
pub const ALERT_AFTER: Duration = Duration::hours(1);

/// What the order owes now. `paused` is `FULFILLMENT_PAUSED`: a paid order then waits until the
/// owner releases it.
pub fn owed(order: &Order, paused: bool, now: DateTime<Utc>) -> Option<Work> {
    let state = order.state;
    match state.payment {
        Payment::Paid => {
            let submit = state.fulfillment == Fulfillment::None
                && state.amount_ok()
                && (!paused || order.fulfillment_released_at.is_some());
            submit.then_some(Work::Submit)
        }
        Payment::Refunded => {
            let cancel = match state.fulfillment {
                // Printful has it and it may still be stopped (pending, on hold or failed).
                Fulfillment::Submitted => true,
                // Printful may have it: a create was started and its answer not yet recorded.
                Fulfillment::None => order
                    .submit_started_at
                    .is_some_and(|at| now.signed_duration_since(at) < CREATE_SETTLES_AFTER),
                _ => false,
            };
            cancel.then_some(Work::Cancel)
        }
        Payment::Pending | Payment::CheckoutFailed | Payment::PaymentFailed | Payment::Expired => None,
    }
}

/// Whether the owed work may be attempted now (its back-off has passed).
pub fn is_due(log: &WorkLog, now: DateTime<Utc>) -> bool {
    log.due_at.is_none_or(|due| due <= now)
}

/// The log after one more failed attempt at `now`.
pub fn after_failure(log: &WorkLog, error: &str, now: DateTime<Utc>) -> WorkLog {
    let attempts = log.attempts.saturating_add(1);
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(16);
    let backoff = FIRST_BACKOFF
        .checked_mul(2i32.saturating_pow(exponent))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    WorkLog {
        attempts,
        due_at: Some(now + backoff),
        failing_since: Some(log.failing_since.unwrap_or(now)),
        last_error: Some(error.chars().take(500).collect()),
    }
}

/// Whether a run of failures has lasted long enough to tell the owner.
pub fn is_news(log: &WorkLog, now: DateTime<Utc>) -> bool {
    log.failing_since
        .is_some_and(|since| now.signed_duration_since(since) >= ALERT_AFTER)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::machine::OrderState;
    use crate::money::{Cents, Currency, Money};
    use crate::{OrderId, ids::Email};

    fn at(mins: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000, 0).unwrap() + Duration::minutes(mins)
    }

    fn order(payment: Payment, fulfillment: Fulfillment) -> Order {
        Order {
            id: OrderId::new_random(),
            number: 1,
            state: OrderState {
                payment,
                fulfillment,
                mark: None,
                amount_mismatch: false,
                amount_accepted: false,
            },
            items: vec![],
            total: Money::new(Cents::new(100).unwrap(), Currency::parse("EUR").unwrap()),
            email: Email::parse("a@example.com").ok(),
            stripe_session_id: None,
            stripe_payment_intent_id: None,
            printful_order_id: None,
            shipping: None,
            fulfillment_released_at: None,
            submit_started_at: None,
            work: WorkLog::default(),
            charged: None,
            stripe_fee: None,
            printful_costs: None,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    #[test]
    fn a_paid_order_owes_its_submission_until_printful_has_it() {
        let o = order(Payment::Paid, Fulfillment::None);
        assert_eq!(owed(&o, false, at(0)), Some(Work::Submit));
        assert_eq!(owed(&o, true, at(0)), None, "paused and not released");
        let released = Order {
            fulfillment_released_at: Some(at(0)),
            ..o.clone()
        };
        assert_eq!(owed(&released, true, at(0)), Some(Work::Submit));
        for f in [
            Fulfillment::Submitted,
            Fulfillment::InProduction,
            Fulfillment::Shipped,
            Fulfillment::Canceled,
        ] {
            assert_eq!(owed(&order(Payment::Paid, f), false, at(0)), None, "{f:?}");
        }
        let mut mismatch = order(Payment::Paid, Fulfillment::None);
        mismatch.state.amount_mismatch = true;
        assert_eq!(owed(&mismatch, false, at(0)), None);
        mismatch.state.amount_accepted = true;
        assert_eq!(
            owed(&mismatch, false, at(0)),
            Some(Work::Submit),
            "accepted by the owner"
        );
    }

    #[test]
    fn a_refund_owes_a_cancel_while_printful_may_still_stop_it() {
        assert_eq!(
            owed(&order(Payment::Refunded, Fulfillment::Submitted), false, at(0)),
            Some(Work::Cancel)
        );
        for f in [Fulfillment::InProduction, Fulfillment::Shipped, Fulfillment::Canceled] {
            assert_eq!(owed(&order(Payment::Refunded, f), false, at(0)), None, "{f:?}");
        }
        // Never sent to Printful: nothing to cancel.
        assert_eq!(owed(&order(Payment::Refunded, Fulfillment::None), false, at(0)), None);
        // A create was started: look for what it made, for a while.
        let mut started = order(Payment::Refunded, Fulfillment::None);
        started.submit_started_at = Some(at(0));
        assert_eq!(owed(&started, false, at(10)), Some(Work::Cancel));
        assert_eq!(owed(&started, false, at(61)), None);
    }

    #[test]
    fn unpaid_orders_owe_nothing() {
        for p in [
            Payment::Pending,
            Payment::CheckoutFailed,
            Payment::PaymentFailed,
            Payment::Expired,
        ] {
            assert_eq!(owed(&order(p, Fulfillment::None), false, at(0)), None);
            assert_eq!(owed(&order(p, Fulfillment::Submitted), false, at(0)), None);
        }
    }

    #[test]
    fn failures_back_off_and_become_news_after_an_hour() {
        let mut log = WorkLog::default();
        assert!(is_due(&log, at(0)));
        let mut waits = vec![];
        let mut now = at(0);
        for _ in 0..10 {
            log = after_failure(&log, "Printful answered 500", now);
            let wait = log.due_at.unwrap().signed_duration_since(now).num_minutes();
            waits.push(wait);
            assert!(!is_due(&log, now));
            now = log.due_at.unwrap();
            assert!(is_due(&log, now));
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(log.attempts, 10);
        assert_eq!(log.failing_since, Some(at(0)));
        let first = after_failure(&WorkLog::default(), "x", at(0));
        assert!(!is_news(&first, at(59)));
        assert!(is_news(&first, at(60)));
        assert!(!is_news(&WorkLog::default(), at(1000)));
    }
}
