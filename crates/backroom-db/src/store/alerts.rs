use std::time::Duration;

use backroom_core::OrderId;
use backroom_core::ports::{Alert, AlertOutcome, AlertStore, NewAlert, Severity, StoreError};
use chrono::Utc;

use super::{Store, store_err};
use crate::error::DbError;
use crate::sql;

impl AlertStore for Store {
    async fn record_alert(&self, alert: &NewAlert, cooldown: Duration) -> Result<AlertOutcome, StoreError> {
        let cooldown = chrono::Duration::from_std(cooldown).unwrap_or(chrono::Duration::MAX);
        self.db
            .with_retry(|tx| {
                let alert = alert.clone();
                Box::pin(async move {
                    let now = Utc::now();
                    let existing = sql::query_opt(tx, "SELECT last_raised_at, occurrences FROM alerts WHERE dedupe_key = $1 FOR UPDATE", &[&alert.dedupe_key])
                        .await?;
                    let Some(row) = existing else {
                        sql::execute(
                            tx,
                            "INSERT INTO alerts (dedupe_key, severity, kind, order_id, message, created_at, last_raised_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $6)",
                            &[&alert.dedupe_key, &alert.severity.as_str(), &alert.kind, &alert.order_id.map(OrderId::uuid), &alert.message, &now],
                        )
                        .await?;
                        return Ok(AlertOutcome::Raise);
                    };
                    let last: chrono::DateTime<Utc> = row.get(0);
                    let occurrences: i64 = row.get::<_, i64>(1) + 1;
                    let cooled = now.signed_duration_since(last) >= cooldown;
                    sql::execute(
                        tx,
                        "UPDATE alerts SET occurrences = $2, message = $3, \
                         last_raised_at = CASE WHEN $4 THEN $5 ELSE last_raised_at END WHERE dedupe_key = $1",
                        &[&alert.dedupe_key, &occurrences, &alert.message, &cooled, &now],
                    )
                    .await?;
                    Ok(if cooled { AlertOutcome::Raise } else { AlertOutcome::Suppressed { occurrences } })
                })
            })
            .await
            .map_err(store_err)
    }

    async fn alerts(&self, limit: u32) -> Result<Vec<Alert>, StoreError> {
        let limit = i64::from(limit);
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT severity, kind, order_id, message, last_raised_at, occurrences FROM alerts \
                         ORDER BY last_raised_at DESC, dedupe_key LIMIT $1",
                        &[&limit],
                    )
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let severity: String = r.get(0);
                            Ok(Alert {
                                severity: Severity::parse(&severity)
                                    .ok_or_else(|| DbError::Corrupt(format!("alert severity {severity:?}")))?,
                                kind: r.get(1),
                                order_id: r.get::<_, Option<uuid::Uuid>>(2).map(OrderId::from_uuid),
                                message: r.get(3),
                                at: r.get(4),
                                occurrences: r.get(5),
                            })
                        })
                        .collect()
                })
            })
            .await?)
    }
}
