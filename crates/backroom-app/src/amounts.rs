//! The owner's answer to an amount mismatch: after reviewing the payment at Stripe, accept what
//! was paid and let the order go on. The acceptance is a fact on the order's timeline (a state
//! part joined by OR), so it is idempotent and never undone by a later event.

use backroom_core::ports::{ApplyError, OrderStore};
use backroom_core::{Cause, Fact, OrderId};

use crate::fulfillment::Advanced;
use crate::worker::{ProcessError, Worker};

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("no order {0}")]
    NotFound(OrderId),
    #[error("order {0} has no amount mismatch: there is nothing to accept")]
    NoMismatch(OrderId),
    #[error(transparent)]
    Failed(#[from] ProcessError),
}

/// What accepting did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Accepted now; the order then went on as its state says.
    Now(Advanced),
    /// It had been accepted before.
    Already,
}

#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn accept_amount(worker: &Worker, id: OrderId, cause: &Cause) -> Result<Accepted, AcceptError> {
    let Some(order) = worker.store.order(id).await.map_err(ProcessError::from)? else {
        return Err(AcceptError::NotFound(id));
    };
    if !order.state.amount_mismatch {
        return Err(AcceptError::NoMismatch(id));
    }
    if order.state.amount_accepted {
        return Ok(Accepted::Already);
    }
    match worker.store.apply_fact(id, &Fact::AmountAccepted, cause, None).await {
        Ok(_) => {}
        Err(ApplyError::NotFound(id)) => return Err(AcceptError::NotFound(id)),
        Err(ApplyError::Store(e)) => return Err(ProcessError::from(e).into()),
    }
    Ok(Accepted::Now(Box::pin(worker.advance(id)).await?))
}
