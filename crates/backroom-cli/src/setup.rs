//! `backroom setup secrets` and `backroom setup webhooks`: the deploy steps that talk to SSM,
//! Stripe and Printful rather than to the database (docs/deploy.md, steps 2 and 5). Both are
//! safe to run again: a second run with the same inputs changes nothing.
//!
//! Secret values are never printed, with one exception each: a Printful webhook token this
//! command generates, and a Stripe signing secret Stripe returns when the endpoint is created.
//! Neither can be read back later from here, so each is shown once, when it is made.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, anyhow, bail};
use aws_sdk_ssm::types::ParameterType;
use backroom_app::Config;
use backroom_app::config::SecretParams;
use backroom_app::wiring;
use backroom_printful::PrintfulClient;
use backroom_stripe::{StripeClient, WebhookEndpoint};
use clap::Subcommand;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

#[derive(Subcommand)]
pub enum SetupCommand {
    /// Store the secrets as SSM SecureString parameters, from the environment (STRIPE_SECRET_KEY,
    /// STRIPE_WEBHOOK_SECRETS, PRINTFUL_TOKEN, PRINTFUL_WEBHOOK_TOKEN, PRINTFUL_WEBHOOK_SECRET)
    /// or asked for in turn on stdin (what you type is shown). Safe to run again.
    Secrets(SecretsArgs),
    /// Point Stripe's and Printful's webhooks at backroom (WEBHOOK_BASE_URL); needs
    /// STRIPE_SECRET_KEY, PRINTFUL_TOKEN and PRINTFUL_WEBHOOK_TOKEN. Safe to run again.
    Webhooks(WebhooksArgs),
}

/// The SSM parameter names, each overriding `<NAME>_PARAM`, which overrides the template's default.
#[derive(clap::Args)]
pub struct SecretsArgs {
    /// [default: $STRIPE_SECRET_KEY_PARAM, else /backroom/stripe/secret-key]
    #[arg(long, value_name = "NAME")]
    stripe_secret_key_param: Option<String>,
    /// [default: $STRIPE_WEBHOOK_SECRETS_PARAM, else /backroom/stripe/webhook-secrets]
    #[arg(long, value_name = "NAME")]
    stripe_webhook_secrets_param: Option<String>,
    /// [default: $PRINTFUL_TOKEN_PARAM, else /backroom/printful/token]
    #[arg(long, value_name = "NAME")]
    printful_token_param: Option<String>,
    /// [default: $PRINTFUL_WEBHOOK_TOKEN_PARAM, else /backroom/printful/webhook-token]
    #[arg(long, value_name = "NAME")]
    printful_webhook_token_param: Option<String>,
    /// Only with Printful v2 signed webhooks; pass the name to the stack as
    /// PrintfulWebhookSecretParam [default: $PRINTFUL_WEBHOOK_SECRET_PARAM, else
    /// /backroom/printful/webhook-secret]
    #[arg(long, value_name = "NAME")]
    printful_webhook_secret_param: Option<String>,
}

