//! `--labelled`: the labelled workload (issue 14) through trendlog with label
//! keys `platform,region` and a labelled SQLite table, side by side.
//!
//! The events are those of the default workload (same tags, times, counts),
//! each with a platform and a region ([`trendlog_workload::labelled_events`]:
//! background tags keep to a home platform and region with some spill, the
//! surge starts on one platform in one region and spreads through the
//! regions over the second half of the day). Each system runs in a child
//! process (`--labelled --only NAME`), as in the default mode, and answers:
//!
//! - the unfiltered top-10 trending (the default mode's question);
//! - the same within one region (`region = --region`, "trending in Chicago");
//! - the spread of the surge tag over regions: per region its recent count,
//!   baseline and growth, and per hour of the last 24 how many regions it was
//!   present and trending in (the engine's `Snapshot::spread`, and one
//!   `GROUP BY region, hour` in SQLite with the same arithmetic on its rows).
//!
//! The parent computes every answer straight from the workload and checks
//! both systems against it, then prints the figures and the targets.

#[cfg(feature = "trendlog-engine")]
pub mod cli;
mod sqlite;
#[cfg(feature = "trendlog-engine")]
mod trendlog;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trendlog_workload::{labelled_counts, labelled_events, LabelSpec, LabelledEvent};

use crate::systems::{Res, TrendQuery, TrendRow};
use crate::{dir_size, median, mem, rows_json, timed_query, Args, Questions, BATCH};

/// Names of tags, platforms and regions by index.
pub struct Names {
    /// Tag names by index (`tag{rank}`, then the surge tag).
    pub tags: Vec<String>,
    /// Platform names by index.
    pub platforms: Vec<String>,
    /// Region names by index.
    pub regions: Vec<String>,
}

/// The spread question: the surge tag over `region`, hourly, ending at `at`.
#[derive(Debug, Clone, Copy)]
pub struct SpreadQ {
    /// End of the evaluation in minutes, hour-aligned.
    pub at: u32,
    /// Recent window, in hours.
    pub window: u32,
    /// Baseline just before it, in hours.
    pub baseline: u32,
    /// Hours of timeline ending at `at`.
    pub span: u32,
    /// Least recent events for a region to count as trending.
    pub min_count: u64,
    /// Least growth for a region to count as trending.
    pub threshold: f64,
    /// Prior of the growth formula, events per minute.
    pub prior: f64,
}

impl SpreadQ {
    /// Hours of data the answer depends on: the timeline's first point needs
    /// a window and a baseline before its end.
    pub fn lead(&self) -> u32 {
        self.span + self.window + self.baseline
    }

    /// First minute of the hourly buckets the answer reads (`at - lead` hours,
    /// never below 0).
    pub fn first(&self) -> u32 {
        self.at.saturating_sub(self.lead() * 60)
    }

    /// The growth of a value with these counts, with the engine's operations
    /// in the engine's order (`query::growth::growth_of`).
    pub fn growth(&self, recent: u64, baseline: u64) -> f64 {
        let r = recent as f64 / f64::from(self.window * 60) + self.prior;
        let b = baseline as f64 / f64::from(self.baseline * 60) + self.prior;
        if b == 0.0 {
            return if r > 0.0 { f64::MAX } else { 0.0 };
        }
        let g = r / b;
        if g.is_infinite() {
            f64::MAX
        } else {
            g
        }
    }

