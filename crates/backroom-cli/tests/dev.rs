//! `backroom dev` as a newcomer runs it: a child process on a free port with its own data dir,
//! a purchase over HTTP through the simulators, a restart, and a kill -9 mid-way.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;

use support::{Dev, client, temp_dir};

fn data_dir(name: &str) -> PathBuf {
    temp_dir(name)
}

async fn get(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn post(c: &reqwest::Client, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = c.post(url);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// Polls the order until `done` says so.
async fn wait_for(c: &reqwest::Client, dev: &Dev, order_id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let began = Instant::now();
    loop {
        let (status, order) = get(c, &format!("{}/orders/{order_id}", dev.url)).await;
        if status == 200 && done(&order) {
            return order;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the order never became {what}: {order}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn buy_two(c: &reqwest::Client, dev: &Dev) -> (String, String) {
    let (status, catalog) = get(c, &format!("{}/catalog", dev.url)).await;
    assert_eq!(status, 200);
    assert_eq!(catalog["products"].as_array().unwrap().len(), 5);
    let (status, created) = post(
        c,
        &format!("{}/checkout", dev.url),
        Some(json!({"items": [{"sku": "HARBOUR-TEE-L", "quantity": 1}, {"sku": "GULL-TOTE", "quantity": 1}], "email": "ann@example.com"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let order_id = created["order_id"].as_str().unwrap().to_string();
    let checkout_url = created["checkout_url"].as_str().unwrap().to_string();
    assert!(
        checkout_url.starts_with(&format!("{}/sim/stripe/checkout/", dev.url)),
        "{checkout_url}"
    );
    let page = c.get(&checkout_url).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Harbour Tee") && page.contains("Gull Tote"),
        "the pay page shows the order"
    );
    (order_id, checkout_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_ships_and_survives_a_restart() {
    let dir = data_dir("purchase");
    let c = client();
    let dev = Dev::start(&dir);
    let (order_id, checkout_url) = buy_two(&c, &dev).await;
    let (status, _) = post(&c, &format!("{checkout_url}/pay"), None).await;
    assert!(status == 303 || status == 200, "paying answered {status}");
    let order = wait_for(&c, &dev, &order_id, "submitted", |o| o["status"] == "submitted").await;
    assert_eq!(order["total"], json!({"amount": 5000, "currency": "EUR"}));
    let external = order_id.replace('-', "");
    for step in ["in_production", "shipped"] {
        let (status, reply) = post(
            &c,
            &format!("{}/sim/printful/orders/@{external}/advance", dev.url),
            None,
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        wait_for(&c, &dev, &order_id, step, |o| o["status"] == step).await;
    }
    let shipped = wait_for(&c, &dev, &order_id, "tracked", |o| {
        o["tracking"].as_array().is_some_and(|t| !t.is_empty())
    })
    .await;
    assert!(shipped["tracking"][0]["url"].as_str().unwrap().starts_with("http"));
    dev.stop();

    let dev = Dev::start(&dir);
    let (status, order) = get(&c, &format!("{}/orders/{order_id}", dev.url)).await;
    assert_eq!(status, 200);
    assert_eq!(order["status"], "shipped", "the order is still there after a restart");
    dev.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_processing_loses_nothing() {
    let dir = data_dir("kill");
    let c = client();
    let dev = Dev::start(&dir);
    let (order_id, checkout_url) = buy_two(&c, &dev).await;
    let (status, _) = post(&c, &format!("{checkout_url}/pay"), None).await;
    assert!(status == 303 || status == 200);
    // No waiting: the webhook is on its way or in the in-process queue when the process dies.
    dev.kill9();
    let dev = Dev::start(&dir);
    let order = wait_for(&c, &dev, &order_id, "submitted", |o| o["status"] == "submitted").await;
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    dev.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_events_queue_url_the_events_go_through_sqs() {
    let endpoint = tokio::task::spawn_blocking(|| backroom_testkit::shared_aws().endpoint.clone())
        .await
        .unwrap();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = format!("dev-events-{}", std::process::id());
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dir = data_dir("sqs");
    let c = client();
    let env = [
        ("EVENTS_QUEUE_URL", url.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let dev = Dev::start_with(&dir, &env);
    let (order_id, checkout_url) = buy_two(&c, &dev).await;
    let (status, _) = post(&c, &format!("{checkout_url}/pay"), None).await;
    assert!(status == 303 || status == 200);
    wait_for(&c, &dev, &order_id, "submitted", |o| o["status"] == "submitted").await;
    dev.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
