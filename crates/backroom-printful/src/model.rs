//! What the client sends and reads. Requests are plain structs turned into Printful's v1 JSON;
//! answers are read from JSON leniently (see `lenient.rs`), keeping only what backroom uses.

use std::fmt;

use backroom_core::machine::PrintfulStatus;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::lenient;

/// A draft order to create: items are existing store (sync) variants, priced with our retail
/// prices for the packing slip and customs papers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Our order id (`OrderId::external_id`): at most 32 characters of `[A-Za-z0-9_-]`, unique
    /// in the store. Printful enforces both; a duplicate is OR-13.
    pub external_id: String,
    pub recipient: Recipient,
    pub items: Vec<NewItem>,
    /// The currency of the retail prices (`retail_costs.currency`), e.g. `"EUR"`.
    pub currency: String,
    /// What the buyer paid (`retail_costs`), printed on the packing slip; `None` sends only
    /// the currency.
    pub retail_costs: Option<RetailCosts>,
}

/// `retail_costs` of a new order: decimal strings with the currency's places, e.g. `"4.90"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetailCosts {
    pub subtotal: String,
    pub discount: String,
    pub shipping: String,
    pub tax: String,
    pub total: String,
}

/// What Printful bills for an order (`costs`), read from its decimal strings into minor units;
/// `vat` is counted with `tax`.
pub use backroom_core::earnings::PrintfulCosts as Costs;

/// Reads an order's `costs` object; `None` when it is absent, not priced yet (Printful sends
/// nulls for a draft it has not costed) or malformed.
pub fn costs_from_json(v: &Value) -> Option<Costs> {
    let currency = backroom_core::Currency::parse(&lenient::text(&v["currency"])?).ok()?;
    // The totals must be there; a part Printful leaves null (no discount, no VAT) is zero.
    let amount = |key: &str| -> Option<backroom_core::Cents> {
        let text = match &v[key] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Null if !matches!(key, "subtotal" | "total") => return Some(backroom_core::Cents::ZERO),
            _ => return None,
        };
        backroom_core::Money::parse_decimal(&text, currency)
            .ok()
            .map(|m| m.amount)
    };
    let tax = amount("tax")?.checked_add(amount("vat")?).ok()?;
    Some(Costs {
        currency,
        subtotal: amount("subtotal")?,
        discount: amount("discount")?,
        shipping: amount("shipping")?,
        tax,
        total: amount("total")?,
    })
}

/// Where the order goes. Its `Debug` shows only the country, so that an address never reaches
/// a log line by way of `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub state_code: Option<String>,
    pub country_code: String,
    pub zip: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recipient")
            .field("country_code", &self.country_code)
            .finish_non_exhaustive()
    }
}

/// One line of a new order: a store variant by its sync variant id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewItem {
    pub sync_variant_id: i64,
    pub quantity: u32,
    /// A decimal string with two places, e.g. `"28.00"`, as Printful takes retail prices.
    pub retail_price: String,
    /// The name printed on the packing slip.
    pub name: String,
    /// Unique within the order; lets a later update address the line.
    pub external_id: String,
}

/// A Printful order, as much of it as backroom reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Order {
    pub id: i64,
    pub external_id: Option<String>,
    pub status: Status,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds: Printful's time of the last change, the stamp that orders observations.
    pub updated: i64,
    pub shipments: Vec<Shipment>,
    pub items: Vec<OrderItem>,
    /// What Printful bills, once it has priced the order.
    pub costs: Option<Costs>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderItem {
    /// `None` for lines that are not store variants (catalog variants, templates).
    pub sync_variant_id: Option<i64>,
    pub quantity: u32,
}

/// An order as a path names it: Printful's id, or our `external_id` (written `@external_id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OrderRef {
    Id(i64),
    External(String),
}

impl fmt::Display for OrderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderRef::Id(id) => write!(f, "{id}"),
            OrderRef::External(ext) => write!(f, "@{ext}"),
        }
    }
}

/// An order's status. Values Printful adds later are kept as they came, so that they can be
/// logged and alerted on rather than failing the parse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Known(PrintfulStatus),
    Other(String),
}

/// One package: Printful sends one per shipment and again for a reshipment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shipment {
    pub id: i64,
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    pub tracking_url: String,
    /// `YYYY-MM-DD`.
    pub ship_date: Option<String>,
    /// Unix seconds.
    pub shipped_at: Option<i64>,
    pub reshipment: bool,
}

