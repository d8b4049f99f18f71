//! `trendlog query TAG`: one tag's dense series over a range at 1m, 1h or 1d.

use serde_json::json;
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
    let groups = match &a.select.by {
        Some(by) => snap.series_by(&a.tag, range, a.step, &filter, by)?,
        None => Vec::new(),
    };
    let used = format!("{} → {} at {}", out::when(from), out::when(to), a.step);
    let why = chose_from(&snap, &a);
    out::say_chosen_range("query", &used, why.as_deref(), a.to.is_none());
    if g.json {
        let pts = |s: &trendlog::Series| -> Vec<_> {
            s.points.iter().map(|&(t, c)| json!([t, c])).collect()
        };
        let mut doc = json!({
            "tag": s.tag,
            "from": s.from,
            "to": s.to,
            "step": a.step.seconds(),
            "total": s.total,
            "points": pts(&s),
        });
        if let Some(by) = &a.select.by {
            let g: Vec<_> = groups
                .iter()
                .map(|(v, gs)| json!({"value": v, "total": gs.total, "points": pts(gs)}))
                .collect();
            doc["by"] = json!(by);
            doc["groups"] = json!(g);
        }
        out::print_json(&doc);
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
    let max = counts.iter().copied().max().unwrap_or(0);
    let mut t = Table::new(&[
        ("time", Align::Left),
        ("count", Align::Right),
        ("", Align::Left),
    ]);
    for &(ts, c) in &s.points {
        let bar = if max == 0 {
            0
        } else {
            (c as f64 / max as f64 * 40.0).round() as usize
        };
        t.row(vec![out::when(ts), out::thousands(c), "█".repeat(bar)]);
    }
    print!("{}", t.render());
    Ok(())
}
