//! The reconciler, one story per finding: each kind of discrepancy is brought about through the
//! real parts (the database, the Stripe and Printful simulators and their control surface), is
//! reported, and where `fix` repairs it, the repair holds and a second run finds nothing.

use backroom_app::reconcile::{ReconcileOptions, reconcile, table};
use backroom_core::ports::{AlertStore, Discrepancy, DiscrepancyKind, OrderStore, ReconcileRun, Severity};
use backroom_core::{OrderId, OrderStatus};
use backroom_testkit::app::{ORIGIN, PRINTFUL_TOKEN, TestApp};
use chrono::Utc;

fn options(app: &TestApp, fix: bool) -> ReconcileOptions {
    ReconcileOptions {
        days: 30,
        fix,
        webhook_base_url: Some(app.base.clone()),
    }
}

async fn run(app: &TestApp, fix: bool) -> ReconcileRun {
    Box::pin(reconcile(&app.worker, &options(app, fix), Utc::now()))
        .await
        .unwrap()
}

/// The one finding of `kind`, when it is the only finding of the run.
fn only(run: &ReconcileRun, kind: DiscrepancyKind) -> Discrepancy {
    assert_eq!(run.discrepancies.len(), 1, "{:#?}", run.discrepancies);
    let d = run.discrepancies[0].clone();
    assert_eq!(d.kind, kind, "{d:?}");
    d
}

fn assert_clean(run: &ReconcileRun) {
    assert!(run.discrepancies.is_empty(), "{}", table(run));
}

/// Every stored alert row, as text (message, dedupe key and all).
async fn alert_rows(app: &TestApp) -> String {
    app.db
        .connect()
        .await
        .query_one("SELECT coalesce(string_agg(a::text, '\n'), '') FROM alerts a", &[])
        .await
        .unwrap()
        .get(0)
}

