//! Median and p99 of a set of samples (nearest-rank percentiles, no interpolation).

use std::time::Duration;

/// A summary of samples, in the samples' unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
}

/// Summarizes `samples` (at least one). For "lower is better" figures (latency,
/// memory) `p99` is the 99th percentile: the slow tail.
pub fn summarize(samples: &[f64]) -> Summary {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return Summary {
            n: 0,
            median: f64::NAN,
            p99: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    Summary {
        n: sorted.len(),
        median: percentile(&sorted, 0.5),
        p99: percentile(&sorted, 0.99),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
    }
}

/// Summarizes a "higher is better" figure (throughput): `p99` is then the value
/// 99 % of the samples reach, i.e. the 1st percentile (the slow tail again).
pub fn summarize_higher_better(samples: &[f64]) -> Summary {
    let mut s = summarize(samples);
    if s.n > 0 {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        sorted.sort_by(|a, b| a.total_cmp(b));
        s.p99 = percentile(&sorted, 0.01);
    }
    s
}

/// The nearest-rank percentile `p` (0..=1) of sorted, non-empty `sorted`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&samples);
        assert_eq!(
            (s.n, s.median, s.p99, s.min, s.max),
            (100, 50.0, 99.0, 1.0, 100.0)
        );
        let one = summarize(&[7.0]);
        assert_eq!((one.median, one.p99), (7.0, 7.0));
        let up = summarize_higher_better(&samples);
        assert_eq!(up.p99, 1.0);
    }

    #[test]
    fn empty_is_nan_not_a_panic() {
        assert!(summarize(&[]).median.is_nan());
    }
}
