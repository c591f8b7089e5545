//! Where an order is shipped: the name and address the buyer entered at checkout, built by the
//! payment provider's client and read by everything that ships, disputes or forgets.

use serde::{Deserialize, Serialize};

/// A shipping name and address. Stored as JSON on the order in exactly this shape, which every
/// stored row has had. Address parts the provider left out are empty strings (some countries
/// have no postal code); an empty second line or state is `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, as the provider sends it.
    pub country: String,
}

impl ShippingAddress {
    /// The address as one text: name, lines, "postal code city", state, country, each trimmed,
    /// empty parts left out ("" when every part is empty).
    pub fn one_line(&self) -> String {
        let part = |p: Option<&str>| p.unwrap_or_default().trim().to_string();
        let city = [part(Some(&self.postal_code)), part(Some(&self.city))]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        [
            part(Some(&self.name)),
            part(Some(&self.line1)),
            part(self.line2.as_deref()),
            city,
            part(self.state.as_deref()),
            part(Some(&self.country)),
        ]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// The parts that say who and where the buyer is, trimmed (the ones erased wherever a copy
    /// of them was written): name, both lines, city and postal code.
    pub fn personal_parts(&self) -> Vec<String> {
        [
            Some(&self.name),
            Some(&self.line1),
            self.line2.as_ref(),
            Some(&self.city),
            Some(&self.postal_code),
        ]
        .into_iter()
        .flatten()
        .map(|p| p.trim().to_string())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ada() -> ShippingAddress {
        ShippingAddress {
            name: "Ada Lovelace".into(),
            line1: " 12 St James's Square ".into(),
            line2: None,
            city: "London".into(),
            state: None,
            postal_code: "SW1Y 4JH".into(),
            country: "GB".into(),
        }
    }

    #[test]
    fn rows_written_before_the_type_read_and_write_back_the_same() {
        let stored = json!({
            "name": "Ada Lovelace", "line1": " 12 St James's Square ", "line2": null, "city": "London",
            "state": null, "postal_code": "SW1Y 4JH", "country": "GB"
        });
        let read: ShippingAddress = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(read, ada());
        assert_eq!(serde_json::to_value(&read).unwrap(), stored);
    }

    #[test]
    fn one_line_leaves_out_empty_parts() {
        assert_eq!(
            ada().one_line(),
            "Ada Lovelace, 12 St James's Square, SW1Y 4JH London, GB"
        );
        let bare = ShippingAddress {
            postal_code: String::new(),
            state: Some("Dublin".into()),
            line2: Some("Flat 2".into()),
            country: "IE".into(),
            ..ada()
        };
        assert_eq!(
            bare.one_line(),
            "Ada Lovelace, 12 St James's Square, Flat 2, London, Dublin, IE"
        );
        let empty = ShippingAddress {
            name: String::new(),
            line1: String::new(),
            line2: None,
            city: String::new(),
            state: None,
            postal_code: String::new(),
            country: String::new(),
        };
        assert_eq!(empty.one_line(), "");
    }

    #[test]
    fn personal_parts_are_trimmed_and_skip_a_missing_second_line() {
        assert_eq!(
            ada().personal_parts(),
            ["Ada Lovelace", "12 St James's Square", "London", "SW1Y 4JH"]
        );
    }
}
