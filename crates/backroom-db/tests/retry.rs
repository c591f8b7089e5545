//! `Db::with_retry` against real PostgreSQL conflicts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backroom_db::{Db, DbConfig, DbError, RetryPolicy, TxError};
use backroom_testkit::TestDatabase;
use tokio::sync::Barrier;

async fn db() -> (Db, TestDatabase) {
    let t = TestDatabase::new().await;
    let db = Db::new(DbConfig::Url(t.url.clone().into()), 4);
    (db, t)
}

async fn setup(t: &TestDatabase, sql: &str) {
    t.connect().await.batch_execute(sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_overlapping_transactions_on_one_row_both_land_after_a_retry() {
    let (db, t) = db().await;
    setup(
        &t,
        "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0);",
    )
    .await;
    let attempts = Arc::new(AtomicU32::new(0));
    // Both first attempts take their snapshot before either writes, so one of them must meet
    // a real serialization failure (40001) and run again.
    let barrier = Arc::new(Barrier::new(2));
    let run = |db: Db, attempts: Arc<AtomicU32>, barrier: Arc<Barrier>| async move {
        db.with_retry::<_, (), _>(|tx| {
            let attempts = attempts.clone();
            let barrier = barrier.clone();
            Box::pin(async move {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                tx.query_one("SELECT n FROM counter WHERE id = 1", &[]).await?;
                if n < 2 {
                    barrier.wait().await;
                }
                tx.execute("UPDATE counter SET n = n + 1 WHERE id = 1", &[]).await?;
                Ok(())
            })
        })
        .await
    };
    let (a, b) = tokio::join!(
        tokio::spawn(run(db.clone(), attempts.clone(), barrier.clone())),
        tokio::spawn(run(db.clone(), attempts.clone(), barrier.clone())),
    );
    a.unwrap().unwrap();
    b.unwrap().unwrap();
    let n: i32 = t
        .connect()
        .await
        .query_one("SELECT n FROM counter", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "both increments landed");
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "exactly one transaction was retried"
    );
}

/// A constraint trigger deferred to COMMIT that fails the first `fails` commits the way DSQL
/// fails a conflicting commit. The count lives in a sequence, which a rollback does not undo.
async fn failing_commits(t: &TestDatabase, code: &str, message: &str, fails: i64) {
    setup(
        t,
        &format!(
            "CREATE SEQUENCE commit_attempts;
             CREATE TABLE guarded (id int PRIMARY KEY);
             CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF nextval('commit_attempts') <= {fails} THEN
                 RAISE EXCEPTION USING ERRCODE = '{code}', MESSAGE = '{message}';
               END IF;
               RETURN NULL;
             END $$;
             CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON guarded
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit();"
        ),
    )
    .await;
}

async fn insert_guarded(db: &Db, attempts: &Arc<AtomicU32>) -> Result<(), TxError<()>> {
    db.with_retry(|tx| {
        let attempts = attempts.clone();
        Box::pin(async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            tx.execute("INSERT INTO guarded VALUES (1) ON CONFLICT DO NOTHING", &[])
                .await?;
            Ok(())
        })
    })
    .await
}

#[tokio::test]
async fn a_conflict_reported_at_commit_is_retried() {
    let (db, t) = db().await;
    failing_commits(
        &t,
        "40001",
        "mutation conflicts with another transaction, retry as needed (OC000)",
        2,
    )
    .await;
    let attempts = Arc::new(AtomicU32::new(0));
    insert_guarded(&db, &attempts).await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    let rows = t.connect().await.query("SELECT id FROM guarded", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn a_stale_catalog_oc001_is_retried() {
    let (db, t) = db().await;
    failing_commits(
        &t,
        "OC001",
        "schema has been updated by another transaction, please retry: (OC001)",
        1,
    )
    .await;
    let attempts = Arc::new(AtomicU32::new(0));
    insert_guarded(&db, &attempts).await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn retries_are_bounded() {
    let (db, t) = db().await;
    failing_commits(
        &t,
        "40001",
        "mutation conflicts with another transaction, retry as needed (OC000)",
        1000,
    )
    .await;
    let db = db.with_policy(RetryPolicy {
        max_attempts: 4,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
    });
    let attempts = Arc::new(AtomicU32::new(0));
    let err = insert_guarded(&db, &attempts).await.unwrap_err();
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    match err {
        TxError::Db(DbError::RetriesExhausted { attempts, last }) => {
            assert_eq!(attempts, 4);
            assert!(last.is_conflict());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn other_errors_and_aborts_are_not_retried() {
    let (db, _t) = db().await;
    let attempts = Arc::new(AtomicU32::new(0));
    let err = db
        .with_retry::<(), (), _>(|tx| {
            let attempts = attempts.clone();
            Box::pin(async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                tx.query_one("SELECT 1 / 0", &[]).await?;
                Ok(())
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TxError::Db(DbError::Postgres(_))), "{err:?}");
    assert_eq!(attempts.load(Ordering::SeqCst), 1);

    let err = db
        .with_retry::<(), &str, _>(|_tx| {
            let attempts = attempts.clone();
            Box::pin(async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(TxError::Abort("out of stock"))
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TxError::Abort("out of stock")));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn transactions_run_at_repeatable_read() {
    let (db, _t) = db().await;
    let level = db
        .with_retry::<String, (), _>(|tx| {
            Box::pin(async move { Ok(tx.query_one("SHOW transaction_isolation", &[]).await?.get(0)) })
        })
        .await
        .unwrap();
    assert_eq!(level, "repeatable read");
}

async fn backend_pid(db: &Db) -> i32 {
    db.read(|c| Box::pin(async move { Ok(c.query_one("SELECT pg_backend_pid()", &[]).await?.get(0)) }))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_connection_killed_by_the_server_is_replaced_and_the_work_retried() {
    let t = TestDatabase::new().await;
    let db = Db::new(DbConfig::Url(t.url.clone().into()), 1);
    let first = backend_pid(&db).await;
    // The server ends the session, as DSQL does at 60 minutes or when a token is revoked.
    let admin = t.connect().await;
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let attempts = Arc::new(AtomicU32::new(0));
    let pid = db
        .with_retry::<i32, (), _>(|tx| {
            let attempts = attempts.clone();
            Box::pin(async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                Ok(tx.query_one("SELECT pg_backend_pid()", &[]).await?.get(0))
            })
        })
        .await
        .unwrap();
    assert_ne!(pid, first, "a new connection was opened");
    assert!(attempts.load(Ordering::SeqCst) <= 2);
}

#[tokio::test]
async fn connections_are_renewed_when_they_reach_their_age_limit() {
    let t = TestDatabase::new().await;
    let long = Db::new(DbConfig::Url(t.url.clone().into()), 1);
    assert_eq!(
        backend_pid(&long).await,
        backend_pid(&long).await,
        "a young connection is reused"
    );
    let short = Db::with_max_age(DbConfig::Url(t.url.clone().into()), 1, Duration::ZERO);
    assert_ne!(
        backend_pid(&short).await,
        backend_pid(&short).await,
        "an old connection is replaced"
    );
}
