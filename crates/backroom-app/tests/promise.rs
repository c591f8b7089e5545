//! The promise on sequences a real shop meets every month: a refund that arrives before its
//! payment, a Printful cancel or confirm that fails, a Printful order made on one of our ids by
//! someone else, an alert whose first publish fails. Each story runs against PostgreSQL and
//! both simulators; the alert story publishes to a real SNS topic on the local AWS emulator.

use std::time::Duration;

use backroom_app::alerts::{Alerts, Sink};
use backroom_app::catchup::{catch_up_printful, catch_up_stripe};
use backroom_aws::{SnsSink, aws_sdk_sns, aws_sdk_sqs};
use backroom_core::machine::Fulfillment;
use backroom_core::ports::{AlertStore, NewAlert, OrderStore, Severity};
use backroom_core::{OrderId, OrderStatus};
use backroom_testkit::app::TestApp;
use backroom_testkit::{emulator_sdk, new_queue, run_story as run, subscribe_queue};
use serde_json::Value;

fn printful_orders_for(app: &TestApp, id: OrderId) -> Vec<Value> {
    app.printful_sim
        .orders()
        .into_iter()
        .filter(|o| o["external_id"] == id.external_id())
        .collect()
}

async fn security_alerts(app: &TestApp) -> Vec<backroom_core::ports::Alert> {
    app.store
        .alerts(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.severity == Severity::Security)
        .collect()
}

/// Moves the order's owed-work clock: its back-off has passed, and its failures started
/// `failing_for` ago.
async fn hours_later(app: &TestApp, id: OrderId, failing_for: &str) {
    app.db
        .connect()
        .await
        .execute(
            &format!(
                "UPDATE orders SET work_due_at = now() - interval '1 second', \
                 work_failing_since = CASE WHEN work_failing_since IS NULL THEN NULL \
                 ELSE now() - interval '{failing_for}' END WHERE id = $1"
            ),
            &[&id.uuid()],
        )
        .await
        .unwrap();
}

#[test]
fn a_refund_processed_before_its_payment_is_not_lost_and_nothing_ships() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        // The buyer pays; Stripe's completed webhook is lost. The owner refunds at Stripe, and
        // that webhook arrives first.
        app.sim.pay(&session, false).await.unwrap();
        app.sim.refund(&session, None, true).await.unwrap();
        app.wait_for_queue(1).await;
        assert!(app.drain().await.is_empty());
        app.settle().await;
        assert_eq!(app.order(order_id).await.status(), OrderStatus::Refunded);
        // The lost payment comes back through the catch-up; it must not undo the refund.
        catch_up_stripe(&app.worker, chrono::Utc::now()).await.unwrap();
        catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        app.settle().await;
        let order = app.order(order_id).await;
        assert_eq!(order.status(), OrderStatus::Refunded);
        assert_eq!(order.state.fulfillment, Fulfillment::None);
        assert!(order.stripe_payment_intent_id.is_some(), "the payment is recorded");
        assert!(printful_orders_for(&app, order_id).is_empty(), "nothing went to print");
        assert!(
            security_alerts(&app).await.is_empty(),
            "the shop's own refund is no security matter: {:?}",
            security_alerts(&app).await
        );
    });
}

#[test]
fn a_dispute_before_its_payment_finds_the_order_and_carries_the_evidence() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        app.sim.pay(&session, false).await.unwrap();
        app.sim.dispute(&session, true).await.unwrap();
        app.wait_for_queue(1).await;
        assert!(app.drain().await.is_empty());
        app.settle().await;
        let order = app.order(order_id).await;
        // The dispute found the order through the session, which also brought the payment in.
        assert_eq!(order.status(), OrderStatus::Submitted);
        assert!(security_alerts(&app).await.is_empty());
        let dispute = app
            .store
            .alerts(50)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.kind == "dispute")
            .expect("the owner is told");
        assert_eq!(dispute.order_id, Some(order_id));
        assert!(dispute.message.contains("Shipped: not yet"), "{}", dispute.message);
        assert!(dispute.message.contains("History:"), "{}", dispute.message);
    });
}

