//! Order events (`Order Paid`, `Order Shipped`…): the outbox written with each transition and
//! the publisher that drains it.

#[allow(unused_imports)]
use super::prelude::*;
use super::*;

/// The `source` of every order event on the event bus.
pub const ORDER_EVENT_SOURCE: &str = "backroom.orders";

/// An order transition the outside world hears about, one event each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderEventType {
    Paid,
    Submitted,
    Shipped,
    Refunded,
    Canceled,
    NeedsAttention,
}

impl OrderEventType {
    pub const ALL: [OrderEventType; 6] = [
        OrderEventType::Paid,
        OrderEventType::Submitted,
        OrderEventType::Shipped,
        OrderEventType::Refunded,
        OrderEventType::Canceled,
        OrderEventType::NeedsAttention,
    ];

    /// The event's `detail-type` on the bus.
    pub fn detail_type(self) -> &'static str {
        match self {
            OrderEventType::Paid => "Order Paid",
            OrderEventType::Submitted => "Order Submitted",
            OrderEventType::Shipped => "Order Shipped",
            OrderEventType::Refunded => "Order Refunded",
            OrderEventType::Canceled => "Order Canceled",
            OrderEventType::NeedsAttention => "Order Needs Attention",
        }
    }

    pub fn parse_detail_type(s: &str) -> Option<OrderEventType> {
        OrderEventType::ALL.into_iter().find(|t| t.detail_type() == s)
    }

    /// The status the order reached.
    pub fn status(self) -> OrderStatus {
        match self {
            OrderEventType::Paid => OrderStatus::Paid,
            OrderEventType::Submitted => OrderStatus::Submitted,
            OrderEventType::Shipped => OrderStatus::Shipped,
            OrderEventType::Refunded => OrderStatus::Refunded,
            OrderEventType::Canceled => OrderStatus::Canceled,
            OrderEventType::NeedsAttention => OrderStatus::NeedsAttention,
        }
    }

    /// The event a transition makes: one when the status shown changes to one of the six, none
    /// when only a hidden part moved or the status is of no interest outside (in production,
    /// on hold, delivered, the unpaid endings).
    pub fn of_transition(from: OrderStatus, to: OrderStatus) -> Option<OrderEventType> {
        if from == to {
            return None;
        }
        OrderEventType::ALL.into_iter().find(|t| t.status() == to)
    }
}

impl fmt::Display for OrderEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail_type())
    }
}

impl Serialize for OrderEventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.detail_type())
    }
}

/// One row of the order-event outbox: written in the transaction of the transition, marked
/// published after the bus accepted the event. Its id is the timeline entry's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub event_id: uuid::Uuid,
    pub order_id: OrderId,
    pub event_type: OrderEventType,
    /// When the transition happened (the timeline entry's time).
    pub at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// Failed publish attempts so far.
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// An amount in integer minor units with its currency, as the events carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventMoney {
    pub amount: i64,
    pub currency: String,
}

