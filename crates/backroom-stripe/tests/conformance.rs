//! Conformance of the webhook verifier with code nobody here wrote: headers are made at test time
//! by the official Stripe Python library (stripe-python, from the project venv that
//! `scripts/setup` installs) and by async-stripe, and our own signer is checked by
//! stripe-python's verifier. Headers are only valid for five minutes, so nothing is pre-signed.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use backroom_stripe::webhook::{WebhookError, WebhookVerifier, signature_header};
use secrecy::SecretString;

const SECRET: &str = "whsec_conformance_current_8b1f";
const OLD_SECRET: &str = "whsec_conformance_previous_2c7a";
const FIXTURE: &[u8] = include_bytes!("fixtures/checkout_session_completed.json");

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn verifier(secrets: &[&str]) -> WebhookVerifier {
    WebhookVerifier::new(
        secrets.iter().map(|s| SecretString::from(s.to_string())).collect(),
        false,
    )
}

/// The venv's Python: `$BACKROOM_VENV/bin/python`, else `<workspace>/.venv/bin/python`.
fn venv_python() -> PathBuf {
    let venv = std::env::var_os("BACKROOM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} does not exist: the Stripe conformance tests need the project venv with stripe-python; run ./scripts/test (or scripts/setup) first",
        python.display()
    );
    python
}

/// Runs a Python snippet in the venv with `stdin` as its input and returns its standard output.
fn run_python(script: &str, stdin: &[u8], args: &[String]) -> String {
    let python = venv_python();
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}; run ./scripts/test", python.display()));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "stripe-python failed ({}); run ./scripts/test to install it into the venv:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Headers made by `stripe.WebhookSignature.generate_signature_header`, one per
/// `(secret, timestamp)`; no timestamp means stripe-python's own clock.
fn python_headers(payload: &[u8], specs: &[(&str, Option<i64>)]) -> Vec<String> {
    const SCRIPT: &str = r#"
import sys
import stripe
assert hasattr(stripe.WebhookSignature, "generate_signature_header"), "stripe-python >= 16 is needed"
payload = sys.stdin.buffer.read().decode("utf-8")
for spec in sys.argv[1:]:
    secret, _, ts = spec.partition("@")
    if ts:
        print(stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=int(ts)))
    else:
        print(stripe.WebhookSignature.generate_signature_header(payload, secret))
"#;
    let args: Vec<String> = specs
        .iter()
        .map(|(secret, ts)| format!("{secret}@{}", ts.map(|t| t.to_string()).unwrap_or_default()))
        .collect();
    let out = run_python(SCRIPT, payload, &args);
    let headers: Vec<String> = out.lines().map(str::to_string).collect();
    assert_eq!(headers.len(), specs.len(), "stripe-python printed {out:?}");
    headers
}

fn v1_of(header: &str) -> &str {
    header
        .split(',')
        .find_map(|e| e.strip_prefix("v1="))
        .unwrap_or_else(|| panic!("no v1 in {header}"))
}

fn t_of(header: &str) -> &str {
    header
        .split(',')
        .find_map(|e| e.strip_prefix("t="))
        .unwrap_or_else(|| panic!("no t in {header}"))
}

