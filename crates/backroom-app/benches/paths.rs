//! Latency of the two request paths that answer a caller while it waits:
//!
//! 1. `POST /webhooks/stripe` in process: the `webhook_routes` router with one signing secret and
//!    the in-process queue, driven with `tower::ServiceExt::oneshot` (read the body, verify the
//!    signature, parse the envelope, enqueue). No network, no database.
//! 2. `POST /checkout` for one `FOG-MUG`: the `shop_routes` router on a fresh test database
//!    (the local PostgreSQL cluster of backroom-testkit) and the Stripe simulator on loopback,
//!    driven with `oneshot` (write the order, create the Checkout Session over HTTP, record it).
//!
//! Each path is measured twice: by criterion (its estimate) and by a plain loop that times every
//! iteration on its own, for p50/p99/min/max, which criterion does not report. The loops' results
//! go to `$CARGO_TARGET_DIR/bench/paths.json` (or `<workspace>/target/bench/paths.json`) with
//! criterion's estimates when it wrote them.
//!
//! The timed region is the same in both measurements: build the `Request`, clone the router, call
//! `oneshot`, collect the response body. Signing the webhook, draining the queue, checking the
//! answers happen outside it. A tracing subscriber prints warnings and errors only.
//!
//! Run: `cargo bench -p backroom-app --bench paths`. Without `--bench` (for example under
//! `cargo test --benches`) criterion runs each routine once and the loops shrink to a smoke test
//! that writes no JSON.

// The event body below is one `json!` literal, deeper than the default limit allows.
#![recursion_limit = "256"]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use backroom_app::Queue;
use backroom_app::checkout::CheckoutSettings;
use backroom_app::http::{self, Ingest, Shop};
use backroom_app::queue::LocalQueue;
use backroom_core::Catalog;
use backroom_core::ports::CatalogStore;
use backroom_db::{Db, DbConfig, Store};
use backroom_sim::stripe::{StripeSim, StripeSimConfig};
use backroom_stripe::webhook::{WebhookVerifier, signature_header};
use backroom_stripe::{StripeClient, StripeSettings};
use backroom_testkit::TestDatabase;
use criterion::{Criterion, SamplingMode};
use serde_json::{Value, json};
use tower::ServiceExt;

const WEBHOOK_SECRET: &str = "whsec_backroom_bench";
const ORIGIN: &str = "https://shop.example";

/// Iterations recorded by the percentile loops (after their warm-up).
const WEBHOOK_ITERATIONS: usize = 2_000;
const WEBHOOK_WARM_UP: usize = 200;
const CHECKOUT_ITERATIONS: usize = 300;
const CHECKOUT_WARM_UP: usize = 20;

/// Webhooks sent between two drains of the queue (and two fresh signatures).
const WEBHOOK_CHUNK: u64 = 256;

const WEBHOOK_GROUP: &str = "webhook";
const WEBHOOK_FUNCTION: &str = "stripe_verify_enqueue";
const CHECKOUT_GROUP: &str = "checkout";
const CHECKOUT_FUNCTION: &str = "post_fog_mug_x1";

