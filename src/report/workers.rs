//! Whether the workers merged into one result make up the whole load: a
//! distributed run is judged on the merge alone, so a worker that is
//! missing, started late or could not keep its schedule must show in the
//! merged result and fail it (unless the caller allows an incomplete one).
//! Pure: the workers' sections in, the verdict out.

use serde::{Deserialize, Serialize};

use super::load::LoadSection;

/// A worker that dropped more than this share of its arrivals could not
/// keep its schedule (the capacity search's bound too).
pub const MAX_DROPPED_SHARE: f64 = crate::capacity::judge::MAX_LATE_SHARE;

/// One worker's part, as the merge sees it.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    /// Where it came from, for errors (a file name).
    pub name: String,
    pub load: &'a LoadSection,
    /// `run.outcome`: completed, interrupted, target_exited or failed.
    pub outcome: String,
}

/// What the merge says about its workers (`load.merged`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedWorkers {
    /// How many workers shared the load, where they said (`--worker-count`).
    pub count: Option<u32>,
    /// The indexes merged, in order.
    pub indexes: Vec<u32>,
    pub missing: Vec<u32>,
    /// Started later than the bound after the agreed instant.
    pub late: Vec<u32>,
    /// Dropped arrivals, or did not complete.
    pub limited: Vec<u32>,
    /// The bound on a worker's start skew, ms.
    pub max_start_skew_ms: f64,
    /// Each problem in words; empty when the workers make up the whole load.
    pub problems: Vec<String>,
    /// The merge was told to accept an incomplete load.
    pub allowed: bool,
}

