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
    PaymentStatus, SessionLineItem, SessionStatus, WebhookEndpoint,
};

/// The Stripe API version every request is sent with. It is the one async-stripe pins (the
/// client sends it as `Stripe-Version` and parses responses in its shape); the webhook
/// endpoint must be created with the same `api_version`.
pub const API_VERSION: &str = "2026-09-30.endive";

#[cfg(test)]
mod tests {
    #[test]
    fn the_pinned_version_is_the_one_async_stripe_sends() {
        assert_eq!(super::API_VERSION, stripe_shared::version::VERSION.as_str());
    }
}
