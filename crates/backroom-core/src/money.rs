//! Money is an integer number of minor units in one ISO 4217 currency. There are no floats
//! anywhere in the shop's arithmetic.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount in the minor unit of its currency (cents for EUR, yen for JPY).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cents(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount overflows 64-bit minor units")]
    Overflow,
    #[error("the amount must not be negative")]
    Negative,
    #[error("the amount must be greater than zero")]
    NotPositive,
    #[error("unknown currency {0:?}: use an ISO 4217 code such as EUR or USD")]
    UnknownCurrency(String),
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// An amount that is zero or more.
    pub fn new(minor_units: i64) -> Result<Cents, MoneyError> {
        if minor_units < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Cents(minor_units))
    }

    /// An amount that is more than zero, as every price is.
    pub fn positive(minor_units: i64) -> Result<Cents, MoneyError> {
        if minor_units <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(Cents(minor_units))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Cents) -> Result<Cents, MoneyError> {
        self.0.checked_add(other.0).map(Cents).ok_or(MoneyError::Overflow)
    }

    pub fn checked_mul(self, quantity: u32) -> Result<Cents, MoneyError> {
        self.0
            .checked_mul(i64::from(quantity))
            .map(Cents)
            .ok_or(MoneyError::Overflow)
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An ISO 4217 currency that Stripe can charge in, with its minor-unit exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// ISO 4217 codes with their minor-unit exponents. Stripe's zero-decimal currencies have 0;
/// the three-decimal ones have 3. A code outside this table is refused.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UGX", 0),
    ("USD", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

impl Currency {
    /// Parses a code in any letter case ("eur", as Stripe writes it, or "EUR").
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == upper)
            .map(|&(code, exponent)| Currency { code, exponent })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))
    }

    /// The upper-case ISO code, as stored and shown.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// The lower-case code, as Stripe's API writes it.
    pub fn stripe_code(self) -> String {
        self.code.to_ascii_lowercase()
    }

    /// Number of digits after the decimal point.
    pub fn exponent(self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount together with its currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: Cents,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Cents, currency: Currency) -> Money {
        Money { amount, currency }
    }
}

impl Money {
    /// Reads a decimal amount as providers write it (`"28.00"`, `"28.5"`, `"28"`, or the same
    /// as a JSON number's text) into minor units, exactly: no floats, and more decimal places
    /// than the currency has, a sign or anything else is refused.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Money, String> {
        let s = text.trim();
        let exponent = usize::from(currency.exponent);
        let refuse = |why: &str| format!("{text:?} is not a {} amount: {why}", currency.code());
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse("it must start with digits, with no sign"));
        }
        if s.contains('.') && fraction.is_empty() {
            return Err(refuse("a decimal point must be followed by digits"));
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse("only digits may follow the decimal point"));
        }
        // Trailing zeros past the currency's places ("15.00" yen) change nothing.
        let (kept, rest) = fraction.split_at(fraction.len().min(exponent));
        if rest.bytes().any(|b| b != b'0') {
            return Err(refuse(&format!("{} has {exponent} decimal places", currency.code())));
        }
        let minor: i64 = format!("{whole}{kept:0<exponent$}")
            .parse()
            .map_err(|_| refuse("it is too large"))?;
        Ok(Money::new(Cents(minor), currency))
    }
}

impl fmt::Display for Money {
    /// "12.50 EUR", "1500 JPY", "1.250 KWD".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.currency.exponent);
        let value = self.amount.get();
        if exp == 0 {
            return write!(f, "{value} {}", self.currency);
        }
        let scale = 10_i64.pow(exp);
        let sign = if value < 0 { "-" } else { "" };
        let abs = value.unsigned_abs();
        let scale = scale.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / scale,
            abs % scale,
            self.currency,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_parse_in_any_case_and_unknown_ones_are_refused() {
        assert_eq!(Currency::parse("eur").unwrap().code(), "EUR");
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("kwd").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("XYZ"), Err(MoneyError::UnknownCurrency("XYZ".into())));
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn money_displays_with_the_currency_exponent() {
        let eur = Currency::parse("EUR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::new(Cents::new(1250).unwrap(), eur).to_string(), "12.50 EUR");
        assert_eq!(Money::new(Cents::new(5).unwrap(), eur).to_string(), "0.05 EUR");
        assert_eq!(Money::new(Cents::new(1500).unwrap(), jpy).to_string(), "1500 JPY");
        assert_eq!(Money::new(Cents::new(1250).unwrap(), kwd).to_string(), "1.250 KWD");
    }

    #[test]
    fn arithmetic_is_checked() {
        let max = Cents::new(i64::MAX).unwrap();
        assert_eq!(max.checked_add(Cents::new(1).unwrap()), Err(MoneyError::Overflow));
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(Cents::new(7).unwrap().checked_mul(3).unwrap().get(), 21);
        assert_eq!(Cents::new(-1), Err(MoneyError::Negative));
        assert_eq!(Cents::positive(0), Err(MoneyError::NotPositive));
    }

    #[test]
    fn decimal_amounts_read_exactly_or_not_at_all() {
        let eur = Currency::parse("EUR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        let read = |t: &str, c| Money::parse_decimal(t, c).map(|m| m.amount.get());
        assert_eq!(read("28.00", eur), Ok(2800));
        assert_eq!(read("28.5", eur), Ok(2850));
        assert_eq!(read(" 7 ", eur), Ok(700));
        assert_eq!(read("0.07", eur), Ok(7));
        assert_eq!(read("1500", jpy), Ok(1500));
        for bad in [
            "",
            ".5",
            "28.001",
            "-1.00",
            "1,00",
            "1e3",
            "abc",
            "99999999999999999999",
        ] {
            assert!(read(bad, eur).is_err(), "{bad}");
        }
        assert!(read("15.5", jpy).is_err());
        assert_eq!(read("15.00", jpy), Ok(15));
    }
}
