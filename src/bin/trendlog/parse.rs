//! Text to values for the `trendlog` binary: timestamps, durations and counts
//! on the command line, and the lines `trendlog ingest` reads.
//!
//! - Times: [`parse_timestamp`] (unix seconds, RFC 3339, `YYYY-MM-DD HH:MM:SS`
//!   in UTC, a bare date), [`parse_duration`] (`90s`, `1h30m`, `7d`) and
//!   [`parse_time_spec`] / [`TimeSpec`] (an absolute time or one relative to the
//!   store's now: `now`, `-24h`, `now-1h`).
//! - Counts: [`parse_count`].
//! - Input lines, each giving an [`Event`]: CSV with a [`CsvLayout`]
//!   ([`parse_csv_line`], [`split_csv_line`], [`is_csv_header`]), read by the
//!   `csv` crate; NDJSON ([`parse_ndjson_line`]), read by `serde_json`; and
//!   Twitter Snowflake ids ([`parse_tweet_id_line`], [`tweet_id_to_unix`]).
//!
//! Every function here takes one line or one field, trims surrounding
//! whitespace (including the `\r` of CRLF files and a UTF-8 byte-order mark),
//! never panics on any input, and reports a rejection as
//! [`InvalidInput::Parse`] with a sentence that names the accepted forms, or
//! as the specific [`InvalidInput`] variant (`BeforeEpoch`, `TimeOutOfRange`,
//! `CountOverflow`).
//!
//! The module depends only on trendlog's public API and on `csv`, `serde` and
//! `serde_json`, so the `parse_lines` fuzz target includes this very file.
//!
//! Dates and times are read by hand rather than with a date-time crate: the
//! accepted forms (a space or `T`, lower-case `t`/`z`, a bare date, a leap
//! second read as `:59`, a zone after the space form) and the sentences that
//! name a bad month or day are the CLI's contract, a crate would need a wrapper
//! of the same size to keep both, and the civil-date arithmetic is
//! [`trendlog::time::days_from_civil`], which the engine has anyway.
//!
//! ```ignore
//! assert_eq!(parse_timestamp("2017-10-16T17:30:00+02:00").unwrap(), 1_508_167_800);
//! let layout = CsvLayout::parse("tag,timestamp,count").unwrap();
//! let e = parse_csv_line("AAPL,2015-02-26 21:42:53,104\r", &layout).unwrap();
//! assert_eq!(e, Event { ts: 1_424_986_973, tag: "AAPL".into(), count: 104, labels: vec![] });
//! ```

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{Cursor, SeekFrom};
use std::time::Duration;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use trendlog::time::{days_from_civil, DAY_SECS, HOUR_SECS, LAST_MINUTE, MINUTE_SECS};
use trendlog::{Error, InvalidInput, Result};

/// The last unix second trendlog can store: the final second of
/// [`LAST_MINUTE`] (in the year 10 136). Later times are
/// [`InvalidInput::TimeOutOfRange`].
pub const MAX_UNIX_SECS: i64 = LAST_MINUTE.0 as i64 * MINUTE_SECS + (MINUTE_SECS - 1);

/// Twitter's Snowflake epoch, 2010-11-04T01:42:54.657Z, in unix milliseconds.
pub const TWITTER_EPOCH_MS: u64 = 1_288_834_974_657;

/// The accepted timestamp forms, for error messages.
const TIMESTAMP_FORMS: &str = "use unix seconds (1508167800), RFC 3339 (2017-10-16T15:30:00Z, \
     or with an offset such as +02:00), YYYY-MM-DD HH:MM:SS in UTC, or a date YYYY-MM-DD";

/// The accepted duration forms, for error messages.
const DURATION_FORMS: &str =
    "use a number with a unit s, m, h or d (90s, 15m, 1h, 7d, 1h30m), or whole seconds";

/// One event read from an input line: `count` occurrences of `tag` at unix
/// second `ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unix seconds, already checked to be within `0..=MAX_UNIX_SECS`.
    pub ts: i64,
    /// The tag as written in the input, not yet normalised (see
    /// [`trendlog::tag::normalize`]).
    pub tag: String,
    /// How many occurrences (1 when the input gives no count).
    pub count: u64,
    /// Label `(key, value)` pairs as written (label columns of a CSV line, the
    /// `labels` object of an NDJSON line); empty for unlabelled input.
    pub labels: Vec<(String, String)>,
}

fn parse_error(msg: String) -> Error {
    InvalidInput::Parse(msg).into()
}

/// `s` quoted for an error message, cut to a readable length.
fn show(s: &str) -> String {
    const MAX_CHARS: usize = 60;
    match s.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}...", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// Strips a byte-order mark and surrounding whitespace (which includes `\r`).
fn clean(s: &str) -> &str {
    s.trim_start_matches('\u{feff}').trim()
}

/// Checks that unix seconds are within what trendlog stores.
fn check_range(secs: i64) -> Result<i64> {
    if secs < 0 {
        Err(InvalidInput::BeforeEpoch { seconds: secs }.into())
    } else if secs > MAX_UNIX_SECS {
        Err(InvalidInput::TimeOutOfRange { seconds: secs }.into())
    } else {
        Ok(secs)
    }
}

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

