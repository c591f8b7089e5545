//! Databases for tests: one shared cluster per test process, a template database prepared once
//! per process, and a fresh database cloned from it for every test.
//!
//! Each `#[tokio::test]` runs on its own runtime, and a tokio-postgres connection lives on the
//! runtime that spawned it. So nothing here keeps a connection across calls: each step opens a
//! connection, uses it and closes it.

use std::collections::HashMap;
use std::fmt::Display;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::OnceCell;
use tokio_postgres::{Client, NoTls};

use crate::{Cluster, ClusterConfig, TestkitError};

/// The template that `TestDatabase::new` clones: an empty database with every migration applied.
pub const MIGRATED_TEMPLATE: &str = "backroom_template";

static SHARED_CLUSTER: OnceLock<Result<Cluster, TestkitError>> = OnceLock::new();

/// The process-wide test cluster: started on first use (one cluster per test process) and removed
/// when the process exits, however it exits.
///
/// Panics with the reason when the cluster cannot start; every later call panics with the same
/// reason instead of trying again. It blocks for about a second on first use: from async code,
/// prefer `TestDatabase::new`, which calls it on a blocking thread.
pub fn shared_cluster() -> &'static Cluster {
    let started = SHARED_CLUSTER.get_or_init(|| Cluster::start(ClusterConfig::temporary()));
    match started {
        Ok(cluster) => cluster,
        Err(error) => panic!("The shared test PostgreSQL cluster could not start: {error}"),
    }
}

/// One `OnceCell` per (cluster, template name): the template is built once per process.
type TemplateKey = (PathBuf, String);
static TEMPLATES: LazyLock<Mutex<HashMap<TemplateKey, Arc<OnceCell<()>>>>> = LazyLock::new(Mutex::default);

/// Makes sure the template database `name` exists in `cluster` and was prepared by `setup`.
///
/// The first call in this process for a given cluster and name builds the template from scratch:
/// it drops any database of that name left by an earlier process (its setup may have been
/// different), creates an empty one, runs `setup` on a connection to it, then marks it as a
/// template that accepts no connections, because `CREATE DATABASE ... TEMPLATE` fails while
/// anyone is connected to the template. Later calls return at once and do not run their
/// `setup`; concurrent first calls wait for the one that builds. A failed build is retried by the
/// next call.
pub async fn ensure_template<F, E>(cluster: &Cluster, name: &str, setup: F) -> Result<(), TestkitError>
where
    F: AsyncFnOnce(&Client) -> Result<(), E>,
    E: Display,
{
    let key = (cluster.socket_dir().to_path_buf(), name.to_string());
    let cell = {
        let mut templates = TEMPLATES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        templates.entry(key).or_default().clone()
    };
    cell.get_or_try_init(|| build_template(cluster, name, setup)).await?;
    Ok(())
}

async fn build_template<F, E>(cluster: &Cluster, name: &str, setup: F) -> Result<(), TestkitError>
where
    F: AsyncFnOnce(&Client) -> Result<(), E>,
    E: Display,
{
    let began = Instant::now();
    let database = quote_ident(name);
    let admin = Session::open(cluster, "postgres").await?;
    let existing = admin
        .client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(|error| sql_error("look up the template database", name, &error))?;
    if existing.is_some() {
        admin
            .execute(
                &format!("ALTER DATABASE {database} IS_TEMPLATE false"),
                "unmark the old template database",
                name,
            )
            .await?;
        admin
            .execute(
                &format!("DROP DATABASE {database} WITH (FORCE)"),
                "drop the old template database",
                name,
            )
            .await?;
    }
    admin
        .execute(
            &format!("CREATE DATABASE {database}"),
            "create the template database",
            name,
        )
        .await?;

    let session = Session::open(cluster, name).await?;
    let outcome = setup(&session.client).await;
    session.close().await;
    if let Err(error) = outcome {
        return Err(TestkitError::new(format!(
            "Setting up the template database {name} failed: {error}"
        )));
    }

    admin
        .execute(
            &format!("ALTER DATABASE {database} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"),
            "mark the template database",
            name,
        )
        .await?;
    admin.close().await;
    tracing::info!(
        template = name,
        prepared_in_ms = began.elapsed().as_millis() as u64,
        "template database ready"
    );
    Ok(())
}

