//! The scheduled catch-up jobs: whatever a lost webhook did not say, the providers' APIs say
//! now. Both run the very processing the worker runs, so a replay is harmless (the inbox and
//! the monotone state machine absorb it). Both then publish the order events whose first
//! publish failed.

use std::time::Duration;

use backroom_aws::emf::{self, Metric};
use backroom_core::ports::{Cursor, CursorStore, EventSource, Inbox, OrderStore, QueueMessage};
use backroom_core::{Cause, OrderId, owed};
use backroom_stripe::SessionStatus;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::fulfillment::Advanced;
use crate::outbox::Published;
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
    /// Alerts published now because their first publish failed.
    pub alerts: Published,
    /// Pending orders ended because their checkout never got a payment session (crate::sweep).
    pub abandoned_checkouts: usize,
}

/// Lists our event types since the cursor (minus the overlap), oldest first, and processes each
/// one the worker has not; the cursor moves only past events processed successfully. Then
/// publishes the order events still in the outbox.
pub async fn catch_up_stripe(worker: &Worker, now: DateTime<Utc>) -> Result<StripeCatchup, ProcessError> {
    let mut report = Box::pin(catch_up_stripe_events(worker, now)).await?;
    report.order_events = Box::pin(worker.outbox.catch_up(now)).await?;
    report.alerts = Box::pin(worker.alerts.catch_up(now)).await?;
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
        .list_events(
            backroom_core::StripeEventKind::NAMES,
            Some((since - OVERLAP).timestamp()),
        )
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
            backroom_core::StripeEventKind::SessionCompleted.as_str(),
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

/// The cursor of the Printful catch-up's walk over orders in flight (the last order id read).
pub const PRINTFUL_CURSOR: &str = "printful_follow";
/// Orders read from the database per page of the walk.
pub const FOLLOW_PAGE: u32 = 100;
/// The share of a run's time the owed work and the walk may use; the rest is kept for the scan
/// for Printful orders backroom did not make, and for publishing the outboxes.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(240);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PrintfulCatchup {
    /// Orders that owed work and were due: attempted now.
    pub owed: usize,
    /// Of those, the ones whose attempt failed again (retried later, with back-off).
    pub owed_failed: usize,
    pub checked: usize,
    /// Orders whose state moved because of what Printful said.
    pub changed: usize,
    /// Printful orders backroom did not make.
    pub unknown: usize,
    pub failed: usize,
    /// The walk over orders in flight stopped at its time budget; the next run goes on from there.
    pub walk_incomplete: bool,
    /// Shipped orders whose parcels were read (crate::delivery).
    pub parcels_followed: usize,
    /// Of those, orders that moved to `delivered`.
    pub delivered: usize,
    /// Parcels returned or undeliverable, alerted now.
    pub delivery_problems: usize,
    /// Order events published now because their first publish failed.
    pub order_events: Published,
    /// Alerts published now because their first publish failed.
    pub alerts: Published,
}

/// One run: first the work orders owe (`backroom_core::owed`) and whose back-off has passed;
/// then a walk over orders in flight, reading each from Printful and applying it, paged and
/// resumed where the last run stopped; then the walk over shipped orders' parcels
/// (crate::delivery); then the scan of Printful's newest orders for ones
/// backroom did not make; then the outboxes. `pace` spaces the Printful calls (120 a minute
/// are allowed). The first three phases stop at `DEFAULT_BUDGET`; the scan and the outboxes run
/// every time.
pub async fn catch_up_printful(worker: &Worker, pace: Duration) -> Result<PrintfulCatchup, ProcessError> {
    Box::pin(catch_up_printful_within(worker, pace, DEFAULT_BUDGET)).await
}

pub async fn catch_up_printful_within(
    worker: &Worker,
    pace: Duration,
    budget: Duration,
) -> Result<PrintfulCatchup, ProcessError> {
    let deadline = tokio::time::Instant::now() + budget;
    let mut report = PrintfulCatchup::default();
    Box::pin(settle_owed_work(worker, pace, deadline, &mut report)).await?;
    Box::pin(follow_in_flight(worker, pace, deadline, &mut report)).await?;
    let mut followed = crate::delivery::WalkReport::default();
    Box::pin(crate::delivery::follow_shipped(worker, pace, deadline, &mut followed)).await?;
    report.walk_incomplete |= followed.walk_incomplete;
    report.parcels_followed += followed.parcels_followed;
    report.delivered += followed.delivered;
    report.delivery_problems += followed.delivery_problems;
    report.failed += followed.failed;
    if let Err(e) = Box::pin(scan_for_unknown_orders(worker, &mut report)).await {
        // Printful or the database is down: the outboxes below still get their turn.
        tracing::error!(error = %e, "the scan for Printful orders backroom did not make failed; the next run scans again");
        report.failed += 1;
    }
    report.order_events = Box::pin(worker.outbox.catch_up(Utc::now())).await?;
    report.alerts = Box::pin(worker.alerts.catch_up(Utc::now())).await?;
    Ok(report)
}

