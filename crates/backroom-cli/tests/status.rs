//! `backroom status` and `backroom digest` end to end: the binary against a shop seeded through
//! the real paths, with the AWS side (CloudWatch alarms, the SQS dead-letter queue) on the local
//! AWS emulator.

use std::path::PathBuf;
use std::process::{Command, Output};

use aws_sdk_sqs::types::QueueAttributeName;
use backroom_testkit::app::TestApp;
use backroom_testkit::shared_aws;

fn backroom(url: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let empty = std::env::temp_dir().join(format!("backroom-status-none-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_backroom"))
        .args(args)
        .arg("--data-dir")
        .arg(&empty)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env_remove("DSQL_ENDPOINT")
        .env_remove("DEAD_LETTER_QUEUE_URL")
        .env_remove("ALERTS_TOPIC_ARN")
        .env_remove("SECURITY_TOPIC_ARN")
        .env_remove("FULFILLMENT_PAUSED")
        .env("DATABASE_URL", url)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A shop with one shipped-to-Printful order and one unpaid checkout.
async fn shop() -> TestApp {
    let app = TestApp::new().await;
    let (paid, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    Box::pin(app.pay(paid)).await;
    app.checkout(&[("GULL-TOTE", 1)]).await;
    app
}

async fn aws_env() -> Vec<(String, String)> {
    let endpoint = tokio::task::spawn_blocking(|| shared_aws().endpoint.clone())
        .await
        .unwrap();
    vec![
        ("AWS_ENDPOINT_URL".into(), endpoint),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
    ]
}

async fn sdk(env: &[(String, String)]) -> aws_config::SdkConfig {
    backroom_aws::sdk_defaults()
        .endpoint_url(&env[0].1)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_in_aws_reads_alarms_and_dead_letters_and_the_database() {
    let app = shop().await;
    let env = aws_env().await;
    let sdk = sdk(&env).await;
    let stack = format!("shop{}", uuid::Uuid::new_v4().simple());
    // The dead-letter queue as template.yaml names it, with two failed events in it.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{stack}-events-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for i in 0..2 {
        sqs.send_message()
            .queue_url(&dlq)
            .message_body(format!("{{\"n\":{i}}}"))
            .send()
            .await
            .unwrap();
    }
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs.attributes.unwrap()[&QueueAttributeName::ApproximateNumberOfMessages],
        "2"
    );
    // Two of the stack's alarms, one firing.
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    for name in ["dlq-not-empty", "worker-errors"] {
        cw.put_metric_alarm()
            .alarm_name(format!("{stack}-{name}"))
            .namespace("AWS/SQS")
            .metric_name("ApproximateNumberOfMessagesVisible")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
            .period(60)
            .evaluation_periods(1)
            .threshold(0.0)
            .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap();
    }
    cw.set_alarm_state()
        .alarm_name(format!("{stack}-dlq-not-empty"))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("2 messages")
        .send()
        .await
        .unwrap();

    let mut vars = pairs(&env);
    vars.push(("DEAD_LETTER_QUEUE_URL", &dlq));
    let json = backroom(&app.db.url, &vars, &["status", "--json"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["environment"], "aws");
    assert_eq!(v["dead_letters"]["source"], "sqs");
    assert_eq!(v["dead_letters"]["depth"], 2);
    assert_eq!(v["alarms"]["source"], "cloudwatch");
    assert_eq!(v["alarms"]["prefix"], format!("{stack}-"));
    let alarms = v["alarms"]["alarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 2, "{alarms:?}");
    assert_eq!(alarms[0]["name"], format!("{stack}-dlq-not-empty"));
    assert_eq!(alarms[0]["state"], "ALARM");
    assert_eq!(v["orders_total"], 2);

    let text = backroom(&app.db.url, &vars, &["status"]);
    assert!(text.status.success(), "{}", stderr(&text));
    let out = stdout(&text);
    for line in [
        "(AWS)",
        "Alarms         1 of 2 in ALARM",
        &format!("ALARM              {stack}-dlq-not-empty"),
        "2 messages",
        "Dead letters   2 message(s) failed 5 times",
        "Orders         2 in all: 1 pending_payment, 1 submitted",
        "Stuck orders   none",
    ] {
        assert!(out.contains(line), "{line:?} is not in:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_only_a_database_says_what_it_cannot_see() {
    let app = shop().await;
    let o = backroom(&app.db.url, &[], &["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "(database only)",
        "Alarms         unknown: pass --stack NAME (or set DEAD_LETTER_QUEUE_URL)",
        "Dead letters   unknown: set DEAD_LETTER_QUEUE_URL, or start `backroom dev`",
        "Orders         2 in all:",
    ] {
        assert!(out.contains(line), "{line:?} is not in:\n{out}");
    }
    let env = aws_env().await;
    let mut vars = pairs(&env);
    vars.push((
        "DEAD_LETTER_QUEUE_URL",
        "http://127.0.0.1:1/000000000000/gone-events-dlq",
    ));
    let o = backroom(&app.db.url, &vars, &["status", "--json"]);
    assert!(
        o.status.success(),
        "an unreadable queue is shown, not fatal: {}",
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["dead_letters"]["depth"].is_null());
    assert!(
        v["dead_letters"]["error"]
            .as_str()
            .unwrap()
            .contains("could not read the queue"),
        "{v}"
    );
    assert_eq!(v["alarms"]["prefix"], "gone-");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_shows_the_week_and_sends_it_once_to_the_ops_topic() {
    let app = shop().await;
    let shown = backroom(&app.db.url, &[], &["digest"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let out = stdout(&shown);
    assert!(out.contains("Orders: 1 order paid, 16.00 EUR in all."), "{out}");
    assert!(out.contains("Not paid: 1 checkout was started but not paid"), "{out}");
    assert!(out.contains("(not sent: add --send"), "{out}");

    // The ops topic on the emulator, read through a subscribed queue.
    let env = aws_env().await;
    let sdk = sdk(&env).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut topics = vec![];
    for name in ["ops", "security"] {
        topics.push(
            sns.create_topic()
                .name(format!("{name}{id}"))
                .send()
                .await
                .unwrap()
                .topic_arn
                .unwrap(),
        );
    }
    let (inbox, arn) = backroom_testkit::new_queue(&sqs, &format!("inbox{id}")).await;
    backroom_testkit::subscribe_queue(&sns, &topics[0], &arn).await;
    let mut vars = pairs(&env);
    vars.push(("ALERTS_TOPIC_ARN", &topics[0]));
    vars.push(("SECURITY_TOPIC_ARN", &topics[1]));

    let first = backroom(&app.db.url, &vars, &["digest", "--send"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("sent to the owner (the ops topic) as digest:"),
        "{}",
        stdout(&first)
    );
    let second = backroom(&app.db.url, &vars, &["digest", "--send", "--json"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let v: serde_json::Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(v["sent"], "already_sent");
    assert_eq!(v["digest"]["paid_orders"], 1);
    assert_eq!(v["digest"]["revenue"][0]["minor_units"], 1600);
    assert_eq!(v["digest"]["revenue"][0]["formatted"], "16.00 EUR");

    let mut received = vec![];
    for _ in 0..3 {
        let got = sqs
            .receive_message()
            .queue_url(&inbox)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        received.extend(got.into_iter().filter_map(|m| m.body));
    }
    assert_eq!(received.len(), 1, "one digest however often it is sent: {received:?}");
    assert!(
        received[0].contains("Orders: 1 order paid, 16.00 EUR in all."),
        "{}",
        received[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_period_is_one_line_and_writes_nothing() {
    let app = TestApp::new().await;
    let o = backroom(&app.db.url, &[], &["digest", "--days", "0", "--send"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: --days must be between 1 and 366, not 0"),
        "{err}"
    );
    assert_eq!(app.count("SELECT count(*) FROM alerts").await, 0);
    let empty = backroom(&app.db.url, &[], &["digest"]);
    assert!(
        stdout(&empty).contains("Orders: no orders this week."),
        "{}",
        stdout(&empty)
    );
}