/// Parses a timestamp into unix seconds (UTC), flooring fractions of a second.
///
/// Accepted forms:
/// - unix seconds, optionally with a fraction: `1508167830`, `1508167830.123`;
/// - RFC 3339: `2017-10-16T15:30:00Z`, lower-case `t` and `z`, fractional
///   seconds, offsets `+02:00` and `-05:30`;
/// - `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS` without a zone, meaning UTC
///   (a zone may follow the space form too);
/// - a bare date `YYYY-MM-DD`, meaning midnight UTC.
///
/// Dates are checked (month 1 to 12, the day within its month, leap years);
/// a leap second `:60` counts as `:59`. Years have four digits.
///
/// # Errors
/// [`InvalidInput::BeforeEpoch`] for times before 1970,
/// [`InvalidInput::TimeOutOfRange`] past [`MAX_UNIX_SECS`] (any size of number
/// is handled without overflow), [`InvalidInput::Parse`] for anything else.
///
/// ```ignore
/// use crate::parse::parse_timestamp;
/// assert_eq!(parse_timestamp("2017-10-16T15:30:00Z").unwrap(), 1_508_167_800);
/// assert_eq!(parse_timestamp("2017-10-16 15:30:00").unwrap(), 1_508_167_800);
/// assert_eq!(parse_timestamp("1508167800.9").unwrap(), 1_508_167_800);
/// assert!(parse_timestamp("2017-02-29").is_err());
/// assert!(parse_timestamp("1969-12-31T23:59:59Z").is_err());
/// ```
pub fn parse_timestamp(s: &str) -> Result<i64> {
    let t = clean(s);
    if t.is_empty() {
        return Err(parse_error(format!(
            "the timestamp is empty; {TIMESTAMP_FORMS}"
        )));
    }
    let b = t.as_bytes();
    if b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        parse_datetime(t)
    } else {
        parse_unix_seconds(t)
    }
}

fn not_a_timestamp(t: &str) -> Error {
    parse_error(format!("{} is not a timestamp; {TIMESTAMP_FORMS}", show(t)))
}

/// `-?digits(.digits)?`, floored to whole seconds.
fn parse_unix_seconds(t: &str) -> Result<i64> {
    let (negative, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(not_a_timestamp(t));
    }
    let Some(mut v) = decimal(int).and_then(|v| i64::try_from(v).ok()) else {
        return Err(beyond_64_bits(t, negative));
    };
    if negative {
        // v <= i64::MAX, so -v cannot overflow; flooring a negative fraction
        // goes one second further down.
        v = -v;
        if frac.is_some_and(|f| f.bytes().any(|b| b != b'0')) {
            v = v.saturating_sub(1);
        }
    } else if v > MAX_UNIX_SECS && v / 1000 <= MAX_UNIX_SECS {
        // Too late as seconds, in range as milliseconds: the usual mistake.
        return Err(parse_error(format!(
            "time {} is past the last minute trendlog can store; timestamps are unix \
             seconds: if it is in milliseconds, divide it by 1000",
            show(t)
        )));
    }
    check_range(v)
}

/// A number of seconds too large for 64 bits, named as the user wrote it
/// (the typed range errors would have to echo a saturated value instead).
fn beyond_64_bits(t: &str, negative: bool) -> Error {
    let side = if negative {
        "is before 1970-01-01T00:00:00Z"
    } else {
        "is past the last minute trendlog can store"
    };
    parse_error(format!("time {} {side}", show(t)))
}

/// A JSON number as a timestamp: like [`parse_unix_seconds`], plus exponents.
fn json_number_to_timestamp(lit: &str) -> Result<i64> {
    if !lit.bytes().any(|b| b == b'e' || b == b'E') {
        return parse_unix_seconds(lit);
    }
    let v: f64 = lit.parse().map_err(|_| not_a_timestamp(lit))?;
    let floored = v.floor();
    if !floored.is_finite() {
        return Err(not_a_timestamp(lit));
    }
    if floored.abs() >= 9.223_372_036_854_776e18 {
        return Err(beyond_64_bits(lit, floored < 0.0));
    }
    if floored < 0.0 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a float-to-int cast saturates; the value is only reported"
        )]
        let seconds = floored as i64;
        return Err(InvalidInput::BeforeEpoch { seconds }.into());
    }
    if floored > MAX_UNIX_SECS as f64 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a float-to-int cast saturates; the value is only reported"
        )]
        let seconds = floored as i64;
        return Err(InvalidInput::TimeOutOfRange { seconds }.into());
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "0 <= floored <= MAX_UNIX_SECS < 2^53, so the value is an exact integer in range"
    )]
    let secs = floored as i64;
    check_range(secs)
}

/// A cursor over the ASCII bytes of a date-time.
struct DateCursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl DateCursor<'_> {
    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let end = self.i.checked_add(n)?;
        let chunk = self.b.get(self.i..end)?;
        let mut v = 0u32;
        for &d in chunk {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
        }
        self.i = end;
        Some(v)
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.i += 1)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }
}

fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap_year(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DD`, then optionally `[Tt ]HH:MM:SS(.fff)?` and a zone.
fn parse_datetime(t: &str) -> Result<i64> {
    let bad = || not_a_timestamp(t);
    let mut c = DateCursor {
        b: t.as_bytes(),
        i: 0,
    };
    let year = i64::from(c.digits(4).ok_or_else(bad)?);
    c.byte(b'-').ok_or_else(bad)?;
    let month = c.digits(2).ok_or_else(bad)?;
    c.byte(b'-').ok_or_else(bad)?;
    let day = c.digits(2).ok_or_else(bad)?;
    if !(1..=12).contains(&month) {
        return Err(parse_error(format!(
            "{}: month {month} is not between 1 and 12",
            show(t)
        )));
    }
    let month_days = days_in_month(year, month);
    if day < 1 || day > month_days {
        return Err(parse_error(format!(
            "{}: {year:04}-{month:02} has no day {day} (it has {month_days} days)",
            show(t)
        )));
    }
    let date_secs = days_from_civil(year, month, day) * DAY_SECS;
    if c.at_end() {
        return check_range(date_secs);
    }
    match c.peek() {
        Some(b'T' | b't' | b' ') => c.i += 1,
        _ => return Err(bad()),
    }
    let hour = c.digits(2).ok_or_else(bad)?;
    c.byte(b':').ok_or_else(bad)?;
    let minute = c.digits(2).ok_or_else(bad)?;
    c.byte(b':').ok_or_else(bad)?;
    let second = c.digits(2).ok_or_else(bad)?;
    if hour > 23 || minute > 59 || second > 60 {
        return Err(parse_error(format!(
            "{}: {hour:02}:{minute:02}:{second:02} is not a time of day \
             (hours 0-23, minutes 0-59, seconds 0-60)",
            show(t)
        )));
    }
    // A leap second is stored as the last second of its minute.
    let second = second.min(59);
    if c.byte(b'.').is_some() {
        let start = c.i;
        while c.peek().is_some_and(|b| b.is_ascii_digit()) {
            c.i += 1;
        }
        if c.i == start {
            return Err(bad());
        }
        // Fractions are floored away.
    }
    let offset_secs: i64 = match c.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2).ok_or_else(bad)?;
            c.byte(b':').ok_or_else(bad)?;
            let om = c.digits(2).ok_or_else(bad)?;
            if oh > 23 || om > 59 {
                return Err(parse_error(format!(
                    "{}: the offset {oh:02}:{om:02} is out of range (at most 23:59)",
                    show(t)
                )));
            }
            let off = i64::from(oh) * HOUR_SECS + i64::from(om) * MINUTE_SECS;
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        Some(_) => return Err(bad()),
    };
    if !c.at_end() {
        return Err(bad());
    }
    let local = date_secs
        + i64::from(hour) * HOUR_SECS
        + i64::from(minute) * MINUTE_SECS
        + i64::from(second);
    check_range(local - offset_secs)
}

// ---------------------------------------------------------------------------
// Durations and relative times
// ---------------------------------------------------------------------------

/// Parses a duration: a number with a unit `s`, `m`, `h` or `d` (`90s`, `15m`,
/// `1h`, `7d`), several of them in a row (`1h30m`, `1d12h`), or a bare whole
/// number of seconds.
///
/// # Errors
/// [`InvalidInput::Parse`] for an empty, negative, fractional or overflowing
/// duration, or an unknown unit.
///
/// ```ignore
/// use std::time::Duration;
/// use crate::parse::parse_duration;
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
/// assert!(parse_duration("-1h").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = clean(s);
    if t.is_empty() {
        return Err(parse_error(format!(
            "the duration is empty; {DURATION_FORMS}"
        )));
    }
    if t.starts_with('-') {
        return Err(parse_error(format!(
            "{} is negative; durations are lengths of time, {DURATION_FORMS}",
            show(t)
        )));
    }
    let bad = || parse_error(format!("{} is not a duration; {DURATION_FORMS}", show(t)));
    let too_long = || parse_error(format!("the duration {} is too long", show(t)));
    let b = t.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while b.get(i).is_some_and(|b| b.is_ascii_digit()) {
            i += 1;
        }
        let n = decimal(&t[start..i]).ok_or_else(too_long)?;
        if i == start {
            return Err(bad());
        }
        let unit: u64 = match b.get(i) {
            // A bare number: only as the whole text.
            None if start == 0 => 1,
            Some(b's') => 1,
            Some(b'm') => 60,
            Some(b'h') => 3600,
            Some(b'd') => 86_400,
            _ => return Err(bad()),
        };
        i += 1;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(too_long)?;
    }
    Ok(Duration::from_secs(total))
}

/// A time given on a command line: absolute, or relative to the store's now
/// (the newest minute it has seen, not the wall clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// Unix seconds.
    Absolute(i64),
    /// Signed seconds added to the store's now (`-24h` is `-86400`).
    RelativeToNow(i64),
}

impl TimeSpec {
    /// Unix seconds for this time, given the store's now in unix seconds.
    ///
    /// # Errors
    /// [`InvalidInput::BeforeEpoch`] or [`InvalidInput::TimeOutOfRange`] when
    /// the result is outside what trendlog stores.
    ///
    /// ```ignore
    /// use crate::parse::TimeSpec;
    /// assert_eq!(TimeSpec::RelativeToNow(-3600).resolve(7200).unwrap(), 3600);
    /// assert!(TimeSpec::RelativeToNow(-3600).resolve(60).is_err());
    /// ```
    pub fn resolve(self, now_secs: i64) -> Result<i64> {
        match self {
            TimeSpec::Absolute(secs) => check_range(secs),
            TimeSpec::RelativeToNow(delta) => match now_secs.checked_add(delta) {
                Some(secs) => check_range(secs),
                None if delta < 0 => Err(InvalidInput::BeforeEpoch { seconds: i64::MIN }.into()),
                None => Err(InvalidInput::TimeOutOfRange { seconds: i64::MAX }.into()),
            },
        }
    }
}

/// Whether `s` is a time relative to the store's now (`now`, `-24h`,
/// `now-90m`) rather than an absolute one.
pub fn is_relative_time(s: &str) -> bool {
    matches!(parse_time_spec(s), Ok(TimeSpec::RelativeToNow(_)))
}

