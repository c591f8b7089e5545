//! What the carrier says about each parcel (`shipments.delivery_status`, `delivered_at`), and
//! the shipped orders whose parcels are still followed.

use backroom_core::ports::StoreError;
use backroom_core::{Order, OrderId};
use chrono::{DateTime, Utc};

use super::orders::load_orders;
use super::{Store, store_err};
use crate::sql;

/// One parcel's delivery as last read from Printful.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub provider_shipment_id: i64,
    pub carrier: String,
    pub tracking_number: String,
    pub reshipment: bool,
    pub shipped_at: Option<DateTime<Utc>>,
    /// Printful v2's `delivery_status`; `None` until read.
    pub delivery_status: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Records what the carrier says about one parcel of the order; the row is made when the
    /// parcel was not recorded from Printful's v1 order yet. Idempotent.
    pub async fn record_delivery(
        &self,
        id: OrderId,
        provider_shipment_id: i64,
        status: &str,
        delivered_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let status = status.to_string();
        self.db()
            .with_retry(|tx| {
                let status = status.clone();
                Box::pin(async move {
                    sql::execute(
                        tx,
                        "INSERT INTO shipments (order_id, provider_shipment_id, delivery_status, delivered_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (order_id, provider_shipment_id) DO UPDATE SET \
                         delivery_status = EXCLUDED.delivery_status, \
                         delivered_at = coalesce(EXCLUDED.delivered_at, shipments.delivered_at), updated_at = now() \
                         WHERE shipments.delivery_status IS DISTINCT FROM EXCLUDED.delivery_status \
                         OR shipments.delivered_at IS DISTINCT FROM coalesce(EXCLUDED.delivered_at, shipments.delivered_at)",
                        &[&id.uuid(), &provider_shipment_id, &status, &delivered_at],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
            .map_err(store_err)
    }

    /// The order's parcels with what the carrier last said about each.
    pub async fn deliveries(&self, id: OrderId) -> Result<Vec<DeliveryRecord>, StoreError> {
        Ok(self
            .db()
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        "SELECT provider_shipment_id, carrier, tracking_number, reshipment, shipped_at, delivery_status, \
                         delivered_at FROM shipments WHERE order_id = $1 ORDER BY shipped_at NULLS LAST, provider_shipment_id",
                        &[&id.uuid()],
                    )
                    .await?;
                    Ok(rows
                        .iter()
                        .map(|r| DeliveryRecord {
                            provider_shipment_id: r.get(0),
                            carrier: r.get(1),
                            tracking_number: r.get(2),
                            reshipment: r.get(3),
                            shipped_at: r.get(4),
                            delivery_status: r.get(5),
                            delivered_at: r.get(6),
                        })
                        .collect())
                })
            })
            .await?)
    }

    /// Shipped orders (not yet delivered) after `after` in id order, whose newest parcel left
    /// after `shipped_since` (or, with no parcel date, whose row changed after it): the ones
    /// whose parcels are still worth following.
    pub async fn shipped_orders_after(
        &self,
        after: Option<OrderId>,
        shipped_since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        let limit = i64::from(limit);
        let after = after.map_or(uuid::Uuid::nil(), OrderId::uuid);
        Ok(self
            .db()
            .read(|c| {
                Box::pin(async move {
                    load_orders(
                        c,
                        "WHERE status = 'shipped' AND id > $1 AND coalesce((SELECT max(s.shipped_at) FROM shipments s \
                         WHERE s.order_id = orders.id), orders.updated_at) > $2 ORDER BY id LIMIT $3",
                        &[&after, &shipped_since, &limit],
                    )
                    .await
                })
            })
            .await?)
    }
}