/// Every order whose state owes work and whose back-off has passed gets an attempt.
pub async fn settle_owed_work(
    worker: &Worker,
    pace: Duration,
    deadline: tokio::time::Instant,
    report: &mut PrintfulCatchup,
) -> Result<(), ProcessError> {
    let now = Utc::now();
    for order in worker.store.orders_that_may_owe_work(now, 500).await? {
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        if owed::owed(&order, worker.paused, now).is_none() || !owed::is_due(&order.work, now) {
            continue;
        }
        report.owed += 1;
        match Box::pin(worker.settle(order.id, None, now)).await? {
            Advanced::Deferred(_) => report.owed_failed += 1,
            _ => {
                if worker
                    .store
                    .order(order.id)
                    .await?
                    .is_some_and(|o| o.status() != order.status())
                {
                    report.changed += 1;
                }
            }
        }
        tokio::time::sleep(pace).await;
    }
    Ok(())
}

/// Reads orders in flight from Printful and applies what it says, a page at a time from where
/// the last run stopped, until the deadline. At the end of the list the cursor goes back to the
/// start, so every order in flight is read within a bounded number of runs.
async fn follow_in_flight(
    worker: &Worker,
    pace: Duration,
    deadline: tokio::time::Instant,
    report: &mut PrintfulCatchup,
) -> Result<(), ProcessError> {
    let printful = &worker.printful;
    let cursor = worker.store.cursor(PRINTFUL_CURSOR).await?;
    let mut after = cursor.and_then(|c| OrderId::parse(&c.id).ok());
    'pages: loop {
        let page = worker.store.orders_in_flight_after(after, FOLLOW_PAGE).await?;
        if page.is_empty() {
            after = None;
            break;
        }
        for order in page {
            if tokio::time::Instant::now() >= deadline {
                report.walk_incomplete = true;
                break 'pages;
            }
            if !order.submitted_by_us() {
                // Never sent by backroom: whatever Printful has on its id is for the scan.
                after = Some(order.id);
                continue;
            }
            report.checked += 1;
            let before = order.status();
            let result = async {
                let pf = printful.order_by_external_id(&order.id.external_id()).await?;
                if let Some(pf) = &pf {
                    worker.store.set_printful_order_id(order.id, pf.id).await?;
                    worker
                        .apply_printful(order.id, pf, &Cause::Catchup("printful".into()))
                        .await?;
                }
                Box::pin(worker.settle(order.id, pf.as_ref(), Utc::now())).await
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
            after = Some(order.id);
            tokio::time::sleep(pace).await;
        }
    }
    let position = Cursor {
        at: Utc::now(),
        id: after.map(|a| a.to_string()).unwrap_or_default(),
    };
    worker.store.set_cursor(PRINTFUL_CURSOR, &position).await?;
    Ok(())
}

/// Printful's newest orders, each either ours (adopted when its create's answer was lost) or
/// not made by backroom: a security alert.
async fn scan_for_unknown_orders(worker: &Worker, report: &mut PrintfulCatchup) -> Result<(), ProcessError> {
    let page = worker.printful.list_orders(None, 0, 100).await?;
    for pf in page.orders {
        let order = match pf.external_id.as_deref().and_then(|e| OrderId::parse(e).ok()) {
            Some(id) => worker.store.order(id).await?,
            None => None,
        };
        match order {
            Some(order) if order.submitted_by_us() => {
                if order.printful_order_id.is_none() {
                    // Our create went through but its answer never reached us: adopt it, and
                    // do what the order owes (a cancel, when it was refunded meanwhile).
                    worker.store.set_printful_order_id(order.id, pf.id).await?;
                    let full = worker.printful.order(pf.id).await?;
                    if let Some(full) = &full {
                        worker
                            .apply_printful(order.id, full, &Cause::Catchup("printful".into()))
                            .await?;
                    }
                    Box::pin(worker.settle(order.id, full.as_ref(), Utc::now())).await?;
                }
            }
            _ => {
                report.unknown += 1;
                worker
                    .alerts
                    .raise(crate::fulfillment::unknown_printful_order_alert(
                        pf.id,
                        pf.external_id.as_deref(),
                    ))
                    .await?;
            }
        }
    }
    Ok(())
}
