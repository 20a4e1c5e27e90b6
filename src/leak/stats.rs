//! Robust trend statistics for leak verdicts: median and MAD, quantiles,
//! the Theil–Sen slope with Sen's confidence interval, the Mann–Kendall
//! statistic with its variance (ties corrected) and the Hamed–Rao
//! correction for autocorrelation. Pure functions on slices.

/// The median of `v` (NaN for an empty slice).
pub fn median(v: &[f64]) -> f64 {
    quantile(v, 0.5)
}

/// The `q` quantile of `v` with linear interpolation (NaN when empty).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Median absolute deviation from the median (unscaled).
pub fn mad(v: &[f64]) -> f64 {
    let m = median(v);
    let dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    median(&dev)
}

/// The standard normal cumulative distribution (Abramowitz and Stegun
/// 7.1.26, error below 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 { 0.5 * (1.0 + erf) } else { 0.5 * (1.0 - erf) }
}

/// Slopes between every pair of points, sorted.
fn pair_slopes(t: &[f64], v: &[f64]) -> Vec<f64> {
    let n = t.len();
    let mut s = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dt = t[j] - t[i];
            if dt > 0.0 {
                s.push((v[j] - v[i]) / dt);
            }
        }
    }
    s.sort_by(f64::total_cmp);
    s
}

/// A Theil–Sen fit with Sen's confidence interval for the slope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendFit {
    /// Median of pairwise slopes (units of `v` per unit of `t`).
    pub slope: f64,
    /// Median of `v − slope·t`.
    pub intercept: f64,
    pub ci: (f64, f64),
    /// Two-sided Mann–Kendall p-value, with the variance corrected for
    /// autocorrelation.
    pub p: f64,
    /// How much the variance was inflated for autocorrelation (1 = none).
    pub variance_factor: f64,
}

/// Fits a Theil–Sen line to (`t`, `v`) and Sen's interval at the normal
/// quantile `z` (1.96 for 95 %). The Mann–Kendall variance is corrected
/// for ties and, after Hamed and Rao (1998), for the autocorrelation of the
/// detrended ranks. `None` with fewer than 3 points.
pub fn theil_sen(t: &[f64], v: &[f64], z: f64) -> Option<TrendFit> {
    let n = t.len().min(v.len());
    if n < 3 {
        return None;
    }
    let slopes = pair_slopes(&t[..n], &v[..n]);
    if slopes.is_empty() {
        return None;
    }
    let slope = median(&slopes);
    let resid: Vec<f64> = (0..n).map(|i| v[i] - slope * t[i]).collect();
    let intercept = median(&resid);
    let s = mann_kendall_s(&v[..n]);
    let factor = hamed_rao_factor(&resid);
    let var = mann_kendall_var(&v[..n]) * factor;
    let p = if var > 0.0 {
        let zs = (s - s.signum()) / var.sqrt();
        2.0 * (1.0 - normal_cdf(zs.abs()))
    } else {
        1.0
    };
    // Sen (1968): the ranks bounding the interval among the N pair slopes.
    let big_n = slopes.len() as f64;
    let c = z * var.sqrt();
    let lo_rank = ((big_n - c) / 2.0).floor().max(0.0) as usize;
    let hi_rank = (((big_n + c) / 2.0).ceil() as usize).min(slopes.len() - 1);
    let ci = (slopes[lo_rank.min(slopes.len() - 1)], slopes[hi_rank]);
    Some(TrendFit {
        slope,
        intercept,
        ci,
        p: p.clamp(0.0, 1.0),
        variance_factor: factor,
    })
}