impl MergedWorkers {
    /// The merged result stands for the whole load.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Judges the workers of a merge. An error (exit 2) where the inputs
/// cannot be one load: workers of different counts, or one index twice.
pub fn judge(parts: &[Part], max_start_skew_ms: f64, allowed: bool) -> Result<MergedWorkers, String> {
    let mut count = None;
    let mut indexes: Vec<(u32, &str)> = Vec::new();
    let mut late = Vec::new();
    let mut limited = Vec::new();
    let mut problems = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let who = match p.load.worker {
            Some(w) => {
                match count {
                    Some(c) if c != w.count => {
                        return Err(format!(
                            "{}: worker {} of {}, but the inputs before it were workers of {c}; merge the results of one run",
                            p.name, w.index, w.count
                        ));
                    }
                    _ => count = Some(w.count),
                }
                if let Some((_, other)) = indexes.iter().find(|(x, _)| *x == w.index) {
                    return Err(format!(
                        "{}: worker {} of {} again (also {other}); each worker's result once",
                        p.name, w.index, w.count
                    ));
                }
                indexes.push((w.index, &p.name));
                format!("worker {} of {}", w.index, w.count)
            }
            None => format!("input {} ({})", i + 1, p.name),
        };
        let index = p.load.worker.map(|w| w.index);
        if let Some(skew) = p.load.start_skew_ms
            && skew > max_start_skew_ms
        {
            late.extend(index);
            problems.push(format!(
                "{who} started {skew:.0} ms after the agreed instant (more than {max_start_skew_ms:.0} ms): it missed the start of the load"
            ));
        }
        let arrivals = p.load.totals.requests + p.load.totals.dropped;
        let dropped = if arrivals > 0 {
            p.load.totals.dropped as f64 / arrivals as f64
        } else {
            0.0
        };
        if dropped > MAX_DROPPED_SHARE {
            limited.extend(index);
            problems.push(format!(
                "{who} dropped {:.1}% of its arrivals: loadprof there could not keep its schedule (give it more CPU, more max_in_flight, or more workers)",
                dropped * 100.0
            ));
        } else if p.outcome != "completed" {
            limited.extend(index);
            problems.push(format!("{who} did not complete (its run was {})", p.outcome));
        }
    }
    let mut present: Vec<u32> = indexes.iter().map(|x| x.0).collect();
    present.sort_unstable();
    let missing: Vec<u32> = count.map_or(Vec::new(), |c| (0..c).filter(|i| !present.contains(i)).collect());
    if let Some(c) = count
        && !missing.is_empty()
    {
        let listed: Vec<String> = missing.iter().map(u32::to_string).collect();
        problems.insert(
            0,
            format!(
                "{} of {c} workers missing (index {}): the merge holds {}/{c} of the load",
                missing.len(),
                listed.join(", "),
                c as usize - missing.len()
            ),
        );
    }
    Ok(MergedWorkers {
        count,
        indexes: present,
        missing,
        late,
        limited,
        max_start_skew_ms,
        problems,
        allowed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::WorkerPlace;

    fn section(index: u32, count: u32, skew: f64, requests: u64, dropped: u64) -> LoadSection {
        let mut s: LoadSection = serde_json::from_value(serde_json::json!({
            "model": "open", "target_rate": 25.0, "latency_corrected": true, "duration_s": 4.0,
            "workers": 10, "max_in_flight": 250, "cancelled": 0,
            "totals": {"requests": requests, "ok": requests, "errors": 0, "rps": 25.0, "success_rate": 1.0,
                       "error_kinds": {"connect": 0, "timeout": 0, "status": 0, "check": 0, "io": 0},
                       "dropped": dropped, "bytes": 0},
            "latency": null, "latency_uncorrected": null, "endpoints": []
        }))
        .unwrap();
        s.worker = Some(WorkerPlace { index, count });
        s.start_skew_ms = Some(skew);
        s
    }

    fn parts(s: &[LoadSection]) -> Vec<Part<'_>> {
        s.iter()
            .enumerate()
            .map(|(i, l)| Part {
                name: format!("w{i}.json"),
                load: l,
                outcome: "completed".into(),
            })
            .collect()
    }

    #[test]
    fn every_worker_on_time_is_the_whole_load() {
        let s: Vec<_> = (0..4).map(|i| section(i, 4, 1.5, 100, 0)).collect();
        let m = judge(&parts(&s), 1000.0, false).unwrap();
        assert!(m.complete(), "{m:?}");
        assert_eq!(m.indexes, vec![0, 1, 2, 3]);
        assert_eq!(m.count, Some(4));
    }

    #[test]
    fn a_missing_a_late_and_a_limited_worker_are_each_named() {
        let s = vec![
            section(0, 4, 2.0, 100, 0),
            section(3, 4, 2400.0, 60, 0),
            section(1, 4, 3.0, 80, 20),
        ];
        let m = judge(&parts(&s), 1000.0, false).unwrap();
        assert_eq!(m.missing, vec![2]);
        assert_eq!(m.late, vec![3]);
        assert_eq!(m.limited, vec![1]);
        assert_eq!(m.problems.len(), 3, "{:?}", m.problems);
        assert!(m.problems[0].starts_with("1 of 4 workers missing (index 2): the merge holds 3/4"));
        assert!(
            m.problems[1].contains("worker 3 of 4 started 2400 ms after"),
            "{:?}",
            m.problems
        );
        assert!(
            m.problems[2].contains("worker 1 of 4 dropped 20.0%"),
            "{:?}",
            m.problems
        );
        // A little dropping, or a little late, is no problem.
        let s = vec![section(0, 2, 900.0, 1000, 10), section(1, 2, -3.0, 1000, 0)];
        assert!(judge(&parts(&s), 1000.0, false).unwrap().complete());
        let mut p = parts(&s);
        p[1].outcome = "interrupted".into();
        let m = judge(&p, 1000.0, true).unwrap();
        assert_eq!(m.limited, vec![1]);
        assert!(m.allowed && !m.complete());
    }

    #[test]
    fn results_of_different_runs_or_one_worker_twice_cannot_be_merged() {
        let s = vec![section(0, 4, 1.0, 10, 0), section(1, 3, 1.0, 10, 0)];
        let e = judge(&parts(&s), 1000.0, false).unwrap_err();
        assert!(
            e.starts_with("w1.json: worker 1 of 3, but the inputs before it were workers of 4"),
            "{e}"
        );
        let s = vec![section(2, 4, 1.0, 10, 0), section(2, 4, 1.0, 10, 0)];
        let e = judge(&parts(&s), 1000.0, false).unwrap_err();
        assert!(e.contains("w1.json: worker 2 of 4 again (also w0.json)"), "{e}");
    }
}
