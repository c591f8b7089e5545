//! Worker throughput: paid orders' `checkout.session.completed` events applied by the real
//! worker code, and the machine's limit for the same SQL measured by pgbench.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use backroom_app::Config;
use backroom_app::queue::LocalQueue;
use backroom_app::worker::Worker;
use backroom_bench::pgbench;
use backroom_core::ports::{EventQueue, QueueMessage};
use backroom_testkit::shared_cluster;

use crate::fixture::{Shop1, shop_env};

/// The worker as the event-worker function builds it, with fulfillment paused so that an event
/// ends in the database (the Printful submission is a separate step with its own rate limit).
pub async fn worker(shop: &Shop1, connections: usize) -> anyhow::Result<Worker> {
    let mut vars: HashMap<String, String> = shop_env(shop).into_iter().collect();
    vars.insert("FULFILLMENT_PAUSED".into(), "true".into());
    let config = Config::from_vars(&vars)?;
    backroom_app::wiring::Services::new(config, backroom_app::wiring::Tuning::local(connections))?
        .worker()
        .await
}

pub async fn seed(shop: &Shop1, n: usize) -> anyhow::Result<Vec<QueueMessage>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(shop.paid_order().await?);
    }
    Ok(out)
}

/// One run: `messages` queued, `clients` batch loops (10 messages a batch, as the event source
/// mapping sends) until the queue is empty. Events per second.
pub async fn run(worker: &Worker, messages: &[QueueMessage], clients: usize) -> anyhow::Result<f64> {
    let queue = LocalQueue::new(Duration::from_secs(120), 5);
    for m in messages {
        queue.send(m).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let start = Instant::now();
    let mut tasks = vec![];
    for _ in 0..clients {
        let (worker, queue) = (worker.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut failed = vec![];
            while let Some(f) = worker.run_local_batch(&queue).await {
                failed.extend(f);
            }
            failed
        }));
    }
    let mut failed = vec![];
    for t in tasks {
        failed.extend(t.await?);
    }
    let elapsed = start.elapsed();
    if !failed.is_empty() {
        bail!("{} events failed in the worker", failed.len());
    }
    Ok(messages.len() as f64 / elapsed.as_secs_f64())
}

/// The mean time of `checkout_session` against the simulator over `n` sequential calls, ms.
pub async fn stripe_reread_ms(worker: &Worker, messages: &[QueueMessage], n: usize) -> anyhow::Result<f64> {
    let sessions: Vec<String> = messages
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.body)?;
            Ok(v["data"]["object"]["id"].as_str().unwrap_or_default().to_string())
        })
        .collect::<anyhow::Result<_>>()?;
    if sessions.is_empty() {
        bail!("no sessions to read");
    }
    let start = Instant::now();
    for i in 0..n {
        worker
            .stripe
            .checkout_session(&sessions[i % sessions.len()])
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e3 / n as f64)
}

/// Checks that every event of `messages` was applied: the order is paid, its event is in the inbox.
pub async fn check_applied(shop: &Shop1, messages: &[QueueMessage]) -> anyhow::Result<()> {
    let client = shop.db.connect().await;
    let ids: Vec<String> = messages.iter().map(|m| m.event_id.clone()).collect();
    let row = client
        .query_one(
            "SELECT count(*) FROM inbox_events i JOIN orders o ON o.id = i.order_id \
             WHERE i.source = 'stripe' AND i.event_id = ANY($1) AND o.status = 'paid'",
            &[&ids],
        )
        .await?;
    let n: i64 = row.get(0);
    if n as usize != messages.len() {
        bail!(
            "only {n} of {} events left a paid order and an inbox row",
            messages.len()
        );
    }
    Ok(())
}

/// Processes one event with PostgreSQL logging every statement of a fresh connection, after one
/// warm-up event on that connection; returns the statements of the second event.
pub async fn capture(
    shop: &Shop1,
    warm_up: &QueueMessage,
    event: &QueueMessage,
) -> anyhow::Result<Vec<pgbench::Logged>> {
    let cluster = tokio::task::spawn_blocking(shared_cluster).await?;
    let admin = shop.db.connect().await;
    let database = &shop.db.name;
    admin
        .batch_execute(&format!("ALTER DATABASE \"{database}\" SET log_statement = 'all'"))
        .await?;
    let result = async {
        let worker = worker(shop, 1).await?;
        run(&worker, std::slice::from_ref(warm_up), 1).await?;
        let log = cluster.log_file().to_path_buf();
        let offset = std::fs::metadata(&log)?.len();
        run(&worker, std::slice::from_ref(event), 1).await?;
        // The server writes its log asynchronously to pg_ctl's file; give it a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = read_from(&log, offset)?;
        anyhow::Ok(pgbench::parse_log(&text))
    }
    .await;
    admin
        .batch_execute(&format!("ALTER DATABASE \"{database}\" RESET log_statement"))
        .await?;
    let statements = result?;
    if statements.is_empty() {
        bail!("no statements were logged for the captured event");
    }
    Ok(statements)
}

