//! The repositories on real PostgreSQL, each test in a fresh migrated database.

use std::time::Duration;

use backroom_core::machine::PrintfulStatus;
use backroom_core::ports::{
    AlertOutcome, AlertStore, Applied, ApplyError, CatalogStore, CreateOrderError, Cursor, CursorStore, EventClaim,
    EventSource, Inbox, NewAlert, NewOrder, OrderFilter, OrderStore, Severity,
};
use backroom_core::{Catalog, Cause, Cents, Currency, Email, Fact, NewOrderItem, OrderId, OrderStatus, Refusal, Sku};
use backroom_db::{Db, DbConfig, Store};
use backroom_testkit::TestDatabase;
use chrono::{TimeZone, Utc};

const CATALOG: &str = r#"
[[products]]
slug = "tee"
name = "Harbour Tee"
currency = "EUR"
[[products.variants]]
sku = "TEE-S"
size = "S"
price = 2500
printful_sync_variant_id = 101
[[products.variants]]
sku = "TEE-M"
size = "M"
price = 2500
printful_sync_variant_id = 102

[[products]]
slug = "print"
name = "Signed Print"
currency = "EUR"
[[products.variants]]
sku = "PRINT-A3"
size = "A3"
price = 9000
printful_sync_variant_id = 201
stock_limit = 3

[[products]]
slug = "old"
name = "Retired Mug"
currency = "EUR"
[[products.variants]]
sku = "MUG"
price = 1200
printful_sync_variant_id = 301
active = false
"#;

async fn store() -> (Store, TestDatabase) {
    let t = TestDatabase::new().await;
    let store = Store::new(Db::new(DbConfig::Url(t.url.clone().into()), 8));
    store.sync_catalog(&Catalog::from_toml(CATALOG).unwrap()).await.unwrap();
    (store, t)
}

fn line(sku: &str, quantity: u32) -> NewOrderItem {
    NewOrderItem {
        sku: Sku::parse(sku).unwrap(),
        quantity,
    }
}

fn new_order(items: Vec<NewOrderItem>) -> NewOrder {
    NewOrder {
        id: OrderId::new_random(),
        items,
        email: Some(Email::parse("ann@example.com").unwrap()),
    }
}

fn paid(amount: i64) -> Fact {
    Fact::PaymentSucceeded {
        amount: Cents::new(amount).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
    }
}

async fn count(t: &TestDatabase, sql: &str) -> i64 {
    t.connect().await.query_one(sql, &[]).await.unwrap().get(0)
}

async fn rows_written(t: &TestDatabase) -> i64 {
    count(t, "SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM order_items) + (SELECT count(*) FROM stock_holds) + (SELECT count(*) FROM order_timeline)").await
}

#[tokio::test]
async fn an_order_is_priced_from_the_catalog_and_reads_back_whole() {
    let (store, _t) = store().await;
    let order = store
        .create_order(new_order(vec![line("TEE-M", 2), line("PRINT-A3", 1)]))
        .await
        .unwrap();
    assert_eq!(order.status(), OrderStatus::PendingPayment);
    assert_eq!(order.total.amount.get(), 2 * 2500 + 9000);
    assert_eq!(order.total.currency.code(), "EUR");
    assert!(order.number > 0);

    let back = store.order(order.id).await.unwrap().unwrap();
    assert_eq!(back.items, order.items);
    assert_eq!(back.items[0].name, "Harbour Tee");
    assert_eq!(back.items[1].printful_sync_variant_id, 201);
    assert_eq!(back.email.unwrap().as_str(), "ann@example.com");
    assert_eq!(back.number, order.number);

    let timeline = store.timeline(order.id).await.unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].cause, Cause::Checkout);
    assert_eq!(timeline[0].detail, "order placed: 3 piece(s), 140.00 EUR");
    assert!(store.order(OrderId::new_random()).await.unwrap().is_none());
}

