//! Time in trendlog: [`Minute`], [`Hour`] and [`Day`] newtypes counted from the
//! unix epoch in UTC, the query [`Step`], and the half-open [`TimeRange`].
//!
//! An event at unix second `t` belongs to minute `floor(t / 60)`, hour
//! `floor(t / 3600)` and day `floor(t / 86400)`. Times before 1970 are rejected;
//! minutes are stored as `u32`, which reaches past the year 10 000.
//!
//! ```
//! use trendlog::time::{Minute, Step, TimeRange};
//! let m = Minute::from_unix(1_508_167_830).unwrap(); // 2017-10-16T15:30:30Z
//! assert_eq!(m.to_string(), "2017-10-16T15:30:00Z");
//! assert_eq!(m.hour().start_minute().to_unix(), 1_508_166_000);
//! let r = TimeRange::new(1_508_166_000, 1_508_169_600).unwrap();
//! assert!(r.is_aligned(Step::Hour));
//! ```

use std::fmt;

use crate::error::{InvalidInput, Result};

/// Seconds in a minute.
pub const MINUTE_SECS: i64 = 60;
/// Seconds in an hour.
pub const HOUR_SECS: i64 = 3600;
/// Seconds in a day.
pub const DAY_SECS: i64 = 86_400;

/// A UTC minute: minutes since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Minute(pub u32);

/// A UTC hour: hours since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hour(pub u32);

/// A UTC day: days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Day(pub u32);

/// The last minute trendlog stores (in the year 10 136): the last of the
/// last whole day below `u32::MAX` minutes, so that every stored minute,
/// and the hour and day holding it, end inside a [`TimeRange`] (whose end is
/// at most `u32::MAX` minutes after the epoch).
pub const LAST_MINUTE: Minute = Minute(u32::MAX / 1440 * 1440 - 1);

impl Minute {
    /// The minute that holds unix second `secs`; rejects times before 1970 and
    /// past [`LAST_MINUTE`].
    ///
    /// ```
    /// use trendlog::time::Minute;
    /// assert_eq!(Minute::from_unix(119).unwrap(), Minute(1));
    /// assert!(Minute::from_unix(-1).is_err());
    /// ```
    pub fn from_unix(secs: i64) -> Result<Minute> {
        if secs < 0 {
            return Err(InvalidInput::BeforeEpoch { seconds: secs }.into());
        }
        match u32::try_from(secs / MINUTE_SECS) {
            Ok(m) if m <= LAST_MINUTE.0 => Ok(Minute(m)),
            _ => Err(InvalidInput::TimeOutOfRange { seconds: secs }.into()),
        }
    }

    /// The unix second at which this minute starts.
    pub fn to_unix(self) -> i64 {
        i64::from(self.0) * MINUTE_SECS
    }

    /// The hour holding this minute.
    pub fn hour(self) -> Hour {
        Hour(self.0 / 60)
    }

    /// The day holding this minute.
    pub fn day(self) -> Day {
        Day(self.0 / 1440)
    }

    /// The first minute of this minute's hour.
    pub fn floor_hour(self) -> Minute {
        Minute(self.0 - self.0 % 60)
    }
}

impl Hour {
    /// The first minute of this hour.
    pub fn start_minute(self) -> Minute {
        Minute(self.0.saturating_mul(60))
    }

    /// The unix second at which this hour starts.
    pub fn to_unix(self) -> i64 {
        i64::from(self.0) * HOUR_SECS
    }
}

impl Day {
    /// The unix second at which this day starts.
    pub fn to_unix(self) -> i64 {
        i64::from(self.0) * DAY_SECS
    }
}

impl fmt::Display for Minute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rfc3339(self.to_unix()))
    }
}

impl fmt::Display for Hour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rfc3339(self.to_unix()))
    }
}

/// The width of the buckets of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// One-minute buckets.
    Minute,
    /// One-hour buckets.
    Hour,
    /// One-day buckets (UTC days).
    Day,
}

impl Step {
    /// The bucket width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Step::Minute => MINUTE_SECS,
            Step::Hour => HOUR_SECS,
            Step::Day => DAY_SECS,
        }
    }

    /// The bucket width in minutes.
    pub fn minutes(self) -> u32 {
        match self {
            Step::Minute => 1,
            Step::Hour => 60,
            Step::Day => 1440,
        }
    }

    /// Parses `1m`, `1h` or `1d` (also `minute`, `hour`, `day`).
    ///
    /// ```
    /// use trendlog::time::Step;
    /// assert_eq!(Step::parse("1h").unwrap(), Step::Hour);
    /// assert!(Step::parse("5m").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Step> {
        match s.trim() {
            "1m" | "m" | "minute" => Ok(Step::Minute),
            "1h" | "h" | "hour" => Ok(Step::Hour),
            "1d" | "d" | "day" => Ok(Step::Day),
            other => Err(
                InvalidInput::Parse(format!("{other:?} is not a step; use 1m, 1h or 1d")).into(),
            ),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Minute => "1m",
            Step::Hour => "1h",
            Step::Day => "1d",
        })
    }
}

