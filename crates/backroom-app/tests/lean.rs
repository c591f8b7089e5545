//! What one provider event costs the database: statements (each a network round trip on Aurora
//! DSQL, BEGIN and COMMIT included) and transactions (each a distributed commit), counted by
//! backroom-db for the task that processes the event. A paid order's event is held to its
//! budget; every kind's figures are printed, and written as JSON to `BACKROOM_LEAN_REPORT` when
//! it is set (scripts/bench puts them in the report).

use backroom_app::queue::Received;
use backroom_db::sql::{Cost, counted};
use backroom_testkit::app::{Options, TestApp};
use serde_json::json;

/// Statements and transactions a paid order's `checkout.session.completed` may cost.
const PAID_STATEMENTS: u64 = 8;
const PAID_TRANSACTIONS: u64 = 3;

/// Processes every message the queue holds now, each counted on its own; by event type.
async fn process_counted(app: &TestApp) -> Vec<(String, Cost)> {
    let mut out = Vec::new();
    loop {
        let received: Vec<Received> = app.queue.receive(10);
        if received.is_empty() {
            return out;
        }
        for r in received {
            let (result, cost) = counted(app.worker.process(&r.message)).await;
            result.unwrap_or_else(|e| panic!("{} failed: {e}", r.message.event_type));
            app.queue.delete(&r.message_id, r.receipt);
            out.push((r.message.event_type.clone(), cost));
        }
    }
}

/// Lets webhooks in flight reach the queue.
async fn arrive(app: &TestApp) {
    app.wait_for_queue(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}

fn one(kind: &str, costs: &[(String, Cost)]) -> Cost {
    let matching: Vec<&Cost> = costs.iter().filter(|(t, _)| t == kind).map(|(_, c)| c).collect();
    assert!(!matching.is_empty(), "no {kind} event among {costs:?}");
    *matching[0]
}

#[tokio::test]
async fn each_event_kind_costs_few_statements_and_a_paid_event_stays_within_budget() {
    let mut figures = serde_json::Map::new();

    // The benchmark's shape: fulfillment paused, so the paid event ends in the database.
    let app = TestApp::with(Options {
        fulfillment_paused: true,
        ..Options::default()
    })
    .await;
    let (_, session) = app.checkout(&[("HARBOUR-TEE-M", 1)]).await;
    app.sim.pay(&session, true).await.unwrap();
    app.wait_for_queue(1).await;
    let costs = process_counted(&app).await;
    let paid = one("checkout.session.completed", &costs);
    println!("paid (fulfillment paused): {paid:?}");
    figures.insert("paid".into(), json!(paid));
    // The same event again (Stripe delivers duplicates) is recognised in one statement.
    let completed = app
        .sim
        .events()
        .into_iter()
        .find(|e| e["type"] == "checkout.session.completed")
        .expect("the payment made an event");
    app.sim.resend(completed["id"].as_str().unwrap()).unwrap();
    app.wait_for_queue(1).await;
    let again = process_counted(&app).await;
    let duplicate = one("checkout.session.completed", &again);
    println!("duplicate: {duplicate:?}");
    figures.insert("duplicate".into(), json!(duplicate));

    // With fulfillment on, the paid event also submits the order to Printful; then Printful's
    // own events, a refund.
    let app = TestApp::new().await;
    let (order, session) = app.checkout(&[("HARBOUR-TEE-M", 1)]).await;
    app.sim.pay(&session, true).await.unwrap();
    app.wait_for_queue(1).await;
    let mut costs = process_counted(&app).await;
    let paid_submitted = one("checkout.session.completed", &costs);
    println!("paid and submitted to Printful: {paid_submitted:?}");
    figures.insert("paid_and_submitted".into(), json!(paid_submitted));
    // Printful's answer to the submission arrives while it is processed, or just after.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    costs.extend(process_counted(&app).await);
    for (kind, cost) in &costs {
        println!("after the payment, {kind}: {cost:?}");
    }
    figures.insert("submitted".into(), json!(one("order_created", &costs)));
    app.printful_sim.advance(&order.external_id()).await.unwrap();
    arrive(&app).await;
    let costs = process_counted(&app).await;
    println!("in production: {costs:?}");
    figures.insert("in_production".into(), json!(one("order_updated", &costs)));
    app.printful_sim.advance(&order.external_id()).await.unwrap();
    arrive(&app).await;
    let costs = process_counted(&app).await;
    println!("shipped: {costs:?}");
    figures.insert("shipped".into(), json!(one("package_shipped", &costs)));
    app.sim.refund(&session, None, true).await.unwrap();
    arrive(&app).await;
    let costs = process_counted(&app).await;
    println!("refunded after shipping: {costs:?}");
    figures.insert("refunded".into(), json!(one("charge.refunded", &costs)));

    if let Some(path) = std::env::var_os("BACKROOM_LEAN_REPORT") {
        let report = json!({ "test": "crates/backroom-app/tests/lean.rs", "kinds": figures });
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
    assert!(
        paid.statements <= PAID_STATEMENTS && paid.transactions <= PAID_TRANSACTIONS,
        "a paid order's event cost {paid:?}; the budget is {PAID_STATEMENTS} statements and {PAID_TRANSACTIONS} transactions"
    );
    assert!(
        duplicate.statements <= 1 && duplicate.transactions == 0,
        "{duplicate:?}"
    );
}
