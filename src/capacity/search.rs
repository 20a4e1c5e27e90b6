//! The search for the highest rate the service holds. Pure: it asks for
//! probes and is told their verdicts; the caller runs them.
//!
//! From the start rate it doubles until a probe fails (or the max rate is
//! reached), then bisects between the last pass and the first failure
//! until they are within the precision of each other, then holds the best
//! pass again for longer to confirm it. A confirmation that fails makes it
//! the new upper bound and the search goes on below it. A probe the
//! generator could not carry ends the search: nothing above it can be
//! judged. Each probe must fit in what is left of the time budget.

use super::judge::{Limit, Verdict};

/// How the search is run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub start: f64,
    pub max_rate: f64,
    /// The bracket's relative width to stop at (0.1: within 10 %).
    pub precision: f64,
    /// Length of a probe (warm-up and hold), and of a confirming one, in seconds.
    pub probe_s: f64,
    pub confirm_s: f64,
    /// The whole search's budget, in seconds.
    pub max_time_s: f64,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Probe this rate for this long.
    Probe { rate: f64, seconds: f64, confirming: bool },
    /// The search is over.
    Done,
}

/// Where the search ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The highest passing rate: confirmed when `converged`, otherwise a
    /// lower bound (the budget ran out, or loadprof could not offer more).
    pub max_rate: Option<f64>,
    /// The last pass and the first failure around it.
    pub bracket: (Option<f64>, Option<f64>),
    /// What failed first at the lowest failing rate (None: nothing failed
    /// before the max rate was reached).
    pub limited_by: Option<Limit>,
    /// The bracket is within the precision and its lower end was confirmed.
    pub converged: bool,
    /// Why it stopped, in words.
    pub stopped: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Doubling,
    Bisecting,
    Confirming,
    Over,
}

/// The search's state.
#[derive(Debug, Clone)]
pub struct Search {
    plan: Plan,
    phase: Phase,
    /// Rates that passed (a confirmation that failed is taken out again).
    passes: Vec<f64>,
    /// Failures: rate and what limited it.
    failures: Vec<(f64, Limit)>,
    confirmed: Option<f64>,
    elapsed_s: f64,
    pending: Option<(f64, bool)>,
    stopped: String,
    generator_at: Option<f64>,
}

impl Search {
    pub fn new(plan: Plan) -> Search {
        Search {
            plan,
            phase: Phase::Doubling,
            passes: Vec::new(),
            failures: Vec::new(),
            confirmed: None,
            elapsed_s: 0.0,
            pending: None,
            stopped: String::new(),
            generator_at: None,
        }
    }

    fn best_pass(&self) -> Option<f64> {
        self.passes.iter().copied().reduce(f64::max)
    }

    /// The lowest failing rate above the best pass.
    fn first_fail(&self) -> Option<f64> {
        let lo = self.best_pass().unwrap_or(0.0);
        self.failures.iter().map(|f| f.0).filter(|&r| r > lo).reduce(f64::min)
    }

    fn stop(&mut self, why: &str) -> Step {
        self.phase = Phase::Over;
        self.pending = None;
        if self.stopped.is_empty() {
            self.stopped = why.to_string();
        }
        Step::Done
    }

    fn ask(&mut self, rate: f64, confirming: bool) -> Step {
        let seconds = if confirming {
            self.plan.confirm_s
        } else {
            self.plan.probe_s
        };
        if self.elapsed_s + seconds > self.plan.max_time_s {
            return self.stop("the time budget (--max-time) ran out");
        }
        self.pending = Some((rate, confirming));
        Step::Probe {
            rate,
            seconds,
            confirming,
        }
    }

    /// The next step: the first probe, or what follows the last verdict.
    pub fn next_step(&mut self) -> Step {
        match self.phase {
            Phase::Over => Step::Done,
            Phase::Doubling => {
                let rate = match self.best_pass() {
                    None if self.failures.is_empty() => self.plan.start,
                    None => return self.stop("the first probe failed"),
                    Some(_) if self.first_fail().is_some() => {
                        self.phase = Phase::Bisecting;
                        return self.next_step();
                    }
                    Some(p) if p >= self.plan.max_rate => {
                        self.phase = Phase::Confirming;
                        return self.next_step();
                    }
                    Some(p) => (p * 2.0).min(self.plan.max_rate),
                };
                self.ask(rate, false)
            }
            Phase::Bisecting => {
                let (Some(lo), Some(hi)) = (self.best_pass(), self.first_fail()) else {
                    return self.stop("nothing passed below the failures");
                };
                if (hi - lo) / lo <= self.plan.precision {
                    self.phase = Phase::Confirming;
                    return self.next_step();
                }
                self.ask((lo + hi) / 2.0, false)
            }
            Phase::Confirming => {
                let Some(best) = self.best_pass() else {
                    return self.stop("nothing passed");
                };
                if self.confirmed == Some(best) {
                    return self.stop(if self.first_fail().is_some() {
                        "converged"
                    } else {
                        "the max rate (--max-rate) holds"
                    });
                }
                self.ask(best, true)
            }
        }
    }