/// One page of `GET /orders`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// How many orders match in all (Printful's `paging.total`).
    pub total: u32,
    /// How many were skipped before this page.
    pub offset: u32,
}

/// The store's v1 webhook configuration (`GET /webhooks`). Only one URL can be active per
/// store, and anyone with a `webhooks`-scoped token can replace it, so the reconciler checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: Option<String>,
    pub types: Vec<String>,
}

/// The last `X-Ratelimit-*` headers seen. For v1 `reset_secs` is the time until the window
/// refills; for v2 the time until the bucket is full again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    pub reset_secs: Option<f64>,
}

impl NewOrder {
    /// The v1 `POST /orders` body. Absent optional fields are left out rather than sent as
    /// null, since Printful's schema declares them as plain strings.
    pub(crate) fn to_json(&self) -> Value {
        let r = &self.recipient;
        let mut recipient = Map::new();
        let mut put = |key: &str, value: Option<&String>| {
            if let Some(v) = value {
                recipient.insert(key.to_string(), Value::String(v.clone()));
            }
        };
        put("name", Some(&r.name));
        put("address1", Some(&r.address1));
        put("address2", r.address2.as_ref());
        put("city", Some(&r.city));
        put("state_code", r.state_code.as_ref());
        put("country_code", Some(&r.country_code));
        put("zip", Some(&r.zip));
        put("email", r.email.as_ref());
        put("phone", r.phone.as_ref());
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|i| {
                json!({
                    "external_id": i.external_id,
                    "sync_variant_id": i.sync_variant_id,
                    "quantity": i.quantity,
                    "retail_price": i.retail_price,
                    "name": i.name,
                })
            })
            .collect();
        json!({
            "external_id": self.external_id,
            "recipient": recipient,
            "items": items,
            "retail_costs": match &self.retail_costs {
                None => json!({ "currency": self.currency }),
                Some(r) => json!({
                    "currency": self.currency,
                    "subtotal": r.subtotal,
                    "discount": r.discount,
                    "shipping": r.shipping,
                    "tax": r.tax,
                    "total": r.total,
                }),
            },
        })
    }
}

impl Status {
    pub fn parse(s: &str) -> Status {
        let s = s.trim();
        match PrintfulStatus::parse(&s.to_ascii_lowercase()) {
            Some(known) => Status::Known(known),
            None => Status::Other(s.to_string()),
        }
    }

    /// The status as Printful spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Known(s) => match s {
                PrintfulStatus::Draft => "draft",
                PrintfulStatus::Pending => "pending",
                PrintfulStatus::Failed => "failed",
                PrintfulStatus::Canceled => "canceled",
                PrintfulStatus::Inprocess => "inprocess",
                PrintfulStatus::Onhold => "onhold",
                PrintfulStatus::Partial => "partial",
                PrintfulStatus::Fulfilled => "fulfilled",
                PrintfulStatus::Archived => "archived",
            },
            Status::Other(s) => s,
        }
    }

    pub fn known(&self) -> Option<PrintfulStatus> {
        match self {
            Status::Known(s) => Some(*s),
            Status::Other(_) => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Status::parse(&lenient::text(&v).unwrap_or_default()))
    }
}

impl Order {
    /// Reads a v1 Order object. Only `id` is required; everything else has a neutral default,
    /// and a missing status reads as `Other("")`.
    pub fn from_json(v: &Value) -> Result<Order, String> {
        if !v.is_object() {
            return Err(format!("an order must be a JSON object, not {}", kind(v)));
        }
        let id = lenient::int(&v["id"]).ok_or_else(|| format!("the order has no usable id: {}", v["id"]))?;
        let shipments = match &v["shipments"] {
            Value::Array(list) => list.iter().map(Shipment::from_json).collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        };
        let items = match &v["items"] {
            Value::Array(list) => list
                .iter()
                .map(|i| OrderItem {
                    sync_variant_id: lenient::int(&i["sync_variant_id"]),
                    quantity: lenient::uint(&i["quantity"]).unwrap_or(0),
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Order {
            id,
            external_id: lenient::non_empty(&v["external_id"]),
            status: Status::parse(&lenient::text(&v["status"]).unwrap_or_default()),
            created: lenient::unix_time(&v["created"]).unwrap_or(0),
            updated: lenient::unix_time(&v["updated"]).unwrap_or(0),
            shipments,
            items,
            costs: costs_from_json(&v["costs"]),
        })
    }
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Order::from_json(&v).map_err(serde::de::Error::custom)
    }
}

impl Shipment {
    /// Reads a v1 OrderShipment object; `id` is required, since shipments are merged by it.
    pub fn from_json(v: &Value) -> Result<Shipment, String> {
        let id = lenient::int(&v["id"]).ok_or_else(|| format!("a shipment has no usable id: {}", v["id"]))?;
        Ok(Shipment {
            id,
            carrier: lenient::text(&v["carrier"]).unwrap_or_default(),
            service: lenient::text(&v["service"]).unwrap_or_default(),
            tracking_number: lenient::text(&v["tracking_number"]).unwrap_or_default(),
            tracking_url: lenient::text(&v["tracking_url"]).unwrap_or_default(),
            ship_date: lenient::non_empty(&v["ship_date"]),
            shipped_at: lenient::unix_time(&v["shipped_at"]),
            reshipment: lenient::boolean(&v["reshipment"]).unwrap_or(false),
        })
    }
}

impl<'de> Deserialize<'de> for Shipment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Shipment::from_json(&v).map_err(serde::de::Error::custom)
    }
}

