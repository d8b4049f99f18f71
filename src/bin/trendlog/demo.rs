//! `trendlog demo`: one deterministic synthetic day modelled on the night
//! #MeToo took off (2017-10-15, UTC), loaded, compacted and reported.
//!
//! The day: a Zipf background of 50,000 tags (`trendlog_workload`), a
//! `metoo` surge that is silent until 12:00 and then climbs along a logistic
//! curve to about 12,000 posts a minute (millions by midnight, carried by
//! events with counts above 1, as a pre-aggregating collector would send
//! them), and two smaller bursts: `alcs` (a late-night ball game) and
//! `weinstein` (the news that set it off, in the morning).
//!
//! Every post carries a platform and a region (the store has label keys
//! `platform,region`): background tags mostly post from a home platform and
//! city, and the surge starts on twitter in los-angeles and spreads across
//! cities and platforms over the afternoon (`demo_spread`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use trendlog::time::{Step, TimeRange};
use trendlog::{Options, Store, TrendQuery};
use trendlog_workload::{self as workload, WorkloadSpec};

use crate::out::{self, Align, CmdResult, Fail, Table};
use crate::Global;

/// Generate a synthetic day with a #MeToo-like surge, load it, compact, and
/// report what the store says about it; writes metoo.svg and metoo-spread.svg
/// beside the store.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The store goes to --db (default ./trendlog-data). A directory the demo created before (it
holds a DEMO-STORE marker) is wiped and rebuilt; in any other existing directory nothing is
changed or removed, and the demo uses a fresh subdirectory demo-N inside it. The charts
metoo.svg (the surge) and metoo-spread.svg (where it spread) are written beside the store, in
its parent directory: for a demo-N subdirectory, that is the existing directory itself (an
existing file of that name there is replaced).

Example:
  cargo run --release -- demo
  trendlog --db /tmp/demo demo && trendlog --db /tmp/demo query metoo --step 1h")]
pub struct Args {
    /// Background events to generate (count 1 each).
    #[arg(long, default_value_t = 4_000_000)]
    pub events: u64,
}

/// The marker file that makes a directory the demo's own to wipe.
const MARKER: &str = "DEMO-STORE";
/// 2017-10-15T00:00:00Z.
const DAY: i64 = workload::DEFAULT_START;
const BACKGROUND_TAGS: u32 = 50_000;
const SURGE: &str = "metoo";
const BATCH: usize = 100_000;

/// Posts per minute of the surge at minute `m` of the day (0 before 12:00).
fn surge_rate(m: i64) -> f64 {
    if m < 12 * 60 {
        return 0.0;
    }
    let x = (m as f64 - 17.0 * 60.0) / 50.0;
    12_000.0 / (1.0 + (-x).exp())
}

/// Posts per minute of a gaussian burst peaking at `peak_min` with width `sd_min`.
fn burst(m: i64, peak_min: f64, sd_min: f64, peak: f64) -> f64 {
    let z = (m as f64 - peak_min) / sd_min;
    if z.abs() > 4.0 {
        0.0
    } else {
        peak * (-0.5 * z * z).exp()
    }
}