    /// The full answer from hourly counts per value over
    /// `[first(), at)` (one slot per hour; values with no events may be
    /// left out): the engine's `Snapshot::spread`, step for step.
    pub fn answer(&self, hourly: HashMap<String, Vec<u64>>) -> SpreadAnswer {
        let n = ((self.at - self.first()) / 60) as usize;
        let (w, b) = (self.window as usize, self.baseline as usize);
        let span = (self.span as usize).min(n);
        let t0 = n - span;
        let at_end = |pre: &[u64], end: usize| -> (u64, u64, f64, bool) {
            let r_lo = end.saturating_sub(w);
            let b_lo = r_lo.saturating_sub(b);
            let (r, base) = (pre[end] - pre[r_lo], pre[r_lo] - pre[b_lo]);
            let g = self.growth(r, base);
            (
                r,
                base,
                g,
                r >= self.min_count && r > 0 && g >= self.threshold,
            )
        };
        let mut rows = Vec::new();
        let mut present = vec![0u32; span];
        let mut trending = vec![0u32; span];
        for (value, counts) in hourly {
            let mut pre = Vec::with_capacity(n + 1);
            pre.push(0u64);
            for i in 0..n {
                pre.push(pre[i] + counts.get(i).copied().unwrap_or(0));
            }
            if pre[n] == 0 {
                continue;
            }
            for i in 0..span {
                let bucket = t0 + i;
                present[i] += u32::from(counts.get(bucket).copied().unwrap_or(0) > 0);
                trending[i] += u32::from(at_end(&pre, bucket + 1).3);
            }
            let (recent, baseline, growth, is_trending) = at_end(&pre, n);
            if recent == 0 && baseline == 0 && pre[n] == pre[t0] {
                continue;
            }
            rows.push(SpreadRow {
                value,
                recent,
                baseline,
                growth,
                trending: is_trending,
            });
        }
        rows.sort_by(|a, b| {
            b.trending
                .cmp(&a.trending)
                .then(b.recent.cmp(&a.recent))
                .then_with(|| a.value.cmp(&b.value))
        });
        let timeline = (0..span)
            .map(|i| {
                let minute = self.first() + ((t0 + i) as u32) * 60;
                (minute, present[i], trending[i])
            })
            .collect();
        SpreadAnswer { rows, timeline }
    }
}

/// One value's row of a spread.
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadRow {
    /// The region.
    pub value: String,
    /// Recent events.
    pub recent: u64,
    /// Baseline events.
    pub baseline: u64,
    /// Growth (the trending formula).
    pub growth: f64,
    /// `recent >= min_count` and `growth >= threshold`.
    pub trending: bool,
}

/// A spread: rows, then `(hour start minute, present, trending)` per hour.
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadAnswer {
    /// Trending first, then by recent events, then by value.
    pub rows: Vec<SpreadRow>,
    /// One point per hour of the span.
    pub timeline: Vec<(u32, u32, u32)>,
}

impl SpreadAnswer {
    fn to_json(&self) -> Value {
        json!({
            "rows": self.rows.iter().map(|r| json!([r.value, r.recent, r.baseline, r.growth, r.trending])).collect::<Vec<_>>(),
            "timeline": self.timeline.iter().map(|&(m, p, t)| json!([m, p, t])).collect::<Vec<_>>(),
        })
    }
}

/// A labelled system under comparison.
pub trait LabelledSystem {
    /// Ingests one batch; a durable system commits it.
    fn ingest_batch(&mut self, events: &[LabelledEvent], names: &Names) -> Res<()>;
    /// Makes everything durable (timed as part of ingest).
    fn flush(&mut self) -> Res<()>;
    /// Closes the store.
    fn close(self: Box<Self>) -> Res<()>;
    /// Trending over every series, or over those of one region.
    fn trending(&mut self, q: &TrendQuery, region: Option<&str>) -> Res<Vec<TrendRow>>;
    /// The spread of `tag` over regions.
    fn spread(&mut self, tag: &str, q: &SpreadQ) -> Res<SpreadAnswer>;
    /// Distinct non-zero (tag, platform, region, minute) cells stored.
    fn cell_count(&mut self) -> Res<u64>;
}

/// The labelled systems this build has, in table order.
fn system_names() -> Vec<&'static str> {
    vec![
        #[cfg(feature = "trendlog-engine")]
        "trendlog",
        "sqlite",
    ]
}

fn durability(name: &str) -> &'static str {
    match name {
        "trendlog" => {
            "label keys platform,region; sync per batch (SyncPolicy::EveryBatch); flush = sync + seal"
        }
        _ => "WAL commit per batch, synchronous=NORMAL; PRIMARY KEY(tag, platform, region, minute) WITHOUT ROWID",
    }
}

