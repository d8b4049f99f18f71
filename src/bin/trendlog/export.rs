//! `trendlog export`: every tag's non-zero buckets, as CSV or NDJSON that
//! `trendlog ingest` reads back into the same data.

use std::io::{BufWriter, Write};

use trendlog::time::{Step, TimeRange};

use crate::out::{self, CmdResult, Fail};
use crate::Global;

/// Write every tag's non-zero buckets as `timestamp,tag,count` (CSV, with a
/// header line) or NDJSON, so `export | ingest` into an empty store
/// reproduces the data.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Rows are in time order, then tag; timestamps are bucket starts in unix seconds. Without --step, minutes are written at 1m and any
range held in 1h buckets only (older than the minute retention) at 1h, so nothing held is lost;
what was written at which step is stated on stderr; an absolute --from or --to inside an hour held
only as its 1h bucket is refused (it would cut that bucket; a relative one, -10d, is widened). --step 1m without --from is refused when
part of the data is held in 1h buckets only, rather than leaving that part out. A tag whose normalised form
starts with # is written with one more # (ingest removes one), so every tag survives the round trip.
A copy gets a new store's retention (minutes 7 d, hours forever) unless ingest is given this
store's, which stderr names when it differs or hours are written; and a 1h row looks like a
minute's to ingest, which holds it at its hour's first minute: with this store's retention the
copy rolls those hours up and refuses minute questions about them, as this store does (when the
minute retention was lengthened after a roll-up, stderr names the steps that give the copy the
same first minute).

With --json (and no --format), one JSON document: an array of the NDJSON rows (for programs;
ingest reads CSV and NDJSON).

