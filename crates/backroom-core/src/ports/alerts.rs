//! Alerts for the owner: severities, the alert outbox and where alerts are published.

#[allow(unused_imports)]
use super::prelude::*;
use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something smells like a stolen key or a forged request.
    Security,
    /// Something needs the owner's hand.
    Ops,
}

crate::names::text_names! {
    Severity {
        Security => "security",
        Ops => "ops",
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlert {
    pub severity: Severity,
    pub kind: String,
    pub order_id: Option<OrderId>,
    /// Alerts with the same key are one alert: a repeat inside the cool-down is only counted.
    pub dedupe_key: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub severity: Severity,
    pub kind: String,
    pub order_id: Option<OrderId>,
    pub message: String,
    pub at: DateTime<Utc>,
    pub occurrences: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertOutcome {
    /// New, or the cool-down since the last one has passed: tell the owner.
    Raise,
    /// A repeat inside the cool-down: counted, not sent again.
    Suppressed { occurrences: i64 },
}

pub trait AlertStore: Send + Sync {
    fn record_alert(
        &self,
        alert: &NewAlert,
        cooldown: Duration,
    ) -> impl Future<Output = Result<AlertOutcome, StoreError>> + Send;
    /// Newest first.
    fn alerts(&self, limit: u32) -> impl Future<Output = Result<Vec<Alert>, StoreError>> + Send;
}

/// Where the owner hears about alerts: SNS topics in AWS, the console locally.
pub trait AlertSink: Send + Sync {
    fn publish(&self, alert: &NewAlert) -> impl Future<Output = Result<(), StoreError>> + Send;
}