fn open(name: &str, dir: &Path) -> Res<Box<dyn LabelledSystem>> {
    Ok(match name {
        #[cfg(feature = "trendlog-engine")]
        "trendlog" => Box::new(trendlog::TrendlogLabelled::open(dir)?),
        "sqlite" => Box::new(sqlite::SqliteLabelled::open(dir)?),
        other => return Err(format!("no labelled system {other:?}").into()),
    })
}

/// Bytes of each file in `dir` (recursively), by path relative to `dir`.
fn file_sizes(dir: &Path, prefix: &str, out: &mut Vec<(String, u64)>) -> Res<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let meta = entry.metadata()?;
        if meta.is_dir() {
            file_sizes(&entry.path(), &format!("{name}/"), out)?;
        } else {
            out.push((name, meta.len()));
        }
    }
    Ok(())
}

/// The questions, from the data's newest minute.
struct LabelledQuestions {
    q: Questions,
    spread: SpreadQ,
}

impl LabelledQuestions {
    fn new(max_minute: u32) -> LabelledQuestions {
        let q = Questions::new(max_minute);
        LabelledQuestions {
            spread: SpreadQ {
                at: q.series_to,
                window: 1,
                baseline: 24,
                span: 24,
                min_count: 10,
                threshold: 2.0,
                prior: 1.0 / 60.0,
            },
            q,
        }
    }
}

/// `--labelled --only NAME`: measure one labelled system, print its `RESULT`.
pub fn child(a: &Args, name: &str) -> Res<ExitCode> {
    let spec = a.spec();
    let lspec = LabelSpec::default();
    let root = a.dir.clone().ok_or("--only needs --dir")?;
    let sys_dir = root.join(format!("labelled-{name}"));
    if sys_dir.exists() {
        std::fs::remove_dir_all(&sys_dir)?;
    }
    let gens: Vec<_> = (0..a.runs)
        .map(|_| labelled_events(&spec, &lspec))
        .collect();
    let names = Names {
        tags: gens[0].tag_names().to_vec(),
        platforms: gens[0].platform_names().to_vec(),
        regions: gens[0].region_names().to_vec(),
    };
    let mut buf: Vec<LabelledEvent> = Vec::with_capacity(BATCH);
    let base_rss = mem::status_bytes("VmRSS")?;

    let mut ingest_secs = Vec::new();
    let mut max_minute = 0u32;
    let mut kept = None;
    let last_dir = sys_dir.join(format!("run{}", a.runs - 1));
    for (run, mut gen) in gens.into_iter().enumerate() {
        let dir = sys_dir.join(format!("run{run}"));
        std::fs::create_dir_all(&dir)?;
        let mut s = open(name, &dir)?;
        let mut elapsed = Duration::ZERO;
        loop {
            buf.clear();
            buf.extend(gen.by_ref().take(BATCH));
            if buf.is_empty() {
                break;
            }
            if let Some(m) = buf.iter().map(|e| e.event.minute()).max() {
                max_minute = max_minute.max(m);
            }
            let t = Instant::now();
            s.ingest_batch(&buf, &names)?;
            elapsed += t.elapsed();
        }
        let t = Instant::now();
        s.flush()?;
        elapsed += t.elapsed();
        let secs = elapsed.as_secs_f64();
        eprintln!(
            "  {name:<9} labelled ingest run {}/{}: {secs:>6.2} s, {:>12.0} events/s",
            run + 1,
            a.runs,
            spec.events as f64 / secs
        );
        ingest_secs.push(secs);
        if run + 1 < a.runs {
            s.close()?;
            std::fs::remove_dir_all(&dir)?;
        } else {
            kept = Some(s);
        }
    }
    let s = kept.ok_or("no ingest run")?;
    s.close()?;
    let preallocated = match name {
        #[cfg(feature = "trendlog-engine")]
        "trendlog" => crate::systems::trendlog::unused_preallocation(&last_dir)?,
        _ => 0,
    };
    let bytes = dir_size(&last_dir)?.saturating_sub(preallocated);
    let mut files = Vec::new();
    file_sizes(&last_dir, "", &mut files)?;
    files.sort();
    let mut times = Vec::new();
    let mut reopened = None;
    for j in 0..a.runs {
        let t = Instant::now();
        let r = open(name, &last_dir)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if j + 1 < a.runs {
            r.close()?;
        } else {
            reopened = Some(r);
        }
    }
    let mut s = reopened.ok_or("no reopen")?;

    let lq = LabelledQuestions::new(max_minute);
    let region = a.region.as_str();
    let (trending_secs, trending) =
        timed_query(a.query_runs, "trending", || s.trending(&lq.q.trend, None))?;
    let (where_secs, trending_where) = timed_query(a.query_runs, "trending where", || {
        s.trending(&lq.q.trend, Some(region))
    })?;
    let (spread_secs, spread) = timed_query(a.query_runs, "spread", || {
        s.spread(&spec.surge_tag, &lq.spread)
    })?;
    let cells = s.cell_count()?;
    s.close()?;
    let peak = mem::status_bytes("VmHWM")?.saturating_sub(base_rss);
    if !a.keep {
        std::fs::remove_dir_all(&sys_dir)?;
    }

    let result = json!({
        "system": name,
        "durability": durability(name),
        "ingest_secs": ingest_secs,
        "ingest_events_per_sec": spec.events as f64 / median(ingest_secs.clone()),
        "bytes_on_disk": bytes,
        "preallocated_unused_bytes": preallocated,
        "files": files.iter().map(|(f, n)| json!([f, n])).collect::<Vec<_>>(),
        "cells": cells,
        "bytes_per_cell": bytes as f64 / cells.max(1) as f64,
        "peak_rss_delta_bytes": peak,
        "reopen_ms": median(times),
        "trending_ms": trending_secs * 1e3,
        "trending_where_ms": where_secs * 1e3,
        "spread_us": spread_secs * 1e6,
        "answers": {
            "now_minute": lq.q.trend.now,
            "region": region,
            "trending": rows_json(&trending),
            "trending_where": rows_json(&trending_where),
            "spread": spread.to_json(),
        },
    });
    writeln!(std::io::stdout().lock(), "RESULT {result}")?;
    Ok(ExitCode::SUCCESS)
}

