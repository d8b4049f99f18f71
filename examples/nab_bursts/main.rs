//! The burst detector on NAB's ten realTweets series, scored by NAB's rules.
//!
//! ```text
//! cargo run --release --example nab_bursts            # the default parameters
//! cargo run --release --example nab_bursts -- --grid  # choose on the first five tickers
//! cargo run --release --example nab_bursts -- --entry 5 --exit 1 --svg docs/bursts-nab.svg
//! cargo run --release --example nab_bursts -- --experiments  # what else was tried
//! ```
//!
//! Streams the ten series through a store, row by row (each 5-minute count is
//! recorded at its own minute), asks `onsets_since` after every row, and takes
//! each onset as a detection on the first row at or after its minute (the row
//! whose arrival made the decision possible). One parameter set for all ten
//! files. It also runs the pure detector over each whole series and checks
//! that it finds the same onsets (causality: replay equals live).
//!
//! Tuning guard: `--grid` searches on AAPL, AMZN, CRM, CVS, FB only; the report
//! gives those five, the other five (never looked at while choosing), and all
//! ten. Reads `../shared/data` beside the crate (or `--data DIR`).

mod experiments;
mod scorer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use scorer::{normalised, score_file, FileScore, Profile, PROFILES};
use trendlog::burst::{Detector, Dispersion};
use trendlog::time::{days_from_civil, Minute};
use trendlog::{BurstParams, Options, Store, SyncPolicy};

const TRAIN: [&str; 5] = ["AAPL", "AMZN", "CRM", "CVS", "FB"];

/// One ticker's file.
struct Series {
    ticker: String,
    /// Unix seconds of each row.
    times: Vec<i64>,
    values: Vec<u64>,
    /// Inclusive row ranges.
    windows: Vec<(usize, usize)>,
    /// Labelled points, unix seconds.
    labels: Vec<i64>,
}

fn parse_time(s: &str) -> Option<i64> {
    // "2015-02-26 21:42:53" with an optional ".000000".
    let s = s.trim().trim_matches('"');
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.split('.').next()?;
    let mut t = time.split(':').map(|x| x.parse::<i64>());
    let (h, mi, se) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    Some(days_from_civil(y, mo as u32, da as u32) * 86_400 + h * 3600 + mi * 60 + se)
}

fn load(dir: &std::path::Path) -> Result<Vec<Series>, String> {
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{}: {e}", dir.join(f).display()))
    };
    let csv = read("nab_realTweets_volume_5min.csv")?;
    let mut by: BTreeMap<String, (Vec<i64>, Vec<u64>)> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let mut f = line.split(',');
        let (Some(t), Some(ts), Some(v)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let ts = parse_time(ts).ok_or_else(|| format!("bad time in {line}"))?;
        let v: u64 = v
            .trim()
            .parse()
            .map_err(|_| format!("bad value in {line}"))?;
        let e = by.entry(t.to_string()).or_default();
        e.0.push(ts);
        e.1.push(v);
    }
    let windows: serde_json::Value =
        serde_json::from_str(&read("nab_realTweets_anomaly_windows.json")?)
            .map_err(|e| e.to_string())?;
    let labels: serde_json::Value =
        serde_json::from_str(&read("nab_realTweets_anomaly_labels.json")?)
            .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (ticker, (times, values)) in by {
        let key = format!("realTweets/Twitter_volume_{ticker}.csv");
        let row = |s: &serde_json::Value| -> Result<usize, String> {
            let t = s.as_str().and_then(parse_time).ok_or("bad window time")?;
            times
                .binary_search(&t)
                .map_err(|_| format!("{ticker}: window edge {s} is not a row"))
        };
        let mut ws = Vec::new();
        for w in windows[&key]
            .as_array()
            .ok_or(format!("no windows for {key}"))?
        {
            ws.push((row(&w[0])?, row(&w[1])?));
        }
        let ls = labels[&key]
            .as_array()
            .ok_or(format!("no labels for {key}"))?
            .iter()
            .filter_map(|l| l.as_str().and_then(parse_time))
            .collect();
        out.push(Series {
            ticker,
            times,
            values,
            windows: ws,
            labels: ls,
        });
    }
    Ok(out)
}

/// Onset minutes per ticker from the pure detector over each whole series.
fn pure_onsets(series: &[Series], p: &BurstParams) -> Vec<Vec<u32>> {
    pure_onsets_of(&series.iter().collect::<Vec<_>>(), p)
}

