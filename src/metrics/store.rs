//! The series scraped during a run, on the run's clock: for each one what
//! Prometheus would answer over the load window ([`Running`]: rate,
//! increase, max, mean, last), taken one scrape at a time so that a long
//! run keeps a fixed amount per series, and the whole series only for
//! those the SLOs name (for their charts). Bounded: at most `max_series`
//! series, and at most [`MAX_KEPT`] of them kept whole; what is past a cap
//! is counted. Pure: scrapes in, figures out.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use super::exposition::{Kind, Sample, Scrape, family_of};
use super::promql::{Point, Running};
use super::selector::Selector;

/// Most series kept whole (every scrape) for charts.
pub const MAX_KEPT: usize = 500;

/// How a series is judged: a counter's figures are its rate and increase,
/// a gauge's its max, mean and last; a series of no known type gets both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Counter,
    Gauge,
    Either,
}

impl Role {
    fn of(kind: Option<Kind>, name: &str) -> Role {
        match kind {
            Some(Kind::Counter | Kind::Histogram | Kind::Summary) => Role::Counter,
            Some(Kind::Gauge | Kind::GaugeHistogram | Kind::StateSet | Kind::Info) => Role::Gauge,
            // A 0.0.4 exporter without `# TYPE` lines still names its
            // counters as the convention asks.
            _ if name.ends_with("_total") => Role::Counter,
            _ => Role::Either,
        }
    }

    pub fn counts(self) -> bool {
        matches!(self, Role::Counter | Role::Either)
    }

    pub fn gauges(self) -> bool {
        matches!(self, Role::Gauge | Role::Either)
    }
}

/// One series.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// Sorted by name; includes `instance` (the scraped URL's host:port)
    /// unless the target set one itself.
    pub labels: Vec<(String, String)>,
    pub role: Role,
    /// The samples inside the load window.
    pub window: Running,
    /// Every sample, for a series an SLO names (else `None`).
    pub points: Option<Vec<Point>>,
    /// Scrapes it appeared in.
    pub seen: u64,
}

impl Series {
    /// The value of label `name`, if the series has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What one scrape added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    pub samples: u64,
    /// Samples of series past the cap on series, not kept.
    pub dropped: u64,
}

/// All series of a run.
#[derive(Debug)]
pub struct Store {
    series: Vec<Series>,
    /// Series by a keyed hash of their name and labels (a hostile target
    /// cannot aim collisions at it); equal hashes are told apart by value.
    index: HashMap<u64, Vec<usize>>,
    hasher: std::collections::hash_map::RandomState,
    max_series: usize,
    /// What the SLOs name: matching series are kept whole.
    watch: Vec<Selector>,
    kept: usize,
    /// Samples past `max_series` (and kept-whole series past [`MAX_KEPT`]).
    pub dropped_samples: u64,
    pub unkept_series: u64,
    /// The load window on the run's clock: samples in it feed the figures.
    /// Its end is open until the load ends.
    window: (Option<f64>, Option<f64>),
}

impl Store {
    pub fn new(max_series: usize, watch: Vec<Selector>) -> Store {
        Store {
            series: Vec::new(),
            index: HashMap::new(),
            hasher: std::collections::hash_map::RandomState::new(),
            max_series,
            watch,
            kept: 0,
            dropped_samples: 0,
            unkept_series: 0,
            window: (None, None),
        }
    }

    /// Opens the load window at `t` (samples from `t` on count).
    pub fn open(&mut self, t: f64) {
        self.window.0.get_or_insert(t);
    }

    /// Closes it at `t` (samples after `t` no longer count).
    pub fn close(&mut self, t: f64) {
        self.window.1.get_or_insert(t);
    }

    /// The window, once it has opened.
    pub fn window(&self) -> Option<(f64, Option<f64>)> {
        self.window.0.map(|s| (s, self.window.1))
    }

    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// Takes one scrape's samples, taken at `t` from `instance`.
    /// `_created` samples (a start time, not a value) are left out.
    pub fn add(&mut self, t: f64, scrape: &Scrape, instance: &str) -> Added {
        let mut added = Added::default();
        let in_window = self.window.0.is_some_and(|s| t >= s) && self.window.1.is_none_or(|e| t <= e);
        for sample in &scrape.samples {
            if sample.name.ends_with("_created") {
                continue;
            }
            let mut h = self.hasher.build_hasher();
            sample.name.hash(&mut h);
            for label in series_labels(sample, instance) {
                label.hash(&mut h);
            }
            let hash = h.finish();
            let found = self.index.get(&hash).and_then(|candidates| {
                candidates.iter().copied().find(|&i| {
                    let s = &self.series[i];
                    s.name == sample.name
                        && s.labels
                            .iter()
                            .map(|(n, v)| (n.as_str(), v.as_str()))
                            .eq(series_labels(sample, instance))
                })
            });
            let i = match found {
                Some(i) => i,
                None => {
                    if self.series.len() >= self.max_series {
                        added.dropped += 1;
                        continue;
                    }
                    let labels: Vec<(String, String)> = series_labels(sample, instance)
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect();
                    let name = sample.name.clone();
                    let watched = self.watch.iter().any(|w| watches(w, &name, &labels));
                    let points = if watched && self.kept < MAX_KEPT {
                        self.kept += 1;
                        Some(Vec::new())
                    } else {
                        if watched {
                            self.unkept_series += 1;
                        }
                        None
                    };
                    let role = Role::of(family_of(scrape, sample).map(|f| f.kind), &name);
                    self.index.entry(hash).or_default().push(self.series.len());
                    self.series.push(Series {
                        name,
                        labels,
                        role,
                        window: Running::default(),
                        points,
                        seen: 0,
                    });
                    self.series.len() - 1
                }
            };
            let s = &mut self.series[i];
            let p = Point { t, v: sample.value };
            s.seen += 1;
            if let Some(points) = &mut s.points
                && points.last().is_none_or(|l| l.t < t)
            {
                points.push(p);
            }
            if in_window {
                s.window.push(p);
            }
            added.samples += 1;
        }
        self.dropped_samples += added.dropped;
        added
    }
}

