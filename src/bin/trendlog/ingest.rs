//! `trendlog ingest`: load events from CSV, NDJSON or tweet-id files (or
//! stdin) in batches, reporting every rejected line with its file and line.
//!
//! Input is read by a thread that hands over lines in chunks, so a slow pipe
//! (`tail -f | trendlog ingest`) still gets its events committed: a partial
//! batch is committed once it is [`IDLE_COMMIT`] old, whether the input fell
//! silent or trickles.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::parse::{
    is_csv_header, parse_csv_line, parse_ndjson_line, parse_ndjson_line_keys, parse_tweet_id_line,
    tweet_id_to_unix, CsvLayout, Event,
};
use trendlog::labels::LabelKeys;
use trendlog::{Batch, InvalidInput, Options, Store, SyncPolicy};

use crate::out::{self, CmdResult, Fail};
use crate::Global;

/// How long a partial batch may wait for more lines before it is committed.
const IDLE_COMMIT: Duration = Duration::from_secs(1);
/// How often `--sync interval` makes commits durable.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// The CSV columns without --columns or a header naming them.
const DEFAULT_COLUMNS: &str = "timestamp,tag,count";
/// How many rejected lines are printed one by one.
const SHOW_REJECTED: u64 = 20;

/// Load events from files (or stdin) into the store, creating it if needed.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Formats:
  csv        timestamp,tag,count per line (count optional, default 1); --columns reorders
             (tag,timestamp,count for NAB's ticker,timestamp,value). Without --columns, a first
             line naming the columns as --columns would (ticker,timestamp,value; an export's
             header, label columns included: its label:KEY columns declare a new store's label
             keys) sets them for its file; any other header line is skipped with a note. A
             first line with a number or a time in its timestamp, tag or count column is
             data, never a header.
             Timestamps: unix seconds, RFC 3339, 'YYYY-MM-DD HH:MM:SS' UTC (a time without
             an offset, T or space, is UTC).
  ndjson     {\"ts\": <seconds or string>, \"tag\": \"...\", \"count\": n} per line; keys as
             spelled: ts|timestamp|time, tag|hashtag, count|value|n (optional: 1 when absent
             or null), labels; other keys are ignored (a misspelt count key is named).
  tweet-ids  one Twitter Snowflake id per line (a header `id`, `tweet_id` or `id_str` skipped), all
             for --tag TAG; an id from before Snowflake ids (2010-11-04) holds no time and is refused.

Labels: a store created with --labels platform,region keeps a count per tag and label values.
CSV label columns are named label:KEY in --columns, by a key given in --labels
(--columns timestamp,tag,count,platform,region --labels platform,region), or by one of an
existing store's keys; an NDJSON line gives {\"labels\": {\"platform\": \"instagram\",
\"region\": \"chicago\"}}. Without --labels, a new store takes its keys from the first line of the
first input: an export's CSV header (label:KEY columns) or an NDJSON line's labels object. A key
left out is unknown (the empty value); a key the store does not have rejects the line. A value
is normalised as a tag is (lower-cased, Unicode NFC, no whitespace), and holds at most 64 bytes.

Bad lines are reported on stderr as FILE:LINE: reason (the first 20, then a count); every good
line is still ingested, and the exit code is 2 if any line was rejected. With --strict, one bad
line rejects the whole input and nothing is committed; without --columns, a first line that is
neither an event nor a header naming a timestamp and a tag column is then a bad line too.

With --ack, `committed N` is printed on stdout (flushed) each time a batch is durable: N counts
the input lines (all files, headers and rejected lines included) whose events are now safe.
Every batch also records `ingest lines N of INPUTS` as the store's source position (`trendlog
inspect` shows it; a position another program set, such as a stream consumer's offset, is left
as it is): after a crash it says how far the run got, which can be past the last `committed N`
printed (a batch committed as the process died). N counts the lines of all the run's inputs
together, from 1 in each run; a run killed before its first batch leaves the previous run's
position, which for stdin (or inputs of the same names) reads the same as this run's: a program
that resumes through stdin keeps its own count of the lines stored, adding each run's N only
when that run committed (its `committed N`, or its --json summary). To restart without counting a line twice, skip the first N lines of the same inputs
(tail -n +N+1 for one file), giving --columns if the header goes with them.
A summary (lines read, accepted, rejected, events per second) goes to stderr; with --json also
to stdout, as one JSON object after any `committed N` lines:
{\"lines_read\":N,\"accepted\":N,\"events\":N,\"rejected\":N,\"committed\":B,\"seconds\":S},
where committed is false when no batch was committed (none accepted, or --strict refused them;
a line with count 0 is committed, with no event).
A run that fails (a read error, damage, a full disk: exit 1) prints the same object with
\"error\":\"...\" and \"committed_lines\":N, \"committed_accepted\":N, \"committed_events\":N,
how far the events committed before the failure reach (committed is then whether any was).

When ingest exits, everything it committed is sealed: moved from the active log into an
immutable sorted segment, so nothing is left in the log. (While it runs, the engine also
seals on its own once its log file reaches 16 MiB (about a million cells) or holds an hour
of event time.)

Example:
  trendlog ingest events.csv
  trendlog ingest --format tweet-ids --tag metoo ids.csv
  tail -f events.ndjson | trendlog ingest --format ndjson --ack -")]
pub struct Args {
    /// Input files; `-` or none for stdin.
    pub files: Vec<PathBuf>,
    /// Input format.
    #[arg(long, default_value = "csv", value_parser = ["csv", "ndjson", "tweet-ids"])]
    pub format: String,
    /// CSV column order, e.g. tag,timestamp,count (other names: ignored
    /// columns; label:KEY, a key named in --labels, or one of an existing
    /// store's label keys: a label column).
    /// [default: timestamp,tag,count, or a file's header naming its columns]
    #[arg(long)]
    pub columns: Option<String>,
    /// Label keys (platform,region): declares them on a NEW store (at most
    /// 8); on an existing store they must be its keys. CSV columns with these
    /// names hold the labels.
    #[arg(long, value_name = "KEYS")]
    pub labels: Option<String>,
    /// The tag of every event (required with --format tweet-ids).
    #[arg(long)]
    pub tag: Option<String>,
    /// Events per batch (each batch is one atomic commit).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// When commits are made durable: every batch, every second, or only at the end.
    #[arg(long, default_value = "batch", value_parser = ["batch", "interval", "none"])]
    pub sync: String,
    /// Print `committed N` on stdout after every batch made durable.
    #[arg(long)]
    pub ack: bool,
    /// Reject the whole input, committing nothing, if any line is bad.
    #[arg(long)]
    pub strict: bool,
    /// How far past the store's now (its newest minute) or the current time,
    /// whichever is later, an event may lie; raise it to load input dated in
    /// the future.
    #[arg(long, default_value = "1d", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub max_future_skew: Duration,
    /// Minute retention of a NEW store (a duration such as `30d`, or
    /// `forever`; default 7d). An existing store keeps its own: change it
    /// with `trendlog retention`.
    #[arg(long, value_name = "DURATION", value_parser = crate::retention::parse_retention, allow_hyphen_values = true)]
    pub minute_retention: Option<crate::retention::Keep>,
    /// Hour retention of a NEW store (a duration or `forever`; default
    /// forever).
    #[arg(long, value_name = "DURATION", value_parser = crate::retention::parse_retention, allow_hyphen_values = true)]
    pub hour_retention: Option<crate::retention::Keep>,
    #[command(flatten)]
    pub totals: crate::compact::TotalsArgs,
}

enum Format {
    Csv(CsvLayout),
    Ndjson,
    TweetIds(String),
}

/// One input line: which input, its line number (from 1), its bytes.
struct Line {
    input: usize,
    no: u64,
    text: Vec<u8>,
}

/// Reads every input in order on a thread, sending lines in chunks; a chunk
/// is sent early whenever the reader would block, so slow pipes are not held
/// back.
fn spawn_reader(
    inputs: Vec<Box<dyn Read + Send>>,
    names: Vec<String>,
    read_bytes: Arc<AtomicU64>,
) -> Receiver<std::io::Result<Vec<Line>>> {
    let (tx, rx) = sync_channel::<std::io::Result<Vec<Line>>>(64);
    std::thread::spawn(move || {
        for (input, r) in inputs.into_iter().enumerate() {
            let mut r = BufReader::with_capacity(1 << 16, r);
            let mut chunk = Vec::with_capacity(1024);
            let mut no = 0;
            loop {
                let mut text = Vec::new();
                match r.read_until(b'\n', &mut text) {
                    Ok(0) => break,
                    Ok(n) => {
                        read_bytes.fetch_add(n as u64, Ordering::Relaxed);
                        no += 1;
                        chunk.push(Line { input, no, text });
                    }
                    Err(e) => {
                        // Named, and after the lines read before it.
                        let _ = tx.send(Ok(std::mem::take(&mut chunk)));
                        let named = format!("{} line {}: {e}", names[input], no + 1);
                        let _ = tx.send(Err(std::io::Error::new(e.kind(), named)));
                        return;
                    }
                }
                let flush = chunk.len() >= 1024 || r.buffer().is_empty();
                if flush && tx.send(Ok(std::mem::take(&mut chunk))).is_err() {
                    return;
                }
            }
            if !chunk.is_empty() && tx.send(Ok(chunk)).is_err() {
                return;
            }
        }
    });
    rx
}

/// One parsed line: `Ok(None)` for a line that holds no event (blank, header).
type Parsed = Result<Option<Event>, String>;

struct Parser {
    format: Format,
    /// The input whose first non-blank line has been seen (for CSV headers).
    header_checked: Vec<bool>,
    /// Without --columns: the label keys a CSV header may name, and each
    /// input's columns as its header named them.
    header_columns: Option<Vec<String>>,
    layouts: Vec<Option<CsvLayout>>,
    /// Per input, the line of a header that names its columns but cannot
    /// be read: every later line of that input is refused.
    broken: Vec<Option<u64>>,
    /// Input names, for notes.
    names: Vec<String>,
    /// --strict: a first line that looks like a header but names no
    /// timestamp and tag column is a bad line, not a note.
    strict: bool,
    /// NDJSON on a labelled store: the top-level keys that look like labels
    /// given outside the `labels` object (each label key, and misspellings
    /// of `labels`); empty on a store without label keys.
    stray_names: Vec<String>,
    /// Lines that had such a key, and the first.
    strays: Strays,
    /// NDJSON lines without a count but with a key that reads as one, not
    /// one of its names as spelled (`"Count"`, `"cnt"`): ignored, so each
    /// such line counted 1.
    count_strays: Strays,
}

/// How many lines gave a key that is ignored but looks meant, and where
/// the first was (input, line number, key).
#[derive(Default)]
struct Strays {
    lines: u64,
    first: Option<(usize, u64, String)>,
}

impl Strays {
    fn saw(&mut self, line: &Line, key: &str) {
        self.lines += 1;
        self.first
            .get_or_insert_with(|| (line.input, line.no, key.to_string()));
    }
}

/// Whether an ignored NDJSON key looks like a misspelt count: another case
/// of `count`, `value` or `n`, or `counts` / `cnt` in any case.
fn looks_like_count(key: &str) -> bool {
    ["count", "value", "counts", "cnt"]
        .iter()
        .any(|name| key.eq_ignore_ascii_case(name))
        || key == "N"
}

impl Parser {
    fn parse(&mut self, line: &Line) -> Parsed {
        let Ok(text) = std::str::from_utf8(&line.text) else {
            return Err("the line is not valid UTF-8".into());
        };
        let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if t.is_empty() {
            return Ok(None);
        }
        let first = !std::mem::replace(&mut self.header_checked[line.input], true);
        match &self.format {
            Format::Csv(layout) => {
                if let Some(no) = self.broken[line.input] {
                    return Err(format!(
                        "the header (line {no}) could not be read, so this input's columns \
                         are unknown"
                    ));
                }
                if first && is_csv_header(text, layout) {
                    let named = match csv_header(self.header_columns.as_deref(), t) {
                        Header::Layout(named) => named,
                        Header::Skipped if self.strict && self.header_columns.is_some() => {
                            return Err("the first line is neither an event (its timestamp does \
                                        not parse) nor a header naming a timestamp and a tag \
                                        column"
                                .into())
                        }
                        Header::Skipped => {
                            err_line!(
                                "{}:{}: taken as a header and skipped (it names no timestamp \
                                 and tag column)",
                                self.names[line.input],
                                line.no,
                            );
                            None
                        }
                        Header::Broken(why) => {
                            // Every line after it would be read against
                            // columns it does not have.
                            self.broken[line.input] = Some(line.no);
                            return Err(why);
                        }
                    };
                    if let Some(l) = &named {
                        let at = format!("{}:{}: header", self.names[line.input], line.no);
                        say_ignored(
                            &at,
                            l,
                            self.header_columns.as_ref().is_some_and(Vec::is_empty),
                        );
                    }
                    self.layouts[line.input] = named;
                    return Ok(None);
                }
                let layout = self.layouts[line.input].as_ref().unwrap_or(layout);
                let e = parse_csv_line(text, layout).map_err(|e| {
                    if t.starts_with('{') && t.ends_with('}') {
                        "the line is a JSON object, read as CSV: NDJSON input needs \
                         --format ndjson"
                            .to_string()
                    } else {
                        trim_invalid(&e)
                    }
                })?;
                Ok(Some(e))
            }
            Format::Ndjson => {
                let (e, others, count_given) =
                    parse_ndjson_line_keys(text).map_err(|e| trim_invalid(&e))?;
                if let Some(key) = others.iter().find(|k| self.stray_names.contains(k)) {
                    self.strays.saw(line, key);
                }
                if let Some(key) = others.iter().find(|k| !count_given && looks_like_count(k)) {
                    self.count_strays.saw(line, key);
                }
                Ok(Some(e))
            }
            Format::TweetIds(tag) => {
                match parse_tweet_id_line(text).map_err(|e| trim_invalid(&e))? {
                    None => Ok(None),
                    Some(id) => {
                        let ts = tweet_id_to_unix(id).map_err(|e| trim_invalid(&e))?;
                        Ok(Some(Event {
                            ts,
                            tag: tag.clone(),
                            count: 1,
                            labels: Vec::new(),
                        }))
                    }
                }
            }
        }
    }
}

/// What a CSV input's header line is.
enum Header {
    /// Without --columns, the columns it names as --columns would (`None`
    /// with --columns, where a header's names do not matter).
    Layout(Option<CsvLayout>),
    /// Skipped: it names no timestamp and tag column at all.
    Skipped,
    /// It names a timestamp and a tag column but cannot be read as a layout
    /// (a label column twice, a column without a name, a label key that is
    /// also a role's name as in `--labels count`): why.
    Broken(String),
}

/// Reads a CSV input's header line `t`; `keys`: without --columns, the label
/// keys it may name.
fn csv_header(keys: Option<&[String]>, t: &str) -> Header {
    let Some(k) = keys else {
        return match CsvLayout::parse_with_labels(t, &[]) {
            Ok(_) => Header::Layout(None),
            Err(_) => Header::Skipped,
        };
    };
    match CsvLayout::parse_with_labels(t, k) {
        Ok(named) => Header::Layout(Some(named)),
        Err(e) if names_ts_and_tag(t) || CsvLayout::parse_with_labels(t, &[]).is_ok() => {
            Header::Broken(trim_invalid(&e))
        }
        Err(_) => Header::Skipped,
    }
}

/// Whether a header line names a timestamp column and a tag column (by
/// any of their names, quoted or not), whatever else it holds.
fn names_ts_and_tag(t: &str) -> bool {
    let roles: Vec<Option<&str>> = t
        .split(',')
        .map(|n| crate::parse::column_role(&n.trim().trim_matches('"').trim().to_ascii_lowercase()))
        .collect();
    roles.contains(&Some("timestamp")) && roles.contains(&Some("tag"))
}

/// Counters and the rejected-line report.
struct Tally {
    names: Vec<String>,
    /// The run's inputs as its source positions name them; `None` when the
    /// store's position is another writer's, left as it is.
    mark: Option<String>,
    read: u64,
    accepted: u64,
    rejected: u64,
    counted: u64,
    /// The latest accepted event's time, input and line.
    latest: Option<(i64, usize, u64)>,
    /// The latest time of the other accepted events (the line above aside).
    runner_up: Option<i64>,
    /// The earliest accepted event's time.
    earliest: Option<i64>,
    /// Whether a line was refused for naming a label key the store lacks
    /// (`.0`), or for carrying labels at all (`.1`, on a store without keys).
    key_rejects: (bool, bool),
    /// Input lines, accepted lines and events committed so far.
    committed: (u64, u64, u64),
    /// Lines refused as older than the hour retention.
    too_old: u64,
}

impl Tally {
    /// Counts an accepted event of line `no` of input `input`.
    fn accept(&mut self, input: usize, no: u64, ev: &Event) {
        self.accepted += 1;
        self.counted = self.counted.saturating_add(ev.count);
        match self.latest {
            Some((t, ..)) if ev.ts <= t => {
                self.runner_up = Some(self.runner_up.map_or(ev.ts, |r| r.max(ev.ts)));
            }
            previous => {
                self.runner_up = previous.map(|(t, ..)| t).or(self.runner_up);
                self.latest = Some((ev.ts, input, no));
            }
        }
        self.earliest = Some(self.earliest.map_or(ev.ts, |t| t.min(ev.ts)));
    }

    /// Notes that everything read so far is committed.
    fn committed_now(&mut self) {
        self.committed = (self.read, self.accepted, self.counted);
    }

    /// Rejects a line the store refused to add.
    fn reject_add(&mut self, line: &Line, e: &trendlog::Error) {
        match e {
            trendlog::Error::InvalidInput(InvalidInput::UnknownLabelKey { .. }) => {
                self.key_rejects.0 = true
            }
            trendlog::Error::InvalidInput(InvalidInput::BadLabels(_)) => self.key_rejects.1 = true,
            trendlog::Error::InvalidInput(InvalidInput::TooOld { .. }) => self.too_old += 1,
            _ => {}
        }
        self.reject(line, &trim_invalid(e));
    }

    fn reject(&mut self, line: &Line, why: &str) {
        self.rejected += 1;
        if self.rejected <= SHOW_REJECTED {
            err_line!("{}:{}: {why}", self.names[line.input], line.no);
        }
    }
}

struct Acker {
    on: bool,
    /// The last number of lines acknowledged.
    last: Option<u64>,
}

impl Acker {
    fn ack(&mut self, lines: u64) -> Result<(), Fail> {
        if self.on && self.last != Some(lines) {
            let mut o = std::io::stdout().lock();
            writeln!(o, "committed {lines}")?;
            o.flush()?;
            self.last = Some(lines);
        }
        Ok(())
    }
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    out::not_a_file(&g.db)?;
    let mut keys = match &a.labels {
        Some(l) if l.trim().is_empty() => {
            // An unlabelled store is one without --labels; an empty list
            // is more likely a script's empty variable than that.
            return Err(Fail::usage(
                "--labels names no key; give the keys (--labels platform,region), or leave \
                 --labels out for a store without labels"
                    .to_string(),
            ));
        }
        Some(l) => LabelKeys::parse(l).map_err(|e| Fail::usage(format!("--labels: {e}")))?,
        None => LabelKeys::default(),
    };
    let mut format = match a.format.as_str() {
        "csv" => {
            let columns = a.columns.as_deref().unwrap_or(DEFAULT_COLUMNS);
            // Without --columns only a --labels key can spoil the layout.
            let flag = if a.columns.is_some() {
                "--columns"
            } else {
                "--labels"
            };
            let layout = CsvLayout::parse_with_labels(columns, keys.names())
                .map_err(|e| Fail::usage(format!("{flag}: {e}")))?;
            if keys.is_empty() && !layout.label_keys().is_empty() {
                // label:KEY columns without --labels declare the keys, in
                // column order, for a new store.
                keys = LabelKeys::new(layout.label_keys())
                    .map_err(|e| Fail::usage(format!("--columns: {e}")))?;
            }
            Format::Csv(layout)
        }
        "ndjson" => Format::Ndjson,
        _ => {
            let Some(tag) = &a.tag else {
                return Err(Fail::usage(
                    "--format tweet-ids needs --tag TAG, the tag of every id",
                ));
            };
            trendlog::tag::normalize(tag).map_err(|e| Fail::usage(format!("--tag: {e}")))?;
            Format::TweetIds(tag.clone())
        }
    };
    if a.tag.is_some() && !matches!(format, Format::TweetIds(_)) {
        return Err(Fail::usage("--tag is only used with --format tweet-ids"));
    }
    // Open every input before touching the store, so a typo changes nothing.
    let mut files = a.files.clone();
    if files.is_empty() {
        files.push(PathBuf::from("-"));
    }
    let mut inputs: Vec<Box<dyn Read + Send>> = Vec::new();
    let mut names = Vec::new();
    let mut total_bytes = Some(0u64);
    for f in &files {
        if f.as_os_str() == "-" {
            inputs.push(Box::new(std::io::stdin()));
            names.push("<stdin>".to_string());
            total_bytes = None;
        } else {
            let file = File::open(f)
                .map_err(|e| Fail::runtime(format!("cannot open {}: {e}", f.display())))?;
            // A directory opens, and fails only when read: refused before
            // anything is read or created.
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(Fail::runtime(format!(
                    "cannot read {}: it is a directory",
                    f.display()
                )));
            }
            if let (Some(t), Ok(m)) = (total_bytes.as_mut(), file.metadata()) {
                *t += m.len();
            }
            inputs.push(Box::new(file));
            names.push(f.display().to_string());
        }
    }
    let policy = match a.sync.as_str() {
        "batch" => SyncPolicy::EveryBatch,
        "interval" => SyncPolicy::Interval(SYNC_INTERVAL),
        _ => SyncPolicy::Manual,
    };
    let existed = g.db.join("MANIFEST").exists();
    // Files of the user's where this run may create a store (a mistyped
    // --db naming a folder of other things): said once it is created.
    let strangers: Vec<String> = if existed {
        Vec::new()
    } else {
        std::fs::read_dir(&g.db)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            // Hidden files (.gitkeep, .DS_Store) and a file system's
            // lost+found are no sign of a mistyped --db.
            .filter(|n| {
                !Store::is_store_file_name(n)
                    && !n.ends_with(".tmp")
                    && !n.starts_with('.')
                    && n != "lost+found"
            })
            .collect()
    };
    let peeks =
        matches!(format, Format::Csv(_) if a.columns.is_none()) || matches!(format, Format::Ndjson);
    if !existed && a.labels.is_none() && peeks {
        // A new store takes its label keys from the first input's first
        // line (an export's): the label:KEY columns of a CSV header, as
        // from --columns, or the keys of an NDJSON line's labels object.
        if let Some(first) = inputs.first_mut() {
            let (line, reader) = peek_line(std::mem::replace(first, Box::new(std::io::empty())))
                .map_err(|e| Fail::runtime(format!("reading {}: {e}", names[0])))?;
            *first = reader;
            let named: Vec<String> = match &format {
                Format::Csv(_) if is_csv_header(&line, &CsvLayout::default()) => {
                    CsvLayout::parse_with_labels(line.trim(), &[])
                        .map(|l| l.label_keys().iter().map(|k| k.to_string()).collect())
                        .unwrap_or_default()
                }
                Format::Ndjson => parse_ndjson_line(&line)
                    .map(|e| e.labels.into_iter().map(|(k, _)| k).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            if !named.is_empty() {
                keys = LabelKeys::new(named)
                    .map_err(|e| Fail::usage(format!("{}:1: {e}", names[0])))?;
            }
        }
    }
    if existed && a.labels.is_none() {
        // Keys read off label:KEY columns only declare a new store's keys;
        // an existing store checks each line's keys itself.
        keys = LabelKeys::default();
    }
    let opts = Options::default()
        .sync_policy(policy)
        .max_future_skew(a.max_future_skew)
        .future_skew_from_clock(true)
        .segment_tag_totals(a.totals.stored())
        .label_keys(keys);
    let opts = crate::retention::options_for_new_store(opts, a.minute_retention, a.hour_retention);
    let store = match Store::open(&g.db, opts) {
        Err(trendlog::Error::InvalidInput(InvalidInput::BadLabelKeys(why))) if existed => {
            return Err(Fail::usage(format!("{why}{}", empty_store_hint(&g.db))))
        }
        r => r?,
    };
    // Decided under the writer lock: `existed` above was looked at before
    // it, and another writer may have created the store since.
    let created = store.created();
    if created && !strangers.is_empty() {
        let mut shown = strangers.clone();
        shown.sort();
        let more = shown.len().saturating_sub(3);
        shown.truncate(3);
        err_line!(
            "trendlog: created a new store in {}, beside {} file{} that {} not the store's ({}{}); \
             if --db should name another directory, remove the store's files (LOCK, MANIFEST, \
             tags.*, log-*, seg-*) from this one",
            g.db.display(),
            strangers.len(),
            if strangers.len() == 1 { "" } else { "s" },
            if strangers.len() == 1 { "is" } else { "are" },
            shown.join(", "),
            if more > 0 { format!(", and {more} more") } else { String::new() },
        );
    }
    // The label columns a CSV header may name: the store's keys.
    let keys_named: Vec<String> = store.label_keys().names().to_vec();
    if let (Format::Csv(_), Some(columns), None) = (&format, &a.columns, &a.labels) {
        // A --columns name that is one of the store's label keys is that
        // label's column, as with --labels (never an ignored column: its
        // events would go to the unknown value without a word).
        format = Format::Csv(
            CsvLayout::parse_with_labels(columns, &keys_named)
                .map_err(|e| Fail::usage(format!("--columns: {e}")))?,
        );
    }
    if let (Format::Csv(layout), Some(_)) = (&format, &a.columns) {
        // Unknown names are ignored columns (the contract); say which, so
        // that a label column meant for a store without that key is not
        // dropped without a word.
        say_ignored("trendlog: --columns", layout, keys_named.is_empty());
    }
    let r = store.retention();
    let wanted = crate::retention::asked(r, a.minute_retention, a.hour_retention);
    if !existed {
        crate::retention::say_kept(wanted, r);
    } else if (a.minute_retention.is_some() || a.hour_retention.is_some())
        && wanted.normalized() != r
    {
        err_line!(
            "trendlog: the store exists and keeps its retention (minutes {}, hours {}); \
             change it with `trendlog retention`",
            crate::retention::describe(r.minute_minutes),
            crate::retention::describe(r.hour_minutes)
        );
    }

    let read_bytes = Arc::new(AtomicU64::new(0));
    let rx = spawn_reader(inputs, names.clone(), read_bytes.clone());
    let mut parser = Parser {
        format,
        header_checked: vec![false; files.len()],
        header_columns: a.columns.is_none().then(|| keys_named.clone()),
        layouts: vec![None; files.len()],
        broken: vec![None; files.len()],
        names: names.clone(),
        strict: a.strict,
        stray_names: if keys_named.is_empty() {
            Vec::new()
        } else {
            // The keys, and misspellings of "labels" (ignored as unknown).
            let typos = ["label", "Label", "Labels", "LABELS"].map(String::from);
            keys_named.iter().cloned().chain(typos).collect()
        },
        strays: Strays::default(),
        count_strays: Strays::default(),
    };
    // Each batch records how far the run got, unless the store's source
    // position is another writer's (a stream consumer's offset), which
    // this run must not overwrite.
    let mark = match store.source_position() {
        Some(p) if !p.starts_with(MARK.as_bytes()) => {
            err_line!(
                "trendlog: the store's source position ({}) is another writer's: this run \
                 leaves it as it is",
                String::from_utf8_lossy(&p)
            );
            None
        }
        _ => Some(names.join(", ")),
    };
    let read_before = store
        .source_position()
        .and_then(|p| committed_lines_of(&p, &names));
    let mut tally = Tally {
        names,
        mark,
        read: 0,
        accepted: 0,
        rejected: 0,
        counted: 0,
        latest: None,
        runner_up: None,
        earliest: None,
        key_rejects: (false, false),
        committed: (0, 0, 0),
        too_old: 0,
    };
    let now_before = store.snapshot().now_end();
    let first_minute_before = store.snapshot().earliest_minute().map(|m| m.to_unix());
    let mut acker = Acker {
        on: a.ack,
        // Nothing to say until a line is durable.
        last: Some(0),
    };
    let bar = progress_bar(total_bytes);
    let started = Instant::now();

    let result = if a.strict {
        ingest_strict(&store, &rx, &mut parser, &mut tally, &mut acker)
    } else {
        ingest_streaming(
            &store,
            &rx,
            &mut parser,
            &mut tally,
            &mut acker,
            &a,
            &bar,
            &read_bytes,
        )
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let elapsed = started.elapsed();
    if let (Ok(()), Some(lines)) = (&result, &read_before) {
        say_read_again(lines, now_before, &tally);
    }
    if result.is_ok() && !say_retention_cut(&store, now_before, &tally) {
        say_outlier_now(&store, now_before, first_minute_before, &tally);
    }
    if result.is_ok() {
        say_stray_labels(&parser, &tally);
        say_stray_counts(&parser, &tally);
    }
    // What this run wrote leaves the active log: sealed segments are sorted,
    // indexed and several times smaller, and the log is left empty.
    let sealed = store.seal();
    let closed = store.close();
    let failed = match (result, sealed, closed) {
        (Err(f), ..) => Some(f),
        (_, Err(e), _) | (_, _, Err(e)) => Some(Fail::from(e)),
        _ => None,
    };
    if let Some(f) = failed {
        // A run that created the store and failed before committing a line
        // leaves no store behind, as one that rejected every line does.
        if created && tally.committed.1 == 0 {
            remove_new_store(&g.db);
        }
        if !g.json && tally.committed.0 > 0 {
            err_line!(
                "trendlog: the first {} input lines of this run are committed (the store's \
                 source position says so too); a retry must start after them",
                out::thousands(tally.committed.0)
            );
        }
        if g.json {
            // A script still learns how far the run got: what was committed
            // before the failure is in the store.
            let (lines, accepted, events) = tally.committed;
            out::print_json(&serde_json::json!({
                "lines_read": tally.read,
                "accepted": tally.accepted,
                "events": tally.counted,
                "rejected": tally.rejected,
                "committed": accepted > 0,
                "committed_lines": lines,
                "committed_accepted": accepted,
                "committed_events": events,
                "seconds": elapsed.as_secs_f64(),
                "error": f.msg,
            }));
        }
        return Err(f);
    }
    // A run that created the store, rejected lines and committed none
    // leaves no store behind: the next ingest must not find one with no
    // events whose label keys (or none) and retention this run fixed. An
    // empty input still creates one (a way to declare its keys).
    let committed_nothing = tally.rejected > 0 && (a.strict || tally.accepted == 0);
    let removed = created && committed_nothing && remove_new_store(&g.db);
    if !a.strict || tally.rejected == 0 {
        acker.ack(tally.read)?;
    }

    // (Labels on a store without keys is refused as BadLabels; a key given
    // twice in one line is too, but that is the line's own fault.)
    let other_keys = tally.key_rejects.0 || (tally.key_rejects.1 && keys_named.is_empty());
    if created && other_keys && a.labels.is_none() {
        // The keys came from the first line, so a later line with other
        // keys reads as the user's mistake when it was the first line's.
        let keys = keys_named.join(",");
        let keys = if keys.is_empty() { "none" } else { &keys };
        if removed {
            err_line!(
                "trendlog: the label keys were taken from the first input's first line \
                 ({keys}), and lines with other keys were refused; to declare the keys, ingest \
                 with --labels KEY,..."
            );
        } else {
            err_line!(
                "trendlog: this run created the store with the label keys of its first input's \
                 first line ({keys}), and lines with other keys were refused; to declare the \
                 keys, remove {} and ingest with --labels KEY,...",
                g.db.display()
            );
        }
    }
    if tally.rejected > SHOW_REJECTED {
        err_line!(
            "… and {} more rejected lines",
            out::thousands(tally.rejected - SHOW_REJECTED)
        );
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    err_line!("lines read   {:>14}", out::thousands(tally.read));
    err_line!(
        "accepted     {:>14}  ({} events counted)",
        out::thousands(tally.accepted),
        out::thousands(tally.counted)
    );
    err_line!("rejected     {:>14}", out::thousands(tally.rejected));
    err_line!(
        "events/s     {:>14}  ({:.2} s)",
        out::thousands((tally.accepted as f64 / secs) as u64),
        secs
    );
    if g.json {
        // The summary for programs, after any --ack lines.
        out::print_json(&serde_json::json!({
            "lines_read": tally.read,
            "accepted": tally.accepted,
            "events": tally.counted,
            "rejected": tally.rejected,
            // Whether events were committed: never when none was accepted
            // (the store may then not even exist) or --strict refused them.
            "committed": tally.accepted > 0 && !(a.strict && tally.rejected > 0),
            "seconds": secs,
        }));
    }
    if tally.rejected > 0 {
        let not_created = if removed {
            ", and the store was not created"
        } else {
            ""
        };
        return Err(Fail::usage(if a.strict {
            format!(
                "{} line{} rejected, so nothing was committed (--strict){not_created}",
                out::thousands(tally.rejected),
                if tally.rejected == 1 {
                    " was"
                } else {
                    "s were"
                }
            )
        } else {
            format!(
                "{} line{} rejected; {}",
                out::thousands(tally.rejected),
                if tally.rejected == 1 {
                    " was"
                } else {
                    "s were"
                },
                if tally.accepted == 0 {
                    format!("no line was accepted, so nothing was ingested{not_created}")
                } else {
                    "every other line was ingested".to_string()
                }
            )
        }));
    }
    Ok(())
}

fn progress_bar(total_bytes: Option<u64>) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total_bytes {
        Some(t) => indicatif::ProgressBar::new(t).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40.cyan/blue} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .ok()?,
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {binary_bytes} read {msg}").ok()?,
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    Some(bar)
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the state of one ingest run"
)]
fn ingest_streaming(
    store: &Store,
    rx: &Receiver<std::io::Result<Vec<Line>>>,
    parser: &mut Parser,
    tally: &mut Tally,
    acker: &mut Acker,
    a: &Args,
    bar: &Option<indicatif::ProgressBar>,
    read_bytes: &AtomicU64,
) -> CmdResult {
    let mut batch: Option<Batch> = None;
    let mut last_sync = Instant::now();
    let mut synced_lines = 0u64;
    // Commits the open batch and acks what is durable: `synced_lines` is the
    // number of input lines whose events survive a crash.
    let commit = |batch: &mut Option<Batch>,
                  tally: &mut Tally,
                  acker: &mut Acker,
                  last_sync: &mut Instant,
                  synced_lines: &mut u64|
     -> CmdResult {
        // With no batch, or an empty one (its lines were all rejected),
        // nothing new is committed: only a sync makes earlier commits
        // durable (an empty commit would report itself durable).
        let durable = match batch.take().filter(|b| !b.is_empty()) {
            Some(mut b) => {
                mark_lines(&mut b, tally)?;
                let durable = b.commit()?.durable;
                tally.committed_now();
                durable
            }
            None => false,
        };
        let lines = tally.read;
        if durable {
            *synced_lines = lines;
        } else if a.sync == "interval" && last_sync.elapsed() >= SYNC_INTERVAL {
            store.sync()?;
            *last_sync = Instant::now();
            *synced_lines = lines;
        }
        if a.sync != "none" {
            acker.ack(*synced_lines)?;
        }
        Ok(())
    };
    // When the open batch was started.
    let mut opened: Option<Instant> = None;
    loop {
        let chunk = match rx.recv_timeout(IDLE_COMMIT) {
            Ok(Ok(c)) => Some(c),
            Ok(Err(e)) => {
                // The lines accepted before the failed read are kept.
                commit(&mut batch, tally, acker, &mut last_sync, &mut synced_lines)?;
                store.sync()?;
                return Err(Fail::runtime(format!(
                    "reading {e}; the events of the {} lines read before it are committed",
                    out::thousands(tally.read)
                )));
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        for line in chunk.iter().flatten() {
            tally.read += 1;
            match parser.parse(line) {
                Ok(None) => {}
                Err(why) => tally.reject(line, &why),
                Ok(Some(ev)) => {
                    if batch.is_none() {
                        opened = Some(Instant::now());
                    }
                    let b = batch.get_or_insert_with(|| store.batch());
                    match add_event(b, &ev) {
                        Ok(()) => tally.accept(line.input, line.no, &ev),
                        Err(e) if is_bad_input(&e) => tally.reject_add(line, &e),
                        // The store, not the line (damage met by a lookup, an
                        // I/O error): stop before anything else is committed
                        // or acknowledged.
                        Err(e) => return Err(e.into()),
                    }
                    if b.len() >= a.batch_size {
                        commit(&mut batch, tally, acker, &mut last_sync, &mut synced_lines)?;
                        opened = None;
                    }
                }
            }
        }
        // A partial batch waits at most IDLE_COMMIT, whether the input falls
        // silent or trickles (lines arriving more often than that never
        // leave it silent); under `--sync interval`, commits not yet durable
        // are synced and acknowledged once a sync is due, whether or not
        // another commit comes.
        let stale = opened.is_some_and(|t| t.elapsed() >= IDLE_COMMIT);
        let sync_due = a.sync == "interval"
            && synced_lines < tally.read
            && last_sync.elapsed() >= SYNC_INTERVAL;
        if stale || sync_due {
            commit(&mut batch, tally, acker, &mut last_sync, &mut synced_lines)?;
            opened = None;
        }
        if let Some(bar) = bar {
            bar.set_position(read_bytes.load(Ordering::Relaxed));
            bar.set_message(format!("{} lines", out::thousands(tally.read)));
        }
    }
    // (A batch whose every event the store refused holds nothing to commit.)
    if let Some(mut b) = batch.take().filter(|b| !b.is_empty()) {
        mark_lines(&mut b, tally)?;
        let durable = b.commit()?.durable;
        tally.committed_now();
        // Acknowledged as soon as durable: a seal the commit started may
        // have failed (a full disk), refusing the sync below, with these
        // lines in the store.
        if durable && a.sync != "none" {
            acker.ack(tally.read)?;
        }
    }
    store.sync()?;
    // Durable now: acknowledged before the seal that ends the run, which
    // may fail as well.
    if a.sync != "none" {
        acker.ack(tally.read)?;
    }
    Ok(())
}

/// How every source position an ingest run records starts.
const MARK: &str = "ingest lines ";

/// The source position every batch of a run carries: `ingest lines N of
/// INPUTS`, the input lines (of all the run's inputs together, headers and
/// rejected lines included, as `--ack` counts them) whose events are in the
/// store once the batch is. After a crash, `trendlog inspect` shows how far
/// the run got, acknowledged or not. Nothing when the store's position is
/// another writer's ([`Tally::mark`]).
fn mark_lines(b: &mut Batch, tally: &Tally) -> trendlog::Result<()> {
    match &tally.mark {
        Some(of) => b.set_source_position(format!("{MARK}{} of {of}", tally.read).into_bytes()),
        None => Ok(()),
    }
}

/// Adds one parsed event: with its labels on a labelled store (labels left
/// out are unknown), plainly otherwise (where labels are an error).
fn add_event(b: &mut Batch, ev: &Event) -> trendlog::Result<()> {
    if ev.labels.is_empty() && b.label_keys().is_empty() {
        return b.add(&ev.tag, ev.ts, ev.count);
    }
    let labels: Vec<(&str, &str)> = ev
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.add_labelled(&ev.tag, &labels, ev.ts, ev.count)
}

/// The first line of `r` (lossily decoded, for a header check), and a reader
/// that still yields every byte of `r` from the start.
fn peek_line(r: Box<dyn Read + Send>) -> std::io::Result<(String, Box<dyn Read + Send>)> {
    let mut r = std::io::BufReader::new(r);
    let mut first = Vec::new();
    std::io::BufRead::read_until(&mut r, b'\n', &mut first)?;
    let line = String::from_utf8_lossy(&first)
        .trim_start_matches('\u{feff}')
        .to_string();
    Ok((line, Box::new(std::io::Cursor::new(first).chain(r))))
}

/// Whether a refused add is the line's fault (reported, the rest goes on)
/// rather than the store's (damage, I/O: ingest stops, exit 1).
fn is_bad_input(e: &trendlog::Error) -> bool {
    matches!(e, trendlog::Error::InvalidInput(_))
}

fn trim_invalid(e: &trendlog::Error) -> String {
    let s = e.to_string();
    s.strip_prefix("invalid input: ")
        .map(str::to_string)
        .unwrap_or(s)
}

fn ingest_strict(
    store: &Store,
    rx: &Receiver<std::io::Result<Vec<Line>>>,
    parser: &mut Parser,
    tally: &mut Tally,
    _acker: &mut Acker,
) -> CmdResult {
    // Parse and check everything first; only a fully clean input is added,
    // as one atomic batch.
    let mut events = Vec::new();
    for chunk in rx.iter() {
        let chunk = chunk
            .map_err(|e| Fail::runtime(format!("reading {e}; nothing was committed (--strict)")))?;
        for line in &chunk {
            tally.read += 1;
            match parser.parse(line) {
                Ok(None) => {}
                Err(why) => tally.reject(line, &why),
                Ok(Some(ev)) => match trendlog::tag::normalize(&ev.tag) {
                    Ok(_) => events.push((line.input, line.no, ev)),
                    Err(e) => tally.reject(line, &trim_invalid(&e)),
                },
            }
        }
    }
    // The lines that parse are checked by the store too, even when others
    // did not parse, so that every bad line is named in one run (the batch
    // is dropped uncommitted when any line was bad).
    let mut batch = store.batch();
    for (input, no, ev) in &events {
        if let Err(e) = add_event(&mut batch, ev) {
            if !is_bad_input(&e) {
                return Err(e.into());
            }
            let line = Line {
                input: *input,
                no: *no,
                text: Vec::new(),
            };
            tally.reject_add(&line, &e);
        }
    }
    if tally.rejected > 0 {
        return Ok(());
    }
    for (input, no, ev) in &events {
        tally.accept(*input, *no, ev);
    }
    if !events.is_empty() {
        mark_lines(&mut batch, tally)?;
        batch.commit()?;
        tally.committed_now();
    }
    store.sync()?;
    Ok(())
}

/// Says on stderr, after `at`, which columns `layout` reads and drops (none:
/// nothing said); `no_keys`: the store has no label keys, which a new store
/// declares with --labels.
fn say_ignored(at: &str, layout: &CsvLayout, no_keys: bool) {
    let ignored = layout.ignored();
    if ignored.is_empty() {
        return;
    }
    err_line!(
        "{at}: ignoring column{} {} (not timestamp, tag, count or a label key of this store{}; \
         `_` ignores a column silently){}",
        if ignored.len() == 1 { "" } else { "s" },
        ignored.join(", "),
        if no_keys {
            ", which has none: a new store declares them with --labels"
        } else {
            ""
        },
        if layout.has_count() || !ignored.iter().any(|c| looks_like_a_count_column(c)) {
            ""
        } else {
            "; with no count column, every line counts 1 (name the count column `count`, \
             `value` or `n`, or give --columns)"
        }
    );
}

/// Whether an ignored CSV column's name suggests it holds counts
/// (`n_posts`, `tweet_count`, `volume`): then a layout without a count
/// column is likely a mistake. A file of one line per occurrence
/// (`created_at_utc,tweet_id,hashtag`) names none.
fn looks_like_a_count_column(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "count", "cnt", "num", "posts", "total", "volume", "freq", "value", "n_",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Warns when, at the end of the run, data is out of every read because of
/// where the run moved the store's now, and the next `compact` deletes it:
/// everything the store held before, when the now moved further than the
/// hour retention (one event with a wrong date, a year typed as this one in
/// a store of old data, does that: the future-skew check passes it, since
/// the date is not past the clock); or else this run's own earliest events,
/// when its later ones moved the now past them (a first load of more history
/// than the retention keeps). Names the line with the latest time, the cut,
/// and how to keep the data.
fn say_retention_cut(store: &Store, before: Option<i64>, tally: &Tally) -> bool {
    let r = store.retention();
    let (Some(hours), Some((ts, input, no)), Some(earliest)) =
        (r.hour_minutes, tally.latest, tally.earliest)
    else {
        return false;
    };
    let Some(end) = store.snapshot().now_end() else {
        return false;
    };
    // The newest minute, as `inspect` shows the store's now.
    let now = end - 60;
    let Some(cut) = r.retain_floor(u32::try_from(now / 60).ok()) else {
        return false;
    };
    let cut = i64::from(cut) * 60;
    let what = match before {
        Some(b) if end - b > i64::from(hours) * 60 => format!(
            "moved the store's now from {} to {}, further than its hour retention ({}): \
             everything held before {} is out of every read",
            out::when(b - 60),
            out::when(now),
            crate::retention::describe(Some(hours)),
            out::when(cut)
        ),
        _ if earliest < cut => format!(
            "moved the store's now to {}, so this run's events from {} to {} are older than the \
             hour retention ({}) and out of every read",
            out::when(now),
            out::when(earliest),
            out::when(cut),
            crate::retention::describe(Some(hours)),
        ),
        _ => return false,
    };
    // Lines refused as too old are not in the store: a longer retention
    // does not bring them back (their order in the input decided it, once
    // the store's now had passed them).
    let refused = match tally.too_old {
        0 => String::new(),
        1 => " This run also refused 1 line as older than the hour retention when it came \
              (after the store's now had passed it): it is not in the store; to keep it, \
              lengthen the retention and ingest it again."
            .to_string(),
        n => format!(
            " This run also refused {n} lines as older than the hour retention when they came \
             (after the store's now had passed them): they are not in the store; to keep them, \
             lengthen the retention and ingest them again."
        ),
    };
    err_line!(
        "trendlog: {}:{no} (at {}) {what}, and the next `compact` deletes that data. If that time is \
         wrong, or to keep the data, run `trendlog retention --hours forever` (or a longer \
         retention) before compacting.{refused}",
        tally.names[input],
        out::when(ts),
    );
    true
}

/// Says when one event moved the store's now further past every other
/// event (this run's and the store's) than the minute retention, and at
/// least a day: a wrong date a day ahead of the clock passes the
/// future-skew check, and then every minute held before it is read at 1h,
/// and rolled into hours for good by the next `compact`. A run whose events
/// are dense (a month's file) moves the now as far, and says nothing: only
/// a lone jump does.
fn say_outlier_now(
    store: &Store,
    before: Option<i64>,
    first_minute_before: Option<i64>,
    tally: &Tally,
) {
    let r = store.retention();
    let (Some(keep), Some((ts, input, no))) = (r.minute_minutes, tally.latest) else {
        return;
    };
    // The latest time held or read besides that line.
    let Some(next) = tally.runner_up.max(before.map(|b| b - 60)) else {
        return;
    };
    // A jump of at least a day: sparse real data under a short minute
    // retention (an hour) leaves gaps of hours between runs.
    if ts - next <= i64::from(keep).max(1440) * 60 {
        return;
    }
    let now = store.snapshot().now_end().map_or(ts, |e| e - 60);
    let Some(floor) = r.minute_floor(u32::try_from(now / 60).ok()) else {
        return;
    };
    let floor = i64::from(floor) * 60;
    let first = first_minute_before.into_iter().chain(tally.earliest).min();
    if first.is_none_or(|f| f >= floor) || now / 60 != ts / 60 {
        return;
    }
    err_line!(
        "trendlog: {}:{no} (at {}) lies {:.1} days past every other event of this run and the store \
         (the latest besides it: {}), further than the minute retention ({}), and moved the \
         store's now there: every minute held before {} is read at 1h only, and the next \
         `compact` rolls those minutes into hours for good. If that time is wrong, or to keep \
         the minutes, run `trendlog retention --minutes forever` (or a longer retention) before \
         compacting; a store's now never moves back.",
        tally.names[input],
        out::when(ts),
        (ts - next) as f64 / 86_400.0,
        out::when(next),
        crate::retention::describe(Some(keep)),
        out::when(floor),
    );
}

/// How many lines of these very files (`names`, never stdin) the store's
/// source position records an earlier run as having committed.
fn committed_lines_of(position: &[u8], names: &[String]) -> Option<String> {
    let position = String::from_utf8_lossy(position);
    let (lines, of) = position.strip_prefix(MARK)?.split_once(" of ")?;
    (!names.iter().any(|n| n == "<stdin>") && of == names.join(", ")).then(|| lines.to_string())
}

/// Says when this run read again the files whose first `lines` lines the
/// store's position recorded as committed, and its events start within the
/// time the store already held (before `before`, its previous now): ingest
/// reads every line it is given, so if those lines are the ones committed
/// before (the same file read again, or grown since), they count twice. A
/// file of the same name holding only new data (a daily `today.csv`)
/// starts past the old now and is not named.
fn say_read_again(lines: &str, before: Option<i64>, tally: &Tally) {
    let (Some(earliest), Some(before)) = (tally.earliest, before) else {
        return;
    };
    if earliest >= before {
        return;
    }
    err_line!(
        "trendlog: an earlier run committed the first {lines} lines of {}, and this run read \
         {} again from the first line, from {}, within the time the store already held: if \
         those lines are the same, they are now counted twice (ingest never skips lines itself: \
         to resume, give it the lines after them, `tail -n +{} FILE`)",
        tally.names.join(", "),
        if tally.names.len() == 1 { "it" } else { "them" },
        out::when(earliest),
        lines
            .parse::<u64>()
            .map_or(lines.to_string(), |n| (n + 1).to_string()),
    );
}

/// Says when NDJSON lines gave a label outside their `labels` object (a
/// top-level `"platform"`, or `"label"`): ignored as any other unknown key,
/// so the labels they meant went to the unknown value.
fn say_stray_labels(parser: &Parser, tally: &Tally) {
    let Some((input, no, key)) = &parser.strays.first else {
        return;
    };
    let n = parser.strays.lines;
    let lines = if n == 1 {
        "1 line gave a key there".to_string()
    } else {
        format!("{n} lines gave such keys there")
    };
    err_line!(
        "trendlog: {}:{no}: the object gives {key:?} outside its \"labels\" object, where no \
         label is read: {lines}, ignored, so the labels they meant were stored as unknown. \
         Give labels as {{\"labels\":{{\"{}\":\"...\"}}}}.",
        tally.names[*input],
        parser.stray_names[0],
    );
}

/// Says when NDJSON lines gave a key that reads as the count but is not
/// one of its names (`"Count"`, `"cnt"`), and no count: ignored as any
/// other unknown key, so each counted 1.
fn say_stray_counts(parser: &Parser, tally: &Tally) {
    let Some((input, no, key)) = &parser.count_strays.first else {
        return;
    };
    let lines = match parser.count_strays.lines {
        1 => "1 such line".to_string(),
        n => format!("{n} such lines"),
    };
    err_line!(
        "trendlog: {}:{no}: the object gives {key:?} but no count, so it counted 1 ({lines}): \
         the count is read from \"count\", \"value\" or \"n\", spelled exactly so.",
        tally.names[*input],
    );
}

/// Removes the store this run created at `db` and committed nothing to:
/// the files a store writes ([`Store::is_store_file_name`]; anything else there is
/// left) but its `LOCK`, which stays with the directory: a lock file is
/// never unlinked, since a writer that opened it before the unlink could
/// lock the nameless file while a later one locks a new `LOCK`, both
/// writing. It first takes that lock again, so that a writer that opened
/// the store since this run closed it is never undone, and checks that the
/// store still holds no cell or event. False, leaving everything, when the
/// lock is taken or the store holds anything.
fn remove_new_store(db: &std::path::Path) -> bool {
    let lock_path = db.join("LOCK");
    let Ok(lock) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
    else {
        return false;
    };
    if lock.try_lock().is_err() {
        return false;
    }
    let empty = Store::open_read_only(db).is_ok_and(|s| {
        let st = s.snapshot().stats();
        st.total_count == 0 && st.cells == 0
    });
    if !empty {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(db) else {
        return false;
    };
    let Ok(paths) = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
    else {
        return false;
    };
    let mut paths: Vec<_> = paths
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n != "LOCK" && Store::is_store_file_name(n))
        })
        .collect();
    // The manifest first: without it nothing here is a store.
    paths.sort_by_key(|p| !p.ends_with("MANIFEST"));
    let removed = paths.iter().all(|p| std::fs::remove_file(p).is_ok());
    drop(lock);
    removed
}

/// When the store at `db` holds nothing (an earlier ingest committed no
/// line, yet created it and fixed its label keys), how to start over.
fn empty_store_hint(db: &std::path::Path) -> String {
    let empty = Store::open_read_only(db).is_ok_and(|s| {
        let st = s.snapshot().stats();
        st.tags == 0 && st.total_count == 0
    });
    if empty {
        format!(
            "; the store holds no events (an earlier ingest committed nothing): remove {} \
             and ingest again to declare other keys",
            db.display()
        )
    } else {
        String::new()
    }
}
