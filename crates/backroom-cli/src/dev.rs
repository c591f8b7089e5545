//! `backroom dev`: the whole shop on 127.0.0.1, offline and with no keys. PostgreSQL from the
//! machine's binaries (kept in the data dir), the Stripe and Printful simulators mounted on the
//! same server (unless real keys are set), the in-process queue feeding the very batch handler
//! of the event-worker function, the catch-up jobs on a timer and the reconciler at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use backroom_app::queue::LocalQueue;
use backroom_app::reconcile::ReconcileOptions;
use backroom_app::wiring::{Services, Tuning};
use backroom_app::worker::{BatchItem, Worker};
use backroom_app::{Config, Queue, catchup, http, reconcile, watchdog};
use backroom_core::Catalog;
use backroom_core::ports::CatalogStore;
use backroom_db::{DbConfig, migrate};
use backroom_sim::printful::{PrintfulSim, PrintfulSimConfig};
use backroom_sim::stripe::{StripeSim, StripeSimConfig};
use backroom_testkit::{Cluster, ClusterConfig};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::owner::{self, AlarmSource, DeadLetterSource, OwnerPage};

/// The webhook secret the simulator signs with and the route accepts when
/// `STRIPE_WEBHOOK_SECRETS` is unset. Not a secret: it only ever guards a loopback server.
pub const DEV_WEBHOOK_SECRET: &str = "whsec_backroom_dev_0123456789abcdef";
pub const DEV_STRIPE_KEY: &str = "sk_test_backroom_dev";
pub const DEV_PRINTFUL_TOKEN: &str = "backroom-dev-printful-token";
pub const DEV_PRINTFUL_WEBHOOK_TOKEN: &str = "backroom-dev-printful-webhook-token";

#[derive(clap::Args, Clone, Debug)]
pub struct DevArgs {
    /// The port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// Where the database and the dev server's address are kept between runs.
    #[arg(long, default_value = ".backroom")]
    pub data_dir: PathBuf,
    /// Start over: delete the data dir's database first.
    #[arg(long)]
    pub fresh: bool,
    /// The catalog applied at start.
    #[arg(long, default_value = "catalog.toml")]
    pub catalog: PathBuf,
    /// Seconds between catch-up runs.
    #[arg(long, default_value_t = 60)]
    pub catchup_every: u64,
}

/// What a running `backroom dev` records in its data dir, so other CLI verbs reach the same
/// database and simulators.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevFile {
    pub url: String,
    pub database_url: String,
    pub stripe_api_base: Option<String>,
    pub printful_api_base: Option<String>,
    pub pid: u32,
}

pub const DEV_FILE: &str = "dev.json";

