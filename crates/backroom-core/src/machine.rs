//! The order state machine.
//!
//! An order's state is a product of small monotone parts: how far the payment got, how far the
//! fulfillment got, the newest Printful exception (hold or failure, by Printful's own time) and
//! whether the amount paid disagreed with the order. Applying a fact joins the part the fact
//! speaks about with the stored part, keeping the further one. A join is commutative, associative
//! and idempotent, so any sequence of provider facts, duplicated and in any order, ends in the
//! same state as the sorted, de-duplicated sequence, and nothing ever moves backwards. The
//! status an order shows (`OrderStatus`) is a view computed from those parts.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::{Cents, Currency, Money};
use crate::status::OrderStatus;

/// How far the payment got, in the order of precedence: a later variant wins a join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    Pending,
    CheckoutFailed,
    PaymentFailed,
    Expired,
    Paid,
    Refunded,
}

/// How far the Printful order got, in the order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfillment {
    None,
    Submitted,
    InProduction,
    PartiallyShipped,
    Shipped,
    Delivered,
    Canceled,
}

/// A Printful condition that needs someone at Printful before the order moves on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exception {
    Clear,
    OnHold,
    Failed,
}

// The words the store keeps for each part (the schema's CHECK constraints list the same).
crate::names::text_names! {
    Payment {
        Pending => "pending",
        CheckoutFailed => "checkout_failed",
        PaymentFailed => "payment_failed",
        Expired => "expired",
        Paid => "paid",
        Refunded => "refunded",
    }
}

crate::names::text_names! {
    Fulfillment {
        None => "none",
        Submitted => "submitted",
        InProduction => "in_production",
        PartiallyShipped => "partially_shipped",
        Shipped => "shipped",
        Delivered => "delivered",
        Canceled => "canceled",
    }
}

crate::names::text_names! {
    Exception {
        Clear => "clear",
        OnHold => "on_hold",
        Failed => "failed",
    }
}

/// The newest Printful observation's exception, stamped with Printful's time: the later stamp
/// wins a join (last writer wins, with the exception winning a tie).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PrintfulMark {
    pub at: DateTime<Utc>,
    pub exception: Exception,
}

/// Everything the machine knows about an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderState {
    pub payment: Payment,
    pub fulfillment: Fulfillment,
    pub mark: Option<PrintfulMark>,
    /// The buyer paid an amount or currency other than the order's total.
    pub amount_mismatch: bool,
    /// The owner looked at the mismatch and let the order go on (`backroom orders accept-amount`).
    #[serde(default)]
    pub amount_accepted: bool,
}

impl Default for OrderState {
    fn default() -> Self {
        OrderState::NEW
    }
}

/// Printful's order statuses (v1 API).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrintfulStatus {
    Draft,
    Pending,
    Failed,
    Canceled,
    Inprocess,
    Onhold,
    Partial,
    Fulfilled,
    Archived,
}

impl PrintfulStatus {
    pub fn parse(s: &str) -> Option<PrintfulStatus> {
        Some(match s {
            "draft" => PrintfulStatus::Draft,
            "pending" => PrintfulStatus::Pending,
            "failed" => PrintfulStatus::Failed,
            "canceled" | "cancelled" => PrintfulStatus::Canceled,
            "inprocess" => PrintfulStatus::Inprocess,
            "onhold" => PrintfulStatus::Onhold,
            "partial" => PrintfulStatus::Partial,
            "fulfilled" => PrintfulStatus::Fulfilled,
            "archived" => PrintfulStatus::Archived,
            _ => return None,
        })
    }
}

