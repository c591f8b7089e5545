//! The catalog: products and the variants a buyer can put in a cart. Read from `catalog.toml`
//! by the CLI and validated here; prices only ever come from the catalog, never from a request.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::Sku;
use crate::money::{Cents, Currency};
use crate::order::MAX_PER_ORDER_BOUND;

/// A validated catalog: unique SKUs, positive prices, known currencies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub products: Vec<Product>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub variants: Vec<Variant>,
}

/// One sellable variant of a product: what a cart line refers to by SKU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub sku: Sku,
    pub size: String,
    pub price: Cents,
    pub currency: Currency,
    /// The Printful sync variant that prints this variant.
    pub printful_sync_variant_id: i64,
    /// How many may ever be sold; `None` means printed on demand without limit.
    pub stock_limit: Option<u32>,
    /// How many units one order may hold (over all its lines); `None` means
    /// [`crate::order::DEFAULT_MAX_PER_ORDER`].
    pub max_per_order: Option<u32>,
    pub active: bool,
}

/// A catalog error names the product and the field, so the owner can find the line to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("product {product:?}, {field}: {message}")]
pub struct CatalogError {
    pub product: String,
    pub field: String,
    pub message: String,
}

impl CatalogError {
    fn new(product: &str, field: impl fmt::Display, message: impl fmt::Display) -> CatalogError {
        CatalogError {
            product: product.to_string(),
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    products: Vec<RawProduct>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    slug: String,
    name: String,
    #[serde(default)]
    description: String,
    currency: Option<String>,
    /// The default for the product's variants.
    max_per_order: Option<i64>,
    #[serde(default)]
    variants: Vec<RawVariant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    sku: String,
    #[serde(default)]
    size: String,
    /// Minor units of the currency (cents).
    price: i64,
    currency: Option<String>,
    printful_sync_variant_id: i64,
    stock_limit: Option<i64>,
    max_per_order: Option<i64>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

/// A per-order cap: at least one unit, at most [`MAX_PER_ORDER_BOUND`].
fn max_per_order(n: i64) -> Result<u32, String> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_PER_ORDER_BOUND).contains(n))
        .ok_or_else(|| format!("must be between 1 and {MAX_PER_ORDER_BOUND} (units of one variant in one order)"))
}