    /// Takes the verdict of the probe asked for last.
    pub fn record(&mut self, verdict: &Verdict, seconds_taken: f64) {
        self.elapsed_s += seconds_taken;
        let Some((rate, confirming)) = self.pending.take() else {
            return;
        };
        if verdict.limits.contains(&Limit::Generator) {
            self.generator_at = Some(rate);
            self.stop("loadprof could not offer this rate; nothing above it can be judged");
            return;
        }
        if verdict.pass {
            if confirming {
                self.confirmed = Some(rate);
            } else {
                self.passes.push(rate);
            }
        } else {
            let limit = verdict.limits.first().copied().unwrap_or(Limit::Throughput);
            if confirming {
                self.passes.retain(|&p| p < rate);
                self.phase = Phase::Bisecting;
            }
            self.failures.push((rate, limit));
        }
    }

    /// Where the search stands (final once `next_step` says `Done`).
    pub fn outcome(&self) -> Outcome {
        let best = self.best_pass();
        let hi = self.first_fail();
        let lowest_fail = self
            .failures
            .iter()
            .copied()
            .reduce(|a, b| if b.0 < a.0 { b } else { a });
        let limited_by = match self.generator_at {
            Some(g) if hi.is_none_or(|h| g < h) => Some(Limit::Generator),
            _ => lowest_fail.map(|f| f.1),
        };
        let converged = match (best, hi) {
            (Some(lo), Some(hi)) => (hi - lo) / lo <= self.plan.precision && self.confirmed == Some(lo),
            (Some(lo), None) => lo >= self.plan.max_rate && self.confirmed == Some(lo),
            _ => false,
        };
        Outcome {
            max_rate: best,
            bracket: (best, hi),
            limited_by,
            converged,
            stopped: self.stopped.clone(),
        }
    }
}

