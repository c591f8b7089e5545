//! The catalog as stored: its sync and its entries.

#[allow(unused_imports)]
use super::prelude::*;
use super::*;

/// A variant as sold now, with what is left of a limited stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogEntry {
    pub product_slug: String,
    pub product_name: String,
    pub description: String,
    pub variant: Variant,
    /// Units left for a limited SKU; `None` when unlimited.
    pub available: Option<u32>,
}

/// What a catalog sync changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// SKUs in the store but not in the file: deactivated, never deleted (orders refer to them).
    pub deactivated: usize,
    /// Shipping zones written or removed (zones are the file's, whole: no order refers to them).
    pub shipping_zones_changed: usize,
}

pub trait CatalogStore: Send + Sync {
    fn sync_catalog(&self, catalog: &Catalog) -> impl Future<Output = Result<SyncReport, StoreError>> + Send;
    /// In catalog order, active and inactive.
    fn catalog(&self) -> impl Future<Output = Result<Vec<CatalogEntry>, StoreError>> + Send;
    /// The shipping zones, in catalog order; empty when the catalog has none.
    fn shipping_zones(&self) -> impl Future<Output = Result<Vec<crate::ShippingZone>, StoreError>> + Send;
}
