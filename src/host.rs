//! The machine a run happened on, for the `run.host` section of result.json.

use crate::sample::procfs;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Host {
    pub cpus: usize,
    pub mem_bytes: Option<u64>,
    pub os: String,
}

impl Host {
    pub fn detect() -> Host {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mem_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| procfs::parse_meminfo_total(&t));
        let distro = std::fs::read_to_string("/etc/os-release").ok().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| format!("Linux {}", k.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.to_string());
        let os = match distro {
            Some(d) => format!("{d}, {kernel}"),
            None => kernel,
        };
        Host { cpus, mem_bytes, os }
    }
}