/// The answers computed straight from the labelled workload.
struct Truth {
    lq: LabelledQuestions,
    cells: u64,
    series: u64,
    trending: Vec<TrendRow>,
    trending_where: Vec<TrendRow>,
    spread: SpreadAnswer,
}

fn ground_truth(a: &Args) -> Res<Truth> {
    let spec = a.spec();
    let lspec = LabelSpec::default();
    let w = labelled_events(&spec, &lspec);
    let tags = w.tag_names().to_vec();
    let regions = w.region_names().to_vec();
    let surge = w.surge_index();
    let region = regions
        .iter()
        .position(|r| *r == a.region)
        .ok_or_else(|| format!("--region {:?} is not one of {regions:?}", a.region))?
        as u16;
    let counts = labelled_counts(&spec, &lspec);
    let max_minute = counts.keys().map(|k| k.3).max().unwrap_or(0);
    let lq = LabelledQuestions::new(max_minute);
    let t = &lq.q.trend;
    let sq = &lq.spread;
    let mut all: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut within: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut hourly: HashMap<String, Vec<u64>> = HashMap::new();
    let mut series = std::collections::HashSet::new();
    let hours = ((sq.at - sq.first()) / 60) as usize;
    for (&(tag, p, r, m), &n) in &counts {
        series.insert((tag, p, r));
        if m >= t.baseline_start() && m < t.now {
            let recent = m >= t.recent_start();
            for (map, keep) in [(&mut all, true), (&mut within, r == region)] {
                if keep {
                    let e = map.entry(tag).or_insert((0, 0));
                    if recent {
                        e.0 += n;
                    } else {
                        e.1 += n;
                    }
                }
            }
        }
        if tag == surge && m >= sq.first() && m < sq.at {
            let slots = hourly
                .entry(regions[usize::from(r)].clone())
                .or_insert_with(|| vec![0; hours]);
            slots[((m - sq.first()) / 60) as usize] += n;
        }
    }
    let rank = |m: HashMap<u32, (u64, u64)>| {
        t.rank(
            m.into_iter()
                .map(|(tag, (r, b))| (tags[tag as usize].clone(), r, b)),
        )
    };
    Ok(Truth {
        cells: counts.len() as u64,
        series: series.len() as u64,
        trending: rank(all),
        trending_where: rank(within),
        spread: sq.answer(hourly),
        lq,
    })
}

