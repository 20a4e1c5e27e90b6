//! When requests are due. Open model: an arrival-rate plan made of stages
//! (constant or linearly ramping), with evenly spaced or Poisson arrivals.
//! Closed model: when each user starts and how long it thinks. Pure maths on
//! durations; the engine owns the clock.

use std::time::Duration;

/// One stage of an arrival-rate plan: the rate goes linearly from `from`
/// to `to` requests per second over `duration` (`None`: forever, only for
/// the last stage, with `from == to`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub from: f64,
    pub to: f64,
    pub duration: Option<Duration>,
}

/// The arrival rate over time.
#[derive(Debug, Clone, PartialEq)]
pub struct RatePlan {
    pub stages: Vec<Stage>,
}

impl RatePlan {
    pub fn constant(rate: f64, duration: Option<Duration>) -> RatePlan {
        RatePlan {
            stages: vec![Stage {
                from: rate,
                to: rate,
                duration,
            }],
        }
    }

    /// Total length; `None` if the plan never ends.
    pub fn duration(&self) -> Option<Duration> {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The same plan with every rate divided by `n` (one of `n` workers).
    pub fn share(&self, n: u32) -> RatePlan {
        let n = f64::from(n.max(1));
        RatePlan {
            stages: self
                .stages
                .iter()
                .map(|s| Stage {
                    from: s.from / n,
                    to: s.to / n,
                    duration: s.duration,
                })
                .collect(),
        }
    }

    /// The highest rate anywhere in the plan.
    pub fn peak(&self) -> f64 {
        self.stages.iter().fold(0.0, |m, s| m.max(s.from).max(s.to))
    }

    /// The time at which the cumulative number of arrivals expected by the
    /// plan reaches `u` (the inverse of the integral of the rate), or `None`
    /// if the plan ends first. With `u = k` this spaces arrivals evenly; with
    /// `u` a sum of unit exponential draws it gives Poisson arrivals, exact
    /// for ramping rates too.
    pub fn time_of(&self, mut u: f64) -> Option<Duration> {
        let mut t0 = 0.0;
        for s in &self.stages {
            let d = s.duration.map(|d| d.as_secs_f64());
            let expected = d.map(|d| (s.from + s.to) / 2.0 * d);
            // A stage with no arrivals at all holds none of them, not even
            // the first (u = 0).
            let empty = s.from == 0.0 && s.to == 0.0;
            if let (Some(d), Some(n)) = (d, expected)
                && (u > n || empty)
            {
                u -= n;
                t0 += d;
                continue;
            }
            let t = match d {
                Some(d) if s.to != s.from => {
                    // from·t + c·t² = u, with c = (to − from) / 2d; this form of
                    // the root stays exact when `from` is 0.
                    let c = (s.to - s.from) / (2.0 * d);
                    let disc = (s.from * s.from + 4.0 * c * u).max(0.0);
                    let den = s.from + disc.sqrt();
                    if den <= 0.0 { 0.0 } else { 2.0 * u / den }
                }
                _ if s.from > 0.0 => u / s.from,
                _ => return None,
            };
            return Some(Duration::from_secs_f64(t0 + t));
        }
        None
    }
}

impl RatePlan {
    /// The level (a rate, or for `ramping-users` a number of users) at
    /// `t`; `None` once the plan has ended.
    pub fn level_at(&self, t: Duration) -> Option<f64> {
        let mut start = Duration::ZERO;
        for s in &self.stages {
            let Some(d) = s.duration else { return Some(s.from) };
            if t < start + d {
                let x = (t - start).as_secs_f64() / d.as_secs_f64();
                return Some(s.from + (s.to - s.from) * x);
            }
            start += d;
        }
        None
    }

    /// The number of arrivals the plan expects by `t` (the integral of the
    /// rate from 0 to `t`): the inverse of [`RatePlan::time_of`].
    pub fn count_at(&self, t: Duration) -> f64 {
        let mut left = t.as_secs_f64();
        let mut n = 0.0;
        for s in &self.stages {
            let d = s.duration.map_or(f64::INFINITY, |d| d.as_secs_f64());
            let x = left.min(d);
            // The rate rises linearly over the stage: from + (to − from)·x/d.
            let slope = if d.is_finite() && d > 0.0 {
                (s.to - s.from) / d
            } else {
                0.0
            };
            n += s.from * x + slope * x * x / 2.0;
            left -= x;
            if left <= 0.0 {
                break;
            }
        }
        n
    }

