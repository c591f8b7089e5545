//! The weekly digest against a week of orders made through the real paths (checkout, the Stripe
//! simulator's payments, refunds and disputes, the worker), with orders outside the week that
//! must not count.

use backroom_app::alerts::Alerts;
use backroom_app::digest::{self, DIGEST_KIND, Sent};
use backroom_app::reconcile::{ReconcileOptions, reconcile};
use backroom_app::watchdog::Deadlines;
use backroom_core::cost::{Workload, estimate};
use backroom_core::ports::{
    AlertStore, Discrepancy, DiscrepancyKind, OrderStore, ReconcileRun, ReconcileStore, Severity,
};
use backroom_core::{OrderId, OrderStatus};
use backroom_testkit::app::TestApp;
use chrono::{Duration, Utc};

/// Moves an order and its timeline `days` into the past, as if it had happened then.
async fn backdate(app: &TestApp, id: OrderId, days: i64) {
    let db = app.db.connect().await;
    let shift = format!("{days} days");
    db.execute(
        "UPDATE orders SET created_at = created_at - $2::text::interval, updated_at = updated_at - $2::text::interval WHERE id = $1",
        &[&id.uuid(), &shift],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE order_timeline SET at = at - $2::text::interval WHERE order_id = $1",
        &[&id.uuid(), &shift],
    )
    .await
    .unwrap();
}

fn run_at(started: chrono::DateTime<Utc>, discrepancies: Vec<Discrepancy>) -> ReconcileRun {
    ReconcileRun {
        started_at: started,
        finished_at: started + Duration::seconds(3),
        window_days: 30,
        fix: true,
        discrepancies,
        stripe_calls: 2,
        printful_calls: 2,
    }
}

fn repaired(kind: DiscrepancyKind, repaired: bool) -> Discrepancy {
    Discrepancy {
        kind,
        severity: Severity::Ops,
        order_id: None,
        detail: "seeded".into(),
        repaired,
    }
}

use backroom_testkit::run_story as run;

#[test]
fn the_digest_counts_this_week_and_nothing_before_it() {
    run(the_digest_counts_this_week_and_nothing_before_it_story());
}