/// The extra tags: (name, posts per minute at minute m).
fn extras(m: i64) -> [(&'static str, u64); 3] {
    [
        (SURGE, surge_rate(m).round() as u64),
        ("alcs", burst(m, 2.0 * 60.0, 40.0, 1_500.0).round() as u64),
        (
            "weinstein",
            burst(m, 9.5 * 60.0, 70.0, 600.0).round() as u64,
        ),
    ]
}

/// One generated event: tag index (background rank, or `BACKGROUND_TAGS + i`
/// for extra tag i), unix second, count, platform and region (indexes into
/// `crate::demo_spread::PLATFORMS` and `REGIONS`).
type Ev = (u32, i64, u64, u8, u8);

struct Day {
    events: Vec<Ev>,
    names: Vec<String>,
    /// Posts per minute of the surge, and of everything else.
    surge_per_min: Vec<u64>,
    other_per_min: Vec<u64>,
}

fn generate(background: u64) -> Day {
    let spec = WorkloadSpec {
        events: background,
        tags: BACKGROUND_TAGS,
        zipf_s: 1.1,
        start: DAY,
        span_secs: 86_400,
        surge_max_share: 0.0,
        late_fraction: 0.01,
        late_max_secs: 300,
        seed: 2017,
        ..WorkloadSpec::default()
    };
    let w = workload::events(&spec);
    let mut names: Vec<String> = w.tag_names()[..BACKGROUND_TAGS as usize].to_vec();
    names.extend(extras(0).iter().map(|e| e.0.to_string()));
    let mut events = Vec::with_capacity(background as usize + 1440 * 30);
    let mut surge_per_min = vec![0u64; 1440];
    let mut other_per_min = vec![0u64; 1440];
    let mut next_minute = 0i64;
    // Extra tags arrive as 12 pre-aggregated events a minute (one per 5 s).
    let emit_extras = |m: i64, events: &mut Vec<Ev>, surge: &mut [u64], other: &mut [u64]| {
        for (i, (_, posts)) in extras(m).iter().enumerate() {
            if *posts == 0 {
                continue;
            }
            if i == 0 {
                // The surge, one event per platform and city it has reached.
                for (k, (p, r, c)) in crate::demo_spread::split_surge(m, *posts)
                    .into_iter()
                    .enumerate()
                {
                    let ts = DAY + m * 60 + (k % 60) as i64;
                    events.push((BACKGROUND_TAGS, ts, c, p, r));
                }
                surge[m as usize] += posts;
                continue;
            }
            let (q, r) = (posts / 12, posts % 12);
            for k in 0..12u64 {
                let c = q + u64::from(k < r);
                if c > 0 {
                    let ts = DAY + m * 60 + 5 * k as i64;
                    let (p, r) = crate::demo_spread::extra_labels(i, k);
                    events.push((BACKGROUND_TAGS + i as u32, ts, c, p, r));
                }
            }
            other[m as usize] += posts;
        }
    };
    for e in w {
        let m = (e.ts - DAY) / 60;
        while next_minute <= m {
            emit_extras(
                next_minute,
                &mut events,
                &mut surge_per_min,
                &mut other_per_min,
            );
            next_minute += 1;
        }
        other_per_min[m as usize] += 1;
        let (p, r) = crate::demo_spread::background_labels(e.tag_index, events.len() as u64);
        events.push((e.tag_index, e.ts, 1, p, r));
    }
    while next_minute < 1440 {
        emit_extras(
            next_minute,
            &mut events,
            &mut surge_per_min,
            &mut other_per_min,
        );
        next_minute += 1;
    }
    Day {
        events,
        names,
        surge_per_min,
        other_per_min,
    }
}

/// Picks the store directory: `db` itself when it is new, empty or the demo's
/// own (then wiped); otherwise a fresh `db/demo-N`. Never deletes anything
/// without the marker.
fn prepare_dir(db: &Path) -> Result<(PathBuf, &'static str), Fail> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Fail::runtime(format!("cannot {what} {}: {e}", p.display()))
    };
    let make = |p: &Path| -> Result<(), Fail> {
        std::fs::create_dir_all(p).map_err(|e| io("create", p, e))?;
        std::fs::write(
            p.join(MARKER),
            "created by `trendlog demo`; the demo may wipe this directory\n",
        )
        .map_err(|e| io("write into", p, e))
    };
    if !db.exists() {
        make(db)?;
        return Ok((db.to_path_buf(), "new"));
    }
    if db.join(MARKER).is_file() {
        std::fs::remove_dir_all(db).map_err(|e| io("remove the old demo store", db, e))?;
        make(db)?;
        return Ok((
            db.to_path_buf(),
            "rebuilt (the previous demo store was wiped)",
        ));
    }
    let empty = std::fs::read_dir(db)
        .map_err(|e| io("read", db, e))?
        .next()
        .is_none();
    if empty {
        make(db)?;
        return Ok((db.to_path_buf(), "new"));
    }
    for n in 1.. {
        let p = db.join(format!("demo-{n}"));
        if p.join(MARKER).is_file() {
            std::fs::remove_dir_all(&p).map_err(|e| io("remove the old demo store", &p, e))?;
        } else if p.exists() {
            continue;
        }
        make(&p)?;
        return Ok((
            p,
            "new, inside --db, which holds other data that the demo leaves alone",
        ));
    }
    unreachable!("the loop returns")
}