/// Something a provider (or the shop itself) says about an order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// Creating the payment session failed; the buyer was never sent to pay.
    CheckoutFailed,
    /// The buyer paid this amount (a completed and paid Checkout Session).
    PaymentSucceeded { amount: Cents, currency: Currency },
    /// An asynchronous payment method failed.
    PaymentFailed,
    /// The Checkout Session expired unpaid.
    SessionExpired,
    /// The payment has been refunded by this much in all so far.
    Refunded { amount_refunded: Cents },
    /// Printful reports this status for the order, as of `at` (Printful's time).
    Printful { status: PrintfulStatus, at: DateTime<Utc> },
    /// The carrier reports every package delivered, the last one at `at`
    /// ([`crate::delivery::verdict`] decides from the packages).
    Delivered { at: DateTime<Utc> },
    /// The owner reviewed an amount mismatch and accepted what was paid.
    AmountAccepted,
}

/// Why a fact changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("already known: the order is {current}")]
    Duplicate { current: OrderStatus },
    #[error("older than the stored state: the order is already {current}")]
    Stale { current: OrderStatus },
}

/// A change of state, with the status before and after (they may be equal when only a hidden
/// part moved, for example production progress while the order is on hold).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub state: OrderState,
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub detail: String,
}

/// The machine's answer to a fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The state moves forward.
    Apply(Transition),
    /// Nothing moves, but the fact belongs on the timeline (a partial refund, say).
    Note(String),
    /// Nothing moves and nothing is recorded.
    Refuse(Refusal),
}

/// Who or what caused a timeline entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    Checkout,
    StripeEvent(String),
    PrintfulEvent(String),
    /// A scheduled catch-up job, by name.
    Catchup(String),
    Reconciler,
    Fulfillment,
    Cli,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Checkout => f.write_str("checkout"),
            Cause::StripeEvent(id) => write!(f, "stripe_event:{id}"),
            Cause::PrintfulEvent(id) => write!(f, "printful_event:{id}"),
            Cause::Catchup(job) => write!(f, "catchup:{job}"),
            Cause::Reconciler => f.write_str("reconciler"),
            Cause::Fulfillment => f.write_str("fulfillment"),
            Cause::Cli => f.write_str("cli"),
        }
    }
}

impl Cause {
    pub fn parse(s: &str) -> Option<Cause> {
        let (kind, rest) = match s.split_once(':') {
            Some((k, r)) => (k, Some(r.to_string())),
            None => (s, None),
        };
        Some(match (kind, rest) {
            ("checkout", None) => Cause::Checkout,
            ("stripe_event", Some(id)) => Cause::StripeEvent(id),
            ("printful_event", Some(id)) => Cause::PrintfulEvent(id),
            ("catchup", Some(job)) => Cause::Catchup(job),
            ("reconciler", None) => Cause::Reconciler,
            ("fulfillment", None) => Cause::Fulfillment,
            ("cli", None) => Cause::Cli,
            _ => return None,
        })
    }
}

impl Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl OrderState {
    /// A new order, waiting for its payment.
    pub const NEW: OrderState = OrderState {
        payment: Payment::Pending,
        fulfillment: Fulfillment::None,
        mark: None,
        amount_mismatch: false,
        amount_accepted: false,
    };

    /// The least state that includes both: each part keeps the further of the two.
    pub fn join(self, other: OrderState) -> OrderState {
        OrderState {
            payment: self.payment.max(other.payment),
            fulfillment: self.fulfillment.max(other.fulfillment),
            mark: self.mark.max(other.mark),
            amount_mismatch: self.amount_mismatch || other.amount_mismatch,
            amount_accepted: self.amount_accepted || other.amount_accepted,
        }
    }

    /// Whether every part of `self` is at least as far as in `other`.
    pub fn covers(self, other: OrderState) -> bool {
        self.join(other) == self
    }

