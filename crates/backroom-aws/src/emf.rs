//! Metrics as CloudWatch Embedded Metric Format: one JSON log line per emission, turned into
//! metrics by CloudWatch Logs. No CloudWatch API call is ever made on the request path.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// The namespace of every metric.
pub const NAMESPACE: &str = "Backroom";

/// The metrics backroom emits: at most ten, named after what the owner cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    OrdersPaid,
    OrdersSubmitted,
    OrdersShipped,
    WebhooksRejected,
    EventsProcessed,
    EventsRecovered,
    ProcessingFailures,
    StuckOrders,
    ReconcileDiscrepancies,
    SecurityAlerts,
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Metric::OrdersPaid,
        Metric::OrdersSubmitted,
        Metric::OrdersShipped,
        Metric::WebhooksRejected,
        Metric::EventsProcessed,
        Metric::EventsRecovered,
        Metric::ProcessingFailures,
        Metric::StuckOrders,
        Metric::ReconcileDiscrepancies,
        Metric::SecurityAlerts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::OrdersPaid => "OrdersPaid",
            Metric::OrdersSubmitted => "OrdersSubmitted",
            Metric::OrdersShipped => "OrdersShipped",
            Metric::WebhooksRejected => "WebhooksRejected",
            Metric::EventsProcessed => "EventsProcessed",
            Metric::EventsRecovered => "EventsRecovered",
            Metric::ProcessingFailures => "ProcessingFailures",
            Metric::StuckOrders => "StuckOrders",
            Metric::ReconcileDiscrepancies => "ReconcileDiscrepancies",
            Metric::SecurityAlerts => "SecurityAlerts",
        }
    }
}

/// One EMF document for the given values, stamped `timestamp_ms`. Metrics carry no dimensions,
/// so alarms can watch them directly.
pub fn line(values: &[(Metric, f64)], timestamp_ms: i64) -> String {
    let definitions: Vec<String> = values
        .iter()
        .map(|(m, _)| format!("{{\"Name\":\"{}\",\"Unit\":\"Count\"}}", m.name()))
        .collect();
    let members: Vec<String> = values
        .iter()
        .map(|(m, v)| format!(",\"{}\":{}", m.name(), number(*v)))
        .collect();
    format!(
        "{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":\"{NAMESPACE}\",\"Dimensions\":[[]],\
         \"Metrics\":[{}]}}]}}{}}}",
        definitions.join(","),
        members.concat()
    )
}

fn number(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "0".into() }
}

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns emission to stdout on (Lambda) or off (local runs, where the lines would be noise).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Emits the values as one EMF line on stdout when enabled.
pub fn emit(values: &[(Metric, f64)]) {
    if values.is_empty() {
        return;
    }
    if !ENABLED.load(Ordering::Relaxed) {
        tracing::debug!(?values, "metrics");
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line(values, now));
}

/// Emits one count.
pub fn count(metric: Metric, n: u64) {
    emit(&[(metric, n as f64)]);
}