fn hhmm(secs: i64) -> String {
    let t = secs.rem_euclid(86_400);
    format!("{:02}:{:02}", t / 3600, t / 60 % 60)
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    let wall = Instant::now();
    let (dir, how) = prepare_dir(&g.db)?;
    let quiet = g.json;
    let say = |s: &str| {
        if !quiet {
            println!("{s}");
        }
    };
    say("trendlog demo: one synthetic day, 2017-10-15 (UTC), the day #MeToo took off");
    say(&format!(
        "  {} background tags (Zipf, s = 1.1), a #metoo surge from 12:00, bursts of #alcs and #weinstein",
        out::thousands(u64::from(BACKGROUND_TAGS))
    ));
    say(&format!("  store: {} ({how})", dir.display()));
    say("");

    let t = Instant::now();
    let day = generate(a.events);
    let gen_secs = t.elapsed().as_secs_f64();
    let posts: u64 = day.events.iter().map(|e| e.2).sum();

    // Ingest: batches of BATCH events, each committed durably (fsync) before the next.
    // Segments carry their per-tag totals, as `ingest` and `compact` write
    // them by default, so the sizes reported are those of a binary-written store.
    let store = Store::open(
        &dir,
        Options::default()
            .segment_tag_totals(true)
            .label_keys(crate::demo_spread::label_keys()),
    )?;
    let names: Vec<String> = day
        .names
        .iter()
        .map(|n| trendlog::tag::normalize(n).map(|t| t.into_owned()))
        .collect::<trendlog::Result<_>>()?;
    let t = Instant::now();
    let mut batches = 0;
    for chunk in day.events.chunks(BATCH) {
        let mut b = store.batch();
        for &(tag, ts, count, p, r) in chunk {
            let labels = [
                crate::demo_spread::PLATFORMS[usize::from(p)],
                crate::demo_spread::REGIONS[usize::from(r)],
            ];
            let minute = trendlog::time::Minute::from_unix(ts)?;
            b.add_normalized_labelled(&names[tag as usize], &labels, minute, count)?;
        }
        b.commit()?;
        batches += 1;
    }
    store.sync()?;
    let ingest_secs = t.elapsed().as_secs_f64();
    let rate = day.events.len() as f64 / ingest_secs;

    let t = Instant::now();
    store.seal()?;
    let report = store.compact()?;
    let compact_secs = t.elapsed().as_secs_f64();
    let snap = store.snapshot();
    let st = snap.stats();
    let exact = st.total_count == posts;

    say("Ingest");
    say(&format!(
        "  {} events carrying {} posts in {:.2} s: {} events/s",
        out::thousands(day.events.len() as u64),
        out::thousands(posts),
        ingest_secs,
        out::thousands(rate as u64)
    ));
    say(&format!(
        "  {batches} batches of up to {}, each fsynced before the next (generating the day took {:.2} s)",
        out::thousands(BATCH as u64),
        gen_secs
    ));
    if report.is_empty() {
        say(&format!(
            "  sealed and compacted in {compact_secs:.2} s: no roll-up needed, every minute is \
             within the 7-day minute retention"
        ));
    } else {
        say(&format!(
            "  sealed and compacted in {:.2} s: {} segments read, {} written; {} → {} cells",
            compact_secs,
            report.segments_read,
            report.segments_written,
            out::thousands(report.cells_before),
            out::thousands(report.cells_after)
        ));
    }
    // Every file of the store, the dictionary, its index and the series table included.
    let files_bytes: u64 = std::fs::read_dir(store.dir())
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(st.bytes);
    say(&format!(
        "  on disk: {} for {} (series, minute) cells = {:.1} bytes/cell ({:.2} bytes/post)",
        out::bytes(files_bytes),
        out::thousands(st.cells),
        files_bytes as f64 / st.cells.max(1) as f64,
        files_bytes as f64 / posts.max(1) as f64,
    ));
    say(&format!(
        "    sealed segments {} ({:.1} bytes/cell); the rest is the tags (once each), their \
         index and the series table (tag and labels of each series)",
        out::bytes(st.bytes),
        st.bytes as f64 / st.cells.max(1) as f64,
    ));
    say(&format!(
        "  exact: the store holds {} posts, the generator made {} {}",
        out::thousands(st.total_count),
        out::thousands(posts),
        if exact { "✓" } else { "✗ MISMATCH" }
    ));
    say("");

    // The surge, hour by hour.
    let day_range = TimeRange::new(DAY, DAY + 86_400)?;
    let hourly = snap.series(SURGE, day_range, Step::Hour)?;
    let counts: Vec<u64> = hourly.points.iter().map(|p| p.1).collect();
    let mut cum = 0u64;
    let (mut first, mut millionth) = (None, None);
    for (m, &c) in day.surge_per_min.iter().enumerate() {
        if c > 0 && first.is_none() {
            first = Some(DAY + m as i64 * 60);
        }
        cum += c;
        if cum >= 1_000_000 && millionth.is_none() {
            millionth = Some(DAY + m as i64 * 60);
        }
    }
    say(&format!(
        "#metoo, hour by hour: {} posts  {}",
        out::thousands(hourly.total),
        out::sparkline(&counts, 24)
    ));
    if let (Some(f), Some(m)) = (first, millionth) {
        say(&format!(
            "  silent until {}, one million posts by {}, {:.1} hours later",
            hhmm(f),
            hhmm(m),
            (m - f) as f64 / 3600.0
        ));
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let mut tab = Table::new(&[
        ("hour", Align::Left),
        ("posts", Align::Right),
        ("", Align::Left),
    ]);
    for &(ts, c) in &hourly.points {
        let w = (c as f64 / max as f64 * 50.0).round() as usize;
        tab.row(vec![hhmm(ts), out::thousands(c), "█".repeat(w)]);
    }
    if !quiet {
        for l in tab.render().lines() {
            println!("  {l}");
        }
    }
    say("");

    let (spread_json, spread_svg) = crate::demo_spread::report(&snap, SURGE, DAY, quiet)?;

    // What trending said each hour.
    say("What `trending` said each hour (recent hour against up to 6 hours before it, min 100 posts)");
    let mut tab = Table::new(&[
        ("at", Align::Left),
        ("1st", Align::Left),
        ("2nd", Align::Left),
        ("3rd", Align::Left),
    ]);
    let mut trend_json = Vec::new();
    for h in 2..=24i64 {
        let at = DAY + h * 3600;
        let q = TrendQuery {
            at: Some(at),
            window: std::time::Duration::from_secs(3600),
            baseline: std::time::Duration::from_secs(3600 * (h - 1).min(6) as u64),
            k: 3,
            min_count: 100,
            ..TrendQuery::default()
        };
        let rows = snap.trending(&q)?;
        let mut cells = vec![if h == 24 { "24:00".into() } else { hhmm(at) }];
        for r in &rows {
            cells.push(format!("{} ×{}", r.tag, out::thousands_f(r.growth, 1)));
        }
        cells.resize(4, String::new());
        trend_json.push(json!({"at": at, "tags": rows.iter().map(|r| json!({
            "tag": r.tag, "recent": r.recent, "baseline": r.baseline,
            "growth": out::growth_json(r.growth)})).collect::<Vec<_>>()}));
        tab.row(cells);
    }
    if !quiet {
        for l in tab.render().lines() {
            println!("  {l}");
        }
    }
    say("");

    // Top tags of the day.
    let top = snap.top(day_range, 10)?;
    say("Top tags of the day");
    let mut tab = Table::new(&[
        ("rank", Align::Right),
        ("tag", Align::Left),
        ("posts", Align::Right),
        ("share", Align::Right),
        ("00h … 23h", Align::Left),
    ]);
    for (i, r) in top.iter().enumerate() {
        let s = snap.series(&r.tag, day_range, Step::Hour)?;
        let c: Vec<u64> = s.points.iter().map(|p| p.1).collect();
        tab.row(vec![
            (i + 1).to_string(),
            r.tag.clone(),
            out::thousands(r.count),
            format!("{:.1}%", r.count as f64 * 100.0 / posts.max(1) as f64),
            out::sparkline(&c, 24),
        ]);
    }
    if !quiet {
        for l in tab.render().lines() {
            println!("  {l}");
        }
    }
    say("");

    let svg_path = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("metoo.svg");
    write_chart(
        &svg_path,
        &svg(&day.surge_per_min, &day.other_per_min, first, millionth),
    )?;
    let spread_path = svg_path.with_file_name("metoo-spread.svg");
    write_chart(&spread_path, &spread_svg)?;
    store.close()?;
    let total_secs = wall.elapsed().as_secs_f64();
    if g.json {
        out::print_json(&json!({
            "store": dir.display().to_string(),
            "svg": svg_path.display().to_string(),
            "events": day.events.len(),
            "posts": posts,
            "ingest_seconds": ingest_secs,
            "events_per_second": rate,
            "bytes": st.bytes,
            "cells": st.cells,
            "bytes_per_cell": st.bytes as f64 / st.cells.max(1) as f64,
            "exact": exact,
            "surge_hourly": hourly.points.iter().map(|p| json!([p.0, p.1])).collect::<Vec<_>>(),
            "trending": trend_json,
            "top": top.iter().map(|r| json!({"tag": r.tag, "count": r.count})).collect::<Vec<_>>(),
            "spread": spread_json,
            "spread_svg": spread_path.display().to_string(),
            "seconds": total_secs,
        }));
    } else {
        println!(
            "Chart of the surge against the background: {}",
            svg_path.display()
        );
        println!("Map of where it spread: {}", spread_path.display());
        println!("Done in {total_secs:.1} s. Ask the store yourself:");
        let db = dir.display();
        println!("  trendlog --db {db} query metoo --step 1h");
        println!("  trendlog --db {db} query metoo --step 1h --by region --where platform=twitter");
        println!("  trendlog --db {db} spread metoo --by region --at '2017-10-15 18:00:00'");
        // The flags of the trending table above, so its 18:00 row comes back.
        println!(
            "  trendlog --db {db} trending --at '2017-10-15 18:00:00' --baseline 6h --min-count 100 -k 3"
        );
        println!(
            "  trendlog --db {db} top -k 5 --from '2017-10-15 00:00:00' --to '2017-10-15 06:00:00'"
        );
        println!("  trendlog --db {db} inspect");
    }
    if exact {
        Ok(())
    } else {
        Err(Fail::runtime(
            "the store's total differs from what was generated",
        ))
    }
}

/// A hand-written SVG line chart: posts per minute (10-minute averages) of the
/// surge against everything else, over the day.
fn svg(surge: &[u64], other: &[u64], first: Option<i64>, millionth: Option<i64>) -> String {
    let (w, h) = (960.0, 440.0);
    let (l, r, t, b) = (80.0, 30.0, 84.0, 50.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let avg = |v: &[u64]| -> Vec<f64> {
        v.chunks(10)
            .map(|c| c.iter().sum::<u64>() as f64 / c.len() as f64)
            .collect()
    };
    let (s, o) = (avg(surge), avg(other));
    // `other` is drawn first, `surge` over it: both are areas from zero.
    let ymax = s.iter().chain(&o).copied().fold(1.0, f64::max);
    // A round top for the y axis.
    let mag = 10f64.powf(ymax.log10().floor());
    let top = (ymax / mag).ceil() * mag;
    let x = |i: f64| l + pw * i / 144.0;
    let y = |v: f64| t + ph * (1.0 - v / top);
    let path = |v: &[f64]| {
        let mut p = format!("M{:.1},{:.1}", x(0.0), y(0.0));
        for (i, &val) in v.iter().enumerate() {
            let _ = write!(p, " L{:.1},{:.1}", x(i as f64 + 0.5), y(val));
        }
        let _ = write!(p, " L{:.1},{:.1} Z", x(144.0), y(0.0));
        p
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="13">"##
    );
    let _ = writeln!(out, r##"<rect width="{w}" height="{h}" fill="#ffffff"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="{l}" y="28" font-size="18" font-weight="bold">#metoo against everything else, 2017-10-15 (UTC, synthetic)</text>"##
    );
    let _ = writeln!(
        out,
        r##"<text x="{l}" y="46" fill="#555">posts per minute, 10-minute averages; data from `trendlog demo`</text>"##
    );
    for k in 0..=5 {
        let v = top * f64::from(k) / 5.0;
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{l}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            l + pw,
            l - 8.0,
            yy + 4.0,
            out::thousands(v as u64)
        );
    }
    for hr in (0..=24).step_by(3) {
        let xx = x(f64::from(hr) * 6.0);
        let _ = writeln!(
            out,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#999"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{hr:02}:00</text>"##,
            t + ph,
            t + ph + 5.0,
            t + ph + 20.0
        );
    }
    let _ = writeln!(
        out,
        r##"<path d="{}" fill="#9aa5b1" fill-opacity="0.55" stroke="#52606d" stroke-width="1"/>"##,
        path(&o)
    );
    let _ = writeln!(
        out,
        r##"<path d="{}" fill="#e0245e" fill-opacity="0.35" stroke="#e0245e" stroke-width="2"/>"##,
        path(&s)
    );
    let _ = writeln!(
        out,
        r##"<line x1="{l}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        t + ph,
        l + pw,
        t + ph
    );
    let mark = |out: &mut String, at: i64, label: &str, dy: f64| {
        let i = (at - DAY) as f64 / 600.0;
        let xx = x(i);
        let _ = writeln!(
            out,
            r##"<line x1="{xx:.1}" y1="{t}" x2="{xx:.1}" y2="{:.1}" stroke="#e0245e" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#b0183f">{label}</text>"##,
            t + ph,
            xx - 6.0,
            t + dy
        );
    };
    if let Some(f) = first {
        mark(&mut out, f, &format!("first #metoo {}", hhmm(f)), 16.0);
    }
    if let Some(m) = millionth {
        mark(&mut out, m, &format!("1,000,000th post {}", hhmm(m)), 34.0);
    }
    // Mark labels are right-aligned to their line.
    let out = out.replace(
        r##"fill="#b0183f">"##,
        r##"fill="#b0183f" text-anchor="end">"##,
    );
    let mut out = out;
    // The legend, one row between the subtitle and the plot.
    let (lx, ly) = (l, 60.0);
    let _ = writeln!(
        out,
        r##"<rect x="{lx}" y="{ly}" width="14" height="10" fill="#e0245e" fill-opacity="0.6"/><text x="{:.1}" y="{:.1}">#metoo</text>"##,
        lx + 20.0,
        ly + 10.0
    );
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{ly}" width="14" height="10" fill="#9aa5b1"/><text x="{:.1}" y="{:.1}">all other tags ({} background tags, #alcs, #weinstein)</text>"##,
        lx + 90.0,
        lx + 110.0,
        ly + 10.0,
        out::thousands(u64::from(BACKGROUND_TAGS))
    );
    out.push_str("</svg>\n");
    out
}

/// Writes a chart to `path` through a temporary sibling renamed over it, so
/// that a symbolic link named like the chart is replaced, never written
/// through (the demo must not overwrite the file a link points at).
fn write_chart(path: &Path, text: &str) -> Result<(), Fail> {
    let cannot = |e: std::io::Error| Fail::runtime(format!("cannot write {}: {e}", path.display()));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    // A new file (never one that is there, nor a link's target).
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(cannot)?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cannot(e)
    })?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cannot(e)
    })
}
