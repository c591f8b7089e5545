use std::collections::BTreeMap;
use std::sync::Arc;

use backroom_core::earnings::PrintfulCosts;
use backroom_core::machine::{Decision, Exception, Fulfillment, Payment, PrintfulMark};
use backroom_core::order::SkuQuantity;
use backroom_core::owed::WorkLog;
use backroom_core::ports::{
    Applied, ApplyError, Change, Changed, CreateOrderError, EventClaim, NewOrder, OrderEventType, OrderFilter,
    OrderStore, OutboxEntry, PaymentDetails, PrintfulUpdate, ShipmentRecord, StoreError,
};
use backroom_core::pricing::{PriceEntry, PricedOrder, check_stock, price, releases_stock};
use backroom_core::{
    Cause, Cents, Currency, Email, Fact, Money, Order, OrderId, OrderItem, OrderState, OrderStatus, Sku, TimelineEntry,
};
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use super::inbox::claim_in;
use super::{Store, store_err};
use crate::error::DbError;
use crate::retry::TxError;
use crate::sql;

const ORDER_COLUMNS: &str = "id, number, payment, fulfillment, printful_mark, printful_mark_at, amount_mismatch, \
     total_cents, currency, email, stripe_session_id, stripe_payment_intent_id, printful_order_id, created_at, updated_at, \
     fulfillment_released_at, shipping, submit_started_at, work_attempts, work_due_at, work_failing_since, work_error, amount_accepted, charged, \
     stripe_fee, printful_costs";

const ITEM_COLUMNS: &str = "order_id, sku, name, size, quantity, unit_price_cents, printful_sync_variant_id";

