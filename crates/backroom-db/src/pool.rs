//! A small pool of connections: one in a Lambda instance, a few in `backroom dev`. Each new
//! connection gets a fresh token; a connection older than 55 minutes, closed, or refused by the
//! server is replaced.

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use futures::future::BoxFuture;
use tokio_postgres::{IsolationLevel, Transaction};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::connect::{Connection, DbConfig, MAX_CONNECTION_AGE, Target, connect};
use crate::error::DbError;
use crate::retry::{RetryPolicy, TxError};

pub struct Manager {
    config: DbConfig,
    max_age: Duration,
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = DbError;

    async fn create(&self) -> Result<Connection, DbError> {
        connect(&self.config).await
    }

    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<DbError> {
        if conn.client.is_closed() {
            return Err(RecycleError::message("the connection is closed"));
        }
        if conn.is_older_than(self.max_age) {
            return Err(RecycleError::message("the connection is too old"));
        }
        Ok(())
    }
}

/// The isolation level of `Db::with_retry`'s transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Isolation {
    /// Snapshot isolation, as on Aurora DSQL: the default, and the only level used on DSQL.
    #[default]
    RepeatableRead,
    /// PostgreSQL's SERIALIZABLE: every transaction that could not have run in some serial order
    /// fails with 40001, most of them at COMMIT. A local stand-in for DSQL's optimistic
    /// concurrency under contention (`BACKROOM_DB_ISOLATION=serializable` in `backroom dev`),
    /// stricter than DSQL, which only aborts on write-write conflicts.
    Serializable,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::RepeatableRead => "repeatable_read",
            Isolation::Serializable => "serializable",
        }
    }

    /// `repeatable_read` or `serializable` (a dash or a space for the underscore, any case).
    pub fn parse(s: &str) -> Option<Isolation> {
        match s.trim().to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "repeatable_read" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }
}

/// What `Db::with_retry` has done since the handle was made (shared by its clones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetryStats {
    /// Transactions committed.
    pub committed: u64,
    /// Attempts tried again after a conflict or a lost connection.
    pub retries: u64,
    /// Transactions given up after the policy's last attempt.
    pub exhausted: u64,
}

#[derive(Debug, Default)]
struct Counters {
    committed: AtomicU64,
    retries: AtomicU64,
    exhausted: AtomicU64,
}

/// The shop's database handle. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: managed::Pool<Manager>,
    policy: RetryPolicy,
    isolation: Isolation,
    counters: Arc<Counters>,
}

pub type PooledConnection = managed::Object<Manager>;

impl Db {
    /// A handle that opens up to `max_connections` connections, lazily, and replaces each one
    /// before DSQL's 60-minute session limit.
    pub fn new(config: DbConfig, max_connections: usize) -> Db {
        Db::with_max_age(config, max_connections, MAX_CONNECTION_AGE)
    }

    /// As `new`, replacing connections once they are `max_age` old.
    pub fn with_max_age(config: DbConfig, max_connections: usize, max_age: Duration) -> Db {
        let pool = managed::Pool::builder(Manager { config, max_age })
            .max_size(max_connections.max(1))
            .build()
            .expect("a pool without timeouts needs no runtime");
        Db {
            pool,
            policy: RetryPolicy::default(),
            isolation: Isolation::default(),
            counters: Arc::default(),
        }
    }

