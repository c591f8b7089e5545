//! Payments in: checkout, the Stripe webhook and the worker, on a real database and the Stripe
//! simulator.

use backroom_testkit::app as support;

use std::sync::Arc;

use axum::http::StatusCode;
use backroom_app::checkout::CheckoutSettings;
use backroom_app::http::{self, Shop};
use backroom_core::ports::{AlertStore, CatalogStore, EventSource, Inbox, OrderStore, Severity};
use backroom_core::{Cause, OrderId, OrderStatus};
use backroom_stripe::webhook::signature_header;
use serde_json::{Value, json};
use support::{Options, TestApp, WEBHOOK_SECRET, stripe_client};

/// These stories are about payments: fulfillment is paused, so a paid order stays `paid`.
async fn app() -> TestApp {
    TestApp::with(Options {
        fulfillment_paused: true,
        ..Options::default()
    })
    .await
}

/// An event Stripe could have sent about a session, signed now with the shop's secret.
fn signed_event(id: &str, event_type: &str, object_id: &str, object: &str) -> (String, String) {
    let body = json!({
        "id": id, "object": "event", "type": event_type, "created": chrono::Utc::now().timestamp(), "livemode": false,
        "api_version": backroom_stripe::API_VERSION, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
        "data": {"object": {"id": object_id, "object": object}}
    })
    .to_string();
    let header = signature_header(body.as_bytes(), WEBHOOK_SECRET, chrono::Utc::now().timestamp());
    (body, header)
}

