//! Statements in one round trip. `Client::query(sql, …)` with a string first asks the server to
//! parse the statement and describe its parameters (a round trip), then binds and executes it (a
//! second one), every time. These functions learn each statement's parameter types once per
//! process and from then on send parse, bind and execute together (`query_typed`: the unnamed
//! statement, one round trip), which is also what Aurora DSQL, which does not keep statement
//! names, handles best. Every statement in the store goes through here.
//!
//! The types are keyed by the SQL text alone. That is sound because the schema uses only
//! PostgreSQL's built-in types, whose OIDs are the same in every database (DSQL has no
//! user-defined types), and because code and schema change together: a new deployment is a new
//! process, which learns the types anew.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, GenericClient, Row};

/// What a piece of work cost the database: statements sent (each a round trip, BEGIN and COMMIT
/// included) and transactions, counted for the task that runs it under [`counted`]. The
/// benchmark and the tests use it to hold the worker to its budget per event; nothing is
/// counted outside `counted`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cost {
    pub statements: u64,
    pub transactions: u64,
    /// Transactions tried again after a conflict or a lost connection (their statements count).
    pub retries: u64,
}

tokio::task_local! {
    static COST: Arc<std::sync::Mutex<Cost>>;
}

/// Runs `work` and returns what it cost the database, counting the statements this task sends
/// (and the tasks it starts through [`inherit`]).
pub async fn counted<F: std::future::Future>(work: F) -> (F::Output, Cost) {
    let cost = Arc::new(std::sync::Mutex::new(Cost::default()));
    let out = COST.scope(cost.clone(), work).await;
    let total = *cost.lock().unwrap_or_else(|p| p.into_inner());
    (out, total)
}

/// `work`, counted with the running task's count when there is one: for a task spawned to do
/// part of the counted work.
pub fn inherit<F: std::future::Future>(work: F) -> impl std::future::Future<Output = F::Output> {
    let current = COST.try_with(Arc::clone).ok();
    async move {
        match current {
            Some(cost) => COST.scope(cost, work).await,
            None => work.await,
        }
    }
}

/// Adds to the running task's count, if it is being counted.
pub(crate) fn charge(statements: u64, transactions: u64, retries: u64) {
    let _ = COST.try_with(|c| {
        let mut cost = c.lock().unwrap_or_else(|p| p.into_inner());
        cost.statements += statements;
        cost.transactions += transactions;
        cost.retries += retries;
    });
}

/// Parameter types by statement text, for the life of the process.
static TYPES: LazyLock<RwLock<HashMap<String, Arc<[Type]>>>> = LazyLock::new(Default::default);

/// Statements whose types are known; for tests.
pub fn learnt() -> usize {
    TYPES.read().unwrap_or_else(|p| p.into_inner()).len()
}

async fn types<C: GenericClient>(c: &C, sql: &str) -> Result<Arc<[Type]>, Error> {
    if let Some(types) = TYPES.read().unwrap_or_else(|p| p.into_inner()).get(sql) {
        return Ok(types.clone());
    }
    let types: Arc<[Type]> = c.prepare(sql).await?.params().into();
    TYPES
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(sql.to_string(), types.clone());
    Ok(types)
}

/// The parameters with their types, or `None` when their number does not match the statement's
/// (then the caller takes the two-trip path, whose error says what is wrong).
fn typed<'a>(params: &[&'a (dyn ToSql + Sync)], types: &[Type]) -> Option<Vec<(&'a (dyn ToSql + Sync), Type)>> {
    (params.len() == types.len()).then(|| params.iter().copied().zip(types.iter().cloned()).collect())
}

/// `query`, in one round trip once the statement is known.
pub async fn query<C: GenericClient>(c: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
    let types = types(c, sql).await?;
    charge(1, 0, 0);
    let Some(typed) = typed(params, &types) else {
        return c.query(sql, params).await;
    };
    c.query_typed(sql, &typed).await
}

/// `query_opt`: at most one row.
pub async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, Error> {
    let types = types(c, sql).await?;
    charge(1, 0, 0);
    let Some(typed) = typed(params, &types) else {
        return c.query_opt(sql, params).await;
    };
    c.query_typed_opt(sql, &typed).await
}

/// `query_one`: exactly one row.
pub async fn query_one<C: GenericClient>(c: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
    let types = types(c, sql).await?;
    charge(1, 0, 0);
    let Some(typed) = typed(params, &types) else {
        return c.query_one(sql, params).await;
    };
    c.query_typed_one(sql, &typed).await
}

/// `execute`: the number of rows changed.
pub async fn execute<C: GenericClient>(c: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
    let types = types(c, sql).await?;
    charge(1, 0, 0);
    let Some(typed) = typed(params, &types) else {
        return c.execute(sql, params).await;
    };
    c.execute_typed(sql, &typed).await
}
