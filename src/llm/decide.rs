//! The model-size decision (pure): which measured models fit the machine
//! and meet the budgets of a use, which one to run, and for every model a
//! verdict, its reasons and its headroom. Every number arrives in
//! `ModelFacts`/`HostFacts`; nothing here measures, prints or reads a clock.
//!
//! The rule (research/llm.md §4.3): fit first, then errors, the decode
//! floor, the TTFT budget and the quality floor; among the models that
//! pass, the smallest within `quality_margin` of the best pass rate, or,
//! without quality data, the largest ("go bigger until a budget breaks").
//! Batch has no latency budget, so there throughput breaks ties.

use super::{Budgets, Decision, HostFacts, Judgement, ModelFacts, UseCase, Verdict};
use crate::config::units::format_bytes;

/// Below this headroom a budget is likely to break at longer contexts:
/// decode drops by 30-50 % as the context grows to 8K tokens.
const BORDERLINE: f64 = 1.3;
/// At or above this, even that drop leaves the budget met.
const AMPLE: f64 = 2.0;
/// Pass rates are ratios of small counts; this absorbs float noise.
const EPS: f64 = 1e-9;

/// What kind of miss a reason is; it picks the advice when nothing fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    Fit,
    Errors,
    Speed,
    Quality,
    NotMeasured,
}

#[derive(Debug, Clone)]
struct Reason {
    miss: Miss,
    text: String,
}

/// One model held against the budgets, before any comparison.
struct Checked {
    reasons: Vec<Reason>,
    decode_headroom: Option<f64>,
    ttft_headroom: Option<f64>,
}

/// Why the pick was picked, for the recommendation.
enum Why {
    /// No quality data: size stands in for quality.
    Largest,
    /// The best pass rate; `has_peers` when others came within the margin.
    BestQuality { has_peers: bool },
    /// Within the margin of `best`'s pass rate, and smaller than it.
    NearBest { best: usize },
    /// Batch: the highest throughput of the models left by quality (or all
    /// passing ones without quality data).
    Throughput { by_quality: bool },
}

/// Judges every model and picks the one to run.
pub fn decide(models: &[ModelFacts], host: &HostFacts, budgets: &Budgets) -> Decision {
    if models.is_empty() {
        return Decision {
            pick: None,
            models: Vec::new(),
            recommendation: "nothing to decide: no model was measured".into(),
        };
    }
    let checked: Vec<Checked> = models.iter().map(|m| check(m, host, budgets)).collect();
    let rank = size_rank(models);
    let passing: Vec<usize> = (0..models.len()).filter(|&i| checked[i].reasons.is_empty()).collect();
    let choice = choose(models, &passing, &rank, budgets);
    let pick = choice.as_ref().map(|(i, _)| *i);

    let judgements = models
        .iter()
        .zip(&checked)
        .enumerate()
        .map(|(i, (m, c))| {
            let verdict = match pick {
                None => Verdict::NothingFits,
                Some(p) if p == i => Verdict::Keep,
                Some(p) if rank[p] < rank[i] => Verdict::GoSmaller,
                Some(_) => Verdict::GoBigger,
            };
            Judgement {
                model: m.model.clone(),
                verdict,
                passes: c.reasons.is_empty(),
                reasons: c.reasons.iter().map(|r| r.text.clone()).collect(),
                decode_headroom: c.decode_headroom,
                ttft_headroom: c.ttft_headroom,
                headroom: headroom_sentence(m, c),
            }
        })
        .collect();

    let recommendation = match &choice {
        Some((p, why)) => recommend(models, *p, why, passing.len(), budgets),
        None => nothing_fits(models, &checked),
    };
    Decision {
        pick: pick.map(|p| models[p].model.clone()),
        models: judgements,
        recommendation,
    }
}

