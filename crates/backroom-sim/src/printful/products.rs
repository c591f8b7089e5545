//! The store's products, v1's "sync products": a product as the store shows it, and its sync
//! variants, each the Printful item one of the shop's SKUs is printed as. Served by
//! `GET /store/products` and `GET /store/products/{id}` in the shapes of v1's `SyncProduct` and
//! `SyncVariant`, plus three fields Printful's API sends that the v1 document leaves out:
//! `size`, `color` and `availability_status`.

use backroom_core::catalog::Catalog;
use serde_json::{Value, json};

/// One sync product, as [`super::PrintfulSimConfig::sync_products`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncProductSpec {
    pub id: i64,
    pub external_id: String,
    pub name: String,
    pub thumbnail_url: Option<String>,
    pub is_ignored: bool,
    pub variants: Vec<SyncVariantSpec>,
}

/// One sync variant. The simulator serves every field as written, so that clients can be
/// tested against values Printful should never send (a malformed `retail_price`, an unknown
/// `availability_status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncVariantSpec {
    /// The sync variant id: what orders name as `sync_variant_id`.
    pub id: i64,
    pub external_id: String,
    pub name: String,
    /// A decimal string in `currency`, as Printful writes it: `"28.00"`.
    pub retail_price: String,
    /// Upper case, for example `EUR`.
    pub currency: String,
    pub sku: String,
    pub size: Option<String>,
    pub color: Option<String>,
    /// The catalog variant printed (`variant_id`).
    pub variant_id: i64,
    /// `active`, `out_of_stock`, `discontinued`, …
    pub availability_status: String,
    pub is_ignored: bool,
}

/// The catalog variant given to variants made from a catalog, which does not say which blank
/// each is printed on; 4011 is the Bella + Canvas 3001 shirt of Printful's own examples.
const CATALOG_VARIANT: i64 = 4011;

/// The first product id given to products made from a catalog.
const FIRST_PRODUCT_ID: i64 = 50_000_001;

/// Sync products for a catalog: one per product (`external_id` its slug), one variant per
/// catalog variant, with the catalog's `printful_sync_variant_id` as its id, the SKU as both
/// `sku` and `external_id`, and the catalog's price as `retail_price`, active.
pub fn sync_products_from_catalog(catalog: &Catalog) -> Vec<SyncProductSpec> {
    catalog
        .products
        .iter()
        .zip(FIRST_PRODUCT_ID..)
        .map(|(p, id)| SyncProductSpec {
            id,
            external_id: p.slug.clone(),
            name: p.name.clone(),
            thumbnail_url: None,
            is_ignored: false,
            variants: p
                .variants
                .iter()
                .map(|v| SyncVariantSpec {
                    id: v.printful_sync_variant_id,
                    external_id: v.sku.to_string(),
                    name: format!("{} - {}", p.name, v.size),
                    retail_price: decimal(v.price.get(), v.currency.exponent()),
                    currency: v.currency.code().to_string(),
                    sku: v.sku.to_string(),
                    size: Some(v.size.clone()),
                    color: None,
                    variant_id: CATALOG_VARIANT,
                    availability_status: if v.active { "active" } else { "discontinued" }.into(),
                    is_ignored: false,
                })
                .collect(),
        })
        .collect()
}

/// The demo shop's products: [`sync_products_from_catalog`] of the repository's
/// `catalog.toml`, so that `backroom dev` and tests see the variants the demo catalog sells.
///
/// # Panics
/// When the demo catalog does not parse, which its own tests in backroom-core prevent.
pub fn demo_sync_products() -> Vec<SyncProductSpec> {
    const DEMO_CATALOG: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml"));
    let catalog = Catalog::from_toml(DEMO_CATALOG).expect("the demo catalog.toml is valid");
    sync_products_from_catalog(&catalog)
}

/// A v1 `SyncProduct`.
pub(crate) fn product_json(p: &SyncProductSpec) -> Value {
    let count = p.variants.len();
    json!({
        "id": p.id,
        "external_id": p.external_id,
        "name": p.name,
        "variants": count,
        "synced": count,
        "thumbnail_url": p.thumbnail_url,
        "is_ignored": p.is_ignored,
    })
}

/// A v1 `SyncVariant` of product `p`.
pub(crate) fn variant_json(p: &SyncProductSpec, v: &SyncVariantSpec) -> Value {
    json!({
        "id": v.id,
        "external_id": v.external_id,
        "sync_product_id": p.id,
        "name": v.name,
        "synced": true,
        "variant_id": v.variant_id,
        "retail_price": v.retail_price,
        "currency": v.currency,
        "is_ignored": v.is_ignored,
        "sku": v.sku,
        "size": v.size,
        "color": v.color,
        "availability_status": v.availability_status,
        "product": {
            "variant_id": v.variant_id,
            "product_id": 71,
            "image": "https://files.cdn.printful.com/products/71/4011_1581412541.jpg",
            "name": v.name,
        },
        "files": [],
        "options": [],
        "main_category_id": 24,
        "warehouse_product_variant_id": null,
    })
}

/// `minor` units as a decimal string with `exponent` places: 2800, 2 → `"28.00"`.
fn decimal(minor: i64, exponent: u8) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(u32::from(exponent));
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = usize::from(exponent)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_written_with_the_currencys_exponent() {
        assert_eq!(decimal(2800, 2), "28.00");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(1500, 0), "1500");
        assert_eq!(decimal(12345, 3), "12.345");
    }

    #[test]
    fn the_demo_products_are_the_demo_catalogs_variants() {
        let products = demo_sync_products();
        let tee = products.iter().find(|p| p.external_id == "harbour-tee").unwrap();
        let m = tee.variants.iter().find(|v| v.sku == "HARBOUR-TEE-M").unwrap();
        assert_eq!(
            (m.id, m.retail_price.as_str(), m.currency.as_str()),
            (4000102, "28.00", "EUR")
        );
        assert_eq!(m.size.as_deref(), Some("M"));
    }
}