#[test]
fn a_dispute_on_a_shipped_order_names_carrier_tracking_and_dates() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        app.pay(order_id).await;
        app.advance_at_printful(order_id).await;
        app.advance_at_printful(order_id).await;
        assert_eq!(app.order(order_id).await.status(), OrderStatus::Shipped);
        app.sim.dispute(&session, true).await.unwrap();
        app.settle().await;
        let shipment = app.store.shipments(order_id).await.unwrap().remove(0);
        let dispute = app
            .store
            .alerts(50)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.kind == "dispute")
            .expect("the owner is told");
        for needed in [
            shipment.carrier.as_str(),
            shipment.tracking_number.as_str(),
            shipment.tracking_url.as_str(),
            &shipment.shipped_at.unwrap().format("%Y-%m-%d").to_string(),
            "Delivered: not reported",
        ] {
            assert!(!needed.is_empty());
            assert!(dispute.message.contains(needed), "{needed:?} in {}", dispute.message);
        }
    });
}

#[test]
fn a_refund_whose_printful_cancel_fails_is_cancelled_by_a_later_run() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        app.pay(order_id).await;
        assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
        // Printful answers 500 to everything while the refund is processed.
        app.printful_sim.fail_next(1_000, 500);
        app.sim.refund(&session, None, true).await.unwrap();
        app.wait_for_queue(1).await;
        assert!(app.drain().await.is_empty(), "the refund itself is applied");
        let order = app.order(order_id).await;
        assert_eq!(order.status(), OrderStatus::Refunded);
        assert!(
            order.work.attempts >= 1,
            "the failed cancel is recorded: {:?}",
            order.work
        );
        // The retried message is no longer the way back: a redelivery stops at "processed".
        let again = catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        assert_eq!(again.owed, 0, "inside its back-off, the order waits");
        // Printful is back; the back-off has passed.
        app.printful_sim.fail_next(0, 500);
        hours_later(&app, order_id, "1 minute").await;
        let run = catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        assert_eq!(run.owed, 1, "{run:?}");
        let at_printful = printful_orders_for(&app, order_id);
        assert_eq!(at_printful.len(), 1);
        assert_eq!(at_printful[0]["status"], "canceled");
        let order = app.order(order_id).await;
        assert_eq!(order.state.fulfillment, Fulfillment::Canceled);
        assert_eq!(
            order.work.attempts, 0,
            "the failures are forgotten once the work is done"
        );
        let after = catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        assert_eq!(after.owed, 0, "nothing is owed any more");
    });
}

#[test]
fn a_confirm_that_keeps_failing_tells_the_owner_after_an_hour_and_is_retried_until_done() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        app.printful_sim.fail_next(1_000, 500);
        app.sim.pay(&session, true).await.unwrap();
        app.wait_for_queue(1).await;
        assert!(
            app.drain().await.is_empty(),
            "the payment is applied; the submission waits"
        );
        assert_eq!(app.order(order_id).await.status(), OrderStatus::Paid);
        let alert = |app: &TestApp| {
            let store = app.store.clone();
            async move {
                store
                    .alerts(50)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|a| a.kind == "work_failing")
                    .collect::<Vec<_>>()
            }
        };
        // Ten minutes of failures: not news yet.
        hours_later(&app, order_id, "10 minutes").await;
        catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        assert!(alert(&app).await.is_empty());
        // An hour of failures: the owner hears, once.
        hours_later(&app, order_id, "61 minutes").await;
        catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        hours_later(&app, order_id, "62 minutes").await;
        catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        let told = alert(&app).await;
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].order_id, Some(order_id));
        assert!(
            told[0].message.contains("sending it to Printful"),
            "{}",
            told[0].message
        );
        // Printful comes back: the next run submits it, exactly once.
        app.printful_sim.fail_next(0, 500);
        hours_later(&app, order_id, "63 minutes").await;
        catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        app.settle().await;
        assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
        assert_eq!(printful_orders_for(&app, order_id).len(), 1);
    });
}