/// Every reason the model fails, in the order fit, errors, decode, TTFT,
/// quality, and the two headroom ratios.
fn check(m: &ModelFacts, host: &HostFacts, b: &Budgets) -> Checked {
    let mut reasons = Vec::new();
    let mut miss = |miss: Miss, text: String| reasons.push(Reason { miss, text });

    // Without the sizes the fit cannot be judged; a spill to the CPU still
    // shows up as a missed decode floor, so it is not held against the model.
    if host.gpu {
        if let (Some(size), Some(vram)) = (m.size_bytes, m.vram_bytes)
            && vram < size
        {
            let on_cpu = (size - vram) as f64 / size as f64 * 100.0;
            let text = format!(
                "{} of {} in GPU memory ({} % on CPU)",
                format_bytes(vram as f64),
                format_bytes(size as f64),
                whole_percent(on_cpu)
            );
            miss(Miss::Fit, text);
        }
    } else if host.mem_bytes > 0 {
        let used = match (m.server_rss_max, m.size_bytes) {
            (Some(rss), _) => Some(("server RSS peak", rss)),
            (None, Some(size)) => Some(("model size", size)),
            (None, None) => None,
        };
        if let Some((what, used)) = used {
            let mem = host.mem_bytes as f64;
            let free = (mem - used as f64) / mem;
            if used >= host.mem_bytes {
                miss(
                    Miss::Fit,
                    format!("{what} {} exceeds {} RAM", format_bytes(used as f64), format_bytes(mem)),
                );
            } else if free < b.min_ram_headroom {
                let text = format!(
                    "{what} {} leaves {} % of {} RAM free < {} % headroom",
                    format_bytes(used as f64),
                    whole_percent(free * 100.0),
                    format_bytes(mem),
                    num(b.min_ram_headroom * 100.0)
                );
                miss(Miss::Fit, text);
            }
        }
    }

    if m.requests == 0 {
        miss(Miss::NotMeasured, "no requests measured".into());
    } else {
        let rate = m.errors.min(m.requests) as f64 / m.requests as f64;
        if rate > b.max_error_rate {
            let text = format!(
                "errors {}/{} ({} %) > {} %",
                m.errors,
                m.requests,
                beside(rate * 100.0, b.max_error_rate * 100.0),
                num(b.max_error_rate * 100.0)
            );
            miss(Miss::Errors, text);
        }
    }

    let mut decode_headroom = None;
    if let Some(floor) = b.min_decode_p10 {
        match m.decode_p10 {
            None => miss(
                Miss::NotMeasured,
                format!("decode p10 not measured (floor {} tok/s)", num(floor)),
            ),
            Some(p10) => {
                if floor > 0.0 {
                    decode_headroom = Some(p10 / floor);
                }
                if p10 < floor {
                    let text = format!("decode p10 {} tok/s < floor {} tok/s", beside(p10, floor), num(floor));
                    miss(Miss::Speed, text);
                }
            }
        }
    }

    let mut ttft_headroom = None;
    if let Some(budget) = b.max_ttft_p95_s {
        match m.ttft_p95 {
            None => miss(
                Miss::NotMeasured,
                format!("TTFT p95 not measured (budget {} s)", num(budget)),
            ),
            Some(ttft) => {
                let secs = ttft.as_secs_f64();
                // A first token under a millisecond is as good as instant;
                // the floor keeps the ratio finite for the result file.
                ttft_headroom = Some(budget / secs.max(1e-3));
                if secs > budget {
                    let text = format!("TTFT p95 {} s > budget {} s", beside(secs, budget), num(budget));
                    miss(Miss::Speed, text);
                }
            }
        }
    }

    if let Some(floor) = b.min_quality {
        match m.quality {
            Some((passed, total)) if total > 0 => {
                let rate = passed as f64 / total as f64;
                if rate + EPS < floor {
                    let text = format!(
                        "quality {passed}/{total} ({} %) < floor {} %",
                        beside(rate * 100.0, floor * 100.0),
                        num(floor * 100.0)
                    );
                    miss(Miss::Quality, text);
                }
            }
            _ => miss(
                Miss::NotMeasured,
                format!("quality not measured (floor {} %)", num(floor * 100.0)),
            ),
        }
    }

    Checked {
        reasons,
        decode_headroom,
        ttft_headroom,
    }
}

/// Each model's place in size order (0 = smallest). One key for the whole
/// set, so the order is consistent: parameters if every model has them,
/// else bytes if every model has them, else the order given.
fn size_rank(models: &[ModelFacts]) -> Vec<usize> {
    let keys: Vec<f64> = if models.iter().all(|m| m.params.is_some()) {
        models.iter().map(|m| m.params.unwrap_or_default()).collect()
    } else if models.iter().all(|m| m.size_bytes.is_some()) {
        models.iter().map(|m| m.size_bytes.unwrap_or_default() as f64).collect()
    } else {
        (0..models.len()).map(|i| i as f64).collect()
    };
    let mut order: Vec<usize> = (0..models.len()).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b)));
    let mut rank = vec![0; models.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    rank
}

