//! `loadprof flame`: take a profile, fold it, draw it; `flame diff` and
//! `flame render` work on folded files.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::printed;
use crate::cancel::{self, StopToken};
use crate::cli::{FlameArgs, FlameDiffArgs, FlameRenderArgs, FlameSub};
use crate::error::{Error, Exit};
use crate::flame::render::{self, Style};
use crate::flame::{self, Capture, FlameError, Folded, Source};
use crate::heap::{HeapMode, HeapSpec};
use crate::report::flame::{FlameSection, write_changes, write_summary};
use crate::report::heap::{HeapSection, write_summary as write_heap_summary};
use crate::report::{write_atomic, write_atomic_with};

pub fn run(args: FlameArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    match &args.sub {
        Some(FlameSub::Diff(d)) => diff(d, out),
        Some(FlameSub::Render(r)) => render_file(r, out),
        None => capture(&args, out, err),
    }
}

fn flame_error(e: FlameError) -> Error {
    match e {
        FlameError::BadInput(m) => Error::bad_input(anyhow!(m)),
        FlameError::CannotProfile(m) => Error::cannot_run(anyhow!(m)),
    }
}

fn read_folded(path: &Path) -> Result<Folded, Error> {
    let text = crate::files::read_text_bounded(path, crate::files::FOLDED_LIMIT, "folded stacks file")
        .map_err(|e| Error::bad_input(anyhow!(e)))?;
    Folded::parse_owned(text).map_err(|e| Error::bad_input(anyhow!("{}: {e}", path.display())))
}

fn draw(path: &Path, draw: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<(), Error> {
    let mut svg = Vec::new();
    draw(&mut svg).map_err(|e| Error::cannot_run(anyhow!("cannot draw {}: {e}", path.display())))?;
    write_atomic(path, &svg).map_err(|e| Error::bad_input(anyhow!("-o {}: cannot write: {e}", path.display())))
}

/// "CPU: TARGET" or "Heap in use: TARGET" (a URL's secrets masked).
pub(super) fn default_title(c: &Capture, target: &str) -> String {
    let what = if c.kind == "heap" { "Heap in use" } else { "CPU" };
    format!("{what}: {}", crate::redact::url(target))
}

/// Writes the folded stacks and, when `svg` is given, draws them there.
pub(super) fn save(c: &Capture, folded: &Path, svg: Option<&Path>, title: String) -> Result<FlameSection, Error> {
    write_atomic_with(folded, |w| c.folded.write_to(w))
        .map_err(|e| Error::bad_input(anyhow!("{}: cannot write: {e}", folded.display())))?;
    let section = FlameSection::from_capture(c, Some(folded), svg, &title);
    if let Some(path) = svg {
        draw(path, |out| render::svg(&c.folded, &section.style(), out))?;
    }
    Ok(section)
}

fn capture(args: &FlameArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    let spec = args.to_spec();
    // What the graph is of: a running process's command line, the command, or the profile's address.
    let target: String = match &spec.source {
        Source::Pid(pid) => crate::sample::Target::find(&crate::sample::TargetSpec::Pid(*pid))
            .map_err(Error::bad_input)?
            .map(|t| t.command)
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| format!("pid {pid}")),
        Source::Command(argv) => argv.join(" "),
        Source::Pprof(url) => url.clone(),
    }
    .chars()
    .take(80)
    .collect();
    let folded_path: PathBuf = args
        .folded
        .clone()
        .unwrap_or_else(|| args.output.with_extension("folded"));
    if folded_path == args.output {
        return Err(Error::bad_input(anyhow!(
            "--folded {}: the same file as -o; give the SVG an .svg name",
            folded_path.display()
        )));
    }
    let stop = StopToken::new();
    cancel::stop_on_signals(stop.clone())
        .map_err(|e| Error::cannot_run(anyhow!("cannot install signal handlers: {e}")))?;
    if args.heap {
        return heap(args, &target, &folded_path, &stop, out, err);
    }
    let profiler = spec.profiler.unwrap_or_else(|| flame::choose(&spec.source));
    let saved = matches!(&spec.source, Source::Pprof(u) if !crate::http::is_url(u));
    let _ = if saved {
        writeln!(err, "reading the saved profile {target}")
    } else {
        writeln!(
            err,
            "profiling {target} with {} for {} (Ctrl-C stops early and keeps what was recorded)",
            profiler.name(),
            crate::config::units::format_duration(spec.duration),
        )
    };
    let c = flame::capture(
        &flame::CaptureSpec {
            profiler: Some(profiler),
            ..spec
        },
        &stop,
    )
    .map_err(flame_error)?;
    let title = args.title.clone().unwrap_or_else(|| default_title(&c, &target));
    let section = save(&c, &folded_path, (!args.no_svg).then_some(args.output.as_path()), title)?;
    let r = if args.json {
        write_summary(err, &section)
            .and_then(|()| serde_json::to_writer_pretty(&mut *out, &section).map_err(std::io::Error::from))
            .and_then(|()| writeln!(out))
    } else {
        write_summary(out, &section)
    };
    printed(r)?;
    Ok(if stop.reason().is_some() {
        Exit::Interrupted
    } else {
        Exit::Success
    })
}