/// A fresh database cloned from `template`, named `test_<16 hex digits>`. Panics on failure (it is
/// test support); `try_create_database_from_template` returns the error instead.
pub async fn create_database_from_template(cluster: &Cluster, template: &str) -> TestDatabase {
    try_create_database_from_template(cluster, template)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

/// A fresh database cloned from `template`, named `test_<16 hex digits>`.
pub async fn try_create_database_from_template(
    cluster: &Cluster,
    template: &str,
) -> Result<TestDatabase, TestkitError> {
    let name = format!("test_{:016x}", rand::random::<u64>());
    let admin = Session::open(cluster, "postgres").await?;
    // PostgreSQL 15's default strategy (WAL_LOG) writes the whole copy to the WAL; copying the
    // files is faster for a small template: about 33 ms against 56 ms per database here, and
    // 10 ms against 34 ms each when 8 are created at once. Older servers only copy files and
    // do not know the option.
    let strategy = if cluster.major_version() >= 15 {
        " STRATEGY FILE_COPY"
    } else {
        ""
    };
    admin
        .execute(
            &format!(
                "CREATE DATABASE {} TEMPLATE {}{strategy}",
                quote_ident(&name),
                quote_ident(template)
            ),
            "create a test database from the template",
            template,
        )
        .await?;
    admin.close().await;
    Ok(TestDatabase {
        url: cluster.connection_string(&name),
        name,
    })
}

/// A database of its own for one test, cloned from the migrated template in the shared cluster.
/// It is not dropped after the test: the whole cluster goes when the test process exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDatabase {
    /// The database name, `test_<16 hex digits>`.
    pub name: String,
    /// A tokio-postgres key=value connection string for it.
    pub url: String,
}

impl TestDatabase {
    /// A fresh, migrated database. The first call in a process starts the shared cluster and
    /// builds the template with `backroom_db::migrate::run_embedded`. Panics with a clear message
    /// on failure.
    pub async fn new() -> TestDatabase {
        let cluster = tokio::task::spawn_blocking(shared_cluster)
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        let migrate = async |client: &Client| {
            backroom_db::migrate::run_embedded(client)
                .await
                .map(|_| ())
                .map_err(|error| format!("the migrations failed: {error}"))
        };
        if let Err(error) = ensure_template(cluster, MIGRATED_TEMPLATE, migrate).await {
            panic!("{error}");
        }
        create_database_from_template(cluster, MIGRATED_TEMPLATE).await
    }

    /// A connection to this database, driven by a task on the current tokio runtime. Panics on
    /// failure.
    pub async fn connect(&self) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .unwrap_or_else(|error| panic!("Could not connect to the test database {}: {error}", self.name));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "test database connection failed");
            }
        });
        client
    }

    /// Makes the database unavailable (`false`) or available again (`true`), as an outage of
    /// the database looks to the application: going down ends every open session on it
    /// (`pg_terminate_backend`) and refuses new connections until it comes back. Committed
    /// data stays. Panics on failure.
    pub async fn set_available(&self, available: bool) {
        // Run from the maintenance database: this one refuses connections while it is down.
        let admin = self.url.replace(&format!("dbname={}", self.name), "dbname=postgres");
        let (client, connection) = tokio_postgres::connect(&admin, NoTls)
            .await
            .unwrap_or_else(|error| panic!("Could not connect to the maintenance database: {error}"));
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        let name = quote_ident(&self.name);
        client
            .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {available}"))
            .await
            .unwrap_or_else(|error| panic!("Could not switch connections to {}: {error}", self.name));
        if !available {
            client
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    &[&self.name],
                )
                .await
                .unwrap_or_else(|error| panic!("Could not end the sessions on {}: {error}", self.name));
        }
        drop(client);
        let _ = task.await;
    }
}

/// A connection that is closed explicitly, so that its server session is gone (or going) before
/// the next step needs the database free.
struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Session {
    async fn open(cluster: &Cluster, dbname: &str) -> Result<Session, TestkitError> {
        let url = cluster.connection_string(dbname);
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.map_err(|error| {
            TestkitError::new(format!(
                "Could not connect to PostgreSQL ({url}): {}",
                describe_pg_error(&error)
            ))
        })?;
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Session { client, task })
    }

    async fn execute(&self, sql: &str, what: &str, name: &str) -> Result<(), TestkitError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|error| sql_error(what, name, &error))
    }

    /// Dropping the client makes the connection task send Terminate and finish; waiting for the
    /// task means the server has been told before we go on.
    async fn close(self) {
        drop(self.client);
        let _ = self.task.await;
    }
}

fn sql_error(what: &str, name: &str, error: &tokio_postgres::Error) -> TestkitError {
    TestkitError::new(format!("Could not {what} ({name}): {}", describe_pg_error(error)))
}

/// tokio-postgres' Display for a server error is just "db error"; the server's message is in the
/// source.
fn describe_pg_error(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// Quotes an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("backroom_template"), "\"backroom_template\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