async fn post_webhook(app: &TestApp, body: &str, signature: Option<&str>) -> (StatusCode, Value) {
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri("/webhooks/stripe")
        .header("content-type", "application/json");
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    app.send(req.body(axum::body::Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_then_pay_makes_the_order_paid() {
    let app = app().await;
    let (order_id, _session) = app.checkout(&[("HARBOUR-TEE-M", 2), ("LIGHTHOUSE-PRINT-A3", 1)]).await;
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::PendingPayment);
    assert_eq!(order.total.amount.get(), 2 * 2800 + 6500);

    app.pay(order_id).await;
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::Paid);
    assert!(
        order.stripe_payment_intent_id.is_some(),
        "the payment intent is kept for refunds and disputes"
    );
    let shipping: Option<Value> = app
        .db
        .connect()
        .await
        .query_one("SELECT shipping FROM orders WHERE id = $1", &[&order_id.uuid()])
        .await
        .unwrap()
        .get(0);
    assert!(shipping.unwrap()["line1"].as_str().is_some_and(|l| !l.is_empty()));
    let (status, body) = app.request("GET", &format!("/orders/{order_id}"), None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "paid");
    assert_eq!(body["total"], json!({"amount": 12100, "currency": "EUR"}));
    assert_eq!(body["items"][0]["name"], "Harbour Tee");
    assert!(
        body.get("email").is_none() && !body.to_string().contains("buyer@example.com"),
        "no personal data: {body}"
    );
    let statuses: Vec<&str> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending_payment", "paid"]);
    // The sold print stays held.
    let print = app
        .store
        .catalog()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.variant.sku.as_str() == "LIGHTHOUSE-PRINT-A3")
        .unwrap();
    assert_eq!(print.available, Some(24));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_event_delivered_five_times_at_once_moves_the_order_once() {
    let app = TestApp::with(Options {
        duplicate_deliveries: 4,
        fulfillment_paused: true,
        ..Options::default()
    })
    .await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.sim.pay(&session, true).await.unwrap();
    app.wait_for_queue(5).await;
    let received = app.queue.receive(10);
    assert_eq!(received.len(), 5);
    assert!(
        received
            .iter()
            .all(|r| r.message.event_id == received[0].message.event_id)
    );
    let mut tasks = vec![];
    for r in received {
        let worker = app.worker.clone();
        tasks.push(tokio::spawn(async move { worker.process(&r.message).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Paid);
    assert_eq!(
        app.count("SELECT count(*) FROM order_timeline WHERE to_status = 'paid'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM inbox_events").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_after_payment_changes_nothing() {
    let app = app().await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(order_id).await;
    let (body, sig) = signed_event(
        "evt_late_expiry",
        "checkout.session.expired",
        &session,
        "checkout.session",
    );
    assert_eq!(post_webhook(&app, &body, Some(&sig)).await.0, StatusCode::OK);
    assert!(app.drain().await.is_empty());
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Paid);
    assert!(
        app.store
            .is_processed(EventSource::Stripe, "evt_late_expiry")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_event_after_a_refund_does_not_revert_it() {
    let app = app().await;
    let (order_id, session) = app.checkout(&[("GULL-TOTE", 2)]).await;
    app.pay(order_id).await;
    app.sim.refund(&session, None, true).await.unwrap();
    app.wait_for_queue(1).await;
    assert!(app.drain().await.is_empty());
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Refunded);

    let (body, sig) = signed_event(
        "evt_replayed_completion",
        "checkout.session.completed",
        &session,
        "checkout.session",
    );
    assert_eq!(post_webhook(&app, &body, Some(&sig)).await.0, StatusCode::OK);
    assert!(app.drain().await.is_empty());
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Refunded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_refund_goes_on_the_timeline_and_a_dispute_alerts_the_owner() {
    let app = app().await;
    let (order_id, session) = app.checkout(&[("GULL-TOTE", 2)]).await;
    app.pay(order_id).await;
    app.sim.refund(&session, Some(500), true).await.unwrap();
    app.wait_for_queue(1).await;
    assert!(app.drain().await.is_empty());
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Paid);
    let timeline = app.store.timeline(order_id).await.unwrap();
    assert_eq!(
        timeline.last().unwrap().detail,
        "partially refunded: 5.00 EUR of 44.00 EUR"
    );

    app.sim.dispute(&session, true).await.unwrap();
    app.wait_for_queue(1).await;
    assert!(app.drain().await.is_empty());
    let alerts = app.store.alerts(10).await.unwrap();
    let dispute = alerts.iter().find(|a| a.kind == "dispute").expect("a dispute alert");
    assert_eq!(dispute.order_id, Some(order_id));
    assert_eq!(dispute.severity, Severity::Ops);
    assert!(
        dispute.message.contains("opened a dispute") && dispute.message.contains("paid"),
        "{}",
        dispute.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_releases_the_stock() {
    let app = app().await;
    let (order_id, session) = app.checkout(&[("LIGHTHOUSE-PRINT-A3", 5)]).await;
    app.sim.expire(&session, true).await.unwrap();
    app.wait_for_queue(1).await;
    assert!(app.drain().await.is_empty());
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Expired);
    assert_eq!(
        app.count("SELECT count(*) FROM stock_holds WHERE released_at IS NULL")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_signatures_are_refused_and_nothing_is_queued() {
    let app = app().await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    let (body, good) = signed_event("evt_forged", "checkout.session.completed", &session, "checkout.session");
    let wrong_secret = signature_header(body.as_bytes(), "whsec_someone_else", chrono::Utc::now().timestamp());
    let stale = signature_header(body.as_bytes(), WEBHOOK_SECRET, chrono::Utc::now().timestamp() - 301);
    let tampered = body.replace("evt_forged", "evt_forgeX");
    for (name, body, sig) in [
        ("wrong secret", body.as_str(), Some(wrong_secret.as_str())),
        ("stale", body.as_str(), Some(stale.as_str())),
        ("tampered", tampered.as_str(), Some(good.as_str())),
        ("missing", body.as_str(), None),
        ("garbage", body.as_str(), Some("t=abc,v1=zz")),
    ] {
        let (status, reply) = post_webhook(&app, body, sig).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {reply}");
        assert_eq!(reply["error"]["code"], "invalid_signature", "{name}");
    }
    assert_eq!(app.queue.depth(), 0);
    assert_eq!(app.order(order_id).await.status(), OrderStatus::PendingPayment);

    let (other, sig) = signed_event("evt_other", "customer.created", "cus_1", "customer");
    let (status, reply) = post_webhook(&app, &other, Some(&sig)).await;
    assert_eq!(
        (status, reply["queued"].clone()),
        (StatusCode::OK, json!(false)),
        "an event type we do not handle is acknowledged"
    );
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(300 * 1024));
    let sig = signature_header(huge.as_bytes(), WEBHOOK_SECRET, chrono::Utc::now().timestamp());
    assert_eq!(
        post_webhook(&app, &huge, Some(&sig)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(app.queue.depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_queue_is_down_webhooks_get_503_and_stripe_retries_until_it_lands() {
    let app = app().await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.queue.set_unavailable(true);
    let (body, sig) = signed_event(
        "evt_during_outage",
        "checkout.session.completed",
        &session,
        "checkout.session",
    );
    let (status, reply) = post_webhook(&app, &body, Some(&sig)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply["error"]["code"], "queue_unavailable");

    // The simulator's delivery meets the same outage and retries with back-off.
    app.sim.pay(&session, true).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.queue.depth(), 0);
    app.queue.set_unavailable(false);
    app.wait_for_queue(1).await;
    assert!(app.drain().await.is_empty());
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Paid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_fails_only_that_message_and_redelivery_succeeds() {
    let app = app().await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.sim.pay(&session, true).await.unwrap();
    app.wait_for_queue(1).await;
    let admin = app.db.connect().await;
    admin
        .batch_execute("ALTER TABLE inbox_events RENAME TO inbox_events_away")
        .await
        .unwrap();
    let failed = app.drain().await;
    assert_eq!(failed.len(), 1, "the message failed");
    assert_eq!(app.order(order_id).await.status(), OrderStatus::PendingPayment);
    admin
        .batch_execute("ALTER TABLE inbox_events_away RENAME TO inbox_events")
        .await
        .unwrap();
    // Visible again after the visibility timeout, like SQS.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert!(app.drain().await.is_empty());
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Paid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_outside_backroom_raises_a_security_alert() {
    let app = app().await;
    let session = app.sim.create_foreign_session(2500, "eur", true).await.unwrap();
    app.wait_for_queue(1).await;
    assert!(app.drain().await.is_empty());
    let alerts = app.store.alerts(10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, Severity::Security);
    assert_eq!(alerts[0].kind, "unknown_stripe_session");
    assert!(alerts[0].message.contains(&session));
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_checkout_refusal_is_json_and_writes_nothing() {
    let app = app().await;
    let body = |items: Value| json!({ "items": items }).to_string();
    // (name, content type, body, status, error code, field)
    type Case<'a> = (&'a str, Option<&'a str>, String, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "no content type",
            None,
            body(json!([{"sku":"FOG-MUG","quantity":1}])),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "not json",
            Some("application/json"),
            "{".into(),
            400,
            "invalid_json",
            None,
        ),
        (
            "no items",
            Some("application/json"),
            body(json!([])),
            422,
            "missing_items",
            Some("items"),
        ),
        (
            "too many lines",
            Some("application/json"),
            body(json!(vec![json!({"sku":"FOG-MUG","quantity":1}); 21])),
            422,
            "too_many_items",
            Some("items"),
        ),
        (
            "zero",
            Some("application/json"),
            body(json!([{"sku":"FOG-MUG","quantity":0}])),
            422,
            "invalid_quantity",
            Some("items[0].quantity"),
        ),
        (
            "eleven",
            Some("application/json"),
            body(json!([{"sku":"FOG-MUG","quantity":11}])),
            422,
            "invalid_quantity",
            Some("items[0].quantity"),
        ),
        (
            "unknown",
            Some("application/json"),
            body(json!([{"sku":"FOG-MUG","quantity":1},{"sku":"NOPE","quantity":1}])),
            404,
            "unknown_sku",
            Some("items[1].sku"),
        ),
        (
            "bad email",
            Some("application/json"),
            json!({"items":[{"sku":"FOG-MUG","quantity":1}],"email":"x@"}).to_string(),
            422,
            "invalid_email",
            Some("email"),
        ),
        (
            "one piece hoarded over three lines",
            Some("application/json"),
            body(
                json!([{"sku":"LIGHTHOUSE-PRINT-A3","quantity":10},{"sku":"LIGHTHOUSE-PRINT-A3","quantity":10},{"sku":"LIGHTHOUSE-PRINT-A3","quantity":10}]),
            ),
            422,
            "over_order_limit",
            Some("items[1].quantity"),
        ),
        (
            "too big",
            Some("application/json"),
            format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024)),
            413,
            "payload_too_large",
            None,
        ),
    ];
    for (name, ct, body, status, code, field) in cases {
        let (got, reply) = app.request("POST", "/checkout", ct, body).await;
        assert_eq!(got.as_u16(), status, "{name}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{name}");
        assert_eq!(reply["error"]["field"].as_str(), field, "{name}");
        assert!(
            reply["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM stock_holds").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM order_timeline").await, 0);
    assert!(app.sim.events().is_empty(), "no session was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_stripe_fails_the_order_is_marked_failed_and_its_stock_released() {
    let app = app().await;
    let shop = Shop {
        store: app.store.clone(),
        // Nothing listens on port 9 of the loopback: every call fails to connect.
        stripe: stripe_client("http://127.0.0.1:9/sim/stripe"),
        checkout: CheckoutSettings {
            storefront_origin: support::ORIGIN.into(),
            shipping_countries: vec!["DE".into()],
            shipping_rate_ids: vec![],
            ..Default::default()
        },
    };
    let router = http::shop_routes(Arc::new(shop));
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/checkout")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"items":[{"sku":"LIGHTHOUSE-PRINT-A3","quantity":2}]}).to_string(),
        ))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let reply: Value =
        serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(reply["error"]["code"], "payment_provider_unavailable");
    let id: uuid::Uuid = app
        .db
        .connect()
        .await
        .query_one("SELECT id FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    let order = app.order(OrderId::from_uuid(id)).await;
    assert_eq!(order.status(), OrderStatus::Failed);
    assert_eq!(
        app.count("SELECT count(*) FROM stock_holds WHERE released_at IS NULL")
            .await,
        0
    );
    let timeline = app.store.timeline(order.id).await.unwrap();
    assert_eq!(timeline.last().unwrap().cause, Cause::Checkout);
}

/// `POST /checkout` through a shop whose Stripe client talks to `stripe`.
async fn checkout_with(app: &TestApp, stripe: backroom_stripe::StripeClient) -> (StatusCode, Value) {
    let shop = Shop {
        store: app.store.clone(),
        stripe,
        checkout: CheckoutSettings {
            storefront_origin: support::ORIGIN.into(),
            shipping_countries: vec!["DE".into()],
            shipping_rate_ids: vec![],
            ..Default::default()
        },
    };
    let router = http::shop_routes(Arc::new(shop));
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/checkout")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"items":[{"sku":"LIGHTHOUSE-PRINT-A3","quantity":2}]}).to_string(),
        ))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let reply: Value =
        serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    (status, reply)
}

/// Every order is failed, with its stock released and the failure caused by checkout.
async fn assert_every_order_failed_at_checkout(app: &TestApp, orders: i64) {
    let ids: Vec<uuid::Uuid> = app
        .db
        .connect()
        .await
        .query("SELECT id FROM orders", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids.len() as i64, orders);
    for id in ids {
        let order = app.order(OrderId::from_uuid(id)).await;
        assert_eq!(order.status(), OrderStatus::Failed);
        let timeline = app.store.timeline(order.id).await.unwrap();
        assert_eq!(timeline.last().unwrap().cause, Cause::Checkout);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM stock_holds WHERE released_at IS NULL")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_stripe_refuses_the_checkout_the_storefront_gets_a_4xx_with_stripes_reason() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let app = app().await;
    let cases = [
        (
            400,
            json!({"error": {"type": "invalid_request_error", "code": "parameter_invalid_empty",
                "message": "Invalid shipping_address_collection[allowed_countries][0]: must be one of AC, AD, AE",
                "param": "shipping_address_collection[allowed_countries][0]"}}),
            "Invalid shipping_address_collection[allowed_countries][0]: must be one of AC, AD, AE",
        ),
        (
            400,
            json!({"error": {"type": "invalid_request_error", "message": "Invalid email address: a@b",
                "param": "customer_email"}}),
            "Invalid email address: a@b",
        ),
        (
            402,
            json!({"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}),
            "Your card was declined.",
        ),
    ];
    for (n, (status, body, stripe_message)) in cases.into_iter().enumerate() {
        let stripe = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .expect(1)
            .mount(&stripe)
            .await;
        let (got, reply) = checkout_with(&app, stripe_client(&stripe.uri())).await;
        assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY, "Stripe {status}: {reply}");
        assert_eq!(reply["error"]["code"], "payment_provider_refused", "{reply}");
        assert_eq!(
            reply["error"]["message"],
            format!("the payment provider refused this checkout: {stripe_message}"),
        );
        assert_every_order_failed_at_checkout(&app, n as i64 + 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_stripe_fails_on_its_side_the_storefront_gets_a_502() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let app = app().await;
    let cases = [
        (
            500,
            json!({"error": {"type": "api_error", "message": "An unknown error occurred"}}),
        ),
        (
            401,
            json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****kend"}}),
        ),
        (
            429,
            json!({"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}),
        ),
    ];
    for (n, (status, body)) in cases.into_iter().enumerate() {
        let stripe = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&stripe)
            .await;
        let (got, reply) = checkout_with(&app, stripe_client(&stripe.uri())).await;
        assert_eq!(got, StatusCode::BAD_GATEWAY, "Stripe {status}: {reply}");
        assert_eq!(reply["error"]["code"], "payment_provider_unavailable");
        assert!(
            !reply.to_string().contains("sk_test"),
            "Stripe's own message stays in the log: {reply}"
        );
        assert_every_order_failed_at_checkout(&app, n as i64 + 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_routes_answer_as_documented() {
    let app = app().await;
    let (status, catalog) = app.request("GET", "/catalog", None, "").await;
    assert_eq!(status, StatusCode::OK);
    let products = catalog["products"].as_array().unwrap();
    assert_eq!(products.len(), 5);
    assert_eq!(
        products[0]["variants"][0]["price"],
        json!({"amount": 2800, "currency": "EUR"})
    );
    let print = products.iter().find(|p| p["slug"] == "lighthouse-print").unwrap();
    assert_eq!(print["variants"][0]["stock_left"], 25);

    assert_eq!(
        app.request("GET", "/health", None, "").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let (status, reply) = app.request("GET", "/orders/not-an-id", None, "").await;
    assert_eq!(
        (status, reply["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_order_id"))
    );
    let (status, reply) = app
        .request("GET", &format!("/orders/{}", OrderId::new_random()), None, "")
        .await;
    assert_eq!(
        (status, reply["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("order_not_found"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_storefront_origin_only() {
    let app = app().await;
    use tower::ServiceExt;
    let preflight = |origin: &str| {
        axum::http::Request::builder()
            .method("OPTIONS")
            .uri("/checkout")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let ok = app.router.clone().oneshot(preflight(support::ORIGIN)).await.unwrap();
    assert_eq!(
        ok.headers().get("access-control-allow-origin").unwrap(),
        support::ORIGIN
    );
    let other = app
        .router
        .clone()
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
