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
        for sc in cfg.scenarios.iter().filter(|s| !s.name.is_empty()) {
            lines.extend(describe_scenario(sc));
        }
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
    if let Some(m) = profile.metrics_plan().map_err(bad)? {
        let urls: Vec<String> = m.scrape.iter().map(|u| crate::redact::url(u).into_owned()).collect();
        if !urls.is_empty() {
            lines.push(format!(
                "  metrics: scrapes {} every {}, at most {} series",
                urls.join(", "),
                crate::config::units::format_duration(m.interval),
                m.max_series
            ));
        }
        if let Some(p) = &m.prometheus_url {
            lines.push(format!(
                "  metrics: asks {} for {} quer{} over the run",
                crate::redact::url(p),
                m.queries.len(),
                if m.queries.len() == 1 { "y" } else { "ies" }
            ));
        }
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
        if let Some(max) = l.bench.capacity {
            lines.push(format!(
                "  llm capacity: the most concurrent streams within the budgets, up to {max}"
            ));
        }
    }
    let slos = profile.slos().map_err(bad)?;
    if !slos.is_empty() {
        let listed: Vec<String> = slos.iter().map(|s| format!("{} {}", s.name, s.text)).collect();
        lines.push(format!("  slo: {}", listed.join("; ")));
    }
    printed(lines.iter().try_for_each(|l| writeln!(out, "{l}")))?;
    Ok(Exit::Success)
}

/// A scenario in words: its executor and load shape, when it runs, and
/// each step with what it captures and how it polls.
fn describe_scenario(sc: &crate::load::Scenario) -> Vec<String> {
    use crate::config::units::format_duration as d;
    use crate::load::journey::{Session, Test};
    use crate::load::{Executor, Flow};
    let think = |t: &crate::load::plan::ThinkTime| {
        if t.max.is_zero() {
            String::new()
        } else if t.min == t.max {
            format!(", thinking {}", d(t.min))
        } else {
            format!(", thinking {}..{}", d(t.min), d(t.max))
        }
    };
    let shape = match &sc.executor {
        Executor::Closed {
            users,
            think: t,
            iterations,
            shared_iterations,
            ramp,
            ..
        } => {
            let mut s = match (ramp, iterations, shared_iterations) {
                (Some(plan), _, _) => format!("up to {users} users following {} stage(s)", plan.stages.len()),
                (_, Some(n), _) => format!("{users} users, {n} iterations each"),
                (_, _, Some(n)) => format!("{users} users sharing {n} iterations"),
                _ => format!("{users} users"),
            };
            s.push_str(&think(t));
            s
        }
        Executor::Open {
            plan, max_in_flight, ..
        } => format!("up to {} iterations/s, at most {max_in_flight} in flight", plan.peak()),
    };
    let when = match (sc.start.is_zero(), sc.end()) {
        (true, Some(end)) => format!("for {}", d(end)),
        (true, None) => "until its iterations are done".to_string(),
        (false, Some(end)) => format!("from {} to {}", d(sc.start), d(end)),
        (false, None) => format!("from {} until its iterations are done", d(sc.start)),
    };
    let mut lines = vec![format!("  scenario {}: {}, {shape}, {when}", sc.name, sc.executor_name)];
    let Flow::Steps(j) = &sc.flow else { return lines };
    lines.push(format!(
        "    captures and cookies {}{}",
        match j.session {
            Session::User => "live as long as each user",
            Session::Iteration => "start afresh each iteration (from what on_start left)",
        },
        if j.cookies { "" } else { "; cookies off" }
    ));
    let steps = j
        .on_start
        .iter()
        .map(|s| (s, "once per user: "))
        .chain(j.steps.iter().map(|s| (s, "")));
    for (step, once) in steps {
        let mut line = format!("    {once}{}.{}", sc.name, step.name);
        for c in &step.captures {
            line.push_str(&format!("; captures {} from {}", c.name, c.from.describe()));
        }
        if let Some(p) = &step.poll {
            let test = match &p.until.test {
                Test::Equals(v) => format!("is {v}"),
                Test::In(vs) => format!("is one of {}", serde_json::Value::from(vs.clone())),
                Test::Exists => "is there".to_string(),
            };
            line.push_str(&format!(
                "; polls every {} until {} {test} (timeout {}{})",
                d(p.interval),
                p.until.source.describe(),
                d(p.timeout),
                p.max_attempts
                    .map_or(String::new(), |m| format!(", at most {m} attempts"))
            ));
        }
        lines.push(line);
    }
    lines
}
