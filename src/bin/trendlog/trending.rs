//! `trendlog trending`: the tags growing fastest at a time.

use std::time::Duration;

use serde_json::json;
use trendlog::time::{Step, TimeRange};
use trendlog::{TrendQuery, TrendRow};

use crate::out::{self, Align, CmdResult, Table};
use crate::Global;

/// Print the k tags with the highest growth of the recent window over the baseline.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
growth = (rate(recent) + P) / (rate(baseline) + P), rates in events per minute, over the recent
window [at - window, at) and the baseline [at - window - baseline, at - window). Only tags with at
least --min-count recent events are ranked; ties by recent count, then tag. Without --at, the
time and windows used are stated on stderr. Where only 1h buckets are held (data older than the
minute retention) a window cannot cut an hour: an --at whose windows reach there needs a whole
hour and whole-hour --window and --baseline (exit 2 otherwise); without --at, the last whole hour
of the store's now is used, and said (--rank burst instead scores at the store's now and says
what its score leaves out).

JSON: [{\"tag\":\"...\",\"recent\":N,\"baseline\":M,\"growth\":G},...]; with --rank burst
[{\"tag\":\"...\",\"recent\":N,\"expected\":MU,\"score\":Z},...], and on a labelled store within
--where or --by \"labels\":{KEY:VALUE,...}, the conditions its series matched.
On a labelled store, --where KEY=VALUE ranks only matching series (\"trending in Chicago\");
--by KEY ranks within each value of KEY, and each row gains \"by\":{\"key\":K,\"value\":V}.
G is a number. With --prior 0 and an empty baseline the growth is infinite, which JSON cannot
hold: it is printed as null (and as ∞ in the table). A tag with no event in either window is
never ranked, even with --min-count 0.

Example:
  trendlog trending --at '2017-10-16 00:00:00' --window 1h --baseline 24h -k 10")]
pub struct Args {
    /// End of the recent window (default: the store's now plus one minute).
    #[arg(long, allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Length of the recent window (15m, 1h, 7d; whole minutes).
    #[arg(long, default_value = "1h", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub window: Duration,
    /// Length of the baseline window just before it.
    #[arg(long, default_value = "24h", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub baseline: Duration,
    /// How many tags.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Least events in the recent window for a tag to be ranked.
    #[arg(long, default_value_t = 10)]
    pub min_count: u64,
    /// Smoothing prior P, events per minute (default 1/60: one event an hour).
    #[arg(long, default_value_t = 1.0 / 60.0)]
    pub prior: f64,
    /// Rank by growth (the default) or by burst score (see `trendlog bursts --help`).
    #[arg(long, value_enum, default_value_t = crate::bursts::Rank::Growth)]
    pub rank: crate::bursts::Rank,
    /// With --rank burst: previous days whose same window also predicts the
    /// count (0 = off; default as `bursts`).
    #[arg(long)]
    pub seasonal_days: Option<u32>,
    /// With --rank burst: the baseline's variance, `spread` or `successive`
    /// (default as `bursts`).
    #[arg(long, value_parser = ["spread", "successive"])]
    pub dispersion: Option<String>,
    #[command(flatten)]
    pub select: crate::labels::Select,
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    let burst = a.rank == crate::bursts::Rank::Burst;
    if !burst && (a.seasonal_days.is_some() || a.dispersion.is_some()) {
        return Err(out::Fail::usage(
            "--seasonal-days and --dispersion shape the burst score: give them with --rank burst",
        ));
    }
    let defaults = trendlog::BurstParams::default();
    let seasonal_days = a.seasonal_days.unwrap_or(defaults.seasonal_days);
    let store = out::open_read(&g.db)?;
    let snap = store.snapshot();
    let at = match &a.at {
        Some(t) => Some(out::resolve_time("--at", t, &snap)?),
        None => None,
    };
    if let Some(at) = at {
        // The burst score also reads the same window on previous days.
        let days = if burst {
            u64::from(seasonal_days) * 86_400
        } else {
            0
        };
        let reach = a.window.as_secs() + a.baseline.as_secs().max(days);
        let start = at - reach as i64;
        out::say_dropped_before(
            "trending",
            &store,
            &snap,
            start,
            "the baseline counts 0 there",
        );
    }
    if burst {
        let p = trendlog::BurstParams {
            window: a.window,
            baseline: a.baseline,
            min_count: a.min_count,
            prior: a.prior,
            seasonal_days,
            dispersion: a
                .dispersion
                .as_deref()
                .map_or(defaults.dispersion, crate::bursts::dispersion),
            ..defaults
        };
        return crate::bursts::trending_by_burst(g, &snap, at, &p, a.k, &a.select);
    }
    let mut q = TrendQuery {
        at,
        window: a.window,
        baseline: a.baseline,
        k: a.k,
        min_count: a.min_count,
        prior: a.prior,
    };
    let filter = a.select.filter(&snap)?;
    let mut resolution = "1m";
    let first = match snap.trending_where(&q, &filter) {
        // No --at, and the baseline reaches back into hours held only as
        // hourly buckets (a short minute retention): ask at the last whole
        // hour instead, where every window edge is an hour boundary.
        Err(trendlog::Error::ResolutionUnavailable { .. }) if a.at.is_none() => {
            let end = snap.now_end().unwrap_or(0);
            q.at = Some(end - end.rem_euclid(3600));
            resolution = "1h (the baseline reaches before the earliest minute kept, where the \
                          store keeps hours only)";
            snap.trending_where(&q, &filter)?
        }
        // With --at: trending has no step; say what to change instead.
        Err(trendlog::Error::ResolutionUnavailable { earliest_minute }) => {
            return Err(out::Fail::usage(format!(
                "the windows at --at reach before the earliest minute held at minute resolution \
                 ({}) and cut an hour held only as an hourly bucket; give an --at on a whole \
                 hour, with whole-hour --window and --baseline, or an --at whose windows start \
                 at or after it",
                out::when(i64::from(earliest_minute) * 60)
            )))
        }
        r => r?,
    };
    let rows: Vec<(Option<String>, TrendRow)> = match (a.select.groups(&snap)?, &a.select.by) {
        (Some(groups), Some(by)) => {
            // One pass for every value, rows in the groups' order.
            let groups: Vec<_> = groups.into_iter().map(|(v, f)| (Some(v), f)).collect();
            crate::labels::in_group_order(&groups, snap.trending_by(&q, &filter, by)?)
        }
        _ => first.into_iter().map(|r| (None, r)).collect(),
    };
    a.select.say_if_unmet(&snap, rows.is_empty());
    let at = q.at.or(at);
    if a.at.is_none() {
        if let Some(end) = at.or_else(|| snap.now_end()) {
            let (w, b) = (a.window.as_secs() as i64, a.baseline.as_secs() as i64);
            let why_at = if Some(end) == snap.now_end() {
                "the end of the store's now"
            } else {
                "the store's now, back to its last whole hour: the baseline reaches before the \
                 earliest minute kept (the minute retention), where the store keeps hours only, \
                 and windows from the store's now would cut them"
            };
            out::say_trending_windows_at(
                end,
                why_at,
                ((end - w).max(0), end),
                &out::baseline_words(&snap, ((end - w - b).max(0), (end - w).max(0))),
                resolution,
            );
        }
    }
    if let Some(end) = at.or_else(|| snap.now_end()) {
        let reach = end - a.window.as_secs() as i64 - a.baseline.as_secs() as i64;
        if reach < 0 {
            out::say_used(
                "trending",
                &format!(
                    "the windows reach before 1970 (to {}), where no event can be: they are \
                     shown from 1970, and the rates still divide by the whole --window and \
                     --baseline",
                    out::when(reach)
                ),
            );
        }
    }
    if g.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(value, r)| {
                let mut row = json!({"tag": r.tag, "recent": r.recent, "baseline": r.baseline,
                       "growth": out::growth_json(r.growth)});
                a.select.add_by(&mut row, value);
                row
            })
            .collect();
        out::print_json(&json!(v));
        return Ok(());
    }
    let Some(at) = at.or_else(|| snap.now_end()) else {
        println!("(the store is empty)");
        return Ok(());
    };
    let w = a.window.as_secs() as i64;
    let b = a.baseline.as_secs() as i64;
    // Counts are per minute and a minute counts when its first second lies
    // in a window: show the minutes counted, which differ from the edges
    // asked for only when those are not on whole minutes.
    let counted = |t: i64| (t.max(0) + 59) / 60 * 60;
    // (Windows are whole minutes: the library refuses others.)
    if at % 60 != 0 {
        out::say_used(
            "trending",
            &format!(
                "--at {} is not on a whole minute; a minute counts when its first second lies \
                 in a window, so the windows shown are the minutes counted",
                out::when(at)
            ),
        );
    }
    println!(
        "trending at {}  window {} → {}  baseline {} → {}",
        out::when(at),
        out::when(counted(at - w)),
        out::when(counted(at)),
        out::when(counted(at - w - b)),
        out::when(counted(at - w)),
    );
    let by = a.select.by.as_deref().unwrap_or("");
    let mut cols = vec![
        ("rank", Align::Right),
        ("tag", Align::Left),
        ("recent", Align::Right),
        ("baseline", Align::Right),
        ("growth", Align::Right),
        ("series", Align::Left),
    ];
    if a.select.by.is_some() {
        cols.insert(0, (by, Align::Left));
    }
    let mut t = Table::new(&cols);
    // A sparkline over baseline + window at a step that gives a readable line.
    let span = w + b;
    let step = if span <= 6 * 3600 {
        Step::Minute
    } else {
        Step::Hour
    };
    let s = step.seconds();
    let lo = ((at - span).max(0)).div_euclid(s) * s;
    let hi = (at + s - 1).div_euclid(s) * s;
    let ranks = crate::labels::group_ranks(rows.iter().map(|r| &r.0));
    for ((value, r), rank) in rows.iter().zip(ranks) {
        let mut f = filter.clone();
        if let (Some(v), Some(by)) = (value, &a.select.by) {
            f = f.and_held(by, v);
        }
        let spark = out::spark_or_damage(
            TimeRange::new(lo, hi)
                .and_then(|range| snap.series_where(&out::typed(&r.tag), range, step, &f))
                .map(|s| out::sparkline(&s.points.iter().map(|p| p.1).collect::<Vec<_>>(), 48)),
        )?;
        let mut cells = vec![
            rank.to_string(),
            r.tag.clone(),
            out::thousands(r.recent),
            out::thousands(r.baseline),
            format!("×{}", out::thousands_f(r.growth, 1)),
            spark,
        ];
        if let Some(v) = value {
            cells.insert(0, crate::labels::show_value(v).to_string());
        }
        t.row(cells);
    }
    print!("{}", t.render());
    if rows.is_empty() && !out::asked_for_none(a.k) {
        if a.min_count == 0 {
            println!("(no tag had an event in either window)");
        } else {
            println!(
                "(no tag had at least {} events in the recent window)",
                a.min_count
            );
        }
    }
    Ok(())
}