    /// The first time at or after `from` at which the level is at least
    /// `level`; `None` if the plan ends first.
    pub fn first_at_least(&self, level: f64, from: Duration) -> Option<Duration> {
        let mut start = Duration::ZERO;
        for s in &self.stages {
            let end = s.duration.map(|d| start + d);
            if end.is_some_and(|e| e <= from) {
                start = end.unwrap_or(start);
                continue;
            }
            let t0 = start.max(from);
            let at_t0 = self.level_at(t0).unwrap_or(s.from);
            if at_t0 >= level {
                return Some(t0);
            }
            if let (Some(d), true) = (s.duration, s.to >= level && s.to > s.from) {
                // The ramp crosses `level` inside this stage.
                let x = (level - s.from) / (s.to - s.from);
                let t = start + d.mul_f64(x.clamp(0.0, 1.0));
                return Some(t.max(t0));
            }
            match end {
                Some(e) => start = e,
                None => return None,
            }
        }
        None
    }
}

/// A fixed or uniformly random pause between a user's requests.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ThinkTime {
    pub min: Duration,
    pub max: Duration,
}

impl ThinkTime {
    pub fn fixed(d: Duration) -> ThinkTime {
        ThinkTime { min: d, max: d }
    }

    /// The pause for a uniform draw `x` in [0, 1).
    pub fn pick(&self, x: f64) -> Duration {
        self.min + (self.max.saturating_sub(self.min)).mul_f64(x)
    }
}

/// When closed-model user `index` (from 0) starts: `spawn_rate` users are
/// added per second, the first at once; without a spawn rate all start at once.
pub fn user_start(index: usize, spawn_rate: Option<f64>) -> Duration {
    match spawn_rate {
        Some(r) if r > 0.0 => Duration::from_secs_f64(index as f64 / r),
        _ => Duration::ZERO,
    }
}

/// How many of `total` users (or requests) worker `index` of `count` runs:
/// an even share, the remainder going to the first workers.
pub fn share_of(total: u64, index: u32, count: u32) -> u64 {
    let count = u64::from(count.max(1));
    total / count + u64::from(u64::from(index) < total % count)
}

#[cfg(test)]
mod tests {
    #[test]
    fn count_at_inverts_time_of_over_ramps_and_steps() {
        let plan = RatePlan {
            stages: vec![
                Stage {
                    from: 0.0,
                    to: 100.0,
                    duration: Some(Duration::from_secs(4)),
                },
                Stage {
                    from: 100.0,
                    to: 100.0,
                    duration: Some(Duration::from_secs(3)),
                },
                Stage {
                    from: 100.0,
                    to: 20.0,
                    duration: Some(Duration::from_secs(2)),
                },
            ],
        };
        assert!((plan.count_at(Duration::from_secs(4)) - 200.0).abs() < 1e-9);
        assert!((plan.count_at(Duration::from_secs(7)) - 500.0).abs() < 1e-9);
        assert!((plan.count_at(Duration::from_secs(60)) - 620.0).abs() < 1e-9);
        for u in [0.5, 3.0, 199.0, 250.0, 499.5, 600.0] {
            let t = plan.time_of(u).unwrap();
            assert!((plan.count_at(t) - u).abs() < 1e-6, "{u}: {}", plan.count_at(t));
        }
        let endless = RatePlan::constant(40.0, None);
        assert!((endless.count_at(Duration::from_millis(2500)) - 100.0).abs() < 1e-9);
    }

    use super::*;

    #[test]
    fn a_ramp_of_users_says_when_each_user_is_wanted() {
        let s = |from: f64, to: f64, secs: u64| Stage {
            from,
            to,
            duration: Some(Duration::from_secs(secs)),
        };
        // 0 -> 10 users over 10 s, hold 10 s, down to 2 over 8 s.
        let plan = RatePlan {
            stages: vec![s(0.0, 10.0, 10), s(10.0, 10.0, 10), s(10.0, 2.0, 8)],
        };
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        assert_eq!(plan.level_at(Duration::from_secs(5)), Some(5.0));
        assert_eq!(plan.level_at(Duration::from_secs(24)), Some(6.0));
        assert_eq!(plan.level_at(Duration::from_secs(28)), None);
        // User 0 (level 1) at 1 s, user 9 (level 10) at 10 s.
        assert_eq!(secs(plan.first_at_least(1.0, Duration::ZERO)), Some(1.0));
        assert_eq!(secs(plan.first_at_least(10.0, Duration::ZERO)), Some(10.0));
        // Already above: now.
        assert_eq!(secs(plan.first_at_least(3.0, Duration::from_secs(15))), Some(15.0));
        // User 5 (level 6) after the ramp down passed below it: never again.
        assert_eq!(plan.first_at_least(6.0, Duration::from_secs(25)), None);
        assert_eq!(plan.first_at_least(11.0, Duration::ZERO), None);
    }

