//! Stripe for backroom: checkout sessions and the reads the workers, catch-up and the
//! reconciler need (through async-stripe, pinned to one API version), and webhook signature
//! verification on raw bytes (hand-written, several secrets).
//!
//! Nothing here trusts a webhook body for money: `webhook` only proves who sent an event and
//! reads its envelope; the workers re-read the object with [`StripeClient`].

mod client;
mod error;
mod types;
pub mod webhook;

pub use client::{StripeClient, StripeSettings, idempotency_key};
pub use error::StripeError;
pub use types::{
    Charge, CheckoutLine, CheckoutRequest, CheckoutSession, CreatedSession, Dispute, EventSummary, Evidence, Fee,
    PaymentStatus, SessionLineItem, SessionStatus, ShippingDetails, WebhookEndpoint,
};

/// The Stripe API version every request is sent with. It is the one async-stripe pins (the
/// client sends it as `Stripe-Version` and parses responses in its shape); the webhook
/// endpoint must be created with the same `api_version`.
pub const API_VERSION: &str = "2026-09-30.endive";

/// The Stripe events backroom handles: the one list the webhook route filters by, the worker
/// dispatches on (exhaustively, so a new kind cannot be left unhandled), the catch-up lists, the
/// setup subscribes to and the simulator delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StripeEventKind {
    SessionCompleted,
    AsyncPaymentSucceeded,
    AsyncPaymentFailed,
    SessionExpired,
    ChargeRefunded,
    DisputeCreated,
}

impl StripeEventKind {
    pub const ALL: [StripeEventKind; 6] = [
        StripeEventKind::SessionCompleted,
        StripeEventKind::AsyncPaymentSucceeded,
        StripeEventKind::AsyncPaymentFailed,
        StripeEventKind::SessionExpired,
        StripeEventKind::ChargeRefunded,
        StripeEventKind::DisputeCreated,
    ];

    /// Stripe's name of the event type.
    pub const fn as_str(self) -> &'static str {
        match self {
            StripeEventKind::SessionCompleted => "checkout.session.completed",
            StripeEventKind::AsyncPaymentSucceeded => "checkout.session.async_payment_succeeded",
            StripeEventKind::AsyncPaymentFailed => "checkout.session.async_payment_failed",
            StripeEventKind::SessionExpired => "checkout.session.expired",
            StripeEventKind::ChargeRefunded => "charge.refunded",
            StripeEventKind::DisputeCreated => "charge.dispute.created",
        }
    }

    /// The kind of a Stripe event type; `None` for a type backroom does not handle.
    pub fn parse(event_type: &str) -> Option<StripeEventKind> {
        StripeEventKind::ALL.into_iter().find(|k| k.as_str() == event_type)
    }
}

/// The event types backroom subscribes to and handles: [`StripeEventKind::ALL`]'s names.
pub const HANDLED_EVENT_TYPES: [&str; StripeEventKind::ALL.len()] = {
    let mut names = [""; StripeEventKind::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = StripeEventKind::ALL[i].as_str();
        i += 1;
    }
    names
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_pinned_version_is_the_one_async_stripe_sends() {
        assert_eq!(super::API_VERSION, stripe_shared::version::VERSION.as_str());
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in super::StripeEventKind::ALL {
            assert_eq!(super::StripeEventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(super::HANDLED_EVENT_TYPES.len(), super::StripeEventKind::ALL.len());
        assert_eq!(super::StripeEventKind::parse("charge.succeeded"), None);
    }
}
