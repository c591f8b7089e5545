//! Order events for the outside world, published from the outbox after the transaction of the
//! transition has committed. Every transition that matters outside (`OrderEventType`) leaves an
//! `order_events` row in its own transaction; right after, the event is published (built from
//! the order the change returned, with no read, or with the order's earlier unpublished rows
//! first when there are any) and marked. A publish that fails is logged and counted on its row and never fails
//! the order: the catch-up jobs publish what is left. Delivery is at least once (a crash between
//! the bus's answer and the mark publishes again), so every event carries its stable `event_id`.

use std::sync::Arc;
use std::time::Duration;

use backroom_aws::EventBridgePublisher;
use backroom_core::ports::{
    Applied, Changed, EventPublisher, OrderEvent, OrderEventStore, OrderEventType, OrderStore, OutboxEntry,
    PublishError, StoreError,
};
use backroom_core::{Order, OrderId};
use backroom_db::Store;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::OnceCell;

/// The catch-up leaves alone what is younger than this: the function that made the transition
/// is probably publishing it right now.
pub const CATCHUP_GRACE: Duration = Duration::from_secs(120);
/// At most this many events per catch-up round.
pub const CATCHUP_BATCH: u32 = 500;
/// A catch-up round stops after this many failures in a row: the bus is down, the next round
/// tries again.
pub const CATCHUP_MAX_FAILURES_IN_A_ROW: usize = 3;

/// Writes events to the log; `backroom dev` and tests without an event bus. The owner page lists
/// them from the outbox.
#[derive(Clone, Debug, Default)]
pub struct ConsolePublisher;

impl EventPublisher for ConsolePublisher {
    async fn publish(&self, event: &OrderEvent) -> Result<(), PublishError> {
        tracing::info!(
            detail_type = %event.detail_type,
            event_id = %event.event_id(),
            order_id = %event.detail.order_id,
            detail = %event.detail_json(),
            "order event"
        );
        Ok(())
    }
}

/// An EventBridge bus whose client is made on first use (the AWS configuration loads
/// asynchronously; the worker is built synchronously).
#[derive(Clone, Debug)]
pub struct Bus {
    name: String,
    client: Arc<OnceCell<EventBridgePublisher>>,
}

impl Bus {
    /// The bus by name, with the ambient AWS configuration (`AWS_ENDPOINT_URL` included).
    pub fn named(name: impl Into<String>) -> Bus {
        Bus {
            name: name.into(),
            client: Arc::new(OnceCell::new()),
        }
    }

    /// A publisher made by the caller.
    pub fn with(publisher: EventBridgePublisher) -> Bus {
        Bus {
            name: publisher.bus_name().to_string(),
            client: Arc::new(OnceCell::new_with(Some(publisher))),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    async fn publisher(&self) -> &EventBridgePublisher {
        self.client
            .get_or_init(|| Box::pin(EventBridgePublisher::from_env(self.name.clone())))
            .await
    }
}

#[derive(Clone, Debug)]
pub enum Publisher {
    Console(ConsolePublisher),
    EventBridge(Bus),
    /// Publishes nothing and marks nothing: the `backroom` CLI on the live database without
    /// `EVENT_BUS_NAME` leaves the events to the functions, which know the bus.
    Held,
}

impl EventPublisher for Publisher {
    async fn publish(&self, event: &OrderEvent) -> Result<(), PublishError> {
        match self {
            Publisher::Console(p) => p.publish(event).await,
            Publisher::EventBridge(bus) => Box::pin(bus.publisher().await.publish(event)).await,
            Publisher::Held => Err(PublishError("no event bus is configured here".into())),
        }
    }
}

/// What a round of publishing did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Published {
    pub published: usize,
    /// Left in the outbox for the next catch-up.
    pub failed: usize,
}

#[derive(Clone, Debug)]
pub struct Outbox {
    pub store: Store,
    pub publisher: Publisher,
    /// `EVENTS_INCLUDE_EMAIL`: the buyer's e-mail address goes into the events (off by default).
    pub include_email: bool,
    pub catchup_grace: Duration,
}

impl Outbox {
    pub fn console(store: Store) -> Outbox {
        Outbox {
            store,
            publisher: Publisher::Console(ConsolePublisher),
            include_email: false,
            catchup_grace: CATCHUP_GRACE,
        }
    }

    /// To the bus when one is named; else to the log for a local database, and held in the
    /// outbox for the live one (only a bus may mark a live event published).
    pub fn new(store: Store, bus_name: Option<&str>, include_email: bool, live_database: bool) -> Outbox {
        Outbox {
            publisher: match (bus_name, live_database) {
                (Some(name), _) => Publisher::EventBridge(Bus::named(name)),
                (None, false) => Publisher::Console(ConsolePublisher),
                (None, true) => Publisher::Held,
            },
            include_email,
            ..Outbox::console(store)
        }
    }

    /// After a fact was applied (and committed): publishes the order's events when it made one.
    /// The publishing runs as a task of its own, on a fresh stack: the caller is deep inside the
    /// worker's processing, and the AWS SDK's calls are deep too.
    pub async fn after_apply(&self, id: OrderId, applied: &Applied) -> Published {
        match applied {
            Applied::Transitioned(t) if OrderEventType::of_transition(t.from, t.to).is_some() => {
                let events = self.clone();
                match tokio::spawn(backroom_db::sql::inherit(async move { events.publish_order(id).await })).await {
                    Ok(published) => published,
                    Err(e) => {
                        tracing::error!(order_id = %id, error = %e, "publishing the order's events failed; the catch-up publishes them");
                        Published::default()
                    }
                }
            }
            _ => Published::default(),
        }
    }