#[test]
fn a_refund_during_another_workers_create_cancels_what_the_create_made() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        // The payment is applied, but its submission has not happened yet (a worker is about
        // to create the Printful order).
        app.printful_sim.fail_next(1_000, 500);
        app.sim.pay(&session, true).await.unwrap();
        app.wait_for_queue(1).await;
        assert!(app.drain().await.is_empty());
        app.printful_sim.fail_next(0, 500);
        // The create goes through at Printful but its answer is lost, and the worker dies
        // before it records anything; meanwhile the refund is committed.
        app.printful_sim.drop_next_create();
        let creating = {
            let worker = app.worker.clone();
            tokio::spawn(async move { worker.advance_or_fail(order_id, None).await })
        };
        for _ in 0..200 {
            if !printful_orders_for(&app, order_id).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        creating.abort();
        assert_eq!(
            printful_orders_for(&app, order_id).len(),
            1,
            "the create reached Printful"
        );
        app.sim.refund(&session, None, true).await.unwrap();
        app.settle().await;
        assert_eq!(app.order(order_id).await.status(), OrderStatus::Refunded);
        // Whatever ran first, the order Printful has is cancelled, and nobody is told it is a
        // stranger's.
        catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        let at_printful = printful_orders_for(&app, order_id);
        assert_eq!(at_printful.len(), 1);
        assert_eq!(at_printful[0]["status"], "canceled");
        assert_eq!(app.order(order_id).await.state.fulfillment, Fulfillment::Canceled);
        assert!(
            security_alerts(&app).await.is_empty(),
            "{:?}",
            security_alerts(&app).await
        );
    });
}

#[test]
fn a_printful_order_made_on_an_unpaid_orders_id_is_a_security_alert() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
        // Someone with the Printful token orders our piece on our order's id, without paying.
        app.printful_sim.create_foreign_order(Some(&order_id.external_id()));
        app.printful_sim
            .set_status(&order_id.external_id(), "pending", None)
            .await
            .unwrap();
        app.printful_sim.settle().await;
        app.settle().await;
        catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        let security = security_alerts(&app).await;
        assert_eq!(security.len(), 1, "{security:?}");
        assert_eq!(security[0].kind, "unknown_printful_order");
        let alerts = app.store.alerts(50).await.unwrap();
        assert!(
            !alerts.iter().any(|a| a.kind.starts_with("printful_")),
            "no \"fix it and submit it again\": {alerts:?}"
        );
        let order = app.order(order_id).await;
        assert_eq!(order.status(), OrderStatus::PendingPayment);
        assert_eq!(order.printful_order_id, None, "a stranger's order is not adopted");
    });
}

#[test]
fn our_own_create_whose_answer_was_lost_is_never_flagged() {
    run(async {
        let app = TestApp::with(backroom_testkit::app::Options {
            printful_timeout: Duration::from_millis(500),
            ..Default::default()
        })
        .await;
        let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
        app.printful_sim.drop_next_create();
        app.pay(order_id).await;
        app.printful_sim.settle().await;
        app.settle().await;
        catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
        assert_eq!(printful_orders_for(&app, order_id).len(), 1);
        assert!(
            security_alerts(&app).await.is_empty(),
            "{:?}",
            security_alerts(&app).await
        );
    });
}

