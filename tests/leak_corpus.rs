//! The labelled leak corpus: seeded synthetic memory traces of patterns
//! that must not be called leaks (GC sawtooth, warm-up, cache steps,
//! high-water marks, oscillation, spikes, shrinking memory) and patterns
//! that must (linear, staircase, under a sawtooth, after a warm-up,
//! accelerating), at process sizes from 20 MiB to 4 GiB, several noise
//! levels and sampling intervals from 0.1 s to 1 s. The test scores
//! `leak::analyze` on it and asserts the floors; `scripts/score-leak.sh`
//! prints the same score.

use loadprof::leak::{LeakParams, Verdict, analyze};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const MIB: f64 = 1024.0 * 1024.0;

/// Everything that shapes one trace besides its pattern.
struct Setup {
    base: f64,
    sigma: f64,
    dt: f64,
    secs: f64,
}

fn gauss(rng: &mut SmallRng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The leak rate a positive trace grows at: at or above the threshold
/// (1 MiB/min or 0.4 %/min of the level, whichever is larger).
fn leak_rate(rng: &mut SmallRng, base: f64) -> f64 {
    let threshold = (MIB / 60.0).max(0.004 / 60.0 * base);
    threshold * rng.random_range(1.0..1.5)
}

/// A sawtooth that rises by `amp` over each cycle and drops back at once.
struct Saw {
    amp: f64,
    period: f64,
    irregular: bool,
}

impl Saw {
    fn trace(&self, rng: &mut SmallRng, times: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(times.len());
        let (mut start, mut period) = (0.0, self.period);
        for &t in times {
            while t >= start + period {
                start += period;
                period = if self.irregular {
                    3.0 + -self.period * (1.0 - rng.random::<f64>()).ln()
                } else {
                    self.period
                };
            }
            out.push((t - start) / period * self.amp);
        }
        out
    }
}

/// Generates pattern `name`; returns the times, values and whether it is a leak.
fn trace(name: &str, seed: u64) -> (Vec<f64>, Vec<f64>, bool) {
    let mut rng = SmallRng::seed_from_u64(seed ^ name.bytes().fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)));
    let sizes = [20.0 * MIB, 200.0 * MIB, 1024.0 * MIB, 4096.0 * MIB];
    let base = sizes[rng.random_range(0..sizes.len())];
    let setup = Setup {
        base,
        sigma: base * [0.0005, 0.0015, 0.003][rng.random_range(0..3)],
        dt: [0.1, 0.25, 0.5, 1.0][rng.random_range(0..4)],
        secs: 600.0,
    };
    let n = (setup.secs / setup.dt) as usize;
    let times: Vec<f64> = (0..n).map(|i| i as f64 * setup.dt).collect();
    let mut v = vec![setup.base; n];
    let saw = |rng: &mut SmallRng, amp_frac: (f64, f64), period: (f64, f64), irregular: bool| Saw {
        amp: base * rng.random_range(amp_frac.0..amp_frac.1),
        period: rng.random_range(period.0..period.1),
        irregular,
    };
    let add = |v: &mut Vec<f64>, f: &dyn Fn(f64) -> f64| {
        for (x, &t) in v.iter_mut().zip(&times) {
            *x += f(t);
        }
    };
    let leak = match name {
        "flat" => false,
        "ar_wander" => {
            let (mut x, phi) = (0.0, 0.995f64);
            let sd = base * 0.01 * (1.0 - phi * phi).sqrt();
            for (i, val) in v.iter_mut().enumerate() {
                if i % (1.0 / setup.dt).max(1.0) as usize == 0 {
                    x = phi * x + sd * gauss(&mut rng);
                }
                *val += x;
            }
            false
        }
        "gc_sawtooth" | "gc_sawtooth_irregular" | "gc_sawtooth_long" => {
            let s = match name {
                "gc_sawtooth" => saw(&mut rng, (0.1, 0.2), (10.0, 30.0), false),
                "gc_sawtooth_irregular" => saw(&mut rng, (0.05, 0.25), (10.0, 25.0), true),
                _ => saw(&mut rng, (0.15, 0.3), (60.0, 120.0), false),
            };
            for (x, s) in v.iter_mut().zip(s.trace(&mut rng, &times)) {
                *x += s;
            }
            false
        }
        "warmup_plateau" => {
            let (c, tau) = (base * rng.random_range(0.15..0.4), rng.random_range(20.0..60.0));
            add(&mut v, &|t| c * (1.0 - (-t / tau).exp()));
            false
        }
        "cache_steps" => {
            let steps: Vec<(f64, f64)> = (0..rng.random_range(3..6))
                .map(|_| {
                    (
                        rng.random_range(0.0..0.4) * setup.secs,
                        base * rng.random_range(0.025..0.075),
                    )
                })
                .collect();
            add(&mut v, &|t| steps.iter().filter(|s| t >= s.0).map(|s| s.1).sum());
            false
        }
        "highwater_bursts" => {
            // RSS keeps the peak of one or two bursts of demand.
            let bursts: Vec<(f64, f64)> = (0..rng.random_range(1..3))
                .map(|_| {
                    (
                        rng.random_range(0.1..0.9) * setup.secs,
                        base * rng.random_range(0.2..0.5),
                    )
                })
                .collect();
            add(&mut v, &|t| {
                bursts.iter().filter(|b| t >= b.0).map(|b| b.1).fold(0.0, f64::max)
            });
            false
        }
        "slow_oscillation" => {
            let (amp, period) = (base * rng.random_range(0.05..0.15), rng.random_range(90.0..200.0));
            let phase = rng.random_range(0.0..std::f64::consts::TAU);
            add(&mut v, &|t| amp * (std::f64::consts::TAU * t / period + phase).sin());
            false
        }
        "spikes" => {
            for x in v.iter_mut() {
                if rng.random::<f64>() < 0.005 * setup.dt {
                    *x += base * rng.random_range(0.25..1.0);
                }
            }
            false
        }
        "shrinking" => {
            let (drop, tau) = (base * rng.random_range(0.05..0.15), 200.0);
            add(&mut v, &|t| drop * (-t / tau).exp());
            false
        }
        "leak_linear" => {
            let r = leak_rate(&mut rng, base);
            add(&mut v, &|t| r * t);
            true
        }
        "leak_staircase" => {
            let r = leak_rate(&mut rng, base);
            let step = base * rng.random_range(0.005..0.02);
            add(&mut v, &|t| ((r * t) / step).floor() * step);
            true
        }
        "leak_on_sawtooth" => {
            let r = leak_rate(&mut rng, base);
            let s = saw(&mut rng, (0.1, 0.2), (10.0, 30.0), false);
            let s = s.trace(&mut rng, &times);
            for ((x, s), t) in v.iter_mut().zip(s).zip(&times) {
                *x += s + r * t;
            }
            true
        }
        "leak_after_warmup" => {
            let r = leak_rate(&mut rng, base);
            let (c, tau) = (base * rng.random_range(0.15..0.4), rng.random_range(20.0..60.0));
            add(&mut v, &|t| c * (1.0 - (-t / tau).exp()) + r * t);
            true
        }
        "leak_onset_mid" => {
            // Flat through a warm-up, then leaking at twice the threshold rate.
            let r = 2.0 * leak_rate(&mut rng, base);
            let onset = rng.random_range(0.1..0.3) * setup.secs;
            add(&mut v, &|t| r * (t - onset).max(0.0));
            true
        }
        "leak_accelerating" => {
            // The rate doubles over the run, starting at the threshold.
            let r = leak_rate(&mut rng, base);
            add(&mut v, &|t| r * (t + t * t / (2.0 * setup.secs)));
            true
        }
        other => panic!("unknown pattern {other}"),
    };
    for x in v.iter_mut() {
        // Noise, and quantised to pages as /proc reports it.
        *x = ((*x + setup.sigma * gauss(&mut rng)) / 4096.0).round() * 4096.0;
    }
    (times, v, leak)
}