#[tokio::test]
async fn refused_orders_write_nothing() {
    let (store, t) = store().await;
    let cases = [
        (vec![line("TEE-S", 1), line("NOPE", 1)], "unknown"),
        (vec![line("MUG", 1)], "inactive"),
        (vec![line("PRINT-A3", 4)], "stock"),
        (vec![], "empty"),
    ];
    for (items, what) in cases {
        let err = store.create_order(new_order(items)).await.unwrap_err();
        match (what, &err) {
            ("unknown", CreateOrderError::UnknownSku { index: 1, .. })
            | ("inactive", CreateOrderError::Inactive { index: 0, .. })
            | (
                "stock",
                CreateOrderError::OutOfStock {
                    index: 0, available: 3, ..
                },
            )
            | ("empty", CreateOrderError::Empty) => {}
            _ => panic!("{what}: {err:?}"),
        }
        assert_eq!(rows_written(&t).await, 0, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_checkouts_for_the_last_three_units_sell_exactly_three() {
    let (store, t) = store().await;
    let mut tasks = vec![];
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.create_order(new_order(vec![line("PRINT-A3", 1)])).await
        }));
    }
    let mut sold = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => sold += 1,
            Err(CreateOrderError::OutOfStock { available: 0, .. }) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((sold, refused), (3, 17));
    assert_eq!(
        count(
            &t,
            "SELECT coalesce(sum(quantity), 0)::bigint FROM stock_holds WHERE released_at IS NULL"
        )
        .await,
        3
    );
    assert_eq!(count(&t, "SELECT count(*) FROM orders").await, 3);
    let entry = store
        .catalog()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.variant.sku.as_str() == "PRINT-A3")
        .unwrap();
    assert_eq!(entry.available, Some(0));
}

#[tokio::test]
async fn an_expired_order_gives_its_stock_back() {
    let (store, _t) = store().await;
    let order = store.create_order(new_order(vec![line("PRINT-A3", 3)])).await.unwrap();
    assert!(matches!(
        store.create_order(new_order(vec![line("PRINT-A3", 1)])).await,
        Err(CreateOrderError::OutOfStock { .. })
    ));
    let applied = store
        .apply_fact(
            order.id,
            &Fact::SessionExpired,
            &Cause::StripeEvent("evt_exp".into()),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(applied, Applied::Transitioned(ref t) if t.to == OrderStatus::Expired));
    store.create_order(new_order(vec![line("PRINT-A3", 1)])).await.unwrap();
}

