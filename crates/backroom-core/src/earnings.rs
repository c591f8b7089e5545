//! What an order earned: what the buyer paid (less the tax, which is the state's), less Stripe's
//! fee and Printful's bill. The number a small shop lives by, per order and per period.

use serde::{Deserialize, Serialize};

use crate::ids::OrderId;
use crate::money::{Cents, Currency, Money};

/// What the payment provider charged for an order, part by part, in minor units of the
/// payment's currency: the items' subtotal, less the discount, plus shipping and tax, is the
/// total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charged {
    pub subtotal: Cents,
    pub discount: Cents,
    pub shipping: Cents,
    pub tax: Cents,
    pub total: Cents,
}

impl Charged {
    /// Whether the parts add up to the total.
    pub fn adds_up(&self) -> bool {
        let sum = self.subtotal.get() as i128 - self.discount.get() as i128
            + self.shipping.get() as i128
            + self.tax.get() as i128;
        sum == self.total.get() as i128
    }

    /// The amount to compare with the order's own subtotal: the provider's subtotal when its
    /// parts add up to what it charged, else the total, which then cannot pass unless nothing
    /// but the items was charged.
    pub fn amount_to_check(&self) -> Cents {
        if self.adds_up() { self.subtotal } else { self.total }
    }
}

/// What Printful bills for an order (its `costs`), in minor units of Printful's currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintfulCosts {
    pub currency: Currency,
    pub subtotal: Cents,
    pub discount: Cents,
    pub shipping: Cents,
    pub tax: Cents,
    pub total: Cents,
}

/// One order's account. Amounts are signed minor units of `currency` (a margin can be
/// negative); a part not known yet (the fee before Stripe booked it, Printful's bill before it
/// confirmed) is `None`, and so is the margin then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Earned {
    pub currency: Currency,
    /// What the buyer paid, less tax.
    pub revenue: i64,
    pub stripe_fee: Option<i64>,
    pub printful_cost: Option<i64>,
    pub margin: Option<i64>,
    /// Why the order lost money, in words, when it did.
    pub losses: Vec<String>,
}

/// The account of an order that was charged, from its stored parts. A fee or bill in another
/// currency than the order's (a settlement currency differs) is left out, as unknown, rather
/// than converted at a guessed rate.
pub fn earned_from(
    charged: Charged,
    currency: Currency,
    stripe_fee: Option<Money>,
    printful_costs: Option<PrintfulCosts>,
) -> Earned {
    let revenue = charged.total.get() - charged.tax.get();
    let stripe_fee = stripe_fee.filter(|f| f.currency == currency).map(|f| f.amount.get());
    let printful = printful_costs.filter(|c| c.currency == currency);
    let printful_cost = printful.map(|c| c.total.get());
    let margin = stripe_fee.zip(printful_cost).map(|(fee, cost)| revenue - fee - cost);
    let mut losses = Vec::new();
    if let Some(m) = margin.filter(|m| *m < 0) {
        losses.push(format!("sold at a loss of {}", signed(m.abs(), currency)));
    }
    if let Some(c) = printful
        && charged.shipping < c.shipping
    {
        losses.push(format!(
            "shipping charged {} is below Printful's shipping {}",
            Money::new(charged.shipping, currency),
            Money::new(c.shipping, currency)
        ));
    }
    Earned {
        currency,
        revenue,
        stripe_fee,
        printful_cost,
        margin,
        losses,
    }
}

/// One paid order's account, for a period's summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderAccount {
    pub order_id: OrderId,
    pub number: i64,
    pub earned: Earned,
}

/// A period's accounts: sums per currency, and the orders that lost money.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PeriodEarnings {
    pub by_currency: Vec<CurrencyTotals>,
    pub at_a_loss: Vec<OrderAccount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CurrencyTotals {
    pub currency: Currency,
    pub totals: Totals,
}

/// Sums the accounts per currency (in the order the currencies first appear) and lists the
/// orders sold at a loss.
pub fn period(accounts: Vec<OrderAccount>) -> PeriodEarnings {
    let mut out = PeriodEarnings::default();
    for a in accounts {
        let currency = a.earned.currency;
        let i = match out.by_currency.iter().position(|c| c.currency == currency) {
            Some(i) => i,
            None => {
                out.by_currency.push(CurrencyTotals {
                    currency,
                    totals: Totals::default(),
                });
                out.by_currency.len() - 1
            }
        };
        out.by_currency[i].totals.add(&a.earned);
        if !a.earned.losses.is_empty() {
            out.at_a_loss.push(a);
        }
    }
    out
}

impl CurrencyTotals {
    /// "120.00 EUR after tax, less 3.05 EUR Stripe fees and 61.40 EUR Printful costs: 55.55 EUR
    /// margin", with how many orders are not fully billed yet.
    pub fn sentence(&self) -> String {
        let t = &self.totals;
        let c = self.currency;
        let mut s = format!(
            "{} after tax, less {} Stripe fees and {} Printful costs: {} margin",
            signed(t.revenue, c),
            signed(t.stripe_fees, c),
            signed(t.printful_costs, c),
            signed(t.margin, c)
        );
        if t.unknown > 0 {
            s.push_str(&format!(
                " ({} of {} orders not yet billed in full, left out of the margin)",
                t.unknown, t.orders
            ));
        }
        s
    }
}

