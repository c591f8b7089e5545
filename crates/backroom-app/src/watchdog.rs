//! The watchdog (run by the catch-up jobs): an order that stays too long in a stage raises one
//! alert for that order and stage, in plain words with the next action.

use backroom_aws::emf::{self, Metric};
use backroom_core::ports::{NewAlert, OrderFilter, OrderStore, Severity, StoreError};
use backroom_core::stuck::{SESSION_LIFETIME, WATCHED, is_stuck};
use backroom_core::{Order, OrderStatus};
use chrono::{DateTime, Utc};

use crate::alerts::Alerts;

pub use backroom_core::stuck::Deadlines;

/// Looks for stuck orders; returns how many there are now (alerted once each per stage).
pub async fn watchdog(
    store: &impl OrderStore,
    alerts: &Alerts,
    deadlines: &Deadlines,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut stuck = 0;
    for status in WATCHED {
        let stage = status.as_str();
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

/// The alert text when the order is past its stage's deadline.
fn overdue(order: &Order, d: &Deadlines, now: DateTime<Utc>) -> Option<String> {
    if !is_stuck(order.status(), order.created_at, order.updated_at, d, now) {
        return None;
    }
    let since = order.updated_at;
    let waited = now - since;
    let hours = |d: chrono::Duration| d.num_minutes() as f64 / 60.0;
    let who = format!("Order #{} ({})", order.number, order.id);
    match order.status() {
        OrderStatus::PendingPayment => Some(format!(
            "{who} is still waiting for its payment although its checkout expired at {}. backroom did not hear that it \
                     expired: check the session in the Stripe dashboard; the next Stripe catch-up should settle it.",
            (order.created_at + SESSION_LIFETIME).format("%Y-%m-%d %H:%M UTC")
        )),
        OrderStatus::Paid => Some({
            format!(
                "{who} was paid {:.1} hours ago but is not at Printful yet. If fulfillment is paused, release it with \
                 `backroom orders release {}`; otherwise check the alerts for a refused submission and run `backroom reconcile --fix`.",
                hours(waited),
                order.id
            )
        }),
        OrderStatus::Submitted => Some({
            format!(
                "{who} has been at Printful for {:.0} hours without going into production. Open it in the Printful dashboard \
                 (order {}) to see what it waits for (billing, print files, a hold).",
                hours(waited),
                order
                    .printful_order_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "unknown".into())
            )
        }),
        OrderStatus::InProduction => Some({
            format!(
                "{who} has been in production at Printful for {:.0} days without shipping. Ask Printful support about \
                 order {}.",
                waited.num_hours() as f64 / 24.0,
                order
                    .printful_order_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "unknown".into())
            )
        }),
        _ => None,
    }
}
