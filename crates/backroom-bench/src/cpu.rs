//! CPU time from `/proc`, to split a throughput run's CPU between the client and PostgreSQL: on
//! a small machine both share the same cores, so a client's own CPU lowers the rate as surely
//! as a slow server does.

use std::fs;

/// Clock ticks per second in `/proc/*/stat` (`USER_HZ`, 100 on every Linux architecture).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuSample {
    /// This process (every thread).
    pub own: f64,
    /// This process's children that have been waited for (pgbench, once it has exited).
    pub children: f64,
    /// Every PostgreSQL process, including the backends they have reaped.
    pub postgres: f64,
}

impl CpuSample {
    /// CPU seconds between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuSample) -> CpuSample {
        CpuSample {
            own: self.own - earlier.own,
            children: self.children - earlier.children,
            postgres: self.postgres - earlier.postgres,
        }
    }
}

/// Now, from `/proc` (zeros where it cannot be read).
pub fn sample() -> CpuSample {
    let own = fs::read_to_string("/proc/self/stat").ok().and_then(|s| parse_stat(&s));
    let mut postgres = 0.0;
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if !entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some(stat) = fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|s| parse_stat(&s))
                && stat.comm == "postgres"
            {
                postgres += stat.user + stat.system + stat.children_user + stat.children_system;
            }
        }
    }
    CpuSample {
        own: own.as_ref().map(|s| s.user + s.system).unwrap_or(0.0),
        children: own.as_ref().map(|s| s.children_user + s.children_system).unwrap_or(0.0),
        postgres,
    }
}

/// The fields of `/proc/<pid>/stat` used here, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub comm: String,
    pub user: f64,
    pub system: f64,
    pub children_user: f64,
    pub children_system: f64,
}

/// Parses `/proc/<pid>/stat`: `pid (comm) state ppid …`, utime, stime, cutime and cstime being
/// fields 14 to 17. The command name may hold spaces and parentheses, so the fields are counted
/// from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state), so field n is rest[n - 3].
    let field = |n: usize| -> Option<f64> { Some(rest.get(n - 3)?.parse::<f64>().ok()? / TICKS_PER_SECOND) };
    Some(Stat {
        comm,
        user: field(14)?,
        system: field(15)?,
        children_user: field(16)?,
        children_system: field(17)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (postgres: a (b) c) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 12 3 20 0 1 0 \
                    100 12345678 900 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.comm, "postgres: a (b) c");
        assert_eq!(
            (stat.user, stat.system, stat.children_user, stat.children_system),
            (2.5, 0.75, 0.12, 0.03)
        );
        assert!(parse_stat("12 (short) S 1 2").is_none());
    }

    #[test]
    fn this_process_uses_some_cpu_and_the_difference_is_taken_field_by_field() {
        let before = sample();
        let mut x = 0_u64;
        let began = std::time::Instant::now();
        while began.elapsed() < std::time::Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let used = sample().since(&before);
        assert!(used.own > 0.0, "{used:?}");
        assert_eq!(used.children, 0.0);
    }
}
