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

/// A series' events per minute as running sums, and the novelty test read
/// from them.
struct Sums {
    first: u32,
    /// `cum[i]`: the events of the minutes before `first + i`.
    cum: Vec<u64>,
}

impl Sums {
    fn of(cells: &[(u32, u64)], first: u32, last: u32) -> Sums {
        let n = (last - first) as usize;
        let mut cum = vec![0u64; n + 1];
        for &(m, v) in cells {
            cum[(m - first) as usize + 1] += v;
        }
        for i in 0..n {
            cum[i + 1] += cum[i];
        }
        Sums { first, cum }
    }

    /// Events of the minutes `[lo, hi)`.
    fn sum(&self, lo: i64, hi: i64) -> u64 {
        let n = self.cum.len() as i64 - 1;
        let a = (lo - i64::from(self.first)).clamp(0, n) as usize;
        let b = (hi - i64::from(self.first)).clamp(0, n) as usize;
        self.cum[b.max(a)] - self.cum[a]
    }

    /// The recent count of the `w`-minute window ending at minute `t`, and
    /// whether it passes `p`'s novelty test (docs/bursts.md, "Episodes").
    fn recent_and_novel(&self, p: &BurstParams, w: i64, t: i64) -> (u64, bool) {
        let r = self.sum(t - w + 1, t + 1);
        let nb = (p.novelty.as_secs() / 60).div_ceil(w as u64) as i64;
        let hist = i64::from(self.first);
        let jv = hist.div_euclid(w) + i64::from(hist.rem_euclid(w) != 0);
        let jr = (t - w + 1).div_euclid(w);
        let most = ((jr - nb).max(jv)..jr)
            .map(|j| self.sum(j * w, j * w + w))
            .max()
            .unwrap_or(0);
        (
            r,
            nb == 0 || r >= (p.novelty_factor * most as f64).ceil() as u64,
        )
    }
}

/// A series' minutes as the experiments read them: its cells, its first
/// minute, the minute after its last row and the running sums.
struct Minutes {
    cells: Vec<(u32, u64)>,
    first: u32,
    last: u32,
    sums: Sums,
}

/// Per series, `mark` says for each minute whether an onset may begin
/// (`start`) and whether an episode goes on (`stays`: the score at or
/// above `exit`); the library's idle/active machine with a cooldown of
/// `cooldown` then gives the onsets.
fn onsets_where(
    series: &[&Series],
    cooldown: std::time::Duration,
    mark: impl Fn(&Minutes, &mut [bool], &mut [bool]),
) -> Vec<Vec<u32>> {
    let cooldown = (cooldown.as_secs() / 60) as u32;
    series
        .iter()
        .map(|s| {
            let cells = cells(s);
            let (first, last) = (
                (s.times[0] / 60) as u32,
                (s.times[s.times.len() - 1] / 60) as u32 + 1,
            );
            let sums = Sums::of(&cells, first, last);
            let m = Minutes {
                cells,
                first,
                last,
                sums,
            };
            let n = (last - first) as usize;
            let (mut start, mut stays) = (vec![false; n], vec![false; n]);
            mark(&m, &mut start, &mut stays);
            let (mut active, mut below, mut out) = (false, 0u32, Vec::new());
            for i in 0..n {
                if active {
                    if stays[i] {
                        below = 0;
                    } else {
                        below += 1;
                        active = below < cooldown;
                    }
                } else if start[i] {
                    (active, below) = (true, 0);
                    out.push(first + i as u32);
                }
            }
            out
        })
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
    onsets_where(series, ps.0.cooldown, |m, start, stays| {
        for (d, p) in dets.iter().zip(params) {
            let z = d.scores(&m.cells, m.first, m.first, m.last);
            let w = i64::from(d.window());
            for (i, z) in z.iter().enumerate() {
                let (r, novel) = m.sums.recent_and_novel(p, w, i64::from(m.first) + i as i64);
                start[i] |= z.is_some_and(|z| z >= p.entry) && r >= p.min_count && novel;
                stays[i] |= z.is_some_and(|z| z >= ps.0.exit);
            }
        }
    })
}

/// `ln Γ(x)` for `x > 0` (Lanczos' approximation, g = 7, nine terms;
/// about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    use std::f64::consts::PI;
    if x < 0.5 {
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |a, (i, c)| a + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// `-log10 P(X >= r)` for a count `X` of mean `mu` and variance `phi * mu`:
/// Poisson when `phi` is 1, negative binomial above. For `r > mu`, where
/// the terms of the tail fall geometrically from the first.
fn tail_surprise(r: u64, mu: f64, phi: f64) -> f64 {
    let k0 = r as f64;
    let (first, q, shape) = if phi <= 1.0 {
        (-mu + k0 * mu.ln() - ln_gamma(k0 + 1.0), mu, None)
    } else {
        let (q, size) = ((phi - 1.0) / phi, mu / (phi - 1.0));
        let lp = ln_gamma(k0 + size) - ln_gamma(size) - ln_gamma(k0 + 1.0)
            + size * (1.0 / phi).ln()
            + k0 * q.ln();
        (lp, q, Some(size))
    };
    // term(k + 1) / term(k): mu / (k + 1) (Poisson), (k + size) q / (k + 1).
    let (mut total, mut term, mut k) = (1.0, 1.0, k0);
    while term > 1e-12 * total {
        term *= match shape {
            None => q / (k + 1.0),
            Some(size) => (k + size) * q / (k + 1.0),
        };
        k += 1.0;
        total += term;
    }
    -(first + total.ln()) / std::f64::consts::LN_10
}

/// The detector with its entry test on the count's tail probability instead
/// of the Anscombe score: an onset where `R > mu`, `R >= min_count`, the
/// novelty test holds and `-log10 P(X >= R) >= level` for a count of the
/// baseline's mean `mu` and dispersion `phi` (negative binomial, Poisson at
/// `phi = 1`); episodes end as the library's (the score below `exit`).
/// `mu` is the library's ([`Detector::score_detail`]); `phi` is recovered
/// from the score, `((g(R) - g(mu)) / score)^2`.
fn tail_onsets(series: &[&Series], pl: &(BurstParams, f64)) -> Vec<Vec<u32>> {
    let (p, level) = pl;
    let det = Detector::new(p, 1).expect("valid");
    let g = |x: f64| 2.0 * (x + 0.375).sqrt();
    onsets_where(series, p.cooldown, |m, start, stays| {
        let z = det.scores(&m.cells, m.first, m.first, m.last);
        let w = i64::from(det.window());
        for (i, z) in z.iter().enumerate() {
            let Some(z) = *z else { continue };
            stays[i] = z >= p.exit;
            let t = m.first + i as u32;
            let (r, novel) = m.sums.recent_and_novel(p, w, i64::from(t));
            // Any tail level worth trying needs a score above 2.
            if z < 2.0 || r < p.min_count || !novel {
                continue;
            }
            let (_, _, mu) = det
                .score_detail(&m.cells, m.first, t)
                .expect("scored above");
            let phi = ((g(r as f64) - g(mu)) / z).powi(2).max(1.0);
            start[i] = tail_surprise(r, mu, phi) >= *level;
        }
    })
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
    // The novelty look-back beyond the 4 days the grid allows (a store
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
    // The other count-honest score: the Poisson / negative binomial
    // tail of the recent count, on the same baseline and dispersion.
    let grid: Vec<_> = [5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 14.0, 16.0, 20.0]
        .into_iter()
        .map(|level| (format!("tail -log10 p >= {level}"), (base.clone(), level)))
        .collect();
    choose("tail probability", series, &grid, tail_onsets);
}
