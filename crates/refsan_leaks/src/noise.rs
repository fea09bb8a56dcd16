//! The noise rule: when a series of per-run deltas is a leak.
//!
//! As in CPython's own `-R` refleak hunting (libregrtest): a counter grows
//! only when it grows on *every* measured run (every delta >= 1). One-off
//! growth — a cache filled once, a string interned, a free list refilled —
//! shows up on some runs and not others and is never reported; a real leak
//! of even one reference per call is there on every run. Extra releases are
//! the mirror image: every delta <= -1.
//!
//! The size per call is the median delta divided by the calls per run, so a
//! single noisy run does not inflate it.
//!
//! The harness (`leak_harness.py`, `settled`) applies the same rule while it
//! measures, to stop once no counter can grow or shrink on every run; the
//! verdict is made here.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Positive on every measured run.
    Grows,
    /// Negative on every measured run.
    Shrinks,
    /// Anything else: zero, or noise in both directions.
    Steady,
}

pub fn trend(deltas: &[i64]) -> Trend {
    if deltas.is_empty() {
        Trend::Steady
    } else if deltas.iter().all(|delta| *delta >= 1) {
        Trend::Grows
    } else if deltas.iter().all(|delta| *delta <= -1) {
        Trend::Shrinks
    } else {
        Trend::Steady
    }
}

/// Median delta per call (0 for an empty series).
pub fn per_call(deltas: &[i64], calls_per_run: u32) -> f64 {
    if deltas.is_empty() {
        return 0.0;
    }
    let mut sorted = deltas.to_vec();
    sorted.sort_unstable();
    let middle = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[middle] as f64
    } else {
        (sorted[middle - 1] as f64 + sorted[middle] as f64) / 2.0
    };
    median / f64::from(calls_per_run.max(1))
}

/// Whether a growth measured only between the start and the end of the
/// measured runs (types, allocation sites) is large enough to show next to
/// a leak: at least one object per measured run.
pub fn is_sustained(total_growth: i64, runs: u32) -> bool {
    total_growth > 0 && total_growth >= i64::from(runs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_only_when_every_run_grows() {
        assert_eq!(trend(&[1, 1, 1, 1, 1, 1]), Trend::Grows);
        assert_eq!(trend(&[5, 5, 6]), Trend::Grows);
        assert_eq!(trend(&[10, 1, 1]), Trend::Grows);
        // CPython's examples of false positives it must ignore (bpo-30776).
        assert_eq!(trend(&[3, 0, 0]), Trend::Steady);
        assert_eq!(trend(&[0, 1, 0]), Trend::Steady);
        assert_eq!(trend(&[8, -8, 1]), Trend::Steady);
        assert_eq!(trend(&[]), Trend::Steady);
    }

    #[test]
    fn shrinks_only_when_every_run_shrinks() {
        assert_eq!(trend(&[-1, -1, -1]), Trend::Shrinks);
        assert_eq!(trend(&[-1, 0, -1]), Trend::Steady);
    }

    #[test]
    fn per_call_is_the_median_over_calls() {
        assert_eq!(per_call(&[4, 1, 1, 1, 1, 1], 1), 1.0);
        assert_eq!(per_call(&[10, 10, 10], 10), 1.0);
        assert_eq!(per_call(&[-1, -1], 1), -1.0);
        assert_eq!(per_call(&[1, 2], 1), 1.5);
        assert_eq!(per_call(&[], 3), 0.0);
    }

    #[test]
    fn sustained_growth_needs_one_per_run() {
        assert!(is_sustained(6, 6));
        assert!(!is_sustained(1, 6));
        assert!(!is_sustained(0, 0));
    }
}