impl DevFile {
    pub fn read(data_dir: &Path) -> Option<DevFile> {
        let text = std::fs::read_to_string(data_dir.join(DEV_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Calls the running dev server's admin API (`GET` or `POST /admin/api/{path}`) and returns
    /// its JSON answer; a server that does not answer within 10 s is an error.
    pub async fn admin(&self, method: reqwest::Method, path: &str) -> anyhow::Result<serde_json::Value> {
        let text = reqwest::Client::new()
            .request(method, format!("{}/admin/api/{path}", self.url))
            .timeout(Duration::from_secs(10))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(serde_json::from_str(&text)?)
    }
}

struct Running {
    queue: LocalQueue,
    worker: Worker,
    front_door: Arc<FrontDoorCounts>,
}

/// The requests that reach what the deployed stack exposes publicly (the shop's routes and the
/// two webhooks), counted by route since start: what a purchase costs at the front door, as the
/// browser test measures it (`GET /admin/api/requests`).
#[derive(Default)]
struct FrontDoorCounts(std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>);

impl FrontDoorCounts {
    /// The public route a path belongs to, if any.
    fn route(method: &axum::http::Method, path: &str) -> Option<&'static str> {
        use axum::http::Method;
        let route = match (method, path) {
            (&Method::GET, "/catalog") => "GET /catalog",
            (&Method::POST, "/checkout") => "POST /checkout",
            (&Method::GET, p) if p.starts_with("/orders/") => "GET /orders/{order_id}",
            (&Method::GET, "/health") => "GET /health",
            (&Method::POST, "/webhooks/stripe") => "POST /webhooks/stripe",
            (&Method::POST, p) if p.starts_with("/webhooks/printful/") => "POST /webhooks/printful/{token}",
            (&Method::OPTIONS, p) if ["/catalog", "/checkout"].contains(&p) || p.starts_with("/orders/") => {
                "OPTIONS (CORS preflight)"
            }
            _ => return None,
        };
        Some(route)
    }

    fn snapshot(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn count_front_door(
    State(counts): State<Arc<FrontDoorCounts>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(route) = FrontDoorCounts::route(request.method(), request.uri().path()) {
        *counts
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(route)
            .or_default() += 1;
    }
    next.run(request).await
}

pub async fn run(args: DevArgs, mut config: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let data_dir = absolute(&args.data_dir)?;
    if args.fresh && data_dir.exists() {
        let pg = cluster_dir(&data_dir);
        if let Ok(cluster) = Cluster::start(ClusterConfig::persistent(&pg)) {
            let _ = cluster.stop();
        }
        if pg != data_dir {
            let _ = std::fs::remove_dir_all(&pg);
        }
        std::fs::remove_dir_all(&data_dir).with_context(|| format!("cannot remove {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;

    let (database_url, cluster) = match &config.database {
        Some(DbConfig::Url(url)) => (secrecy::ExposeSecret::expose_secret(url).to_string(), None),
        Some(DbConfig::Dsql(_)) => {
            bail!("backroom dev runs on a local PostgreSQL: unset DSQL_ENDPOINT or set DATABASE_URL")
        }
        None => {
            let dir = cluster_dir(&data_dir);
            let cluster = tokio::task::spawn_blocking(move || Cluster::start(ClusterConfig::persistent(dir))).await??;
            create_database(&cluster, "backroom").await?;
            (cluster.connection_string("backroom"), Some(cluster))
        }
    };
    let db_config = DbConfig::Url(SecretString::from(database_url.clone()));
    let conn = backroom_db::connect::connect(&db_config).await?;
    let report = migrate::run_embedded(&conn.client).await?;
    drop(conn);
    config.database = Some(db_config);
    let catalog_text =
        std::fs::read_to_string(&args.catalog).with_context(|| format!("cannot read {}", args.catalog.display()))?;
    let catalog =
        Catalog::from_toml(&catalog_text).with_context(|| format!("{} is not valid", args.catalog.display()))?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{} (is another backroom dev running?)",
                args.port
            )
        })?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");

    // What is not configured is simulated: the configuration is pointed at the simulators, and
    // everything is then built the one way every process builds it (backroom_app::wiring).
    if config.ingest.stripe_webhook_secrets.is_empty() {
        config.ingest.stripe_webhook_secrets = vec![SecretString::from(DEV_WEBHOOK_SECRET.to_string())];
    }
    let printful_webhook_token = config
        .ingest
        .printful_webhook_token
        .get_or_insert_with(|| SecretString::from(DEV_PRINTFUL_WEBHOOK_TOKEN.to_string()))
        .clone();
    config.storefront_origin.get_or_insert_with(|| base.clone());
    let mut router = Router::new();
    let (stripe_simulated, printful_simulated) = (config.stripe_secret_key.is_none(), config.printful_token.is_none());
    if stripe_simulated {
        let webhook_secret = secrecy::ExposeSecret::expose_secret(&config.ingest.stripe_webhook_secrets[0]).to_string();
        let sim = StripeSim::new(StripeSimConfig {
            public_base: base.clone(),
            webhook_url: Some(format!("{base}/webhooks/stripe")),
            webhook_secret,
            // The simulated account outlives a restart (or a kill -9) of backroom dev.
            state_file: Some(data_dir.join("stripe-sim.json")),
            shipping_rates: dev_shipping_rates(&config.stripe_shipping_rates, &catalog),
            promotion_codes: if config.stripe_promotion_codes {
                vec![backroom_sim::stripe::PromotionCodeSpec {
                    id: None,
                    code: DEV_PROMOTION_CODE.into(),
                    off: backroom_sim::stripe::CouponOff::Percent(10.0),
                }]
            } else {
                Vec::new()
            },
            tax_rate_bps: if config.stripe_automatic_tax {
                DEV_TAX_RATE_BPS
            } else {
                0
            },
            ..StripeSimConfig::default()
        });
        router = router.nest("/sim/stripe", sim.router());
        config.stripe_secret_key = Some(SecretString::from(DEV_STRIPE_KEY.to_string()));
        config.stripe_api_base = Some(format!("{base}/sim/stripe"));
    }
    if printful_simulated {
        let sim = PrintfulSim::new(PrintfulSimConfig {
            public_base: base.clone(),
            webhook_url: Some(format!(
                "{base}/webhooks/printful/{}",
                secrecy::ExposeSecret::expose_secret(&printful_webhook_token)
            )),
            // With PRINTFUL_WEBHOOK_SECRET set the route requires a signature, so the
            // simulator signs with it.
            webhook_secret_hex: config
                .ingest
                .printful_webhook_secret
                .as_ref()
                .map(|s| secrecy::ExposeSecret::expose_secret(s).to_string()),
            // Printful bills in the store's currency: the demo's, so that the owner page
            // shows each order's margin.
            costs: backroom_sim::printful::PrintfulCosts {
                currency: catalog
                    .variants()
                    .map(|(_, v)| v.currency.code().to_string())
                    .next()
                    .unwrap_or_else(|| "EUR".into()),
                ..backroom_sim::printful::PrintfulCosts::default()
            },
            ..PrintfulSimConfig::default()
        });
        router = router.nest("/sim/printful", sim.router());
        config.printful_token = Some(SecretString::from(DEV_PRINTFUL_TOKEN.to_string()));
        config.printful_api_base = Some(format!("{base}/sim/printful"));
    }
    let (stripe_api_base, printful_api_base) = (config.stripe_api_base.clone(), config.printful_api_base.clone());

    let services = Services::new(config.clone(), Tuning::local(8))?;
    let store = services.store.clone();
    store.sync_catalog(&catalog).await?;
    let queue = LocalQueue::new(Duration::from_secs(5), 5);
    // With EVENTS_QUEUE_URL (and AWS_ENDPOINT_URL for a local emulator), events go through SQS.
    let sqs = match &config.ingest.events_queue_url {
        Some(url) => Some(backroom_aws::SqsQueue::from_env(url.clone()).await),
        None => None,
    };
    let ingest = services.ingest(match &sqs {
        Some(q) => Queue::Sqs(q.clone()),
        None => Queue::Local(queue.clone()),
    });
    // Alerts to the console (or SNS when both topics are set); order events to the log (and
    // the owner page), or to an EventBridge bus on the local emulator when EVENT_BUS_NAME (and
    // AWS_ENDPOINT_URL) are set.
    let worker = services.worker().await?;
    let shop = services.shop()?;
    let front_door = Arc::new(FrontDoorCounts::default());
    let running = Arc::new(Running {
        queue: queue.clone(),
        worker: worker.clone(),
        front_door: front_door.clone(),
    });
    let router = router
        .merge(http::shop_routes(Arc::new(shop)))
        .merge(http::webhook_routes(Arc::new(ingest)))
        .merge(owner::admin_routes(Arc::new(OwnerPage {
            mode: "dev",
            store: store.clone(),
            stripe: Some(worker.stripe.clone()),
            outbox: worker.outbox.clone(),
            dead_letters: DeadLetterSource::Local(queue.clone()),
            alarms: AlarmSource::NotInDev,
        })))
        .merge(dev_admin_routes(running.clone()))
        .merge(owner::static_routes())
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(owner::Guard {
                own: owner::OwnHost::new(addr.port()),
                scope: owner::Scope::OwnerRoutes,
            }),
            owner::guard_owner_routes,
        ))
        .layer(axum::middleware::from_fn_with_state(front_door, count_front_door));

    let server = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown_signal())
            .await
    });
    let file = DevFile {
        url: base.clone(),
        database_url: database_url.clone(),
        stripe_api_base: stripe_api_base.clone(),
        printful_api_base: printful_api_base.clone(),
        pid: std::process::id(),
    };
    std::fs::write(data_dir.join(DEV_FILE), serde_json::to_string_pretty(&file)?)?;

    match sqs {
        Some(sqs) => {
            println!("  events queue:      SQS {}", sqs.url());
            tokio::spawn(work_sqs(running.clone(), sqs));
        }
        None => {
            tokio::spawn(work_queue(running.clone()));
        }
    }
    println!(
        "backroom dev is ready in {:.1} s ({report})",
        started.elapsed().as_secs_f64()
    );
    println!("  storefront:        {base}/");
    println!("  owner page:        {base}/admin");
    println!("  health:            {base}/health");
    println!("  Stripe webhook:    {base}/webhooks/stripe");
    println!("  Printful webhook:  {base}/webhooks/printful/<token>");
    if stripe_simulated {
        println!("  Stripe: simulator at {base}/sim/stripe (webhook secret {DEV_WEBHOOK_SECRET})");
    } else {
        println!("  Stripe: real API. Forward its webhooks with: stripe listen --forward-to {base}/webhooks/stripe");
    }
    if printful_simulated {
        println!("  Printful: simulator at {base}/sim/printful");
    } else {
        println!("  Printful: real API");
    }
    match &cluster {
        Some(c) => println!("  database:          PostgreSQL in {}", c.pgdata().display()),
        None => println!("  database:          DATABASE_URL"),
    }
    if config.db_isolation != backroom_db::Isolation::default() {
        println!(
            "  isolation:         {} (BACKROOM_DB_ISOLATION): conflicts abort at COMMIT as on Aurora DSQL",
            config.db_isolation.as_str()
        );
    }

    // The reconciler runs once at start, then the catch-up jobs on their timer.
    let options = ReconcileOptions {
        days: 30,
        fix: true,
        webhook_base_url: Some(base.clone()),
    };
    match reconcile::reconcile(&worker, &options, chrono::Utc::now()).await {
        Ok(run) => print!("{}", reconcile::table(&run)),
        Err(e) => eprintln!("the reconciler failed at start: {e}"),
    }
    tokio::spawn(catch_up_forever(
        running.clone(),
        Duration::from_secs(args.catchup_every.max(1)),
    ));

    let result = server.await?;
    if let Some(cluster) = cluster {
        let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
    }
    let _ = std::fs::remove_file(data_dir.join(DEV_FILE));
    result.context("the server stopped")?;
    Ok(())
}

