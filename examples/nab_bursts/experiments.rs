//! What was tried beside the chosen detector (`--experiments`), kept so the
//! figures in docs/bursts.md can be reproduced. Every choice is made on the
//! five training tickers only (standard + low-FP), then the held-out five
//! are scored once with it.

use trendlog::burst::Detector;
use trendlog::BurstParams;

use crate::{mins, print_report, pure_onsets_of, report_of, Report, Series, TRAIN};

/// The detections with every false alarm dropped, and one detection at each
/// labelled point: what the scores would be if the detector never fired
/// outside a window, and if it found every window at its label.
pub fn ceilings(series: &[Series], onsets: &[Vec<u32>]) {
    let in_window = |s: &Series, m: u32| -> bool {
        let i = s.times.partition_point(|&t| t < i64::from(m) * 60);
        s.windows.iter().any(|&(l, r)| l <= i && i <= r)
    };
    let kept: Vec<Vec<u32>> = series
        .iter()
        .zip(onsets)
        .map(|(s, o)| o.iter().copied().filter(|&m| in_window(s, m)).collect())
        .collect();
    let at_labels: Vec<Vec<u32>> = series
        .iter()
        .map(|s| s.labels.iter().map(|&t| (t / 60) as u32).collect())
        .collect();
    let all: Vec<&Series> = series.iter().collect();
    print_report("ceiling: no false alarm", &report_of(&all, &kept));
    print_report("ceiling: each label", &report_of(&all, &at_labels));
}

fn split(series: &[Series]) -> (Vec<&Series>, Vec<&Series>) {
    series
        .iter()
        .partition(|s| TRAIN.contains(&s.ticker.as_str()))
}

/// Runs `make` over a grid on the training five, prints the best few with
/// the held-out five's scores beside them.
fn choose<P: Clone>(
    name: &str,
    series: &[Series],
    grid: &[(String, P)],
    onsets: impl Fn(&[&Series], &P) -> Vec<Vec<u32>>,
) {
    let (train, held) = split(series);
    let mut runs: Vec<(f64, &String, Report, &P)> = grid
        .iter()
        .map(|(label, p)| {
            let r = report_of(&train, &onsets(&train, p));
            (r.scores[0] + r.scores[1], label, r, p)
        })
        .collect();
    runs.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("{name}: the best three on the training five, then the held-out five");
    // And the quietest on the training five (fewest false alarms, then
    // the best score), to show what silence costs.
    let quiet = runs
        .iter()
        .enumerate()
        .min_by_key(|(i, r)| (r.2.false_alarms, *i))
        .map_or(0, |(i, _)| i);
    let picks = [0, 1, 2].into_iter().chain((quiet > 2).then_some(quiet));
    for (_, label, r, p) in picks.filter_map(|i| runs.get(i)) {
        println!("  {label}");
        print_report("    train", r);
        print_report("    held out", &report_of(&held, &onsets(&held, p)));
    }
}

/// The per-minute cells of a series (counts at their row's minute).
fn cells(s: &Series) -> Vec<(u32, u64)> {
    s.times
        .iter()
        .zip(&s.values)
        .filter(|(_, &v)| v > 0)
        .map(|(&t, &v)| ((t / 60) as u32, v))
        .collect()
}

/// Two scales at once: an onset when either detector's entry, count and
/// novelty conditions hold; the episode ends when both scores stayed below
/// `exit` for the cooldown. The scores are the library's
/// ([`Detector::scores`]); the recent counts and the novelty test are
/// recomputed here from the same definitions.
fn two_scale_onsets(series: &[&Series], ps: &(BurstParams, BurstParams)) -> Vec<Vec<u32>> {
    let dets = [
        Detector::new(&ps.0, 1).expect("valid"),
        Detector::new(&ps.1, 1).expect("valid"),
    ];
    let params = [&ps.0, &ps.1];
    series
        .iter()
        .map(|s| {
            let c = cells(s);
            let first = (s.times[0] / 60) as u32;
            let last = (s.times[s.times.len() - 1] / 60) as u32 + 1;
            let n = (last - first) as usize;
            let mut dense = vec![0u64; n];
            for &(m, v) in &c {
                dense[(m - first) as usize] += v;
            }
            let mut cum = vec![0u64; n + 1];
            for i in 0..n {
                cum[i + 1] = cum[i] + dense[i];
            }
            let sum = |lo: i64, hi: i64| -> u64 {
                let a = (lo - i64::from(first)).clamp(0, n as i64) as usize;
                let b = (hi - i64::from(first)).clamp(0, n as i64) as usize;
                cum[b.max(a)] - cum[a]
            };
            // Per scale: may an onset start at each minute, and the score.
            let per: Vec<(Vec<bool>, Vec<f64>)> = dets
                .iter()
                .zip(params)
                .map(|(d, p)| {
                    let z = d.scores(&c, first, first, last);
                    let w = i64::from(d.window());
                    let nb = (p.novelty.as_secs() / 60).div_ceil(w as u64) as i64;
                    let hist = i64::from(first);
                    let jv = hist.div_euclid(w) + i64::from(hist.rem_euclid(w) != 0);
                    let start: Vec<bool> = (0..n)
                        .map(|i| {
                            let t = i64::from(first) + i as i64;
                            let r = sum(t - w + 1, t + 1);
                            let jr = (t - w + 1).div_euclid(w);
                            let most = (jr - nb).max(jv)..jr;
                            let most = most.map(|j| sum(j * w, j * w + w)).max().unwrap_or(0);
                            let novel =
                                nb == 0 || r >= (p.novelty_factor * most as f64).ceil() as u64;
                            z[i].is_some_and(|z| z >= p.entry) && r >= p.min_count && novel
                        })
                        .collect();
                    (
                        start,
                        z.iter().map(|z| z.unwrap_or(f64::NEG_INFINITY)).collect(),
                    )
                })
                .collect();
            let cool = (ps.0.cooldown.as_secs() / 60) as u32;
            let (mut active, mut below, mut out) = (false, 0u32, Vec::new());
            for i in 0..n {
                if active {
                    if per.iter().any(|(_, z)| z[i] >= ps.0.exit) {
                        below = 0;
                    } else {
                        below += 1;
                        active = below < cool;
                    }
                } else if per.iter().any(|(start, _)| start[i]) {
                    (active, below) = (true, 0);
                    out.push(first + i as u32);
                }
            }
            out
        })
        .collect()
}

