//! Never lose an order: the catch-up jobs, the reconciler and the watchdog, on a real database
//! and both simulators.

use std::time::Duration;

use backroom_app::catchup::{catch_up_printful, catch_up_stripe};
use backroom_app::reconcile::{ReconcileOptions, reconcile};
use backroom_app::watchdog::{Deadlines, watchdog};
use backroom_core::OrderStatus;
use backroom_core::ports::{AlertStore, DiscrepancyKind, OrderStore, ReconcileStore, Severity};
use backroom_testkit::app::{Options, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_stripe_webhook_is_recovered_by_one_catch_up_run() {
    let app = TestApp::new().await;
    let (order_id, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    // The payment happens at Stripe, but its webhook never arrives.
    app.sim.pay(&session, false).await.unwrap();
    app.settle().await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::PendingPayment);

    let report = catch_up_stripe(&app.worker, chrono::Utc::now()).await.unwrap();
    assert_eq!(report.recovered, 1, "{report:?}");
    assert_eq!(report.failed, 0);
    app.settle().await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 1, "one order, not two");

    // A second run finds nothing new: the inbox knows the event, and the cursor moved.
    let again = catch_up_stripe(&app.worker, chrono::Utc::now()).await.unwrap();
    assert_eq!(again.recovered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_older_than_stripe_keeps_events_falls_back_to_sessions() {
    let app = TestApp::new().await;
    let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.sim.pay(&session, false).await.unwrap();
    use backroom_core::ports::{Cursor, CursorStore};
    let old = chrono::Utc::now() - chrono::Duration::days(40);
    app.store
        .set_cursor(
            backroom_app::catchup::STRIPE_CURSOR,
            &Cursor {
                at: old,
                id: "evt_old".into(),
            },
        )
        .await
        .unwrap();
    let report = catch_up_stripe(&app.worker, chrono::Utc::now()).await.unwrap();
    assert_eq!(report.mode, "sessions");
    assert_eq!(report.recovered, 1);
    app.settle().await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_printful_webhook_still_brings_the_shipment() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(order_id).await;
    app.printful_sim.set_webhook_delivery(false);
    app.printful_sim.advance(&order_id.external_id()).await.unwrap();
    app.printful_sim.advance(&order_id.external_id()).await.unwrap();
    app.settle().await;
    assert_eq!(
        app.order(order_id).await.status(),
        OrderStatus::Submitted,
        "no webhook arrived"
    );

    let report = catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
    assert_eq!(report.changed, 1, "{report:?}");
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);
    let shipments = app.store.shipments(order_id).await.unwrap();
    assert_eq!(shipments.len(), 1);
    assert!(!shipments[0].tracking_number.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_made_at_printful_by_someone_else_alerts_once() {
    let app = TestApp::new().await;
    app.printful_sim.set_webhook_delivery(false);
    let foreign = app.printful_sim.create_foreign_order(Some("not-one-of-ours"));
    let options = ReconcileOptions {
        days: 30,
        fix: true,
        webhook_base_url: Some(app.base.clone()),
    };
    let first = reconcile(&app.worker, &options, chrono::Utc::now()).await.unwrap();
    let unknown: Vec<_> = first
        .discrepancies
        .iter()
        .filter(|d| d.kind == DiscrepancyKind::UnknownPrintfulOrder)
        .collect();
    assert_eq!(unknown.len(), 1, "{first:?}");
    assert_eq!(unknown[0].severity, Severity::Security);
    reconcile(&app.worker, &options, chrono::Utc::now()).await.unwrap();
    let alerts: Vec<_> = app
        .store
        .alerts(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == "unknown_printful_order")
        .collect();
    assert_eq!(alerts.len(), 1, "a second reconcile adds no second alert: {alerts:?}");
    assert!(alerts[0].message.contains(&foreign.to_string()));
    assert!(app.store.last_run().await.unwrap().is_some(), "runs are stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_session_made_outside_backroom_is_a_security_finding() {
    let app = TestApp::new().await;
    let session = app.sim.create_foreign_session(1999, "eur", false).await.unwrap();
    let options = ReconcileOptions {
        days: 30,
        fix: false,
        webhook_base_url: Some(app.base.clone()),
    };
    let run = reconcile(&app.worker, &options, chrono::Utc::now()).await.unwrap();
    let found = run
        .discrepancies
        .iter()
        .find(|d| d.kind == DiscrepancyKind::UnknownStripeSession)
        .expect("found");
    assert_eq!(found.severity, Severity::Security);
    assert!(found.detail.contains(&session));
    let alerts = app.store.alerts(50).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "unknown_stripe_session" && a.severity == Severity::Security)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_whose_submission_kept_failing_is_submitted_by_the_reconciler() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    // Printful is down for longer than the worker's retries.
    app.printful_sim.fail_next(1_000, 500);
    let session = app.order(order_id).await.stripe_session_id.unwrap();
    app.sim.pay(&session, true).await.unwrap();
    app.wait_for_queue(1).await;
    assert!(
        app.drain().await.is_empty(),
        "the payment is applied; the submission that failed is owed work, not a failed message"
    );
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::Paid);
    assert!(
        order.work.attempts >= 1,
        "the failed submission is recorded: {:?}",
        order.work
    );
    app.printful_sim.fail_next(0, 500);
    // Hours later (the reconciler only counts orders paid a while ago).
    app.db
        .connect()
        .await
        .execute(
            "UPDATE orders SET updated_at = now() - interval '3 hours' WHERE id = $1",
            &[&order_id.uuid()],
        )
        .await
        .unwrap();
    let options = ReconcileOptions {
        days: 30,
        fix: true,
        webhook_base_url: Some(app.base.clone()),
    };
    let run = reconcile(&app.worker, &options, chrono::Utc::now()).await.unwrap();
    let not_submitted = run
        .discrepancies
        .iter()
        .find(|d| d.kind == DiscrepancyKind::NotSubmitted)
        .expect("found");
    assert!(not_submitted.repaired);
    assert_eq!(not_submitted.order_id, Some(order_id));
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    let at_printful: Vec<_> = app
        .printful_sim
        .orders()
        .into_iter()
        .filter(|o| o["external_id"] == order_id.external_id())
        .collect();
    assert_eq!(at_printful.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_watchdog_deadline_fires_once_per_order_and_stage() {
    let app = TestApp::with(Options {
        fulfillment_paused: true,
        ..Options::default()
    })
    .await;
    let (waiting, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    let (paid, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(paid).await;
    let deadlines = Deadlines::default();
    let now = chrono::Utc::now();
    assert_eq!(
        watchdog(&app.store, &app.worker.alerts, &deadlines, now).await.unwrap(),
        0,
        "nothing is late yet"
    );

    // Two hours later: the checkout expired long ago and the paid order still waits.
    let later = now + chrono::Duration::hours(2);
    assert_eq!(
        watchdog(&app.store, &app.worker.alerts, &deadlines, later)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        watchdog(&app.store, &app.worker.alerts, &deadlines, later)
            .await
            .unwrap(),
        2,
        "still stuck"
    );
    let alerts = app.store.alerts(50).await.unwrap();
    let kinds: Vec<(&str, i64)> = alerts.iter().map(|a| (a.kind.as_str(), a.occurrences)).collect();
    assert_eq!(alerts.len(), 2, "{kinds:?}");
    let stuck_paid = alerts.iter().find(|a| a.kind == "stuck_paid").unwrap();
    assert_eq!(stuck_paid.order_id, Some(paid));
    assert!(
        stuck_paid.message.contains("backroom orders release"),
        "{}",
        stuck_paid.message
    );
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "stuck_pending_payment" && a.order_id == Some(waiting))
    );
    assert!(
        alerts.iter().all(|a| a.occurrences == 2),
        "a repeat is counted, not sent again: {kinds:?}"
    );

    // Released and at Printful: the next stage has its own deadline (48 hours).
    app.store.release_fulfillment(paid).await.unwrap();
    app.worker.advance(paid).await.unwrap();
    let much_later = now + chrono::Duration::hours(50);
    watchdog(&app.store, &app.worker.alerts, &deadlines, much_later)
        .await
        .unwrap();
    let alerts = app.store.alerts(50).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "stuck_submitted" && a.order_id == Some(paid))
    );
}
