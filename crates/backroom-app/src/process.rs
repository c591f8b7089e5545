//! What processing a provider event can come to when it fails, and the order metrics counted
//! where transitions happen: shared by the worker and the fulfiller, which call each other's
//! results but not each other.

use backroom_aws::emf::Metric;
use backroom_core::OrderStatus;
use backroom_core::ports::Applied;
use backroom_printful::PrintfulError;
use backroom_stripe::StripeError;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Worth another try (the provider or the database failed): the message is failed and comes
    /// back after its visibility timeout, and goes to the dead-letter queue after five tries.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Can never succeed (a message that is not ours): failed, so it ends in the dead-letter
    /// queue where the owner can look at it.
    #[error("{0}")]
    Poison(String),
}

impl From<StripeError> for ProcessError {
    fn from(e: StripeError) -> Self {
        ProcessError::Retry(anyhow::Error::new(e))
    }
}

impl From<backroom_core::ports::StoreError> for ProcessError {
    fn from(e: backroom_core::ports::StoreError) -> Self {
        ProcessError::Retry(e.0)
    }
}

impl From<PrintfulError> for ProcessError {
    fn from(e: PrintfulError) -> Self {
        ProcessError::Retry(anyhow::Error::new(e))
    }
}

/// The owner's order metrics, counted where the transitions happen.
pub fn count_transition(applied: &Applied) {
    let Applied::Transitioned(t) = applied else { return };
    let metric = match t.to {
        OrderStatus::Paid => Metric::OrdersPaid,
        OrderStatus::Submitted => Metric::OrdersSubmitted,
        OrderStatus::Shipped => Metric::OrdersShipped,
        _ => return,
    };
    if t.from != t.to {
        backroom_aws::emf::count(metric, 1);
    }
}
