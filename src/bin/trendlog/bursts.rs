//! `trendlog bursts`: the burst episodes of a range, and the detector flags
//! `trending --rank burst` shares.

use std::time::Duration;

use serde_json::json;
use trendlog::burst::Dispersion;
use trendlog::time::{Step, TimeRange};
use trendlog::BurstParams;
use trendlog::BurstQuery;

use crate::out::{self, Align, CmdResult, Fail, Table};
use crate::Global;

/// The detector's parameters as flags.
#[derive(clap::Args, Debug, Clone)]
pub struct DetectorFlags {
    /// Score at which an episode starts.
    #[arg(long, default_value_t = BurstParams::default().entry)]
    pub entry: f64,
    /// Score below which an episode winds down.
    #[arg(long, default_value_t = BurstParams::default().exit)]
    pub exit: f64,
    /// How long the score must stay below --exit to end an episode.
    #[arg(long, default_value = "6h", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub cooldown: Duration,
    /// Previous days whose same window also predicts the count (0 = off).
    #[arg(long, default_value_t = BurstParams::default().seasonal_days)]
    pub seasonal_days: u32,
    /// Baseline variance: `spread` (sample variance of its blocks) or
    /// `successive` (differences of successive blocks, blind to slow swings).
    #[arg(long, value_parser = ["spread", "successive"], default_value = default_dispersion())]
    pub dispersion: String,
    /// How far before --from the episode state machine starts.
    #[arg(long, default_value = "48h", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub horizon: Duration,
    /// Novelty look-back (0 = off): an onset also needs the recent count to
    /// reach --novelty-factor times the busiest window of this span before it.
    #[arg(long, default_value = "4d", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub novelty: Duration,
    /// Factor of the novelty test.
    #[arg(long, default_value_t = BurstParams::default().novelty_factor)]
    pub novelty_factor: f64,
}

/// Print the burst episodes that overlap a range, highest peak score first.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
score = (g(R) - g(mu)) / sqrt(phi), g(x) = 2*sqrt(x + 3/8): R the events in the recent window,
mu what the baseline predicts (mean of its window-sized blocks, plus prior * window), phi the
baseline's dispersion (variance / mean, at least 1). An episode starts when the score reaches
--entry with at least --min-count recent events, peaks, and ends once the score stayed below --exit
for --cooldown. An onset also needs the recent count to reach --novelty-factor times the busiest
window-aligned block of the --novelty span before it (0 = off): a tag that was this busy in the
last days is not news. Decisions at a minute use data up to that minute only. On a labelled
store the detector runs per tag on its series within --where, summed (with --by, per value).
Over ranges held only as hours the detector runs on hours and times are the last minute of their
hour. See docs/bursts.md.

