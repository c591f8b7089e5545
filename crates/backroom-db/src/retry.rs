//! The retry policy of `Db::with_retry` and the error a transaction body returns.

use std::time::Duration;

use rand::Rng;

use crate::error::DbError;

/// What a transaction body can fail with: the store, or a decision of the body itself (out of
/// stock, say) that rolls the transaction back and is never retried.
#[derive(Debug, thiserror::Error)]
pub enum TxError<E> {
    #[error(transparent)]
    Db(DbError),
    #[error("{0}")]
    Abort(E),
}

impl<E> From<DbError> for TxError<E> {
    fn from(e: DbError) -> Self {
        TxError::Db(e)
    }
}

impl<E> From<tokio_postgres::Error> for TxError<E> {
    fn from(e: tokio_postgres::Error) -> Self {
        TxError::Db(DbError::Postgres(e))
    }
}

/// Jittered exponential back-off with a bound on attempts.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(4),
            cap: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// The pause after the given failed attempt (1-based): a random time between half and all of
    /// `base * 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let ceiling = exp.min(self.cap);
        let half = ceiling / 2;
        let jitter = rand::rng().random_range(0..=half.as_micros() as u64);
        half + Duration::from_micros(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let p = RetryPolicy::default();
        for attempt in 1..40 {
            let d = p.backoff(attempt);
            assert!(d <= p.cap, "{attempt}: {d:?}");
            let ceiling = p.base.saturating_mul(1 << (attempt - 1).min(16)).min(p.cap);
            assert!(d >= ceiling / 2, "{attempt}: {d:?}");
        }
    }
}
