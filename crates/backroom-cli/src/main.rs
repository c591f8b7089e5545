//! `backroom`: the owner's and the developer's command line.

mod catalog_import;
mod dev;
mod disputes;
mod dlq;
mod orders;
mod owner;
mod setup;
mod status;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use backroom_app::reconcile::ReconcileOptions;
use backroom_app::services::Worker;
use backroom_app::wiring::{Services, Tuning};
use backroom_app::{Config, catchup, reconcile};
use backroom_core::Catalog;
use backroom_core::ports::{AlertStore, CatalogStore};
use backroom_db::{DbConfig, DsqlRole, Store, migrate};
use clap::{Parser, Subcommand};
use secrecy::SecretString;

#[derive(Parser)]
#[command(
    name = "backroom",
    version,
    about = "The server side of a small shop: payments in, prints out."
)]
struct Cli {
    /// The data dir of a `backroom dev` whose database and simulators to use.
    #[arg(long, global = true, default_value = ".backroom")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole shop locally: storefront, API, simulators, worker and jobs.
    Dev(dev::DevArgs),
    /// The owner page on 127.0.0.1 against the deployed shop, read-only: orders, sales per day,
    /// stuck orders, disputes, dead letters and alarms, with the owner's own credentials.
    Owner(owner::OwnerArgs),
    /// Apply the database migrations that are not applied yet (safe to run again).
    Migrate,
    /// The catalog of products and variants.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Look at orders, or let paused ones go.
    #[command(subcommand)]
    Orders(orders::OrdersCommand),
    /// Compare Stripe, the database and Printful; with --fix, repair what can be repaired.
    Reconcile {
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long)]
        fix: bool,
        #[arg(long)]
        json: bool,
    },
    /// Run a catch-up job now.
    Catchup {
        #[arg(value_enum)]
        provider: Provider,
    },
    /// Disputes: list the open ones, submit drafted evidence.
    #[command(subcommand)]
    Disputes(disputes::DisputesCommand),
    /// Alerts raised for the owner.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// The dead-letter queue: on SQS with DEAD_LETTER_QUEUE_URL, else of a running `backroom dev`.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// How the shop is doing: alarms, dead letters, orders, stuck orders, catch-up, reconcile, alerts.
    Status {
        #[arg(long)]
        json: bool,
        /// The stack whose alarms to show (default: read from DEAD_LETTER_QUEUE_URL).
        #[arg(long)]
        stack: Option<String>,
    },
    /// The digest of the last days; with --send, sent to the owner (once per ISO week).
    Digest {
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[arg(long)]
        send: bool,
        #[arg(long)]
        json: bool,
    },
    /// Deploy steps: store the secrets in SSM, point the providers' webhooks at backroom.
    #[command(subcommand)]
    Setup(setup::SetupCommand),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Provider {
    Stripe,
    Printful,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Validate a catalog file and write it to the database.
    Sync {
        /// The catalog file.
        #[arg(default_value = "catalog.toml")]
        file: PathBuf,
    },
    /// Merge the Printful store's products into the catalog file (names, sizes, sync variant
    /// ids, prices, currency), keeping descriptions, stock limits, max_per_order and shipping
    /// zones. Shows the changes; writes them only with --write.
    Import {
        /// The catalog file.
        #[arg(default_value = "catalog.toml")]
        file: PathBuf,
        /// Write the merged file (without it, only the changes are shown).
        #[arg(long)]
        write: bool,
    },
    /// Compare the catalog file with Printful: variants gone or not available, prices that differ.
    Check {
        /// The catalog file.
        #[arg(default_value = "catalog.toml")]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// Newest first.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Move every dead letter back to the queue.
    Redrive,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // reqwest is built without a bundled crypto provider; rustls uses the process default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let default_level = if matches!(cli.command, Command::Dev(_)) {
        "info"
    } else {
        "warn"
    };
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let filter = backroom_app::telemetry::log_filter(
            backroom_ingest::config::log_filter_setting().as_deref(),
            default_level,
        );
        tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // `setup secrets` writes the parameters `Config::load` reads, so setup loads its own.
    if let Command::Setup(cmd) = cli.command {
        return setup::run(cmd).await;
    }
    let mut config = Config::load().await?;
    if let Command::Dev(args) = cli.command {
        return dev::run(args, config).await;
    }
    // The deployed shop's page: never a `backroom dev`'s database.
    if let Command::Owner(args) = cli.command {
        return owner::run(args, config).await;
    }
    let dev = dev::DevFile::read(&cli.data_dir);
    if config.database.is_none()
        && let Some(dev) = &dev
    {
        config.database = Some(DbConfig::Url(SecretString::from(dev.database_url.clone())));
    }
    match cli.command {
        Command::Dev(_) | Command::Owner(_) | Command::Setup(_) => unreachable!("handled above"),
        Command::Migrate => {
            // Migrations change the schema: on DSQL they run as `admin`.
            let db = match config.require_database()?.clone() {
                DbConfig::Dsql(mut d) => {
                    d.role = DsqlRole::Admin;
                    DbConfig::Dsql(d)
                }
                other => other,
            };
            let conn = backroom_db::connect::connect(&db).await?;
            let report = migrate::run_embedded(&conn.client).await?;
            println!("{report}");
        }
        Command::Catalog(CatalogCommand::Sync { file }) => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let catalog = Catalog::from_toml(&text).with_context(|| format!("{} is not valid", file.display()))?;
            let report = store(&config)?.sync_catalog(&catalog).await?;
            println!(
                "catalog synced from {}: {} new, {} updated, {} unchanged, {} no longer sold",
                file.display(),
                report.inserted,
                report.updated,
                report.unchanged,
                report.deactivated
            );
        }
        Command::Catalog(CatalogCommand::Import { file, write }) => {
            catalog_import::import(&worker(&config, dev.as_ref()).await?, &file, write).await?
        }
        Command::Catalog(CatalogCommand::Check { file }) => {
            catalog_import::check(&worker(&config, dev.as_ref()).await?, &file).await?
        }
        Command::Orders(cmd) => {
            let needs_worker = matches!(
                cmd,
                orders::OrdersCommand::Release { .. } | orders::OrdersCommand::AcceptAmount { .. }
            );
            let worker = if needs_worker {
                Some(worker(&config, dev.as_ref()).await?)
            } else {
                None
            };
            orders::run(&store(&config)?, worker.as_ref(), cmd).await?
        }
        Command::Reconcile { days, fix, json } => {
            let worker = worker(&config, dev.as_ref()).await?;
            let options = ReconcileOptions {
                days,
                fix,
                webhook_base_url: config.webhook_base_url.clone().or(dev.as_ref().map(|d| d.url.clone())),
            };
            let run = reconcile::reconcile(&worker, &options, chrono::Utc::now()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&run)?);
            } else {
                print!("{}", reconcile::table(&run));
            }
        }
        Command::Catchup { provider } => {
            let worker = worker(&config, dev.as_ref()).await?;
            match provider {
                Provider::Stripe => {
                    let r = catchup::catch_up_stripe(&worker, chrono::Utc::now()).await?;
                    println!(
                        "Stripe catch-up ({}): {} listed, {} recovered, {} failed",
                        r.mode, r.listed, r.recovered, r.failed
                    );
                }
                Provider::Printful => {
                    let r = catchup::catch_up_printful(&worker, Duration::from_millis(500)).await?;
                    let kept = backroom_app::forget::sweep_retention(
                        &worker.store,
                        config.buyer_data_retention_days,
                        chrono::Utc::now(),
                    )
                    .await?;
                    println!(
                        "Printful catch-up: {} checked, {} changed, {} delivered, {} unknown to backroom, {} failed; \
                         buyer data forgotten for {} orders",
                        r.checked, r.changed, r.delivered, r.unknown, r.failed, kept.forgotten
                    );
                }
            }
        }
        Command::Disputes(cmd) => disputes::run(&worker(&config, dev.as_ref()).await?, cmd).await?,
        Command::Alerts(AlertsCommand::List { json }) => {
            let alerts = store(&config)?.alerts(200).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "alerts": alerts }))?
                );
            } else if alerts.is_empty() {
                println!("no alerts");
            } else {
                for a in alerts {
                    let order = a.order_id.map(|o| o.to_string()).unwrap_or_else(|| "-".into());
                    println!(
                        "{}  {:<8}  {:<26}  {order}\n    {}",
                        a.at.format("%Y-%m-%d %H:%M"),
                        a.severity,
                        a.kind,
                        a.message
                    );
                }
            }
        }
        Command::Status { json, stack } => status::status(&config, dev.as_ref(), &cli.data_dir, stack, json).await?,
        Command::Digest { days, send, json } => status::digest(&config, days, send, json).await?,
        // As with DATABASE_URL, the environment's queue wins over a `backroom dev`.
        Command::Dlq(cmd) => match &config.dead_letter_queue_url {
            Some(url) => dlq::run(url, cmd).await?,
            None => dlq(dev.as_ref(), &cli.data_dir, cmd).await?,
        },
    }
    Ok(())
}

