//! The highest concurrency an LLM endpoint serves within its budgets
//! (`llm --capacity`). Pure: the search asks for levels and is told their
//! verdicts; the caller runs them.
//!
//! Streams are the unit of an LLM server's load (its parallel slots, its
//! batch), so the search is over concurrent streams, not arrival rates:
//! from 1 it doubles until a level misses a budget, then bisects the
//! integers between the last pass and the first failure until they are
//! neighbours, then runs the best pass again with twice the requests. A
//! confirmation that fails becomes the new upper bound and the search goes
//! on below it. Each worker's first request of a level is its warm-up (the
//! level starts with every stream at once, a burst the steady state never
//! sees) and is not judged.
//!
//! A level passes when its errors stay within the budget, TTFT p95 within
//! the TTFT budget and the decode rate's slow tenth above the floor. A use
//! with neither budget (batch) looks for the throughput plateau instead:
//! doubling stops when twice the streams add less than a tenth to the
//! aggregate tokens per second.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Budgets;
use super::client::Timed;
use super::summary::quantile;

/// The most concurrent streams a search may try, and its default bound.
pub const MAX_STREAMS: u32 = 1024;
pub const DEFAULT_MAX_STREAMS: u32 = 64;

/// Doubling the streams must add at least this share of tokens/s to be
/// worth it, where throughput is the objective.
pub const MIN_GAIN: f64 = 0.10;

/// What stopped a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// More requests failed than the budget allows.
    Errors,
    /// TTFT p95 over the budget.
    Ttft,
    /// Decode rate p10 under the floor.
    Decode,
    /// More streams gave (almost) no more tokens per second.
    Throughput,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::Errors => "errors",
            Limit::Ttft => "ttft",
            Limit::Decode => "decode",
            Limit::Throughput => "throughput",
        }
    }
}

/// One level's measured requests, reduced to what the verdict reads.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelFacts {
    pub concurrency: usize,
    pub requests: usize,
    pub errors: usize,
    /// Of the requests that succeeded.
    pub ttft_s: Vec<f64>,
    pub decode_rates: Vec<f64>,
    /// Output tokens per second while every stream was busy.
    pub tokens_per_s: f64,
}

impl LevelFacts {
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// The share of successful requests within both budgets, of all requests.
    pub fn within_budget(&self, b: &Budgets) -> Option<f64> {
        if self.requests == 0 {
            return None;
        }
        let n = self.ttft_s.len().max(self.decode_rates.len());
        let good = (0..n)
            .filter(|&i| {
                b.max_ttft_p95_s
                    .is_none_or(|max| self.ttft_s.get(i).is_some_and(|t| *t <= max))
                    && b.min_decode_p10
                        .is_none_or(|min| self.decode_rates.get(i).is_none_or(|r| *r >= min))
            })
            .count();
        Some(good as f64 / self.requests as f64)
    }
}

/// A level's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub pass: bool,
    /// What failed first, in the order errors, TTFT, decode, throughput.
    pub limit: Option<Limit>,
    /// Empty on a pass; what missed which budget otherwise.
    pub reason: String,
}

/// The search looks for the throughput plateau rather than a budget.
pub fn throughput_only(b: &Budgets) -> bool {
    b.max_ttft_p95_s.is_none() && b.min_decode_p10.is_none()
}

