//! `trendlog export`: every tag's non-zero buckets, as CSV or NDJSON that
//! `trendlog ingest` reads back into the same data.

use std::io::{BufWriter, Write};

use serde_json::json;
use trendlog::time::{Step, TimeRange};

use crate::out::{self, CmdResult, Fail};
use crate::Global;

/// Write every tag's non-zero buckets as `timestamp,tag,count` (CSV, with a
/// header line) or NDJSON, so `export | ingest` into an empty store
/// reproduces the data.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Rows are in time order, then tag; timestamps are bucket starts in unix seconds. Without --step, minutes are written at 1m and any
range already rolled up into hours at 1h, so nothing held is lost. A tag whose normalised form
starts with # is written with one more # (ingest removes one), so every tag survives the round trip.

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
    #[arg(long, value_parser = out::parse_step)]
    pub step: Option<Step>,
    /// Output format.
    #[arg(long, default_value = "csv", value_parser = ["csv", "ndjson"])]
    pub format: String,
}

/// The text that normalises back to `tag` (a normalised tag).
fn ingestable(tag: &str) -> std::borrow::Cow<'_, str> {
    if tag.starts_with('#') {
        format!("#{tag}").into()
    } else {
        tag.into()
    }
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    let store = out::open_read(&g.db)?;
    let snap = store.snapshot();
    // The parts to write: (range, step).
    let mut parts = Vec::new();
    match a.step {
        Some(step) => {
            let (f, t) = out::resolve_range(&snap, a.from.as_deref(), a.to.as_deref(), step)?;
            parts.push((f, t, step));
        }
        None => {
            // Hours where minutes are rolled up, minutes from there on. The
            // first minute held at minute resolution is hour-aligned whenever
            // hourly data lies before it.
            let (hf, ht) =
                out::resolve_range(&snap, a.from.as_deref(), a.to.as_deref(), Step::Hour)?;
            let (mf, mt) =
                out::resolve_range(&snap, a.from.as_deref(), a.to.as_deref(), Step::Minute)?;
            let first_minute = snap.earliest_minute().map_or(mf, |m| m.to_unix());
            let rolled = snap.earliest_time().is_some_and(|t| t < first_minute);
            if rolled && hf < first_minute {
                parts.push((hf, first_minute.min(ht), Step::Hour));
            }
            parts.push((mf.max(first_minute), mt, Step::Minute));
        }
    }
    let w = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut sink = if a.format == "csv" {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(["timestamp", "tag", "count"])
            .map_err(std::io::Error::from)?;
        Sink::Csv(Box::new(c))
    } else {
        Sink::Ndjson(w)
    };
    for (from, to, step) in parts {
        if from >= to {
            continue;
        }
        let mut rows = snap.buckets(TimeRange::new(from, to)?, step)?;
        // Time order, so re-ingest never sees an event far ahead of the
        // store's now (which it would reject as clock skew).
        rows.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        for (tag, ts, count) in rows {
            sink.row(ts, &ingestable(&tag), count)?;
        }
    }
    sink.finish().map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Fail::silent(0)
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Where the rows go: CSV through the `csv` crate (which quotes a tag that
/// holds a comma or a quote), or one JSON object per line.
enum Sink<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Ndjson(W),
}

impl<W: Write> Sink<W> {
    fn row(&mut self, ts: i64, tag: &str, count: u64) -> std::io::Result<()> {
        match self {
            Sink::Csv(c) => Ok(c.write_record([&ts.to_string(), tag, &count.to_string()])?),
            Sink::Ndjson(w) => writeln!(w, "{}", json!({"ts": ts, "tag": tag, "count": count})),
        }
    }

    /// Flushes everything written, so a failure (a closed pipe) is seen here.
    fn finish(self) -> std::io::Result<()> {
        let mut w = match self {
            Sink::Csv(c) => c.into_inner().map_err(|e| e.into_error())?,
            Sink::Ndjson(w) => w,
        };
        w.flush()
    }
}
