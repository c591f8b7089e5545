//! Buyer data forgotten: `orders forget` erases an order's email, name and address from every
//! table, logs none of them then or after, and keeps amounts, items and the timeline; the retention sweep forgets exactly the
//! orders past their time; the digest counts them.

use backroom_testkit::app as support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backroom_app::catchup::catch_up_printful_within;
use backroom_app::forget::{self, ForgetError};
use backroom_core::ports::{NewAlert, OrderStore, Severity};
use backroom_core::{Cause, OrderId, OrderStatus};
use serde_json::json;
use support::TestApp;
use tracing::instrument::WithSubscriber;

/// Checks out with its own email and pays; returns the order id.
async fn paid_order(app: &TestApp, email: &str) -> OrderId {
    let (status, body) = app
        .post_json(
            "/checkout",
            &json!({ "items": [{ "sku": "GULL-TOTE", "quantity": 1 }], "email": email }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = OrderId::parse(body["order_id"].as_str().unwrap()).unwrap();
    app.pay(id).await;
    id
}

async fn ship(app: &TestApp, id: OrderId) {
    app.advance_at_printful(id).await;
    app.advance_at_printful(id).await;
    assert_eq!(app.order(id).await.status(), OrderStatus::Shipped);
}

/// Rows of any table of the schema whose text holds `needle`, as "table: n".
async fn tables_holding(app: &TestApp, needle: &str) -> Vec<String> {
    let client = app.db.connect().await;
    let tables = client
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .unwrap();
    let mut found = vec![];
    for t in tables {
        let name: String = t.get(0);
        let n: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM \"{name}\" t WHERE strpos(t::text, $1) > 0"),
                &[&needle],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            found.push(format!("{name}: {n}"));
        }
    }
    found
}

/// Log lines written while a future is polled, as the functions' JSON at info level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn dispatch(&self) -> tracing::Dispatch {
        tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::INFO)
                .with_writer(self.clone())
                .finish(),
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[test]
fn forgetting_an_order_leaves_no_email_name_or_address_in_any_table_and_keeps_the_amounts() {
    backroom_testkit::run_story(forget_story());
}

async fn forget_story() {
    let app = TestApp::new().await;
    let email = "ada.forgets@example.org";
    let id = paid_order(&app, email).await;
    let before = app.order(id).await;
    let shipping = before.shipping.clone().expect("Stripe gave an address");
    let mut needles = vec![email.to_string()];
    for v in [&shipping.name, &shipping.line1, &shipping.city, &shipping.postal_code] {
        if v.chars().count() >= 4 {
            needles.push(v.to_string());
        }
    }
    assert!(needles.len() >= 3, "{shipping:?}");
    // The owner's own copy, in an alert about the order.
    app.worker
        .alerts
        .raise(NewAlert {
            severity: Severity::Ops,
            kind: "note".into(),
            order_id: Some(id),
            dedupe_key: format!("note:{id}"),
            message: format!("Call {} ({email}) about the parcel to {}.", needles[1], needles[2]),
        })
        .await
        .unwrap();
    for n in &needles {
        assert!(
            !tables_holding(&app, n).await.is_empty(),
            "{n} is stored somewhere first"
        );
    }

    // On its way to Printful: the address is still needed, and nothing changes.
    match forget::forget(&app.store, id, &Cause::Cli).await {
        Err(ForgetError::InFlight(_, OrderStatus::Submitted)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(app.order(id).await.email, before.email);

    ship(&app, id).await;
    // What the forgetting and everything after it log, at the functions' level (info).
    let logs = Captured::default();
    let capture = logs.dispatch();
    assert!(
        forget::forget(&app.store, id, &Cause::Cli)
            .with_subscriber(capture.clone())
            .await
            .unwrap()
    );
    assert!(
        !forget::forget(&app.store, id, &Cause::Cli)
            .with_subscriber(capture.clone())
            .await
            .unwrap(),
        "once"
    );
    assert!(
        logs.text().contains("the buyer's data was forgotten"),
        "the capture sees the forgetting: {}",
        logs.text()
    );

    for n in &needles {
        assert_eq!(
            tables_holding(&app, n).await,
            Vec::<String>::new(),
            "{n:?} is gone everywhere"
        );
    }
    let after = app.order(id).await;
    assert_eq!(after.email, None);
    assert_eq!(after.shipping, None);
    assert_eq!(after.total, before.total);
    assert_eq!(after.charged, before.charged);
    assert_eq!(after.items, before.items);
    assert_eq!(after.status(), OrderStatus::Shipped);
    assert_eq!(app.store.shipments(id).await.unwrap().len(), 1, "the parcel stays");
    let timeline = app.store.timeline(id).await.unwrap();
    assert!(timeline.iter().any(|e| e.to == OrderStatus::Paid), "the history stays");
    let last = timeline.last().unwrap();
    assert_eq!(last.detail, "the buyer's data (email, name and address) was forgotten");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM order_timeline WHERE order_id = '{}'",
            id.uuid()
        ))
        .await as usize,
        timeline.len()
    );

    // A replayed payment (the Stripe catch-up re-reading the session) does not bring it back.
    let session = app
        .stripe
        .checkout_session(&after.stripe_session_id.clone().unwrap())
        .await
        .unwrap();
    Box::pin(app.worker.apply_session(
        &session,
        "checkout.session.completed",
        &Cause::Catchup("stripe".into()),
        None,
    ))
    .with_subscriber(capture)
    .await
    .unwrap();
    for n in &needles {
        assert_eq!(
            tables_holding(&app, n).await,
            Vec::<String>::new(),
            "{n:?} stays forgotten"
        );
        let text = logs.text();
        assert!(
            !text.contains(n.as_str()),
            "{n:?} is in a log line after the order was forgotten:\n{text}"
        );
    }

    let unknown = OrderId::new_random();
    assert!(matches!(
        forget::forget(&app.store, unknown, &Cause::Cli).await,
        Err(ForgetError::NotFound(_))
    ));
}