A labelled store writes one row per series: CSV gains a label:KEY column per label key (the
empty value is unknown), NDJSON a \"labels\" object; read them back with
  trendlog --db new ingest all.csv   (the header's label: columns declare the keys)
  trendlog --db new ingest --format ndjson --labels platform,region all.ndjson

Example:
  trendlog --db old export > all.csv
  trendlog --db new ingest all.csv")]
pub struct Args {
    /// Start of the range (inclusive).
    #[arg(long, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// End of the range (exclusive).
    #[arg(long, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Bucket width: 1m, 1h or 1d (default: the finest held).
    #[arg(long, value_parser = out::parse_step, allow_hyphen_values = true)]
    pub step: Option<Step>,
    /// Output format [default: csv; with --json and no --format, one JSON
    /// array of the NDJSON rows].
    #[arg(long, value_parser = ["csv", "ndjson"])]
    pub format: Option<String>,
    /// For a store `verify` calls damaged: write every count that can still
    /// be read (each segment group, log block and tag name whose checksum
    /// holds), at 1m for minutes and 1h for hourly buckets, name on stderr
    /// each part left out, and exit 1 when anything was. Load the output
    /// into a new store with `ingest`.
    #[arg(long, conflicts_with_all = ["from", "to", "step"])]
    pub salvage: bool,
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    if a.salvage {
        return salvage(g, &a);
    }
    let store = out::open_read(&g.db)?;
    let snap = store.snapshot();
    // The parts to write: (range, step).
    let mut parts = Vec::new();
    match a.step {
        Some(step) => {
            if step == Step::Minute && a.from.is_none() {
                if let Some((first, minutes)) = out::hours_only_before(&snap) {
                    return Err(Fail::usage(format!(
                        "--step 1m cannot export everything held: the data from {} to {} is \
                         held in 1h buckets only, and a 1m export would leave it out. Leave out \
                         --step to write those hours at 1h and the rest at 1m, use --step 1h, \
                         or give --from {} to export the minutes alone",
                        out::when(first - first.rem_euclid(Step::Hour.seconds())),
                        out::when(minutes),
                        out::when(minutes)
                    )));
                }
            }
            let (f, t) = out::resolve_range(&snap, a.from.as_deref(), a.to.as_deref(), step)?;
            parts.push((f, t, step));
        }
        None => {
            // An explicit edge inside an hour held only as its hourly bucket
            // cannot be kept: widening it to the hour would write that
            // bucket in two adjacent exports, counted twice on ingest.
            // (A time relative to now, such as -10d, is minute-aligned
            // and rarely a whole hour: it is widened to the hour, and the
            // range written is stated on stderr.)
            for (flag, text) in [("--from", &a.from), ("--to", &a.to)] {
                if let Some(text) = text {
                    if !crate::parse::is_relative_time(text) {
                        let t = out::resolve_time(flag, text, &snap)?;
                        out::refuse_edge_inside_an_hour(&snap, flag, t)?;
                    }
                }
            }
            // Hours where minutes are rolled up, minutes from there on. The
            // first minute held at minute resolution is hour-aligned whenever
            // hourly data lies before it.
            let (hf, ht) =
                out::resolve_range(&snap, a.from.as_deref(), a.to.as_deref(), Step::Hour)?;
            // (From the earliest time held: the part is cut at the first
            // minute held below, and is empty when --to comes before it.)
            let (mf, mt) =
                out::resolve_range_held(&snap, a.from.as_deref(), a.to.as_deref(), Step::Minute)?;
            let first_minute = snap.earliest_minute().map_or(mf, |m| m.to_unix());
            let rolled = snap.earliest_time().is_some_and(|t| t < first_minute);
            if rolled && hf < first_minute {
                parts.push((hf, first_minute.min(ht), Step::Hour));
            }
            parts.push((mf.max(first_minute), mt, Step::Minute));
        }
    }
    // Every part is checked before anything is said or written: a refusal
    // leaves stdout empty, never half a document.
    for &(from, to, step) in &parts {
        if from < to {
            snap.check_held(TimeRange::new(from, to)?, step)?;
        }
    }
    if let (Some(_), Some(&(from, _, _))) = (&a.from, parts.first()) {
        out::say_dropped_before(
            "export",
            &store,
            &snap,
            from,
            "nothing before it is written",
        );
    }
    if a.step.is_none() || a.from.is_none() || a.to.is_none() {
        let text: Vec<String> = parts
            .iter()
            .filter(|p| p.0 < p.1)
            .map(|&(f, t, step)| {
                format!("{step} buckets from {} to {}", out::when(f), out::when(t))
            })
            .collect();
        out::say_used(
            "export",
            &if text.is_empty() {
                "nothing held in this range".to_string()
            } else {
                text.join(", then ")
            },
        );
    }
    // A copy made with `ingest` gets a new store's retention unless given
    // this one's; and it cannot tell an hour's row from a minute's: it
    // holds each at its hour's first minute, and would answer minute
    // questions about those hours that this store refuses, unless it too
    // keeps minutes no longer than they are held here.
    let r = store.retention();
    let hours = a.step.is_none() && parts.iter().any(|p| p.0 < p.1 && p.2 == Step::Hour);
    if hours || r != trendlog::Retention::default() {
        let why = if hours {
            "the 1h rows are whole hours, each at its hour's start; an `ingest` of them holds \
             each as one minute, so a copy keeping minutes longer than this store answers \
             minute questions about those hours with the hour's total in its first minute"
        } else {
            "a copy made with `ingest` keeps minutes 7 d and hours forever unless told \
             otherwise"
        };
        let advice = match rolled_before_retention(&snap, &r).filter(|_| hours) {
            // The minute retention was lengthened after these hours were
            // rolled up: this store's retention would keep them as minutes
            // in the copy. A retention reaching exactly to the first minute
            // held rolls them up; the copy then takes this store's.
            Some((keep, first_minute)) => format!(
                "this store holds minutes from {} only (its minute retention was lengthened \
                 after older ones were rolled up), so give the copy `ingest --minute-retention \
                 {keep}h --hour-retention {}`, then run `trendlog compact` on it and only then \
                 `trendlog retention --minutes {}`",
                out::when(first_minute),
                retention_flag(r.hour_minutes),
                retention_flag(r.minute_minutes)
            ),
            None => format!(
                "give the copy this store's retention, `ingest --minute-retention {} \
                 --hour-retention {}`",
                retention_flag(r.minute_minutes),
                retention_flag(r.hour_minutes)
            ),
        };
        out::say_used("export", &format!("{why}: {advice}"));
    }
    let keys = snap.label_keys().clone();
    if !keys.is_empty() {
        let cols: Vec<String> = keys.names().iter().map(|k| format!("label:{k}")).collect();
        out::say_used(
            "export",
            &format!(
                "labels {keys}: read back with `ingest --columns timestamp,tag,count,{}` (CSV) \
                 or `ingest --format ndjson --labels {keys}`",
                cols.join(",")
            ),
        );
    }
    let mut sink = Sink::open(g, &a, keys.names())?;
    for (from, to, step) in parts {
        if from >= to {
            continue;
        }
        let mut rows = snap.buckets(TimeRange::new(from, to)?, step)?;
        // Time order, so re-ingest never sees an event far ahead of the
        // store's now (which it would reject as clock skew).
        rows.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        for (key, ts, count) in rows {
            sink.held_row(ts, &key, count, keys.names())?;
        }
    }
    sink.finish()?;
    Ok(())
}

/// `export --salvage`: what [`trendlog::salvage::salvage`] reads of a
/// damaged store, written as an export, and what it left out on stderr.
fn salvage(g: &Global, a: &Args) -> CmdResult {
    out::require_dir(&g.db)?;
    let s =
        trendlog::salvage::salvage(&g.db, &trendlog::Options::default()).map_err(|e| match e {
            trendlog::Error::Corrupted(c) if c.file.ends_with("MANIFEST") => {
                Fail::runtime(format!(
                    "cannot salvage: {c}. The manifest alone says which segment files are live \
                 (an interrupted compaction leaves files that would be counted twice)"
                ))
            }
            e => Fail::from(e),
        })?;
    for l in &s.lost {
        let events = match l.events {
            Some(0) => String::new(),
            Some(n) => format!(" ({n} events)"),
            None => String::new(),
        };
        err_line!(
            "export: left out {} at byte {}: {}{events}",
            l.file.display(),
            l.offset,
            l.what
        );
    }
    let r = s.retention;
    let expired = if s.expired_events > 0 {
        format!(
            "; {} events older than the hour retention left out, as every read leaves them out",
            s.expired_events
        )
    } else {
        String::new()
    };
    out::say_used(
        "export",
        &format!(
            "salvaged {} rows, {} events{expired}; load them into a new store with this store's \
             retention, `ingest --minute-retention {} --hour-retention {}`",
            s.rows.len(),
            s.events(),
            retention_flag(r.minute_minutes),
            retention_flag(r.hour_minutes)
        ),
    );
    let mut sink = Sink::open(g, a, &s.label_keys)?;
    for row in &s.rows {
        let key = s.name(row.id).unwrap_or_default();
        sink.held_row(row.ts, key, row.count, &s.label_keys)?;
    }
    sink.finish()?;
    match s.lost.len() {
        0 => Ok(()),
        n => Err(Fail::runtime(format!(
            "the store is damaged: {n} part(s) could not be read and were left out (named \
             above); every other count was written"
        ))),
    }
}

/// Where the rows go: CSV through the `csv` crate (which quotes a tag that
/// holds a comma or a quote), one JSON object per line, or (`--json`) one
/// JSON array of those objects (`true` until the first row is written).
enum Sink<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Ndjson(W),
    Json(W, bool),
}

