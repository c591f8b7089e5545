//! Metrics as CloudWatch Embedded Metric Format: one JSON log line per emission, turned into
//! metrics by CloudWatch Logs. No CloudWatch API call is ever made on the request path.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The namespace of every metric.
pub const NAMESPACE: &str = "Backroom";

/// The one dimension of every metric: the CloudFormation stack the function belongs to, so a
/// test stack and a live stack in one account have separate metrics, and neither fires the
/// other's alarms (template.yaml's alarms and dashboard name `Stack=${AWS::StackName}`).
pub const STACK_DIMENSION: &str = "Stack";

/// The environment variable that holds the stack's name; template.yaml sets it for every
/// function. Without it (local runs) the lines say [`LOCAL_STACK`].
pub const STACK_ENV: &str = "BACKROOM_STACK";

/// The stack name of metrics emitted outside a deployed stack.
pub const LOCAL_STACK: &str = "local";

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

/// One EMF document for the given values of stack `stack`, stamped `timestamp_ms`. Every metric
/// has the one dimension [`STACK_DIMENSION`], whose value is `stack`.
pub fn line(stack: &str, values: &[(Metric, f64)], timestamp_ms: i64) -> String {
    let definitions: Vec<String> = values
        .iter()
        .map(|(m, _)| format!("{{\"Name\":\"{}\",\"Unit\":\"Count\"}}", m.name()))
        .collect();
    let members: Vec<String> = values
        .iter()
        .map(|(m, v)| format!(",\"{}\":{}", m.name(), number(*v)))
        .collect();
    // The stack name comes from the environment: quoted as JSON, whatever it holds.
    let stack = json_string(stack);
    format!(
        "{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":\"{NAMESPACE}\",\
         \"Dimensions\":[[\"{STACK_DIMENSION}\"]],\"Metrics\":[{}]}}]}},\"{STACK_DIMENSION}\":{stack}{}}}",
        definitions.join(","),
        members.concat()
    )
}

static STACK: OnceLock<String> = OnceLock::new();

/// Names the stack this process belongs to (the configuration's [`STACK_ENV`]); the first call
/// wins. Blank names are ignored.
pub fn set_stack(name: &str) {
    if !name.trim().is_empty() {
        let _ = STACK.set(name.trim().to_string());
    }
}

/// The stack of this process, as set by [`set_stack`], else [`LOCAL_STACK`].
pub fn stack() -> &'static str {
    STACK.get().map_or(LOCAL_STACK, String::as_str)
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
    let _ = writeln!(out, "{}", line(stack(), values, now));
}

/// Emits one count.
pub fn count(metric: Metric, n: u64) {
    emit(&[(metric, n as f64)]);
}