#[tokio::test]
async fn facts_move_an_order_forward_and_never_back() {
    let (store, _t) = store().await;
    let order = store.create_order(new_order(vec![line("TEE-S", 2)])).await.unwrap();
    let id = order.id;
    let cause = |e: &str| Cause::StripeEvent(e.into());

    let a = store
        .apply_fact(id, &paid(5000), &cause("evt_paid"), None)
        .await
        .unwrap();
    assert!(
        matches!(a, Applied::Transitioned(ref t) if t.from == OrderStatus::PendingPayment && t.to == OrderStatus::Paid)
    );
    let stale = store
        .apply_fact(id, &Fact::SessionExpired, &cause("evt_exp"), None)
        .await
        .unwrap();
    assert_eq!(
        stale,
        Applied::Refused(Refusal::Stale {
            current: OrderStatus::Paid
        })
    );

    let at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let pf = |status, secs| Fact::Printful {
        status,
        at: at + chrono::Duration::seconds(secs),
    };
    store
        .apply_fact(
            id,
            &pf(PrintfulStatus::Inprocess, 10),
            &Cause::PrintfulEvent("1".into()),
            None,
        )
        .await
        .unwrap();
    store
        .apply_fact(
            id,
            &pf(PrintfulStatus::Onhold, 20),
            &Cause::PrintfulEvent("2".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.order(id).await.unwrap().unwrap().status(), OrderStatus::OnHold);
    store
        .apply_fact(
            id,
            &pf(PrintfulStatus::Pending, 15),
            &Cause::PrintfulEvent("3".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store.order(id).await.unwrap().unwrap().status(),
        OrderStatus::OnHold,
        "an older status keeps the hold"
    );
    store
        .apply_fact(
            id,
            &pf(PrintfulStatus::Fulfilled, 30),
            &Cause::PrintfulEvent("4".into()),
            None,
        )
        .await
        .unwrap();
    let noted = store
        .apply_fact(
            id,
            &Fact::Refunded {
                amount_refunded: Cents::new(100).unwrap(),
            },
            &cause("evt_r1"),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(noted, Applied::Noted(_)));

    let back = store.order(id).await.unwrap().unwrap();
    assert_eq!(back.status(), OrderStatus::Shipped);
    let timeline = store.timeline(id).await.unwrap();
    let path: Vec<_> = timeline.iter().map(|e| e.to).collect();
    use OrderStatus::*;
    assert_eq!(path, [PendingPayment, Paid, InProduction, OnHold, Shipped, Shipped]);
    assert_eq!(timeline[1].cause, cause("evt_paid"));
    assert_eq!(timeline[5].detail, "partially refunded: 1.00 EUR of 50.00 EUR");

    let missing = OrderId::new_random();
    assert!(
        matches!(store.apply_fact(missing, &paid(1), &cause("x"), None).await, Err(ApplyError::NotFound(m)) if m == missing)
    );
    let paid_orders = store
        .orders(&OrderFilter {
            status: Some(Shipped),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(paid_orders.iter().map(|o| o.id).collect::<Vec<_>>(), [id]);
    assert!(
        store
            .orders(&OrderFilter {
                status: Some(Paid),
                limit: None
            })
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_event_delivered_five_times_at_once_transitions_once() {
    let (store, t) = store().await;
    let order = store.create_order(new_order(vec![line("TEE-S", 2)])).await.unwrap();
    let claim = EventClaim {
        source: EventSource::Stripe,
        event_id: "evt_dup".into(),
        event_type: "checkout.session.completed".into(),
    };
    let mut tasks = vec![];
    for _ in 0..5 {
        let (store, claim) = (store.clone(), claim.clone());
        tasks.push(tokio::spawn(async move {
            store
                .apply_fact(
                    order.id,
                    &paid(5000),
                    &Cause::StripeEvent("evt_dup".into()),
                    Some(&claim),
                )
                .await
                .unwrap()
        }));
    }
    let mut outcomes = vec![];
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let transitioned = outcomes
        .iter()
        .filter(|a| matches!(a, Applied::Transitioned(_)))
        .count();
    assert_eq!(transitioned, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|a| matches!(a, Applied::Transitioned(_) | Applied::AlreadyProcessed))
    );
    assert_eq!(
        count(&t, "SELECT count(*) FROM order_timeline WHERE to_status = 'paid'").await,
        1
    );
    assert!(store.is_processed(EventSource::Stripe, "evt_dup").await.unwrap());
    assert!(!store.is_processed(EventSource::Printful, "evt_dup").await.unwrap());
}

#[tokio::test]
async fn a_claim_is_undone_when_its_order_is_missing() {
    let (store, _t) = store().await;
    let claim = EventClaim {
        source: EventSource::Stripe,
        event_id: "evt_lost".into(),
        event_type: "x".into(),
    };
    let err = store
        .apply_fact(
            OrderId::new_random(),
            &paid(1),
            &Cause::StripeEvent("evt_lost".into()),
            Some(&claim),
        )
        .await;
    assert!(matches!(err, Err(ApplyError::NotFound(_))));
    assert!(
        !store.is_processed(EventSource::Stripe, "evt_lost").await.unwrap(),
        "the event can be processed later"
    );
    assert!(store.claim(&claim).await.unwrap());
    assert!(!store.claim(&claim).await.unwrap());
}

#[tokio::test]
async fn catalog_sync_inserts_updates_and_deactivates() {
    let (store, _t) = store().await;
    let again = store.sync_catalog(&Catalog::from_toml(CATALOG).unwrap()).await.unwrap();
    assert_eq!(
        (again.inserted, again.updated, again.unchanged, again.deactivated),
        (0, 0, 4, 0)
    );

    let changed = CATALOG.replacen("price = 2500", "price = 2700", 1).replace(
        "[[products.variants]]\nsku = \"TEE-M\"\nsize = \"M\"\nprice = 2500\nprintful_sync_variant_id = 102\n",
        "",
    );
    let report = store
        .sync_catalog(&Catalog::from_toml(&changed).unwrap())
        .await
        .unwrap();
    // TEE-S has a new price; the two variants after TEE-M moved up one place.
    assert_eq!(
        (report.inserted, report.updated, report.unchanged, report.deactivated),
        (0, 3, 0, 1)
    );

    let entries = store.catalog().await.unwrap();
    let get = |sku: &str| entries.iter().find(|e| e.variant.sku.as_str() == sku).unwrap();
    assert_eq!(get("TEE-S").variant.price.get(), 2700);
    assert!(
        !get("TEE-M").variant.active,
        "a SKU gone from the file is kept but no longer sold"
    );
    assert_eq!(get("PRINT-A3").available, Some(3));
    assert_eq!(get("TEE-S").available, None);
    assert_eq!(entries[0].variant.sku.as_str(), "TEE-S", "catalog order is kept");
}

#[tokio::test]
async fn alerts_are_deduplicated_with_a_cool_down() {
    let (store, _t) = store().await;
    let alert = NewAlert {
        severity: Severity::Security,
        kind: "unknown_printful_order".into(),
        order_id: None,
        dedupe_key: "unknown_printful_order:42".into(),
        message: "Printful has order 42, which backroom never made.".into(),
    };
    let hour = Duration::from_secs(3600);
    assert_eq!(store.record_alert(&alert, hour).await.unwrap(), AlertOutcome::Raise);
    // Not yet published (its publish failed, say): a repeat is still owed, cool-down or not.
    assert_eq!(store.record_alert(&alert, hour).await.unwrap(), AlertOutcome::Raise);
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    assert_eq!(store.unpublished_alerts(later, 10).await.unwrap(), vec![alert.clone()]);
    store.mark_alert_published(&alert.dedupe_key).await.unwrap();
    assert!(store.unpublished_alerts(later, 10).await.unwrap().is_empty());
    assert_eq!(
        store.record_alert(&alert, hour).await.unwrap(),
        AlertOutcome::Suppressed { occurrences: 3 }
    );
    assert_eq!(
        store.record_alert(&alert, Duration::ZERO).await.unwrap(),
        AlertOutcome::Raise,
        "after the cool-down it is raised again"
    );
    let other = NewAlert {
        dedupe_key: "other".into(),
        severity: Severity::Ops,
        ..alert.clone()
    };
    assert_eq!(store.record_alert(&other, hour).await.unwrap(), AlertOutcome::Raise);
    let listed = store.alerts(10).await.unwrap();
    assert_eq!(listed.len(), 2);
    let security = listed.iter().find(|a| a.severity == Severity::Security).unwrap();
    assert_eq!(security.occurrences, 4);
    assert_eq!(security.kind, "unknown_printful_order");
}

#[tokio::test]
async fn cursors_are_stored_and_moved() {
    let (store, _t) = store().await;
    assert_eq!(store.cursor("stripe").await.unwrap(), None);
    let first = Cursor {
        at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        id: "evt_1".into(),
    };
    store.set_cursor("stripe", &first).await.unwrap();
    assert_eq!(store.cursor("stripe").await.unwrap(), Some(first.clone()));
    let second = Cursor {
        at: first.at + chrono::Duration::minutes(5),
        id: "evt_2".into(),
    };
    store.set_cursor("stripe", &second).await.unwrap();
    assert_eq!(store.cursor("stripe").await.unwrap(), Some(second));
    assert_eq!(store.cursor("printful").await.unwrap(), None);
}

#[tokio::test]
async fn a_known_tracking_number_is_never_erased() {
    use backroom_core::ports::ShipmentRecord;
    let (store, _t) = store().await;
    let order = store.create_order(new_order(vec![line("TEE-S", 1)])).await.unwrap();
    let shipped = ShipmentRecord {
        provider_shipment_id: 7,
        carrier: "DHL".into(),
        service: "Express".into(),
        tracking_number: "JD0001".into(),
        tracking_url: "https://track.example/JD0001".into(),
        shipped_at: Some(Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()),
        reshipment: false,
    };
    store.record_shipment(order.id, &shipped).await.unwrap();
    // A later, thinner report of the same shipment (as a v2 webhook gives) keeps what was known.
    let thin = ShipmentRecord {
        carrier: String::new(),
        tracking_number: String::new(),
        tracking_url: String::new(),
        shipped_at: None,
        ..shipped.clone()
    };
    store.record_shipment(order.id, &thin).await.unwrap();
    let reship = ShipmentRecord {
        provider_shipment_id: 8,
        tracking_number: "JD0002".into(),
        reshipment: true,
        ..shipped.clone()
    };
    store.record_shipment(order.id, &reship).await.unwrap();
    let all = store.shipments(order.id).await.unwrap();
    assert_eq!(all, [shipped, reship]);
}

#[tokio::test]
async fn printful_ids_and_releases_are_recorded_once() {
    let (store, _t) = store().await;
    let order = store.create_order(new_order(vec![line("TEE-S", 1)])).await.unwrap();
    assert_eq!(order.fulfillment_released_at, None);
    store.set_printful_order_id(order.id, 4242).await.unwrap();
    store.set_printful_order_id(order.id, 4242).await.unwrap();
    assert!(store.release_fulfillment(order.id).await.unwrap());
    assert!(
        !store.release_fulfillment(order.id).await.unwrap(),
        "a second release changes nothing"
    );
    let back = store.order(order.id).await.unwrap().unwrap();
    assert_eq!(back.printful_order_id, Some(4242));
    assert!(back.fulfillment_released_at.is_some());
}