impl Sink<BufWriter<out::PipeOut>> {
    /// The sink `a` asks for, on stdout, its CSV header written. A reader
    /// that stops early (`export | head`) ends the export quietly, exit 0
    /// (out::PipeOut). An explicit --format wins over the global --json
    /// (scripts that pass --json to every command keep getting what they
    /// asked export for).
    fn open(g: &Global, a: &Args, keys: &[String]) -> std::io::Result<Self> {
        let mut w = BufWriter::with_capacity(1 << 16, out::pipe_out());
        Ok(if g.json && a.format.is_none() {
            w.write_all(b"[")?;
            Sink::Json(w, true)
        } else if a.format.as_deref().unwrap_or("csv") == "csv" {
            let mut c = csv::Writer::from_writer(w);
            let mut head = vec!["timestamp".to_string(), "tag".into(), "count".into()];
            head.extend(keys.iter().map(|k| format!("label:{k}")));
            c.write_record(&head).map_err(std::io::Error::from)?;
            Sink::Csv(Box::new(c))
        } else {
            Sink::Ndjson(w)
        })
    }
}

impl<W: Write> Sink<W> {
    /// One row of a key as the store holds it (a tag, or a series key split
    /// into its tag and values). Values are normalised like tags: one
    /// starting with `#` needs another to read back as itself.
    fn held_row(&mut self, ts: i64, key: &str, count: u64, keys: &[String]) -> std::io::Result<()> {
        let (tag, values) = trendlog::labels::split_series_key(key);
        let values: Vec<std::borrow::Cow<'_, str>> = values.map(out::typed).collect();
        let values: Vec<&str> = values.iter().map(|v| v.as_ref()).collect();
        self.row(ts, &out::typed(tag), count, keys, &values)
    }

