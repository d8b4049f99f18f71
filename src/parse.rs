//! Text to values: pure functions shared by the `trendlog` binary, the fuzz
//! targets and any caller that reads events from text.
//!
//! - Times: [`parse_timestamp`] (unix seconds, RFC 3339, `YYYY-MM-DD HH:MM:SS`
//!   in UTC, a bare date), [`parse_duration`] (`90s`, `1h30m`, `7d`) and
//!   [`parse_time_spec`] / [`TimeSpec`] (an absolute time or one relative to the
//!   store's now: `now`, `-24h`, `now-1h`).
//! - Counts: [`parse_count`].
//! - Input lines for `trendlog ingest`, each giving an [`Event`]: CSV with a
//!   [`CsvLayout`] ([`parse_csv_line`], [`split_csv_line`], [`is_csv_header`],
//!   and [`csv_escape`] for export), NDJSON ([`parse_ndjson_line`]) and Twitter
//!   Snowflake ids ([`parse_tweet_id_line`], [`tweet_id_to_unix`]).
//!
//! Every function here takes one line or one field, trims surrounding
//! whitespace (including the `\r` of CRLF files and a UTF-8 byte-order mark),
//! never panics on any input, and reports a rejection as
//! [`InvalidInput::Parse`] with a sentence that names the accepted forms, or
//! as the specific [`InvalidInput`] variant (`BeforeEpoch`, `TimeOutOfRange`,
//! `CountOverflow`).
//!
//! ```
//! use trendlog::parse::{parse_csv_line, parse_timestamp, CsvLayout, Event};
//! assert_eq!(parse_timestamp("2017-10-16T17:30:00+02:00").unwrap(), 1_508_167_800);
//! let layout = CsvLayout::parse("tag,timestamp,count").unwrap();
//! let e = parse_csv_line("AAPL,2015-02-26 21:42:53,104\r", &layout).unwrap();
//! assert_eq!(e, Event { ts: 1_424_986_973, tag: "AAPL".into(), count: 104 });
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

use crate::error::{Error, InvalidInput, Result};
use crate::time::{days_from_civil, DAY_SECS, HOUR_SECS, MINUTE_SECS};

/// The last unix second trendlog can store: the final second of minute
/// `u32::MAX` (in the year 10 136). Later times are
/// [`InvalidInput::TimeOutOfRange`].
pub const MAX_UNIX_SECS: i64 = u32::MAX as i64 * MINUTE_SECS + (MINUTE_SECS - 1);

/// Twitter's Snowflake epoch, 2010-11-04T01:42:54.657Z, in unix milliseconds.
pub const TWITTER_EPOCH_MS: u64 = 1_288_834_974_657;

/// The accepted timestamp forms, for error messages.
const TIMESTAMP_FORMS: &str = "use unix seconds (1508167800), RFC 3339 (2017-10-16T15:30:00Z, \
     or with an offset such as +02:00), YYYY-MM-DD HH:MM:SS in UTC, or a date YYYY-MM-DD";

/// The accepted duration forms, for error messages.
const DURATION_FORMS: &str =
    "use a number with a unit s, m, h or d (90s, 15m, 1h, 7d, 1h30m), or whole seconds";

/// How deep [`parse_ndjson_line`] follows nested values of unknown keys.
const MAX_JSON_DEPTH: usize = 32;

/// One event read from an input line: `count` occurrences of `tag` at unix
/// second `ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unix seconds, already checked to be within `0..=MAX_UNIX_SECS`.
    pub ts: i64,
    /// The tag as written in the input, not yet normalised (see
    /// [`crate::tag::normalize`]).
    pub tag: String,
    /// How many occurrences (1 when the input gives no count).
    pub count: u64,
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
/// ```
/// use trendlog::parse::parse_timestamp;
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
    let mut v: i64 = match decimal(int).and_then(|v| i64::try_from(v).ok()) {
        Some(v) => v,
        None if negative => return Err(InvalidInput::BeforeEpoch { seconds: i64::MIN }.into()),
        None => return Err(InvalidInput::TimeOutOfRange { seconds: i64::MAX }.into()),
    };
    if negative {
        // v <= i64::MAX, so -v cannot overflow; flooring a negative fraction
        // goes one second further down.
        v = -v;
        if frac.is_some_and(|f| f.bytes().any(|b| b != b'0')) {
            v = v.saturating_sub(1);
        }
    }
    check_range(v)
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
/// ```
/// use std::time::Duration;
/// use trendlog::parse::parse_duration;
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
    /// ```
    /// use trendlog::parse::TimeSpec;
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

/// Parses a command-line time: any [`parse_timestamp`] form, or a time
/// relative to the store's now: `now`, `now-1h`, `now+15m`, or a signed
/// duration `-24h`, `+1h`, `-90` (a leading sign always means relative).
///
/// # Errors
/// As [`parse_timestamp`] and [`parse_duration`].
///
/// ```
/// use trendlog::parse::{parse_time_spec, TimeSpec};
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
/// ```
/// use trendlog::parse::parse_count;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvLayout {
    ts: usize,
    tag: usize,
    count: Option<usize>,
    columns: usize,
}

