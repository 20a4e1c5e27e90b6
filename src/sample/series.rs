//! Running aggregates of the sampled series (min, mean, max, last) and the
//! CPU-percentage maths. Pure: values in, values out; bounded memory however
//! long the run.

use std::time::Duration;

/// Min, mean, max and last of one series, updated one value at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Series {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    last: f64,
}

/// The aggregates of a series with at least one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesStats {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub max: f64,
    pub last: f64,
}

impl Series {
    pub fn push(&mut self, v: f64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
        self.last = v;
    }

    /// Pushes `v` if it was measured; an unmeasured value is skipped, not zero.
    pub fn push_opt(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.push(v);
        }
    }

    /// `None` when nothing was measured.
    pub fn stats(&self) -> Option<SeriesStats> {
        (self.count > 0).then(|| SeriesStats {
            count: self.count,
            min: self.min,
            mean: self.sum / self.count as f64,
            max: self.max,
            last: self.last,
        })
    }
}

/// CPU use as a percentage of one core: CPU time over wall time. A process
/// using two cores fully reads 200 %, as in top and psrecord.
pub fn cpu_percent(cpu: Duration, wall: Duration) -> Option<f64> {
    if wall.is_zero() {
        return None;
    }
    Some(cpu.as_secs_f64() / wall.as_secs_f64() * 100.0)
}

/// CPU time a process used since the previous tick.
///
/// `prev` is its CPU time then, or `None` if it was not yet known. A process
/// first seen now counts in full only if it started after the previous tick
/// (then all its CPU time falls in this interval); one that was running
/// unseen has no usable baseline and contributes nothing this tick.
pub fn cpu_delta_ns(prev: Option<u64>, now: u64, started_after_prev_tick: bool) -> u64 {
    match prev {
        // The process clock never goes backwards; saturate in case a
        // fallback reading (stat ticks) is coarser than the previous one.
        Some(p) => now.saturating_sub(p),
        None if started_after_prev_tick => now,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_min_mean_max_last() {
        let mut s = Series::default();
        for v in [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0] {
            s.push(v);
        }
        let st = s.stats().unwrap();
        assert_eq!((st.min, st.max, st.last, st.count), (1.0, 9.0, 2.0, 7));
        assert!((st.mean - 25.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn series_empty_and_unmeasured_values() {
        let mut s = Series::default();
        assert_eq!(s.stats(), None);
        s.push_opt(None);
        assert_eq!(s.stats(), None);
        s.push_opt(Some(-2.0));
        assert_eq!(s.stats().unwrap().min, -2.0);
        assert_eq!(s.stats().unwrap().max, -2.0);
    }

    #[test]
    fn cpu_percent_of_one_core() {
        let ms = Duration::from_millis;
        assert_eq!(cpu_percent(ms(50), ms(100)), Some(50.0));
        assert_eq!(cpu_percent(ms(200), ms(100)), Some(200.0));
        assert_eq!(cpu_percent(ms(1), Duration::ZERO), None);
    }

    #[test]
    fn cpu_delta_of_known_new_and_unseen_processes() {
        assert_eq!(cpu_delta_ns(Some(1_000), 1_500, false), 500);
        assert_eq!(cpu_delta_ns(Some(1_500), 1_000, false), 0);
        assert_eq!(cpu_delta_ns(None, 700, true), 700);
        assert_eq!(cpu_delta_ns(None, 700, false), 0);
    }
}