fn store(config: &Config) -> anyhow::Result<Store> {
    Ok(Services::new(config.clone(), Tuning::local(2))?.store)
}

/// The worker, with the providers of the environment, or those of a running `backroom dev`
/// (its simulators) for the ones the environment does not configure.
async fn worker(config: &Config, dev: Option<&dev::DevFile>) -> anyhow::Result<Worker> {
    let mut config = config.clone();
    if config.stripe_secret_key.is_none() || config.printful_token.is_none() {
        let Some(dev) = dev else {
            bail!(
                "set STRIPE_SECRET_KEY and PRINTFUL_TOKEN, or start `backroom dev` (its data dir holds the simulators' address)"
            );
        };
        if config.stripe_secret_key.is_none() {
            config.stripe_secret_key = Some(SecretString::from(dev::DEV_STRIPE_KEY.to_string()));
            config.stripe_api_base = dev.stripe_api_base.clone();
        }
        if config.printful_token.is_none() {
            config.printful_token = Some(SecretString::from(dev::DEV_PRINTFUL_TOKEN.to_string()));
            config.printful_api_base = dev.printful_api_base.clone();
        }
    }
    Services::new(config, Tuning::local(2))?.worker().await
}

async fn dlq(dev: Option<&dev::DevFile>, data_dir: &Path, cmd: DlqCommand) -> anyhow::Result<()> {
    let Some(dev) = dev else {
        bail!(
            "no backroom dev is running in {} (in AWS, set DEAD_LETTER_QUEUE_URL)",
            data_dir.display()
        );
    };
    match cmd {
        DlqCommand::List { json } => {
            let body = dev.admin(reqwest::Method::GET, "dlq").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                let messages = body["messages"].as_array().cloned().unwrap_or_default();
                if messages.is_empty() {
                    println!("the dead-letter queue is empty");
                }
                for m in messages {
                    println!(
                        "{}  {}  {}  {} receives",
                        m["source"], m["event_type"], m["event_id"], m["receive_count"]
                    );
                }
            }
        }
        DlqCommand::Redrive => {
            let body = dev.admin(reqwest::Method::POST, "dlq/redrive").await?;
            println!("moved {} message(s) back to the queue", body["redriven"]);
        }
    }
    Ok(())
}
