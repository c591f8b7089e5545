//! A flash sale on `backroom dev`: 1,000 buyers within ten seconds all check out the one limited
//! piece of the demo catalog, 25 left, with a bound on the checkouts in flight as a storefront's
//! visitors would have. Every created checkout is then paid at the Stripe simulator (which this
//! test runs) and its webhook flows to the dev server, the worker pays the order and sends it
//! to the Printful simulator (which this test runs too, to count what reaches Printful).
//!
//! Exactly 25 orders are paid and at Printful once each; every other buyer is answered 409
//! `out_of_stock`, or 429/503 with a `Retry-After` header; no answer is a 5xx otherwise; the
//! piece's held units are exactly the paid ones, counted the same by its stock row.
//!
//! The sale runs twice: on PostgreSQL's REPEATABLE READ (how backroom runs everywhere but DSQL),
//! then with `BACKROOM_DB_ISOLATION=serializable`, where a conflicting transaction fails with
//! 40001, mostly at COMMIT, as every conflict does on Aurora DSQL, so the retry budget of
//! `Db::with_retry` is spent for real. Latencies, the number of retries and the run time are
//! printed (and written as JSON to `BACKROOM_FLASH_REPORT` when it is set; scripts/bench puts
//! them in bench/report.md), never asserted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;

use backroom_sim::printful::{PrintfulSim, PrintfulSimConfig};
use backroom_sim::stripe::{StripeSim, StripeSimConfig};
use support::{Dev, client, temp_dir};

/// The demo catalog's limited edition, and how many there are.
const PIECE: &str = "LIGHTHOUSE-PRINT-A3";
const UNITS: usize = 25;
const BUYERS: usize = 1_000;
/// The buyers arrive at a steady rate over this window.
const WINDOW: Duration = Duration::from_secs(10);
/// Checkouts in flight at most.
const IN_FLIGHT: usize = 64;
const SECRET: &str = "whsec_backroom_flash_sale_0123456789";
const KEY: &str = "sk_test_backroom_flash_sale";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// One buyer's answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    latency: Duration,
}

/// The dev server's retry counters (`GET /admin/api/db`).
async fn db_stats(c: &reqwest::Client, base: &str) -> Value {
    let text = c
        .get(format!("{base}/admin/api/db"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("GET /admin/api/db: {text}"))
}

fn count(stats: &Value, what: &str) -> u64 {
    stats["transactions"][what].as_u64().unwrap_or_default()
}

/// The dev server's database, from the file it keeps in its data dir.
async fn database(dir: &Path) -> tokio_postgres::Client {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("dev.json")).unwrap()).unwrap();
    let url = file["database_url"].as_str().unwrap().to_string();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// One sale on a fresh `backroom dev` with `isolation`; checks the outcome and returns its
