//! The reconciler over 1,000 orders against the simulators: wall time and provider calls.
//! Run with `cargo bench -p backroom-app --bench reconcile`; the figures are printed and written
//! to `target/bench/reconcile.json`.

use std::time::{Duration, Instant};

use backroom_app::reconcile::{ReconcileOptions, reconcile};
use backroom_testkit::app::{Options, TestApp};

const ORDERS: usize = 1_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let app = TestApp::with(Options {
        printful_timeout: Duration::from_secs(10),
        ..Options::default()
    })
    .await;
    // Seeding 1,000 orders is far beyond Printful's 120 calls a minute, which the simulator
    // enforces; the reconcile itself is measured under the same raised limit, and its call
    // count is reported so the time at the real limit can be worked out.
    app.printful_sim.set_rate_limit(1_000_000);
    let began = Instant::now();
    for i in 0..ORDERS {
        let (order, _) = app.checkout(&[("FOG-MUG", 1), ("GULL-TOTE", 1)]).await;
        let session = app.order(order).await.stripe_session_id.expect("session");
        app.sim.pay(&session, true).await.expect("pay");
        if i % 50 == 49 {
            app.sim.settle().await;
            app.settle().await;
        }
    }
    app.sim.settle().await;
    app.settle().await;
    let seeding = began.elapsed();
    let submitted = app
        .count("SELECT count(*) FROM orders WHERE status = 'submitted'")
        .await;
    assert_eq!(
        submitted as usize, ORDERS,
        "every order reached Printful before the reconcile"
    );

    let options = ReconcileOptions {
        days: 30,
        fix: false,
        webhook_base_url: None,
    };
    let mut runs = vec![];
    for _ in 0..3 {
        let start = Instant::now();
        let report = reconcile(&app.worker, &options, chrono::Utc::now())
            .await
            .expect("reconcile");
        runs.push((start.elapsed(), report));
    }
    let mut times: Vec<f64> = runs.iter().map(|(d, _)| d.as_secs_f64()).collect();
    times.sort_by(f64::total_cmp);
    let report = &runs[0].1;
    let figures = serde_json::json!({
        "orders": ORDERS,
        "seeding_seconds": seeding.as_secs_f64(),
        "reconcile_seconds": { "median": times[1], "min": times[0], "max": times[2], "runs": 3 },
        "stripe_calls": report.stripe_calls,
        "printful_calls": report.printful_calls,
        "discrepancies": report.discrepancies.len(),
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "how": "TestApp on a fresh PostgreSQL database with both simulators on loopback; 1,000 orders paid \
                and submitted through the webhook path, then three reconciles of 30 days without --fix",
    });
    println!("{}", serde_json::to_string_pretty(&figures).expect("json"));
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
        .join("bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    std::fs::write(dir.join("reconcile.json"), figures.to_string()).expect("write figures");
}
