use std::collections::HashMap;

use backroom_core::ports::{CatalogEntry, CatalogStore, StoreError, SyncReport};
use backroom_core::{Catalog, Cents, Currency, ShippingZone, Sku, Variant};
use tokio_postgres::Row;

use super::{Store, store_err};
use crate::error::DbError;
use crate::sql;

/// The columns a catalog sync owns, in the order of the statements below.
#[derive(Debug, PartialEq)]
struct Columns {
    product_slug: String,
    product_name: String,
    description: String,
    size: String,
    price_cents: i64,
    currency: String,
    printful_sync_variant_id: i64,
    stock_limit: Option<i64>,
    active: bool,
    position: i32,
    max_per_order: Option<i32>,
}

impl CatalogStore for Store {
    async fn sync_catalog(&self, catalog: &Catalog) -> Result<SyncReport, StoreError> {
        let wanted: Vec<(String, Columns)> = catalog
            .variants()
            .enumerate()
            .map(|(i, (p, v))| {
                (
                    v.sku.as_str().to_string(),
                    Columns {
                        product_slug: p.slug.clone(),
                        product_name: p.name.clone(),
                        description: p.description.clone(),
                        size: v.size.clone(),
                        price_cents: v.price.get(),
                        currency: v.currency.code().to_string(),
                        printful_sync_variant_id: v.printful_sync_variant_id,
                        stock_limit: v.stock_limit.map(i64::from),
                        active: v.active,
                        position: i32::try_from(i).unwrap_or(i32::MAX),
                        max_per_order: v.max_per_order.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
                    },
                )
            })
            .collect();
        let wanted = std::sync::Arc::new(wanted);
        let zones = std::sync::Arc::new(
            catalog
                .shipping_zones
                .iter()
                .enumerate()
                .map(|(i, z)| zone_columns(i, z))
                .collect::<Vec<_>>(),
        );
        self.db
            .with_retry(|tx| {
                let wanted = wanted.clone();
                let zones = zones.clone();
                Box::pin(async move {
                    let rows = sql::query(
                            tx,
                            "SELECT sku, product_slug, product_name, description, size, price_cents, currency, \
                             printful_sync_variant_id, stock_limit, active, position, max_per_order FROM products",
                            &[],
                        )
                        .await?;
                    let stored: HashMap<String, Columns> = rows.iter().map(|r| (r.get(0), columns(r))).collect();
                    let mut report = SyncReport::default();
                    for (sku, c) in wanted.iter() {
                        match stored.get(sku) {
                            Some(old) if old == c => report.unchanged += 1,
                            existing => {
                                sql::execute(
                                    tx,
                                    "INSERT INTO products (sku, product_slug, product_name, description, size, price_cents, \
                                     currency, printful_sync_variant_id, stock_limit, active, position, max_per_order, updated_at) \
                                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now()) \
                                     ON CONFLICT (sku) DO UPDATE SET product_slug = EXCLUDED.product_slug, \
                                     product_name = EXCLUDED.product_name, description = EXCLUDED.description, \
                                     size = EXCLUDED.size, price_cents = EXCLUDED.price_cents, currency = EXCLUDED.currency, \
                                     printful_sync_variant_id = EXCLUDED.printful_sync_variant_id, \
                                     stock_limit = EXCLUDED.stock_limit, active = EXCLUDED.active, \
                                     position = EXCLUDED.position, max_per_order = EXCLUDED.max_per_order, updated_at = now()",
                                    &[
                                        sku,
                                        &c.product_slug,
                                        &c.product_name,
                                        &c.description,
                                        &c.size,
                                        &c.price_cents,
                                        &c.currency,
                                        &c.printful_sync_variant_id,
                                        &c.stock_limit,
                                        &c.active,
                                        &c.position,
                                        &c.max_per_order,
                                    ],
                                )
                                .await?;
                                if existing.is_some() {
                                    report.updated += 1;
                                } else {
                                    report.inserted += 1;
                                }
                            }
                        }
                    }
                    let missing: Vec<&String> = stored
                        .iter()
                        .filter(|(sku, c)| c.active && !wanted.iter().any(|(w, _)| w == *sku))
                        .map(|(sku, _)| sku)
                        .collect();
                    if !missing.is_empty() {
                        report.deactivated = sql::execute(tx, "UPDATE products SET active = false, updated_at = now() WHERE sku = ANY($1)", &[&missing])
                            .await? as usize;
                    }
                    report.shipping_zones_changed = sync_zones(tx, &zones).await?;
                    Ok(report)
                })
            })
            .await
            .map_err(store_err)
    }

    async fn catalog(&self) -> Result<Vec<CatalogEntry>, StoreError> {
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                            c,
                            "SELECT p.sku, p.product_slug, p.product_name, p.description, p.size, p.price_cents, p.currency, \
                             p.printful_sync_variant_id, p.stock_limit, p.active, p.position, p.max_per_order, \
                             (SELECT coalesce(sum(h.quantity), 0)::bigint FROM stock_holds h \
                             WHERE h.sku = p.sku AND h.released_at IS NULL) AS held \
                             FROM products p ORDER BY p.position, p.sku",
                            &[],
                        )
                        .await?;
                    rows.iter().map(entry).collect()
                })
            })
            .await?)
    }

    async fn shipping_zones(&self) -> Result<Vec<ShippingZone>, StoreError> {
        Ok(self
            .db
            .read(|c| {
                Box::pin(async move {
                    let rows = sql::query(
                        c,
                        &format!("SELECT {ZONE_COLUMNS} FROM shipping_zones ORDER BY position, name"),
                        &[],
                    )
                    .await?;
                    rows.iter().map(zone).collect()
                })
            })
            .await?)
    }
}

