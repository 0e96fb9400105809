//! Round-trip latencies and their percentiles.

use std::time::Duration;

#[derive(Default)]
pub struct Latencies {
    micros: Vec<u32>,
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.micros.push(d.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// The `p`-th percentile (0–100) in microseconds, nearest rank; `None` when empty.
    pub fn percentile(&mut self, p: f64) -> Option<u32> {
        if self.micros.is_empty() {
            return None;
        }
        self.micros.sort_unstable();
        let rank =
            ((p / 100.0 * self.micros.len() as f64).ceil() as usize).clamp(1, self.micros.len());
        Some(self.micros[rank - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut l = Latencies::default();
        assert_eq!(l.percentile(50.0), None);
        for us in (1..=100).rev() {
            l.record(Duration::from_micros(us));
        }
        assert_eq!(
            (l.percentile(50.0), l.percentile(99.0), l.percentile(100.0)),
            (Some(50), Some(99), Some(100))
        );
    }
}
