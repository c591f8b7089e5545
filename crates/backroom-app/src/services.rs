//! The collaborators shared by everything that processes provider events (the worker, the
//! catch-up jobs, fulfillment, delivery following, dispute answers, the owner's commands),
//! built once by [`crate::wiring`]. Only the bundle lives here; what each use case does with it
//! lives in its own module (`worker`, `fulfillment`, `catchup`, …), each an `impl Worker` or a
//! function taking `&Worker`.

use backroom_db::Store;
use backroom_printful::PrintfulClient;
use backroom_stripe::StripeClient;

use crate::alerts::Alerts;
use crate::outbox::Outbox;

/// What the worker and the scheduled jobs need.
#[derive(Clone)]
pub struct Worker {
    pub store: Store,
    pub stripe: StripeClient,
    pub printful: PrintfulClient,
    pub alerts: Alerts,
    /// `FULFILLMENT_PAUSED`: paid orders wait until released.
    pub paused: bool,
    /// Order events, published after each transition that makes one.
    pub outbox: Outbox,
}
