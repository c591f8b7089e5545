//! The reconciler: a three-way comparison of Stripe, the database and Printful over a window.
//! Every discrepancy is reported (and stored with the run); with `fix`, the repairable ones are
//! repaired through the same code the worker runs; security findings always alert the owner.

use std::collections::HashSet;

use backroom_aws::emf::{self, Metric};
use backroom_core::machine::{Fulfillment, Payment};
use backroom_core::ports::{
    Discrepancy, DiscrepancyKind, NewAlert, OrderFilter, OrderStore, ReconcileRun, ReconcileStore, Severity,
};
use backroom_core::{Cause, Money, OrderId, OrderStatus};
use backroom_printful::Status;
use backroom_printful::webhook::WEBHOOK_PATH;
use chrono::{DateTime, Utc};

use crate::worker::{ProcessError, Worker};

/// How old a paid order must be before "not at Printful" counts (the worker is normally quicker).
pub const SUBMIT_GRACE: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Clone, Debug, Default)]
pub struct ReconcileOptions {
    pub days: u32,
    pub fix: bool,
    /// Our public base URL (`WEBHOOK_BASE_URL`): the webhook URLs must point at it.
    pub webhook_base_url: Option<String>,
}

/// One run: each phase compares two sides and adds what disagrees, in this order; then the
/// owner is alerted to what needs them, and the run is stored.
pub async fn reconcile(
    worker: &Worker,
    options: &ReconcileOptions,
    now: DateTime<Utc>,
) -> Result<ReconcileRun, ProcessError> {
    let started_at = Utc::now();
    let stripe_calls_before = worker.stripe.calls();
    let printful_calls_before = worker.printful.calls();
    let pass = Pass {
        worker,
        fix: options.fix,
        now,
        since: now - chrono::Duration::days(i64::from(options.days)),
    };
    let (mut found, paid_sessions) = Box::pin(stripe_to_database(&pass)).await?;
    found.extend(Box::pin(paid_here_not_at_stripe(&pass, &paid_sessions)).await?);
    found.extend(Box::pin(paid_not_submitted(&pass)).await?);
    found.extend(Box::pin(printful_to_database(&pass)).await?);
    found.extend(Box::pin(check_webhooks(worker, options)).await?);
    alert_owner(worker, &found).await?;
    emf::count(Metric::ReconcileDiscrepancies, found.len() as u64);
    let run = ReconcileRun {
        started_at,
        finished_at: Utc::now(),
        window_days: options.days,
        fix: options.fix,
        discrepancies: found,
        stripe_calls: worker.stripe.calls() - stripe_calls_before,
        printful_calls: worker.printful.calls() - printful_calls_before,
    };
    worker.store.record_run(&run).await?;
    Ok(run)
}

/// What every phase of a run shares.
struct Pass<'a> {
    worker: &'a Worker,
    fix: bool,
    now: DateTime<Utc>,
    /// The window's start: older sessions and Printful orders are not compared.
    since: DateTime<Utc>,
}

