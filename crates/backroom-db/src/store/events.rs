//! The order-event outbox. Rows are written by `apply_in` in the transaction of the transition;
//! here they are read for publishing and marked once the bus took them.

use backroom_core::OrderId;
use backroom_core::ports::{OrderEventStore, OrderEventType, OutboxEntry, StoreError};
use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use super::{Store, store_err};
use crate::error::DbError;
use crate::sql;

const COLUMNS: &str = "id, order_id, detail_type, at, published_at, attempts, last_error";

/// Records the event of a transition, if it makes one, inside the caller's transaction: the
/// outbox row carries the timeline entry's id and time.
pub(crate) async fn record_in<C: GenericClient>(
    tx: &C,
    timeline_id: Uuid,
    event_type: OrderEventType,
) -> Result<(), DbError> {
    sql::execute(
        tx,
        "INSERT INTO order_events (id, order_id, detail_type, at) \
         SELECT id, order_id, $2, at FROM order_timeline WHERE id = $1 ON CONFLICT (id) DO NOTHING",
        &[&timeline_id, &event_type.detail_type()],
    )
    .await?;
    Ok(())
}

impl OrderEventStore for Store {
    async fn unpublished_events(
        &self,
        order: Option<OrderId>,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let limit = i64::from(limit);
        let order = order.map(OrderId::uuid);
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows =
                        match order {
                            Some(id) => sql::query(
                                c,
                                &format!(
                                    "SELECT {COLUMNS} FROM order_events WHERE order_id = $1 AND published_at IS NULL \
                                     AND ($2::timestamptz IS NULL OR at <= $2) ORDER BY at, id LIMIT $3"
                                ),
                                &[&id, &before, &limit],
                            )
                            .await?,
                            None => {
                                sql::query(
                                    c,
                                    &format!(
                                        "SELECT {COLUMNS} FROM order_events WHERE published_at IS NULL \
                                         AND ($1::timestamptz IS NULL OR at <= $1) ORDER BY at, id LIMIT $2"
                                    ),
                                    &[&before, &limit],
                                )
                                .await?
                            }
                        };
                    rows.iter().map(entry_from).collect()
                })
            })
            .await?)
    }

    async fn mark_published(&self, event_id: Uuid) -> Result<bool, StoreError> {
        Ok(self
            .db
            .write_alone(|c| {
                Box::pin(async move {
                    let n = sql::execute(
                        c,
                        "UPDATE order_events SET published_at = now() WHERE id = $1 AND published_at IS NULL",
                        &[&event_id],
                    )
                    .await?;
                    Ok(n == 1)
                })
            })
            .await?)
    }

    async fn record_publish_failure(&self, event_id: Uuid, error: &str) -> Result<(), StoreError> {
        let error: String = error.chars().take(1000).collect();
        self.db
            .with_retry(|tx| {
                let error = error.clone();
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "UPDATE order_events SET attempts = attempts + 1, last_error = $2 \
                         WHERE id = $1 AND published_at IS NULL",
                        &[&event_id, &error],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    async fn recent_events(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let limit = i64::from(limit);
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        &format!("SELECT {COLUMNS} FROM order_events ORDER BY at DESC, id LIMIT $1"),
                        &[&limit],
                    )
                    .await?;
                    rows.iter().map(entry_from).collect()
                })
            })
            .await?)
    }

    async fn unpublished_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    Ok(
                        sql::query_one(c, "SELECT count(*) FROM order_events WHERE published_at IS NULL", &[])
                            .await?
                            .get(0),
                    )
                })
            })
            .await?)
    }
}

fn entry_from(r: &Row) -> Result<OutboxEntry, DbError> {
    let detail_type: String = r.get(2);
    Ok(OutboxEntry {
        event_id: r.get(0),
        order_id: OrderId::from_uuid(r.get(1)),
        event_type: OrderEventType::parse_detail_type(&detail_type)
            .ok_or_else(|| DbError::Corrupt(format!("order event type {detail_type:?}")))?,
        at: r.get(3),
        published_at: r.get(4),
        attempts: r.get(5),
        last_error: r.get(6),
    })
}
