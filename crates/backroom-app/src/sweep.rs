//! Checkouts abandoned before their payment session existed. When the connection is lost at the
//! COMMIT of a checkout's order-and-holds transaction, the order and its stock holds may exist
//! while the buyer got an error and no Stripe session was ever made: nothing would ever end that
//! order, and its holds would count forever. The sweep ends such orders as failed checkouts once
//! they are older than any checkout request could be, which releases their stock.

use backroom_core::Cause;
use backroom_core::ports::{Applied, ApplyError, StoreError};
use backroom_db::Store;
use chrono::{DateTime, Utc};

/// How old a pending order without a payment session must be before the sweep ends it: far
/// longer than a checkout request (which attaches the session within seconds) can take.
pub const ABANDONED_CHECKOUT_GRACE: chrono::Duration = chrono::Duration::minutes(15);
/// Orders ended per run; the next run takes the rest.
pub const SWEEP_BATCH: i64 = 1000;

/// The cause the sweep's timeline entries carry.
pub fn sweep_cause() -> Cause {
    Cause::Catchup("abandoned_checkouts".into())
}

/// Applies `CheckoutFailed` to every pending order with no Stripe session created more than
/// [`ABANDONED_CHECKOUT_GRACE`] before `now`, releasing its stock. Returns how many orders it
/// ended; a second run over the same orders ends none.
pub async fn sweep_abandoned_checkouts(store: &Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let created_before = now - ABANDONED_CHECKOUT_GRACE;
    let cause = sweep_cause();
    let mut ended = 0;
    for id in store.sessionless_pending_orders(created_before, SWEEP_BATCH).await? {
        match store.fail_sessionless_order(id, created_before, &cause).await {
            Ok(Some(Applied::Transitioned(_))) => {
                ended += 1;
                tracing::warn!(order_id = %id, "ended a checkout that never got a payment session; its stock is released");
            }
            // It got a session or moved on since it was listed, or it is gone: nothing to do.
            Ok(_) | Err(ApplyError::NotFound(_)) => {}
            Err(ApplyError::Store(e)) => return Err(e),
        }
    }
    Ok(ended)
}
