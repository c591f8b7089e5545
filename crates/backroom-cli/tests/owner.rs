//! `backroom owner` end to end: the binary serving the owner page against a shop's database
//! (seeded through the real paths, then moved back in time with SQL), the Stripe simulator's
//! disputes, and the stack's dead-letter queue and alarms on the local AWS emulator. The page
//! reads only, and only for the machine's own Host and Origin.

use aws_sdk_sqs::types::QueueAttributeName;
use backroom_testkit::app::TestApp;
use backroom_testkit::shared_aws;
use chrono::{Duration, Utc};

mod support;

use support::{Owner, client, place_at};

async fn json_of(r: reqwest::Response) -> serde_json::Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_page_reads_the_deployed_shop_and_changes_nothing() {
    // The shop: one order paid today, one paid three days ago (and disputed), one checkout
    // never paid two days ago, which is stuck.
    let app = TestApp::new().await;
    let (today, session_id) = app.checkout(&[("FOG-MUG", 1)]).await;
    // The simulator's API base, from where its pay page is (Stripe drops the URL once paid).
    let pay_page = app.sim.session(&session_id).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    Box::pin(app.pay(today)).await;
    let (earlier, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    Box::pin(app.pay(earlier)).await;
    let (stuck, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    let now = Utc::now();
    let three_days_ago = now - Duration::days(3);
    place_at(&app, earlier, three_days_ago, false).await;
    place_at(&app, stuck, now - Duration::days(2), true).await;
    let session = app.order(earlier).await.stripe_session_id.unwrap();
    app.sim.dispute(&session, true).await.unwrap();
    app.settle().await;
    let (today_order, earlier_order, stuck_order) =
        (app.order(today).await, app.order(earlier).await, app.order(stuck).await);

    // The stack on the emulator: its dead-letter queue with one failed event, and an alarm
    // that fires.
    let endpoint = tokio::task::spawn_blocking(|| shared_aws().endpoint.clone())
        .await
        .unwrap();
    let sdk = backroom_testkit::emulator_sdk(None).await;
    let stack = format!("shop{}", uuid::Uuid::new_v4().simple());
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{stack}-events-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&dlq)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    cw.put_metric_alarm()
        .alarm_name(format!("{stack}-dlq-not-empty"))
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
    cw.set_alarm_state()
        .alarm_name(format!("{stack}-dlq-not-empty"))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("1 message")
        .send()
        .await
        .unwrap();

    let stripe_api = format!("{}/sim/stripe", pay_page.split("/sim/stripe/").next().unwrap());
    let owner = Owner::start(
        &["--stack", &stack],
        &[
            ("DATABASE_URL", &app.db.url),
            ("STRIPE_SECRET_KEY", "sk_test_owner_page"),
            ("STRIPE_API_BASE", &stripe_api),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    assert!(owner.url.starts_with("http://127.0.0.1:"), "{}", owner.url);
    let c = client();

    let summary = json_of(c.get(format!("{}/admin/api/summary", owner.url)).send().await.unwrap()).await;
    assert_eq!(summary["mode"], "owner");
    let days = summary["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "{summary}");
    let day = |date: chrono::NaiveDate| {
        days.iter()
            .find(|d| d["date"] == date.to_string())
            .unwrap_or_else(|| panic!("{date} is not in {days:?}"))
    };
    assert_eq!(days[29]["date"], now.date_naive().to_string(), "the series ends today");
    // What the buyer paid, shipping included.
    let money =
        |o: &backroom_core::Order| serde_json::json!([{"amount": o.charged.unwrap().total.get(), "currency": "EUR"}]);
    assert_eq!(day(now.date_naive())["orders"], 1, "{summary}");
    assert_eq!(day(now.date_naive())["revenue"], money(&today_order));
    assert_eq!(day(three_days_ago.date_naive())["orders"], 1);
    assert_eq!(day(three_days_ago.date_naive())["revenue"], money(&earlier_order));
    let sold: i64 = days.iter().map(|d| d["orders"].as_i64().unwrap()).sum();
    assert_eq!(sold, 2, "the unpaid checkout is not a sale");

    let stuck = summary["stuck"].as_array().unwrap();
    assert_eq!(stuck.len(), 1, "{summary}");
    assert_eq!(stuck[0]["number"], stuck_order.number);
    assert_eq!(stuck[0]["status"], "pending_payment");
    let age = stuck[0]["age_seconds"].as_i64().unwrap();
    assert!((2 * 86_400..3 * 86_400).contains(&age), "two days old: {age}");
    assert_eq!(stuck[0]["command"], format!("backroom orders show {}", stuck_order.id));

    assert_eq!(summary["disputes"]["source"], "stripe", "{summary}");
    let disputes = summary["disputes"]["open"].as_array().unwrap();
    assert_eq!(disputes.len(), 1, "{summary}");
    assert_eq!(disputes[0]["order_number"], earlier_order.number);
    assert_eq!(disputes[0]["amount"], money(&earlier_order)[0]);
    assert!(disputes[0]["due_by"].is_string(), "{summary}");

    assert_eq!(summary["alarms"]["source"], "cloudwatch", "{summary}");
    assert_eq!(summary["alarms"]["alarms"][0]["name"], format!("{stack}-dlq-not-empty"));
    assert_eq!(summary["alarms"]["alarms"][0]["state"], "ALARM");

    // The dead-letter queue, found by the stack's name, and the orders.
    let dead = json_of(c.get(format!("{}/admin/api/dlq", owner.url)).send().await.unwrap()).await;
    assert_eq!(dead["queue"], dlq.as_str(), "{dead}");
    assert_eq!(dead["messages"].as_array().map(Vec::len), Some(1), "{dead}");
    let orders = json_of(c.get(format!("{}/admin/api/orders", owner.url)).send().await.unwrap()).await;
    assert_eq!(orders["orders"].as_array().map(Vec::len), Some(3), "{orders}");
    let page = c.get(format!("{}/admin", owner.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("admin-sales"));

    // Nothing changes through it: no redrive, no other method, and the failed event stays.
    for (method, path) in [
        (reqwest::Method::POST, "/admin/api/dlq/redrive"),
        (reqwest::Method::POST, "/admin/api/summary"),
        (reqwest::Method::DELETE, "/admin/api/orders"),
        (reqwest::Method::PUT, "/admin"),
    ] {
        let r = c
            .request(method.clone(), format!("{}{path}", owner.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        let body = json_of(r).await;
        assert_eq!(body["error"]["code"], "read_only", "{body}");
    }
    let depth = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        depth.attributes.unwrap()[&QueueAttributeName::ApproximateNumberOfMessages],
        "1"
    );

    // Another name for 127.0.0.1 (DNS rebinding) or another site's page gets nothing.
    let port = owner.url.rsplit(':').next().unwrap();
    for (name, value) in [
        ("host", format!("evil.example:{port}")),
        ("origin", "http://evil.example".to_string()),
    ] {
        for path in ["/admin/api/summary", "/admin", "/"] {
            let r = c
                .get(format!("{}{path}", owner.url))
                .header(name, &value)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{name}: {value} on {path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_stack_or_stripe_key_the_page_says_what_it_cannot_see() {
    let app = TestApp::new().await;
    let owner = Owner::start(&[], &[("DATABASE_URL", &app.db.url)]);
    let c = client();
    let summary = json_of(c.get(format!("{}/admin/api/summary", owner.url)).send().await.unwrap()).await;
    assert_eq!(summary["alarms"]["source"], "not_configured", "{summary}");
    assert_eq!(summary["disputes"]["source"], "not_configured", "{summary}");
    assert!(summary["days"].as_array().unwrap().iter().all(|d| d["orders"] == 0));
    let dead = json_of(c.get(format!("{}/admin/api/dlq", owner.url)).send().await.unwrap()).await;
    assert!(
        dead["error"].as_str().unwrap().contains("DEAD_LETTER_QUEUE_URL"),
        "{dead}"
    );
}

#[test]
fn without_a_database_it_says_which_to_set() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_backroom"))
        .args(["owner", "--port", "0"])
        .current_dir(std::env::temp_dir())
        .env_remove("DATABASE_URL")
        .env_remove("DSQL_ENDPOINT")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("set DSQL_ENDPOINT"), "{err}");
}