fn main() {
    let full = is_full_run();
    // Warnings and errors only, so a failed request says why; the paths measured log nothing at
    // these levels when they succeed.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    let mut criterion = Criterion::default()
        .sample_size(50)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(2))
        .configure_from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");

    let webhook = WebhookBench::new();
    let checkout = runtime.block_on(CheckoutBench::new());

    {
        let mut group = criterion.benchmark_group(WEBHOOK_GROUP);
        group.bench_function(WEBHOOK_FUNCTION, |b| {
            b.to_async(&runtime).iter_custom(|iters| webhook.timed_batch(iters));
        });
        group.finish();
    }
    {
        let mut group = criterion.benchmark_group(CHECKOUT_GROUP);
        // Milliseconds per iteration: flat sampling keeps the run near its measurement time.
        group.sampling_mode(SamplingMode::Flat);
        group.bench_function(CHECKOUT_FUNCTION, |b| {
            b.to_async(&runtime).iter_custom(|iters| checkout.timed_batch(iters));
        });
        group.finish();
    }
    criterion.final_summary();

    let (webhook_n, webhook_warm, checkout_n, checkout_warm) = if full {
        (
            WEBHOOK_ITERATIONS,
            WEBHOOK_WARM_UP,
            CHECKOUT_ITERATIONS,
            CHECKOUT_WARM_UP,
        )
    } else {
        (20, 2, 5, 1)
    };
    let webhook_samples = runtime.block_on(webhook.percentile_loop(webhook_n, webhook_warm));
    let checkout_samples = runtime.block_on(checkout.percentile_loop(checkout_n, checkout_warm));
    let webhook_stats = Stats::of(&webhook_samples);
    let checkout_stats = Stats::of(&checkout_samples);

    println!();
    println!("per-iteration latency, plain loop (µs)");
    println!(
        "{:<34} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "path", "n", "p50", "p99", "min", "max", "mean"
    );
    for (name, stats) in [
        ("POST /webhooks/stripe (in process)", &webhook_stats),
        ("POST /checkout (db + Stripe sim)", &checkout_stats),
    ] {
        println!(
            "{:<34} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            name,
            stats.n,
            us(stats.p50),
            us(stats.p99),
            us(stats.min),
            us(stats.max),
            us(stats.mean)
        );
    }

    if !full {
        println!("(not a --bench run: smoke-sized loops, no JSON written)");
        return;
    }
    let target = target_dir();
    let report = json!({
        "profile": if cfg!(debug_assertions) { "debug" } else { "release (bench profile)" },
        "available_parallelism": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "timed_region": "build Request + Router::clone + oneshot + collect response body",
        "unit": "microseconds",
        "webhook": {
            "path": "POST /webhooks/stripe via webhook_routes + oneshot (verify + enqueue to LocalQueue)",
            "body_bytes": webhook.body.len(),
            "warm_up_iterations": webhook_warm,
            "latency_us": webhook_stats.to_json(),
            "criterion": criterion_estimates(&target, WEBHOOK_GROUP, WEBHOOK_FUNCTION),
        },
        "checkout": {
            "path": "POST /checkout via shop_routes + oneshot, FOG-MUG x1, TestDatabase + StripeSim loopback",
            "warm_up_iterations": checkout_warm,
            "latency_us": checkout_stats.to_json(),
            "criterion": criterion_estimates(&target, CHECKOUT_GROUP, CHECKOUT_FUNCTION),
        },
    });
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).expect("create the bench output directory");
    let file = dir.join("paths.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&report).expect("serialise the report") + "\n",
    )
    .expect("write paths.json");
    println!("wrote {}", file.display());
}

/// A real measurement only under `cargo bench` (which passes `--bench`), not in criterion's test,
/// list or profile modes.
fn is_full_run() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench")
        && !args
            .iter()
            .any(|a| a == "--test" || a == "--list" || a.starts_with("--profile-time"))
}

/// The in-process webhook path and what it needs.
struct WebhookBench {
    router: Router,
    queue: LocalQueue,
    body: Bytes,
}

impl WebhookBench {
    fn new() -> WebhookBench {
        let queue = LocalQueue::new(Duration::from_secs(30), 5);
        let ingest = Ingest {
            stripe_verifier: Some(WebhookVerifier::new(vec![WEBHOOK_SECRET.to_string().into()], false)),
            printful_token: None,
            printful_secret: None,
            queue: Queue::Local(queue.clone()),
        };
        let router = http::webhook_routes(Arc::new(ingest));
        WebhookBench {
            router,
            queue,
            body: Bytes::from(checkout_session_completed()),
        }
    }

    /// A `Stripe-Signature` header for the body, signed now (valid for 300 s either way).
    fn sign_now(&self) -> String {
        signature_header(&self.body, WEBHOOK_SECRET, chrono::Utc::now().timestamp())
    }

    /// Empties the queue: every message is received, then deleted.
    fn drain(&self) {
        loop {
            let received = self.queue.receive(1_024);
            if received.is_empty() {
                return;
            }
            for r in &received {
                self.queue.delete(&r.message_id, r.receipt);
            }
        }
    }

    async fn once(&self, signature: &str) -> StatusCode {
        let request = Request::builder()
            .method("POST")
            .uri("/webhooks/stripe")
            .header("content-type", "application/json; charset=utf-8")
            .header("stripe-signature", signature)
            .body(Body::from(self.body.clone()))
            .expect("a valid request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        black_box(
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a readable body"),
        );
        status
    }

    /// Criterion's routine: `iters` webhooks, timed in chunks; each chunk gets a fresh signature
    /// and an empty queue, neither of which is timed.
    async fn timed_batch(&self, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut done = 0;
        while done < iters {
            let n = (iters - done).min(WEBHOOK_CHUNK);
            self.drain();
            let signature = self.sign_now();
            let mut statuses_ok = true;
            let start = Instant::now();
            for _ in 0..n {
                statuses_ok &= self.once(&signature).await == StatusCode::OK;
            }
            total += start.elapsed();
            assert!(statuses_ok, "a webhook was not accepted");
            assert_eq!(self.queue.depth(), n as usize, "every accepted webhook is queued");
            done += n;
        }
        self.drain();
        total
    }