fn read_from(path: &Path, offset: u64) -> anyhow::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// pgbench's protocol: `prepared` parses and plans each statement once per connection;
/// `extended` sends the unnamed statement every time, as the worker does (Aurora DSQL keeps no
/// statement names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryMode {
    Prepared,
    Extended,
}

impl QueryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryMode::Prepared => "prepared",
            QueryMode::Extended => "extended",
        }
    }
}

/// pgbench's transactions per second over `seconds`, running `script` with `clients` clients
/// against the shop's database (every order in it is a target).
pub struct PgBench {
    pub program: std::path::PathBuf,
    pub script_file: std::path::PathBuf,
    pub norders: i64,
}

impl PgBench {
    pub async fn prepare(shop: &Shop1, script: &str, dir: &Path) -> anyhow::Result<PgBench> {
        let client = shop.db.connect().await;
        client
            .batch_execute(
                "DROP TABLE IF EXISTS bench_targets; \
                 CREATE TABLE bench_targets AS SELECT (row_number() OVER (ORDER BY id))::int AS n, id FROM orders; \
                 ALTER TABLE bench_targets ADD PRIMARY KEY (n); ANALYZE",
            )
            .await?;
        let norders: i64 = client
            .query_one("SELECT count(*) FROM bench_targets", &[])
            .await?
            .get(0);
        let script_file = dir.join("worker.pgbench.sql");
        std::fs::write(&script_file, script)?;
        let bin = backroom_testkit::find_postgres_bin_dir()
            .map(|d| d.join("pgbench"))
            .ok();
        let program = match bin {
            Some(p) if p.exists() => p,
            _ => "/usr/bin/pgbench".into(),
        };
        Ok(PgBench {
            program,
            script_file,
            norders,
        })
    }

    pub fn command(
        &self,
        shop: &Shop1,
        mode: QueryMode,
        clients: usize,
        seconds: u32,
    ) -> (std::process::Command, String) {
        let cluster = shared_cluster();
        let mut c = std::process::Command::new(&self.program);
        let args: Vec<String> = vec![
            "-n".into(),
            // Two clients may pick the same order: a serialization failure is tried again, as
            // `Db::with_retry` does for the worker.
            "--max-tries=10".into(),
            "-M".into(),
            mode.as_str().into(),
            "-c".into(),
            clients.to_string(),
            "-j".into(),
            clients.to_string(),
            "-T".into(),
            seconds.to_string(),
            "-D".into(),
            format!("norders={}", self.norders),
            "-f".into(),
            self.script_file.to_string_lossy().into(),
            "-h".into(),
            cluster.socket_dir().to_string_lossy().into(),
            "-p".into(),
            cluster.port().to_string(),
            "-U".into(),
            "postgres".into(),
            shop.db.name.clone(),
        ];
        c.args(&args);
        let shown = format!(
            "pgbench -n --max-tries=10 -M {} -c {clients} -j {clients} -T {seconds} -D norders={} -f worker.pgbench.sql <database>",
            mode.as_str(),
            self.norders
        );
        (c, shown)
    }

    /// One run: (transactions per second, transactions).
    pub async fn run(&self, shop: &Shop1, mode: QueryMode, clients: usize, seconds: u32) -> anyhow::Result<(f64, u64)> {
        let (mut command, _) = self.command(shop, mode, clients, seconds);
        let out = tokio::task::spawn_blocking(move || command.output()).await??;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("pgbench failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        }
        let failed = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("number of failed transactions: "))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if failed > 0 {
            bail!("pgbench had {failed} failed transactions: {stdout}");
        }
        let tps = stdout
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
        let transactions = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("number of transactions actually processed: "))
            .and_then(|v| v.split(['/', ' ']).next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no transaction count in pgbench's output: {stdout}"))?;
        Ok((tps, transactions))
    }
}