#[test]
fn headers_from_stripe_python_are_accepted_and_rejected_as_stripe_means() {
    let now = now();
    let [fresh, old_at, new_at, stale, wrong] = python_headers(
        FIXTURE,
        &[
            (SECRET, None),
            (OLD_SECRET, Some(now)),
            (SECRET, Some(now)),
            (SECRET, Some(now - 301)),
            ("whsec_somebody_else", None),
        ],
    )
    .try_into()
    .unwrap();
    let v = verifier(&[SECRET]);

    // Accepted: a fresh header.
    let env = v
        .verify(FIXTURE, Some(&fresh), now)
        .expect("a fresh stripe-python header");
    assert_eq!(env.event_type, "checkout.session.completed");
    assert_eq!(
        env.object_id,
        "cs_test_a1Qz8Yx0Lm3Np5Rt7Vw9Bc2Df4Gh6Jk8Mn0Pq2Rs4Tu6Vw8Xy0Za2Bc4De6Fg"
    );

    // Accepted: a rotation header carrying the old and the new secret's signature, with ours
    // first and with ours last.
    let (old_sig, new_sig) = (v1_of(&old_at), v1_of(&new_at));
    assert_eq!(t_of(&old_at), t_of(&new_at));
    let t = t_of(&new_at);
    for header in [
        format!("t={t},v1={new_sig},v1={old_sig}"),
        format!("t={t},v1={old_sig},v1={new_sig}"),
    ] {
        assert!(
            v.verify(FIXTURE, Some(&header), now).is_ok(),
            "rotation header {header}"
        );
    }
    // And the verifier still holding only the old secret accepts the same rotation header.
    assert!(
        verifier(&[OLD_SECRET])
            .verify(FIXTURE, Some(&format!("t={t},v1={new_sig},v1={old_sig}")), now)
            .is_ok()
    );

    // Accepted: Stripe's test-mode header with an extra v0.
    let with_v0 = format!("{new_at},v0={}", v1_of(&wrong));
    assert!(v.verify(FIXTURE, Some(&with_v0), now).is_ok(), "{with_v0}");

    // Rejected: 301 seconds old.
    assert!(matches!(v.verify(FIXTURE, Some(&stale), now), Err(WebhookError::Stale { age_secs }) if age_secs >= 301));

    // Rejected: signed with another secret.
    assert_eq!(v.verify(FIXTURE, Some(&wrong), now), Err(WebhookError::BadSignature));

    // Rejected: one byte of the body changed after signing.
    let mut tampered = FIXTURE.to_vec();
    let at = tampered.windows(4).position(|w| w == b"4500").unwrap();
    tampered[at] = b'5';
    assert_eq!(v.verify(&tampered, Some(&fresh), now), Err(WebhookError::BadSignature));

    // Rejected: only a v0 signature, even one made with the right secret.
    assert_eq!(
        v.verify(FIXTURE, Some(&format!("t={t},v0={new_sig}")), now),
        Err(WebhookError::NoSignature)
    );

    // Rejected: malformed and missing headers.
    for malformed in [
        new_sig.to_string(),
        format!("t=soon,v1={new_sig}"),
        format!("t={t};v1={new_sig}"),
    ] {
        assert_eq!(
            v.verify(FIXTURE, Some(&malformed), now),
            Err(WebhookError::MalformedHeader),
            "{malformed}"
        );
    }
    assert_eq!(v.verify(FIXTURE, None, now), Err(WebhookError::MissingHeader));
}

#[test]
fn our_signer_matches_stripe_python_byte_for_byte_and_passes_its_verifier() {
    let now = now();
    let [python] = python_headers(FIXTURE, &[(SECRET, Some(now))]).try_into().unwrap();
    let ours = signature_header(FIXTURE, SECRET, now);
    assert_eq!(ours, python);

    const VERIFY: &str = r#"
import sys
import stripe
payload = sys.stdin.buffer.read()
header, secret = sys.argv[1], sys.argv[2]
try:
    stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=300)
    print("accepted")
except stripe.SignatureVerificationError as e:
    print("rejected:", e)
"#;
    let verdict = |header: &str, secret: &str| run_python(VERIFY, FIXTURE, &[header.to_string(), secret.to_string()]);
    assert_eq!(verdict(&ours, SECRET).trim(), "accepted");
    assert!(verdict(&ours, OLD_SECRET).starts_with("rejected"));
}

#[test]
fn async_stripe_and_our_verifier_agree() {
    let now = now();
    let payload = std::str::from_utf8(FIXTURE).unwrap();
    let v = verifier(&[SECRET]);

    // async-stripe's test header is accepted by ours.
    let theirs = stripe_webhook::Webhook::generate_test_header(payload, SECRET, Some(now));
    assert!(v.verify(FIXTURE, Some(&theirs), now).is_ok(), "{theirs}");
    assert_eq!(theirs, signature_header(FIXTURE, SECRET, now));

    // Ours passes async-stripe's signature and time checks. It may still stop at typing the
    // object, since this crate is built without the checkout types, but only after both checks.
    let ours = signature_header(FIXTURE, SECRET, now);
    match stripe_webhook::Webhook::construct_event_with_timestamp(payload, &ours, SECRET, now) {
        Ok(event) => assert_eq!(event.id.as_str(), "evt_1SXk2bQ4nWm7Yt3rKp0aZc9D"),
        Err(stripe_webhook::WebhookError::BadParse(_)) => {}
        Err(other) => panic!("async-stripe refused our header: {other}"),
    }

    // Both refuse 301 seconds, in either direction.
    for t in [now - 301, now + 301] {
        let header = signature_header(FIXTURE, SECRET, t);
        assert!(matches!(
            stripe_webhook::Webhook::construct_event_with_timestamp(payload, &header, SECRET, now),
            Err(stripe_webhook::WebhookError::BadTimestamp(_))
        ));
        assert!(matches!(
            v.verify(FIXTURE, Some(&header), now),
            Err(WebhookError::Stale { .. })
        ));
    }
}