/// Sums of a period's accounts, per currency: only orders whose margin is known count towards
/// the margin, and `unknown` says how many did not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub orders: u64,
    pub revenue: i64,
    pub stripe_fees: i64,
    pub printful_costs: i64,
    pub margin: i64,
    /// Orders whose fee or Printful bill is not known yet.
    pub unknown: u64,
    /// Orders that lost money, or whose shipping did not cover Printful's.
    pub at_a_loss: u64,
}

impl Totals {
    pub fn add(&mut self, e: &Earned) {
        self.orders += 1;
        self.revenue += e.revenue;
        self.stripe_fees += e.stripe_fee.unwrap_or(0);
        self.printful_costs += e.printful_cost.unwrap_or(0);
        match e.margin {
            Some(m) => self.margin += m,
            None => self.unknown += 1,
        }
        if !e.losses.is_empty() {
            self.at_a_loss += 1;
        }
    }
}

/// "-1.25 EUR" for negative amounts, as [`Money`] shows positive ones.
pub fn signed(amount: i64, currency: Currency) -> String {
    let shown = Money::new(
        Cents::new(amount.unsigned_abs().min(i64::MAX as u64) as i64).unwrap_or_default(),
        currency,
    );
    if amount < 0 {
        format!("-{shown}")
    } else {
        shown.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn c(n: i64) -> Cents {
        Cents::new(n).unwrap()
    }

    fn charged(subtotal: i64, discount: i64, shipping: i64, tax: i64) -> Charged {
        Charged {
            subtotal: c(subtotal),
            discount: c(discount),
            shipping: c(shipping),
            tax: c(tax),
            total: c(subtotal - discount + shipping + tax),
        }
    }

    fn costs(subtotal: i64, shipping: i64) -> PrintfulCosts {
        PrintfulCosts {
            currency: eur(),
            subtotal: c(subtotal),
            discount: c(0),
            shipping: c(shipping),
            tax: c(0),
            total: c(subtotal + shipping),
        }
    }

    #[test]
    fn the_margin_is_what_was_paid_less_tax_fee_and_printful_to_the_cent() {
        let fee = Some(Money::new(c(131), eur()));
        let e = earned_from(charged(5600, 560, 490, 0), eur(), fee, Some(costs(2195, 399)));
        assert_eq!(e.revenue, 5530);
        assert_eq!((e.stripe_fee, e.printful_cost), (Some(131), Some(2594)));
        assert_eq!(e.margin, Some(5530 - 131 - 2594));
        assert!(e.losses.is_empty());
        let taxed = earned_from(charged(5600, 0, 490, 1157), eur(), fee, Some(costs(2195, 499)));
        assert_eq!(taxed.revenue, 6090, "tax is not revenue");
    }

    #[test]
    fn unknown_parts_leave_the_margin_unknown_and_other_currencies_are_not_mixed() {
        let e = earned_from(charged(2800, 0, 490, 0), eur(), None, Some(costs(1000, 499)));
        assert_eq!(e.margin, None);
        let usd_fee = Some(Money::new(c(100), Currency::parse("USD").unwrap()));
        let e = earned_from(charged(2800, 0, 490, 0), eur(), usd_fee, Some(costs(1000, 499)));
        assert_eq!((e.stripe_fee, e.margin), (None, None));
    }

    #[test]
    fn a_loss_and_shipping_below_printfuls_are_named() {
        let fee = Some(Money::new(c(67), eur()));
        let e = earned_from(charged(2800, 0, 0, 0), eur(), fee, Some(costs(2500, 499)));
        assert_eq!(e.margin, Some(2800 - 67 - 2999));
        assert_eq!(e.losses.len(), 2, "{:?}", e.losses);
        assert!(e.losses[0].contains("loss of 2.66 EUR"), "{:?}", e.losses);
        assert!(
            e.losses[1].contains("below Printful's shipping 4.99 EUR"),
            "{:?}",
            e.losses
        );
    }

    #[test]
    fn a_period_sums_per_currency_and_lists_the_losses() {
        let fee = Some(Money::new(c(100), eur()));
        let account = |n: i64, e: Earned| OrderAccount {
            order_id: OrderId::new_random(),
            number: n,
            earned: e,
        };
        let p = period(vec![
            account(
                1,
                earned_from(charged(5000, 0, 490, 0), eur(), fee, Some(costs(2000, 399))),
            ),
            account(
                2,
                earned_from(charged(2800, 0, 0, 0), eur(), fee, Some(costs(2500, 499))),
            ),
            account(3, earned_from(charged(2800, 0, 490, 0), eur(), None, None)),
        ]);
        assert_eq!(p.by_currency.len(), 1);
        let t = &p.by_currency[0].totals;
        assert_eq!((t.orders, t.unknown, t.at_a_loss), (3, 1, 1));
        assert_eq!(t.revenue, 5490 + 2800 + 3290);
        assert_eq!(t.margin, (5490 - 100 - 2399) + (2800 - 100 - 2999));
        assert_eq!(p.at_a_loss.iter().map(|a| a.number).collect::<Vec<_>>(), [2]);
        assert!(p.by_currency[0].sentence().contains("1 of 3 orders not yet billed"));
    }
}
