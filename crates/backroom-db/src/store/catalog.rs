use std::collections::HashMap;

use backroom_core::ports::{CatalogEntry, CatalogStore, StoreError, SyncReport};
use backroom_core::{Catalog, Cents, Currency, Sku, Variant};
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
        self.db
            .with_retry(|tx| {
                let wanted = wanted.clone();
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
