//! `backroom dev` as a child process, for the end-to-end tests: started on a free port with its
//! own data dir, stopped gracefully (SIGTERM, so it also stops its private PostgreSQL) when the
//! test ends or panics.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Dev {
    child: Child,
    pub url: String,
}

impl Dev {
    /// Starts `backroom dev` and waits for it to say it is ready.
    pub fn start(data_dir: &Path) -> Dev {
        Dev::start_with(data_dir, &[])
    }

    /// As `start`, with extra environment variables.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Dev {
        Dev::start_catching_up_every(data_dir, env, 2)
    }

    /// As `start_with`, with the catch-up jobs every `seconds` instead of every 2.
    pub fn start_catching_up_every(data_dir: &Path, env: &[(&str, &str)], seconds: u32) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backroom"))
            .args([
                "dev",
                "--port",
                "0",
                "--catchup-every",
                &seconds.to_string(),
                "--data-dir",
            ])
            .arg(data_dir)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .env_remove("DATABASE_URL")
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("PRINTFUL_TOKEN")
            .env("BACKROOM_LOG", "warn")
            // After the removals and defaults above, so that a test's own values win.
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("[dev] {line}");
                let _ = tx.send(line);
            }
        });
        let began = Instant::now();
        let mut url = None;
        while began.elapsed() < Duration::from_secs(90) {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
                continue;
            };
            if let Some(rest) = line.trim().strip_prefix("storefront:") {
                url = Some(rest.trim().trim_end_matches('/').to_string());
            }
            if line.contains("reconcile over") || line.contains("the reconciler failed") {
                break;
            }
        }
        let url = url.expect("backroom dev printed its storefront URL");
        println!("backroom dev ready in {:.2} s at {url}", began.elapsed().as_secs_f64());
        Dev { child, url }
    }

    /// A graceful stop.
    pub fn stop(mut self) {
        self.terminate();
    }

    /// A crash: nothing is flushed or stopped (its PostgreSQL keeps running, as after a real crash).
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then SIGKILL if it has not exited after 30 s.
    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stopped also when the test panics.
impl Drop for Dev {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A fresh directory under the system's temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("backroom-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // As root the database runs as the postgres user, who must be able to reach the dir.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// An HTTP client that does not follow redirects, with a bound on every call.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap()
}

/// `backroom owner` as a child process on a free port, stopped (SIGTERM) when dropped.
pub struct Owner {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Owner {
    /// Starts `backroom owner --port 0` with `args` and `env` (on top of an environment with no
    /// database, queue or provider keys of the machine's own) and waits for its address.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Owner {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backroom"))
            .args(["owner", "--port", "0"])
            .args(args)
            .current_dir(std::env::temp_dir())
            .env_remove("DATABASE_URL")
            .env_remove("DSQL_ENDPOINT")
            .env_remove("DEAD_LETTER_QUEUE_URL")
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("PRINTFUL_TOKEN")
            .env_remove("EVENT_BUS_NAME")
            .env("BACKROOM_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("[owner] {line}");
                let _ = tx.send(line);
            }
        });
        let began = Instant::now();
        let mut url = None;
        while url.is_none() && began.elapsed() < Duration::from_secs(60) {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("backroom owner exited with {status} before it was ready");
                }
                continue;
            };
            if let Some((_, rest)) = line.split_once(" at ") {
                url = rest.trim().strip_suffix("/admin").map(str::to_string);
            }
        }
        let url = url.expect("backroom owner printed its address");
        Owner { child, url }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sets an order's creation (and, with `touched`, its last change) back to `at`, as if it had
/// been placed (and left alone) then.
pub async fn place_at(
    app: &backroom_testkit::app::TestApp,
    order: backroom_core::OrderId,
    at: chrono::DateTime<chrono::Utc>,
    touched: bool,
) {
    let (client, connection) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let n = client
        .execute(
            "UPDATE orders SET created_at = $1, updated_at = CASE WHEN $3 THEN $1 ELSE updated_at END WHERE id = $2",
            &[&at, &order.uuid(), &touched],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
}
