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

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Stripe => "stripe",
            EventSource::Printful => "printful",
        }
    }
}

/// Defines a kind enum with `ALL`, `as_str` (the provider's name), `parse` and `NAMES`.
macro_rules! event_kinds {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The provider's names of every kind, in the order of [`Self::ALL`].
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            /// The provider's name of the event type.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The kind of an event type; `None` for a type backroom does not handle.
            pub fn parse(event_type: &str) -> Option<$name> {
                match event_type {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
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
        for kind in StripeEventKind::ALL {
            assert_eq!(StripeEventKind::parse(kind.as_str()), Some(*kind));
        }
        for kind in PrintfulEventKind::ALL {
            assert_eq!(PrintfulEventKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(StripeEventKind::NAMES.len(), StripeEventKind::ALL.len());
        assert_eq!(PrintfulEventKind::NAMES.len(), PrintfulEventKind::ALL.len());
        assert_eq!(StripeEventKind::parse("charge.succeeded"), None);
        assert_eq!(PrintfulEventKind::parse("stock_updated"), None);
    }
}
