//! Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`) that are already on the machine.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::TestkitError;

/// Where Debian and Ubuntu install each major version's server binaries.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// Where Homebrew links its keg-only `postgresql@N` formulas, which are not on PATH by default.
const HOMEBREW_ROOTS: [&str; 2] = ["/opt/homebrew/opt", "/usr/local/opt"];

/// Finds a directory that holds both `initdb` and `pg_ctl`.
///
/// The search order is: a directory on PATH, then `pg_config --bindir`, then the highest-numbered
/// `/usr/lib/postgresql/*/bin`, then Homebrew's `postgresql@*` kegs.
pub fn find_postgres_bin_dir() -> Result<PathBuf, TestkitError> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let debian = vec![PathBuf::from(DEBIAN_ROOT)];
    let homebrew = HOMEBREW_ROOTS.iter().map(PathBuf::from).collect::<Vec<_>>();
    find_in(&path_var, pg_config_bindir(), &debian, &homebrew)
}

/// The search itself, with every source passed in so that tests can point it at nothing.
pub(crate) fn find_in(
    path_var: &OsStr,
    pg_config_bindir: Option<PathBuf>,
    versioned_roots: &[PathBuf],
    homebrew_roots: &[PathBuf],
) -> Result<PathBuf, TestkitError> {
    for dir in std::env::split_paths(path_var) {
        if let Some(found) = server_dir_via(&dir) {
            return Ok(found);
        }
    }
    if let Some(dir) = pg_config_bindir.filter(|dir| has_server_binaries(dir)) {
        return Ok(dir);
    }
    for root in versioned_roots {
        if let Some(found) = highest_version(root, |entry| entry.parse::<u32>().ok(), "bin") {
            return Ok(found);
        }
    }
    for root in homebrew_roots {
        let version = |entry: &str| entry.strip_prefix("postgresql@")?.parse::<u32>().ok();
        if let Some(found) = highest_version(root, version, "bin") {
            return Ok(found);
        }
    }
    Err(TestkitError::new(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, via pg_config, in \
         /usr/lib/postgresql/*/bin or in Homebrew's postgresql@* kegs. Install them: \
         `apt-get install postgresql-15` (Debian/Ubuntu) or `brew install postgresql@15` (macOS); \
         ./scripts/test installs them when run as root.",
    ))
}

/// A PATH entry often holds symlinks to the real binaries (Debian's /usr/local/bin links, for
/// instance). The real directory is the better answer because `postgres` itself sits beside
/// `initdb` there, so it is returned when both tools resolve into it.
fn server_dir_via(dir: &Path) -> Option<PathBuf> {
    if !has_server_binaries(dir) {
        return None;
    }
    let real_dir = std::fs::canonicalize(dir.join("initdb"))
        .ok()
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf));
    match real_dir {
        Some(real_dir) if has_server_binaries(&real_dir) => Some(real_dir),
        _ => Some(dir.to_path_buf()),
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("pg_ctl"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `pg_config` ships with the client libraries too, so its answer is only used when the server
/// binaries really are in the directory it names.
fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    if dir.is_empty() {
        return None;
    }
    Some(PathBuf::from(dir))
}

/// Picks `<root>/<entry>/<suffix>` for the entry with the highest version that has the server
/// binaries, so that a machine with PostgreSQL 15 and 16 uses 16.
fn highest_version(root: &Path, version_of: impl Fn(&str) -> Option<u32>, suffix: &str) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = version_of(entry.file_name().to_str()?)?;
            let dir = entry.path().join(suffix);
            has_server_binaries(&dir).then_some((version, dir))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, dir)| dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("brtk-bin-{label}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fake_server_binaries(dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        for tool in ["initdb", "pg_ctl"] {
            let path = dir.join(tool);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn the_machine_has_server_binaries() {
        let dir = find_postgres_bin_dir().unwrap();
        assert!(dir.join("initdb").is_file(), "{} has no initdb", dir.display());
        assert!(dir.join("pg_ctl").is_file(), "{} has no pg_ctl", dir.display());
    }

    #[test]
    fn nothing_found_explains_how_to_install() {
        let empty = scratch_dir("empty");
        let nowhere = std::slice::from_ref(&empty);
        let error = find_in(OsStr::new(""), None, nowhere, nowhere).unwrap_err();
        assert!(error.message().contains("apt-get install postgresql-15"), "{error}");
        assert!(error.message().contains("brew install postgresql@15"), "{error}");
        std::fs::remove_dir_all(empty).unwrap();
    }

    #[test]
    fn the_highest_versioned_directory_wins_and_incomplete_ones_are_skipped() {
        let root = scratch_dir("versions");
        fake_server_binaries(&root.join("9/bin"));
        fake_server_binaries(&root.join("15/bin"));
        std::fs::create_dir_all(root.join("17/bin")).unwrap();
        let found = find_in(OsStr::new(""), None, std::slice::from_ref(&root), &[]).unwrap();
        assert_eq!(found, root.join("15/bin"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_path_entry_comes_before_pg_config() {
        let on_path = scratch_dir("path");
        let from_pg_config = scratch_dir("pgconfig");
        fake_server_binaries(&on_path);
        fake_server_binaries(&from_pg_config);
        let found = find_in(on_path.as_os_str(), Some(from_pg_config.clone()), &[], &[]).unwrap();
        assert_eq!(found, std::fs::canonicalize(&on_path).unwrap());
        let found = find_in(OsStr::new(""), Some(from_pg_config.clone()), &[], &[]).unwrap();
        assert_eq!(found, from_pg_config);
        std::fs::remove_dir_all(on_path).unwrap();
        std::fs::remove_dir_all(from_pg_config).unwrap();
    }
}
