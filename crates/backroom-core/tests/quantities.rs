//! Property tests of the per-order cap on one SKU: however the units are spread over lines, no
//! accepted order holds more of a SKU than its cap, and every refusal is a real excess.

use std::collections::BTreeMap;

use backroom_core::order::{DEFAULT_MAX_PER_ORDER, quantities_per_sku};
use backroom_core::{NewOrderItem, Sku};
use proptest::prelude::*;

const SKUS: [&str; 4] = ["PRINT-A3", "TEE-M", "FOG-MUG", "TOTE"];

/// Up to 20 lines of 1 to 10 units over a few SKUs, and a cap per SKU (`None`: the default).
fn order_and_caps() -> impl Strategy<Value = (Vec<NewOrderItem>, Vec<Option<u32>>)> {
    (
        prop::collection::vec((0..SKUS.len(), 1..=10u32), 1..=20),
        prop::collection::vec(prop::option::of(1..=30u32), SKUS.len()),
    )
        .prop_map(|(lines, caps)| {
            let items = lines
                .into_iter()
                .map(|(i, quantity)| NewOrderItem {
                    sku: Sku::parse(SKUS[i]).unwrap(),
                    quantity,
                })
                .collect();
            (items, caps)
        })
}

fn cap(caps: &[Option<u32>], sku: &Sku) -> Option<u32> {
    caps[SKUS.iter().position(|s| *s == sku.as_str()).unwrap()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_accepted_order_holds_a_sku_over_its_cap((items, caps) in order_and_caps()) {
        let mut totals: BTreeMap<&Sku, u32> = BTreeMap::new();
        for line in &items {
            *totals.entry(&line.sku).or_default() += line.quantity;
        }
        let limit = |sku: &Sku| cap(&caps, sku).unwrap_or(DEFAULT_MAX_PER_ORDER);
        match quantities_per_sku(&items, |sku| cap(&caps, sku)) {
            Ok(sums) => {
                prop_assert_eq!(sums.len(), totals.len());
                for q in &sums {
                    prop_assert!(q.quantity <= limit(&q.sku), "{} over its cap", q.sku);
                    prop_assert_eq!(q.quantity, totals[&q.sku]);
                    prop_assert_eq!(&items[q.first_line].sku, &q.sku);
                    prop_assert!(items[..q.first_line].iter().all(|l| l.sku != q.sku));
                }
            }
            Err(e) => {
                prop_assert_eq!(e.max, limit(&e.sku));
                prop_assert_eq!(e.wanted, totals[&e.sku]);
                prop_assert!(e.wanted > e.max);
                prop_assert_eq!(&items[e.index].sku, &e.sku);
                let before: u32 = items[..e.index].iter().filter(|l| l.sku == e.sku).map(|l| l.quantity).sum();
                prop_assert!(before <= e.max, "the refusal points at the line that passes the cap");
            }
        }
        let over = totals.iter().any(|(sku, n)| *n > limit(sku));
        prop_assert_eq!(over, quantities_per_sku(&items, |sku| cap(&caps, sku)).is_err());
    }
}