/// Every stored reconcile report, as text.
async fn stored_reports(app: &TestApp) -> String {
    app.db
        .connect()
        .await
        .query_one(
            "SELECT coalesce(string_agg(report::text, '\n'), '') FROM reconcile_runs",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

// ---- Stripe → database ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_order_a_paid_session_whose_webhook_was_lost_is_applied_and_submitted() {
    let app = TestApp::new().await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.sim.pay(&session, false).await.unwrap();
    app.settle().await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::PendingPayment);

    // Without fix: reported, nothing changes.
    let look = run(&app, false).await;
    let d = only(&look, DiscrepancyKind::MissingOrder);
    assert_eq!(d.order_id, Some(order_id));
    assert_eq!(d.severity, Severity::Ops);
    assert!(!d.repaired);
    assert!(d.detail.contains(&session), "{}", d.detail);
    assert_eq!(app.order(order_id).await.status(), OrderStatus::PendingPayment);

    let fixed = run(&app, true).await;
    let d = only(&fixed, DiscrepancyKind::MissingOrder);
    assert!(d.repaired);
    app.settle().await;
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::Submitted, "paid and sent to print");
    let at_printful: Vec<_> = app
        .printful_sim
        .orders()
        .into_iter()
        .filter(|o| o["external_id"] == order_id.external_id())
        .collect();
    assert_eq!(at_printful.len(), 1);
    assert_clean(&run(&app, false).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amount_mismatch_a_session_paid_with_another_total_is_reported_and_left_to_a_person() {
    let app = TestApp::new().await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    // The order's total no longer matches what the session charges.
    app.db
        .connect()
        .await
        .execute(
            "UPDATE orders SET total_cents = total_cents + 100 WHERE id = $1",
            &[&order_id.uuid()],
        )
        .await
        .unwrap();
    let total = app.order(order_id).await.total;
    app.pay(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::NeedsAttention);

    let first = run(&app, true).await;
    let d = only(&first, DiscrepancyKind::AmountMismatch);
    assert_eq!(d.order_id, Some(order_id));
    assert_eq!(d.severity, Severity::Ops);
    assert!(!d.repaired, "a person decides: refund, or fix the order");
    assert!(d.detail.contains(&session), "{}", d.detail);
    assert!(d.detail.contains(&total.to_string()), "{}", d.detail);
    assert_eq!(app.order(order_id).await.status(), OrderStatus::NeedsAttention);
    assert!(
        app.printful_sim.orders().is_empty(),
        "nothing is sent to print for a wrong amount"
    );
    // It stays reported until a person resolves it.
    let again = run(&app, true).await;
    assert_eq!(only(&again, DiscrepancyKind::AmountMismatch).order_id, Some(order_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_stripe_session_naming_an_order_backroom_does_not_have_is_a_security_finding() {
    let app = TestApp::new().await;
    // Someone with the Stripe key makes a session that names an order id of the right shape.
    let stranger = OrderId::new_random();
    let created = app
        .stripe
        .create_checkout_session(&backroom_stripe::CheckoutRequest {
            order_id: stranger,
            lines: vec![backroom_stripe::CheckoutLine {
                name: "Not from this shop".into(),
                unit_amount: backroom_core::Cents::new(1500).unwrap(),
                currency: backroom_core::Currency::parse("EUR").unwrap(),
                quantity: 1,
            }],
            customer_email: None,
            success_url: format!("{ORIGIN}/thanks"),
            cancel_url: format!("{ORIGIN}/cart"),
            shipping_countries: vec![],
            shipping_rate_ids: vec![],
            shipping_options: vec![],
            automatic_tax: false,
            allow_promotion_codes: false,
            expires_at: Utc::now().timestamp() + 3600,
        })
        .await
        .unwrap();
    app.sim.pay(&created.id, false).await.unwrap();

    let found = run(&app, true).await;
    let d = only(&found, DiscrepancyKind::UnknownStripeSession);
    assert_eq!(d.severity, Severity::Security);
    assert_eq!(d.order_id, Some(stranger));
    assert!(!d.repaired);
    assert!(d.detail.contains(&created.id), "{}", d.detail);
    assert!(app.store.order(stranger).await.unwrap().is_none(), "fix makes no order");
    let alerts = app.store.alerts(50).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "unknown_stripe_session" && a.severity == Severity::Security),
        "{alerts:?}"
    );
}

// ---- Printful → database ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_behind_a_shipment_whose_webhooks_were_lost_is_applied() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    app.printful_sim.set_webhook_delivery(false);
    app.printful_sim.advance(&order_id.external_id()).await.unwrap();
    app.printful_sim.advance(&order_id.external_id()).await.unwrap();
    app.settle().await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);

    let look = run(&app, false).await;
    let d = only(&look, DiscrepancyKind::StatusBehind);
    assert_eq!(d.order_id, Some(order_id));
    assert!(!d.repaired);
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);

    let fixed = run(&app, true).await;
    assert!(only(&fixed, DiscrepancyKind::StatusBehind).repaired);
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);
    let shipments = app.store.shipments(order_id).await.unwrap();
    assert_eq!(shipments.len(), 1, "the shipment comes with the status");
    assert_clean(&run(&app, false).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_behind_a_draft_left_by_a_failed_confirm_is_confirmed_by_the_repair() {
    let app = TestApp::new().await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    // The worker's create works, its confirm does not, and Printful's order_created webhook is
    // lost: Printful has a draft, backroom a paid order it has not yet seen at Printful.
    app.printful_sim.fail_next_confirms(1);
    app.printful_sim.set_webhook_delivery(false);
    app.sim.pay(&session, true).await.unwrap();
    app.wait_for_queue(1).await;
    assert!(
        app.drain().await.is_empty(),
        "the payment is applied; the failed confirm is owed work"
    );
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::Paid);
    assert!(
        order.work.attempts >= 1,
        "the failed confirm is recorded: {:?}",
        order.work
    );
    let printful_status = |app: &TestApp| {
        let orders = app.printful_sim.orders();
        assert_eq!(orders.len(), 1, "{orders:?}");
        orders[0]["status"].as_str().unwrap().to_string()
    };
    assert_eq!(printful_status(&app), "draft");

    // Moments later (inside the grace a fresh paid order gets), the reconciler sees Printful
    // ahead; the repair must leave the order at Printful confirmed, not just marked submitted.
    let fixed = run(&app, true).await;
    let d = only(&fixed, DiscrepancyKind::StatusBehind);
    assert!(d.repaired);
    assert_eq!(d.order_id, Some(order_id));
    assert_eq!(printful_status(&app), "pending", "the draft was confirmed");
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::Submitted);
    assert_eq!(order.printful_order_id, app.printful_sim.orders()[0]["id"].as_i64());
    assert_clean(&run(&app, false).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_printful_order_without_an_external_id_is_a_security_finding() {
    let app = TestApp::new().await;
    let foreign = app.printful_sim.create_foreign_order(None);
    let found = run(&app, true).await;
    let d = only(&found, DiscrepancyKind::UnknownPrintfulOrder);
    assert_eq!(d.severity, Severity::Security);
    assert!(!d.repaired);
    assert!(d.detail.contains(&foreign.to_string()), "{}", d.detail);
    let alerts = app.store.alerts(50).await.unwrap();
    assert!(alerts.iter().any(|a| a.kind == "unknown_printful_order"), "{alerts:?}");
}

// ---- Webhook configuration ----

/// Asserts the run's one finding is a misconfigured webhook, and that the owner was alerted.
async fn assert_webhook_finding(app: &TestApp, run: &ReconcileRun, severity: Severity, says: &str) {
    let d = only(run, DiscrepancyKind::WebhookMisconfigured);
    assert_eq!(d.severity, severity);
    assert!(!d.repaired);
    assert!(d.detail.contains(says), "{}", d.detail);
    let alerts = app.store.alerts(50).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "webhook_misconfigured" && a.message.contains(says)),
        "{alerts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_misconfigured_when_no_stripe_endpoint_points_at_backroom() {
    let app = TestApp::new().await;
    assert_clean(&run(&app, false).await);
    app.sim
        .set_webhook_url(Some("https://elsewhere.example/webhooks/stripe".into()));
    let found = run(&app, true).await;
    assert_webhook_finding(
        &app,
        &found,
        Severity::Ops,
        "no Stripe webhook endpoint points at backroom",
    )
    .await;
    app.sim.set_webhook_url(None);
    let found = run(&app, true).await;
    assert_webhook_finding(
        &app,
        &found,
        Severity::Ops,
        "no Stripe webhook endpoint points at backroom",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_misconfigured_when_the_stripe_endpoint_is_disabled() {
    let app = TestApp::new().await;
    app.sim.set_webhook_url(None);
    let url = format!("{}/webhooks/stripe", app.base);
    let events = backroom_core::StripeEventKind::NAMES;
    let (endpoint, _) = app
        .stripe
        .create_webhook_endpoint(&url, events, backroom_stripe::API_VERSION)
        .await
        .unwrap();
    assert_clean(&run(&app, false).await);
    app.stripe
        .update_webhook_endpoint(&endpoint.id, false, events)
        .await
        .unwrap();
    let found = run(&app, true).await;
    assert_webhook_finding(
        &app,
        &found,
        Severity::Ops,
        &format!("the Stripe webhook endpoint {} is disabled", endpoint.id),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_misconfigured_when_the_stripe_endpoint_misses_an_event_type() {
    let app = TestApp::new().await;
    app.sim.set_webhook_url(None);
    let url = format!("{}/webhooks/stripe", app.base);
    let some = &backroom_core::StripeEventKind::NAMES[..2];
    let (endpoint, _) = app
        .stripe
        .create_webhook_endpoint(&url, some, backroom_stripe::API_VERSION)
        .await
        .unwrap();
    let found = run(&app, true).await;
    assert_webhook_finding(
        &app,
        &found,
        Severity::Ops,
        &format!(
            "the Stripe webhook endpoint {} is not subscribed to every event type backroom needs",
            endpoint.id
        ),
    )
    .await;
    // Subscribed to everything (`*`) is enough.
    app.stripe
        .update_webhook_endpoint(&endpoint.id, true, &["*"])
        .await
        .unwrap();
    assert_clean(&run(&app, false).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_misconfigured_when_printful_has_no_webhook_url() {
    let app = TestApp::new().await;
    app.printful_sim.set_webhook_url(None);
    let found = run(&app, true).await;
    assert_webhook_finding(&app, &found, Severity::Security, "Printful has no webhook URL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_misconfigured_printful_url_is_reported_without_its_secret_token() {
    let app = TestApp::new().await;
    // Printful's webhooks go to another host (an old stack, or someone listening), with the
    // token that authenticates them.
    app.printful_sim.set_webhook_url(Some(format!(
        "https://old-stack.example/webhooks/printful/{PRINTFUL_TOKEN}"
    )));
    let found = run(&app, false).await;
    assert_webhook_finding(
        &app,
        &found,
        Severity::Security,
        "https://old-stack.example/webhooks/printful/<token>",
    )
    .await;

    let d = &found.discrepancies[0];
    assert!(!d.detail.contains(PRINTFUL_TOKEN), "detail: {}", d.detail);
    let printed = table(&found);
    assert!(!printed.contains(PRINTFUL_TOKEN), "printed: {printed}");
    let json = serde_json::to_string(&found).unwrap();
    assert!(!json.contains(PRINTFUL_TOKEN), "report: {json}");
    let stored = stored_reports(&app).await;
    assert!(stored.contains("webhook_misconfigured"), "{stored}");
    assert!(!stored.contains(PRINTFUL_TOKEN), "stored report: {stored}");
    let alerts = alert_rows(&app).await;
    assert!(alerts.contains("webhook_misconfigured"), "{alerts}");
    assert!(!alerts.contains(PRINTFUL_TOKEN), "alerts: {alerts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_here_not_at_stripe_an_order_marked_paid_without_a_payment_is_a_security_finding() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    let (paid_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(paid_id).await;
    // Somebody marks an unpaid order paid in the database.
    app.db
        .connect()
        .await
        .execute(
            "UPDATE orders SET payment = 'paid', status = 'paid' WHERE id = $1",
            &[&order_id.uuid()],
        )
        .await
        .unwrap();
    let found = run(&app, false).await;
    let d = only(&found, DiscrepancyKind::PaidHereNotAtStripe);
    assert_eq!(d.severity, Severity::Security);
    assert_eq!(d.order_id, Some(order_id), "the really paid order is not reported");
    assert!(!d.repaired);
    let alerts = app.store.alerts(50).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "paid_here_not_at_stripe" && a.severity == Severity::Security),
        "{alerts:?}"
    );
}
