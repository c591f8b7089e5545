//! Read-only queries for `backroom status` and the weekly digest. Nothing here writes; every
//! query is plain SQL that Aurora DSQL runs (no temporary tables, no sequences): counts grouped in
//! the database, sums cast back to `bigint` (a sum that would not fit is an error, never a wrap).

use backroom_core::earnings::{OrderAccount, earned_from};
use backroom_core::ports::{Alert, ReconcileRun, Severity};
use backroom_core::{Currency, OrderId, OrderStatus};
use chrono::{DateTime, Utc};

use super::Store;
use crate::error::DbError;
use crate::sql;

/// An order past the moment the watchdog calls it stuck.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckRow {
    pub id: OrderId,
    pub number: i64,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Per stage, the instant before which an order in it is stuck: a pending payment by its
/// creation time, the other stages by their last change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StuckCutoffs {
    pub pending_created_before: DateTime<Utc>,
    pub paid_updated_before: DateTime<Utc>,
    pub submitted_updated_before: DateTime<Utc>,
    pub in_production_updated_before: DateTime<Utc>,
}

/// Where a catch-up job got to, and when it last moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CursorRow {
    pub name: String,
    pub position_at: DateTime<Utc>,
    pub position_id: String,
    pub updated_at: DateTime<Utc>,
}

/// The paid orders of one UTC day in one currency, and their total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaySum {
    pub day: chrono::NaiveDate,
    pub currency: Currency,
    pub orders: i64,
    /// Minor units.
    pub amount: i64,
}

/// Orders and their total in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrencySum {
    pub currency: Currency,
    pub orders: i64,
    /// Minor units.
    pub amount: i64,
}

fn status(s: &str) -> Result<OrderStatus, DbError> {
    OrderStatus::parse(s).ok_or_else(|| DbError::Corrupt(format!("order status {s:?}")))
}

fn run(report: serde_json::Value) -> Result<ReconcileRun, DbError> {
    serde_json::from_value(report).map_err(|e| DbError::Corrupt(format!("reconcile run: {e}")))
}

fn sums(rows: &[tokio_postgres::Row]) -> Result<Vec<CurrencySum>, DbError> {
    rows.iter()
        .map(|r| {
            let code: String = r.get(0);
            Ok(CurrencySum {
                currency: Currency::parse(&code).map_err(|e| DbError::Corrupt(format!("currency {code:?}: {e}")))?,
                orders: r.get(1),
                amount: r.get(2),
            })
        })
        .collect()
}

