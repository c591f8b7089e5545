//! A PostgreSQL cluster of our own: a throwaway one per test process, or a persistent private one
//! for `backroom dev`. It listens on a private unix socket only (no TCP at all), runs in the C
//! locale and defaults to REPEATABLE READ, like Aurora DSQL.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::TestkitError;
use crate::binaries::find_postgres_bin_dir;
use crate::process::{Identity, available_kib, run, shell_quote, short_private_dir, stderr_of};

/// The port only names the socket file (`.s.PGSQL.5432`): with no TCP listener and a private
/// socket directory, every cluster can use the same one.
const PORT: u16 = 5432;

/// The longest unix socket path we allow. Linux allows 107 bytes, macOS 103; the smaller one keeps
/// a data directory usable on both.
const MAX_SOCKET_PATH: usize = 103;

/// How long to wait for a server that another process is starting or that is still dying (its
/// children take about a second to notice a postmaster killed with SIGKILL).
const BUSY_WAIT: Duration = Duration::from_secs(15);

/// The free space /dev/shm needs before temporary clusters go there: 2 GiB.
const MIN_SHM_KIB: u64 = 2 * 1024 * 1024;

/// How many lines of the server log go into an error message.
const LOG_LINES_IN_ERRORS: usize = 20;

/// Where the cluster lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `None`: a fresh temporary cluster under /dev/shm (or /tmp), removed when the process exits (even by
    /// SIGKILL). `Some(dir)`: a persistent cluster in `<dir>/pg`, created on first use, reused
    /// (and attached to, if another process already runs it) afterwards, and never stopped
    /// automatically.
    pub data_dir: Option<PathBuf>,
}

impl ClusterConfig {
    /// A fresh temporary cluster.
    pub fn temporary() -> ClusterConfig {
        ClusterConfig { data_dir: None }
    }

    /// A persistent cluster kept in `<data_dir>/pg`.
    pub fn persistent(data_dir: impl Into<PathBuf>) -> ClusterConfig {
        ClusterConfig {
            data_dir: Some(data_dir.into()),
        }
    }
}

/// A running PostgreSQL server.
#[derive(Debug)]
pub struct Cluster {
    tools: Tools,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    major_version: u32,
    started_in: Duration,
    /// Present for a temporary cluster: dropping it stops the server and removes its files.
    temporary: Option<TemporaryFiles>,
}

impl Cluster {
    /// Creates (if needed) and starts a cluster, or attaches to a persistent one that is already
    /// running. This blocks on child processes; from async code call it in `spawn_blocking`.
    pub fn start(config: ClusterConfig) -> Result<Cluster, TestkitError> {
        let began = Instant::now();
        let tools = Tools::detect()?;
        let cluster = match config.data_dir {
            None => start_temporary(tools, began)?,
            Some(data_dir) => start_persistent(tools, &data_dir, began)?,
        };
        tracing::info!(
            started_in_ms = cluster.started_in.as_millis() as u64,
            socket_dir = %cluster.socket_dir.display(),
            temporary = cluster.temporary.is_some(),
            "PostgreSQL cluster ready"
        );
        Ok(cluster)
    }

    /// The directory that holds the server's unix socket; `host=` in a connection string.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The port in the socket file's name.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's data directory (PGDATA).
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// The server log, the first place to look when something went wrong on the server side.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The server's major version (15 for PostgreSQL 15.x), from the data directory.
    pub fn major_version(&self) -> u32 {
        self.major_version
    }

    /// Whether the cluster is removed when this value is dropped or the process exits.
    pub fn is_temporary(&self) -> bool {
        self.temporary.is_some()
    }