/// Where the database cluster lives: in the data dir, unless we run as root and the `postgres`
/// user (who runs the server) cannot reach it, as under /root; then in /var/tmp, under a name
/// made from the data dir's path, so each data dir keeps its own database.
fn cluster_dir(data_dir: &Path) -> PathBuf {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root {
        return data_dir.to_path_buf();
    }
    let reachable = std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(data_dir)
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        return data_dir.to_path_buf();
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    PathBuf::from(format!("/var/tmp/backroom-dev-{:016x}", h.finish()))
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

async fn create_database(cluster: &Cluster, name: &str) -> anyhow::Result<()> {
    let (client, connection) =
        tokio_postgres::connect(&cluster.connection_string("postgres"), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        client.batch_execute(&format!("CREATE DATABASE {name}")).await?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    println!("backroom dev is stopping");
}

/// The event-worker's batch handler, fed from the in-process queue.
async fn work_queue(running: Arc<Running>) {
    loop {
        if running.worker.run_local_batch(&running.queue).await.is_none() {
            running.queue.wait(Duration::from_secs(1)).await;
        }
    }
}

/// The same batch handler, fed from SQS as the event source mapping feeds it in AWS.
async fn work_sqs(running: Arc<Running>, sqs: backroom_aws::SqsQueue) {
    loop {
        let answer = sqs
            .client()
            .receive_message()
            .queue_url(sqs.url())
            .max_number_of_messages(10)
            .wait_time_seconds(10)
            .message_attribute_names("All")
            .send()
            .await;
        let messages = match answer {
            Ok(a) => a.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!(
                    "cannot read the events queue: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                );
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        let items = messages
            .iter()
            .map(|m| BatchItem {
                message_id: m.message_id.clone().unwrap_or_default(),
                message: m
                    .message_attributes
                    .as_ref()
                    .and_then(|a| backroom_aws::message_from_attributes(a, m.body.as_deref()?)),
            })
            .collect();
        let failed = running.worker.process_batch(items).await;
        for m in messages
            .iter()
            .filter(|m| !failed.contains(&m.message_id.clone().unwrap_or_default()))
        {
            if let Some(receipt) = &m.receipt_handle {
                let _ = sqs
                    .client()
                    .delete_message()
                    .queue_url(sqs.url())
                    .receipt_handle(receipt)
                    .send()
                    .await;
            }
        }
    }
}

async fn catch_up_forever(running: Arc<Running>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        catch_up_once(&running.worker).await;
    }
}

/// One round of both catch-up jobs and the watchdog, as the scheduled functions run them.
/// The code the simulated Stripe takes (10 % off) when `STRIPE_PROMOTION_CODES=true`.
pub const DEV_PROMOTION_CODE: &str = "WELCOME10";
/// The simulated Stripe Tax rate when `STRIPE_AUTOMATIC_TAX=true`: 19 %.
pub const DEV_TAX_RATE_BPS: u32 = 1900;

/// The rates the simulated Stripe knows: the ids named in `STRIPE_SHIPPING_RATES` (free, as
/// the simulator cannot know what they cost at Stripe). The demo shop prices shipping with the
/// catalog's zones instead.
fn dev_shipping_rates(configured: &[String], catalog: &Catalog) -> Vec<backroom_sim::stripe::ShippingRateSpec> {
    let currency = catalog
        .products
        .iter()
        .flat_map(|p| p.variants.iter())
        .map(|v| v.currency.stripe_code())
        .next()
        .unwrap_or_else(|| "eur".to_string());
    let rate = |id: &str, name: &str, amount| backroom_sim::stripe::ShippingRateSpec {
        id: id.to_string(),
        display_name: name.to_string(),
        amount,
        currency: currency.clone(),
        minimum: Some(("business_day".into(), 3)),
        maximum: Some(("business_day".into(), 7)),
    };
    configured.iter().map(|id| rate(id, id, 0)).collect()
}

pub async fn catch_up_once(worker: &Worker) {
    match catchup::catch_up_stripe(worker, chrono::Utc::now()).await {
        Ok(r) if r.recovered > 0 => println!(
            "Stripe catch-up recovered {} event(s) whose webhooks were lost",
            r.recovered
        ),
        Ok(_) => {}
        Err(e) => eprintln!("Stripe catch-up failed: {e}"),
    }
    if let Err(e) = catchup::catch_up_printful(worker, Duration::ZERO).await {
        eprintln!("Printful catch-up failed: {e}");
    }
    if let Err(e) = watchdog::watchdog(
        &worker.store,
        &worker.alerts,
        &watchdog::Deadlines::default(),
        chrono::Utc::now(),
    )
    .await
    {
        eprintln!("the watchdog failed: {e}");
    }
}

/// The dev-only owner route: `backroom dlq redrive` moves the in-process queue's dead letters
/// back (the owner page itself only reads, as in `backroom owner`).
fn dev_admin_routes(running: Arc<Running>) -> Router {
    Router::new()
        .route("/admin/api/dlq/redrive", post(admin_redrive))
        .route("/admin/api/db", get(admin_db))
        .route("/admin/api/requests", get(admin_requests))
        .with_state(running)
}

async fn admin_redrive(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(r): State<Arc<Running>>) -> Response {
    if let Some(denied) = owner::refuse_remote(&addr) {
        return denied;
    }
    axum::Json(json!({ "redriven": r.queue.redrive() })).into_response()
}

/// The requests the public routes have had since start, by route.
async fn admin_requests(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(r): State<Arc<Running>>) -> Response {
    if let Some(denied) = owner::refuse_remote(&addr) {
        return denied;
    }
    axum::Json(json!({ "requests": r.front_door.snapshot() })).into_response()
}

/// The database handle's isolation level and what its retry loop has done since start
/// (transactions committed, attempts retried after a conflict, transactions given up).
async fn admin_db(ConnectInfo(addr): ConnectInfo<SocketAddr>, State(r): State<Arc<Running>>) -> Response {
    if let Some(denied) = owner::refuse_remote(&addr) {
        return denied;
    }
    let db = r.worker.store.db();
    axum::Json(json!({ "isolation": db.isolation().as_str(), "transactions": db.retry_stats() })).into_response()
}