/// Judges a level against the budgets. `best_below` is the highest
/// aggregate rate of any level with fewer streams (used only where
/// throughput is the objective).
pub fn judge(f: &LevelFacts, b: &Budgets, best_below: Option<f64>) -> Verdict {
    let mut limits = Vec::new();
    let mut why = Vec::new();
    if f.requests == 0 {
        return Verdict {
            pass: false,
            limit: Some(Limit::Errors),
            reason: "no request was measured".into(),
        };
    }
    if f.error_rate() > b.max_error_rate {
        limits.push(Limit::Errors);
        why.push(format!(
            "{} of {} requests failed ({:.1}%, budget {:.1}%)",
            f.errors,
            f.requests,
            f.error_rate() * 100.0,
            b.max_error_rate * 100.0
        ));
    }
    if let Some(max) = b.max_ttft_p95_s {
        match quantile(&f.ttft_s, 0.95) {
            Some(p95) if p95 > max => {
                limits.push(Limit::Ttft);
                why.push(format!(
                    "TTFT p95 {:.0} ms over the {:.0} ms budget",
                    p95 * 1e3,
                    max * 1e3
                ));
            }
            None if f.errors < f.requests => {
                limits.push(Limit::Ttft);
                why.push("no request gave a first token".into());
            }
            _ => {}
        }
    }
    if let Some(min) = b.min_decode_p10
        && let Some(p10) = quantile(&f.decode_rates, 0.10)
        && p10 < min
    {
        limits.push(Limit::Decode);
        why.push(format!("decode p10 {p10:.1} tok/s under the {min:.1} tok/s floor"));
    }
    if throughput_only(b)
        && let Some(best) = best_below
        && f.tokens_per_s < best * (1.0 + MIN_GAIN)
    {
        limits.push(Limit::Throughput);
        why.push(format!(
            "{:.1} tok/s is less than {:.0}% more than the {:.1} tok/s fewer streams gave",
            f.tokens_per_s,
            MIN_GAIN * 100.0,
            best
        ));
    }
    Verdict {
        pass: limits.is_empty(),
        limit: limits.first().copied(),
        reason: why.join("; "),
    }
}

/// Output tokens per second while all `concurrency` streams were busy:
/// from the moment the last stream started its first request to the
/// moment the first stream ran out of requests. Each request's tokens are
/// placed at its chunks' arrival times. `requests` are (start offset in
/// the level, timing) pairs; falls back to all tokens over the whole level
/// when that window is empty.
pub fn steady_tokens_per_s(requests: &[(Duration, &Timed)], concurrency: usize, wall: Duration) -> f64 {
    let mut starts: Vec<Duration> = requests.iter().map(|r| r.0).collect();
    starts.sort_unstable();
    let ok = || requests.iter().filter(|r| r.1.error.is_none());
    let all_tokens: u64 = ok().map(|r| r.1.tokens().0).sum();
    let whole = if wall.is_zero() {
        0.0
    } else {
        all_tokens as f64 / wall.as_secs_f64()
    };
    let c = concurrency.max(1);
    if starts.len() <= c {
        return whole;
    }
    // The window opens once every stream has started; it closes when the
    // last request starts (from then on fewer and fewer streams run).
    let from = starts[c - 1];
    let to = *starts.last().expect("more requests than streams");
    let span = to.saturating_sub(from).as_secs_f64();
    if span <= 0.0 {
        return whole;
    }
    let mut tokens = 0.0;
    for (start, t) in ok() {
        let chunks = t.token_times.len();
        if chunks == 0 {
            continue;
        }
        // The server's count where it gives one, spread over the chunks.
        let per_chunk = t.tokens().0 as f64 / chunks as f64;
        let inside = t
            .token_times
            .iter()
            .filter(|&&at| {
                let at = *start + at;
                at > from && at <= to
            })
            .count();
        tokens += inside as f64 * per_chunk;
    }
    tokens / span
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Run this many concurrent streams; `confirming` runs twice the requests.
    Level {
        concurrency: usize,
        confirming: bool,
    },
    Done,
}

/// Where the search ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The most streams that passed (confirmed when `converged`).
    pub max_concurrency: Option<usize>,
    /// The last pass and the first failure above it.
    pub bracket: (Option<usize>, Option<usize>),
    /// What failed at the first failing level.
    pub limited_by: Option<Limit>,
    pub converged: bool,
    /// Why it stopped, in words.
    pub stopped: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Doubling,
    Bisecting,
    Confirming,
    Over,
}

