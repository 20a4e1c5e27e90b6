//! `loadprof validate`: read a profile as `run` would, without running it.

use std::io::Write;
use std::path::Path;

use anyhow::anyhow;

use super::printed;
use crate::config::profile::LoadedProfile;
use crate::error::{Error, Exit};

pub fn run(path: &Path, overrides: &[String], out: &mut dyn Write) -> Result<Exit, Error> {
    let bad = |e: String| Error::bad_input(anyhow!(e));
    // Reading checks every table's keys, [flame] and [slo].
    let profile = LoadedProfile::read_with(path, overrides).map_err(bad)?;
    let mut lines = vec![format!("{}: valid", path.display())];
    if let Some(t) = profile.target_plan().map_err(bad)? {
        let what = match &t.spec {
            crate::sample::TargetSpec::Command(argv) => format!("starts '{}'", argv.join(" ")),
            crate::sample::TargetSpec::Pid(pid) => format!("attaches to pid {pid}"),
            crate::sample::TargetSpec::Name(n) => format!("attaches to the process matching '{n}'"),
        };
        let ready = t
            .ready_url
            .as_ref()
            .map_or(String::new(), |u| format!(", ready when {u} answers 2xx"));
        lines.push(format!("  target: {what}{ready}"));
    }
    if profile.profile.load.is_some() {
        let cfg = crate::config::load::build(profile.load_spec((0, 1)).map_err(bad)?).map_err(bad)?;
        let names: Vec<&str> = cfg.endpoints.iter().map(|e| e.name.as_str()).collect();
        lines.push(format!("  load: {} endpoint(s): {}", names.len(), names.join(", ")));
    }
    if let Some(plan) = profile.flame_plan().map_err(bad)? {
        lines.push(format!(
            "  flame: {} for {}{}",
            plan.profiler.map_or("auto", |p| p.name()),
            crate::config::units::format_duration(plan.duration),
            if plan.start_after.is_zero() {
                String::new()
            } else {
                format!(
                    ", from {} into the load",
                    crate::config::units::format_duration(plan.start_after)
                )
            }
        ));
    }
    if let Some(h) = profile.heap_plan().map_err(bad)? {
        use crate::config::units::format_duration;
        let from = h.start_after.map_or("the end of the leak warm-up".to_string(), |d| {
            format!("{} into the load", format_duration(d))
        });
        let until = h.duration.map_or("until the load ends".to_string(), |d| {
            format!("for {}", format_duration(d))
        });
        lines.push(format!(
            "  heap: {} {} profile from {from}, {until}",
            h.profiler.map_or("auto", |p| p.name()),
            h.mode.name()
        ));
    }
    if let Some(l) = profile.llm_plan().map_err(bad)? {
        lines.push(format!(
            "  llm: {} model(s) at {} ({}): {}; {} run(s) each, {} quality check(s), use {}",
            l.bench.models.len(),
            l.endpoint,
            format!("{:?}", l.api).to_lowercase(),
            l.bench.models.join(", "),
            l.bench.runs,
            l.bench.checks.len(),
            l.budgets.use_case.name()
        ));
    }
    let slos = profile.slos().map_err(bad)?;
    if !slos.is_empty() {
        let listed: Vec<String> = slos.iter().map(|s| format!("{} {}", s.name, s.text)).collect();
        lines.push(format!("  slo: {}", listed.join("; ")));
    }
    printed(lines.iter().try_for_each(|l| writeln!(out, "{l}")))?;
    Ok(Exit::Success)
}
