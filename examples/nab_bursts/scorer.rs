//! NAB's scoring rules (Lavin and Ahmad 2015; Ahmad et al. 2017; numenta/NAB
//! `nab/sweeper.py`, `nab/runner.py`, `config/profiles.json`), written from
//! their description:
//!
//! - Rows before the probationary length `min(floor(0.15 n), 750)` are not
//!   scored.
//! - A detection inside a labelled window at relative position
//!   `y = -(right - i + 1) / width` scores `A_tp * S(y) / S(-1)`, with the
//!   scaled sigmoid `S(y) = 2 / (1 + e^(5y)) - 1` (`-1` when `y > 3`); a window
//!   keeps only its best (earliest) detection; a window without one scores
//!   `-A_fn`.
//! - A detection outside every window scores `A_fp * S((i - right) / (width - 1))`
//!   against the window before it, or `-A_fp` when no window precedes it.
//! - The corpus score is the sum over files, normalised as
//!   `100 * (raw - null) / (perfect - null)` with `null = -A_fn * windows`
//!   (no detections) and `perfect = A_tp * windows`.

/// A profile's weights.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub tp: f64,
    pub fp: f64,
    pub fn_: f64,
}

/// The three profiles NAB publishes: standard, reward low FP, reward low FN.
pub const PROFILES: [Profile; 3] = [
    Profile {
        tp: 1.0,
        fp: 0.11,
        fn_: 1.0,
    },
    Profile {
        tp: 1.0,
        fp: 0.22,
        fn_: 1.0,
    },
    Profile {
        tp: 1.0,
        fp: 0.11,
        fn_: 2.0,
    },
];

/// NAB's scaled sigmoid.
pub fn scaled_sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// The probationary length of a file of `n` rows.
pub fn probation(n: usize) -> usize {
    ((0.15 * n as f64).floor()).min(0.15 * 5000.0) as usize
}

/// One file: its row count, windows as inclusive row ranges (ascending), and
/// the rows that carry a detection.
#[derive(Debug, Clone)]
pub struct FileScore {
    /// Raw score under the profile.
    pub raw: f64,
    /// Windows (after the probationary period).
    pub windows: usize,
    /// Windows with at least one detection.
    pub hit: usize,
    /// Detections outside every window, after the probationary period.
    pub false_alarms: usize,
}

/// Scores one file under one profile.
pub fn score_file(
    n: usize,
    windows: &[(usize, usize)],
    detections: &[usize],
    p: Profile,
) -> FileScore {
    let prob = probation(n);
    let max_tp = scaled_sigmoid(-1.0);
    let mut best: Vec<Option<f64>> = vec![None; windows.len()];
    let mut fp_sum = 0.0;
    let mut false_alarms = 0;
    let mut dets: Vec<usize> = detections.to_vec();
    dets.sort_unstable();
    dets.dedup();
    for &i in &dets {
        if i < prob || i >= n {
            continue;
        }
        if let Some(w) = windows.iter().position(|&(l, r)| l <= i && i <= r) {
            let (l, r) = windows[w];
            let width = (r - l + 1) as f64;
            let y = -((r as f64) - (i as f64) + 1.0) / width;
            let s = scaled_sigmoid(y) * p.tp / max_tp;
            best[w] = Some(best[w].map_or(s, |b: f64| b.max(s)));
        } else {
            false_alarms += 1;
            let prev = windows.iter().rev().find(|&&(_, r)| r < i);
            let u = match prev {
                None => -1.0,
                Some(&(l, r)) => {
                    let width = (r - l + 1) as f64;
                    scaled_sigmoid((i - r) as f64 / (width - 1.0))
                }
            };
            fp_sum += u * p.fp;
        }
    }
    let scored: Vec<usize> = (0..windows.len())
        .filter(|&w| windows[w].0 >= prob)
        .collect();
    let mut raw = fp_sum;
    let mut hit = 0;
    for &w in &scored {
        match best[w] {
            Some(s) => {
                hit += 1;
                raw += s.max(-p.fn_);
            }
            None => raw -= p.fn_,
        }
    }
    FileScore {
        raw,
        windows: scored.len(),
        hit,
        false_alarms,
    }
}

/// NAB's normalised score of a set of files.
pub fn normalised(files: &[FileScore], p: Profile) -> f64 {
    let raw: f64 = files.iter().map(|f| f.raw).sum();
    let windows: f64 = files.iter().map(|f| f.windows as f64).sum();
    let null = -p.fn_ * windows;
    let perfect = p.tp * windows;
    100.0 * (raw - null) / (perfect - null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_matches_the_published_values() {
        assert!((scaled_sigmoid(-1.0) - 0.98661).abs() < 1e-5);
        assert!((scaled_sigmoid(-0.5) - 0.84828).abs() < 1e-5);
        assert!(scaled_sigmoid(0.0).abs() < 1e-12);
        assert!((scaled_sigmoid(1.0) + 0.98661).abs() < 1e-5);
        assert_eq!(scaled_sigmoid(3.5), -1.0);
    }

    #[test]
    fn perfect_null_and_probation() {
        let p = PROFILES[0];
        assert_eq!(probation(15_902), 750);
        assert_eq!(probation(1000), 150);
        let w = [(2000, 2099)];
        let perfect = score_file(5000, &w, &[2000], p);
        assert!((normalised(&[perfect], p) - 100.0).abs() < 1e-9);
        let null = score_file(5000, &w, &[], p);
        assert!(normalised(&[null], p).abs() < 1e-9);
        // Detections in the probationary period are ignored.
        let early = score_file(5000, &w, &[10], p);
        assert_eq!(early.false_alarms, 0);
        // A false alarm with no window before it costs the full fp weight.
        let fa = score_file(5000, &w, &[1000, 2000], p);
        assert!((fa.raw - (1.0 - 0.11)).abs() < 1e-9);
        // Only the best detection of a window counts.
        let two = score_file(5000, &w, &[2050, 2000], p);
        assert!((two.raw - 1.0).abs() < 1e-9);
    }
}
