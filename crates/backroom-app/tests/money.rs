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
            shipping_zones: false,
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

/// Prices Printful bills in the simulator: 12.50 EUR a piece and 3.99 EUR shipping.
fn printful_costs() -> backroom_sim::printful::PrintfulCosts {
    backroom_sim::printful::PrintfulCosts {
        currency: "EUR".into(),
        default_item: 1250,
        variants: Default::default(),
        shipping: 399,
        vat_bps: 0,
    }
}

fn earned(order: &backroom_core::Order) -> backroom_core::earnings::Earned {
    order.earned().expect("a paid order has an account")
}

#[test]
fn a_zones_flat_rate_is_charged_and_the_fee_printfuls_bill_and_the_margin_are_right_to_the_cent() {
    run(async {
        let app = TestApp::new().await;
        app.sim.set_fee(290, 25);
        app.printful_sim.set_costs(printful_costs());
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        let offered = app.sim.session(&session).unwrap();
        let allowed = offered["shipping_address_collection"]["allowed_countries"].clone();
        assert!(
            allowed.as_array().unwrap().iter().any(|c| c == "DE")
                && !allowed.as_array().unwrap().iter().any(|c| c == "US"),
            "addresses only in the zone's countries: {allowed}"
        );
        app.pay(order_id).await;
        let order = app.order(order_id).await;
        assert_eq!(order.status(), OrderStatus::Submitted);
        let charged = order.charged.expect("recorded");
        assert_eq!(
            (charged.subtotal.get(), charged.shipping.get(), charged.total.get()),
            (2200, 490, 2690)
        );
        // Stripe's fee: 2.9 % of 26.90 (0.78) plus 0.25; Printful: one piece and shipping.
        let fee = order.stripe_fee.expect("the fee is read from the balance transaction");
        assert_eq!((fee.amount.get(), fee.currency.code()), (78 + 25, "EUR"));
        let pf = order.printful_costs.expect("Printful's bill is recorded");
        assert_eq!(
            (pf.subtotal.get(), pf.shipping.get(), pf.total.get()),
            (1250, 399, 1649)
        );
        let e = earned(&order);
        assert_eq!(e.revenue, 2690);
        assert_eq!(e.margin, Some(2690 - 103 - 1649));
        assert!(e.losses.is_empty(), "{:?}", e.losses);
        // The packing slip shows what the buyer paid.
        let sent = &app.printful_sim.orders()[0]["retail_costs"];
        assert_eq!(sent["subtotal"], "22.00", "{sent}");
        assert_eq!(sent["shipping"], "4.90", "{sent}");
        assert_eq!(sent["total"], "26.90", "{sent}");
        let (_, body) = app.request("GET", &format!("/orders/{order_id}"), None, "").await;
        assert_eq!(body["shipping"]["amount"], 490);
        assert_eq!(body["total"]["amount"], 2690);
    });
}

#[test]
fn shipping_is_free_from_the_zones_threshold() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("HARBOUR-TEE-M", 3)]).await;
        let offered = app.sim.session(&session).unwrap();
        assert_eq!(
            offered["shipping_options"].as_array().map(Vec::len),
            Some(1),
            "{offered}"
        );
        app.pay(order_id).await;
        let order = app.order(order_id).await;
        assert_eq!(order.status(), OrderStatus::Submitted);
        let charged = order.charged.unwrap();
        assert_eq!(
            (charged.subtotal.get(), charged.shipping.get(), charged.total.get()),
            (8400, 0, 8400)
        );
    });
}

