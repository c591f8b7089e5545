//! Telling the owner. Every alert is stored (deduplicated by key, with a cool-down) and, when it
//! is new or the cool-down has passed, published to the sink: SNS topics in AWS, the console
//! locally.

use std::time::Duration;

use backroom_core::ports::{AlertOutcome, AlertSink, AlertStore, NewAlert, Severity, StoreError};
use backroom_db::Store;

/// How long a repeat of the same alert stays quiet.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(6 * 3600);

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
            self.sink.publish(&alert).await?;
        }
        Ok(outcome)
    }
}
