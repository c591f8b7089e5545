//! Telling the owner. Every alert is stored (deduplicated by key, with a cool-down) and, when it
//! is new or the cool-down has passed, published to the sink: SNS topics in AWS, the console
//! locally. The stored row is the outbox: it stays `publish_pending` until the sink took it, a
//! failed publish never fails the caller, and the catch-up jobs publish what is still pending.
//! Delivery is at least once.

use std::time::Duration;

use backroom_core::ports::{AlertOutcome, AlertSink, AlertStore, NewAlert, Severity, StoreError};
use backroom_db::Store;

/// The alert kind under which the weekly digest is recorded and sent.
pub const DIGEST_KIND: &str = "weekly_digest";

/// How long a repeat of the same alert stays quiet.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(6 * 3600);
/// The catch-up leaves alone alerts younger than this: their raiser is probably publishing them.
pub const CATCHUP_GRACE: Duration = Duration::from_secs(60);
/// At most this many alerts per catch-up round.
pub const CATCHUP_BATCH: u32 = 100;

/// Prints alerts; used by `backroom dev` and tests.
#[derive(Clone, Debug, Default)]
pub struct ConsoleSink;

impl AlertSink for ConsoleSink {
    async fn publish(&self, alert: &NewAlert) -> Result<(), StoreError> {
        match alert.severity {
            Severity::Security => {
                tracing::error!(kind = %alert.kind, order_id = ?alert.order_id, "SECURITY ALERT: {}", alert.message)
            }
            Severity::Ops => tracing::warn!(kind = %alert.kind, order_id = ?alert.order_id, "ALERT: {}", alert.message),
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub enum Sink {
    Console(ConsoleSink),
    Sns(backroom_aws::SnsSink),
}

impl AlertSink for Sink {
    async fn publish(&self, alert: &NewAlert) -> Result<(), StoreError> {
        match self {
            Sink::Console(s) => s.publish(alert).await,
            Sink::Sns(s) => s.publish(alert).await,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Alerts {
    pub store: Store,
    pub sink: Sink,
    pub cooldown: Duration,
}

impl Alerts {
    pub fn console(store: Store) -> Alerts {
        Alerts {
            store,
            sink: Sink::Console(ConsoleSink),
            cooldown: DEFAULT_COOLDOWN,
        }
    }

    /// Records the alert and publishes it unless it is a repeat inside the cool-down.
    pub async fn raise(&self, alert: NewAlert) -> Result<AlertOutcome, StoreError> {
        self.raise_with(alert, self.cooldown).await
    }

    /// Records the alert and publishes it only the first time its key is seen.
    pub async fn raise_once(&self, alert: NewAlert) -> Result<AlertOutcome, StoreError> {
        self.raise_with(alert, Duration::MAX).await
    }

    async fn raise_with(&self, alert: NewAlert, cooldown: Duration) -> Result<AlertOutcome, StoreError> {
        let outcome = self.store.record_alert(&alert, cooldown).await?;
        if outcome == AlertOutcome::Raise && alert.severity == Severity::Security {
            backroom_aws::emf::count(backroom_aws::emf::Metric::SecurityAlerts, 1);
        }
        if outcome == AlertOutcome::Raise {
            self.publish(&alert).await;
        }
        Ok(outcome)
    }

    /// Publishes a stored alert and marks it. Never fails: what did not go out stays pending
    /// for the catch-up.
    async fn publish(&self, alert: &NewAlert) -> bool {
        if let Err(e) = self.sink.publish(alert).await {
            tracing::error!(kind = %alert.kind, dedupe_key = %alert.dedupe_key, error = %e, "an alert was not published; the catch-up publishes it");
            return false;
        }
        if let Err(e) = self.store.mark_alert_published(&alert.dedupe_key).await {
            // Published; the catch-up may publish it once more.
            tracing::warn!(dedupe_key = %alert.dedupe_key, error = %e, "published, but the mark was not saved");
        }
        true
    }

    /// Publishes the alerts whose publish failed, older than the grace period. Returns how many
    /// went out and how many are still pending.
    pub async fn catch_up(&self, now: chrono::DateTime<chrono::Utc>) -> Result<crate::outbox::Published, StoreError> {
        let grace = chrono::Duration::from_std(CATCHUP_GRACE).unwrap_or(chrono::Duration::zero());
        let pending = self.store.unpublished_alerts(now - grace, CATCHUP_BATCH).await?;
        let mut report = crate::outbox::Published::default();
        for alert in &pending {
            if self.publish(alert).await {
                report.published += 1;
            } else {
                report.failed += 1;
                // The sink is down: the next round tries again.
                break;
            }
        }
        if report.published > 0 {
            tracing::warn!(
                published = report.published,
                "the catch-up published alerts that had not gone out"
            );
        }
        Ok(report)
    }
}
