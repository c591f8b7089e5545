//! The catalog from Printful: `catalog import` merges the Printful simulator's sync products
//! (the demo store) into a catalog file, keeping the owner's own fields, and `catalog check`
//! names where the file and Printful disagree.

use backroom_testkit::app as support;

use backroom_app::catalog_import::{check, merge};
use backroom_core::Catalog;
use support::TestApp;

fn demo_catalog() -> Catalog {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml");
    Catalog::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The owner's file: one product only, with their description, a stock limit and an order cap,
/// a shipping zone, an old price and a missing size.
const OWNERS_FILE: &str = r#"# My shop.

[[shipping_zones]]
name = "Europe"
countries = ["DE", "FR"]
rate = 490

[[products]]
slug = "harbour-tee"
name = "Harbour Tee"
description = "My own words about the tee."
currency = "EUR"
max_per_order = 3

  [[products.variants]]
  sku = "HARBOUR-TEE-S"
  size = "S"
  price = 2800
  printful_sync_variant_id = 4000101
  stock_limit = 25

  [[products.variants]]
  sku = "HARBOUR-TEE-M"
  size = "M"
  price = 2500
  printful_sync_variant_id = 4000102
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_writes_the_printful_products_keeps_the_owners_fields_and_a_second_import_changes_nothing() {
    let app = TestApp::new().await;
    let products = app.printful.sync_products().await.unwrap();
    let import = merge(OWNERS_FILE, &products).unwrap();
    assert!(
        import
            .changes
            .contains(&"~ HARBOUR-TEE-M: price 2500 -> 2800 (28.00 EUR)".to_string()),
        "{:#?}",
        import.changes
    );
    assert!(
        import
            .changes
            .iter()
            .any(|c| c.starts_with("+ HARBOUR-TEE-L in harbour-tee")),
        "{:#?}",
        import.changes
    );
    assert!(
        import.changes.iter().any(|c| c.starts_with("+ product tide-hoodie")),
        "{:#?}",
        import.changes
    );

    let merged = Catalog::from_toml(&import.text).unwrap();
    let demo = demo_catalog();
    assert_eq!(merged.products.len(), demo.products.len());
    for want in &demo.products {
        let got = merged.products.iter().find(|p| p.slug == want.slug).expect(&want.slug);
        assert_eq!(got.name, want.name);
        let key = |p: &backroom_core::Product| {
            let mut v: Vec<_> = p
                .variants
                .iter()
                .map(|v| {
                    (
                        v.sku.clone(),
                        v.size.clone(),
                        v.price,
                        v.currency,
                        v.printful_sync_variant_id,
                    )
                })
                .collect();
            v.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            v
        };
        assert_eq!(key(got), key(want), "{}", want.slug);
    }
    // The owner's own fields are kept.
    let tee = merged.products.iter().find(|p| p.slug == "harbour-tee").unwrap();
    assert_eq!(tee.description, "My own words about the tee.");
    assert_eq!(tee.variants[0].stock_limit, Some(25));
    assert!(tee.variants.iter().all(|v| v.max_per_order == Some(3)));
    assert_eq!(merged.shipping_zones.len(), 1);
    assert_eq!(merged.shipping_zones[0].name, "Europe");
    assert!(import.text.starts_with("# My shop."), "comments are kept");
    assert!(
        import
            .text
            .contains("  sku = \"HARBOUR-TEE-M\"\n  size = \"M\"\n  price = 2800\n"),
        "a changed value keeps its place and indentation:\n{}",
        import.text
    );
    assert!(
        import
            .text
            .contains("\n  [[products.variants]]\n  sku = \"HARBOUR-TEE-L\"\n"),
        "a new variant is indented like the others:\n{}",
        import.text
    );

    let again = merge(&import.text, &products).unwrap();
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    assert_eq!(again.text, import.text);

    // The demo catalog itself is what the demo store has.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml");
    let same = merge(&std::fs::read_to_string(path).unwrap(), &products).unwrap();
    assert!(same.changes.is_empty(), "{:#?}", same.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_a_removed_variant_one_out_of_stock_and_a_price_that_differs() {
    let app = TestApp::new().await;
    let demo = demo_catalog();
    let products = app.printful.sync_products().await.unwrap();
    assert!(check(&demo, &products).is_empty(), "{:#?}", check(&demo, &products));

    app.printful_sim.remove_sync_variant(4000104).unwrap();
    app.printful_sim
        .set_sync_variant_availability(4000102, "out_of_stock")
        .unwrap();
    let products = app.printful.sync_products().await.unwrap();
    let mut cheaper = demo.clone();
    cheaper.products[0].variants[0].price = backroom_core::Cents::new(2500).unwrap();
    let findings = check(&cheaper, &products);
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("HARBOUR-TEE-XL: sync variant 4000104 is gone")),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f == "HARBOUR-TEE-M: sync variant 4000102 is out_of_stock at Printful"),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("HARBOUR-TEE-S: the catalog sells it at 25.00 EUR")),
        "{findings:#?}"
    );
}
