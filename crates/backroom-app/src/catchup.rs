//! The scheduled catch-up jobs: whatever a lost webhook did not say, the providers' APIs say
//! now. Both run the very processing the worker runs, so a replay is harmless (the inbox and
//! the monotone state machine absorb it). Both then publish the order events whose first
//! publish failed.

use std::time::Duration;

use backroom_aws::emf::{self, Metric};
use backroom_core::ports::{Cursor, CursorStore, EventSource, Inbox, OrderFilter, OrderStore, QueueMessage};
use backroom_core::{Cause, OrderId, OrderStatus};
use backroom_stripe::SessionStatus;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::events::Published;
use crate::http::STRIPE_EVENT_TYPES;
use crate::worker::{Outcome, ProcessError, Worker};

/// The cursor of the Stripe catch-up job.
pub const STRIPE_CURSOR: &str = "stripe_events";
/// Events are listed from the cursor minus this overlap, in case Stripe lists an event late.
pub const OVERLAP: chrono::Duration = chrono::Duration::hours(1);
/// Stripe keeps events for 30 days; older cursors fall back to listing sessions.
pub const EVENT_RETENTION: chrono::Duration = chrono::Duration::days(29);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StripeCatchup {
    /// `events` or `sessions` (the fallback for a cursor older than Stripe's retention).
    pub mode: &'static str,
    pub listed: usize,
    /// Events the inbox had not seen: their webhooks were lost.
    pub recovered: usize,
    pub failed: usize,
    /// Order events published now because their first publish failed.
    pub order_events: Published,
    /// Pending orders ended because their checkout never got a payment session (crate::sweep).
    pub abandoned_checkouts: usize,
}

/// Lists our event types since the cursor (minus the overlap), oldest first, and processes each
/// one the worker has not; the cursor moves only past events processed successfully. Then
/// publishes the order events still in the outbox.
pub async fn catch_up_stripe(worker: &Worker, now: DateTime<Utc>) -> Result<StripeCatchup, ProcessError> {
    let mut report = Box::pin(catch_up_stripe_events(worker, now)).await?;
    report.order_events = Box::pin(worker.fulfiller.events.catch_up(now)).await?;
    report.abandoned_checkouts = crate::sweep::sweep_abandoned_checkouts(&worker.store, now).await?;
    Ok(report)
}

async fn catch_up_stripe_events(worker: &Worker, now: DateTime<Utc>) -> Result<StripeCatchup, ProcessError> {
    let cursor = worker.store.cursor(STRIPE_CURSOR).await?;
    let since = cursor.as_ref().map(|c| c.at).unwrap_or(now - chrono::Duration::days(1));
    if now - since > EVENT_RETENTION {
        return Box::pin(catch_up_sessions(worker, now)).await;
    }
    let events = worker
        .stripe
        .list_events(&STRIPE_EVENT_TYPES, Some((since - OVERLAP).timestamp()))
        .await?;
    let mut report = StripeCatchup {
        mode: "events",
        listed: events.len(),
        ..StripeCatchup::default()
    };
    let mut position = cursor;
    for event in events {
        if worker.store.is_processed(EventSource::Stripe, &event.id).await? {
            position = Some(newest(position, &event.id, event.created));
            continue;
        }
        // The lenient envelope is all the worker reads from a body; it re-reads the object.
        let body = serde_json::json!({
            "id": event.id, "object": "event", "type": event.event_type, "created": event.created,
            "livemode": event.livemode, "data": { "object": { "id": event.object_id } }
        })
        .to_string();
        let message = QueueMessage {
            source: EventSource::Stripe,
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            body,
        };
        match Box::pin(worker.process(&message)).await {
            Ok(outcome) => {
                if outcome != Outcome::Applied(backroom_core::ports::Applied::AlreadyProcessed) {
                    report.recovered += 1;
                    tracing::warn!(event_id = %event.id, event_type = %event.event_type, "recovered an event whose webhook was lost");
                }
                position = Some(newest(position, &event.id, event.created));
            }
            Err(e) => {
                tracing::error!(event_id = %event.id, error = %e, "catch-up could not process an event; the cursor stays before it");
                report.failed += 1;
                break;
            }
        }
    }
    if let Some(position) = position {
        worker.store.set_cursor(STRIPE_CURSOR, &position).await?;
    }
    emf::count(Metric::EventsRecovered, report.recovered as u64);
    Ok(report)
}

