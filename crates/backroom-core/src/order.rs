//! Orders, their lines and their status names.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::address::ShippingAddress;
pub use crate::earnings::Charged;
use crate::ids::{Email, OrderId, Sku};
use crate::machine::{Cause, OrderState};
use crate::money::{Cents, Currency, Money, MoneyError};
pub use crate::status::OrderStatus;

/// One line of an order, priced from the catalog when the order was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderItem {
    pub sku: Sku,
    pub name: String,
    pub size: String,
    pub quantity: u32,
    pub unit_price: Cents,
    pub printful_sync_variant_id: i64,
}

/// A line as the checkout asks for it, before pricing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrderItem {
    pub sku: Sku,
    pub quantity: u32,
}

/// Units of one SKU an order may hold, over all its lines, when the catalog sets no cap.
pub const DEFAULT_MAX_PER_ORDER: u32 = 10;
/// The largest cap the catalog may set for one SKU in one order.
pub const MAX_PER_ORDER_BOUND: u32 = 100;

/// One SKU's units summed over every line of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkuQuantity {
    pub sku: Sku,
    /// The first line that asks for this SKU.
    pub first_line: usize,
    pub quantity: u32,
}

/// An order asks for more units of one SKU than one order may hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at most {max} of {sku} per order; this order asks for {wanted}")]
pub struct OverOrderLimit {
    /// The line at which the SKU's running sum passes the cap.
    pub index: usize,
    pub sku: Sku,
    pub max: u32,
    /// Units of the SKU over all lines of the order.
    pub wanted: u32,
}

/// Sums each SKU's units over all lines and checks the sum against the SKU's cap (`cap_of`;
/// `None` means [`DEFAULT_MAX_PER_ORDER`]), so splitting a quantity over several lines buys
/// nothing. The sums come back in SKU order (the order stock is reserved in).
pub fn quantities_per_sku(
    items: &[NewOrderItem],
    cap_of: impl Fn(&Sku) -> Option<u32>,
) -> Result<Vec<SkuQuantity>, OverOrderLimit> {
    let mut sums: BTreeMap<&Sku, (usize, u64)> = BTreeMap::new();
    let mut first_over: Option<(usize, &Sku, u32)> = None;
    for (index, line) in items.iter().enumerate() {
        let entry = sums.entry(&line.sku).or_insert((index, 0));
        entry.1 += u64::from(line.quantity);
        let max = cap_of(&line.sku).unwrap_or(DEFAULT_MAX_PER_ORDER);
        if first_over.is_none() && entry.1 > u64::from(max) {
            first_over = Some((index, &line.sku, max));
        }
    }
    if let Some((index, sku, max)) = first_over {
        let wanted = sums.get(sku).map_or(0, |(_, n)| *n);
        return Err(OverOrderLimit {
            index,
            sku: sku.clone(),
            max,
            wanted: u32::try_from(wanted).unwrap_or(u32::MAX),
        });
    }
    Ok(sums
        .into_iter()
        .map(|(sku, (first_line, quantity))| SkuQuantity {
            sku: sku.clone(),
            first_line,
            // Each sum is at most its cap, a u32.
            quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
        })
        .collect())
}

impl OrderItem {
    pub fn line_total(&self) -> Result<Cents, MoneyError> {
        self.unit_price.checked_mul(self.quantity)
    }
}

/// The record of attempts at an order's owed work (never the source of what is owed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorkLog {
    /// Failed attempts since the last success.
    pub attempts: i32,
    /// Not before this time: the back-off after the last failure.
    pub due_at: Option<DateTime<Utc>>,
    /// When the first failure of the current run of failures happened.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The sum of the lines, or an overflow error: a total never wraps.
