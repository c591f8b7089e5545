//! Temporary clusters disappear: on drop, and when their process dies without a chance to clean
//! up (SIGKILL), thanks to the reaper.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backroom_testkit::{Cluster, ClusterConfig, shared_cluster};

/// Set in the child copy of this test binary that owns the cluster to be reaped.
const CHILD_ENV: &str = "BACKROOM_TESTKIT_REAPER_CHILD";

/// How long the reaper may take. It polls every half second and stopping the server takes a few
/// hundred milliseconds, so this is generous; it only exists so that a broken reaper fails the
/// test instead of hanging it.
const REAPER_DEADLINE: Duration = Duration::from_secs(30);

/// Temporary clusters live in `/dev/shm/brpg-XXXXXXXX` or `/tmp/brpg-XXXXXXXX`.
fn is_short_scratch_dir(dir: &std::path::Path) -> bool {
    let text = dir.to_string_lossy();
    let Some(name) = text
        .strip_prefix("/dev/shm/brpg-")
        .or_else(|| text.strip_prefix("/tmp/brpg-"))
    else {
        return false;
    };
    name.len() == 8 && name.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_alive(pid: &str) -> bool {
    // `ps` rather than `kill -0`, because a killed process that nobody has reaped yet (a zombie)
    // still answers `kill -0`.
    let output = Command::new("ps").args(["-o", "stat=", "-p", pid]).output().unwrap();
    let state = String::from_utf8_lossy(&output.stdout);
    let state = state.trim();
    !state.is_empty() && !state.starts_with('Z')
}

fn wait_until(deadline: Duration, done: impl Fn() -> bool) -> bool {
    let began = Instant::now();
    while began.elapsed() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

fn cluster_dir(cluster: &Cluster) -> PathBuf {
    cluster.pgdata().parent().unwrap().to_path_buf()
}

#[test]
fn dropping_a_temporary_cluster_removes_it() {
    let cluster = Cluster::start(ClusterConfig::temporary()).unwrap();
    let dir = cluster_dir(&cluster);
    assert!(cluster.is_temporary());
    assert!(dir.join("data/PG_VERSION").is_file());
    // Short, so that the socket path fits.
    assert!(is_short_scratch_dir(&dir), "{}", dir.display());
    assert_eq!(cluster.socket_dir(), dir);
    let pid = postmaster_pid(cluster.pgdata());
    assert!(is_alive(&pid));

    drop(cluster);
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert!(
        wait_until(REAPER_DEADLINE, || !is_alive(&pid)),
        "the server {pid} still runs"
    );
}

/// Kills the child (if still running) when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn postmaster_pid(pgdata: &Path) -> String {
    let text = std::fs::read_to_string(pgdata.join("postmaster.pid")).unwrap();
    text.lines().next().unwrap().trim().to_string()
}

/// This test runs twice: as the parent, which starts a copy of this test binary, and as that
/// child, which starts the shared cluster, reports where it is, and waits to be killed.
#[test]
fn the_reaper_removes_the_cluster_after_its_owner_is_killed() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let cluster = shared_cluster();
        println!("cluster_dir={}", cluster_dir(cluster).display());
        // The parent kills us long before this; the bound only keeps a stray child from
        // living forever if the parent dies first.
        std::thread::sleep(Duration::from_secs(120));
        return;
    }

    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_reaper_removes_the_cluster_after_its_owner_is_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = ChildGuard(child);

    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    let dir = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            // libtest prints "test <name> ... " without a newline first, so the marker may
            // come in the middle of a line.
            let (_, dir) = line.split_once("cluster_dir=")?;
            Some(PathBuf::from(dir.trim()))
        })
        .expect("the child exited without reporting a cluster");
    let pgdata = dir.join("data");
    assert!(pgdata.join("PG_VERSION").is_file(), "{}", dir.display());
    let pid = postmaster_pid(&pgdata);
    assert!(is_alive(&pid), "the child's server {pid} does not run");

    // SIGKILL: the child gets no chance to clean up; only the reaper can.
    child.0.kill().unwrap();
    child.0.wait().unwrap();

    assert!(
        wait_until(REAPER_DEADLINE, || !dir.exists()),
        "{} still exists after its owner was killed",
        dir.display()
    );
    assert!(
        wait_until(REAPER_DEADLINE, || !is_alive(&pid)),
        "the server {pid} still runs after its owner was killed"
    );
}
