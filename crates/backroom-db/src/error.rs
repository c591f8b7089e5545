//! Errors of the store, sorted by what the caller should do about them.

use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("could not connect to the database: {0}")]
    Connect(String),
    #[error("could not make a DSQL authentication token: {0}")]
    Token(String),
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted { attempts: u32, last: Box<DbError> },
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

impl DbError {
    pub fn postgres(&self) -> Option<&tokio_postgres::Error> {
        match self {
            DbError::Postgres(e) => Some(e),
            DbError::RetriesExhausted { last, .. } => last.postgres(),
            _ => None,
        }
    }

    pub fn sqlstate(&self) -> Option<&SqlState> {
        self.postgres().and_then(|e| e.code())
    }

    /// A conflict that a fresh attempt of the whole transaction resolves: DSQL's optimistic
    /// concurrency (40001 with OC000 or OC001) and PostgreSQL's serialization failures, and a
    /// unique-key race lost to a concurrent insert.
    pub fn is_conflict(&self) -> bool {
        let Some(e) = self.postgres() else {
            return false;
        };
        if let Some(code) = e.code() {
            // DSQL reports its OCC conflicts as 40001 with the code in the message, and some
            // paths carry OC000/OC001 as the SQLSTATE itself.
            if *code == SqlState::T_R_SERIALIZATION_FAILURE
                || code.code() == "OC000"
                || code.code() == "OC001"
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::UNIQUE_VIOLATION
            {
                return true;
            }
        }
        let text = e.as_db_error().map(|d| d.message()).unwrap_or_default();
        text.contains("(OC000)") || text.contains("(OC001)")
    }

    /// The connection itself is gone or no longer authorised (an expired DSQL token, say): drop
    /// it and try again on a new one.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            DbError::Connect(_) => true,
            DbError::Postgres(e) => {
                if e.is_closed() {
                    return true;
                }
                match e.code() {
                    Some(code) => {
                        *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                            || *code == SqlState::INVALID_PASSWORD
                            || *code == SqlState::ADMIN_SHUTDOWN
                            || *code == SqlState::CRASH_SHUTDOWN
                            || *code == SqlState::CANNOT_CONNECT_NOW
                            || code.code().starts_with("08")
                    }
                    // An I/O error without a server message: the socket broke.
                    None => e.as_db_error().is_none(),
                }
            }
            _ => false,
        }
    }

    /// The retries ran out on conflicts: the database is contended (a burst of checkouts of one
    /// piece, say), not broken, and a caller that comes back in a moment is likely to succeed.
    pub fn is_busy(&self) -> bool {
        matches!(self, DbError::RetriesExhausted { last, .. } if last.is_conflict())
    }

    pub fn is_retryable(&self) -> bool {
        self.is_conflict() || self.is_connection_lost()
    }
}
