//! What v2's `GET /v2/orders/{order_id}/shipments` says about an order's packages: where each
//! is (`delivery_status`, `delivered_at`), how it travels and what it holds. v1 orders carry
//! their shipments too ([`crate::Shipment`]) but never say whether a package arrived.
//!
//! Read leniently like everything else here, except the two times a shop acts on: a
//! `shipped_at` or `delivered_at` that is present but not a time is an error, not a missing
//! date.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use crate::lenient;

/// One package of an order, as v2 shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shipment {
    pub id: i64,
    /// The Printful order id.
    pub order_id: i64,
    /// Our order id, as the order's `external_id`.
    pub order_external_id: Option<String>,
    pub carrier: Option<String>,
    pub service: Option<String>,
    /// Printful's side of it (`shipment_status`): `shipped`, `returned`, `canceled`, `onhold`, …
    pub shipment_status: String,
    /// Unix seconds.
    pub shipped_at: Option<i64>,
    pub delivery_status: DeliveryStatus,
    /// Unix seconds; set once the carrier reports the package delivered.
    pub delivered_at: Option<i64>,
    /// A second package for items of an earlier one (`is_reshipment`).
    pub is_reshipment: bool,
    /// `tracking_number`: sent by Printful's API and v2 webhooks, though the v2 beta document's
    /// Shipment schema leaves it out.
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    /// `estimated_delivery.from_date` and `to_date`.
    pub estimated_from: Option<NaiveDate>,
    pub estimated_to: Option<NaiveDate>,
    /// `tracking_events`, oldest first as Printful lists them.
    pub tracking_events: Vec<TrackingEvent>,
    /// `shipment_items`.
    pub items: Vec<ShipmentItem>,
}

/// One line of a shipment: which order item, how many of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShipmentItem {
    pub order_item_id: i64,
    pub order_item_external_id: Option<String>,
    pub quantity: u32,
}

/// One step the carrier reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackingEvent {
    /// Unix seconds.
    pub triggered_at: i64,
    pub description: String,
}

/// v2's `delivery_status`. Printful's own `unknown` (the carrier has said nothing yet) and any
/// value Printful adds later are both kept as [`DeliveryStatus::Unknown`] with the text as it
/// came, so that nothing fails to parse and the text can still be logged.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    PreTransit,
    InTransit,
    OutForDelivery,
    AvailableForPickup,
    Delivered,
    /// `return_to_sender`: the package is going back to Printful.
    ReturnToSender,
    /// `failure`: the carrier could not deliver it.
    Failure,
    Canceled,
    Unknown(String),
}

impl DeliveryStatus {
    pub fn parse(s: &str) -> DeliveryStatus {
        match s.trim().to_ascii_lowercase().as_str() {
            "pre_transit" => DeliveryStatus::PreTransit,
            "in_transit" => DeliveryStatus::InTransit,
            "out_for_delivery" => DeliveryStatus::OutForDelivery,
            "available_for_pickup" => DeliveryStatus::AvailableForPickup,
            "delivered" => DeliveryStatus::Delivered,
            "return_to_sender" => DeliveryStatus::ReturnToSender,
            "failure" => DeliveryStatus::Failure,
            "canceled" => DeliveryStatus::Canceled,
            _ => DeliveryStatus::Unknown(s.trim().to_string()),
        }
    }

    /// The status as Printful spells it.
    pub fn as_str(&self) -> &str {
        match self {
            DeliveryStatus::PreTransit => "pre_transit",
            DeliveryStatus::InTransit => "in_transit",
            DeliveryStatus::OutForDelivery => "out_for_delivery",
            DeliveryStatus::AvailableForPickup => "available_for_pickup",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::ReturnToSender => "return_to_sender",
            DeliveryStatus::Failure => "failure",
            DeliveryStatus::Canceled => "canceled",
            DeliveryStatus::Unknown(s) => s,
        }
    }

