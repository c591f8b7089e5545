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
mod rng;

pub use aws::{AwsEmulator, emulator_sdk, new_queue, queue_arn, shared_aws, subscribe_queue};
pub use binaries::find_postgres_bin_dir;
pub use cluster::{Cluster, ClusterConfig};
pub use database::{
    MIGRATED_TEMPLATE, TestDatabase, create_database_from_template, ensure_template, shared_cluster,
    try_create_database_from_template,
};
pub use error::TestkitError;
pub use rng::SeededRng;

/// Runs a test story as a task on a runtime whose threads have room (32 MiB): in a debug build a
/// whole story through the worker and the AWS SDK is one future larger than a test thread's
/// stack. A panic in the story fails the test with the story's own message.
pub fn run_story(story: impl std::future::Future<Output = ()> + Send + 'static) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(32 * 1024 * 1024)
        .enable_all()
        .build()
        .expect("a test runtime");
    if let Err(e) = runtime.block_on(runtime.spawn(story)) {
        std::panic::resume_unwind(e.into_panic());
    }
}
