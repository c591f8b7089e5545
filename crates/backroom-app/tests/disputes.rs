//! Disputes answered with evidence, never without the owner: against the Stripe simulator's
//! disputes (evidence, due_by, submission), with the order shipped at the Printful simulator.

use backroom_testkit::app as support;

use backroom_app::disputes::{self, Submitted};
use backroom_core::ports::{AlertStore, OrderStore};
use backroom_core::{OrderId, OrderStatus};
use support::TestApp;

async fn dispute_alert(app: &TestApp) -> backroom_core::ports::Alert {
    app.store
        .alerts(50)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.kind == "dispute")
        .expect("the owner is told")
}

/// Opens a dispute on the order's charge and processes the event; returns the dispute id.
async fn dispute(app: &TestApp, order_id: OrderId) -> String {
    let session = app.order(order_id).await.stripe_session_id.unwrap();
    app.sim.dispute(&session, true).await.unwrap();
    app.settle().await;
    app.sim.disputes().last().unwrap()["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_on_a_shipped_order_gets_evidence_drafted_and_is_submitted_once_by_the_owner() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(order_id).await;
    app.advance_at_printful(order_id).await;
    app.advance_at_printful(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);
    let id = dispute(&app, order_id).await;

    let order = app.order(order_id).await;
    let shipment = app.store.shipments(order_id).await.unwrap().remove(0);
    let drafted = app.stripe.dispute(&id).await.unwrap();
    assert_eq!(drafted.submission_count, 0, "never submitted without the owner");
    assert_eq!(drafted.status, "needs_response");
    let e = &drafted.evidence;
    assert_eq!(
        e.shipping_tracking_number.as_deref(),
        Some(shipment.tracking_number.as_str())
    );
    assert_eq!(e.shipping_carrier.as_deref(), Some(shipment.carrier.as_str()));
    assert_eq!(
        e.shipping_date.as_deref(),
        Some(shipment.shipped_at.unwrap().format("%Y-%m-%d").to_string().as_str())
    );
    assert_eq!(
        e.customer_email_address.as_deref(),
        Some(order.email.as_ref().unwrap().as_str())
    );
    let shipping = order.shipping.as_ref().unwrap();
    let name = shipping.name.as_str();
    assert_eq!(e.customer_name.as_deref(), Some(name));
    assert!(e.shipping_address.as_deref().unwrap().contains(shipping.line1.as_str()));
    assert!(e.product_description.as_deref().unwrap().contains(&order.items[0].name));
    let text = e.uncategorized_text.as_deref().unwrap();
    assert!(text.contains(&format!("Order #{}", order.number)), "{text}");
    assert!(
        text.contains("Delivered: not reported") && text.contains("History:"),
        "{text}"
    );

    let alert = dispute_alert(&app).await;
    assert!(
        alert.message.contains(&format!("backroom disputes submit {id}")),
        "{}",
        alert.message
    );
    assert!(alert.message.contains("due by "), "{}", alert.message);
    assert!(alert.message.contains("not submitted"), "{}", alert.message);

    let open = disputes::open_disputes(&app.stripe, &app.store).await.unwrap();
    assert_eq!(open.len(), 1);
    assert!(open[0].evidence_drafted && !open[0].submitted);
    assert_eq!(open[0].order_id, Some(order_id));
    assert!(open[0].due_by.is_some());

    match disputes::submit(&app.stripe, &id).await.unwrap() {
        Submitted::Now { status } => assert_eq!(status, "under_review"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        disputes::submit(&app.stripe, &id).await.unwrap(),
        Submitted::Already { .. }
    ));
    assert_eq!(app.stripe.dispute(&id).await.unwrap().submission_count, 1);
    let open = disputes::open_disputes(&app.stripe, &app.store).await.unwrap();
    assert!(open[0].submitted, "{open:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_on_an_unshipped_order_alerts_without_evidence() {
    let app = TestApp::new().await;
    let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    let id = dispute(&app, order_id).await;
    let d = app.stripe.dispute(&id).await.unwrap();
    assert!(d.evidence.is_empty(), "{:?}", d.evidence);
    assert!(!d.has_evidence);
    let alert = dispute_alert(&app).await;
    assert!(alert.message.contains("has not shipped"), "{}", alert.message);
    assert!(alert.message.contains("due by "), "{}", alert.message);
    // Nothing drafted: submitting would lose the dispute, so it is refused.
    let err = disputes::submit(&app.stripe, &id).await.unwrap_err().to_string();
    assert!(err.contains("no evidence"), "{err}");
    assert_eq!(app.stripe.dispute(&id).await.unwrap().submission_count, 0);
}
