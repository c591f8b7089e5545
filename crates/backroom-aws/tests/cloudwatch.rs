//! The CloudWatch alarms adapter against the local AWS emulator (ministack): alarms made with
//! PutMetricAlarm and moved with SetAlarmState are read back by prefix, with their states.

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use backroom_aws::cloudwatch::{AlarmValue, CloudWatchAlarms};
use backroom_testkit::shared_aws;

async fn client() -> aws_sdk_cloudwatch::Client {
    let endpoint = tokio::task::spawn_blocking(|| shared_aws().endpoint.clone())
        .await
        .unwrap();
    let sdk = backroom_aws::sdk_defaults()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_cloudwatch::Client::new(&sdk)
}

async fn put_alarm(cw: &aws_sdk_cloudwatch::Client, name: &str) {
    cw.put_metric_alarm()
        .alarm_name(name)
        .alarm_description(format!("{name} described"))
        .namespace("Backroom")
        .metric_name("StuckOrders")
        .statistic(Statistic::Sum)
        .period(300)
        .evaluation_periods(1)
        .threshold(0.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn alarms_with_the_stack_prefix_are_listed_with_their_states() {
    let cw = client().await;
    let stack = format!("shop{}", uuid::Uuid::new_v4().simple());
    put_alarm(&cw, &format!("{stack}-dlq-not-empty")).await;
    put_alarm(&cw, &format!("{stack}-worker-errors")).await;
    // Another stack's alarm, which must not be listed.
    put_alarm(&cw, &format!("other{stack}-dlq-not-empty")).await;
    cw.set_alarm_state()
        .alarm_name(format!("{stack}-dlq-not-empty"))
        .state_value(StateValue::Alarm)
        .state_reason("two messages in the dead-letter queue")
        .send()
        .await
        .unwrap();
    cw.set_alarm_state()
        .alarm_name(format!("{stack}-worker-errors"))
        .state_value(StateValue::Ok)
        .state_reason("no errors")
        .send()
        .await
        .unwrap();

    let alarms = CloudWatchAlarms::new(cw).alarms(&format!("{stack}-")).await.unwrap();
    let names: Vec<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [format!("{stack}-dlq-not-empty"), format!("{stack}-worker-errors")],
        "{alarms:?}"
    );
    assert_eq!(alarms[0].state, AlarmValue::Alarm);
    assert_eq!(alarms[0].reason, "two messages in the dead-letter queue");
    assert_eq!(alarms[0].description, format!("{stack}-dlq-not-empty described"));
    assert!(alarms[0].since.is_some(), "{alarms:?}");
    assert_eq!(alarms[1].state, AlarmValue::Ok);
}

#[tokio::test]
async fn no_alarms_is_an_empty_list_and_an_unreachable_service_is_an_error() {
    let cw = client().await;
    let none = CloudWatchAlarms::new(cw)
        .alarms(&format!("nothing{}-", uuid::Uuid::new_v4().simple()))
        .await
        .unwrap();
    assert!(none.is_empty());

    let sdk = backroom_aws::sdk_defaults()
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    let err = CloudWatchAlarms::new(aws_sdk_cloudwatch::Client::new(&sdk))
        .alarms("x-")
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("CloudWatch DescribeAlarms failed"), "{err}");
}