#[test]
fn promotion_codes_tax_and_both_with_shipping_are_charged_recorded_and_the_orders_go_to_print() {
    run(async {
        let app = TestApp::with(Options {
            automatic_tax: true,
            allow_promotion_codes: true,
            ..Options::default()
        })
        .await;
        app.sim
            .define_promotion_code(&backroom_sim::stripe::PromotionCodeSpec {
                id: None,
                code: "WELCOME10".into(),
                off: backroom_sim::stripe::CouponOff::Percent(10.0),
            })
            .unwrap();
        let cases = [
            ("promotion code", 0, true),
            ("tax", 1900, false),
            ("all together", 1900, true),
        ];
        for (case, tax_bps, code) in cases {
            app.sim.set_tax_rate_bps(tax_bps);
            let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
            let choices = backroom_sim::stripe::PayChoices {
                shipping_rate: None,
                promotion_code: code.then(|| "welcome10".to_string()),
            };
            app.sim.pay_with(&session, &choices, true).await.unwrap();
            app.wait_for_queue(1).await;
            app.settle().await;
            let order = app.order(order_id).await;
            assert_eq!(order.status(), OrderStatus::Submitted, "{case}");
            let c = order.charged.expect(case);
            assert!(c.adds_up(), "{case}: {c:?}");
            assert_eq!((c.subtotal.get(), c.shipping.get()), (2200, 490), "{case}");
            assert_eq!(c.discount.get(), if code { 220 } else { 0 }, "{case}");
            assert_eq!(c.tax.get() > 0, tax_bps > 0, "{case}: {c:?}");
            let stripe = app.sim.session(&session).unwrap();
            assert_eq!(stripe["amount_total"].as_i64(), Some(c.total.get()), "{case}");
            let (_, body) = app.request("GET", &format!("/orders/{order_id}"), None, "").await;
            for (part, amount) in [("discount", c.discount), ("tax", c.tax), ("total", c.total)] {
                assert_eq!(body[part]["amount"], amount.get(), "{case}: {part}");
            }
            assert_eq!(earned(&order).revenue, c.total.get() - c.tax.get(), "{case}");
        }
        let alerts = backroom_core::ports::AlertStore::alerts(&app.store, 10).await.unwrap();
        assert!(alerts.is_empty(), "{alerts:?}");
    });
}

#[test]
fn a_destination_the_shop_does_not_ship_to_is_refused_and_writes_nothing() {
    run(async {
        let app = TestApp::new().await;
        let body =
            |country: &str| serde_json::json!({"items": [{"sku": "GULL-TOTE", "quantity": 1}], "country": country});
        let (status, answer) = app.post_json("/checkout", &body("JP")).await;
        assert_eq!(status.as_u16(), 422, "{answer}");
        assert_eq!(answer["error"]["code"], "not_shipped_there", "{answer}");
        assert_eq!(answer["error"]["field"], "country", "{answer}");
        assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);
        let (status, answer) = app.post_json("/checkout", &body("de")).await;
        assert_eq!(status.as_u16(), 201, "{answer}");
    });
}

#[test]
fn the_digests_earnings_are_the_sum_of_its_orders() {
    run(async {
        let app = TestApp::new().await;
        app.sim.set_fee(150, 25);
        app.printful_sim.set_costs(printful_costs());
        let mut orders = Vec::new();
        for items in [&[("GULL-TOTE", 1)][..], &[("HARBOUR-TEE-M", 3)], &[("FOG-MUG", 2)]] {
            let (order_id, _) = app.checkout(items).await;
            app.pay(order_id).await;
            orders.push(app.order(order_id).await);
        }
        let now = chrono::Utc::now() + chrono::Duration::seconds(1);
        let d = backroom_app::digest::gather(&app.store, 7, now, &backroom_app::watchdog::Deadlines::default(), false)
            .await
            .unwrap();
        assert_eq!(d.earnings.by_currency.len(), 1);
        let t = &d.earnings.by_currency[0].totals;
        let accounts: Vec<_> = orders.iter().map(earned).collect();
        assert_eq!(t.orders, 3);
        assert_eq!(t.unknown, 0);
        assert_eq!(t.revenue, accounts.iter().map(|e| e.revenue).sum::<i64>());
        assert_eq!(
            t.stripe_fees,
            accounts.iter().map(|e| e.stripe_fee.unwrap()).sum::<i64>()
        );
        assert_eq!(
            t.printful_costs,
            accounts.iter().map(|e| e.printful_cost.unwrap()).sum::<i64>()
        );
        assert_eq!(t.margin, accounts.iter().map(|e| e.margin.unwrap()).sum::<i64>());
        // Free shipping on the tees: Printful's 3.99 is not covered, which the digest names.
        assert_eq!(d.earnings.at_a_loss.len(), 1, "{:?}", d.earnings.at_a_loss);
        assert_eq!(d.earnings.at_a_loss[0].order_id, orders[1].id);
        let message = d.message();
        assert!(message.contains("Earned: "), "{message}");
        assert!(
            message.contains(&format!("Sold at a loss: #{}", orders[1].number)),
            "{message}"
        );
    });
}