JSON: [{\"tag\":\"...\",\"onset\":\"RFC 3339\",\"onset_unix\":S,\"onset_score\":Z,\"onset_count\":N,
\"expected\":MU,\"peak\":\"...\",\"peak_score\":Z,\"peak_count\":N,\"end\":\"...\"|null,
\"events\":N,\"step\":\"1m\"|\"1h\"},...]   (end is null while the episode goes on at the end of
what was read: the store's now, or --to; events run from the onset to the end, inclusive).
On a labelled store a row within --where or --by also has \"labels\":{KEY:VALUE,...}, the
conditions its series matched, and with --by \"by\":{\"key\":K,\"value\":V}.

Example:
  trendlog bursts --from 2017-10-15 --to 2017-10-16 -k 5")]
pub struct Args {
    /// Start of the range (inclusive).
    #[arg(long, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// End of the range (exclusive).
    #[arg(long, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// How many episodes.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Only this tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Length of the recent window (whole minutes; at least the step between the data's rows, 1h for hourly counts).
    #[arg(long, default_value = "30m", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub window: Duration,
    /// Length of the baseline before it.
    #[arg(long, default_value = "24h", value_parser = crate::out::parse_dur, allow_hyphen_values = true)]
    pub baseline: Duration,
    /// Least events in the recent window for an onset.
    #[arg(long, default_value_t = 10)]
    pub min_count: u64,
    /// Prior rate, events per minute.
    #[arg(long, default_value_t = 1.0 / 60.0)]
    pub prior: f64,
    #[command(flatten)]
    pub detector: DetectorFlags,
    #[command(flatten)]
    pub select: crate::labels::Select,
}

fn default_dispersion() -> &'static str {
    match BurstParams::default().dispersion {
        Dispersion::Successive => "successive",
        _ => "spread",
    }
}

/// The parameters from flags.
pub fn params(
    window: Duration,
    baseline: Duration,
    min_count: u64,
    prior: f64,
    d: &DetectorFlags,
) -> BurstParams {
    BurstParams {
        window,
        baseline,
        seasonal_days: d.seasonal_days,
        dispersion: dispersion(&d.dispersion),
        entry: d.entry,
        exit: d.exit,
        cooldown: d.cooldown,
        min_count,
        prior,
        horizon: d.horizon,
        novelty: d.novelty,
        novelty_factor: d.novelty_factor,
    }
}

/// A parameter out of its range, in the words of the flags: the library's
/// message names the parameter as the library spells it (`novelty_factor`),
/// and the flag that sets it follows. A baseline shorter than twice the
/// window may come from `--window` alone (the baseline's default is 24h), so
/// that message names both flags.
fn invalid_params(e: trendlog::Error) -> Fail {
    let mut msg = e.to_string();
    if let trendlog::Error::InvalidInput(trendlog::InvalidInput::BurstParameter {
        name,
        valid,
        ..
    }) = &e
    {
        msg += &if *name == "baseline" && valid.starts_with("at least twice the window") {
            "; the flags are --baseline and --window: give a longer --baseline or a shorter \
             --window"
                .to_string()
        } else {
            format!("; the flag is --{}", name.replace('_', "-"))
        };
    }
    Fail::usage(msg)
}

/// The dispersion a `--dispersion` value names (clap admits only the two).
pub fn dispersion(name: &str) -> Dispersion {
    if name == "successive" {
        Dispersion::Successive
    } else {
        Dispersion::Spread
    }
}

/// A score for JSON: always finite here, but JSON has no infinity, so guard.
pub fn num(x: f64) -> serde_json::Value {
    if x.is_finite() {
        json!(x)
    } else {
        serde_json::Value::Null
    }
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    let store = out::open_read(&g.db)?;
    let snap = store.snapshot();
    let p = params(a.window, a.baseline, a.min_count, a.prior, &a.detector);
    p.validate().map_err(invalid_params)?;
    // A bad --where or --by is refused before anything about the range is said.
    let selections = a.select.groups_or_filter(&snap)?;
    for t in &a.tags {
        trendlog::tag::normalize(t).map_err(|e| Fail::usage(format!("--tag {t:?}: {e}")))?;
    }
    // Without --from: the minutes held, where onsets are minutes (a range
    // reaching into hours held only as hourly buckets runs on hours
    // throughout); older hours are named on stderr, with how to include them.
    let (from, to) = out::resolve_range(&snap, a.from.as_deref(), a.to.as_deref(), Step::Minute)?;
    // An edge inside an hour held only as its 1h bucket: the hour would be
    // scored whole, events past --to included. An absolute edge there is
    // refused, a relative one widened to the hour (as top does).
    let (from, to, widened) = out::widen_relative_edges(
        &snap,
        [("--from", a.from.as_deref()), ("--to", None)],
        (from, to),
    )?;
    // --to is never widened (that would score events past it): an absolute
    // one inside such an hour is refused, and on hours a range ending
    // inside an hour stops at its start (the library does so), said here.
    if let Some(text) = a.to.as_deref() {
        if !crate::parse::is_relative_time(text) {
            out::refuse_edge_inside_an_hour(&snap, "--to", to)?;
        }
    }
    let on_hours = out::hours_only_before(&snap).is_some_and(|(_, minutes)| from < minutes);
    let before_now = snap.now_end().is_some_and(|end| (to + 59) / 60 * 60 < end);
    if on_hours && to.rem_euclid(3600) != 0 && before_now {
        out::say_used(
            "bursts",
            &format!(
                "on hours the range ends at {}, the last whole hour by --to: the rest of that \
                 hour is past it",
                out::when(to - to.rem_euclid(3600))
            ),
        );
    }
    let chose_from = a.from.is_none().then(|| {
        if snap.earliest_time().is_none() {
            // Not a range from 1970: there is nothing to start from.
            return out::held(&snap);
        }
        let mut why = String::from("the minutes held, onsets to the minute");
        if let Some((first, minutes)) = out::hours_only_before(&snap) {
            let hour = out::when(first - first.rem_euclid(3600));
            why.push_str(&format!(
                "; older data is held in 1h buckets only, from {hour} to {}: give --from {hour} \
                 to include it, and the whole range runs at 1h",
                out::when(minutes),
            ));
        }
        why
    });
    let mut range = format!("{} → {}", out::when(from), out::when(to));
    if widened {
        range.push_str(
            " (a relative edge inside an hour held only as its 1h bucket is widened to the hour)",
        );
        if a.from.is_some() && a.to.is_some() {
            out::say_used("bursts", &range);
        }
    }
    out::say_chosen_range("bursts", &range, chose_from.as_deref(), a.to.is_none());
    say_reads_cut(&snap, &p, from)?;
    if a.from.is_some() {
        let what = "no episode is found before it";
        out::say_dropped_before("bursts", &store, &snap, from, what);
    }
    let range = TimeRange::new(from, to)?;
    // On a labelled store each tag's series within the filter are summed
    // (with --by, within each value: one detector pass for them all, rows
    // in the order of the groups).
    let q = BurstQuery {
        params: p.clone(),
        k: a.k,
        tags: a.tags.clone(),
        filter: a.select.filter(&snap)?,
    };
    let rows: Vec<(Option<String>, _)> = match &a.select.by {
        Some(by) => crate::labels::in_group_order(&selections, snap.bursts_by(range, &q, by)?),
        None => snap
            .bursts(range, &q)?
            .into_iter()
            .map(|b| (None, b))
            .collect(),
    };
    a.select.say_if_unmet(&snap, rows.is_empty());
    // Only when fewer episodes than asked came back (why so few?), so after
    // the query.
    if !on_hours && rows.len() < a.k && !a.select.narrows() {
        say_if_coarser("bursts", &snap, p.window, to, &a.tags);
    }
    if g.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(value, b)| {
                let mut v = json!({
                    "tag": b.tag,
                    "onset": out::when(b.onset.to_unix()),
                    "onset_unix": b.onset.to_unix(),
                    "onset_score": num(b.onset_score),
                    "onset_count": b.onset_count,
                    "expected": num(b.expected),
                    "peak": out::when(b.peak.to_unix()),
                    "peak_score": num(b.peak_score),
                    "peak_count": b.peak_count,
                    "end": b.end.map(|e| out::when(e.to_unix())),
                    "events": b.events,
                    "step": b.step.to_string(),
                });
                if !b.labels.is_empty() {
                    v["labels"] = crate::labels::labels_json(&b.labels);
                }
                a.select.add_by(&mut v, value);
                v
            })
            .collect();
        out::print_json(&json!(v));
        return Ok(());
    }
    println!("bursts  {} → {}", out::when(from), out::when(to));
    let mut t = Table::new(&[
        ("rank", Align::Right),
        ("tag", Align::Left),
        ("onset", Align::Left),
        ("score", Align::Right),
        ("count/exp", Align::Right),
        ("peak", Align::Left),
        ("peak score", Align::Right),
        ("end", Align::Left),
        ("events", Align::Right),
        ("series", Align::Left),
    ]);
    let span = to - from;
    let step = if span <= 6 * 3600 {
        Step::Minute
    } else {
        Step::Hour
    };
    let s = step.seconds();
    let (lo, hi) = (from.div_euclid(s) * s, (to + s - 1).div_euclid(s) * s);
    let ranks = crate::labels::group_ranks(rows.iter().map(|r| &r.0));
    for ((_, b), rank) in rows.iter().zip(ranks) {
        let spark = out::spark_or_damage(
            TimeRange::new(lo, hi)
                .and_then(|r| {
                    snap.series_where(
                        &out::typed(&b.tag),
                        r,
                        step,
                        &crate::labels::exact(&b.labels),
                    )
                })
                .map(|s| out::sparkline(&s.points.iter().map(|p| p.1).collect::<Vec<_>>(), 48)),
        )?;
        t.row(vec![
            rank.to_string(),
            crate::labels::with_labels(&b.tag, &b.labels),
            out::when(b.onset.to_unix()),
            out::thousands_f(b.onset_score, 1),
            format!(
                "{}/{}",
                out::thousands(b.onset_count),
                out::thousands_f(b.expected, 1)
            ),
            out::when(b.peak.to_unix()),
            out::thousands_f(b.peak_score, 1),
            b.end
                .map(|e| out::when(e.to_unix()))
                .unwrap_or_else(|| "(going on)".to_string()),
            out::thousands(b.events),
            spark,
        ]);
    }
    print!("{}", t.render());
    if rows.is_empty() && !out::asked_for_none(a.k) {
        println!("(no burst episode overlaps this range)");
    }
    Ok(())
}

