//! Property tests of the order state machine and of order totals.

use backroom_core::machine::{Decision, Fact, OrderState, PrintfulStatus};
use backroom_core::order::total_of;
use backroom_core::{Cents, Currency, Money, OrderItem, OrderStatus, Sku};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

const TOTAL: i64 = 5000;

fn expected() -> Money {
    Money::new(Cents::new(TOTAL).unwrap(), Currency::parse("EUR").unwrap())
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn printful_status() -> impl Strategy<Value = PrintfulStatus> {
    prop_oneof![
        Just(PrintfulStatus::Draft),
        Just(PrintfulStatus::Pending),
        Just(PrintfulStatus::Failed),
        Just(PrintfulStatus::Canceled),
        Just(PrintfulStatus::Inprocess),
        Just(PrintfulStatus::Onhold),
        Just(PrintfulStatus::Partial),
        Just(PrintfulStatus::Fulfilled),
        Just(PrintfulStatus::Archived),
    ]
}

fn fact() -> impl Strategy<Value = Fact> {
    let eur = Currency::parse("EUR").unwrap();
    let usd = Currency::parse("USD").unwrap();
    prop_oneof![
        Just(Fact::CheckoutFailed),
        Just(Fact::PaymentSucceeded {
            amount: Cents::new(TOTAL).unwrap(),
            currency: eur
        }),
        (0..TOTAL * 2, prop::bool::ANY).prop_map(move |(a, same)| Fact::PaymentSucceeded {
            amount: Cents::new(a).unwrap(),
            currency: if same { eur } else { usd },
        }),
        Just(Fact::PaymentFailed),
        Just(Fact::SessionExpired),
        (0..=TOTAL).prop_map(|a| Fact::Refunded {
            amount_refunded: Cents::new(a).unwrap()
        }),
        (0..50i64).prop_map(|s| Fact::Delivered { at: at(s) }),
        (printful_status(), 0..50i64).prop_map(|(status, s)| Fact::Printful { status, at: at(s) }),
        (printful_status(), 0..50i64).prop_map(|(status, s)| Fact::Printful { status, at: at(s) }),
    ]
}

fn apply_all(facts: &[Fact]) -> (OrderState, Vec<OrderState>) {
    let mut state = OrderState::NEW;
    let mut states = vec![state];
    for f in facts {
        match state.decide(expected(), f) {
            Decision::Apply(t) => {
                assert_ne!(t.state, state, "a transition always changes the state");
                assert_eq!(t.from, state.status());
                assert_eq!(t.to, t.state.status());
                state = t.state;
            }
            Decision::Note(_) | Decision::Refuse(_) => {}
        }
        states.push(state);
    }
    (state, states)
}

/// A sequence of facts, then the same facts duplicated (some up to three times) and shuffled.
fn facts_and_mess() -> impl Strategy<Value = (Vec<Fact>, Vec<Fact>)> {
    prop::collection::vec((fact(), 1..=3usize), 0..12).prop_flat_map(|pairs| {
        let facts: Vec<Fact> = pairs.iter().map(|(f, _)| f.clone()).collect();
        let messy: Vec<Fact> = pairs
            .iter()
            .flat_map(|(f, n)| std::iter::repeat_n(f.clone(), *n))
            .collect();
        (Just(facts), Just(messy).prop_shuffle())
    })
}

fn sort_key(f: &Fact) -> (Option<DateTime<Utc>>, String) {
    match f {
        Fact::Printful { at, .. } => (Some(*at), format!("{f:?}")),
        _ => (None, format!("{f:?}")),
    }
}

/// Where the order is along the main line: payment first, then fulfillment.
fn progress(s: OrderState) -> (u8, u8) {
    (s.payment as u8, s.fulfillment as u8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn duplicated_and_shuffled_facts_end_where_sorted_unique_facts_end((facts, messy) in facts_and_mess()) {
        let mut sorted = facts.clone();
        sorted.sort_by_key(sort_key);
        sorted.dedup();
        let (from_sorted, _) = apply_all(&sorted);
        let (from_messy, _) = apply_all(&messy);
        prop_assert_eq!(from_sorted, from_messy);
        prop_assert_eq!(from_sorted.status(), from_messy.status());
    }

    #[test]
    fn no_transition_moves_backwards(facts in prop::collection::vec(fact(), 0..24)) {
        let (_, states) = apply_all(&facts);
        for pair in states.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            prop_assert!(after.covers(before), "{before:?} -> {after:?}");
            prop_assert!(progress(after) >= progress(before));
            prop_assert!(after.mark >= before.mark);
            if before.status() == OrderStatus::Refunded {
                prop_assert_eq!(after.status(), OrderStatus::Refunded);
            }
        }
    }

    #[test]
    fn a_repeated_fact_is_refused_or_only_noted(facts in prop::collection::vec(fact(), 1..12)) {
        let (state, _) = apply_all(&facts);
        let last = facts.last().unwrap();
        prop_assert!(!matches!(state.decide(expected(), last), Decision::Apply(_)));
    }

    #[test]
    fn totals_never_overflow(lines in prop::collection::vec((1..=i64::MAX, 1..=u32::MAX), 1..20)) {
        let items: Vec<OrderItem> = lines
            .iter()
            .map(|&(price, quantity)| OrderItem {
                sku: Sku::parse("SKU-1").unwrap(),
                name: "Piece".into(),
                size: "M".into(),
                quantity,
                unit_price: Cents::positive(price).unwrap(),
                printful_sync_variant_id: 1,
            })
            .collect();
        let exact: i128 = lines.iter().map(|&(p, q)| i128::from(p) * i128::from(q)).sum();
        match total_of(&items) {
            Ok(total) => prop_assert_eq!(i128::from(total.get()), exact),
            Err(_) => prop_assert!(exact > i128::from(i64::MAX)),
        }
    }

    #[test]
    fn small_totals_are_exact(lines in prop::collection::vec((1..=100_000i64, 1..=10u32), 1..20)) {
        let items: Vec<OrderItem> = lines
            .iter()
            .map(|&(price, quantity)| OrderItem {
                sku: Sku::parse("SKU-1").unwrap(),
                name: "Piece".into(),
                size: "M".into(),
                quantity,
                unit_price: Cents::positive(price).unwrap(),
                printful_sync_variant_id: 1,
            })
            .collect();
        let exact: i64 = lines.iter().map(|&(p, q)| p * i64::from(q)).sum();
        prop_assert_eq!(total_of(&items).unwrap().get(), exact);
    }
}

mod pricing {
    use backroom_core::ports::CreateOrderError;
    use backroom_core::pricing::{PriceEntry, price};
    use backroom_core::{Cents, Currency, NewOrderItem, Sku};
    use proptest::prelude::*;

    fn catalog(prices: &[i64]) -> Vec<PriceEntry> {
        prices
            .iter()
            .enumerate()
            .map(|(i, p)| PriceEntry {
                sku: Sku::parse(&format!("SKU-{i}")).unwrap(),
                name: format!("Piece {i}"),
                size: String::new(),
                price: Cents::positive(*p).unwrap(),
                currency: Currency::parse("EUR").unwrap(),
                printful_sync_variant_id: i as i64 + 1,
                stock_limit: (i % 2 == 0).then_some(5),
                max_per_order: None,
                active: true,
            })
            .collect()
    }

    proptest! {
        /// Every line is priced from the catalog, whatever the cart: the total is the sum of
        /// catalog price times quantity, and a SKU the catalog lacks is refused at its line.
        #[test]
        fn carts_are_priced_only_from_the_catalog(
            prices in proptest::collection::vec(1i64..100_000, 1..6),
            cart in proptest::collection::vec((0usize..8, 1u32..4), 1..6),
        ) {
            let catalog = catalog(&prices);
            let lines: Vec<NewOrderItem> = cart
                .iter()
                .map(|(i, q)| NewOrderItem { sku: Sku::parse(&format!("SKU-{i}")).unwrap(), quantity: *q })
                .collect();
            match price(&lines, &catalog) {
                Ok(priced) => {
                    let expected: i64 = cart.iter().map(|(i, q)| prices[*i] * i64::from(*q)).sum();
                    prop_assert_eq!(priced.total.amount.get(), expected);
                    for (item, (i, _)) in priced.items.iter().zip(&cart) {
                        prop_assert_eq!(item.unit_price.get(), prices[*i]);
                    }
                    for (wanted, limit) in &priced.holds {
                        prop_assert_eq!(*limit, 5);
                        let asked: u32 = lines.iter().filter(|l| l.sku == wanted.sku).map(|l| l.quantity).sum();
                        prop_assert_eq!(wanted.quantity, asked);
                    }
                }
                Err(CreateOrderError::UnknownSku { index, .. }) => {
                    prop_assert!(cart[index].0 >= prices.len());
                    prop_assert!(cart[..index].iter().all(|(i, _)| *i < prices.len()));
                }
                Err(CreateOrderError::OverOrderLimit(_)) => {
                    prop_assert!(cart.iter().all(|(i, _)| *i < prices.len()));
                }
                Err(other) => prop_assert!(false, "unexpected refusal {other:?}"),
            }
        }
    }
}