fn pure_onsets_of(series: &[&Series], p: &BurstParams) -> Vec<Vec<u32>> {
    let d = Detector::new(p, 1).expect("valid parameters");
    series
        .iter()
        .map(|s| {
            let cells: Vec<(u32, u64)> = s
                .times
                .iter()
                .zip(&s.values)
                .filter(|(_, &v)| v > 0)
                .map(|(&t, &v)| ((t / 60) as u32, v))
                .collect();
            let first = (s.times[0] / 60) as u32;
            let last = (s.times[s.times.len() - 1] / 60) as u32;
            d.episodes(&cells, first, first, last + 1)
                .iter()
                .map(|e| e.onset)
                .collect()
        })
        .collect()
}

/// Onset minutes per ticker, learnt live: every row recorded into a store,
/// `onsets_since` asked after each.
fn store_onsets(
    series: &[Series],
    p: &BurstParams,
) -> Result<(Vec<Vec<u32>>, Duration, u64), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Minutes are kept as long as the detector reads back (at least the
    // default 7 days), so the live answers can equal the replay: where the
    // minutes it reaches for were rolled into hours, a live detector treats
    // them as unknown.
    let d = Detector::new(p, 1).map_err(|e| e.to_string())?;
    let reach = u64::from(d.lookback() + d.horizon()).div_ceil(1440) * 86_400;
    let opts = Options::default()
        .sync_policy(SyncPolicy::Manual)
        .minute_retention(Some(Duration::from_secs(reach.max(7 * 86_400))));
    let store = Store::open(dir.path(), opts).map_err(|e| e.to_string())?;
    let mut rows: Vec<(i64, usize, u64)> = Vec::new();
    for (i, s) in series.iter().enumerate() {
        rows.extend(s.times.iter().zip(&s.values).map(|(&t, &v)| (t, i, v)));
    }
    rows.sort_unstable();
    let mut out = vec![Vec::new(); series.len()];
    let index: BTreeMap<&str, usize> = series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.ticker.as_str(), i))
        .collect();
    let mut since = Minute(0);
    let (mut spent, mut calls) = (Duration::ZERO, 0u64);
    let mut i = 0;
    while i < rows.len() {
        let t = rows[i].0;
        let mut b = store.batch();
        while i < rows.len() && rows[i].0 == t {
            let (ts, k, v) = rows[i];
            if v > 0 {
                b.add(&series[k].ticker, ts, v).map_err(|e| e.to_string())?;
            }
            i += 1;
        }
        b.commit().map_err(|e| e.to_string())?;
        let snap = store.snapshot();
        let clock = Instant::now();
        let new = snap.onsets_since(since, p).map_err(|e| e.to_string())?;
        spent += clock.elapsed();
        calls += 1;
        for n in new {
            let k = index[n.tag.to_uppercase().as_str()];
            out[k].push(n.onset.0);
        }
        if let Some(now) = snap.now() {
            since = Minute(now.0 + 1);
        }
    }
    Ok((out, spent, calls))
}

/// The rows that carry a detection: the first row at or after each onset.
fn detections(s: &Series, onsets: &[u32]) -> Vec<usize> {
    onsets
        .iter()
        .filter_map(|&m| {
            let i = s.times.partition_point(|&t| t < i64::from(m) * 60);
            (i < s.times.len()).then_some(i)
        })
        .collect()
}

struct Report {
    scores: [f64; 3],
    hit: usize,
    windows: usize,
    false_alarms: usize,
    weeks: f64,
    leads_h: Vec<f64>,
}

fn report(series: &[Series], onsets: &[Vec<u32>], pick: impl Fn(&str) -> bool) -> Report {
    let (s, o): (Vec<&Series>, Vec<Vec<u32>>) = series
        .iter()
        .zip(onsets)
        .filter(|(s, _)| pick(&s.ticker))
        .map(|(s, o)| (s, o.clone()))
        .unzip();
    report_of(&s, &o)
}

