//! Bad input against every route: each request is answered with a 4xx JSON error (never a 5xx,
//! never a silent success), and nothing is written.

use axum::body::Body;
use axum::http::Request;
use backroom_testkit::app::{PRINTFUL_TOKEN, TestApp};
use tower::ServiceExt;

struct Case {
    name: String,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

fn case(
    name: impl Into<String>,
    method: &'static str,
    path: impl Into<String>,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
) -> Case {
    Case {
        name: name.into(),
        method,
        path: path.into(),
        content_type,
        body: body.into(),
        headers: vec![],
    }
}

fn cases() -> Vec<Case> {
    let json = Some("application/json");
    let mut all = vec![];
    // POST /checkout: wrong types, huge numbers, unicode, injection strings, sizes, content types.
    let checkout_bodies: Vec<(&str, String)> = vec![
        ("empty body", String::new()),
        ("null", "null".into()),
        ("a number", "42".into()),
        ("a string", "\"items\"".into()),
        ("an array", "[]".into()),
        ("truncated", "{\"items\":[{\"sku\":\"FOG-MUG\",\"quan".into()),
        (
            "trailing garbage",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":1}]}xyz".into(),
        ),
        ("items null", "{\"items\":null}".into()),
        ("items a string", "{\"items\":\"FOG-MUG\"}".into()),
        ("items an object", "{\"items\":{\"sku\":\"FOG-MUG\"}}".into()),
        ("item a number", "{\"items\":[7]}".into()),
        ("item null", "{\"items\":[null]}".into()),
        ("sku a number", "{\"items\":[{\"sku\":7,\"quantity\":1}]}".into()),
        ("sku empty", "{\"items\":[{\"sku\":\"\",\"quantity\":1}]}".into()),
        ("sku unicode", "{\"items\":[{\"sku\":\"MÜG\",\"quantity\":1}]}".into()),
        (
            "sku emoji",
            "{\"items\":[{\"sku\":\"\u{1F600}\",\"quantity\":1}]}".into(),
        ),
        (
            "sku injection",
            "{\"items\":[{\"sku\":\"x'; DROP TABLE orders; --\",\"quantity\":1}]}".into(),
        ),
        (
            "sku html",
            "{\"items\":[{\"sku\":\"<script>alert(1)</script>\",\"quantity\":1}]}".into(),
        ),
        (
            "sku very long",
            format!("{{\"items\":[{{\"sku\":\"{}\",\"quantity\":1}}]}}", "A".repeat(10_000)),
        ),
        (
            "sku unknown",
            "{\"items\":[{\"sku\":\"NO-SUCH-THING\",\"quantity\":1}]}".into(),
        ),
        ("quantity missing", "{\"items\":[{\"sku\":\"FOG-MUG\"}]}".into()),
        (
            "quantity zero",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":0}]}".into(),
        ),
        (
            "quantity negative",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":-1}]}".into(),
        ),
        (
            "quantity fraction",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":1.5}]}".into(),
        ),
        (
            "quantity huge",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":99999999999999999999999999}]}".into(),
        ),
        (
            "quantity i64 max",
            format!("{{\"items\":[{{\"sku\":\"FOG-MUG\",\"quantity\":{}}}]}}", i64::MAX),
        ),
        (
            "quantity a string",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":\"1\"}]}".into(),
        ),
        (
            "quantity true",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":true}]}".into(),
        ),
        (
            "quantity exponent",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":1e1}]}".into(),
        ),
        (
            "twenty-one lines",
            format!(
                "{{\"items\":[{}]}}",
                vec!["{\"sku\":\"FOG-MUG\",\"quantity\":1}"; 21].join(",")
            ),
        ),
        (
            "email a number",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":1}],\"email\":5}".into(),
        ),
        (
            "email no at",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":1}],\"email\":\"nobody\"}".into(),
        ),
        (
            "email injection",
            "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":1}],\"email\":\"a@b.co\\r\\nBcc: x@y.z\"}".into(),
        ),
        (
            "email very long",
            format!(
                "{{\"items\":[{{\"sku\":\"FOG-MUG\",\"quantity\":1}}],\"email\":\"{}@example.com\"}}",
                "a".repeat(5_000)
            ),
        ),
        ("deeply nested", format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
        ("oversized", format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024))),
        (
            "invalid utf-8",
            String::from_utf8_lossy(&[0x7b, 0xff, 0xfe, 0x7d]).into_owned(),
        ),
    ];
    for (name, body) in checkout_bodies {
        all.push(case(format!("checkout: {name}"), "POST", "/checkout", json, body));
    }
    all.push(case(
        "checkout: raw invalid utf-8 bytes",
        "POST",
        "/checkout",
        json,
        vec![0x7b, 0xff, 0xfe, 0x7d],
    ));
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "json",
    ] {
        all.push(Case {
            content_type: Some(ct),
            ..case(
                format!("checkout: content type {ct}"),
                "POST",
                "/checkout",
                None,
                "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":1}]}",
            )
        });
    }
    all.push(case(
        "checkout: no content type",
        "POST",
        "/checkout",
        None,
        "{\"items\":[{\"sku\":\"FOG-MUG\",\"quantity\":1}]}",
    ));
    // GET /orders/{id}
    for id in [
        "nope",
        "123",
        "'%20OR%201=1",
        "%00",
        "00000000-0000-0000-0000-00000000000g",
        &"a".repeat(300),
        "%F0%9F%98%80",
    ] {
        all.push(case(
            format!("order: {id:.20}"),
            "GET",
            format!("/orders/{id}"),
            None,
            "",
        ));
    }
    all.push(case(
        "order: unknown id",
        "GET",
        format!("/orders/{}", uuid::Uuid::new_v4()),
        None,
        "",
    ));
    // Webhooks.
    let event = "{\"id\":\"evt_1\",\"type\":\"checkout.session.completed\",\"created\":1,\"livemode\":false,\"data\":{\"object\":{\"id\":\"cs_1\"}}}";
    all.push(case("stripe: no signature", "POST", "/webhooks/stripe", json, event));
    for sig in [
        "",
        "garbage",
        "t=1",
        "v1=abc",
        "t=abc,v1=def",
        "t=1,v0=abc",
        &format!("t={},v1={}", chrono::Utc::now().timestamp(), "0".repeat(64)),
    ] {
        all.push(Case {
            headers: vec![("stripe-signature", sig.to_string())],
            ..case(
                format!("stripe: signature {sig:.16}"),
                "POST",
                "/webhooks/stripe",
                json,
                event,
            )
        });
    }
    all.push(case(
        "stripe: oversized",
        "POST",
        "/webhooks/stripe",
        json,
        "x".repeat(300 * 1024),
    ));
    all.push(case(
        "printful: wrong token",
        "POST",
        "/webhooks/printful/wrong",
        json,
        "{}",
    ));
    all.push(case("printful: empty token", "POST", "/webhooks/printful/", json, "{}"));
    all.push(Case {
        headers: vec![("x-pf-webhook-signature", "00".repeat(32))],
        ..case(
            "printful: bad signature",
            "POST",
            format!("/webhooks/printful/{PRINTFUL_TOKEN}"),
            json,
            "{\"type\":\"order_updated\",\"created\":1}",
        )
    });
    for body in ["", "{", "[]", "{\"type\":7}", "{\"data\":{}}"] {
        all.push(case(
            format!("printful: body {body:?}"),
            "POST",
            format!("/webhooks/printful/{PRINTFUL_TOKEN}"),
            json,
            body,
        ));
    }
    // Wrong methods and unknown paths.
    for (method, path) in [
        ("GET", "/checkout"),
        ("DELETE", "/orders/x"),
        ("PUT", "/catalog"),
        ("GET", "/webhooks/stripe"),
        ("POST", "/health"),
        ("GET", "/nothing-here"),
        ("POST", "/admin/api/orders"),
    ] {
        all.push(case(format!("{method} {path}"), method, path, None, ""));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_request_gets_a_4xx_json_error_and_writes_nothing() {
    let app = TestApp::new().await;
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = vec![];
    for c in &cases {
        let mut req = Request::builder().method(c.method).uri(&c.path);
        if let Some(ct) = c.content_type {
            req = req.header("content-type", ct);
        }
        for (k, v) in &c.headers {
            req = req.header(*k, v);
        }
        let response = app
            .router
            .clone()
            .oneshot(req.body(Body::from(c.body.clone())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        let has_error = json
            .as_ref()
            .is_some_and(|j| j["error"]["code"].is_string() && j["error"]["message"].is_string());
        if !status.is_client_error() || !has_error {
            failures.push(format!(
                "{}: {} {}",
                c.name,
                status,
                String::from_utf8_lossy(&bytes).chars().take(120).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!(
        "{} malformed requests, each answered with a 4xx JSON error",
        cases.len()
    );
    for table in [
        "orders",
        "order_items",
        "stock_holds",
        "order_timeline",
        "inbox_events",
        "alerts",
    ] {
        assert_eq!(app.count(&format!("SELECT count(*) FROM {table}")).await, 0, "{table}");
    }
    assert_eq!(app.queue.depth(), 0, "nothing was queued");
    assert!(app.sim.events().is_empty(), "no checkout session was made");
}
