//! Pricing a cart: lines are priced only from the catalog, in one currency, within each SKU's
//! per-order cap, and limited pieces are checked against what is still unheld. The store loads
//! the catalog rows and the holds and writes the result; every rule is here.

use crate::ids::Sku;
use crate::machine::Payment;
use crate::money::{Cents, Currency, Money};
use crate::order::{NewOrderItem, OrderItem, SkuQuantity, quantities_per_sku, total_of};
use crate::ports::CreateOrderError;

/// What pricing needs of one catalog variant, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceEntry {
    pub sku: Sku,
    pub name: String,
    pub size: String,
    pub price: Cents,
    pub currency: Currency,
    pub printful_sync_variant_id: i64,
    /// How many may ever be sold; `None`: printed on demand without limit.
    pub stock_limit: Option<u32>,
    pub max_per_order: Option<u32>,
    pub active: bool,
}

/// A priced cart: its lines, its total and, per limited SKU, the units it holds and the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedOrder {
    pub items: Vec<OrderItem>,
    pub total: Money,
    /// The limited SKUs the order needs stock of, in SKU order (the order holds are taken in).
    pub holds: Vec<(SkuQuantity, u32)>,
}

/// Prices `lines` from `catalog`. Refusals name the first line at fault: an unknown or inactive
/// SKU, two currencies, a SKU over its per-order cap, a total past 64 bits, or no lines.
pub fn price(lines: &[NewOrderItem], catalog: &[PriceEntry]) -> Result<PricedOrder, CreateOrderError> {
    if lines.is_empty() {
        return Err(CreateOrderError::Empty);
    }
    let find = |sku: &Sku| catalog.iter().find(|e| &e.sku == sku);
    let mut items = Vec::with_capacity(lines.len());
    let mut currency: Option<Currency> = None;
    for (index, line) in lines.iter().enumerate() {
        let entry = find(&line.sku).ok_or_else(|| CreateOrderError::UnknownSku {
            index,
            sku: line.sku.clone(),
        })?;
        if !entry.active {
            return Err(CreateOrderError::Inactive {
                index,
                sku: line.sku.clone(),
            });
        }
        if currency.is_some_and(|c| c != entry.currency) {
            return Err(CreateOrderError::MixedCurrencies { index });
        }
        currency = Some(entry.currency);
        items.push(OrderItem {
            sku: line.sku.clone(),
            name: entry.name.clone(),
            size: entry.size.clone(),
            quantity: line.quantity,
            unit_price: entry.price,
            printful_sync_variant_id: entry.printful_sync_variant_id,
        });
    }
    let currency = currency.ok_or(CreateOrderError::Empty)?;
    // One SKU is capped over all lines of an order, so a limited piece cannot be hoarded by
    // spreading it over lines.
    let per_sku = quantities_per_sku(lines, |sku| find(sku).and_then(|e| e.max_per_order))?;
    let total = total_of(&items).map_err(CreateOrderError::Total)?;
    let holds = per_sku
        .into_iter()
        .filter_map(|q| find(&q.sku).and_then(|e| e.stock_limit).map(|limit| (q, limit)))
        .collect();
    Ok(PricedOrder {
        items,
        total: Money::new(total, currency),
        holds,
    })
}

/// Whether `wanted` units fit in `limit` with `held` units already held by other orders.
pub fn check_stock(wanted: &SkuQuantity, limit: u32, held: u64) -> Result<(), CreateOrderError> {
    let available = u64::from(limit).saturating_sub(held);
    if u64::from(wanted.quantity) > available {
        return Err(CreateOrderError::OutOfStock {
            index: wanted.first_line,
            sku: wanted.sku.clone(),
            available: u32::try_from(available).unwrap_or(u32::MAX),
        });
    }
    Ok(())
}

/// Whether an order in this payment state gives its held stock back: it will never be paid.
pub fn releases_stock(payment: Payment) -> bool {
    matches!(
        payment,
        Payment::CheckoutFailed | Payment::PaymentFailed | Payment::Expired
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sku: &str, price: i64, currency: &str) -> PriceEntry {
        PriceEntry {
            sku: Sku::parse(sku).unwrap(),
            name: sku.to_lowercase(),
            size: String::new(),
            price: Cents::positive(price).unwrap(),
            currency: Currency::parse(currency).unwrap(),
            printful_sync_variant_id: 1,
            stock_limit: None,
            max_per_order: None,
            active: true,
        }
    }

    fn line(sku: &str, quantity: u32) -> NewOrderItem {
        NewOrderItem {
            sku: Sku::parse(sku).unwrap(),
            quantity,
        }
    }

    #[test]
    fn refusals_name_the_line() {
        let mut catalog = vec![entry("A", 100, "EUR"), entry("B", 200, "USD"), entry("C", 300, "EUR")];
        catalog[2].active = false;
        assert!(matches!(
            price(&[line("A", 1), line("X", 1)], &catalog),
            Err(CreateOrderError::UnknownSku { index: 1, .. })
        ));
        assert!(matches!(
            price(&[line("C", 1)], &catalog),
            Err(CreateOrderError::Inactive { index: 0, .. })
        ));
        assert!(matches!(
            price(&[line("A", 1), line("B", 1)], &catalog),
            Err(CreateOrderError::MixedCurrencies { index: 1 })
        ));
        assert!(matches!(price(&[], &catalog), Err(CreateOrderError::Empty)));
        assert!(matches!(
            price(&[line("A", 6), line("A", 5)], &catalog),
            Err(CreateOrderError::OverOrderLimit(_))
        ));
    }

    #[test]
    fn limited_pieces_are_held_and_checked() {
        let mut catalog = vec![entry("A", 100, "EUR"), entry("B", 250, "EUR")];
        catalog[1].stock_limit = Some(3);
        let priced = price(&[line("A", 2), line("B", 1), line("B", 1)], &catalog).unwrap();
        assert_eq!(priced.total.amount.get(), 2 * 100 + 2 * 250);
        assert_eq!(priced.holds.len(), 1);
        let (wanted, limit) = &priced.holds[0];
        assert_eq!(
            (wanted.sku.as_str(), wanted.quantity, wanted.first_line, *limit),
            ("B", 2, 1, 3)
        );
        assert!(check_stock(wanted, *limit, 1).is_ok());
        assert!(matches!(
            check_stock(wanted, *limit, 2),
            Err(CreateOrderError::OutOfStock {
                index: 1,
                available: 1,
                ..
            })
        ));
        assert!(
            check_stock(wanted, *limit, 10).is_err(),
            "more held than the limit is none left"
        );
    }

    #[test]
    fn only_orders_that_will_never_be_paid_give_stock_back() {
        assert!(releases_stock(Payment::Expired));
        assert!(releases_stock(Payment::PaymentFailed));
        assert!(releases_stock(Payment::CheckoutFailed));
        assert!(!releases_stock(Payment::Paid));
        assert!(!releases_stock(Payment::Pending));
    }
}
