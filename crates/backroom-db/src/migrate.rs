//! The migration runner. Migrations are SQL files in `migrations/`, one statement each, written
//! in the DSQL dialect and embedded in the binary. Each applied file is recorded with its
//! checksum in `schema_migrations`; a recorded file that changed is refused.
//!
//! There are no advisory locks on DSQL, so two runners may start at once. Every statement is
//! idempotent (`IF NOT EXISTS`), runs alone in autocommit (DSQL allows one DDL statement per
//! transaction and no DDL with DML), and the record is inserted with `ON CONFLICT DO NOTHING`:
//! whoever loses a race either finds the object there or the record written, and carries on.

use std::fmt;

use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::connect::Target;
use crate::error::DbError;
use crate::retry::RetryPolicy;

pub mod lint;

static MIGRATIONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

/// One migration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub sql: String,
}

impl Migration {
    /// Hex SHA-256 of the file's text.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }

    /// The statement as it is run against `target`. PostgreSQL has no `CREATE INDEX ASYNC`:
    /// there the word is dropped and the index is built at once.
    pub fn statement_for(&self, target: Target) -> String {
        match target {
            Target::Dsql => self.sql.clone(),
            Target::Postgres => lint::without_async(&self.sql),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration file {file:?} is not named like 0001_what_it_does.sql")]
    BadName { file: String },
    #[error("two migration files have version {version}: {first} and {second}")]
    DuplicateVersion {
        version: i64,
        first: String,
        second: String,
    },
    #[error(
        "migration {version} ({name}) was applied with checksum {applied} but the file now has {current}: \
         applied migrations must never change; add a new migration instead"
    )]
    Changed {
        version: i64,
        name: String,
        applied: String,
        current: String,
    },
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        version: i64,
        name: String,
        source: DbError,
    },
    #[error("index job {job} of migration {version} ({name}) did not finish successfully")]
    IndexJob { version: i64, name: String, job: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub applied: Vec<String>,
    pub already: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.applied.is_empty() {
            write!(f, "schema up to date ({} migrations)", self.already)
        } else {
            let first = self.applied.first().map(String::as_str).unwrap_or_default();
            let last = self.applied.last().map(String::as_str).unwrap_or_default();
            let range = if self.applied.len() == 1 {
                first.to_string()
            } else {
                format!("{first} … {last}")
            };
            write!(
                f,
                "applied {} migration(s) ({range}); {} already applied",
                self.applied.len(),
                self.already
            )
        }
    }
}

/// The migrations embedded in this binary, in version order.
pub fn embedded() -> Result<Vec<Migration>, MigrateError> {
    let files = MIGRATIONS
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .map(|f| {
            let name = f.path().file_name().unwrap_or_default().to_string_lossy().into_owned();
            (name, f.contents_utf8().unwrap_or_default().to_string())
        });
    from_files(files)
}

/// Orders named files into migrations, refusing bad names and duplicate versions.
pub fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Vec<Migration>, MigrateError> {
    let mut out: Vec<Migration> = vec![];
    for (name, sql) in files {
        let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
        let valid = !digits.is_empty() && name[digits.len()..].starts_with('_') && name.ends_with(".sql");
        let version = digits
            .parse::<i64>()
            .ok()
            .filter(|_| valid)
            .ok_or(MigrateError::BadName { file: name.clone() })?;
        out.push(Migration { version, name, sql });
    }
    out.sort_by_key(|m| m.version);
    for pair in out.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(MigrateError::DuplicateVersion {
                version: pair[0].version,
                first: pair[0].name.clone(),
                second: pair[1].name.clone(),
            });
        }
    }
    Ok(out)
}

/// Applies the embedded migrations, detecting the dialect from the server.
pub async fn run_embedded(client: &Client) -> Result<Report, MigrateError> {
    let target = detect_target(client).await?;
    run(client, target, &embedded()?).await
}