/// What `trending` ranks by.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rank {
    /// (rate(recent) + P) / (rate(baseline) + P), as always.
    #[default]
    Growth,
    /// The burst score of the recent window against the baseline (see `trendlog bursts --help`).
    Burst,
}

/// Says on stderr when `bursts` from `from` runs on minutes but its reads
/// before `from` (the state machine's start, baselines, seasonal days and
/// novelty look-back) reach before the minutes held, where only hours
/// remain: its scores leave that out, so they are not those a store holding
/// every minute would give.
fn say_reads_cut(snap: &trendlog::Snapshot, p: &BurstParams, from: i64) -> CmdResult {
    let Some((first, minutes)) = out::hours_only_before(snap) else {
        return Ok(());
    };
    let d = trendlog::burst::Detector::new(p, 1).map_err(|e| Fail::usage(e.to_string()))?;
    let reach = from - 60 * i64::from(d.horizon() + d.lookback());
    if from >= minutes && reach < minutes {
        let hour = first - first.rem_euclid(3600);
        out::say_used(
            "bursts",
            &format!(
                "the reads before the range (the state machine's start, baselines, seasonal days and \
                 novelty look-back) reach before {}, where only 1h buckets are held: the scores \
                 leave those out; give --from {} (or earlier) to run the whole range on hours",
                out::when(minutes),
                out::when(hour.max(reach - reach.rem_euclid(3600)))
            ),
        );
    }
    Ok(())
}

