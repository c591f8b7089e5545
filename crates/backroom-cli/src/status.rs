//! `backroom status` and `backroom digest`: where to read from. In AWS (DEAD_LETTER_QUEUE_URL
//! set) the alarms come from CloudWatch and the dead letters from SQS; with a running `backroom dev`
//! the dead letters come from its in-process queue and alarms are "not in dev".

use std::path::Path;

use anyhow::anyhow;
use aws_sdk_sqs::types::QueueAttributeName;
use backroom_app::Config;
use backroom_app::digest::{self, Sent};
use backroom_app::status::{self, Alarms, DeadLetters, Environment};
use backroom_app::watchdog::Deadlines;
use backroom_app::wiring::{Services, Tuning};
use backroom_aws::cloudwatch::CloudWatchAlarms;

use crate::dev::DevFile;
use crate::dlq::{DLQ_SUFFIX, aws_error, stack_from_dlq_url};

async fn sqs_depth(url: &str) -> DeadLetters {
    let sdk = backroom_aws::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let answer = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await;
    let depth = answer
        .map_err(|e| format!("could not read the queue {url}: {}", aws_error(e)))
        .and_then(|a| {
            a.attributes
                .and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages))
                .ok_or_else(|| format!("SQS did not say how many messages {url} holds"))
        })
        .and_then(|n| n.parse::<u64>().map_err(|e| format!("SQS said {n:?} messages: {e}")));
    match depth {
        Ok(n) => DeadLetters::known("sqs", n),
        Err(e) => DeadLetters::unknown("sqs", e),
    }
}

async fn dev_depth(dev: &DevFile) -> DeadLetters {
    let read = dev
        .admin(reqwest::Method::GET, "dlq")
        .await
        .map(|body| body["messages"].as_array().map(|m| m.len() as u64));
    match read {
        Ok(Some(n)) => DeadLetters::known("dev", n),
        Ok(None) => DeadLetters::unknown("dev", "the dev server's answer has no messages"),
        Err(e) => DeadLetters::unknown(
            "dev",
            format!("backroom dev at {} did not answer ({e}); is it still running?", dev.url),
        ),
    }
}

pub async fn status(
    config: &Config,
    dev: Option<&DevFile>,
    data_dir: &Path,
    stack: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let stack = stack.or_else(|| config.dead_letter_queue_url.as_deref().and_then(stack_from_dlq_url));
    let (environment, dead_letters) = match (&config.dead_letter_queue_url, dev) {
        (Some(url), _) => (Environment::Aws, sqs_depth(url).await),
        (None, Some(dev)) => (Environment::Dev, dev_depth(dev).await),
        (None, None) => (
            Environment::Database,
            DeadLetters::unknown(
                "none",
                format!(
                    "set DEAD_LETTER_QUEUE_URL, or start `backroom dev` (none runs in {})",
                    data_dir.display()
                ),
            ),
        ),
    };
    let alarms = match (&stack, environment) {
        (Some(stack), Environment::Aws | Environment::Database) => {
            Alarms::from_cloudwatch(&CloudWatchAlarms::from_env().await, &format!("{stack}-")).await
        }
        (_, Environment::Dev) => Alarms::NotInDev,
        (None, _) => Alarms::NotConfigured {
            hint: match &config.dead_letter_queue_url {
                Some(url) => format!("{url} is not named <stack>{DLQ_SUFFIX}: pass --stack NAME"),
                None => "pass --stack NAME (or set DEAD_LETTER_QUEUE_URL)".into(),
            },
        },
    };
    let store = crate::store(config)?;
    let s = status::gather(
        &store,
        &Deadlines::default(),
        chrono::Utc::now(),
        environment,
        alarms,
        dead_letters,
    )
    .await
    .map_err(|e| anyhow!("could not read the shop's database: {e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", status::render(&s));
    }
    Ok(())
}

pub async fn digest(config: &Config, days: u32, send: bool, json: bool) -> anyhow::Result<()> {
    let services = Services::new(config.clone(), Tuning::local(2))?;
    let store = services.store.clone();
    let d = digest::gather(
        &store,
        days,
        chrono::Utc::now(),
        &Deadlines::default(),
        config.fulfillment_paused,
    )
    .await?;
    let sent = if send {
        let alerts = services.alerts().await;
        Some(digest::send(&alerts, &d).await?)
    } else {
        None
    };
    if json {
        let body = serde_json::json!({ "digest": d, "message": d.message(), "sent": sent });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    print!("{}", d.message());
    match sent {
        None => println!("\n(not sent: add --send to send it to the owner, once per week)"),
        Some(Sent::Sent) => println!(
            "\nsent to the owner ({}) as {}",
            if config.alert_topics().is_some() {
                "the ops topic"
            } else {
                "a console alert"
            },
            d.dedupe_key
        ),
        Some(Sent::AlreadySent) => println!(
            "\nnot sent again: the digest {} was already sent this week",
            d.dedupe_key
        ),
    }
    Ok(())
}