fn check(res: &Value, truth: &Truth) -> Vec<String> {
    let mut bad = Vec::new();
    let ans = &res["answers"];
    if ans["now_minute"].as_u64() != Some(u64::from(truth.lq.q.trend.now)) {
        bad.push(format!(
            "now minute {} != {}",
            ans["now_minute"], truth.lq.q.trend.now
        ));
    }
    if res["cells"].as_u64() != Some(truth.cells) {
        bad.push(format!(
            "{} cells, the workload has {}",
            res["cells"], truth.cells
        ));
    }
    for (key, want) in [
        ("trending", &truth.trending),
        ("trending_where", &truth.trending_where),
    ] {
        let want = rows_json(want);
        if !same_rows(&ans[key], &want, &[3]) {
            bad.push(format!("{key}: got {}, want {want}", ans[key]));
        }
    }
    let want = truth.spread.to_json();
    if !same_rows(&ans["spread"]["rows"], &want["rows"], &[3])
        || ans["spread"]["timeline"] != want["timeline"]
    {
        bad.push(format!("spread: got {}, want {want}", ans["spread"]));
    }
    bad
}

/// Arrays of rows equal, the columns `float_cols` within a relative 1e-9.
fn same_rows(got: &Value, want: &Value, float_cols: &[usize]) -> bool {
    let (Some(g), Some(w)) = (got.as_array(), want.as_array()) else {
        return false;
    };
    g.len() == w.len()
        && g.iter().zip(w).all(|(gr, wr)| {
            let (Some(gr), Some(wr)) = (gr.as_array(), wr.as_array()) else {
                return false;
            };
            gr.len() == wr.len()
                && gr.iter().zip(wr).enumerate().all(|(i, (x, y))| {
                    if float_cols.contains(&i) {
                        match (x.as_f64(), y.as_f64()) {
                            (Some(x), Some(y)) => {
                                x == y || ((x - y) / y).abs() <= crate::GROWTH_TOLERANCE
                            }
                            _ => false,
                        }
                    } else {
                        x == y
                    }
                })
        })
}

/// A store's bytes per cell split into its sealed segments, `tags.dict`,
/// `tags.idx` and the rest (log, manifest), or `None` for a single-file store.
fn bytes_split(r: &Value) -> Option<String> {
    let files = r["files"].as_array()?;
    let cells = r["cells"].as_f64()?.max(1.0);
    let total = r["bytes_on_disk"].as_f64()?;
    let sum = |pred: &dyn Fn(&str) -> bool| -> f64 {
        files
            .iter()
            .filter(|f| f[0].as_str().is_some_and(pred))
            .filter_map(|f| f[1].as_f64())
            .sum()
    };
    let base = |f: &str| f.rsplit('/').next().unwrap_or(f).to_owned();
    let seg = sum(&|f| base(f).starts_with("seg-"));
    let dict = sum(&|f| base(f) == "tags.dict");
    let idx = sum(&|f| base(f) == "tags.idx");
    if seg + dict + idx == 0.0 {
        return None;
    }
    Some(format!(
        "segments {:.2}, tags.dict {:.2}, tags.idx {:.2}, rest {:.2}",
        seg / cells,
        dict / cells,
        idx / cells,
        (total - seg - dict - idx) / cells
    ))
}

fn num(r: &Value, key: &str) -> f64 {
    r[key].as_f64().unwrap_or(f64::NAN)
}