/// `flame --heap`: a heap profile over --duration, its graph and its sites.
fn heap(
    args: &FlameArgs,
    target: &str,
    folded_path: &Path,
    stop: &StopToken,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit, Error> {
    let mut spec = args.to_heap_spec();
    if let Source::Pprof(u) = &spec.source
        && !crate::http::is_url(u)
        && spec.mode == HeapMode::Retained
    {
        // A saved profile is one moment: nothing to compare it with.
        spec.mode = HeapMode::Inuse;
    }
    let profiler = crate::heap::check(&spec).map_err(flame_error)?;
    let what = match spec.mode {
        HeapMode::Retained => "memory retained",
        HeapMode::Inuse => "memory in use",
    };
    let _ = writeln!(
        err,
        "heap profile of {target} with {}: {what} over {} (Ctrl-C ends the window early and keeps it)",
        profiler.name(),
        crate::config::units::format_duration(args.duration),
    );
    let spec = HeapSpec {
        profiler: Some(profiler),
        ..spec
    };
    let p = crate::heap::capture(&spec, args.duration, stop).map_err(flame_error)?;
    let title = args.title.clone().unwrap_or_else(|| {
        let what = if p.mode == HeapMode::Retained {
            "Heap retained"
        } else {
            "Heap in use"
        };
        format!("{what}: {}", crate::redact::url(target))
    });
    write_atomic_with(folded_path, |w| p.capture.folded.write_to(w))
        .map_err(|e| Error::bad_input(anyhow!("{}: cannot write: {e}", folded_path.display())))?;
    let svg = (!args.no_svg).then_some(args.output.as_path());
    let mut section = HeapSection::from_profile(&p, Some(folded_path), svg, &title);
    section.window_s = Some([0.0, (p.capture.elapsed.as_secs_f64() * 1000.0).round() / 1000.0]);
    if let Some(path) = svg {
        draw(path, |o| {
            render::svg(&p.capture.folded, &section.flame_view().style(), o)
        })?;
    }
    let r = if args.json {
        write_heap_summary(err, &section)
            .and_then(|()| serde_json::to_writer_pretty(&mut *out, &section).map_err(std::io::Error::from))
            .and_then(|()| writeln!(out))
    } else {
        write_heap_summary(out, &section)
    };
    printed(r)?;
    Ok(if stop.reason().is_some() {
        Exit::Interrupted
    } else {
        Exit::Success
    })
}

fn diff(args: &FlameDiffArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let before = read_folded(&args.before)?;
    let after = read_folded(&args.after)?;
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| format!("Differential: {} -> {}", args.before.display(), args.after.display()));
    let unit = args.count_name.as_str();
    let mut style = Style::new(title, unit);
    let own = if unit == "bytes" { "bytes" } else { "time" };
    style.subtitle = Some(format!(
        "widths from AFTER ({} {unit}), colour = change of each stack's own {own}: red grew, blue shrank{}",
        after.total(),
        if args.normalize {
            "; BEFORE scaled to AFTER's total"
        } else {
            ""
        }
    ));
    draw(&args.output, |svg| {
        render::diff_svg(&before, &after, args.normalize, &style, svg)
    })?;
    let changes = render::share_changes(&before, &after, args.top, 0.5);
    let r = if args.json {
        let doc = serde_json::json!({
            "before": args.before.display().to_string(),
            "after": args.after.display().to_string(),
            "svg": args.output.display().to_string(),
            "before_total": before.total(),
            "after_total": after.total(),
            "changes": changes,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_changes(out, &changes, unit).and_then(|()| writeln!(out, "wrote {}", args.output.display()))
    };
    printed(r)?;
    Ok(Exit::Success)
}

fn render_file(args: &FlameRenderArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let folded = read_folded(&args.input)?;
    let mut style = Style::new(args.title.clone(), args.count_name.clone());
    style.subtitle = args.subtitle.clone();
    draw(&args.output, |svg| render::svg(&folded, &style, svg))?;
    printed(writeln!(
        out,
        "wrote {} ({} stacks, {} {})",
        args.output.display(),
        folded.len(),
        folded.total(),
        args.count_name
    ))?;
    Ok(Exit::Success)
}
