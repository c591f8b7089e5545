//! Limited stock: one order cannot hoard a limited piece, and a checkout that never got its
//! payment session does not hold stock forever.

use axum::http::StatusCode;
use backroom_app::checkout::{CheckoutInput, checkout};
use backroom_app::sweep::{ABANDONED_CHECKOUT_GRACE, sweep_abandoned_checkouts, sweep_cause};
use backroom_core::ports::{CatalogStore, NewOrder, OrderStore};
use backroom_core::{Catalog, NewOrderItem, Order, OrderId, OrderStatus, Sku};
use backroom_db::{Db, DbConfig, RetryPolicy, Store};
use backroom_testkit::app::TestApp;
use serde_json::json;

const PRINT: &str = "LIGHTHOUSE-PRINT-A3";

/// What the catalog says is left of a SKU, after checking the stock invariant: the SKU's stock
/// row counts exactly its unreleased holds (or it has no row yet and no holds).
async fn available(app: &TestApp, sku: &str) -> Option<u32> {
    let c = app.db.connect().await;
    let holds: i64 = c
        .query_one(
            "SELECT coalesce(sum(quantity), 0)::bigint FROM stock_holds WHERE sku = $1 AND released_at IS NULL",
            &[&sku],
        )
        .await
        .unwrap()
        .get(0);
    let row: Option<i64> = c
        .query_opt("SELECT held FROM stock WHERE sku = $1", &[&sku])
        .await
        .unwrap()
        .map(|r| r.get(0));
    assert_eq!(
        row.unwrap_or(0),
        holds,
        "{sku}: the stock row counts the unreleased holds"
    );
    app.store
        .catalog()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.variant.sku.as_str() == sku)
        .unwrap()
        .available
}

async fn held(app: &TestApp, order: OrderId) -> i64 {
    app.db
        .connect()
        .await
        .query_one(
            "SELECT coalesce(sum(quantity), 0)::bigint FROM stock_holds WHERE order_id = $1 AND released_at IS NULL",
            &[&order.uuid()],
        )
        .await
        .unwrap()
        .get(0)
}

fn lines(quantities: &[u32]) -> serde_json::Value {
    let items: Vec<_> = quantities
        .iter()
        .map(|q| json!({"sku": PRINT, "quantity": q}))
        .collect();
    json!({ "items": items })
}

