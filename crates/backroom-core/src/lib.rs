//! The shop's domain, with no I/O: money, parsed identifiers, the catalog, orders and the order
//! state machine. Everything outside this crate talks to the world; everything inside is pure and
//! tested without a network or a database.

pub mod address;
pub mod catalog;
pub mod cost;
pub mod delivery;
pub mod earnings;
pub mod ids;
pub mod machine;
pub mod money;
mod names;
pub mod order;
pub mod owed;
pub mod ports;
pub mod pricing;
pub mod provider_events;
pub mod shipping;
pub mod status;
pub mod stuck;

pub use address::ShippingAddress;
pub use catalog::{Catalog, CatalogError, Product, Variant};
pub use ids::{Email, OrderId, Sku};
pub use machine::{Cause, Decision, Fact, OrderState, PrintfulStatus, Refusal, Transition};
pub use money::{Cents, Currency, Money, MoneyError};
pub use order::{NewOrderItem, Order, OrderItem, OrderStatus, TimelineEntry};
pub use provider_events::{EventSource, PrintfulEventKind, StripeEventKind};
pub use shipping::{ShippingError, ShippingOption, ShippingZone};