/// A half-open range of time `[from, to)` in unix seconds, `0 <= from <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    from: i64,
    to: i64,
}

impl TimeRange {
    /// The range `[from, to)`; rejects negative times and `to < from`.
    ///
    /// ```
    /// use trendlog::time::TimeRange;
    /// assert!(TimeRange::new(60, 0).is_err());
    /// assert!(TimeRange::new(0, 0).unwrap().is_empty());
    /// ```
    pub fn new(from: i64, to: i64) -> Result<TimeRange> {
        if from < 0 {
            return Err(InvalidInput::BeforeEpoch { seconds: from }.into());
        }
        if to < from {
            return Err(InvalidInput::Query(format!(
                "the range ends ({to}) before it starts ({from})"
            ))
            .into());
        }
        let max = i64::from(u32::MAX) * MINUTE_SECS;
        if to > max {
            return Err(InvalidInput::TimeOutOfRange { seconds: to }.into());
        }
        Ok(TimeRange { from, to })
    }

    /// The range of whole minutes `[from, to)`; `to` before `from` gives the
    /// empty range at `from` (where [`TimeRange::new`] refuses reversed
    /// edges).
    ///
    /// ```
    /// use trendlog::time::{Minute, TimeRange};
    /// assert_eq!(TimeRange::minutes(Minute(2), Minute(5)).to(), 300);
    /// assert!(TimeRange::minutes(Minute(5), Minute(2)).is_empty());
    /// ```
    pub fn minutes(from: Minute, to: Minute) -> TimeRange {
        TimeRange {
            from: from.to_unix(),
            to: to.to_unix().max(from.to_unix()),
        }
    }

    /// Start, unix seconds (inclusive).
    pub fn from(&self) -> i64 {
        self.from
    }

    /// End, unix seconds (exclusive).
    pub fn to(&self) -> i64 {
        self.to
    }

    /// True when the range holds no time.
    pub fn is_empty(&self) -> bool {
        self.from >= self.to
    }

    /// True when both ends fall on bucket boundaries of `step`.
    pub fn is_aligned(&self, step: Step) -> bool {
        self.from % step.seconds() == 0 && self.to % step.seconds() == 0
    }

    /// Length in minutes (rounded up for ranges that are not minute-aligned).
    pub fn len_minutes(&self) -> u64 {
        let secs = u64::try_from(self.to - self.from).unwrap_or(0);
        secs.div_ceil(60)
    }

    /// The minutes this range touches: `[first, end)` where a minute counts when
    /// its start lies in the range. Events are binned by minute, so a range that
    /// starts or ends inside a minute is answered at minute granularity: the
    /// minute counts if its first second lies in `[from, to)`.
    pub fn minute_span(&self) -> (u32, u32) {
        let first = self.from.div_euclid(60) + i64::from(self.from.rem_euclid(60) != 0);
        let end = self.to.div_euclid(60) + i64::from(self.to.rem_euclid(60) != 0);
        (clamp_u32(first), clamp_u32(end.max(first)))
    }
}

fn clamp_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

pub use crate::civil::{civil_from_days, days_from_civil, format_rfc3339};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in [-1000i64, 0, 1, 17_455, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2017, 10, 16), 17_455);
    }

    #[test]
    fn minute_span_rounds_inward_at_start() {
        let r = TimeRange::new(30, 150).unwrap();
        assert_eq!(r.minute_span(), (1, 3));
        let r = TimeRange::new(60, 120).unwrap();
        assert_eq!(r.minute_span(), (1, 2));
    }

    #[test]
    fn rejects_bad_ranges() {
        assert!(TimeRange::new(-1, 5).is_err());
        assert!(TimeRange::new(10, 5).is_err());
        assert!(Minute::from_unix(i64::MAX).is_err());
        // The last minute is inside a range; the one after it is refused.
        let last = LAST_MINUTE.to_unix();
        assert_eq!(Minute::from_unix(last + 59).unwrap(), LAST_MINUTE);
        assert!(Minute::from_unix(last + 60).is_err());
        assert!(TimeRange::new(last, last + 60).is_ok());
        // Its day too.
        let day = (last / DAY_SECS) * DAY_SECS;
        assert!(TimeRange::new(day, day + DAY_SECS).is_ok());
    }
}
