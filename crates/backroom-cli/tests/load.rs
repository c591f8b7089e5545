//! Load on the webhook path of `backroom dev`: 2,000 signed Stripe webhook deliveries in about
//! ten seconds over loopback, each answered 2xx or retried until it is, as Stripe retries. The
//! events are real: checkouts are made through the dev server first, against Stripe and Printful
//! simulators that this test runs (so that it can hold the webhooks back and count what reaches
//! Printful), paid there with the webhooks held back, and each event is then delivered several
//! times, shuffled, as Stripe's duplicates arrive. Every paid order must then be paid once, with
//! one payment in its history, and be at Printful exactly once. Rates and latencies are printed,
//! never asserted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

mod support;

use backroom_sim::printful::{PrintfulSim, PrintfulSimConfig};
use backroom_sim::stripe::{StripeSim, StripeSimConfig};
use support::{Dev, client, temp_dir};

/// Orders checked out and paid before the load.
const ORDERS: usize = 500;
/// Deliveries of each order's event: one and its duplicates.
const COPIES: usize = 4;
/// The rate the deliveries are started at: 2,000 in 10 seconds.
const RATE_PER_SECOND: u64 = 200;
/// Deliveries in flight at most, as Stripe's senders are bounded too.
const IN_FLIGHT: usize = 64;
/// Attempts per delivery before the test gives up on it.
const MAX_ATTEMPTS: u32 = 10;
const SECRET: &str = "whsec_backroom_load_test_0123456789";
const KEY: &str = "sk_test_backroom_load";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Up to `n` at a time, runs `f` over `items` and collects the results.
async fn bounded<T, R, F, Fut>(items: Vec<T>, n: usize, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    let f = Arc::new(f);
    let limit = Arc::new(tokio::sync::Semaphore::new(n));
    let mut handles = Vec::with_capacity(items.len());
    for item in items {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            let r = f(item).await;
            drop(permit);
            r
        }));
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// One delivery, signed afresh for every attempt, retried on anything but a 2xx. Returns the
/// latency of each attempt and whether it ended in a 2xx.
async fn deliver(c: reqwest::Client, url: String, body: Arc<Vec<u8>>) -> (Vec<Duration>, bool) {
    let mut latencies = vec![];
    let mut backoff = Duration::from_millis(50);
    for attempt in 1..=MAX_ATTEMPTS {
        let now = chrono::Utc::now().timestamp();
        let signature = backroom_stripe::webhook::signature_header(&body, SECRET, now);
        let began = Instant::now();
        let status = c
            .post(&url)
            .header("content-type", "application/json; charset=utf-8")
            .header("stripe-signature", signature)
            .body(body.as_ref().clone())
            .send()
            .await
            .map(|r| r.status().as_u16());
        latencies.push(began.elapsed());
        if status.as_ref().is_ok_and(|s| (200..300).contains(s)) {
            return (latencies, true);
        }
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
    (latencies, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_signed_webhooks_in_ten_seconds_each_order_paid_once() {
    let began = Instant::now();
    let dir = temp_dir("load");
    // The catch-up jobs wait, so that only the deliveries pay the orders. Printful's limit of
    // 120 calls a minute is lifted: the load is on the webhook path, not on Printful's quota.
    let (stripe, stripe_api) = StripeSim::serve_loopback(StripeSimConfig {
        webhook_secret: SECRET.into(),
        ..StripeSimConfig::default()
    })
    .await;
    let (printful, printful_api) = PrintfulSim::serve_loopback(PrintfulSimConfig::default()).await;
    printful.set_rate_limit(1_000_000);
    let started = dir.clone();
    let dev = tokio::task::spawn_blocking(move || {
        Dev::start_catching_up_every(
            &started,
            &[
                ("STRIPE_SECRET_KEY", KEY),
                ("STRIPE_API_BASE", &stripe_api),
                ("STRIPE_WEBHOOK_SECRETS", SECRET),
                ("PRINTFUL_TOKEN", "backroom-load-printful-token"),
                ("PRINTFUL_API_BASE", &printful_api),
                ("PRINTFUL_STORE_ID", "10"),
            ],
            3_600,
        )
    })
    .await
    .unwrap();
    let c = client();

    // Checkouts, then payments whose webhooks Stripe holds back.
    let setup = Instant::now();
    let base = dev.url.clone();
    let skus = ["HARBOUR-TEE-M", "TIDE-HOODIE-L", "FOG-MUG", "GULL-TOTE"];
    let made = bounded((0..ORDERS).collect(), 8, {
        let (c, base) = (c.clone(), base.clone());
        move |i| {
            let (c, base) = (c.clone(), base.clone());
            async move {
                let body = json!({"items": [{"sku": skus[i % skus.len()], "quantity": 1 + i % 3}], "email": "load@example.com"});
                let r = c
                    .post(format!("{base}/checkout"))
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                let created: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
                let order_id = created["order_id"].as_str().unwrap().to_string();
                let session = created["checkout_url"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string();
                (order_id, session)
            }
        }
    })
    .await;
    for (_, session) in &made {
        stripe.pay(session, false).await.unwrap();
    }
    let events: HashMap<String, Value> = stripe
        .events()
        .into_iter()
        .filter(|e| e["type"] == "checkout.session.completed")
        .map(|e| (e["data"]["object"]["id"].as_str().unwrap().to_string(), e))
        .collect();
    assert_eq!(events.len(), ORDERS, "one completed event per paid session");
    let setup_took = setup.elapsed();

    // The load: every event COPIES times, shuffled, started at a steady rate.
    let mut deliveries: Vec<Arc<Vec<u8>>> = made
        .iter()
        .flat_map(|(_, session)| {
            let body = Arc::new(serde_json::to_vec(&events[session]).unwrap());
            std::iter::repeat_n(body, COPIES)
        })
        .collect();
    // A fixed seed, so a run's delivery order can be repeated.
    backroom_testkit::SeededRng(2026).shuffle(&mut deliveries);
    let total = deliveries.len();
    let url = format!("{base}/webhooks/stripe");
    let load = Instant::now();
    let tick = Duration::from_micros(1_000_000 / RATE_PER_SECOND);
    let limit = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let results = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let mut handles = Vec::with_capacity(total);
    for (n, body) in deliveries.into_iter().enumerate() {
        let due = load + tick * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let permit = limit.clone().acquire_owned().await.unwrap();
        let (c, url, results) = (c.clone(), url.clone(), results.clone());
        handles.push(tokio::spawn(async move {
            let r = deliver(c, url, body).await;
            drop(permit);
            results.lock().await.push(r);
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let load_took = load.elapsed();
    let results = std::mem::take(&mut *results.lock().await);
    let answered = results.iter().filter(|(_, ok)| *ok).count();
    let retries: usize = results.iter().map(|(l, _)| l.len() - 1).sum();
    let mut latencies: Vec<Duration> = results.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    latencies.sort();
    assert_eq!(answered, total, "every delivery was answered 2xx in the end");

    // Every order is paid once and reaches Printful once.
    let check = Instant::now();
    let views = bounded(made.clone(), 8, {
        let (c, base) = (c.clone(), base.clone());
        move |(order_id, _): (String, String)| {
            let (c, base) = (c.clone(), base.clone());
            async move {
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
                    if !waiting || check.elapsed() > Duration::from_secs(120) {
                        return (order_id, view);
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    })
    .await;
    let settle_took = check.elapsed();
    for (order_id, view) in &views {
        assert_eq!(view["status"], "submitted", "order {order_id}: {view}");
        let payments = view["timeline"]
            .as_array()
            .unwrap_or_else(|| panic!("order {order_id} has a timeline: {view}"))
            .iter()
            .filter(|e| e["status"] == "paid")
            .count();
        assert_eq!(payments, 1, "order {order_id} was paid once: {view}");
    }
    let mut at_printful: HashMap<String, usize> = HashMap::new();
    for order in printful.orders() {
        *at_printful
            .entry(order["external_id"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    for (order_id, _) in &made {
        let external_id = order_id.replace('-', "");
        assert_eq!(
            at_printful.get(&external_id).copied(),
            Some(1),
            "order {order_id} is at Printful exactly once"
        );
    }
    assert_eq!(at_printful.len(), ORDERS, "Printful holds no order but these");

    println!(
        "load: {total} signed deliveries ({ORDERS} events x {COPIES}) in {:.2} s = {:.0}/s started at {RATE_PER_SECOND}/s, \
         {IN_FLIGHT} in flight at most; attempt latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {retries} retries; \
         {answered}/{total} answered 2xx; {} orders paid once and at Printful once, {:.1} s after the load; setup (checkouts + payments) {:.1} s, whole test {:.1} s",
        load_took.as_secs_f64(),
        total as f64 / load_took.as_secs_f64(),
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        views.len(),
        settle_took.as_secs_f64(),
        setup_took.as_secs_f64(),
        began.elapsed().as_secs_f64(),
    );
    dev.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
