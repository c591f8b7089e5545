//! Buyer data forgotten: `backroom orders forget ID` erases an order's buyer data (email,
//! shipping name and address, and their copies in the timeline, alerts and reconciler reports;
//! see backroom_db::store::forget) and keeps amounts, items, parcels and the timeline. With
//! `BUYER_DATA_RETENTION_DAYS` set, the scheduled Printful catch-up forgets every order that
//! long after its delivery or cancellation.

use backroom_core::{Cause, OrderId, OrderStatus};
use backroom_db::Store;
pub use backroom_db::store::forget::Forgotten;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Orders whose buyer data may go: nothing more will be sent to the buyer or to Printful.
/// An order on its way (paid, at Printful, on hold, needing attention) or waiting for its
/// payment still needs the address.
pub const FORGETTABLE: &[OrderStatus] = &[
    OrderStatus::Shipped,
    OrderStatus::Delivered,
    OrderStatus::Canceled,
    OrderStatus::Refunded,
    OrderStatus::Expired,
    OrderStatus::Failed,
    OrderStatus::PaymentFailed,
];

/// Orders forgotten per sweep run at most (one transaction each).
pub const SWEEP_LIMIT: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error("there is no order {0}")]
    NotFound(OrderId),
    #[error("order {0} is {1}: it still needs the buyer's address; forget it once it has shipped or been canceled")]
    InFlight(OrderId, OrderStatus),
    #[error(transparent)]
    Store(#[from] backroom_core::ports::StoreError),
}

/// Forgets one order's buyer data; `Ok(false)` when it was forgotten before.
pub async fn forget(store: &Store, id: OrderId, cause: &Cause) -> Result<bool, ForgetError> {
    match store.forget_buyer(id, FORGETTABLE, cause).await? {
        Forgotten::Now => {
            tracing::info!(order_id = %id, %cause, "the buyer's data was forgotten");
            Ok(true)
        }
        Forgotten::Already => Ok(false),
        Forgotten::Refused(status) => Err(ForgetError::InFlight(id, status)),
        Forgotten::NotFound => Err(ForgetError::NotFound(id)),
    }
}

/// What a retention sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Retention {
    /// The setting, in days; `None` when retention is off (nothing is forgotten).
    pub days: Option<u32>,
    pub forgotten: usize,
    pub failed: usize,
}

/// Forgets every order past its retention (`days` after delivery or cancellation). Off when
/// `days` is `None`.
pub async fn sweep_retention(store: &Store, days: Option<u32>, now: DateTime<Utc>) -> Result<Retention, ForgetError> {
    let mut report = Retention {
        days,
        ..Retention::default()
    };
    let Some(days) = days else { return Ok(report) };
    let before = now - chrono::Duration::days(i64::from(days));
    let cause = Cause::Catchup("retention".into());
    for id in store.orders_past_retention(before, SWEEP_LIMIT).await? {
        match forget(store, id, &cause).await {
            Ok(true) => report.forgotten += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(order_id = %id, error = %e, "the retention sweep could not forget an order");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}
