//! The benchmark's report: one structure, written as bench/report.json and as the Markdown of
//! bench/report.md (and of the README's Performance section).

use std::fmt::Write as _;
use std::path::Path;

use backroom_core::cost::{Estimate, Workload};
use serde::{Deserialize, Serialize};

use crate::stats::Summary;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub commit: Option<String>,
    pub command: String,
    /// Wall time of the whole run, release build excluded.
    pub run_seconds: f64,
    pub machine: Machine,
    pub cold_starts: Vec<ColdStart>,
    pub warm: Vec<Warm>,
    pub worker: Option<WorkerThroughput>,
    pub sizes: Vec<Size>,
    /// Where the arm64 zip sizes came from, when they were available.
    pub arm64_source: Option<String>,
    pub build: Option<Build>,
    pub cost: Option<Cost>,
    /// The flash-sale test's figures, when scripts/bench could run it.
    pub flash_sale: Option<FlashSale>,
    /// The database's cost of each event kind, from crates/backroom-app/tests/lean.rs.
    pub per_event: Option<PerEvent>,
    /// What one purchase asks of the public routes, from the browser test.
    pub front_door: Option<FrontDoor>,
    pub targets: Vec<Target>,
    /// How the figures were measured, one paragraph each.
    pub method: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub memory_mb: Option<u64>,
    pub load_average_at_start: Option<String>,
    pub rustc: Option<String>,
    pub node: Option<String>,
    pub postgres: Option<String>,
}

/// Cold starts of one function: each run a fresh process.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    pub function: String,
    /// `rust`, or a peer's: `node` ([`NODE_PEER`]) or `rust-minimal` ([`MINIMAL_PEER`]).
    pub runtime: String,
    /// The first event it was given.
    pub event: String,
    /// Process spawn → first invocation answered.
    pub total_ms: Summary,
    /// Process spawn → first `GET /next` (Lambda's "Init Duration").
    pub init_ms: Summary,
    /// First event handed over → answered (the cold invocation's "Duration").
    pub first_invoke_ms: Summary,
    /// VmHWM right after the first answer.
    pub peak_rss_mb: Summary,
}

/// Warm invocations: rounds of `invocations_per_round`, each round in a fresh process after a
/// warm-up; p50/p99 are per round, summarised over the rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Warm {
    pub function: String,
    pub runtime: String,
    pub path: String,
    pub rounds: usize,
    pub invocations_per_round: usize,
    pub warm_up_per_round: usize,
    pub p50_ms: Summary,
    pub p99_ms: Summary,
    pub mean_ms: Summary,
    /// VmHWM after the round.
    pub peak_rss_mb: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerThroughput {
    pub events_per_run: usize,
    pub clients: usize,
    pub worker_events_per_second: Summary,
    /// pgbench `-M prepared`: each statement parsed and planned once per connection.
    pub pgbench_tps: Summary,
    /// Median worker rate / median pgbench (`-M prepared`) rate.
    pub ratio: f64,
    /// pgbench `-M extended`: the unnamed statement, parsed and planned every time, as the
    /// worker sends its statements (Aurora DSQL keeps no statement names).
    pub pgbench_extended_tps: Option<Summary>,
    pub ratio_extended: Option<f64>,
    /// Mean time of the worker's re-read of a Checkout Session from the Stripe simulator, ms
    /// (sequential calls on one client): a part of each event that pgbench does not replay.
    pub stripe_reread_ms: Option<f64>,
    pub pgbench_command: String,
    pub pgbench_script: String,
    pub how: String,
    /// Where the CPU went, when `/proc` could say.
    pub cpu: Option<WorkerCpu>,
}

