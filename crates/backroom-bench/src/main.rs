//! `backroom-bench`: the benchmark behind bench/report.md. Run it with `scripts/bench`, which
//! builds the release binaries and the Node.js peer first. See the report's "How it was
//! measured" section, written from [`method`], for what each figure is.
//!
//! `backroom-bench [--quick] [--out DIR]`: `--quick` runs every step with few iterations (a
//! smoke run; its report says so).

// The futures of the use cases nest deeply, as in the lambdas.
#![recursion_limit = "256"]

mod fixture;
mod lambda;
mod worker_bench;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use backroom_bench::report::{
    Build, ColdStart, Cost, CostCase, FlashSale, FrontDoor, MINIMAL_PEER, NODE_PEER, PerEvent, Report, Size, Target,
    Warm, WorkerCpu, WorkerThroughput, range,
};
use backroom_bench::stats::{Percentiles, Summary};
use backroom_bench::{cpu, machine};
use backroom_core::cost::{Workload, estimate};
use serde_json::Value;

use crate::fixture::{Aws, Shop1, http_api_event, printful_webhook_body, schedule_event, shop_env, sqs_event};
use crate::lambda::{ColdRun, Function, Instance};
use crate::worker_bench::QueryMode;

/// The seven functions, in the order of the report.
const FUNCTIONS: [&str; 7] = [
    "checkout-api",
    "stripe-webhook",
    "printful-webhook",
    "event-worker",
    "stripe-catchup",
    "printful-catchup",
    "reconciler",
];

/// The minimal Rust function of stripe-webhook's job (bench/peers/stripe-webhook-rust), built by
/// scripts/bench with the seven.
const MINIMAL: &str = "stripe-webhook-minimal";