/// Parses a command-line time: any [`parse_timestamp`] form, or a time
/// relative to the store's now: `now`, `now-1h`, `now+15m`, or a signed
/// duration `-24h`, `+1h`, `-90` (a leading sign always means relative).
///
/// # Errors
/// As [`parse_timestamp`] and [`parse_duration`].
///
/// ```ignore
/// use crate::parse::{parse_time_spec, TimeSpec};
/// assert_eq!(parse_time_spec("-24h").unwrap(), TimeSpec::RelativeToNow(-86_400));
/// assert_eq!(parse_time_spec("now").unwrap(), TimeSpec::RelativeToNow(0));
/// assert_eq!(parse_time_spec("1970-01-02").unwrap(), TimeSpec::Absolute(86_400));
/// ```
pub fn parse_time_spec(s: &str) -> Result<TimeSpec> {
    let t = clean(s);
    let relative = match t.get(..3) {
        Some(head) if head.eq_ignore_ascii_case("now") => {
            let rest = t[3..].trim_start();
            if rest.is_empty() {
                return Ok(TimeSpec::RelativeToNow(0));
            }
            if !rest.starts_with(['+', '-']) {
                return Err(parse_error(format!(
                    "{} is not a time; after `now` write + or - and a duration, as in now-1h",
                    show(t)
                )));
            }
            rest
        }
        _ if t.starts_with(['+', '-']) => t,
        _ => return parse_timestamp(t).map(TimeSpec::Absolute),
    };
    let negative = relative.starts_with('-');
    let amount = relative[1..].trim_start();
    if amount.starts_with(['+', '-']) {
        return Err(parse_error(format!(
            "{} is not a time; write one sign and a duration, as in -24h",
            show(t)
        )));
    }
    let secs = parse_duration(amount)?.as_secs();
    let secs = i64::try_from(secs)
        .map_err(|_| parse_error(format!("the relative time {} is too far away", show(t))))?;
    Ok(TimeSpec::RelativeToNow(if negative { -secs } else { secs }))
}

// ---------------------------------------------------------------------------
// Counts
// ---------------------------------------------------------------------------

/// Parses a count: decimal digits only (no sign, no fraction).
///
/// # Errors
/// [`InvalidInput::Parse`] for an empty or non-numeric text,
/// [`InvalidInput::CountOverflow`] above `u64::MAX`.
///
/// ```ignore
/// use crate::parse::parse_count;
/// assert_eq!(parse_count(" 104\r").unwrap(), 104);
/// assert!(parse_count("-1").is_err());
/// assert!(parse_count("18446744073709551616").is_err());
/// ```
pub fn parse_count(s: &str) -> Result<u64> {
    let t = clean(s);
    if t.is_empty() {
        return Err(parse_error(
            "the count is empty; use a whole number such as 1".to_string(),
        ));
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(parse_error(format!(
            "{} is not a count; use a whole number of 0 or more, digits only",
            show(t)
        )));
    }
    let v = decimal(t).ok_or(InvalidInput::CountOverflow)?;
    Ok(v)
}

/// The value of `digits`, which the caller has checked are all ASCII digits;
/// `None` when it does not fit in a `u64` (0 for an empty string).
fn decimal(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |v, d| {
        v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

/// Which CSV column holds the timestamp, the tag and (optionally) the count.
///
/// Built from a column list such as `tag,timestamp,count` by
/// [`CsvLayout::parse`]; the default is `timestamp,tag,count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLayout {
    ts: usize,
    tag: usize,
    count: Option<usize>,
    columns: usize,
    /// Label columns: `(label key, column)`.
    labels: Vec<(String, usize)>,
    /// Names that are no role and no label key (ignored columns; `_`, the
    /// silent "ignore", is not listed).
    ignored: Vec<String>,
}

impl Default for CsvLayout {
    /// `timestamp,tag,count`.
    fn default() -> CsvLayout {
        CsvLayout {
            ts: 0,
            tag: 1,
            count: Some(2),
            columns: 3,
            labels: Vec::new(),
            ignored: Vec::new(),
        }
    }
}

/// The role a CSV column name (lowercase, unquoted) gives its column:
/// `timestamp`, `tag` or `count`, by any of their names; `None` for any
/// other name.
pub fn column_role(name: &str) -> Option<&'static str> {
    match name {
        "timestamp" | "ts" | "time" | "created_at" | "created_at_utc" => Some("timestamp"),
        "tag" | "ticker" | "hashtag" => Some("tag"),
        "count" | "value" | "n" => Some("count"),
        _ => None,
    }
}