    /// How long `start` took, from the call to a server that accepts connections (initdb
    /// included, when it ran).
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// A tokio-postgres key=value connection string for `dbname` as the `postgres` superuser.
    pub fn connection_string(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={}",
            connection_value(&self.socket_dir.to_string_lossy()),
            self.port,
            connection_value(dbname)
        )
    }

    /// Stops the server (`pg_ctl -m fast stop`): open sessions are ended, committed data stays.
    /// Stopping a server that is not running is not an error.
    pub fn stop(&self) -> Result<(), TestkitError> {
        let output = self.tools.stop(&self.pgdata, "fast")?;
        if output.status.success() {
            return Ok(());
        }
        if self.tools.status(&self.pgdata)? == Status::NotRunning {
            return Ok(());
        }
        Err(TestkitError::new(format!(
            "pg_ctl could not stop the PostgreSQL server in {}: {}",
            self.pgdata.display(),
            stderr_of(&output)
        )))
    }
}

/// The PostgreSQL binaries and the user they run as.
#[derive(Debug, Clone)]
struct Tools {
    bin_dir: PathBuf,
    identity: Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Running,
    NotRunning,
}

impl Tools {
    fn detect() -> Result<Tools, TestkitError> {
        Ok(Tools {
            bin_dir: find_postgres_bin_dir()?,
            identity: Identity::detect()?,
        })
    }

    fn pg_ctl(&self) -> Command {
        self.identity.command(&self.bin_dir.join("pg_ctl"))
    }

    /// `initdb` in the C locale (as DSQL), trusting local connections (the socket directory is
    /// private), without fsync (a test cluster need not survive a power cut).
    fn initdb(&self, pgdata: &Path) -> Result<(), TestkitError> {
        let mut command = self.identity.command(&self.bin_dir.join("initdb"));
        command
            .arg("-D")
            .arg(pgdata)
            .args(["-U", "postgres", "--auth=trust", "--no-sync"])
            .args(["-E", "UTF8", "--locale=C", "--no-instructions"]);
        let output = run(&mut command, "initdb")?;
        if output.status.success() {
            return Ok(());
        }
        Err(TestkitError::new(format!(
            "initdb could not create a PostgreSQL cluster in {}: {}",
            pgdata.display(),
            stderr_of(&output)
        )))
    }

    fn status(&self, pgdata: &Path) -> Result<Status, TestkitError> {
        let mut command = self.pg_ctl();
        command.arg("-D").arg(pgdata).arg("status");
        let output = run(&mut command, "pg_ctl status")?;
        // pg_ctl documents exit status 0 for a running server, 3 for none and 4 for a missing or
        // unreadable data directory.
        match output.status.code() {
            Some(0) => Ok(Status::Running),
            Some(3) => Ok(Status::NotRunning),
            _ => Err(TestkitError::new(format!(
                "pg_ctl could not tell whether PostgreSQL runs in {} ({}): {}",
                pgdata.display(),
                output.status,
                stderr_of(&output)
            ))),
        }
    }

    /// Starts the server and waits until it accepts connections. A start that fails because the
    /// previous server is still dying (its lock file or shared memory is still held) is retried
    /// for a while, so that a cluster whose postmaster was just killed with SIGKILL comes back.
    fn start(&self, pgdata: &Path, log_file: &Path, socket_dir: &Path, port: u16) -> Result<(), TestkitError> {
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            let log_offset = std::fs::metadata(log_file).map_or(0, |meta| meta.len());
            let mut command = self.pg_ctl();
            command
                .arg("-D")
                .arg(pgdata)
                .arg("-l")
                .arg(log_file)
                .args(["-w", "-t", "60", "-o"])
                .arg(server_options(socket_dir, port))
                .arg("start");
            let output = run(&mut command, "pg_ctl start")?;
            if output.status.success() {
                return Ok(());
            }
            let new_log = read_from(log_file, log_offset);
            let busy = new_log.contains("lock file") || new_log.contains("pre-existing shared memory block");
            if busy && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(250));
                continue;
            }
            return Err(TestkitError::new(format!(
                "pg_ctl could not start PostgreSQL in {}: {}\nServer log ({}):\n{}",
                pgdata.display(),
                stderr_of(&output),
                log_file.display(),
                last_lines(&new_log, LOG_LINES_IN_ERRORS)
            )));
        }
    }

    fn stop(&self, pgdata: &Path, mode: &str) -> Result<Output, TestkitError> {
        let mut command = self.pg_ctl();
        command.arg("-D").arg(pgdata).args(["-m", mode, "-w", "stop"]);
        run(&mut command, "pg_ctl stop")
    }
}