/// Stripe → database: every session of the window names an order of ours, a paid session's
/// order is paid, for the amount it was charged. Returns the findings and the paid sessions.
async fn stripe_to_database(pass: &Pass<'_>) -> Result<(Vec<Discrepancy>, HashSet<String>), ProcessError> {
    let worker = pass.worker;
    let mut found = vec![];
    let mut paid_sessions: HashSet<String> = HashSet::new();
    for session in worker
        .stripe
        .list_checkout_sessions(None, Some(pass.since.timestamp()))
        .await?
    {
        let Some(order_id) = session.order_id else {
            found.push(discrepancy(
                DiscrepancyKind::UnknownStripeSession,
                Severity::Security,
                None,
                format!("Stripe session {} carries no order id of backroom", session.id),
            ));
            continue;
        };
        let Some(order) = worker.store.order(order_id).await? else {
            found.push(discrepancy(
                DiscrepancyKind::UnknownStripeSession,
                Severity::Security,
                Some(order_id),
                format!(
                    "Stripe session {} names order {order_id}, which backroom does not have",
                    session.id
                ),
            ));
            continue;
        };
        let paid_at_stripe =
            session.status == backroom_stripe::SessionStatus::Complete && session.payment_status.is_settled();
        if !paid_at_stripe {
            continue;
        }
        paid_sessions.insert(session.id.clone());
        // The worker's rule: Stripe's items subtotal against ours, when its parts add up.
        let checked = session.charged.map(|c| c.amount_to_check()).or(session.amount_total);
        // Once the owner accepted what was paid, it is no longer a finding.
        if !order.state.amount_accepted
            && let (Some(amount), Some(currency)) = (checked, session.currency)
        {
            let paid = Money::new(amount, currency);
            if paid != order.total {
                found.push(discrepancy(
                    DiscrepancyKind::AmountMismatch,
                    Severity::Ops,
                    Some(order_id),
                    format!(
                        "session {} was paid {paid}, the order total is {}",
                        session.id, order.total
                    ),
                ));
            }
        }
        if !matches!(order.state.payment, Payment::Paid | Payment::Refunded) {
            let mut d = discrepancy(
                DiscrepancyKind::MissingOrder,
                Severity::Ops,
                Some(order_id),
                format!("session {} is paid but the order is {}", session.id, order.status()),
            );
            if pass.fix {
                let full = worker.stripe.checkout_session(&session.id).await?;
                Box::pin(worker.apply_session(
                    &full,
                    backroom_core::StripeEventKind::SessionCompleted.as_str(),
                    &Cause::Reconciler,
                    None,
                ))
                .await?;
                d.repaired = true;
            }
            found.push(d);
        }
    }
    Ok((found, paid_sessions))
}

/// Database → Stripe: an order paid here whose session Stripe does not have as paid.
async fn paid_here_not_at_stripe(
    pass: &Pass<'_>,
    paid_sessions: &HashSet<String>,
) -> Result<Vec<Discrepancy>, ProcessError> {
    let worker = pass.worker;
    let mut found = vec![];
    for status in OrderStatus::ALL {
        for order in worker
            .store
            .orders(&OrderFilter {
                status: Some(status),
                limit: Some(1000),
            })
            .await?
        {
            if order.state.payment != Payment::Paid || order.created_at < pass.since {
                continue;
            }
            let Some(session_id) = order.stripe_session_id.as_deref() else {
                continue;
            };
            if paid_sessions.contains(session_id) {
                continue;
            }
            // Listed sessions are the window's; read this one to be sure.
            let session = worker.stripe.checkout_session(session_id).await?;
            if session.status == backroom_stripe::SessionStatus::Complete && session.payment_status.is_settled() {
                continue;
            }
            found.push(discrepancy(
                DiscrepancyKind::PaidHereNotAtStripe,
                Severity::Security,
                Some(order.id),
                format!(
                    "order #{} is paid here, but Stripe has its session {session_id} {:?} and {:?}",
                    order.number, session.status, session.payment_status
                ),
            ));
        }
    }
    Ok(found)
}

/// Database → Printful: paid for longer than the grace, but not at Printful.
async fn paid_not_submitted(pass: &Pass<'_>) -> Result<Vec<Discrepancy>, ProcessError> {
    let worker = pass.worker;
    let mut found = vec![];
    for order in worker
        .store
        .orders(&OrderFilter {
            status: Some(OrderStatus::Paid),
            limit: Some(1000),
        })
        .await?
    {
        if order.state.fulfillment != Fulfillment::None || pass.now - order.updated_at < SUBMIT_GRACE {
            continue;
        }
        let mut d = discrepancy(
            DiscrepancyKind::NotSubmitted,
            Severity::Ops,
            Some(order.id),
            format!(
                "order #{} is paid since {} but not at Printful",
                order.number,
                order.updated_at.format("%Y-%m-%d %H:%M UTC")
            ),
        );
        if pass.fix {
            let advanced = Box::pin(worker.advance_or_fail(order.id, None)).await?;
            d.repaired = matches!(advanced, crate::fulfillment::Advanced::Submitted { .. });
        }
        found.push(d);
    }
    Ok(found)
}

