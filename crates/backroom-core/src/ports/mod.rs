//! The capabilities the use cases need from the world, one small trait each, by concern.
//! backroom-db implements them on PostgreSQL / Aurora DSQL.

mod alerts;
mod catalog;
mod orders;
mod outbox;
mod queue;
mod reconcile;

pub use alerts::*;
pub use catalog::*;
pub use orders::*;
pub use outbox::*;
pub use queue::*;
pub use reconcile::*;

/// Which provider an event came from (defined with the providers' event kinds).
pub use crate::provider_events::EventSource;

/// What the concerns' files share.
mod prelude {
    pub(super) use crate::catalog::{Catalog, Variant};
    pub(super) use crate::ids::{Email, OrderId, Sku};
    pub(super) use crate::machine::{Cause, Fact, Refusal, Transition};
    pub(super) use crate::money::{Cents, Currency, MoneyError};
    pub(super) use crate::order::{NewOrderItem, Order, OrderStatus, OverOrderLimit, TimelineEntry};
    pub(super) use chrono::{DateTime, Utc};
    pub(super) use serde::Serialize;
    pub(super) use std::fmt;
    pub(super) use std::future::Future;
    pub(super) use std::time::Duration;
}

/// A failure of the store itself: worth retrying later, never the caller's fault.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] pub anyhow::Error);