    async fn percentile_loop(&self, iterations: usize, warm_up: usize) -> Vec<Duration> {
        let mut samples = Vec::with_capacity(iterations);
        let mut signature = self.sign_now();
        for i in 0..warm_up + iterations {
            if (i as u64).is_multiple_of(WEBHOOK_CHUNK) {
                self.drain();
                signature = self.sign_now();
            }
            let start = Instant::now();
            let status = self.once(&signature).await;
            let elapsed = start.elapsed();
            assert_eq!(status, StatusCode::OK, "a webhook was not accepted");
            if i >= warm_up {
                samples.push(elapsed);
            }
        }
        self.drain();
        samples
    }
}

/// The checkout path on a fresh database and the Stripe simulator. The simulator and the
/// database connections live on the runtime that built this, which must run every request.
struct CheckoutBench {
    router: Router,
    _db: TestDatabase,
    _sim: StripeSim,
}

impl CheckoutBench {
    async fn new() -> CheckoutBench {
        let db = TestDatabase::new().await;
        let store = Store::new(Db::new(DbConfig::Url(db.url.clone().into()), 8));
        let catalog = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml"))
            .expect("read catalog.toml");
        store
            .sync_catalog(&Catalog::from_toml(&catalog).expect("a valid catalog"))
            .await
            .expect("sync the catalog");
        let (sim, api_base) = StripeSim::serve_loopback(StripeSimConfig {
            webhook_secret: WEBHOOK_SECRET.into(),
            ..StripeSimConfig::default()
        })
        .await;
        let stripe = StripeClient::new(StripeSettings {
            secret_key: "sk_test_backroom".to_string().into(),
            api_base: Some(api_base),
            timeout: Duration::from_secs(5),
        })
        .expect("a Stripe client");
        let shop = Shop {
            store,
            stripe,
            checkout: CheckoutSettings {
                storefront_origin: ORIGIN.into(),
                shipping_countries: vec!["DE".into(), "FR".into()],
                shipping_rate_ids: vec![],
                ..Default::default()
            },
        };
        let router = http::shop_routes(Arc::new(shop));
        CheckoutBench {
            router,
            _db: db,
            _sim: sim,
        }
    }

    /// One checkout, timed.
    async fn once(&self) -> Duration {
        let start = Instant::now();
        let request = Request::builder()
            .method("POST")
            .uri("/checkout")
            .header("content-type", "application/json")
            .header("origin", ORIGIN)
            .body(Body::from(
                r#"{"items":[{"sku":"FOG-MUG","quantity":1}],"email":"buyer@example.com"}"#,
            ))
            .expect("a valid request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a readable body");
        let elapsed = start.elapsed();
        assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
        black_box(body);
        elapsed
    }

    /// Criterion's routine: `iters` checkouts, each timed on its own.
    async fn timed_batch(&self, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += self.once().await;
        }
        total
    }

    async fn percentile_loop(&self, iterations: usize, warm_up: usize) -> Vec<Duration> {
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..warm_up + iterations {
            let elapsed = self.once().await;
            if i >= warm_up {
                samples.push(elapsed);
            }
        }
        samples
    }
}

