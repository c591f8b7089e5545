//! Order events: one per transition that matters outside, published after the transaction
//! commits to a real EventBridge bus on the local AWS emulator, where a rule delivers them to an
//! SQS queue the tests read. A publish that fails never holds the order back; the catch-up jobs
//! publish what is left, and nothing goes out twice.

use backroom_testkit::app as support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use backroom_app::catchup::{catch_up_printful, catch_up_stripe};
use backroom_app::outbox::{Bus, ConsolePublisher, Publisher};
use backroom_aws::{EventBridgePublisher, aws_config, aws_sdk_eventbridge, aws_sdk_sqs};
use backroom_core::ports::{OrderEventStore, OrderStore, OutboxEntry};
use backroom_core::{OrderId, OrderStatus};
use backroom_testkit::shared_aws;
use serde_json::Value;

/// Boxes a future: the SDK's are large, and the test's body would carry them on its stack.
trait Boxed: std::future::Future + Sized {
    fn boxed(self) -> std::pin::Pin<Box<Self>> {
        Box::pin(self)
    }
}
impl<F: std::future::Future> Boxed for F {}
use support::TestApp;

use backroom_testkit::run_story as run;

async fn sdk_at(endpoint: String) -> aws_config::SdkConfig {
    backroom_aws::sdk_defaults()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

async fn emulator() -> aws_config::SdkConfig {
    let endpoint = tokio::task::spawn_blocking(|| shared_aws().endpoint.clone())
        .await
        .unwrap();
    Box::pin(sdk_at(endpoint)).await
}

/// A bus of its own with a rule sending every `backroom.orders` event to a queue of its own.
struct BusToQueue {
    sdk: aws_config::SdkConfig,
    bus: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl BusToQueue {
    async fn new() -> BusToQueue {
        let sdk = Box::pin(emulator()).await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let bus = format!("shop-{id}");
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        Box::pin(events.create_event_bus().name(&bus).send()).await.unwrap();
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (queue_url, queue_arn) = backroom_testkit::new_queue(&sqs, &format!("order-events-{id}")).await;
        events
            .put_rule()
            .name(format!("all-orders-{id}"))
            .event_bus_name(&bus)
            .event_pattern(r#"{"source":["backroom.orders"]}"#)
            .send()
            .boxed()
            .await
            .unwrap();
        let put = events
            .put_targets()
            .rule(format!("all-orders-{id}"))
            .event_bus_name(&bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .boxed()
            .await
            .unwrap();
        assert_eq!(put.failed_entry_count(), 0);
        BusToQueue {
            sdk,
            bus,
            sqs,
            queue_url,
        }
    }

    fn publisher(&self) -> Publisher {
        Publisher::EventBridge(Bus::with(EventBridgePublisher::from_sdk(&self.sdk, &self.bus)))
    }

    /// Every event the rule delivered since the last call (the messages are deleted).
    async fn delivered(&self) -> Vec<Value> {
        let mut out = vec![];
        let mut empty_polls = 0;
        while empty_polls < 2 {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .boxed()
                .await
                .unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                empty_polls += 1;
                continue;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .boxed()
                    .await
                    .unwrap();
            }
        }
        out
    }
}

/// A publisher whose bus cannot be reached: the emulator is down, as far as it knows.
async fn unreachable_publisher() -> Publisher {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sdk = Box::pin(sdk_at(format!("http://127.0.0.1:{port}"))).await;
    Publisher::EventBridge(Bus::with(EventBridgePublisher::from_sdk(&sdk, "unreachable")))
}

async fn outbox(app: &TestApp, order: OrderId) -> Vec<OutboxEntry> {
    let mut entries: Vec<OutboxEntry> = app
        .store
        .recent_events(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.order_id == order)
        .collect();
    entries.reverse();
    entries
}

fn detail_types(entries: &[OutboxEntry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.event_type.detail_type()).collect()
}

/// Delivered events by order id, each order's in the order of their transitions.
fn by_order(delivered: &[Value]) -> BTreeMap<String, Vec<&Value>> {
    let mut map: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in delivered {
        map.entry(e["detail"]["order_id"].as_str().unwrap().to_string())
            .or_default()
            .push(e);
    }
    for events in map.values_mut() {
        events.sort_by_key(|e| {
            chrono::DateTime::parse_from_rfc3339(e["detail"]["occurred_at"].as_str().unwrap()).unwrap()
        });
    }
    map
}

fn types_of(events: &[&Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_transition_is_published_once_and_reaches_a_rule_target() {
    run(each_transition_is_published_once_and_reaches_a_rule_target_story());
}

async fn each_transition_is_published_once_and_reaches_a_rule_target_story() {
    let mut app = TestApp::new().await;
    let bus = Box::pin(BusToQueue::new()).await;
    app.worker.outbox.publisher = bus.publisher();

    let (order_id, _) = app.checkout(&[("HARBOUR-TEE-M", 1), ("FOG-MUG", 2)]).await;
    app.pay(order_id).await;
    app.advance_at_printful(order_id).await;
    assert_eq!(app.order(order_id).await.status(), OrderStatus::InProduction);
    app.advance_at_printful(order_id).await;
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::Shipped);

    // In production is not an event; the others are, once each, all published.
    let entries = outbox(&app, order_id).await;
    assert_eq!(
        detail_types(&entries),
        ["Order Paid", "Order Submitted", "Order Shipped"]
    );
    for e in &entries {
        assert!(e.published_at.is_some(), "{e:?}");
        assert_eq!((e.attempts, e.last_error.as_deref()), (0, None), "{e:?}");
    }
    // The event id is the timeline entry's id.
    let timeline_ids: BTreeSet<uuid::Uuid> = {
        let c = app.db.connect().await;
        c.query("SELECT id FROM order_timeline WHERE order_id = $1", &[&order_id.uuid()])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert!(entries.iter().all(|e| timeline_ids.contains(&e.event_id)));

    let delivered = Box::pin(bus.delivered()).await;
    let events = &by_order(&delivered)[&order_id.to_string()];
    assert_eq!(
        types_of(events),
        ["Order Paid", "Order Submitted", "Order Shipped"],
        "{delivered:#?}"
    );
    for (event, entry) in events.iter().zip(&entries) {
        assert_eq!(event["source"], "backroom.orders");
        let d = &event["detail"];
        assert_eq!(d["event_id"], entry.event_id.to_string());
        assert_eq!(d["order_number"], order.number);
        assert_eq!(d["total"]["amount"], order.total.amount.get());
        assert_eq!(d["total"]["currency"], "EUR");
        assert_eq!(d["items"].as_array().unwrap().len(), 2);
        assert_eq!(d["items"][1]["quantity"], 2);
        assert_eq!(
            d["items"][1]["line_total"]["amount"],
            2 * d["items"][1]["unit_price"]["amount"].as_i64().unwrap()
        );
        assert!(d.get("customer_email").is_none(), "e-mail is off by default: {d}");
    }
    let shipped = &events[2]["detail"];
    assert_eq!(shipped["status"], "shipped");
    let tracking = shipped["tracking"].as_array().unwrap();
    assert_eq!(tracking.len(), 1, "{shipped}");
    let parcel = &app.store.shipments(order_id).await.unwrap()[0];
    assert_eq!(tracking[0]["number"], parcel.tracking_number.as_str());
    assert_eq!(tracking[0]["url"], parcel.tracking_url.as_str());
    assert_eq!(tracking[0]["carrier"], parcel.carrier.as_str());
    assert!(events[0]["detail"].get("tracking").is_none());

    // The catch-up finds nothing left, and nothing goes out again.
    let report = catch_up_stripe(&app.worker, chrono::Utc::now()).await.unwrap();
    assert_eq!(report.order_events.published, 0);
    assert_eq!(report.order_events.failed, 0);
    assert!(Box::pin(bus.delivered()).await.is_empty());
}

#[test]
fn refunds_cancellations_and_trouble_are_events_with_the_email_when_turned_on() {
    run(refunds_cancellations_and_trouble_are_events_with_the_email_when_turned_on_story());
}

async fn refunds_cancellations_and_trouble_are_events_with_the_email_when_turned_on_story() {
    let mut app = TestApp::new().await;
    let bus = Box::pin(BusToQueue::new()).await;
    app.worker.outbox.publisher = bus.publisher();
    app.worker.outbox.include_email = true;

    let (refunded, refunded_session) = app.checkout(&[("FOG-MUG", 1)]).await;
    let (canceled, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    let (failed, _) = app.checkout(&[("HARBOUR-TEE-M", 1)]).await;
    for order in [refunded, canceled, failed] {
        app.pay(order).await;
    }
    app.sim.refund(&refunded_session, None, true).await.unwrap();
    app.wait_for_queue(1).await;
    app.settle().await;
    app.printful_sim
        .set_status(&canceled.external_id(), "canceled", Some("out of stock"))
        .await
        .unwrap();
    app.printful_sim
        .set_status(&failed.external_id(), "failed", Some("the print file is too small"))
        .await
        .unwrap();
    app.settle().await;
    assert_eq!(app.order(refunded).await.status(), OrderStatus::Refunded);
    assert_eq!(app.order(canceled).await.status(), OrderStatus::Canceled);
    assert_eq!(app.order(failed).await.status(), OrderStatus::NeedsAttention);

    let delivered = Box::pin(bus.delivered()).await;
    assert_eq!(delivered.len(), 9, "{delivered:#?}");
    let by = by_order(&delivered);
    assert_eq!(
        types_of(&by[&refunded.to_string()]),
        ["Order Paid", "Order Submitted", "Order Refunded"]
    );
    assert_eq!(
        types_of(&by[&canceled.to_string()]),
        ["Order Paid", "Order Submitted", "Order Canceled"]
    );
    assert_eq!(
        types_of(&by[&failed.to_string()]),
        ["Order Paid", "Order Submitted", "Order Needs Attention"]
    );
    let ids: BTreeSet<&str> = delivered
        .iter()
        .map(|e| e["detail"]["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 9, "every event has its own id");
    for e in &delivered {
        assert_eq!(e["detail"]["customer_email"], "buyer@example.com", "{e}");
    }
    assert_eq!(app.store.unpublished_count().await.unwrap(), 0);
}

#[test]
fn a_failed_publish_leaves_the_order_alone_and_the_catch_up_publishes_it_once() {
    run(a_failed_publish_leaves_the_order_alone_and_the_catch_up_publishes_it_once_story());
}

async fn a_failed_publish_leaves_the_order_alone_and_the_catch_up_publishes_it_once_story() {
    let mut app = TestApp::new().await;
    let bus = Box::pin(BusToQueue::new()).await;
    app.worker.outbox.publisher = Box::pin(unreachable_publisher()).await;

    let (order_id, _) = app.checkout(&[("FOG-MUG", 1)]).await;
    app.pay(order_id).await;
    // The order moved on as if nothing happened: paid, and submitted to Printful.
    let order = app.order(order_id).await;
    assert_eq!(order.status(), OrderStatus::Submitted);
    assert_eq!(app.printful_sim.orders().len(), 1);
    let timeline: Vec<OrderStatus> = app
        .store
        .timeline(order_id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.to)
        .collect();
    assert_eq!(
        timeline,
        [OrderStatus::PendingPayment, OrderStatus::Paid, OrderStatus::Submitted]
    );
    // The events wait in the outbox, each failure counted with its reason.
    let waiting = outbox(&app, order_id).await;
    assert_eq!(detail_types(&waiting), ["Order Paid", "Order Submitted"]);
    for e in &waiting {
        assert_eq!(e.published_at, None);
        assert!(e.attempts >= 1, "{e:?}");
        assert!(e.last_error.as_deref().is_some_and(|m| !m.is_empty()), "{e:?}");
    }
    assert_eq!(app.store.unpublished_count().await.unwrap(), 2);

    // Within the grace period the catch-up leaves them to the function that made them.
    app.worker.outbox.catchup_grace = Duration::from_secs(120);
    app.worker.outbox.publisher = bus.publisher();
    let early = app.worker.outbox.catch_up(chrono::Utc::now()).await.unwrap();
    assert_eq!((early.published, early.failed), (0, 0));
    assert!(Box::pin(bus.delivered()).await.is_empty());

    // Past it, the Printful catch-up publishes both, once.
    app.worker.outbox.catchup_grace = Duration::ZERO;
    let report = catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
    assert_eq!((report.order_events.published, report.order_events.failed), (2, 0));
    let delivered = Box::pin(bus.delivered()).await;
    let events = &by_order(&delivered)[&order_id.to_string()];
    assert_eq!(types_of(events), ["Order Paid", "Order Submitted"]);
    for (event, entry) in events.iter().zip(&waiting) {
        assert_eq!(event["detail"]["event_id"], entry.event_id.to_string());
    }
    assert_eq!(app.store.unpublished_count().await.unwrap(), 0);

    // Nothing twice: the next rounds of both jobs publish nothing, and shipping publishes only
    // its own event.
    let again = catch_up_stripe(&app.worker, chrono::Utc::now()).await.unwrap();
    assert_eq!(again.order_events.published, 0);
    app.advance_at_printful(order_id).await;
    app.advance_at_printful(order_id).await;
    let later = Box::pin(bus.delivered()).await;
    assert_eq!(types_of(&later.iter().collect::<Vec<_>>()), ["Order Shipped"]);
    let report = catch_up_printful(&app.worker, Duration::ZERO).await.unwrap();
    assert_eq!(report.order_events.published, 0);
    assert!(Box::pin(bus.delivered()).await.is_empty());
}

#[test]
fn a_later_transition_of_the_order_also_sends_what_failed_before() {
    run(a_later_transition_of_the_order_also_sends_what_failed_before_story());
}

async fn a_later_transition_of_the_order_also_sends_what_failed_before_story() {
    let mut app = TestApp::new().await;
    app.worker.outbox.publisher = Box::pin(unreachable_publisher()).await;
    let (order_id, _) = app.checkout(&[("GULL-TOTE", 1)]).await;
    app.pay(order_id).await;
    assert_eq!(app.store.unpublished_count().await.unwrap(), 2);

    // Back to the log (as `backroom dev` publishes): the next event of the order takes the
    // two that wait with it, oldest first; in production is no event and sends nothing.
    app.worker.outbox.publisher = Publisher::Console(ConsolePublisher);
    app.advance_at_printful(order_id).await;
    assert_eq!(app.store.unpublished_count().await.unwrap(), 2);
    app.advance_at_printful(order_id).await;
    let entries = outbox(&app, order_id).await;
    assert_eq!(
        detail_types(&entries),
        ["Order Paid", "Order Submitted", "Order Shipped"]
    );
    assert!(entries.iter().all(|e| e.published_at.is_some()), "{entries:?}");
    assert!(entries[0].attempts >= 1 && entries[2].attempts == 0, "{entries:?}");
}