/// The search's state.
#[derive(Debug, Clone)]
pub struct Search {
    max: usize,
    /// Bisect between the last pass and the first failure (budgets); where
    /// throughput is the objective the doubling's first failure ends it.
    bisect: bool,
    phase: Phase,
    passes: Vec<usize>,
    failures: Vec<(usize, Option<Limit>)>,
    confirmed: Option<usize>,
    pending: Option<(usize, bool)>,
    stopped: String,
}

impl Search {
    /// A search up to `max` streams.
    pub fn new(max: usize, bisect: bool) -> Search {
        Search {
            max: max.max(1),
            bisect,
            phase: Phase::Doubling,
            passes: Vec::new(),
            failures: Vec::new(),
            confirmed: None,
            pending: None,
            stopped: String::new(),
        }
    }

    fn best_pass(&self) -> Option<usize> {
        self.passes.iter().copied().max()
    }

    fn first_fail(&self) -> Option<(usize, Option<Limit>)> {
        let lo = self.best_pass().unwrap_or(0);
        self.failures.iter().copied().filter(|f| f.0 > lo).min_by_key(|f| f.0)
    }

    fn stop(&mut self, why: &str) -> Step {
        self.phase = Phase::Over;
        self.pending = None;
        if self.stopped.is_empty() {
            self.stopped = why.to_string();
        }
        Step::Done
    }

    fn ask(&mut self, concurrency: usize, confirming: bool) -> Step {
        self.pending = Some((concurrency, confirming));
        Step::Level {
            concurrency,
            confirming,
        }
    }

    /// The next level to run, or the end. Asking twice without recording
    /// gives the same level.
    pub fn next_step(&mut self) -> Step {
        if let Some((c, confirming)) = self.pending {
            return Step::Level {
                concurrency: c,
                confirming,
            };
        }
        match self.phase {
            Phase::Over => Step::Done,
            Phase::Doubling => match (self.best_pass(), self.first_fail()) {
                (None, None) => self.ask(1, false),
                (None, Some(_)) => self.stop("even one stream missed the budgets"),
                (Some(p), None) if p >= self.max => {
                    self.phase = Phase::Confirming;
                    self.next_step()
                }
                (Some(p), None) => self.ask((p * 2).min(self.max), false),
                (Some(_), Some(_)) => {
                    self.phase = if self.bisect {
                        Phase::Bisecting
                    } else {
                        Phase::Confirming
                    };
                    self.next_step()
                }
            },
            Phase::Bisecting => match (self.best_pass(), self.first_fail()) {
                (Some(lo), Some((hi, _))) if hi - lo > 1 => self.ask(lo + (hi - lo) / 2, false),
                (None, _) => self.stop("even one stream missed the budgets"),
                _ => {
                    self.phase = Phase::Confirming;
                    self.next_step()
                }
            },
            Phase::Confirming => match self.best_pass() {
                Some(p) if self.confirmed == Some(p) => {
                    let why = if self.first_fail().is_some() {
                        "converged"
                    } else {
                        "every level up to --max-concurrency passed"
                    };
                    self.stop(why)
                }
                Some(p) => self.ask(p, true),
                None => self.stop("even one stream missed the budgets"),
            },
        }
    }

    /// Records the verdict of the level last asked for.
    pub fn record(&mut self, v: &Verdict) {
        let Some((c, confirming)) = self.pending.take() else {
            return;
        };
        if v.pass {
            if confirming {
                self.confirmed = Some(c);
            }
            if !self.passes.contains(&c) {
                self.passes.push(c);
            }
        } else {
            // A failed confirmation is no pass after all: search below it.
            self.passes.retain(|&p| p != c);
            self.failures.push((c, v.limit));
            if confirming {
                self.phase = if self.bisect {
                    Phase::Bisecting
                } else {
                    Phase::Confirming
                };
            }
        }
    }

    /// Ends the search early (interrupted, or a request could not run).
    pub fn abandon(&mut self, why: &str) {
        self.stop(why);
    }

