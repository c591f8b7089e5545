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
                    let existing = sql::query_opt(
                        tx,
                        "SELECT last_raised_at, occurrences, publish_pending FROM alerts WHERE dedupe_key = $1 FOR UPDATE",
                        &[&alert.dedupe_key],
                    )
                    .await?;
                    let Some(row) = existing else {
                        sql::execute(
                            tx,
                            "INSERT INTO alerts (dedupe_key, severity, kind, order_id, message, created_at, last_raised_at, \
                             publish_pending) VALUES ($1, $2, $3, $4, $5, $6, $6, true)",
                            &[&alert.dedupe_key, &alert.severity.as_str(), &alert.kind, &alert.order_id.map(OrderId::uuid), &alert.message, &now],
                        )
                        .await?;
                        return Ok(AlertOutcome::Raise);
                    };
                    let last: chrono::DateTime<Utc> = row.get(0);
                    let occurrences: i64 = row.get::<_, i64>(1) + 1;
                    // A raise whose publish never went through is not a repeat: it is still owed.
                    let unpublished = row.get::<_, Option<bool>>(2).unwrap_or(false);
                    let cooled = now.signed_duration_since(last) >= cooldown;
                    let raise = cooled || unpublished;
                    sql::execute(
                        tx,
                        "UPDATE alerts SET occurrences = $2, message = $3, \
                         last_raised_at = CASE WHEN $4 THEN $5 ELSE last_raised_at END, \
                         publish_pending = CASE WHEN $6 THEN true ELSE publish_pending END WHERE dedupe_key = $1",
                        &[&alert.dedupe_key, &occurrences, &alert.message, &cooled, &now, &raise],
                    )
                    .await?;
                    Ok(if raise { AlertOutcome::Raise } else { AlertOutcome::Suppressed { occurrences } })
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

impl Store {
    /// The alert reached the topic: it is no longer owed.
    pub async fn mark_alert_published(&self, dedupe_key: &str) -> Result<(), StoreError> {
        self.db
            .with_retry(|tx| {
                let key = dedupe_key.to_string();
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "UPDATE alerts SET publish_pending = false WHERE dedupe_key = $1 AND publish_pending",
                        &[&key],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    /// Alerts raised before `before` whose publish has not gone through, oldest first.
    pub async fn unpublished_alerts(
        &self,
        before: chrono::DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<NewAlert>, StoreError> {
        let limit = i64::from(limit);
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT dedupe_key, severity, kind, order_id, message FROM alerts \
                         WHERE publish_pending AND last_raised_at < $1 ORDER BY last_raised_at, dedupe_key LIMIT $2",
                        &[&before, &limit],
                    )
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let severity: String = r.get(1);
                            Ok(NewAlert {
                                dedupe_key: r.get(0),
                                severity: Severity::parse(&severity)
                                    .ok_or_else(|| DbError::Corrupt(format!("alert severity {severity:?}")))?,
                                kind: r.get(2),
                                order_id: r.get::<_, Option<uuid::Uuid>>(3).map(OrderId::from_uuid),
                                message: r.get(4),
                            })
                        })
                        .collect()
                })
            })
            .await?)
    }
}