/// The Mann–Kendall statistic S: concordant minus discordant pairs.
pub fn mann_kendall_s(v: &[f64]) -> f64 {
    let mut s = 0i64;
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            s += match v[j].partial_cmp(&v[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    s as f64
}

/// The variance of S under no trend, corrected for tied values.
pub fn mann_kendall_var(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mut sorted = v.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let j = sorted[i..].iter().take_while(|x| **x == sorted[i]).count();
        let t = j as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        i += j;
    }
    (n * (n - 1.0) * (2.0 * n + 5.0) - ties) / 18.0
}

/// Ranks of `v` (1-based, ties averaged).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            r[*k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Hamed–Rao's n/n*: how much autocorrelation inflates the variance of S.
/// Only lags whose rank autocorrelation is significant at 5 % count; the
/// factor is never below 1, so a correction can only widen the interval.
pub fn hamed_rao_factor(detrended: &[f64]) -> f64 {
    let n = detrended.len();
    if n < 4 {
        return 1.0;
    }
    let r = ranks(detrended);
    let mean = r.iter().sum::<f64>() / n as f64;
    let dev: Vec<f64> = r.iter().map(|x| x - mean).collect();
    let denom: f64 = dev.iter().map(|d| d * d).sum();
    if denom <= 0.0 {
        return 1.0;
    }
    let bound = 1.96 / (n as f64).sqrt();
    let nf = n as f64;
    let mut sum = 0.0;
    for lag in 1..n - 1 {
        let rho = (0..n - lag).map(|i| dev[i] * dev[i + lag]).sum::<f64>() / denom;
        if rho.abs() > bound {
            let k = (n - lag) as f64;
            sum += k * (k - 1.0) * (k - 2.0) * rho;
        }
    }
    (1.0 + 2.0 / (nf * (nf - 1.0) * (nf - 2.0)) * sum).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_median_and_mad() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(median(&v), 3.0);
        assert_eq!(quantile(&v, 0.25), 2.0);
        assert_eq!(quantile(&[1.0, 2.0], 0.5), 1.5);
        assert_eq!(mad(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]), 1.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn normal_cdf_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
        assert!((normal_cdf(-1.96) - 0.025).abs() < 1e-4);
    }

    #[test]
    fn theil_sen_ignores_an_outlier() {
        let t: Vec<f64> = (0..20).map(f64::from).collect();
        let mut v: Vec<f64> = t.iter().map(|x| 3.0 * x + 1.0).collect();
        v[7] = 1000.0;
        let fit = theil_sen(&t, &v, 1.96).unwrap();
        assert!((fit.slope - 3.0).abs() < 1e-9);
        assert!((fit.intercept - 1.0).abs() < 1e-9);
        assert!(fit.ci.0 <= 3.0 && fit.ci.1 >= 3.0);
        assert!(fit.p < 0.001);
    }

    #[test]
    fn flat_noise_has_an_interval_around_zero() {
        // A deterministic zig-zag: no trend.
        let t: Vec<f64> = (0..40).map(f64::from).collect();
        let v: Vec<f64> = t
            .iter()
            .map(|x| if (*x as i64) % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let fit = theil_sen(&t, &v, 1.96).unwrap();
        assert!(fit.ci.0 <= 0.0 && fit.ci.1 >= 0.0, "{fit:?}");
        assert!(fit.p > 0.2, "{fit:?}");
    }

    #[test]
    fn ties_lower_the_variance() {
        assert!(mann_kendall_var(&[1.0, 1.0, 1.0, 2.0]) < mann_kendall_var(&[1.0, 2.0, 3.0, 4.0]));
        assert_eq!(mann_kendall_var(&[1.0, 2.0, 3.0]), 3.0 * 2.0 * 11.0 / 18.0);
    }

    #[test]
    fn autocorrelated_residuals_widen_the_variance() {
        // A slow wave: neighbours are strongly correlated.
        let wave: Vec<f64> = (0..60).map(|i| (f64::from(i) / 6.0).sin()).collect();
        assert!(hamed_rao_factor(&wave) > 1.5);
        let alternating: Vec<f64> = (0..60).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert_eq!(hamed_rao_factor(&alternating), 1.0);
    }

    #[test]
    fn too_few_points_give_no_fit() {
        assert_eq!(theil_sen(&[0.0, 1.0], &[0.0, 1.0], 1.96), None);
    }

    proptest! {
        #[test]
        fn slope_of_a_line_is_its_rate(rate in -1e6f64..1e6, offset in -1e9f64..1e9, n in 3usize..80) {
            let t: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
            let v: Vec<f64> = t.iter().map(|x| offset + rate * x).collect();
            let fit = theil_sen(&t, &v, 1.96).unwrap();
            prop_assert!((fit.slope - rate).abs() <= 1e-6 * rate.abs().max(1.0));
        }
    }
}
