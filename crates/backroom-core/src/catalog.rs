//! The catalog: products and the variants a buyer can put in a cart. Read from `catalog.toml`
//! by the CLI and validated here; prices only ever come from the catalog, never from a request.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::Sku;
use crate::money::{Cents, Currency};
use crate::order::MAX_PER_ORDER_BOUND;
use crate::shipping::{ShippingZone, country_code};

/// A validated catalog: unique SKUs, positive prices, known currencies, and shipping zones whose
/// countries do not overlap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub products: Vec<Product>,
    /// Empty when the shop prices shipping with pre-created Stripe rates (or not at all).
    pub shipping_zones: Vec<ShippingZone>,
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

/// A catalog error names the product (or shipping zone) and the field, so the owner can find
/// the line to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {product:?}, {field}: {message}", if field.starts_with("shipping_zones") { "shipping zone" } else { "product" })]
pub struct CatalogError {
    /// The product's slug, or the shipping zone's name.
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
    #[serde(default)]
    shipping_zones: Vec<RawZone>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: String,
    #[serde(default)]
    countries: Vec<String>,
    /// Minor units; 0 ships free.
    rate: i64,
    /// Defaults to the products' currency when they all share one.
    currency: Option<String>,
    free_above: Option<i64>,
    /// `[min, max]` business days.
    delivery_days: Option<Vec<i64>>,
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

/// Validates the zones: named, unique names, known countries in at most one zone, a rate of 0
/// or more in a currency the products are priced in, a positive threshold, a sane estimate.
fn shipping_zones(raw: Vec<RawZone>, products: &[Product]) -> Result<Vec<ShippingZone>, CatalogError> {
    let mut currencies: Vec<Currency> = products
        .iter()
        .flat_map(|p| p.variants.iter().map(|v| v.currency))
        .collect();
    currencies.sort_by_key(|c| c.code());
    currencies.dedup();
    let mut zones: Vec<ShippingZone> = Vec::with_capacity(raw.len());
    for (i, z) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("shipping_zones[{i}].{name}");
        let name = z.name.trim().to_string();
        let err = |f: &str, m: &dyn fmt::Display| CatalogError::new(&name, field(f), m);
        if name.is_empty() {
            return Err(err("name", &"must not be empty"));
        }
        if zones.iter().any(|other| other.name == name) {
            return Err(err("name", &"is used by another shipping zone"));
        }
        if z.countries.is_empty() {
            return Err(err(
                "countries",
                &"list at least one country (two-letter codes such as DE)",
            ));
        }
        let mut countries = Vec::with_capacity(z.countries.len());
        for raw_code in &z.countries {
            let code = country_code(raw_code).map_err(|e| err("countries", &e))?;
            if countries.contains(&code) {
                return Err(err("countries", &format!("{code} is listed twice")));
            }
            if let Some(other) = zones.iter().find(|o| o.countries.contains(&code)) {
                return Err(err("countries", &format!("{code} is already in zone {:?}", other.name)));
            }
            countries.push(code);
        }
        let rate = Cents::new(z.rate).map_err(|e| err("rate", &e))?;
        let currency = match z.currency.as_deref() {
            Some(code) => Currency::parse(code).map_err(|e| err("currency", &e))?,
            None => match currencies.as_slice() {
                [one] => *one,
                _ => {
                    return Err(err(
                        "currency",
                        &"set the zone's currency: the products use more than one",
                    ));
                }
            },
        };
        if !currencies.contains(&currency) {
            return Err(err("currency", &format!("no product is priced in {}", currency.code())));
        }
        let free_above = z
            .free_above
            .map(|n| Cents::positive(n).map_err(|e| err("free_above", &e)))
            .transpose()?;
        let delivery_days = match z.delivery_days.as_deref() {
            None => None,
            Some(&[min, max]) if 1 <= min && min <= max && max <= 365 => Some((min as u32, max as u32)),
            Some(_) => {
                return Err(err(
                    "delivery_days",
                    &"write [min, max] business days, 1 <= min <= max <= 365",
                ));
            }
        };
        zones.push(ShippingZone {
            name,
            countries,
            rate,
            currency,
            free_above,
            delivery_days,
        });
    }
    Ok(zones)
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
        let shipping_zones = shipping_zones(raw.shipping_zones, &products)?;
        Ok(Catalog {
            products,
            shipping_zones,
        })
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

    const ZONES: &str = r#"
        [[shipping_zones]]
        name = "EU"
        countries = ["DE", "fr"]
        rate = 490
        free_above = 7500
        delivery_days = [3, 7]

        [[shipping_zones]]
        name = "World"
        countries = ["US"]
        rate = 1290
        currency = "EUR"
    "#;

    #[test]
    fn shipping_zones_parse_with_the_products_currency() {
        let c = Catalog::from_toml(&format!("{GOOD}{ZONES}")).unwrap();
        assert_eq!(c.shipping_zones.len(), 2);
        let eu = &c.shipping_zones[0];
        assert_eq!(eu.countries, ["DE", "FR"]);
        assert_eq!((eu.rate.get(), eu.currency.code()), (490, "EUR"));
        assert_eq!(eu.free_above.map(Cents::get), Some(7500));
        assert_eq!(eu.delivery_days, Some((3, 7)));
        assert_eq!(c.shipping_zones[1].free_above, None);
        assert!(Catalog::from_toml(GOOD).unwrap().shipping_zones.is_empty());
    }

    #[test]
    fn a_bad_shipping_zone_names_the_zone_and_the_field() {
        let bad = |from: &str, to: &str| {
            let text = format!("{GOOD}{}", ZONES.replacen(from, to, 1));
            let e = error_of(&text);
            (e.product.clone(), e.field.clone(), e.to_string())
        };
        let (zone, field, text) = bad("countries = [\"US\"]", "countries = [\"FR\"]");
        assert_eq!(
            (zone.as_str(), field.as_str()),
            ("World", "shipping_zones[1].countries")
        );
        assert!(text.starts_with("shipping zone \"World\""), "{text}");
        assert!(text.contains("FR is already in zone \"EU\""), "{text}");
        assert_eq!(bad("\"fr\"", "\"France\"").1, "shipping_zones[0].countries");
        assert_eq!(bad("\"fr\"", "\"DE\"").1, "shipping_zones[0].countries");
        assert_eq!(
            bad("countries = [\"US\"]", "countries = []").1,
            "shipping_zones[1].countries"
        );
        assert_eq!(bad("rate = 490", "rate = -1").1, "shipping_zones[0].rate");
        assert_eq!(
            bad("free_above = 7500", "free_above = 0").1,
            "shipping_zones[0].free_above"
        );
        assert_eq!(bad("[3, 7]", "[7, 3]").1, "shipping_zones[0].delivery_days");
        assert_eq!(bad("[3, 7]", "[3]").1, "shipping_zones[0].delivery_days");
        assert_eq!(
            bad("currency = \"EUR\"", "currency = \"USD\"").1,
            "shipping_zones[1].currency"
        );
        assert_eq!(bad("name = \"World\"", "name = \"EU\"").1, "shipping_zones[1].name");
        assert_eq!(bad("name = \"World\"", "name = \" \"").1, "shipping_zones[1].name");
        assert_eq!(bad("rate = 490", "rate = 490\nprice = 1").1, "syntax");
    }
}