#[test]
fn the_retention_sweep_forgets_exactly_the_orders_past_their_time_and_the_digest_counts_them() {
    backroom_testkit::run_story(retention_story());
}

async fn retention_story() {
    let app = TestApp::new().await;
    let client = app.db.connect().await;
    let days_ago = |n: i64| chrono::Utc::now() - chrono::Duration::days(n);

    // Delivered 40 and 10 days ago.
    let old_delivered = paid_order(&app, "old.delivered@example.org").await;
    let new_delivered = paid_order(&app, "new.delivered@example.org").await;
    for id in [old_delivered, new_delivered] {
        ship(&app, id).await;
        app.printful_sim.advance(&id.external_id()).await.unwrap();
    }
    Box::pin(catch_up_printful_within(
        &app.worker,
        Duration::ZERO,
        Duration::from_secs(60),
    ))
    .await
    .unwrap();
    for (id, n) in [(old_delivered, 40), (new_delivered, 10)] {
        assert_eq!(app.order(id).await.status(), OrderStatus::Delivered);
        client
            .execute(
                "UPDATE orders SET delivered_at = $2 WHERE id = $1",
                &[&id.uuid(), &days_ago(n)],
            )
            .await
            .unwrap();
    }
    // Refunded 40 days ago; expired 5 days ago; paid and at Printful for 40 days.
    let old_refunded = paid_order(&app, "old.refunded@example.org").await;
    let session = app.order(old_refunded).await.stripe_session_id.unwrap();
    app.sim.refund(&session, None, true).await.unwrap();
    app.settle().await;
    assert_eq!(app.order(old_refunded).await.status(), OrderStatus::Refunded);
    let (new_expired, session) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.sim.expire(&session, true).await.unwrap();
    app.settle().await;
    assert_eq!(app.order(new_expired).await.status(), OrderStatus::Expired);
    let in_flight = paid_order(&app, "in.flight@example.org").await;
    for (id, n) in [(old_refunded, 40), (new_expired, 5), (in_flight, 40)] {
        client
            .execute(
                "UPDATE order_timeline SET at = $2 WHERE order_id = $1",
                &[&id.uuid(), &days_ago(n)],
            )
            .await
            .unwrap();
        client
            .execute(
                "UPDATE orders SET updated_at = $2 WHERE id = $1",
                &[&id.uuid(), &days_ago(n)],
            )
            .await
            .unwrap();
    }

    let off = forget::sweep_retention(&app.store, None, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(off.forgotten, 0, "off by default");
    assert!(app.order(old_delivered).await.email.is_some());

    let run = forget::sweep_retention(&app.store, Some(30), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!((run.forgotten, run.failed), (2, 0), "{run:?}");
    for id in [old_delivered, old_refunded] {
        let o = app.order(id).await;
        assert!(o.email.is_none() && o.shipping.is_none(), "{id} is past its time");
    }
    for id in [new_delivered, new_expired, in_flight] {
        assert!(app.order(id).await.email.is_some(), "{id} is kept");
    }
    let again = forget::sweep_retention(&app.store, Some(30), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(again.forgotten, 0);

    let digest = Box::pin(backroom_app::digest::gather(
        &app.store,
        7,
        chrono::Utc::now() + chrono::Duration::seconds(1),
        &backroom_app::watchdog::Deadlines::default(),
        false,
    ))
    .await
    .unwrap();
    assert_eq!(digest.buyer_data_forgotten, 2);
    assert!(
        digest.message().contains("Buyer data: forgotten for 2 orders"),
        "{}",
        digest.message()
    );
}