    /// One row; `keys` and `values` are the series' labels (none when the
    /// store has no label keys).
    fn row(
        &mut self,
        ts: i64,
        tag: &str,
        count: u64,
        keys: &[String],
        values: &[&str],
    ) -> std::io::Result<()> {
        match self {
            Sink::Csv(c) if values.is_empty() => {
                Ok(c.write_record([&ts.to_string(), tag, &count.to_string()])?)
            }
            Sink::Csv(c) => {
                let (ts, count) = (ts.to_string(), count.to_string());
                let mut rec = vec![ts.as_str(), tag, count.as_str()];
                rec.extend_from_slice(values);
                Ok(c.write_record(&rec)?)
            }
            Sink::Ndjson(w) => writeln!(w, "{}", json_row(ts, tag, count, keys, values)),
            Sink::Json(w, first) => {
                let sep = if std::mem::take(first) { "" } else { "," };
                write!(w, "{sep}\n{}", json_row(ts, tag, count, keys, values))
            }
        }
    }

    /// Flushes everything written, so a failure (a closed pipe) is seen here.
    fn finish(self) -> std::io::Result<()> {
        let mut w = match self {
            Sink::Csv(c) => c.into_inner().map_err(|e| e.into_error())?,
            Sink::Ndjson(w) => w,
            Sink::Json(mut w, _) => {
                w.write_all(b"\n]\n")?;
                w
            }
        };
        w.flush()
    }
}

/// One row as a JSON object: `{"ts","tag","count"}`, and `"labels"` when the
/// store has label keys, its keys in the store's order (a JSON map of this
/// crate's would sort them, and `ingest` takes a new store's keys from that
/// order). Keys are written in byte order otherwise, as every JSON output.
fn json_row(ts: i64, tag: &str, count: u64, keys: &[String], values: &[&str]) -> String {
    let tag = serde_json::Value::from(tag);
    if values.is_empty() {
        return format!("{{\"count\":{count},\"tag\":{tag},\"ts\":{ts}}}");
    }
    let labels: Vec<String> = keys
        .iter()
        .zip(values)
        .map(|(k, v)| {
            format!(
                "{}:{}",
                serde_json::Value::from(k.as_str()),
                serde_json::Value::from(*v)
            )
        })
        .collect();
    format!(
        "{{\"count\":{count},\"labels\":{{{}}},\"tag\":{tag},\"ts\":{ts}}}",
        labels.join(",")
    )
}

/// Where this store's minutes held at 1m start later than its minute
/// retention alone would put them (the retention was lengthened after older
/// minutes were rolled into hours): the whole hours of minute retention
/// that put a copy's first minute at the same place (`keep`), and that
/// first minute, in unix seconds. `None` when the retention alone says
/// where the minutes start.
fn rolled_before_retention(
    snap: &trendlog::Snapshot,
    r: &trendlog::Retention,
) -> Option<(u32, i64)> {
    let now = snap.now()?.0;
    let first = snap.earliest_minute()?.0;
    if r.minute_floor(Some(now)) == Some(first) {
        return None;
    }
    // floor_hour(now - 60 * keep) = first, with `first` on a whole hour.
    let keep = ((now.saturating_sub(first)) / 60).max(1);
    Some((keep, i64::from(first) * 60))
}

/// A retention as `ingest --minute-retention` / `--hour-retention` take it
/// (`forever`, `30d`, `36h`), for the advice on making a copy.
fn retention_flag(minutes: Option<u32>) -> String {
    match minutes {
        None => "forever".to_string(),
        Some(m) if m % 1440 == 0 => format!("{}d", m / 1440),
        Some(m) => format!("{}h", m.div_ceil(60)),
    }
}
