//! The collaborators shared by everything that processes provider events (the worker, the
//! catch-up jobs, delivery following, dispute answers, the owner's commands), built once by the
//! wiring. Only the bundle lives here; what each does with it lives in its own module.

use backroom_db::Store;
use backroom_stripe::StripeClient;

use crate::alerts::Alerts;
use crate::fulfillment::Fulfiller;

/// What the worker needs.
#[derive(Clone)]
pub struct Worker {
    pub store: Store,
    pub stripe: StripeClient,
    pub alerts: Alerts,
    pub fulfiller: Fulfiller,
}
