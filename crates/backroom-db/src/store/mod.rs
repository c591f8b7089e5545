//! The repositories: backroom-core's ports on PostgreSQL / Aurora DSQL. Every write runs in
//! `Db::with_retry`, so it is retried on OCC conflicts and must be (and is) idempotent.

mod alerts;
mod catalog;
pub mod delivery;
mod events;
pub mod forget;
mod inbox;
mod orders;
mod reconcile;
pub mod status;
mod sweep;
mod work;

use backroom_core::ports::StoreError;

use crate::error::DbError;
use crate::pool::Db;
use crate::retry::TxError;

/// The store: one handle implements every port.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

impl Store {
    pub fn new(db: Db) -> Store {
        Store { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        StoreError(anyhow::Error::new(e))
    }
}

/// A transaction error whose abort cannot happen, as a store error.
fn store_err(e: TxError<std::convert::Infallible>) -> StoreError {
    match e {
        TxError::Db(e) => e.into(),
        TxError::Abort(never) => match never {},
    }
}
