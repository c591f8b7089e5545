//! Whether an order's packages reached the buyer, from what the carrier says about each one.
//! Pure: the Printful catch-up reads the packages and asks this.

use chrono::{DateTime, Utc};

/// Where one package is, in the words that matter to the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parcel {
    /// The carrier has it, or has said nothing yet.
    OnItsWay,
    /// Delivered at this time.
    Delivered(DateTime<Utc>),
    /// Going back to Printful (`return_to_sender`).
    Returned,
    /// The carrier could not deliver it (`failure`).
    Failed,
    /// Canceled before it left: it never counts.
    Canceled,
}

/// One package of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Package {
    pub parcel: Parcel,
    /// Sent again for items of an earlier package.
    pub reshipment: bool,
}

/// What the packages say about the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every package that counts is delivered; the date is the last delivery's.
    Delivered(DateTime<Utc>),
    /// Not yet, or never as things stand.
    NotYet,
}

/// Delivered when at least one package is delivered and every other package is delivered or
/// canceled, or came back (returned, failed) and a reshipment was sent after it and has been
/// delivered. A package still on its way, or a returned one nobody sent again, keeps the order
/// from being delivered.
pub fn verdict(packages: &[Package]) -> Verdict {
    let delivered_reshipment = packages
        .iter()
        .any(|p| p.reshipment && matches!(p.parcel, Parcel::Delivered(_)));
    let mut last: Option<DateTime<Utc>> = None;
    for p in packages {
        match p.parcel {
            Parcel::Delivered(at) => last = Some(last.map_or(at, |l| l.max(at))),
            Parcel::Canceled => {}
            Parcel::Returned | Parcel::Failed if delivered_reshipment => {}
            Parcel::OnItsWay | Parcel::Returned | Parcel::Failed => return Verdict::NotYet,
        }
    }
    last.map_or(Verdict::NotYet, Verdict::Delivered)
}

/// A package that will not reach the buyer as things stand: the owner must act.
pub fn is_problem(parcel: Parcel) -> bool {
    matches!(parcel, Parcel::Returned | Parcel::Failed)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap()
    }

    fn p(parcel: Parcel) -> Package {
        Package {
            parcel,
            reshipment: false,
        }
    }

    #[test]
    fn delivered_only_when_every_package_that_counts_is() {
        assert_eq!(verdict(&[]), Verdict::NotYet);
        assert_eq!(verdict(&[p(Parcel::Delivered(at(3)))]), Verdict::Delivered(at(3)));
        assert_eq!(
            verdict(&[p(Parcel::Delivered(at(5))), p(Parcel::Delivered(at(3)))]),
            Verdict::Delivered(at(5))
        );
        assert_eq!(
            verdict(&[p(Parcel::Delivered(at(3))), p(Parcel::OnItsWay)]),
            Verdict::NotYet
        );
        assert_eq!(
            verdict(&[p(Parcel::Delivered(at(3))), p(Parcel::Canceled)]),
            Verdict::Delivered(at(3))
        );
        assert_eq!(verdict(&[p(Parcel::Canceled)]), Verdict::NotYet);
    }

    #[test]
    fn a_returned_package_blocks_delivery_until_a_reshipment_arrives() {
        assert_eq!(verdict(&[p(Parcel::Returned)]), Verdict::NotYet);
        let resent = Package {
            parcel: Parcel::Delivered(at(9)),
            reshipment: true,
        };
        assert_eq!(verdict(&[p(Parcel::Returned), resent]), Verdict::Delivered(at(9)));
        assert_eq!(verdict(&[p(Parcel::Failed), resent]), Verdict::Delivered(at(9)));
        assert!(is_problem(Parcel::Returned) && is_problem(Parcel::Failed));
        assert!(!is_problem(Parcel::Delivered(at(1))));
    }
}