async fn the_digest_counts_this_week_and_nothing_before_it_story() {
    let app = TestApp::new().await;
    // This week: three paid orders (32.00 + 22.00 + 28.00 EUR), one refunded in full, one
    // partially refunded, one disputed, and one checkout never paid.
    let (mugs, mugs_session) = app.checkout(&[("FOG-MUG", 2)]).await;
    app.pay(mugs).await;
    let (tote, tote_session) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(tote).await;
    let (tee, tee_session) = app.checkout(&[("HARBOUR-TEE-S", 1)]).await;
    app.pay(tee).await;
    let (unpaid, _) = app.checkout(&[("FOG-MUG", 1)]).await;

    app.sim.refund(&tote_session, None, true).await.unwrap();
    app.wait_for_queue(1).await;
    app.settle().await;
    assert_eq!(app.order(tote).await.status(), OrderStatus::Refunded);
    app.sim.refund(&mugs_session, Some(500), true).await.unwrap();
    app.wait_for_queue(1).await;
    app.settle().await;
    app.sim.dispute(&tee_session, true).await.unwrap();
    app.wait_for_queue(1).await;
    app.settle().await;

    // Ten days ago: a paid and refunded hoodie (54.00 EUR), outside the week.
    let (old, old_session) = app.checkout(&[("TIDE-HOODIE-S", 1)]).await;
    app.pay(old).await;
    app.sim.refund(&old_session, None, true).await.unwrap();
    app.wait_for_queue(1).await;
    app.settle().await;
    assert_eq!(app.order(old).await.status(), OrderStatus::Refunded);
    backdate(&app, old, 10).await;
    // The unpaid checkout was left two hours ago: it is in the week, and stuck.
    let db = app.db.connect().await;
    db.execute(
        "UPDATE orders SET created_at = now() - interval '2 hours', updated_at = now() - interval '2 hours' WHERE id = $1",
        &[&unpaid.uuid()],
    )
    .await
    .unwrap();

    // Reconciler runs: one real one now, one seeded this week with repairs, one eight days ago.
    let now = Utc::now();
    let real = Box::pin(reconcile(
        &app.worker,
        &ReconcileOptions {
            days: 30,
            fix: true,
            webhook_base_url: None,
        },
        now,
    ))
    .await
    .unwrap();
    app.store
        .record_run(&run_at(
            now - Duration::days(2),
            vec![
                repaired(DiscrepancyKind::MissingOrder, true),
                repaired(DiscrepancyKind::NotSubmitted, true),
                repaired(DiscrepancyKind::AmountMismatch, false),
            ],
        ))
        .await
        .unwrap();
    app.store
        .record_run(&run_at(
            now - Duration::days(8),
            vec![repaired(DiscrepancyKind::StatusBehind, true)],
        ))
        .await
        .unwrap();

    let now = Utc::now();
    let d = digest::gather(&app.store, 7, now, &Deadlines::default(), false)
        .await
        .unwrap();
    assert_eq!(d.paid_orders, 3, "{d:#?}");
    assert_eq!(d.revenue.len(), 1);
    assert_eq!(d.revenue[0].currency.code(), "EUR");
    assert_eq!(d.revenue[0].orders, 3);
    assert_eq!(d.revenue[0].minor_units, 3200 + 2200 + 2800);
    assert_eq!(d.revenue[0].formatted, "82.00 EUR");
    assert_eq!(d.unpaid_checkouts, 1);
    assert_eq!(d.refunds.len(), 1);
    assert_eq!((d.refunds[0].orders, d.refunds[0].minor_units), (1, 2200));
    assert_eq!(d.refunds[0].formatted, "22.00 EUR");
    assert_eq!(d.partial_refunds, 1);
    assert_eq!(d.disputes, 1);
    assert_eq!(
        d.waiting.stuck, 1,
        "the unpaid checkout is past the watchdog's deadline"
    );
    assert_eq!(
        (d.waiting.paused, d.waiting.on_hold, d.waiting.needs_attention),
        (0, 0, 0)
    );
    assert_eq!(d.reconciler.runs, 2, "the run eight days ago does not count");
    assert_eq!(d.reconciler.found, 3 + real.discrepancies.len());
    assert_eq!(
        d.reconciler.repaired,
        2 + real.discrepancies.iter().filter(|x| x.repaired).count()
    );
    assert_eq!(d.reconciler.by_kind["missing_order"].1, 1);
    assert!(!d.reconciler.by_kind.contains_key("status_behind"));
    // 3 orders in 7 days is 12.86 a month at this pace, rounded to 13.
    assert_eq!(d.cost.orders_per_month, 13);
    let bill = estimate(&Workload::typical(13));
    assert_eq!((d.cost.usd, d.cost.list_usd), (bill.total_usd, bill.total_list_usd));
    assert_eq!(d.week, digest::iso_week(now));

    let text = d.message();
    for line in [
        "Orders: 3 orders paid, 82.00 EUR in all.",
        "Not paid: 1 checkout was started but not paid",
        "Refunds: 1 order refunded in full (22.00 EUR), and 1 partial refund.",
        "Disputes: 1 dispute was opened.",
        "Waiting on someone: 1 order past the watchdog's deadline",
        "Reconciler: 2 runs,",
        "missing order 1 found, 1 repaired",
        "AWS cost: at this pace (about 13 orders a month)",
    ] {
        assert!(text.contains(line), "{line:?} is not in:\n{text}");
    }

    // A 30-day digest sees the old order too.
    let month = digest::gather(&app.store, 30, now, &Deadlines::default(), false)
        .await
        .unwrap();
    assert_eq!(month.paid_orders, 4);
    assert_eq!(month.revenue[0].minor_units, 8200 + 5400);
    assert_eq!(month.refunds[0].minor_units, 2200 + 5400);
    assert_eq!(month.reconciler.runs, 3);
    assert_ne!(month.dedupe_key, d.dedupe_key, "a 30-day digest is not the weekly one");
}