/// CPU milliseconds per event (worker runs) and per transaction (pgbench runs), over the runs.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerCpu {
    /// The benchmark process during a worker run: the worker and the in-process Stripe
    /// simulator answering its re-reads.
    pub worker_process_ms: Summary,
    /// Every PostgreSQL process during a worker run.
    pub worker_postgres_ms: Summary,
    /// pgbench itself.
    pub pgbench_client_ms: Summary,
    /// Every PostgreSQL process during a pgbench run.
    pub pgbench_postgres_ms: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Size {
    pub function: String,
    pub binary_bytes: u64,
    pub zip_bytes: u64,
    pub arm64_zip_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Build {
    pub seconds: f64,
    pub command: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub estimates: Vec<CostCase>,
    pub assumptions: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostCase {
    pub workload: Workload,
    pub estimate: Estimate,
}

/// Statements (BEGIN and COMMIT included) and transactions one provider event costs the
/// database, by kind, as crates/backroom-app/tests/lean.rs counts them for the task that
/// processes the event and writes them to `BACKROOM_LEAN_REPORT`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PerEvent {
    pub kinds: std::collections::BTreeMap<String, EventCost>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct EventCost {
    pub statements: u64,
    pub transactions: u64,
    #[serde(default)]
    pub retries: u64,
}

impl PerEvent {
    /// The kinds in the order an order lives them, then any others.
    pub const ORDER: [(&'static str, &'static str); 7] = [
        (
            "paid",
            "paid (`checkout.session.completed`, fulfillment paused: the benchmark's event)",
        ),
        ("duplicate", "the same event delivered again"),
        (
            "paid_and_submitted",
            "paid, and submitted to Printful (its create and confirm calls)",
        ),
        ("submitted", "submitted (Printful's `order_created`)"),
        ("in_production", "in production (Printful's `order_updated`)"),
        ("shipped", "shipped (Printful's `package_shipped`)"),
        ("refunded", "refunded after shipping (`charge.refunded`)"),
    ];
}

/// What crates/backroom-cli/tests/browser.rs writes to `BACKROOM_BROWSER_REPORT`: the requests
/// the public routes had during one purchase in a real browser, from the storefront's first page
/// to the shipped order on the success page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrontDoor {
    pub requests: std::collections::BTreeMap<String, u64>,
    pub storefront_per_purchase: u64,
    pub webhooks_per_purchase: u64,
    pub seconds_on_success_page: f64,
}

/// What crates/backroom-cli/tests/flash_sale.rs writes to `BACKROOM_FLASH_REPORT`: one sale
/// per isolation level of `backroom dev`'s database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlashSale {
    pub test: String,
    /// The build the test ran in: `debug` (as in scripts/test) or `release`.
    pub profile: String,
    pub runs: Vec<FlashSaleRun>,
    pub test_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlashSaleRun {
    /// `repeatable_read` (PostgreSQL as backroom runs it) or `serializable` (conflicts abort at
    /// COMMIT with 40001, as on Aurora DSQL).
    pub isolation: String,
    pub buyers: usize,
    pub units: usize,
    pub in_flight: usize,
    pub window_seconds: f64,
    pub created: usize,
    pub paid: usize,
    pub at_printful: usize,
    pub sold_out_409: usize,
    pub come_back_429_503: usize,
    pub server_errors_5xx: usize,
    pub other_answers: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub db_retries_during_sale: u64,
    pub db_gave_up_during_sale: u64,
    pub db_retries: u64,
    pub db_gave_up: u64,
    pub sale_seconds: f64,
    pub settle_seconds: f64,
    pub run_seconds: f64,
}

impl FlashSaleRun {
    /// `DSQL-like (SERIALIZABLE)` or `PostgreSQL (REPEATABLE READ)`.
    pub fn label(&self) -> &'static str {
        if self.isolation == "serializable" {
            "DSQL-like (SERIALIZABLE)"
        } else {
            "PostgreSQL (REPEATABLE READ)"
        }
    }

    /// Every unit sold and paid once, at Printful once, and every other buyer told sold out or
    /// to come back: nothing else, no 5xx.
    pub fn held(&self) -> bool {
        self.paid == self.units
            && self.at_printful == self.units
            && self.server_errors_5xx == 0
            && self.other_answers == 0
            && self.created + self.sold_out_409 + self.come_back_429_503 == self.buyers
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub goal: String,
    pub figure: String,
    /// `None` when it could not be measured in this run.
    pub met: Option<bool>,
    /// For a miss (or an unmeasured target): why.
    pub why: Option<String>,
}

/// The markers around the README's Performance table.
pub const README_BEGIN: &str = "<!-- bench:targets begin (written by scripts/bench) -->";
pub const README_END: &str = "<!-- bench:targets end -->";

/// `text` with what lies between `begin` and `end` (both kept) replaced by `inner`.
pub fn replace_between(text: &str, begin: &str, end: &str, inner: &str) -> Option<String> {
    let start = text.find(begin)? + begin.len();
    let stop = start + text[start..].find(end)?;
    Some(format!("{}\n{}\n{}", &text[..start], inner.trim_end(), &text[stop..]))
}

impl Report {
    /// Writes `report.json` and `report.md` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json + "\n")?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        Ok(())
    }

    /// The README's Performance table: everything between its two `bench:targets` markers is
    /// replaced by this run's targets table, so the README always shows the report's own table.
    /// A README without the markers is an error, not a silent skip.
    pub fn update_readme(&self, readme: &Path) -> std::io::Result<()> {
        let text = std::fs::read_to_string(readme)?;
        let section = format!(
            "Run {}{}, {} CPUs ({}).\n\n{}",
            self.generated_at,
            self.commit
                .as_deref()
                .map(|c| format!(" at commit {c}"))
                .unwrap_or_default(),
            self.machine.nproc,
            self.machine.cpu_model,
            self.targets_table()
        );
        let updated = replace_between(&text, README_BEGIN, README_END, &section).ok_or_else(|| {
            std::io::Error::other(format!(
                "{} has no {README_BEGIN} … {README_END} section",
                readme.display()
            ))
        })?;
        std::fs::write(readme, updated)
    }

    /// The whole report as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(md, "# backroom benchmark report\n");
        let _ = writeln!(
            md,
            "Generated {} by `{}`{} in {:.0} s (release build excluded).\n",
            self.generated_at,
            self.command,
            self.commit
                .as_deref()
                .map(|c| format!(" at commit {c}"))
                .unwrap_or_default(),
            self.run_seconds
        );
        let _ = writeln!(
            md,
            "Machine: {} CPUs (`nproc`), {}, kernel {}{}{}. {}{}{}\n",
            m.nproc,
            m.cpu_model,
            m.kernel,
            m.memory_mb
                .map(|mb| format!(", {} MB RAM", thousands(mb as f64)))
                .unwrap_or_default(),
            m.load_average_at_start
                .as_deref()
                .map(|l| format!(", load average at start {l}"))
                .unwrap_or_default(),
            m.rustc.as_deref().map(|v| format!("{v}; ")).unwrap_or_default(),
            m.node.as_deref().map(|v| format!("Node.js {v}; ")).unwrap_or_default(),
            m.postgres.as_deref().unwrap_or_default(),
        );
        md.push_str("## Targets\n\n");
        md.push_str(&self.targets_table());
        md.push('\n');
        for t in self.targets.iter().filter(|t| t.met != Some(true)) {
            if let Some(why) = &t.why {
                let _ = writeln!(md, "- **{}** ({}): {}", t.name, verdict(t.met), why);
            }
        }
        md.push('\n');

        if !self.cold_starts.is_empty() {
            md.push_str("## Cold start\n\nProcess spawn to first invocation answered, under the in-repo Lambda Runtime API; median [min-max] of the runs. Init = spawn to the first `GET /next`. Runtime `node` is the Node.js peer (bench/peers/stripe-webhook-node), `rust-minimal` the minimal Rust function of the same job (bench/peers/stripe-webhook-rust), both sent the same event as stripe-webhook.\n\n");
            md.push_str("| Function | Runtime | First event | Runs | Cold start ms | Init ms | First invoke ms | Peak RSS MB |\n|---|---|---|---|---|---|---|---|\n");
            for c in &self.cold_starts {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    c.function,
                    c.runtime,
                    c.event,
                    c.total_ms.runs,
                    range(&c.total_ms, 1),
                    range(&c.init_ms, 1),
                    range(&c.first_invoke_ms, 1),
                    range(&c.peak_rss_mb, 1)
                );
            }
            md.push('\n');
        }
        if !self.warm.is_empty() {
            md.push_str("## Warm webhook path\n\n");
            md.push_str("| Function | Runtime | Path | Rounds × invocations | p50 ms | p99 ms | mean ms | Peak RSS after, MB |\n|---|---|---|---|---|---|---|---|\n");
            for w in &self.warm {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} × {} (+{} warm-up) | {} | {} | {} | {} |",
                    w.function,
                    w.runtime,
                    w.path,
                    w.rounds,
                    thousands(w.invocations_per_round as f64),
                    w.warm_up_per_round,
                    range(&w.p50_ms, 2),
                    range(&w.p99_ms, 2),
                    range(&w.mean_ms, 2),
                    range(&w.peak_rss_mb, 1)
                );
            }
            md.push('\n');
        }
        if let Some(w) = &self.worker {
            md.push_str("## Worker throughput\n\n");
            let _ = writeln!(
                md,
                "| Measure | Events/s, median [min-max] |\n|---|---|\n| backroom worker, {} clients, {} events a run | {} |\n| pgbench `-M prepared`, same statements, {} clients | {} |\n| ratio (median / median) | {:.0}% |",
                w.clients,
                thousands(w.events_per_run as f64),
                range(&w.worker_events_per_second, 0),
                w.clients,
                range(&w.pgbench_tps, 0),
                w.ratio * 100.0
            );
            if let (Some(x), Some(r)) = (&w.pgbench_extended_tps, w.ratio_extended) {
                let _ = writeln!(
                    md,
                    "| pgbench `-M extended`, same statements, {} clients | {} |\n| ratio (median / median) | {:.0}% |",
                    w.clients,
                    range(x, 0),
                    r * 100.0
                );
            }
            md.push('\n');
            if let Some(c) = &w.cpu {
                let _ = writeln!(
                    md,
                    "CPU per event (worker) or transaction (pgbench), ms, median [min-max] of the runs, from `/proc`:\n\n\
                     | Run | Client process | PostgreSQL | Together |\n|---|---|---|---|\n\
                     | backroom worker (+ the in-process Stripe simulator) | {} | {} | {:.2} |\n\
                     | pgbench | {} | {} | {:.2} |\n",
                    range(&c.worker_process_ms, 2),
                    range(&c.worker_postgres_ms, 2),
                    c.worker_process_ms.median + c.worker_postgres_ms.median,
                    range(&c.pgbench_client_ms, 2),
                    range(&c.pgbench_postgres_ms, 2),
                    c.pgbench_client_ms.median + c.pgbench_postgres_ms.median,
                );
            }
            let _ = writeln!(
                md,
                "{}\n\npgbench: `{}`; script:\n\n```sql\n{}```\n",
                w.how, w.pgbench_command, w.pgbench_script
            );
        }
        if !self.sizes.is_empty() {
            md.push_str("## Size\n\n");
            let arm = self.arm64_source.is_some();
            md.push_str("| Function | Binary (x86_64, stripped) | Zip (`bootstrap`, zip -9) |");
            if arm {
                md.push_str(" arm64 zip |");
            }
            md.push_str("\n|---|---|---|");
            if arm {
                md.push_str("---|");
            }
            md.push('\n');
            for s in &self.sizes {
                let _ = write!(md, "| {} | {} | {} |", s.function, mb(s.binary_bytes), mb(s.zip_bytes));
                if arm {
                    let _ = write!(md, " {} |", s.arm64_zip_bytes.map(mb).unwrap_or_else(|| "-".into()));
                }
                md.push('\n');
            }
            if let Some(source) = &self.arm64_source {
                let _ = writeln!(md, "\narm64 zips: {source}.");
            }
            if let Some(b) = &self.build {
                let _ = writeln!(md, "\nRelease build: {:.0} s (`{}`). {}", b.seconds, b.command, b.note);
            }
            md.push('\n');
        }
        if let Some(cost) = &self.cost {
            md.push_str("## Monthly AWS cost (backroom_core::cost)\n\n| Orders a month | After free tiers | At list price | Paid lines |\n|---|---|---|---|\n");
            for case in &cost.estimates {
                let e = &case.estimate;
                let paid: Vec<String> = e
                    .lines
                    .iter()
                    .filter(|l| l.usd > 0.0)
                    .map(|l| format!("{} ${:.4}", l.line, l.usd))
                    .collect();
                let _ = writeln!(
                    md,
                    "| {} | ${:.4} | ${:.4} | {} |",
                    thousands(e.orders as f64),
                    e.total_usd,
                    e.total_list_usd,
                    if paid.is_empty() {
                        "none".into()
                    } else {
                        paid.join(", ")
                    }
                );
            }
            md.push('\n');
            for a in &cost.assumptions {
                let _ = writeln!(md, "- {a}");
            }
            md.push('\n');
        }
        if let Some(p) = &self.per_event {
            md.push_str(
                "## Database cost per event\n\nStatements (each a round trip; BEGIN and COMMIT included) and transactions \
                 (each a commit, distributed on Aurora DSQL) the worker sends for one provider event, counted by \
                 backroom-db for the task that processes it (`backroom_db::sql::counted`) in \
                 `crates/backroom-app/tests/lean.rs`, against PostgreSQL and both simulators; the paid event is also the \
                 one whose statements PostgreSQL logged for the pgbench script above.\n\n\
                 | Event | Statements | Transactions |\n|---|---|---|\n",
            );
            let known: Vec<&str> = PerEvent::ORDER.iter().map(|(k, _)| *k).collect();
            let rows = PerEvent::ORDER
                .iter()
                .map(|(k, label)| (k.to_string(), label.to_string()))
                .chain(
                    p.kinds
                        .keys()
                        .filter(|k| !known.contains(&k.as_str()))
                        .map(|k| (k.clone(), k.clone())),
                );
            for (kind, label) in rows {
                if let Some(c) = p.kinds.get(&kind) {
                    let _ = writeln!(md, "| {label} | {} | {} |", c.statements, c.transactions);
                }
            }
            md.push('\n');
        }
        if let Some(d) = &self.front_door {
            let _ = writeln!(
                md,
                "## Front door per purchase\n\nOne purchase in headless Chromium against `backroom dev` \
                 (`crates/backroom-cli/tests/browser.rs`): the storefront, the cart, the checkout, the Stripe simulator's pay \
                 page, the success page following the order until it shipped ({:.0} s on that page), counted by route at \
                 the dev server; the webhooks are the simulators' deliveries for that order. {} requests from the browser, {} \
                 webhooks.\n\n| Route | Requests |\n|---|---|",
                d.seconds_on_success_page, d.storefront_per_purchase, d.webhooks_per_purchase
            );
            for (route, n) in &d.requests {
                let _ = writeln!(md, "| `{route}` | {n} |");
            }
            md.push('\n');
        }
        if let Some(f) = &self.flash_sale {
            let _ = writeln!(
                md,
                "## Flash sale\n\n`{}` ({} build, {:.0} s for both runs): `backroom dev` as a process, the Stripe and \
                 Printful simulators in the test; the buyers all `POST /checkout` one unit of the one limited piece at a \
                 steady rate over the window, a bounded number in flight; every created checkout is then paid and its \
                 webhook flows. Latency is each buyer's `POST /checkout`; retries are `Db::with_retry`'s, counted by the \
                 dev server (`GET /admin/api/db`).\n",
                f.test, f.profile, f.test_seconds
            );
            md.push_str(
                "| Database | Buyers (in flight) over | Units | Paid, at Printful once | 409 sold out | 429/503 + Retry-After | 5xx | \
                 p50 ms | p99 ms | max ms | DB retries (given up) in the sale | Run s |\n\
                 |---|---|---|---|---|---|---|---|---|---|---|---|\n",
            );
            for r in &f.runs {
                let _ = writeln!(
                    md,
                    "| {} | {} ({}) over {:.0} s | {} | {}, {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {} ({}) | {:.1} |",
                    r.label(),
                    thousands(r.buyers as f64),
                    r.in_flight,
                    r.window_seconds,
                    r.units,
                    r.paid,
                    r.at_printful,
                    thousands(r.sold_out_409 as f64),
                    r.come_back_429_503,
                    r.server_errors_5xx,
                    r.p50_ms,
                    r.p99_ms,
                    r.max_ms,
                    r.db_retries_during_sale,
                    r.db_gave_up_during_sale,
                    r.run_seconds
                );
            }
            md.push('\n');
        }
        if !self.method.is_empty() {
            md.push_str("## How it was measured\n\n");
            for p in &self.method {
                let _ = writeln!(md, "- {p}");
            }
        }
        md
    }

    /// The targets table alone (also the README's).
    pub fn targets_table(&self) -> String {
        let mut md = String::from("| Target | Goal | Measured | Verdict |\n|---|---|---|---|\n");
        for t in &self.targets {
            let _ = writeln!(md, "| {} | {} | {} | {} |", t.name, t.goal, t.figure, verdict(t.met));
        }
        md
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "missed",
        None => "not measured",
    }
}