    /// The package will not reach the buyer as things stand: returned, failed or canceled.
    pub fn is_undeliverable(&self) -> bool {
        matches!(
            self,
            DeliveryStatus::ReturnToSender | DeliveryStatus::Failure | DeliveryStatus::Canceled
        )
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DeliveryStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Shipment {
    /// Reads a v2 Shipment object; `id` and `order_id` are required.
    pub fn from_json(v: &Value) -> Result<Shipment, String> {
        if !v.is_object() {
            return Err(format!(
                "a shipment must be a JSON object, not {}",
                crate::model::kind(v)
            ));
        }
        let id = lenient::int(&v["id"]).ok_or_else(|| format!("a shipment has no usable id: {}", v["id"]))?;
        let order_id = lenient::int(&v["order_id"])
            .ok_or_else(|| format!("shipment {id} has no usable order_id: {}", v["order_id"]))?;
        let time = |key: &str| -> Result<Option<i64>, String> {
            match &v[key] {
                Value::Null => Ok(None),
                Value::String(s) if s.trim().is_empty() => Ok(None),
                other => lenient::unix_time(other)
                    .map(Some)
                    .ok_or_else(|| format!("shipment {id}: {key} {other} is not a time")),
            }
        };
        let date = |key: &str| {
            v["estimated_delivery"][key]
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
        };
        let items = match &v["shipment_items"] {
            Value::Array(list) => list
                .iter()
                .map(|i| {
                    let order_item_id = lenient::int(&i["order_item_id"]).ok_or_else(|| {
                        format!(
                            "shipment {id}: an item has no usable order_item_id: {}",
                            i["order_item_id"]
                        )
                    })?;
                    Ok(ShipmentItem {
                        order_item_id,
                        order_item_external_id: lenient::non_empty(&i["order_item_external_id"]),
                        quantity: lenient::uint(&i["quantity"]).unwrap_or(0),
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
            _ => Vec::new(),
        };
        let tracking_events = match &v["tracking_events"] {
            Value::Array(list) => list
                .iter()
                .filter_map(|e| {
                    Some(TrackingEvent {
                        triggered_at: lenient::unix_time(&e["triggered_at"])?,
                        description: lenient::text(&e["description"]).unwrap_or_default(),
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Shipment {
            id,
            order_id,
            order_external_id: lenient::non_empty(&v["order_external_id"]),
            carrier: lenient::non_empty(&v["carrier"]),
            service: lenient::non_empty(&v["service"]),
            shipment_status: lenient::text(&v["shipment_status"]).unwrap_or_default(),
            shipped_at: time("shipped_at")?,
            delivery_status: DeliveryStatus::parse(&lenient::text(&v["delivery_status"]).unwrap_or_default()),
            delivered_at: time("delivered_at")?,
            is_reshipment: lenient::boolean(&v["is_reshipment"]).unwrap_or(false),
            tracking_number: lenient::non_empty(&v["tracking_number"]),
            tracking_url: lenient::non_empty(&v["tracking_url"]),
            estimated_from: date("from_date"),
            estimated_to: date("to_date"),
            tracking_events,
            items,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn delivery_statuses_parse_known_and_keep_the_rest() {
        assert_eq!(DeliveryStatus::parse("delivered"), DeliveryStatus::Delivered);
        assert_eq!(
            DeliveryStatus::parse("return_to_sender"),
            DeliveryStatus::ReturnToSender
        );
        assert_eq!(
            DeliveryStatus::parse("unknown"),
            DeliveryStatus::Unknown("unknown".into())
        );
        assert_eq!(DeliveryStatus::parse("lost_at_sea").as_str(), "lost_at_sea");
        assert!(DeliveryStatus::Failure.is_undeliverable());
        assert!(!DeliveryStatus::InTransit.is_undeliverable());
    }

    #[test]
    fn a_shipment_reads_times_and_refuses_a_time_that_is_not_one() {
        let mut v = json!({
            "id": 7, "order_id": 9, "delivery_status": "delivered",
            "shipped_at": "2023-06-15T16:35:35Z", "delivered_at": "2023-06-17T10:00:00Z",
            "estimated_delivery": { "from_date": "2023-06-16", "to_date": "2023-06-20" },
            "shipment_items": [{ "order_item_id": 20, "quantity": 2 }],
        });
        let s = Shipment::from_json(&v).unwrap();
        assert_eq!(s.shipped_at, Some(1686846935));
        assert_eq!(s.delivered_at, Some(1686996000));
        assert_eq!(s.estimated_from, NaiveDate::from_ymd_opt(2023, 6, 16));
        assert_eq!(s.items[0].quantity, 2);
        v["delivered_at"] = json!("yesterday");
        let err = Shipment::from_json(&v).unwrap_err();
        assert!(err.contains("delivered_at"), "{err}");
        v["delivered_at"] = Value::Null;
        assert_eq!(Shipment::from_json(&v).unwrap().delivered_at, None);
    }
}