impl CsvLayout {
    /// Parses a comma-separated list of column names (case-insensitive):
    /// - `timestamp`, `ts`, `time`, `created_at` or `created_at_utc`: the timestamp;
    /// - `tag`, `ticker` or `hashtag`: the tag;
    /// - `count`, `value` or `n`: the count (optional; without it every line
    ///   counts 1);
    /// - any other name (`tweet_id`, `id`, `_`, ...): a column that is ignored.
    ///
    /// # Errors
    /// [`InvalidInput::Parse`] when the timestamp or the tag column is missing,
    /// a role is named twice, or a name is empty.
    ///
    /// ```ignore
    /// use crate::parse::CsvLayout;
    /// let l = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
    /// assert_eq!((l.timestamp_column(), l.tag_column(), l.count_column()), (0, 2, None));
    /// assert!(CsvLayout::parse("tag,count").is_err());
    /// ```
    #[cfg_attr(
        not(test),
        allow(
            dead_code,
            reason = "the binary parses with labels; tests and fuzz use this"
        )
    )]
    pub fn parse(spec: &str) -> Result<CsvLayout> {
        CsvLayout::parse_with_labels(spec, &[])
    }

    /// As [`CsvLayout::parse`], and a column named `label:KEY`, or named as
    /// one of `label_keys` (`--labels platform,region`), holds that label.
    pub fn parse_with_labels(spec: &str, label_keys: &[String]) -> Result<CsvLayout> {
        let usage = "name the columns in order, as in timestamp,tag,count \
                     (timestamp|ts|time|created_at, tag|ticker|hashtag, count|value|n; \
                     other names are ignored columns)";
        let mut ts = None;
        let mut tag = None;
        let mut count = None;
        let mut columns = 0;
        let mut labels: Vec<(String, usize)> = Vec::new();
        let mut ignored = Vec::new();
        for (i, raw) in clean(spec).split(',').enumerate() {
            columns = i + 1;
            // A header's names may be quoted ("ticker","timestamp","value").
            let name = raw.trim().trim_matches('"').trim().to_ascii_lowercase();
            let role = column_role(&name);
            let explicit = |name: &str| {
                clean(spec).split(',').any(|c| {
                    c.trim()
                        .to_ascii_lowercase()
                        .strip_prefix("label:")
                        .is_some_and(|k| k == name)
                })
            };
            if role.is_some() && explicit(&name) {
                // A label:KEY column holds the label: the bare name is the role.
            } else if let (Some(role), true) = (role, label_keys.contains(&name)) {
                // Read as the label, the column would leave the events
                // without their counts (each counted 1) or refuse the file
                // for want of a timestamp or tag column.
                return Err(parse_error(format!(
                    "column {} of {} is named {name:?}, the name of the {role} column, and \
                     --labels names the key {name:?}: name that label's column label:{name}",
                    i + 1,
                    show(spec)
                )));
            }
            let label = name.strip_prefix("label:").or_else(|| {
                (role.is_none() && label_keys.contains(&name)).then_some(name.as_str())
            });
            if let Some(key) = label {
                if labels.iter().any(|(k, _)| k == key) {
                    return Err(parse_error(format!(
                        "{} names the label {key:?} twice",
                        show(spec)
                    )));
                }
                labels.push((key.to_string(), i));
                continue;
            }
            let slot = match name.as_str() {
                "" => {
                    return Err(parse_error(format!(
                        "column {} of {} has no name; {usage} (use _ for a column to ignore)",
                        i + 1,
                        show(spec)
                    )))
                }
                _ if role == Some("timestamp") => &mut ts,
                _ if role == Some("tag") => &mut tag,
                _ if role == Some("count") => &mut count,
                "_" => continue,
                _ => {
                    ignored.push(name);
                    continue;
                }
            };
            if slot.is_some() {
                // Name the role: `time,hashtag,ticker` names the tag twice.
                return Err(parse_error(format!(
                    "{} names the {:?} role twice (column {} is {name:?}); {usage}",
                    show(spec),
                    role.unwrap_or_default(),
                    i + 1
                )));
            }
            *slot = Some(i);
        }
        match (ts, tag) {
            (Some(ts), Some(tag)) => Ok(CsvLayout {
                ts,
                tag,
                count,
                columns,
                labels,
                ignored,
            }),
            _ => Err(parse_error(format!(
                "{} needs a timestamp and a tag column; {usage}",
                show(spec)
            ))),
        }
    }

    /// The names of the columns read and dropped: no role and no label key
    /// (`_` is dropped silently and not listed).
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// Whether the layout has a count column (without one, every line
    /// counts 1).
    pub fn has_count(&self) -> bool {
        self.count.is_some()
    }

    /// The label keys of the label columns, in column order.
    pub fn label_keys(&self) -> Vec<&str> {
        self.labels.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The fewest fields a line may have: up to the timestamp and tag columns
    /// (a missing trailing count counts 1).
    pub fn required_fields(&self) -> usize {
        self.ts.max(self.tag) + 1
    }

    /// Where the layout reads each role, for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "timestamp in column {}, tag in column {}",
            self.ts + 1,
            self.tag + 1
        );
        if let Some(c) = self.count {
            let _ = write!(s, ", count in column {}", c + 1);
        }
        s
    }
}

/// What a layout says, for its tests and the fuzz target (the binary reads
/// lines through [`parse_csv_line`]).
#[cfg_attr(
    not(test),
    allow(dead_code, reason = "read by the tests and the fuzz target only")
)]
impl CsvLayout {
    /// Zero-based index of the timestamp column.
    pub fn timestamp_column(&self) -> usize {
        self.ts
    }

    /// Zero-based index of the tag column.
    pub fn tag_column(&self) -> usize {
        self.tag
    }

    /// Zero-based index of the count column, if there is one.
    pub fn count_column(&self) -> Option<usize> {
        self.count
    }

    /// How many columns the layout names; a line may have no more fields.
    pub fn columns(&self) -> usize {
        self.columns
    }
}

thread_local! {
    /// One CSV reader per thread, rewound for every line: building a reader
    /// compiles its state machine, which costs more than reading a line.
    static LINE_READER: RefCell<csv::Reader<Cursor<Vec<u8>>>> = RefCell::new(
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Cursor::new(Vec::new())),
    );
}

/// Splits one CSV line into fields with the `csv` crate (RFC 4180 quoting):
/// a field that starts with `"` runs to the matching `"` and may hold commas,
/// with `""` standing for one quote. Other fields are taken as they are
/// (spaces kept; a `"` inside an unquoted field is an ordinary character). A
/// trailing `\r`/`\n` and a leading byte-order mark are removed. An empty line
/// is one empty field.
///
/// One line is one record, so that every rejection names its line: a quoted
/// field cannot span lines. Where RFC 4180 is silent the `csv` crate is
/// lenient: text after a closing quote joins the field (`"a"b` is `ab`).
///
/// # Errors
/// [`InvalidInput::Parse`] for a quote that is never closed (which is what a
/// field that spans lines looks like, line by line) or a line that holds a
/// line break, so more than one record.
///
/// ```ignore
/// let f = split_csv_line(r##"1,"a,b","say ""hi""","""##).unwrap();
/// assert_eq!(f, ["1", "a,b", r#"say "hi""#, ""]);
/// assert!(split_csv_line(r#"1,"open"#).is_err());
/// ```
pub fn split_csv_line(line: &str) -> Result<Vec<String>> {
    /// A record read after the line: it comes back on its own only if every
    /// quote of the line was closed (an open quote swallows it).
    const SENTINEL: &str = "\nend";
    let line = line
        .trim_start_matches('\u{feff}')
        .trim_end_matches(['\r', '\n']);
    if line.is_empty() {
        return Ok(vec![String::new()]);
    }
    let not_csv = |e: csv::Error| parse_error(format!("the line is not CSV: {e}"));
    let (mut record, mut next) = (csv::StringRecord::new(), csv::StringRecord::new());
    let read = LINE_READER.with_borrow_mut(|reader| -> Result<bool> {
        let text = reader.get_mut().get_mut();
        text.clear();
        text.extend_from_slice(line.as_bytes());
        text.extend_from_slice(SENTINEL.as_bytes());
        reader
            .seek_raw(SeekFrom::Start(0), csv::Position::new())
            .map_err(not_csv)?;
        Ok(reader.read_record(&mut record).map_err(not_csv)?
            && reader.read_record(&mut next).map_err(not_csv)?)
    })?;
    if !read {
        return Err(parse_error(
            "a quoted field is never closed; a field that opens with \" must end with \" \
             on the same line (write \"\" for a quote inside it)"
                .to_string(),
        ));
    }
    if next.len() != 1 || next.get(0) != Some(&SENTINEL[1..]) {
        return Err(parse_error(
            "the line holds a line break, so more than one CSV record; \
             write one event per line"
                .to_string(),
        ));
    }
    Ok(record.iter().map(str::to_owned).collect())
}