#[derive(clap::Args)]
pub struct WebhooksArgs {
    /// backroom's public base URL, the stack's ApiUrl output [default: WEBHOOK_BASE_URL]
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Where the printed command stores a new Stripe signing secret [default:
    /// /backroom/stripe/webhook-secrets; STRIPE_WEBHOOK_SECRETS_PARAM only once it exists]
    #[arg(long, value_name = "NAME")]
    stripe_webhook_secrets_param: Option<String>,
}

pub async fn run(cmd: SetupCommand) -> anyhow::Result<()> {
    match cmd {
        // The parameters this writes are what `Config::load` would fetch through `<NAME>_PARAM`,
        // so it reads the environment alone: the parameters may not exist yet.
        SetupCommand::Secrets(args) => secrets(&Config::from_env()?, args).await,
        SetupCommand::Webhooks(args) => webhooks(&Config::load().await?, args).await,
    }
}

/// One secret to store.
struct Secret {
    /// What the owner calls it, for prompts and errors.
    what: &'static str,
    /// What it looks like, for the prompt.
    hint: &'static str,
    /// The environment variable it may come from.
    var: &'static str,
    param: String,
    given: Option<SecretString>,
    /// Whether a random value is made when none is given and none is stored.
    generate: bool,
    /// Refuses a value that cannot be right (a pasted publishable key, a token that cannot be a
    /// URL path segment), naming what is expected without repeating the value.
    check: fn(&str) -> Result<(), &'static str>,
    /// Said when nothing was stored: when to come back.
    later: &'static str,
}

/// What a run did with one parameter.
enum Outcome {
    Stored,
    Updated,
    Unchanged,
    Kept,
    Generated(SecretString),
    Skipped,
}

async fn secrets(config: &Config, args: SecretsArgs) -> anyhow::Result<()> {
    let names = SecretParams {
        stripe_secret_key: args
            .stripe_secret_key_param
            .unwrap_or_else(|| config.secret_params.stripe_secret_key.clone()),
        stripe_webhook_secrets: args
            .stripe_webhook_secrets_param
            .unwrap_or_else(|| config.secret_params.stripe_webhook_secrets.clone()),
        printful_token: args
            .printful_token_param
            .unwrap_or_else(|| config.secret_params.printful_token.clone()),
        printful_webhook_token: args
            .printful_webhook_token_param
            .unwrap_or_else(|| config.secret_params.printful_webhook_token.clone()),
        printful_webhook_secret: args
            .printful_webhook_secret_param
            .unwrap_or_else(|| config.secret_params.printful_webhook_secret.clone()),
    };
    let webhook_secrets = (!config.ingest.stripe_webhook_secrets.is_empty()).then(|| {
        let joined: Vec<&str> = config
            .ingest
            .stripe_webhook_secrets
            .iter()
            .map(|s| s.expose_secret())
            .collect();
        SecretString::from(joined.join(","))
    });
    let list = [
        Secret {
            what: "Stripe secret key",
            hint: "sk_… or rk_…",
            var: "STRIPE_SECRET_KEY",
            param: names.stripe_secret_key,
            given: config.stripe_secret_key.clone(),
            generate: false,
            check: |v| {
                if v.starts_with("sk_") || v.starts_with("rk_") {
                    Ok(())
                } else {
                    Err("it must start with sk_ or rk_")
                }
            },
            later: "",
        },
        Secret {
            what: "Stripe webhook signing secrets",
            hint: "whsec_…, comma-separated, newest first",
            var: "STRIPE_WEBHOOK_SECRETS",
            param: names.stripe_webhook_secrets,
            given: webhook_secrets,
            generate: false,
            check: |v| {
                if v.split(',').all(|s| s.trim().starts_with("whsec_")) {
                    Ok(())
                } else {
                    Err("each secret must start with whsec_")
                }
            },
            later: "`backroom setup webhooks` prints the secret when it creates the endpoint",
        },
        Secret {
            what: "Printful private token",
            hint: "from developers.printful.com/tokens",
            var: "PRINTFUL_TOKEN",
            param: names.printful_token,
            given: config.printful_token.clone(),
            generate: false,
            check: |v| {
                if v.chars().any(char::is_whitespace) {
                    Err("it must have no spaces")
                } else {
                    Ok(())
                }
            },
            later: "",
        },
        Secret {
            what: "Printful webhook token",
            hint: "at least 32 random letters or digits",
            var: "PRINTFUL_WEBHOOK_TOKEN",
            param: names.printful_webhook_token,
            given: config.ingest.printful_webhook_token.clone(),
            generate: true,
            check: check_webhook_token,
            later: "",
        },
        Secret {
            what: "Printful v2 webhook signing secret",
            hint: "hex; only for signed webhooks",
            var: "PRINTFUL_WEBHOOK_SECRET",
            param: names.printful_webhook_secret,
            given: config.ingest.printful_webhook_secret.clone(),
            generate: false,
            check: |v| {
                if v.len() % 2 == 0 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(())
                } else {
                    Err("it must be hexadecimal")
                }
            },
            later: "it is optional",
        },
    ];
    for s in &list {
        if let Some(v) = &s.given {
            (s.check)(v.expose_secret()).map_err(|why| anyhow!("{} is not valid: {why}", s.var))?;
        }
    }

    let sdk = backroom_aws::sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let stored = read_parameters(&ssm, &list.iter().map(|s| s.param.clone()).collect::<Vec<_>>()).await?;

