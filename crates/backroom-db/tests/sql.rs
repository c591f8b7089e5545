//! `backroom_db::sql`: every value type the store uses goes through the one-trip path intact, and
//! after its first use a statement is sent as parse + bind + execute of the unnamed statement,
//! never prepared again (PostgreSQL's own log is the witness).

use std::time::{Duration, Instant};

use backroom_db::{DbConfig, connect::connect, sql};
use backroom_testkit::{create_database_from_template, shared_cluster};
use chrono::{DateTime, Utc};
use serde_json::json;

/// The log lines that mention `marker`, once at least `want` of them contain `until`.
async fn log_lines(marker: &str, until: &str, want: usize) -> Vec<String> {
    let log = shared_cluster().log_file().to_path_buf();
    let began = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains(marker))
            .map(str::to_string)
            .collect();
        if lines.iter().filter(|l| l.contains(until)).count() >= want || began.elapsed() > Duration::from_secs(10) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_known_statement_is_never_prepared_again_and_its_values_come_back_whole() {
    let cluster = tokio::task::spawn_blocking(shared_cluster).await.unwrap();
    let t = create_database_from_template(cluster, "template0").await;
    let c = connect(&DbConfig::Url(t.url.clone().into())).await.unwrap().client;
    let table = format!("one_trip_{}", t.name);
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id uuid PRIMARY KEY, n bigint NOT NULL, small integer, tags text[] NOT NULL, \
         doc jsonb NOT NULL, at timestamptz, ok boolean NOT NULL)"
    ))
    .await
    .unwrap();
    // Each phase of the extended protocol is logged with its statement's name.
    c.batch_execute("SET log_min_duration_statement = 0").await.unwrap();

    let insert = format!("INSERT INTO {table} (id, n, small, tags, doc, at, ok) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    let at: DateTime<Utc> = "2026-11-24T01:02:03.456789Z".parse().unwrap();
    let mut ids = vec![];
    for i in 0..5_i64 {
        let id = uuid::Uuid::new_v4();
        let small = (i % 2 == 0).then_some(i as i32);
        let tags = vec![format!("t{i}"), "ünï".to_string()];
        let doc = json!({"i": i, "nested": {"quote": "it's"}});
        let when = (i != 3).then_some(at);
        let n = sql::execute(
            &c,
            &insert,
            &[&id, &(i * 1_000_000_000_000), &small, &tags, &doc, &when, &true],
        )
        .await
        .unwrap();
        assert_eq!(n, 1);
        ids.push(id);
    }

    let select = format!("SELECT n, small, tags, doc, at, ok FROM {table} WHERE id = ANY($1) ORDER BY n");
    let rows = sql::query(&c, &select, &[&ids]).await.unwrap();
    assert_eq!(rows.len(), 5);
    for (i, row) in rows.iter().enumerate() {
        let i = i as i64;
        assert_eq!(row.get::<_, i64>(0), i * 1_000_000_000_000);
        assert_eq!(row.get::<_, Option<i32>>(1), (i % 2 == 0).then_some(i as i32));
        assert_eq!(row.get::<_, Vec<String>>(2), vec![format!("t{i}"), "ünï".to_string()]);
        assert_eq!(
            row.get::<_, serde_json::Value>(3),
            json!({"i": i, "nested": {"quote": "it's"}})
        );
        assert_eq!(row.get::<_, Option<DateTime<Utc>>>(4), (i != 3).then_some(at));
        assert!(row.get::<_, bool>(5));
    }
    let one = format!("SELECT count(*) FROM {table} WHERE ok = $1");
    assert_eq!(sql::query_one(&c, &one, &[&true]).await.unwrap().get::<_, i64>(0), 5);
    let none = format!("SELECT n FROM {table} WHERE id = $1");
    assert!(
        sql::query_opt(&c, &none, &[&uuid::Uuid::new_v4()])
            .await
            .unwrap()
            .is_none()
    );
    assert!(sql::learnt() >= 4);

    // The insert ran five times: prepared (a named statement, parse s…) once, to learn its
    // types, and executed five times as the unnamed statement.
    let lines = log_lines(&format!("INSERT INTO {table}"), "execute <unnamed>", 5).await;
    let named_parses = lines.iter().filter(|l| l.contains("parse s")).count();
    let unnamed_executes = lines.iter().filter(|l| l.contains("execute <unnamed>")).count();
    let named_executes = lines.iter().filter(|l| l.contains("execute s")).count();
    assert_eq!(
        (named_parses, unnamed_executes, named_executes),
        (1, 5, 0),
        "one prepare, five one-trip executions:\n{}",
        lines.join("\n")
    );

    // A wrong number of parameters is refused with tokio-postgres's own error, nothing written.
    let err = sql::execute(&c, &insert, &[&uuid::Uuid::new_v4()]).await.unwrap_err();
    assert!(err.to_string().contains("expected 7 parameters but got 1"), "{err}");
    assert_eq!(sql::query_one(&c, &one, &[&true]).await.unwrap().get::<_, i64>(0), 5);
}