/// Printful → database, page by page over the window: every Printful order is one backroom
/// sent, and backroom's status is not behind Printful's.
async fn printful_to_database(pass: &Pass<'_>) -> Result<Vec<Discrepancy>, ProcessError> {
    let worker = pass.worker;
    let mut found = vec![];
    let mut offset = 0;
    loop {
        let page = worker.printful.list_orders(None, offset, 100).await?;
        let count = page.orders.len() as u32;
        let mut older = false;
        for pf in page.orders {
            if pf.created < pass.since.timestamp() {
                older = true;
                continue;
            }
            found.extend(Box::pin(compare_printful_order(pass, pf)).await?);
        }
        offset += count;
        if count < 100 || older || offset >= page.total {
            break;
        }
    }
    Ok(found)
}

/// One Printful order of the window against backroom's.
async fn compare_printful_order(
    pass: &Pass<'_>,
    pf: backroom_printful::Order,
) -> Result<Option<Discrepancy>, ProcessError> {
    let worker = pass.worker;
    let ours = pf.external_id.as_deref().and_then(|e| OrderId::parse(e).ok());
    let order = match ours {
        Some(id) => worker.store.order(id).await?,
        None => None,
    };
    // Ours only when backroom sent it there (see `Order::submitted_by_us`): a Printful
    // order naming an order that was never paid or never submitted is a stranger's.
    let Some(order) = order.filter(backroom_core::Order::submitted_by_us) else {
        // The same alert as the Printful catch-up's scan raises: one per Printful order.
        worker
            .alerts
            .raise(crate::fulfillment::unknown_printful_order_alert(
                pf.id,
                pf.external_id.as_deref(),
            ))
            .await?;
        return Ok(Some(discrepancy(
            DiscrepancyKind::UnknownPrintfulOrder,
            Severity::Security,
            None,
            format!(
                "Printful order {} (external id {:?}) was not made by backroom",
                pf.id, pf.external_id
            ),
        )));
    };
    let Status::Known(status) = pf.status.clone() else {
        return Ok(None);
    };
    let at = DateTime::from_timestamp(pf.updated.max(pf.created), 0).unwrap_or(pass.now);
    let backroom_core::Decision::Apply(_) = order
        .state
        .decide(order.total, &backroom_core::Fact::Printful { status, at })
    else {
        return Ok(None);
    };
    let mut d = discrepancy(
        DiscrepancyKind::StatusBehind,
        Severity::Ops,
        Some(order.id),
        format!(
            "Printful has order #{} as {:?}, backroom as {}",
            order.number,
            pf.status,
            order.status()
        ),
    );
    if pass.fix {
        // As the worker does with a Printful event: record the order and what it says, then
        // advance, which confirms a draft a failed confirm left behind (or cancels the order
        // of a refund).
        worker.store.set_printful_order_id(order.id, pf.id).await?;
        Box::pin(worker.apply_printful(order.id, &pf, &Cause::Reconciler)).await?;
        Box::pin(worker.advance_or_fail(order.id, Some(&pf))).await?;
        d.repaired = true;
    }
    Ok(Some(d))
}

/// The owner is alerted to every security finding and misconfigured webhook (a stranger's
/// Printful order was alerted when it was found).
async fn alert_owner(worker: &Worker, found: &[Discrepancy]) -> Result<(), ProcessError> {
    for d in found
        .iter()
        .filter(|d| d.severity == Severity::Security || d.kind == DiscrepancyKind::WebhookMisconfigured)
        .filter(|d| d.kind != DiscrepancyKind::UnknownPrintfulOrder)
    {
        worker
            .alerts
            .raise(NewAlert {
                severity: d.severity,
                kind: d.kind.as_str().into(),
                order_id: d.order_id,
                dedupe_key: format!("reconcile:{}:{}", d.kind.as_str(), d.detail),
                message: format!("The reconciler found: {}. {}", d.detail, next_step(d.kind)),
            })
            .await?;
    }
    Ok(())
}

fn discrepancy(kind: DiscrepancyKind, severity: Severity, order_id: Option<OrderId>, detail: String) -> Discrepancy {
    Discrepancy {
        kind,
        severity,
        order_id,
        detail,
        repaired: false,
    }
}

