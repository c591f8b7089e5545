//! After shipping: the Printful catch-up follows each shipped order's parcels through Printful's
//! v2 shipments (`delivery_status`, `delivered_at`) until they are delivered or 60 days have
//! passed, moves the order to `delivered` with the date (a fact through the state machine), and
//! raises one ops alert per parcel that comes back or cannot be delivered. Printful's v1
//! `package_returned` webhook raises the same alert. The buyer's order page says it in plain
//! words ([`buyer_note`]).

use std::time::Duration;

use backroom_core::delivery::{self, Package, Parcel, Verdict};
use backroom_core::ports::{ApplyError, Cursor, CursorStore, NewAlert, OrderStore, Severity};
use backroom_core::{Cause, Fact, Order, OrderId};
use backroom_db::store::delivery::DeliveryRecord;
use backroom_printful::OrderRef;
use backroom_printful::v2::{DeliveryStatus, Shipment};
use chrono::{DateTime, Utc};

use crate::process::{ProcessError, count_transition};
use crate::services::Worker;

/// The cursor of the walk over shipped orders.
pub const DELIVERY_CURSOR: &str = "printful_delivery";
/// Parcels are followed this long after shipping; after that the order stays `shipped`.
pub const FOLLOW_FOR: chrono::Duration = chrono::Duration::days(60);
/// Shipped orders read from the database per page.
pub const PAGE: u32 = 100;

/// What the carrier's word for a parcel means to the shop.
pub fn parcel(status: &str, delivered_at: Option<DateTime<Utc>>) -> Parcel {
    match DeliveryStatus::parse(status) {
        DeliveryStatus::Delivered => Parcel::Delivered(delivered_at.unwrap_or_else(Utc::now)),
        DeliveryStatus::ReturnToSender => Parcel::Returned,
        DeliveryStatus::Failure => Parcel::Failed,
        DeliveryStatus::Canceled => Parcel::Canceled,
        _ => Parcel::OnItsWay,
    }
}

fn time(unix: Option<i64>) -> Option<DateTime<Utc>> {
    unix.and_then(|t| DateTime::from_timestamp(t, 0))
}

/// What following one order came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Followed {
    pub delivered: bool,
    /// Parcels returned or undeliverable whose alert was raised now (not before).
    pub new_problems: usize,
}

/// Reads the order's parcels from Printful, records what the carrier says, alerts once for each
/// parcel that will not arrive, and moves the order to `delivered` when every parcel arrived.
pub async fn follow_order(worker: &Worker, order: &Order, cause: &Cause) -> Result<Followed, ProcessError> {
    let shipments = worker
        .printful
        .order_shipments(&OrderRef::External(order.id.external_id()))
        .await?;
    let mut followed = Followed::default();
    let mut packages = Vec::with_capacity(shipments.len());
    for s in &shipments {
        let delivered_at = time(s.delivered_at);
        worker
            .store
            .record_delivery(order.id, s.id, s.delivery_status.as_str(), delivered_at)
            .await?;
        let p = parcel(s.delivery_status.as_str(), delivered_at);
        if delivery::is_problem(p) && Box::pin(alert_problem(worker, order, &Problem::of(s))).await? {
            followed.new_problems += 1;
        }
        packages.push(Package {
            parcel: p,
            reshipment: s.is_reshipment,
        });
    }
    if let Verdict::Delivered(at) = delivery::verdict(&packages) {
        followed.delivered = Box::pin(apply_delivered(worker, order.id, at, cause)).await?;
    }
    Ok(followed)
}

/// Printful's v1 `package_returned`: the parcel is recorded as returned and the owner alerted
/// (the same alert the catch-up raises when it reads it).
pub async fn package_returned(
    worker: &Worker,
    order: &Order,
    shipment_id: Option<i64>,
    reason: Option<&str>,
) -> Result<(), ProcessError> {
    let known = worker.store.deliveries(order.id).await?;
    let shipment_id = shipment_id.or_else(|| known.last().map(|d| d.provider_shipment_id));
    let Some(shipment_id) = shipment_id else {
        tracing::warn!(order_id = %order.id, "Printful reported a package returned but names no shipment");
        return Ok(());
    };
    worker
        .store
        .record_delivery(order.id, shipment_id, DeliveryStatus::ReturnToSender.as_str(), None)
        .await?;
    let tracking = known
        .iter()
        .find(|d| d.provider_shipment_id == shipment_id)
        .map(|d| d.tracking_number.clone())
        .filter(|t| !t.is_empty());
    let problem = Problem {
        shipment_id,
        status: DeliveryStatus::ReturnToSender,
        tracking,
        reason: reason.map(str::to_string),
    };
    Box::pin(alert_problem(worker, order, &problem)).await?;
    Ok(())
}

struct Problem {
    shipment_id: i64,
    status: DeliveryStatus,
    tracking: Option<String>,
    reason: Option<String>,
}

impl Problem {
    fn of(s: &Shipment) -> Problem {
        Problem {
            shipment_id: s.id,
            status: s.delivery_status.clone(),
            tracking: s.tracking_number.clone(),
            reason: s.tracking_events.last().map(|e| e.description.clone()),
        }
    }
}

/// The dedupe key of a parcel's problem: one alert per order and parcel, whichever path saw it.
pub fn problem_key(order: OrderId, shipment_id: i64) -> String {
    format!("delivery_problem:{order}:{shipment_id}")
}