/// `12.3 [11.0-15.2]`, or the value alone for a single run.
pub fn range(s: &Summary, decimals: usize) -> String {
    if s.runs <= 1 || s.min == s.max {
        format!("{:.*}", decimals, s.median)
    } else {
        format!(
            "{:.*} [{:.*}-{:.*}]",
            decimals, s.median, decimals, s.min, decimals, s.max
        )
    }
}

/// Megabytes with two decimals (10^6 bytes).
pub fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// 1,234,567 (rounded to an integer).
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// The runtime of the Node.js peer's rows (bench/peers/stripe-webhook-node).
pub const NODE_PEER: &str = "node";
/// The runtime of the minimal Rust peer's rows (bench/peers/stripe-webhook-rust, binary
/// `stripe-webhook-minimal`): the same job as stripe-webhook with nothing else.
pub const MINIMAL_PEER: &str = "rust-minimal";
/// Every function's cold start is at most this fraction of the Node.js peer's.
const COLD_VS_NODE: f64 = 15.0;
/// stripe-webhook's cold start is at most this multiple of the minimal Rust peer's.
const WEBHOOK_VS_MINIMAL: f64 = 1.2;
/// The functions whose arm64 zip must stay within [`WEBHOOK_ZIP_BYTES`]; every other one within
/// [`OTHER_ZIP_BYTES`].
pub const WEBHOOK_FUNCTIONS: [&str; 2] = ["stripe-webhook", "printful-webhook"];
pub const WEBHOOK_ZIP_BYTES: u64 = 4_000_000;
pub const OTHER_ZIP_BYTES: u64 = 6_000_000;

