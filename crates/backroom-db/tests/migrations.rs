//! The migration runner against real PostgreSQL, and the migrations against both linters.

use std::path::PathBuf;
use std::process::Command;

use backroom_db::migrate::{self, MigrateError, Migration, lint};
use backroom_db::{DbConfig, Target, connect::connect};
use backroom_testkit::{TestDatabase, create_database_from_template, shared_cluster};

async fn empty_database() -> TestDatabase {
    let cluster = tokio::task::spawn_blocking(shared_cluster).await.unwrap();
    create_database_from_template(cluster, "template0").await
}

async fn client(t: &TestDatabase) -> tokio_postgres::Client {
    connect(&DbConfig::Url(t.url.clone().into())).await.unwrap().client
}

#[tokio::test]
async fn a_second_run_applies_nothing() {
    let t = empty_database().await;
    let c = client(&t).await;
    let all = migrate::embedded().unwrap();
    let first = migrate::run_embedded(&c).await.unwrap();
    assert_eq!(first.applied.len(), all.len());
    let second = migrate::run_embedded(&c).await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.already, all.len());
    let recorded: i64 = c
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded as usize, all.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_at_once_both_succeed_and_record_each_file_once() {
    let t = empty_database().await;
    let (a, b, c) = (client(&t).await, client(&t).await, client(&t).await);
    let (ra, rb, rc) = tokio::join!(
        migrate::run_embedded(&a),
        migrate::run_embedded(&b),
        migrate::run_embedded(&c)
    );
    let reports = [ra.unwrap(), rb.unwrap(), rc.unwrap()];
    let all = migrate::embedded().unwrap();
    let applied: usize = reports.iter().map(|r| r.applied.len()).sum();
    assert_eq!(
        applied,
        all.len(),
        "each file recorded by exactly one runner: {reports:?}"
    );
    let recorded: i64 = a
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded as usize, all.len());
    let tables: i64 = a
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'orders'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 1);
}

#[tokio::test]
async fn a_changed_applied_file_is_refused() {
    let t = empty_database().await;
    let c = client(&t).await;
    migrate::run_embedded(&c).await.unwrap();
    let mut changed = migrate::embedded().unwrap();
    changed[1].sql.push_str("\n-- edited after it was applied\n");
    let err = migrate::run(&c, Target::Postgres, &changed).await.unwrap_err();
    match err {
        MigrateError::Changed { version, name, .. } => {
            assert_eq!(version, 2);
            assert_eq!(name, changed[1].name);
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_new_file_is_applied_after_the_others_and_async_is_rewritten() {
    let t = empty_database().await;
    let c = client(&t).await;
    let mut all = migrate::embedded().unwrap();
    migrate::run(&c, Target::Postgres, &all).await.unwrap();
    all.push(Migration {
        version: 9999,
        name: "9999_index_orders_email.sql".into(),
        sql: "CREATE INDEX ASYNC IF NOT EXISTS orders_email_idx ON orders (email);".into(),
    });
    let report = migrate::run(&c, Target::Postgres, &all).await.unwrap();
    assert_eq!(report.applied, ["9999_index_orders_email.sql"]);
    let idx: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_email_idx'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(idx, 1);
    let unnamed: i64 = c
        .query_one("SELECT count(*) FROM pg_indexes WHERE indexname = 'async'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unnamed, 0);
}

#[test]
fn every_migration_obeys_the_project_rules() {
    let mut violations = vec![];
    for m in migrate::embedded().unwrap() {
        violations.extend(lint::lint(&format!("migrations/{}", m.name), &m.sql));
    }
    let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(text.is_empty(), "migration rule violations:\n{}", text.join("\n"));
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// AWS's dsql-lint, installed in the project's venv by ./scripts/test (or named by DSQL_LINT).
fn dsql_lint() -> PathBuf {
    let path = std::env::var_os("DSQL_LINT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/dsql-lint"));
    assert!(
        path.exists(),
        "dsql-lint not found at {}: run ./scripts/test, which installs it into .venv",
        path.display()
    );
    path
}

#[test]
fn every_migration_passes_aws_dsql_lint() {
    let dir = workspace().join("migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let out = Command::new(dsql_lint()).args(&files).output().unwrap();
    assert!(
        out.status.success(),
        "dsql-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dsql_lint_catches_what_dsql_refuses() {
    // The same linter, on a file DSQL would refuse, must fail: it is really running.
    let dir = std::env::temp_dir().join(format!("dsql-lint-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("0001_bad.sql");
    std::fs::write(&file, "CREATE TABLE t (id serial PRIMARY KEY);\n").unwrap();
    let out = Command::new(dsql_lint()).arg(&file).output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("SERIAL"), "{said}");
}