    // Every answer is read and checked before anything is written, so that a mistyped one
    // leaves the parameters as they were.
    let interactive = std::io::stdin().is_terminal();
    let mut values = Vec::with_capacity(list.len());
    // The lock is released before the first write.
    let mut input = std::io::stdin().lock();
    for s in &list {
        let value = match &s.given {
            Some(v) => Some(v.clone()),
            None => {
                let on_enter = match (stored.contains_key(&s.param), s.generate) {
                    (true, _) => "keep the stored one",
                    (false, true) => "generate one",
                    (false, false) => "skip",
                };
                let answer = ask(
                    &mut input,
                    interactive,
                    &format!("{} ({}) [Enter: {on_enter}]", s.what, s.hint),
                )?;
                if let Some(v) = &answer {
                    (s.check)(v.expose_secret())
                        .map_err(|why| anyhow!("the {} given on stdin is not valid: {why}", s.what))?;
                }
                answer
            }
        };
        values.push(value);
    }
    drop(input);

    let mut changed_existing = false;
    for (s, value) in list.into_iter().zip(values) {
        let existing = stored.get(&s.param);
        let outcome = match (value, existing) {
            (Some(v), Some((old, ParameterType::SecureString))) if old.expose_secret() == v.expose_secret() => {
                Outcome::Unchanged
            }
            (Some(v), old) => {
                put(&ssm, &s.param, &v).await?;
                if old.is_some() {
                    changed_existing = true;
                    Outcome::Updated
                } else {
                    Outcome::Stored
                }
            }
            (None, Some(_)) => Outcome::Kept,
            (None, None) if s.generate => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let token = SecretString::from(hex::encode(bytes));
                put(&ssm, &s.param, &token).await?;
                Outcome::Generated(token)
            }
            (None, None) => Outcome::Skipped,
        };
        match outcome {
            Outcome::Stored => println!("{}: stored", s.param),
            Outcome::Updated => println!("{}: updated", s.param),
            Outcome::Unchanged => println!("{}: unchanged", s.param),
            Outcome::Kept => println!("{}: kept (no new value given)", s.param),
            Outcome::Generated(token) => {
                println!(
                    "{}: generated and stored; the token, shown only now: {}",
                    s.param,
                    token.expose_secret()
                );
            }
            Outcome::Skipped if s.later.is_empty() => println!("{}: not stored (no value given)", s.param),
            Outcome::Skipped => println!("{}: not stored (no value given; {})", s.param, s.later),
        }
    }
    if changed_existing {
        println!(
            "Functions read their secrets when an instance starts: recycle those that use a changed one (docs/operations.md, \"After changing a secret\")."
        );
    }
    Ok(())
}