fn pass_rate(quality: Option<(u32, u32)>) -> Option<f64> {
    match quality {
        Some((passed, total)) if total > 0 => Some(passed as f64 / total as f64),
        _ => None,
    }
}

/// The pick among the passing models, and why.
fn choose(models: &[ModelFacts], passing: &[usize], rank: &[usize], b: &Budgets) -> Option<(usize, Why)> {
    if passing.is_empty() {
        return None;
    }
    let smallest = |pool: &[usize]| pool.iter().copied().min_by_key(|&i| rank[i]);
    let largest = |pool: &[usize]| pool.iter().copied().max_by_key(|&i| rank[i]);
    let rate = |i: usize| pass_rate(models[i].quality).unwrap_or_default();

    // Quality only ranks models when every contender has it: a model
    // without checks could be better or worse than any that has them.
    let by_quality = passing.iter().all(|&i| pass_rate(models[i].quality).is_some());
    let best = passing
        .iter()
        .copied()
        .max_by(|&a, &c| rate(a).total_cmp(&rate(c)).then(rank[c].cmp(&rank[a])))?;
    let pool: Vec<usize> = if by_quality {
        passing
            .iter()
            .copied()
            .filter(|&i| rate(i) + EPS >= rate(best) - b.quality_margin)
            .collect()
    } else {
        passing.to_vec()
    };

    if b.use_case == UseCase::Batch {
        let fastest = pool
            .iter()
            .copied()
            .filter(|&i| models[i].throughput.is_some())
            .max_by(|&a, &c| {
                let (ta, tc) = (
                    models[a].throughput.unwrap_or_default(),
                    models[c].throughput.unwrap_or_default(),
                );
                // Equal throughput: the smaller model costs less to run.
                ta.total_cmp(&tc).then(rank[c].cmp(&rank[a]))
            });
        if let Some(i) = fastest {
            return Some((i, Why::Throughput { by_quality }));
        }
    }

    if !by_quality {
        return largest(&pool).map(|i| (i, Why::Largest));
    }
    let pick = smallest(&pool)?;
    if rate(pick) + EPS >= rate(best) {
        Some((
            pick,
            Why::BestQuality {
                has_peers: pool.len() > 1,
            },
        ))
    } else {
        Some((pick, Why::NearBest { best }))
    }
}

/// "the interactive budgets (decode p10 ≥ 10 tok/s, TTFT p95 ≤ 2 s)".
fn budgets_text(b: &Budgets) -> String {
    let mut parts = Vec::new();
    if let Some(floor) = b.min_decode_p10 {
        parts.push(format!("decode p10 ≥ {} tok/s", num(floor)));
    }
    if let Some(budget) = b.max_ttft_p95_s {
        parts.push(format!("TTFT p95 ≤ {} s", num(budget)));
    }
    if parts.is_empty() {
        parts.push(format!("errors ≤ {} %", num(b.max_error_rate * 100.0)));
    }
    if let Some(floor) = b.min_quality {
        parts.push(format!("quality ≥ {} %", num(floor * 100.0)));
    }
    format!("the {} budgets ({})", b.use_case.name(), parts.join(", "))
}

fn quality_text(m: &ModelFacts) -> String {
    match m.quality {
        Some((passed, total)) => format!("{passed}/{total}"),
        None => "not measured".into(),
    }
}

fn recommend(models: &[ModelFacts], pick: usize, why: &Why, passing: usize, b: &Budgets) -> String {
    let m = &models[pick];
    let points = num(b.quality_margin * 100.0);
    let because = match why {
        Why::Largest if passing == 1 => format!("the only model that meets {}", budgets_text(b)),
        Why::Largest => format!("the largest model that meets {}", budgets_text(b)),
        Why::BestQuality { has_peers } => {
            let peers = if *has_peers {
                format!(", and the smallest within {points} points of it")
            } else {
                String::new()
            };
            format!(
                "the best quality ({} checks) of the models that meet {}{peers}",
                quality_text(m),
                budgets_text(b)
            )
        }
        Why::NearBest { best } => format!(
            "within {points} points of the best quality ({} vs {} for {}), and smaller",
            quality_text(m),
            quality_text(&models[*best]),
            models[*best].model
        ),
        Why::Throughput { by_quality } => {
            let tput = num(m.throughput.unwrap_or_default());
            if *by_quality {
                format!(
                    "the highest throughput ({tput} tok/s) of the models within {points} points of the best quality"
                )
            } else {
                format!(
                    "the highest throughput ({tput} tok/s) of the models that meet {}",
                    budgets_text(b)
                )
            }
        }
    };
    format!("run {}: {because}", m.model)
}

