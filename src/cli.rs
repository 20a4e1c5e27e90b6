//! Command-line definitions (clap derive). Each `*Args` struct turns into a
//! validated config at once, so engines never parse strings.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::config::units::parse_duration;
use crate::config::{GpuMode, SampleCommand};
use crate::sample::{SamplerConfig, TargetSpec};

#[derive(Debug, Parser)]
#[command(
    name = "loadprof",
    version,
    about = "Load a service while sampling its processes: RSS, CPU, threads, fds, GPU memory.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sample a process tree's RSS, VMS, threads, CPU, fds and GPU memory into samples.csv.
    #[command(
        group(ArgGroup::new("target").required(true).args(["pid", "name", "command"])),
        after_help = "Examples:\n  loadprof sample --pid 4242 --duration 5m\n  loadprof sample --name 'uvicorn app:app' -o rss.csv\n  loadprof sample --interval 10ms -- python3 train.py"
    )]
    Sample(SampleArgs),
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Sample this running process and its children.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// Sample the one process tree whose root's name or command line matches this regular expression.
    #[arg(long, value_name = "PATTERN")]
    pub name: Option<String>,

    /// Time between samples (e.g. 10ms, 100ms, 1s).
    #[arg(long, default_value = "100ms", value_parser = parse_interval)]
    pub interval: Duration,

    /// Stop after this long (e.g. 30s, 5m). Default: until the target exits or Ctrl-C.
    #[arg(short = 'd', long, value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Sample only the target process, not its children.
    #[arg(long)]
    pub no_children: bool,

    /// Where to write samples.csv. Default: out/sample-<YYYYmmdd-HHMMSS>/samples.csv.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write samples-procs.csv beside the output: one row per process per sample.
    #[arg(long)]
    pub per_process: bool,

    /// Also read PSS and USS from smaps_rollup, at most every 5 s (the read stalls the target briefly).
    #[arg(long)]
    pub pss: bool,

    /// GPU memory per process through NVML.
    #[arg(long, value_enum, default_value_t = GpuMode::Auto)]
    pub gpu: GpuMode,

    /// Print the result (run and resources sections of result.json) as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Start this command and sample it (after `--`); sampling stops when it exits.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl SampleArgs {
    pub fn into_command(self, now: chrono::DateTime<chrono::Local>) -> SampleCommand {
        let target = match (self.pid, self.name) {
            (Some(pid), _) => TargetSpec::Pid(pid),
            (None, Some(name)) => TargetSpec::Name(name),
            (None, None) => TargetSpec::Command(self.command),
        };
        let output = self.output.unwrap_or_else(|| {
            PathBuf::from("out")
                .join(format!("sample-{}", now.format("%Y%m%d-%H%M%S")))
                .join("samples.csv")
        });
        SampleCommand {
            target,
            sampler: SamplerConfig {
                interval: self.interval,
                duration: self.duration,
                children: !self.no_children,
                per_process: self.per_process,
                pss: self.pss,
                gpu: self.gpu,
            },
            output,
            json: self.json,
        }
    }
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be greater than zero, e.g. 100ms, 30s, 5m".into());
    }
    Ok(d)
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_positive_duration(s)?;
    if d < Duration::from_millis(1) {
        return Err("must be at least 1ms (e.g. 10ms, 100ms, 1s)".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<SampleCommand, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("loadprof").chain(args.iter().copied()))?;
        let Command::Sample(a) = cli.command;
        Ok(a.into_command(chrono::Local::now()))
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pid_target_with_defaults() {
        let c = parse(&["sample", "--pid", "42"]).unwrap();
        assert_eq!(c.target, TargetSpec::Pid(42));
        assert_eq!(c.sampler.interval, Duration::from_millis(100));
        assert_eq!(c.sampler.duration, None);
        assert!(c.sampler.children);
        assert_eq!(c.sampler.gpu, GpuMode::Auto);
        assert!(c.output.starts_with("out"));
        assert!(c.output.ends_with("samples.csv"));
    }

    #[test]
    fn command_target_after_double_dash_keeps_its_flags() {
        let c = parse(&[
            "sample",
            "--interval",
            "10ms",
            "-d",
            "5s",
            "--",
            "python3",
            "-c",
            "--pid",
        ])
        .unwrap();
        assert_eq!(
            c.target,
            TargetSpec::Command(vec!["python3".into(), "-c".into(), "--pid".into()])
        );
        assert_eq!(c.sampler.interval, Duration::from_millis(10));
        assert_eq!(c.sampler.duration, Some(Duration::from_secs(5)));
    }

    #[test]
    fn all_flags() {
        let c = parse(&[
            "sample",
            "--name",
            "uvicorn",
            "--no-children",
            "-o",
            "x.csv",
            "--per-process",
            "--pss",
            "--gpu",
            "off",
            "--json",
        ])
        .unwrap();
        assert_eq!(c.target, TargetSpec::Name("uvicorn".into()));
        assert!(!c.sampler.children && c.sampler.per_process && c.sampler.pss && c.json);
        assert_eq!(c.sampler.gpu, GpuMode::Off);
        assert_eq!(c.output, PathBuf::from("x.csv"));
    }

    #[test]
    fn rejects_missing_or_double_target() {
        assert!(parse(&["sample"]).is_err());
        assert!(parse(&["sample", "--pid", "1", "--name", "x"]).is_err());
        assert!(parse(&["sample", "--pid", "1", "--", "sleep", "1"]).is_err());
    }

    #[test]
    fn rejects_zero_and_unitless_interval() {
        let e = parse(&["sample", "--pid", "1", "--interval", "0"]).unwrap_err();
        assert!(e.to_string().contains("greater than zero"), "{e}");
        let e = parse(&["sample", "--pid", "1", "--interval", "100"]).unwrap_err();
        assert!(e.to_string().contains("100ms"), "{e}");
        assert!(parse(&["sample", "--pid", "1", "--interval", "100us"]).is_err());
        assert!(parse(&["sample", "--pid", "1", "-d", "0s"]).is_err());
    }
}