/// Parses one CSV line into an [`Event`] by `layout`. The count is 1 when the
/// layout has no count column or the line's count field is missing or empty.
/// The tag is taken as written (spaces included, which [`trendlog::tag::normalize`]
/// later rejects).
///
/// # Errors
/// [`InvalidInput::Parse`] for an empty line, too few fields (the message names
/// how many were expected), more fields than the layout names, or a field that
/// does not parse; the errors of [`parse_timestamp`] and [`parse_count`].
///
/// ```ignore
/// let e = parse_csv_line("2017-10-16T15:30:00Z,#MeToo", &CsvLayout::default()).unwrap();
/// assert_eq!((e.ts, e.tag.as_str(), e.count), (1_508_167_800, "#MeToo", 1));
/// assert!(parse_csv_line("1508167800", &CsvLayout::default()).is_err());
/// ```
pub fn parse_csv_line(line: &str, layout: &CsvLayout) -> Result<Event> {
    let mut fields = split_csv_line(line)?;
    let n = fields.len();
    if n == 1 && fields[0].trim().is_empty() {
        return Err(parse_error("the line is empty".to_string()));
    }
    let need = layout.required_fields();
    if n < need {
        return Err(parse_error(format!(
            "the line has {n} field{}; at least {need} expected ({}){}",
            if n == 1 { "" } else { "s" },
            layout.describe(),
            if line.contains('\t') {
                "; fields are separated by commas, and this line holds tabs (convert TSV with \
                 `tr '\\t' ,`)"
            } else {
                ""
            }
        )));
    }
    if n > layout.columns {
        return Err(parse_error(format!(
            "the line has {n} fields but the layout names only {} columns ({}); \
             quote fields that hold commas",
            layout.columns,
            layout.describe()
        )));
    }
    let ts = parse_timestamp(&fields[layout.ts])?;
    let count = match layout.count.and_then(|c| fields.get(c)) {
        Some(f) if !f.trim().is_empty() => parse_count(f)?,
        _ => 1,
    };
    let labels = layout
        .labels
        .iter()
        .map(|(k, c)| {
            let v = fields.get(*c).map_or("", |f| f.trim());
            (k.clone(), v.to_string())
        })
        .collect();
    let tag = std::mem::take(&mut fields[layout.tag]);
    Ok(Event {
        ts,
        tag,
        count,
        labels,
    })
}

/// True when `line` is a header naming the columns rather than an event: its
/// timestamp field is not a timestamp but looks like a column name (a letter or
/// `_` first, then letters, digits, `_`, `-` or spaces), and none of the
/// layout's timestamp, tag and count fields reads as a time or a number. A
/// bad data line such as `2017-13-01,...`, or one whose columns are in
/// another order (`b,1508167860,2`), is not a header, so its error still
/// gets reported; other columns may have any name (`2019`).
///
/// ```ignore
/// use crate::parse::{is_csv_header, CsvLayout};
/// let l = CsvLayout::parse("tag,timestamp,count").unwrap();
/// assert!(is_csv_header("ticker,timestamp,value", &l));
/// assert!(!is_csv_header("AAPL,2015-02-26 21:42:53,104", &l));
/// ```
pub fn is_csv_header(line: &str, layout: &CsvLayout) -> bool {
    let Ok(fields) = split_csv_line(line) else {
        return false;
    };
    let Some(field) = fields.get(layout.ts) else {
        return false;
    };
    let name = field.trim();
    let mut chars = name.chars();
    let looks_like_name = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '));
    // A header names columns: a line with a time in any field is data
    // (columns in another order, or a file's second part without its
    // header), rejected as such rather than skipped without a count.
    let roles = [Some(layout.ts), Some(layout.tag), layout.count];
    looks_like_name
        && !roles
            .into_iter()
            .flatten()
            .filter_map(|i| fields.get(i))
            .any(|f| parse_timestamp(f.trim()).is_ok())
}

// ---------------------------------------------------------------------------
// NDJSON
// ---------------------------------------------------------------------------

/// The known keys of one NDJSON object, each as its raw JSON text; every other
/// key's value is checked for syntax by `serde_json` and skipped.
#[derive(Default)]
struct NdjsonFields<'a> {
    ts: Option<&'a RawValue>,
    tag: Option<&'a RawValue>,
    count: Option<&'a RawValue>,
    labels: Option<&'a RawValue>,
    /// The first role given more than once, reported after the object is read.
    repeated: Option<&'static str>,
    /// Every other key, in order (their values are skipped).
    others: Vec<String>,
}