impl Default for CsvLayout {
    /// `timestamp,tag,count`.
    fn default() -> CsvLayout {
        CsvLayout {
            ts: 0,
            tag: 1,
            count: Some(2),
            columns: 3,
        }
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
    /// ```
    /// use trendlog::parse::CsvLayout;
    /// let l = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
    /// assert_eq!((l.timestamp_column(), l.tag_column(), l.count_column()), (0, 2, None));
    /// assert!(CsvLayout::parse("tag,count").is_err());
    /// ```
    pub fn parse(spec: &str) -> Result<CsvLayout> {
        let usage = "name the columns in order, as in timestamp,tag,count \
                     (timestamp|ts|time|created_at, tag|ticker|hashtag, count|value|n; \
                     other names are ignored columns)";
        let mut ts = None;
        let mut tag = None;
        let mut count = None;
        let mut columns = 0;
        for (i, raw) in clean(spec).split(',').enumerate() {
            columns = i + 1;
            let name = raw.trim().to_ascii_lowercase();
            let slot = match name.as_str() {
                "" => {
                    return Err(parse_error(format!(
                        "column {} of {} has no name; {usage} (use _ for a column to ignore)",
                        i + 1,
                        show(spec)
                    )))
                }
                "timestamp" | "ts" | "time" | "created_at" | "created_at_utc" => &mut ts,
                "tag" | "ticker" | "hashtag" => &mut tag,
                "count" | "value" | "n" => &mut count,
                _ => continue,
            };
            if slot.is_some() {
                return Err(parse_error(format!(
                    "{} names the {name:?} role twice; {usage}",
                    show(spec)
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
            }),
            _ => Err(parse_error(format!(
                "{} needs a timestamp and a tag column; {usage}",
                show(spec)
            ))),
        }
    }

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

    /// The fewest fields a line may have: up to the timestamp and tag columns
    /// (a missing trailing count counts 1).
    pub fn required_fields(&self) -> usize {
        self.ts.max(self.tag) + 1
    }

    fn describe(&self) -> String {
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

/// Splits one CSV line into fields with RFC 4180 quoting: a field that starts
/// with `"` runs to the matching `"` and may hold commas, with `""` standing
/// for one quote. Other fields are taken as they are (spaces kept; a `"`
/// inside an unquoted field is an ordinary character). A trailing `\r`/`\n`
/// and a leading byte-order mark are removed. Fields are borrowed unless they
/// held `""`.
///
/// A quoted field cannot span lines here: one line is one record.
///
/// # Errors
/// [`InvalidInput::Parse`] for a quote that is never closed, or text between
/// a closing quote and the next comma.
///
/// ```
/// use trendlog::parse::split_csv_line;
/// let f = split_csv_line(r##"1,"a,b","say ""hi""","""##).unwrap();
/// assert_eq!(f, ["1", "a,b", r#"say "hi""#, ""]);
/// assert!(split_csv_line(r#"1,"open"#).is_err());
/// ```
pub fn split_csv_line(line: &str) -> Result<Vec<Cow<'_, str>>> {
    let line = line
        .trim_start_matches('\u{feff}')
        .trim_end_matches(['\r', '\n']);
    let b = line.as_bytes();
    let mut fields = Vec::with_capacity(4);
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let open = i;
            let start = i + 1;
            let mut seg = start;
            let mut owned: Option<String> = None;
            loop {
                let Some(q) = line[seg..].find('"').map(|p| seg + p) else {
                    return Err(parse_error(format!(
                        "the quoted field starting at byte {} is never closed; a field that \
                         opens with \" must end with \" (write \"\" for a quote inside it)",
                        open + 1
                    )));
                };
                if b.get(q + 1) == Some(&b'"') {
                    owned
                        .get_or_insert_with(String::new)
                        .push_str(&line[seg..=q]);
                    seg = q + 2;
                    continue;
                }
                fields.push(match owned.take() {
                    None => Cow::Borrowed(&line[start..q]),
                    Some(mut s) => {
                        s.push_str(&line[seg..q]);
                        Cow::Owned(s)
                    }
                });
                i = q + 1;
                break;
            }
            match b.get(i) {
                None => break,
                Some(b',') => i += 1,
                Some(_) => {
                    return Err(parse_error(format!(
                        "unexpected text after the closing quote at byte {i}; \
                         a quoted field must be followed by a comma or the end of the line"
                    )))
                }
            }
        } else {
            match line[i..].find(',') {
                Some(p) => {
                    fields.push(Cow::Borrowed(&line[i..i + p]));
                    i += p + 1;
                }
                None => {
                    fields.push(Cow::Borrowed(&line[i..]));
                    break;
                }
            }
        }
    }
    Ok(fields)
}

/// Parses one CSV line into an [`Event`] by `layout`. The count is 1 when the
/// layout has no count column or the line's count field is missing or empty.
/// The tag is taken as written (spaces included, which [`crate::tag::normalize`]
/// later rejects).
///
/// # Errors
/// [`InvalidInput::Parse`] for an empty line, too few fields (the message names
/// how many were expected), more fields than the layout names, or a field that
/// does not parse; the errors of [`parse_timestamp`] and [`parse_count`].
///
/// ```
/// use trendlog::parse::{parse_csv_line, CsvLayout};
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
            "the line has {n} field{}; at least {need} expected ({})",
            if n == 1 { "" } else { "s" },
            layout.describe()
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
    let tag = std::mem::take(&mut fields[layout.tag]).into_owned();
    Ok(Event { ts, tag, count })
}

/// True when `line` is a header naming the columns rather than an event: its
/// timestamp field is not a timestamp but looks like a column name (a letter or
/// `_` first, then letters, digits, `_`, `-` or spaces). A bad data line such
/// as `2017-13-01,...` is not a header, so its error still gets reported.
///
/// ```
/// use trendlog::parse::{is_csv_header, CsvLayout};
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
    looks_like_name && parse_timestamp(name).is_err()
}

/// Escapes a field for CSV output: quoted (with `"` doubled) when it holds a
/// comma, a quote, a line break, or starts or ends with a space or tab (or
/// starts with a byte-order mark, which [`split_csv_line`] would strip);
/// otherwise returned as it is.
///
/// ```
/// use trendlog::parse::csv_escape;
/// assert_eq!(csv_escape("metoo"), "metoo");
/// assert_eq!(csv_escape("a,b"), "\"a,b\"");
/// assert_eq!(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
/// ```
pub fn csv_escape(field: &str) -> Cow<'_, str> {
    let needs_quotes = field.contains([',', '"', '\n', '\r'])
        || field.starts_with([' ', '\t', '\u{feff}'])
        || field.ends_with([' ', '\t']);
    if !needs_quotes {
        return Cow::Borrowed(field);
    }
    let mut out = String::with_capacity(field.len() + 2);
    out.push('"');
    for c in field.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------
// NDJSON
// ---------------------------------------------------------------------------

/// A JSON value as far as [`parse_ndjson_line`] needs to know it.
enum JsonValue<'a> {
    Str(Cow<'a, str>),
    /// The number's text, already checked against the JSON grammar.
    Num(&'a str),
    Bool,
    Null,
    /// An object or array, checked for syntax and skipped.
    Nested,
}

impl JsonValue<'_> {
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

/// A strict JSON reader over one line.
struct JsonCursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> JsonCursor<'a> {
    fn err(&self, what: &str) -> Error {
        parse_error(format!("invalid JSON at byte {}: {what}", self.i + 1))
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, want: u8, what: &str) -> Result<()> {
        if self.peek() == Some(want) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected a value (a string, number, true, false or null)"))
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.err("\\u must be followed by four hex digits"))?;
        self.i += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.err("bad \\u escape"))
    }

    fn string(&mut self) -> Result<Cow<'a, str>> {
        self.expect(b'"', "expected a string in double quotes")?;
        let s = self.s;
        let b = s.as_bytes();
        let start = self.i;
        // Fast path: no escapes, borrow the text.
        loop {
            match b.get(self.i) {
                None => return Err(self.err("the string is never closed")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Borrowed(&s[start..self.i - 1]));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => {
                    return Err(self.err("control characters in strings must be escaped"))
                }
                Some(_) => self.i += 1,
            }
        }
        let mut out = String::from(&s[start..self.i]);
        loop {
            match b.get(self.i) {
                None => return Err(self.err("the string is never closed")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = self.peek();
                    self.i += 1;
                    let ch = match esc {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => {
                            self.i -= 1;
                            return Err(self.err("unknown escape after \\"));
                        }
                    };
                    out.push(ch);
                }
                Some(&c) if c < 0x20 => {
                    return Err(self.err("control characters in strings must be escaped"))
                }
                Some(_) => {
                    let run = self.i;
                    while b
                        .get(self.i)
                        .is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20)
                    {
                        self.i += 1;
                    }
                    out.push_str(&s[run..self.i]);
                }
            }
        }
    }

    /// After `\u`: one code point, or a surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.s[self.i..].starts_with("\\u") {
                    return Err(
                        self.err("a high surrogate \\u escape must be followed by a low one")
                    );
                }
                self.i += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(
                        self.err("a high surrogate \\u escape must be followed by a low one")
                    );
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.err("a low surrogate \\u escape stands alone")),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.err("bad \\u escape"))
    }

    fn number(&mut self) -> Result<&'a str> {
        let start = self.i;
        let digits = |c: &mut Self| {
            let from = c.i;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.i += 1;
            }
            c.i > from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("bad number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.err("a digit must follow the decimal point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.err("a digit must follow the exponent"));
            }
        }
        Ok(&self.s[start..self.i])
    }

    fn value(&mut self, depth: usize) -> Result<JsonValue<'a>> {
        match self.peek() {
            Some(b'"') => self.string().map(JsonValue::Str),
            Some(b'-' | b'0'..=b'9') => self.number().map(JsonValue::Num),
            Some(b't') => self.literal("true").map(|()| JsonValue::Bool),
            Some(b'f') => self.literal("false").map(|()| JsonValue::Bool),
            Some(b'n') => self.literal("null").map(|()| JsonValue::Null),
            Some(b'{' | b'[') => self.skip_nested(depth).map(|()| JsonValue::Nested),
            None => Err(self.err("the line ends where a value should be")),
            Some(_) => Err(self.err("expected a value (a string, number, true, false or null)")),
        }
    }

    /// Checks the syntax of an object or array and moves past it.
    fn skip_nested(&mut self, depth: usize) -> Result<()> {
        if depth >= MAX_JSON_DEPTH {
            return Err(self.err("values are nested too deeply"));
        }
        let close = if self.peek() == Some(b'{') {
            b'}'
        } else {
            b']'
        };
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if close == b'}' {
                self.string()?;
                self.ws();
                self.expect(b':', "expected : after a key")?;
                self.ws();
            }
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected a comma or the end of the object or array")),
            }
        }
    }
}