/// Where latency starts to rise: the highest probed rate whose p95 is
/// within `1 + tolerance` of the p95 at the lowest rate probed, among
/// probes in rate order (rate, p95). None with fewer than two probes.
pub fn knee(probes: &[(f64, f64)], tolerance: f64) -> Option<f64> {
    let mut sorted: Vec<(f64, f64)> = probes
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    if sorted.len() < 2 {
        return None;
    }
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let base = sorted[0].1;
    sorted
        .iter()
        .take_while(|p| p.1 <= base * (1.0 + tolerance))
        .map(|p| p.0)
        .last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_capacity_is_bracketed_within_the_precision(capacity in 1.0f64..100_000.0, start in 0.5f64..50.0, precision in 0.02f64..0.5) {
            let mut p = plan();
            p.start = start;
            p.precision = precision;
            prop_assume!(start <= capacity);
            let (o, probes) = against(p, capacity, Limit::Slo);
            let (lo, hi) = (o.bracket.0.unwrap(), o.bracket.1.unwrap());
            prop_assert!(lo <= capacity && hi > capacity, "{:?}", o);
            prop_assert!((hi - lo) / lo <= precision);
            prop_assert!(o.converged);
            prop_assert_eq!(o.max_rate, Some(lo));
            prop_assert!(probes.len() <= 40, "{}", probes.len());
        }
    }

    #[test]
    fn the_knee_is_where_latency_leaves_its_floor() {
        let probes = [
            (10.0, 5.0),
            (20.0, 5.2),
            (40.0, 5.4),
            (80.0, 9.0),
            (60.0, 5.9),
            (160.0, 80.0),
        ];
        assert_eq!(knee(&probes, 0.25), Some(60.0));
        assert_eq!(knee(&probes[..1], 0.25), None);
    }

    fn plan() -> Plan {
        Plan {
            start: 10.0,
            max_rate: 100_000.0,
            precision: 0.1,
            probe_s: 10.0,
            confirm_s: 20.0,
            max_time_s: 3600.0,
        }
    }

    fn verdict(pass: bool, limit: Limit) -> Verdict {
        Verdict {
            pass,
            limits: if pass { vec![] } else { vec![limit] },
            reason: String::new(),
        }
    }

    /// Runs the search against a service that holds `capacity`, failing
    /// above it with `limit`; returns the outcome and the probes.
    fn against(plan: Plan, capacity: f64, limit: Limit) -> (Outcome, Vec<(f64, bool)>) {
        let mut s = Search::new(plan);
        let mut probes = Vec::new();
        while let Step::Probe {
            rate,
            seconds,
            confirming,
        } = s.next_step()
        {
            probes.push((rate, confirming));
            assert!(probes.len() < 100, "the search ends");
            s.record(&verdict(rate <= capacity, limit), seconds);
        }
        (s.outcome(), probes)
    }

    #[test]
    fn doubling_then_bisection_finds_the_capacity_within_the_precision_and_confirms_it() {
        let (o, probes) = against(plan(), 137.0, Limit::Slo);
        let found = o.max_rate.unwrap();
        assert!((137.0 / 1.1..=137.0).contains(&found), "{o:?}");
        assert!(o.converged, "{o:?}");
        assert_eq!(o.limited_by, Some(Limit::Slo));
        let (lo, hi) = (o.bracket.0.unwrap(), o.bracket.1.unwrap());
        assert!((hi - lo) / lo <= 0.1 && lo <= 137.0 && hi > 137.0, "{o:?}");
        // 10, 20, 40, 80, 160, then bisection, then one confirmation.
        assert_eq!(
            probes[..5].iter().map(|p| p.0).collect::<Vec<_>>(),
            [10.0, 20.0, 40.0, 80.0, 160.0]
        );
        assert_eq!(probes.iter().filter(|p| p.1).count(), 1);
        assert!(probes.len() <= 12, "{probes:?}");
    }

    #[test]
    fn a_confirmation_that_fails_moves_the_bound_down() {
        // Holds 137 in short probes, only 120 for long ones.
        let mut s = Search::new(plan());
        let mut n = 0;
        while let Step::Probe {
            rate,
            seconds,
            confirming,
        } = s.next_step()
        {
            n += 1;
            assert!(n < 100);
            let holds = if confirming { rate <= 120.0 } else { rate <= 137.0 };
            s.record(&verdict(holds, Limit::Throughput), seconds);
        }
        let o = s.outcome();
        let found = o.max_rate.unwrap();
        assert!((120.0 / 1.1..=120.0).contains(&found), "{o:?}");
        assert!(o.converged);
    }

    #[test]
    fn a_first_probe_that_fails_ends_the_search_with_no_rate() {
        let (o, probes) = against(plan(), 5.0, Limit::Errors);
        assert_eq!(probes.len(), 1);
        assert_eq!((o.max_rate, o.bracket), (None, (None, Some(10.0))));
        assert_eq!(o.limited_by, Some(Limit::Errors));
        assert!(!o.converged);
        assert_eq!(o.stopped, "the first probe failed");
    }

    #[test]
    fn the_max_rate_that_holds_is_confirmed_and_reported_with_no_limit() {
        let mut p = plan();
        p.max_rate = 50.0;
        let (o, probes) = against(p, 1e9, Limit::Slo);
        assert_eq!(
            probes.iter().map(|p| p.0).collect::<Vec<_>>(),
            [10.0, 20.0, 40.0, 50.0, 50.0]
        );
        assert_eq!(o.max_rate, Some(50.0));
        assert_eq!(o.limited_by, None);
        assert!(o.converged);
    }

    #[test]
    fn a_generator_limit_ends_the_search_and_is_never_the_services_capacity() {
        let mut s = Search::new(plan());
        while let Step::Probe { rate, seconds, .. } = s.next_step() {
            let v = if rate >= 80.0 {
                verdict(false, Limit::Generator)
            } else {
                verdict(true, Limit::Slo)
            };
            s.record(&v, seconds);
        }
        let o = s.outcome();
        assert_eq!(o.limited_by, Some(Limit::Generator));
        assert_eq!(o.bracket, (Some(40.0), None));
        assert!(!o.converged, "40/s is a lower bound, not the service's capacity");
        assert_eq!(o.max_rate, Some(40.0));
    }

    #[test]
    fn the_time_budget_is_kept() {
        let mut p = plan();
        p.max_time_s = 45.0;
        let (o, probes) = against(p, 137.0, Limit::Slo);
        assert_eq!(probes.len(), 4, "four 10 s probes fit in 45 s");
        assert!(!o.converged);
        assert_eq!(o.stopped, "the time budget (--max-time) ran out");
    }
}
