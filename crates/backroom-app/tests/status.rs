//! `backroom status` gathered from a seeded database: orders by status, stuck orders exactly as
//! the watchdog sees them, catch-up cursors, reconcile runs and open alerts; and its JSON shape.

use backroom_app::alerts::Alerts;
use backroom_app::digest;
use backroom_app::reconcile::{ReconcileOptions, reconcile};
use backroom_app::status::{self, Alarms, DeadLetters, Environment};
use backroom_app::watchdog::{Deadlines, watchdog};
use backroom_core::OrderStatus;
use backroom_core::ports::{AlertStore, Cursor, CursorStore};
use backroom_testkit::app::{Options, TestApp};
use chrono::{Duration, Utc};

use backroom_testkit::run_story as run;

#[test]
fn status_shows_orders_stuck_orders_runs_and_alerts() {
    run(status_shows_orders_stuck_orders_runs_and_alerts_story());
}

async fn status_shows_orders_stuck_orders_runs_and_alerts_story() {
    let app = TestApp::with(Options {
        fulfillment_paused: true,
        ..Options::default()
    })
    .await;
    let empty = status::gather(
        &app.store,
        &Deadlines::default(),
        Utc::now(),
        Environment::Dev,
        Alarms::NotInDev,
        DeadLetters::known("dev", 0),
    )
    .await
    .unwrap();
    assert_eq!(empty.orders_total, 0);
    let text = status::render(&empty);
    for line in [
        "Orders         none yet",
        "Stuck orders   none",
        "Catch-up       has not run yet",
        "Reconcile      has not run yet",
        "Alerts         none in the last 7 days",
        "Alarms         not in dev",
        "Dead letters   none (dev)",
    ] {
        assert!(text.contains(line), "{line:?} is not in:\n{text}");
    }

    // Two paid orders held by the pause (one of them for an hour), one pending checkout.
    let (held_long, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(held_long).await;
    let (held_now, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(held_now).await;
    let (pending, _) = app.checkout(&[("HARBOUR-TEE-S", 1)]).await;
    let db = app.db.connect().await;
    db.execute(
        "UPDATE orders SET updated_at = now() - interval '1 hour' WHERE id = $1",
        &[&held_long.uuid()],
    )
    .await
    .unwrap();
    app.store
        .set_cursor(
            "stripe_events",
            &Cursor {
                at: Utc::now() - Duration::minutes(3),
                id: "evt_last".into(),
            },
        )
        .await
        .unwrap();
    let run = Box::pin(reconcile(
        &app.worker,
        &ReconcileOptions {
            days: 30,
            fix: false,
            webhook_base_url: None,
        },
        Utc::now(),
    ))
    .await
    .unwrap();

    let now = Utc::now();
    let deadlines = Deadlines::default();
    // The watchdog and status agree on who is stuck, now and two hours on.
    for at in [now, now + Duration::hours(2)] {
        let s = status::gather(
            &app.store,
            &deadlines,
            at,
            Environment::Dev,
            Alarms::NotInDev,
            DeadLetters::known("dev", 2),
        )
        .await
        .unwrap();
        let alerted = watchdog(&app.store, &Alerts::console(app.store.clone()), &deadlines, at)
            .await
            .unwrap();
        assert_eq!(s.stuck.len(), alerted, "at {at}: {:?}", s.stuck);
    }

    let s = status::gather(
        &app.store,
        &deadlines,
        now,
        Environment::Dev,
        Alarms::NotInDev,
        DeadLetters::known("dev", 2),
    )
    .await
    .unwrap();
    assert_eq!(s.orders_total, 3);
    let count = |st: OrderStatus| s.orders.iter().find(|c| c.status == st).map(|c| c.count);
    assert_eq!(count(OrderStatus::Paid), Some(2));
    assert_eq!(count(OrderStatus::PendingPayment), Some(1));
    assert_eq!(count(OrderStatus::Shipped), None, "statuses with no order are left out");
    assert_eq!(s.stuck.len(), 1, "{:?}", s.stuck);
    assert_eq!(s.stuck[0].id, held_long);
    assert_eq!(s.stuck[0].status, OrderStatus::Paid);
    assert_eq!(
        s.stuck[0].overdue_since - s.stuck[0].waiting_since,
        Duration::minutes(15),
        "a paid order has 15 minutes to reach Printful"
    );
    assert_eq!(s.catchup.len(), 1);
    assert_eq!(s.catchup[0].name, "stripe_events");
    assert_eq!(s.catchup[0].position_id, "evt_last");
    assert_eq!(s.reconcile_runs.len(), 1);
    assert_eq!(s.reconcile_runs[0].found, run.discrepancies.len());
    assert!(!s.reconcile_runs[0].fix);
    assert_eq!(s.dead_letters.depth, Some(2));

    // The watchdog's alert for the stuck order is open; the weekly digest's record is not an alert.
    let d = digest::gather(&app.store, 7, now, &deadlines, true).await.unwrap();
    digest::send(&Alerts::console(app.store.clone()), &d).await.unwrap();
    let s = status::gather(
        &app.store,
        &deadlines,
        Utc::now(),
        Environment::Dev,
        Alarms::NotInDev,
        DeadLetters::known("dev", 2),
    )
    .await
    .unwrap();
    assert!(
        app.store
            .alerts(50)
            .await
            .unwrap()
            .iter()
            .any(|a| a.kind == digest::DIGEST_KIND),
        "the digest was recorded"
    );
    let kinds: Vec<&str> = s.open_alerts.newest.iter().map(|a| a.kind.as_str()).collect();
    assert!(kinds.contains(&"stuck_paid"), "{kinds:?}");
    assert!(!kinds.contains(&digest::DIGEST_KIND), "{kinds:?}");
    assert_eq!(s.open_alerts.total as usize, kinds.len());
    assert!(s.stuck.iter().all(|o| o.id != pending), "a fresh checkout is not stuck");

    let text = status::render(&s);
    for line in [
        "Orders         3 in all: ",
        "2 paid",
        "1 pending_payment",
        "Stuck orders   1 past the watchdog's deadline",
        &format!("{held_long}"),
        "stripe_events",
        "caught up to",
        "Dead letters   2 message(s) failed 5 times",
        "Alerts         ",
        "stuck_paid",
    ] {
        assert!(text.contains(line), "{line:?} is not in:\n{text}");
    }
}

#[test]
fn the_json_shape_is_stable() {
    run(the_json_shape_is_stable_story());
}

async fn the_json_shape_is_stable_story() {
    let app = TestApp::new().await;
    let (id, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(id).await;
    let s = status::gather(
        &app.store,
        &Deadlines::default(),
        Utc::now() + Duration::days(3),
        Environment::Aws,
        Alarms::Cloudwatch {
            prefix: "shop-".into(),
            alarms: vec![status::AlarmView {
                name: "shop-dlq-not-empty".into(),
                state: "ALARM".into(),
                reason: "1 datapoint".into(),
                since: None,
            }],
        },
        DeadLetters::unknown("sqs", "could not read the queue"),
    )
    .await
    .unwrap();
    let v = serde_json::to_value(&s).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "alarms",
            "catchup",
            "dead_letters",
            "earnings",
            "environment",
            "generated_at",
            "open_alerts",
            "orders",
            "orders_total",
            "reconcile_runs",
            "stuck"
        ]
    );
    assert_eq!(v["environment"], "aws");
    assert_eq!(v["alarms"]["source"], "cloudwatch");
    assert_eq!(v["alarms"]["prefix"], "shop-");
    assert_eq!(v["alarms"]["alarms"][0]["state"], "ALARM");
    assert_eq!(v["dead_letters"]["source"], "sqs");
    assert!(v["dead_letters"]["depth"].is_null());
    assert_eq!(v["dead_letters"]["error"], "could not read the queue");
    assert_eq!(v["orders"][0]["status"], "submitted");
    assert_eq!(v["orders"][0]["count"], 1);
    assert_eq!(v["earnings"]["by_currency"][0]["totals"]["orders"], 1, "{v}");
    assert_eq!(v["orders_total"], 1);
    // Three days on, the submitted order is past Printful's 48 hours: stuck.
    let stuck = &v["stuck"][0];
    assert_eq!(stuck["id"], id.to_string());
    assert_eq!(stuck["status"], "submitted");
    for key in ["number", "waiting_since", "overdue_since"] {
        assert!(!stuck[key].is_null(), "stuck[{key}] in {stuck}");
    }
    assert!(v["open_alerts"]["total"].is_i64() && v["open_alerts"]["newest"].is_array());
    assert!(v["open_alerts"]["since"].is_string());
    assert_eq!(
        serde_json::to_value(Alarms::NotInDev).unwrap(),
        serde_json::json!({"source": "not_in_dev"})
    );
}