/// The stored value and type of each named parameter that exists.
async fn read_parameters(
    ssm: &aws_sdk_ssm::Client,
    names: &[String],
) -> anyhow::Result<HashMap<String, (SecretString, ParameterType)>> {
    // A name that does not exist is not an error: its secret is asked for.
    let read = backroom_aws::ssm::read_parameters(ssm, names).await.map_err(|e| {
        anyhow!(
            "could not read the SSM parameters {}: {}",
            e.names.join(", "),
            crate::dlq::aws_error(e.error)
        )
    })?;
    Ok(read
        .found
        .into_iter()
        .filter_map(|p| Some((p.name?, (SecretString::from(p.value?), p.r#type?))))
        .collect())
}

/// Writes one SecureString, replacing whatever the parameter held (`Overwrite`), so that a run
/// after a partial one completes it.
async fn put(ssm: &aws_sdk_ssm::Client, name: &str, value: &SecretString) -> anyhow::Result<()> {
    ssm.put_parameter()
        .name(name)
        .value(value.expose_secret())
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| anyhow!("could not store the SSM parameter {name}: {}", crate::dlq::aws_error(e)))?;
    Ok(())
}

/// One line from stdin, trimmed; `None` for an empty line or the end of input. The prompt goes
/// to stderr, and only for a terminal: piped answers need none.
fn ask(input: &mut impl BufRead, interactive: bool, prompt: &str) -> anyhow::Result<Option<SecretString>> {
    if interactive {
        eprint!("{prompt}: ");
        std::io::stderr().flush().context("could not write the prompt")?;
    }
    let mut line = String::new();
    input.read_line(&mut line).context("could not read stdin")?;
    let value = line.trim();
    Ok((!value.is_empty()).then(|| SecretString::from(value.to_string())))
}

/// The token is a path segment of the webhook URL and its only protection: long, and made of
/// characters a URL carries as they are.
fn check_webhook_token(v: &str) -> Result<(), &'static str> {
    if v.len() >= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err("it must be at least 32 letters, digits, - or _ (openssl rand -hex 32)")
    }
}

async fn webhooks(config: &Config, args: WebhooksArgs) -> anyhow::Result<()> {
    let base = args
        .base_url
        .or_else(|| config.webhook_base_url.clone())
        .map(|b| b.trim().trim_end_matches('/').to_string());
    let mut missing = Vec::new();
    if base.is_none() {
        missing.push("WEBHOOK_BASE_URL (or --base-url)");
    }
    if config.stripe_secret_key.is_none() {
        missing.push("STRIPE_SECRET_KEY");
    }
    if config.printful_token.is_none() {
        missing.push("PRINTFUL_TOKEN");
    }
    if config.ingest.printful_webhook_token.is_none() {
        missing.push("PRINTFUL_WEBHOOK_TOKEN");
    }
    if !missing.is_empty() {
        bail!(
            "set {} (a secret may instead be read from SSM: <NAME>_PARAM=<parameter name>)",
            missing.join(", ")
        );
    }
    let (Some(base), Some(token)) = (base, &config.ingest.printful_webhook_token) else {
        unreachable!("checked above");
    };
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        bail!("the webhook base URL {base:?} is not an http(s) URL (it is the stack's ApiUrl output)");
    }
    check_webhook_token(token.expose_secret()).map_err(|why| anyhow!("PRINTFUL_WEBHOOK_TOKEN is not valid: {why}"))?;
    let secrets_param = args
        .stripe_webhook_secrets_param
        .unwrap_or_else(|| config.secret_params.stripe_webhook_secrets.clone());
    let tuning = wiring::Tuning::local(1);
    stripe_webhook(&wiring::stripe(config, &tuning)?, &base, &secrets_param).await?;
    printful_webhook(&wiring::printful(config, &tuning)?, &base, token).await
}

/// Whether an endpoint sends every event type backroom handles.
fn listens(e: &WebhookEndpoint) -> bool {
    e.enabled_events.iter().any(|t| t == "*")
        || backroom_core::StripeEventKind::NAMES
            .iter()
            .all(|wanted| e.enabled_events.iter().any(|t| t == wanted))
}

async fn stripe_webhook(stripe: &StripeClient, base: &str, secrets_param: &str) -> anyhow::Result<()> {
    let url = format!("{base}/webhooks/stripe");
    let endpoints = stripe
        .list_webhook_endpoints()
        .await
        .context("could not list Stripe's webhook endpoints")?;
    let ours: Vec<&WebhookEndpoint> = endpoints.iter().filter(|e| e.url == url).collect();
    let n = backroom_core::StripeEventKind::NAMES.len();
    if let Some(good) = ours.iter().find(|e| e.enabled && listens(e)) {
        println!(
            "Stripe: the webhook endpoint {} for {url} is enabled and sends the {n} event types backroom handles: unchanged",
            good.id
        );
        note_version(good);
        return Ok(());
    }
    if let Some(e) = ours.first() {
        // Event types the owner added are kept; only the missing ones are added.
        let mut events: Vec<&str> = e.enabled_events.iter().map(String::as_str).collect();
        for wanted in backroom_core::StripeEventKind::NAMES {
            if !events.contains(wanted) {
                events.push(wanted);
            }
        }
        let updated = stripe
            .update_webhook_endpoint(&e.id, true, &events)
            .await
            .with_context(|| format!("could not update the Stripe webhook endpoint {}", e.id))?;
        let what = match (e.enabled, listens(e)) {
            (false, true) => "enabled it",
            (true, false) => "added the missing event types",
            _ => "enabled it and added the missing event types",
        };
        println!(
            "Stripe: the webhook endpoint {} for {url}: {what}; it now sends the {n} event types backroom handles",
            updated.id
        );
        note_version(&updated);
        return Ok(());
    }
    let (created, secret) = stripe
        .create_webhook_endpoint(
            &url,
            backroom_core::StripeEventKind::NAMES,
            backroom_stripe::API_VERSION,
        )
        .await
        .with_context(|| format!("could not create the Stripe webhook endpoint for {url}"))?;
    println!(
        "Stripe: created the webhook endpoint {} for {url} (API version {}, the {n} event types backroom handles)",
        created.id,
        backroom_stripe::API_VERSION
    );
    match secret {
        Some(secret) => {
            println!("Its signing secret, shown only now: {}", secret.expose_secret());
            println!("Store it, then let the webhook function read it (docs/deploy.md, step 5):");
            println!("  read -rs VALUE    # paste the whsec_… value, then Enter");
            println!(
                "  aws ssm put-parameter --overwrite --type SecureString --name {secrets_param} --value \"$VALUE\"; unset VALUE"
            );
            println!(
                "  aws lambda update-function-configuration --function-name backroom-stripe-webhook --description \"secrets reloaded $(date -u +%FT%TZ)\""
            );
        }
        None => println!(
            "Stripe sent no signing secret: reveal it in the Stripe dashboard (Developers, Webhooks, the endpoint) and store it in {secrets_param}"
        ),
    }
    Ok(())
}

