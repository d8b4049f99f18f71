//! The CSV lines `publish` reads: `timestamp,tag[,count]`, the timestamp in
//! unix seconds, one event per line, split with RFC 4180 quoting by the `csv`
//! crate as `trendlog ingest` splits its CSV (`src/bin/trendlog/parse.rs`):
//! a field that starts with `"` runs to the matching `"` and may hold commas,
//! `""` standing for one quote, so `"metoo"` is the tag `metoo`.
//!
//! A line that is not one event is a [`BadLine`], never a panic: more fields
//! than `timestamp,tag,count` (a tag holding an unquoted comma would
//! otherwise lose its end), too few, a quote never closed, a bad timestamp or
//! count, text that is not UTF-8. Blank lines are skipped, and so is the
//! first line of an input when it is a header (its timestamp field a name
//! such as `timestamp`, and no field a number), as `trendlog ingest` does.

use std::fmt;
use std::io::{Cursor, SeekFrom};

/// The columns `publish` reads, for messages.
pub const COLUMNS: &str = "timestamp,tag,count";

/// One event of an input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEvent {
    /// Unix seconds, as written (the publisher checks the range).
    pub ts: i64,
    /// The tag, unquoted and with surrounding whitespace trimmed, not yet
    /// normalised.
    pub tag: String,
    /// The count: 1 when the line has no count field or an empty one.
    pub count: u64,
}

/// What one input line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// An event.
    Event(LineEvent),
    /// A blank line.
    Blank,
    /// The first line of an input, naming its columns.
    Header,
}

/// Why a line holds no event. Each is counted in `bad_lines` and said with
/// its line number; the line is not published.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadLine {
    /// The line is not UTF-8.
    NotUtf8,
    /// The line cannot be split as CSV (a quote never closed, a line break).
    NotCsv(String),
    /// Fewer fields than a timestamp and a tag.
    TooFewFields(usize),
    /// More fields than `timestamp,tag,count`.
    TooManyFields(usize),
    /// The timestamp field is not whole unix seconds.
    Timestamp(String),
    /// The count field is not a whole number of 0 or more.
    Count(String),
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadLine::NotUtf8 => f.write_str("the line is not UTF-8"),
            BadLine::NotCsv(why) => write!(f, "the line is not CSV: {why}"),
            BadLine::TooFewFields(n) => write!(
                f,
                "the line has {n} field{}; {COLUMNS} needs at least a timestamp and a tag",
                if *n == 1 { "" } else { "s" }
            ),
            BadLine::TooManyFields(n) => write!(
                f,
                "the line has {n} fields, more than the 3 of {COLUMNS}; nothing of it was \
                 published (quote a tag that holds a comma: \"a,b\")"
            ),
            BadLine::Timestamp(t) => {
                write!(f, "the timestamp {} is not whole unix seconds", show(t))
            }
            BadLine::Count(c) => write!(
                f,
                "the count {} is not a whole number of 0 or more",
                show(c)
            ),
        }
    }
}

impl std::error::Error for BadLine {}

/// `s` quoted for a message, cut to a readable length.
fn show(s: &str) -> String {
    const MAX_CHARS: usize = 60;
    match s.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}...", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// Reads input lines into events. One per reading run: it keeps one CSV
/// reader (building one per line costs more than reading the line) and
/// whether the current input's first line was seen (for its header).
pub struct LineReader {
    csv: csv::Reader<Cursor<Vec<u8>>>,
    record: csv::StringRecord,
    next: csv::StringRecord,
    first_seen: bool,
}

impl Default for LineReader {
    fn default() -> LineReader {
        LineReader::new()
    }
}

impl LineReader {
    /// A reader at the start of an input.
    pub fn new() -> LineReader {
        LineReader {
            csv: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(Cursor::new(Vec::new())),
            record: csv::StringRecord::new(),
            next: csv::StringRecord::new(),
            first_seen: false,
        }
    }

    /// The next lines are another input's (whose first line may be a header).
    pub fn start_input(&mut self) {
        self.first_seen = false;
    }

