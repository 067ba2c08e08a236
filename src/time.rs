//! Capture timestamps: nanoseconds since the Unix epoch, as read from the file.
//!
//! connscope never looks at the wall clock; every time it prints comes from here, so
//! the same capture always gives the same output. Formatting is RFC 3339 in UTC,
//! written by hand (one civil-from-days conversion) rather than pulling a calendar
//! crate in for a single format.

use std::fmt;

/// A point in capture time, in nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// Seconds plus a fraction counted in `units_per_sec` (10^6 for classic pcap,
    /// 10^9 for nanosecond pcap, anything pcapng's `if_tsresol` says).
    pub fn from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Self {
        let frac_nanos = if units_per_sec == 0 {
            0
        } else {
            (u128::from(frac) * 1_000_000_000u128 / u128::from(units_per_sec)) as i64
        };
        Timestamp(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add(frac_nanos),
        )
    }

    /// Like [`Timestamp::from_parts`], but `None` when the time falls outside what
    /// nanoseconds in an i64 can hold (1677–2262) instead of saturating: a garbage
    /// pcapng timestamp is then told from a real one.
    pub fn checked_from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Option<Self> {
        if units_per_sec == 0 {
            return None;
        }
        let frac_nanos =
            i64::try_from(u128::from(frac) * 1_000_000_000u128 / u128::from(units_per_sec)).ok()?;
        secs.checked_mul(NANOS_PER_SEC)?
            .checked_add(frac_nanos)
            .map(Timestamp)
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds from `earlier` to `self` (negative when `self` is earlier).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.0.saturating_sub(earlier.0)) as f64 / NANOS_PER_SEC as f64
    }

    /// Milliseconds from `earlier` to `self`.
    pub fn millis_since(self, earlier: Timestamp) -> f64 {
        (self.0.saturating_sub(earlier.0)) as f64 / 1_000_000.0
    }

    /// RFC 3339 in UTC with six fractional digits, or nine when the capture carries
    /// sub-microsecond precision: `2011-06-17T19:20:37.123456Z`.
    pub fn rfc3339(self) -> String {
        self.to_string()
    }

    /// `HH:MM:SS.ffffff` of the UTC day, for tables where the date is noise.
    pub fn time_of_day(self) -> String {
        let (_, secs_of_day, nanos) = self.split();
        format!(
            "{:02}:{:02}:{:02}.{:06}",
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60,
            nanos / 1000
        )
    }

    /// (days since epoch, seconds into that day, nanoseconds into that second).
    fn split(self) -> (i64, i64, i64) {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        (secs.div_euclid(86_400), secs.rem_euclid(86_400), nanos)
    }
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day number.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Timestamp {
    /// RFC 3339 into `buf`, without `fmt`'s machinery: a report prints several
    /// timestamps per connection, millions per large capture. `None` for years outside
    /// 0000–9999, which `Display` writes the slow way.
    fn rfc3339_into(self, buf: &mut [u8; 30]) -> Option<&str> {
        let (days, secs_of_day, nanos) = self.split();
        let (year, month, day) = civil_from_days(days);
        let year = u32::try_from(year).ok().filter(|y| *y <= 9999)?;
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, u64::from(year));
        put(5, 2, u64::from(month));
        put(8, 2, u64::from(day));
        put(11, 2, (secs_of_day / 3600) as u64);
        put(14, 2, (secs_of_day / 60 % 60) as u64);
        put(17, 2, (secs_of_day % 60) as u64);
        let end = if nanos % 1000 == 0 {
            put(20, 6, (nanos / 1000) as u64);
            26
        } else {
            put(20, 9, nanos as u64);
            29
        };
        for (at, c) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
        ] {
            buf[at] = c;
        }
        buf[end] = b'Z';
        std::str::from_utf8(&buf[..=end]).ok()
    }
}

impl Timestamp {
    /// Calls `f` with the RFC 3339 text, built on the stack when it can be.
    pub fn with_rfc3339<R>(self, f: impl FnOnce(&str) -> R) -> R {
        let mut buf = [0u8; 30];
        match self.rfc3339_into(&mut buf) {
            Some(text) => f(text),
            None => f(&self.to_string()),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 30];
        if let Some(text) = self.rfc3339_into(&mut buf) {
            return f.write_str(text);
        }
        let (days, secs_of_day, nanos) = self.split();
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60
        )?;
        if nanos % 1000 == 0 {
            write!(f, "{:06}Z", nanos / 1000)
        } else {
            write!(f, "{nanos:09}Z")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_and_a_known_date() {
        assert_eq!(
            Timestamp::from_nanos(0).rfc3339(),
            "1970-01-01T00:00:00.000000Z"
        );
        // 2012-06-29 07:28:25.298858 UTC, the pcapng spec's ISB example.
        let ts = Timestamp::from_parts(1_340_954_905, 298_858, 1_000_000);
        assert_eq!(ts.rfc3339(), "2012-06-29T07:28:25.298858Z");
        assert_eq!(ts.time_of_day(), "07:28:25.298858");
    }

    #[test]
    fn the_fast_path_writes_what_fmt_writes() {
        let slow = |t: Timestamp| {
            let (days, secs_of_day, nanos) = t.split();
            let (year, month, day) = civil_from_days(days);
            let frac = if nanos % 1000 == 0 {
                format!("{:06}", nanos / 1000)
            } else {
                format!("{nanos:09}")
            };
            format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{frac}Z",
                secs_of_day / 3600,
                secs_of_day / 60 % 60,
                secs_of_day % 60
            )
        };
        let mut n: i64 = 1;
        for step in 0..2000i64 {
            n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(step);
            // 1677 to 2262, the range of i64 nanoseconds, both precisions.
            let t = Timestamp::from_nanos(n.rem_euclid(i64::MAX));
            let micro = Timestamp::from_nanos(t.as_nanos() / 1000 * 1000);
            for t in [t, micro, Timestamp::from_nanos(-t.as_nanos())] {
                assert_eq!(t.to_string(), slow(t));
                assert_eq!(t.with_rfc3339(str::to_string), slow(t));
            }
        }
    }

    #[test]
    fn keeps_nanoseconds_when_present() {
        let ts = Timestamp::from_parts(951_782_400, 123_456_789, 1_000_000_000);
        assert_eq!(ts.rfc3339(), "2000-02-29T00:00:00.123456789Z");
    }

    #[test]
    fn garbage_timestamps_are_none_not_2262() {
        assert_eq!(
            Timestamp::checked_from_parts(1, 500, 1000),
            Some(Timestamp::from_nanos(1_500_000_000))
        );
        // 2^62 seconds: far past 2262, where from_parts saturates.
        assert_eq!(Timestamp::checked_from_parts(1 << 62, 0, 1), None);
        assert_eq!(
            Timestamp::checked_from_parts(i64::MAX / 1_000_000_000, 999_999_999, 1_000_000_000),
            None
        );
        assert_eq!(Timestamp::checked_from_parts(5, 0, 0), None);
    }

    #[test]
    fn binary_resolutions_convert() {
        // pcapng if_tsresol with the high bit set: 2^-10 s units.
        let ts = Timestamp::from_parts(1, 512, 1024);
        assert_eq!(ts.as_nanos(), 1_500_000_000);
        assert_eq!(Timestamp::from_nanos(2_000_000_000).secs_since(ts), 0.5);
    }
}