/// An endpoint's API version cannot be changed; one that differs is worth a note, not a failure:
/// the worker re-reads every object in backroom's own version, and uses only an event's id and
/// type from the webhook.
fn note_version(e: &WebhookEndpoint) {
    match e.api_version.as_deref() {
        Some(v) if v == backroom_stripe::API_VERSION => {}
        other => println!(
            "Stripe: note: the endpoint renders events in API version {}, not {}; to change it, create a new endpoint (docs/operations.md, \"Rotating the Stripe webhook secret\")",
            other.unwrap_or("of the account's default"),
            backroom_stripe::API_VERSION
        ),
    }
}

async fn printful_webhook(printful: &PrintfulClient, base: &str, token: &SecretString) -> anyhow::Result<()> {
    let prefix = format!("{base}/webhooks/printful/");
    let url = format!("{prefix}{}", token.expose_secret());
    // The token is a secret: what is printed names it instead.
    let shown = format!("{prefix}<PRINTFUL_WEBHOOK_TOKEN>");
    let wanted: BTreeSet<&str> = backroom_core::PrintfulEventKind::NAMES.iter().copied().collect();
    let n = wanted.len();
    let current = printful
        .webhook_config()
        .await
        .context("could not read Printful's webhook configuration")?;
    let types: BTreeSet<&str> = current.types.iter().map(String::as_str).collect();
    if current.url.as_deref() == Some(url.as_str()) && types == wanted {
        println!("Printful: webhooks go to {shown} with the {n} event types backroom handles: unchanged");
        return Ok(());
    }
    let set = printful
        .set_webhook_config(&url, backroom_core::PrintfulEventKind::NAMES)
        .await
        .context("could not set Printful's webhook configuration")?;
    if set.url.as_deref() != Some(url.as_str()) {
        bail!("Printful answered the new webhook configuration with another URL than the one sent");
    }
    let before = match current.url.as_deref() {
        None => "none".to_string(),
        Some(u) if u == url => "the same URL with other event types".to_string(),
        Some(u) => backroom_printful::webhook::redact_url(u),
    };
    println!("Printful: webhooks now go to {shown} with the {n} event types backroom handles (before: {before})");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_tokens_must_be_long_and_url_safe() {
        assert!(check_webhook_token(&"a1".repeat(32)).is_ok());
        assert!(check_webhook_token("short").is_err());
        assert!(check_webhook_token(&format!("{}/x", "a".repeat(40))).is_err());
        assert!(check_webhook_token(&format!("{}?x", "a".repeat(40))).is_err());
    }

    #[test]
    fn answers_are_trimmed_and_an_empty_one_is_none() {
        let mut input = "  whsec_1  \n\n".as_bytes();
        let first = ask(&mut input, false, "x").unwrap().unwrap();
        assert_eq!(first.expose_secret(), "whsec_1");
        assert!(ask(&mut input, false, "x").unwrap().is_none());
        assert!(
            ask(&mut input, false, "x").unwrap().is_none(),
            "the end of input is no answer"
        );
    }
}