/// What a zip over its limit has been through already, and what is left in it.
const ZIP_TRIED: &str = ". Tried: the webhook functions link only ingest (no database, no provider client); one TLS \
                         stack, with ring as the only crypto provider (aws-lc-rs is not linked); the SDK clients \
                         without their legacy HTTP client; dependencies at opt-level s, fat LTO, stripped \
                         (docs/decisions.md). What is left is mostly async-stripe's generated types and the AWS SDK \
                         clients";

/// A target's verdict from what missed (`over`) and what was not measured: missed, with both and
/// `tried` said; not measured; or met.
fn miss_verdict(over: Option<String>, not_measured: Option<String>, tried: &str) -> (Option<bool>, Option<String>) {
    match (over, not_measured) {
        (Some(over), not_measured) => {
            let mut why = over;
            if let Some(n) = not_measured {
                why = format!("{why}; {n}");
            }
            why.push_str(tried);
            (Some(false), Some(why))
        }
        (None, Some(n)) => (None, Some(n)),
        (None, None) => (Some(true), None),
    }
}

fn unmeasured(name: &str, goal: &str, why: String) -> Target {
    Target {
        name: name.into(),
        goal: goal.into(),
        figure: "-".into(),
        met: None,
        why: Some(why),
    }
}

/// "Cold start vs the Node.js peer": each of `functions` (the Rust builds) against the Node.js
/// stripe-webhook, from the medians of the runs.
pub fn cold_vs_node_target(cold: &[ColdStart], functions: &[&str]) -> Target {
    let name = "Cold start vs the Node.js peer";
    let goal = "≤ 1/15 of the Node.js stripe-webhook's, every function";
    let Some(node) = cold
        .iter()
        .find(|c| c.function == "stripe-webhook" && c.runtime == NODE_PEER)
    else {
        return unmeasured(
            name,
            goal,
            "the Node.js peer (bench/peers/stripe-webhook-node) was not measured in this run".into(),
        );
    };
    let node_ms = node.total_ms.median;
    let mut measured: Vec<(&str, &ColdStart)> = vec![];
    let mut missing: Vec<&str> = vec![];
    for f in functions {
        match cold.iter().find(|c| c.function == *f && c.runtime == "rust") {
            Some(c) => measured.push((f, c)),
            None => missing.push(f),
        }
    }
    let times = |c: &ColdStart| node_ms / c.total_ms.median;
    let Some((slowest, worst)) = measured
        .iter()
        .max_by(|a, b| a.1.total_ms.median.total_cmp(&b.1.total_ms.median))
    else {
        return unmeasured(
            name,
            goal,
            "no Rust function's cold start was measured in this run".into(),
        );
    };
    let figure = format!(
        "Node.js {node_ms:.1} ms; slowest {slowest} {:.1} ms: 1/{:.1}",
        worst.total_ms.median,
        times(worst)
    );
    let over: Vec<String> = measured
        .iter()
        .filter(|(_, c)| times(c) < COLD_VS_NODE)
        .map(|(f, c)| {
            format!(
                "{f} {:.1} ms = 1/{:.1} (init {:.1} ms, first invocation {:.1} ms)",
                c.total_ms.median,
                times(c),
                c.init_ms.median,
                c.first_invoke_ms.median
            )
        })
        .collect();
    let not_run = (!missing.is_empty()).then(|| format!("not measured (not built): {}", missing.join(", ")));
    let over = (!over.is_empty()).then(|| {
        format!(
            "over 1/15 of Node's {node_ms:.1} ms (at most {:.1} ms): {}",
            node_ms / COLD_VS_NODE,
            over.join("; ")
        )
    });
    let (met, why) = miss_verdict(over, not_run, COLD_WHY);
    Target {
        name: name.into(),
        goal: goal.into(),
        figure,
        met,
        why,
    }
}