    /// After a change was committed: publishes the event it made, built from the order the
    /// change returned (no read), or, when earlier events of the order are still waiting, all of
    /// them oldest first. Runs as a task of its own, as `after_apply`.
    pub async fn after_change(&self, changed: &Changed) -> Published {
        let (Some(entry), Some(order)) = (changed.event.clone(), changed.order.clone()) else {
            return Published::default();
        };
        if matches!(self.publisher, Publisher::Held) {
            return Published::default();
        }
        let outbox = self.clone();
        let behind = changed.outbox_behind;
        let task = tokio::spawn(backroom_db::sql::inherit(async move {
            if behind {
                return outbox.publish_order(order.id).await;
            }
            let mut report = Published::default();
            match Box::pin(outbox.publish_known(&entry, &order)).await {
                Ok(()) => report.published += 1,
                Err(error) => {
                    report.failed += 1;
                    outbox.publish_failed(&entry, &error).await;
                }
            }
            report
        }));
        match task.await {
            Ok(published) => published,
            Err(e) => {
                tracing::error!(order_id = %changed.order.as_ref().map(|o| o.id.to_string()).unwrap_or_default(), error = %e, "publishing the order's event failed; the catch-up publishes it");
                Published::default()
            }
        }
    }

    /// Publishes one event of an order known in memory.
    async fn publish_known(&self, entry: &OutboxEntry, order: &Order) -> Result<(), String> {
        let shipments = if entry.event_type == OrderEventType::Shipped {
            self.store.shipments(entry.order_id).await.map_err(|e| e.to_string())?
        } else {
            vec![]
        };
        let event = OrderEvent::build(entry, order, &shipments, self.include_email)
            .map_err(|e| format!("order {}: {e}", entry.order_id))?;
        self.send(entry, &event).await
    }

    /// Publishes every unpublished event of one order, oldest first. Never fails: what could
    /// not be published stays for the catch-up.
    pub async fn publish_order(&self, id: OrderId) -> Published {
        if matches!(self.publisher, Publisher::Held) {
            return Published::default();
        }
        match self.store.unpublished_events(Some(id), None, CATCHUP_BATCH).await {
            Ok(entries) => self.publish_entries(&entries, usize::MAX).await,
            Err(e) => {
                tracing::error!(order_id = %id, error = %e, "could not read the order's events; the catch-up publishes them");
                Published::default()
            }
        }
    }

    /// The catch-up: publishes what is older than the grace period and still unpublished.
    pub async fn catch_up(&self, now: DateTime<Utc>) -> Result<Published, StoreError> {
        if matches!(self.publisher, Publisher::Held) {
            return Ok(Published::default());
        }
        let grace = chrono::Duration::from_std(self.catchup_grace).unwrap_or(chrono::Duration::MAX);
        let before = now.checked_sub_signed(grace).unwrap_or(now);
        let entries = self.store.unpublished_events(None, Some(before), CATCHUP_BATCH).await?;
        let report = self.publish_entries(&entries, CATCHUP_MAX_FAILURES_IN_A_ROW).await;
        if report.published > 0 {
            tracing::warn!(
                published = report.published,
                "the catch-up published order events that had not gone out"
            );
        }
        Ok(report)
    }

    /// The event of an outbox entry as it is published now; `None` when its order is gone.
    pub async fn event(&self, entry: &OutboxEntry) -> Result<Option<OrderEvent>, StoreError> {
        let Some(order) = self.store.order(entry.order_id).await? else {
            return Ok(None);
        };
        let shipments = if entry.event_type == OrderEventType::Shipped {
            self.store.shipments(entry.order_id).await?
        } else {
            vec![]
        };
        OrderEvent::build(entry, &order, &shipments, self.include_email)
            .map(Some)
            .map_err(|e| StoreError(anyhow::anyhow!("order {}: {e}", entry.order_id)))
    }

    async fn publish_entries(&self, entries: &[OutboxEntry], max_failures_in_a_row: usize) -> Published {
        let mut report = Published::default();
        let mut in_a_row = 0;
        for entry in entries {
            if in_a_row >= max_failures_in_a_row {
                break;
            }
            match Box::pin(self.publish_one(entry)).await {
                Ok(()) => {
                    report.published += 1;
                    in_a_row = 0;
                }
                Err(error) => {
                    report.failed += 1;
                    in_a_row += 1;
                    self.publish_failed(entry, &error).await;
                }
            }
        }
        report
    }

    async fn publish_failed(&self, entry: &OutboxEntry, error: &str) {
        tracing::error!(
            event_id = %entry.event_id,
            order_id = %entry.order_id,
            detail_type = %entry.event_type,
            error = %error,
            "an order event was not published; the catch-up publishes it"
        );
        if let Err(e) = self.store.record_publish_failure(entry.event_id, error).await {
            tracing::error!(event_id = %entry.event_id, error = %e, "could not count the failed publish");
        }
    }

    async fn publish_one(&self, entry: &OutboxEntry) -> Result<(), String> {
        let event = match self.event(entry).await {
            Ok(Some(event)) => event,
            Ok(None) => return Err(format!("order {} does not exist", entry.order_id)),
            Err(e) => return Err(e.to_string()),
        };
        self.send(entry, &event).await
    }

    /// Sends the event and marks it published.
    async fn send(&self, entry: &OutboxEntry, event: &OrderEvent) -> Result<(), String> {
        self.publisher.publish(event).await.map_err(|e| e.to_string())?;
        // The bus has the event. Should the mark fail, the catch-up publishes it again: at
        // least once, and consumers de-duplicate on the event id.
        if let Err(e) = self.store.mark_published(entry.event_id).await {
            tracing::warn!(event_id = %entry.event_id, error = %e, "published, but the mark was not saved");
        }
        Ok(())
    }
}
