//! The stack's CloudWatch alarms as `backroom status` shows them: DescribeAlarms with the
//! stack's name prefix (template.yaml names every alarm `<stack>-<what>`), metric and composite
//! alarms alike, every page. The endpoint comes from `AWS_ENDPOINT_URL` like the other adapters.

use aws_sdk_cloudwatch::types::{CompositeAlarm, MetricAlarm, StateValue};
use chrono::{DateTime, Utc};

/// An alarm's state, as CloudWatch names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlarmValue {
    Ok,
    Alarm,
    InsufficientData,
    /// A state this SDK does not know (CloudWatch added one): its name as sent.
    Other(String),
}

impl AlarmValue {
    pub fn as_str(&self) -> &str {
        match self {
            AlarmValue::Ok => "OK",
            AlarmValue::Alarm => "ALARM",
            AlarmValue::InsufficientData => "INSUFFICIENT_DATA",
            AlarmValue::Other(s) => s,
        }
    }

    fn from_sdk(value: Option<&StateValue>) -> AlarmValue {
        match value {
            Some(StateValue::Ok) => AlarmValue::Ok,
            Some(StateValue::Alarm) => AlarmValue::Alarm,
            Some(StateValue::InsufficientData) => AlarmValue::InsufficientData,
            Some(other) => AlarmValue::Other(other.as_str().to_string()),
            None => AlarmValue::Other("UNKNOWN".into()),
        }
    }
}

/// One alarm: its name, state, why it is in that state and since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmState {
    pub name: String,
    pub state: AlarmValue,
    pub reason: String,
    pub description: String,
    pub since: Option<DateTime<Utc>>,
}

fn time(t: Option<&aws_sdk_cloudwatch::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// A metric alarm as `status` shows it.
pub fn metric_alarm(a: &MetricAlarm) -> AlarmState {
    AlarmState {
        name: a.alarm_name().unwrap_or_default().to_string(),
        state: AlarmValue::from_sdk(a.state_value()),
        reason: a.state_reason().unwrap_or_default().to_string(),
        description: a.alarm_description().unwrap_or_default().to_string(),
        since: time(a.state_updated_timestamp()),
    }
}

/// A composite alarm as `status` shows it.
pub fn composite_alarm(a: &CompositeAlarm) -> AlarmState {
    AlarmState {
        name: a.alarm_name().unwrap_or_default().to_string(),
        state: AlarmValue::from_sdk(a.state_value()),
        reason: a.state_reason().unwrap_or_default().to_string(),
        description: a.alarm_description().unwrap_or_default().to_string(),
        since: time(a.state_updated_timestamp()),
    }
}

#[derive(Clone, Debug)]
pub struct CloudWatchAlarms {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchAlarms {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> CloudWatchAlarms {
        CloudWatchAlarms { client }
    }

    pub async fn from_env() -> CloudWatchAlarms {
        let sdk = crate::sdk_config().await;
        CloudWatchAlarms::new(aws_sdk_cloudwatch::Client::new(&sdk))
    }

    /// Every alarm whose name starts with `prefix`, sorted by name.
    pub async fn alarms(&self, prefix: &str) -> anyhow::Result<Vec<AlarmState>> {
        let mut alarms = Vec::new();
        let mut token: Option<String> = None;
        // A bound on pages, in case a service keeps answering with a token.
        for _ in 0..100 {
            let page = self
                .client
                .describe_alarms()
                .alarm_name_prefix(prefix)
                .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
                .alarm_types(aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "CloudWatch DescribeAlarms failed: {}",
                        aws_sdk_cloudwatch::error::DisplayErrorContext(e)
                    )
                })?;
            alarms.extend(page.metric_alarms().iter().map(metric_alarm));
            alarms.extend(page.composite_alarms().iter().map(composite_alarm));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
        alarms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(alarms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_alarm_maps_name_state_reason_and_time() {
        let alarm = MetricAlarm::builder()
            .alarm_name("shop-dlq-not-empty")
            .alarm_description("Events wait in the dead-letter queue.")
            .state_value(StateValue::Alarm)
            .state_reason("Threshold Crossed: 1 datapoint [2.0] was greater than 0.0")
            .state_updated_timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(1_795_000_000))
            .build();
        let s = metric_alarm(&alarm);
        assert_eq!(s.name, "shop-dlq-not-empty");
        assert_eq!(s.state, AlarmValue::Alarm);
        assert_eq!(s.state.as_str(), "ALARM");
        assert!(s.reason.starts_with("Threshold Crossed"));
        assert_eq!(s.since, DateTime::from_timestamp(1_795_000_000, 0));
    }

    #[test]
    fn unknown_and_missing_states_are_named_not_dropped() {
        let odd = MetricAlarm::builder()
            .alarm_name("x")
            .state_value(StateValue::from("SNOOZED"))
            .build();
        assert_eq!(metric_alarm(&odd).state, AlarmValue::Other("SNOOZED".into()));
        let bare = CompositeAlarm::builder().alarm_name("y").build();
        let s = composite_alarm(&bare);
        assert_eq!(s.state, AlarmValue::Other("UNKNOWN".into()));
        assert_eq!(s.since, None);
        assert_eq!(
            metric_alarm(&MetricAlarm::builder().state_value(StateValue::InsufficientData).build())
                .state
                .as_str(),
            "INSUFFICIENT_DATA"
        );
    }
}
