//! The store's products (v1 "sync products", `GET /store/products` and
//! `GET /store/products/{id}`): what the shop's catalog can be imported from. Prices are read
//! into integer minor units of their currency and never pass through a float; a price that is
//! not an exact amount in its currency is an error, not a rounding.

use std::fmt;

use backroom_core::{Cents, Currency};
use serde::Serialize;
use serde_json::Value;

use crate::lenient;

/// One sync product with every one of its variants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncProduct {
    pub id: i64,
    pub external_id: Option<String>,
    pub name: String,
    pub thumbnail_url: Option<String>,
    pub is_ignored: bool,
    pub variants: Vec<SyncVariant>,
}

/// One sync variant: what an order line names as `sync_variant_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncVariant {
    /// The sync variant id.
    pub id: i64,
    pub external_id: Option<String>,
    pub sync_product_id: i64,
    pub name: String,
    pub sku: Option<String>,
    pub size: Option<String>,
    pub color: Option<String>,
    /// The catalog variant printed (`variant_id`).
    pub catalog_variant_id: Option<i64>,
    /// `retail_price`, in minor units of `currency`.
    pub retail_price: Cents,
    pub currency: Currency,
    pub availability: Availability,
    pub is_ignored: bool,
    pub synced: bool,
}

/// A sync variant's `availability_status`. Values Printful adds later, and a variant that
/// says nothing, are kept as [`Availability::Unknown`] with the text as it came.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Availability {
    Active,
    OutOfStock,
    TemporaryOutOfStock,
    Discontinued,
    Unknown(String),
}

impl Availability {
    pub fn parse(s: &str) -> Availability {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Availability::Active,
            "out_of_stock" => Availability::OutOfStock,
            "temporary_out_of_stock" => Availability::TemporaryOutOfStock,
            "discontinued" => Availability::Discontinued,
            _ => Availability::Unknown(s.trim().to_string()),
        }
    }

    /// The status as Printful spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Availability::Active => "active",
            Availability::OutOfStock => "out_of_stock",
            Availability::TemporaryOutOfStock => "temporary_out_of_stock",
            Availability::Discontinued => "discontinued",
            Availability::Unknown(s) => s,
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Availability {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A decimal price such as `"28.00"` in minor units of `currency`: digits, then optionally a
/// point and digits. More decimals than the currency has are accepted only when they are zeros
/// (`"1500.00"` yen is 1500), since anything else is not an amount that currency can hold.
/// Signs, exponents, thousands separators, spaces inside and amounts past 64 bits are refused.
pub fn parse_price(text: &str, currency: Currency) -> Result<Cents, String> {
    backroom_core::Money::parse_decimal(text, currency).map(|m| m.amount)
}

impl SyncProduct {
    /// Reads v1's `{sync_product, sync_variants}`.
    pub fn from_json(v: &Value) -> Result<SyncProduct, String> {
        let p = &v["sync_product"];
        let id = lenient::int(&p["id"]).ok_or_else(|| format!("a sync product has no usable id: {}", p["id"]))?;
        let variants = match &v["sync_variants"] {
            Value::Array(list) => list
                .iter()
                .map(|sv| SyncVariant::from_json(sv, id))
                .collect::<Result<Vec<_>, _>>()?,
            Value::Null => Vec::new(),
            other => {
                return Err(format!(
                    "sync product {id}: sync_variants is {}, not an array",
                    crate::model::kind(other)
                ));
            }
        };
        Ok(SyncProduct {
            id,
            external_id: lenient::non_empty(&p["external_id"]),
            name: lenient::text(&p["name"]).unwrap_or_default(),
            thumbnail_url: lenient::non_empty(&p["thumbnail_url"]),
            is_ignored: lenient::boolean(&p["is_ignored"]).unwrap_or(false),
            variants,
        })
    }
}

impl SyncVariant {
    /// Reads a v1 SyncVariant of product `product_id`. The id, the currency and the price are
    /// required: a variant without them cannot be sold.
    pub fn from_json(v: &Value, product_id: i64) -> Result<SyncVariant, String> {
        let id = lenient::int(&v["id"])
            .ok_or_else(|| format!("sync product {product_id}: a variant has no usable id: {}", v["id"]))?;
        let what = format!("sync variant {id} of product {product_id}");
        let code = lenient::non_empty(&v["currency"]).ok_or_else(|| format!("{what} has no currency"))?;
        let currency = Currency::parse(&code).map_err(|e| format!("{what}: {e}"))?;
        let retail_price = match &v["retail_price"] {
            Value::String(s) => parse_price(s, currency).map_err(|e| format!("{what}: retail_price {e}"))?,
            other => {
                return Err(format!(
                    "{what}: retail_price is {}, not a decimal string such as \"28.00\"",
                    crate::model::kind(other)
                ));
            }
        };
        Ok(SyncVariant {
            id,
            external_id: lenient::non_empty(&v["external_id"]),
            sync_product_id: lenient::int(&v["sync_product_id"]).unwrap_or(product_id),
            name: lenient::text(&v["name"]).unwrap_or_default(),
            sku: lenient::non_empty(&v["sku"]),
            size: lenient::non_empty(&v["size"]),
            color: lenient::non_empty(&v["color"]),
            catalog_variant_id: lenient::int(&v["variant_id"]),
            retail_price,
            currency,
            availability: Availability::parse(&lenient::text(&v["availability_status"]).unwrap_or_default()),
            is_ignored: lenient::boolean(&v["is_ignored"]).unwrap_or(false),
            synced: lenient::boolean(&v["synced"]).unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn prices_become_minor_units_with_the_currencys_exponent() {
        let ok = |s: &str, c: &str| parse_price(s, cur(c)).map(Cents::get);
        assert_eq!(ok("28.00", "EUR"), Ok(2800));
        assert_eq!(ok("28.5", "EUR"), Ok(2850));
        assert_eq!(ok("28", "EUR"), Ok(2800));
        assert_eq!(ok("0.07", "USD"), Ok(7));
        assert_eq!(ok("1500", "JPY"), Ok(1500));
        assert_eq!(ok("1500.00", "JPY"), Ok(1500));
        assert_eq!(ok("12.345", "KWD"), Ok(12345));
        assert_eq!(ok("28.000", "EUR"), Ok(2800));
        assert_eq!(ok(" 28.00 ", "EUR"), Ok(2800));
    }

    #[test]
    fn malformed_prices_are_refused_with_the_reason() {
        for bad in [
            "",
            "-1.00",
            "+1.00",
            "1,00",
            "1.005",
            "1e3",
            ".50",
            "28.",
            "2 8.00",
            "abc",
            "1.0.0",
            "NaN",
            "99999999999999999999",
        ] {
            let err = parse_price(bad, cur("EUR")).unwrap_err();
            assert!(err.contains("EUR"), "{bad:?}: {err}");
        }
        assert!(
            parse_price("1500.5", cur("JPY"))
                .unwrap_err()
                .contains("0 decimal places")
        );
    }
}