const NEGATIVES: [&str; 11] = [
    "flat",
    "ar_wander",
    "gc_sawtooth",
    "gc_sawtooth_irregular",
    "gc_sawtooth_long",
    "warmup_plateau",
    "cache_steps",
    "highwater_bursts",
    "slow_oscillation",
    "spikes",
    "shrinking",
];
const POSITIVES: [&str; 6] = [
    "leak_linear",
    "leak_staircase",
    "leak_on_sawtooth",
    "leak_after_warmup",
    "leak_onset_mid",
    "leak_accelerating",
];
const SEEDS: u64 = 40;

/// Minutes of steady load until a 1 MiB/min leak on a 200 MiB process
/// (1 s samples, 0.3 MiB noise) is first called a leak, judged every 30 s.
fn detection_delay_min(seed: u64) -> Option<f64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let times: Vec<f64> = (0..900).map(f64::from).collect();
    let values: Vec<f64> = times
        .iter()
        .map(|t| 200.0 * MIB + t / 60.0 * MIB + 0.3 * MIB * gauss(&mut rng))
        .collect();
    (1..=30).map(|k| k as f64 * 30.0).find_map(|end| {
        let n = end as usize;
        let r = analyze(&times[..n], &values[..n], &LeakParams::default());
        (r.verdict == Verdict::Leak).then_some(end / 60.0)
    })
}

#[test]
fn corpus_score_meets_the_floors() {
    let params = LeakParams::default();
    let mut report = String::new();
    let (mut tp, mut fn_, mut fp, mut tn) = (0u32, 0u32, 0u32, 0u32);
    for name in NEGATIVES.iter().chain(POSITIVES.iter()) {
        let mut misses = Vec::new();
        let mut counts = [0u32; 3];
        for seed in 0..SEEDS {
            let (t, v, leak) = trace(name, seed);
            let r = analyze(&t, &v, &params);
            counts[r.verdict as usize] += 1;
            let flagged = r.verdict == Verdict::Leak;
            match (leak, flagged) {
                (true, true) => tp += 1,
                (true, false) => fn_ += 1,
                (false, true) => fp += 1,
                (false, false) => tn += 1,
            }
            if leak != flagged {
                misses.push(format!("seed {seed}: {}", r.reason));
            }
        }
        report += &format!(
            "{name:24} leak {:3}  no_leak {:3}  inconclusive {:3}{}\n",
            counts[0],
            counts[1],
            counts[2],
            misses.first().map_or(String::new(), |m| format!("   e.g. {m}"))
        );
    }
    let recall = f64::from(tp) / f64::from(tp + fn_);
    let fpr = f64::from(fp) / f64::from(fp + tn);
    let mut delays: Vec<f64> = (0..SEEDS)
        .map(|s| detection_delay_min(s).unwrap_or(f64::INFINITY))
        .collect();
    delays.sort_by(f64::total_cmp);
    let median_delay = delays[delays.len() / 2];
    println!("{report}");
    println!("confusion: TP {tp}  FN {fn_}  FP {fp}  TN {tn}");
    println!("recall {recall:.3} (floor 0.95)  false-positive rate {fpr:.3} (ceiling 0.01)");
    println!("median detection delay for 1 MiB/min on 200 MiB: {median_delay:.1} min (ceiling 3)");
    assert!(recall >= 0.95, "recall {recall:.3}\n{report}");
    assert!(fpr <= 0.01, "false-positive rate {fpr:.3}\n{report}");
    assert!(median_delay <= 3.0, "median delay {median_delay} min");
}