/// `--labelled`: one child per labelled system, the checks, the table.
pub fn parent(a: &Args) -> Res<ExitCode> {
    let spec = a.spec();
    let lspec = LabelSpec::default();
    let root = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("trendlog-compare-{}", std::process::id())),
    };
    std::fs::create_dir_all(&root)?;
    eprintln!(
        "labelled workload: {} events, {} tags, {} platforms x {} regions; background tags \
         stay on a home platform {:.0}% / region {:.0}% of the time; #{} starts on platform {} \
         region {} and reaches every region {:.0}% into its ramp; seed {}",
        spec.events,
        spec.tags,
        lspec.platforms,
        lspec.regions,
        lspec.home_platform_share * 100.0,
        lspec.home_region_share * 100.0,
        spec.surge_tag,
        lspec.origin_platform,
        lspec.origin_region,
        lspec.region_spread_frac * 100.0,
        spec.seed
    );
    let t = Instant::now();
    let truth = ground_truth(a)?;
    eprintln!(
        "truth: {} (tag, platform, region, minute) cells in {} series, now = minute {}, \
         computed in {:.2} s",
        truth.cells,
        truth.series,
        truth.lq.q.trend.now,
        t.elapsed().as_secs_f64()
    );
    let wanted: Vec<&str> = system_names()
        .into_iter()
        .filter(|n| a.systems.iter().any(|s| s == n))
        .collect();
    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    for name in &wanted {
        eprintln!("{name}: running in a child process");
        let out = Command::new(&exe)
            .args(["--labelled", "--only", name])
            .args(["--events", &a.events.to_string()])
            .args(["--tags", &a.tags.to_string()])
            .args(["--seed", &a.seed.to_string()])
            .args(["--runs", &a.runs.to_string()])
            .args(["--query-runs", &a.query_runs.to_string()])
            .args(["--region", &a.region])
            .arg("--dir")
            .arg(&root)
            .args(if a.keep { &["--keep"][..] } else { &[][..] })
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()?;
        if !out.status.success() {
            return Err(format!("{name} failed ({})", out.status).into());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .ok_or_else(|| format!("{name} printed no RESULT line"))?;
        results.push(serde_json::from_str::<Value>(line)?);
    }
    if a.dir.is_none() && !a.keep {
        std::fs::remove_dir_all(&root).ok();
    }

    let mut mismatches = Vec::new();
    for r in &results {
        for m in check(r, &truth) {
            mismatches.push(format!("{}: {m}", r["system"].as_str().unwrap_or("?")));
        }
    }

    let mut out = String::new();
    out.push_str(&format!(
        "{:<9} {:>16} {:>10} {:>12} {:>10} {:>12} {:>18} {:>11}\n",
        "system",
        "ingest events/s",
        "bytes/cell",
        "peak RSS MiB",
        "reopen ms",
        "trending ms",
        format!("trending {} ms", a.region),
        "spread us"
    ));
    for r in &results {
        out.push_str(&format!(
            "{:<9} {:>16.0} {:>10.2} {:>12.1} {:>10.3} {:>12.3} {:>18.3} {:>11.1}\n",
            r["system"].as_str().unwrap_or("?"),
            num(r, "ingest_events_per_sec"),
            num(r, "bytes_per_cell"),
            num(r, "peak_rss_delta_bytes") / 1_048_576.0,
            num(r, "reopen_ms"),
            num(r, "trending_ms"),
            num(r, "trending_where_ms"),
            num(r, "spread_us"),
        ));
    }
    out.push_str(&format!(
        "labelled workload: {} events, {} series, {} cells, batches of {BATCH}; medians of {} \
         ingest runs and {} query runs\n",
        spec.events, truth.series, truth.cells, a.runs, a.query_runs
    ));
    for r in &results {
        out.push_str(&format!(
            "  {:<9} {}\n  {:<9} files: {}\n",
            r["system"].as_str().unwrap_or("?"),
            r["durability"].as_str().unwrap_or("?"),
            "",
            r["files"]
                .as_array()
                .map(|f| f
                    .iter()
                    .map(|x| format!("{} {}", x[0].as_str().unwrap_or("?"), x[1]))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ));
    }
    for r in &results {
        if let Some(split) = bytes_split(r) {
            out.push_str(&format!(
                "  {:<9} bytes/cell by file: {split}\n",
                r["system"].as_str().unwrap_or("?")
            ));
        }
    }
    let by = |n: &str| results.iter().find(|r| r["system"] == n);
    let mut targets = Vec::new();
    if let (Some(t), Some(s)) = (by("trendlog"), by("sqlite")) {
        let ingest = num(t, "ingest_events_per_sec") / num(s, "ingest_events_per_sec");
        let spread = num(s, "spread_us") / num(t, "spread_us");
        targets.push((
            "ingest >= 3x SQLite",
            format!("{ingest:.2}x"),
            ingest >= 3.0,
        ));
        targets.push((
            "spread >= 20x SQLite's GROUP BY",
            format!("{spread:.1}x"),
            spread >= 20.0,
        ));
        out.push_str(&format!(
            "  (SQLite: trending {:.1} ms, within the region {:.1} ms, {:.1}x trendlog's filtered)\n",
            num(s, "trending_ms"),
            num(s, "trending_where_ms"),
            num(s, "trending_where_ms") / num(t, "trending_where_ms")
        ));
    }
    if let Some(t) = by("trendlog") {
        let bpc = num(t, "bytes_per_cell");
        targets.push(("bytes per cell <= 4", format!("{bpc:.2}"), bpc <= 4.0));
        let (f, u) = (num(t, "trending_where_ms"), num(t, "trending_ms"));
        targets.push((
            "trending --where region <= unfiltered",
            format!("{f:.3} ms vs {u:.3} ms ({:.2}x)", f / u),
            f <= u,
        ));
    }
    for (what, got, met) in &targets {
        out.push_str(&format!(
            "target {what}: {got} -> {}\n",
            if *met { "met" } else { "MISSED" }
        ));
    }
    out.push_str(&format!(
        "answers: {}\n",
        if mismatches.is_empty() {
            format!(
                "all {} systems match the workload's truth ({} cells, trending, trending in {}, \
                 spread of #{} over {} regions)",
                results.len(),
                truth.cells,
                a.region,
                spec.surge_tag,
                truth.spread.rows.len()
            )
        } else {
            format!("{} MISMATCHES", mismatches.len())
        }
    ));
    if a.json {
        eprint!("{out}");
        let doc = json!({
            "workload": {
                "events": spec.events, "tags": spec.tags, "seed": spec.seed,
                "platforms": lspec.platforms, "regions": lspec.regions,
                "batch": BATCH, "runs": a.runs, "query_runs": a.query_runs, "region": a.region,
            },
            "truth": {
                "cells": truth.cells, "series": truth.series,
                "trending": rows_json(&truth.trending),
                "trending_where": rows_json(&truth.trending_where),
                "spread": truth.spread.to_json(),
            },
            "answers_match": mismatches.is_empty(),
            "mismatches": mismatches,
            "systems": results,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{out}");
    }
    if !mismatches.is_empty() {
        eprintln!("!!! ANSWERS DIFFER: the systems do not agree with the labelled workload.");
        for m in &mismatches {
            eprintln!("!!! {m}");
        }
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> SpreadQ {
        SpreadQ {
            at: 100 * 60,
            window: 1,
            baseline: 24,
            span: 24,
            min_count: 10,
            threshold: 2.0,
            prior: 1.0 / 60.0,
        }
    }

    #[test]
    fn spread_answer_counts_present_and_trending_values() {
        let q = q();
        let n = ((q.at - q.first()) / 60) as usize;
        assert_eq!(n, 49);
        let mut hourly = HashMap::new();
        // Steady all along: present every hour, never trending.
        hourly.insert("la".to_owned(), vec![50; n]);
        // New in the last hour: trending there only.
        let mut new = vec![0; n];
        new[n - 1] = 50;
        hourly.insert("nyc".to_owned(), new);
        hourly.insert("nowhere".to_owned(), vec![0; n]);
        let s = q.answer(hourly);
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.rows[0].value, "nyc");
        assert!(s.rows[0].trending && !s.rows[1].trending);
        assert_eq!((s.rows[1].recent, s.rows[1].baseline), (50, 24 * 50));
        assert_eq!(s.timeline.len(), 24);
        assert_eq!(s.timeline[23], (99 * 60, 2, 1));
        assert_eq!(s.timeline[0], (76 * 60, 1, 0));
    }
}
