//! The human summary printed at the end of a load run: totals, a latency
//! table per endpoint, first chunk for streams, errors by kind, status
//! codes, and (open model) corrected and uncorrected latency side by side.

use std::io::{self, Write};
use std::path::Path;

use super::load::{Latency, LoadSection};
use crate::config::units::format_duration;
use crate::escape::terminal;
use crate::load::Model;

fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1}s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const COLUMNS: [&str; 8] = ["p50", "p90", "p95", "p99", "p99.9", "max", "mean", "count"];

fn table_row(out: &mut dyn Write, label: &str, l: Option<&Latency>, width: usize) -> io::Result<()> {
    write!(out, "  {label:<width$}")?;
    match l {
        None => writeln!(out, "  {:>8}", "-"),
        Some(l) => {
            let p = &l.percentiles;
            for v in [p.p50_ms, p.p90_ms, p.p95_ms, p.p99_ms, p.p999_ms, p.max_ms, p.mean_ms] {
                write!(out, "  {:>8}", ms(v))?;
            }
            writeln!(out, "  {:>8}", thousands(p.count))
        }
    }
}

fn table(out: &mut dyn Write, title: &str, rows: &[(String, Option<&Latency>)]) -> io::Result<()> {
    let width = rows
        .iter()
        .map(|(l, _)| l.len())
        .max()
        .unwrap_or(0)
        .max(title.len().saturating_sub(2));
    write!(out, "{title:<w$}", w = width + 2)?;
    for c in COLUMNS {
        write!(out, "  {c:>8}")?;
    }
    writeln!(out)?;
    for (label, l) in rows {
        table_row(out, label, *l, width)?;
    }
    Ok(())
}

/// Each scenario's iterations and failures, then its flow latency and its
/// poll steps' turnaround.
fn write_scenarios(out: &mut dyn Write, s: &LoadSection) -> io::Result<()> {
    for sc in &s.scenarios {
        let who = match (sc.model, sc.target_rate) {
            (Model::Open, Some(r)) => format!("{r}/s planned, {} workers", sc.workers),
            _ => format!("{} users", sc.workers),
        };
        let mut line = format!(
            "  {} ({}, {who}): {} iterations, {} failed",
            sc.name,
            sc.executor,
            thousands(sc.iterations),
            thousands(sc.failed_iterations)
        );
        if sc.interrupted_iterations > 0 {
            line.push_str(&format!(
                ", {} cut off at the end",
                thousands(sc.interrupted_iterations)
            ));
        }
        if sc.dropped > 0 {
            line.push_str(&format!(", {} arrivals dropped", thousands(sc.dropped)));
        }
        writeln!(out, "{}", terminal(&line))?;
        for f in sc.failed_by_step.iter().filter(|f| f.count > 0) {
            let why = f.example.as_deref().map_or(String::new(), |w| format!(": first: {w}"));
            writeln!(
                out,
                "{}",
                terminal(&format!("    failed at {}: {}{why}", f.step, thousands(f.count)))
            )?;
        }
    }
    writeln!(out)?;
    let mut rows: Vec<(String, Option<&Latency>)> = Vec::new();
    for sc in &s.scenarios {
        rows.push((format!("{} flow", sc.name), sc.flow.as_ref()));
        rows.push((format!("{} flow, in requests", sc.name), sc.active.as_ref()));
        let prefix = format!("{}.", sc.name);
        for e in s
            .endpoints
            .iter()
            .filter(|e| e.turnaround.is_some() && e.name.starts_with(&prefix))
        {
            rows.push((format!("{} turnaround", e.name), e.turnaround.as_ref()));
        }
    }
    table(out, "journeys (ms)", &rows)?;
    for e in &s.endpoints {
        if let Some(a) = &e.attempts {
            writeln!(
                out,
                "  {}: {} polls, {} requests, attempts mean {} p95 {} max {}",
                terminal(&e.name),
                thousands(a.polls),
                thousands(a.total),
                a.mean,
                a.p95,
                a.max
            )?;
        }
    }
    Ok(())
}

