//! Tick timing on absolute deadlines: tick k is due at `start + k *
//! interval`, so sleeping late once never shifts every later sample (the
//! drift that makes psrecord sample at 8.7 Hz when asked for 10 Hz). A tick
//! taken late is counted; when a whole interval was overslept the missed
//! deadlines are skipped and counted rather than sampled in a burst.
//!
//! Pure: the caller passes the current time in.

use std::time::{Duration, Instant};

/// A tick is late when it is taken more than this fraction of the interval
/// after its deadline.
const LATE_FRACTION: u32 = 10;

#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    interval: Duration,
    next: u64,
    late: u64,
    missed: u64,
}

/// What `Pacer::tick` says about the tick just taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Index of the deadline this tick served.
    pub index: u64,
    /// How long after its deadline the tick was taken.
    pub lateness: Duration,
}

impl Pacer {
    pub fn new(start: Instant, interval: Duration) -> Pacer {
        assert!(!interval.is_zero(), "the interval is validated as > 0");
        Pacer {
            start,
            interval,
            next: 0,
            late: 0,
            missed: 0,
        }
    }

    /// When the next tick is due.
    pub fn deadline(&self) -> Instant {
        self.start + Duration::from_nanos((self.interval.as_nanos() as u64).saturating_mul(self.next))
    }

    /// Index of the next tick (0 for the first).
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Records that a tick is being taken at `now` (at or after
    /// `deadline()`) and advances to the next deadline after `now`.
    pub fn tick(&mut self, now: Instant) -> Tick {
        let due = self.deadline();
        let lateness = now.saturating_duration_since(due);
        let index = self.next;
        if lateness > self.interval / LATE_FRACTION {
            self.late += 1;
        }
        // Deadlines that passed while this tick was overdue are skipped.
        let behind = (lateness.as_nanos() / self.interval.as_nanos()) as u64;
        self.missed += behind;
        self.next += 1 + behind;
        Tick { index, lateness }
    }

    /// Ticks taken more than a tenth of an interval after their deadline.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Deadlines skipped because a tick overran a whole interval.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn deadlines_are_absolute_no_drift() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 100 * MS);
        // Every tick taken 5 ms late: deadlines stay on the 100 ms grid.
        for k in 0..50u32 {
            assert_eq!(p.deadline(), t0 + 100 * MS * k);
            p.tick(p.deadline() + 5 * MS);
        }
        assert_eq!(p.deadline(), t0 + 5000 * MS);
        assert_eq!(p.late(), 0);
        assert_eq!(p.missed(), 0);
    }

    #[test]
    fn late_tick_is_counted() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 100 * MS);
        let tick = p.tick(t0 + 30 * MS);
        assert_eq!(tick.lateness, 30 * MS);
        assert_eq!(p.late(), 1);
        assert_eq!(p.deadline(), t0 + 100 * MS);
    }

    #[test]
    fn overrun_skips_missed_deadlines_instead_of_bursting() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 100 * MS);
        p.tick(t0);
        // Woke 350 ms after the 100 ms deadline: 200, 300 and 400 passed.
        let tick = p.tick(t0 + 450 * MS);
        assert_eq!(tick.index, 1);
        assert_eq!(p.missed(), 3);
        assert_eq!(p.late(), 1);
        assert_eq!(p.deadline(), t0 + 500 * MS);
        assert_eq!(p.next_index(), 5);
    }
}
