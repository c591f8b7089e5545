//! The webhook helpers against fixtures in both payload shapes. The expected signatures were
//! computed with Python's standard library (`hmac.new(bytes.fromhex(secret), body,
//! hashlib.sha256).hexdigest()`), not with this crate, so that a mistake shared by `sign` and
//! `verify_signature` (such as keying with the secret's text instead of its bytes) still fails.

use backroom_printful::webhook::{
    WebhookError, WebhookEvent, authenticate, event_id, parse_event, redact_url, sign, token_matches, verify_signature,
};
use secrecy::SecretString;

const SECRET: &str = "6b8d3f0a9c1e2d4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b";
const BODY: &[u8] = br#"{"type":"order_updated"}"#;
/// Python's HMAC of `BODY` keyed with the hex-decoded `SECRET`.
const BODY_SIGNATURE: &str = "7b43df54697185f6b380b16cdc91d3d5133bf5186c61491f2f83edb7338403bf";
/// The same HMAC keyed with the secret's text, the mistake several integrations make.
const RAW_KEY_SIGNATURE: &str = "b44a9c25f6a54bd689db79a63787b16932e09b55acec113b50c92825e9ef40f1";

const V1_PACKAGE_SHIPPED: &[u8] = include_bytes!("fixtures/v1_package_shipped.json");
const V2_ORDER_CREATED: &[u8] = include_bytes!("fixtures/v2_order_created.json");
const V2_SHIPMENT_SENT: &[u8] = include_bytes!("fixtures/v2_shipment_sent.json");
/// Python's HMAC of the `v2_order_created.json` fixture's bytes; reformatting the file changes it.
const V2_ORDER_CREATED_SIGNATURE: &str = "cfdbbb4b7b7bae46f322536495c701935b604828e5ed0a443ef8e846c1c209f1";

fn secret() -> SecretString {
    SecretString::from(SECRET)
}

#[test]
fn signatures_match_an_independent_hmac() {
    assert_eq!(sign(SECRET, BODY), BODY_SIGNATURE);
    assert_eq!(sign(SECRET, V2_ORDER_CREATED), V2_ORDER_CREATED_SIGNATURE);
    assert_eq!(verify_signature(&secret(), BODY, BODY_SIGNATURE), Ok(()));
    assert_eq!(
        verify_signature(&secret(), V2_ORDER_CREATED, V2_ORDER_CREATED_SIGNATURE),
        Ok(())
    );
    // Hex case and surrounding space in the header do not matter.
    assert_eq!(
        verify_signature(&secret(), BODY, &format!(" {} ", BODY_SIGNATURE.to_uppercase())),
        Ok(())
    );
}

