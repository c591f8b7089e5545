//! Pending orders whose checkout never attached a payment session: what a lost COMMIT of the
//! order-and-holds transaction leaves behind. Ending one goes through the same fact-applying path
//! as every other fact (state machine, timeline, holds released), in a transaction that first
//! checks again, with the order row locked, that the order still qualifies.

use backroom_core::ports::{Applied, ApplyError};
use backroom_core::{Cause, Fact, OrderId, OrderStatus};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Store;
use super::orders::apply_in;
use crate::retry::TxError;
use crate::sql;

impl Store {
    /// Orders pending payment, with no Stripe session, created before `created_before`; oldest
    /// first, at most `limit`.
    pub async fn sessionless_pending_orders(
        &self,
        created_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OrderId>, backroom_core::ports::StoreError> {
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT id FROM orders WHERE status = $1 AND stripe_session_id IS NULL AND created_at < $2 \
                         ORDER BY created_at, id LIMIT $3",
                        &[&OrderStatus::PendingPayment.as_str(), &created_before, &limit],
                    )
                    .await?;
                    Ok(rows.iter().map(|r| OrderId::from_uuid(r.get::<_, Uuid>(0))).collect())
                })
            })
            .await?)
    }

    /// Applies `CheckoutFailed` to the order if it is still pending with no Stripe session and
    /// was created before `created_before`; `None` when it no longer qualifies (a session was
    /// attached, or it moved on). Idempotent: a second call finds it failed and does nothing.
    pub async fn fail_sessionless_order(
        &self,
        id: OrderId,
        created_before: DateTime<Utc>,
        cause: &Cause,
    ) -> Result<Option<Applied>, ApplyError> {
        let result = self
            .db
            .with_retry(|tx| {
                let cause = cause.clone();
                Box::pin(async move {
                    let qualifies = sql::query_opt(
                        tx,
                        "SELECT id FROM orders WHERE id = $1 AND status = $2 AND stripe_session_id IS NULL \
                         AND created_at < $3 FOR UPDATE",
                        &[&id.uuid(), &OrderStatus::PendingPayment.as_str(), &created_before],
                    )
                    .await?
                    .is_some();
                    if !qualifies {
                        return Ok(None);
                    }
                    apply_in(tx, id, &Fact::CheckoutFailed, &cause).await.map(Some)
                })
            })
            .await;
        match result {
            Ok(applied) => Ok(applied),
            Err(TxError::Abort(e)) => Err(e),
            Err(TxError::Db(e)) => Err(ApplyError::Store(e.into())),
        }
    }
}
