//! Identifiers and addresses, parsed once at the edge. A value of these types is always valid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("a SKU is 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' or '.'")]
    Sku,
    #[error("an order id is a UUID (with or without dashes)")]
    OrderId,
    #[error("not a valid email address")]
    Email,
}

/// A stock-keeping unit: the code of one sellable variant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub fn parse(s: &str) -> Result<Sku, IdError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok { Ok(Sku(s.to_string())) } else { Err(IdError::Sku) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sku::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Our id of an order. Its 32-hex-digit form (no dashes) is the Printful `external_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(Uuid);

impl OrderId {
    pub fn new_random() -> OrderId {
        OrderId(Uuid::new_v4())
    }

    pub fn from_uuid(id: Uuid) -> OrderId {
        OrderId(id)
    }

    /// Accepts the dashed form and the 32-hex-digit form.
    pub fn parse(s: &str) -> Result<OrderId, IdError> {
        let s = s.trim();
        if s.len() != 36 && s.len() != 32 {
            return Err(IdError::OrderId);
        }
        Uuid::try_parse(s).map(OrderId).map_err(|_| IdError::OrderId)
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }

    /// The Printful `external_id`: 32 lower-case hex digits.
    pub fn external_id(self) -> String {
        self.0.simple().to_string()
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl FromStr for OrderId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderId::parse(s)
    }
}

/// An email address, checked for shape only (the provider is what proves it reachable).
/// The domain is stored in lower case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, IdError> {
        let s = s.trim();
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(IdError::Email);
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(IdError::Email);
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && !local.contains(['<', '>', '(', ')', '[', ']', ',', ';', ':', '\\', '"']);
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(IdError::Email);
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_short_and_plain() {
        assert!(Sku::parse("TEE-BLK-M").is_ok());
        assert!(Sku::parse("print.a3_v2").is_ok());
        for bad in ["", "has space", "semi;colon", "ü", &"x".repeat(65)] {
            assert_eq!(Sku::parse(bad), Err(IdError::Sku), "{bad:?}");
        }
    }

    #[test]
    fn order_id_round_trips_through_the_printful_external_id() {
        let id = OrderId::new_random();
        let ext = id.external_id();
        assert_eq!(ext.len(), 32);
        assert!(ext.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(OrderId::parse(&ext).unwrap(), id);
        assert_eq!(OrderId::parse(&id.to_string()).unwrap(), id);
        for bad in [
            "",
            "123",
            "not-a-uuid-not-a-uuid-not-a-uuid-xx",
            "{00000000-0000-0000-0000-000000000000}",
        ] {
            assert!(OrderId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert_eq!(Email::parse("Ann@Example.COM").unwrap().as_str(), "Ann@example.com");
        assert!(Email::parse("a.b+tag@shop.co.uk").is_ok());
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@exa mple.com",
            "a..b@example.com",
            "a@-bad.com",
            "a@example..com",
            "<a>@example.com",
            "a@b@c.com",
        ] {
            assert_eq!(Email::parse(bad), Err(IdError::Email), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
