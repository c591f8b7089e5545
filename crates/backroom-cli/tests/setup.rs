//! `backroom setup webhooks` against the Stripe and Printful simulators, and `backroom setup
//! secrets` and `backroom dlq list` against the local AWS emulator, each run as the owner runs
//! it: the binary, twice, to show that the second run changes nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_ssm::types::ParameterType;
use backroom_aws::SqsQueue;
use backroom_core::ports::{EventQueue, EventSource, QueueMessage};
use backroom_printful::{PrintfulClient, PrintfulSettings};
use backroom_sim::printful::{PrintfulSim, PrintfulSimConfig};
use backroom_sim::{StripeSim, StripeSimConfig};
use backroom_stripe::{StripeClient, StripeSettings};
use backroom_testkit::shared_aws;
use tokio::io::AsyncWriteExt;

const STRIPE_KEY: &str = "sk_test_setup_key";
const PRINTFUL_TOKEN: &str = "pf-setup-token";
const WEBHOOK_TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A directory of its own for each run, so that no `.backroom/dev.json` or `~/.aws` of the
/// machine is read.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("backroom-setup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary with exactly `env` (and nothing else of this process's environment), feeding
/// it `stdin`. Async, so that the simulators in this process keep serving meanwhile.
async fn backroom(env: &[(&str, String)], args: &[&str], stdin: &str) -> Output {
    let dir = scratch();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_backroom"));
    cmd.args(args)
        .current_dir(&dir)
        .env_clear()
        .env("HOME", &dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("backroom finished within a minute")
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    output
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn succeeded(o: &Output) -> String {
    assert!(o.status.success(), "stderr: {}\nstdout: {}", stderr(o), stdout(o));
    stdout(o)
}

/// A failure is exactly one line on stderr and a non-zero exit.
fn failed_with(o: &Output, needle: &str) -> String {
    assert!(!o.status.success(), "expected failure, got: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    err
}

fn posts(sim: &StripeSim) -> usize {
    sim.requests().iter().filter(|r| r.method == "POST").count()
}

fn printful_posts(sim: &PrintfulSim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/webhooks"))
        .count()
}

#[tokio::test]
async fn setup_webhooks_registers_both_once_and_puts_back_what_changed() {
    let (stripe_sim, stripe_base) = StripeSim::serve_loopback(StripeSimConfig::default()).await;
    let (printful_sim, printful_base) = PrintfulSim::serve_loopback(PrintfulSimConfig::default()).await;
    let stripe = StripeClient::new(StripeSettings {
        secret_key: STRIPE_KEY.to_string().into(),
        api_base: Some(stripe_base.clone()),
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    let printful = PrintfulClient::new(PrintfulSettings {
        api_base: Some(printful_base.clone()),
        ..PrintfulSettings::new(PRINTFUL_TOKEN.to_string().into())
    })
    .unwrap();
    let env = [
        ("STRIPE_SECRET_KEY", STRIPE_KEY.to_string()),
        ("STRIPE_API_BASE", stripe_base.clone()),
        ("PRINTFUL_TOKEN", PRINTFUL_TOKEN.to_string()),
        ("PRINTFUL_API_BASE", printful_base.clone()),
        ("PRINTFUL_WEBHOOK_TOKEN", WEBHOOK_TOKEN.to_string()),
        ("WEBHOOK_BASE_URL", "https://api.shop.test/".to_string()),
    ];
    let stripe_url = "https://api.shop.test/webhooks/stripe";
    let printful_url = format!("https://api.shop.test/webhooks/printful/{WEBHOOK_TOKEN}");
    let handled: BTreeSet<String> = backroom_core::StripeEventKind::NAMES
        .iter()
        .map(|t| t.to_string())
        .collect();
    let printful_handled: BTreeSet<String> = backroom_core::PrintfulEventKind::NAMES
        .iter()
        .map(|t| t.to_string())
        .collect();

    let first = succeeded(&backroom(&env, &["setup", "webhooks"], "").await);
    assert!(first.contains("Stripe: created the webhook endpoint we_"), "{first}");
    let secret_line = first
        .lines()
        .find(|l| l.starts_with("Its signing secret, shown only now: whsec_"))
        .unwrap_or_else(|| panic!("the signing secret is printed once: {first}"));
    assert!(secret_line.len() > "Its signing secret, shown only now: whsec_".len());
    assert!(
        first.contains("--name /backroom/stripe/webhook-secrets"),
        "the command to store it names the template's parameter: {first}"
    );
    assert!(
        first.contains(
            "Printful: webhooks now go to https://api.shop.test/webhooks/printful/<PRINTFUL_WEBHOOK_TOKEN> with the 9 event types backroom handles (before: none)"
        ),
        "{first}"
    );
    for secret in [WEBHOOK_TOKEN, STRIPE_KEY, PRINTFUL_TOKEN] {
        assert!(!first.contains(secret), "a secret was printed: {first}");
    }
    let endpoints = stripe.list_webhook_endpoints().await.unwrap();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    let endpoint = &endpoints[0];
    assert_eq!(endpoint.url, stripe_url);
    assert!(endpoint.enabled);
    assert_eq!(endpoint.api_version.as_deref(), Some(backroom_stripe::API_VERSION));
    assert_eq!(
        endpoint.enabled_events.iter().cloned().collect::<BTreeSet<_>>(),
        handled
    );
    let config = printful.webhook_config().await.unwrap();
    assert_eq!(config.url.as_deref(), Some(printful_url.as_str()));
    assert_eq!(config.types.iter().cloned().collect::<BTreeSet<_>>(), printful_handled);

    // A second run reads both sides and writes nothing.
    let (stripe_writes, printful_writes) = (posts(&stripe_sim), printful_posts(&printful_sim));
    let second = succeeded(&backroom(&env, &["setup", "webhooks"], "").await);
    assert!(
        second.contains(&format!(
            "Stripe: the webhook endpoint {} for {stripe_url} is enabled and sends the 6 event types backroom handles: unchanged",
            endpoint.id
        )),
        "{second}"
    );
    assert!(
        second.contains("with the 9 event types backroom handles: unchanged"),
        "{second}"
    );
    assert!(!second.contains("whsec_"), "{second}");
    assert_eq!(posts(&stripe_sim), stripe_writes, "no Stripe write on the second run");
    assert_eq!(
        printful_posts(&printful_sim),
        printful_writes,
        "no Printful write on the second run"
    );

    // Someone disables the endpoint, drops an event type and points Printful elsewhere: the next
    // run puts all of it back, without a second endpoint.
    let partial: Vec<&str> = backroom_core::StripeEventKind::NAMES[..4].to_vec();
    let disabled = stripe
        .update_webhook_endpoint(&endpoint.id, false, &partial)
        .await
        .unwrap();
    assert!(!disabled.enabled);
    printful_sim.set_webhook_url(Some("https://elsewhere.test/hook".into()));
    let third = succeeded(&backroom(&env, &["setup", "webhooks"], "").await);
    assert!(
        third.contains(&format!(
            "Stripe: the webhook endpoint {} for {stripe_url}: enabled it and added the missing event types",
            endpoint.id
        )),
        "{third}"
    );
    assert!(third.contains("(before: https://elsewhere.test/hook)"), "{third}");
    let endpoints = stripe.list_webhook_endpoints().await.unwrap();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    assert!(endpoints[0].enabled);
    assert_eq!(
        endpoints[0].enabled_events.iter().cloned().collect::<BTreeSet<_>>(),
        handled
    );
    assert_eq!(
        printful.webhook_config().await.unwrap().url.as_deref(),
        Some(printful_url.as_str())
    );

    // Only a disabled endpoint: enabling it is all that is done.
    stripe
        .update_webhook_endpoint(&endpoint.id, false, backroom_core::StripeEventKind::NAMES)
        .await
        .unwrap();
    let fourth = succeeded(&backroom(&env, &["setup", "webhooks"], "").await);
    assert!(fourth.contains(": enabled it; it now sends"), "{fourth}");
    assert!(stripe.list_webhook_endpoints().await.unwrap()[0].enabled);
}

#[tokio::test]
async fn setup_webhooks_says_everything_it_misses_in_one_line() {
    let o = backroom(
        &[("STRIPE_SECRET_KEY", STRIPE_KEY.to_string())],
        &["setup", "webhooks"],
        "",
    )
    .await;
    failed_with(
        &o,
        "set WEBHOOK_BASE_URL (or --base-url), PRINTFUL_TOKEN, PRINTFUL_WEBHOOK_TOKEN",
    );
}

#[tokio::test]
async fn the_stripe_simulator_keeps_created_endpoints_and_checks_updates() {
    let dir = scratch();
    let config = StripeSimConfig {
        state_file: Some(dir.join("stripe.json")),
        webhook_url: Some("http://127.0.0.1:9/webhooks/stripe".into()),
        ..StripeSimConfig::default()
    };
    let client = |base: String| {
        StripeClient::new(StripeSettings {
            secret_key: STRIPE_KEY.to_string().into(),
            api_base: Some(base),
            timeout: Duration::from_secs(10),
        })
        .unwrap()
    };
    let (_sim, base) = StripeSim::serve_loopback(config.clone()).await;
    let stripe = client(base);
    let (created, secret) = stripe
        .create_webhook_endpoint(
            "https://api.shop.test/webhooks/stripe",
            &["charge.refunded"],
            backroom_stripe::API_VERSION,
        )
        .await
        .unwrap();
    assert!(secret.is_some_and(|s| secrecy::ExposeSecret::expose_secret(&s).starts_with("whsec_")));
    let listed = stripe.list_webhook_endpoints().await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [created.id.as_str(), "we_1SimBackroomEndpoint0"],
        "newest first, the configured endpoint last"
    );
    let missing = stripe
        .update_webhook_endpoint("we_nothing", true, &["charge.refunded"])
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    let configured = stripe
        .update_webhook_endpoint("we_1SimBackroomEndpoint0", false, &["charge.refunded"])
        .await
        .unwrap_err();
    assert!(
        matches!(configured, backroom_stripe::StripeError::Api { status: 400, .. }),
        "{configured}"
    );
    let bad = stripe
        .create_webhook_endpoint("not a url", &["charge.refunded"], backroom_stripe::API_VERSION)
        .await
        .unwrap_err();
    assert!(
        matches!(bad, backroom_stripe::StripeError::Api { status: 400, .. }),
        "{bad}"
    );

    // Another simulator on the same state file has the endpoint, as Stripe would after a restart.
    let (_again, base) = StripeSim::serve_loopback(config).await;
    let listed = client(base).list_webhook_endpoints().await.unwrap();
    assert!(listed.iter().any(|e| e.id == created.id && e.enabled), "{listed:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn aws_env() -> Vec<(&'static str, String)> {
    let endpoint = tokio::task::spawn_blocking(|| shared_aws().endpoint.clone())
        .await
        .unwrap();
    vec![
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
    ]
}

async fn sdk(env: &[(&str, String)]) -> aws_config::SdkConfig {
    let endpoint = env.iter().find(|(k, _)| *k == "AWS_ENDPOINT_URL").unwrap().1.clone();
    backroom_aws::sdk_defaults()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

/// The value, type and version of a parameter.
async fn parameter(ssm: &aws_sdk_ssm::Client, name: &str) -> Option<(String, ParameterType, i64)> {
    let answer = ssm
        .get_parameters()
        .names(name)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let p = answer.parameters?.into_iter().next()?;
    Some((p.value?, p.r#type?, p.version))
}

#[tokio::test]
async fn setup_secrets_stores_secure_strings_and_a_second_run_changes_nothing() {
    let aws = aws_env().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk(&aws).await);
    let prefix = format!("/backroom-test-{}", uuid::Uuid::new_v4().simple());
    let name = |n: &str| format!("{prefix}/{n}");
    let flags: Vec<String> = [
        ("--stripe-secret-key-param", "stripe/secret-key"),
        ("--stripe-webhook-secrets-param", "stripe/webhook-secrets"),
        ("--printful-token-param", "printful/token"),
        ("--printful-webhook-token-param", "printful/webhook-token"),
        ("--printful-webhook-secret-param", "printful/webhook-secret"),
    ]
    .into_iter()
    .flat_map(|(flag, n)| [flag.to_string(), name(n)])
    .collect();
    let args: Vec<&str> = ["setup", "secrets"]
        .into_iter()
        .chain(flags.iter().map(String::as_str))
        .collect();
    let mut env = aws.clone();
    env.push(("STRIPE_SECRET_KEY", STRIPE_KEY.into()));
    env.push(("PRINTFUL_TOKEN", PRINTFUL_TOKEN.into()));

    // Nothing on stdin: the two optional secrets are left out, the webhook token is made.
    let first = succeeded(&backroom(&env, &args, "").await);
    let expected_first = [
        format!("{}: stored", name("stripe/secret-key")),
        format!(
            "{}: not stored (no value given; `backroom setup webhooks` prints the secret when it creates the endpoint)",
            name("stripe/webhook-secrets")
        ),
        format!("{}: stored", name("printful/token")),
    ];
    for line in &expected_first {
        assert!(first.lines().any(|l| l == line), "missing {line:?} in:\n{first}");
    }
    let generated_prefix = format!(
        "{}: generated and stored; the token, shown only now: ",
        name("printful/webhook-token")
    );
    let token = first
        .lines()
        .find_map(|l| l.strip_prefix(&generated_prefix))
        .unwrap_or_else(|| panic!("no generated token in:\n{first}"))
        .to_string();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !first.contains(STRIPE_KEY) && !first.contains(PRINTFUL_TOKEN),
        "{first}"
    );
    let key = parameter(&ssm, &name("stripe/secret-key")).await.unwrap();
    assert_eq!(key, (STRIPE_KEY.to_string(), ParameterType::SecureString, 1));
    let pf = parameter(&ssm, &name("printful/token")).await.unwrap();
    assert_eq!(pf, (PRINTFUL_TOKEN.to_string(), ParameterType::SecureString, 1));
    let stored_token = parameter(&ssm, &name("printful/webhook-token")).await.unwrap();
    assert_eq!(stored_token, (token.clone(), ParameterType::SecureString, 1));
    assert_eq!(parameter(&ssm, &name("stripe/webhook-secrets")).await, None);
    assert_eq!(parameter(&ssm, &name("printful/webhook-secret")).await, None);

    // The same run again: nothing is written, and the token is kept, not made anew.
    let second = succeeded(&backroom(&env, &args, "").await);
    for line in [
        format!("{}: unchanged", name("stripe/secret-key")),
        format!("{}: unchanged", name("printful/token")),
        format!("{}: kept (no new value given)", name("printful/webhook-token")),
    ] {
        assert!(second.lines().any(|l| l == line), "missing {line:?} in:\n{second}");
    }
    assert!(!second.contains(&token) && !second.contains("generated"), "{second}");
    assert!(!second.contains("recycle"), "{second}");
    for n in ["stripe/secret-key", "printful/token", "printful/webhook-token"] {
        assert_eq!(parameter(&ssm, &name(n)).await.unwrap().2, 1, "{n} was written again");
    }

    // A new key from the environment and the webhook secrets typed on stdin (Enter for the rest).
    let mut rotated = aws.clone();
    rotated.push(("STRIPE_SECRET_KEY", "sk_test_setup_rotated".into()));
    rotated.push(("PRINTFUL_TOKEN", PRINTFUL_TOKEN.into()));
    let third = succeeded(&backroom(&rotated, &args, "whsec_new,whsec_old\n\n\n").await);
    assert!(
        third.contains(&format!("{}: updated", name("stripe/secret-key"))),
        "{third}"
    );
    assert!(
        third.contains(&format!("{}: stored", name("stripe/webhook-secrets"))),
        "{third}"
    );
    assert!(third.contains("recycle those that use a changed one"), "{third}");
    assert!(
        !third.contains("whsec_new") && !third.contains("sk_test_setup_rotated"),
        "{third}"
    );
    assert_eq!(
        parameter(&ssm, &name("stripe/secret-key")).await.unwrap(),
        ("sk_test_setup_rotated".to_string(), ParameterType::SecureString, 2)
    );
    assert_eq!(
        parameter(&ssm, &name("stripe/webhook-secrets")).await.unwrap().0,
        "whsec_new,whsec_old"
    );
    assert_eq!(parameter(&ssm, &name("printful/webhook-token")).await.unwrap().0, token);

    // A publishable key pasted by mistake is refused before anything is written, and not echoed.
    let mut wrong = aws.clone();
    wrong.push(("STRIPE_SECRET_KEY", "pk_test_oops".into()));
    let err = failed_with(&backroom(&wrong, &args, "").await, "STRIPE_SECRET_KEY is not valid");
    assert!(!err.contains("pk_test_oops"), "{err}");
}

#[tokio::test]
async fn setup_webhooks_reads_its_secrets_from_ssm_as_deploy_md_shows() {
    let aws = aws_env().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk(&aws).await);
    let prefix = format!("/backroom-test-{}", uuid::Uuid::new_v4().simple());
    for (name, value) in [
        ("stripe/secret-key", STRIPE_KEY),
        ("printful/token", PRINTFUL_TOKEN),
        ("printful/webhook-token", WEBHOOK_TOKEN),
    ] {
        ssm.put_parameter()
            .name(format!("{prefix}/{name}"))
            .value(value)
            .r#type(ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    let (_stripe_sim, stripe_base) = StripeSim::serve_loopback(StripeSimConfig::default()).await;
    let (_printful_sim, printful_base) = PrintfulSim::serve_loopback(PrintfulSimConfig::default()).await;
    let mut env = aws.clone();
    env.extend([
        ("STRIPE_SECRET_KEY_PARAM", format!("{prefix}/stripe/secret-key")),
        ("PRINTFUL_TOKEN_PARAM", format!("{prefix}/printful/token")),
        (
            "PRINTFUL_WEBHOOK_TOKEN_PARAM",
            format!("{prefix}/printful/webhook-token"),
        ),
        ("STRIPE_API_BASE", stripe_base),
        ("PRINTFUL_API_BASE", printful_base.clone()),
        ("WEBHOOK_BASE_URL", "https://api.shop.test/".into()),
    ]);
    // The webhook secrets' parameter does not exist yet (the endpoint is made here), so it is
    // named by the flag: `STRIPE_WEBHOOK_SECRETS_PARAM` would have it read, and refused.
    let secrets_param = format!("{prefix}/stripe/webhook-secrets");
    let args = [
        "setup",
        "webhooks",
        "--stripe-webhook-secrets-param",
        secrets_param.as_str(),
    ];
    let out = succeeded(&backroom(&env, &args, "").await);
    assert!(out.contains("Stripe: created the webhook endpoint we_"), "{out}");
    assert!(
        out.contains(&format!("--name {prefix}/stripe/webhook-secrets ")),
        "the command to store the secret names the stack's parameter: {out}"
    );
    let printful = PrintfulClient::new(PrintfulSettings {
        api_base: Some(printful_base),
        ..PrintfulSettings::new(PRINTFUL_TOKEN.to_string().into())
    })
    .unwrap();
    assert_eq!(
        printful.webhook_config().await.unwrap().url,
        Some(format!("https://api.shop.test/webhooks/printful/{WEBHOOK_TOKEN}"))
    );
}

#[test]
fn the_default_parameter_names_are_the_templates() {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let default = |p: &str| template["Parameters"][p]["Default"].as_str().unwrap().to_string();
    let names = backroom_app::config::SecretParams::default();
    assert_eq!(names.stripe_secret_key, default("StripeSecretKeyParam"));
    assert_eq!(names.stripe_webhook_secrets, default("StripeWebhookSecretsParam"));
    assert_eq!(names.printful_token, default("PrintfulTokenParam"));
    assert_eq!(names.printful_webhook_token, default("PrintfulWebhookTokenParam"));
    // The template leaves this optional one empty; the proposed name sits beside the others.
    assert_eq!(default("PrintfulWebhookSecretParam"), "");
    assert_eq!(names.printful_webhook_secret, "/backroom/printful/webhook-secret");
}

#[tokio::test]
async fn dlq_list_peeks_at_the_dead_letter_queue_and_leaves_it_as_it_was() {
    let aws = aws_env().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk(&aws).await);
    let url = sqs
        .create_queue()
        .queue_name(format!("dlq-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mut env = aws.clone();
    env.push(("DEAD_LETTER_QUEUE_URL", url.clone()));
    let empty = succeeded(&backroom(&env, &["dlq", "list"], "").await);
    assert_eq!(empty.trim(), "the dead-letter queue is empty");

    let queue = SqsQueue::new(sqs.clone(), &url);
    for (source, id, kind) in [
        (EventSource::Stripe, "evt_dead_1", "checkout.session.completed"),
        (EventSource::Printful, "pf_dead_2", "package_shipped"),
    ] {
        queue
            .send(&QueueMessage {
                source,
                event_id: id.into(),
                event_type: kind.into(),
                body: "{}".into(),
            })
            .await
            .unwrap();
    }
    sqs.send_message()
        .queue_url(&url)
        .message_body("not ours")
        .send()
        .await
        .unwrap();

    let listed = succeeded(&backroom(&env, &["dlq", "list"], "").await);
    assert!(
        listed.starts_with("about 3 message(s) in the dead-letter queue; 3 shown"),
        "{listed}"
    );
    let line = |id: &str| {
        listed
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id}: {listed}"))
    };
    assert!(
        line("evt_dead_1").contains("stripe    checkout.session.completed"),
        "{listed}"
    );
    assert!(line("pf_dead_2").contains("printful  package_shipped"), "{listed}");
    assert!(listed.contains("not a backroom event (message "), "{listed}");

    let json = succeeded(&backroom(&env, &["dlq", "list", "--json"], "").await);
    let body: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(body["approximate_messages"], 3);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{json}");
    let stripe = messages.iter().find(|m| m["event_id"] == "evt_dead_1").unwrap();
    assert_eq!(stripe["source"], "stripe");
    assert_eq!(stripe["event_type"], "checkout.session.completed");
    assert!(stripe["receive_count"].as_u64().is_some_and(|n| n >= 1), "{stripe}");

    // Looking took nothing away.
    let left = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::ApproximateNumberOfMessages]
        .clone();
    assert_eq!(left, "3");
}