    /// The isolation level of the transactions of `with_retry` (REPEATABLE READ unless set).
    pub fn with_isolation(mut self, isolation: Isolation) -> Db {
        self.isolation = isolation;
        self
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// The retry loop's counts so far, over every clone of this handle.
    pub fn retry_stats(&self) -> RetryStats {
        RetryStats {
            committed: self.counters.committed.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
            exhausted: self.counters.exhausted.load(Ordering::Relaxed),
        }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Db {
        self.policy = policy;
        self
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// A connection from the pool (opening one if needed).
    pub async fn connection(&self) -> Result<PooledConnection, DbError> {
        self.pool.get().await.map_err(|e| match e {
            managed::PoolError::Backend(e) => e,
            other => DbError::Connect(other.to_string()),
        })
    }

    /// The dialect on the other end.
    pub async fn target(&self) -> Result<Target, DbError> {
        Ok(self.connection().await?.target)
    }

    /// Runs `work` in a REPEATABLE READ transaction (snapshot isolation, as on DSQL; SERIALIZABLE
    /// when the handle says so) and commits.
    /// The whole transaction is tried again, with jittered exponential back-off, when it or its
    /// COMMIT meets a conflict (40001, OC000, OC001, a lost unique-key race) or a lost
    /// connection, up to the policy's attempts. `work` must not call other services: it may run
    /// several times.
    pub async fn with_retry<T, E, F>(&self, mut work: F) -> Result<T, TxError<E>>
    where
        F: for<'t> FnMut(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, TxError<E>>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.attempt(&mut work).await {
                Ok(value) => {
                    self.counters.committed.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                Err(TxError::Abort(e)) => return Err(TxError::Abort(e)),
                Err(TxError::Db(e)) => e,
            };
            if !error.is_retryable() {
                return Err(TxError::Db(error));
            }
            if attempt >= self.policy.max_attempts {
                self.counters.exhausted.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(attempts = attempt, error = %error, "gave up on a transaction after its last attempt");
                return Err(TxError::Db(DbError::RetriesExhausted {
                    attempts: attempt,
                    last: Box::new(error),
                }));
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            crate::sql::charge(0, 0, 1);
            let pause = self.policy.backoff(attempt);
            tracing::debug!(attempt, error = %error, pause_ms = pause.as_millis() as u64, "retrying transaction");
            tokio::time::sleep(pause).await;
        }
    }

    async fn attempt<T, E, F>(&self, work: &mut F) -> Result<T, TxError<E>>
    where
        F: for<'t> FnMut(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, TxError<E>>>,
    {
        let mut conn = self.connection().await?;
        let result = async {
            let tx = conn
                .client
                .build_transaction()
                .isolation_level(match self.isolation {
                    Isolation::RepeatableRead => IsolationLevel::RepeatableRead,
                    Isolation::Serializable => IsolationLevel::Serializable,
                })
                .start()
                .await
                .map_err(DbError::from)?;
            // START TRANSACTION … and, below, COMMIT (or the ROLLBACK of a failed attempt).
            crate::sql::charge(2, 1, 0);
            let value = work(&tx).await?;
            tx.commit().await.map_err(DbError::from)?;
            Ok(value)
        }
        .await;
        if let Err(TxError::Db(e)) = &result
            && e.is_connection_lost()
        {
            // Do not hand a dead or unauthorised connection to the next caller.
            let _ = managed::Object::take(conn);
        }
        result
    }

    /// Runs one write statement on its own, outside an explicit transaction: it commits by
    /// itself (one round trip instead of three). Only for a statement that is idempotent and
    /// needs no other in its transaction; retried as `read` is.
    pub async fn write_alone<T, F>(&self, statement: F) -> Result<T, DbError>
    where
        F: for<'c> FnMut(&'c tokio_postgres::Client) -> BoxFuture<'c, Result<T, DbError>>,
    {
        crate::sql::charge(0, 1, 0);
        self.read(statement).await
    }

    /// Runs a read-only query outside an explicit transaction, retried on a lost connection.
    pub async fn read<T, F>(&self, mut query: F) -> Result<T, DbError>
    where
        F: for<'c> FnMut(&'c tokio_postgres::Client) -> BoxFuture<'c, Result<T, DbError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let conn = self.connection().await;
            let result = match conn {
                Ok(conn) => {
                    let r = query(&conn.client).await;
                    if matches!(&r, Err(e) if e.is_connection_lost()) {
                        let _ = managed::Object::take(conn);
                    }
                    r
                }
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.is_retryable() && attempt < self.policy.max_attempts => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.policy.backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("status", &self.pool.status()).finish()
    }
}