#[tokio::test]
async fn one_order_cannot_hoard_a_limited_piece_over_several_lines() {
    let app = TestApp::new().await;
    assert_eq!(available(&app, PRINT).await, Some(25));
    // Ten is the default cap of one SKU in one order, however the units are spread over lines.
    for (quantities, wanted) in [(&[10, 10, 10][..], 30), (&[6, 6][..], 12)] {
        let (status, reply) = app.post_json("/checkout", &lines(quantities)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{quantities:?}: {reply}");
        assert_eq!(reply["error"]["code"], "over_order_limit", "{reply}");
        assert_eq!(reply["error"]["field"], "items[1].quantity", "{reply}");
        assert_eq!(
            reply["error"]["message"],
            format!("at most 10 of {PRINT} per order; this order asks for {wanted}")
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM stock_holds").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM order_timeline").await, 0);
    assert!(app.sim.events().is_empty(), "no session was created");
    assert_eq!(available(&app, PRINT).await, Some(25));

    // Up to the cap, over two lines, sells.
    let (order, _) = app.checkout(&[(PRINT, 4), (PRINT, 6)]).await;
    assert_eq!(held(&app, order).await, 10);
    assert_eq!(available(&app, PRINT).await, Some(15));

    // The catalog sets a smaller cap for the piece: it is stored and enforced.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml")).unwrap();
    let capped = text.replace("stock_limit = 25", "stock_limit = 25\n  max_per_order = 2");
    assert_ne!(capped, text);
    app.store
        .sync_catalog(&Catalog::from_toml(&capped).unwrap())
        .await
        .unwrap();
    let (status, reply) = app.post_json("/checkout", &lines(&[1, 1, 1])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert_eq!(reply["error"]["field"], "items[2].quantity", "{reply}");
    assert_eq!(
        reply["error"]["message"],
        format!("at most 2 of {PRINT} per order; this order asks for 3")
    );
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 1);
    assert_eq!(available(&app, PRINT).await, Some(15));
    app.checkout(&[(PRINT, 2)]).await;
    assert_eq!(available(&app, PRINT).await, Some(13));
}

/// An order and its holds as a checkout whose COMMIT was lost leaves them: no session attached.
async fn order_without_session(app: &TestApp, quantity: u32) -> Order {
    app.store
        .create_order(NewOrder {
            id: OrderId::new_random(),
            items: vec![NewOrderItem {
                sku: Sku::parse(PRINT).unwrap(),
                quantity,
            }],
            email: None,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_checkout_left_without_a_session_gives_its_stock_back_after_the_grace() {
    let app = TestApp::new().await;
    let abandoned = order_without_session(&app, 3).await;
    let (paying, _) = app.checkout(&[(PRINT, 2)]).await;
    assert_eq!(available(&app, PRINT).await, Some(20));

    // Within the grace nothing moves.
    let early = abandoned.created_at + ABANDONED_CHECKOUT_GRACE - chrono::Duration::minutes(1);
    assert_eq!(sweep_abandoned_checkouts(&app.store, early).await.unwrap(), 0);
    assert_eq!(app.order(abandoned.id).await.status(), OrderStatus::PendingPayment);
    assert_eq!(held(&app, abandoned.id).await, 3);

    // Past it, the order without a session is a failed checkout and its stock is for sale again;
    // the order with a session (Stripe will expire it) is left alone.
    let later = abandoned.created_at + ABANDONED_CHECKOUT_GRACE + chrono::Duration::minutes(1);
    assert_eq!(sweep_abandoned_checkouts(&app.store, later).await.unwrap(), 1);
    let failed = app.order(abandoned.id).await;
    assert_eq!(failed.status(), OrderStatus::Failed);
    assert_eq!(held(&app, abandoned.id).await, 0);
    let timeline = app.store.timeline(abandoned.id).await.unwrap();
    assert_eq!(timeline.len(), 2);
    let last = timeline.last().unwrap();
    assert_eq!((last.from, last.to), (OrderStatus::PendingPayment, OrderStatus::Failed));
    assert_eq!(last.cause, sweep_cause());
    assert_eq!(app.order(paying).await.status(), OrderStatus::PendingPayment);
    assert_eq!(held(&app, paying).await, 2);
    assert_eq!(available(&app, PRINT).await, Some(23));

    // A second run changes nothing.
    assert_eq!(sweep_abandoned_checkouts(&app.store, later).await.unwrap(), 0);
    assert_eq!(app.store.timeline(abandoned.id).await.unwrap().len(), 2);
    assert_eq!(app.order(abandoned.id).await.updated_at, failed.updated_at);

    // A younger order without a session (its checkout may still be talking to Stripe) stays.
    let young = order_without_session(&app, 1).await;
    let now = young.created_at + ABANDONED_CHECKOUT_GRACE - chrono::Duration::seconds(1);
    assert_eq!(sweep_abandoned_checkouts(&app.store, now).await.unwrap(), 0);
    assert_eq!(app.order(young.id).await.status(), OrderStatus::PendingPayment);
    assert_eq!(held(&app, young.id).await, 1);
    assert_eq!(available(&app, PRINT).await, Some(22));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_that_runs_out_of_retries_is_told_to_come_back_not_a_500() {
    let app = TestApp::new().await;
    app.checkout(&[(PRINT, 1)]).await;
    assert_eq!(available(&app, PRINT).await, Some(24));
    // A store that gives up after one attempt, and a concurrent writer of the piece's stock row
    // that commits while the checkout waits for it: the checkout's one attempt fails with 40001.
    let store = Store::new(
        Db::new(DbConfig::Url(app.db.url.clone().into()), 2).with_policy(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }),
    );
    let other = app.db.connect().await;
    other
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    other
        .execute("UPDATE stock SET updated_at = now() WHERE sku = $1", &[&PRINT])
        .await
        .unwrap();
    let (stripe, settings) = (app.stripe.clone(), Default::default());
    let buyer = tokio::spawn(async move {
        let input = CheckoutInput {
            items: vec![NewOrderItem {
                sku: Sku::parse(PRINT).unwrap(),
                quantity: 1,
            }],
            email: None,
            country: Some("DE".into()),
        };
        checkout(&store, &stripe, &settings, input).await
    });
    let watcher = app.db.connect().await;
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    other.batch_execute("COMMIT").await.unwrap();
    let refused = buyer.await.unwrap().unwrap_err();
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE, "{refused:?}");
    assert_eq!(refused.code, "busy", "{refused:?}");
    assert_eq!(refused.retry_after, Some(1), "{refused:?}");
    let response = axum::response::IntoResponse::into_response(refused);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 1, "nothing written");
    assert_eq!(available(&app, PRINT).await, Some(24));
}