/// The series summed into rows of `f` five-minute rows (each stamped at its
/// last row's time), windows mapped to the new rows.
fn coarser(s: &Series, f: usize) -> Series {
    let n = s.times.len() / f;
    Series {
        ticker: s.ticker.clone(),
        times: (0..n).map(|i| s.times[i * f + f - 1]).collect(),
        values: (0..n)
            .map(|i| s.values[i * f..i * f + f].iter().sum())
            .collect(),
        windows: s
            .windows
            .iter()
            .map(|&(l, r)| (l / f, (r / f).min(n - 1)))
            .collect(),
        labels: s.labels.clone(),
    }
}

/// The defaults on the same counts arriving in coarser rows (10 minutes to
/// an hour), beside longer windows: how the detector fares when the data's
/// own step nears or passes its window.
fn sampling(series: &[Series], base: &BurstParams) {
    println!("coarser rows (all ten; fewer windows lie past the probationary rows):");
    for f in [1, 2, 3, 6, 12] {
        let rows: Vec<Series> = series.iter().map(|s| coarser(s, f)).collect();
        let all: Vec<&Series> = rows.iter().collect();
        for window in [30, 60] {
            let p = BurstParams {
                window: mins(window),
                ..base.clone()
            };
            let r = report_of(&all, &pure_onsets_of(&all, &p));
            print_report(&format!("  rows {:2} min, window {window}", f * 5), &r);
        }
    }
}

pub fn run(series: &[Series], base: &BurstParams) {
    sampling(series, base);
    // The two-window code with a second window that is the first, unable to
    // start an episode, is the library's detector.
    let off = BurstParams {
        entry: 1000.0,
        ..base.clone()
    };
    let all: Vec<&Series> = series.iter().collect();
    if two_scale_onsets(&all, &(base.clone(), off)) != pure_onsets_of(&all, base) {
        println!("two-window code DIFFERS from the library's detector with its second window off");
    }
    // The novelty look-back beyond the 6 days the grid allowed (a store
    // keeps 7 days of minutes by default; a longer look-back needs a longer
    // minute retention).
    let mut grid = Vec::new();
    for days in [4, 6, 8, 10, 14, 21] {
        for factor in [0.7, 0.8, 0.9, 1.0, 1.1, 1.25] {
            for entry in [5.0, 6.0, 7.0, 8.0] {
                let p = BurstParams {
                    novelty: mins(days * 1440),
                    novelty_factor: factor,
                    entry,
                    ..base.clone()
                };
                grid.push((format!("novelty {days} d x{factor} entry {entry}"), p));
            }
        }
    }
    choose("longer novelty look-back", series, &grid, |s, p| {
        pure_onsets_of(s, p)
    });
    // A second, longer window beside the default one, for slow rises.
    let mut grid = Vec::new();
    for w2 in [60, 120, 180, 360] {
        for e2 in [6.0, 7.0, 8.0, 10.0, 12.0] {
            for e1 in [6.0, 7.0] {
                let p1 = BurstParams {
                    entry: e1,
                    ..base.clone()
                };
                let p2 = BurstParams {
                    window: mins(w2),
                    entry: e2,
                    ..base.clone()
                };
                grid.push((
                    format!("windows 30 min (entry {e1}) and {w2} min (entry {e2})"),
                    (p1, p2),
                ));
            }
        }
    }
    choose("two windows", series, &grid, two_scale_onsets);
}
