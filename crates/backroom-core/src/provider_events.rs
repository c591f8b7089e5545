//! The providers' events backroom handles: one list per provider, used by the webhook ingest
//! (to keep or drop an event), the worker (which dispatches on it exhaustively, so a new kind
//! cannot be left unhandled), the catch-up jobs, `backroom setup` (which subscribes to exactly
//! these) and the simulators (which send them).

use serde::Serialize;

/// Which provider an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Stripe,
    Printful,
}

crate::names::text_names! {
    EventSource {
        Stripe => "stripe",
        Printful => "printful",
    }
}

/// Defines a kind enum with its names (`ALL`, `as_str`: the provider's name, `parse`, see
/// [`crate::names`]) and `NAMES`.
macro_rules! event_kinds {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        crate::names::text_names! {
            $name {
                $($variant => $text,)+
            }
        }

        impl $name {
            /// The provider's names of every kind, in the order of [`Self::ALL`].
            pub const NAMES: &'static [&'static str] = &[$($text,)+];
        }
    };
}

event_kinds! {
    /// The Stripe events backroom handles. Each is only a hint: the worker re-reads the object.
    StripeEventKind {
        SessionCompleted => "checkout.session.completed",
        AsyncPaymentSucceeded => "checkout.session.async_payment_succeeded",
        AsyncPaymentFailed => "checkout.session.async_payment_failed",
        SessionExpired => "checkout.session.expired",
        ChargeRefunded => "charge.refunded",
        DisputeCreated => "charge.dispute.created",
    }
}

event_kinds! {
    /// The Printful (v1 webhook) events backroom subscribes to: every one that says something
    /// about an order or its packages. Each is only a hint: the worker re-reads the order.
    PrintfulEventKind {
        PackageShipped => "package_shipped",
        /// The parcel came back to Printful: an owner's matter, alerted.
        PackageReturned => "package_returned",
        OrderCreated => "order_created",
        OrderUpdated => "order_updated",
        OrderFailed => "order_failed",
        OrderCanceled => "order_canceled",
        OrderPutHold => "order_put_hold",
        OrderPutHoldApproval => "order_put_hold_approval",
        OrderRemoveHold => "order_remove_hold",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in StripeEventKind::ALL.iter() {
            assert_eq!(StripeEventKind::parse(kind.as_str()), Some(*kind));
        }
        for kind in PrintfulEventKind::ALL.iter() {
            assert_eq!(PrintfulEventKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(StripeEventKind::NAMES.len(), StripeEventKind::ALL.len());
        assert_eq!(PrintfulEventKind::NAMES.len(), PrintfulEventKind::ALL.len());
        assert_eq!(StripeEventKind::parse("charge.succeeded"), None);
        assert_eq!(PrintfulEventKind::parse("stock_updated"), None);
    }
}
