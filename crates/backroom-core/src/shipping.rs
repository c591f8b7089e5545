//! Shipping: the shop's zones (countries with one flat rate, optionally free above an order
//! subtotal) and the rule that turns a destination and a subtotal into the options a buyer is
//! offered. Stripe Checkout cannot price shipping by the address typed on its page, so the
//! storefront names the destination country, checkout offers that zone's price and Stripe
//! collects addresses in that zone's countries only.

use serde::{Deserialize, Serialize};

use crate::money::{Cents, Currency, Money};

/// One zone: the countries it covers, its flat rate and when shipping is free.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingZone {
    pub name: String,
    /// ISO 3166-1 alpha-2 codes, upper case; a country is in at most one zone.
    pub countries: Vec<String>,
    /// The flat rate, in minor units of `currency`; 0 means always free.
    pub rate: Cents,
    pub currency: Currency,
    /// Orders whose items' subtotal is at least this ship free.
    pub free_above: Option<Cents>,
    /// The delivery estimate shown to the buyer, in business days.
    pub delivery_days: Option<(u32, u32)>,
}

/// One shipping option as Stripe receives it (`shipping_rate_data`): a name, a fixed amount and
/// a delivery estimate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShippingOption {
    pub display_name: String,
    pub amount: Money,
    pub delivery_days: Option<(u32, u32)>,
}

/// Why no shipping can be offered for a checkout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShippingError {
    #[error("the shop does not ship to {0}")]
    NotShipped(String),
    #[error("name the destination country: the shop's shipping price depends on it")]
    CountryNeeded,
    #[error("{0:?} is not a country code: use two letters (ISO 3166-1 alpha-2) such as DE")]
    BadCountry(String),
    #[error("shipping to {zone} is priced in {zone_currency}, the items in {items_currency}")]
    CurrencyMismatch {
        zone: String,
        zone_currency: &'static str,
        items_currency: &'static str,
    },
}

/// A two-letter country code, upper-cased; anything else is refused.
pub fn country_code(raw: &str) -> Result<String, ShippingError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(ShippingError::BadCountry(raw.to_string()))
    }
}

/// The zone that ships to `country`; with no country named, the only zone if there is one.
pub fn zone_for<'a>(zones: &'a [ShippingZone], country: Option<&str>) -> Result<&'a ShippingZone, ShippingError> {
    match country {
        Some(raw) => {
            let code = country_code(raw)?;
            zones
                .iter()
                .find(|z| z.countries.contains(&code))
                .ok_or(ShippingError::NotShipped(code))
        }
        None => match zones {
            [only] => Ok(only),
            _ => Err(ShippingError::CountryNeeded),
        },
    }
}

impl ShippingZone {
    /// What the buyer is offered for items worth `subtotal`: the free option once the subtotal
    /// reaches the threshold (Stripe has no thresholds, so free shipping is an option of its
    /// own), else the zone's rate.
    pub fn options(&self, subtotal: Money) -> Result<Vec<ShippingOption>, ShippingError> {
        if subtotal.currency != self.currency {
            return Err(ShippingError::CurrencyMismatch {
                zone: self.name.clone(),
                zone_currency: self.currency.code(),
                items_currency: subtotal.currency.code(),
            });
        }
        let free = self.rate == Cents::ZERO || self.free_above.is_some_and(|t| subtotal.amount >= t);
        let option = if free {
            ShippingOption {
                display_name: "Free shipping".into(),
                amount: Money::new(Cents::ZERO, self.currency),
                delivery_days: self.delivery_days,
            }
        } else {
            ShippingOption {
                display_name: format!("Shipping ({})", self.name),
                amount: Money::new(self.rate, self.currency),
                delivery_days: self.delivery_days,
            }
        };
        Ok(vec![option])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(n: i64) -> Money {
        Money::new(Cents::new(n).unwrap(), Currency::parse("EUR").unwrap())
    }

    fn zone(name: &str, countries: &[&str], rate: i64, free_above: Option<i64>) -> ShippingZone {
        ShippingZone {
            name: name.into(),
            countries: countries.iter().map(|c| c.to_string()).collect(),
            rate: Cents::new(rate).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            free_above: free_above.map(|n| Cents::new(n).unwrap()),
            delivery_days: Some((3, 7)),
        }
    }

    #[test]
    fn the_destination_picks_the_zone_and_one_zone_needs_no_destination() {
        let zones = [zone("EU", &["DE", "FR"], 490, None), zone("World", &["US"], 1290, None)];
        assert_eq!(zone_for(&zones, Some(" de ")).unwrap().name, "EU");
        assert_eq!(zone_for(&zones, Some("US")).unwrap().name, "World");
        assert_eq!(
            zone_for(&zones, Some("JP")),
            Err(ShippingError::NotShipped("JP".into()))
        );
        assert_eq!(
            zone_for(&zones, Some("DEU")),
            Err(ShippingError::BadCountry("DEU".into()))
        );
        assert_eq!(zone_for(&zones, None), Err(ShippingError::CountryNeeded));
        assert_eq!(zone_for(&zones[..1], None).unwrap().name, "EU");
        assert_eq!(zone_for(&[], None), Err(ShippingError::CountryNeeded));
    }

    #[test]
    fn shipping_is_free_from_the_threshold_on_and_priced_below_it() {
        let z = zone("EU", &["DE"], 490, Some(7500));
        let below = z.options(eur(7499)).unwrap();
        assert_eq!(below.len(), 1);
        assert_eq!(below[0].amount, eur(490));
        assert_eq!(below[0].display_name, "Shipping (EU)");
        let at = z.options(eur(7500)).unwrap();
        assert_eq!(at[0].amount, eur(0));
        assert_eq!(at[0].display_name, "Free shipping");
        assert_eq!(zone("EU", &["DE"], 0, None).options(eur(1)).unwrap()[0].amount, eur(0));
        let usd = Money::new(Cents::new(100).unwrap(), Currency::parse("USD").unwrap());
        assert!(matches!(z.options(usd), Err(ShippingError::CurrencyMismatch { .. })));
    }
}
