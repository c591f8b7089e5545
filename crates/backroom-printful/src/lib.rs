//! Printful for backroom: a small client of the v1 Orders API and the webhook helpers.
//!
//! The client speaks v1 (`https://api.printful.com/orders…`) because v1 is complete for what the
//! shop needs (sync variants, `@external_id` everywhere, cancel, a status filter on the list),
//! while the v2 Orders API is still a beta that lacks cancel and the status filter. Every answer
//! is read leniently: numbers may come as strings and strings as numbers, unknown fields are
//! ignored and an unknown order status is kept as [`Status::Other`], so that a change on
//! Printful's side degrades to a warning rather than to a stuck queue.
//!
//! Idempotency: Printful has no idempotency key. The shop's order id is the Printful
//! `external_id`, a duplicate create fails with OR-13 ([`PrintfulError::is_external_id_in_use`]),
//! and a create whose answer was lost is resolved by [`PrintfulClient::order_by_external_id`].
//! That is why the client never repeats a POST or a DELETE by itself: only GETs, and any request
//! refused with 429 (which Printful did not carry out), are retried.
//!
//! Two reads go beyond v1's orders: [`PrintfulClient::order_shipments`] reads v2's shipments,
//! the only place Printful says whether a package was delivered or came back, and
//! [`PrintfulClient::sync_products`] reads the store's products (v1), prices in minor units.
//!
//! Webhooks: [`webhook`] checks the secret URL token (v1 webhooks carry no signature) and the v2
//! `x-pf-webhook-signature`, and reads both payload shapes into one [`webhook::WebhookEvent`].

mod client;
mod error;
mod lenient;
mod model;
mod products;
pub mod v2;
pub mod webhook;

pub use client::{DEFAULT_API_BASE, PrintfulClient, PrintfulSettings};
pub use error::PrintfulError;
pub use model::{
    Costs, NewItem, NewOrder, Order, OrderItem, OrderPage, OrderRef, RateLimit, Recipient, RetailCosts, Shipment,
    Status, WebhookConfig, costs_from_json,
};
pub use products::{Availability, SyncProduct, SyncVariant, parse_price};