/// Says on stderr when a tag's counts arrive coarser than the recent
/// window: rows an hour apart under a 30-minute window leave each window a
/// whole row or nothing, and the detector finds few bursts (docs/bursts.md,
/// "Data coarser than the window"). Looks at the busiest of `tags` (the
/// ones asked for) in the last hour of minutes before `to`, or at the
/// store's busiest tag when none were asked for, then at its minutes over
/// the last twelve hours: its step is the greatest common divisor of the
/// gaps between its minutes with events, taken when it has at least 6. A
/// failed read says nothing here (the query reports damage). Callers ask
/// only when fewer rows than asked came back and no label filter or
/// grouping narrowed the question; it costs a `top` of one hour and one
/// tag's series (about 2 ms on the labelled demo store).
fn say_if_coarser(
    cmd: &str,
    snap: &trendlog::Snapshot,
    window: Duration,
    to: i64,
    tags: &[String],
) {
    let w = (window.as_secs() / 60) as i64;
    let Some(end) = snap.now_end().map(|now| now.min(to)) else {
        return;
    };
    let end = end - end.rem_euclid(60);
    let start = end - 12 * 3600;
    if out::hours_only_before(snap).is_some_and(|(_, minutes)| start < minutes) {
        return;
    }
    let (Ok(half_day), Ok(recent)) = (TimeRange::new(start, end), TimeRange::new(end - 3600, end))
    else {
        return;
    };
    let tag = if tags.is_empty() {
        let Some(row) = snap.top(recent, 1).ok().and_then(|t| t.into_iter().next()) else {
            return;
        };
        out::typed(&row.tag).into_owned()
    } else {
        // The busiest of the tags asked for (as typed: `series` normalises).
        let mut best: Option<(u64, &String)> = None;
        for t in tags {
            let Ok(n) = snap.total(t, recent) else {
                return;
            };
            if n > 0 && best.is_none_or(|(m, _)| n > m) {
                best = Some((n, t));
            }
        }
        let Some((_, t)) = best else {
            return;
        };
        t.clone()
    };
    let Ok(s) = snap.series(&tag, half_day, Step::Minute) else {
        return;
    };
    let minutes: Vec<i64> = s
        .points
        .iter()
        .filter(|p| p.1 > 0)
        .map(|p| p.0 / 60)
        .collect();
    if minutes.len() < 6 {
        return;
    }
    let step = minutes.windows(2).fold(0, |g, d| gcd(g, d[1] - d[0]));
    if step > w {
        out::say_used(
            cmd,
            &format!(
                "the busiest tag's counts arrive {step} minutes or more apart ({}: every {step} \
                 minutes), more than the {w}-minute window: a window holds a whole row or none \
                 and few bursts can be found; give --window {step}m or longer",
                s.tag
            ),
        );
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `trending --rank burst`: the k tags with the highest burst score at `at`.
/// With `--where`, only series whose labels match; with `--by`, the `k`
/// best of each value of that key.
pub fn trending_by_burst(
    g: &Global,
    snap: &trendlog::Snapshot,
    at: Option<i64>,
    p: &BurstParams,
    k: usize,
    select: &crate::labels::Select,
) -> CmdResult {
    p.validate().map_err(invalid_params)?;
    let groups = select.groups_or_filter(snap)?;
    let filter = select.filter(snap)?;
    let rows: Vec<(Option<String>, _)> = match &select.by {
        Some(by) => {
            crate::labels::in_group_order(&groups, snap.burst_ranking_by(at, p, k, &filter, by)?)
        }
        None => snap
            .burst_ranking_where(at, p, k, &filter)?
            .into_iter()
            .map(|r| (None, r))
            .collect(),
    };
    select.say_if_unmet(snap, rows.is_empty());
    let used = snap.burst_window(at, p)?;
    if let (Some((window, _, step)), true) = (&used, rows.len() < k && !select.narrows()) {
        if *step == Step::Minute {
            say_if_coarser("trending", snap, p.window, window.to(), &[]);
        }
    }
    if let Some(cut) = snap.burst_reads_cut(at, p)? {
        let what = match (cut.baseline, cut.seasonal) {
            (true, true) => "its baseline and the seasonal days",
            (true, false) => "its baseline",
            _ => "the seasonal days",
        };
        out::say_used(
            "trending",
            &format!(
                "the minutes before {} are held only as hours, so the score leaves out {what} \
                 before then; a window of whole hours ending on an hour (--window 1h, --at on \
                 the hour) reads them from the hours",
                out::when(cut.before)
            ),
        );
    }
    if let (None, Some((window, baseline, step))) = (at, &used) {
        // As the growth ranking does: without --at, say what was scored.
        out::say_trending_windows(
            snap.now_end().unwrap_or(window.to()),
            (window.from(), window.to()),
            &out::baseline_words(snap, (baseline.from(), baseline.to())),
            &step.to_string(),
        );
    }
    if g.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(value, r)| {
                let mut v = json!({"tag": r.tag, "recent": r.recent, "expected": num(r.expected), "score": num(r.score)});
                if !r.labels.is_empty() {
                    v["labels"] = crate::labels::labels_json(&r.labels);
                }
                select.add_by(&mut v, value);
                v
            })
            .collect();
        out::print_json(&json!(v));
        return Ok(());
    }
    let Some((window, baseline, step)) = used else {
        println!("(the store is empty)");
        return Ok(());
    };
    let hours = if step == Step::Hour {
        "  (on hours: the window, its baseline or its seasonal days reach before the minutes held)"
    } else {
        ""
    };
    println!(
        "trending by burst score at {}  window {} → {}  {}{hours}",
        out::when(at.or_else(|| snap.now_end()).unwrap_or(window.to())),
        out::when(window.from()),
        out::when(window.to()),
        out::baseline_words(snap, (baseline.from(), baseline.to())),
    );
    let mut t = Table::new(&[
        ("rank", Align::Right),
        ("tag", Align::Left),
        ("recent", Align::Right),
        ("expected", Align::Right),
        ("score", Align::Right),
        ("series", Align::Left),
    ]);
    // The sparkline covers the baseline and the window, in minutes when
    // that span is short.
    let (span_lo, hi) = (baseline.from(), window.to());
    let spark_step = if hi - span_lo <= 6 * 3600 {
        Step::Minute
    } else {
        Step::Hour
    };
    let s = spark_step.seconds();
    let (lo, hi) = (span_lo.div_euclid(s) * s, (hi + s - 1).div_euclid(s) * s);
    let ranks = crate::labels::group_ranks(rows.iter().map(|r| &r.0));
    for ((_, r), rank) in rows.iter().zip(ranks) {
        let spark = out::spark_or_damage(
            TimeRange::new(lo, hi)
                .and_then(|range| {
                    let labels = crate::labels::exact(&r.labels);
                    snap.series_where(&out::typed(&r.tag), range, spark_step, &labels)
                })
                .map(|s| out::sparkline(&s.points.iter().map(|p| p.1).collect::<Vec<_>>(), 48)),
        )?;
        t.row(vec![
            rank.to_string(),
            crate::labels::with_labels(&r.tag, &r.labels),
            out::thousands(r.recent),
            out::thousands_f(r.expected, 1),
            out::thousands_f(r.score, 1),
            spark,
        ]);
    }
    print!("{}", t.render());
    if rows.is_empty() && !out::asked_for_none(k) {
        // No score exists before MIN_BLOCKS baseline blocks (fewer when
        // the baseline holds fewer): say so when that, not the count, is
        // why nothing was ranked.
        let w = (window.to() - window.from()).max(1);
        let held = (baseline.to() - baseline.from()) / w;
        // As the detector: at least 2 blocks asked, at most MIN_BLOCKS needed.
        let asked = (p.baseline.as_secs() as i64 / w).max(2);
        let need = asked.min(i64::from(trendlog::burst::MIN_BLOCKS));
        if held < need {
            println!(
                "(no tag has a score: the baseline holds {held} whole window(s) of data at {step}, \
                 and a score needs {need})"
            );
        } else {
            println!(
                "(no tag had at least {} events in the recent window)",
                p.min_count
            );
        }
    }
    Ok(())
}
