//! Interleaved A/B measurement for a shared, noisy machine: the contenders run in turn, one
//! sample each per round, so a burst of load from other processes hits them all alike; the
//! median sample of each is reported. Used by the `keel-bench-ab` binary for the ratios in
//! BENCHMARKS.md ("Peers side by side", interleaved column).

use std::time::Duration;

/// One contender: a name, how many operations one sample covers, and a closure that runs
/// one sample and returns its measured time (setup excluded).
pub struct Contender<'a> {
    /// Shown in the report.
    pub name: String,
    /// Operations per sample (for time per operation).
    pub ops: u64,
    /// Runs one sample; returns the time of the measured part.
    pub sample: Box<dyn FnMut() -> Duration + 'a>,
}

impl<'a> Contender<'a> {
    /// A contender.
    pub fn new(name: impl Into<String>, ops: u64, sample: impl FnMut() -> Duration + 'a) -> Self {
        Contender {
            name: name.into(),
            ops,
            sample: Box::new(sample),
        }
    }
}

/// The result for one contender.
#[derive(Clone, Debug)]
pub struct AbResult {
    /// The contender's name.
    pub name: String,
    /// Median time per operation.
    pub per_op: Duration,
    /// Its median over the first contender's (the reference).
    pub ratio_to_first: f64,
    /// Samples taken.
    pub rounds: usize,
}

/// Runs one warm-up sample of each contender, then `rounds` rounds of one sample each, in
/// turn; returns the median time per operation of each and its ratio to the first.
pub fn interleave(rounds: usize, contenders: &mut [Contender<'_>]) -> Vec<AbResult> {
    for c in contenders.iter_mut() {
        (c.sample)();
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); contenders.len()];
    for _ in 0..rounds {
        for (c, s) in contenders.iter_mut().zip(samples.iter_mut()) {
            s.push((c.sample)() / c.ops.max(1) as u32);
        }
    }
    let medians: Vec<Duration> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            s[s.len() / 2]
        })
        .collect();
    let first = medians[0].as_secs_f64().max(1e-12);
    contenders
        .iter()
        .zip(medians)
        .map(|(c, m)| AbResult {
            name: c.name.clone(),
            per_op: m,
            ratio_to_first: m.as_secs_f64() / first,
            rounds,
        })
        .collect()
}