/// Why the worker and the scheduled functions start slower than the webhook, whose job the
/// Node.js peer does; and what was tried.
const COLD_WHY: &str = ". The Node.js peer's figure is the webhook's job (verify, one SQS send); the slowest Rust \
                        functions do more in their first invocation: the event-worker opens its database connection, \
                        re-reads the session and the fee from Stripe, writes the order and submits it to Printful \
                        (create, then confirm): four HTTP round trips to the simulators and 18 statements in 5 \
                        transactions, in sequence; the reconciler lists Stripe's sessions and webhook endpoints, \
                        Printful's orders and webhook settings and reads the database. Their init (spawn to the first \
                        poll) is about 3 ms, as for the webhook functions. Tried: smaller binaries to load (one crypto provider, dependencies at \
                        opt-level s, fat LTO); not tried: opening the connection or the provider calls in parallel";

/// "stripe-webhook vs a minimal Rust function of the same job": the cold starts' medians of the
/// real function and of bench/peers/stripe-webhook-rust, measured in the same run.
pub fn webhook_vs_minimal_target(cold: &[ColdStart]) -> Target {
    let name = "stripe-webhook vs a minimal Rust function of the same job";
    let goal = "cold start ≤ 1.2× the minimal one's";
    let row = |runtime: &str| {
        cold.iter()
            .find(|c| c.function == "stripe-webhook" && c.runtime == runtime)
    };
    let (real, minimal) = match (row("rust"), row(MINIMAL_PEER)) {
        (Some(real), Some(minimal)) => (real, minimal),
        (None, _) => {
            return unmeasured(
                name,
                goal,
                "stripe-webhook's cold start was not measured in this run".into(),
            );
        }
        (_, None) => {
            return unmeasured(
                name,
                goal,
                "the minimal peer was not measured in this run: build it with `cargo build --release --locked -p \
                 stripe-webhook-minimal` (scripts/bench does)"
                    .into(),
            );
        }
    };
    let ratio = real.total_ms.median / minimal.total_ms.median;
    let met = ratio <= WEBHOOK_VS_MINIMAL;
    Target {
        name: name.into(),
        goal: goal.into(),
        figure: format!(
            "{:.1} ms vs {:.1} ms: {ratio:.2}×",
            real.total_ms.median, minimal.total_ms.median
        ),
        met: Some(met),
        why: (!met).then(|| {
            format!(
                "init (spawn to first poll) {:.1} ms vs {:.1} ms, first invocation {:.1} ms vs {:.1} ms, peak RSS {:.1} MB \
                 vs {:.1} MB; the minimal function reads its secret and queue from the environment, sets up no logging or \
                 metrics and parses nothing but the signature header",
                real.init_ms.median,
                minimal.init_ms.median,
                real.first_invoke_ms.median,
                minimal.first_invoke_ms.median,
                real.peak_rss_mb.median,
                minimal.peak_rss_mb.median
            )
        }),
    }
}

/// The arm64 zip limit of a function.
pub fn arm64_zip_limit(function: &str) -> u64 {
    if WEBHOOK_FUNCTIONS.contains(&function) {
        WEBHOOK_ZIP_BYTES
    } else {
        OTHER_ZIP_BYTES
    }
}

/// "Zip per function (arm64)": each of `functions`' arm64 zip (`cargo lambda build --release
/// --arm64`) against its limit; `source` says where the arm64 sizes were read from.
pub fn arm64_zip_target(sizes: &[Size], functions: &[&str], source: Option<&str>) -> Target {
    let name = "Zip per function (arm64)";
    let goal = "≤ 4 MB stripe-webhook and printful-webhook; ≤ 6 MB each other function";
    let mut measured: Vec<(&str, u64)> = vec![];
    let mut missing: Vec<&str> = vec![];
    for f in functions {
        match sizes.iter().find(|s| s.function == *f).and_then(|s| s.arm64_zip_bytes) {
            Some(bytes) => measured.push((f, bytes)),
            None => missing.push(f),
        }
    }
    if measured.is_empty() {
        return unmeasured(
            name,
            goal,
            match source {
                Some(source) => format!("no arm64 size of a function built in this run ({source})"),
                None => {
                    "no arm64 sizes: bench/arm64-sizes.txt (or BENCH_ARM64_SIZES) is missing or names no function; \
                         write one `<function>: bootstrap <bytes>, zip <bytes>` line per function from `cargo lambda \
                         build --release --arm64 --output-format zip`"
                        .into()
                }
            },
        );
    }
    let largest = |webhook: bool| {
        measured
            .iter()
            .filter(|(f, _)| WEBHOOK_FUNCTIONS.contains(f) == webhook)
            .max_by_key(|(_, b)| *b)
            .map(|(f, b)| format!("{} ({f})", mb(*b)))
    };
    let figure = [("webhooks", largest(true)), ("others", largest(false))]
        .into_iter()
        .filter_map(|(what, l)| l.map(|l| format!("{what} largest {l}")))
        .collect::<Vec<_>>()
        .join("; ");
    let over: Vec<String> = measured
        .iter()
        .filter(|(f, b)| *b > arm64_zip_limit(f))
        .map(|(f, b)| format!("{f} {} (limit {})", mb(*b), mb(arm64_zip_limit(f))))
        .collect();
    let not_read = (!missing.is_empty()).then(|| format!("no arm64 size for: {}", missing.join(", ")));
    let over = (!over.is_empty()).then(|| format!("over: {}", over.join(", ")));
    let (met, why) = miss_verdict(over, not_read, ZIP_TRIED);
    Target {
        name: name.into(),
        goal: goal.into(),
        figure,
        met,
        why,
    }
}

/// The arm64 zip sizes in a file of lines such as `stripe-webhook: bootstrap 13278472, zip
/// 5523851` (bench/arm64-sizes.txt): `(function, bytes)` for each of `functions` a line names with
/// a size. Comment lines (`#`, `//`) and lines naming no function are skipped; a later line for a
/// function replaces an earlier one.
pub fn parse_arm64_sizes(text: &str, functions: &[&str]) -> Vec<(String, u64)> {
    let mut sizes: Vec<(String, u64)> = vec![];
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with("//") {
            continue;
        }
        let Some(function) = functions.iter().find(|f| {
            line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .any(|w| w == **f)
        }) else {
            continue;
        };
        if let Some(bytes) = size_in_line(line, function) {
            sizes.retain(|(f, _)| f != function);
            sizes.push((function.to_string(), bytes));
        }
    }
    sizes
}

