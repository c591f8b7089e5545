//! The store's products in the Printful simulator: v1 `GET /store/products` (paged) and
//! `GET /store/products/{id}` in the shapes of v1's `SyncProduct` and `SyncVariant`, configured
//! from `PrintfulSimConfig::sync_products` (the demo catalog's by default), changed by the
//! control routes, and imported through backroom-printful's `sync_products` with prices in
//! minor units.

use std::time::Duration;

use backroom_core::{Cents, Currency};
use backroom_printful::{Availability, PrintfulClient, PrintfulError, PrintfulSettings};
use backroom_sim::printful::{PrintfulSim, PrintfulSimConfig, SyncProductSpec, SyncVariantSpec};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::SecretString;
use serde_json::{Value, json};

async fn start(config: PrintfulSimConfig) -> (PrintfulSim, String, PrintfulClient) {
    let (sim, api_base) = PrintfulSim::serve_loopback(config).await;
    let client = PrintfulClient::new(PrintfulSettings {
        token: SecretString::from("sim-token"),
        store_id: None,
        api_base: Some(api_base.clone()),
        timeout: Duration::from_secs(5),
        max_retries: 5,
        max_backoff: Duration::from_secs(5),
    })
    .unwrap();
    (sim, api_base, client)
}

struct Raw {
    status: u16,
    body: Value,
}

