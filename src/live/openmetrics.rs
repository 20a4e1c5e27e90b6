//! The OpenMetrics 1.0 text of a run's [`Family`] values: `# TYPE`,
//! `# HELP` and `# UNIT` lines, `_total` counters, `_info` families,
//! histograms as `_bucket`/`_count`/`_sum`, label values escaped, `# EOF`.
//!
//! Written by hand rather than through the `prometheus-client` crate: the
//! run's figures already exist (HdrHistograms and counters, read once a
//! second), and the crate's registry keeps values of its own that would
//! have to be copied into it; the same [`Family`] values also become the
//! remote-write series, and loadprof's own parser reads this text back in
//! the tests.

use super::{Family, Kind, Reading};
use crate::metrics::exposition::{escape_into, format_value as number};

/// The content type of the text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn labels(out: &mut String, run_id: &str, labels: &[(&str, String)], extra: Option<(&str, &str)>) {
    out.push_str("{run_id=\"");
    escape_into(out, run_id);
    out.push('"');
    for (k, v) in labels.iter().map(|(k, v)| (*k, v.as_str())).chain(extra) {
        out.push(',');
        out.push_str(k);
        out.push_str("=\"");
        escape_into(out, v);
        out.push('"');
    }
    out.push('}');
}

/// The whole text, ending in `# EOF`.
pub fn encode(run_id: &str, families: &[Family]) -> String {
    let mut out = String::with_capacity(4096);
    for f in families {
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Info => "info",
        };
        out.push_str(&format!("# TYPE {} {kind}\n", f.name));
        if !f.unit.is_empty() {
            out.push_str(&format!("# UNIT {} {}\n", f.name, f.unit));
        }
        out.push_str(&format!("# HELP {} ", f.name));
        escape_into(&mut out, f.help);
        out.push('\n');
        for (ls, value) in &f.samples {
            match value {
                Reading::Number(v) => {
                    out.push_str(f.name);
                    out.push_str(match f.kind {
                        Kind::Counter => "_total",
                        Kind::Info => "_info",
                        _ => "",
                    });
                    labels(&mut out, run_id, ls, None);
                    out.push(' ');
                    out.push_str(&number(*v));
                    out.push('\n');
                }
                Reading::Histogram(h) => {
                    for (bound, n) in &h.buckets {
                        out.push_str(f.name);
                        out.push_str("_bucket");
                        labels(&mut out, run_id, ls, Some(("le", &number(*bound))));
                        out.push_str(&format!(" {n}\n"));
                    }
                    out.push_str(f.name);
                    out.push_str("_count");
                    labels(&mut out, run_id, ls, None);
                    out.push_str(&format!(" {}\n", h.count));
                    out.push_str(f.name);
                    out.push_str("_sum");
                    labels(&mut out, run_id, ls, None);
                    out.push_str(&format!(" {}\n", number(h.sum)));
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::HistValue;
    use crate::metrics::exposition::{Kind as Parsed, Limits, parse};

    #[test]
    fn the_text_reads_back_as_openmetrics_with_every_value() {
        let families = vec![
            Family {
                name: "loadprof_requests",
                help: "Requests \\ finished.\nSecond line",
                unit: "",
                kind: Kind::Counter,
                samples: vec![(vec![("endpoint", "a \"b\"\n".into())], Reading::Number(12.0))],
            },
            Family {
                name: "loadprof_request_duration_seconds",
                help: "Latency.",
                unit: "seconds",
                kind: Kind::Histogram,
                samples: vec![(
                    vec![("endpoint", "x".into())],
                    Reading::Histogram(HistValue {
                        buckets: vec![(0.5, 3), (f64::INFINITY, 4)],
                        sum: 1.25,
                        count: 4,
                    }),
                )],
            },
            Family {
                name: "loadprof_run",
                help: "The run.",
                unit: "",
                kind: Kind::Info,
                samples: vec![(vec![("profile", "p".into())], Reading::Number(1.0))],
            },
        ];
        let text = encode("r1", &families);
        assert!(text.ends_with("# EOF\n"));
        let s = parse(&text, Some(CONTENT_TYPE), &Limits::default()).unwrap();
        assert!(s.openmetrics);
        assert_eq!(s.skipped_lines, 0, "{text}");
        let req = s.samples.iter().find(|x| x.name == "loadprof_requests_total").unwrap();
        assert_eq!(req.label("endpoint"), Some("a \"b\"\n"));
        assert_eq!((req.label("run_id"), req.value), (Some("r1"), 12.0));
        let inf = s
            .samples
            .iter()
            .find(|x| x.name == "loadprof_request_duration_seconds_bucket" && x.label("le") == Some("+Inf"))
            .unwrap();
        assert_eq!(inf.value, 4.0);
        let fam = s
            .families
            .iter()
            .find(|f| f.name == "loadprof_request_duration_seconds")
            .unwrap();
        assert_eq!((fam.kind, fam.unit.as_deref()), (Parsed::Histogram, Some("seconds")));
        assert!(s.samples.iter().any(|x| x.name == "loadprof_run_info"));
        let help = s.families.iter().find(|f| f.name == "loadprof_requests").unwrap();
        assert_eq!(help.help.as_deref(), Some("Requests \\ finished.\nSecond line"));
    }
}