/// Writes the summary of `s` for `target` (the URL or profile).
pub fn write_summary(
    out: &mut dyn Write,
    s: &LoadSection,
    target: &str,
    outcome: &str,
    files: &[&Path],
) -> io::Result<()> {
    let model = match (s.model, s.target_rate) {
        (Model::Open, Some(r)) => format!(
            "open model, {r} req/s planned, {} connections used (at most {} in flight)",
            s.workers,
            s.max_in_flight.unwrap_or(s.workers)
        ),
        _ if !s.scenarios.is_empty() => {
            let names: Vec<String> = s
                .scenarios
                .iter()
                .map(|sc| format!("{} ({})", sc.name, sc.executor))
                .collect();
            format!("{} scenarios: {}", s.scenarios.len(), names.join(", "))
        }
        (Model::Open, None) | (Model::Mixed, _) => "open model".to_string(),
        (Model::Closed, _) => format!("closed model, {} users", s.workers),
    };
    let dur = std::time::Duration::from_secs_f64(s.duration_s);
    writeln!(out, "{target}: {model}, {} ({outcome})", format_duration(dur))?;
    let t = &s.totals;
    writeln!(
        out,
        "  requests {}  ({:.1}/s)   ok {}   errors {}   success {:.2}%",
        thousands(t.requests),
        t.rps,
        thousands(t.ok),
        thousands(t.errors),
        t.success_rate * 100.0
    )?;
    if t.errors > 0 {
        let k = &t.error_kinds;
        writeln!(
            out,
            "  errors by kind: connect {}, timeout {}, status {}, check {}, io {}",
            k.connect, k.timeout, k.status, k.check, k.io
        )?;
        for (kind, why) in &s.error_examples {
            writeln!(out, "    first {kind} error: {why}")?;
        }
    }
    if t.dropped > 0 {
        writeln!(
            out,
            "  dropped {}: arrivals not started because {} requests were already in flight (raise -c / max_in_flight)",
            thousands(t.dropped),
            s.max_in_flight.unwrap_or(s.workers)
        )?;
    }
    if s.unanswered > 0 {
        writeln!(
            out,
            "  unanswered {}: requests still without an answer when the graceful stop ended (counted as timeouts)",
            thousands(s.unanswered)
        )?;
    }
    if s.cancelled > 0 {
        writeln!(
            out,
            "  cancelled {} requests still in flight at the end (not counted)",
            s.cancelled
        )?;
    }
    writeln!(out)?;

    let mut rows: Vec<(String, Option<&Latency>)> = Vec::new();
    if s.endpoints.len() > 1 {
        rows.push(("all".into(), s.latency.as_ref()));
    }
    for e in &s.endpoints {
        rows.push((e.name.clone(), e.latency.as_ref()));
    }
    let title = if s.latency_corrected {
        "latency (ms, from intended start)"
    } else {
        "latency (ms)"
    };
    table(out, title, &rows)?;

    if s.latency_corrected {
        writeln!(out)?;
        let rows = vec![
            ("corrected (from intended start)".to_string(), s.latency.as_ref()),
            (
                "uncorrected (from actual send)".to_string(),
                s.latency_uncorrected.as_ref(),
            ),
        ];
        table(out, "coordinated omission (ms)", &rows)?;
    }

    if !s.scenarios.is_empty() {
        writeln!(out)?;
        write_scenarios(out, s)?;
    }

    let streams: Vec<(String, Option<&Latency>)> = s
        .endpoints
        .iter()
        .filter(|e| e.first_chunk.is_some())
        .flat_map(|e| {
            [
                (format!("{} first chunk", e.name), e.first_chunk.as_ref()),
                (format!("{} gap between chunks", e.name), e.chunk_gap.as_ref()),
            ]
        })
        .collect();
    if !streams.is_empty() {
        writeln!(out)?;
        table(out, "streams (ms)", &streams)?;
    }

    writeln!(out)?;
    for e in &s.endpoints {
        let codes: Vec<String> = e
            .statuses
            .iter()
            .map(|(k, v)| format!("{k} × {}", thousands(*v)))
            .collect();
        let codes = if codes.is_empty() {
            "none".to_string()
        } else {
            codes.join(", ")
        };
        let checks = if e.check_failures > 0 {
            format!("; {} failed the body check", thousands(e.check_failures))
        } else {
            String::new()
        };
        writeln!(out, "  {}: status {codes}{checks}", e.name)?;
    }
    if !files.is_empty() {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        writeln!(out, "wrote {}", names.join(", "))?;
    }
    Ok(())
}
