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
range held in 1h buckets only (older than the minute retention) at 1h, so nothing held is lost;
what was written at which step is stated on stderr. --step 1m without --from is refused when
part of the data is held in 1h buckets only, rather than leaving that part out. A tag whose normalised form
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