#[test]
fn an_alert_whose_publish_failed_once_still_reaches_the_topic() {
    run(async {
        let app = TestApp::new().await;
        let sdk = emulator_sdk(None).await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let id = uuid::Uuid::new_v4().simple().to_string();
        // The ops topic does not exist yet: the first publish fails.
        let ops_name = format!("ops-{id}");
        let ops_arn = format!("arn:aws:sns:us-east-1:000000000000:{ops_name}");
        let alerts = Alerts {
            sink: Sink::Sns(SnsSink::new(sns.clone(), &ops_arn, &ops_arn)),
            ..Alerts::console(app.store.clone())
        };
        let alert = NewAlert {
            severity: Severity::Ops,
            kind: "test".into(),
            order_id: None,
            dedupe_key: format!("test:{id}"),
            message: "an order is stuck at Printful".into(),
        };
        alerts
            .raise(alert.clone())
            .await
            .expect("a failed publish never fails the raiser");
        // A retry of whatever raised it, inside the cool-down, must not swallow it.
        alerts.raise(alert.clone()).await.unwrap();
        // SNS is back.
        let created = sns
            .create_topic()
            .name(&ops_name)
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        assert_eq!(created, ops_arn);
        let (inbox, inbox_arn) = new_queue(&sqs, &format!("inbox-{id}")).await;
        subscribe_queue(&sns, &ops_arn, &inbox_arn).await;
        let later = chrono::Utc::now() + chrono::Duration::minutes(5);
        let published = alerts.catch_up(later).await.unwrap();
        assert_eq!(published.published, 1, "{published:?}");
        let again = alerts.catch_up(later).await.unwrap();
        assert_eq!(again.published, 0, "published once, then no more");
        let received = sqs
            .receive_message()
            .queue_url(&inbox)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(received.len(), 1);
        assert!(
            received[0]
                .body
                .as_deref()
                .unwrap()
                .contains("an order is stuck at Printful")
        );
    });
}

#[test]
fn the_printful_catch_up_pages_within_its_budget_and_still_scans_and_publishes() {
    run(async {
        let app = TestApp::new().await;
        let mut orders = vec![];
        for _ in 0..3 {
            let (order_id, _) = app.checkout(&[("FOG-MUG", 1)]).await;
            app.pay(order_id).await;
            orders.push(order_id);
        }
        // Printful's webhooks are lost from here on: only the catch-up brings news.
        app.printful_sim.set_webhook_delivery(false);
        for id in &orders {
            app.printful_sim.advance(&id.external_id()).await.unwrap();
        }
        let stranger = app.printful_sim.create_foreign_order(Some("not-one-of-ours"));
        // A run with no time left for the walk: it reads no order, remembers where it is, and
        // still scans for strangers' orders and publishes the outboxes.
        let first = backroom_app::catchup::catch_up_printful_within(&app.worker, Duration::ZERO, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(first.checked, 0, "{first:?}");
        assert!(first.walk_incomplete, "{first:?}");
        assert_eq!(first.unknown, 1, "the scan ran: {first:?}");
        assert!(
            security_alerts(&app)
                .await
                .iter()
                .any(|a| a.message.contains(&stranger.to_string()))
        );
        // Runs with time walk every order in flight, a page at a time, and start over at the end.
        let second = catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
        assert_eq!(second.checked, 3, "{second:?}");
        assert!(!second.walk_incomplete);
        for id in &orders {
            assert_eq!(app.order(*id).await.status(), OrderStatus::InProduction);
        }
        let cursor = backroom_core::ports::CursorStore::cursor(&app.store, backroom_app::catchup::PRINTFUL_CURSOR)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cursor.id, "", "the walk reached the end and starts over next time");
    });
}

#[test]
fn a_batch_short_of_time_leaves_its_messages_for_their_next_delivery() {
    run(async {
        let app = TestApp::new().await;
        let (order_id, session) = app.checkout(&[("GULL-TOTE", 1)]).await;
        app.sim.pay(&session, true).await.unwrap();
        app.wait_for_queue(1).await;
        let received = app.queue.receive(10);
        assert_eq!(received.len(), 1);
        let items: Vec<_> = received
            .iter()
            .map(|r| backroom_app::worker::BatchItem {
                message_id: r.message_id.clone(),
                message: Some(r.message.clone()),
            })
            .collect();
        // Less than one message's time is left in the invocation.
        let deadline = std::time::Instant::now() + backroom_app::worker::MESSAGE_TIME / 2;
        let failed = app.worker.process_batch_until(items.clone(), Some(deadline)).await;
        assert_eq!(failed, vec![received[0].message_id.clone()], "not started, so failed");
        assert_eq!(
            app.order(order_id).await.status(),
            OrderStatus::PendingPayment,
            "untouched"
        );
        // With time, the same message is processed.
        let failed = app
            .worker
            .process_batch_until(items, Some(std::time::Instant::now() + Duration::from_secs(120)))
            .await;
        assert!(failed.is_empty());
        assert_eq!(app.order(order_id).await.status(), OrderStatus::Submitted);
    });
}
