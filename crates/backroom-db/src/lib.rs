//! The shop's store: connections to Aurora DSQL or PostgreSQL, OCC retries, the migration
//! runner and the repositories behind backroom-core's ports.

pub mod connect;
pub mod error;
pub mod migrate;
pub mod pool;
pub mod retry;
pub mod sql;
pub mod store;

pub use connect::{DbConfig, DsqlConfig, DsqlRole, Target};
pub use error::DbError;
pub use pool::{Db, Isolation, RetryStats};
pub use retry::{RetryPolicy, TxError};
pub use store::Store;