#[test]
fn bad_signatures_are_refused() {
    let tampered = br#"{"type":"order_canceled"}"#;
    assert_eq!(
        verify_signature(&secret(), tampered, BODY_SIGNATURE),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        verify_signature(&secret(), BODY, RAW_KEY_SIGNATURE),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        verify_signature(&secret(), BODY, "not hex"),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(verify_signature(&secret(), BODY, ""), Err(WebhookError::BadSignature));
    assert_eq!(
        verify_signature(&secret(), BODY, &BODY_SIGNATURE[..32]),
        Err(WebhookError::BadSignature)
    );
    let other = SecretString::from("00".repeat(32));
    assert_eq!(
        verify_signature(&other, BODY, BODY_SIGNATURE),
        Err(WebhookError::BadSignature)
    );
}

#[test]
fn with_a_secret_configured_the_signature_is_required() {
    let s = secret();
    // Leaving the header out must not downgrade a signed webhook to a token-only one.
    assert_eq!(authenticate(Some(&s), BODY, None), Err(WebhookError::MissingSignature));
    assert_eq!(authenticate(Some(&s), BODY, Some(BODY_SIGNATURE)), Ok(()));
    assert_eq!(authenticate(Some(&s), BODY, Some("")), Err(WebhookError::BadSignature));
    assert_eq!(
        authenticate(Some(&s), br#"{"type":"order_canceled"}"#, Some(BODY_SIGNATURE)),
        Err(WebhookError::BadSignature)
    );
    // A configured secret that is not hex refuses everything, signed or not.
    let broken = SecretString::from("whsec_not_hex");
    assert_eq!(
        authenticate(Some(&broken), BODY, None),
        Err(WebhookError::InvalidSecret)
    );
    assert_eq!(
        authenticate(Some(&broken), BODY, Some(BODY_SIGNATURE)),
        Err(WebhookError::InvalidSecret)
    );
}

#[test]
fn without_a_secret_the_url_token_alone_authenticates() {
    assert_eq!(authenticate(None, BODY, None), Ok(()));
    // A signature cannot be checked without the secret, so a signed request is refused.
    assert_eq!(
        authenticate(None, BODY, Some(BODY_SIGNATURE)),
        Err(WebhookError::SecretNotConfigured)
    );
}

#[test]
fn a_secret_that_is_not_hex_is_a_setup_error() {
    for bad in ["", "whsec_not_hex", "abc"] {
        assert_eq!(
            verify_signature(&SecretString::from(bad), BODY, BODY_SIGNATURE),
            Err(WebhookError::InvalidSecret),
            "{bad:?}"
        );
    }
}

#[test]
fn tokens_match_only_exactly() {
    let expected = SecretString::from("s3cr3t-token-of-some-length");
    assert!(token_matches(&expected, "s3cr3t-token-of-some-length"));
    assert!(!token_matches(&expected, "s3cr3t-token-of-some-lengtH"));
    assert!(!token_matches(&expected, "s3cr3t-token"));
    assert!(!token_matches(&expected, "s3cr3t-token-of-some-length-and-more"));
    assert!(!token_matches(&expected, ""));
    assert!(!token_matches(&SecretString::from(""), ""));
}

#[test]
fn v1_events_are_read_with_the_full_order() {
    let e = parse_event(V1_PACKAGE_SHIPPED).expect("a v1 event");
    assert_eq!(
        e,
        WebhookEvent {
            event_type: "package_shipped".into(),
            created: 1622456737,
            order_id: Some(13),
            external_id: Some("4235234213".into()),
            shipment_id: Some(10),
            reason: None,
        }
    );
    let failed = br#"{"type":"order_failed","created":"1700000000","retries":0,"store":1,
        "data":{"reason":"Invalid address","order":{"id":"5","external_id":"","status":"failed"}}}"#;
    let e = parse_event(failed).expect("a v1 event with string numbers");
    assert_eq!(e.created, 1700000000);
    assert_eq!(e.order_id, Some(5));
    assert_eq!(e.external_id, None, "an empty external id is no external id");
    assert_eq!(e.reason.as_deref(), Some("Invalid address"));
}

#[test]
fn v2_events_are_read_with_the_small_order() {
    let e = parse_event(V2_ORDER_CREATED).expect("a v2 event");
    assert_eq!(e.event_type, "order_created");
    assert_eq!(e.created, 1680611802, "occurred_at 2023-04-04T12:36:42Z");
    assert_eq!(e.order_id, Some(11111));
    assert_eq!(e.external_id, None);
    let e = parse_event(V2_SHIPMENT_SENT).expect("a v2 shipment event");
    assert_eq!(e.order_id, Some(90630659));
    assert_eq!(e.external_id.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    assert_eq!(e.shipment_id, Some(77001));
}

#[test]
fn malformed_bodies_are_refused() {
    for body in [
        &b"not json"[..],
        b"[]",
        br#"{"created":1}"#,
        br#"{"type":"order_updated"}"#,
        br#"{"type":"","created":1}"#,
    ] {
        assert!(
            matches!(parse_event(body), Err(WebhookError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn event_ids_ignore_retries_but_not_what_happened() {
    let original = String::from_utf8(V1_PACKAGE_SHIPPED.to_vec()).unwrap();
    let redelivered = original.replace(r#""retries": 2"#, r#""retries": 3"#);
    assert_ne!(
        original, redelivered,
        "the fixture has the retries field this test changes"
    );
    let first = event_id(&parse_event(original.as_bytes()).unwrap());
    assert_eq!(first, "package_shipped:13:10:1622456737");
    assert_eq!(event_id(&parse_event(redelivered.as_bytes()).unwrap()), first);

    let later = original.replace(r#""created": 1622456737"#, r#""created": 1622456738"#);
    assert_ne!(event_id(&parse_event(later.as_bytes()).unwrap()), first);
    let other_shipment = original.replace(r#""id": 10,"#, r#""id": 11,"#);
    assert_ne!(event_id(&parse_event(other_shipment.as_bytes()).unwrap()), first);

    let by_external_id =
        parse_event(br#"{"type":"order_updated","created":5,"data":{"order":{"external_id":"abc"}}}"#).unwrap();
    assert_eq!(event_id(&by_external_id), "order_updated:@abc:-:5");
}

#[test]
fn redacted_webhook_urls_never_carry_a_token() {
    assert_eq!(
        redact_url("https://api.example/webhooks/printful/0123456789abcdef"),
        "https://api.example/webhooks/printful/<token>"
    );
    assert_eq!(
        redact_url("https://api.example/webhooks/printful/0123456789abcdef?x=1"),
        "https://api.example/webhooks/printful/<token>"
    );
    assert_eq!(
        redact_url("https://elsewhere.example/hook"),
        "https://elsewhere.example/hook"
    );
}