/// figures.
async fn sale(isolation: &str) -> Value {
    let began = Instant::now();
    let dir = temp_dir(&format!("flash-{isolation}"));
    let (stripe, stripe_api) = StripeSim::serve_loopback(StripeSimConfig {
        webhook_secret: SECRET.into(),
        ..StripeSimConfig::default()
    })
    .await;
    let (printful, printful_api) = PrintfulSim::serve_loopback(PrintfulSimConfig::default()).await;
    printful.set_rate_limit(1_000_000);
    let started = dir.clone();
    let isolation_env = isolation.to_string();
    // The catch-up jobs wait: the webhooks alone pay the orders.
    let dev = tokio::task::spawn_blocking(move || {
        Dev::start_catching_up_every(
            &started,
            &[
                ("STRIPE_SECRET_KEY", KEY),
                ("STRIPE_API_BASE", &stripe_api),
                ("STRIPE_WEBHOOK_SECRETS", SECRET),
                ("PRINTFUL_TOKEN", "backroom-flash-printful-token"),
                ("PRINTFUL_API_BASE", &printful_api),
                ("PRINTFUL_STORE_ID", "10"),
                ("BACKROOM_DB_ISOLATION", &isolation_env),
            ],
            3_600,
        )
    })
    .await
    .unwrap();
    let base = dev.url.clone();
    stripe.set_webhook_url(Some(format!("{base}/webhooks/stripe")));
    let c = client();
    let before = db_stats(&c, &base).await;
    assert_eq!(before["isolation"], isolation, "{before}");

    let catalog: Value = serde_json::from_str(
        &c.get(format!("{base}/catalog"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let left = catalog["products"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["variants"].as_array().unwrap().iter())
        .find(|v| v["sku"] == PIECE)
        .map(|v| v["stock_left"].clone());
    assert_eq!(left, Some(json!(UNITS)), "the demo catalog's limited piece: {catalog}");

    // The sale: buyers started at a steady rate, IN_FLIGHT at most at once.
    let load = Instant::now();
    let tick = WINDOW / BUYERS as u32;
    let limit = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut handles = Vec::with_capacity(BUYERS);
    for n in 0..BUYERS {
        tokio::time::sleep_until((load + tick * n as u32).into()).await;
        let permit = limit.clone().acquire_owned().await.unwrap();
        let (c, base) = (c.clone(), base.clone());
        handles.push(tokio::spawn(async move {
            let body = json!({"items": [{"sku": PIECE, "quantity": 1}], "email": format!("buyer{n}@example.com"), "country": "DE"});
            let sent = Instant::now();
            let r = c
                .post(format!("{base}/checkout"))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or_default().to_string());
            let text = r.text().await.unwrap();
            let latency = sent.elapsed();
            drop(permit);
            Answer {
                status,
                retry_after,
                body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
                latency,
            }
        }));
    }
    let mut answers = Vec::with_capacity(BUYERS);
    for h in handles {
        answers.push(h.await.unwrap());
    }
    let load_took = load.elapsed();
    let after_sale = db_stats(&c, &base).await;

    let mut latencies: Vec<Duration> = answers.iter().map(|a| a.latency).collect();
    latencies.sort();
    let by_status = |s: u16| answers.iter().filter(|a| a.status == s).count();
    let created: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
    let sold_out = by_status(409);
    let come_back = answers.iter().filter(|a| matches!(a.status, 429 | 503)).count();
    let server_errors = answers.iter().filter(|a| a.status >= 500 && a.status != 503).count();
    let odd: Vec<&Answer> = answers
        .iter()
        .filter(|a| match a.status {
            201 => false,
            409 => a.body["error"]["code"] != "out_of_stock",
            429 | 503 => a.retry_after.as_deref().is_none_or(|s| s.parse::<u32>().is_err()),
            _ => true,
        })
        .collect();

    // Every created checkout is paid; its webhook flows to the dev server.
    let settle = Instant::now();
    let made: Vec<(String, String)> = created
        .iter()
        .map(|a| {
            let order_id = a.body["order_id"].as_str().unwrap().to_string();
            let session = a.body["checkout_url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            (order_id, session)
        })
        .collect();
    for (_, session) in &made {
        stripe.pay(session, true).await.unwrap();
    }
    let mut views: HashMap<String, Value> = HashMap::new();
    for (order_id, _) in &made {
        loop {
            let text = c
                .get(format!("{base}/orders/{order_id}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let view: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let waiting = matches!(view["status"].as_str(), Some("pending_payment" | "paid"));
            if !waiting || settle.elapsed() > Duration::from_secs(60) {
                views.insert(order_id.clone(), view);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let settle_took = settle.elapsed();
    let after = db_stats(&c, &base).await;

    let mut at_printful: HashMap<String, usize> = HashMap::new();
    for order in printful.orders() {
        *at_printful
            .entry(order["external_id"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    let db = database(&dir).await;
    let one = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[&PIECE]).await.unwrap().get::<_, i64>(0) }
    };
    let held =
        one("SELECT coalesce(sum(quantity), 0)::bigint FROM stock_holds WHERE sku = $1 AND released_at IS NULL").await;
    let held_by_paid = one(
        "SELECT coalesce(sum(h.quantity), 0)::bigint FROM stock_holds h JOIN orders o ON o.id = h.order_id \
         WHERE h.sku = $1 AND h.released_at IS NULL AND o.payment = 'paid'",
    )
    .await;
    let counted = one("SELECT coalesce((SELECT held FROM stock WHERE sku = $1), 0)::bigint").await;
    let orders = one("SELECT count(*) FROM order_items WHERE sku = $1").await;

    let figures = json!({
        "isolation": isolation,
        "buyers": BUYERS,
        "units": UNITS,
        "in_flight": IN_FLIGHT,
        "window_seconds": WINDOW.as_secs_f64(),
        "created": created.len(),
        "paid": views.values().filter(|v| v["status"] == "submitted").count(),
        "at_printful": at_printful.len(),
        "sold_out_409": sold_out,
        "come_back_429_503": come_back,
        "server_errors_5xx": server_errors,
        "other_answers": odd.len(),
        "p50_ms": ms(percentile(&latencies, 50.0)),
        "p99_ms": ms(percentile(&latencies, 99.0)),
        "max_ms": ms(latencies.last().copied().unwrap_or_default()),
        "db_retries_during_sale": count(&after_sale, "retries") - count(&before, "retries"),
        "db_gave_up_during_sale": count(&after_sale, "exhausted") - count(&before, "exhausted"),
        "db_retries": count(&after, "retries") - count(&before, "retries"),
        "db_gave_up": count(&after, "exhausted") - count(&before, "exhausted"),
        "db_commits": count(&after, "committed") - count(&before, "committed"),
        "sale_seconds": load_took.as_secs_f64(),
        "settle_seconds": settle_took.as_secs_f64(),
        "run_seconds": began.elapsed().as_secs_f64(),
    });
    println!(
        "flash sale ({isolation}): {BUYERS} buyers for {UNITS} units in {:.2} s, {IN_FLIGHT} in flight at most: {} created, \
         {sold_out} x 409 out_of_stock, {come_back} x 429/503 with Retry-After, {server_errors} x 5xx; checkout latency \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} database retries ({} transactions given up) during the sale, {} in \
         all with the payments; {} paid and at Printful {:.1} s after paying; whole run {:.1} s",
        load_took.as_secs_f64(),
        created.len(),
        figures["p50_ms"],
        figures["p99_ms"],
        figures["max_ms"],
        figures["db_retries_during_sale"],
        figures["db_gave_up_during_sale"],
        figures["db_retries"],
        figures["paid"],
        settle_took.as_secs_f64(),
        began.elapsed().as_secs_f64(),
    );

    assert!(
        odd.is_empty(),
        "answers other than 201, 409 out_of_stock, 429/503 with Retry-After: {odd:#?}"
    );
    assert_eq!(server_errors, 0);
    assert_eq!(created.len() + sold_out + come_back, BUYERS);
    assert_eq!(created.len(), UNITS, "every unit sold, none twice");
    for (order_id, view) in &views {
        assert_eq!(view["status"], "submitted", "order {order_id}: {view}");
        assert_eq!(
            at_printful.get(&order_id.replace('-', "")).copied(),
            Some(1),
            "order {order_id} is at Printful exactly once"
        );
    }
    assert_eq!(at_printful.len(), UNITS, "Printful holds no order but these");
    assert_eq!(orders, UNITS as i64, "an order was written only for each unit sold");
    assert_eq!(held, UNITS as i64, "the held units are the sold ones");
    assert_eq!(held_by_paid, held, "every held unit belongs to a paid order");
    assert_eq!(counted, held, "the stock row counts the held units");

    dev.stop();
    let _ = std::fs::remove_dir_all(&dir);
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_buyers_for_twenty_five_prints_each_sold_once_and_nobody_gets_a_500() {
    let began = Instant::now();
    let plain = sale("repeatable_read").await;
    let dsql_like = sale("serializable").await;
    let report = json!({
        "test": "crates/backroom-cli/tests/flash_sale.rs",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "runs": [plain, dsql_like],
        "test_seconds": began.elapsed().as_secs_f64(),
    });
    println!("flash sale: both runs in {:.1} s", began.elapsed().as_secs_f64());
    if let Some(path) = std::env::var_os("BACKROOM_FLASH_REPORT") {
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
        println!("flash sale: figures written to {}", Path::new(&path).display());
    }
}