fn report_of(series: &[&Series], onsets: &[Vec<u32>]) -> Report {
    let mut files: [Vec<FileScore>; 3] = Default::default();
    let mut leads = Vec::new();
    let mut weeks = 0.0;
    for (s, on) in series.iter().zip(onsets) {
        let det = detections(s, on);
        for (k, p) in PROFILES.iter().enumerate() {
            files[k].push(score_file(s.times.len(), &s.windows, &det, *p));
        }
        let prob = scorer::probation(s.times.len());
        // The scored span, from the first scored row to the last.
        let last = s.times.len() - 1;
        weeks += (s.times[last] - s.times[prob.min(last)]) as f64 / (7.0 * 86_400.0);
        for &(l, r) in &s.windows {
            let Some(&first) = det.iter().filter(|&&i| i >= l && i <= r && i >= prob).min() else {
                continue;
            };
            for &lab in &s.labels {
                if lab >= s.times[l] && lab <= s.times[r] {
                    leads.push((lab - s.times[first]) as f64 / 3600.0);
                }
            }
        }
    }
    let p: [Profile; 3] = PROFILES;
    Report {
        scores: [0, 1, 2].map(|k| normalised(&files[k], p[k])),
        hit: files[0].iter().map(|f| f.hit).sum(),
        windows: files[0].iter().map(|f| f.windows).sum(),
        false_alarms: files[0].iter().map(|f| f.false_alarms).sum(),
        weeks,
        leads_h: leads,
    }
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn print_report(name: &str, r: &Report) {
    println!(
        "{name:<22} standard {:6.1}  low-FP {:6.1}  low-FN {:6.1}  windows hit {:2}/{:2}  median lead {:5.1} h  false alarms {:3} ({:.2}/week/series)",
        r.scores[0],
        r.scores[1],
        r.scores[2],
        r.hit,
        r.windows,
        median(&r.leads_h),
        r.false_alarms,
        r.false_alarms as f64 / r.weeks,
    );
}

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

fn grid(series: &[Series], base: &BurstParams) {
    let mut best: Vec<(f64, BurstParams, [f64; 3])> = Vec::new();
    // Only the training tickers are ever run while choosing.
    let train: Vec<&Series> = series
        .iter()
        .filter(|s| TRAIN.contains(&s.ticker.as_str()))
        .collect();
    // A first, wider pass (both dispersions, windows 15/30/60 min, baselines
    // 6/24 h, seasonal 0/7 days, cooldowns 1/6 h, exit 0/1/2, entry 3 to 8)
    // chose successive differences, a 24 h baseline and 7 seasonal days; this
    // second pass refines around it.
    for dispersion in [Dispersion::Successive] {
        for window in [30, 60] {
            for baseline in [1440, 2880] {
                // At most 4 seasonal days (and 4 novelty days below): what
                // the detector reads before a range, the 2-day horizon and
                // then the farther of those look-backs, must lie within the
                // minutes a store keeps by default (7 days), or a live store
                // would not see it (6 days, before the horizon was counted).
                for seasonal_days in [3, 4] {
                    for cool in [360, 720, 1440] {
                        for exit in [-1.0, 0.0, 1.0] {
                            for entry in [5.0, 6.0, 7.0, 8.0, 10.0] {
                                let p = BurstParams {
                                    window: mins(window),
                                    baseline: mins(baseline),
                                    seasonal_days,
                                    dispersion,
                                    cooldown: mins(cool),
                                    exit,
                                    entry,
                                    ..base.clone()
                                };
                                let on = pure_onsets_of(&train, &p);
                                let owned: Vec<&Series> = train.clone();
                                let r = report_of(&owned, &on);
                                println!(
                                    "grid standard {:5.1} low-FP {:5.1} low-FN {:5.1} hit {}/{} fa {}  {:?} window {} baseline {} seasonal {} cooldown {} exit {} entry {}",
                                    r.scores[0], r.scores[1], r.scores[2], r.hit, r.windows, r.false_alarms,
                                    dispersion, window, baseline, seasonal_days, cool, exit, entry
                                );
                                best.push((r.scores[0] + r.scores[1], p, r.scores));
                            }
                        }
                    }
                }
            }
        }
    }
    // A third pass, on the second's choice: the novelty test (look-back and
    // factor; 0 days = off), with the entry level chosen again beside it.
    for days in [0, 1, 2, 3, 4] {
        let factors: &[f64] = if days == 0 {
            &[1.0]
        } else {
            &[0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5]
        };
        for &novelty_factor in factors {
            for entry in [5.0, 6.0, 7.0, 8.0, 10.0] {
                let p = BurstParams {
                    novelty: mins(days * 1440),
                    novelty_factor,
                    entry,
                    ..base.clone()
                };
                let r = report_of(&train, &pure_onsets_of(&train, &p));
                println!(
                    "grid standard {:5.1} low-FP {:5.1} low-FN {:5.1} hit {}/{} fa {}  novelty {days} d x{novelty_factor} entry {entry}",
                    r.scores[0], r.scores[1], r.scores[2], r.hit, r.windows, r.false_alarms,
                );
                best.push((r.scores[0] + r.scores[1], p, r.scores));
            }
        }
    }
    best.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("best on the five training tickers (standard + low-FP):");
    for (_, p, s) in best.iter().take(15) {
        println!(
            "  standard {:5.1} low-FP {:5.1} low-FN {:5.1}  window {}m baseline {}m seasonal {} cooldown {}m exit {} entry {} novelty {} d x{}",
            s[0],
            s[1],
            s[2],
            p.window.as_secs() / 60,
            p.baseline.as_secs() / 60,
            p.seasonal_days,
            p.cooldown.as_secs() / 60,
            p.exit,
            p.entry,
            p.novelty.as_secs() / 86_400,
            p.novelty_factor
        );
    }
}

fn svg(s: &Series, onsets: &[u32]) -> String {
    let (w, h, l, t) = (1100.0, 320.0, 60.0, 40.0);
    let pw = w - l - 20.0;
    let ph = h - t - 50.0;
    let (t0, t1) = (s.times[0] as f64, s.times[s.times.len() - 1] as f64);
    let vmax = s.values.iter().copied().max().unwrap_or(1).max(1) as f64;
    let x = |ts: f64| l + (ts - t0) / (t1 - t0) * pw;
    let y = |v: f64| t + ph - v / vmax * ph;
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="{w}" height="{h}" fill="white"/>
<text x="{l}" y="22" font-size="15" font-weight="bold">NAB realTweets {}: hourly peak of the 5-minute counts, labelled windows (shaded), labels (dashed), burst onsets (red)</text>
"##,
        s.ticker
    );
    let prob = scorer::probation(s.times.len());
    out.push_str(&format!(
        r##"<rect x="{l}" y="{t}" width="{:.1}" height="{ph}" fill="#eeeeee"/><text x="{:.1}" y="{:.1}" fill="#777">probation</text>
"##,
        x(s.times[prob] as f64) - l,
        l + 4.0,
        t + 14.0
    ));
    for &(a, b) in &s.windows {
        let (xa, xb) = (x(s.times[a] as f64), x(s.times[b] as f64));
        out.push_str(&format!(
            r##"<rect x="{xa:.1}" y="{t}" width="{:.1}" height="{ph}" fill="#ffd27f" fill-opacity="0.6"/>
"##,
            xb - xa
        ));
    }
    // One point per hour: the hour's highest 5-minute count (keeps the file small).
    let mut hourly: Vec<(i64, u64)> = Vec::new();
    for (&ts, &v) in s.times.iter().zip(&s.values) {
        let h = ts - ts.rem_euclid(3600);
        match hourly.last_mut() {
            Some(last) if last.0 == h => last.1 = last.1.max(v),
            _ => hourly.push((h, v)),
        }
    }
    let mut path = String::new();
    for (i, &(ts, v)) in hourly.iter().enumerate() {
        let sep = if i == 0 { "M" } else { " L" };
        path.push_str(&format!("{sep}{:.1},{:.1}", x(ts as f64), y(v as f64)));
    }
    out.push_str(&format!(
        r##"<path d="{path}" fill="none" stroke="#1d3557" stroke-width="0.6"/>
"##
    ));
    for &lab in &s.labels {
        let xl = x(lab as f64);
        out.push_str(&format!(
            r##"<line x1="{xl:.1}" y1="{t}" x2="{xl:.1}" y2="{:.1}" stroke="#e07b00" stroke-dasharray="4 3"/>
"##,
            t + ph
        ));
    }
    for &m in onsets {
        let xo = x((i64::from(m) * 60) as f64);
        out.push_str(&format!(
            r##"<line x1="{xo:.1}" y1="{:.1}" x2="{xo:.1}" y2="{:.1}" stroke="#d62828" stroke-width="2"/><circle cx="{xo:.1}" cy="{:.1}" r="4" fill="#d62828"/>
"##,
            t + ph + 4.0,
            t + ph + 18.0,
            t + ph + 18.0
        ));
    }
    // Day ticks every 7 days.
    let day0 = (s.times[0] / 86_400 + 1) * 86_400;
    let mut d = day0;
    while (d as f64) < t1 {
        let xd = x(d as f64);
        let (yy, mm, dd) = trendlog::time::civil_from_days(d / 86_400);
        out.push_str(&format!(
            r##"<line x1="{xd:.1}" y1="{:.1}" x2="{xd:.1}" y2="{:.1}" stroke="#999"/><text x="{xd:.1}" y="{:.1}" text-anchor="middle" fill="#555">{yy}-{mm:02}-{dd:02}</text>
"##,
            t + ph,
            t + ph + 24.0,
            t + ph + 38.0
        ));
        d += 7 * 86_400;
    }
    out.push_str(&format!(
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">0</text>
</svg>
"##,
        l - 6.0,
        t + 10.0,
        vmax,
        l - 6.0,
        t + ph
    ));
    out
}