#[test]
fn the_digest_is_sent_once_per_week_however_often_it_runs() {
    run(the_digest_is_sent_once_per_week_however_often_it_runs_story());
}

async fn the_digest_is_sent_once_per_week_however_often_it_runs_story() {
    let app = TestApp::new().await;
    let (id, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(id).await;
    let alerts = Alerts::console(app.store.clone());
    let now = Utc::now();
    let d = digest::gather(&app.store, 7, now, &Deadlines::default(), false)
        .await
        .unwrap();
    assert_eq!(digest::send(&alerts, &d).await.unwrap(), Sent::Sent);
    // The schedule fires again a few minutes later: same week, nothing sent.
    let again = digest::gather(&app.store, 7, now + Duration::minutes(5), &Deadlines::default(), false)
        .await
        .unwrap();
    assert_eq!(digest::send(&alerts, &again).await.unwrap(), Sent::AlreadySent);
    let digests: Vec<_> = app
        .store
        .alerts(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == DIGEST_KIND)
        .collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert_eq!(digests[0].occurrences, 2, "the repeat is counted, not sent");
    assert!(digests[0].message.contains("Orders: 1 order paid, 16.00 EUR in all."));

    // Next week is a new digest.
    let next = digest::gather(&app.store, 7, now + Duration::days(7), &Deadlines::default(), false)
        .await
        .unwrap();
    assert_ne!(next.dedupe_key, d.dedupe_key);
    assert_eq!(digest::send(&alerts, &next).await.unwrap(), Sent::Sent);
}

#[test]
fn an_empty_week_says_so_and_bad_periods_are_refused() {
    run(an_empty_week_says_so_and_bad_periods_are_refused_story());
}

async fn an_empty_week_says_so_and_bad_periods_are_refused_story() {
    let app = TestApp::new().await;
    let now = Utc::now();
    let d = digest::gather(&app.store, 7, now, &Deadlines::default(), false)
        .await
        .unwrap();
    assert_eq!((d.paid_orders, d.unpaid_checkouts, d.disputes), (0, 0, 0));
    assert!(d.revenue.is_empty() && d.refunds.is_empty());
    assert_eq!(d.cost.orders_per_month, 0);
    let text = d.message();
    for line in [
        "Orders: no orders this week.",
        "Refunds: none.",
        "Disputes: none.",
        "Waiting on someone: nothing, every order is moving.",
        "Reconciler: did not run this week.",
        "about 0 orders a month",
    ] {
        assert!(text.contains(line), "{line:?} is not in:\n{text}");
    }
    assert!(!text.contains("Not paid"), "{text}");

    for days in [0, digest::MAX_DAYS + 1] {
        let err = digest::gather(&app.store, days, now, &Deadlines::default(), false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--days must be between 1 and 366"), "{err}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM alerts").await,
        0,
        "gathering writes nothing"
    );
}

#[test]
fn paused_orders_are_counted_as_waiting() {
    run(paused_orders_are_counted_as_waiting_story());
}

async fn paused_orders_are_counted_as_waiting_story() {
    let app = TestApp::with(backroom_testkit::app::Options {
        fulfillment_paused: true,
        ..Default::default()
    })
    .await;
    let (held, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(held).await;
    assert_eq!(app.order(held).await.status(), OrderStatus::Paid);
    let d = digest::gather(&app.store, 7, Utc::now(), &Deadlines::default(), true)
        .await
        .unwrap();
    assert_eq!(d.waiting.paused, 1);
    assert!(
        d.message().contains("1 paid order held by the fulfillment pause"),
        "{}",
        d.message()
    );
    app.store.release_fulfillment(held).await.unwrap();
    let d = digest::gather(&app.store, 7, Utc::now(), &Deadlines::default(), true)
        .await
        .unwrap();
    assert_eq!(d.waiting.paused, 0, "a released order no longer waits for the owner");
}