fn nothing_fits(models: &[ModelFacts], checked: &[Checked]) -> String {
    let firsts: Vec<(&str, &Reason)> = models
        .iter()
        .zip(checked)
        .filter_map(|(m, c)| c.reasons.first().map(|r| (m.model.as_str(), r)))
        .collect();
    let listed = match firsts.as_slice() {
        [(model, r)] => format!("{model} misses ({})", r.text),
        many => {
            let each: Vec<String> = many.iter().map(|(model, r)| format!("{model}: {}", r.text)).collect();
            format!("every model misses ({})", each.join("; "))
        }
    };
    let mut advice: Vec<&str> = Vec::new();
    for (_, r) in &firsts {
        let a = match r.miss {
            Miss::Fit | Miss::Speed => "try a smaller model or quantisation, or a looser --use",
            Miss::Quality => "try a larger model, or a lower min_quality",
            Miss::Errors => "see the server's log for the failed requests",
            Miss::NotMeasured => "re-run so that every budget is measured",
        };
        if !advice.contains(&a) {
            advice.push(a);
        }
    }
    format!("nothing fits: {listed}; {}", advice.join("; "))
}

/// One sentence on how close a model is to its budgets, or why it fails.
fn headroom_sentence(m: &ModelFacts, c: &Checked) -> String {
    if let Some(first) = c.reasons.first() {
        return first.text.clone();
    }
    let mut parts = Vec::new();
    if let Some(d) = c.decode_headroom {
        parts.push(format!("decode p10 is {}× the floor", times(d)));
    }
    if let Some(t) = c.ttft_headroom {
        parts.push(format!("TTFT p95 is {}× under budget", times(t)));
    }
    let least = c.decode_headroom.into_iter().chain(c.ttft_headroom).reduce(f64::min);
    let Some(least) = least else {
        return match m.throughput {
            Some(t) => format!("no latency budget; throughput {} tok/s", num(t)),
            None => "no latency budget".into(),
        };
    };
    let tail = if least < BORDERLINE {
        "borderline for longer contexts"
    } else if least >= AMPLE {
        "ample headroom"
    } else {
        "re-check at the longest context you need"
    };
    format!("{}; {tail}", parts.join(" and "))
}

/// A ratio: `1.4`, `17`.
fn times(x: f64) -> String {
    if x < 10.0 { format!("{x:.1}") } else { format!("{x:.0}") }
}