/// The server's settings. pg_ctl hands `-o` to /bin/sh, hence the shell quoting.
fn server_options(socket_dir: &Path, port: u16) -> String {
    [
        // No TCP listener at all: nothing on the machine's network can reach a test cluster, and
        // clusters never compete for a port.
        "-c listen_addresses=''".to_string(),
        format!(
            "-c unix_socket_directories={}",
            shell_quote(&socket_dir.to_string_lossy())
        ),
        format!("-p {port}"),
        // Durability is not worth the time for a throwaway or development cluster.
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off".to_string(),
        // DSQL runs every transaction in REPEATABLE READ; so must every test.
        "-c default_transaction_isolation='repeatable read'".to_string(),
        // Tests run in parallel, each with a few connections.
        "-c max_connections=200".to_string(),
    ]
    .join(" ")
}

/// Where temporary clusters go: /dev/shm when it is there with room to spare, else /tmp.
///
/// Memory is worth it: on the development machine, under the load of parallel builds, cloning a
/// test database took 20–50 ms on tmpfs against 300–500 ms on the disk behind /tmp, even with
/// fsync off. The price is memory until the process exits: about 40 MB for the cluster and 8 MB
/// per test database. The room check keeps small /dev/shm mounts (Docker gives 64 MB) out.
fn temporary_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && available_kib(shm).is_some_and(|kib| kib >= MIN_SHM_KIB) {
        return shm.to_path_buf();
    }
    PathBuf::from("/tmp")
}

/// A temporary cluster's files and the reaper process that removes them if this process dies.
#[derive(Debug)]
struct TemporaryFiles {
    dir: PathBuf,
    pgdata: PathBuf,
    tools: Tools,
    reaper: Option<Child>,
}

impl Drop for TemporaryFiles {
    /// Cleans up now rather than waiting for the reaper, which would only act at process exit.
    fn drop(&mut self) {
        if let Some(mut reaper) = self.reaper.take() {
            let _ = reaper.kill();
            let _ = reaper.wait();
        }
        if self.pgdata.join("postmaster.pid").exists()
            && let Err(error) = self.tools.stop(&self.pgdata, "immediate")
        {
            tracing::warn!(%error, "could not stop a temporary PostgreSQL cluster");
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(
                %error,
                dir = %self.dir.display(),
                "could not remove a temporary PostgreSQL cluster"
            );
        }
    }
}

fn start_temporary(tools: Tools, began: Instant) -> Result<Cluster, TestkitError> {
    // One short directory holds everything, and is the socket directory too:
    // /dev/shm/brpg-XXXXXXXX or /tmp/brpg-XXXXXXXX.
    let dir = short_private_dir(&temporary_base(), "brpg")?;
    let pgdata = dir.join("data");
    let log_file = dir.join("postgres.log");
    // From here on, dropping `files` (on an early return too) removes the directory again.
    let mut files = TemporaryFiles {
        dir: dir.clone(),
        pgdata: pgdata.clone(),
        tools: tools.clone(),
        reaper: None,
    };
    tools.identity.hand_over(&dir)?;
    // The reaper starts before initdb so that a kill at any later moment is cleaned up.
    files.reaper = Some(spawn_reaper(&tools, &dir, &pgdata)?);
    tools.initdb(&pgdata)?;
    tools.start(&pgdata, &log_file, &dir, PORT)?;
    let major_version = read_major_version(&pgdata)?;
    Ok(Cluster {
        tools,
        pgdata,
        socket_dir: dir,
        log_file,
        port: PORT,
        major_version,
        started_in: began.elapsed(),
        temporary: Some(files),
    })
}