/// Raises the parcel's alert once; true when it was raised now.
async fn alert_problem(worker: &Worker, order: &Order, p: &Problem) -> Result<bool, ProcessError> {
    let parcel = match &p.tracking {
        Some(t) => format!("parcel {t} (Printful shipment {})", p.shipment_id),
        None => format!("Printful shipment {}", p.shipment_id),
    };
    let what = if p.status == DeliveryStatus::Failure {
        "could not be delivered by the carrier"
    } else {
        "is being returned to Printful by the carrier"
    };
    let reason = p
        .reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| format!(" The carrier says: {r}."))
        .unwrap_or_default();
    let outcome = worker
        .alerts
        .raise_once(NewAlert {
            severity: Severity::Ops,
            kind: "delivery_problem".into(),
            order_id: Some(order.id),
            dedupe_key: problem_key(order.id, p.shipment_id),
            message: format!(
                "The {parcel} of order #{} ({}) {what}.{reason} The buyer does not have it. Check the shipping address with \
                 the buyer (`backroom orders show {}`), then have Printful reship it from the Printful dashboard (order {}), \
                 or refund the buyer in the Stripe dashboard.",
                order.number,
                order.id,
                order.id,
                order.printful_order_id.map_or_else(|| order.id.external_id(), |id| id.to_string()),
            ),
        })
        .await?;
    Ok(outcome == backroom_core::ports::AlertOutcome::Raise)
}

async fn apply_delivered(worker: &Worker, id: OrderId, at: DateTime<Utc>, cause: &Cause) -> Result<bool, ProcessError> {
    match worker.store.apply_fact(id, &Fact::Delivered { at }, cause, None).await {
        Ok(applied) => {
            count_transition(&applied);
            let moved = matches!(applied, backroom_core::ports::Applied::Transitioned(_));
            Box::pin(worker.outbox.after_apply(id, &applied)).await;
            Ok(moved)
        }
        Err(ApplyError::Store(e)) => Err(e.into()),
        Err(ApplyError::NotFound(id)) => Err(ProcessError::Poison(format!("order {id} vanished"))),
    }
}

/// What one walk over shipped orders did, for the catch-up's report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalkReport {
    /// The deadline came before the walk's end; the cursor keeps the place.
    pub walk_incomplete: bool,
    pub parcels_followed: usize,
    pub delivered: usize,
    pub delivery_problems: usize,
    pub failed: usize,
}

/// The catch-up's walk over shipped orders, paged and resumed from its cursor, within the
/// deadline: each order shipped in the last [`FOLLOW_FOR`] and not yet delivered is followed.
pub async fn follow_shipped(
    worker: &Worker,
    pace: Duration,
    deadline: tokio::time::Instant,
    report: &mut WalkReport,
) -> Result<(), ProcessError> {
    let cursor = worker.store.cursor(DELIVERY_CURSOR).await?;
    let mut after = cursor.and_then(|c| OrderId::parse(&c.id).ok());
    let since = Utc::now() - FOLLOW_FOR;
    let cause = Cause::Catchup("printful".into());
    'pages: loop {
        let page = worker.store.shipped_orders_after(after, since, PAGE).await?;
        if page.is_empty() {
            after = None;
            break;
        }
        for order in page {
            if tokio::time::Instant::now() >= deadline {
                report.walk_incomplete = true;
                break 'pages;
            }
            report.parcels_followed += 1;
            match Box::pin(follow_order(worker, &order, &cause)).await {
                Ok(f) => {
                    report.delivered += usize::from(f.delivered);
                    report.delivery_problems += f.new_problems;
                }
                Err(e) => {
                    tracing::error!(order_id = %order.id, error = %e, "following an order's parcels failed");
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
    worker.store.set_cursor(DELIVERY_CURSOR, &position).await?;
    Ok(())
}

/// One parcel's state in a buyer's words.
pub fn parcel_words(d: &DeliveryRecord) -> Option<String> {
    let status = d.delivery_status.as_deref()?;
    Some(match parcel(status, d.delivered_at) {
        Parcel::Delivered(at) => format!("delivered on {}", at.format("%Y-%m-%d")),
        Parcel::Returned => "on its way back to us: the carrier could not deliver it".to_string(),
        Parcel::Failed => "the carrier could not deliver it".to_string(),
        Parcel::Canceled => "canceled".to_string(),
        Parcel::OnItsWay => "on its way".to_string(),
    })
}

/// A sentence for the buyer's order page when a parcel will not arrive, or when everything did.
pub fn buyer_note(deliveries: &[DeliveryRecord]) -> Option<String> {
    let parcels: Vec<Package> = deliveries
        .iter()
        .filter_map(|d| {
            d.delivery_status.as_deref().map(|s| Package {
                parcel: parcel(s, d.delivered_at),
                reshipment: d.reshipment,
            })
        })
        .collect();
    if let Verdict::Delivered(at) = delivery::verdict(&parcels) {
        return Some(format!("Delivered on {}.", at.format("%Y-%m-%d")));
    }
    if parcels.iter().any(|p| p.parcel == Parcel::Returned) {
        return Some(
            "A parcel of your order is on its way back to us because the carrier could not deliver it. We will contact you \
             to send it again or refund you."
                .to_string(),
        );
    }
    if parcels.iter().any(|p| p.parcel == Parcel::Failed) {
        return Some(
            "The carrier could not deliver a parcel of your order. We will contact you to send it again or refund you."
                .to_string(),
        );
    }
    None
}