    pub fn outcome(&self) -> Outcome {
        let best = self.best_pass();
        let fail = self.first_fail();
        let converged = best.is_some()
            && self.confirmed == best
            && fail.is_some_and(|(hi, _)| !self.bisect || hi - best.unwrap_or(0) <= 1);
        Outcome {
            max_concurrency: best,
            bracket: (best, fail.map(|f| f.0)),
            limited_by: fail.and_then(|f| f.1),
            converged,
            stopped: if self.stopped.is_empty() {
                "not finished".into()
            } else {
                self.stopped.clone()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::UseCase;
    use proptest::prelude::*;

    fn pass() -> Verdict {
        Verdict {
            pass: true,
            limit: None,
            reason: String::new(),
        }
    }

    fn fail(l: Limit) -> Verdict {
        Verdict {
            pass: false,
            limit: Some(l),
            reason: l.name().into(),
        }
    }

    /// Runs a search to its end, each level judged by `verdict(streams,
    /// confirming)`; returns the outcome and the levels asked for.
    fn drive(mut s: Search, verdict: impl Fn(usize, bool) -> Verdict) -> (Outcome, Vec<(usize, bool)>) {
        let mut asked = Vec::new();
        while let Step::Level {
            concurrency,
            confirming,
        } = s.next_step()
        {
            asked.push((concurrency, confirming));
            assert!(asked.len() < 100, "{asked:?}");
            s.record(&verdict(concurrency, confirming));
        }
        (s.outcome(), asked)
    }

    /// Runs a search against a server that holds `truth` streams.
    fn against(max: usize, truth: usize, bisect: bool) -> (Outcome, Vec<(usize, bool)>) {
        drive(Search::new(max, bisect), |c, _| {
            if c <= truth { pass() } else { fail(Limit::Ttft) }
        })
    }

    proptest! {
        #[test]
        fn any_capacity_is_found_exactly(truth in 1usize..600, max in 1usize..1024) {
            let (o, asked) = against(max, truth, true);
            if truth >= max {
                prop_assert_eq!(o.max_concurrency, Some(max));
                prop_assert!(!o.converged);
                prop_assert_eq!(o.bracket.1, None);
            } else {
                prop_assert_eq!(o.max_concurrency, Some(truth));
                prop_assert_eq!(o.bracket, (Some(truth), Some(truth + 1)));
                prop_assert!(o.converged);
                prop_assert_eq!(o.limited_by, Some(Limit::Ttft));
            }
            // doubling, bisection and one confirmation: about 2·log2(max) + 1
            prop_assert!(asked.len() <= 2 * (usize::BITS - max.leading_zeros()) as usize + 2, "{:?}", asked);
            prop_assert_eq!(asked.iter().filter(|a| a.1).count(), 1);
        }
    }

    #[test]
    fn a_server_that_cannot_serve_one_stream_has_no_capacity() {
        let (o, asked) = against(64, 0, true);
        assert_eq!(asked, vec![(1, false)]);
        assert_eq!(o.max_concurrency, None);
        assert_eq!(o.bracket, (None, Some(1)));
        assert!(!o.converged);
        assert_eq!(o.stopped, "even one stream missed the budgets");
    }

    #[test]
    fn a_failed_confirmation_moves_the_bound_down() {
        // 5 passes the first time and fails when confirmed; 4 holds.
        let (o, asked) = drive(Search::new(64, true), |c, confirming| {
            if c <= 4 || (c == 5 && !confirming) {
                pass()
            } else {
                fail(Limit::Decode)
            }
        });
        assert_eq!(o.max_concurrency, Some(4), "{asked:?}");
        assert_eq!(o.bracket, (Some(4), Some(5)));
        assert!(o.converged);
        assert!(asked.contains(&(5, true)) && asked.contains(&(4, true)), "{asked:?}");
    }

    #[test]
    fn throughput_as_the_objective_stops_at_the_first_plateau_without_bisecting() {
        let (o, asked) = against(256, 11, false);
        assert_eq!(
            asked,
            vec![(1, false), (2, false), (4, false), (8, false), (16, false), (8, true)]
        );
        assert_eq!(o.max_concurrency, Some(8));
        assert!(o.converged);
    }

    fn facts(ttft_ms: &[f64], decode: &[f64], errors: usize) -> LevelFacts {
        LevelFacts {
            concurrency: 4,
            requests: ttft_ms.len() + errors,
            errors,
            ttft_s: ttft_ms.iter().map(|t| t / 1e3).collect(),
            decode_rates: decode.to_vec(),
            tokens_per_s: 100.0,
        }
    }

    #[test]
    fn the_verdict_names_errors_then_ttft_then_decode() {
        let mut b = Budgets::for_use(UseCase::Interactive); // 2 s, 10 tok/s, 1 %
        let ok = facts(&[100.0; 20], &[30.0; 20], 0);
        assert!(judge(&ok, &b, None).pass);
        assert_eq!(ok.within_budget(&b), Some(1.0));

        let slow: Vec<f64> = (0..20).map(|i| if i < 18 { 100.0 } else { 2500.0 }).collect();
        let v = judge(&facts(&slow, &[30.0; 20], 0), &b, None);
        assert_eq!(v.limit, Some(Limit::Ttft), "{v:?}");
        assert!(v.reason.contains("over the 2000 ms budget"), "{}", v.reason);

        let decode: Vec<f64> = (0..20).map(|i| if i < 3 { 5.0 } else { 30.0 }).collect();
        let f = facts(&slow, &decode, 1);
        let v = judge(&f, &b, None);
        assert_eq!(v.limit, Some(Limit::Errors));
        assert!(
            v.reason.contains("1 of 21 requests failed") && v.reason.contains("decode p10"),
            "{}",
            v.reason
        );
        assert!(f.within_budget(&b).unwrap() < 0.9);

        b.max_error_rate = 0.10;
        assert_eq!(judge(&f, &b, None).limit, Some(Limit::Ttft));
        // A throughput comparison means nothing where there are budgets.
        assert!(judge(&ok, &b, Some(1000.0)).pass);
    }

    #[test]
    fn batch_fails_a_level_that_adds_too_little_throughput() {
        let b = Budgets::for_use(UseCase::Batch);
        let mut f = facts(&[100.0; 10], &[30.0; 10], 0);
        assert!(judge(&f, &b, None).pass);
        f.tokens_per_s = 105.0;
        let v = judge(&f, &b, Some(100.0));
        assert_eq!(v.limit, Some(Limit::Throughput));
        f.tokens_per_s = 111.0;
        assert!(judge(&f, &b, Some(100.0)).pass);
    }

    fn timed(chunks: usize, every_ms: u64) -> Timed {
        Timed {
            ttft: Some(Duration::from_millis(every_ms)),
            e2e: Duration::from_millis(every_ms * chunks as u64),
            token_times: (1..=chunks as u64)
                .map(|i| Duration::from_millis(i * every_ms))
                .collect(),
            ..Timed::default()
        }
    }

    #[test]
    fn steady_throughput_counts_tokens_while_every_stream_is_busy() {
        // Two streams, each back to back: requests of 10 chunks, one every
        // 10 ms (100 ms a request), so 200 tok/s together while both run.
        let t = timed(10, 10);
        let mut reqs = Vec::new();
        for k in 0..5u64 {
            reqs.push((Duration::from_millis(k * 100), &t));
            reqs.push((Duration::from_millis(k * 100 + 50), &t));
        }
        // The first stream's last request then runs alone for a while: it
        // must not count.
        let tail = timed(40, 10);
        reqs.push((Duration::from_millis(500), &tail));
        let steady = steady_tokens_per_s(&reqs, 2, Duration::from_millis(950));
        assert!((steady - 200.0).abs() < 200.0 * 0.05, "{steady}");
        // All tokens over the whole level reads lower: the ramp and the tail.
        let whole = (10 * 10 + 40) as f64 / 0.95;
        assert!(whole < steady * 0.8, "{whole} vs {steady}");
    }
}
