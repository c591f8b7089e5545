//! The `backroom` binary run as a newcomer runs it, against a real database.

use std::path::PathBuf;
use std::process::{Command, Output};

use backroom_core::ports::{NewOrder, OrderStore};
use backroom_core::{Email, NewOrderItem, OrderId, Sku};
use backroom_db::{Db, DbConfig, Store};
use backroom_testkit::{TestDatabase, create_database_from_template, shared_cluster};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn backroom(url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backroom"));
    cmd.args(args)
        .current_dir(workspace())
        .env_remove("DATABASE_URL")
        .env_remove("DSQL_ENDPOINT");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure is exactly one line on stderr and a non-zero exit.
fn assert_one_line_error(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure, got: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
}

#[tokio::test]
async fn migrate_then_sync_the_demo_catalog_on_an_empty_database() {
    let cluster = tokio::task::spawn_blocking(shared_cluster).await.unwrap();
    let t = create_database_from_template(cluster, "template0").await;
    let first = backroom(Some(&t.url), &["migrate"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).starts_with("applied "), "{}", stdout(&first));
    let second = backroom(Some(&t.url), &["migrate"]);
    assert!(stdout(&second).starts_with("schema up to date"), "{}", stdout(&second));

    let sync = backroom(Some(&t.url), &["catalog", "sync"]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    assert_eq!(
        stdout(&sync).trim(),
        "catalog synced from catalog.toml: 10 new, 0 updated, 0 unchanged, 0 no longer sold"
    );
    let again = backroom(Some(&t.url), &["catalog", "sync", "catalog.toml"]);
    assert!(
        stdout(&again).contains("0 new, 0 updated, 10 unchanged"),
        "{}",
        stdout(&again)
    );
    let products: i64 = t
        .connect()
        .await
        .query_one("SELECT count(DISTINCT product_slug) FROM products", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(products, 5, "the demo shop sells five pieces");
}

#[tokio::test]
async fn a_bad_catalog_names_the_product_and_field_and_writes_nothing() {
    let t = TestDatabase::new().await;
    let dir = std::env::temp_dir().join(format!("backroom-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(workspace().join("catalog.toml"))
        .unwrap()
        .replace("price = 1600", "price = -5");
    std::fs::write(&bad, text).unwrap();
    let out = backroom(Some(&t.url), &["catalog", "sync", bad.to_str().unwrap()]);
    assert_one_line_error(
        &out,
        "product \"fog-mug\", variants[0].price: the amount must be greater than zero",
    );
    let rows: i64 = t
        .connect()
        .await
        .query_one("SELECT count(*) FROM products", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    let capless = std::fs::read_to_string(workspace().join("catalog.toml"))
        .unwrap()
        .replace("stock_limit = 25", "stock_limit = 25\n  max_per_order = 0");
    std::fs::write(&bad, capless).unwrap();
    assert_one_line_error(
        &backroom(Some(&t.url), &["catalog", "sync", bad.to_str().unwrap()]),
        "product \"lighthouse-print\", variants[0].max_per_order: must be between 1 and 100 (units of one variant in one order)",
    );
    let overlapping = std::fs::read_to_string(workspace().join("catalog.toml"))
        .unwrap()
        .replace(
            "delivery_days = [3, 7]",
            "delivery_days = [3, 7]\n\n[[shipping_zones]]\nname = \"Far\"\ncountries = [\"US\", \"de\"]\nrate = 1290",
        );
    std::fs::write(&bad, overlapping).unwrap();
    assert_one_line_error(
        &backroom(Some(&t.url), &["catalog", "sync", bad.to_str().unwrap()]),
        "shipping zone \"Far\", shipping_zones[1].countries: DE is already in zone \"Standard\"",
    );
    for table in ["products", "shipping_zones"] {
        let rows: i64 = t
            .connect()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(rows, 0, "{table}");
    }
    assert_one_line_error(
        &backroom(Some(&t.url), &["catalog", "sync", "/nonexistent.toml"]),
        "cannot read /nonexistent.toml",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn orders_are_listed_and_shown() {
    let t = TestDatabase::new().await;
    assert!(backroom(Some(&t.url), &["catalog", "sync"]).status.success());
    let empty = backroom(Some(&t.url), &["orders", "list"]);
    assert_eq!(stdout(&empty).trim(), "no orders");

    let store = Store::new(Db::new(DbConfig::Url(t.url.clone().into()), 1));
    let order = store
        .create_order(NewOrder {
            id: OrderId::new_random(),
            items: vec![NewOrderItem {
                sku: Sku::parse("FOG-MUG").unwrap(),
                quantity: 2,
            }],
            email: Some(Email::parse("ann@example.com").unwrap()),
        })
        .await
        .unwrap();

    let list = stdout(&backroom(Some(&t.url), &["orders", "list"]));
    assert!(
        list.contains(&order.id.to_string()) && list.contains("pending_payment") && list.contains("32.00 EUR"),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&backroom(Some(&t.url), &["orders", "list", "--json"]))).unwrap();
    assert_eq!(json["orders"][0]["order_id"], order.id.to_string());
    assert_eq!(json["orders"][0]["total"]["amount"], 3200);
    let none: serde_json::Value = serde_json::from_str(&stdout(&backroom(
        Some(&t.url),
        &["orders", "list", "--status", "paid", "--json"],
    )))
    .unwrap();
    assert_eq!(none["orders"].as_array().unwrap().len(), 0);

    let show = stdout(&backroom(Some(&t.url), &["orders", "show", &order.id.external_id()]));
    assert!(show.contains("2 x Fog Mug 11 oz (FOG-MUG) at 16.00 EUR"), "{show}");
    assert!(show.contains("order placed: 2 piece(s), 32.00 EUR"), "{show}");
    let shown: serde_json::Value = serde_json::from_str(&stdout(&backroom(
        Some(&t.url),
        &["orders", "show", &order.id.to_string(), "--json"],
    )))
    .unwrap();
    assert_eq!(shown["status"], "pending_payment");
    assert_eq!(shown["timeline"][0]["cause"], "checkout");

    assert_one_line_error(
        &backroom(Some(&t.url), &["orders", "show", "nope"]),
        "an order id is a UUID",
    );
    assert_one_line_error(
        &backroom(Some(&t.url), &["orders", "show", &OrderId::new_random().to_string()]),
        "no order",
    );
    assert_one_line_error(
        &backroom(Some(&t.url), &["orders", "list", "--status", "lost"]),
        "unknown status \"lost\"",
    );
}

#[test]
fn without_a_database_the_error_says_what_to_set() {
    assert_one_line_error(
        &backroom(None, &["orders", "list"]),
        "set DATABASE_URL (PostgreSQL) or DSQL_ENDPOINT (Aurora DSQL)",
    );
}

#[test]
fn an_unreachable_database_is_one_line() {
    let out = backroom(
        Some("host=/nonexistent-socket-dir user=postgres dbname=x"),
        &["migrate"],
    );
    assert_one_line_error(&out, "could not connect to the database");
}

#[tokio::test]
async fn orders_forget_refuses_an_order_on_its_way_and_erases_an_ended_one_once() {
    let t = TestDatabase::new().await;
    assert!(backroom(Some(&t.url), &["catalog", "sync"]).status.success());
    let store = Store::new(Db::new(DbConfig::Url(t.url.clone().into()), 1));
    let order = store
        .create_order(NewOrder {
            id: OrderId::new_random(),
            items: vec![NewOrderItem {
                sku: Sku::parse("FOG-MUG").unwrap(),
                quantity: 1,
            }],
            email: Some(Email::parse("bea@example.com").unwrap()),
        })
        .await
        .unwrap();
    let id = order.id.to_string();
    assert_one_line_error(
        &backroom(Some(&t.url), &["orders", "forget", &id]),
        "is pending_payment: it still needs the buyer's address",
    );
    assert!(
        store.order(order.id).await.unwrap().unwrap().email.is_some(),
        "nothing changed"
    );

    store
        .apply_fact(
            order.id,
            &backroom_core::Fact::SessionExpired,
            &backroom_core::Cause::Cli,
            None,
        )
        .await
        .unwrap();
    let first = backroom(Some(&t.url), &["orders", "forget", &id]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("are forgotten"), "{}", stdout(&first));
    let again = backroom(Some(&t.url), &["orders", "forget", &id]);
    assert!(stdout(&again).contains("already forgotten"), "{}", stdout(&again));
    let after = store.order(order.id).await.unwrap().unwrap();
    assert_eq!((after.email, after.total), (None, order.total));
    assert_one_line_error(
        &backroom(Some(&t.url), &["orders", "forget", &OrderId::new_random().to_string()]),
        "there is no order",
    );
}
