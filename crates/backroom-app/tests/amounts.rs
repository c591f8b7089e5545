//! The amount check: Stripe's items subtotal against ours, and the owner's way out of a real
//! mismatch.

use backroom_app::amounts::{AcceptError, Accepted, accept_amount};
use backroom_core::ports::{AlertStore, OrderStore};
use backroom_core::{Cause, OrderStatus};
use backroom_testkit::app::TestApp;
use backroom_testkit::run_story as run;

#[test]
fn a_real_mismatch_holds_the_order_with_one_alert_until_the_owner_accepts_it() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        // Our price changed between the session and the payment: Stripe's subtotal is no
        // longer ours.
        app.db
            .connect()
            .await
            .execute(
                "UPDATE orders SET total_cents = total_cents + 100 WHERE id = $1",
                &[&order_id.uuid()],
            )
            .await
            .unwrap();
        app.pay(order_id).await;
        let order = app.order(order_id).await;
        assert_eq!(order.status(), OrderStatus::NeedsAttention);
        let charged = order.charged.expect("what Stripe charged is stored");
        assert!(charged.adds_up());
        assert!(app.printful_sim.orders().is_empty(), "held: not sent to print");
        // The same payment again (a redelivery) alerts no more.
        let event = app
            .sim
            .events()
            .into_iter()
            .find(|e| e["type"] == "checkout.session.completed" && e["data"]["object"]["id"] == session)
            .unwrap();
        app.sim.resend(event["id"].as_str().unwrap()).unwrap();
        app.settle().await;
        let alerts: Vec<_> = app
            .store
            .alerts(50)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.kind == "amount_mismatch")
            .collect();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(
            alerts[0].message.contains("backroom orders accept-amount"),
            "{}",
            alerts[0].message
        );
        // The owner reviews it at Stripe and accepts it.
        let accepted = accept_amount(&app.worker, order_id, &Cause::Cli).await.unwrap();
        assert!(matches!(accepted, Accepted::Now(_)), "{accepted:?}");
        app.settle().await;
        let order = app.order(order_id).await;
        assert_eq!(order.status(), OrderStatus::Submitted);
        assert_eq!(app.printful_sim.orders().len(), 1);
        let timeline = app.store.timeline(order_id).await.unwrap();
        assert!(
            timeline
                .iter()
                .any(|e| e.detail == "the owner accepted the amount paid" && e.cause == Cause::Cli),
            "{timeline:?}"
        );
        // Accepting again changes nothing.
        assert_eq!(
            accept_amount(&app.worker, order_id, &Cause::Cli).await.unwrap(),
            Accepted::Already
        );
        assert_eq!(app.printful_sim.orders().len(), 1);
    });
}

#[test]
fn accepting_an_order_whose_amount_agrees_is_refused_and_changes_nothing() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
        app.pay(order_id).await;
        let before = app.store.timeline(order_id).await.unwrap().len();
        let refused = accept_amount(&app.worker, order_id, &Cause::Cli).await;
        assert!(matches!(refused, Err(AcceptError::NoMismatch(_))), "{refused:?}");
        assert_eq!(app.store.timeline(order_id).await.unwrap().len(), before);
        let unknown = accept_amount(&app.worker, backroom_core::OrderId::new_random(), &Cause::Cli).await;
        assert!(matches!(unknown, Err(AcceptError::NotFound(_))), "{unknown:?}");
    });
}