fn newest(current: Option<Cursor>, id: &str, created: i64) -> Cursor {
    let at = DateTime::from_timestamp(created, 0).unwrap_or_else(Utc::now);
    match current {
        Some(c) if c.at > at => c,
        _ => Cursor { at, id: id.to_string() },
    }
}

/// The fallback: every completed session of the retention window, applied as the worker would.
async fn catch_up_sessions(worker: &Worker, now: DateTime<Utc>) -> Result<StripeCatchup, ProcessError> {
    let since = now - EVENT_RETENTION;
    let sessions = worker
        .stripe
        .list_checkout_sessions(Some(SessionStatus::Complete), Some(since.timestamp()))
        .await?;
    let mut report = StripeCatchup {
        mode: "sessions",
        listed: sessions.len(),
        ..StripeCatchup::default()
    };
    for listed in sessions {
        let session = worker.stripe.checkout_session(&listed.id).await?;
        match Box::pin(worker.apply_session(
            &session,
            "checkout.session.completed",
            &Cause::Catchup("stripe".into()),
            None,
        ))
        .await
        {
            Ok(Outcome::Applied(backroom_core::ports::Applied::Transitioned(_))) => report.recovered += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(session_id = %session.id, error = %e, "catch-up could not apply a session");
                report.failed += 1;
            }
        }
    }
    if report.failed == 0 {
        worker
            .store
            .set_cursor(
                STRIPE_CURSOR,
                &Cursor {
                    at: now - OVERLAP,
                    id: String::new(),
                },
            )
            .await?;
    }
    emf::count(Metric::EventsRecovered, report.recovered as u64);
    Ok(report)
}

/// Orders still on their way at Printful.
const IN_FLIGHT: [OrderStatus; 6] = [
    OrderStatus::Paid,
    OrderStatus::Submitted,
    OrderStatus::InProduction,
    OrderStatus::OnHold,
    OrderStatus::PartiallyShipped,
    OrderStatus::NeedsAttention,
];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PrintfulCatchup {
    pub checked: usize,
    /// Orders whose state moved because of what Printful said.
    pub changed: usize,
    /// Printful orders backroom did not make.
    pub unknown: usize,
    pub failed: usize,
    /// Order events published now because their first publish failed.
    pub order_events: Published,
}

/// Reads every in-flight order from Printful and applies it; then scans Printful's newest
/// orders for ones backroom did not make. `pace` spaces the calls (Printful allows 120 a minute).
pub async fn catch_up_printful(worker: &Worker, pace: Duration) -> Result<PrintfulCatchup, ProcessError> {
    let mut report = PrintfulCatchup::default();
    let printful = &worker.fulfiller.printful;
    for status in IN_FLIGHT {
        let orders = worker
            .store
            .orders(&OrderFilter {
                status: Some(status),
                limit: Some(1000),
            })
            .await?;
        for order in orders {
            report.checked += 1;
            let before = order.status();
            let result = async {
                let pf = printful.order_by_external_id(&order.id.external_id()).await?;
                if let Some(pf) = &pf {
                    worker.store.set_printful_order_id(order.id, pf.id).await?;
                    worker
                        .fulfiller
                        .apply_printful(order.id, pf, &Cause::Catchup("printful".into()))
                        .await?;
                }
                Box::pin(worker.fulfiller.advance(order.id, pf.as_ref())).await
            }
            .await;
            match result {
                Ok(_) => {
                    if worker
                        .store
                        .order(order.id)
                        .await?
                        .is_some_and(|o| o.status() != before)
                    {
                        report.changed += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(order_id = %order.id, error = %e, "Printful catch-up failed for an order");
                    report.failed += 1;
                }
            }
            tokio::time::sleep(pace).await;
        }
    }
    let page = printful.list_orders(None, 0, 100).await?;
    for pf in page.orders {
        let ours = match pf.external_id.as_deref().and_then(|e| OrderId::parse(e).ok()) {
            Some(id) => worker.store.order(id).await?.is_some(),
            None => false,
        };
        if ours {
            continue;
        }
        report.unknown += 1;
        worker
            .alerts
            .raise(crate::fulfillment::unknown_printful_order_alert(
                pf.id,
                pf.external_id.as_deref(),
            ))
            .await?;
    }
    report.order_events = Box::pin(worker.fulfiller.events.catch_up(Utc::now())).await?;
    Ok(report)
}