    fn secs(d: Option<Duration>) -> f64 {
        d.unwrap().as_secs_f64()
    }

    #[test]
    fn constant_rate_spaces_arrivals_evenly() {
        let p = RatePlan::constant(200.0, Some(Duration::from_secs(20)));
        assert_eq!(secs(p.time_of(0.0)), 0.0);
        assert!((secs(p.time_of(1.0)) - 0.005).abs() < 1e-9);
        assert!((secs(p.time_of(3999.0)) - 19.995).abs() < 1e-9);
        assert_eq!(p.time_of(4000.5), None);
    }

    #[test]
    fn endless_plan_never_runs_out() {
        let p = RatePlan::constant(10.0, None);
        assert!((secs(p.time_of(1e6)) - 1e5).abs() < 1e-6);
        assert_eq!(p.duration(), None);
    }

    #[test]
    fn stages_follow_each_other() {
        let p = RatePlan {
            stages: vec![
                Stage {
                    from: 50.0,
                    to: 50.0,
                    duration: Some(Duration::from_secs(10)),
                },
                Stage {
                    from: 100.0,
                    to: 100.0,
                    duration: Some(Duration::from_secs(10)),
                },
            ],
        };
        assert!((secs(p.time_of(500.0)) - 10.0).abs() < 1e-9);
        assert!((secs(p.time_of(600.0)) - 11.0).abs() < 1e-9);
        assert_eq!(p.duration(), Some(Duration::from_secs(20)));
        assert_eq!(p.peak(), 100.0);
    }

    #[test]
    fn ramp_from_zero_matches_the_integral() {
        // 0 → 100/s over 10 s: N(t) = 5 t², so N = 125 at t = 5 s.
        let p = RatePlan {
            stages: vec![Stage {
                from: 0.0,
                to: 100.0,
                duration: Some(Duration::from_secs(10)),
            }],
        };
        assert_eq!(secs(p.time_of(0.0)), 0.0);
        assert!((secs(p.time_of(125.0)) - 5.0).abs() < 1e-9);
        assert!((secs(p.time_of(500.0)) - 10.0).abs() < 1e-9);
        assert_eq!(p.time_of(501.0), None);
    }

    #[test]
    fn ramp_down_matches_the_integral() {
        // 100 → 0/s over 10 s: N(t) = 100 t − 5 t², N(5) = 375.
        let p = RatePlan {
            stages: vec![Stage {
                from: 100.0,
                to: 0.0,
                duration: Some(Duration::from_secs(10)),
            }],
        };
        assert!((secs(p.time_of(375.0)) - 5.0).abs() < 1e-9);
        assert!((secs(p.time_of(500.0)) - 10.0).abs() < 1e-6);
    }

    #[test]
    fn a_zero_rate_first_stage_delays_the_first_arrival() {
        let p = RatePlan {
            stages: vec![
                Stage {
                    from: 0.0,
                    to: 0.0,
                    duration: Some(Duration::from_secs(1)),
                },
                Stage {
                    from: 50.0,
                    to: 50.0,
                    duration: Some(Duration::from_secs(2)),
                },
            ],
        };
        assert_eq!(secs(p.time_of(0.0)), 1.0);
        assert!((secs(p.time_of(50.0)) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn zero_rate_stage_without_end_gives_no_arrivals() {
        assert_eq!(RatePlan::constant(0.0, None).time_of(1.0), None);
    }

    #[test]
    fn share_divides_rates() {
        let p = RatePlan::constant(90.0, None).share(3);
        assert_eq!(p.stages[0].from, 30.0);
    }

    #[test]
    fn users_start_at_the_spawn_rate() {
        assert_eq!(user_start(0, Some(4.0)), Duration::ZERO);
        assert_eq!(user_start(6, Some(4.0)), Duration::from_millis(1500));
        assert_eq!(user_start(6, None), Duration::ZERO);
    }

    #[test]
    fn shares_add_up_to_the_total() {
        assert_eq!((0..3).map(|i| share_of(10, i, 3)).collect::<Vec<_>>(), [4, 3, 3]);
        assert_eq!((0..4).map(|i| share_of(2, i, 4)).sum::<u64>(), 2);
        assert_eq!(share_of(7, 0, 1), 7);
    }

    #[test]
    fn think_time_range() {
        let t = ThinkTime {
            min: Duration::from_millis(300),
            max: Duration::from_secs(1),
        };
        assert_eq!(t.pick(0.0), Duration::from_millis(300));
        assert_eq!(t.pick(0.5), Duration::from_millis(650));
        assert_eq!(
            ThinkTime::fixed(Duration::from_secs(1)).pick(0.9),
            Duration::from_secs(1)
        );
    }
}
