//! Disputes answered with evidence, never without the owner. When a buyer's bank disputes a
//! charge of an order that shipped, the evidence backroom has (carrier, tracking number,
//! shipping date and address, the buyer's email and name, what was sold, the order's timeline
//! and delivery date) is drafted on the dispute at Stripe, and the owner's alert says by when
//! to submit it and how: `backroom disputes submit ID`. Nothing here submits on its own.

use backroom_core::ports::{OrderStore, ShipmentRecord};
use backroom_core::{Money, Order, ShippingAddress};
use backroom_stripe::{Dispute, Evidence, StripeClient};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::process::ProcessError;
use crate::services::Worker;

/// Stripe takes at most 20,000 characters of `uncategorized_text`.
const TEXT_LIMIT: usize = 19_000;

/// The evidence for a dispute on `order`, from what backroom recorded.
pub fn evidence(order: &Order, timeline: &[backroom_core::TimelineEntry], shipments: &[ShipmentRecord]) -> Evidence {
    let join = |parts: Vec<String>| {
        let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    };
    let mut carriers: Vec<String> = shipments.iter().map(|s| s.carrier.clone()).collect();
    carriers.dedup();
    let shipped = shipments.iter().filter_map(|s| s.shipped_at).min();
    let address = order
        .shipping
        .as_ref()
        .map(ShippingAddress::one_line)
        .filter(|a| !a.is_empty());
    let name = order
        .shipping
        .as_ref()
        .map(|s| s.name.clone())
        .filter(|n| !n.is_empty());
    let products: Vec<String> = order
        .items
        .iter()
        .map(|i| {
            let size = if i.size.is_empty() {
                String::new()
            } else {
                format!(", size {}", i.size)
            };
            format!(
                "{} x {}{size} (printed to order and shipped by Printful)",
                i.quantity, i.name
            )
        })
        .collect();
    let mut text = format!(
        "Order #{} ({}), {} paid. {}",
        order.number,
        order.id,
        order.total,
        dispute_evidence(timeline, shipments)
    );
    if text.len() > TEXT_LIMIT {
        let mut cut = TEXT_LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Evidence {
        shipping_carrier: join(carriers),
        shipping_tracking_number: join(shipments.iter().map(|s| s.tracking_number.clone()).collect()),
        shipping_date: shipped.map(|t| t.format("%Y-%m-%d").to_string()),
        shipping_address: address,
        customer_email_address: order.email.as_ref().map(|e| e.as_str().to_string()),
        customer_name: name,
        product_description: join(products),
        uncategorized_text: Some(text),
        ..Evidence::default()
    }
}

fn due(dispute: &Dispute) -> String {
    dispute
        .due_by
        .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .map_or_else(
            || "no due date is given".to_string(),
            |t| format!("due by {}", t.format("%Y-%m-%d %H:%M UTC")),
        )
}

/// The owner's alert for a dispute on one of our orders. For an order that shipped, the
/// evidence is drafted at Stripe first (not submitted). A transient Stripe failure is an error
/// (the event is retried); a refusal is reported in the alert.
pub async fn answer(worker: &Worker, dispute: &Dispute, order: &Order) -> Result<String, ProcessError> {
    let timeline = worker.store.timeline(order.id).await?;
    let shipments = worker.store.shipments(order.id).await?;
    let amount = Money::new(dispute.amount, dispute.currency);
    let opened = format!(
        "The buyer of order #{} ({}) opened a dispute for {amount} (reason: {}), {}.",
        order.number,
        order.id,
        dispute.reason,
        due(dispute)
    );
    let summary = dispute_evidence(&timeline, &shipments);
    if shipments.is_empty() {
        return Ok(format!(
            "{opened} The order has not shipped, so no evidence was drafted: refunding the buyer in the Stripe dashboard \
             usually costs less than losing the dispute; or answer it in the Stripe dashboard. {summary}"
        ));
    }
    if !dispute.needs_response() {
        return Ok(format!(
            "{opened} Stripe no longer takes evidence for it (status {}). {summary}",
            dispute.status
        ));
    }
    let evidence = evidence(order, &timeline, &shipments);
    match worker.stripe.draft_dispute_evidence(&dispute.id, &evidence).await {
        Ok(_) => Ok(format!(
            "{opened} backroom drafted the evidence at Stripe (carrier, tracking number, shipping date and address, the \
             buyer's email and name, the products, the order's history); it is not submitted. Review it in the Stripe \
             dashboard, add anything you have (messages with the buyer), then submit it with `backroom disputes submit \
             {}` before the due date. {summary}",
            dispute.id
        )),
        Err(e) if e.is_retryable() => Err(e.into()),
        Err(e) => Ok(format!(
            "{opened} backroom could not draft the evidence at Stripe ({e}): answer it in the Stripe dashboard with this \
             evidence. {summary}"
        )),
    }
}

/// One open dispute, for `backroom disputes list`.
#[derive(Clone, Debug, Serialize)]
pub struct OpenDispute {
    pub id: String,
    pub status: String,
    pub reason: String,
    pub amount: Money,
    pub due_by: Option<DateTime<Utc>>,
    /// Evidence is staged on it (drafted by backroom or entered in the dashboard).
    pub evidence_drafted: bool,
    pub submitted: bool,
    pub order_id: Option<backroom_core::OrderId>,
    pub order_number: Option<i64>,
}

/// Every dispute not yet decided, with the order it is about when it is one of ours.
pub async fn open_disputes(stripe: &StripeClient, store: &backroom_db::Store) -> anyhow::Result<Vec<OpenDispute>> {
    let mut out = Vec::new();
    for d in stripe.open_disputes().await? {
        let order = match &d.payment_intent {
            Some(pi) => store.order_by_payment_intent(pi).await?,
            None => None,
        };
        out.push(OpenDispute {
            evidence_drafted: d.has_evidence || !d.evidence.is_empty(),
            submitted: d.submission_count > 0,
            due_by: d.due_by.and_then(|t| DateTime::from_timestamp(t, 0)),
            amount: Money::new(d.amount, d.currency),
            order_id: order.as_ref().map(|o| o.id),
            order_number: order.as_ref().map(|o| o.number),
            id: d.id,
            status: d.status,
            reason: d.reason,
        });
    }
    Ok(out)
}

/// What `backroom disputes submit` came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    Now {
        status: String,
    },
    /// Submitted before: nothing was sent.
    Already {
        status: String,
    },
}

