//! The owner page's summary (`GET /admin/api/summary`, served by `backroom dev` and `backroom
//! owner`): the paid orders and their total per day over the last [`DAYS`] days, the stuck
//! orders as `backroom status` finds them, the open disputes with their due dates, and the
//! stack's alarms. Read-only. Money is in minor units with its currency; the JSON shape is only
//! ever added to.

use std::collections::BTreeMap;

use backroom_core::{Currency, Money, OrderId, OrderStatus};
use backroom_db::{DbError, Store};
use backroom_stripe::StripeClient;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::disputes::{OpenDispute, open_disputes};
use crate::status::{Alarms, stuck_orders};
use crate::watchdog::Deadlines;

/// The days the series covers, today (UTC) included.
pub const DAYS: u32 = 30;
/// At most this many stuck orders are listed.
const STUCK_SHOWN: u32 = 100;

/// An amount in minor units with its currency, as the owner page's JSON writes money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Amount {
    pub amount: i64,
    pub currency: &'static str,
}

impl Amount {
    fn of(amount: i64, currency: Currency) -> Amount {
        Amount {
            amount,
            currency: currency.code(),
        }
    }
}

/// One UTC day: the orders placed that day whose payment went through (refunded ones included,
/// as in the digest), and their total per currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub orders: i64,
    /// One entry per currency sold in that day, by currency code; empty on a day without sales.
    pub revenue: Vec<Amount>,
}

/// An order past its stage's deadline, with how long it has waited in the stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stuck {
    pub order_id: OrderId,
    pub number: i64,
    /// The stage it waits in.
    pub status: OrderStatus,
    pub waiting_since: DateTime<Utc>,
    pub overdue_since: DateTime<Utc>,
    /// Seconds since `waiting_since`.
    pub age_seconds: i64,
    /// What the owner runs to look at it.
    pub command: String,
}

/// The open disputes, or why they are not known.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Disputes {
    Stripe {
        open: Vec<DisputeView>,
    },
    /// No Stripe key is configured: disputes live at Stripe only.
    NotConfigured {
        hint: String,
    },
    /// Stripe could not be read; the rest of the summary still is.
    Unavailable {
        error: String,
    },
}

/// An open dispute as the page lists it.
#[derive(Clone, Debug, Serialize)]
pub struct DisputeView {
    pub id: String,
    pub status: String,
    pub reason: String,
    pub amount: Amount,
    pub due_by: Option<DateTime<Utc>>,
    pub evidence_drafted: bool,
    pub submitted: bool,
    pub order_id: Option<OrderId>,
    pub order_number: Option<i64>,
    /// What the owner runs next, if anything: the submission of drafted evidence.
    pub command: Option<String>,
}

impl From<OpenDispute> for DisputeView {
    fn from(d: OpenDispute) -> Self {
        let command = (d.evidence_drafted && !d.submitted).then(|| format!("backroom disputes submit {}", d.id));
        DisputeView {
            amount: money(d.amount),
            id: d.id,
            status: d.status,
            reason: d.reason,
            due_by: d.due_by,
            evidence_drafted: d.evidence_drafted,
            submitted: d.submitted,
            order_id: d.order_id,
            order_number: d.order_number,
            command,
        }
    }
}

fn money(m: Money) -> Amount {
    Amount::of(m.amount.get(), m.currency)
}

/// Everything the summary shows.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub generated_at: DateTime<Utc>,
    /// Oldest first, one entry per day, days without sales included.
    pub days: Vec<Day>,
    /// Oldest first.
    pub stuck: Vec<Stuck>,
    pub disputes: Disputes,
    pub alarms: Alarms,
}

/// The days `[today - DAYS + 1, today]` with the database's sums, zero where nothing sold.
pub fn day_series(sums: &[backroom_db::store::status::DaySum], today: NaiveDate) -> Vec<Day> {
    let mut by_day: BTreeMap<NaiveDate, (i64, Vec<Amount>)> = BTreeMap::new();
    for s in sums {
        let entry = by_day.entry(s.day).or_default();
        entry.0 += s.orders;
        entry.1.push(Amount::of(s.amount, s.currency));
    }
    (0..DAYS)
        .rev()
        .filter_map(|back| today.checked_sub_days(chrono::Days::new(u64::from(back))))
        .map(|date| {
            let (orders, mut revenue) = by_day.remove(&date).unwrap_or_default();
            revenue.sort_by_key(|a| a.currency);
            Day { date, orders, revenue }
        })
        .collect()
}

/// Reads the summary. The disputes come from Stripe when a client is given; a Stripe failure is
/// shown in the summary, a database failure is the error.
pub async fn gather(
    store: &Store,
    stripe: Option<&StripeClient>,
    deadlines: &Deadlines,
    now: DateTime<Utc>,
    alarms: Alarms,
) -> Result<Summary, DbError> {
    let today = now.date_naive();
    let first = today
        .checked_sub_days(chrono::Days::new(u64::from(DAYS - 1)))
        .unwrap_or(today);
    let since = first.and_time(chrono::NaiveTime::MIN).and_utc();
    let sums = store.sales_by_day(since, now + chrono::Duration::seconds(1)).await?;
    let stuck = stuck_orders(store, deadlines, now, STUCK_SHOWN)
        .await?
        .into_iter()
        .map(|o| Stuck {
            command: format!("backroom orders show {}", o.id),
            order_id: o.id,
            number: o.number,
            status: o.status,
            waiting_since: o.waiting_since,
            overdue_since: o.overdue_since,
            age_seconds: (now - o.waiting_since).num_seconds().max(0),
        })
        .collect();
    let disputes = match stripe {
        None => Disputes::NotConfigured {
            hint: "set STRIPE_SECRET_KEY (a restricted key that may read disputes is enough) to see them here; \
                   `backroom disputes list` reads the same"
                .into(),
        },
        Some(stripe) => match open_disputes(stripe, store).await {
            Ok(open) => Disputes::Stripe {
                open: open.into_iter().map(DisputeView::from).collect(),
            },
            Err(e) => Disputes::Unavailable {
                error: format!("{e:#}"),
            },
        },
    };
    Ok(Summary {
        generated_at: now,
        days: day_series(&sums, today),
        stuck,
        disputes,
        alarms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use backroom_db::store::status::DaySum;

    #[test]
    fn the_series_has_every_day_of_the_window_with_zeros_where_nothing_sold() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let eur = Currency::parse("EUR").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let sums = [
            DaySum {
                day: today,
                currency: usd,
                orders: 1,
                amount: 2500,
            },
            DaySum {
                day: today,
                currency: eur,
                orders: 2,
                amount: 3200,
            },
            // Outside the window: not shown.
            DaySum {
                day: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                currency: eur,
                orders: 9,
                amount: 9900,
            },
        ];
        let days = day_series(&sums, today);
        assert_eq!(days.len(), DAYS as usize);
        assert_eq!(days[0].date, NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        assert!(days[..29].iter().all(|d| d.orders == 0 && d.revenue.is_empty()));
        let last = &days[29];
        assert_eq!(last.date, today);
        assert_eq!(last.orders, 3);
        assert_eq!(
            last.revenue,
            vec![Amount::of(3200, eur), Amount::of(2500, usd)],
            "one sum per currency, by code"
        );
    }
}
