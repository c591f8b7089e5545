use backroom_core::ports::{ReconcileRun, ReconcileStore, StoreError};
use uuid::Uuid;

use super::{Store, store_err};
use crate::error::DbError;
use crate::sql;

impl ReconcileStore for Store {
    async fn record_run(&self, run: &ReconcileRun) -> Result<(), StoreError> {
        let doc = serde_json::to_value(run).map_err(|e| StoreError(e.into()))?;
        let id = Uuid::new_v4();
        self.db
            .with_retry(|tx| {
                let (doc, run) = (doc.clone(), run.clone());
                Box::pin(async move {
                    // The id is fixed before the first attempt, so a retried insert stays one row.
                    sql::execute(
                        tx,
                        "INSERT INTO reconcile_runs (id, started_at, finished_at, window_days, fix, report) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                        &[
                            &id,
                            &run.started_at,
                            &run.finished_at,
                            &(run.window_days as i32),
                            &run.fix,
                            &doc,
                        ],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    async fn last_run(&self) -> Result<Option<ReconcileRun>, StoreError> {
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let row = sql::query_opt(
                        c,
                        "SELECT report FROM reconcile_runs ORDER BY started_at DESC LIMIT 1",
                        &[],
                    )
                    .await?;
                    row.map(|r| {
                        serde_json::from_value::<ReconcileRun>(r.get(0))
                            .map_err(|e| DbError::Corrupt(format!("reconcile run: {e}")))
                    })
                    .transpose()
                })
            })
            .await?)
    }
}