/// Parses one NDJSON line: a flat object such as
/// `{"ts": 1508167800, "tag": "#MeToo", "count": 3}`.
///
/// - The time is under `ts`, `timestamp` or `time` (exactly one of them): a
///   number of unix seconds (fractions floored, exponents allowed) or a string
///   in any [`parse_timestamp`] form.
/// - The tag is under `tag` (or `hashtag`), a string.
/// - The count is under `count` (or `value`, `n`): a whole number, a string of
///   digits, or `null`; 1 when absent.
/// - Other keys are ignored whatever their value; objects and arrays under them
///   are checked for syntax and skipped (up to 32 levels deep).
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
/// ```
/// use trendlog::parse::parse_ndjson_line;
/// let e = parse_ndjson_line(r#"{"ts":"2017-10-16T15:30:00Z","tag":"caf\u00e9"}"#).unwrap();
/// assert_eq!((e.ts, e.tag.as_str(), e.count), (1_508_167_800, "café", 1));
/// assert!(parse_ndjson_line(r#"{"tag":"metoo"}"#).is_err());
/// ```
pub fn parse_ndjson_line(line: &str) -> Result<Event> {
    let t = clean(line);
    if t.is_empty() {
        return Err(parse_error("the line is empty".to_string()));
    }
    let mut c = JsonCursor { s: t, i: 0 };
    c.expect(b'{', "a line must hold one JSON object, starting with {")?;
    let mut ts: Option<JsonValue<'_>> = None;
    let mut tag: Option<JsonValue<'_>> = None;
    let mut count: Option<JsonValue<'_>> = None;
    c.ws();
    if c.peek() == Some(b'}') {
        c.i += 1;
    } else {
        loop {
            c.ws();
            let key = c.string()?;
            c.ws();
            c.expect(b':', "expected : after a key")?;
            c.ws();
            let value = c.value(0)?;
            let known = match key.as_ref() {
                "ts" | "timestamp" | "time" => Some((&mut ts, "timestamp (ts, timestamp, time)")),
                "tag" | "hashtag" => Some((&mut tag, "tag (tag, hashtag)")),
                "count" | "value" | "n" => Some((&mut count, "count (count, value, n)")),
                _ => None,
            };
            if let Some((slot, role)) = known {
                if slot.is_some() {
                    return Err(parse_error(format!(
                        "the object gives the {role} more than once"
                    )));
                }
                *slot = Some(value);
            }
            c.ws();
            match c.peek() {
                Some(b',') => c.i += 1,
                Some(b'}') => {
                    c.i += 1;
                    break;
                }
                _ => return Err(c.err("expected a comma or the closing }")),
            }
        }
    }
    c.ws();
    if c.i < t.len() {
        return Err(c.err("text after the closing }; write one object per line"));
    }

    let ts = match ts {
        Some(JsonValue::Num(lit)) => json_number_to_timestamp(lit)?,
        Some(JsonValue::Str(s)) => parse_timestamp(&s)?,
        Some(other) => {
            return Err(parse_error(format!(
                "the timestamp is {}; use a number of unix seconds or a timestamp string",
                other.kind()
            )))
        }
        None => {
            return Err(parse_error(
                "the object has no timestamp; add a \"ts\" key (or \"timestamp\", \"time\")"
                    .to_string(),
            ))
        }
    };
    let tag = match tag {
        Some(JsonValue::Str(s)) => s.into_owned(),
        Some(other) => {
            return Err(parse_error(format!(
                "the tag is {}; it must be a string",
                other.kind()
            )))
        }
        None => {
            return Err(parse_error(
                "the object has no tag; add a \"tag\" key with a string".to_string(),
            ))
        }
    };
    let count = match count {
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
    Ok(Event { ts, tag, count })
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
/// ```
/// use trendlog::parse::tweet_id_to_unix;
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
/// `None` for a blank line or the header `id`.
///
/// # Errors
/// [`InvalidInput::Parse`] for anything else, or an id above `u64::MAX`.
///
/// ```
/// use trendlog::parse::parse_tweet_id_line;
/// assert_eq!(parse_tweet_id_line("929207504843739136\r").unwrap(), Some(929207504843739136));
/// assert_eq!(parse_tweet_id_line("id").unwrap(), None);
/// assert!(parse_tweet_id_line("12ab").is_err());
/// ```
pub fn parse_tweet_id_line(line: &str) -> Result<Option<u64>> {
    let t = clean(line);
    if t.is_empty() || t.eq_ignore_ascii_case("id") {
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
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;
    use proptest::prelude::*;

    fn invalid(r: Result<impl std::fmt::Debug>) -> InvalidInput {
        match r {
            Err(Error::InvalidInput(e)) => e,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn parse_msg(r: Result<impl std::fmt::Debug>) -> String {
        match invalid(r) {
            InvalidInput::Parse(m) => m,
            other => panic!("expected a Parse error, got {other:?}"),
        }
    }

    const T0: i64 = 1_508_167_800; // 2017-10-16T15:30:00Z

    #[test]
    fn timestamp_forms() {
        for s in [
            "1508167800",
            "1508167800.0",
            "1508167800.999",
            " 1508167800\r",
            "2017-10-16T15:30:00Z",
            "2017-10-16t15:30:00z",
            "2017-10-16T15:30:00.999Z",
            "2017-10-16T15:30:00.123456789Z",
            "2017-10-16T17:30:00+02:00",
            "2017-10-16T10:00:00-05:30",
            "2017-10-16T15:30:00+00:00",
            "2017-10-16T15:30:00-00:00",
            "2017-10-16 15:30:00",
            "2017-10-16T15:30:00",
            "2017-10-16 15:30:00Z",
            "2017-10-16 17:30:00.5+02:00",
            "\u{feff}2017-10-16T15:30:00Z",
        ] {
            assert_eq!(parse_timestamp(s).unwrap(), T0, "{s:?}");
        }
        assert_eq!(parse_timestamp("2017-10-16").unwrap(), 1_508_112_000);
        assert_eq!(parse_timestamp("0").unwrap(), 0);
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert_eq!(
            parse_timestamp("9999-12-31T23:59:59Z").unwrap(),
            253_402_300_799
        );
        // A leap second is clamped to :59.
        assert_eq!(
            parse_timestamp("2016-12-31T23:59:60Z").unwrap(),
            parse_timestamp("2016-12-31T23:59:59Z").unwrap()
        );
    }

    #[test]
    fn leap_years() {
        assert_eq!(parse_timestamp("2016-02-29").unwrap(), 1_456_704_000);
        assert_eq!(
            parse_timestamp("2016-02-29 12:00:00").unwrap(),
            1_456_747_200
        );
        assert_eq!(parse_timestamp("2000-02-29").unwrap(), 951_782_400);
        let m = parse_msg(parse_timestamp("2017-02-29"));
        assert!(m.contains("2017-02 has no day 29 (it has 28 days)"), "{m}");
        assert!(parse_timestamp("2100-02-29").is_err());
        assert!(parse_timestamp("2017-04-31").is_err());
        assert!(parse_timestamp("2017-12-31").is_ok());
    }

    #[test]
    fn timestamp_rejections() {
        for s in [
            "",
            "   ",
            "now",
            "abc",
            "+1508167800",
            "1508167800.",
            ".5",
            "1e9",
            "0x10",
            "1_000",
            "2017-10-16T",
            "2017-10-16T15:30",
            "2017-10-16T15:30Z",
            "2017-10-16T15:30:00ZZ",
            "2017-10-16T15:30:00+0200",
            "2017-10-16T15:30:00+02",
            "2017-10-16T15:30:00 +02:00",
            "2017-10-16T15:30:00.Z",
            "2017-10-16X15:30:00",
            "2017-1-16",
            "17-10-16",
            "2017/10/16",
            "2017-10-16T15:30:00Zjunk",
            "١٢٣", // non-ASCII digits
        ] {
            assert!(
                matches!(invalid(parse_timestamp(s)), InvalidInput::Parse(_)),
                "{s:?}"
            );
        }
        let m = parse_msg(parse_timestamp("yesterday"));
        assert!(m.contains("unix seconds") && m.contains("RFC 3339"), "{m}");
        assert!(parse_msg(parse_timestamp("2017-13-01")).contains("month 13"));
        assert!(parse_msg(parse_timestamp("2017-00-01")).contains("month 0"));
        assert!(parse_timestamp("2017-10-00").is_err());
        assert!(parse_msg(parse_timestamp("2017-10-16T24:00:00Z")).contains("time of day"));
        assert!(parse_timestamp("2017-10-16T23:60:00Z").is_err());
        assert!(parse_timestamp("2017-10-16T23:59:61Z").is_err());
        assert!(parse_msg(parse_timestamp("2017-10-16T00:00:00+24:00")).contains("offset"));
        assert!(parse_timestamp("2017-10-16T00:00:00+01:60").is_err());
        // A long input is cut in the message.
        let long = "x".repeat(10_000);
        assert!(parse_msg(parse_timestamp(&long)).len() < 400);
    }

    #[test]
    fn timestamp_range() {
        assert_eq!(
            invalid(parse_timestamp("-1")),
            InvalidInput::BeforeEpoch { seconds: -1 }
        );
        assert_eq!(
            invalid(parse_timestamp("-0.5")),
            InvalidInput::BeforeEpoch { seconds: -1 }
        );
        assert_eq!(parse_timestamp("-0").unwrap(), 0);
        assert_eq!(
            invalid(parse_timestamp("1969-12-31T23:59:59Z")),
            InvalidInput::BeforeEpoch { seconds: -1 }
        );
        assert_eq!(
            invalid(parse_timestamp("1970-01-01T00:30:00+01:00")),
            InvalidInput::BeforeEpoch { seconds: -1800 }
        );
        assert!(matches!(
            invalid(parse_timestamp("0000-01-01")),
            InvalidInput::BeforeEpoch { .. }
        ));
        assert_eq!(
            parse_timestamp(&MAX_UNIX_SECS.to_string()).unwrap(),
            MAX_UNIX_SECS
        );
        assert_eq!(
            crate::time::Minute::from_unix(MAX_UNIX_SECS).unwrap().0,
            u32::MAX
        );
        let over = (MAX_UNIX_SECS + 1).to_string();
        assert_eq!(
            invalid(parse_timestamp(&over)),
            InvalidInput::TimeOutOfRange {
                seconds: MAX_UNIX_SECS + 1
            }
        );
        for huge in [
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999999999999999",
            "99999999999999999999999999999999.9",
        ] {
            assert!(matches!(
                invalid(parse_timestamp(huge)),
                InvalidInput::TimeOutOfRange { .. }
            ));
        }
        assert!(matches!(
            invalid(parse_timestamp("-99999999999999999999999")),
            InvalidInput::BeforeEpoch { .. }
        ));
    }

    #[test]
    fn durations() {
        let d = |s: &str| parse_duration(s).unwrap().as_secs();
        assert_eq!(d("90s"), 90);
        assert_eq!(d("15m"), 900);
        assert_eq!(d("1h"), 3600);
        assert_eq!(d("7d"), 604_800);
        assert_eq!(d("1h30m"), 5400);
        assert_eq!(d("1d12h30m15s"), 131_415);
        assert_eq!(d("90"), 90);
        assert_eq!(d(" 0s\r"), 0);
        assert_eq!(d("0"), 0);
        for bad in [
            "", "-1h", "-90", "1.5h", "h", "1", "1x", "1H", "1h 30m", "1hm", "+1h", "1h-", "1 h",
            "10h5",
        ] {
            if bad == "1" {
                continue;
            }
            assert!(
                matches!(invalid(parse_duration(bad)), InvalidInput::Parse(_)),
                "{bad:?}"
            );
        }
        assert!(parse_msg(parse_duration("-1h")).contains("negative"));
        assert!(parse_msg(parse_duration("")).contains("empty"));
        assert!(parse_msg(parse_duration("99999999999999999999s")).contains("too long"));
        assert!(parse_msg(parse_duration("18446744073709551615d")).contains("too long"));
        assert!(parse_msg(parse_duration("18446744073709551615s1s")).contains("too long"));
        assert_eq!(d("18446744073709551615"), u64::MAX);
    }

    #[test]
    fn time_specs() {
        let p = |s: &str| parse_time_spec(s).unwrap();
        assert_eq!(p("now"), TimeSpec::RelativeToNow(0));
        assert_eq!(p("NOW"), TimeSpec::RelativeToNow(0));
        assert_eq!(p("-24h"), TimeSpec::RelativeToNow(-86_400));
        assert_eq!(p("-90m"), TimeSpec::RelativeToNow(-5400));
        assert_eq!(p("+1h"), TimeSpec::RelativeToNow(3600));
        assert_eq!(p("now-1h"), TimeSpec::RelativeToNow(-3600));
        assert_eq!(p("now - 1h"), TimeSpec::RelativeToNow(-3600));
        assert_eq!(p("now+15m"), TimeSpec::RelativeToNow(900));
        assert_eq!(p("-90"), TimeSpec::RelativeToNow(-90));
        assert_eq!(p("2017-10-16T15:30:00Z"), TimeSpec::Absolute(T0));
        assert_eq!(p("1508167800"), TimeSpec::Absolute(T0));
        for bad in [
            "",
            "now1h",
            "nowish",
            "--1h",
            "-",
            "now-",
            "+-1h",
            "yesterday",
            "-1y",
        ] {
            assert!(parse_time_spec(bad).is_err(), "{bad:?}");
        }
        assert!(parse_time_spec("-18446744073709551615s").is_err());
        assert_eq!(p("-24h").resolve(T0).unwrap(), T0 - 86_400);
        assert_eq!(p("now").resolve(T0).unwrap(), T0);
        assert_eq!(p("1508167800").resolve(0).unwrap(), T0);
        assert!(matches!(
            invalid(p("-2h").resolve(3600)),
            InvalidInput::BeforeEpoch { seconds: -3600 }
        ));
        assert!(matches!(
            invalid(TimeSpec::RelativeToNow(i64::MIN).resolve(-1)),
            InvalidInput::BeforeEpoch { .. }
        ));
        assert!(matches!(
            invalid(TimeSpec::RelativeToNow(i64::MAX).resolve(1)),
            InvalidInput::TimeOutOfRange { .. }
        ));
        assert!(matches!(
            invalid(TimeSpec::Absolute(-5).resolve(0)),
            InvalidInput::BeforeEpoch { seconds: -5 }
        ));
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("0").unwrap(), 0);
        assert_eq!(parse_count("104").unwrap(), 104);
        assert_eq!(parse_count("18446744073709551615").unwrap(), u64::MAX);
        assert_eq!(
            invalid(parse_count("18446744073709551616")),
            InvalidInput::CountOverflow
        );
        assert!(parse_msg(parse_count("")).contains("empty"));
        for bad in ["-1", "+1", "1.0", "1e3", "one", "0x1", "1 2"] {
            assert!(
                matches!(invalid(parse_count(bad)), InvalidInput::Parse(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn csv_layouts() {
        let l = CsvLayout::default();
        assert_eq!(l, CsvLayout::parse("timestamp,tag,count").unwrap());
        let l = CsvLayout::parse("tag,timestamp,count").unwrap();
        assert_eq!(
            (l.timestamp_column(), l.tag_column(), l.count_column()),
            (1, 0, Some(2))
        );
        let l = CsvLayout::parse(" Ticker , TIME ,value").unwrap();
        assert_eq!(
            (l.timestamp_column(), l.tag_column(), l.count_column()),
            (1, 0, Some(2))
        );
        let l = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
        assert_eq!(
            (l.timestamp_column(), l.tag_column(), l.count_column()),
            (0, 2, None)
        );
        assert_eq!((l.columns(), l.required_fields()), (3, 3));
        let l = CsvLayout::parse("id,_,created_at,hashtag,n").unwrap();
        assert_eq!(
            (l.timestamp_column(), l.tag_column(), l.count_column()),
            (2, 3, Some(4))
        );
        assert!(parse_msg(CsvLayout::parse("tag,count")).contains("needs a timestamp"));
        assert!(CsvLayout::parse("timestamp,count").is_err());
        assert!(parse_msg(CsvLayout::parse("ts,tag,time")).contains("twice"));
        assert!(parse_msg(CsvLayout::parse("ts,,tag")).contains("no name"));
        assert!(CsvLayout::parse("").is_err());
    }

    #[test]
    fn csv_split() {
        let f = |s: &str| -> Vec<String> {
            split_csv_line(s)
                .unwrap()
                .into_iter()
                .map(Cow::into_owned)
                .collect()
        };
        assert_eq!(f("a,b,c"), ["a", "b", "c"]);
        assert_eq!(f("a,b,c\r\n"), ["a", "b", "c"]);
        assert_eq!(f(""), [""]);
        assert_eq!(f(","), ["", ""]);
        assert_eq!(f("a,"), ["a", ""]);
        assert_eq!(f(r#""a,b",c"#), ["a,b", "c"]);
        assert_eq!(f(r#""""#), [""]);
        assert_eq!(f(r#""""""#), ["\""]);
        assert_eq!(f(r#"x,"he said ""hi""","#), ["x", "he said \"hi\"", ""]);
        assert_eq!(f(r#"a"b,c"#), ["a\"b", "c"]);
        assert_eq!(f(" a , b "), [" a ", " b "]);
        assert_eq!(f("é,\"ü,ß\""), ["é", "ü,ß"]);
        assert!(
            matches!(split_csv_line(r#""a,b"#).unwrap_err(), Error::InvalidInput(InvalidInput::Parse(m)) if m.contains("never closed"))
        );
        assert!(split_csv_line(r#"x,"a""#).is_ok());
        assert!(split_csv_line(r#"x,"a"""#).is_err());
        assert!(parse_msg(split_csv_line(r#""a"b,c"#)).contains("after the closing quote"));
        // Borrowed unless a doubled quote had to be undone.
        let v = split_csv_line(r#"a,"b,c","d""e""#).unwrap();
        assert!(matches!(v[0], Cow::Borrowed(_)));
        assert!(matches!(v[1], Cow::Borrowed(_)));
        assert!(matches!(v[2], Cow::Owned(_)));
    }

    #[test]
    fn csv_lines() {
        let l = CsvLayout::default();
        let e = parse_csv_line("2017-10-16T15:30:00Z,#MeToo,3", &l).unwrap();
        assert_eq!(
            e,
            Event {
                ts: T0,
                tag: "#MeToo".into(),
                count: 3
            }
        );
        assert_eq!(parse_csv_line("1508167800,metoo", &l).unwrap().count, 1);
        assert_eq!(parse_csv_line("1508167800,metoo,", &l).unwrap().count, 1);
        assert_eq!(
            parse_csv_line("1508167800,metoo, 7 \r", &l).unwrap().count,
            7
        );
        assert_eq!(
            parse_csv_line("\"2017-10-16 15:30:00\",\"a,b\",2", &l)
                .unwrap()
                .tag,
            "a,b"
        );
        let m = parse_msg(parse_csv_line("1508167800", &l));
        assert!(
            m.contains("1 field") && m.contains("at least 2 expected"),
            "{m}"
        );
        let m = parse_msg(parse_csv_line("1508167800,a,b,3", &l));
        assert!(m.contains("4 fields") && m.contains("quote"), "{m}");
        assert!(parse_msg(parse_csv_line("", &l)).contains("empty"));
        assert!(parse_msg(parse_csv_line("  \r", &l)).contains("empty"));
        assert!(parse_csv_line("garbage,metoo,1", &l).is_err());
        assert!(parse_csv_line("1508167800,metoo,x", &l).is_err());
        assert!(parse_csv_line("1508167800,metoo,-1", &l).is_err());
        assert!(matches!(
            invalid(parse_csv_line("-60,metoo,1", &l)),
            InvalidInput::BeforeEpoch { seconds: -60 }
        ));
        assert_eq!(
            invalid(parse_csv_line("0,metoo,99999999999999999999", &l)),
            InvalidInput::CountOverflow
        );
        let nab = CsvLayout::parse("tag,timestamp,count").unwrap();
        let e = parse_csv_line("AAPL,2015-02-26 21:42:53,104", &nab).unwrap();
        assert_eq!(
            e,
            Event {
                ts: 1_424_986_973,
                tag: "AAPL".into(),
                count: 104
            }
        );
        let m = parse_msg(parse_csv_line("AAPL", &nab));
        assert!(m.contains("at least 2 expected"), "{m}");
        let occ = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
        let e = parse_csv_line("2018-10-01T00:06:25.489Z,1046551874323845120,MeToo", &occ).unwrap();
        assert_eq!((e.ts, e.tag.as_str(), e.count), (1_538_352_385, "MeToo", 1));
        let m = parse_msg(parse_csv_line("2018-10-01T00:06:25.489Z,1", &occ));
        assert!(m.contains("2 fields; at least 3 expected"), "{m}");
    }

    #[test]
    fn csv_headers() {
        let l = CsvLayout::default();
        assert!(is_csv_header("timestamp,tag,count", &l));
        assert!(is_csv_header("\u{feff}ts,tag\r", &l));
        assert!(is_csv_header("\"Created At\",tag", &l));
        assert!(!is_csv_header("1508167800,metoo,1", &l));
        assert!(!is_csv_header("2017-13-01,metoo,1", &l));
        assert!(!is_csv_header("", &l));
        assert!(!is_csv_header("\"open", &l));
        let nab = CsvLayout::parse("tag,timestamp,count").unwrap();
        assert!(is_csv_header("ticker,timestamp,value", &nab));
        assert!(!is_csv_header("ticker", &nab));
        let occ = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
        assert!(is_csv_header("created_at_utc,tweet_id,hashtag", &occ));
    }

    #[test]
    fn csv_escaping() {
        assert!(matches!(csv_escape("metoo"), Cow::Borrowed("metoo")));
        assert_eq!(csv_escape(""), "");
        assert_eq!(csv_escape("a,b"), "\"a,b\"");
        assert_eq!(csv_escape("\""), "\"\"\"\"");
        assert_eq!(csv_escape(" a"), "\" a\"");
        assert_eq!(csv_escape("a "), "\"a \"");
        assert_eq!(csv_escape("a\nb"), "\"a\nb\"");
        assert_eq!(csv_escape("a b"), "a b");
    }

    #[test]
    fn ndjson_lines() {
        let p = |s: &str| parse_ndjson_line(s).unwrap();
        assert_eq!(
            p(r##"{"ts": 1508167800, "tag": "#MeToo", "count": 3}"##),
            Event {
                ts: T0,
                tag: "#MeToo".into(),
                count: 3
            }
        );
        assert_eq!(p(r#"{"tag":"a","ts":1508167800}"#).count, 1);
        assert_eq!(p(r#"{"tag":"a","ts":1508167800,"count":null}"#).count, 1);
        assert_eq!(p(r#"{"tag":"a","ts":1508167800,"count":"12"}"#).count, 12);
        assert_eq!(p(r#"{"tag":"a","ts":1508167800.75}"#).ts, T0);
        assert_eq!(p(r#"{"tag":"a","ts":1.5081678e9}"#).ts, T0);
        assert_eq!(p(r#"{"tag":"a","ts":15081678E2}"#).ts, T0);
        assert_eq!(
            p(r#"{"tag":"a","timestamp":"2017-10-16T17:30:00+02:00"}"#).ts,
            T0
        );
        assert_eq!(p(r#"{"tag":"a","time":"2017-10-16 15:30:00"}"#).ts, T0);
        assert_eq!(
            p(" \t{ \"ts\" : \"1508167800\" , \"tag\" : \"a\" } \r").ts,
            T0
        );
        // Unknown keys of any type are skipped, nested ones included.
        let e = p(
            r#"{"id":1,"ok":true,"x":false,"y":null,"user":{"n":[1,{"a":[]},"}"]},"z":[],"ts":1508167800,"tag":"a","w":-1.5e-3}"#,
        );
        assert_eq!((e.ts, e.tag.as_str(), e.count), (T0, "a", 1));
        // Escapes.
        assert_eq!(p(r#"{"ts":0,"tag":"caf\u00e9"}"#).tag, "café");
        assert_eq!(p(r#"{"ts":0,"tag":"caf\u00E9"}"#).tag, "café");
        assert_eq!(p(r#"{"ts":0,"tag":"\ud83d\udd25"}"#).tag, "🔥");
        assert_eq!(p(r#"{"ts":0,"tag":"🔥"}"#).tag, "🔥");
        assert_eq!(
            p(r#"{"ts":0,"tag":"a\"b\\c\/d\n\t\r\b\f"}"#).tag,
            "a\"b\\c/d\n\t\r\u{8}\u{c}"
        );
        assert_eq!(p(r#"{"ts":0,"tag":"é\u0041x"}"#).tag, "éAx");
        assert_eq!(p(r#"{"t\u0073":0,"tag":"x"}"#).ts, 0);
    }

    #[test]
    fn ndjson_rejections() {
        let m = |s: &str| parse_msg(parse_ndjson_line(s));
        assert!(m(r#"{"tag":"metoo"}"#).contains("no timestamp"));
        assert!(m(r#"{"ts":0}"#).contains("no tag"));
        assert!(m(r#"{"ts":0,"tag":1}"#).contains("must be a string"));
        assert!(m(r#"{"ts":true,"tag":"a"}"#).contains("timestamp is true or false"));
        assert!(m(r#"{"ts":{},"tag":"a"}"#).contains("object or array"));
        assert!(m(r#"{"ts":0,"tag":"a","count":-1}"#).contains("negative"));
        assert!(m(r#"{"ts":0,"tag":"a","count":1.5}"#).contains("not a count"));
        assert!(m(r#"{"ts":0,"tag":"a","count":[]}"#).contains("whole number"));
        assert!(m(r#"{"ts":0,"time":1,"tag":"a"}"#).contains("more than once"));
        assert!(m(r#"{"ts":0,"tag":"a","tag":"b"}"#).contains("more than once"));
        assert!(m("").contains("empty"));
        assert_eq!(
            invalid(parse_ndjson_line(r#"{"ts":-60,"tag":"a"}"#)),
            InvalidInput::BeforeEpoch { seconds: -60 }
        );
        assert!(matches!(
            invalid(parse_ndjson_line(r#"{"ts":-1e3,"tag":"a"}"#)),
            InvalidInput::BeforeEpoch { seconds: -1000 }
        ));
        assert!(matches!(
            invalid(parse_ndjson_line(r#"{"ts":1e300,"tag":"a"}"#)),
            InvalidInput::TimeOutOfRange { .. }
        ));
        assert!(matches!(
            invalid(parse_ndjson_line(r#"{"ts":1e999,"tag":"a"}"#)),
            InvalidInput::Parse(_) | InvalidInput::TimeOutOfRange { .. }
        ));
        assert_eq!(
            invalid(parse_ndjson_line(
                r#"{"ts":0,"tag":"a","count":99999999999999999999}"#
            )),
            InvalidInput::CountOverflow
        );
        for bad in [
            "{",
            "}",
            "[]",
            "{}",
            "null",
            r#"{"ts":0,"tag":"a",}"#,
            r#"{"ts":0,"tag":"a"} {"ts":0}"#,
            r#"{"ts":0,"tag":"a"}x"#,
            r#"{"ts":0 "tag":"a"}"#,
            r#"{"ts" 0,"tag":"a"}"#,
            r#"{ts:0,"tag":"a"}"#,
            r#"{'ts':0,"tag":"a"}"#,
            r#"{"ts":00,"tag":"a"}"#,
            r#"{"ts":01,"tag":"a"}"#,
            r#"{"ts":+1,"tag":"a"}"#,
            r#"{"ts":1.,"tag":"a"}"#,
            r#"{"ts":.5,"tag":"a"}"#,
            r#"{"ts":1e,"tag":"a"}"#,
            r#"{"ts":0,"tag":"a\x"}"#,
            r#"{"ts":0,"tag":"a\u12"}"#,
            r#"{"ts":0,"tag":"a\u12g4"}"#,
            r#"{"ts":0,"tag":"\ud83d"}"#,
            r#"{"ts":0,"tag":"\ud83dx"}"#,
            r#"{"ts":0,"tag":"\ud83d\u0041"}"#,
            r#"{"ts":0,"tag":"\udd25"}"#,
            "{\"ts\":0,\"tag\":\"a\tb\"}",
            r#"{"ts":0,"tag":"open}"#,
            r#"{"ts":0,"tag":"a","x":tru}"#,
            r#"{"ts":0,"tag":"a","x":nul}"#,
            r#"{"ts":0,"tag":"a","x":[1,]}"#,
            r#"{"ts":0,"tag":"a","x":{"k"}}"#,
            r#"{"ts":0,"tag":"a","x":{1:2}}"#,
            r#"{"ts":0,"tag":"a","x":[}"#,
            r#"{"ts":0,"tag":"a" // comment
            }"#,
        ] {
            assert!(
                matches!(invalid(parse_ndjson_line(bad)), InvalidInput::Parse(_)),
                "{bad:?}"
            );
        }
        let deep = format!(
            "{{\"ts\":0,\"tag\":\"a\",\"x\":{}{}}}",
            "[".repeat(40),
            "]".repeat(40)
        );
        assert!(parse_msg(parse_ndjson_line(&deep)).contains("too deeply"));
        let ok = format!(
            "{{\"ts\":0,\"tag\":\"a\",\"x\":{}{}}}",
            "[".repeat(20),
            "]".repeat(20)
        );
        assert!(parse_ndjson_line(&ok).is_ok());
        let deep = format!("{{\"ts\":0,\"tag\":\"a\",\"x\":{}", "[".repeat(100_000));
        assert!(parse_ndjson_line(&deep).is_err());
        assert!(m(r#"{"ts":0,"tag":"a"}x"#).contains("byte 19"));
    }

    #[test]
    fn tweet_ids() {
        // Independent computation: the top 42 bits are milliseconds since the
        // Twitter epoch; divide instead of shifting, in 128-bit arithmetic.
        let id: u64 = 929_000_000_000_000_000;
        let ms = u128::from(id) / (1u128 << 22) + 1_288_834_974_657;
        assert_eq!(ms, 1_510_325_834_642);
        assert_eq!(tweet_id_to_unix(id).unwrap(), 1_510_325_834);
        assert_eq!(
            format_rfc3339(tweet_id_to_unix(id).unwrap()),
            "2017-11-10T14:57:14Z"
        );
        assert_eq!(tweet_id_to_unix(0).unwrap(), 1_288_834_974);
        assert_eq!(tweet_id_to_unix(u64::MAX).unwrap(), 5_686_881_485);
        // A tweet's id and its created_at agree (from the 2018-2020 data).
        assert_eq!(
            tweet_id_to_unix(1_046_551_874_323_845_120).unwrap(),
            parse_timestamp("2018-10-01T00:06:25.489Z").unwrap()
        );
        assert_eq!(
            parse_tweet_id_line("929207504843739136").unwrap(),
            Some(929_207_504_843_739_136)
        );
        assert_eq!(parse_tweet_id_line(" 42 \r").unwrap(), Some(42));
        assert_eq!(parse_tweet_id_line("id").unwrap(), None);
        assert_eq!(parse_tweet_id_line("ID\r").unwrap(), None);
        assert_eq!(parse_tweet_id_line("\u{feff}id").unwrap(), None);
        assert_eq!(parse_tweet_id_line("").unwrap(), None);
        assert_eq!(parse_tweet_id_line(" \r").unwrap(), None);
        assert_eq!(
            parse_tweet_id_line("18446744073709551615").unwrap(),
            Some(u64::MAX)
        );
        assert!(parse_msg(parse_tweet_id_line("18446744073709551616")).contains("larger"));
        for bad in ["-1", "+1", "1.0", "12ab", "1 2", "ids", "\"1\""] {
            assert!(parse_tweet_id_line(bad).is_err(), "{bad:?}");
        }
    }

    /// The real data beside the checkout (see `../shared/data/SOURCES.md`).
    #[test]
    fn real_data_parses_without_rejections() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        if !dir.is_dir() {
            eprintln!("skipped: {} is absent", dir.display());
            return;
        }
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("reading {name}: {e}"))
        };
        let day = |s: &str| parse_timestamp(s).unwrap();

        // NAB realTweets: ten tickers every five minutes, at hh:m2:53 and hh:m7:53.
        let layout = CsvLayout::parse("tag,timestamp,count").unwrap();
        let text = read("nab_realTweets_volume_5min.csv");
        let mut lines = text.lines();
        assert!(is_csv_header(lines.next().unwrap(), &layout));
        let mut tickers = std::collections::BTreeSet::new();
        let (mut n, mut total) = (0usize, 0u64);
        for (i, line) in lines.enumerate() {
            assert!(!is_csv_header(line, &layout), "line {}", i + 2);
            let e = parse_csv_line(line, &layout)
                .unwrap_or_else(|err| panic!("NAB line {}: {err}: {line:?}", i + 2));
            assert!(
                (day("2015-02-26")..day("2015-04-24")).contains(&e.ts),
                "{line}"
            );
            assert_eq!(e.ts % 60, 53, "{line}");
            assert_eq!((e.ts / 60) % 5, 2, "{line}");
            tickers.insert(e.tag);
            total += e.count;
            n += 1;
        }
        assert_eq!(n, 158_631);
        assert_eq!(tickers.len(), 10);
        assert!(total > 0);

        // 2018-2020 hashtag occurrences: created_at agrees with the tweet id.
        let layout = CsvLayout::parse("created_at_utc,tweet_id,hashtag").unwrap();
        let text = read("metoo_2018-2020_hashtag_occurrences.csv");
        let mut lines = text.lines();
        assert!(is_csv_header(lines.next().unwrap(), &layout));
        let mut tags = std::collections::BTreeSet::new();
        let mut n = 0usize;
        for (i, line) in lines.enumerate() {
            let e = parse_csv_line(line, &layout)
                .unwrap_or_else(|err| panic!("hashtag line {}: {err}: {line:?}", i + 2));
            assert!(
                (day("2018-10-01")..day("2020-03-02")).contains(&e.ts),
                "{line}"
            );
            assert_eq!(e.count, 1);
            let id = split_csv_line(line).unwrap()[1].parse::<u64>().unwrap();
            assert_eq!(tweet_id_to_unix(id).unwrap(), e.ts, "{line}");
            let tag = crate::tag::normalize(&e.tag)
                .unwrap_or_else(|err| panic!("hashtag line {}: {err}", i + 2));
            tags.insert(tag.into_owned());
            n += 1;
        }
        assert_eq!(n, 9_516);
        assert!(
            tags.contains("metoo") && tags.len() <= 414,
            "{}",
            tags.len()
        );

        // #MeToo tweet ids of 2017-11-10, newest first.
        let text = read("metoo_tweet_ids_2017-11-10.csv");
        let mut ids = 0usize;
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for (i, line) in text.lines().enumerate() {
            let Some(id) = parse_tweet_id_line(line)
                .unwrap_or_else(|err| panic!("id line {}: {err}: {line:?}", i + 1))
            else {
                assert_eq!(i, 0, "only the header is not an id");
                continue;
            };
            let ts = tweet_id_to_unix(id).unwrap();
            first = first.min(ts);
            last = last.max(ts);
            ids += 1;
        }
        assert_eq!(ids, 11_614);
        assert!(
            first >= day("2017-11-10 18:40:00"),
            "{}",
            format_rfc3339(first)
        );
        assert!(
            last < day("2017-11-11 04:42:00"),
            "{}",
            format_rfc3339(last)
        );
    }

    /// A JSON string literal for `s`, escaping the way other encoders may:
    /// `\uXXXX` (with surrogate pairs) for every non-ASCII character when
    /// `ascii_only`, short escapes for the rest.
    fn json_string(s: &str, ascii_only: bool) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x20 || (ascii_only && !c.is_ascii()) => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = parse_timestamp(&s);
            let _ = parse_duration(&s);
            let _ = parse_time_spec(&s).map(|t| t.resolve(T0));
            let _ = parse_count(&s);
            let _ = CsvLayout::parse(&s);
            let _ = split_csv_line(&s);
            let _ = parse_csv_line(&s, &CsvLayout::default());
            let _ = is_csv_header(&s, &CsvLayout::default());
            let _ = csv_escape(&s);
            let _ = parse_ndjson_line(&s);
            let _ = parse_tweet_id_line(&s);
        }

        #[test]
        fn structured_garbage_never_panics(
            s in "[-+0-9:.TtZz ,\"{}\\[\\]\\\\u:a-f#nowhsd]{0,40}"
        ) {
            let _ = parse_timestamp(&s);
            let _ = parse_time_spec(&s).map(|t| t.resolve(0));
            let _ = parse_duration(&s);
            let _ = parse_csv_line(&s, &CsvLayout::default());
            let _ = parse_ndjson_line(&s);
            let _ = parse_ndjson_line(&format!("{{\"ts\":{s},\"tag\":\"a\"}}"));
            let _ = parse_ndjson_line(&format!("{{\"ts\":0,\"tag\":\"{s}\"}}"));
        }

        #[test]
        fn ids_never_panic(id in any::<u64>()) {
            let secs = tweet_id_to_unix(id).unwrap();
            prop_assert!(secs >= 1_288_834_974);
        }

        #[test]
        fn rfc3339_round_trip(secs in 0i64..253_402_300_800) {
            let text = format_rfc3339(secs);
            prop_assert_eq!(parse_timestamp(&text).unwrap(), secs);
            prop_assert_eq!(parse_timestamp(&text.replace('T', " ").replace('Z', "")).unwrap(), secs);
            prop_assert_eq!(parse_timestamp(&secs.to_string()).unwrap(), secs);
        }

        #[test]
        fn offsets_shift_the_local_time(
            secs in 86_400i64..253_402_214_400,
            offset_min in -(23 * 60 + 59)..=(23 * 60 + 59i64),
        ) {
            let local = format_rfc3339(secs + offset_min * 60);
            let sign = if offset_min < 0 { '-' } else { '+' };
            let a = offset_min.abs();
            let text = format!("{}{sign}{:02}:{:02}", &local[..19], a / 60, a % 60);
            prop_assert_eq!(parse_timestamp(&text).unwrap(), secs);
        }

        #[test]
        fn csv_escape_round_trips(fields in proptest::collection::vec("[^\r\n]{0,12}", 1..5)) {
            let line: Vec<String> = fields.iter().map(|f| csv_escape(f).into_owned()).collect();
            let line = line.join(",");
            let back: Vec<String> = split_csv_line(&line).unwrap().into_iter().map(Cow::into_owned).collect();
            prop_assert_eq!(back, fields);
        }

        #[test]
        fn ndjson_tag_round_trips(tag in "\\PC{1,20}", ascii_only in any::<bool>(), count in any::<u64>()) {
            let line = format!(
                "{{\"ts\": 1508167800, \"tag\": {}, \"count\": {count}}}",
                json_string(&tag, ascii_only)
            );
            let e = parse_ndjson_line(&line).unwrap();
            prop_assert_eq!(e, Event { ts: T0, tag, count });
        }

        #[test]
        fn durations_sum_their_parts(d in 0u64..1000, h in 0u64..1000, m in 0u64..1000, s in 0u64..1000) {
            let text = format!("{d}d{h}h{m}m{s}s");
            prop_assert_eq!(
                parse_duration(&text).unwrap().as_secs(),
                d * 86_400 + h * 3600 + m * 60 + s
            );
        }
    }
}
