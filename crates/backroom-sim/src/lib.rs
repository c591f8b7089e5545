//! Faithful local simulators of the providers' APIs, for `backroom dev` and tests: stateful,
//! in memory, speaking the same HTTP, JSON and webhook signatures as the real services, so that
//! the production clients and verifiers run unchanged against them.
//!
//! Each provider lives in its own module with its own router; `backroom dev` nests each router
//! under `/sim/<provider>`.

// The Stripe objects are large `json!` literals, past the default macro recursion limit.
#![recursion_limit = "256"]

pub mod printful;
mod sender;
pub mod stripe;

pub use stripe::{Delivery, RecordedRequest, SimError, StripeSim, StripeSimConfig};
