//! The `Stripe-Signature` header parser and the verifier around it, on any text.
//!
//! Properties: parsing never panics; a parsed header written back as `t=…,v1=…` parses to the
//! same timestamp and signatures; the verifier accepts a header only when it carries the right
//! signature for the body, secret and its own timestamp, within the tolerance; and a header made
//! by the project's signer from fuzzed parts is always accepted.

#![no_main]

use backroom_stripe::webhook::{TOLERANCE_SECS, WebhookVerifier, parse_signature_header, signature_header};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

const SECRET: &str = "whsec_fuzz_current";
const NOW: i64 = 1_763_900_000;
const BODY: &[u8] = br#"{"id":"evt_1","object":"event","created":1763900000,"livemode":false,"type":"checkout.session.completed","data":{"object":{"id":"cs_test_1"}}}"#;

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(vec![SecretString::from(SECRET.to_string())], false)
}

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        // The signer's round trip, from raw bytes: a timestamp and a secret of any content.
        if data.len() >= 8 {
            let t = i64::from_le_bytes(data[..8].try_into().unwrap()).rem_euclid(100_000_000_000);
            let secret = String::from_utf8_lossy(&data[8..]).into_owned();
            let made = signature_header(BODY, &secret, t);
            assert_eq!(parse_signature_header(&made).map(|(at, v1)| (at, v1.len())), Ok((t, 1)));
            let v = WebhookVerifier::new(vec![SecretString::from(secret)], false);
            assert!(v.verify(BODY, Some(&made), t).is_ok(), "{made}");
        }
        return;
    };

    let parsed = parse_signature_header(header);
    if let Ok((t, v1)) = &parsed {
        assert!(*t >= 0, "a timestamp is a plain decimal number");
        let mut again = format!("t={t}");
        for s in v1 {
            again.push_str(",v1=");
            again.push_str(&hex::encode(s));
        }
        assert_eq!(parse_signature_header(&again).as_ref(), Ok(&(*t, v1.clone())), "{again}");
    }

    match verifier().verify(BODY, Some(header), NOW) {
        Ok(_) => {
            let (t, v1) = parsed.expect("an accepted header parses");
            assert!((NOW - t).abs() <= TOLERANCE_SECS, "{header}");
            let expected = signature_header(BODY, SECRET, t);
            let expected = expected.split_once(",v1=").unwrap().1;
            assert!(
                v1.iter().any(|s| hex::encode(s) == expected),
                "accepted without the right signature: {header}"
            );
        }
        Err(_) => {
            // A header refused for its form is refused by the parser too, and the other way round.
            if let Ok((t, v1)) = parsed {
                let right = signature_header(BODY, SECRET, t);
                let right = right.split_once(",v1=").unwrap().1.to_string();
                assert!(
                    (NOW - t).abs() > TOLERANCE_SECS || !v1.iter().any(|s| hex::encode(s) == right),
                    "refused although it carries the right, fresh signature: {header}"
                );
            }
        }
    }
});