impl<'de> Deserialize<'de> for NdjsonFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = NdjsonFields<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = NdjsonFields::default();
                while let Some(key) = map.next_key::<String>()? {
                    let (slot, role) = match key.as_str() {
                        "ts" | "timestamp" | "time" => {
                            (&mut out.ts, "timestamp (ts, timestamp, time)")
                        }
                        "tag" | "hashtag" => (&mut out.tag, "tag (tag, hashtag)"),
                        "count" | "value" | "n" => (&mut out.count, "count (count, value, n)"),
                        "labels" => (&mut out.labels, "labels"),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            out.others.push(key);
                            continue;
                        }
                    };
                    let value = map.next_value::<&'de RawValue>()?;
                    if slot.is_some() {
                        out.repeated.get_or_insert(role);
                    } else {
                        *slot = Some(value);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Fields)
    }
}

/// When an ignored key is one of `names` in another case (`"Tag"`), a
/// sentence saying so for the error about the missing key; else nothing.
fn miscased(others: &[String], names: &[&str]) -> String {
    others
        .iter()
        .find(|k| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|k| format!(" ({k:?} is not read: keys are case-sensitive)"))
        .unwrap_or_default()
}

/// A JSON value as far as [`parse_ndjson_line`] needs to know it.
enum JsonValue<'a> {
    Str(String),
    /// The number's text, already checked against the JSON grammar.
    Num(&'a str),
    Bool,
    Null,
    /// An object or array.
    Nested,
}

impl<'a> JsonValue<'a> {
    /// Classifies a value `serde_json` has already checked, by its first byte.
    fn of(raw: &'a RawValue) -> Result<JsonValue<'a>> {
        let text = raw.get();
        Ok(match text.as_bytes().first() {
            Some(b'"') => JsonValue::Str(serde_json::from_str(text).map_err(json_error)?),
            Some(b't' | b'f') => JsonValue::Bool,
            Some(b'n') => JsonValue::Null,
            Some(b'{' | b'[') => JsonValue::Nested,
            _ => JsonValue::Num(text),
        })
    }

    fn kind(&self) -> &'static str {
        match self {
            JsonValue::Str(_) => "a string",
            JsonValue::Num(_) => "a number",
            JsonValue::Bool => "true or false",
            JsonValue::Null => "null",
            JsonValue::Nested => "an object or array",
        }
    }
}

/// A `serde_json` error as a rejection that names the byte where the JSON
/// went wrong (the line is always line 1).
fn json_error(e: serde_json::Error) -> Error {
    let text = e.to_string();
    let what = text
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&text);
    let what = if what.starts_with("trailing characters") {
        "text after the closing }; write one object per line"
    } else {
        what
    };
    parse_error(format!("invalid JSON at byte {}: {what}", e.column()))
}

/// Parses one NDJSON line: a flat object such as
/// `{"ts": 1508167800, "tag": "#MeToo", "count": 3}`, read by `serde_json`.
///
/// - The time is under `ts`, `timestamp` or `time` (exactly one of them): a
///   number of unix seconds (fractions floored, exponents allowed) or a string
///   in any [`parse_timestamp`] form.
/// - The tag is under `tag` (or `hashtag`), a string.
/// - The count is under `count` (or `value`, `n`): a whole number, a string of
///   digits, or `null`; 1 when absent.
/// - Other keys are ignored whatever their value; objects and arrays under them
///   are checked for syntax and skipped.
///
/// The reader is strict JSON: string escapes including `\uXXXX` and surrogate
/// pairs, no trailing commas, no comments, nothing after the closing brace,
/// no key given twice (for the known keys).
///
/// # Errors
/// [`InvalidInput::Parse`] naming the byte where the JSON went wrong or the key
/// that is missing or has the wrong type, and the errors of [`parse_timestamp`]
/// and [`parse_count`].
///
/// ```ignore
/// let e = parse_ndjson_line(r#"{"ts":"2017-10-16T15:30:00Z","tag":"caf\u00e9"}"#).unwrap();
/// assert_eq!((e.ts, e.tag.as_str(), e.count), (1_508_167_800, "café", 1));
/// assert!(parse_ndjson_line(r#"{"tag":"metoo"}"#).is_err());
/// ```
pub fn parse_ndjson_line(line: &str) -> Result<Event> {
    parse_ndjson_line_keys(line).map(|(e, _, _)| e)
}

