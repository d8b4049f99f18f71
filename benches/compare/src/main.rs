//! trendlog-compare: one workload, every system a user might pick instead of
//! trendlog, side by side, in one command.
//!
//! ```text
//! cargo run --release -p trendlog-compare -- --events 5000000 [--tags 200000] [--runs 3]
//!     [--json] [--systems hashmap,sqlite,redb,fjall,trendlog] [--dir /tmp/x]
//! cargo run --release -p trendlog-compare -- --labelled --events 5000000 [--region chicago]
//! ```
//!
//! `--labelled` runs the labelled workload of issue 14 (platform and region
//! per event) through trendlog and a labelled SQLite table instead; see
//! `labelled`.
//!
//! The parent process runs each system in a child process of this same binary
//! (`--only SYSTEM`), one after the other, so each peak-memory figure is that
//! system's own: the child's `VmHWM` minus its `VmRSS` before it opened the
//! store. The child prints one `RESULT {json}` line; the parent checks that
//! every system gave exactly the answers computed straight from the workload,
//! prints the table (and the JSON with `--json`) and exits non-zero if any
//! answer differs.

mod cli;
mod labelled;
mod mem;
mod systems;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trendlog_workload::{events, Event, Workload, WorkloadSpec};

use systems::{Res, System, TrendQuery, TrendRow};

/// Events per batch (and per durable commit) for every system.
const BATCH: usize = 100_000;
/// Relative tolerance when comparing growth values across systems.
const GROWTH_TOLERANCE: f64 = 1e-9;

const USAGE: &str = "\
trendlog-compare: the same workload through trendlog and its peers, side by side.

USAGE:
    trendlog-compare [OPTIONS]