fn main() {
    if let Err(e) = run() {
        eprintln!("nab_bursts: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut p = BurstParams::default();
    let mut data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut do_experiments = false;
    let (mut do_grid, mut svg_out, mut svg_ticker) = (false, None, "IBM".to_string());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        let num = |s: String| s.parse::<f64>().map_err(|e| format!("{s}: {e}"));
        match a.as_str() {
            "--grid" => do_grid = true,
            "--experiments" => do_experiments = true,
            "--data" => data = PathBuf::from(val()?),
            "--svg" => svg_out = Some(PathBuf::from(val()?)),
            "--svg-ticker" => svg_ticker = val()?,
            "--window" => p.window = mins(num(val()?)? as u64),
            "--baseline" => p.baseline = mins(num(val()?)? as u64),
            "--cooldown" => p.cooldown = mins(num(val()?)? as u64),
            "--horizon" => p.horizon = mins(num(val()?)? as u64),
            "--seasonal" => p.seasonal_days = num(val()?)? as u32,
            "--entry" => p.entry = num(val()?)?,
            "--dispersion" => {
                p.dispersion = match val()?.as_str() {
                    "spread" => Dispersion::Spread,
                    "successive" => Dispersion::Successive,
                    o => return Err(format!("--dispersion {o}: spread or successive")),
                }
            }
            "--exit" => p.exit = num(val()?)?,
            "--min-count" => p.min_count = num(val()?)? as u64,
            "--prior" => p.prior = num(val()?)?,
            "--novelty" => p.novelty = mins(num(val()?)? as u64),
            "--novelty-factor" => p.novelty_factor = num(val()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !data.is_dir() {
        println!("skipped: {} is absent", data.display());
        return Ok(());
    }
    p.validate().map_err(|e| e.to_string())?;
    let series = load(&data)?;
    if do_grid {
        grid(&series, &p);
        return Ok(());
    }
    if do_experiments {
        experiments::run(&series, &p);
        return Ok(());
    }
    println!(
        "parameters: dispersion {:?} window {}m baseline {}m seasonal {} days entry {} exit {} cooldown {}m min_count {} prior {:.4}/min horizon {}m novelty {}m x{}",
        p.dispersion,
        p.window.as_secs() / 60,
        p.baseline.as_secs() / 60,
        p.seasonal_days,
        p.entry,
        p.exit,
        p.cooldown.as_secs() / 60,
        p.min_count,
        p.prior,
        p.horizon.as_secs() / 60,
        p.novelty.as_secs() / 60,
        p.novelty_factor
    );
    let pure = pure_onsets(&series, &p);
    let (live, spent, calls) = store_onsets(&series, &p)?;
    let same = pure == live;
    println!(
        "streamed {} rows through a store; onsets_since after each of {calls} steps: {:.1} µs a call on average",
        series.iter().map(|s| s.times.len()).sum::<usize>(),
        spent.as_secs_f64() * 1e6 / calls as f64
    );
    println!(
        "live onsets {} the replay of the pure detector over each whole series",
        if same { "equal" } else { "DIFFER FROM" }
    );
    for (s, on) in series.iter().zip(&live) {
        let r = report(std::slice::from_ref(s), std::slice::from_ref(on), |_| true);
        print_report(&format!("  {}", s.ticker), &r);
    }
    print_report(
        "train (first five)",
        &report(&series, &live, |t| TRAIN.contains(&t)),
    );
    print_report(
        "held out (other five)",
        &report(&series, &live, |t| !TRAIN.contains(&t)),
    );
    print_report("all ten", &report(&series, &live, |_| true));
    experiments::ceilings(&series, &live);
    if let Some(path) = svg_out {
        let k = series
            .iter()
            .position(|s| s.ticker == svg_ticker)
            .ok_or(format!("no ticker {svg_ticker}"))?;
        std::fs::write(&path, svg(&series[k], &live[k])).map_err(|e| e.to_string())?;
        println!("wrote {}", path.display());
    }
    if !same {
        return Err("live and replayed onsets differ".into());
    }
    Ok(())
}