    /// The status shown for this state.
    pub fn status(self) -> OrderStatus {
        if self.payment == Payment::Refunded {
            return OrderStatus::Refunded;
        }
        if self.fulfillment == Fulfillment::Canceled {
            return OrderStatus::Canceled;
        }
        if !self.amount_ok() {
            return OrderStatus::NeedsAttention;
        }
        let unpaid = match self.payment {
            Payment::Pending => Some(OrderStatus::PendingPayment),
            Payment::CheckoutFailed => Some(OrderStatus::Failed),
            Payment::PaymentFailed => Some(OrderStatus::PaymentFailed),
            Payment::Expired => Some(OrderStatus::Expired),
            Payment::Paid | Payment::Refunded => None,
        };
        if let Some(status) = unpaid {
            // Printful knows an order nobody paid for: a human must look.
            return if self.fulfillment == Fulfillment::None {
                status
            } else {
                OrderStatus::NeedsAttention
            };
        }
        if self.fulfillment < Fulfillment::Shipped {
            match self.mark.map(|m| m.exception) {
                Some(Exception::Failed) => return OrderStatus::NeedsAttention,
                Some(Exception::OnHold) => return OrderStatus::OnHold,
                Some(Exception::Clear) | None => {}
            }
        }
        match self.fulfillment {
            Fulfillment::None => OrderStatus::Paid,
            Fulfillment::Submitted => OrderStatus::Submitted,
            Fulfillment::InProduction => OrderStatus::InProduction,
            Fulfillment::PartiallyShipped => OrderStatus::PartiallyShipped,
            Fulfillment::Shipped => OrderStatus::Shipped,
            Fulfillment::Delivered => OrderStatus::Delivered,
            Fulfillment::Canceled => OrderStatus::Canceled,
        }
    }

    /// Whether the amount paid agrees with the order, or the owner accepted it.
    pub fn amount_ok(self) -> bool {
        !self.amount_mismatch || self.amount_accepted
    }

    /// Whether the buyer's money was taken and not given back.
    pub fn is_paid(self) -> bool {
        self.payment == Payment::Paid
    }

    /// Applies a fact about an order whose total is `expected`.
    pub fn decide(self, expected: Money, fact: &Fact) -> Decision {
        let (delta, detail) = match effect(expected, fact) {
            Effect::State(delta, detail) => (delta, detail),
            Effect::Note(note) => return Decision::Note(note),
        };
        let next = self.join(delta);
        let current = self.status();
        if next == self {
            return Decision::Refuse(if delta.covers(self) {
                Refusal::Duplicate { current }
            } else {
                Refusal::Stale { current }
            });
        }
        Decision::Apply(Transition {
            state: next,
            from: current,
            to: next.status(),
            detail,
        })
    }
}

enum Effect {
    State(OrderState, String),
    Note(String),
}

/// The least state a fact proves, with a sentence for the timeline.
fn effect(expected: Money, fact: &Fact) -> Effect {
    let mut s = OrderState::NEW;
    let detail = match fact {
        Fact::CheckoutFailed => {
            s.payment = Payment::CheckoutFailed;
            "the payment session could not be created".to_string()
        }
        Fact::PaymentSucceeded { amount, currency } => {
            s.payment = Payment::Paid;
            let paid = Money::new(*amount, *currency);
            if paid != expected {
                s.amount_mismatch = true;
                format!("paid {paid}, but the order total is {expected}")
            } else {
                format!("paid {paid}")
            }
        }
        Fact::PaymentFailed => {
            s.payment = Payment::PaymentFailed;
            "the payment failed".to_string()
        }
        Fact::SessionExpired => {
            s.payment = Payment::Expired;
            "the checkout session expired unpaid".to_string()
        }
        Fact::Refunded { amount_refunded } => {
            let refunded = Money::new(*amount_refunded, expected.currency);
            if *amount_refunded < expected.amount {
                return Effect::Note(format!("partially refunded: {refunded} of {expected}"));
            }
            s.payment = Payment::Refunded;
            format!("refunded in full ({refunded})")
        }
        Fact::Delivered { at } => {
            s.fulfillment = Fulfillment::Delivered;
            format!("delivered on {}", at.format("%Y-%m-%d"))
        }
        Fact::AmountAccepted => {
            s.amount_accepted = true;
            "the owner accepted the amount paid".to_string()
        }
        Fact::Printful { status, at } => {
            let (fulfillment, exception) = match status {
                PrintfulStatus::Draft | PrintfulStatus::Pending => (Fulfillment::Submitted, Exception::Clear),
                PrintfulStatus::Inprocess => (Fulfillment::InProduction, Exception::Clear),
                PrintfulStatus::Onhold => (Fulfillment::Submitted, Exception::OnHold),
                PrintfulStatus::Failed => (Fulfillment::Submitted, Exception::Failed),
                PrintfulStatus::Partial => (Fulfillment::PartiallyShipped, Exception::Clear),
                PrintfulStatus::Fulfilled => (Fulfillment::Shipped, Exception::Clear),
                PrintfulStatus::Canceled => (Fulfillment::Canceled, Exception::Clear),
                PrintfulStatus::Archived => {
                    return Effect::Note("archived at Printful".to_string());
                }
            };
            s.fulfillment = fulfillment;
            s.mark = Some(PrintfulMark { at: *at, exception });
            format!("Printful reports the order {}", printful_word(*status))
        }
    };
    Effect::State(s, detail)
}

