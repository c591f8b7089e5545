//! The weekly digest: one plain-language message to the owner about the last days: orders and
//! revenue (per currency, in the currency's own minor units), refunds and disputes, orders
//! waiting on someone, what the reconciler repaired, and the AWS bill at this pace.
//!
//! Sent through the alerts (the ops topic in AWS) with a dedupe key per ISO week, so a schedule
//! that fires twice, or an owner who also sends it by hand, sends it once.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use backroom_core::cost::{Workload, estimate};
use backroom_core::earnings::{PeriodEarnings, period};
use backroom_core::ports::{AlertOutcome, NewAlert, Severity, StoreError};
use backroom_core::{Cents, Currency, Money, OrderStatus};
use backroom_db::store::status::CurrencySum;
use backroom_db::{DbError, Store};
use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use crate::alerts::Alerts;
use crate::status::{self, RunSummary};
use crate::watchdog::Deadlines;

pub use crate::alerts::DIGEST_KIND;
/// The longest period a digest covers.
pub const MAX_DAYS: u32 = 366;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("--days must be between 1 and {MAX_DAYS}, not {0}")]
    Days(u32),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("an amount in {0} is out of range")]
    Amount(String),
}

/// An amount in one currency: minor units and as the owner reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Amount {
    pub currency: Currency,
    pub orders: i64,
    /// Integer minor units of `currency`.
    pub minor_units: i64,
    /// "120.00 EUR", "1500 JPY".
    pub formatted: String,
}

