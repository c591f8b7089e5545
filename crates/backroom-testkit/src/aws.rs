//! A local AWS emulator (ministack, pinned in scripts/requirements.txt and installed into the
//! project's venv by scripts/setup) for tests of the real AWS adapters: one per test process,
//! on a free loopback port, stopped when the process exits however it exits.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::TestkitError;

/// A running emulator.
#[derive(Debug)]
pub struct AwsEmulator {
    /// `http://127.0.0.1:<port>`: what `AWS_ENDPOINT_URL` would be.
    pub endpoint: String,
    _child: Child,
    _reaper: Child,
}

static SHARED: OnceLock<Result<AwsEmulator, TestkitError>> = OnceLock::new();

/// The process-wide emulator, started on first use. Panics with the reason when it cannot start.
pub fn shared_aws() -> &'static AwsEmulator {
    match SHARED.get_or_init(start) {
        Ok(emulator) => emulator,
        Err(error) => panic!("The local AWS emulator could not start: {error}"),
    }
}

fn ministack() -> Result<PathBuf, TestkitError> {
    let path = std::env::var_os("MINISTACK")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/ministack"));
    if path.exists() {
        Ok(path)
    } else {
        Err(TestkitError::new(format!(
            "ministack is not installed at {}: run ./scripts/test (or ./scripts/setup), which installs it into .venv.",
            path.display()
        )))
    }
}

fn free_port() -> Result<u16, TestkitError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| TestkitError::new(format!("Could not find a free loopback port: {e}.")))?;
    Ok(listener
        .local_addr()
        .map_err(|e| TestkitError::new(e.to_string()))?
        .port())
}

fn start() -> Result<AwsEmulator, TestkitError> {
    use std::os::unix::process::CommandExt;
    let program = ministack()?;
    let port = free_port()?;
    let child = Command::new(&program)
        .env("BIND_HOST", "127.0.0.1")
        .env("GATEWAY_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| TestkitError::new(format!("Could not start {}: {e}.", program.display())))?;
    // The emulator must not outlive the tests, even when they are killed.
    let reaper = Command::new("/bin/sh")
        .arg("-c")
        .arg("trap '' HUP INT; while kill -0 \"$1\" 2>/dev/null; do sleep 0.5; done; kill -TERM -\"$2\" 2>/dev/null; sleep 1; kill -KILL -\"$2\" 2>/dev/null")
        .arg("backroom-testkit-aws-reaper")
        .arg(std::process::id().to_string())
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| TestkitError::new(format!("Could not start the emulator's reaper: {e}.")))?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(30) {
        if health(port) {
            return Ok(AwsEmulator {
                endpoint,
                _child: child,
                _reaper: reaper,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(TestkitError::new(format!(
        "ministack did not answer on {endpoint} within 30 s."
    )))
}

/// `GET /_ministack/health` answered 200.
fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /_ministack/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = [0u8; 16];
    matches!(s.read(&mut answer), Ok(n) if n >= 12 && answer[..n].starts_with(b"HTTP/1") && &answer[9..12] == b"200")
}

/// A new SQS queue on the emulator: its URL and ARN, for tests that route SNS or EventBridge to
/// it and read what arrived.
pub async fn new_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = Box::pin(sqs.create_queue().queue_name(name).send())
        .await
        .unwrap_or_else(|e| panic!("create queue {name}: {e:?}"))
        .queue_url
        .expect("a created queue has a URL");
    let arn = queue_arn(sqs, &url).await;
    (url, arn)
}

/// A queue's ARN.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    Box::pin(
        sqs.get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send(),
    )
    .await
    .unwrap_or_else(|e| panic!("attributes of {url}: {e:?}"))
    .attributes
    .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
    .expect("a queue has an ARN")
}

/// Subscribes a queue to a topic with raw message delivery, so each message body is what was
/// published.
pub async fn subscribe_queue(sns: &aws_sdk_sns::Client, topic_arn: &str, queue_arn: &str) {
    Box::pin(
        sns.subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send(),
    )
    .await
    .unwrap_or_else(|e| panic!("subscribe {queue_arn} to {topic_arn}: {e:?}"));
}

/// The AWS SDK's configuration for the process-wide emulator (test credentials, us-east-1), or
/// for another endpoint in front of it (`through`, for example a proxy that injects faults).
pub async fn emulator_sdk(through: Option<String>) -> backroom_aws::aws_config::SdkConfig {
    use backroom_aws::aws_config;
    let endpoint = match through {
        Some(address) => address,
        None => tokio::task::spawn_blocking(|| shared_aws().endpoint.clone())
            .await
            .expect("the emulator starts"),
    };
    Box::pin(
        backroom_aws::sdk_defaults()
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load(),
    )
    .await
}
