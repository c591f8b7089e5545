//! Running a function as Lambda runs it: a fresh process given the Lambda environment and
//! `AWS_LAMBDA_RUNTIME_API` pointing at our own [`RuntimeApi`], timed from spawn.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use backroom_bench::machine::peak_rss_kb;
use backroom_bench::runtime_api::{Answer, Outcome, RuntimeApi};

/// One function: how to start it and what it is given.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    /// `rust`, or a peer's: `node` (bench/peers/stripe-webhook-node), `rust-minimal`
    /// (bench/peers/stripe-webhook-rust).
    pub runtime: &'static str,
    pub program: PathBuf,
    /// `LAMBDA_TASK_ROOT` and the working directory.
    pub task_root: PathBuf,
    pub env: Vec<(String, String)>,
}

/// The variables Lambda sets for a provided.al2023 function of 128 MB.
fn lambda_env(name: &str, api: &str, task_root: &Path) -> Vec<(String, String)> {
    let s = |k: &str, v: &str| (k.to_string(), v.to_string());
    vec![
        s("PATH", "/usr/local/bin:/usr/bin:/bin"),
        s("LANG", "C.UTF-8"),
        s("TZ", ":UTC"),
        s("AWS_LAMBDA_RUNTIME_API", api),
        s("AWS_LAMBDA_FUNCTION_NAME", name),
        s("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        s("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        s("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{name}")),
        s(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/23/[$LATEST]0123456789abcdef0123456789abcdef",
        ),
        s("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        s("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        s("LAMBDA_TASK_ROOT", &task_root.to_string_lossy()),
        s("LAMBDA_RUNTIME_DIR", &task_root.to_string_lossy()),
        s("_HANDLER", "bootstrap"),
    ]
}

/// The function's timeout in template.yaml: each event's deadline (`Lambda-Runtime-Deadline-Ms`).
/// The event worker leaves a message for its next delivery when less than
/// `backroom_app::worker::MESSAGE_TIME` remains, so a shorter deadline would fail every batch.
fn timeout_of(name: &str) -> Duration {
    Duration::from_secs(match name {
        "checkout-api" => 15,
        "stripe-webhook" | "printful-webhook" => 10,
        "event-worker" => 120,
        "stripe-catchup" | "printful-catchup" => 300,
        "reconciler" => 900,
        _ => 30,
    })
}

/// A running function instance.
pub struct Instance {
    pub api: RuntimeApi,
    child: tokio::process::Child,
    pub pid: u32,
    log: PathBuf,
}

/// The first invocation of a fresh instance.
#[derive(Debug, Clone)]
pub struct ColdRun {
    pub total_ms: f64,
    pub init_ms: f64,
    pub invoke_ms: f64,
    pub peak_rss_mb: f64,
    pub answer: Vec<u8>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Instance {
    /// Starts the function with `first` already queued, waits for its answer and reads its peak
    /// memory. The clock starts just before the process is spawned.
    pub async fn cold(function: &Function, first: Vec<u8>, log: PathBuf) -> anyhow::Result<(ColdRun, Instance)> {
        let api = RuntimeApi::start(&function.name, timeout_of(&function.name)).await?;
        let pending = api.invoke(first);
        let mut env = lambda_env(&function.name, &api.address(), &function.task_root);
        env.extend(function.env.iter().cloned());
        let log_file = std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let mut command = tokio::process::Command::new(&function.program);
        command
            .env_clear()
            .envs(env)
            .current_dir(&function.task_root)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("start {}", function.program.display()))?;
        let pid = child.id().context("the child's pid")?;
        let mut instance = Instance { api, child, pid, log };
        let outcome = instance.wait(pending, Duration::from_secs(60)).await?;
        let peak = peak_rss_kb(pid).context("read VmHWM")?;
        let init = instance.api.first_poll().context("the function never polled")? - spawned_at;
        let run = ColdRun {
            total_ms: ms(outcome.answered_at - spawned_at),
            init_ms: ms(init),
            invoke_ms: ms(outcome.duration()),
            peak_rss_mb: peak as f64 / 1024.0,
            answer: answer_bytes(&outcome, &instance.log)?,
        };
        Ok((run, instance))
    }

    /// One more invocation of a warm instance.
    pub async fn invoke(&mut self, payload: Vec<u8>) -> anyhow::Result<Outcome> {
        let pending = self.api.invoke(payload);
        let outcome = self.wait(pending, Duration::from_secs(30)).await?;
        answer_bytes(&outcome, &self.log)?;
        Ok(outcome)
    }

    async fn wait(
        &mut self,
        pending: backroom_bench::runtime_api::Pending,
        limit: Duration,
    ) -> anyhow::Result<Outcome> {
        let log = self.log.clone();
        tokio::select! {
            outcome = pending.outcome() => outcome.context("the runtime API stopped"),
            error = self.api.init_error() => bail!(
                "init error {:?}: {}; log: {}",
                error.error_type,
                String::from_utf8_lossy(&error.body),
                tail(&log)
            ),
            status = self.child.wait() => bail!("the process exited ({status:?}); log: {}", tail(&log)),
            _ = tokio::time::sleep(limit) => bail!("no answer within {limit:?}; log: {}", tail(&log)),
        }
    }

    pub fn peak_rss_mb(&self) -> Option<f64> {
        peak_rss_kb(self.pid).map(|kb| kb as f64 / 1024.0)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn answer_bytes(outcome: &Outcome, log: &Path) -> anyhow::Result<Vec<u8>> {
    match &outcome.answer {
        Answer::Response(body) => Ok(body.clone()),
        Answer::Error { error_type, body } => bail!(
            "the invocation failed ({error_type:?}): {}; log: {}",
            String::from_utf8_lossy(body),
            tail(log)
        ),
    }
}

/// The last lines of a function's log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
