//! The few statistics judging needs: medians and fences, robust to the
//! right-skewed bytes of a day (no means, no standard deviations).

/// The median of `v` (0 when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The `q` quantile (0–1) of sorted values, linear between ranks; 0 for none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let rank = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let below = rank.floor() as usize;
            let above = (below + 1).min(n - 1);
            let frac = rank - below as f64;
            sorted[below] + (sorted[above] - sorted[below]) * frac
        }
    }
}

/// The largest of `errors`, but no more than their upper outer fence,
/// Q3 + 3 × (Q3 − Q1) (Tukey's; quartiles interpolated), or twice Q3 where
/// that is further (errors all alike have no spread to speak of). With
/// fewer than four errors, or none beyond, the largest.
pub fn fenced_worst(errors: &[f64]) -> f64 {
    let worst = errors.iter().copied().fold(0.0f64, f64::max);
    if errors.len() < 4 {
        return worst;
    }
    let mut v = errors.to_vec();
    v.sort_by(f64::total_cmp);
    let (q1, q3) = (quantile(&v, 0.25), quantile(&v, 0.75));
    worst.min((q3 + 3.0 * (q3 - q1)).max(2.0 * q3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 5.0], 0.5), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 5.0], 1.0), 5.0);
    }

    #[test]
    fn one_day_far_from_the_rest_moves_the_fenced_worst_only_to_the_fence() {
        let normal = [1.0, 1.1, 0.9, 1.2, 1.0, 0.95, 1.05, 1.15];
        assert_eq!(fenced_worst(&normal), 1.2, "nothing beyond the fence");
        let mut marked = normal.to_vec();
        marked.push(45.0);
        let capped = fenced_worst(&marked);
        assert!((capped - 2.3).abs() < 1e-9, "twice Q3: {capped}");
        let mut spread = vec![1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5];
        spread.push(45.0);
        assert!((fenced_worst(&spread) - 10.0).abs() < 1e-9, "Q3 + 3 IQR");
        assert_eq!(fenced_worst(&[3.0, 1.0]), 3.0, "too few to say");
        assert_eq!(fenced_worst(&[]), 0.0);
    }
}