fn printful_word(status: PrintfulStatus) -> &'static str {
    match status {
        PrintfulStatus::Draft => "as a draft",
        PrintfulStatus::Pending => "pending",
        PrintfulStatus::Failed => "failed",
        PrintfulStatus::Canceled => "canceled",
        PrintfulStatus::Inprocess => "in production",
        PrintfulStatus::Onhold => "on hold",
        PrintfulStatus::Partial => "partially shipped",
        PrintfulStatus::Fulfilled => "shipped",
        PrintfulStatus::Archived => "archived",
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn eur(amount: i64) -> Money {
        Money::new(Cents::new(amount).unwrap(), Currency::parse("EUR").unwrap())
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn paid(amount: i64) -> Fact {
        Fact::PaymentSucceeded {
            amount: Cents::new(amount).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
        }
    }

    fn printful(status: PrintfulStatus, secs: i64) -> Fact {
        Fact::Printful { status, at: at(secs) }
    }

    /// Runs facts through the machine, returning the final state and the status after each step.
    fn run(facts: &[Fact]) -> (OrderState, Vec<OrderStatus>) {
        let mut state = OrderState::NEW;
        let mut seen = vec![];
        for f in facts {
            if let Decision::Apply(t) = state.decide(eur(5000), f) {
                assert_eq!(t.from, state.status());
                state = t.state;
            }
            seen.push(state.status());
        }
        (state, seen)
    }

    #[test]
    fn the_happy_path_walks_every_main_state() {
        use OrderStatus::*;
        let (_, seen) = run(&[
            paid(5000),
            printful(PrintfulStatus::Draft, 1),
            printful(PrintfulStatus::Inprocess, 2),
            printful(PrintfulStatus::Partial, 3),
            printful(PrintfulStatus::Fulfilled, 4),
            Fact::Delivered { at: at(5) },
        ]);
        assert_eq!(
            seen,
            [Paid, Submitted, InProduction, PartiallyShipped, Shipped, Delivered]
        );
    }

    #[test]
    fn an_expiry_after_payment_is_stale() {
        let (state, _) = run(&[paid(5000)]);
        assert_eq!(
            state.decide(eur(5000), &Fact::SessionExpired),
            Decision::Refuse(Refusal::Stale {
                current: OrderStatus::Paid
            })
        );
        assert_eq!(
            state.decide(eur(5000), &paid(5000)),
            Decision::Refuse(Refusal::Duplicate {
                current: OrderStatus::Paid
            })
        );
    }

    #[test]
    fn a_completed_payment_after_a_refund_does_not_revert_it() {
        let (state, _) = run(&[
            paid(5000),
            Fact::Refunded {
                amount_refunded: Cents::new(5000).unwrap(),
            },
        ]);
        assert_eq!(state.status(), OrderStatus::Refunded);
        assert!(matches!(
            state.decide(eur(5000), &paid(5000)),
            Decision::Refuse(Refusal::Stale { .. })
        ));
    }

    #[test]
    fn a_partial_refund_is_only_noted() {
        let (state, _) = run(&[paid(5000)]);
        match state.decide(
            eur(5000),
            &Fact::Refunded {
                amount_refunded: Cents::new(1000).unwrap(),
            },
        ) {
            Decision::Note(n) => assert_eq!(n, "partially refunded: 10.00 EUR of 50.00 EUR"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_wrong_amount_needs_attention() {
        let (state, _) = run(&[paid(4999)]);
        assert_eq!(state.status(), OrderStatus::NeedsAttention);
        assert!(state.is_paid());
        let other_currency = Fact::PaymentSucceeded {
            amount: Cents::new(5000).unwrap(),
            currency: Currency::parse("USD").unwrap(),
        };
        assert_eq!(run(&[other_currency]).0.status(), OrderStatus::NeedsAttention);
    }

    #[test]
    fn a_hold_is_released_by_a_newer_printful_status_and_not_by_an_older_one() {
        let (state, seen) = run(&[
            paid(5000),
            printful(PrintfulStatus::Inprocess, 10),
            printful(PrintfulStatus::Onhold, 20),
            printful(PrintfulStatus::Pending, 15),
        ]);
        assert_eq!(seen[2], OrderStatus::OnHold);
        assert_eq!(
            state.status(),
            OrderStatus::OnHold,
            "an older status leaves the hold in place"
        );
        let (state, _) = run(&[
            paid(5000),
            printful(PrintfulStatus::Onhold, 20),
            printful(PrintfulStatus::Inprocess, 30),
        ]);
        assert_eq!(state.status(), OrderStatus::InProduction);
    }

    #[test]
    fn printful_failure_needs_attention_until_printful_moves_on() {
        let (state, _) = run(&[paid(5000), printful(PrintfulStatus::Failed, 1)]);
        assert_eq!(state.status(), OrderStatus::NeedsAttention);
        let (state, _) = run(&[
            paid(5000),
            printful(PrintfulStatus::Failed, 1),
            printful(PrintfulStatus::Pending, 2),
        ]);
        assert_eq!(state.status(), OrderStatus::Submitted);
    }

    #[test]
    fn printful_knowing_an_unpaid_order_needs_attention() {
        let (state, _) = run(&[printful(PrintfulStatus::Pending, 1)]);
        assert_eq!(state.status(), OrderStatus::NeedsAttention);
    }

    #[test]
    fn unpaid_endings() {
        assert_eq!(run(&[Fact::SessionExpired]).0.status(), OrderStatus::Expired);
        assert_eq!(run(&[Fact::PaymentFailed]).0.status(), OrderStatus::PaymentFailed);
        assert_eq!(run(&[Fact::CheckoutFailed]).0.status(), OrderStatus::Failed);
        // A late payment after an expiry still counts: the money was taken.
        assert_eq!(run(&[Fact::SessionExpired, paid(5000)]).0.status(), OrderStatus::Paid);
    }

    #[test]
    fn cancellation_and_refund_win() {
        let (state, _) = run(&[
            paid(5000),
            printful(PrintfulStatus::Canceled, 5),
            printful(PrintfulStatus::Inprocess, 9),
        ]);
        assert_eq!(state.status(), OrderStatus::Canceled);
        let (state, _) = run(&[
            paid(5000),
            printful(PrintfulStatus::Fulfilled, 5),
            Fact::Refunded {
                amount_refunded: Cents::new(5000).unwrap(),
            },
        ]);
        assert_eq!(state.status(), OrderStatus::Refunded);
    }

    #[test]
    fn causes_round_trip() {
        for c in [
            Cause::Checkout,
            Cause::StripeEvent("evt_1".into()),
            Cause::PrintfulEvent("package_shipped:42".into()),
            Cause::Catchup("stripe".into()),
            Cause::Reconciler,
            Cause::Fulfillment,
            Cause::Cli,
        ] {
            assert_eq!(Cause::parse(&c.to_string()), Some(c));
        }
        assert_eq!(Cause::parse("nobody"), None);
    }
}