impl EventMoney {
    fn of(amount: Cents, currency: Currency) -> EventMoney {
        EventMoney {
            amount: amount.get(),
            currency: currency.code().to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventItem {
    pub sku: String,
    pub name: String,
    pub size: String,
    pub quantity: u32,
    pub unit_price: EventMoney,
    pub line_total: EventMoney,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventTracking {
    pub carrier: String,
    pub number: String,
    pub url: String,
}

/// The `detail` of an order event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderEventDetail {
    /// Stable across re-publishing: consumers de-duplicate on it.
    pub event_id: String,
    pub order_id: OrderId,
    pub order_number: i64,
    /// The status this event reports (the order may have moved on since).
    pub status: OrderStatus,
    pub occurred_at: DateTime<Utc>,
    pub items: Vec<EventItem>,
    /// The items' total, from the catalog's prices.
    pub total: EventMoney,
    /// What the buyer was charged, part by part, once paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charged: Option<EventCharged>,
    /// Only when the owner has turned it on (`EVENTS_INCLUDE_EMAIL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// `Order Shipped` only: every parcel with a tracking number.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tracking: Vec<EventTracking>,
}

/// What was charged: the items' subtotal, less the discount, plus shipping and tax, is the total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventCharged {
    pub subtotal: EventMoney,
    pub discount: EventMoney,
    pub shipping: EventMoney,
    pub tax: EventMoney,
    pub total: EventMoney,
}

/// An event ready for the bus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderEvent {
    pub detail_type: OrderEventType,
    pub time: DateTime<Utc>,
    pub detail: OrderEventDetail,
}

impl OrderEvent {
    /// The event of an outbox entry, from the order and its shipments as stored now.
    pub fn build(
        entry: &OutboxEntry,
        order: &Order,
        shipments: &[ShipmentRecord],
        include_email: bool,
    ) -> Result<OrderEvent, MoneyError> {
        let currency = order.currency();
        let items = order
            .items
            .iter()
            .map(|i| {
                Ok(EventItem {
                    sku: i.sku.as_str().to_string(),
                    name: i.name.clone(),
                    size: i.size.clone(),
                    quantity: i.quantity,
                    unit_price: EventMoney::of(i.unit_price, currency),
                    line_total: EventMoney::of(i.line_total()?, currency),
                })
            })
            .collect::<Result<Vec<_>, MoneyError>>()?;
        let tracking = if entry.event_type == OrderEventType::Shipped {
            shipments
                .iter()
                .filter(|s| !s.tracking_number.is_empty() || !s.tracking_url.is_empty())
                .map(|s| EventTracking {
                    carrier: s.carrier.clone(),
                    number: s.tracking_number.clone(),
                    url: s.tracking_url.clone(),
                })
                .collect()
        } else {
            vec![]
        };
        Ok(OrderEvent {
            detail_type: entry.event_type,
            time: entry.at,
            detail: OrderEventDetail {
                event_id: entry.event_id.to_string(),
                order_id: order.id,
                order_number: order.number,
                status: entry.event_type.status(),
                occurred_at: entry.at,
                items,
                total: EventMoney::of(order.total.amount, currency),
                charged: order.charged.map(|c| EventCharged {
                    subtotal: EventMoney::of(c.subtotal, currency),
                    discount: EventMoney::of(c.discount, currency),
                    shipping: EventMoney::of(c.shipping, currency),
                    tax: EventMoney::of(c.tax, currency),
                    total: EventMoney::of(c.total, currency),
                }),
                customer_email: if include_email {
                    order.email.as_ref().map(|e| e.as_str().to_string())
                } else {
                    None
                },
                tracking,
            },
        })
    }

    pub fn event_id(&self) -> &str {
        &self.detail.event_id
    }

    /// The detail as the JSON string the bus takes.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).unwrap_or_else(|_| "{}".into())
    }
}