/// Starts a detached shell that waits for this process to exit, however it exits (SIGKILL
/// included), then stops the server and removes `dir`. It gets its own process group so that a
/// Ctrl-C or a test runner killing our group does not take it down with us.
///
/// If this process is killed while `pg_ctl start` is still running, the server may come up
/// after the reaper stopped it; PostgreSQL then shuts itself down within a minute, when it
/// finds its postmaster.pid gone.
fn spawn_reaper(tools: &Tools, dir: &Path, pgdata: &Path) -> Result<Child, TestkitError> {
    use std::os::unix::process::CommandExt;
    const SCRIPT: &str = r#"trap '' HUP INT
parent=$1; pgdata=$2; dir=$3; shift 3
while kill -0 "$parent" 2>/dev/null; do sleep 0.5; done
"$@" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1
rm -rf "$dir""#;
    Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("backroom-testkit-reaper")
        .arg(std::process::id().to_string())
        .arg(pgdata)
        .arg(dir)
        .args(tools.identity.argv(&tools.bin_dir.join("pg_ctl")))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|error| {
            TestkitError::new(format!(
                "Could not start the shell that removes the temporary cluster {} at exit: {error}.",
                dir.display()
            ))
        })
}

fn start_persistent(tools: Tools, data_dir: &Path, began: Instant) -> Result<Cluster, TestkitError> {
    std::fs::create_dir_all(data_dir).map_err(|error| {
        TestkitError::new(format!(
            "Could not create the data directory {}: {error}.",
            data_dir.display()
        ))
    })?;
    // The server changes into its data directory, so every path handed to it must be absolute.
    let data_dir = std::fs::canonicalize(data_dir).map_err(|error| {
        TestkitError::new(format!(
            "Could not resolve the data directory {}: {error}.",
            data_dir.display()
        ))
    })?;
    let root = data_dir.join("pg");
    if !root.exists() {
        create_private_dir(&root)?;
        tools.identity.hand_over(&root)?;
    }
    tools.identity.check_reachable(&root)?;

    // Two `backroom dev` processes starting at once would race to initdb and to start the
    // server; the lock makes the second one wait and then attach to what the first started.
    let _lock = lock_file(&root.join("start.lock"))?;

    let pgdata = root.join("data");
    let log_file = root.join("postgres.log");
    if !pgdata.join("PG_VERSION").exists() {
        tools.initdb(&pgdata)?;
    }

    let major_version = read_major_version(&pgdata)?;
    if let Some(running) = wait_for_running_server(&tools, &pgdata, &log_file)? {
        return Ok(Cluster {
            tools,
            pgdata,
            socket_dir: running.socket_dir,
            log_file,
            port: running.port,
            major_version,
            started_in: began.elapsed(),
            temporary: None,
        });
    }

    let socket_dir = choose_socket_dir(&root, &tools.identity)?;
    record_socket_dir(&root, &socket_dir)?;
    tools.start(&pgdata, &log_file, &socket_dir, PORT)?;
    Ok(Cluster {
        tools,
        pgdata,
        socket_dir,
        log_file,
        port: PORT,
        major_version,
        started_in: began.elapsed(),
        temporary: None,
    })
}

fn read_major_version(pgdata: &Path) -> Result<u32, TestkitError> {
    let file = pgdata.join("PG_VERSION");
    let text = std::fs::read_to_string(&file)
        .map_err(|error| TestkitError::new(format!("Could not read {}: {error}.", file.display())))?;
    text.trim().parse().map_err(|_| {
        TestkitError::new(format!(
            "{} holds {:?}, not a PostgreSQL major version.",
            file.display(),
            text.trim()
        ))
    })
}

/// Where a running server can be reached, as its postmaster.pid says.
struct RunningServer {
    socket_dir: PathBuf,
    port: u16,
}

