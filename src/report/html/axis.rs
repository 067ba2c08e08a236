//! The chart's time axis: one horizontal scale on which a 0.2 ms exchange and a 45 s
//! idle stretch are both readable. Between two consecutive moments that something
//! happens (a packet the chart draws), the width grows with the logarithm of the gap,
//! not the gap itself; gaps of a second or more are drawn as axis breaks labelled with
//! their real length. Not for reading durations off the picture: every mark carries
//! its exact times and packet numbers in its tooltip.

use crate::time::Timestamp;

/// Gaps shorter than this are spread almost linearly; longer ones are compressed.
const LINEAR_UP_TO_NANOS: f64 = 100_000.0; // 0.1 ms
/// Gaps of at least this are drawn as a break in the axis.
pub const BREAK_NANOS: i64 = 1_000_000_000;

/// Capture time → x, monotone, piecewise linear between the moments it was built from.
#[derive(Debug)]
pub struct TimeAxis {
    /// Sorted, distinct nanoseconds.
    times: Vec<i64>,
    /// x of each time, from 0 to `width`.
    xs: Vec<f64>,
}

/// A compressed gap: where it is drawn and how long it really was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Break {
    pub x0: f64,
    pub x1: f64,
    pub seconds: f64,
}

impl TimeAxis {
    /// An axis `width` wide over `moments` (any order, duplicates allowed).
    pub fn new(mut moments: Vec<Timestamp>, width: f64) -> TimeAxis {
        moments.sort_unstable();
        moments.dedup();
        let times: Vec<i64> = moments.iter().map(|t| t.as_nanos()).collect();
        let mut xs = Vec::with_capacity(times.len());
        let mut x = 0.0;
        for (i, t) in times.iter().enumerate() {
            if i > 0 {
                let gap = t.saturating_sub(times[i - 1]) as f64;
                x += (1.0 + gap / LINEAR_UP_TO_NANOS).ln();
            }
            xs.push(x);
        }
        let scale = if x > 0.0 { width / x } else { 0.0 };
        for v in &mut xs {
            *v *= scale;
        }
        // A single moment sits in the middle.
        if times.len() == 1 {
            xs[0] = width / 2.0;
        }
        TimeAxis { times, xs }
    }

    /// Where `t` falls; times outside the axis stick to its ends.
    pub fn x(&self, t: Timestamp) -> f64 {
        let t = t.as_nanos();
        match self.times.binary_search(&t) {
            Ok(i) => self.xs[i],
            Err(0) => self.xs.first().copied().unwrap_or(0.0),
            Err(i) if i >= self.times.len() => self.xs.last().copied().unwrap_or(0.0),
            Err(i) => {
                let (t0, t1) = (self.times[i - 1], self.times[i]);
                let (x0, x1) = (self.xs[i - 1], self.xs[i]);
                x0 + (x1 - x0) * (t - t0) as f64 / (t1 - t0) as f64
            }
        }
    }

    /// The gaps of at least [`BREAK_NANOS`], in order.
    pub fn breaks(&self) -> Vec<Break> {
        self.times
            .windows(2)
            .zip(self.xs.windows(2))
            .filter(|(t, _)| t[1].saturating_sub(t[0]) >= BREAK_NANOS)
            .map(|(t, x)| Break {
                x0: x[0],
                x1: x[1],
                seconds: (t[1] - t[0]) as f64 / 1e9,
            })
            .collect()
    }

    /// The first moment on the axis.
    pub fn start(&self) -> Option<Timestamp> {
        self.times.first().map(|t| Timestamp::from_nanos(*t))
    }

    /// Evenly spread labelled points: (x, time), at most `n`, at moments on the axis.
    pub fn ticks(&self, n: usize) -> Vec<(f64, Timestamp)> {
        let Some(&last) = self.xs.last() else {
            return Vec::new();
        };
        let mut out: Vec<(f64, Timestamp)> = Vec::new();
        let step = last / n.max(1) as f64;
        for (x, t) in self.xs.iter().zip(&self.times) {
            if out.last().is_none_or(|(px, _)| x - px >= step) {
                out.push((*x, Timestamp::from_nanos(*t)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: f64) -> Timestamp {
        Timestamp::from_nanos((ms * 1e6) as i64)
    }

    #[test]
    fn a_short_exchange_and_a_long_idle_are_both_visible() {
        // 0.2 ms exchange, 45 s idle, 0.2 ms exchange.
        let axis = TimeAxis::new(vec![at(0.0), at(0.2), at(45_000.2), at(45_000.4)], 1000.0);
        let exchange = axis.x(at(0.2)) - axis.x(at(0.0));
        let idle = axis.x(at(45_000.2)) - axis.x(at(0.2));
        assert!(exchange > 20.0, "exchange {exchange:.1} px wide");
        assert!(idle < 1000.0 - 2.0 * 20.0 && idle > exchange * 5.0);
        assert_eq!(axis.x(at(45_000.4)), 1000.0);
        let breaks = axis.breaks();
        assert_eq!(breaks.len(), 1);
        assert!((breaks[0].seconds - 45.0).abs() < 1e-6);
    }

    #[test]
    fn the_axis_is_monotone_and_clamped() {
        let axis = TimeAxis::new(vec![at(5.0), at(1.0), at(1.0), at(3000.0)], 600.0);
        let xs: Vec<f64> = [0.0, 1.0, 2.0, 5.0, 100.0, 3000.0, 9000.0]
            .iter()
            .map(|ms| axis.x(at(*ms)))
            .collect();
        assert!(xs.windows(2).all(|w| w[0] <= w[1]), "{xs:?}");
        assert_eq!(xs[0], 0.0);
        assert_eq!(xs[6], 600.0);
        assert_eq!(axis.start(), Some(at(1.0)));
    }

    #[test]
    fn one_moment_or_none_does_not_divide_by_zero() {
        let one = TimeAxis::new(vec![at(7.0)], 100.0);
        assert_eq!(one.x(at(7.0)), 50.0);
        assert!(one.breaks().is_empty());
        let none = TimeAxis::new(Vec::new(), 100.0);
        assert_eq!(none.x(at(7.0)), 0.0);
        assert!(none.ticks(5).is_empty());
    }
}