impl OrderStore for Store {
    async fn create_order(&self, new: NewOrder) -> Result<Order, CreateOrderError> {
        if new.items.is_empty() {
            return Err(CreateOrderError::Empty);
        }
        let new = Arc::new(new);
        let result = self
            .db
            .with_retry(|tx| {
                let new = new.clone();
                Box::pin(async move { create_in(tx, &new).await })
            })
            .await;
        match result {
            Ok(order) => Ok(order),
            Err(TxError::Abort(e)) => Err(e),
            Err(TxError::Db(e)) => Err(CreateOrderError::Store(e.into())),
        }
    }

    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self
            .db
            .read(|c| Box::pin(async move { Ok(load_orders(c, "WHERE id = $1", &[&id.uuid()]).await?.pop()) }))
            .await?)
    }

    async fn orders(&self, filter: &OrderFilter) -> Result<Vec<Order>, StoreError> {
        let limit = i64::from(filter.limit.unwrap_or(100));
        let status = filter.status.map(|s| s.as_str().to_string());
        Ok(self
            .db
            .read(|c| {
                let status = status.clone();
                Box::pin(async move {
                    match status {
                        Some(s) => {
                            load_orders(
                                c,
                                "WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2",
                                &[&s, &limit],
                            )
                            .await
                        }
                        None => load_orders(c, "ORDER BY created_at DESC, id LIMIT $1", &[&limit]).await,
                    }
                })
            })
            .await?)
    }

    async fn timeline(&self, id: OrderId) -> Result<Vec<TimelineEntry>, StoreError> {
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT at, from_status, to_status, cause, detail FROM order_timeline \
                         WHERE order_id = $1 ORDER BY at, id",
                        &[&id.uuid()],
                    )
                    .await?;
                    rows.iter().map(timeline_entry).collect()
                })
            })
            .await?)
    }

    async fn apply_fact(
        &self,
        id: OrderId,
        fact: &Fact,
        cause: &Cause,
        claim: Option<&EventClaim>,
    ) -> Result<Applied, ApplyError> {
        let result = self
            .db
            .with_retry(|tx| {
                let (fact, cause, claim) = (fact.clone(), cause.clone(), claim.cloned());
                Box::pin(async move {
                    if let Some(claim) = &claim
                        && !claim_in(tx, claim, Some(id.uuid())).await?
                    {
                        return Ok(Applied::AlreadyProcessed);
                    }
                    apply_in(tx, id, &fact, &cause).await
                })
            })
            .await;
        match result {
            Ok(applied) => Ok(applied),
            Err(TxError::Abort(e)) => Err(e),
            Err(TxError::Db(e)) => Err(ApplyError::Store(e.into())),
        }
    }

    async fn apply_change(&self, change: Change<'_>) -> Result<Changed, ApplyError> {
        let result = self
            .db
            .with_retry(|tx| {
                let owned = OwnedChange::of(&change);
                Box::pin(async move { change_in(tx, &owned).await })
            })
            .await;
        match result {
            Ok(changed) => Ok(changed),
            Err(TxError::Abort(e)) => Err(e),
            Err(TxError::Db(e)) => Err(ApplyError::Store(e.into())),
        }
    }

    async fn attach_checkout_session(
        &self,
        id: OrderId,
        session_id: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .with_retry(|tx| {
                let session_id = session_id.to_string();
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "UPDATE orders SET stripe_session_id = $2, checkout_expires_at = $3, updated_at = now() WHERE id = $1",
                        &[&id.uuid(), &session_id, &expires_at],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    async fn record_payment_details(&self, id: OrderId, details: &PaymentDetails) -> Result<(), StoreError> {
        self.db
            .with_retry(|tx| {
                let details = details.clone();
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "UPDATE orders SET stripe_payment_intent_id = coalesce($2, stripe_payment_intent_id), \
                         email = CASE WHEN forgotten_at IS NULL THEN coalesce($3, email) END, \
                         shipping = CASE WHEN forgotten_at IS NULL THEN coalesce($4, shipping) END, charged = coalesce($5, charged), \
                         stripe_fee = coalesce($6, stripe_fee), updated_at = now() WHERE id = $1",
                        &[
                            &id.uuid(),
                            &details.payment_intent_id,
                            &details.email.as_ref().map(Email::as_str),
                            &details.shipping.as_ref().map(|a| serde_json::to_value(a).unwrap_or_default()),
                            &details.charged.map(|c| serde_json::to_value(c).unwrap_or_default()),
                            &details.stripe_fee.map(|f| serde_json::to_value(f).unwrap_or_default()),
                        ],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    async fn record_earnings(
        &self,
        id: OrderId,
        stripe_fee: Option<Money>,
        printful_costs: Option<PrintfulCosts>,
    ) -> Result<(), StoreError> {
        let fee = stripe_fee.map(|f| serde_json::to_value(f).unwrap_or_default());
        let costs = printful_costs.map(|c| serde_json::to_value(c).unwrap_or_default());
        self.db
            .with_retry(|tx| {
                let (fee, costs) = (fee.clone(), costs.clone());
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "UPDATE orders SET stripe_fee = coalesce($2, stripe_fee), \
                         printful_costs = coalesce($3, printful_costs), updated_at = now() \
                         WHERE id = $1 AND (stripe_fee IS DISTINCT FROM coalesce($2, stripe_fee) \
                         OR printful_costs IS DISTINCT FROM coalesce($3, printful_costs))",
                        &[&id.uuid(), &fee, &costs],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    async fn set_printful_order_id(&self, id: OrderId, printful_order_id: i64) -> Result<(), StoreError> {
        self.write(
            "UPDATE orders SET printful_order_id = $2, updated_at = now() WHERE id = $1 AND printful_order_id IS DISTINCT FROM $2",
            id,
            printful_order_id,
        )
        .await
    }

    async fn record_shipment(&self, id: OrderId, shipment: &ShipmentRecord) -> Result<(), StoreError> {
        self.db
            .with_retry(|tx| {
                let s = shipment.clone();
                Box::pin(async move { Ok(upsert_shipment(tx, id, &s).await?) })
            })
            .await
            .map_err(store_err)
    }

    async fn shipments(&self, id: OrderId) -> Result<Vec<ShipmentRecord>, StoreError> {
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                            c,
                            "SELECT provider_shipment_id, carrier, service, tracking_number, tracking_url, shipped_at, reshipment \
                             FROM shipments WHERE order_id = $1 ORDER BY shipped_at NULLS LAST, provider_shipment_id",
                            &[&id.uuid()],
                        )
                        .await?;
                    Ok(rows
                        .iter()
                        .map(|r| ShipmentRecord {
                            provider_shipment_id: r.get(0),
                            carrier: r.get(1),
                            service: r.get(2),
                            tracking_number: r.get(3),
                            tracking_url: r.get(4),
                            shipped_at: r.get(5),
                            reshipment: r.get(6),
                        })
                        .collect())
                })
            })
            .await?)
    }

    async fn release_fulfillment(&self, id: OrderId) -> Result<bool, StoreError> {
        self.db
            .with_retry(|tx| {
                Box::pin(async move {
                    let n = sql::execute(
                        tx,
                        "UPDATE orders SET fulfillment_released_at = now(), updated_at = now() \
                         WHERE id = $1 AND fulfillment_released_at IS NULL",
                        &[&id.uuid()],
                    )
                    .await?;
                    Ok(n == 1)
                })
            })
            .await
            .map_err(store_err)
    }

    async fn order_by_payment_intent(&self, payment_intent_id: &str) -> Result<Option<Order>, StoreError> {
        let pi = payment_intent_id.to_string();
        Ok(self
            .db
            .read(|c| {
                let pi = pi.clone();
                Box::pin(async move {
                    Ok(load_orders(c, "WHERE stripe_payment_intent_id = $1", &[&pi])
                        .await?
                        .pop())
                })
            })
            .await?)
    }
}

impl Store {
    /// One idempotent single-row update, retried.
    async fn write(&self, sql: &'static str, id: OrderId, value: i64) -> Result<(), StoreError> {
        self.db
            .with_retry(|tx| {
                Box::pin(async move {
                    sql::execute(tx, sql, &[&id.uuid(), &value]).await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }
}

/// Applies a fact inside a caller's transaction (the order row is locked by primary key, which
/// on DSQL makes it part of the commit-time conflict check).
pub async fn apply_in<C: GenericClient>(
    tx: &C,
    id: OrderId,
    fact: &Fact,
    cause: &Cause,
) -> Result<Applied, TxError<ApplyError>> {
    let row = sql::query_opt(
        tx,
        "SELECT payment, fulfillment, printful_mark, printful_mark_at, amount_mismatch, total_cents, currency, \
         amount_accepted FROM orders WHERE id = $1 FOR UPDATE",
        &[&id.uuid()],
    )
    .await?
    .ok_or(TxError::Abort(ApplyError::NotFound(id)))?;
    let state = OrderState {
        amount_accepted: row.get::<_, Option<bool>>(7).unwrap_or(false),
        ..state_from(&row, 0)?
    };
    let expected = money_from(&row, 5)?;
    match state.decide(expected, fact) {
        Decision::Refuse(refusal) => Ok(Applied::Refused(refusal)),
        Decision::Note(note) => {
            let status = state.status();
            append_timeline(tx, id, status, status, cause, &note).await?;
            Ok(Applied::Noted(note))
        }
        Decision::Apply(t) => {
            let s = t.state;
            sql::execute(
                tx,
                "UPDATE orders SET status = $2, payment = $3, fulfillment = $4, printful_mark = $5, printful_mark_at = $6, \
                 amount_mismatch = $7, amount_accepted = $8, updated_at = now() WHERE id = $1",
                &[
                    &id.uuid(),
                    &t.to.as_str(),
                    &s.payment.as_str(),
                    &s.fulfillment.as_str(),
                    &s.mark.map(|m| m.exception.as_str()),
                    &s.mark.map(|m| m.at),
                    &s.amount_mismatch,
                    &s.amount_accepted,
                ],
            )
            .await?;
            if let Fact::Delivered { at } = fact {
                sql::execute(
                    tx,
                    "UPDATE orders SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL",
                    &[&id.uuid(), at],
                )
                .await?;
            }
            let entry = append_timeline(tx, id, t.from, t.to, cause, &t.detail).await?;
            if let Some(event) = OrderEventType::of_transition(t.from, t.to) {
                super::events::record_in(tx, entry, event).await?;
            }
            if releases_stock(s.payment) {
                release_in(tx, id).await?;
            }
            Ok(Applied::Transitioned(t))
        }
    }
}

/// A parcel recorded, or brought up to date (a blank field never erases a known one).
async fn upsert_shipment<C: GenericClient>(tx: &C, id: OrderId, s: &ShipmentRecord) -> Result<(), DbError> {
    sql::execute(
        tx,
        "INSERT INTO shipments (order_id, provider_shipment_id, carrier, service, tracking_number, tracking_url, \
         shipped_at, reshipment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (order_id, provider_shipment_id) DO UPDATE SET \
         carrier = coalesce(nullif(EXCLUDED.carrier, ''), shipments.carrier), \
         service = coalesce(nullif(EXCLUDED.service, ''), shipments.service), \
         tracking_number = coalesce(nullif(EXCLUDED.tracking_number, ''), shipments.tracking_number), \
         tracking_url = coalesce(nullif(EXCLUDED.tracking_url, ''), shipments.tracking_url), \
         shipped_at = coalesce(EXCLUDED.shipped_at, shipments.shipped_at), \
         reshipment = EXCLUDED.reshipment OR shipments.reshipment, updated_at = now()",
        &[
            &id.uuid(),
            &s.provider_shipment_id,
            &s.carrier,
            &s.service,
            &s.tracking_number,
            &s.tracking_url,
            &s.shipped_at,
            &s.reshipment,
        ],
    )
    .await?;
    Ok(())
}

/// A [`Change`] owned, for a transaction that may run more than once.
struct OwnedChange {
    id: OrderId,
    fact: Fact,
    cause: Cause,
    claim: Option<EventClaim>,
    details: Option<PaymentDetails>,
    printful: Option<PrintfulUpdate>,
}

impl OwnedChange {
    fn of(c: &Change<'_>) -> OwnedChange {
        OwnedChange {
            id: c.id,
            fact: c.fact.clone(),
            cause: c.cause.clone(),
            claim: c.claim.cloned(),
            details: c.details.cloned(),
            printful: c.printful.cloned(),
        }
    }
}

/// The order, whether the claimed event was processed, and whether the buyer's data was
/// forgotten: one read, which also marks the order row for the commit-time conflict check.
static CHANGE_READ: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {ORDER_COLUMNS}, EXISTS (SELECT 1 FROM inbox_events WHERE source = $2 AND event_id = $3), \
         forgotten_at IS NOT NULL FROM orders WHERE id = $1 FOR UPDATE"
    )
});

/// Everything a change writes, in one statement: the order's new state and the payment's
/// details, the timeline entry, the outbox row, the stock given back (the holds and their SKUs'
/// stock rows), the event's claim. Each
/// part is switched by its parameters (a NULL id or flag leaves it out).
const CHANGE_WRITE: &str = "WITH o AS (\
     UPDATE orders SET \
       status = CASE WHEN $2 THEN $3::text ELSE status END, \
       payment = CASE WHEN $2 THEN $4::text ELSE payment END, \
       fulfillment = CASE WHEN $2 THEN $5::text ELSE fulfillment END, \
       printful_mark = CASE WHEN $2 THEN $6::text ELSE printful_mark END, \
       printful_mark_at = CASE WHEN $2 THEN $7::timestamptz ELSE printful_mark_at END, \
       amount_mismatch = CASE WHEN $2 THEN $8::bool ELSE amount_mismatch END, \
       amount_accepted = CASE WHEN $2 THEN $9::bool ELSE amount_accepted END, \
       delivered_at = coalesce(delivered_at, $10::timestamptz), \
       stripe_payment_intent_id = coalesce($11::text, stripe_payment_intent_id), \
       email = CASE WHEN forgotten_at IS NULL THEN coalesce($12::text, email) END, \
       shipping = CASE WHEN forgotten_at IS NULL THEN coalesce($13::jsonb, shipping) END, \
       charged = coalesce($14::jsonb, charged), \
       stripe_fee = coalesce($15::jsonb, stripe_fee), \
       printful_order_id = coalesce($27::bigint, printful_order_id), \
       printful_costs = coalesce($28::jsonb, printful_costs), \
       updated_at = now() \
     WHERE id = $1 AND ($2::bool OR $26::bool) RETURNING id), \
   t AS (\
     INSERT INTO order_timeline (id, order_id, at, from_status, to_status, cause, detail) \
     SELECT $16::uuid, $1, clock_timestamp(), $17::text, $18::text, $19::text, $20::text WHERE $16::uuid IS NOT NULL \
     RETURNING id, order_id, at), \
   e AS (\
     INSERT INTO order_events (id, order_id, detail_type, at) \
     SELECT id, order_id, $21::text, at FROM t WHERE $21::text IS NOT NULL \
     ON CONFLICT (id) DO NOTHING RETURNING id, at), \
   s AS (\
     UPDATE stock_holds SET released_at = now() WHERE order_id = $1 AND released_at IS NULL AND $22::bool \
     RETURNING sku, quantity), \
   k AS (\
     UPDATE stock SET held = greatest(stock.held - r.quantity, 0), updated_at = now() \
     FROM (SELECT sku, sum(quantity)::bigint AS quantity FROM s GROUP BY sku) r WHERE stock.sku = r.sku RETURNING 1), \
   c AS (\
     INSERT INTO inbox_events (source, event_id, event_type, order_id) \
     SELECT $23::text, $24::text, $25::text, $1 WHERE $24::text IS NOT NULL \
     ON CONFLICT (source, event_id) DO NOTHING RETURNING 1) \
 SELECT (SELECT at FROM e), \
   EXISTS (SELECT 1 FROM order_events WHERE order_id = $1 AND published_at IS NULL), \
   (SELECT count(*) FROM o), (SELECT count(*) FROM s), (SELECT count(*) FROM c), (SELECT count(*) FROM k)";

/// A change in one transaction of four statements: read the order (and whether the event was
/// processed), read its items, write everything, and the commit. The order returned is the
/// one read with the change made to it, as the write leaves the row.
async fn change_in<C: GenericClient>(tx: &C, c: &OwnedChange) -> Result<Changed, TxError<ApplyError>> {
    let id = c.id;
    let source = c.claim.as_ref().map(|k| k.source.as_str());
    let event_id = c.claim.as_ref().map(|k| k.event_id.as_str());
    let row = sql::query_opt(tx, &CHANGE_READ, &[&id.uuid(), &source, &event_id])
        .await?
        .ok_or(TxError::Abort(ApplyError::NotFound(id)))?;
    if row.get::<_, bool>(26) {
        return Ok(Changed {
            applied: Applied::AlreadyProcessed,
            order: None,
            event: None,
            outbox_behind: false,
        });
    }
    let forgotten: bool = row.get(27);
    let item_rows = sql::query(
        tx,
        &format!("SELECT {ITEM_COLUMNS} FROM order_items WHERE order_id = $1 ORDER BY line"),
        &[&id.uuid()],
    )
    .await?;
    let items = item_rows.iter().map(item_from).collect::<Result<Vec<_>, _>>()?;
    let mut order = order_from(&row, items)?;
    if let Some(update) = &c.printful {
        if !order.submitted_by_us() {
            return Err(TxError::Abort(ApplyError::NotFound(id)));
        }
        // Parcels first: the shipped event is built from them.
        for shipment in &update.shipments {
            upsert_shipment(tx, id, shipment).await?;
        }
    }
    let (timeline, transition) = match order.state.decide(order.total, &c.fact) {
        Decision::Refuse(refusal) => ((None, Applied::Refused(refusal)), None),
        Decision::Note(note) => {
            let status = order.status();
            ((Some((status, status, note.clone())), Applied::Noted(note)), None)
        }
        Decision::Apply(t) => (
            (Some((t.from, t.to, t.detail.clone())), Applied::Transitioned(t.clone())),
            Some(t),
        ),
    };
    let (entry, applied) = timeline;
    let entry_id = entry.as_ref().map(|_| Uuid::new_v4());
    let (from, to, detail) = match &entry {
        Some((from, to, detail)) => (Some(from.as_str()), Some(to.as_str()), Some(detail.as_str())),
        None => (None, None, None),
    };
    let cause = entry.as_ref().map(|_| c.cause.to_string());
    let event_type = transition
        .as_ref()
        .and_then(|t| OrderEventType::of_transition(t.from, t.to));
    let s = transition.as_ref().map(|t| t.state);
    let delivered_at = match (&transition, &c.fact) {
        (Some(_), Fact::Delivered { at }) => Some(*at),
        _ => None,
    };
    let d = c.details.clone().unwrap_or_default();
    let has_details = c.details.is_some() || c.printful.is_some();
    let printful_id = c.printful.as_ref().map(|p| p.order_id);
    let printful_costs = c.printful.as_ref().and_then(|p| p.costs);
    let costs_json = printful_costs.map(|x| serde_json::to_value(x).unwrap_or_default());
    let charged = d.charged.map(|x| serde_json::to_value(x).unwrap_or_default());
    let fee = d.stripe_fee.map(|x| serde_json::to_value(x).unwrap_or_default());
    let shipping = d.shipping.as_ref().map(|x| serde_json::to_value(x).unwrap_or_default());
    let release = s.is_some_and(|s| releases_stock(s.payment));
    let row = sql::query_one(
        tx,
        CHANGE_WRITE,
        &[
            &id.uuid(),
            &transition.is_some(),
            &transition.as_ref().map(|t| t.to.as_str()),
            &s.map(|s| s.payment.as_str()),
            &s.map(|s| s.fulfillment.as_str()),
            &s.and_then(|s| s.mark.map(|m| m.exception.as_str())),
            &s.and_then(|s| s.mark.map(|m| m.at)),
            &s.map(|s| s.amount_mismatch),
            &s.map(|s| s.amount_accepted),
            &delivered_at,
            &d.payment_intent_id,
            &d.email.as_ref().map(Email::as_str),
            &shipping,
            &charged,
            &fee,
            &entry_id,
            &from,
            &to,
            &cause,
            &detail,
            &event_type.map(OrderEventType::detail_type),
            &release,
            &source,
            &event_id,
            &c.claim.as_ref().map(|k| k.event_type.as_str()),
            &has_details,
            &printful_id,
            &costs_json,
        ],
    )
    .await?;
    // The order as the write left it.
    if let Some(s) = s {
        order.state = s;
    }
    if transition.is_some() || has_details {
        order.updated_at = chrono::Utc::now();
    }
    order.stripe_payment_intent_id = d.payment_intent_id.or(order.stripe_payment_intent_id);
    if !forgotten {
        order.email = d.email.or(order.email);
        order.shipping = d.shipping.or(order.shipping);
    }
    order.charged = d.charged.or(order.charged);
    order.stripe_fee = d.stripe_fee.or(order.stripe_fee);
    order.printful_order_id = printful_id.or(order.printful_order_id);
    order.printful_costs = printful_costs.or(order.printful_costs);
    let event = match (
        row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(0),
        event_type,
        entry_id,
    ) {
        (Some(at), Some(event_type), Some(event_id)) => Some(OutboxEntry {
            event_id,
            order_id: id,
            event_type,
            at,
            published_at: None,
            attempts: 0,
            last_error: None,
        }),
        _ => None,
    };
    Ok(Changed {
        applied,
        order: Some(order),
        event,
        // Read before this statement's own insert: events of the order still waiting.
        outbox_behind: row.get(1),
    })
}

async fn append_timeline<C: GenericClient>(
    tx: &C,
    id: OrderId,
    from: OrderStatus,
    to: OrderStatus,
    cause: &Cause,
    detail: &str,
) -> Result<Uuid, DbError> {
    let entry = Uuid::new_v4();
    sql::execute(
        tx,
        "INSERT INTO order_timeline (id, order_id, at, from_status, to_status, cause, detail) \
         VALUES ($1, $2, clock_timestamp(), $3, $4, $5, $6)",
        &[
            &entry,
            &id.uuid(),
            &from.as_str(),
            &to.as_str(),
            &cause.to_string(),
            &detail,
        ],
    )
    .await?;
    Ok(entry)
}

/// A stored product row as pricing reads it.
fn price_entry(r: &Row) -> Result<PriceEntry, DbError> {
    let sku: String = r.get(0);
    let corrupt = |what: &str| DbError::Corrupt(format!("product {sku}: {what}"));
    Ok(PriceEntry {
        sku: Sku::parse(&sku).map_err(|_| corrupt("sku"))?,
        name: r.get(1),
        size: r.get(2),
        price: Cents::positive(r.get(3)).map_err(|_| corrupt("price"))?,
        currency: Currency::parse(r.get(4)).map_err(|_| corrupt("currency"))?,
        printful_sync_variant_id: r.get(5),
        stock_limit: r
            .get::<_, Option<i64>>(6)
            .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
        active: r.get(7),
        max_per_order: r.get::<_, Option<i32>>(8).map(|n| u32::try_from(n).unwrap_or(0)),
    })
}

/// Prices, checks, holds stock and writes the order; a refusal aborts with nothing written.
async fn create_in<C: GenericClient>(tx: &C, new: &NewOrder) -> Result<Order, TxError<CreateOrderError>> {
    let abort = |e| TxError::Abort(e);
    let skus: Vec<&str> = new.items.iter().map(|i| i.sku.as_str()).collect();
    let rows = sql::query(
        tx,
        "SELECT sku, product_name, size, price_cents, currency, printful_sync_variant_id, stock_limit, active, \
         max_per_order FROM products WHERE sku = ANY($1)",
        &[&skus],
    )
    .await?;
    let catalog = rows.iter().map(price_entry).collect::<Result<Vec<_>, DbError>>()?;
    let priced = price(&new.items, &catalog).map_err(abort)?;

    // Limited stock: the SKU's stock row is taken by a conditional increment, so concurrent
    // checkouts of the same SKU conflict on that one row (a lock wait then 40001 on PostgreSQL,
    // an OCC conflict at commit on DSQL) and the loser retries and counts the winner's hold;
    // checkouts of other SKUs and catalog reads do not conflict with it. A checkout that finds
    // the units gone writes nothing and is refused, without a retry. SKUs are taken in a fixed
    // order.
    for (wanted, limit) in &priced.holds {
        hold_in(tx, new.id, wanted, *limit).await?;
    }
    let PricedOrder { items, total, .. } = priced;
    let (total, currency) = (total.amount, total.currency);

    let state = OrderState::NEW;
    let status = state.status();
    let row = sql::query_one(
        tx,
        "INSERT INTO orders (id, status, payment, fulfillment, amount_mismatch, total_cents, currency, email) \
         VALUES ($1, $2, $3, $4, false, $5, $6, $7) RETURNING number, created_at, updated_at",
        &[
            &new.id.uuid(),
            &status.as_str(),
            &state.payment.as_str(),
            &state.fulfillment.as_str(),
            &total.get(),
            &currency.code(),
            &new.email.as_ref().map(Email::as_str),
        ],
    )
    .await?;
    for (line, item) in items.iter().enumerate() {
        sql::execute(
            tx,
            "INSERT INTO order_items (order_id, line, sku, name, size, quantity, unit_price_cents, printful_sync_variant_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &new.id.uuid(),
                &(line as i32),
                &item.sku.as_str(),
                &item.name,
                &item.size,
                &(item.quantity as i32),
                &item.unit_price.get(),
                &item.printful_sync_variant_id,
            ],
        )
        .await?;
    }
    let total = Money::new(total, currency);
    let pieces: u32 = items.iter().map(|i| i.quantity).sum();
    append_timeline(
        tx,
        new.id,
        status,
        status,
        &Cause::Checkout,
        &format!("order placed: {pieces} piece(s), {total}"),
    )
    .await?;
    Ok(Order {
        id: new.id,
        number: row.get(0),
        state,
        items,
        total,
        email: new.email.clone(),
        stripe_session_id: None,
        stripe_payment_intent_id: None,
        printful_order_id: None,
        fulfillment_released_at: None,
        shipping: None,
        submit_started_at: None,
        work: WorkLog::default(),
        charged: None,
        stripe_fee: None,
        printful_costs: None,
        created_at: row.get(1),
        updated_at: row.get(2),
    })
}

/// Holds `wanted` units of a SKU limited to `limit` for an order, or refuses with what is left.
/// Keeps the invariant: `stock.held` = the SKU's unreleased `stock_holds`.
async fn hold_in<C: GenericClient>(
    tx: &C,
    order: OrderId,
    wanted: &SkuQuantity,
    limit: u32,
) -> Result<(), TxError<CreateOrderError>> {
    let sku = wanted.sku.as_str();
    if !take_units(tx, sku, wanted.quantity, limit).await? {
        let held: Option<i64> = sql::query_opt(tx, "SELECT held FROM stock WHERE sku = $1", &[&sku])
            .await?
            .map(|r| r.get(0));
        let held = match held {
            Some(held) => held,
            None => {
                // The SKU's first limited checkout (or the first since the stock table came):
                // its row starts from the holds already there. Two first checkouts at once meet
                // on the primary key; the loser is retried and finds the row.
                sql::execute(
                    tx,
                    "INSERT INTO stock (sku, held) SELECT $1, coalesce(sum(quantity), 0)::bigint FROM stock_holds \
                     WHERE sku = $1 AND released_at IS NULL",
                    &[&sku],
                )
                .await?;
                if take_units(tx, sku, wanted.quantity, limit).await? {
                    return insert_hold(tx, order, sku, wanted.quantity).await;
                }
                sql::query_one(tx, "SELECT held FROM stock WHERE sku = $1", &[&sku])
                    .await?
                    .get(0)
            }
        };
        check_stock(wanted, limit, u64::try_from(held).unwrap_or(0)).map_err(TxError::Abort)?;
        // The increment found the row and the units but did not apply: cannot happen in one
        // snapshot; refuse rather than oversell.
        return Err(TxError::Db(DbError::Corrupt(format!(
            "stock of {sku}: held {held} of {limit}"
        ))));
    }
    insert_hold(tx, order, sku, wanted.quantity).await
}

/// Adds `quantity` to the SKU's held units when they fit under `limit`; false when they do not
/// or the SKU has no stock row yet.
async fn take_units<C: GenericClient>(tx: &C, sku: &str, quantity: u32, limit: u32) -> Result<bool, DbError> {
    let taken = sql::execute(
        tx,
        "UPDATE stock SET held = held + $2, updated_at = now() WHERE sku = $1 AND held + $2 <= $3",
        &[&sku, &i64::from(quantity), &i64::from(limit)],
    )
    .await?;
    Ok(taken == 1)
}

async fn insert_hold<C: GenericClient>(
    tx: &C,
    order: OrderId,
    sku: &str,
    quantity: u32,
) -> Result<(), TxError<CreateOrderError>> {
    let quantity = i32::try_from(quantity).map_err(|_| DbError::Corrupt("quantity".into()))?;
    sql::execute(
        tx,
        "INSERT INTO stock_holds (order_id, sku, quantity) VALUES ($1, $2, $3)",
        &[&order.uuid(), &sku, &quantity],
    )
    .await?;
    Ok(())
}

/// Gives an order's unreleased holds back: each hold marked released and its units taken off
/// its SKU's stock row, in the caller's transaction.
async fn release_in<C: GenericClient>(tx: &C, id: OrderId) -> Result<(), DbError> {
    let released = sql::query(
        tx,
        "UPDATE stock_holds SET released_at = now() WHERE order_id = $1 AND released_at IS NULL RETURNING sku, quantity",
        &[&id.uuid()],
    )
    .await?;
    let mut released: Vec<(String, i64)> = released
        .iter()
        .map(|r| (r.get(0), i64::from(r.get::<_, i32>(1))))
        .collect();
    released.sort();
    for (sku, quantity) in &released {
        // No row yet: the first checkout that needs one counts the holds, this one released.
        sql::execute(
            tx,
            "UPDATE stock SET held = greatest(held - $2, 0), updated_at = now() WHERE sku = $1",
            &[sku, quantity],
        )
        .await?;
    }
    Ok(())
}

/// Loads orders (with their lines) matching a WHERE/ORDER clause over `orders`.
pub(super) async fn load_orders<C: GenericClient>(
    c: &C,
    clause: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Order>, DbError> {
    let rows = sql::query(c, &format!("SELECT {ORDER_COLUMNS} FROM orders {clause}"), params).await?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    let item_rows = sql::query(
        c,
        &format!("SELECT {ITEM_COLUMNS} FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line"),
        &[&ids],
    )
    .await?;
    let mut items: BTreeMap<Uuid, Vec<OrderItem>> = BTreeMap::new();
    for r in &item_rows {
        items.entry(r.get(0)).or_default().push(item_from(r)?);
    }
    rows.iter()
        .map(|r| {
            let id: Uuid = r.get(0);
            order_from(r, items.remove(&id).unwrap_or_default())
        })
        .collect()
}

fn item_from(r: &Row) -> Result<OrderItem, DbError> {
    let corrupt = |what: &str| DbError::Corrupt(format!("order item {what}"));
    Ok(OrderItem {
        sku: Sku::parse(r.get(1)).map_err(|_| corrupt("sku"))?,
        name: r.get(2),
        size: r.get(3),
        quantity: u32::try_from(r.get::<_, i32>(4)).map_err(|_| corrupt("quantity"))?,
        unit_price: Cents::positive(r.get(5)).map_err(|_| corrupt("price"))?,
        printful_sync_variant_id: r.get(6),
    })
}

fn order_from(r: &Row, items: Vec<OrderItem>) -> Result<Order, DbError> {
    let email: Option<String> = r.get(9);
    Ok(Order {
        id: OrderId::from_uuid(r.get(0)),
        number: r.get(1),
        state: OrderState {
            amount_accepted: r.get::<_, Option<bool>>(22).unwrap_or(false),
            ..state_from(r, 2)?
        },
        items,
        total: money_from(r, 7)?,
        email: email
            .map(|e| Email::parse(&e).map_err(|_| DbError::Corrupt("order email".into())))
            .transpose()?,
        stripe_session_id: r.get(10),
        stripe_payment_intent_id: r.get(11),
        printful_order_id: r.get(12),
        created_at: r.get(13),
        updated_at: r.get(14),
        fulfillment_released_at: r.get(15),
        shipping: json_column(r, 16, "order shipping address")?,
        submit_started_at: r.get(17),
        work: WorkLog {
            attempts: r.get::<_, Option<i32>>(18).unwrap_or(0),
            due_at: r.get(19),
            failing_since: r.get(20),
            last_error: r.get(21),
        },
        charged: r
            .get::<_, Option<serde_json::Value>>(23)
            .map(serde_json::from_value)
            .transpose()
            .map_err(|_| DbError::Corrupt("order charged amounts".into()))?,
        stripe_fee: json_column(r, 24, "order Stripe fee")?,
        printful_costs: json_column(r, 25, "order Printful costs")?,
    })
}

fn json_column<T: serde::de::DeserializeOwned>(r: &Row, at: usize, what: &str) -> Result<Option<T>, DbError> {
    r.get::<_, Option<serde_json::Value>>(at)
        .map(serde_json::from_value)
        .transpose()
        .map_err(|_| DbError::Corrupt(what.into()))
}

/// Reads payment, fulfillment, mark, mark time and mismatch from five columns starting at `at`.
fn state_from(r: &Row, at: usize) -> Result<OrderState, DbError> {
    let corrupt = |what: String| DbError::Corrupt(what);
    let payment: String = r.get(at);
    let fulfillment: String = r.get(at + 1);
    let mark: Option<String> = r.get(at + 2);
    let mark_at: Option<chrono::DateTime<chrono::Utc>> = r.get(at + 3);
    let mark = match (mark, mark_at) {
        (Some(m), Some(at)) => Some(PrintfulMark {
            at,
            exception: Exception::parse(&m).ok_or_else(|| corrupt(format!("printful mark {m:?}")))?,
        }),
        _ => None,
    };
    Ok(OrderState {
        payment: Payment::parse(&payment).ok_or_else(|| corrupt(format!("payment {payment:?}")))?,
        fulfillment: Fulfillment::parse(&fulfillment).ok_or_else(|| corrupt(format!("fulfillment {fulfillment:?}")))?,
        mark,
        amount_mismatch: r.get(at + 4),
        // Read by the callers that select it (a column added later, nullable).
        amount_accepted: false,
    })
}

fn money_from(r: &Row, at: usize) -> Result<Money, DbError> {
    let amount = Cents::new(r.get(at)).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let currency = Currency::parse(r.get(at + 1)).map_err(|e| DbError::Corrupt(e.to_string()))?;
    Ok(Money::new(amount, currency))
}

fn timeline_entry(r: &Row) -> Result<TimelineEntry, DbError> {
    let status = |i: usize| {
        let s: String = r.get(i);
        OrderStatus::parse(&s).ok_or_else(|| DbError::Corrupt(format!("timeline status {s:?}")))
    };
    let cause: String = r.get(3);
    Ok(TimelineEntry {
        at: r.get(0),
        from: status(1)?,
        to: status(2)?,
        cause: Cause::parse(&cause).ok_or_else(|| DbError::Corrupt(format!("timeline cause {cause:?}")))?,
        detail: r.get(4),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_words_round_trip_and_match_the_schema_checks() {
        let schema = include_str!("../../../../migrations/0002_create_orders.sql");
        for p in Payment::ALL {
            assert_eq!(Payment::parse(p.as_str()), Some(p));
            assert!(schema.contains(&format!("'{}'", p.as_str())));
        }
        for f in Fulfillment::ALL {
            assert_eq!(Fulfillment::parse(f.as_str()), Some(f));
            assert!(schema.contains(&format!("'{}'", f.as_str())));
        }
        for e in Exception::ALL {
            assert_eq!(Exception::parse(e.as_str()), Some(e));
            assert!(schema.contains(&format!("'{}'", e.as_str())));
        }
        for s in OrderStatus::ALL {
            assert!(schema.contains(&format!("'{}'", s.as_str())), "{s}");
        }
    }
}
