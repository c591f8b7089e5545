//! Erasing an order's buyer data: the email and the shipping name and address (`orders.email`,
//! `orders.shipping`), and any copy of them in the order's timeline, its alerts and the
//! reconciler's reports. Amounts, items, parcels and the timeline's entries stay; a timeline
//! entry says the data was forgotten.

use backroom_core::ports::StoreError;
use backroom_core::{Cause, OrderId, OrderStatus, ShippingAddress};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Store;
use crate::retry::TxError;
use crate::sql;

/// What is written in place of an erased value found inside a text.
pub const ERASED: &str = "[forgotten]";

/// What forgetting one order came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Forgotten {
    Now,
    /// Forgotten before: nothing changed.
    Already,
    /// The order's status is not one the buyer data may go in: nothing changed.
    Refused(OrderStatus),
    NotFound,
}

impl Store {
    /// Erases the order's buyer data when its status is in `allowed`, in one transaction; the
    /// timeline gets an entry with `cause`. Idempotent: a forgotten order is left alone.
    pub async fn forget_buyer(
        &self,
        id: OrderId,
        allowed: &'static [OrderStatus],
        cause: &Cause,
    ) -> Result<Forgotten, StoreError> {
        let cause = cause.to_string();
        let result = self
            .db()
            .with_retry(|tx| {
                let cause = cause.clone();
                Box::pin(async move {
                    let Some(row) = sql::query_opt(
                        tx,
                        "SELECT status, email, shipping, forgotten_at FROM orders WHERE id = $1 FOR UPDATE",
                        &[&id.uuid()],
                    )
                    .await?
                    else {
                        return Ok::<_, TxError<std::convert::Infallible>>(Forgotten::NotFound);
                    };
                    let status: String = row.get(0);
                    let status = OrderStatus::parse(&status)
                        .ok_or_else(|| crate::DbError::Corrupt(format!("order status {status:?}")))?;
                    if row.get::<_, Option<DateTime<Utc>>>(3).is_some() {
                        return Ok(Forgotten::Already);
                    }
                    if !allowed.contains(&status) {
                        return Ok(Forgotten::Refused(status));
                    }
                    let email: Option<String> = row.get(1);
                    let shipping: Option<ShippingAddress> = row
                        .get::<_, Option<serde_json::Value>>(2)
                        .map(serde_json::from_value)
                        .transpose()
                        .map_err(|_| crate::DbError::Corrupt("order shipping address".into()))?;
                    let mut secrets: Vec<String> = email.into_iter().collect();
                    secrets.extend(shipping.iter().flat_map(ShippingAddress::personal_parts));
                    // Short values ("1", "LV") would match unrelated text; they never stand alone.
                    secrets.retain(|s| s.chars().count() >= 4);
                    sql::execute(
                        tx,
                        "UPDATE orders SET email = NULL, shipping = NULL, forgotten_at = now(), updated_at = now() \
                         WHERE id = $1",
                        &[&id.uuid()],
                    )
                    .await?;
                    for s in &secrets {
                        sql::execute(
                            tx,
                            "UPDATE order_timeline SET detail = replace(detail, $2, $3) \
                             WHERE order_id = $1 AND strpos(detail, $2) > 0",
                            &[&id.uuid(), s, &ERASED],
                        )
                        .await?;
                        sql::execute(
                            tx,
                            "UPDATE alerts SET message = replace(message, $2, $3) \
                             WHERE (order_id = $1 OR order_id IS NULL) AND strpos(message, $2) > 0",
                            &[&id.uuid(), s, &ERASED],
                        )
                        .await?;
                        sql::execute(
                            tx,
                            "UPDATE reconcile_runs SET report = replace(report::text, $1, $2)::jsonb \
                             WHERE strpos(report::text, $1) > 0",
                            &[s, &ERASED],
                        )
                        .await?;
                    }
                    let status = status.as_str();
                    sql::execute(
                        tx,
                        "INSERT INTO order_timeline (id, order_id, at, from_status, to_status, cause, detail) \
                         VALUES ($1, $2, clock_timestamp(), $3, $3, $4, $5)",
                        &[
                            &Uuid::new_v4(),
                            &id.uuid(),
                            &status,
                            &cause,
                            &"the buyer's data (email, name and address) was forgotten",
                        ],
                    )
                    .await?;
                    Ok(Forgotten::Now)
                })
            })
            .await;
        match result {
            Ok(f) => Ok(f),
            Err(TxError::Db(e)) => Err(e.into()),
            Err(TxError::Abort(never)) => match never {},
        }
    }

    /// Orders still holding buyer data whose retention ran out: delivered before `before`, or
    /// ended (canceled, refunded, never paid) before it, by the time they reached that status.
    pub async fn orders_past_retention(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<OrderId>, StoreError> {
        Ok(self
            .db()
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT id FROM orders WHERE forgotten_at IS NULL AND (email IS NOT NULL OR shipping IS NOT NULL) \
                         AND ((status = 'delivered' AND delivered_at < $1) \
                         OR (status IN ('canceled', 'refunded', 'expired', 'failed', 'payment_failed') \
                         AND coalesce((SELECT max(t.at) FROM order_timeline t WHERE t.order_id = orders.id \
                         AND t.to_status = orders.status), orders.updated_at) < $1)) ORDER BY id LIMIT $2",
                        &[&before, &limit],
                    )
                    .await?;
                    Ok(rows.iter().map(|r| OrderId::from_uuid(r.get::<_, Uuid>(0))).collect())
                })
            })
            .await?)
    }

    /// Orders whose buyer data was forgotten in `[from, to)`.
    pub async fn count_forgotten_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64, crate::DbError> {
        self.db()
            .read(|c| {
                Box::pin(async move {
                    let row = sql::query_one(
                        c,
                        "SELECT count(*) FROM orders WHERE forgotten_at >= $1 AND forgotten_at < $2",
                        &[&from, &to],
                    )
                    .await?;
                    Ok(row.get::<_, i64>(0))
                })
            })
            .await
    }
}
