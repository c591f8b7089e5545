//! `backroom`: the owner's and the developer's command line.

mod orders;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use backroom_app::Config;
use backroom_core::Catalog;
use backroom_core::ports::CatalogStore;
use backroom_db::{Db, DbConfig, DsqlRole, Store, migrate};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "backroom",
    version,
    about = "The server side of a small shop: payments in, prints out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the database migrations that are not applied yet (safe to run again).
    Migrate,
    /// The catalog of products and variants.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Look at orders.
    #[command(subcommand)]
    Orders(orders::OrdersCommand),
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Validate a catalog file and write it to the database.
    Sync {
        /// The catalog file.
        #[arg(default_value = "catalog.toml")]
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BACKROOM_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
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
    let config = Config::from_env()?;
    match cli.command {
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
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let catalog = Catalog::from_toml(&text)
                .with_context(|| format!("{} is not valid", file.display()))?;
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
        Command::Orders(cmd) => orders::run(&store(&config)?, cmd).await?,
    }
    Ok(())
}

fn store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::new(Db::new(config.require_database()?.clone(), 2)))
}