async fn raw(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> Raw {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = hyper::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
    let response = client
        .request(request.body(Full::new(Bytes::from(bytes))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn variant(id: i64, price: &str, currency: &str) -> SyncVariantSpec {
    SyncVariantSpec {
        id,
        external_id: format!("SKU-{id}"),
        name: format!("Variant {id}"),
        retail_price: price.into(),
        currency: currency.into(),
        sku: format!("SKU-{id}"),
        size: Some("M".into()),
        color: Some("Black".into()),
        variant_id: 4012,
        availability_status: "active".into(),
        is_ignored: false,
    }
}

fn product(id: i64, variants: Vec<SyncVariantSpec>) -> SyncProductSpec {
    SyncProductSpec {
        id,
        external_id: format!("product-{id}"),
        name: format!("Product {id}"),
        thumbnail_url: None,
        is_ignored: false,
        variants,
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[tokio::test]
async fn by_default_the_store_sells_the_demo_catalogs_variants() {
    let (_sim, api, client) = start(PrintfulSimConfig::default()).await;
    let list = raw("GET", &format!("{api}/store/products"), Some("t"), None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["code"], 200);
    let products = list.body["result"].as_array().unwrap();
    assert_eq!(
        list.body["paging"],
        json!({ "total": products.len(), "offset": 0, "limit": 20 })
    );
    let tee = products.iter().find(|p| p["external_id"] == "harbour-tee").unwrap();
    // v1's SyncProduct, every field.
    assert_eq!(
        keys(tee),
        vec![
            "external_id",
            "id",
            "is_ignored",
            "name",
            "synced",
            "thumbnail_url",
            "variants"
        ]
    );
    assert_eq!((tee["variants"].as_u64(), tee["synced"].as_u64()), (Some(4), Some(4)));

    let id = tee["id"].as_i64().unwrap();
    let one = raw("GET", &format!("{api}/store/products/{id}"), Some("t"), None).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["result"]["sync_product"], *tee);
    let variants = one.body["result"]["sync_variants"].as_array().unwrap();
    let m = variants.iter().find(|v| v["sku"] == "HARBOUR-TEE-M").unwrap();
    // v1's SyncVariant, plus size, color and availability_status, which Printful sends.
    assert_eq!(
        keys(m),
        vec![
            "availability_status",
            "color",
            "currency",
            "external_id",
            "files",
            "id",
            "is_ignored",
            "main_category_id",
            "name",
            "options",
            "product",
            "retail_price",
            "size",
            "sku",
            "sync_product_id",
            "synced",
            "variant_id",
            "warehouse_product_variant_id",
        ]
    );
    assert_eq!(m["id"], 4000102);
    assert_eq!(m["sync_product_id"], id);
    assert_eq!(m["retail_price"], "28.00");
    assert_eq!(m["currency"], "EUR");
    assert_eq!(m["size"], "M");
    let by_ext = raw("GET", &format!("{api}/store/products/@harbour-tee"), Some("t"), None).await;
    assert_eq!(by_ext.body["result"], one.body["result"]);
    assert_eq!(
        raw("GET", &format!("{api}/store/products/1"), Some("t"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        raw("GET", &format!("{api}/store/products"), None, None).await.status,
        401
    );

    let imported = client.sync_products().await.unwrap();
    assert_eq!(imported.len(), products.len());
    let tee = imported
        .iter()
        .find(|p| p.external_id.as_deref() == Some("harbour-tee"))
        .unwrap();
    assert_eq!(tee.variants.len(), 4);
    let m = tee
        .variants
        .iter()
        .find(|v| v.sku.as_deref() == Some("HARBOUR-TEE-M"))
        .unwrap();
    assert_eq!(m.id, 4000102);
    assert_eq!(m.retail_price, Cents::new(2800).unwrap());
    assert_eq!(m.currency, Currency::parse("EUR").unwrap());
    assert_eq!(m.size.as_deref(), Some("M"));
    assert_eq!(m.availability, Availability::Active);
    let xl = tee
        .variants
        .iter()
        .find(|v| v.sku.as_deref() == Some("HARBOUR-TEE-XL"))
        .unwrap();
    assert_eq!(xl.retail_price.get(), 3000);
}

#[tokio::test]
async fn products_page_with_offset_and_limit_and_the_client_reads_every_page() {
    let (sim, api, client) = start(PrintfulSimConfig {
        sync_products: (1..=5)
            .map(|n| product(n, vec![variant(100 + n, "10.00", "USD")]))
            .collect(),
        ..PrintfulSimConfig::default()
    })
    .await;
    let page = raw(
        "GET",
        &format!("{api}/store/products?offset=2&limit=2"),
        Some("t"),
        None,
    )
    .await;
    assert_eq!(page.body["paging"], json!({ "total": 5, "offset": 2, "limit": 2 }));
    let ids: Vec<i64> = page.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![3, 4]);
    let past = raw("GET", &format!("{api}/store/products?offset=9"), Some("t"), None).await;
    assert_eq!(past.body["result"], json!([]));
    let capped = raw("GET", &format!("{api}/store/products?limit=500"), Some("t"), None).await;
    assert_eq!(capped.body["paging"]["limit"], 100);
    assert_eq!(
        raw("GET", &format!("{api}/store/products?offset=x"), Some("t"), None)
            .await
            .status,
        400
    );

    sim.set_max_page(2);
    let all = client.sync_products().await.unwrap();
    let ids: Vec<i64> = all.iter().map(|p| p.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    assert!(
        all.iter()
            .all(|p| p.variants.len() == 1 && p.variants[0].retail_price.get() == 1000)
    );
    let lists: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/store/products" && r.query.as_deref().is_some_and(|q| q.ends_with("limit=100")))
        .map(|r| r.query.unwrap())
        .collect();
    assert_eq!(
        lists,
        vec!["offset=0&limit=100", "offset=2&limit=100", "offset=4&limit=100"]
    );
}

#[tokio::test]
async fn control_routes_remove_a_variant_and_mark_one_out_of_stock() {
    let (sim, api, client) = start(PrintfulSimConfig {
        sync_products: vec![product(
            1,
            vec![
                variant(11, "10.00", "EUR"),
                variant(12, "12.00", "EUR"),
                variant(13, "14.00", "EUR"),
            ],
        )],
        ..PrintfulSimConfig::default()
    })
    .await;
    let out = raw(
        "POST",
        &format!("{api}/control/sync_variants/12"),
        None,
        Some(json!({ "availability_status": "out_of_stock" })),
    )
    .await;
    assert_eq!(out.status, 200, "{}", out.body);
    let gone = raw("DELETE", &format!("{api}/control/sync_variants/13"), None, None).await;
    assert_eq!(gone.status, 200);
    assert_eq!(
        raw("DELETE", &format!("{api}/control/sync_variants/13"), None, None)
            .await
            .status,
        404
    );
    let bad = raw(
        "POST",
        &format!("{api}/control/sync_variants/11"),
        None,
        Some(json!({ "availability_status": "Out Of Stock" })),
    )
    .await;
    assert_eq!(bad.status, 400);

    let listed = raw("GET", &format!("{api}/store/products"), Some("t"), None).await;
    assert_eq!(listed.body["result"][0]["variants"], 2);
    let products = client.sync_products().await.unwrap();
    let variants = &products[0].variants;
    assert_eq!(variants.iter().map(|v| v.id).collect::<Vec<_>>(), vec![11, 12]);
    assert_eq!(variants[0].availability, Availability::Active);
    assert_eq!(variants[1].availability, Availability::OutOfStock);

    sim.set_sync_variant_availability(12, "active").unwrap();
    sim.remove_sync_variant(11).unwrap();
    let products = client.sync_products().await.unwrap();
    assert_eq!(products[0].variants.len(), 1);
    assert_eq!(products[0].variants[0].availability, Availability::Active);
}

#[tokio::test]
async fn prices_are_read_in_each_currencys_minor_units_and_a_malformed_one_fails_the_import() {
    let (_sim, _, client) = start(PrintfulSimConfig {
        sync_products: vec![
            product(1, vec![variant(11, "1500", "JPY"), variant(12, "12.345", "KWD")]),
            product(2, vec![variant(21, "0.99", "USD")]),
        ],
        ..PrintfulSimConfig::default()
    })
    .await;
    let products = client.sync_products().await.unwrap();
    let price = |p: usize, v: usize| {
        let variant = &products[p].variants[v];
        (variant.retail_price.get(), variant.currency.code())
    };
    assert_eq!(price(0, 0), (1500, "JPY"));
    assert_eq!(price(0, 1), (12345, "KWD"));
    assert_eq!(price(1, 0), (99, "USD"));

    for bad in ["12,50", "12.505", "-3.00", "", "1e2"] {
        let (_sim, _, client) = start(PrintfulSimConfig {
            sync_products: vec![product(1, vec![variant(11, "1.00", "EUR"), variant(12, bad, "EUR")])],
            ..PrintfulSimConfig::default()
        })
        .await;
        let err = client.sync_products().await.unwrap_err();
        let PrintfulError::Parse(message) = &err else {
            panic!("{bad:?}: {err:?}");
        };
        assert!(
            message.contains("sync variant 12") && message.contains(&format!("{bad:?}")),
            "{bad:?}: {message}"
        );
        assert!(!err.is_retryable());
    }
    let (_sim, _, client) = start(PrintfulSimConfig {
        sync_products: vec![product(1, vec![variant(11, "1.00", "XYZ")])],
        ..PrintfulSimConfig::default()
    })
    .await;
    assert!(matches!(client.sync_products().await, Err(PrintfulError::Parse(_))));
}
