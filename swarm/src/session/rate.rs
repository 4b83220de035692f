//! Transfer rates for [`super::Progress`]: bytes per second over a sliding
//! window, measured on the wall clock from the cumulative counters.
//!
//! A transfer shorter than the window reads its real average (bytes over
//! the time since the meter started) instead of 0 or a slowly rising
//! average.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Window of [`super::Progress::download_rate`] and `upload_rate`.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);
/// Samples closer together than this replace each other.
const MIN_STEP: Duration = Duration::from_millis(100);

/// Measures a rate from a cumulative byte counter.
#[derive(Debug)]
pub(crate) struct RateMeter {
    /// `(when, cumulative bytes)`, oldest first; the first one is at or
    /// before the window's start, or the meter's start.
    samples: VecDeque<(Instant, u64)>,
}

impl RateMeter {
    pub(crate) fn new(now: Instant, total: u64) -> Self {
        RateMeter {
            samples: VecDeque::from([(now, total)]),
        }
    }

    /// Records the counter at `now` and returns the rate in bytes per
    /// second over the last [`RATE_WINDOW`].
    pub(crate) fn update(&mut self, now: Instant, total: u64) -> u64 {
        let n = self.samples.len();
        match self.samples.back_mut() {
            Some(last) if n > 1 && now.saturating_duration_since(last.0) < MIN_STEP => {
                *last = (now, total)
            }
            _ => self.samples.push_back((now, total)),
        }
        let start = now.checked_sub(RATE_WINDOW);
        // Keep one sample at or before the window's start as the baseline.
        while self.samples.len() > 2 && start.is_some_and(|s| self.samples[1].0 <= s) {
            self.samples.pop_front();
        }
        let (t0, b0) = self.samples[0];
        let t0 = start.map_or(t0, |s| t0.max(s));
        let secs = now.saturating_duration_since(t0).as_secs_f64();
        let bytes = total.saturating_sub(b0);
        if secs <= 0.0 || bytes == 0 {
            return 0;
        }
        (bytes as f64 / secs.max(MIN_STEP.as_secs_f64())) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_transfer_reads_its_average() {
        let t = Instant::now();
        let mut m = RateMeter::new(t, 0);
        assert_eq!(
            m.update(t + Duration::from_millis(200), 10_000_000),
            50_000_000
        );
    }

    #[test]
    fn the_rate_follows_the_window() {
        let t = Instant::now();
        let mut m = RateMeter::new(t, 0);
        let mut r = 0;
        for i in 1..=100u64 {
            // 1 MB per 100 ms for 10 s: 10 MB/s
            r = m.update(t + Duration::from_millis(100 * i), i * 1_000_000);
        }
        assert!((9_900_000..=10_100_000).contains(&r), "{r}");
        // then nothing for 10 s
        let end = 100 * 1_000_000;
        r = m.update(t + Duration::from_secs(20), end);
        assert_eq!(r, 0);
        assert!(m.samples.len() <= 3);
    }
}