OPTIONS:
    --events N         events in the workload            [default: 5000000]
    --tags N           distinct background tags          [default: 200000]
    --seed N           workload seed                     [default: 42]
    --runs N           ingest and reopen repetitions (median reported) [default: 3]
    --query-runs N     repetitions of each query (median reported)     [default: 21]
    --systems LIST     comma-separated, in order         [default: every compiled-in system]
    --ratio-to NAME    system the ratios are relative to [default: trendlog]
    --dir PATH         where the stores go               [default: a fresh folder in the temp dir]
    --keep             keep the stores afterwards
    --json             print the results as JSON on stdout (the table goes to stderr)
    --only NAME        run one system in this process and print its RESULT line (used by the parent)
    --gen-only         only time the workload generator
    --cli              whole processes instead: the trendlog binary against the sqlite3 shell
                       (query, trending, top, inspect; peak RSS; in-process open), see docs/performance.md
    --no-segment-totals
                       with --cli: build the trendlog store without each segment's per-tag
                       totals (the library's default), not as the binary's `ingest` writes
                       it (with them: Options::segment_tag_totals); --segment-totals: with
    --labelled         the labelled workload (3 platforms x 50 regions) through trendlog with
                       label keys and a labelled SQLite table: ingest, bytes/cell, trending
                       with and without a region filter, spread of the surge tag by region
    --region NAME      the region of the filtered trending in --labelled [default: chicago]
                       (--labelled --cli: the same questions as whole processes, the trendlog
                       binary against the sqlite3 shell)
    --trendlog PATH    the trendlog binary for --cli  [default: beside this executable]
    --sqlite3 PATH     the sqlite3 shell for --cli    [default: sqlite3 on PATH]
    -h, --help         this text

Systems: hashmap, sqlite, redb, fjall, and trendlog (the `trendlog-engine`
feature, on by default).";

#[derive(Debug, Clone)]
struct Args {
    events: u64,
    tags: u32,
    seed: u64,
    runs: usize,
    query_runs: usize,
    systems: Vec<String>,
    ratio_to: String,
    dir: Option<PathBuf>,
    keep: bool,
    json: bool,
    only: Option<String>,
    gen_only: bool,
    cli: bool,
    labelled: bool,
    segment_totals: bool,
    region: String,
    trendlog_bin: Option<PathBuf>,
    sqlite3_bin: Option<PathBuf>,
}

impl Args {
    fn spec(&self) -> WorkloadSpec {
        WorkloadSpec {
            events: self.events,
            tags: self.tags,
            seed: self.seed,
            ..WorkloadSpec::default()
        }
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args {
        events: 5_000_000,
        tags: 200_000,
        seed: 42,
        runs: 3,
        query_runs: 21,
        systems: systems::kinds().iter().map(|k| k.name.to_owned()).collect(),
        ratio_to: "trendlog".to_owned(),
        dir: None,
        keep: false,
        json: false,
        only: None,
        gen_only: false,
        cli: false,
        labelled: false,
        segment_totals: true,
        region: "chicago".to_owned(),
        trendlog_bin: None,
        sqlite3_bin: None,
    };
    let mut it = std::env::args().skip(1);
    fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        v.replace('_', "")
            .parse()
            .map_err(|_| format!("{flag}: not a number: {v:?}"))
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--events" => a.events = num(&arg, it.next())?,
            "--tags" => a.tags = num(&arg, it.next())?,
            "--seed" => a.seed = num(&arg, it.next())?,
            "--runs" => a.runs = num::<usize>(&arg, it.next())?.max(1),
            "--query-runs" => a.query_runs = num::<usize>(&arg, it.next())?.max(1),
            "--systems" => {
                let v = it.next().ok_or("--systems needs a value")?;
                a.systems = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "--ratio-to" => a.ratio_to = it.next().ok_or("--ratio-to needs a value")?,
            "--dir" => a.dir = Some(PathBuf::from(it.next().ok_or("--dir needs a value")?)),
            "--keep" => a.keep = true,
            "--json" => a.json = true,
            "--only" => a.only = Some(it.next().ok_or("--only needs a value")?),
            "--gen-only" => a.gen_only = true,
            "--cli" => a.cli = true,
            "--labelled" => a.labelled = true,
            "--segment-totals" => a.segment_totals = true,
            "--no-segment-totals" => a.segment_totals = false,
            "--region" => a.region = it.next().ok_or("--region needs a value")?,
            "--trendlog" => {
                a.trendlog_bin = Some(PathBuf::from(it.next().ok_or("--trendlog needs a value")?))
            }
            "--sqlite3" => {
                a.sqlite3_bin = Some(PathBuf::from(it.next().ok_or("--sqlite3 needs a value")?))
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if a.tags == 0 || a.tags == u32::MAX {
        return Err("--tags must be at least 1".to_owned());
    }
    for name in a.systems.iter().chain(a.only.iter()) {
        if systems::kind(name).is_none() {
            let hint = if name == "trendlog" {
                " (this build left out the `trendlog-engine` feature, which is on by default)"
            } else {
                ""
            };
            return Err(format!("unknown or not compiled-in system {name:?}{hint}"));
        }
    }
    Ok(Some(a))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(64);
        }
    };
    let outcome = if args.gen_only {
        gen_only(&args)
    } else if args.cli && args.labelled {
        labelled_cli(&args)
    } else if args.cli {
        cli::run(&args)
    } else if args.labelled {
        match args.only.clone() {
            Some(name) => labelled::child(&args, &name),
            None => labelled::parent(&args),
        }
    } else if let Some(name) = args.only.clone() {
        child(&args, &name)
    } else {
        parent(&args)
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--labelled --cli`: the labelled questions as whole processes.
fn labelled_cli(a: &Args) -> Res<ExitCode> {
    #[cfg(feature = "trendlog-engine")]
    return labelled::cli::run(a);
    #[cfg(not(feature = "trendlog-engine"))]
    {
        let _ = a;
        Err("--labelled --cli needs the trendlog-engine feature".into())
    }
}

/// `--gen-only`: how fast the workload generator runs on this machine.
fn gen_only(a: &Args) -> Res<ExitCode> {
    let spec = a.spec();
    let t = Instant::now();
    let w = events(&spec);
    let setup = t.elapsed();
    let t = Instant::now();
    let mut check = 0u64;
    for e in w {
        check = check.wrapping_add(e.ts as u64 ^ u64::from(e.tag_index));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "generator: {} events in {:.3} s = {:.1} M events/s (setup {:.1} ms, checksum {check:x})",
        spec.events,
        secs,
        spec.events as f64 / secs / 1e6,
        setup.as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn dir_size(dir: &Path) -> Res<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            total += dir_size(&entry.path())?;
        } else {
            total += meta.len();
        }
    }
    Ok(total)
}

/// The questions every system answers, derived from the data's newest minute.
#[derive(Debug, Clone, Copy)]
struct Questions {
    trend: TrendQuery,
    series_from: u32,
    series_to: u32,
}

impl Questions {
    /// `now` is one past the newest minute; the series covers the 24 whole
    /// hours ending at `now` rounded up to an hour.
    fn new(max_minute: u32) -> Questions {
        let now = max_minute + 1;
        let series_to = now.div_ceil(60) * 60;
        Questions {
            trend: TrendQuery {
                now,
                recent_minutes: 60,
                baseline_minutes: 23 * 60,
                k: 10,
                min_count: 10,
                prior: 1.0 / 60.0,
            },
            series_from: series_to - 24 * 60,
            series_to,
        }
    }
}

fn rows_json(rows: &[TrendRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| json!([r.tag, r.recent, r.baseline, r.growth]))
            .collect(),
    )
}

/// Runs `f` `n` times; returns the median seconds and the answer, failing if
/// the answer ever changes between runs.
fn timed_query<T: PartialEq + std::fmt::Debug>(
    n: usize,
    what: &str,
    mut f: impl FnMut() -> Res<T>,
) -> Res<(f64, T)> {
    let mut times = Vec::with_capacity(n);
    let mut first: Option<T> = None;
    for _ in 0..n {
        let t = Instant::now();
        let answer = f()?;
        times.push(t.elapsed().as_secs_f64());
        match &first {
            None => first = Some(answer),
            Some(prev) if *prev != answer => {
                return Err(format!("{what} changed between runs: {prev:?} then {answer:?}").into())
            }
            Some(_) => {}
        }
    }
    Ok((median(times), first.ok_or("no query run")?))
}

/// `--only NAME`: measure one system and print its `RESULT` line.
fn child(a: &Args, name: &str) -> Res<ExitCode> {
    let kind = systems::kind(name).ok_or("unknown system")?;
    let spec = a.spec();
    let root = a.dir.clone().ok_or("--only needs --dir")?;
    let sys_dir = root.join(kind.name);
    if sys_dir.exists() {
        std::fs::remove_dir_all(&sys_dir)?;
    }
    // Everything the harness needs is allocated before the baseline RSS is
    // read, so the delta is the system's own.
    let gens: Vec<Workload> = (0..a.runs).map(|_| events(&spec)).collect();
    let names: Vec<String> = gens[0].tag_names().to_vec();
    let mut buf: Vec<Event> = Vec::with_capacity(BATCH);
    let base_rss = mem::status_bytes("VmRSS")?;

    let mut ingest_secs = Vec::new();
    let mut max_minute = 0u32;
    let mut kept: Option<Box<dyn System>> = None;
    let last_dir = sys_dir.join(format!("run{}", a.runs - 1));
    for (run, mut gen) in gens.into_iter().enumerate() {
        let dir = sys_dir.join(format!("run{run}"));
        std::fs::create_dir_all(&dir)?;
        let mut s = systems::open(&kind, &dir)?;
        let mut elapsed = Duration::ZERO;
        loop {
            buf.clear();
            buf.extend(gen.by_ref().take(BATCH));
            if buf.is_empty() {
                break;
            }
            if let Some(m) = buf.iter().map(Event::minute).max() {
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
            "  {:<9} ingest run {}/{}: {:>6.2} s, {:>12.0} events/s",
            kind.name,
            run + 1,
            a.runs,
            secs,
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
    let mut s = kept.ok_or("no ingest run")?;

    let (bytes_on_disk, preallocated, reopen_ms) = if kind.persistent {
        s.close()?;
        let preallocated = systems::unused_preallocation(&kind, &last_dir)?;
        let bytes = dir_size(&last_dir)?.saturating_sub(preallocated);
        let mut times = Vec::new();
        let mut reopened = None;
        for j in 0..a.runs {
            let t = Instant::now();
            let r = systems::open(&kind, &last_dir)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            if j + 1 < a.runs {
                r.close()?;
            } else {
                reopened = Some(r);
            }
        }
        s = reopened.ok_or("no reopen")?;
        (Some(bytes), Some(preallocated), Some(median(times)))
    } else {
        (None, None, None)
    };

    let q = Questions::new(max_minute);
    let (series_secs, series) = timed_query(a.query_runs, "hourly series", || {
        s.hourly_series(&spec.surge_tag, q.series_from, q.series_to)
    })?;
    let (trending_secs, trending) = timed_query(a.query_runs, "trending", || s.trending(&q.trend))?;
    let cells = s.cell_count()?;
    s.close()?;
    let peak = mem::status_bytes("VmHWM")?.saturating_sub(base_rss);
    if !a.keep {
        std::fs::remove_dir_all(&sys_dir)?;
    }

    let ingest_median = median(ingest_secs.clone());
    let result = json!({
        "system": kind.name,
        "pre_aggregates": kind.pre_aggregates,
        "durability": kind.durability,
        "ingest_secs": ingest_secs,
        "ingest_events_per_sec": spec.events as f64 / ingest_median,
        "bytes_on_disk": bytes_on_disk,
        "preallocated_unused_bytes": preallocated,
        "cells": cells,
        "bytes_per_cell": bytes_on_disk.map(|b| b as f64 / cells.max(1) as f64),
        "peak_rss_delta_bytes": peak,
        "reopen_ms": reopen_ms,
        "series_us": series_secs * 1e6,
        "trending_ms": trending_secs * 1e3,
        "answers": {
            "now_minute": q.trend.now,
            "series_from_minute": q.series_from,
            "series_to_minute": q.series_to,
            "series": series,
            "trending": rows_json(&trending),
        },
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "RESULT {result}")?;
    Ok(ExitCode::SUCCESS)
}

/// The answers computed straight from the workload, without any system.
fn ground_truth(spec: &WorkloadSpec) -> (Questions, u64, Vec<u64>, Vec<TrendRow>) {
    let w = events(spec);
    let names = w.tag_names().to_vec();
    let surge = w.surge_index();
    let mut cells: HashMap<(u32, u32), u64> = HashMap::new();
    let mut max_minute = 0;
    for e in w {
        let m = e.minute();
        max_minute = max_minute.max(m);
        *cells.entry((e.tag_index, m)).or_insert(0) += e.count;
    }
    let q = Questions::new(max_minute);
    let mut series = vec![0u64; ((q.series_to - q.series_from) / 60) as usize];
    let mut per_tag: HashMap<u32, (u64, u64)> = HashMap::new();
    let t = &q.trend;
    for (&(tag, m), &n) in &cells {
        if tag == surge && (q.series_from..q.series_to).contains(&m) {
            systems::add_to_hour(&mut series, q.series_from, m, n);
        }
        if m >= t.baseline_start() && m < t.now {
            let e = per_tag.entry(tag).or_insert((0, 0));
            if m >= t.recent_start() {
                e.0 += n;
            } else {
                e.1 += n;
            }
        }
    }
    let trending = t.rank(
        per_tag
            .into_iter()
            .map(|(tag, (r, b))| (names[tag as usize].clone(), r, b)),
    );
    (q, cells.len() as u64, series, trending)
}

/// Differences between one system's answers and the truth, as sentences.
fn check_answers(
    res: &Value,
    q: &Questions,
    cells: u64,
    series: &[u64],
    trending: &[TrendRow],
) -> Vec<String> {
    let mut bad = Vec::new();
    let ans = &res["answers"];
    if ans["now_minute"].as_u64() != Some(u64::from(q.trend.now)) {
        bad.push(format!(
            "now minute {} != {}",
            ans["now_minute"], q.trend.now
        ));
    }
    if res["cells"].as_u64() != Some(cells) {
        bad.push(format!("{} cells, the workload has {cells}", res["cells"]));
    }
    let got_series: Vec<u64> = ans["series"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    if got_series != series {
        bad.push(format!("hourly series {got_series:?} != {series:?}"));
    }
    let got_rows = ans["trending"].as_array().cloned().unwrap_or_default();
    if got_rows.len() != trending.len() {
        bad.push(format!(
            "{} trending rows, want {}",
            got_rows.len(),
            trending.len()
        ));
    }
    for (i, (got, want)) in got_rows.iter().zip(trending).enumerate() {
        let tag = got[0].as_str().unwrap_or("?");
        let r = got[1].as_u64();
        let b = got[2].as_u64();
        let g = got[3].as_f64().unwrap_or(f64::NAN);
        // NaN (a missing value) never counts as close.
        let close = ((g - want.growth) / want.growth).abs() <= GROWTH_TOLERANCE;
        if tag != want.tag || r != Some(want.recent) || b != Some(want.baseline) || !close {
            bad.push(format!(
                "trending row {i}: got ({tag}, {r:?}, {b:?}, {g}), want ({}, {}, {}, {})",
                want.tag, want.recent, want.baseline, want.growth
            ));
        }
    }
    bad
}

/// A metric of the table: how to read it from a result and print it.
struct Metric {
    header: &'static str,
    key: &'static str,
    scale: f64,
    decimals: usize,
}

const METRICS: [Metric; 6] = [
    Metric {
        header: "ingest events/s",
        key: "ingest_events_per_sec",
        scale: 1.0,
        decimals: 0,
    },
    Metric {
        header: "bytes/cell",
        key: "bytes_per_cell",
        scale: 1.0,
        decimals: 2,
    },
    Metric {
        header: "peak RSS MiB",
        key: "peak_rss_delta_bytes",
        scale: 1.0 / 1_048_576.0,
        decimals: 1,
    },
    Metric {
        header: "reopen ms",
        key: "reopen_ms",
        scale: 1.0,
        decimals: 3,
    },
    Metric {
        header: "series us",
        key: "series_us",
        scale: 1.0,
        decimals: 1,
    },
    Metric {
        header: "trending ms",
        key: "trending_ms",
        scale: 1.0,
        decimals: 3,
    },
];

/// Adds `ratios` (this system's figure / the reference system's) to each
/// result, where both exist.
fn add_ratios(results: &mut [Value], ratio_to: &str) {
    let reference = results.iter().find(|r| r["system"] == ratio_to).cloned();
    for r in results.iter_mut() {
        let mut ratios = serde_json::Map::new();
        for m in &METRICS {
            let v = match (&reference, r[m.key].as_f64()) {
                (Some(base), Some(x)) => match base[m.key].as_f64() {
                    Some(b) if b != 0.0 => json!(x / b),
                    _ => Value::Null,
                },
                _ => Value::Null,
            };
            ratios.insert(m.key.to_owned(), v);
        }
        r["ratios"] = Value::Object(ratios);
    }
}

fn render_table(results: &[Value], ratio_to: &str) -> String {
    let mut header = vec!["system".to_owned(), "pre-agg".to_owned()];
    header.extend(METRICS.iter().map(|m| m.header.to_owned()));
    let mut rows = vec![header];
    for r in results {
        let mut row = vec![
            r["system"].as_str().unwrap_or("?").to_owned(),
            if r["pre_aggregates"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
        ];
        for m in &METRICS {
            let cell = match r[m.key].as_f64() {
                None => "n/a".to_owned(),
                Some(x) => {
                    let mut s = format!("{:.*}", m.decimals, x * m.scale);
                    if let Some(ratio) = r["ratios"][m.key].as_f64() {
                        s.push_str(&format!(" ({ratio:.3}x)"));
                    }
                    s
                }
            };
            row.push(cell);
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c < 2 {
                    format!("{s:<w$}", w = widths[c])
                } else {
                    format!("{s:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    if results.iter().any(|r| r["system"] == ratio_to) {
        out.push_str(&format!(
            "(ratio) = this system's figure / {ratio_to}'s: above 1 is better for events/s, worse for the rest.\n"
        ));
    } else {
        out.push_str(&format!(
            "ratios to {ratio_to}: n/a ({ratio_to} was not run).\n"
        ));
    }
    out
}

fn versions() -> Value {
    json!({
        "sqlite": rusqlite::version(),
        "rusqlite": env!("LOCKED_RUSQLITE"),
        "redb": env!("LOCKED_REDB"),
        "fjall": env!("LOCKED_FJALL"),
        "rustc_profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

/// The default run: one child per system, then the checks and the table.
fn parent(a: &Args) -> Res<ExitCode> {
    let spec = a.spec();
    let root = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("trendlog-compare-{}", std::process::id())),
    };
    std::fs::create_dir_all(&root)?;
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful numbers");
    }
    eprintln!(
        "workload: {} events, {} tags, Zipf s={}, {} h from {}, surge #{} to {:.0}% over the second half, {:.0}% late by <= {} s, seed {}",
        spec.events,
        spec.tags,
        spec.zipf_s,
        spec.span_secs / 3600,
        trendlog::time::format_rfc3339(spec.start),
        spec.surge_tag,
        spec.surge_max_share * 100.0,
        spec.late_fraction * 100.0,
        spec.late_max_secs,
        spec.seed
    );
    let t = Instant::now();
    let (q, cells, series, trending) = ground_truth(&spec);
    eprintln!(
        "truth: {cells} non-zero (tag, minute) cells, now = minute {}, computed in {:.2} s",
        q.trend.now,
        t.elapsed().as_secs_f64()
    );

    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    for name in &a.systems {
        eprintln!("{name}: running in a child process");
        let mut cmd = Command::new(&exe);
        cmd.args(["--only", name])
            .args(["--events", &a.events.to_string()])
            .args(["--tags", &a.tags.to_string()])
            .args(["--seed", &a.seed.to_string()])
            .args(["--runs", &a.runs.to_string()])
            .args(["--query-runs", &a.query_runs.to_string()])
            .arg("--dir")
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if a.keep {
            cmd.arg("--keep");
        }
        let t = Instant::now();
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(format!("{name} failed ({})", out.status).into());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .ok_or_else(|| format!("{name} printed no RESULT line"))?;
        let mut v: Value = serde_json::from_str(line)?;
        v["wall_secs"] = json!(t.elapsed().as_secs_f64());
        results.push(v);
    }
    if a.dir.is_none() && !a.keep {
        std::fs::remove_dir_all(&root).ok();
    }

    let mut mismatches = Vec::new();
    for r in &results {
        for m in check_answers(r, &q, cells, &series, &trending) {
            mismatches.push(format!("{}: {m}", r["system"].as_str().unwrap_or("?")));
        }
    }
    add_ratios(&mut results, &a.ratio_to);

    let mut table = render_table(&results, &a.ratio_to);
    table.push_str(&format!(
        "workload: {} events, {} tags, batches of {BATCH}; medians of {} ingest/reopen runs and {} query runs\n",
        spec.events, spec.tags, a.runs, a.query_runs
    ));
    table.push_str(
        "pre-agg: the batch is summed per (tag, minute) in a std HashMap inside the timed ingest; \
         hashmap counts event by event; trendlog aggregates inside the engine\n",
    );
    for r in &results {
        table.push_str(&format!(
            "  {:<9} durability: {}\n",
            r["system"].as_str().unwrap_or("?"),
            r["durability"].as_str().unwrap_or("?")
        ));
    }
    for r in &results {
        if let Some(p) = r["preallocated_unused_bytes"].as_u64().filter(|&p| p > 0) {
            table.push_str(&format!(
                "  {:<9} bytes/cell excludes {:.1} MiB preallocated but unused (the empty active log)\n",
                r["system"].as_str().unwrap_or("?"),
                p as f64 / 1_048_576.0
            ));
        }
    }
    let v = versions();
    table.push_str(&format!(
        "versions: SQLite {} (rusqlite {}), redb {}, fjall {}\n",
        v["sqlite"].as_str().unwrap_or("?"),
        v["rusqlite"].as_str().unwrap_or("?"),
        v["redb"].as_str().unwrap_or("?"),
        v["fjall"].as_str().unwrap_or("?")
    ));
    table.push_str(&format!(
        "answers: {}\n",
        if mismatches.is_empty() {
            format!(
                "all {} systems match the workload's truth ({cells} cells, #{} series, top-{} trending)",
                results.len(),
                spec.surge_tag,
                trending.len()
            )
        } else {
            format!("{} MISMATCHES", mismatches.len())
        }
    ));

    if a.json {
        eprint!("{table}");
        let doc = json!({
            "workload": {
                "events": spec.events,
                "tags": spec.tags,
                "zipf_s": spec.zipf_s,
                "start": spec.start,
                "span_secs": spec.span_secs,
                "surge_tag": spec.surge_tag,
                "surge_max_share": spec.surge_max_share,
                "late_fraction": spec.late_fraction,
                "late_max_secs": spec.late_max_secs,
                "seed": spec.seed,
                "batch": BATCH,
                "runs": a.runs,
                "query_runs": a.query_runs,
            },
            "ratio_to": a.ratio_to,
            "versions": v,
            "truth": {
                "cells": cells,
                "now_minute": q.trend.now,
                "series": series,
                "trending": rows_json(&trending),
            },
            "answers_match": mismatches.is_empty(),
            "mismatches": mismatches,
            "systems": results,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{table}");
    }

    if !mismatches.is_empty() {
        eprintln!();
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!!! ANSWERS DIFFER: the systems do not agree with the workload. !!!");
        for m in &mismatches {
            eprintln!("!!! {m}");
        }
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
