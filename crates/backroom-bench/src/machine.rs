//! What the figures were measured on, and the memory a process has used (from /proc).

use std::process::Command;

use crate::report::Machine;

/// The machine, read now.
pub fn describe() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let nproc = command_output("nproc", &[])
        .and_then(|n| n.parse().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let memory_mb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb / 1024)
    });
    let load_average_at_start = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    Machine {
        nproc,
        cpu_model,
        kernel,
        memory_mb,
        load_average_at_start,
        rustc: command_output("rustc", &["--version"]),
        node: command_output("node", &["--version"]),
        postgres: backroom_testkit::find_postgres_bin_dir()
            .ok()
            .and_then(|dir| command_output(&dir.join("postgres").to_string_lossy(), &["--version"])),
    }
}

/// A command's trimmed stdout, when it ran and succeeded.
pub fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The peak resident set size of a live process, in kB (`VmHWM` in /proc/<pid>/status).
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_from_a_status_file_and_from_this_process() {
        assert_eq!(
            parse_vm_hwm("Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\n"),
            Some(5120)
        );
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        let own = peak_rss_kb(std::process::id()).expect("this process has a VmHWM");
        assert!(own > 100, "{own} kB");
    }
}
