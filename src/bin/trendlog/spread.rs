//! `trendlog spread TAG --by KEY`: where a tag is spreading: per value of a
//! label key its recent events, baseline and growth, and per step how many
//! values the tag was present and trending in.

use std::time::Duration;

use serde_json::json;
use trendlog::time::Step;
use trendlog::{SpreadQuery, SpreadRow};

use crate::out::{self, Align, CmdResult, Table};
use crate::Global;

/// Show how a tag spreads over the values of a label key (cities, platforms).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
For each value of KEY: the tag's events in the recent window [at - window, at), in the baseline
before it, and growth = (rate(recent) + P) / (rate(baseline) + P) as in `trending`; a value is
trending when it has at least --min-count recent events and growth >= --threshold. The timeline
gives, per step over --span, how many values the tag had events in (present) and was trending in
at the end of the step. Without --at: the store's now rounded up to the step (stated on stderr).

JSON: {\"tag\":T,\"by\":KEY,\"at\":A,\"rows\":[{\"value\":V,\"recent\":N,\"baseline\":M,\"growth\":G,
\"trending\":B},...],\"timeline\":[{\"time\":t,\"present\":P,\"trending\":R},...]}
G is null (∞ in the table) where growth is infinite: --prior 0 and an empty baseline.

Example:
  trendlog spread metoo --by region --span 24h")]
pub struct Args {
    /// The tag.
    pub tag: String,
    /// The label key to spread over.
    #[arg(long, value_name = "KEY")]
    pub by: String,
    /// Only series with this label value (KEY=VALUE; repeat to require several).
    #[arg(long = "where", value_name = "KEY=VALUE")]
    pub conds: Vec<String>,
    /// End of the evaluation (default: the store's now, rounded up to the step).
    #[arg(long, allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Recent window (a whole number of steps).
    #[arg(long, default_value = "1h", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub window: Duration,
    /// Baseline just before the window.
    #[arg(long, default_value = "24h", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub baseline: Duration,
    /// How far back the timeline goes.
    #[arg(long, default_value = "24h", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub span: Duration,
    /// Timeline step: 1m, 1h or 1d.
    #[arg(long, default_value = "1h", value_parser = out::parse_step, allow_hyphen_values = true)]
    pub step: Step,
    /// Least recent events for a value to count as trending.
    #[arg(long, default_value_t = 10)]
    pub min_count: u64,
    /// Least growth for a value to count as trending.
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// Smoothing prior P, events per minute.
    #[arg(long, default_value_t = 1.0 / 60.0)]
    pub prior: f64,
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    let store = out::open_read(&g.db)?;
    let snap = store.snapshot();
    let select = crate::labels::Select {
        conds: a.conds.clone(),
        by: Some(a.by.clone()),
    };
    let filter = select.filter(&snap)?;
    let at = match &a.at {
        Some(t) => Some(out::resolve_time("--at", t, &snap)?),
        None => None,
    };
    let q = SpreadQuery {
        by: a.by.clone(),
        filter,
        at,
        window: a.window,
        baseline: a.baseline,
        span: a.span,
        step: a.step,
        min_count: a.min_count,
        threshold: a.threshold,
        prior: a.prior,
    };
    let s = snap.spread(&a.tag, &q)?;
    select.say_if_unmet(&snap, s.rows.is_empty());
    if a.at.is_none() && s.at > 0 {
        out::say_used(
            "spread",
            &format!(
                "at {} (no --at: the store's now rounded up to the {} step), window {}, \
                 baseline {}, timeline from {}",
                out::when(s.at),
                a.step,
                out::when(s.at - a.window.as_secs() as i64),
                out::when(s.at - (a.window + a.baseline).as_secs() as i64),
                out::when(s.timeline.first().map_or(s.at, |p| p.time)),
            ),
        );
    }
    if g.json {
        let rows: Vec<_> = s
            .rows
            .iter()
            .map(|r| {
                json!({"value": r.value, "recent": r.recent, "baseline": r.baseline,
                       "growth": out::growth_json(growth(r)), "trending": r.trending})
            })
            .collect();
        let timeline: Vec<_> = s
            .timeline
            .iter()
            .map(|p| json!({"time": p.time, "present": p.present, "trending": p.trending}))
            .collect();
        out::print_json(&json!({
            "tag": s.tag, "by": s.by, "at": s.at, "rows": rows, "timeline": timeline,
        }));
        return Ok(());
    }
    if s.rows.is_empty() {
        println!("({} has no events by {} in this span)", s.tag, s.by);
        return Ok(());
    }
    let trending = s.rows.iter().filter(|r| r.trending).count();
    // Present: events in the recent window (rows also list values seen only
    // in the baseline or earlier in the timeline).
    let present = s.rows.iter().filter(|r| r.recent > 0).count();
    let others = match s.rows.len() - present {
        0 => String::new(),
        n => format!(" ({n} more seen earlier in the span)"),
    };
    println!(
        "{} by {} at {}: present in {present} values, trending in {trending}{others}",
        s.tag,
        s.by,
        out::when(s.at),
    );
    let present: Vec<u64> = s.timeline.iter().map(|p| u64::from(p.present)).collect();
    let trend: Vec<u64> = s.timeline.iter().map(|p| u64::from(p.trending)).collect();
    println!("present   {}", out::sparkline(&present, 96));
    println!("trending  {}", out::sparkline(&trend, 96));
    let mut t = Table::new(&[
        (a.by.as_str(), Align::Left),
        ("recent", Align::Right),
        ("baseline", Align::Right),
        ("growth", Align::Right),
        ("trending", Align::Left),
    ]);
    for r in &s.rows {
        t.row(vec![
            crate::labels::show_value(&r.value).to_string(),
            out::thousands(r.recent),
            out::thousands(r.baseline),
            format!("×{}", out::thousands_f(growth(r), 1)),
            if r.trending {
                "yes".into()
            } else {
                String::new()
            },
        ]);
    }
    print!("{}", t.render());
    let mut tl = Table::new(&[
        ("step", Align::Left),
        ("present", Align::Right),
        ("trending", Align::Right),
        ("", Align::Left),
    ]);
    for p in &s.timeline {
        tl.row(vec![
            out::when(p.time),
            p.present.to_string(),
            p.trending.to_string(),
            "█".repeat(p.trending as usize),
        ]);
    }
    println!();
    print!("{}", tl.render());
    Ok(())
}

/// A row's growth, infinite where the library's `f64::MAX` stands for
/// infinity (`--prior 0` and an empty baseline): printed as null in JSON and
/// as ∞ in the table, as `trending` prints it.
fn growth(r: &SpreadRow) -> f64 {
    if r.growth == f64::MAX {
        f64::INFINITY
    } else {
        r.growth
    }
}