/// A whole percentage that never rounds a real share to 0 or 100.
fn whole_percent(p: f64) -> String {
    if p > 0.0 && p < 1.0 {
        "<1".into()
    } else if p > 99.0 && p < 100.0 {
        ">99".into()
    } else {
        format!("{p:.0}")
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A measured number without noise: `6.1`, `10`, `0.25`, `412`.
fn num(v: f64) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    trim_zeros(s)
}

/// `num(v)`, with more decimals where rounding would make a miss read as
/// equal to its limit ("9.996 < floor 10", not "10 < floor 10").
fn beside(v: f64, limit: f64) -> String {
    let shown = num(v);
    if v == limit || shown != num(limit) {
        return shown;
    }
    (2..=4)
        .map(|d| trim_zeros(format!("{v:.d$}")))
        .find(|s| *s != num(limit))
        .unwrap_or(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const GIB: u64 = 1024 * 1024 * 1024;

    /// A model fully in GPU memory, 40 requests without errors, sized like
    /// a Q4 model (0.6 GiB per billion parameters).
    fn model(name: &str, billions: f64, decode_p10: f64, ttft_s: f64) -> ModelFacts {
        let size = (billions * 0.6 * GIB as f64) as u64;
        ModelFacts {
            model: name.into(),
            params: Some(billions * 1e9),
            size_bytes: Some(size),
            vram_bytes: Some(size),
            decode_p50: Some(decode_p10 * 1.1),
            decode_p10: Some(decode_p10),
            ttft_p95: Some(Duration::from_secs_f64(ttft_s)),
            throughput: None,
            requests: 40,
            errors: 0,
            quality: None,
            server_rss_max: None,
        }
    }

    fn gpu_host() -> HostFacts {
        HostFacts {
            mem_bytes: 64 * GIB,
            gpu: true,
        }
    }

    fn cpu_host(gib: u64) -> HostFacts {
        HostFacts {
            mem_bytes: gib * GIB,
            gpu: false,
        }
    }

    fn interactive() -> Budgets {
        Budgets::for_use(UseCase::Interactive)
    }

    fn verdicts(d: &Decision) -> Vec<Verdict> {
        d.models.iter().map(|j| j.verdict).collect()
    }

    #[test]
    fn all_pass_keeps_the_largest_and_the_smaller_ones_go_bigger() {
        let models = [
            model("llama3.2:1b", 1.2, 171.0, 0.11),
            model("llama3.2:3b", 3.2, 104.0, 0.15),
            model("llama3.1:8b", 8.0, 52.0, 0.31),
        ];
        let d = decide(&models, &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("llama3.1:8b"));
        assert_eq!(verdicts(&d), [Verdict::GoBigger, Verdict::GoBigger, Verdict::Keep]);
        assert!(d.models.iter().all(|j| j.passes && j.reasons.is_empty()));
        assert_eq!(
            d.recommendation,
            "run llama3.1:8b: the largest model that meets the interactive budgets \
             (decode p10 ≥ 10 tok/s, TTFT p95 ≤ 2 s)"
        );
    }

    #[test]
    fn largest_missing_the_decode_floor_keeps_the_middle_and_goes_smaller() {
        let models = [
            model("llama3.2:1b", 1.2, 38.0, 0.4),
            model("llama3.2:3b", 3.2, 14.0, 0.9),
            model("llama3.1:8b", 8.0, 6.1, 1.6),
        ];
        let d = decide(&models, &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("llama3.2:3b"));
        assert_eq!(verdicts(&d), [Verdict::GoBigger, Verdict::Keep, Verdict::GoSmaller]);
        assert!(!d.models[2].passes);
        assert_eq!(d.models[2].reasons, ["decode p10 6.1 tok/s < floor 10 tok/s"]);
        assert_eq!(d.models[2].headroom, "decode p10 6.1 tok/s < floor 10 tok/s");
    }

    #[test]
    fn order_given_does_not_matter_sizes_do() {
        let models = [
            model("llama3.1:8b", 8.0, 6.1, 1.6),
            model("llama3.2:1b", 1.2, 38.0, 0.4),
            model("llama3.2:3b", 3.2, 14.0, 0.9),
        ];
        let d = decide(&models, &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("llama3.2:3b"));
        assert_eq!(verdicts(&d), [Verdict::GoSmaller, Verdict::GoBigger, Verdict::Keep]);
    }

    #[test]
    fn quality_within_margin_picks_the_smaller_and_the_bigger_goes_smaller() {
        let mut small = model("qwen:1.5b", 1.5, 60.0, 0.2);
        let mut big = model("qwen:7b", 7.0, 25.0, 0.5);
        small.quality = Some((9, 10));
        big.quality = Some((10, 10));
        let d = decide(&[small, big], &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("qwen:1.5b"));
        assert_eq!(verdicts(&d), [Verdict::Keep, Verdict::GoSmaller]);
        assert!(d.models[1].passes);
        assert_eq!(
            d.recommendation,
            "run qwen:1.5b: within 10 points of the best quality (9/10 vs 10/10 for qwen:7b), and smaller"
        );
    }

    #[test]
    fn quality_outside_margin_picks_the_better_bigger_model() {
        let mut small = model("qwen:1.5b", 1.5, 60.0, 0.2);
        let mut big = model("qwen:7b", 7.0, 25.0, 0.5);
        small.quality = Some((3, 5));
        big.quality = Some((5, 5));
        let d = decide(&[small, big], &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("qwen:7b"));
        assert_eq!(verdicts(&d), [Verdict::GoBigger, Verdict::Keep]);
        assert!(
            d.recommendation
                .starts_with("run qwen:7b: the best quality (5/5 checks) of the models")
        );
    }

    #[test]
    fn equal_quality_picks_the_smallest_and_says_it_is_the_smallest() {
        let mut models = [model("a:1b", 1.0, 60.0, 0.2), model("a:3b", 3.0, 40.0, 0.3)];
        models[0].quality = Some((3, 3));
        models[1].quality = Some((3, 3));
        let d = decide(&models, &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("a:1b"));
        assert!(
            d.recommendation.ends_with(", and the smallest within 10 points of it"),
            "{}",
            d.recommendation
        );
    }

    #[test]
    fn quality_of_only_some_models_falls_back_to_the_largest() {
        let mut models = [model("a:1b", 1.0, 60.0, 0.2), model("a:3b", 3.0, 40.0, 0.3)];
        models[0].quality = Some((3, 3));
        let d = decide(&models, &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("a:3b"));
    }

    #[test]
    fn partial_gpu_offload_is_out() {
        let mut big = model("gemma3:12b", 12.0, 52.0, 0.8);
        big.size_bytes = Some(8 * GIB);
        big.vram_bytes = Some(5 * GIB);
        let d = decide(&[model("gemma3:4b", 4.0, 60.0, 0.3), big], &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("gemma3:4b"));
        assert_eq!(verdicts(&d), [Verdict::Keep, Verdict::GoSmaller]);
        assert_eq!(
            d.models[1].reasons,
            ["5.00 GiB of 8.00 GiB in GPU memory (38 % on CPU)"]
        );
    }

    #[test]
    fn gpu_host_without_vram_figures_is_not_judged_on_fit() {
        let mut m = model("served", 7.0, 50.0, 0.3);
        m.vram_bytes = None;
        let d = decide(&[m], &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("served"));
        assert!(d.recommendation.starts_with("run served: the only model that meets"));
    }

    #[test]
    fn cpu_host_needs_twenty_percent_ram_headroom_judged_by_rss_first() {
        let mut small = model("llama3.2:3b", 3.2, 11.0, 1.2);
        small.vram_bytes = None;
        small.server_rss_max = Some(3 * GIB);
        let mut big = model("llama3.1:8b", 8.0, 10.5, 1.9);
        big.vram_bytes = None;
        big.size_bytes = Some(5 * GIB);
        big.server_rss_max = Some(7 * GIB);
        let d = decide(&[small, big.clone()], &cpu_host(8), &interactive());
        assert_eq!(d.pick.as_deref(), Some("llama3.2:3b"));
        assert_eq!(
            d.models[1].reasons,
            ["server RSS peak 7.00 GiB leaves 12 % of 8.00 GiB RAM free < 20 % headroom"]
        );

        // Without an RSS reading the model's size stands in: 5 of 8 GiB leaves 37 %.
        big.server_rss_max = None;
        let d = decide(&[big.clone()], &cpu_host(8), &interactive());
        assert!(d.models[0].passes, "{:?}", d.models[0].reasons);

        big.size_bytes = Some(9 * GIB);
        let d = decide(&[big], &cpu_host(8), &interactive());
        assert_eq!(d.models[0].reasons, ["model size 9.00 GiB exceeds 8.00 GiB RAM"]);
    }

    #[test]
    fn vram_below_size_on_a_cpu_host_is_not_an_offload() {
        let mut m = model("cpu-only", 1.0, 20.0, 0.5);
        m.vram_bytes = Some(0);
        let d = decide(&[m], &cpu_host(16), &interactive());
        assert!(d.models[0].passes);
    }

    #[test]
    fn error_rate_above_one_percent_is_out() {
        let mut flaky = model("llama3.1:8b", 8.0, 52.0, 0.31);
        flaky.errors = 3;
        let mut one_in_hundred = model("llama3.2:3b", 3.2, 104.0, 0.15);
        one_in_hundred.requests = 100;
        one_in_hundred.errors = 1;
        let d = decide(&[one_in_hundred, flaky], &gpu_host(), &interactive());
        assert_eq!(d.pick.as_deref(), Some("llama3.2:3b"));
        assert_eq!(d.models[1].reasons, ["errors 3/40 (7.5 %) > 1 %"]);
        assert_eq!(d.models[1].verdict, Verdict::GoSmaller);
    }

    #[test]
    fn nothing_fits_marks_every_model_and_lists_each_first_reason() {
        let models = [model("llama3.2:3b", 3.2, 4.6, 2.5), model("llama3.1:8b", 8.0, 2.0, 6.0)];
        let d = decide(&models, &cpu_host(16), &interactive());
        assert_eq!(d.pick, None);
        assert_eq!(verdicts(&d), [Verdict::NothingFits, Verdict::NothingFits]);
        assert_eq!(d.models[0].reasons.len(), 2);
        assert_eq!(
            d.recommendation,
            "nothing fits: every model misses (llama3.2:3b: decode p10 4.6 tok/s < floor 10 tok/s; \
             llama3.1:8b: decode p10 2 tok/s < floor 10 tok/s); \
             try a smaller model or quantisation, or a looser --use"
        );
    }

    #[test]
    fn nothing_fits_on_quality_advises_a_larger_model() {
        let mut m = model("tiny", 0.5, 200.0, 0.05);
        m.quality = Some((1, 3));
        let b = Budgets {
            min_quality: Some(0.8),
            ..interactive()
        };
        let d = decide(&[m], &gpu_host(), &b);
        assert_eq!(
            d.recommendation,
            "nothing fits: tiny misses (quality 1/3 (33.3 %) < floor 80 %); try a larger model, or a lower min_quality"
        );
    }

    #[test]
    fn failing_small_model_with_a_passing_bigger_sibling_goes_bigger() {
        let mut small = model("phi:1b", 1.0, 90.0, 0.1);
        let mut big = model("phi:4b", 4.0, 30.0, 0.4);
        small.quality = Some((2, 5));
        big.quality = Some((5, 5));
        let b = Budgets {
            min_quality: Some(0.6),
            ..interactive()
        };
        let d = decide(&[small, big], &gpu_host(), &b);
        assert_eq!(d.pick.as_deref(), Some("phi:4b"));
        assert_eq!(verdicts(&d), [Verdict::GoBigger, Verdict::Keep]);
        assert_eq!(d.models[0].reasons, ["quality 2/5 (40 %) < floor 60 %"]);
    }

    #[test]
    fn batch_prefers_the_highest_throughput_among_equal_quality() {
        let mut models = [
            model("m:1b", 1.0, 3.0, 9.0),
            model("m:3b", 3.0, 2.0, 12.0),
            model("m:8b", 8.0, 1.0, 20.0),
        ];
        for (m, (tput, q)) in models.iter_mut().zip([(900.0, 7), (1200.0, 10), (400.0, 10)]) {
            m.throughput = Some(tput);
            m.quality = Some((q, 10));
        }
        let d = decide(&models, &gpu_host(), &Budgets::for_use(UseCase::Batch));
        assert_eq!(d.pick.as_deref(), Some("m:3b"));
        assert_eq!(verdicts(&d), [Verdict::GoBigger, Verdict::Keep, Verdict::GoSmaller]);
        assert_eq!(
            d.recommendation,
            "run m:3b: the highest throughput (1200 tok/s) of the models within 10 points of the best quality"
        );
        assert_eq!(d.models[1].headroom, "no latency budget; throughput 1200 tok/s");
    }

    #[test]
    fn batch_without_quality_takes_the_highest_throughput_of_all_that_fit() {
        let mut models = [model("m:1b", 1.0, 3.0, 9.0), model("m:8b", 8.0, 1.0, 20.0)];
        models[0].throughput = Some(800.0);
        models[1].throughput = Some(300.0);
        let d = decide(&models, &gpu_host(), &Budgets::for_use(UseCase::Batch));
        assert_eq!(d.pick.as_deref(), Some("m:1b"));
        assert_eq!(
            d.recommendation,
            "run m:1b: the highest throughput (800 tok/s) of the models that meet the batch budgets (errors ≤ 1 %)"
        );
    }

    #[test]
    fn batch_without_throughput_falls_back_to_the_largest() {
        let models = [model("m:1b", 1.0, 3.0, 9.0), model("m:8b", 8.0, 1.0, 20.0)];
        let d = decide(&models, &gpu_host(), &Budgets::for_use(UseCase::Batch));
        assert_eq!(d.pick.as_deref(), Some("m:8b"));
        assert_eq!(d.models[0].headroom, "no latency budget");
    }

    #[test]
    fn missing_measurements_are_misses() {
        let mut no_decode = model("a", 1.0, 50.0, 0.2);
        no_decode.decode_p10 = None;
        let mut no_ttft = model("b", 2.0, 50.0, 0.2);
        no_ttft.ttft_p95 = None;
        let mut no_requests = model("c", 3.0, 50.0, 0.2);
        no_requests.requests = 0;
        let no_quality = model("d", 4.0, 50.0, 0.2);
        let b = Budgets {
            min_quality: Some(0.5),
            ..interactive()
        };
        let d = decide(&[no_decode, no_ttft, no_requests, no_quality], &gpu_host(), &b);
        assert_eq!(d.pick, None);
        let firsts: Vec<&str> = d.models.iter().map(|j| j.reasons[0].as_str()).collect();
        assert_eq!(
            firsts,
            [
                "decode p10 not measured (floor 10 tok/s)",
                "TTFT p95 not measured (budget 2 s)",
                "no requests measured",
                "quality not measured (floor 50 %)",
            ]
        );
        assert!(d.recommendation.ends_with("; re-run so that every budget is measured"));
    }

    #[test]
    fn ttft_over_budget_names_the_number_and_the_budget() {
        let d = decide(&[model("slow-prefill", 8.0, 40.0, 2.4)], &gpu_host(), &interactive());
        assert_eq!(d.models[0].reasons, ["TTFT p95 2.4 s > budget 2 s"]);
        assert_eq!(d.models[0].verdict, Verdict::NothingFits);
    }

    #[test]
    fn headroom_sentence_borderline_uses_the_smaller_ratio() {
        let d = decide(&[model("m", 3.0, 12.0, 0.625)], &gpu_host(), &interactive());
        let j = &d.models[0];
        assert_eq!(j.decode_headroom, Some(1.2));
        assert_eq!(j.ttft_headroom, Some(3.2));
        assert_eq!(
            j.headroom,
            "decode p10 is 1.2× the floor and TTFT p95 is 3.2× under budget; borderline for longer contexts"
        );
    }

    #[test]
    fn headroom_sentence_ample_and_in_between() {
        let d = decide(&[model("m", 3.0, 25.0, 0.1)], &gpu_host(), &interactive());
        assert_eq!(
            d.models[0].headroom,
            "decode p10 is 2.5× the floor and TTFT p95 is 20× under budget; ample headroom"
        );
        let d = decide(&[model("m", 3.0, 16.0, 0.5)], &gpu_host(), &interactive());
        assert_eq!(
            d.models[0].headroom,
            "decode p10 is 1.6× the floor and TTFT p95 is 4.0× under budget; re-check at the longest context you need"
        );
    }

    #[test]
    fn headroom_is_reported_for_failing_models_too() {
        let d = decide(&[model("m", 8.0, 5.0, 4.0)], &gpu_host(), &interactive());
        assert_eq!(d.models[0].decode_headroom, Some(0.5));
        assert_eq!(d.models[0].ttft_headroom, Some(0.5));
    }

    #[test]
    fn size_order_falls_back_to_bytes_then_to_the_order_given() {
        let mut a = model("a", 8.0, 50.0, 0.2);
        let mut b = model("b", 1.0, 50.0, 0.2);
        a.params = None;
        assert_eq!(
            decide(&[a.clone(), b.clone()], &gpu_host(), &interactive())
                .pick
                .as_deref(),
            Some("a")
        );
        a.size_bytes = None;
        a.vram_bytes = None;
        b.params = None;
        assert_eq!(
            decide(&[a.clone(), b.clone()], &gpu_host(), &interactive())
                .pick
                .as_deref(),
            Some("b")
        );
        assert_eq!(decide(&[b, a], &gpu_host(), &interactive()).pick.as_deref(), Some("a"));
    }

    #[test]
    fn no_models_decides_nothing() {
        let d = decide(&[], &gpu_host(), &interactive());
        assert_eq!(d.pick, None);
        assert!(d.models.is_empty());
        assert_eq!(d.recommendation, "nothing to decide: no model was measured");
    }

    #[test]
    fn a_miss_never_reads_as_equal_to_its_limit() {
        assert_eq!(beside(9.996, 10.0), "9.996");
        assert_eq!(beside(6.1, 10.0), "6.1");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(412.4), "412");
        assert_eq!(whole_percent(0.2), "<1");
        assert_eq!(whole_percent(99.7), ">99");
    }
}