impl Catalog {
    /// Parses and validates the TOML text of a catalog file.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog =
            toml::from_str(text).map_err(|e| CatalogError::new("(file)", "syntax", e.message().trim()))?;
        if raw.products.is_empty() {
            return Err(CatalogError::new("(file)", "products", "the catalog has no products"));
        }
        let mut seen_skus = HashSet::new();
        let mut seen_slugs = HashSet::new();
        let mut products = Vec::with_capacity(raw.products.len());
        for p in raw.products {
            let slug = p.slug.trim().to_string();
            if slug.is_empty() {
                return Err(CatalogError::new(&p.name, "slug", "must not be empty"));
            }
            if !seen_slugs.insert(slug.clone()) {
                return Err(CatalogError::new(&slug, "slug", "is used by another product"));
            }
            if p.name.trim().is_empty() {
                return Err(CatalogError::new(&slug, "name", "must not be empty"));
            }
            if p.variants.is_empty() {
                return Err(CatalogError::new(
                    &slug,
                    "variants",
                    "a product needs at least one variant",
                ));
            }
            let product_max = p
                .max_per_order
                .map(|n| max_per_order(n).map_err(|m| CatalogError::new(&slug, "max_per_order", m)))
                .transpose()?;
            let mut variants = Vec::with_capacity(p.variants.len());
            for (i, v) in p.variants.into_iter().enumerate() {
                let field = |name: &str| format!("variants[{i}].{name}");
                let sku = Sku::parse(v.sku.trim()).map_err(|e| CatalogError::new(&slug, field("sku"), e))?;
                if !seen_skus.insert(sku.clone()) {
                    return Err(CatalogError::new(&slug, field("sku"), format!("{sku} is used twice")));
                }
                let price = Cents::positive(v.price).map_err(|e| CatalogError::new(&slug, field("price"), e))?;
                let code = v.currency.as_deref().or(p.currency.as_deref()).ok_or_else(|| {
                    CatalogError::new(&slug, field("currency"), "set a currency on the variant or the product")
                })?;
                let currency = Currency::parse(code).map_err(|e| CatalogError::new(&slug, field("currency"), e))?;
                if v.printful_sync_variant_id <= 0 {
                    return Err(CatalogError::new(
                        &slug,
                        field("printful_sync_variant_id"),
                        "must be a positive Printful sync variant id",
                    ));
                }
                let stock_limit = match v.stock_limit {
                    None => None,
                    Some(n) => Some(u32::try_from(n).map_err(|_| {
                        CatalogError::new(&slug, field("stock_limit"), "must be between 0 and 4294967295")
                    })?),
                };
                let max_per_order = match v.max_per_order {
                    None => product_max,
                    Some(n) => Some(max_per_order(n).map_err(|m| CatalogError::new(&slug, field("max_per_order"), m))?),
                };
                variants.push(Variant {
                    sku,
                    size: v.size.trim().to_string(),
                    price,
                    currency,
                    printful_sync_variant_id: v.printful_sync_variant_id,
                    stock_limit,
                    max_per_order,
                    active: v.active,
                });
            }
            products.push(Product {
                slug,
                name: p.name.trim().to_string(),
                description: p.description.trim().to_string(),
                variants,
            });
        }
        Ok(Catalog { products })
    }

    /// Every variant with the product it belongs to.
    pub fn variants(&self) -> impl Iterator<Item = (&Product, &Variant)> {
        self.products
            .iter()
            .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
    }

    pub fn find(&self, sku: &Sku) -> Option<(&Product, &Variant)> {
        self.variants().find(|(_, v)| &v.sku == sku)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [[products]]
        slug = "tee"
        name = "Tee"
        currency = "EUR"
        [[products.variants]]
        sku = "TEE-S"
        size = "S"
        price = 2500
        printful_sync_variant_id = 11
        [[products.variants]]
        sku = "TEE-M"
        size = "M"
        price = 2500
        printful_sync_variant_id = 12
        stock_limit = 3
        max_per_order = 2
        active = false
    "#;

    #[test]
    fn a_good_catalog_parses() {
        let c = Catalog::from_toml(GOOD).unwrap();
        assert_eq!(c.variants().count(), 2);
        let (p, v) = c.find(&Sku::parse("TEE-M").unwrap()).unwrap();
        assert_eq!(p.slug, "tee");
        assert_eq!(v.stock_limit, Some(3));
        assert_eq!(v.max_per_order, Some(2));
        assert_eq!(c.find(&Sku::parse("TEE-S").unwrap()).unwrap().1.max_per_order, None);
        let product_wide =
            Catalog::from_toml(&GOOD.replace("currency = \"EUR\"", "currency = \"EUR\"\nmax_per_order = 4")).unwrap();
        let caps: Vec<Option<u32>> = product_wide.variants().map(|(_, v)| v.max_per_order).collect();
        assert_eq!(
            caps,
            vec![Some(4), Some(2)],
            "a variant's own cap wins over its product's"
        );
        assert!(!v.active);
        assert_eq!(v.currency.code(), "EUR");
    }

    fn error_of(text: &str) -> CatalogError {
        Catalog::from_toml(text).unwrap_err()
    }

    #[test]
    fn errors_name_the_product_and_the_field() {
        let dup = GOOD.replace("TEE-M", "TEE-S");
        let e = error_of(&dup);
        assert_eq!((e.product.as_str(), e.field.as_str()), ("tee", "variants[1].sku"));

        let e = error_of(&GOOD.replacen("price = 2500", "price = 0", 1));
        assert_eq!((e.product.as_str(), e.field.as_str()), ("tee", "variants[0].price"));
        assert!(e.to_string().contains("greater than zero"), "{e}");

        let e = error_of(&GOOD.replace("currency = \"EUR\"", "currency = \"EURO\""));
        assert_eq!(e.field, "variants[0].currency");

        let e = error_of(&GOOD.replace("currency = \"EUR\"", ""));
        assert_eq!(e.field, "variants[0].currency");

        let e = error_of(&GOOD.replace("stock_limit = 3", "stock_limit = -1"));
        assert_eq!(e.field, "variants[1].stock_limit");

        for bad in ["0", "-1", "101", "4294967296"] {
            let e = error_of(&GOOD.replace("max_per_order = 2", &format!("max_per_order = {bad}")));
            assert_eq!(
                (e.product.as_str(), e.field.as_str()),
                ("tee", "variants[1].max_per_order"),
                "{bad}"
            );
            assert!(e.to_string().contains("between 1 and 100"), "{e}");
        }
        let e = error_of(&GOOD.replace("currency = \"EUR\"", "currency = \"EUR\"\nmax_per_order = 0"));
        assert_eq!((e.product.as_str(), e.field.as_str()), ("tee", "max_per_order"));

        let e = error_of(&GOOD.replacen("printful_sync_variant_id = 11", "printful_sync_variant_id = 0", 1));
        assert_eq!(e.field, "variants[0].printful_sync_variant_id");

        let e = error_of("[[products]]\nslug = \"x\"\nname = \"X\"\nprice = 1\n");
        assert_eq!(e.field, "syntax");
        assert_eq!(error_of("").field, "products");
    }
}