/// The zip's size on a line: the first size after "zip" when the line names one, else the first
/// size on the line. A size is a byte count (more than 10,000) or a number with a unit (`MB`,
/// `MiB`, `M`, `KB`, `KiB`, `K`).
pub fn size_in_line(line: &str, function: &str) -> Option<u64> {
    let rest = line.replacen(function, " ", 1);
    let lower = rest.to_ascii_lowercase();
    match lower.find("zip") {
        Some(i) => first_size(&lower[i..]).or_else(|| first_size(&lower)),
        None => first_size(&lower),
    }
}

fn first_size(text: &str) -> Option<u64> {
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '|' | '=' | ':' | '(' | ')' | ';'))
        .filter(|t| !t.is_empty())
        .collect();
    for (i, t) in tokens.iter().enumerate() {
        let number: String = t.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        if number.is_empty() {
            continue;
        }
        let Ok(value) = number.parse::<f64>() else { continue };
        let unit = t[number.len()..].to_string() + tokens.get(i + 1).copied().unwrap_or("");
        let bytes = if unit.starts_with("mib") {
            value * 1_048_576.0
        } else if unit.starts_with("mb") || unit.starts_with('m') {
            value * 1e6
        } else if unit.starts_with("kib") {
            value * 1024.0
        } else if unit.starts_with("kb") || unit.starts_with('k') {
            value * 1e3
        } else if value > 10_000.0 {
            value
        } else {
            continue;
        };
        return Some(bytes as u64);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(values: &[f64]) -> Summary {
        Summary::of(values).unwrap()
    }

    fn sample() -> Report {
        Report {
            generated_at: "2026-11-23T22:00:00Z".into(),
            commit: Some("abc1234".into()),
            command: "./scripts/bench".into(),
            run_seconds: 321.0,
            machine: Machine {
                nproc: 2,
                cpu_model: "Test CPU @ 2.0GHz".into(),
                kernel: "6.1.0-test".into(),
                memory_mb: Some(24_000),
                load_average_at_start: Some("1.50 1.20 1.00".into()),
                rustc: Some("rustc 1.95.0".into()),
                node: Some("v20.20.2".into()),
                postgres: Some("PostgreSQL 15.18".into()),
            },
            cold_starts: vec![ColdStart {
                function: "stripe-webhook".into(),
                runtime: "rust".into(),
                event: "API Gateway v2 POST".into(),
                total_ms: s(&[20.0, 25.0, 30.0]),
                init_ms: s(&[10.0]),
                first_invoke_ms: s(&[5.0, 6.0, 7.0]),
                peak_rss_mb: s(&[12.0, 12.5, 13.0]),
            }],
            warm: vec![Warm {
                function: "stripe-webhook".into(),
                runtime: "node".into(),
                path: "verify + SendMessage".into(),
                rounds: 3,
                invocations_per_round: 1000,
                warm_up_per_round: 50,
                p50_ms: s(&[2.0, 2.5, 3.0]),
                p99_ms: s(&[5.0, 6.0, 7.0]),
                mean_ms: s(&[2.2, 2.6, 3.1]),
                peak_rss_mb: s(&[80.0, 81.0, 82.0]),
            }],
            worker: Some(WorkerThroughput {
                events_per_run: 500,
                clients: 2,
                worker_events_per_second: s(&[300.0, 310.0, 320.0]),
                pgbench_tps: s(&[1000.0]),
                ratio: 0.31,
                pgbench_extended_tps: Some(s(&[700.0])),
                ratio_extended: Some(0.44),
                stripe_reread_ms: Some(1.5),
                pgbench_command: "pgbench -n -f worker.sql".into(),
                pgbench_script: "SELECT 1;\n".into(),
                how: "The worker in process.".into(),
                cpu: Some(WorkerCpu {
                    worker_process_ms: s(&[2.0, 2.5]),
                    worker_postgres_ms: s(&[1.5]),
                    pgbench_client_ms: s(&[0.1]),
                    pgbench_postgres_ms: s(&[1.0]),
                }),
            }),
            sizes: vec![Size {
                function: "stripe-webhook".into(),
                binary_bytes: 9_500_000,
                zip_bytes: 3_900_000,
                arm64_zip_bytes: Some(3_500_000),
            }],
            arm64_source: Some("bench/arm64-sizes.txt".into()),
            build: Some(Build {
                seconds: 900.0,
                command: "cargo build --release".into(),
                note: "warm dependencies".into(),
            }),
            cost: Some(Cost {
                estimates: vec![CostCase {
                    workload: Workload::typical(1_000),
                    estimate: backroom_core::cost::estimate(&Workload::typical(1_000)),
                }],
                assumptions: vec!["x86 durations stand in for arm64".into()],
            }),
            flash_sale: Some(serde_json::from_str(FLASH_SALE_JSON).unwrap()),
            per_event: Some(PerEvent {
                kinds: [(
                    "paid".to_string(),
                    EventCost {
                        statements: 7,
                        transactions: 2,
                        retries: 0,
                    },
                )]
                .into(),
            }),
            front_door: Some(FrontDoor {
                requests: [
                    ("GET /catalog".to_string(), 1),
                    ("POST /webhooks/stripe".to_string(), 2),
                ]
                .into(),
                storefront_per_purchase: 1,
                webhooks_per_purchase: 2,
                seconds_on_success_page: 9.0,
            }),
            targets: vec![
                Target {
                    name: "Zip size".into(),
                    goal: "≤ 5 MB each".into(),
                    figure: "3.90 MB largest".into(),
                    met: Some(true),
                    why: None,
                },
                Target {
                    name: "Worker throughput".into(),
                    goal: "≥ 60% of pgbench".into(),
                    figure: "31%".into(),
                    met: Some(false),
                    why: Some("every event re-reads the session from Stripe".into()),
                },
            ],
            method: vec!["Cold starts: five fresh processes per function.".into()],
        }
    }

    #[test]
    fn the_readme_table_is_replaced_between_its_markers_and_nothing_else_moves() {
        let readme = format!("# Shop\n\n## Performance\n\n{README_BEGIN}\n| old |\n{README_END}\n\n## Layout\n");
        let table = "| Target | Goal |\n|---|---|\n| a | b |\n";
        let updated = replace_between(&readme, README_BEGIN, README_END, table).unwrap();
        assert_eq!(
            updated,
            format!(
                "# Shop\n\n## Performance\n\n{README_BEGIN}\n| Target | Goal |\n|---|---|\n| a | b |\n{README_END}\n\n## Layout\n"
            )
        );
        // Again: the same text, so a second run changes nothing.
        assert_eq!(
            replace_between(&updated, README_BEGIN, README_END, table).unwrap(),
            updated
        );
        assert!(replace_between("no markers", README_BEGIN, README_END, table).is_none());
    }

    /// The shape crates/backroom-cli/tests/flash_sale.rs writes (one run of it, trimmed).
    const FLASH_SALE_JSON: &str = r#"{
      "profile": "debug",
      "runs": [
        {"at_printful": 25, "buyers": 1000, "come_back_429_503": 0, "created": 25, "db_commits": 250, "db_gave_up": 0,
         "db_gave_up_during_sale": 0, "db_retries": 106, "db_retries_during_sale": 106, "in_flight": 64,
         "isolation": "repeatable_read", "max_ms": 582.8, "other_answers": 0, "p50_ms": 5.3, "p99_ms": 234.7, "paid": 25,
         "run_seconds": 13.2, "sale_seconds": 10.0, "server_errors_5xx": 0, "settle_seconds": 1.2, "sold_out_409": 975,
         "units": 25, "window_seconds": 10.0},
        {"at_printful": 25, "buyers": 1000, "come_back_429_503": 3, "created": 25, "db_commits": 250, "db_gave_up": 3,
         "db_gave_up_during_sale": 3, "db_retries": 130, "db_retries_during_sale": 130, "in_flight": 64,
         "isolation": "serializable", "max_ms": 673.8, "other_answers": 0, "p50_ms": 6.5, "p99_ms": 522.4, "paid": 25,
         "run_seconds": 13.5, "sale_seconds": 10.0, "server_errors_5xx": 0, "settle_seconds": 1.7, "sold_out_409": 972,
         "units": 25, "window_seconds": 10.0}
      ],
      "test": "crates/backroom-cli/tests/flash_sale.rs",
      "test_seconds": 27.4
    }"#;

    #[test]
    fn the_markdown_has_every_section_with_its_figures_and_says_why_a_target_was_missed() {
        let md = sample().markdown();
        for needle in [
            "2 CPUs (`nproc`), Test CPU @ 2.0GHz, kernel 6.1.0-test, 24,000 MB RAM",
            "| Zip size | ≤ 5 MB each | 3.90 MB largest | met |",
            "| Worker throughput | ≥ 60% of pgbench | 31% | missed |",
            "- **Worker throughput** (missed): every event re-reads the session from Stripe",
            "| stripe-webhook | rust | API Gateway v2 POST | 3 | 25.0 [20.0-30.0] | 10.0 | 6.0 [5.0-7.0] | 12.5 [12.0-13.0] |",
            "| stripe-webhook | node | verify + SendMessage | 3 × 1,000 (+50 warm-up) | 2.50 [2.00-3.00] | 6.00 [5.00-7.00] |",
            "| backroom worker, 2 clients, 500 events a run | 310 [300-320] |",
            "| ratio (median / median) | 31% |",
            "| backroom worker (+ the in-process Stripe simulator) | 2.25 [2.00-2.50] | 1.50 | 3.75 |",
            "| pgbench | 0.10 | 1.00 | 1.10 |",
            "| stripe-webhook | 9.50 MB | 3.90 MB | 3.50 MB |",
            "arm64 zips: bench/arm64-sizes.txt.",
            "Release build: 900 s",
            "| 1,000 | $",
            "- x86 durations stand in for arm64",
            "## Flash sale",
            "(debug build, 27 s for both runs)",
            "| PostgreSQL (REPEATABLE READ) | 1,000 (64) over 10 s | 25 | 25, 25 | 975 | 0 | 0 | 5.3 | 234.7 | 582.8 | 106 (0) | 13.2 |",
            "| DSQL-like (SERIALIZABLE) | 1,000 (64) over 10 s | 25 | 25, 25 | 972 | 3 | 0 | 6.5 | 522.4 | 673.8 | 130 (3) | 13.5 |",
            "## How it was measured",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in:\n{md}");
        }
        // A met target gets no explanation line.
        assert!(!md.contains("**Zip size**"), "{md}");
    }

    #[test]
    fn the_json_and_markdown_files_are_written_and_the_json_reads_back() {
        let dir = std::env::temp_dir().join(format!("backroom-bench-report-{}", uuid::Uuid::new_v4()));
        let report = sample();
        report.write(&dir).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
        assert_eq!(json["machine"]["nproc"], 2);
        assert_eq!(json["cold_starts"][0]["total_ms"]["median"], 25.0);
        assert_eq!(json["targets"][1]["met"], false);
        assert_eq!(json["cost"]["estimates"][0]["estimate"]["orders"], 1000);
        assert_eq!(json["flash_sale"]["runs"][1]["come_back_429_503"], 3);
        assert_eq!(
            std::fs::read_to_string(dir.join("report.md")).unwrap(),
            report.markdown()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn numbers_are_formatted_for_reading() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(mb(4_990_000), "4.99 MB");
        assert_eq!(range(&s(&[1.0, 2.0, 3.0]), 1), "2.0 [1.0-3.0]");
        assert_eq!(range(&s(&[4.0]), 2), "4.00");
    }
    fn cold(function: &str, runtime: &str, total: f64) -> ColdStart {
        ColdStart {
            function: function.into(),
            runtime: runtime.into(),
            event: "e".into(),
            total_ms: s(&[total]),
            init_ms: s(&[total / 3.0]),
            first_invoke_ms: s(&[total * 2.0 / 3.0]),
            peak_rss_mb: s(&[12.0]),
        }
    }

    #[test]
    fn every_function_is_held_to_a_fifteenth_of_the_node_peers_cold_start() {
        let functions = ["checkout-api", "stripe-webhook", "event-worker"];
        let mut runs = vec![
            cold("stripe-webhook", NODE_PEER, 300.0),
            cold("checkout-api", "rust", 9.0),
            cold("stripe-webhook", "rust", 12.0),
            cold("stripe-webhook", MINIMAL_PEER, 10.0),
            cold("event-worker", "rust", 20.0),
        ];
        let t = cold_vs_node_target(&runs, &functions);
        assert_eq!(t.met, Some(true), "{t:?}");
        assert_eq!(t.figure, "Node.js 300.0 ms; slowest event-worker 20.0 ms: 1/15.0");
        assert_eq!(t.why, None);

        runs[4] = cold("event-worker", "rust", 20.5);
        let t = cold_vs_node_target(&runs, &functions);
        assert_eq!(t.met, Some(false));
        let why = t.why.unwrap();
        assert!(why.contains("event-worker 20.5 ms = 1/14.6"), "{why}");
        assert!(!why.contains("checkout-api"), "{why}");

        // A function that did not run: not measured, unless another already missed.
        let t = cold_vs_node_target(&runs[..4], &functions);
        assert_eq!(t.met, None);
        assert!(t.why.unwrap().contains("event-worker"));
        runs[2] = cold("stripe-webhook", "rust", 25.0);
        let t = cold_vs_node_target(&runs[..4], &functions);
        assert_eq!(t.met, Some(false));
        assert!(t.why.unwrap().contains("not measured (not built): event-worker"));

        let t = cold_vs_node_target(&runs[1..], &functions);
        assert_eq!((t.met, t.figure.as_str()), (None, "-"));
        assert!(t.why.unwrap().contains("Node.js peer"));
    }

    #[test]
    fn the_webhook_is_held_to_one_point_two_times_the_minimal_function() {
        let within = [
            cold("stripe-webhook", "rust", 12.0),
            cold("stripe-webhook", MINIMAL_PEER, 10.0),
        ];
        let t = webhook_vs_minimal_target(&within);
        assert_eq!(t.met, Some(true), "{t:?}");
        assert_eq!(t.figure, "12.0 ms vs 10.0 ms: 1.20×");
        assert_eq!(t.name, "stripe-webhook vs a minimal Rust function of the same job");

        let over = [
            cold("stripe-webhook", "rust", 12.1),
            cold("stripe-webhook", MINIMAL_PEER, 10.0),
        ];
        let t = webhook_vs_minimal_target(&over);
        assert_eq!(t.met, Some(false));
        assert!(t.why.unwrap().contains("init (spawn to first poll) 4.0 ms vs 3.3 ms"));

        // Node's row is not the minimal function.
        let t = webhook_vs_minimal_target(&[
            cold("stripe-webhook", "rust", 12.0),
            cold("stripe-webhook", NODE_PEER, 200.0),
        ]);
        assert_eq!(t.met, None);
        assert!(t.why.unwrap().contains("-p stripe-webhook-minimal"));
        let t = webhook_vs_minimal_target(&within[1..]);
        assert_eq!(t.met, None);
        assert!(t.why.unwrap().contains("stripe-webhook's cold start"));
    }

    #[test]
    fn arm64_zips_are_held_to_four_mb_for_the_webhooks_and_six_for_the_others() {
        let functions = ["checkout-api", "stripe-webhook", "printful-webhook"];
        let size = |function: &str, arm64: Option<u64>| Size {
            function: function.into(),
            binary_bytes: 1,
            zip_bytes: 1,
            arm64_zip_bytes: arm64,
        };
        let mut sizes = vec![
            size("checkout-api", Some(6_000_000)),
            size("stripe-webhook", Some(3_999_999)),
            size("printful-webhook", Some(4_000_000)),
            // The peer's size never counts: it is not one of the functions.
            size("stripe-webhook-minimal", Some(9_000_000)),
        ];
        let t = arm64_zip_target(&sizes, &functions, Some("from bench/arm64-sizes.txt"));
        assert_eq!(t.met, Some(true), "{t:?}");
        assert_eq!(
            t.figure,
            "webhooks largest 4.00 MB (printful-webhook); others largest 6.00 MB (checkout-api)"
        );

        sizes[1] = size("stripe-webhook", Some(5_523_851));
        sizes[0] = size("checkout-api", Some(6_000_001));
        let t = arm64_zip_target(&sizes, &functions, Some("x"));
        assert_eq!(t.met, Some(false));
        let why = t.why.unwrap();
        assert!(
            why.starts_with(
                "over: checkout-api 6.00 MB (limit 6.00 MB), stripe-webhook 5.52 MB (limit 4.00 MB). Tried:"
            ),
            "{why}"
        );

        // Missing figures: not measured, with the reason.
        sizes[0] = size("checkout-api", Some(5_000_000));
        sizes[1] = size("stripe-webhook", None);
        let t = arm64_zip_target(&sizes, &functions, Some("x"));
        assert_eq!(t.met, None);
        assert_eq!(t.why.as_deref(), Some("no arm64 size for: stripe-webhook"));
        let none: Vec<Size> = sizes.iter().map(|s| size(&s.function, None)).collect();
        let t = arm64_zip_target(&none, &functions, None);
        assert_eq!((t.met, t.figure.as_str()), (None, "-"));
        assert!(t.why.unwrap().contains("bench/arm64-sizes.txt"));
    }

    #[test]
    fn arm64_sizes_are_read_from_a_line_per_function() {
        assert_eq!(
            size_in_line("stripe-webhook: bootstrap 7.10 MB, zip 3.21 MB", "stripe-webhook"),
            Some(3_210_000)
        );
        assert_eq!(
            size_in_line("| event-worker | 3456789 |", "event-worker"),
            Some(3_456_789)
        );
        assert_eq!(size_in_line("reconciler zip=2.5MiB", "reconciler"), Some(2_621_440));
        assert_eq!(size_in_line("checkout-api: not built", "checkout-api"), None);
        // The committed file's shape: the zip, not the binary beside it.
        assert_eq!(
            size_in_line("checkout-api: bootstrap 21405856, zip 8272710", "checkout-api"),
            Some(8_272_710)
        );
        // `du -b` over cargo lambda's output: the size comes before the zip's name.
        assert_eq!(
            size_in_line("5523851\ttarget/lambda/stripe-webhook/bootstrap.zip", "stripe-webhook"),
            Some(5_523_851)
        );
        assert_eq!(
            size_in_line("stripe-webhook: zip 3.5 MB (3500000 bytes)", "stripe-webhook"),
            Some(3_500_000)
        );
    }

    #[test]
    fn an_arm64_sizes_file_is_read_tolerantly() {
        let functions = ["stripe-webhook", "printful-webhook", "reconciler"];
        let text = "# the webhooks must stay within 4 MB: stripe-webhook, printful-webhook\n\
                    // stripe-webhook 9 MB in an older build\n\
                    stripe-webhook: bootstrap 13278472, zip 5523851\n\
                    stripe-webhook-minimal: bootstrap 6000000, zip 2500000\n\
                    \n\
                    printful-webhook: not built\n\
                    reconciler: bootstrap 21967232, zip 8460283\n\
                    stripe-webhook: bootstrap 9000000, zip 3900000\n";
        assert_eq!(
            parse_arm64_sizes(text, &functions),
            vec![
                ("reconciler".to_string(), 8_460_283),
                ("stripe-webhook".to_string(), 3_900_000)
            ]
        );
        assert!(parse_arm64_sizes("", &functions).is_empty());
    }
}