    /// Reads one line (with or without its `\n` or `\r\n`).
    ///
    /// # Errors
    /// A [`BadLine`] saying why the line holds no event.
    pub fn read(&mut self, line: &[u8]) -> Result<Line, BadLine> {
        let text = std::str::from_utf8(line).map_err(|_| BadLine::NotUtf8)?;
        let text = text
            .trim_start_matches('\u{feff}')
            .trim_end_matches(['\r', '\n']);
        if text.trim().is_empty() {
            return Ok(Line::Blank);
        }
        let first = !std::mem::replace(&mut self.first_seen, true);
        self.split(text)?;
        let fields: Vec<&str> = self.record.iter().collect();
        if first && is_header(&fields) {
            return Ok(Line::Header);
        }
        match fields.len() {
            0 | 1 => return Err(BadLine::TooFewFields(fields.len())),
            2 | 3 => {}
            n => return Err(BadLine::TooManyFields(n)),
        }
        let ts = fields[0].trim();
        let ts = ts
            .parse::<i64>()
            .map_err(|_| BadLine::Timestamp(ts.to_owned()))?;
        let count = match fields.get(2).map(|c| c.trim()) {
            None | Some("") => 1,
            Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
                c.parse::<u64>().map_err(|_| BadLine::Count(c.to_owned()))?
            }
            Some(c) => return Err(BadLine::Count(c.to_owned())),
        };
        Ok(Line::Event(LineEvent {
            ts,
            tag: fields[1].trim().to_owned(),
            count,
        }))
    }

    /// Splits `text` into `self.record`, as `trendlog ingest` does: one line
    /// is one record, so a quote never closed (what a quoted field that
    /// spans lines looks like, line by line) is refused, not joined to the
    /// next lines.
    fn split(&mut self, text: &str) -> Result<(), BadLine> {
        /// A record read after the line: it comes back on its own only if
        /// every quote of the line was closed (an open quote swallows it).
        const SENTINEL: &str = "\nend";
        let not_csv = |e: csv::Error| BadLine::NotCsv(e.to_string());
        let buf = self.csv.get_mut().get_mut();
        buf.clear();
        buf.extend_from_slice(text.as_bytes());
        buf.extend_from_slice(SENTINEL.as_bytes());
        self.csv
            .seek_raw(SeekFrom::Start(0), csv::Position::new())
            .map_err(not_csv)?;
        let read = self.csv.read_record(&mut self.record).map_err(not_csv)?
            && self.csv.read_record(&mut self.next).map_err(not_csv)?;
        if !read {
            return Err(BadLine::NotCsv(
                "a quoted field is never closed; a field that opens with \" must end with \" \
                 on the same line (write \"\" for a quote inside it)"
                    .into(),
            ));
        }
        if self.next.len() != 1 || self.next.get(0) != Some(&SENTINEL[1..]) {
            return Err(BadLine::NotCsv(
                "the line holds a line break (a lone \\r), so more than one record; write one \
                 event per line"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A header names columns: its timestamp field looks like a name (a letter
/// or `_` first, then letters, digits, `_`, `-` or spaces) and none of its
/// first three fields is a number. A data line whose timestamp is bad, or
/// with more fields than three, is then still reported, not skipped.
fn is_header(fields: &[&str]) -> bool {
    let Some(name) = fields.first().map(|f| f.trim()) else {
        return false;
    };
    let mut chars = name.chars();
    let looks_like_name = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '));
    looks_like_name
        && fields.len() <= 3
        && !fields
            .iter()
            .take(3)
            .any(|f| f.trim().parse::<i64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: i64, tag: &str, count: u64) -> Line {
        Line::Event(LineEvent {
            ts,
            tag: tag.into(),
            count,
        })
    }

    fn read(lines: &[&str]) -> Vec<Result<Line, BadLine>> {
        let mut r = LineReader::new();
        lines.iter().map(|l| r.read(l.as_bytes())).collect()
    }

    /// Before, `"metoo"` kept its quotes and was another tag than `metoo`,
    /// and a fourth field was dropped without a word.
    #[test]
    fn quotes_are_csv_and_an_extra_field_is_a_bad_line() {
        let got = read(&[
            "1508167800,\"metoo\",2",
            "1508167800,metoo,3\r\n",
            "1508167800,\"a,b\",1",
            "1508167800,\"say \"\"hi\"\"\"",
            "1508167800,metoo,1,extra",
            "1508167800,\"metoo\",1,",
        ]);
        assert_eq!(got[0], Ok(event(1_508_167_800, "metoo", 2)));
        assert_eq!(got[1], Ok(event(1_508_167_800, "metoo", 3)));
        assert_eq!(got[2], Ok(event(1_508_167_800, "a,b", 1)));
        assert_eq!(got[3], Ok(event(1_508_167_800, "say \"hi\"", 1)));
        assert_eq!(got[4], Err(BadLine::TooManyFields(4)));
        assert_eq!(got[5], Err(BadLine::TooManyFields(4)));
        let said = got[4].clone().unwrap_err().to_string();
        assert!(
            said.contains("4 fields") && said.contains(COLUMNS),
            "{said}"
        );
    }

    #[test]
    fn bad_lines_say_why_and_never_panic() {
        let got = read(&[
            "1508167800,metoo",
            "",
            "  \r",
            "1508167800",
            "1508167800,\"open,1",
            "abc,metoo,1",
            "1508167800,metoo,-1",
            "1508167800,metoo,99999999999999999999999",
            "1508167800,metoo,+1",
            "1508167800.5,metoo,1",
            "1508167800,metoo,\"\"",
            "1508167800,a\rb,1",
        ]);
        assert_eq!(got[0], Ok(event(1_508_167_800, "metoo", 1)));
        assert_eq!(got[1], Ok(Line::Blank));
        assert_eq!(got[2], Ok(Line::Blank));
        assert_eq!(got[3], Err(BadLine::TooFewFields(1)));
        assert!(matches!(got[4], Err(BadLine::NotCsv(ref e)) if e.contains("never closed")));
        // Not the first line: a bad timestamp, not a header.
        assert_eq!(got[5], Err(BadLine::Timestamp("abc".into())));
        assert_eq!(got[6], Err(BadLine::Count("-1".into())));
        assert!(matches!(got[7], Err(BadLine::Count(_))));
        assert_eq!(got[8], Err(BadLine::Count("+1".into())));
        assert!(matches!(got[9], Err(BadLine::Timestamp(_))));
        assert_eq!(got[10], Ok(event(1_508_167_800, "metoo", 1)));
        assert!(matches!(got[11], Err(BadLine::NotCsv(_))));
        let mut r = LineReader::new();
        assert_eq!(r.read(b"1508167800,\xff,1"), Err(BadLine::NotUtf8));
        for garbage in [
            &b"\"\"\""[..],
            b",,,,",
            b"\"",
            b"\xef\xbb\xbf",
            b"\n\n",
            b"\0,\0",
        ] {
            let _ = LineReader::new().read(garbage);
        }
    }

    /// Only an input's first line can be a header, and only one that names
    /// columns: a first data line with an extra field is a bad line, not a
    /// header skipped without a count (as every bad first line was before).
    #[test]
    fn only_a_first_line_naming_columns_is_a_header() {
        let mut r = LineReader::new();
        assert_eq!(
            r.read(b"\xef\xbb\xbftimestamp,tag,count\r\n"),
            Ok(Line::Header)
        );
        assert!(r.read(b"timestamp,tag,count").is_err());
        r.start_input();
        assert_eq!(r.read(b""), Ok(Line::Blank));
        assert_eq!(r.read(b"\"ts\",\"hashtag\""), Ok(Line::Header));
        r.start_input();
        assert_eq!(
            r.read(b"1508167800,metoo,1,extra"),
            Err(BadLine::TooManyFields(4))
        );
        r.start_input();
        assert_eq!(r.read(b"x,y,z,w"), Err(BadLine::TooManyFields(4)));
        r.start_input();
        assert_eq!(
            r.read(b"abc,metoo,1"),
            Err(BadLine::Timestamp("abc".into()))
        );
        r.start_input();
        assert_eq!(r.read(b"1,metoo"), Ok(event(1, "metoo", 1)));
    }
}