fn next_step(kind: DiscrepancyKind) -> &'static str {
    match kind {
        DiscrepancyKind::UnknownStripeSession => {
            "If you did not create it yourself, someone may be using your Stripe secret key: roll it in the Stripe dashboard now."
        }
        DiscrepancyKind::UnknownPrintfulOrder => {
            "If you did not place it yourself, someone may be using your Printful token: delete it at developers.printful.com/tokens and make a new one."
        }
        DiscrepancyKind::WebhookMisconfigured => {
            "Run `backroom setup webhooks` to put the webhooks back; if you did not change them, treat your keys as stolen and roll them."
        }
        DiscrepancyKind::PaidHereNotAtStripe => {
            "Stripe never took this payment: pause fulfillment (FULFILLMENT_PAUSED=true) and cancel the order at Printful if it is there; if nobody here changed the database, treat its credentials as stolen."
        }
        _ => "Run `backroom reconcile --fix` to repair it.",
    }
}

async fn check_webhooks(worker: &Worker, options: &ReconcileOptions) -> Result<Vec<Discrepancy>, ProcessError> {
    let mut found = vec![];
    let base = options.webhook_base_url.as_deref().map(|b| b.trim_end_matches('/'));
    let endpoints = worker.stripe.list_webhook_endpoints().await?;
    let wanted: HashSet<&str> = backroom_core::StripeEventKind::NAMES.iter().copied().collect();
    let ours: Vec<_> = endpoints
        .iter()
        .filter(|e| base.is_none_or(|b| e.url == format!("{b}/webhooks/stripe")))
        .collect();
    let good = ours.iter().any(|e| {
        let events: HashSet<&str> = e.enabled_events.iter().map(String::as_str).collect();
        e.enabled && (events.contains("*") || wanted.is_subset(&events))
    });
    if !good {
        let detail = match ours.first() {
            None => "no Stripe webhook endpoint points at backroom".to_string(),
            Some(e) if !e.enabled => format!("the Stripe webhook endpoint {} is disabled", e.id),
            Some(e) => format!(
                "the Stripe webhook endpoint {} is not subscribed to every event type backroom needs",
                e.id
            ),
        };
        found.push(discrepancy(
            DiscrepancyKind::WebhookMisconfigured,
            Severity::Ops,
            None,
            detail,
        ));
    }
    let config = worker.printful.webhook_config().await?;
    let printful_ok = match (&config.url, base) {
        (Some(url), Some(b)) => url.starts_with(&format!("{b}{WEBHOOK_PATH}")),
        (Some(url), None) => url.contains(WEBHOOK_PATH),
        (None, _) => false,
    };
    if !printful_ok {
        // The URL may carry backroom's secret token (an old stack's URL, say): it is redacted
        // as `backroom setup webhooks` does, since the detail is stored, printed and alerted.
        let detail = match &config.url {
            Some(url) => format!(
                "Printful's webhook URL is {}, not backroom's",
                backroom_printful::webhook::redact_url(url)
            ),
            None => "Printful has no webhook URL, so none of its webhooks reach backroom".to_string(),
        };
        found.push(discrepancy(
            DiscrepancyKind::WebhookMisconfigured,
            Severity::Security,
            None,
            detail,
        ));
    }
    Ok(found)
}

/// The report as a table for a terminal.
pub fn table(run: &ReconcileRun) -> String {
    let mut out = format!(
        "reconcile over {} days{}: {} discrepancies ({} Stripe calls, {} Printful calls)\n",
        run.window_days,
        if run.fix { " with --fix" } else { "" },
        run.discrepancies.len(),
        run.stripe_calls,
        run.printful_calls
    );
    if run.discrepancies.is_empty() {
        out.push_str("everything agrees\n");
        return out;
    }
    out.push_str(&format!(
        "{:<24} {:<9} {:<36} {:<9} DETAIL\n",
        "KIND", "SEVERITY", "ORDER", "REPAIRED"
    ));
    for d in &run.discrepancies {
        out.push_str(&format!(
            "{:<24} {:<9} {:<36} {:<9} {}\n",
            d.kind.as_str(),
            d.severity.as_str(),
            d.order_id.map(|o| o.to_string()).unwrap_or_else(|| "-".into()),
            if d.repaired { "yes" } else { "no" },
            d.detail
        ));
    }
    out
}