impl WebhookConfig {
    pub(crate) fn from_json(v: &Value) -> WebhookConfig {
        let types = match &v["types"] {
            Value::Array(list) => list.iter().filter_map(lenient::non_empty).collect(),
            _ => Vec::new(),
        };
        WebhookConfig {
            url: lenient::non_empty(&v["url"]),
            types,
        }
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_known_and_keep_unknown() {
        assert_eq!(Status::parse("pending"), Status::Known(PrintfulStatus::Pending));
        assert_eq!(Status::parse("Fulfilled"), Status::Known(PrintfulStatus::Fulfilled));
        assert_eq!(Status::parse("awaiting_stock"), Status::Other("awaiting_stock".into()));
        assert_eq!(Status::parse("awaiting_stock").as_str(), "awaiting_stock");
        assert_eq!(Status::Known(PrintfulStatus::Inprocess).to_string(), "inprocess");
    }

    #[test]
    fn the_create_body_leaves_absent_fields_out() {
        let order = NewOrder {
            external_id: "0123456789abcdef0123456789abcdef".into(),
            recipient: Recipient {
                name: "Ada".into(),
                address1: "1 Main St".into(),
                address2: None,
                city: "Riga".into(),
                state_code: None,
                country_code: "LV".into(),
                zip: "1010".into(),
                email: Some("ada@example.com".into()),
                phone: None,
            },
            items: vec![NewItem {
                sync_variant_id: 4000101,
                quantity: 2,
                retail_price: "28.00".into(),
                name: "Print".into(),
                external_id: "0123456789abcdef0123456789abcdef-0".into(),
            }],
            currency: "EUR".into(),
            retail_costs: None,
        };
        let body = order.to_json();
        assert_eq!(body["recipient"].get("address2"), None);
        assert_eq!(body["recipient"].get("phone"), None);
        assert_eq!(body["recipient"]["email"], "ada@example.com");
        assert_eq!(body["items"][0]["sync_variant_id"], 4000101);
        assert_eq!(body["items"][0]["retail_price"], "28.00");
        assert_eq!(body["retail_costs"]["currency"], "EUR");
        // The address must not leak through Debug.
        assert!(!format!("{:?}", order.recipient).contains("Main St"));
    }

    #[test]
    fn costs_read_exactly_with_vat_as_tax_and_unpriced_as_none() {
        let costs = costs_from_json(&json!({
            "currency": "EUR", "subtotal": "21.95", "discount": "0.00", "shipping": "4.99",
            "digitization": "0.00", "additional_fee": "0.00", "fulfillment_fee": "0.00",
            "tax": "1.00", "vat": "4.22", "total": "32.16"
        }))
        .unwrap();
        let c = |n: i64| backroom_core::Cents::new(n).unwrap();
        assert_eq!(
            (costs.subtotal, costs.shipping, costs.tax, costs.total, costs.discount),
            (c(2195), c(499), c(522), c(3216), c(0))
        );
        assert_eq!(costs.currency.code(), "EUR");
        let unpriced = json!({"currency": "EUR", "subtotal": null, "total": null, "shipping": null});
        assert_eq!(costs_from_json(&unpriced), None);
        assert_eq!(costs_from_json(&Value::Null), None);
        assert_eq!(
            costs_from_json(&json!({"currency": "EUR", "subtotal": "1.001", "total": "1"})),
            None
        );
    }
}