/// A `checkout.session.completed` event shaped like one Stripe sends for a paid card session
/// with shipping (about 2.5 KB compact, like Stripe's).
fn checkout_session_completed() -> Vec<u8> {
    let created = chrono::Utc::now().timestamp();
    let event = json!({
        "id": "evt_1QbenchW3bHk2e4C0n5Xv8Yq",
        "object": "event",
        "api_version": backroom_stripe::API_VERSION,
        "created": created,
        "data": {
            "object": {
                "id": "cs_test_b1QbenchA9dKq3Xf0pLm2Zr7Tn4Vw8Yc6Hs5Jg1Ke0Uo3Ia",
                "object": "checkout.session",
                "adaptive_pricing": { "enabled": false },
                "after_expiration": null,
                "allow_promotion_codes": null,
                "amount_subtotal": 1600,
                "amount_total": 2090,
                "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
                "billing_address_collection": null,
                "cancel_url": "https://shop.example/?canceled=1",
                "client_reference_id": "0194f1c2-7a3b-7c4d-8e5f-6a7b8c9d0e1f",
                "client_secret": null,
                "collected_information": {
                    "shipping_details": {
                        "address": { "city": "Berlin", "country": "DE", "line1": "Torstraße 1", "line2": null, "postal_code": "10119", "state": null },
                        "name": "Jenny Rosen"
                    }
                },
                "consent": null,
                "consent_collection": null,
                "created": created - 95,
                "currency": "eur",
                "currency_conversion": null,
                "custom_fields": [],
                "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
                "customer": null,
                "customer_creation": "if_required",
                "customer_details": {
                    "address": { "city": "Berlin", "country": "DE", "line1": "Torstraße 1", "line2": null, "postal_code": "10119", "state": null },
                    "email": "buyer@example.com",
                    "name": "Jenny Rosen",
                    "phone": null,
                    "tax_exempt": "none",
                    "tax_ids": []
                },
                "customer_email": "buyer@example.com",
                "discounts": [],
                "expires_at": created + 1705,
                "invoice": null,
                "invoice_creation": {
                    "enabled": false,
                    "invoice_data": { "account_tax_ids": null, "custom_fields": null, "description": null, "footer": null, "issuer": null, "metadata": {}, "rendering_options": null }
                },
                "livemode": false,
                "locale": null,
                "metadata": { "order_id": "0194f1c2-7a3b-7c4d-8e5f-6a7b8c9d0e1f" },
                "mode": "payment",
                "origin_context": null,
                "payment_intent": "pi_3QbenchA9dKq3Xf01a2b3c4d",
                "payment_link": null,
                "payment_method_collection": "if_required",
                "payment_method_configuration_details": { "id": "pmc_1QbenchA9dKq3Xf0Zz9Yy8Xx", "parent": null },
                "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
                "payment_method_types": ["card", "link"],
                "payment_status": "paid",
                "permissions": null,
                "phone_number_collection": { "enabled": false },
                "presentment_details": { "presentment_amount": 2090, "presentment_currency": "eur" },
                "recovered_from": null,
                "saved_payment_method_options": null,
                "setup_intent": null,
                "shipping_address_collection": { "allowed_countries": ["DE", "FR"] },
                "shipping_cost": {
                    "amount_subtotal": 490,
                    "amount_tax": 0,
                    "amount_total": 490,
                    "shipping_rate": "shr_1QbenchA9dKq3Xf0Qw2Er4Ty"
                },
                "shipping_options": [{ "shipping_amount": 490, "shipping_rate": "shr_1QbenchA9dKq3Xf0Qw2Er4Ty" }],
                "status": "complete",
                "submit_type": "pay",
                "subscription": null,
                "success_url": "https://shop.example/success?order=0194f1c2-7a3b-7c4d-8e5f-6a7b8c9d0e1f",
                "total_details": { "amount_discount": 0, "amount_shipping": 490, "amount_tax": 0 },
                "ui_mode": "hosted",
                "url": null,
                "wallet_options": null
            }
        },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "checkout.session.completed"
    });
    event.to_string().into_bytes()
}

/// Percentiles by nearest rank over the recorded iterations.
struct Stats {
    n: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    min: Duration,
    max: Duration,
    mean: Duration,
}

impl Stats {
    fn of(samples: &[Duration]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let rank = |p: f64| sorted[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
        let total: Duration = sorted.iter().sum();
        Stats {
            n,
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            min: sorted[0],
            max: sorted[n - 1],
            mean: total / n as u32,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "n": self.n,
            "p50": us(self.p50),
            "p90": us(self.p90),
            "p99": us(self.p99),
            "min": us(self.min),
            "max": us(self.max),
            "mean": us(self.mean),
        })
    }
}

fn us(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

/// `$CARGO_TARGET_DIR`, else the workspace's `target`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("the crate sits two levels below the workspace")
            .join("target"),
    }
}

/// Criterion's point estimates (µs) from this run's `estimates.json`, where criterion put it
/// (`$CRITERION_HOME`, else `<target>/criterion`); `null` when it is not there.
fn criterion_estimates(target: &std::path::Path, group: &str, function: &str) -> Value {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("criterion"));
    let file = home.join(group).join(function).join("new").join("estimates.json");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Value::Null;
    };
    let Ok(estimates) = serde_json::from_str::<Value>(&text) else {
        return Value::Null;
    };
    let point = |name: &str| {
        let e = &estimates[name];
        if e.is_null() {
            return Value::Null;
        }
        let ns = |v: &Value| v.as_f64().map(|ns| (ns / 100.0).round() / 10.0);
        json!({
            "point_us": ns(&e["point_estimate"]),
            "ci_low_us": ns(&e["confidence_interval"]["lower_bound"]),
            "ci_high_us": ns(&e["confidence_interval"]["upper_bound"]),
        })
    };
    json!({
        "mean": point("mean"),
        "median": point("median"),
        "slope": point("slope"),
        "std_dev": point("std_dev"),
    })
}
