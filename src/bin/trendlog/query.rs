//! `trendlog query TAG`: one tag's dense series over a range at 1m, 1h or 1d.

use std::io::{BufWriter, Write};

use trendlog::time::{Step, TimeRange};

use crate::out::{self, Align, CmdResult, Table};
use crate::Global;

/// Print one tag's counts per bucket over a range (dense: zeros included).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Times: unix seconds, RFC 3339 (2017-10-16T15:30:00Z), 'YYYY-MM-DD HH:MM:SS' (UTC), or relative
to the store's now (now, -24h, now-90m). --from defaults to the earliest time held, --to to the
store's now plus one minute; both are aligned outwards to the step. Equal --from and --to give
the empty range.

JSON: {\"tag\":\"metoo\",\"from\":F,\"to\":T,\"step\":3600,\"total\":N,\"points\":[[t,count],...]}
On a labelled store, --where KEY=VALUE keeps only matching series; --by KEY adds
\"by\":KEY,\"groups\":[{\"value\":V,\"total\":N,\"points\":[...]},...] (one series per value).

Example:
  trendlog query '#MeToo' --step 1h --from -24h")]
pub struct Args {
    /// The tag (normalised: one leading # removed, lower-cased).
    pub tag: String,
    /// Start of the range (inclusive).
    #[arg(long, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// End of the range (exclusive).
    #[arg(long, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Bucket width: 1m, 1h or 1d.
    #[arg(long, default_value = "1m", value_parser = out::parse_step, allow_hyphen_values = true)]
    pub step: Step,
    #[command(flatten)]
    pub select: crate::labels::Select,
}

/// Why the range starts where it does when `--from` was left out.
fn chose_from(snap: &trendlog::Snapshot, a: &Args) -> Option<String> {
    if a.from.is_some() {
        return None;
    }
    if snap.earliest_time().is_none() {
        // Not a range from 1970: there is nothing to start from.
        return Some(out::held(snap));
    }
    Some(match (a.step, out::hours_only_before(snap)) {
        (Step::Minute, Some((first, minutes))) => format!(
            "from the earliest minute held at 1m; the data from {} to {} is held \
             in 1h buckets only: add --step 1h to see it",
            out::when(first - first.rem_euclid(Step::Hour.seconds())),
            out::when(minutes)
        ),
        _ => "from the earliest time held".into(),
    })
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    let store = out::open_read(&g.db)?;
    let snap = store.snapshot();
    let filter = a.select.filter(&snap)?;
    let (from, to) = out::resolve_range(&snap, a.from.as_deref(), a.to.as_deref(), a.step)?;
    if a.from.is_some() {
        out::say_dropped_before("query", &store, &snap, from, "buckets before it read 0");
    }
    let range = TimeRange::new(from, to)?;
    let s = snap.series_where(&a.tag, range, a.step, &filter)?;
    a.select.say_if_unmet(&snap, s.total == 0);
    if s.total == 0 {
        say_if_never_held(&snap, &a.tag);
    }
    let groups = match &a.select.by {
        Some(by) => snap.series_by(&a.tag, range, a.step, &filter, by)?,
        None => Vec::new(),
    };
    let used = format!("{} → {} at {}", out::when(from), out::when(to), a.step);
    let why = chose_from(&snap, &a);
    out::say_chosen_range("query", &used, why.as_deref(), a.to.is_none());
    if g.json {
        // Streamed, not built as a JSON value: a series may hold 10 million
        // points (about 230 bytes each as a value). Keys in the order a
        // serde_json object prints them (sorted), as before.
        let mut w = BufWriter::new(out::pipe_out());
        let text = |v: &str| serde_json::Value::from(v).to_string();
        w.write_all(b"{")?;
        if let Some(by) = &a.select.by {
            write!(w, "\"by\":{},", text(by))?;
        }
        write!(w, "\"from\":{},", s.from)?;
        if a.select.by.is_some() {
            w.write_all(b"\"groups\":[")?;
            for (i, (v, gs)) in groups.iter().enumerate() {
                w.write_all(if i > 0 {
                    b",{\"points\":"
                } else {
                    b"{\"points\":"
                })?;
                write_points(&mut w, &gs.points)?;
                write!(w, ",\"total\":{},\"value\":{}}}", gs.total, text(v))?;
            }
            w.write_all(b"],")?;
        }
        w.write_all(b"\"points\":")?;
        write_points(&mut w, &s.points)?;
        writeln!(
            w,
            ",\"step\":{},\"tag\":{},\"to\":{},\"total\":{}}}",
            a.step.seconds(),
            text(&s.tag),
            s.to,
            s.total
        )?;
        w.flush()?;
        return Ok(());
    }
    let counts: Vec<u64> = s.points.iter().map(|p| p.1).collect();
    println!(
        "{}  {} → {}  step {}  total {}",
        s.tag,
        out::when(s.from),
        out::when(s.to),
        a.step,
        out::thousands(s.total)
    );
    println!("{}", out::sparkline(&counts, 120));
    if let Some(by) = &a.select.by {
        let mut t = Table::new(&[
            (by.as_str(), Align::Left),
            ("total", Align::Right),
            ("", Align::Left),
        ]);
        for (v, gs) in &groups {
            let c: Vec<u64> = gs.points.iter().map(|p| p.1).collect();
            t.row(vec![
                crate::labels::show_value(v).to_string(),
                out::thousands(gs.total),
                out::sparkline(&c, 60),
            ]);
        }
        print!("{}", t.render());
        return Ok(());
    }
    // Streamed, as a Table would lay it out (widths from a first pass): a
    // series may hold 10 million rows.
    let max = counts.iter().copied().max().unwrap_or(0);
    let tw = s
        .points
        .iter()
        .map(|&(ts, _)| out::when(ts).chars().count())
        .max()
        .unwrap_or(0)
        .max("time".len());
    let cw = out::thousands(max).chars().count().max("count".len());
    let mut w = BufWriter::new(out::pipe_out());
    writeln!(w, "{:<tw$}  {:>cw$}", "time", "count")?;
    for &(ts, c) in &s.points {
        let bar = if max == 0 {
            0
        } else {
            (c as f64 / max as f64 * 40.0).round() as usize
        };
        let line = format!(
            "{:<tw$}  {:>cw$}  {}",
            out::when(ts),
            out::thousands(c),
            "█".repeat(bar)
        );
        writeln!(w, "{}", line.trim_end())?;
    }
    w.flush()?;
    Ok(())
}

/// `[[t,c],...]`, as `serde_json` prints an array of pairs.
fn write_points(w: &mut impl Write, points: &[(i64, u64)]) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, (t, c)) in points.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "[{t},{c}]")?;
    }
    w.write_all(b"]")
}

/// Says when the store holds no event of `tag` at any time, so that a
/// misspelt tag (`metooo`) is not read as a quiet stretch: its series
/// is all zeros either way.
fn say_if_never_held(snap: &trendlog::Snapshot, tag: &str) {
    let hour = Step::Hour.seconds();
    let (Some(first), Some(end)) = (snap.earliest_time(), snap.now_end()) else {
        return;
    };
    let Ok(all) = TimeRange::new(
        first - first.rem_euclid(hour),
        end + (hour - end.rem_euclid(hour)) % hour,
    ) else {
        return;
    };
    if snap.total(tag, all).is_ok_and(|t| t == 0) {
        err_line!(
            "trendlog: the store holds no event of {tag:?} at any time (tags are normalised, \
             `#MeToo` is `metoo`; `trendlog top` lists the tags held)"
        );
    }
}