impl Store {
    /// How many orders there are in each status (statuses with none are left out).
    pub async fn order_counts(&self) -> Result<Vec<(OrderStatus, i64)>, DbError> {
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT status, count(*) FROM orders GROUP BY status ORDER BY status",
                        &[],
                    )
                    .await?;
                    rows.iter().map(|r| Ok((status(r.get(0))?, r.get(1)))).collect()
                })
            })
            .await
    }

    /// Orders past their stage's cutoff, oldest first.
    pub async fn stuck_orders(&self, cutoffs: StuckCutoffs, limit: u32) -> Result<Vec<StuckRow>, DbError> {
        let limit = i64::from(limit);
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT id, number, status, created_at, updated_at FROM orders WHERE \
                         (status = 'pending_payment' AND created_at < $1) \
                         OR (status = 'paid' AND updated_at < $2) \
                         OR (status = 'submitted' AND updated_at < $3) \
                         OR (status = 'in_production' AND updated_at < $4) \
                         ORDER BY updated_at, id LIMIT $5",
                        &[
                            &cutoffs.pending_created_before,
                            &cutoffs.paid_updated_before,
                            &cutoffs.submitted_updated_before,
                            &cutoffs.in_production_updated_before,
                            &limit,
                        ],
                    )
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(StuckRow {
                                id: OrderId::from_uuid(r.get(0)),
                                number: r.get(1),
                                status: status(r.get(2))?,
                                created_at: r.get(3),
                                updated_at: r.get(4),
                            })
                        })
                        .collect()
                })
            })
            .await
    }

    /// Every catch-up cursor, by name.
    pub async fn cursors(&self) -> Result<Vec<CursorRow>, DbError> {
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT name, position_at, position_id, updated_at FROM cursors ORDER BY name",
                        &[],
                    )
                    .await?;
                    Ok(rows
                        .iter()
                        .map(|r| CursorRow {
                            name: r.get(0),
                            position_at: r.get(1),
                            position_id: r.get(2),
                            updated_at: r.get(3),
                        })
                        .collect())
                })
            })
            .await
    }

    /// The newest reconcile runs, newest first.
    pub async fn last_reconcile_runs(&self, limit: u32) -> Result<Vec<ReconcileRun>, DbError> {
        let limit = i64::from(limit);
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT report FROM reconcile_runs ORDER BY started_at DESC, id LIMIT $1",
                        &[&limit],
                    )
                    .await?;
                    rows.iter().map(|r| run(r.get(0))).collect()
                })
            })
            .await
    }

    /// Reconcile runs that started in `[since, until)`, newest first, at most `limit`.
    pub async fn reconcile_runs(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ReconcileRun>, DbError> {
        let limit = i64::from(limit);
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT report FROM reconcile_runs WHERE started_at >= $1 AND started_at < $2 \
                         ORDER BY started_at DESC, id LIMIT $3",
                        &[&since, &until, &limit],
                    )
                    .await?;
                    rows.iter().map(|r| run(r.get(0))).collect()
                })
            })
            .await
    }

    /// Alerts last raised at or after `since`, newest first, leaving out one kind (the digest's
    /// own record); with how many there are in all.
    pub async fn alerts_since(
        &self,
        since: DateTime<Utc>,
        except_kind: &str,
        limit: u32,
    ) -> Result<(Vec<Alert>, i64), DbError> {
        let limit = i64::from(limit);
        let except_kind = except_kind.to_string();
        self.db
            .read(|c| {
                let except_kind = except_kind.clone();
                Box::pin(async move {
                    let total: i64 = sql::query_one(
                        c,
                        "SELECT count(*) FROM alerts WHERE last_raised_at >= $1 AND kind <> $2",
                        &[&since, &except_kind],
                    )
                    .await?
                    .get(0);
                    let rows = sql::query(
                        c,
                        "SELECT severity, kind, order_id, message, last_raised_at, occurrences FROM alerts \
                         WHERE last_raised_at >= $1 AND kind <> $2 \
                         ORDER BY last_raised_at DESC, dedupe_key LIMIT $3",
                        &[&since, &except_kind, &limit],
                    )
                    .await?;
                    let alerts = rows
                        .iter()
                        .map(|r| {
                            let severity: String = r.get(0);
                            Ok(Alert {
                                severity: Severity::parse(&severity)
                                    .ok_or_else(|| DbError::Corrupt(format!("alert severity {severity:?}")))?,
                                kind: r.get(1),
                                order_id: r.get::<_, Option<uuid::Uuid>>(2).map(OrderId::from_uuid),
                                message: r.get(3),
                                at: r.get(4),
                                occurrences: r.get(5),
                            })
                        })
                        .collect::<Result<Vec<_>, DbError>>()?;
                    Ok((alerts, total))
                })
            })
            .await
    }

    /// Alerts of one kind first raised in `[since, until)`.
    pub async fn count_alerts_created(
        &self,
        kind: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64, DbError> {
        let kind = kind.to_string();
        self.db
            .read(|c| {
                let kind = kind.clone();
                Box::pin(async move {
                    Ok(sql::query_one(
                        c,
                        "SELECT count(*) FROM alerts WHERE kind = $1 AND created_at >= $2 AND created_at < $3",
                        &[&kind, &since, &until],
                    )
                    .await?
                    .get(0))
                })
            })
            .await
    }

    /// Orders placed in `[since, until)` whose payment went through (refunded ones included), per
    /// currency.
    pub async fn sales_between(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<CurrencySum>, DbError> {
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT currency, count(*), sum(total_cents)::bigint FROM orders \
                         WHERE created_at >= $1 AND created_at < $2 AND payment IN ('paid', 'refunded') \
                         GROUP BY currency ORDER BY currency",
                        &[&since, &until],
                    )
                    .await?;
                    sums(&rows)
                })
            })
            .await
    }

    /// The orders placed in `[since, until)` whose payment went through (refunded ones
    /// included), per UTC day of their creation and currency, oldest first: how many, and what
    /// they were charged (shipping and tax included; the items' total for an order whose charge
    /// is not recorded). Days without a sale are left out.
    pub async fn sales_by_day(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<DaySum>, DbError> {
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT (created_at AT TIME ZONE 'UTC')::date, currency, total_cents, charged FROM orders \
                         WHERE created_at >= $1 AND created_at < $2 AND payment IN ('paid', 'refunded') \
                         ORDER BY created_at, id",
                        &[&since, &until],
                    )
                    .await?;
                    let mut sums: Vec<DaySum> = Vec::new();
                    for r in &rows {
                        let day: chrono::NaiveDate = r.get(0);
                        let code: String = r.get(1);
                        let currency =
                            Currency::parse(&code).map_err(|e| DbError::Corrupt(format!("currency {code:?}: {e}")))?;
                        let charged = r
                            .get::<_, Option<serde_json::Value>>(3)
                            .map(serde_json::from_value::<backroom_core::earnings::Charged>)
                            .transpose()
                            .map_err(|e| DbError::Corrupt(format!("charged amounts: {e}")))?;
                        let amount = charged.map_or_else(|| r.get::<_, i64>(2), |c| c.total.get());
                        match sums.iter_mut().find(|s| s.day == day && s.currency == currency) {
                            Some(sum) => {
                                sum.orders += 1;
                                sum.amount = sum
                                    .amount
                                    .checked_add(amount)
                                    .ok_or_else(|| DbError::Corrupt(format!("the sales of {day} overflow")))?;
                            }
                            None => sums.push(DaySum {
                                day,
                                currency,
                                orders: 1,
                                amount,
                            }),
                        }
                    }
                    Ok(sums)
                })
            })
            .await
    }

    /// The accounts of the orders placed in `[since, until)` that are paid and not refunded,
    /// oldest first: what they were charged, Stripe's fee and Printful's bill as far as known.
    pub async fn paid_accounts_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<OrderAccount>, DbError> {
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT id, number, currency, charged, stripe_fee, printful_costs FROM orders \
                         WHERE created_at >= $1 AND created_at < $2 AND payment = 'paid' AND charged IS NOT NULL \
                         ORDER BY created_at, id",
                        &[&since, &until],
                    )
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let id = OrderId::from_uuid(r.get(0));
                            let corrupt = |what: &str| DbError::Corrupt(format!("order {id}: {what}"));
                            let code: String = r.get(2);
                            let currency = Currency::parse(&code).map_err(|_| corrupt("currency"))?;
                            let json = |at: usize| r.get::<_, Option<serde_json::Value>>(at);
                            let charged = json(3)
                                .and_then(|v| serde_json::from_value(v).ok())
                                .ok_or_else(|| corrupt("charged amounts"))?;
                            let fee = json(4)
                                .map(serde_json::from_value)
                                .transpose()
                                .map_err(|_| corrupt("Stripe fee"))?;
                            let costs = json(5)
                                .map(serde_json::from_value)
                                .transpose()
                                .map_err(|_| corrupt("Printful costs"))?;
                            Ok(OrderAccount {
                                order_id: id,
                                number: r.get(1),
                                earned: earned_from(charged, currency, fee, costs),
                            })
                        })
                        .collect()
                })
            })
            .await
    }

    /// Orders placed in `[since, until)` that were never paid (expired, failed or still open).
    pub async fn unpaid_between(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<i64, DbError> {
        self.db
            .read(|c| {
                Box::pin(async move {
                    Ok(sql::query_one(
                        c,
                        "SELECT count(*) FROM orders WHERE created_at >= $1 AND created_at < $2 \
                         AND payment NOT IN ('paid', 'refunded')",
                        &[&since, &until],
                    )
                    .await?
                    .get(0))
                })
            })
            .await
    }

    /// Orders refunded in full in `[since, until)` (by the time of the timeline entry), per
    /// currency, and how many partial refunds were noted in that time.
    pub async fn refunds_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(Vec<CurrencySum>, i64), DbError> {
        self.db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT currency, count(*), sum(total_cents)::bigint FROM orders WHERE id IN \
                         (SELECT order_id FROM order_timeline WHERE to_status = 'refunded' \
                         AND from_status <> 'refunded' AND at >= $1 AND at < $2) \
                         GROUP BY currency ORDER BY currency",
                        &[&since, &until],
                    )
                    .await?;
                    let partial: i64 = sql::query_one(
                        c,
                        "SELECT count(*) FROM order_timeline WHERE at >= $1 AND at < $2 \
                         AND detail LIKE 'partially refunded%'",
                        &[&since, &until],
                    )
                    .await?
                    .get(0);
                    Ok((sums(&rows)?, partial))
                })
            })
            .await
    }

    /// Paid orders not yet at Printful that the owner has not released (what a pause holds back).
    pub async fn unreleased_paid_orders(&self) -> Result<i64, DbError> {
        self.db
            .read(|c| {
                Box::pin(async move {
                    Ok(sql::query_one(
                        c,
                        "SELECT count(*) FROM orders WHERE status = 'paid' AND fulfillment_released_at IS NULL",
                        &[],
                    )
                    .await?
                    .get(0))
                })
            })
            .await
    }
}
