//! PostgreSQL from the machine's own binaries, set up like Aurora DSQL (C locale, REPEATABLE READ):
//! a throwaway cluster per test process with a fresh database per test, cloned from a migrated
//! template, and a persistent private cluster for `backroom dev`.
//!
//! No Docker and no download: `initdb` and `pg_ctl` come from PATH, `pg_config` or
//! `/usr/lib/postgresql/*/bin`. As root the server runs as the `postgres` system user.

pub mod app;
mod aws;
mod binaries;
mod cluster;
mod database;
mod error;
mod process;

pub use aws::{AwsEmulator, shared_aws};
pub use binaries::find_postgres_bin_dir;
pub use cluster::{Cluster, ClusterConfig};
pub use database::{
    MIGRATED_TEMPLATE, TestDatabase, create_database_from_template, ensure_template, shared_cluster,
    try_create_database_from_template,
};
pub use error::TestkitError;
