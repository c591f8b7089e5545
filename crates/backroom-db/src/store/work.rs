//! The book-keeping of owed work (`backroom_core::owed`): which orders may owe something, when
//! a Printful create was started, and the attempts' back-off. What is owed is never stored: it
//! follows from the order's state.

use backroom_core::owed::{CREATE_SETTLES_AFTER, WorkLog};
use backroom_core::ports::StoreError;
use backroom_core::{Order, OrderId};
use chrono::{DateTime, Utc};

use super::orders::load_orders;
use super::{Store, store_err};
use crate::sql;

impl Store {
    /// The orders whose state may owe work: paid and not at Printful, or refunded while Printful
    /// has (or may have) the order before production. The caller decides with
    /// `backroom_core::owed::owed`, which also knows about a paused fulfillment.
    pub async fn orders_that_may_owe_work(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Order>, StoreError> {
        let limit = i64::from(limit);
        let settled = now - CREATE_SETTLES_AFTER;
        Ok(self
            .db()
            .read(|c| {
                Box::pin(async move {
                    load_orders(
                        c,
                        "WHERE status IN ('paid', 'refunded') AND fulfillment IN ('none', 'submitted') \
                         AND (payment = 'paid' OR fulfillment = 'submitted' OR submit_started_at > $1) \
                         ORDER BY updated_at, id LIMIT $2",
                        &[&settled, &limit],
                    )
                    .await
                })
            })
            .await?)
    }

    /// Notes, before the first Printful create, that backroom is creating this order there: a
    /// Printful order naming it is then ours, even when the create's answer is lost.
    pub async fn mark_submit_started(&self, id: OrderId) -> Result<(), StoreError> {
        self.db()
            .with_retry(|tx| {
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "UPDATE orders SET submit_started_at = now() WHERE id = $1 AND submit_started_at IS NULL",
                        &[&id.uuid()],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    /// Stores the attempts' log after a failed attempt (see `owed::after_failure`).
    pub async fn record_work_failure(&self, id: OrderId, log: &WorkLog) -> Result<(), StoreError> {
        self.db()
            .with_retry(|tx| {
                let log = log.clone();
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "UPDATE orders SET work_attempts = $2, work_due_at = $3, work_failing_since = $4, work_error = $5 \
                         WHERE id = $1",
                        &[&id.uuid(), &log.attempts, &log.due_at, &log.failing_since, &log.last_error],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    /// Forgets the failures after an attempt that succeeded (a no-op when there were none).
    pub async fn clear_work_failures(&self, id: OrderId) -> Result<(), StoreError> {
        self.db()
            .with_retry(|tx| {
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "UPDATE orders SET work_attempts = NULL, work_due_at = NULL, work_failing_since = NULL, \
                         work_error = NULL WHERE id = $1 AND work_attempts IS NOT NULL",
                        &[&id.uuid()],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }
}

impl Store {
    /// Orders still on their way at Printful (submitted, in production, on hold, partially
    /// shipped, or needing attention), in id order after `after`: the Printful catch-up pages
    /// through them and remembers where it stopped.
    pub async fn orders_in_flight_after(&self, after: Option<OrderId>, limit: u32) -> Result<Vec<Order>, StoreError> {
        let limit = i64::from(limit);
        let after = after.map_or(uuid::Uuid::nil(), OrderId::uuid);
        Ok(self
            .db()
            .read(|c| {
                Box::pin(async move {
                    load_orders(
                        c,
                        "WHERE status IN ('submitted', 'in_production', 'on_hold', 'partially_shipped', 'needs_attention') \
                         AND id > $1 ORDER BY id LIMIT $2",
                        &[&after, &limit],
                    )
                    .await
                })
            })
            .await?)
    }
}