/// [`parse_ndjson_line`], with the object's other top-level keys (the ones
/// it ignores), in order, and whether it gave the count under one of its
/// names (when not, the count is 1).
pub fn parse_ndjson_line_keys(line: &str) -> Result<(Event, Vec<String>, bool)> {
    let t = clean(line);
    if t.is_empty() {
        return Err(parse_error("the line is empty".to_string()));
    }
    if !t.starts_with('{') {
        return Err(parse_error(
            "invalid JSON at byte 1: a line must hold one JSON object, starting with {".to_string(),
        ));
    }
    let fields: NdjsonFields<'_> = serde_json::from_str(t).map_err(json_error)?;
    if let Some(role) = fields.repeated {
        return Err(parse_error(format!(
            "the object gives the {role} more than once"
        )));
    }
    let ts = match fields.ts.map(JsonValue::of).transpose()? {
        Some(JsonValue::Num(lit)) => json_number_to_timestamp(lit)?,
        Some(JsonValue::Str(s)) => parse_timestamp(&s)?,
        Some(other) => {
            return Err(parse_error(format!(
                "the timestamp is {}; use a number of unix seconds or a timestamp string",
                other.kind()
            )))
        }
        None => {
            return Err(parse_error(format!(
                "the object has no timestamp; add a \"ts\" key (or \"timestamp\", \"time\"){}",
                miscased(&fields.others, &["ts", "timestamp", "time"])
            )))
        }
    };
    let tag = match fields.tag.map(JsonValue::of).transpose()? {
        Some(JsonValue::Str(s)) => s,
        Some(other) => {
            return Err(parse_error(format!(
                "the tag is {}; it must be a string",
                other.kind()
            )))
        }
        None => {
            return Err(parse_error(format!(
                "the object has no tag; add a \"tag\" key with a string{}",
                miscased(&fields.others, &["tag", "hashtag"])
            )))
        }
    };
    let count_given = fields.count.is_some();
    let count = match fields.count.map(JsonValue::of).transpose()? {
        None | Some(JsonValue::Null) => 1,
        Some(JsonValue::Num(lit)) if lit.starts_with('-') => {
            return Err(parse_error(format!(
                "the count {lit} is negative; counts are whole numbers of 0 or more"
            )))
        }
        Some(JsonValue::Num(lit)) => parse_count(lit)?,
        Some(JsonValue::Str(s)) => parse_count(&s)?,
        Some(other) => {
            return Err(parse_error(format!(
                "the count is {}; it must be a whole number",
                other.kind()
            )))
        }
    };
    let labels = match fields.labels {
        // null is no labels object, as a missing "labels" is: every value
        // unknown (what an exporter writing null for "none" means).
        None => Vec::new(),
        Some(raw) if raw.get().trim() == "null" => Vec::new(),
        Some(raw) if raw.get().starts_with('{') => {
            let map = serde_json::from_str::<LabelPairs>(raw.get())
                .map_err(json_error)?
                .0;
            let mut out: Vec<(String, String)> = Vec::with_capacity(map.len());
            for (k, v) in map {
                if out.iter().any(|(seen, _)| *seen == k) {
                    return Err(parse_error(format!(
                        "the label {k:?} is given twice in \"labels\""
                    )));
                }
                match v {
                    serde_json::Value::String(s) => out.push((k, s)),
                    serde_json::Value::Null => out.push((k, String::new())),
                    _ => {
                        return Err(parse_error(format!(
                            "the label {k:?} is not a string; label values are strings (\"\" or null: unknown)"
                        )))
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(parse_error(
                "\"labels\" must be an object of strings (a value \"\" or null: unknown), as in \
                 {\"platform\": \"instagram\"}, or null (no labels)"
                    .to_string(),
            ))
        }
    };
    let event = Event {
        ts,
        tag,
        count,
        labels,
    };
    Ok((event, fields.others, count_given))
}

/// A `labels` object's members in order, repeats kept (a JSON map would
/// keep only the last of a repeated key).
struct LabelPairs(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for LabelPairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = LabelPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of label values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<LabelPairs, A::Error> {
                let mut out = Vec::new();
                while let Some(pair) = m.next_entry::<String, serde_json::Value>()? {
                    out.push(pair);
                }
                Ok(LabelPairs(out))
            }
        }
        d.deserialize_map(Pairs)
    }
}

// ---------------------------------------------------------------------------
// Tweet ids
// ---------------------------------------------------------------------------

/// The creation time, in unix seconds, held in a Twitter Snowflake id:
/// `((id >> 22) + 1288834974657) / 1000`.
///
/// # Errors
/// [`InvalidInput::TimeOutOfRange`] if the time is past [`MAX_UNIX_SECS`]
/// (no 64-bit id gets there, but the check is kept explicit).
///
/// ```ignore
/// use crate::parse::tweet_id_to_unix;
/// // 2017-11-10T14:57:14Z
/// assert_eq!(tweet_id_to_unix(929_000_000_000_000_000).unwrap(), 1_510_325_834);
/// ```
pub fn tweet_id_to_unix(id: u64) -> Result<i64> {
    let out_of_range = || InvalidInput::TimeOutOfRange { seconds: i64::MAX };
    let ms = (id >> 22)
        .checked_add(TWITTER_EPOCH_MS)
        .ok_or_else(out_of_range)?;
    let secs = i64::try_from(ms / 1000).map_err(|_| out_of_range())?;
    check_range(secs)
}

/// Parses one line of a tweet-id file: `Some(id)` for a line of decimal digits,
/// `None` for a blank line or a header (`id`, `tweet_id`, `id_str`).
///
/// # Errors
/// [`InvalidInput::Parse`] for anything else, an id above `u64::MAX`, or one
/// below the first minute of Snowflake ids (which would be dated 2010-11-04).
///
/// ```ignore
/// use crate::parse::parse_tweet_id_line;
/// assert_eq!(parse_tweet_id_line("929207504843739136\r").unwrap(), Some(929207504843739136));
/// assert_eq!(parse_tweet_id_line("id").unwrap(), None);
/// assert!(parse_tweet_id_line("12ab").is_err());
/// ```
pub fn parse_tweet_id_line(line: &str) -> Result<Option<u64>> {
    let t = clean(line);
    if t.is_empty()
        || ["id", "tweet_id", "id_str"]
            .iter()
            .any(|h| t.eq_ignore_ascii_case(h))
    {
        return Ok(None);
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(parse_error(format!(
            "{} is not a tweet id; write one decimal id per line",
            show(t)
        )));
    }
    let v = decimal(t)
        .ok_or_else(|| parse_error(format!("{} is larger than any tweet id", show(t))))?;
    if v < FIRST_SNOWFLAKE_MINUTE_ID {
        return Err(parse_error(format!(
            "{} carries no time: Snowflake ids, which hold their tweet's time, began on \
             2010-11-04, and an id this small is an earlier tweet's or not a tweet id",
            show(t)
        )));
    }
    Ok(Some(v))
}

/// The smallest id of the first minute of Twitter's Snowflake ids: every
/// smaller one is a tweet from before them (sequential ids, which went up
/// to about 3·10¹⁰ and hold no time) or no tweet id, and would be dated
/// 2010-11-04T01:42 without a word.
const FIRST_SNOWFLAKE_MINUTE_ID: u64 = 60_000 << 22;
