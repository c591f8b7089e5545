//! After shipping: the Printful catch-up follows a shipped order's parcels (Printful v2
//! shipments) to `delivered`, and a parcel that comes back is alerted once and shown to the
//! buyer, against both simulators and a real database.

use backroom_testkit::app as support;

use std::time::Duration;

use backroom_app::catchup::catch_up_printful_within;
use backroom_core::ports::{AlertStore, OrderStore};
use backroom_core::{OrderId, OrderStatus};
use support::TestApp;

/// Checks out, pays and ships an order at the Printful simulator.
async fn shipped_order(app: &TestApp) -> OrderId {
    let (order_id, _) = app.checkout(&[("HARBOUR-TEE-M", 1)]).await;
    app.pay(order_id).await;
    app.advance_at_printful(order_id).await; // in production
    app.advance_at_printful(order_id).await; // shipped
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);
    order_id
}

async fn catch_up(app: &TestApp) -> backroom_app::catchup::PrintfulCatchup {
    catch_up_printful_within(&app.worker, Duration::ZERO, Duration::from_secs(60))
        .await
        .unwrap()
}

async fn delivery_alerts(app: &TestApp) -> Vec<backroom_core::ports::Alert> {
    app.store
        .alerts(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == "delivery_problem")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shipped_order_becomes_delivered_with_the_carriers_date() {
    let app = TestApp::new().await;
    let order_id = shipped_order(&app).await;

    // On its way: the catch-up reads the parcel and leaves the order shipped.
    let report = catch_up(&app).await;
    assert_eq!(report.parcels_followed, 1, "{report:?}");
    assert_eq!(report.delivered, 0);
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);

    // The carrier delivers (v1 sends no webhook for it): the next catch-up sees it.
    app.printful_sim.advance(&order_id.external_id()).await.unwrap();
    let report = catch_up(&app).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Delivered);

    let delivered_at: chrono::DateTime<chrono::Utc> = app
        .db
        .connect()
        .await
        .query_one("SELECT delivered_at FROM orders WHERE id = $1", &[&order_id.uuid()])
        .await
        .unwrap()
        .get(0);
    let day = delivered_at.format("%Y-%m-%d").to_string();
    let timeline = app.store.timeline(order_id).await.unwrap();
    let last = timeline.last().unwrap();
    assert_eq!(last.to, OrderStatus::Delivered);
    assert_eq!(last.detail, format!("delivered on {day}"));
    assert!(delivery_alerts(&app).await.is_empty());

    // Delivered orders are no longer followed.
    let report = catch_up(&app).await;
    assert_eq!(report.parcels_followed, 0, "{report:?}");

    let (status, page) = app.request("GET", &format!("/orders/{order_id}"), None, "").await;
    assert_eq!(status, 200);
    assert_eq!(page["status"], "delivered");
    assert_eq!(page["tracking"][0]["delivery"], format!("delivered on {day}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_parcel_alerts_once_and_shows_on_the_order_page() {
    let app = TestApp::new().await;
    let order_id = shipped_order(&app).await;

    // Printful's package_returned webhook, then the catch-up reading the same parcel.
    app.printful_sim
        .set_delivery_status(
            &order_id.external_id(),
            None,
            "return_to_sender",
            Some("Addressee unknown"),
        )
        .await
        .unwrap();
    app.settle().await;
    let alerts = delivery_alerts(&app).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].message.contains("returned"), "{}", alerts[0].message);
    assert!(alerts[0].message.contains("reship"), "{}", alerts[0].message);
    assert!(alerts[0].message.contains("Addressee unknown"), "{}", alerts[0].message);

    let report = catch_up(&app).await;
    assert_eq!(report.delivery_problems, 0, "already alerted: {report:?}");
    catch_up(&app).await;
    assert_eq!(delivery_alerts(&app).await.len(), 1, "one alert per parcel");
    assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);

    let (status, page) = app.request("GET", &format!("/orders/{order_id}"), None, "").await;
    assert_eq!(status, 200);
    let note = page["delivery_note"].as_str().expect("the page says what happened");
    assert!(note.contains("on its way back to us"), "{note}");
    assert!(
        page["tracking"][0]["delivery"]
            .as_str()
            .unwrap()
            .contains("could not deliver")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parcel_the_carrier_could_not_deliver_is_alerted_by_the_catch_up() {
    let app = TestApp::new().await;
    let order_id = shipped_order(&app).await;
    app.printful_sim
        .set_delivery_status(&order_id.external_id(), None, "failure", None)
        .await
        .unwrap();
    app.settle().await;
    assert!(
        delivery_alerts(&app).await.is_empty(),
        "v1 sends no webhook for a failure"
    );
    let report = catch_up(&app).await;
    assert_eq!(report.delivery_problems, 1, "{report:?}");
    let alerts = delivery_alerts(&app).await;
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].message.contains("could not be delivered"),
        "{}",
        alerts[0].message
    );
    let (_, page) = app.request("GET", &format!("/orders/{order_id}"), None, "").await;
    assert!(page["delivery_note"].as_str().unwrap().contains("could not deliver"));
}
