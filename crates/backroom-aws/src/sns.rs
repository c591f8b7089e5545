//! Alerts to the owner through SNS: security alerts to the security topic (SMS and e-mail),
//! everything else to the ops topic (e-mail).

use backroom_core::ports::{AlertSink, NewAlert, Severity, StoreError};

#[derive(Clone, Debug)]
pub struct SnsSink {
    client: aws_sdk_sns::Client,
    ops_topic_arn: String,
    security_topic_arn: String,
}

impl SnsSink {
    pub fn new(
        client: aws_sdk_sns::Client,
        ops_topic_arn: impl Into<String>,
        security_topic_arn: impl Into<String>,
    ) -> SnsSink {
        SnsSink {
            client,
            ops_topic_arn: ops_topic_arn.into(),
            security_topic_arn: security_topic_arn.into(),
        }
    }

    pub async fn from_env(ops_topic_arn: impl Into<String>, security_topic_arn: impl Into<String>) -> SnsSink {
        let sdk = crate::sdk_config().await;
        SnsSink::new(aws_sdk_sns::Client::new(&sdk), ops_topic_arn, security_topic_arn)
    }

    fn topic(&self, severity: Severity) -> &str {
        match severity {
            Severity::Security => &self.security_topic_arn,
            Severity::Ops => &self.ops_topic_arn,
        }
    }
}

/// An SMS-friendly subject: SNS allows 100 printable ASCII characters.
fn subject(alert: &NewAlert) -> String {
    let prefix = match alert.severity {
        Severity::Security => "backroom SECURITY",
        Severity::Ops => "backroom",
    };
    let text: String = format!("{prefix}: {}", alert.kind.replace('_', " "))
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(100)
        .collect();
    text
}

impl AlertSink for SnsSink {
    async fn publish(&self, alert: &NewAlert) -> Result<(), StoreError> {
        let message = match alert.order_id {
            Some(id) => format!("{}\n\nOrder: {id}", alert.message),
            None => alert.message.clone(),
        };
        self.client
            .publish()
            .topic_arn(self.topic(alert.severity))
            .subject(subject(alert))
            .message(message)
            .send()
            .await
            .map_err(|e| {
                StoreError(anyhow::anyhow!(
                    "SNS publish failed: {}",
                    aws_sdk_sns::error::DisplayErrorContext(e)
                ))
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_fit_sns_limits() {
        let alert = NewAlert {
            severity: Severity::Security,
            kind: "unknown_printful_order_é".repeat(10),
            order_id: None,
            dedupe_key: "k".into(),
            message: "m".into(),
        };
        let s = subject(&alert);
        assert!(
            s.len() <= 100 && s.is_ascii() && s.starts_with("backroom SECURITY: unknown printful order"),
            "{s}"
        );
    }
}