/// DSQL has a `sys` schema with its job views; PostgreSQL does not.
pub async fn detect_target(client: &Client) -> Result<Target, DbError> {
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'sys')", &[])
        .await?;
    Ok(if row.get::<_, bool>(0) {
        Target::Dsql
    } else {
        Target::Postgres
    })
}

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version bigint PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Applies every migration not yet recorded, in version order.
pub async fn run(client: &Client, target: Target, migrations: &[Migration]) -> Result<Report, MigrateError> {
    let policy = RetryPolicy::default();
    retrying(&policy, || async {
        client.batch_execute(CREATE_LEDGER).await.map_err(DbError::from)
    })
    .await?;
    let mut report = Report::default();
    for m in migrations {
        if let Some(applied) = recorded_checksum(client, m.version).await? {
            check_unchanged(m, &applied)?;
            report.already += 1;
            continue;
        }
        let statement = m.statement_for(target);
        let job = retrying(&policy, || async {
            let messages = client.simple_query(&statement).await?;
            Ok::<_, DbError>(job_id(&messages))
        })
        .await
        .map_err(|source| MigrateError::Failed {
            version: m.version,
            name: m.name.clone(),
            source,
        })?;
        if let (Target::Dsql, Some(job)) = (target, job) {
            wait_for_job(client, m, &job).await?;
        }
        let inserted = retrying(&policy, || async {
            client
                .execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3) \
                     ON CONFLICT (version) DO NOTHING",
                    &[&m.version, &m.name, &m.checksum()],
                )
                .await
                .map_err(DbError::from)
        })
        .await?;
        if inserted == 0 {
            // Another runner recorded it first; make sure it recorded the same file.
            if let Some(applied) = recorded_checksum(client, m.version).await? {
                check_unchanged(m, &applied)?;
            }
            report.already += 1;
        } else {
            tracing::info!(version = m.version, name = %m.name, "applied migration");
            report.applied.push(m.name.clone());
        }
    }
    Ok(report)
}

fn check_unchanged(m: &Migration, applied: &str) -> Result<(), MigrateError> {
    let current = m.checksum();
    if applied == current {
        return Ok(());
    }
    Err(MigrateError::Changed {
        version: m.version,
        name: m.name.clone(),
        applied: applied.to_string(),
        current,
    })
}

async fn recorded_checksum(client: &Client, version: i64) -> Result<Option<String>, DbError> {
    let row = client
        .query_opt("SELECT checksum FROM schema_migrations WHERE version = $1", &[&version])
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// `CREATE INDEX ASYNC` answers with a row holding the job id.
fn job_id(messages: &[tokio_postgres::SimpleQueryMessage]) -> Option<String> {
    messages.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
        _ => None,
    })
}

async fn wait_for_job(client: &Client, m: &Migration, job: &str) -> Result<(), MigrateError> {
    let row = client
        .query_one("SELECT sys.wait_for_job($1)", &[&job])
        .await
        .map_err(|e| MigrateError::Failed {
            version: m.version,
            name: m.name.clone(),
            source: e.into(),
        })?;
    if row.get::<_, bool>(0) {
        return Ok(());
    }
    Err(MigrateError::IndexJob {
        version: m.version,
        name: m.name.clone(),
        job: job.to_string(),
    })
}

/// PostgreSQL checks `IF NOT EXISTS` before it creates, so two runners creating the same table
/// at once can see 42P07 (or 42710 for other objects); run again, the check sees the winner's.
fn lost_create_race(e: &DbError) -> bool {
    e.sqlstate().is_some_and(|c| c.code() == "42P07" || c.code() == "42710")
}

/// Runs one autocommit step again while it meets a conflict: DSQL answers OC001 to sessions
/// whose catalog is stale after another runner's DDL, and PostgreSQL may report a concurrent
/// `CREATE ... IF NOT EXISTS` as a unique violation in its catalog.
async fn retrying<T, Fut>(policy: &RetryPolicy, mut step: impl FnMut() -> Fut) -> Result<T, DbError>
where
    Fut: Future<Output = Result<T, DbError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match step().await {
            Err(e) if (e.is_conflict() || lost_create_race(&e)) && attempt < policy.max_attempts => {
                tokio::time::sleep(policy.backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_migrations_are_numbered_and_ordered() {
        let all = embedded().unwrap();
        assert!(all.len() >= 10);
        assert!(all.windows(2).all(|p| p[0].version < p[1].version));
        assert_eq!(all[0].version, 1);
    }

    #[test]
    fn bad_names_and_duplicate_versions_are_refused() {
        let f = |n: &str| (n.to_string(), "SELECT 1".to_string());
        assert!(matches!(
            from_files([f("create.sql")]),
            Err(MigrateError::BadName { .. })
        ));
        assert!(matches!(
            from_files([f("0001create.sql")]),
            Err(MigrateError::BadName { .. })
        ));
        assert!(matches!(
            from_files([f("0001_a.sql"), f("1_b.sql")]),
            Err(MigrateError::DuplicateVersion { version: 1, .. })
        ));
    }

    #[test]
    fn async_is_dropped_only_for_postgres() {
        let m = Migration {
            version: 3,
            name: "0003_x.sql".into(),
            sql: "CREATE UNIQUE INDEX ASYNC IF NOT EXISTS x ON t (a);".into(),
        };
        assert_eq!(m.statement_for(Target::Dsql), m.sql);
        assert_eq!(
            m.statement_for(Target::Postgres),
            "CREATE UNIQUE INDEX IF NOT EXISTS x ON t (a);"
        );
    }
}