/// Submits the evidence staged on a dispute, once: a dispute whose evidence was already
/// submitted, or that no longer takes a response, is left alone. A dispute with no evidence
/// staged is refused (submitting nothing loses it).
pub async fn submit(stripe: &StripeClient, id: &str) -> anyhow::Result<Submitted> {
    let d = stripe.dispute(id).await?;
    if d.submission_count > 0 {
        return Ok(Submitted::Already { status: d.status });
    }
    if !d.needs_response() {
        anyhow::bail!(
            "dispute {id} is {} and takes no evidence any more{}",
            d.status,
            if d.past_due { " (its due date has passed)" } else { "" }
        );
    }
    if d.evidence.is_empty() && !d.has_evidence {
        anyhow::bail!("dispute {id} has no evidence staged: draft it in the Stripe dashboard first");
    }
    let d = stripe.submit_dispute(id).await?;
    Ok(Submitted::Now { status: d.status })
}

/// What the owner needs to answer a dispute: where the parcels went and when, and the order's
/// history.
pub fn dispute_evidence(timeline: &[backroom_core::TimelineEntry], shipments: &[ShipmentRecord]) -> String {
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let parcels: Vec<String> = shipments
        .iter()
        .map(|s| {
            let carrier = if s.service.is_empty() {
                s.carrier.clone()
            } else {
                format!("{} {}", s.carrier, s.service)
            };
            format!(
                "carrier {carrier}, tracking number {}, tracking {}, shipped {}",
                if s.tracking_number.is_empty() {
                    "none"
                } else {
                    &s.tracking_number
                },
                if s.tracking_url.is_empty() {
                    "none"
                } else {
                    &s.tracking_url
                },
                s.shipped_at.map_or_else(|| "on an unknown date".to_string(), day)
            )
        })
        .collect();
    let delivered = timeline
        .iter()
        .find(|e| e.to == backroom_core::OrderStatus::Delivered)
        .map_or_else(|| "not reported".to_string(), |e| day(e.at));
    let history: Vec<String> = timeline
        .iter()
        .map(|e| format!("{} {} ({})", e.at.format("%Y-%m-%d %H:%M"), e.to, e.detail))
        .collect();
    format!(
        "Shipped: {}. Delivered: {delivered}. History: {}",
        if parcels.is_empty() {
            "not yet".to_string()
        } else {
            parcels.join("; ")
        },
        history.join("; ")
    )
}
