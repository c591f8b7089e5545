//! The `POST /checkout` body parser on any bytes, under any of four content types (the first
//! byte picks one).
//!
//! Properties: it never panics; a refusal is a 4xx, never a 5xx; an accepted order has 1 to
//! `MAX_LINES` lines, each with a quantity from 1 to `MAX_QUANTITY` that is the JSON's own whole
//! number, and a SKU of the catalog's shape (ASCII letters, digits, `-`, `_`, `.`; at most 64);
//! an accepted email parses again to itself; and only a JSON content type is ever accepted.

#![no_main]

use backroom_app::checkout::{MAX_LINES, MAX_QUANTITY, parse_checkout};
use backroom_core::{Email, Sku};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    Some("Application/JSON; charset=utf-8"),
    Some("text/plain"),
    None,
];

fuzz_target!(|data: &[u8]| {
    let Some((pick, body)) = data.split_first() else { return };
    let content_type = CONTENT_TYPES[usize::from(*pick) % CONTENT_TYPES.len()];
    match parse_checkout(content_type, body) {
        Err(e) => assert!(e.status.is_client_error(), "{e:?}"),
        Ok(input) => {
            assert!(usize::from(*pick) % CONTENT_TYPES.len() < 2, "accepted as {content_type:?}");
            assert!(!input.items.is_empty() && input.items.len() <= MAX_LINES);
            let value: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
            let lines = value["items"].as_array().expect("items is a list");
            assert_eq!(lines.len(), input.items.len());
            for (item, line) in input.items.iter().zip(lines) {
                assert!(item.quantity >= 1 && u64::from(item.quantity) <= MAX_QUANTITY, "{item:?}");
                assert_eq!(line["quantity"].as_u64(), Some(u64::from(item.quantity)), "{line}");
                let sku = item.sku.as_str();
                assert!(!sku.is_empty() && sku.len() <= 64);
                assert!(
                    sku.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
                    "{sku:?}"
                );
                assert_eq!(line["sku"].as_str(), Some(sku));
                assert_eq!(Sku::parse(sku).as_ref(), Ok(&item.sku));
            }
            if let Some(email) = &input.email {
                assert_eq!(Email::parse(email.as_str()).as_ref(), Ok(email), "{email:?}");
            }
        }
    }
});
