use backroom_core::ports::{Cursor, CursorStore, EventClaim, EventSource, Inbox, StoreError};
use tokio_postgres::GenericClient;

use super::{Store, store_err};
use crate::error::DbError;
use crate::sql;

/// Inserts the claim; false if the event was processed before.
pub(super) async fn claim_in<C: GenericClient>(
    tx: &C,
    claim: &EventClaim,
    order_id: Option<uuid::Uuid>,
) -> Result<bool, DbError> {
    let n = sql::execute(
        tx,
        "INSERT INTO inbox_events (source, event_id, event_type, order_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (source, event_id) DO NOTHING",
        &[&claim.source.as_str(), &claim.event_id, &claim.event_type, &order_id],
    )
    .await?;
    Ok(n == 1)
}

impl Inbox for Store {
    async fn claim(&self, claim: &EventClaim) -> Result<bool, StoreError> {
        // One idempotent INSERT: it needs no transaction of its own.
        Ok(self
            .db
            .write_alone(|c| {
                let claim = claim.clone();
                Box::pin(async move { Ok(claim_in(c, &claim, None).await?) })
            })
            .await?)
    }

    async fn is_processed(&self, source: EventSource, event_id: &str) -> Result<bool, StoreError> {
        let event_id = event_id.to_string();
        Ok(self
            .db
            .read(|c| {
                let event_id = event_id.clone();
                Box::pin(async move {
                    let row = sql::query_opt(
                        c,
                        "SELECT 1 FROM inbox_events WHERE source = $1 AND event_id = $2",
                        &[&source.as_str(), &event_id],
                    )
                    .await?;
                    Ok(row.is_some())
                })
            })
            .await?)
    }
}

impl CursorStore for Store {
    async fn cursor(&self, name: &str) -> Result<Option<Cursor>, StoreError> {
        let name = name.to_string();
        Ok(self
            .db
            .read(|c| {
                let name = name.clone();
                Box::pin(async move {
                    let row = sql::query_opt(
                        c,
                        "SELECT position_at, position_id FROM cursors WHERE name = $1",
                        &[&name],
                    )
                    .await?;
                    Ok(row.map(|r| Cursor {
                        at: r.get(0),
                        id: r.get(1),
                    }))
                })
            })
            .await?)
    }

    async fn set_cursor(&self, name: &str, cursor: &Cursor) -> Result<(), StoreError> {
        self.db
            .with_retry(|tx| {
                let (name, cursor) = (name.to_string(), cursor.clone());
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "INSERT INTO cursors (name, position_at, position_id, updated_at) VALUES ($1, $2, $3, now()) \
                         ON CONFLICT (name) DO UPDATE SET position_at = EXCLUDED.position_at, \
                         position_id = EXCLUDED.position_id, updated_at = now()",
                        &[&name, &cursor.at, &cursor.id],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }
}