/// The labels of the series a sample from `instance` belongs to: its
/// own, in order, with `instance` among them unless the target set one.
pub fn series_labels<'a>(sample: &'a Sample, instance: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    let extra = sample.label("instance").is_none().then_some(("instance", instance));
    let at = sample.labels.partition_point(|(n, _)| n.as_str() < "instance");
    let own = sample.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    own.clone().take(at).chain(extra).chain(own.skip(at))
}

/// Whether series `name{labels}` is one `w` needs whole: the series it
/// selects, and for a histogram's name its buckets, count and sum.
fn watches(w: &Selector, name: &str, labels: &[(String, String)]) -> bool {
    if w.selects(name, labels) {
        return true;
    }
    let base = w.name.strip_suffix("_bucket").unwrap_or(&w.name);
    ["_bucket", "_count", "_sum"].iter().any(|suffix| {
        name.strip_suffix(suffix) == Some(base)
            && w.matchers
                .iter()
                .filter(|(l, _)| l != "le")
                .all(|(l, m)| m.matches(labels.iter().find(|(n, _)| n == l).map_or("", |(_, v)| v)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::{Limits, parse};

    fn scrape(text: &str) -> Scrape {
        parse(text, None, &Limits::default()).unwrap()
    }

    fn text(n: f64, g: f64) -> String {
        format!(
            "# TYPE req_total counter\nreq_total{{code=\"200\"}} {n}\n# TYPE temp gauge\ntemp {g}\n\
             # TYPE lat_seconds histogram\nlat_seconds_bucket{{le=\"0.1\"}} {n}\nlat_seconds_bucket{{le=\"+Inf\"}} {n}\n\
             lat_seconds_count {n}\nlat_seconds_sum 1\nlat_seconds_created 1.7e9\nuntyped_thing 3\n"
        )
    }

    #[test]
    fn figures_come_from_the_window_only_and_match_the_slice_functions() {
        let mut s = Store::new(100, vec![Selector::parse("lat_seconds").unwrap()]);
        let mut all = Vec::new();
        for i in 0..20 {
            let t = i as f64 + 0.5;
            let n = (i * i) as f64;
            if i == 5 {
                s.open(5.0);
            }
            if i == 15 {
                s.close(14.7);
            }
            s.add(t, &scrape(&text(n, 20.0 - i as f64)), "h:1");
            all.push(Point { t, v: n });
        }
        let req = s.series().iter().find(|x| x.name == "req_total").unwrap();
        assert_eq!(req.role, Role::Counter);
        assert_eq!(req.label("instance"), Some("h:1"));
        assert_eq!(req.window.count(), 10);
        assert_eq!(
            req.window.increase(5.0, 14.7),
            crate::metrics::promql::increase(&all, 5.0, 14.7)
        );
        assert!(req.points.is_none(), "only watched series are kept whole");
        let temp = s.series().iter().find(|x| x.name == "temp").unwrap();
        assert_eq!((temp.role, temp.window.max()), (Role::Gauge, Some(15.0)));
        let buckets: Vec<_> = s.series().iter().filter(|x| x.name == "lat_seconds_bucket").collect();
        assert_eq!(buckets.len(), 2);
        assert!(buckets.iter().all(|b| b.points.as_ref().is_some_and(|p| p.len() == 20)));
        assert!(s.series().iter().all(|x| !x.name.ends_with("_created")));
        let untyped = s.series().iter().find(|x| x.name == "untyped_thing").unwrap();
        assert_eq!(untyped.role, Role::Either);
    }

    #[test]
    fn series_past_the_cap_are_counted_not_kept() {
        let mut s = Store::new(3, Vec::new());
        let added = s.add(1.0, &scrape(&text(1.0, 1.0)), "h:1");
        assert_eq!((s.series().len(), added.dropped, added.samples), (3, 4, 3));
        s.add(2.0, &scrape(&text(2.0, 1.0)), "h:1");
        assert_eq!(s.dropped_samples, 8);
    }

    #[test]
    fn a_target_that_sets_instance_keeps_it() {
        let mut s = Store::new(10, Vec::new());
        s.add(1.0, &scrape("up{instance=\"mine\"} 1\n"), "h:1");
        assert_eq!(s.series()[0].labels, vec![("instance".to_string(), "mine".to_string())]);
    }
}