fn amounts(sums: &[CurrencySum]) -> Result<Vec<Amount>, DigestError> {
    sums.iter()
        .map(|s| {
            let cents = Cents::new(s.amount).map_err(|_| DigestError::Amount(s.currency.code().into()))?;
            Ok(Amount {
                currency: s.currency,
                orders: s.orders,
                minor_units: s.amount,
                formatted: Money::new(cents, s.currency).to_string(),
            })
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// Whether fulfillment is paused (FULFILLMENT_PAUSED).
    pub fulfillment_paused: bool,
    /// Paid orders held back by the pause, waiting for `backroom orders release`.
    pub paused: i64,
    /// On hold at Printful (billing, print files, an address).
    pub on_hold: i64,
    pub needs_attention: i64,
    /// Past the watchdog's deadline for their stage.
    pub stuck: i64,
}

impl Waiting {
    pub fn total(&self) -> i64 {
        self.paused + self.on_hold + self.needs_attention + self.stuck
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Repairs {
    pub runs: usize,
    pub found: usize,
    pub repaired: usize,
    /// Found and repaired, by kind.
    pub by_kind: BTreeMap<String, (usize, usize)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cost {
    pub orders_per_month: u64,
    /// US dollars a month after the permanent free tiers.
    pub usd: f64,
    /// At list price with no free tier.
    pub list_usd: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Digest {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub days: u32,
    /// The ISO week the digest is sent in ("2026-W48"): one digest per week.
    pub week: String,
    pub dedupe_key: String,
    /// Paid orders placed in the period (refunded ones included).
    pub paid_orders: i64,
    /// Per currency: the paid orders and their total.
    pub revenue: Vec<Amount>,
    /// What the paid orders (not refunded) earned after tax, Stripe's fees and Printful's
    /// bills, per currency, and the orders sold at a loss.
    pub earnings: PeriodEarnings,
    /// Checkouts in the period that were never paid.
    pub unpaid_checkouts: i64,
    /// Refunded in full in the period, per currency.
    pub refunds: Vec<Amount>,
    pub partial_refunds: i64,
    pub disputes: i64,
    /// Orders whose buyer data was forgotten in the period (crate::forget).
    pub buyer_data_forgotten: i64,
    pub waiting: Waiting,
    pub reconciler: Repairs,
    pub cost: Cost,
}

/// The ISO week of `t`, as "2026-W48".
pub fn iso_week(t: DateTime<Utc>) -> String {
    let w = t.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The key that makes a digest once per week: a 7-day digest is the weekly one, other lengths
/// have their own.
pub fn dedupe_key(now: DateTime<Utc>, days: u32) -> String {
    if days == 7 {
        format!("digest:{}", iso_week(now))
    } else {
        format!("digest:{}:{days}d", iso_week(now))
    }
}

/// Gathers the figures of the `days` days before `now`.
pub async fn gather(
    store: &Store,
    days: u32,
    now: DateTime<Utc>,
    deadlines: &Deadlines,
    fulfillment_paused: bool,
) -> Result<Digest, DigestError> {
    if days == 0 || days > MAX_DAYS {
        return Err(DigestError::Days(days));
    }
    let start = now - chrono::Duration::days(i64::from(days));
    let sales = store.sales_between(start, now).await?;
    let paid_orders: i64 = sales.iter().map(|s| s.orders).sum();
    let unpaid_checkouts = store.unpaid_between(start, now).await?;
    let earnings = period(store.paid_accounts_between(start, now).await?);
    let (refunds, partial_refunds) = store.refunds_between(start, now).await?;
    let disputes = store.count_alerts_created("dispute", start, now).await?;
    let buyer_data_forgotten = store.count_forgotten_between(start, now).await?;
    let counts: HashMap<OrderStatus, i64> = store.order_counts().await?.into_iter().collect();
    let count = |s: OrderStatus| counts.get(&s).copied().unwrap_or(0);
    let stuck = status::stuck_orders(store, deadlines, now, 10_000).await?.len() as i64;
    let paused = if fulfillment_paused {
        store.unreleased_paid_orders().await?
    } else {
        0
    };
    let runs = store.reconcile_runs(start, now, 10_000).await?;
    let mut reconciler = Repairs {
        runs: runs.len(),
        found: 0,
        repaired: 0,
        by_kind: BTreeMap::new(),
    };
    for run in &runs {
        let summary = RunSummary::from(run);
        reconciler.found += summary.found;
        reconciler.repaired += summary.repaired;
        for d in &run.discrepancies {
            let entry = reconciler.by_kind.entry(d.kind.as_str().to_string()).or_insert((0, 0));
            entry.0 += 1;
            if d.repaired {
                entry.1 += 1;
            }
        }
    }
    // A month is 30 days, as the cost model's workload counts it; rounded to the nearest order.
    let per_month = (paid_orders.max(0) as u64 * 30 + u64::from(days) / 2) / u64::from(days);
    let bill = estimate(&Workload::typical(per_month));
    Ok(Digest {
        period_start: start,
        period_end: now,
        days,
        week: iso_week(now),
        dedupe_key: dedupe_key(now, days),
        paid_orders,
        revenue: amounts(&sales)?,
        earnings,
        unpaid_checkouts,
        refunds: amounts(&refunds)?,
        partial_refunds,
        disputes,
        buyer_data_forgotten,
        waiting: Waiting {
            fulfillment_paused,
            paused,
            on_hold: count(OrderStatus::OnHold),
            needs_attention: count(OrderStatus::NeedsAttention),
            stuck,
        },
        reconciler,
        cost: Cost {
            orders_per_month: per_month,
            usd: bill.total_usd,
            list_usd: bill.total_list_usd,
        },
    })
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn list(amounts: &[Amount]) -> String {
    amounts
        .iter()
        .map(|a| a.formatted.clone())
        .collect::<Vec<_>>()
        .join(" and ")
}

impl Digest {
    /// The message, in plain words, as the owner receives it.
    pub fn message(&self) -> String {
        let mut out = String::new();
        let period = if self.days == 7 { "this week" } else { "in this period" };
        let _ = writeln!(
            out,
            "Your shop from {} to {} ({}):\n",
            self.period_start.format("%a %-d %b %Y %H:%M"),
            self.period_end.format("%a %-d %b %Y %H:%M UTC"),
            plural(i64::from(self.days), "day", "days")
        );

        if self.paid_orders == 0 {
            let _ = writeln!(out, "Orders: no orders {period}.");
        } else {
            let _ = writeln!(
                out,
                "Orders: {} paid, {} in all.",
                plural(self.paid_orders, "order", "orders"),
                list(&self.revenue)
            );
        }
        for c in &self.earnings.by_currency {
            let _ = writeln!(out, "Earned: {}.", c.sentence());
        }
        if !self.earnings.at_a_loss.is_empty() {
            let named: Vec<String> = self
                .earnings
                .at_a_loss
                .iter()
                .take(10)
                .map(|a| format!("#{} ({})", a.number, a.earned.losses.join("; ")))
                .collect();
            let more = self.earnings.at_a_loss.len().saturating_sub(named.len());
            let _ = writeln!(
                out,
                "Sold at a loss: {}{}. Check the shipping zones' rates and the prices in catalog.toml against Printful's.",
                named.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        if self.unpaid_checkouts > 0 {
            let _ = writeln!(
                out,
                "Not paid: {} started but not paid (expired, declined or still open).",
                plural(self.unpaid_checkouts, "checkout was", "checkouts were")
            );
        }

        let refunded: i64 = self.refunds.iter().map(|a| a.orders).sum();
        match (refunded, self.partial_refunds) {
            (0, 0) => {
                let _ = writeln!(out, "Refunds: none.");
            }
            (0, p) => {
                let _ = writeln!(out, "Refunds: {}.", plural(p, "partial refund", "partial refunds"));
            }
            (n, p) => {
                let partial = if p > 0 {
                    format!(", and {}", plural(p, "partial refund", "partial refunds"))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "Refunds: {} refunded in full ({}){partial}.",
                    plural(n, "order", "orders"),
                    list(&self.refunds)
                );
            }
        }
        if self.disputes == 0 {
            let _ = writeln!(out, "Disputes: none.");
        } else {
            let _ = writeln!(
                out,
                "Disputes: {} opened. `backroom disputes list` shows each due date and its drafted evidence; submit it before then.",
                plural(self.disputes, "dispute was", "disputes were")
            );
        }

        if self.buyer_data_forgotten > 0 {
            let _ = writeln!(
                out,
                "Buyer data: forgotten for {} (email, name and address erased; amounts kept).",
                plural(self.buyer_data_forgotten, "order", "orders")
            );
        }

        let w = &self.waiting;
        if w.total() == 0 {
            let _ = writeln!(out, "Waiting on someone: nothing, every order is moving.");
        } else {
            let mut parts = Vec::new();
            if w.paused > 0 {
                parts.push(format!(
                    "{} held by the fulfillment pause (`backroom orders release --all` lets them go)",
                    plural(w.paused, "paid order", "paid orders")
                ));
            }
            if w.on_hold > 0 {
                parts.push(format!(
                    "{} on hold at Printful (see the Printful dashboard)",
                    plural(w.on_hold, "order", "orders")
                ));
            }
            if w.needs_attention > 0 {
                parts.push(format!(
                    "{} needing your attention (`backroom orders list --status needs_attention`)",
                    plural(w.needs_attention, "order", "orders")
                ));
            }
            if w.stuck > 0 {
                parts.push(format!(
                    "{} past the watchdog's deadline (`backroom status`)",
                    plural(w.stuck, "order", "orders")
                ));
            }
            let _ = writeln!(out, "Waiting on someone: {}.", parts.join("; "));
        }

        let r = &self.reconciler;
        if r.runs == 0 {
            let _ = writeln!(out, "Reconciler: did not run {period}. Check the FunctionErrors alarm.");
        } else if r.found == 0 {
            let _ = writeln!(
                out,
                "Reconciler: {}, Stripe, Printful and the shop agreed every time.",
                plural(r.runs as i64, "run", "runs")
            );
        } else {
            let kinds: Vec<String> = r
                .by_kind
                .iter()
                .map(|(k, (found, repaired))| format!("{} {found} found, {repaired} repaired", k.replace('_', " ")))
                .collect();
            let _ = writeln!(
                out,
                "Reconciler: {}, {} found, {} repaired ({}).",
                plural(r.runs as i64, "run", "runs"),
                plural(r.found as i64, "difference", "differences"),
                r.repaired,
                kinds.join("; ")
            );
        }

        let _ = writeln!(
            out,
            "AWS cost: at this pace (about {} a month) the stack costs about ${:.2} a month after the free tiers \
             (${:.2} at list price).",
            plural(self.cost.orders_per_month as i64, "order", "orders"),
            self.cost.usd,
            self.cost.list_usd
        );
        out
    }
}

/// Whether `send` told the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sent {
    Sent,
    /// This week's digest was sent before: nothing was sent again.
    AlreadySent,
}

/// Sends the digest through the alerts once per dedupe key. The key is recorded before the
/// message is published, so a second run never sends it again once it went out; a publish that
/// fails leaves it pending, and the next catch-up run (or a second send) publishes it.
pub async fn send(alerts: &Alerts, digest: &Digest) -> Result<Sent, StoreError> {
    let outcome = alerts
        .raise_once(NewAlert {
            severity: Severity::Ops,
            kind: DIGEST_KIND.into(),
            order_id: None,
            dedupe_key: digest.dedupe_key.clone(),
            message: digest.message(),
        })
        .await?;
    Ok(match outcome {
        AlertOutcome::Raise => Sent::Sent,
        AlertOutcome::Suppressed { .. } => Sent::AlreadySent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_iso_weeks() {
        let monday = DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z").unwrap().to_utc();
        assert_eq!(iso_week(monday), "2026-W48");
        assert_eq!(dedupe_key(monday, 7), "digest:2026-W48");
        assert_eq!(dedupe_key(monday, 30), "digest:2026-W48:30d");
        // 1 January 2027 is a Friday in the last ISO week of 2026.
        let new_year = DateTime::parse_from_rfc3339("2027-01-01T08:00:00Z").unwrap().to_utc();
        assert_eq!(iso_week(new_year), "2026-W53");
    }
}
