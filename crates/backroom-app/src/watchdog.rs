//! The watchdog (run by the catch-up jobs): an order that stays too long in a stage raises one
//! alert for that order and stage, in plain words with the next action.

use std::time::Duration;

use backroom_aws::emf::{self, Metric};
use backroom_core::ports::{NewAlert, OrderFilter, OrderStore, Severity, StoreError};
use backroom_core::{Order, OrderStatus};
use chrono::{DateTime, Utc};

use crate::alerts::Alerts;
use crate::checkout::SESSION_LIFETIME;

/// How long an order may stay in each stage before someone should look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlines {
    pub paid_to_submitted: Duration,
    pub submitted_to_production: Duration,
    pub production_to_shipped: Duration,
    /// After the checkout session's expiry, how long a pending payment may stay pending.
    pub pending_after_expiry: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            paid_to_submitted: Duration::from_secs(15 * 60),
            submitted_to_production: Duration::from_secs(48 * 3600),
            production_to_shipped: Duration::from_secs(10 * 24 * 3600),
            pending_after_expiry: Duration::from_secs(3600),
        }
    }
}

/// Looks for stuck orders; returns how many there are now (alerted once each per stage).
pub async fn watchdog(
    store: &impl OrderStore,
    alerts: &Alerts,
    deadlines: &Deadlines,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let stages: [(OrderStatus, &str); 4] = [
        (OrderStatus::PendingPayment, "pending_payment"),
        (OrderStatus::Paid, "paid"),
        (OrderStatus::Submitted, "submitted"),
        (OrderStatus::InProduction, "in_production"),
    ];
    let mut stuck = 0;
    for (status, stage) in stages {
        for order in store
            .orders(&OrderFilter {
                status: Some(status),
                limit: Some(1000),
            })
            .await?
        {
            let Some(message) = overdue(&order, deadlines, now) else {
                continue;
            };
            stuck += 1;
            alerts
                .raise_once(NewAlert {
                    severity: Severity::Ops,
                    kind: format!("stuck_{stage}"),
                    order_id: Some(order.id),
                    dedupe_key: format!("stuck:{stage}:{}", order.id),
                    message,
                })
                .await?;
        }
    }
    emf::count(Metric::StuckOrders, stuck as u64);
    Ok(stuck)
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The alert text when the order is past its stage's deadline.
fn overdue(order: &Order, d: &Deadlines, now: DateTime<Utc>) -> Option<String> {
    let since = order.updated_at;
    let waited = now - since;
    let hours = |d: chrono::Duration| d.num_minutes() as f64 / 60.0;
    let who = format!("Order #{} ({})", order.number, order.id);
    match order.status() {
        OrderStatus::PendingPayment => {
            let deadline = order.created_at + SESSION_LIFETIME + chrono(d.pending_after_expiry);
            (now > deadline).then(|| {
                format!(
                    "{who} is still waiting for its payment although its checkout expired at {}. backroom did not hear that it \
                     expired: check the session in the Stripe dashboard; the next Stripe catch-up should settle it.",
                    (order.created_at + SESSION_LIFETIME).format("%Y-%m-%d %H:%M UTC")
                )
            })
        }
        OrderStatus::Paid => (waited > chrono(d.paid_to_submitted)).then(|| {
            format!(
                "{who} was paid {:.1} hours ago but is not at Printful yet. If fulfillment is paused, release it with \
                 `backroom orders release {}`; otherwise check the alerts for a refused submission and run `backroom reconcile --fix`.",
                hours(waited),
                order.id
            )
        }),
        OrderStatus::Submitted => (waited > chrono(d.submitted_to_production)).then(|| {
            format!(
                "{who} has been at Printful for {:.0} hours without going into production. Open it in the Printful dashboard \
                 (order {}) to see what it waits for (billing, print files, a hold).",
                hours(waited),
                order.printful_order_id.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into())
            )
        }),
        OrderStatus::InProduction => (waited > chrono(d.production_to_shipped)).then(|| {
            format!(
                "{who} has been in production at Printful for {:.0} days without shipping. Ask Printful support about \
                 order {}.",
                waited.num_hours() as f64 / 24.0,
                order.printful_order_id.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into())
            )
        }),
        _ => None,
    }
}
