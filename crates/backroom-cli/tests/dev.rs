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
    // The demo shop charges its flat shipping rate on top of the items.
    assert_eq!(order["subtotal"], json!({"amount": 5000, "currency": "EUR"}));
    assert_eq!(order["shipping"], json!({"amount": 490, "currency": "EUR"}));
    assert_eq!(order["total"], json!({"amount": 5490, "currency": "EUR"}));
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
    let sdk = backroom_aws::sdk_defaults()
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

/// The status of one request to the dev server with the given Host and Origin headers (the
/// path is relative to the server).
async fn status_with(
    c: &reqwest::Client,
    dev: &Dev,
    method: reqwest::Method,
    path: &str,
    host: Option<&str>,
    origin: Option<&str>,
) -> u16 {
    let mut req = c.request(method, format!("{}{path}", dev.url));
    if let Some(host) = host {
        req = req.header("host", host);
    }
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_and_simulator_routes_refuse_a_foreign_host_or_origin() {
    use reqwest::Method;
    let dir = data_dir("host-origin");
    let c = client();
    let dev = Dev::start(&dir);
    let port = dev.url.rsplit(':').next().unwrap().to_string();
    let (order_id, checkout_url) = buy_two(&c, &dev).await;
    let pay_page = checkout_url.strip_prefix(&dev.url).unwrap().to_string();
    let evil = Some("evil.example");
    let evil_origin = Some("http://evil.example");
    let ours = format!("127.0.0.1:{port}");

    // DNS rebinding: a page on evil.example that resolves to 127.0.0.1 sends its own Host.
    // CSRF: a page elsewhere posting to the dev server sends its own Origin.
    for (m, path) in [
        (Method::GET, "/admin"),
        (Method::GET, "/admin/api/orders"),
        (Method::GET, "/admin/api/alerts"),
        (Method::POST, "/admin/api/dlq/redrive"),
        (Method::GET, pay_page.as_str()),
        (Method::POST, &format!("{pay_page}/pay")),
        (Method::GET, "/sim/printful/orders"),
    ] {
        assert_eq!(
            status_with(&c, &dev, m.clone(), path, evil, None).await,
            403,
            "{m} {path}, Host"
        );
        assert_eq!(
            status_with(&c, &dev, m.clone(), path, Some(&ours), evil_origin).await,
            403,
            "{m} {path}, Origin"
        );
        // A loopback name on another port is another origin.
        assert_eq!(
            status_with(&c, &dev, m.clone(), path, Some("127.0.0.1:1"), None).await,
            403,
            "{m} {path}, another port"
        );
        assert_eq!(
            status_with(&c, &dev, m.clone(), path, Some(&ours), Some("null")).await,
            403,
            "{m} {path}, Origin null"
        );
    }
    // The forged payment did nothing.
    let (_, order) = get(&c, &format!("{}/orders/{order_id}", dev.url)).await;
    assert_eq!(order["status"], "pending_payment", "{order}");

    // The dev server's own names, with or without an Origin, pass.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let origin = format!("http://{host}");
        for (m, path) in [
            (Method::GET, "/admin"),
            (Method::GET, "/admin/api/orders"),
            (Method::GET, "/admin/api/dlq"),
            (Method::GET, pay_page.as_str()),
        ] {
            assert_eq!(
                status_with(&c, &dev, m.clone(), path, Some(&host), None).await,
                200,
                "{m} {path} {host}"
            );
            assert_eq!(
                status_with(&c, &dev, m.clone(), path, Some(&host), Some(&origin)).await,
                200,
                "{m} {path} {host} {origin}"
            );
        }
    }
    // The CLI's own calls (no Origin, the Host reqwest sets) pass.
    let (status, _) = get(&c, &format!("{}/admin/api/orders", dev.url)).await;
    assert_eq!(status, 200);

    // The public shop routes and the storefront do not look at Host or Origin.
    for (m, path, want) in [
        (Method::GET, "/catalog", 200),
        (Method::GET, "/health", 200),
        (Method::GET, "/", 200),
        (Method::GET, "/app.js", 200),
        (Method::GET, &format!("/orders/{order_id}"), 200),
        (Method::POST, "/webhooks/stripe", 400),
    ] {
        assert_eq!(
            status_with(&c, &dev, m.clone(), path, evil, evil_origin).await,
            want,
            "{m} {path}"
        );
    }
    let checkout = c
        .post(format!("{}/checkout", dev.url))
        .header("host", "evil.example")
        .header("origin", "http://evil.example")
        .header("content-type", "application/json")
        .body(json!({"items": [{"sku": "GULL-TOTE", "quantity": 1}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(checkout.status().as_u16(), 201);
    dev.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