/// A zone's row: name, position, countries, rate, currency, threshold, estimate.
#[derive(Debug, PartialEq)]
struct ZoneColumns {
    name: String,
    position: i32,
    countries: serde_json::Value,
    rate_cents: i64,
    currency: String,
    free_above_cents: Option<i64>,
    min_days: Option<i32>,
    max_days: Option<i32>,
}

fn zone_columns(i: usize, z: &ShippingZone) -> ZoneColumns {
    let days = |d: u32| i32::try_from(d).unwrap_or(i32::MAX);
    ZoneColumns {
        name: z.name.clone(),
        position: i32::try_from(i).unwrap_or(i32::MAX),
        countries: serde_json::json!(z.countries),
        rate_cents: z.rate.get(),
        currency: z.currency.code().to_string(),
        free_above_cents: z.free_above.map(Cents::get),
        min_days: z.delivery_days.map(|(min, _)| days(min)),
        max_days: z.delivery_days.map(|(_, max)| days(max)),
    }
}

const ZONE_COLUMNS: &str = "name, position, countries, rate_cents, currency, free_above_cents, min_days, max_days";

fn zone_row(r: &Row) -> ZoneColumns {
    ZoneColumns {
        name: r.get(0),
        position: r.get(1),
        countries: r.get(2),
        rate_cents: r.get(3),
        currency: r.get(4),
        free_above_cents: r.get(5),
        min_days: r.get(6),
        max_days: r.get(7),
    }
}

/// Makes the stored zones the file's: writes the changed ones, deletes the ones gone. Returns
/// how many rows changed.
async fn sync_zones(tx: &tokio_postgres::Transaction<'_>, wanted: &[ZoneColumns]) -> Result<usize, DbError> {
    let rows = sql::query(tx, &format!("SELECT {ZONE_COLUMNS} FROM shipping_zones"), &[]).await?;
    let stored: Vec<ZoneColumns> = rows.iter().map(zone_row).collect();
    let mut changed = 0;
    for z in wanted {
        if stored.iter().any(|s| s == z) {
            continue;
        }
        sql::execute(
            tx,
            &format!(
                "INSERT INTO shipping_zones ({ZONE_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) \
                 ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, countries = EXCLUDED.countries, \
                 rate_cents = EXCLUDED.rate_cents, currency = EXCLUDED.currency, \
                 free_above_cents = EXCLUDED.free_above_cents, min_days = EXCLUDED.min_days, \
                 max_days = EXCLUDED.max_days, updated_at = now()"
            ),
            &[
                &z.name,
                &z.position,
                &z.countries,
                &z.rate_cents,
                &z.currency,
                &z.free_above_cents,
                &z.min_days,
                &z.max_days,
            ],
        )
        .await?;
        changed += 1;
    }
    let gone: Vec<&String> = stored
        .iter()
        .map(|s| &s.name)
        .filter(|name| !wanted.iter().any(|w| &w.name == *name))
        .collect();
    if !gone.is_empty() {
        changed += sql::execute(tx, "DELETE FROM shipping_zones WHERE name = ANY($1)", &[&gone]).await? as usize;
    }
    Ok(changed)
}

fn zone(r: &Row) -> Result<ShippingZone, DbError> {
    let c = zone_row(r);
    let corrupt = |what: &str| DbError::Corrupt(format!("shipping zone {}: {what}", c.name));
    let countries: Vec<String> = serde_json::from_value(c.countries.clone()).map_err(|_| corrupt("countries"))?;
    let days = |d: Option<i32>| d.and_then(|d| u32::try_from(d).ok());
    Ok(ShippingZone {
        countries,
        rate: Cents::new(c.rate_cents).map_err(|_| corrupt("rate"))?,
        currency: Currency::parse(&c.currency).map_err(|_| corrupt("currency"))?,
        free_above: c
            .free_above_cents
            .map(|n| Cents::positive(n).map_err(|_| corrupt("free_above")))
            .transpose()?,
        delivery_days: days(c.min_days).zip(days(c.max_days)),
        name: c.name,
    })
}

fn columns(r: &Row) -> Columns {
    Columns {
        product_slug: r.get(1),
        product_name: r.get(2),
        description: r.get(3),
        size: r.get(4),
        price_cents: r.get(5),
        currency: r.get(6),
        printful_sync_variant_id: r.get(7),
        stock_limit: r.get(8),
        active: r.get(9),
        position: r.get(10),
        max_per_order: r.get(11),
    }
}

fn entry(r: &Row) -> Result<CatalogEntry, DbError> {
    let c = columns(r);
    let sku: String = r.get(0);
    let held: i64 = r.get(12);
    let corrupt = |what: &str| DbError::Corrupt(format!("product {sku}: {what}"));
    let variant = Variant {
        sku: Sku::parse(&sku).map_err(|_| corrupt("sku"))?,
        size: c.size,
        price: Cents::positive(c.price_cents).map_err(|_| corrupt("price"))?,
        currency: Currency::parse(&c.currency).map_err(|_| corrupt("currency"))?,
        printful_sync_variant_id: c.printful_sync_variant_id,
        stock_limit: c.stock_limit.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        max_per_order: c.max_per_order.map(|n| u32::try_from(n).unwrap_or(0)),
        active: c.active,
    };
    let available = c
        .stock_limit
        .map(|limit| u32::try_from((limit - held).max(0)).unwrap_or(u32::MAX));
    Ok(CatalogEntry {
        product_slug: c.product_slug,
        product_name: c.product_name,
        description: c.description,
        variant,
        available,
    })
}
