//! Money beyond the items: a shipping rate Stripe charges on top of the items must not hold the
//! order, and what was charged is shown part by part.

use backroom_core::OrderStatus;
use backroom_sim::stripe::ShippingRateSpec;
use backroom_testkit::app::{Options, TestApp};
use backroom_testkit::run_story as run;

#[test]
fn a_paid_shipping_rate_is_charged_recorded_and_the_order_still_goes_to_print() {
    run(async {
        let app = TestApp::with(Options {
            shipping_rate_ids: vec!["shr_standard".into()],
            ..Options::default()
        })
        .await;
        app.sim
            .define_shipping_rate(&ShippingRateSpec {
                id: "shr_standard".into(),
                display_name: "Standard".into(),
                amount: 490,
                currency: "eur".into(),
                minimum: Some(("business_day".into(), 3)),
                maximum: Some(("business_day".into(), 7)),
            })
            .unwrap();
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 2)]).await;
        app.pay(order_id).await;
        let stripe_session = app.sim.session(&session).unwrap();
        let subtotal = app.order(order_id).await.total.amount.get();
        assert_eq!(
            stripe_session["amount_total"].as_i64(),
            Some(subtotal + 490),
            "{stripe_session}"
        );
        let order = app.order(order_id).await;
        assert_eq!(order.status(), OrderStatus::Submitted, "shipping is no amount mismatch");
        let charged = order.charged.expect("recorded");
        assert_eq!(charged.subtotal.get(), subtotal);
        assert_eq!(charged.shipping.get(), 490);
        assert_eq!(charged.total.get(), subtotal + 490);
        assert_eq!(app.printful_sim.orders().len(), 1);
        let (status, body) = app.request("GET", &format!("/orders/{order_id}"), None, "").await;
        assert!(status.is_success(), "{body}");
        assert_eq!(body["subtotal"]["amount"], subtotal);
        assert_eq!(body["shipping"]["amount"], 490);
        assert_eq!(body["discount"]["amount"], 0);
        assert_eq!(body["tax"]["amount"], 0);
        assert_eq!(body["total"]["amount"], subtotal + 490);
        assert_eq!(body["total"]["currency"], "EUR");
        let alerts = backroom_core::ports::AlertStore::alerts(&app.store, 10).await.unwrap();
        assert!(alerts.is_empty(), "{alerts:?}");
    });
}