/// The order-event outbox.
pub trait OrderEventStore: Send + Sync {
    /// Entries not yet published, oldest first: of one order, or of all orders when `order` is
    /// `None`; only those whose transition happened at or before `before` when given.
    fn unpublished_events(
        &self,
        order: Option<OrderId>,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send;

    /// Marks an entry published; false if it already was.
    fn mark_published(&self, event_id: uuid::Uuid) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Counts a failed attempt and keeps its error; the entry stays for the catch-up.
    fn record_publish_failure(
        &self,
        event_id: uuid::Uuid,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Newest first, published or not.
    fn recent_events(&self, limit: u32) -> impl Future<Output = Result<Vec<OutboxEntry>, StoreError>> + Send;

    /// How many entries wait to be published.
    fn unpublished_count(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event bus did not take the event: {0}")]
pub struct PublishError(pub String);

/// Where order events go: EventBridge in AWS, the console for `backroom dev`.
pub trait EventPublisher: Send + Sync {
    fn publish(&self, event: &OrderEvent) -> impl Future<Output = Result<(), PublishError>> + Send;
}

#[cfg(test)]
mod order_event_tests {
    use super::*;
    use crate::order::OrderItem;
    use crate::{Money, OrderState};

    #[test]
    fn only_a_change_to_one_of_the_six_statuses_makes_an_event() {
        use OrderStatus::*;
        assert_eq!(
            OrderEventType::of_transition(PendingPayment, Paid),
            Some(OrderEventType::Paid)
        );
        assert_eq!(
            OrderEventType::of_transition(InProduction, Shipped),
            Some(OrderEventType::Shipped)
        );
        assert_eq!(
            OrderEventType::of_transition(Paid, NeedsAttention),
            Some(OrderEventType::NeedsAttention)
        );
        assert_eq!(OrderEventType::of_transition(Paid, Paid), None);
        assert_eq!(OrderEventType::of_transition(Submitted, InProduction), None);
        assert_eq!(OrderEventType::of_transition(Shipped, Delivered), None);
        assert_eq!(OrderEventType::of_transition(PendingPayment, Expired), None);
        for t in OrderEventType::ALL {
            assert_eq!(OrderEventType::parse_detail_type(t.detail_type()), Some(t));
            assert!(t.detail_type().starts_with("Order "));
        }
    }

    fn order(email: Option<&str>) -> Order {
        let eur = Currency::parse("EUR").unwrap();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Order {
            id: OrderId::new_random(),
            number: 42,
            state: OrderState::NEW,
            items: vec![OrderItem {
                sku: Sku::parse("tee-black-m").unwrap(),
                name: "Tee".into(),
                size: "M".into(),
                quantity: 2,
                unit_price: Cents::positive(2500).unwrap(),
                printful_sync_variant_id: 1,
            }],
            total: Money::new(Cents::new(5000).unwrap(), eur),
            email: email.map(|e| Email::parse(e).unwrap()),
            stripe_session_id: None,
            stripe_payment_intent_id: None,
            printful_order_id: None,
            shipping: None,
            fulfillment_released_at: None,
            submit_started_at: None,
            work: crate::owed::WorkLog::default(),
            charged: None,
            stripe_fee: None,
            printful_costs: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn entry(order: &Order, event_type: OrderEventType) -> OutboxEntry {
        OutboxEntry {
            event_id: uuid::Uuid::new_v4(),
            order_id: order.id,
            event_type,
            at: DateTime::from_timestamp(1_700_000_100, 0).unwrap(),
            published_at: None,
            attempts: 0,
            last_error: None,
        }
    }

    fn parcel() -> ShipmentRecord {
        ShipmentRecord {
            provider_shipment_id: 9,
            carrier: "DHL".into(),
            service: "Standard".into(),
            tracking_number: "JJD000123".into(),
            tracking_url: "https://track.example/JJD000123".into(),
            shipped_at: None,
            reshipment: false,
        }
    }

    #[test]
    fn the_detail_has_minor_units_the_id_and_email_only_when_asked() {
        let order = order(Some("buyer@example.com"));
        let paid = entry(&order, OrderEventType::Paid);
        let event = OrderEvent::build(&paid, &order, &[parcel()], false).unwrap();
        let detail: serde_json::Value = serde_json::from_str(&event.detail_json()).unwrap();
        assert_eq!(detail["event_id"], paid.event_id.to_string());
        assert_eq!(detail["order_id"], order.id.to_string());
        assert_eq!(detail["order_number"], 42);
        assert_eq!(detail["status"], "paid");
        assert_eq!(detail["total"], serde_json::json!({"amount": 5000, "currency": "EUR"}));
        assert_eq!(detail["items"][0]["unit_price"]["amount"], 2500);
        assert_eq!(detail["items"][0]["line_total"]["amount"], 5000);
        assert!(detail.get("customer_email").is_none(), "{detail}");
        assert!(
            detail.get("tracking").is_none(),
            "only Order Shipped carries tracking: {detail}"
        );

        let with_email = OrderEvent::build(&paid, &order, &[], true).unwrap();
        assert_eq!(with_email.detail.customer_email.as_deref(), Some("buyer@example.com"));
        assert!(detail.get("charged").is_none(), "nothing charged yet: {detail}");

        let c = |n: i64| crate::Cents::new(n).unwrap();
        let charged = Order {
            charged: Some(crate::order::Charged {
                subtotal: c(5000),
                discount: c(500),
                shipping: c(490),
                tax: c(0),
                total: c(4990),
            }),
            ..order
        };
        let event = OrderEvent::build(&paid, &charged, &[], false).unwrap();
        let detail: serde_json::Value = serde_json::from_str(&event.detail_json()).unwrap();
        assert_eq!(
            detail["charged"]["shipping"],
            serde_json::json!({"amount": 490, "currency": "EUR"})
        );
        assert_eq!(detail["charged"]["discount"]["amount"], 500);
        assert_eq!(detail["charged"]["total"]["amount"], 4990);
    }

    #[test]
    fn a_shipped_event_carries_tracking() {
        let order = order(None);
        let shipped = entry(&order, OrderEventType::Shipped);
        let event = OrderEvent::build(&shipped, &order, &[parcel()], true).unwrap();
        assert_eq!(event.detail_type.detail_type(), "Order Shipped");
        assert_eq!(event.time, shipped.at);
        assert_eq!(
            event.detail.tracking,
            vec![EventTracking {
                carrier: "DHL".into(),
                number: "JJD000123".into(),
                url: "https://track.example/JJD000123".into(),
            }]
        );
        assert_eq!(event.detail.customer_email, None, "the order has no e-mail");
    }
}
