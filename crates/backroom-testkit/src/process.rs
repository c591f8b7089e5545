//! Running the PostgreSQL tools as the right user. `initdb` and `postgres` refuse to run as root,
//! so a root session runs them as the `postgres` system user through `runuser` and hands that
//! user the directories they write to. A normal user runs them directly.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::TestkitError;

unsafe extern "C" {
    /// POSIX `geteuid`: it cannot fail and touches no memory, hence `safe`. The standard library
    /// links libc already, so this needs no extra dependency.
    safe fn geteuid() -> u32;
}

/// Who the PostgreSQL tools run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    /// The current (non-root) user runs the tools directly.
    CurrentUser,
    /// The session is root: the tools run as the `postgres` system user.
    Postgres { uid: u32, gid: u32 },
}

impl Identity {
    pub(crate) fn detect() -> Result<Identity, TestkitError> {
        if geteuid() != 0 {
            return Ok(Identity::CurrentUser);
        }
        let uid = postgres_id("-u")?;
        let gid = postgres_id("-g")?;
        Ok(Identity::Postgres { uid, gid })
    }

    /// The uid that owns the cluster's files.
    pub(crate) fn owner_uid(&self) -> u32 {
        match self {
            Identity::CurrentUser => geteuid(),
            Identity::Postgres { uid, .. } => *uid,
        }
    }

    /// The program and leading arguments that run `program` as this identity, for the reaper's
    /// shell script as well as for `command`.
    pub(crate) fn argv(&self, program: &Path) -> Vec<OsString> {
        match self {
            Identity::CurrentUser => vec![program.into()],
            Identity::Postgres { .. } => vec![
                "runuser".into(),
                "-u".into(),
                "postgres".into(),
                "--".into(),
                program.into(),
            ],
        }
    }

    /// A command that runs `program` as this identity. It starts in `/` because root's working
    /// directory is often unreadable for `postgres`, and with no stdin so that nothing can block
    /// on a prompt.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let argv = self.argv(program);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).current_dir("/").stdin(Stdio::null());
        command
    }

    /// Gives a directory we created to the user the server runs as.
    pub(crate) fn hand_over(&self, dir: &Path) -> Result<(), TestkitError> {
        let Identity::Postgres { uid, gid } = self else {
            return Ok(());
        };
        std::os::unix::fs::chown(dir, Some(*uid), Some(*gid)).map_err(|error| {
            TestkitError::new(format!(
                "Could not give {} to the postgres user: {error}.",
                dir.display()
            ))
        })
    }

    /// As root, checks that the `postgres` user can write to `dir`, which needs every parent
    /// directory to be searchable by it. Without this check initdb fails later with a less
    /// obvious "Permission denied".
    pub(crate) fn check_reachable(&self, dir: &Path) -> Result<(), TestkitError> {
        if *self == Identity::CurrentUser {
            return Ok(());
        }
        let mut command = self.command(Path::new("test"));
        command.arg("-w").arg(dir);
        let output = run(&mut command, "test")?;
        if output.status.success() {
            return Ok(());
        }
        Err(TestkitError::new(format!(
            "The postgres user cannot write to {}: every parent directory must be searchable by \
             it (chmod o+x), or choose a data directory elsewhere.",
            dir.display()
        )))
    }
}

fn postgres_id(flag: &str) -> Result<u32, TestkitError> {
    let mut command = Command::new("id");
    command.arg(flag).arg("postgres");
    let output = run(&mut command, "id")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(TestkitError::new(format!(
            "Running as root needs the `postgres` system user (the postgresql package creates it), \
             but `id {flag} postgres` failed: {}",
            stderr_of(&output)
        )));
    }
    text.trim().parse().map_err(|_| {
        TestkitError::new(format!(
            "`id {flag} postgres` printed {:?}, which is not a number.",
            text.trim()
        ))
    })
}

/// Runs a command to completion and captures its output. Only a failure to start it is an error
/// here: callers decide what each exit status means.
pub(crate) fn run(command: &mut Command, what: &str) -> Result<Output, TestkitError> {
    command
        .output()
        .map_err(|error| TestkitError::new(format!("Could not run {what} ({}): {error}.", describe(command))))
}

/// What a failed tool said: stderr, or stdout when stderr is empty (pg_ctl prints some of its
/// errors to stdout).
pub(crate) fn stderr_of(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if !stderr.is_empty() {
        return stderr;
    }
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if stdout.is_empty() {
        return "(no output)".to_string();
    }
    stdout
}

fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|arg| arg.to_string_lossy().into_owned()));
    format!("`{}`", words.join(" "))
}

/// Quotes a word for /bin/sh, which is how pg_ctl passes `-o` options to the server.
pub(crate) fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Creates a new directory `<base>/<prefix>-<8 hex digits>` readable only by its owner. The
/// path is short on purpose: a unix socket path must fit in about 104 bytes.
pub(crate) fn short_private_dir(base: &Path, prefix: &str) -> Result<PathBuf, TestkitError> {
    use std::os::unix::fs::DirBuilderExt;
    let mut last_error = None;
    for _ in 0..16 {
        let dir = base.join(format!("{prefix}-{:08x}", rand::random::<u32>()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                last_error = Some(error);
            }
            Err(error) => {
                return Err(TestkitError::new(format!(
                    "Could not create a directory in {} for PostgreSQL: {error}.",
                    base.display()
                )));
            }
        }
    }
    Err(TestkitError::new(format!(
        "Could not create a directory in {} for PostgreSQL after 16 tries: {}.",
        base.display(),
        last_error.map_or_else(String::new, |error| error.to_string())
    )))
}

/// The space left on the file system that holds `dir`, in KiB, as POSIX `df -Pk` reports it.
pub(crate) fn available_kib(dir: &Path) -> Option<u64> {
    let output = Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    // The second line is "<filesystem> <size> <used> <available> <capacity> <mount point>".
    let text = String::from_utf8(output.stdout).ok()?;
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_survives_sh() {
        let word = "it's a /path with spaces";
        let output = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote(word)))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), word);
    }

    #[test]
    fn available_space_is_read_from_df() {
        let kib = available_kib(Path::new("/tmp")).unwrap();
        assert!(kib > 0);
    }

    #[test]
    fn short_private_dirs_are_new_private_and_short() {
        use std::os::unix::fs::PermissionsExt;
        let first = short_private_dir(Path::new("/tmp"), "brtk").unwrap();
        let second = short_private_dir(Path::new("/tmp"), "brtk").unwrap();
        assert_ne!(first, second);
        assert_eq!(first.as_os_str().len(), "/tmp/brtk-".len() + 8);
        let mode = std::fs::metadata(&first).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir(first).unwrap();
        std::fs::remove_dir(second).unwrap();
    }
}
