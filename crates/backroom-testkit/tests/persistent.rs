//! Persistent clusters, as `backroom dev` uses them: created once, reused, attached to while
//! running, restarted after a stop or a crash, with the data kept throughout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use backroom_testkit::{Cluster, ClusterConfig};
use tokio_postgres::{Client, NoTls};

/// A scratch directory under /tmp, world-searchable so that the `postgres` user can reach a data
/// directory inside it when the tests run as root. Dropping it kills any server left running in
/// it (a persistent cluster is never stopped automatically) and removes it, along with any extra
/// directories handed to `also_remove`.
struct Scratch {
    dir: PathBuf,
    extra: Vec<PathBuf>,
}

impl Scratch {
    fn new() -> Scratch {
        use std::os::unix::fs::PermissionsExt;
        let dir = PathBuf::from(format!("/tmp/brtk-{:016x}", rand::random::<u64>()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch { dir, extra: Vec::new() }
    }

    fn also_remove(&mut self, dir: &Path) {
        self.extra.push(dir.to_path_buf());
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(pid) = postmaster_pid_in(&self.dir) {
            // SIGQUIT is PostgreSQL's immediate shutdown.
            let _ = Command::new("kill").args(["-QUIT", &pid]).status();
            let pid_file = find_pid_file(&self.dir);
            for _ in 0..50 {
                if !pid_file.as_ref().is_some_and(|file| file.exists()) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        for dir in std::iter::once(&self.dir).chain(&self.extra) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn find_pid_file(scratch: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(scratch).ok()?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("pg/data/postmaster.pid"))
        .find(|file| file.exists())
}

fn postmaster_pid_in(scratch: &Path) -> Result<String, ()> {
    let file = find_pid_file(scratch).ok_or(())?;
    let text = std::fs::read_to_string(file).map_err(|_| ())?;
    Ok(text.lines().next().ok_or(())?.trim().to_string())
}

fn start(data_dir: &Path) -> Cluster {
    Cluster::start(ClusterConfig::persistent(data_dir)).unwrap()
}

async fn connect(cluster: &Cluster) -> Client {
    let url = cluster.connection_string("postgres");
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|error| panic!("could not connect to {url}: {error}"));
    tokio::spawn(connection);
    client
}

async fn server_started_at(client: &Client) -> SystemTime {
    client
        .query_one("SELECT pg_postmaster_start_time()", &[])
        .await
        .unwrap()
        .get(0)
}

async fn notes(cluster: &Cluster) -> Vec<String> {
    connect(cluster)
        .await
        .query("SELECT body FROM notes ORDER BY body", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

// These tests call the blocking `Cluster::start` and `stop` directly on the test's
// single-threaded runtime: nothing else runs on it meanwhile, and the point is to drive the
// cluster step by step.

#[tokio::test]
async fn a_persistent_cluster_is_reused_attached_to_and_survives_restarts_and_crashes() {
    let scratch = Scratch::new();
    let data_dir = scratch.dir.join("dev");

    let first = start(&data_dir);
    assert!(!first.is_temporary());
    let root = std::fs::canonicalize(&data_dir).unwrap().join("pg");
    assert_eq!(first.pgdata(), root.join("data"));
    assert_eq!(first.socket_dir(), root.join("sock"));
    let recorded = std::fs::read_to_string(root.join("socket_dir")).unwrap();
    assert_eq!(Path::new(recorded.trim()), first.socket_dir());

    let client = connect(&first).await;
    client
        .batch_execute("CREATE TABLE notes (body text PRIMARY KEY); INSERT INTO notes VALUES ('kept')")
        .await
        .unwrap();
    let first_started_at = server_started_at(&client).await;
    drop(client);

    // A second `backroom dev` finds the server running and attaches to it rather than starting
    // another.
    let second = start(&data_dir);
    assert_eq!(second.socket_dir(), first.socket_dir());
    assert_eq!(server_started_at(&connect(&second).await).await, first_started_at);

    first.stop().unwrap();
    let refused = tokio_postgres::connect(&first.connection_string("postgres"), NoTls).await;
    assert!(refused.is_err(), "the stopped server still accepts connections");
    // Stopping a stopped server is fine.
    second.stop().unwrap();

    // A start after a stop reuses the cluster (no second initdb, which would refuse the
    // non-empty directory anyway) and finds the data.
    let third = start(&data_dir);
    let client = connect(&third).await;
    assert!(server_started_at(&client).await > first_started_at);
    drop(client);
    assert_eq!(notes(&third).await, ["kept"]);

    // A crash (SIGKILL to the postmaster) leaves a stale postmaster.pid behind; the next start
    // must still come up, after crash recovery, with the committed data.
    let pid = postmaster_pid_in(&scratch.dir).unwrap();
    let killed = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    assert!(killed.success());
    assert!(third.pgdata().join("postmaster.pid").exists());
    let fourth = start(&data_dir);
    assert_ne!(postmaster_pid_in(&scratch.dir).unwrap(), pid);
    assert_eq!(notes(&fourth).await, ["kept"]);
    fourth.stop().unwrap();
}

#[tokio::test]
async fn a_deep_data_directory_gets_a_short_recorded_socket_directory() {
    let mut scratch = Scratch::new();
    let data_dir = scratch
        .dir
        .join("a-data-directory-whose-path-is-too-long-for-a-unix-socket")
        .join("because-socket-paths-are-limited-to-about-a-hundred-bytes");

    let first = start(&data_dir);
    scratch.also_remove(first.socket_dir());
    let socket_dir = first.socket_dir().to_path_buf();
    assert!(socket_dir.starts_with("/tmp"), "{}", socket_dir.display());
    assert!(
        socket_dir.as_os_str().len() < 40,
        "{} is not short",
        socket_dir.display()
    );
    let root = std::fs::canonicalize(&data_dir).unwrap().join("pg");
    let recorded = std::fs::read_to_string(root.join("socket_dir")).unwrap();
    assert_eq!(Path::new(recorded.trim()), socket_dir);

    let one: i32 = connect(&first).await.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);

    // Attaching finds the server's socket; restarting reuses the recorded directory.
    assert_eq!(start(&data_dir).socket_dir(), socket_dir);
    first.stop().unwrap();
    let again = start(&data_dir);
    assert_eq!(again.socket_dir(), socket_dir);
    again.stop().unwrap();
}