/// Returns the running server to attach to, or `None` when no server runs. pg_ctl also reports
/// "running" for a postmaster that was just killed and whose children are still exiting (or that
/// is a zombie nobody reaped yet), so a server only counts once it is ready and its socket
/// accepts connections; until then, or until pg_ctl sees it gone, this waits.
fn wait_for_running_server(
    tools: &Tools,
    pgdata: &Path,
    log_file: &Path,
) -> Result<Option<RunningServer>, TestkitError> {
    let deadline = Instant::now() + BUSY_WAIT;
    loop {
        if tools.status(pgdata)? == Status::NotRunning {
            return Ok(None);
        }
        let pid_file = PidFile::read(pgdata);
        if let Some(pid_file) = &pid_file
            && pid_file.status == "ready"
            && accepts_connections(&pid_file.socket_dir, pid_file.port)
        {
            return Ok(Some(RunningServer {
                socket_dir: pid_file.socket_dir.clone(),
                port: pid_file.port,
            }));
        }
        if Instant::now() >= deadline {
            let pid = pid_file.map_or_else(|| "unknown".to_string(), |file| file.pid);
            return Err(TestkitError::new(format!(
                "pg_ctl reports a PostgreSQL server running in {} (PID {pid}), but it has not \
                 accepted connections for {} s; stop it (`kill {pid}`), or remove \
                 {}/postmaster.pid if no such process exists.\nServer log ({}):\n{}",
                pgdata.display(),
                BUSY_WAIT.as_secs(),
                pgdata.display(),
                log_file.display(),
                last_lines(&read_from(log_file, 0), LOG_LINES_IN_ERRORS)
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The lines of postmaster.pid that matter here (see PostgreSQL's pidfile.h).
struct PidFile {
    pid: String,
    port: u16,
    socket_dir: PathBuf,
    status: String,
}

impl PidFile {
    fn read(pgdata: &Path) -> Option<PidFile> {
        let text = std::fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
        let lines: Vec<&str> = text.lines().collect();
        let socket_dir = lines.get(4)?.trim();
        if socket_dir.is_empty() {
            return None;
        }
        Some(PidFile {
            pid: lines.first()?.trim().to_string(),
            port: lines.get(3)?.trim().parse().ok()?,
            socket_dir: PathBuf::from(socket_dir),
            status: lines.get(7)?.trim().to_string(),
        })
    }
}

fn accepts_connections(socket_dir: &Path, port: u16) -> bool {
    std::os::unix::net::UnixStream::connect(socket_dir.join(format!(".s.PGSQL.{port}"))).is_ok()
}

/// The socket goes in `<data_dir>/pg/sock` when that path is short and plain enough, else in a
/// short directory under /tmp that is recorded and reused by later starts.
fn choose_socket_dir(root: &Path, identity: &Identity) -> Result<PathBuf, TestkitError> {
    let inside = root.join("sock");
    if socket_path_fits(&inside) && is_plain_path(&inside) {
        if !inside.exists() {
            create_private_dir(&inside)?;
            identity.hand_over(&inside)?;
        }
        return Ok(inside);
    }
    if let Some(recorded) = read_recorded_socket_dir(root)
        && recorded != inside
        && socket_path_fits(&recorded)
        && is_owned_dir(&recorded, identity.owner_uid())
    {
        return Ok(recorded);
    }
    let dir = short_private_dir(Path::new("/tmp"), "brpg")?;
    identity.hand_over(&dir)?;
    Ok(dir)
}

fn socket_path_fits(dir: &Path) -> bool {
    dir.as_os_str().len() + format!("/.s.PGSQL.{PORT}").len() <= MAX_SOCKET_PATH
}

/// A path that needs no quoting anywhere: not in `unix_socket_directories` (a comma-separated,
/// quotable list) nor in a connection string.
fn is_plain_path(path: &Path) -> bool {
    path.to_str().is_some_and(|text| {
        text.bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"/._-".contains(&byte))
    })
}

/// A directory in /tmp is only reused if the expected user still owns it; anyone may have
/// created a directory of that name after the old one was cleaned away.
fn is_owned_dir(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir).is_ok_and(|meta| meta.is_dir() && meta.uid() == uid)
}

fn socket_dir_record(root: &Path) -> PathBuf {
    root.join("socket_dir")
}

fn read_recorded_socket_dir(root: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(socket_dir_record(root)).ok()?;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(PathBuf::from(text))
}

/// Writes the socket directory to `<data_dir>/pg/socket_dir`, for people and scripts that want
/// to reach the server without asking pg_ctl.
fn record_socket_dir(root: &Path, socket_dir: &Path) -> Result<(), TestkitError> {
    let record = socket_dir_record(root);
    std::fs::write(&record, format!("{}\n", socket_dir.display()))
        .map_err(|error| TestkitError::new(format!("Could not write {}: {error}.", record.display())))
}

fn create_private_dir(dir: &Path) -> Result<(), TestkitError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(|error| TestkitError::new(format!("Could not create {}: {error}.", dir.display())))
}

/// An exclusive lock, released when the returned file is dropped (or the process dies).
fn lock_file(path: &Path) -> Result<File, TestkitError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|error| TestkitError::new(format!("Could not open {}: {error}.", path.display())))?;
    file.lock()
        .map_err(|error| TestkitError::new(format!("Could not lock {}: {error}.", path.display())))?;
    Ok(file)
}

/// The server log from `offset` on, or nothing when it cannot be read (it is only used to
/// explain an error).
fn read_from(log_file: &Path, offset: u64) -> String {
    let Ok(mut file) = File::open(log_file) else {
        return String::new();
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(count);
    if start == lines.len() {
        return "(empty)".to_string();
    }
    lines[start..].join("\n")
}

/// Quotes a value for a libpq/tokio-postgres key=value string when it needs it.
fn connection_value(value: &str) -> String {
    let plain = !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if plain {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_values_are_quoted_only_when_needed() {
        assert_eq!(connection_value("/tmp/brpg-1234abcd"), "/tmp/brpg-1234abcd");
        assert_eq!(connection_value("a b"), "'a b'");
        assert_eq!(connection_value(r"it's\"), r"'it\'s\\'");
        assert_eq!(connection_value(""), "''");
    }

    #[test]
    fn quoted_connection_values_parse_back() {
        let config: tokio_postgres::Config = format!(
            "host=/tmp/x port=5432 user=postgres dbname={}",
            connection_value(r"odd 'name'\")
        )
        .parse()
        .unwrap();
        assert_eq!(config.get_dbname(), Some(r"odd 'name'\"));
    }

    #[test]
    fn socket_paths_are_limited_to_what_every_unix_accepts() {
        let fits = PathBuf::from(format!("/{}", "a".repeat(MAX_SOCKET_PATH - 15)));
        let too_long = PathBuf::from(format!("/{}", "a".repeat(MAX_SOCKET_PATH - 14)));
        assert_eq!(fits.as_os_str().len() + "/.s.PGSQL.5432".len(), MAX_SOCKET_PATH);
        assert!(socket_path_fits(&fits));
        assert!(!socket_path_fits(&too_long));
    }

    #[test]
    fn only_plain_paths_hold_the_socket_inside_the_data_directory() {
        assert!(is_plain_path(Path::new("/home/dev/shop/.backroom/pg/sock")));
        assert!(!is_plain_path(Path::new("/home/dev/my shop/pg/sock")));
        assert!(!is_plain_path(Path::new("/home/dev/a,b/pg/sock")));
    }

    #[test]
    fn server_options_survive_the_shell_pg_ctl_runs_them_through() {
        let options = server_options(Path::new("/tmp/brpg-1234abcd"), PORT);
        let output = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {options}"))
            .output()
            .unwrap();
        let words = String::from_utf8(output.stdout).unwrap();
        let words: Vec<&str> = words.lines().collect();
        assert!(words.contains(&"listen_addresses="), "{words:?}");
        assert!(
            words.contains(&"unix_socket_directories=/tmp/brpg-1234abcd"),
            "{words:?}"
        );
        assert!(
            words.contains(&"default_transaction_isolation=repeatable read"),
            "{words:?}"
        );
    }

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("", 2), "(empty)");
    }
}