/// How many times each thing is done.
#[derive(Clone, Copy, Debug)]
struct Plan {
    quick: bool,
    cold_runs: usize,
    warm_rounds: usize,
    warm_invocations: usize,
    warm_up: usize,
    worker_runs: usize,
    worker_events: usize,
    worker_clients: usize,
    pgbench_runs: usize,
    pgbench_seconds: u32,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            quick: false,
            cold_runs: 5,
            warm_rounds: 3,
            warm_invocations: 1_000,
            warm_up: 50,
            worker_runs: 3,
            worker_events: 500,
            // The template's event source mapping runs at most two workers at once.
            worker_clients: 2,
            pgbench_runs: 3,
            pgbench_seconds: 10,
        }
    }

    fn quick() -> Plan {
        Plan {
            quick: true,
            cold_runs: 2,
            warm_rounds: 1,
            warm_invocations: 50,
            warm_up: 5,
            worker_runs: 1,
            worker_events: 30,
            worker_clients: 2,
            pgbench_runs: 1,
            pgbench_seconds: 2,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = if args.iter().any(|a| a == "--quick") {
        Plan::quick()
    } else {
        Plan::full()
    };
    let root = workspace_root();
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("bench"));
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(run(plan, &root))?;
    report.write(&out)?;
    // A run into the repository's bench/ is the published one: the README shows its table.
    if out == root.join("bench") {
        report.update_readme(&root.join("README.md"))?;
    }
    println!("{}", report.targets_table());
    println!(
        "wrote {} and {}",
        out.join("report.md").display(),
        out.join("report.json").display()
    );
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate sits two levels below the workspace")
        .to_path_buf()
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn say(what: &str) {
    eprintln!("bench: {what}");
}

async fn run(plan: Plan, root: &Path) -> anyhow::Result<Report> {
    let started = Instant::now();
    let machine = machine::describe();
    let target = target_dir(root);
    // `BENCH_FUNCTIONS_DIR` runs other builds of the functions (a smoke run on debug builds).
    let release = std::env::var_os("BENCH_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("release"));
    let release = std::path::absolute(&release)?;
    let missing: Vec<&str> = FUNCTIONS
        .iter()
        .copied()
        .filter(|f| !release.join(f).exists())
        .collect();
    if missing.len() == FUNCTIONS.len() {
        bail!(
            "no function is built in {}: build them first (cargo build --release --locked -p checkout-api ...), or run scripts/bench",
            release.display()
        );
    }
    for f in &missing {
        say(&format!(
            "{f} is not built in {}: left out of this run",
            release.display()
        ));
    }
    let built = |f: &str| !missing.contains(&f);
    let peer = root.join("bench/peers/stripe-webhook-node");
    if !peer.join("node_modules").exists() {
        bail!(
            "the Node.js peer has no node_modules: run `npm ci` in {}",
            peer.display()
        );
    }
    let logs = target.join("bench/logs");
    std::fs::create_dir_all(&logs)?;

    say("starting PostgreSQL, ministack and the simulators");
    let aws = Aws::start().await?;
    let shop = Shop1::new().await?;
    let quiet = Shop1::new().await?;

    let spec = |name: &str| -> Function {
        let mut env = aws.env();
        match name {
            "checkout-api" => env.extend(shop_env(&shop)),
            "stripe-webhook" => env.push(("STRIPE_WEBHOOK_SECRETS".into(), fixture::WEBHOOK_SECRET.into())),
            "printful-webhook" => env.push(("PRINTFUL_WEBHOOK_TOKEN".into(), fixture::PRINTFUL_WEBHOOK_TOKEN.into())),
            "event-worker" => env.extend(shop_env(&shop)),
            _ => env.extend(shop_env(&quiet)),
        }
        Function {
            name: name.to_string(),
            runtime: "rust",
            program: release.join(name),
            task_root: release.clone(),
            env,
        }
    };
    let node = Function {
        name: "stripe-webhook".into(),
        runtime: NODE_PEER,
        program: peer.join("bootstrap"),
        task_root: peer.clone(),
        env: {
            let mut env = aws.env();
            env.push(("STRIPE_WEBHOOK_SECRETS".into(), fixture::WEBHOOK_SECRET.into()));
            env.push(("NODE_ENV".into(), "production".into()));
            env
        },
    };

    // The minimal Rust peer, given the same queue and secret as stripe-webhook.
    let minimal = if release.join(MINIMAL).exists() {
        Some(Function {
            name: "stripe-webhook".into(),
            runtime: MINIMAL_PEER,
            program: release.join(MINIMAL),
            task_root: release.clone(),
            env: {
                let mut env = aws.env();
                env.push(("STRIPE_WEBHOOK_SECRET".into(), fixture::WEBHOOK_SECRET.into()));
                env
            },
        })
    } else {
        say(&format!(
            "{MINIMAL} is not built in {}: its cold start and size are left out of this run",
            release.display()
        ));
        None
    };

    // One real paid order's event: the webhook both webhook functions are sent.
    let webhook = shop.paid_order().await?;
    let signed = |body: &str| {
        let signature = backroom_stripe::webhook::signature_header(
            body.as_bytes(),
            fixture::WEBHOOK_SECRET,
            chrono::Utc::now().timestamp(),
        );
        http_api_event(
            "POST",
            "/webhooks/stripe",
            &[
                ("content-type", "application/json; charset=utf-8"),
                ("stripe-signature", &signature),
                ("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
            ],
            Some(body),
        )
        .to_string()
        .into_bytes()
    };
    let queue_arn = "arn:aws:sqs:us-east-1:000000000000:backroom-bench-events";

    // Cold starts.
    let mut cold: Vec<ColdStart> = vec![];
    for name in FUNCTIONS.into_iter().filter(|f| built(f)) {
        let function = spec(name);
        let mut runs: Vec<ColdRun> = vec![];
        let mut node_runs: Vec<ColdRun> = vec![];
        let mut minimal_runs: Vec<ColdRun> = vec![];
        for run in 0..plan.cold_runs {
            let event: Vec<u8> = match name {
                "checkout-api" => http_api_event("GET", "/catalog", &[("accept", "application/json")], None)
                    .to_string()
                    .into_bytes(),
                "stripe-webhook" => signed(&webhook.body),
                "printful-webhook" => http_api_event(
                    "POST",
                    &format!("/webhooks/printful/{}", fixture::PRINTFUL_WEBHOOK_TOKEN),
                    &[("content-type", "application/json"), ("user-agent", "Printful")],
                    Some(&printful_webhook_body()),
                )
                .to_string()
                .into_bytes(),
                "event-worker" => {
                    let message = shop.paid_order().await?;
                    sqs_event(&message, queue_arn).to_string().into_bytes()
                }
                _ => schedule_event().to_string().into_bytes(),
            };
            say(&format!("cold start {name} #{}", run + 1));
            let (result, instance) =
                Instance::cold(&function, event.clone(), logs.join(format!("{name}-cold-{run}.log"))).await?;
            instance.stop().await;
            check_answer(name, &result.answer)?;
            runs.push(result);
            if name == "stripe-webhook" {
                say(&format!("cold start stripe-webhook (Node.js peer) #{}", run + 1));
                let (result, instance) = Instance::cold(
                    &node,
                    event.clone(),
                    logs.join(format!("node-stripe-webhook-cold-{run}.log")),
                )
                .await?;
                instance.stop().await;
                check_answer(name, &result.answer)?;
                node_runs.push(result);
                if let Some(minimal) = &minimal {
                    say(&format!("cold start stripe-webhook (minimal Rust peer) #{}", run + 1));
                    let (result, instance) =
                        Instance::cold(minimal, event, logs.join(format!("{MINIMAL}-cold-{run}.log"))).await?;
                    instance.stop().await;
                    check_answer(name, &result.answer)?;
                    minimal_runs.push(result);
                }
            }
        }
        let label = event_label_of(name);
        cold.push(summarise_cold(name, "rust", label, &runs)?);
        if !node_runs.is_empty() {
            cold.push(summarise_cold(name, NODE_PEER, label, &node_runs)?);
        }
        if !minimal_runs.is_empty() {
            cold.push(summarise_cold(name, MINIMAL_PEER, label, &minimal_runs)?);
        }
    }
    aws.purge().await?;

    // Warm webhook path, Rust and Node alternating, one fresh instance per round.
    let mut warm: Vec<Warm> = vec![];
    let mut rounds: [Vec<(Percentiles, f64)>; 2] = [vec![], vec![]];
    let warm_rounds = if built("stripe-webhook") { plan.warm_rounds } else { 0 };
    for round in 0..warm_rounds {
        for (i, function) in [spec("stripe-webhook"), node.clone()].iter().enumerate() {
            say(&format!(
                "warm stripe-webhook ({}) round {}: {} invocations",
                function.runtime,
                round + 1,
                plan.warm_invocations
            ));
            let event = signed(&webhook.body);
            let (first, mut instance) = Instance::cold(
                function,
                event.clone(),
                logs.join(format!("{}-stripe-webhook-warm-{round}.log", function.runtime)),
            )
            .await?;
            check_answer("stripe-webhook", &first.answer)?;
            let mut samples = Vec::with_capacity(plan.warm_invocations);
            for k in 0..plan.warm_up + plan.warm_invocations {
                let outcome = instance.invoke(event.clone()).await?;
                if k == 0 {
                    check_answer("stripe-webhook", &answer_of(&outcome))?;
                }
                if k >= plan.warm_up {
                    samples.push(outcome.duration().as_secs_f64() * 1e3);
                }
            }
            let rss = instance.peak_rss_mb().context("VmHWM after the warm round")?;
            instance.stop().await;
            let queued = aws.depth().await?;
            let expected = (1 + plan.warm_up + plan.warm_invocations) as u64;
            if queued != expected {
                bail!("{} queued {queued} messages for {expected} webhooks", function.runtime);
            }
            aws.purge().await?;
            rounds[i].push((Percentiles::of(&samples).context("samples")?, rss));
        }
    }
    for (i, runtime) in ["rust", "node"].iter().enumerate() {
        let r = &rounds[i];
        if r.is_empty() {
            continue;
        }
        let pick = |f: &dyn Fn(&(Percentiles, f64)) -> f64| Summary::of(&r.iter().map(f).collect::<Vec<_>>());
        warm.push(Warm {
            function: "stripe-webhook".into(),
            runtime: runtime.to_string(),
            path: "verify the signature, SendMessage to SQS (ministack), answer 200".into(),
            rounds: r.len(),
            invocations_per_round: plan.warm_invocations,
            warm_up_per_round: plan.warm_up,
            p50_ms: pick(&|x| x.0.p50).context("p50")?,
            p99_ms: pick(&|x| x.0.p99).context("p99")?,
            mean_ms: pick(&|x| x.0.mean).context("mean")?,
            peak_rss_mb: pick(&|x| x.1).context("rss")?,
        });
    }

    // Worker throughput against pgbench.
    say("worker throughput: seeding paid orders");
    let wshop = Shop1::new().await?;
    let capture_events = worker_bench::seed(&wshop, 2).await?;
    let statements = worker_bench::capture(&wshop, &capture_events[0], &capture_events[1]).await?;
    let captured_order = {
        let body: Value = serde_json::from_str(&capture_events[1].body)?;
        body["data"]["object"]["client_reference_id"]
            .as_str()
            .or_else(|| body["data"]["object"]["metadata"]["order_id"].as_str())
            .context("the captured event's order id")?
            .to_string()
    };
    let script = backroom_bench::pgbench::script(&statements, &captured_order, &capture_events[1].event_id);
    let worker = worker_bench::worker(&wshop, plan.worker_clients).await?;
    let mut rates = vec![];
    let (mut worker_cpu, mut worker_pg_cpu) = (vec![], vec![]);
    let mut last = vec![];
    for run in 0..plan.worker_runs {
        let messages = worker_bench::seed(&wshop, plan.worker_events).await?;
        say(&format!("worker run {}: {} events", run + 1, messages.len()));
        let before = cpu::sample();
        rates.push(worker_bench::run(&worker, &messages, plan.worker_clients).await?);
        let used = cpu::sample().since(&before);
        worker_cpu.push(1e3 * used.own / messages.len() as f64);
        worker_pg_cpu.push(1e3 * used.postgres / messages.len() as f64);
        worker_bench::check_applied(&wshop, &messages).await?;
        last = messages;
    }
    let reread = worker_bench::stripe_reread_ms(&worker, &last, 200).await?;
    let pg = worker_bench::PgBench::prepare(&wshop, &script, &target.join("bench")).await?;
    let mut tps = vec![];
    let mut extended_tps = vec![];
    let (mut pgbench_cpu, mut pgbench_pg_cpu) = (vec![], vec![]);
    for run in 0..plan.pgbench_runs {
        say(&format!("pgbench run {} (-M prepared)", run + 1));
        let before = cpu::sample();
        let (rate, transactions) = pg
            .run(&wshop, QueryMode::Prepared, plan.worker_clients, plan.pgbench_seconds)
            .await?;
        let used = cpu::sample().since(&before);
        tps.push(rate);
        let per = 1e3 / transactions.max(1) as f64;
        pgbench_cpu.push(used.children * per);
        pgbench_pg_cpu.push(used.postgres * per);
        say(&format!("pgbench run {} (-M extended)", run + 1));
        let (rate, _) = pg
            .run(&wshop, QueryMode::Extended, plan.worker_clients, plan.pgbench_seconds)
            .await?;
        extended_tps.push(rate);
    }
    let cpu_split = match (
        Summary::of(&worker_cpu),
        Summary::of(&worker_pg_cpu),
        Summary::of(&pgbench_cpu),
        Summary::of(&pgbench_pg_cpu),
    ) {
        (Some(a), Some(b), Some(c), Some(d)) if b.median > 0.0 && d.median > 0.0 => Some(WorkerCpu {
            worker_process_ms: a,
            worker_postgres_ms: b,
            pgbench_client_ms: c,
            pgbench_postgres_ms: d,
        }),
        _ => None,
    };
    let worker_rate = Summary::of(&rates).context("worker rates")?;
    let pg_rate = Summary::of(&tps).context("pgbench rates")?;
    let extended_rate = Summary::of(&extended_tps);
    let throughput = WorkerThroughput {
        events_per_run: plan.worker_events,
        clients: plan.worker_clients,
        worker_events_per_second: worker_rate,
        pgbench_tps: pg_rate,
        ratio: worker_rate.median / pg_rate.median,
        ratio_extended: extended_rate.map(|x| worker_rate.median / x.median),
        pgbench_extended_tps: extended_rate,
        stripe_reread_ms: Some(reread),
        pgbench_command: pg
            .command(&wshop, QueryMode::Prepared, plan.worker_clients, plan.pgbench_seconds)
            .1,
        pgbench_script: script.clone(),
        cpu: cpu_split,
        how: format!(
            "Each run seeds {} new orders through `POST /checkout` and pays them at the Stripe simulator, then queues their \
             `checkout.session.completed` events in the in-process queue and times {} concurrent loops of \
             `Worker::run_local_batch` (batches of 10, as the event source mapping delivers) until the queue is empty. The \
             worker is built by `wiring::worker` with fulfillment paused, so each event is: inbox check, re-read of the \
             session from the Stripe simulator over loopback HTTP, order transition and timeline entry in one REPEATABLE \
             READ transaction. Every event is then checked in the database (paid order + inbox row). pgbench replays, per \
             transaction, the {} statements PostgreSQL logged (log_statement=all) while the same worker processed one such \
             event, with a random order of the database, plus one statement that picks that order and fresh ids.",
            plan.worker_events,
            plan.worker_clients,
            statements.len()
        ),
    };

    // Sizes.
    say("sizes");
    let arm64 = read_arm64_sizes();
    let mut sizes = vec![];
    for f in FUNCTIONS.into_iter().filter(|f| built(f)) {
        let binary = release.join(f);
        let binary_bytes = std::fs::metadata(&binary)?.len();
        let zip_bytes = zip_size(&binary, &target.join("bench/zip"), f)?;
        sizes.push(Size {
            function: f.into(),
            binary_bytes,
            zip_bytes,
            arm64_zip_bytes: arm64
                .as_ref()
                .and_then(|(_, m)| m.iter().find(|(n, _)| n == f).map(|(_, b)| *b)),
        });
    }
    if minimal.is_some() {
        let binary = release.join(MINIMAL);
        sizes.push(Size {
            function: MINIMAL.into(),
            binary_bytes: std::fs::metadata(&binary)?.len(),
            zip_bytes: zip_size(&binary, &target.join("bench/zip"), MINIMAL)?,
            arm64_zip_bytes: None,
        });
    }
    let build = read_build_time(&target);

    // Cost.
    let median_total = |name: &str| {
        cold.iter()
            .find(|c| c.function == name && c.runtime == "rust")
            .map(|c| c.total_ms.median / 1e3)
            .unwrap_or(0.0)
    };
    let order_path = ["checkout-api", "stripe-webhook", "printful-webhook", "event-worker"];
    let order_seconds = order_path.iter().map(|n| median_total(n)).fold(0.0, f64::max);
    let catchup_seconds = median_total("stripe-catchup").max(median_total("printful-catchup"));
    let reconcile_seconds = median_total("reconciler");
    // A purchase's own requests are measured (the browser test); the catalog views of visitors who
    // do not buy are assumed, as is the CORS preflight a cross-origin storefront's checkout adds
    // (the browser test's storefront is same-origin, so it sends none).
    let front_door: Option<FrontDoor> =
        read_test_report(&target, "browser.json", "crates/backroom-cli/tests/browser.rs");
    const BROWSING_VIEWS_PER_ORDER: u64 = 19;
    const PREFLIGHTS_PER_ORDER: u64 = 1;
    let measured_requests = front_door
        .as_ref()
        .map(|d| BROWSING_VIEWS_PER_ORDER + d.storefront_per_purchase + d.webhooks_per_purchase + PREFLIGHTS_PER_ORDER);
    let cases: Vec<CostCase> = [0u64, 1_000, 10_000, 100_000]
        .iter()
        .map(|&orders| {
            let mut w = Workload::typical(orders);
            if let Some(n) = measured_requests {
                w.http_requests_per_order = n;
            }
            w.memory_mb = 128;
            w.order_invocation_seconds = order_seconds;
            w.catchup_seconds = catchup_seconds;
            w.reconcile_seconds = reconcile_seconds;
            CostCase {
                estimate: estimate(&w),
                workload: w,
            }
        })
        .collect();
    let cost = Cost {
        estimates: cases,
        assumptions: vec![
            format!(
                "Durations are this run's medians of a whole cold start (spawn to answer, init included, as a custom runtime \
                 is billed): every order-path invocation is billed as the slowest order-path function's cold start \
                 ({:.1} ms), a pessimistic bound since most invocations are warm; each catch-up run {:.1} ms and each \
                 reconcile {:.1} ms (a shop with nothing to catch up or repair).",
                order_seconds * 1e3,
                catchup_seconds * 1e3,
                reconcile_seconds * 1e3
            ),
            "The durations were measured on this x86_64 machine and stand in for arm64 at 128 MB, which the template \
             deploys and the price table charges (arm64 GB-s); a 128 MB Lambda gets a fraction of a vCPU, so real \
             durations are longer, but Lambda compute stays far inside its free tier at these volumes."
                .into(),
            match (&front_door, measured_requests) {
                (Some(d), Some(n)) => format!(
                    "Front-door requests per order: {n} = {} of one purchase measured in a real browser (see the front door \
                     section: {} from the storefront and success page, {} webhooks) + {BROWSING_VIEWS_PER_ORDER} catalog \
                     views by visitors who do not buy (assumed: about 20 visits per order) + {PREFLIGHTS_PER_ORDER} CORS \
                     preflight of the checkout from a storefront on another origin (assumed).",
                    d.storefront_per_purchase + d.webhooks_per_purchase,
                    d.storefront_per_purchase,
                    d.webhooks_per_purchase
                ),
                _ => format!(
                    "Front-door requests per order: {} (`Workload::typical`; the browser test's measurement was not \
                     available in this run).",
                    Workload::typical(1).http_requests_per_order
                ),
            },
            "Everything else (SQS calls, DPUs, idle long polls, alarms, metrics, log volume) is `Workload::typical` from \
             backroom_core::cost, the assumptions of docs/deploy.md."
                .into(),
            "Every request of an order goes through the front door, CloudFront (10M requests and 1 TB out free a month), \
             to a function URL (free) and is one Lambda invocation; order events are off (the template's `OrderEvents`), \
             so nothing is put on the event bus."
                .into(),
        ],
    };

    let mut report = Report {
        generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        commit: machine::command_output("git", &["-C", &root.to_string_lossy(), "rev-parse", "--short", "HEAD"]).map(
            |c| {
                let dirty = machine::command_output(
                    "git",
                    &[
                        "-C",
                        &root.to_string_lossy(),
                        "status",
                        "--porcelain",
                        "--untracked-files=no",
                        "--",
                        ".",
                        // The report of an earlier run is not a change to what is measured.
                        ":(exclude)bench/report.md",
                        ":(exclude)bench/report.json",
                    ],
                )
                .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{c} (with uncommitted changes in the working tree)")
                } else {
                    c
                }
            },
        ),
        command: if plan.quick {
            "scripts/bench --quick".into()
        } else {
            "scripts/bench".into()
        },
        run_seconds: started.elapsed().as_secs_f64(),
        machine,
        cold_starts: cold,
        warm,
        worker: Some(throughput),
        sizes,
        arm64_source: arm64.map(|(source, _)| source),
        build,
        cost: Some(cost),
        flash_sale: read_flash_sale(&target),
        per_event: read_test_report(&target, "per-event.json", "crates/backroom-app/tests/lean.rs"),
        front_door,
        targets: vec![],
        method: method(&plan),
    };
    if !missing.is_empty() {
        report.method.insert(
            0,
            format!(
                "**Not in this run**: {} (not built in {} when the run started).",
                missing.join(", "),
                release.display()
            ),
        );
    }
    if cfg!(debug_assertions) {
        report.method.insert(
            0,
            "**The benchmark harness itself (runtime API server, simulators, the in-process worker) was a debug build** in \
             this run: the worker throughput and the warm latencies include its overhead."
                .into(),
        );
    }
    report.targets = targets(&report);
    Ok(report)
}

fn event_label_of(name: &str) -> &'static str {
    match name {
        "checkout-api" => "API Gateway v2: GET /catalog",
        "stripe-webhook" => "API Gateway v2: POST /webhooks/stripe, signed checkout.session.completed",
        "printful-webhook" => "API Gateway v2: POST /webhooks/printful/{token}, package_shipped",
        "event-worker" => "SQS: checkout.session.completed of a new paid order, submitted to Printful",
        _ => "Scheduler: {\"trigger\":\"schedule\"}, nothing to catch up",
    }
}

fn answer_of(outcome: &backroom_bench::runtime_api::Outcome) -> Vec<u8> {
    match &outcome.answer {
        backroom_bench::runtime_api::Answer::Response(b) => b.clone(),
        backroom_bench::runtime_api::Answer::Error { body, .. } => body.clone(),
    }
}

/// A wrong answer makes the figure worthless: stop with it.
fn check_answer(name: &str, answer: &[u8]) -> anyhow::Result<()> {
    let v: Value = serde_json::from_slice(answer).with_context(|| {
        format!(
            "{name} answered with something that is not JSON: {}",
            String::from_utf8_lossy(answer)
        )
    })?;
    let ok = match name {
        "checkout-api" | "stripe-webhook" | "printful-webhook" => {
            v["statusCode"].as_u64().is_some_and(|s| (200..300).contains(&s))
        }
        "event-worker" => v["batchItemFailures"].as_array().is_some_and(|a| a.is_empty()),
        _ => v.is_object(),
    };
    if !ok {
        bail!("{name} answered {v}");
    }
    Ok(())
}

fn summarise_cold(name: &str, runtime: &str, event: &str, runs: &[ColdRun]) -> anyhow::Result<ColdStart> {
    let of = |f: fn(&ColdRun) -> f64| Summary::of(&runs.iter().map(f).collect::<Vec<_>>()).context("no runs");
    Ok(ColdStart {
        function: name.into(),
        runtime: runtime.into(),
        event: event.into(),
        total_ms: of(|r| r.total_ms)?,
        init_ms: of(|r| r.init_ms)?,
        first_invoke_ms: of(|r| r.invoke_ms)?,
        peak_rss_mb: of(|r| r.peak_rss_mb)?,
    })
}

/// The binary as `bootstrap` in a zip made with `zip -9`; its size in bytes.
fn zip_size(binary: &Path, dir: &Path, name: &str) -> anyhow::Result<u64> {
    let work = dir.join(name);
    std::fs::create_dir_all(&work)?;
    let bootstrap = work.join("bootstrap");
    std::fs::copy(binary, &bootstrap)?;
    let zip = dir.join(format!("{name}.zip"));
    let _ = std::fs::remove_file(&zip);
    let status = std::process::Command::new("zip")
        .args(["-9", "-X", "-q", "-j"])
        .arg(&zip)
        .arg(&bootstrap)
        .status()
        .context("run zip (apt-get install zip)")?;
    if !status.success() {
        bail!("zip failed for {name}");
    }
    Ok(std::fs::metadata(&zip)?.len())
}

/// Why the worker's rate is below pgbench's, from the run's own figures.
fn worker_why(w: &WorkerThroughput) -> String {
    let per_event = 1e3 * w.clients as f64 / w.worker_events_per_second.median;
    let statements = w.pgbench_script.lines().count().saturating_sub(2);
    let mut why = format!(
        "per event and client the worker takes {per_event:.2} ms, of which {:.2} ms is re-reading the Checkout Session \
         from the Stripe simulator over HTTP (the worker never trusts a webhook body; pgbench has no such call).",
        w.stripe_reread_ms.unwrap_or(0.0)
    );
    if let Some(c) = &w.cpu {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let _ = write!(
            why,
            " The run is CPU-bound on {cores} cores shared by client and server: per event the worker's process (with \
             the simulator) uses {:.2} ms of CPU and PostgreSQL {:.2} ms, where per transaction pgbench uses {:.2} ms and \
             PostgreSQL {:.2} ms. PostgreSQL works {:.1}x as long per event for the worker: each of the {statements} \
             statements is sent in one round trip but as the unnamed statement, parsed and planned every time (DSQL does \
             not keep statement names), where pgbench -M prepared plans once; and the client's own CPU (JSON, the HTTP \
             re-read, the state machine, logging) takes cores PostgreSQL would otherwise use.",
            c.worker_process_ms.median,
            c.worker_postgres_ms.median,
            c.pgbench_client_ms.median,
            c.pgbench_postgres_ms.median,
            c.worker_postgres_ms.median / c.pgbench_postgres_ms.median.max(f64::MIN_POSITIVE),
        );
    } else {
        let _ = write!(
            why,
            " The {statements} statements are sent in one round trip each, but as the unnamed statement, parsed and \
             planned every time, where pgbench -M prepared plans once."
        );
    }
    why.push_str(
        " Tried: the order is read once per event and the inbox, order, timeline and outbox rows are written by one \
         statement with data-modifying CTEs (7 statements in 2 transactions, from 21 in 5); the simulator's charge \
         lookup copies only the matching charges. Left as designed: statements by name (DSQL keeps none), and applying \
         the webhook body without re-reading the session (a forged or replayed body must never pay an order).",
    );
    why
}

/// The arm64 zip sizes measured separately, when their file is there: `(source, [(function, bytes)])`.
/// Each line that names a function and a size (`1234567` bytes, or `1.23 MB`/`MiB`/`KB`) counts
/// (`backroom_bench::report::parse_arm64_sizes`).
fn read_arm64_sizes() -> Option<(String, Vec<(String, u64)>)> {
    let path = std::env::var("BENCH_ARM64_SIZES").unwrap_or_else(|_| "bench/arm64-sizes.txt".into());
    let text = std::fs::read_to_string(&path).ok()?;
    let sizes = backroom_bench::report::parse_arm64_sizes(&text, &FUNCTIONS);
    (!sizes.is_empty()).then(|| (format!("measured separately, from {path}"), sizes))
}

/// The release build's time, as scripts/bench recorded it in target/bench/release-build.json.
fn read_build_time(target: &Path) -> Option<Build> {
    let text = std::fs::read_to_string(target.join("bench/release-build.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    Some(Build {
        seconds: v["seconds"].as_f64()?,
        command: v["command"].as_str()?.to_string(),
        note: v["note"].as_str().unwrap_or_default().to_string(),
    })
}

/// The flash-sale test's figures, as scripts/bench had it write them to
/// target/bench/flash-sale.json (`BACKROOM_FLASH_REPORT`).
fn read_flash_sale(target: &Path) -> Option<FlashSale> {
    let text = std::fs::read_to_string(target.join("bench/flash-sale.json")).ok()?;
    match serde_json::from_str(&text) {
        Ok(f) => Some(f),
        Err(e) => {
            say(&format!(
                "target/bench/flash-sale.json is not the flash-sale test's report: {e}"
            ));
            None
        }
    }
}

/// A test's figures that scripts/bench had it write to target/bench/<file>, when it ran.
fn read_test_report<T: serde::de::DeserializeOwned>(target: &Path, file: &str, test: &str) -> Option<T> {
    let text = std::fs::read_to_string(target.join("bench").join(file)).ok()?;
    match serde_json::from_str(&text) {
        Ok(f) => Some(f),
        Err(e) => {
            say(&format!("target/bench/{file} is not what {test} writes: {e}"));
            None
        }
    }
}

/// The database's cost of a paid order's event: within 8 statements and 3 transactions.
fn per_event_target(p: Option<&PerEvent>) -> Target {
    let name = "Worker statements per paid event".to_string();
    let goal = "≤ 8 statements, ≤ 3 transactions".to_string();
    let Some(paid) = p.and_then(|p| p.kinds.get("paid")) else {
        return Target {
            name,
            goal,
            figure: "not measured".into(),
            met: None,
            why: Some(
                "the lean test did not write its figures (it failed, or scripts/bench was not used): run \
                 `cargo test -p backroom-app --test lean -- --nocapture`"
                    .into(),
            ),
        };
    };
    let met = paid.statements <= 8 && paid.transactions <= 3;
    Target {
        name,
        goal,
        figure: format!(
            "{} statements, {} transactions (see the database cost per event)",
            paid.statements, paid.transactions
        ),
        met: Some(met),
        why: (!met).then(|| "see the database cost per event section".to_string()),
    }
}

/// The flash-sale target: every run sold each unit once and answered everybody else 409, or
/// 429/503 with Retry-After, never another 5xx.
fn flash_sale_target(f: Option<&FlashSale>) -> Target {
    let name = "Flash sale (1,000 buyers, 25 units)".to_string();
    let goal = "each unit paid and at Printful once; the others 409 sold out or 503 + Retry-After; no 5xx; on \
                PostgreSQL and DSQL-like"
        .to_string();
    let Some(f) = f.filter(|f| !f.runs.is_empty()) else {
        return Target {
            name,
            goal,
            figure: "-".into(),
            met: None,
            why: Some(
                "the flash-sale test did not write its figures (it failed, or scripts/bench was not used): run \
                 `cargo test -p backroom-cli --test flash_sale -- --nocapture`"
                    .into(),
            ),
        };
    };
    let figure = f
        .runs
        .iter()
        .map(|r| {
            format!(
                "{}: {} paid, {} × 409, {} × 429/503, {} × 5xx, p99 {:.0} ms, {} retries",
                r.label(),
                r.paid,
                backroom_bench::report::thousands(r.sold_out_409 as f64),
                r.come_back_429_503,
                r.server_errors_5xx,
                r.p99_ms,
                r.db_retries_during_sale
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let missed: Vec<&str> = f.runs.iter().filter(|r| !r.held()).map(|r| r.label()).collect();
    Target {
        name,
        goal,
        figure,
        met: Some(missed.is_empty()),
        why: (!missed.is_empty()).then(|| format!("not held in: {} (see the flash sale section)", missed.join(", "))),
    }
}

fn method(plan: &Plan) -> Vec<String> {
    let mut m = vec![];
    if plan.quick {
        m.push("**Quick run** (`--quick`): iteration counts are smoke-test sized; do not quote these figures.".into());
    }
    m.extend([
        format!(
            "Cold start: each function's release binary (`cargo build --release --locked`, the workspace's release profile: fat LTO, codegen-units 1, \
             dependencies mostly at opt-level s, stripped) is spawned {} times as a fresh process with the Lambda environment of a 128 MB provided.al2023 \
             function and its own configuration (secrets as values, so no SSM call), under the in-repo Lambda Runtime API \
             server (crates/backroom-bench/src/runtime_api.rs) with its first event already queued. Cold start = spawn to \
             the first `POST .../response`; Init = spawn to the first `GET .../next`; peak RSS = VmHWM from \
             /proc/<pid>/status right after the answer. Median [min-max] of the runs. A wrong answer stops the benchmark.",
            plan.cold_runs
        ),
        "Minimal Rust peer: bench/peers/stripe-webhook-rust (binary `stripe-webhook-minimal`), stripe-webhook's job and \
         nothing else: lambda_http, the `Stripe-Signature` check (HMAC-SHA256, 300 s tolerance) on the raw body, one \
         `SendMessage` with an SQS client built as backroom's (the ambient configuration with the SDK's hyper client on rustls and ring, the workspace's features), \
         the secret from an environment variable. Built in the same `cargo build --release` as the seven, started the \
         same way, after each run of stripe-webhook and its Node.js peer, with the same event and queue."
            .into(),
        "The functions run against real parts: PostgreSQL 15 from backroom-testkit (a private cluster on a unix socket, \
         fsync off, migrated database per shop), SQS on ministack (AWS_ENDPOINT_URL), and the Stripe and Printful \
         simulators of backroom-sim on loopback. The scheduled jobs run against a second, quiet shop (nothing to catch up \
         or repair), which is what most of their runs see."
            .into(),
        format!(
            "Node.js peer: bench/peers/stripe-webhook-node/bootstrap, a provided.al2023-style custom runtime in Node.js \
             (the official `stripe` package's `webhooks.constructEvent` on the raw body, `@aws-sdk/client-sqs` \
             `SendMessage` to the same queue), run by the same server with the same event. Warm: {} rounds, each a fresh \
             instance of each runtime (alternating), {} warm-up invocations, then {} timed invocations, each from the \
             event's hand-over at `GET /next` to its `POST /response` (Lambda's Duration). p50/p99 by nearest rank per \
             round; median [min-max] over rounds. After each round the queue must hold exactly one message per webhook.",
            plan.warm_rounds, plan.warm_up, plan.warm_invocations
        ),
        "Size: the stripped x86_64 release binary, and a zip of it named `bootstrap` made with `zip -9 -X` (the minimal \
         Rust peer's too). The arm64 zips are read from bench/arm64-sizes.txt (`cargo lambda build --release --arm64`), \
         measured apart from this run; the zip target is judged on them."
            .into(),
        "Cost: backroom_core::cost::estimate over `Workload::typical` with the measured durations (see the cost section)."
            .into(),
    ]);
    m
}

fn targets(r: &Report) -> Vec<Target> {
    let mut t = vec![
        backroom_bench::report::cold_vs_node_target(&r.cold_starts, &FUNCTIONS),
        backroom_bench::report::webhook_vs_minimal_target(&r.cold_starts),
    ];
    let warm = |runtime: &str| r.warm.iter().find(|w| w.runtime == runtime);
    if let (Some(rust), Some(node)) = (warm("rust"), warm("node")) {
        let ratio = rust.p99_ms.median / node.p99_ms.median;
        t.push(Target {
            name: "Warm p99 vs the Node.js peer (stripe-webhook)".into(),
            goal: "≤ 1/2 of Node's".into(),
            figure: format!(
                "{:.2} ms vs {:.2} ms: {:.0}%",
                rust.p99_ms.median,
                node.p99_ms.median,
                ratio * 100.0
            ),
            met: Some(ratio <= 0.5),
            why: (ratio > 0.5).then(|| {
                format!(
                    "Both invocations are dominated by the SendMessage round trip to ministack, a Python emulator \
                     (Rust p50 {:.2} ms, Node p50 {:.2} ms); the signature check itself takes tens of microseconds \
                     (crates/backroom-app/benches/paths.rs).",
                    rust.p50_ms.median, node.p50_ms.median
                )
            }),
        });
    }
    t.push(backroom_bench::report::arm64_zip_target(
        &r.sizes,
        &FUNCTIONS,
        r.arm64_source.as_deref(),
    ));
    let rust_cold: Vec<&ColdStart> = r.cold_starts.iter().filter(|c| c.runtime == "rust").collect();
    if let Some(top) = rust_cold
        .iter()
        .max_by(|a, b| a.peak_rss_mb.max.total_cmp(&b.peak_rss_mb.max))
    {
        let warm_rss = warm("rust").map(|w| w.peak_rss_mb.max).unwrap_or(0.0);
        let worst = top.peak_rss_mb.max.max(warm_rss);
        let met = worst <= 32.0;
        t.push(Target {
            name: "Peak RSS (Rust functions)".into(),
            goal: "≤ 32 MB".into(),
            figure: format!(
                "largest {:.1} MB ({}, after its first invocation); stripe-webhook after {} warm invocations {:.1} MB",
                top.peak_rss_mb.max,
                top.function,
                warm("rust")
                    .map(|w| w.invocations_per_round + w.warm_up_per_round)
                    .unwrap_or(0),
                warm_rss
            ),
            met: Some(met),
            why: (!met).then(|| "see the cold start table for each function's peak".to_string()),
        });
    }
    t.push(per_event_target(r.per_event.as_ref()));
    if let Some(w) = &r.worker {
        let met = w.ratio >= 0.6 && w.ratio_extended.is_some_and(|x| x >= 0.6);
        let extended = match (&w.pgbench_extended_tps, w.ratio_extended) {
            (Some(x), Some(ratio)) => format!("; vs {} with `-M extended`: {:.0}%", range(x, 0), ratio * 100.0),
            _ => "; `-M extended` not measured".into(),
        };
        t.push(Target {
            name: "Worker throughput vs pgbench".into(),
            goal: "≥ 60% of pgbench (`-M prepared` and `-M extended`)".into(),
            figure: format!(
                "{} vs {} events/s with `-M prepared`: {:.0}%{extended}",
                range(&w.worker_events_per_second, 0),
                range(&w.pgbench_tps, 0),
                w.ratio * 100.0
            ),
            met: Some(met),
            why: (!met).then(|| worker_why(w)),
        });
    }
    t.push(flash_sale_target(r.flash_sale.as_ref()));
    if let Some(cost) = &r.cost {
        let at = |orders: u64| cost.estimates.iter().find(|c| c.estimate.orders == orders);
        if let Some(idle) = at(0) {
            let met = idle.estimate.total_usd == 0.0;
            t.push(Target {
                name: "Idle cost".into(),
                goal: "$0.00 a month".into(),
                figure: format!(
                    "${:.2} (list price without free tiers ${:.2})",
                    idle.estimate.total_usd, idle.estimate.total_list_usd
                ),
                met: Some(met),
                why: (!met).then(|| paid_lines(&idle.estimate)),
            });
        }
        if let Some(k) = at(1_000) {
            // Shown to the cent, as the docs and the digest show it.
            let met = (k.estimate.total_usd * 100.0).round() == 0.0;
            t.push(Target {
                name: "Cost per 1,000 orders".into(),
                goal: "$0.00 a month".into(),
                figure: format!("${:.4} a month at 1,000 orders", k.estimate.total_usd),
                met: Some(met),
                why: (!met).then(|| cost_why(&k.estimate)),
            });
        }
        if let Some(k) = at(10_000) {
            let met = k.estimate.total_usd <= 1.0;
            t.push(Target {
                name: "Cost per 10,000 orders".into(),
                goal: "≤ $1.00".into(),
                figure: format!("${:.4} a month at 10,000 orders", k.estimate.total_usd),
                met: Some(met),
                why: (!met).then(|| cost_why(&k.estimate)),
            });
        }
    }
    t
}

/// Why a month costs more than its target: the lines that are paid.
fn cost_why(e: &backroom_core::cost::Estimate) -> String {
    format!(
        "{}. These lines have no permanent free tier or have used theirs up; the first free tier to run out as \
         orders grow is Lambda requests (1M), at about 24,800 orders a month.",
        paid_lines(e)
    )
}

fn paid_lines(e: &backroom_core::cost::Estimate) -> String {
    let lines: Vec<String> = e
        .lines
        .iter()
        .filter(|l| l.usd > 0.0)
        .map(|l| {
            format!(
                "{} ${:.4} ({} {}s)",
                l.line,
                l.usd,
                backroom_bench::report::thousands(l.quantity),
                l.unit
            )
        })
        .collect();
    format!("paid lines: {}", lines.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flash_sale_figures_are_read_from_the_target_dir_and_judged_per_run() {
        let target = std::env::temp_dir().join(format!("backroom-bench-flash-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(target.join("bench")).unwrap();
        let missing = flash_sale_target(read_flash_sale(&target).as_ref());
        assert_eq!(missing.met, None);
        assert!(missing.why.unwrap().contains("--test flash_sale"));

        // As crates/backroom-cli/tests/flash_sale.rs writes it.
        let run = |isolation: &str, come_back: u64, errors: u64| {
            serde_json::json!({"isolation": isolation, "buyers": 1000, "units": 25, "in_flight": 64, "window_seconds": 10.0,
                "created": 25, "paid": 25, "at_printful": 25, "sold_out_409": 975 - come_back - errors,
                "come_back_429_503": come_back, "server_errors_5xx": errors, "other_answers": 0, "p50_ms": 5.3,
                "p99_ms": 234.7, "max_ms": 582.8, "db_retries_during_sale": 106, "db_gave_up_during_sale": come_back,
                "db_retries": 106, "db_gave_up": come_back, "db_commits": 250, "sale_seconds": 10.0,
                "settle_seconds": 1.2, "run_seconds": 13.2})
        };
        let write = |runs: Vec<Value>| {
            let report = serde_json::json!({"test": "crates/backroom-cli/tests/flash_sale.rs", "profile": "debug",
                "runs": runs, "test_seconds": 27.4});
            std::fs::write(target.join("bench/flash-sale.json"), report.to_string()).unwrap();
            flash_sale_target(read_flash_sale(&target).as_ref())
        };
        let held = write(vec![run("repeatable_read", 0, 0), run("serializable", 4, 0)]);
        assert_eq!(held.met, Some(true), "{held:?}");
        assert!(
            held.figure.contains(
                "DSQL-like (SERIALIZABLE): 25 paid, 971 × 409, 4 × 429/503, 0 × 5xx, p99 235 ms, 106 retries"
            ),
            "{}",
            held.figure
        );
        let broken = write(vec![run("repeatable_read", 0, 0), run("serializable", 0, 2)]);
        assert_eq!(broken.met, Some(false));
        assert!(broken.why.unwrap().contains("DSQL-like (SERIALIZABLE)"));
        std::fs::remove_dir_all(&target).unwrap();
    }

    #[test]
    fn answers_are_checked_per_kind_of_function() {
        assert!(check_answer("stripe-webhook", br#"{"statusCode":200,"body":"{}"}"#).is_ok());
        assert!(check_answer("stripe-webhook", br#"{"statusCode":400}"#).is_err());
        assert!(check_answer("event-worker", br#"{"batchItemFailures":[]}"#).is_ok());
        assert!(check_answer("event-worker", br#"{"batchItemFailures":[{"itemIdentifier":"a"}]}"#).is_err());
        assert!(check_answer("reconciler", br#"{"discrepancies":[]}"#).is_ok());
        assert!(check_answer("reconciler", b"oops").is_err());
    }
}