pub fn total_of(items: &[OrderItem]) -> Result<Cents, MoneyError> {
    items
        .iter()
        .try_fold(Cents::ZERO, |acc, item| acc.checked_add(item.line_total()?))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Order {
    pub id: OrderId,
    /// A short human number for the owner and the buyer.
    pub number: i64,
    pub state: OrderState,
    pub items: Vec<OrderItem>,
    pub total: Money,
    pub email: Option<Email>,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub printful_order_id: Option<i64>,
    /// Where the buyer wants it sent, as the payment provider collected it.
    pub shipping: Option<ShippingAddress>,
    /// When the owner let this order go to Printful while fulfillment was paused.
    pub fulfillment_released_at: Option<DateTime<Utc>>,
    /// When backroom first started creating this order at Printful. A Printful order with this
    /// order's external id is backroom's own only when this is set (or Printful's answer was
    /// recorded): anything else is someone else using the Printful token.
    pub submit_started_at: Option<DateTime<Utc>>,
    /// Attempts at the work the order owes (`owed::owed`), for back-off and alerting.
    pub work: WorkLog,
    /// What the payment provider charged, part by part, once paid.
    pub charged: Option<Charged>,
    /// Stripe's fee for the payment, in the account's settlement currency, once booked.
    pub stripe_fee: Option<Money>,
    /// What Printful bills, once it has priced the order.
    pub printful_costs: Option<crate::earnings::PrintfulCosts>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    pub fn status(&self) -> OrderStatus {
        self.state.status()
    }

    pub fn currency(&self) -> Currency {
        self.total.currency
    }

    /// What the order earned, once charged (see [`crate::earnings`]).
    pub fn earned(&self) -> Option<crate::earnings::Earned> {
        Some(crate::earnings::earned_from(
            self.charged?,
            self.currency(),
            self.stripe_fee,
            self.printful_costs,
        ))
    }

    /// Whether backroom itself sent (or started sending) this order to Printful: the test for
    /// whether a Printful order naming it is ours.
    pub fn submitted_by_us(&self) -> bool {
        self.submit_started_at.is_some() || self.printful_order_id.is_some()
    }
}

/// What happened to an order, and why: one entry per transition or noted fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub cause: Cause,
    pub detail: String,
}

#[cfg(test)]
mod tests {

    fn charged(subtotal: i64, discount: i64, shipping: i64, tax: i64, total: i64) -> Charged {
        let c = |v| Cents::new(v).unwrap();
        Charged {
            subtotal: c(subtotal),
            discount: c(discount),
            shipping: c(shipping),
            tax: c(tax),
            total: c(total),
        }
    }

    #[test]
    fn the_subtotal_is_checked_when_the_parts_add_up_and_the_total_when_not() {
        // Shipping, a discount and tax on 50.00 of items: 50 - 5 + 4.90 + 9.50 = 59.40.
        let paid = charged(5000, 500, 490, 950, 5940);
        assert!(paid.adds_up());
        assert_eq!(paid.amount_to_check().get(), 5000);
        // Parts that do not add up: the total is checked, so only items alone can pass.
        let odd = charged(5000, 0, 490, 0, 5000);
        assert!(!odd.adds_up());
        assert_eq!(odd.amount_to_check().get(), 5000);
        let odd = charged(5000, 0, 490, 0, 5600);
        assert_eq!(odd.amount_to_check().get(), 5600);
        assert!(charged(2800, 0, 0, 0, 2800).adds_up());
    }

    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderStatus::parse("PAID"), None);
    }

    fn line(sku: &str, quantity: u32) -> NewOrderItem {
        NewOrderItem {
            sku: Sku::parse(sku).unwrap(),
            quantity,
        }
    }

    #[test]
    fn one_sku_is_capped_over_all_lines_of_an_order() {
        let three_tens = [line("PRINT", 10), line("PRINT", 10), line("PRINT", 10)];
        let e = quantities_per_sku(&three_tens, |_| None).unwrap_err();
        assert_eq!((e.index, e.sku.as_str(), e.max, e.wanted), (1, "PRINT", 10, 30));
        assert_eq!(e.to_string(), "at most 10 of PRINT per order; this order asks for 30");

        let capped = |s: &Sku| (s.as_str() == "PRINT").then_some(2);
        let e = quantities_per_sku(&[line("TEE", 10), line("PRINT", 2), line("PRINT", 1)], capped).unwrap_err();
        assert_eq!((e.index, e.max, e.wanted), (2, 2, 3));

        let sums = quantities_per_sku(&[line("TEE", 4), line("MUG", 10), line("TEE", 6)], |_| None).unwrap();
        let sums: Vec<(&str, usize, u32)> = sums
            .iter()
            .map(|q| (q.sku.as_str(), q.first_line, q.quantity))
            .collect();
        assert_eq!(sums, vec![("MUG", 1, 10), ("TEE", 0, 10)]);
    }
}
