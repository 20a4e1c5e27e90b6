//! The `[heap]` table of a profile: which heap profiler, and where its
//! window sits in the load, validated with file:line: key errors.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::profile::LoadedProfile;
use super::units::parse_duration;
use crate::flame::Profiler;
use crate::heap::HeapMode;

/// `[heap]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeapTable {
    pub profiler: Option<Spanned<String>>,
    pub pprof_url: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub start_after: Option<Spanned<String>>,
    pub duration: Option<Spanned<String>>,
}

/// A validated `[heap]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct HeapPlan {
    /// None: by the target (memray for Python, jemalloc otherwise; pprof
    /// when `pprof_url` is given).
    pub profiler: Option<Profiler>,
    pub pprof_url: Option<String>,
    pub mode: HeapMode,
    /// From the start of the load; None: when the leak warm-up ends.
    pub start_after: Option<Duration>,
    /// None: until the load ends.
    pub duration: Option<Duration>,
}

fn parse_profiler(s: &str) -> Result<Option<Option<Profiler>>, String> {
    match s {
        "auto" => Ok(Some(None)),
        "off" => Ok(None),
        "memray" => Ok(Some(Some(Profiler::Memray))),
        "pprof" => Ok(Some(Some(Profiler::Pprof))),
        "jemalloc" => Ok(Some(Some(Profiler::Jemalloc))),
        other => Err(format!(
            "'{other}' is not a heap profiler; use auto, memray (Python), pprof (Go), jemalloc (native) or off"
        )),
    }
}

impl LoadedProfile {
    /// The `[heap]` table as a plan; None when there is none or it says
    /// `profiler = "off"`.
    pub fn heap_plan(&self) -> Result<Option<HeapPlan>, String> {
        let Some(table) = &self.profile.heap else {
            return Ok(None);
        };
        let h = table.get_ref();
        let profiler = match &h.profiler {
            Some(p) => match parse_profiler(p.get_ref()) {
                Ok(Some(choice)) => choice,
                Ok(None) => return Ok(None),
                Err(e) => return Err(format!("{}: {e}", self.at(p.span(), "heap.profiler"))),
            },
            None => None,
        };
        let duration = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<Duration>, String> {
            v.as_ref()
                .map(|d| parse_duration(d.get_ref()).map_err(|e| format!("{}: {e}", self.at(d.span(), key))))
                .transpose()
        };
        let length = duration(&h.duration, "heap.duration")?;
        if let (Some(d), Some(span)) = (length, h.duration.as_ref().map(|d| d.span()))
            && d.is_zero()
        {
            return Err(format!(
                "{}: must be greater than zero, e.g. 60s (or leave it out: until the load ends)",
                self.at(span, "heap.duration")
            ));
        }
        let mode = match &h.mode {
            Some(m) => match m.get_ref().as_str() {
                "retained" => HeapMode::Retained,
                "inuse" => HeapMode::Inuse,
                other => {
                    return Err(format!(
                        "{}: '{other}' is not a heap mode; use retained or inuse",
                        self.at(m.span(), "heap.mode")
                    ));
                }
            },
            None => HeapMode::Retained,
        };
        if let Some(u) = &h.pprof_url
            && !crate::http::is_url(u.get_ref())
        {
            return Err(format!(
                "{}: '{}' is not an http:// or https:// URL",
                self.at(u.span(), "heap.pprof_url"),
                u.get_ref()
            ));
        }
        let pprof_url = h.pprof_url.as_ref().map(|u| u.get_ref().clone());
        let span_of = |s: &Option<Spanned<String>>| s.as_ref().map_or(table.span(), |v| v.span());
        match (profiler, &pprof_url) {
            (Some(Profiler::Pprof), None) => {
                return Err(format!(
                    "{}: profiler = \"pprof\" needs pprof_url, e.g. \"http://127.0.0.1:6060/debug/pprof/heap\"",
                    self.at(span_of(&h.profiler), "heap.profiler")
                ));
            }
            (Some(p), Some(_)) if p != Profiler::Pprof => {
                return Err(format!(
                    "{}: pprof_url is read by the pprof profiler, not {}; remove one of them",
                    self.at(span_of(&h.pprof_url), "heap.pprof_url"),
                    p.name()
                ));
            }
            (Some(Profiler::Memray), _) if mode == HeapMode::Inuse => {
                return Err(format!(
                    "{}: memray sees only what is allocated after it attaches, so it gives retained profiles only; \
                     use mode = \"retained\", or pprof or jemalloc for in-use bytes",
                    self.at(span_of(&h.mode), "heap.mode")
                ));
            }
            _ => {}
        }
        Ok(Some(HeapPlan {
            profiler: if pprof_url.is_some() {
                Some(Profiler::Pprof)
            } else {
                profiler
            },
            pprof_url,
            mode,
            start_after: duration(&h.start_after, "heap.start_after")?,
            duration: length,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap(text: &str) -> Result<Option<HeapPlan>, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        LoadedProfile::read(&p)?.heap_plan()
    }

    #[test]
    fn heap_table_defaults_and_values() {
        assert_eq!(heap("name = \"x\"\n").unwrap(), None);
        assert_eq!(heap("[heap]\nprofiler = \"off\"\n").unwrap(), None);
        let p = heap("[heap]\n").unwrap().unwrap();
        assert_eq!(
            (p.profiler, p.mode, p.start_after, p.duration),
            (None, HeapMode::Retained, None, None)
        );
        let p = heap(
            "[heap]\npprof_url = \"http://127.0.0.1:6060/debug/pprof/heap\"\nmode = \"inuse\"\n\
             start_after = \"20s\"\nduration = \"1m\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.profiler, Some(Profiler::Pprof));
        assert_eq!(p.mode, HeapMode::Inuse);
        assert_eq!(p.start_after, Some(Duration::from_secs(20)));
        assert_eq!(p.duration, Some(Duration::from_secs(60)));
    }

    #[test]
    fn heap_table_errors_name_line_and_key() {
        let e = heap("[heap]\nprofiler = \"heaptrack\"\n").unwrap_err();
        assert!(e.contains("p.toml:2: heap.profiler") && e.contains("memray"), "{e}");
        let e = heap("[heap]\nprofiler = \"pprof\"\n").unwrap_err();
        assert!(e.contains("heap.profiler") && e.contains("pprof_url"), "{e}");
        let e = heap("[heap]\nprofiler = \"memray\"\n\nmode = \"inuse\"\n").unwrap_err();
        assert!(e.contains("p.toml:4: heap.mode") && e.contains("retained"), "{e}");
        let e = heap("[heap]\nmode = \"peak\"\n").unwrap_err();
        assert!(e.contains("heap.mode"), "{e}");
        let e = heap("[heap]\nduration = \"0s\"\n").unwrap_err();
        assert!(e.contains("heap.duration") && e.contains("greater than zero"), "{e}");
        let e = heap("[heap]\npprof_url = \"127.0.0.1:6060\"\n").unwrap_err();
        assert!(e.contains("heap.pprof_url"), "{e}");
        let e = heap("[heap]\nprofiler = \"jemalloc\"\npprof_url = \"http://h:1/\"\n").unwrap_err();
        assert!(e.contains("p.toml:3: heap.pprof_url"), "{e}");
        let e = heap("[heap]\nwindow = \"1m\"\n").unwrap_err();
        assert!(e.contains("window"), "{e}");
    }
}
