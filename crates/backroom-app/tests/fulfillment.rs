//! Fulfillment out: submission to Printful, Printful webhooks, and the worker's Printful side,
//! on a real database and both simulators.

use backroom_testkit::app as support;

use std::time::Duration;

use axum::http::StatusCode;
use backroom_core::ports::{AlertStore, OrderStore, Severity};
use backroom_core::{OrderId, OrderStatus};
use serde_json::{Value, json};
use support::{Options, PRINTFUL_SECRET_HEX, PRINTFUL_TOKEN, TestApp};

fn printful_orders_for(app: &TestApp, order: OrderId) -> Vec<Value> {
    app.printful_sim
        .orders()
        .into_iter()
        .filter(|o| o["external_id"] == order.external_id())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_goes_to_printful_and_ships_with_tracking_through_webhooks() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("HARBOUR-TEE-M", 1), ("FOG-MUG", 2)]).await;
    let calls_before = app.printful.calls();
    app.pay(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    let at_printful = printful_orders_for(&app, order_id);
    assert_eq!(at_printful.len(), 1);
    assert_eq!(at_printful[0]["status"], "pending", "confirmed, not left as a draft");
    let items = at_printful[0]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["sync_variant_id"], 4000102);
    assert_eq!(items[1]["quantity"], 2);
    assert!(
        at_printful[0]["recipient"]["address1"]
            .as_str()
            .is_some_and(|a| !a.is_empty())
    );

    app.advance_at_printful(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::InProduction);
    app.advance_at_printful(order_id).await;
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::Shipped);
    let calls = app.printful.calls() - calls_before;
    println!("Printful calls for one order from payment to shipped: {calls}");

    let (status, body) = app.request("GET", &format!("/orders/{order_id}"), None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "shipped");
    let tracking = body["tracking"].as_array().unwrap();
    assert_eq!(tracking.len(), 1);
    assert!(tracking[0]["number"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(tracking[0]["url"].as_str().is_some_and(|u| u.starts_with("http")));
    let statuses: Vec<&str> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["pending_payment", "paid", "submitted", "in_production", "shipped"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_response_is_lost_still_makes_exactly_one_printful_order() {
    let app = TestApp::with(Options {
        printful_timeout: Duration::from_millis(500),
        ..Options::default()
    })
    .await;
    let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.printful_sim.drop_next_create();
    app.pay(order_id).await;
    assert_eq!(printful_orders_for(&app, order_id).len(), 1);
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    // Advancing again (a redelivery, the reconciler) adopts the same order.
    app.worker.advance(order_id).await.unwrap();
    assert_eq!(printful_orders_for(&app, order_id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_429s_is_ridden_out_within_the_back_off_bound() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.printful_sim.fail_next(3, 429);
    app.pay(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    assert_eq!(printful_orders_for(&app, order_id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_repeated_printful_webhooks_never_move_an_order_back() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(order_id).await;
    app.advance_at_printful(order_id).await;
    app.advance_at_printful(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);
    // Every webhook delivered so far, replayed in reverse order and twice over.
    let mut replays: Vec<String> = app
        .printful_sim
        .deliveries()
        .into_iter()
        .map(|d| d.body.clone())
        .collect();
    assert!(replays.len() >= 2, "the simulator sent webhooks");
    replays.reverse();
    let doubled: Vec<String> = replays.iter().chain(replays.iter()).cloned().collect();
    for body in doubled {
        let (status, _) = post_printful(&app, PRINTFUL_TOKEN, &body, true).await;
        assert_eq!(status, StatusCode::OK);
    }
    app.settle().await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);
    assert_eq!(app.store.shipments(order_id).await.unwrap().len(), 1);
}

async fn post_printful(app: &TestApp, token: &str, body: &str, sign: bool) -> (StatusCode, Value) {
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/webhooks/printful/{token}"))
        .header("content-type", "application/json");
    if sign {
        req = req.header(
            "x-pf-webhook-signature",
            backroom_printful::webhook::sign(PRINTFUL_SECRET_HEX, body.as_bytes()),
        );
    }
    app.send(req.body(axum::body::Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_or_a_bad_signature_is_refused_and_nothing_is_queued() {
    let app = TestApp::new().await;
    let body = json!({"type": "order_updated", "created": 1_700_000_000, "retries": 0, "store": 1,
        "data": {"order": {"id": 1, "external_id": OrderId::new_random().external_id(), "status": "pending"}}})
    .to_string();
    let (status, reply) = post_printful(&app, "not-the-token", &body, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!reply.to_string().contains("token"), "no hint: {reply}");
    let (status, _) = post_printful(&app, &PRINTFUL_TOKEN[..PRINTFUL_TOKEN.len() - 1], &body, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let forged = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/webhooks/printful/{PRINTFUL_TOKEN}"))
        .header("x-pf-webhook-signature", "00".repeat(32))
        .body(axum::body::Body::from(body.clone()))
        .unwrap();
    let (status, reply) = app.send(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reply}");
    assert_eq!(reply["error"]["code"], "invalid_signature");
    assert_eq!(app.queue.depth(), 0);
    assert_eq!(post_printful(&app, PRINTFUL_TOKEN, &body, true).await.0, StatusCode::OK);
    assert_eq!(app.queue.depth(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_v2_secret_configured_an_unsigned_webhook_is_refused() {
    // TestApp configures PRINTFUL_WEBHOOK_SECRET: the right token without the signature header
    // must not be enough, or dropping the header would downgrade the check to the token alone.
    let app = TestApp::new().await;
    let body = json!({"type": "order_updated", "created": 1_700_000_000, "retries": 0, "store": 1,
        "data": {"order": {"id": 1, "external_id": OrderId::new_random().external_id(), "status": "pending"}}})
    .to_string();
    let (status, reply) = post_printful(&app, PRINTFUL_TOKEN, &body, false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reply}");
    assert_eq!(reply["error"]["code"], "missing_signature");
    assert_eq!(app.queue.depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_v2_secret_the_token_alone_admits_a_webhook() {
    use backroom_app::http::{self, Ingest};
    use backroom_app::queue::LocalQueue;
    let queue = LocalQueue::new(Duration::from_secs(30), 5);
    let router = http::with_json_fallback(http::webhook_routes(std::sync::Arc::new(Ingest {
        stripe_verifier: None,
        printful_token: Some(PRINTFUL_TOKEN.to_string().into()),
        printful_secret: None,
        queue: backroom_app::Queue::Local(queue.clone()),
    })));
    let body = json!({"type": "order_updated", "created": 1_700_000_000, "retries": 0, "store": 1,
        "data": {"order": {"id": 1, "external_id": OrderId::new_random().external_id(), "status": "pending"}}})
    .to_string();
    let send = |signature: Option<String>| {
        let mut req = axum::http::Request::builder()
            .method("POST")
            .uri(format!("/webhooks/printful/{PRINTFUL_TOKEN}"));
        if let Some(signature) = signature {
            req = req.header("x-pf-webhook-signature", signature);
        }
        let req = req.body(axum::body::Body::from(body.clone())).unwrap();
        let router = router.clone();
        async move {
            use tower::ServiceExt;
            router.oneshot(req).await.unwrap().status()
        }
    };
    // A signature that cannot be checked is refused; an unsigned (v1) webhook is queued.
    let signed = backroom_printful::webhook::sign(PRINTFUL_SECRET_HEX, body.as_bytes());
    assert_eq!(send(Some(signed)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(queue.depth(), 0);
    assert_eq!(send(None).await, StatusCode::OK);
    assert_eq!(queue.depth(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_nobody_made_here_raises_one_security_alert() {
    let app = TestApp::new().await;
    let foreign = app.printful_sim.create_foreign_order(None);
    let body = json!({"type": "order_created", "created": 1_700_000_000, "retries": 0, "store": 1,
        "data": {"order": {"id": foreign, "external_id": null, "status": "pending"}}})
    .to_string();
    for _ in 0..2 {
        assert_eq!(post_printful(&app, PRINTFUL_TOKEN, &body, true).await.0, StatusCode::OK);
    }
    app.settle().await;
    let alerts = app.store.alerts(10).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].severity, Severity::Security);
    assert_eq!(alerts[0].kind, "unknown_printful_order");
    assert!(alerts[0].message.contains(&foreign.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_fulfillment_holds_paid_orders_until_released() {
    let app = TestApp::with(Options {
        fulfillment_paused: true,
        ..Options::default()
    })
    .await;
    let (order_id, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Paid);
    assert!(printful_orders_for(&app, order_id).is_empty());
    assert!(app.store.release_fulfillment(order_id).await.unwrap());
    app.worker.advance(order_id).await.unwrap();
    app.settle().await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    assert_eq!(printful_orders_for(&app, order_id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_before_production_cancels_at_printful_and_after_it_alerts() {
    let app = TestApp::new().await;
    let (early, early_session) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(early).await;
    app.sim.refund(&early_session, None, true).await.unwrap();
    app.wait_for_queue(1).await;
    app.settle().await;
    assert_eq!(app.order(early).await.status(), OrderStatus::Refunded);
    assert_eq!(printful_orders_for(&app, early)[0]["status"], "canceled");

    let (late, late_session) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(late).await;
    app.advance_at_printful(late).await;
    assert_eq!(app.order(late).await.status(), OrderStatus::InProduction);
    app.sim.refund(&late_session, None, true).await.unwrap();
    app.wait_for_queue(1).await;
    app.settle().await;
    assert_eq!(app.order(late).await.status(), OrderStatus::Refunded);
    assert_eq!(printful_orders_for(&app, late)[0]["status"], "inprocess");
    let alerts = app.store.alerts(10).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "refunded_in_production" && a.order_id == Some(late)),
        "{alerts:?}"
    );
}
