//! The burst detector, pure: a score per bin of a count series and the causal
//! episode state machine over it. No I/O; [`crate::Snapshot::bursts`] feeds it
//! a tag's cells.
//!
//! - [`BurstParams`]: windows, levels and prior, with their defaults and
//!   [`BurstParams::validate`].
//! - [`Detector`]: the parameters converted to bins (1-minute or 1-hour), with
//!   [`Detector::score_detail`], [`Detector::scores`] and [`Detector::episodes`].
//! - [`RawEpisode`]: one episode in bin indices.
//!
//! # The score
//! At bin `t` (the decision uses data up to `t` only):
//!
//! - `R` = events in the recent window `(t - w, t]`.
//! - The baseline is the up to `K = baseline / w` whole, `w`-aligned blocks
//!   that end at or before the recent window's start (block `j` holds bins
//!   `[j*w, (j+1)*w)`), counting only blocks that start at or after the store's
//!   first data. Their counts `X_1..X_k` give the mean `m` and the sample
//!   variance `v`.
//! - Expected count `mu = m + p*W` (`p` the prior in events per minute, `W` the
//!   window in minutes). With `seasonal_days = d > 0`, also
//!   `mu_s` = the mean of `R` at the same bin on each of the previous `d` days
//!   that the store holds, plus `p*W`, and `mu = max(mu, mu_s)`: a tag bursts
//!   only above both its recent level and its usual level at that time of day.
//! - Dispersion `phi = max(1, v / m)` (1 when `m = 0`), `v` per [`Dispersion`]
//!   (by default half the mean squared difference of successive blocks): 1 for Poisson counts,
//!   more for counts that swing more than Poisson.
//! - `score = (g(R) - g(mu)) / sqrt(phi)`, with `g(x) = 2 * sqrt(x + 3/8)`
//!   (Anscombe's variance-stabilising transform: `g` of a Poisson count has a
//!   standard deviation close to 1 whatever its mean). The score reads as a
//!   z-score: how many (over-dispersed) standard deviations the recent count
//!   lies above what the baseline predicts. It is always finite.
//!
//! No score exists (no decision is made) before at least
//! [`MIN_BLOCKS`] baseline blocks exist (fewer when `K` is smaller).
//!
//! # Episodes
//! Idle → an **onset** at the first bin with `score >= entry`,
//! `R >= min_count` and, with a novelty look-back of `N = ceil(novelty / w)`
//! blocks, `R >= novelty_factor * max(X_j)` over the up to `N` whole blocks
//! that end at or before the recent window's start (and start at or after the
//! store's first data): the count must also be new for the tag, not a repeat
//! of a level it reached in the last days. Active → the **peak** is the bin of highest score; the
//! episode **ends** once the score stayed below `exit` for `cooldown` bins in a
//! row, and its end is the last bin that scored `>= exit`. Then idle again.
//!
//! Predicting when it fires: with an empty baseline (`m = 0`, `phi = 1`) an
//! onset needs `R >= max(min_count, (entry + g(p*W))^2 / 4 - 3/8)`; against a
//! steady Poisson baseline of mean `m` it needs
//! `R >= (entry + g(m + p*W))^2 / 4 - 3/8`, and `phi` times that excess for
//! a tag that swings more.

use std::time::Duration;

use crate::error::{InvalidInput, Result};

/// Fewest baseline blocks a score needs (or `K` when smaller).
pub const MIN_BLOCKS: u32 = 4;

/// Burst-detection parameters. `Default` gives the values chosen on five of
/// NAB's realTweets series (docs/bursts.md): a 30-minute window, a 24-hour
/// baseline with [`Dispersion::Successive`], a 4-day seasonal baseline,
/// entry 6, exit 0, a 6-hour cooldown, min_count 10, prior 1/60 events per
/// minute, a 4-day novelty look-back with factor 0.9, a 48-hour horizon.
/// Together they read 6 days and 1 hour before a range's start (the
/// horizon, then [`Detector::lookback`]), within the 7 days of minutes a
/// store keeps by default: `onsets_since` the store's now, and any range
/// starting less than 23 hours before it, read only minutes the store
/// still holds.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstParams {
    /// Length `w` of the recent window; whole minutes, 1 minute to 1 day.
    /// Keep it at least the step between the data's rows (`1h` for hourly
    /// counts): a shorter window holds a whole row or nothing, and the
    /// detector misses most bursts (docs/bursts.md, "Data coarser than the
    /// window").
    pub window: Duration,
    /// Length of the baseline before it; whole minutes, at least twice the
    /// window, at most 28 days.
    pub baseline: Duration,
    /// Previous days whose same window also predicts the count (0 = off,
    /// at most 28).
    pub seasonal_days: u32,
    /// How the baseline's variance is estimated (see [`Dispersion`]).
    pub dispersion: Dispersion,
    /// Score at which an episode starts; finite, `> 0`, `<= 1000`.
    pub entry: f64,
    /// Score below which an episode winds down; finite, `>= -1000`, `<= entry`.
    pub exit: f64,
    /// How long the score must stay below `exit` to end an episode; whole
    /// minutes, 1 minute to 1 day.
    pub cooldown: Duration,
    /// Fewest events in the recent window for an onset.
    pub min_count: u64,
    /// Prior rate `p`, events per minute, added to the expected count; finite,
    /// `>= 0`, `<= 1e6`.
    pub prior: f64,
    /// How far before a query's range the episode state machine starts (idle):
    /// an episode whose score stayed at or above `exit` for longer than this
    /// before the range may be reported late or missed. Whole minutes, at most
    /// 28 days.
    pub horizon: Duration,
    /// Look-back of the novelty test (0 = off): an onset also needs the recent
    /// count to reach `novelty_factor` times the busiest whole window-aligned
    /// block of this span before it. Whole minutes, at most 28 days.
    pub novelty: Duration,
    /// Factor of the novelty test; finite, `>= 0`, `<= 1000`.
    pub novelty_factor: f64,
}

impl Default for BurstParams {
    fn default() -> BurstParams {
        BurstParams {
            window: Duration::from_secs(30 * 60),
            baseline: Duration::from_secs(24 * 3600),
            seasonal_days: 4,
            dispersion: Dispersion::Successive,
            entry: 6.0,
            exit: 0.0,
            cooldown: Duration::from_secs(6 * 3600),
            min_count: 10,
            prior: 1.0 / 60.0,
            horizon: Duration::from_secs(48 * 3600),
            novelty: Duration::from_secs(4 * 86_400),
            novelty_factor: 0.9,
        }
    }
}

/// How the baseline's variance `v` is estimated from its blocks `X_1..X_k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dispersion {
    /// The sample variance of the blocks: slow swings in the baseline (a
    /// daily cycle) widen the tolerance.
    Spread,
    /// Half the mean squared difference of successive blocks (von Neumann):
    /// block-to-block noise only, blind to slow swings. The default.
    #[default]
    Successive,
}

const MAX_MINUTES: u64 = 28 * 1440;

fn bad(name: &'static str, value: String, valid: &'static str) -> crate::Error {
    InvalidInput::BurstParameter { name, value, valid }.into()
}

fn minutes_of(
    d: Duration,
    name: &'static str,
    lo: u64,
    hi: u64,
    valid: &'static str,
) -> Result<u32> {
    let secs = d.as_secs();
    let ok = d.subsec_nanos() == 0 && secs.is_multiple_of(60) && (lo..=hi).contains(&(secs / 60));
    if !ok {
        return Err(bad(name, show_duration(d), valid));
    }
    // hi <= MAX_MINUTES fits in u32.
    Ok((secs / 60) as u32)
}

/// A duration as people write it: `90m`, `3h`, `29d`, or seconds (`90s`,
/// `0.5s`) when it is not a whole number of minutes.
fn show_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 {
        return format!("{}s", d.as_secs_f64());
    }
    match secs {
        0 => "0".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn level(x: f64, name: &'static str, lo: f64, hi: f64, valid: &'static str) -> Result<f64> {
    if x.is_finite() && x >= lo && x <= hi {
        Ok(x)
    } else {
        Err(bad(name, x.to_string(), valid))
    }
}

/// The parameters in whole minutes, checked.
#[derive(Debug, Clone, Copy)]
struct Checked {
    window: u32,
    baseline: u32,
    cooldown: u32,
    horizon: u32,
    novelty: u32,
}

impl BurstParams {
    /// Checks every parameter; the error names the first one out of range and
    /// its valid range.
    ///
    /// ```
    /// use trendlog::BurstParams;
    /// assert!(BurstParams::default().validate().is_ok());
    /// let e = BurstParams { entry: f64::NAN, ..BurstParams::default() }.validate().unwrap_err();
    /// assert!(e.to_string().contains("entry"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.checked().map(|_| ())
    }

    fn checked(&self) -> Result<Checked> {
        let window = minutes_of(
            self.window,
            "window",
            1,
            1440,
            "a whole number of minutes from 1m to 1d",
        )?;
        let baseline = minutes_of(
            self.baseline,
            "baseline",
            1,
            MAX_MINUTES,
            "a whole number of minutes, at least twice the window, at most 28d",
        )?;
        if baseline < 2 * window {
            return Err(bad(
                "baseline",
                show_duration(self.baseline),
                "at least twice the window (a whole number of minutes, at most 28d)",
            ));
        }
        let cooldown = minutes_of(
            self.cooldown,
            "cooldown",
            1,
            1440,
            "a whole number of minutes from 1m to 1d",
        )?;
        let horizon = minutes_of(
            self.horizon,
            "horizon",
            0,
            MAX_MINUTES,
            "a whole number of minutes from 0 to 28d",
        )?;
        let novelty = minutes_of(
            self.novelty,
            "novelty",
            0,
            MAX_MINUTES,
            "a whole number of minutes from 0 to 28d",
        )?;
        level(
            self.novelty_factor,
            "novelty_factor",
            0.0,
            1000.0,
            "a finite number >= 0 and <= 1000",
        )?;
        if self.seasonal_days > 28 {
            return Err(bad(
                "seasonal_days",
                self.seasonal_days.to_string(),
                "from 0 to 28",
            ));
        }
        level(
            self.entry,
            "entry",
            f64::MIN_POSITIVE,
            1000.0,
            "a finite number > 0 and <= 1000",
        )?;
        level(
            self.exit,
            "exit",
            -1000.0,
            self.entry,
            "a finite number >= -1000 and <= the entry level",
        )?;
        level(
            self.prior,
            "prior",
            0.0,
            1e6,
            "a finite number of events per minute, >= 0 and <= 1e6",
        )?;
        Ok(Checked {
            window,
            baseline,
            cooldown,
            horizon,
            novelty,
        })
    }
}

/// `x as f64`, through the hardware conversion when `x` fits in 64 bits (the
/// same correctly rounded value; the 128-bit one is a slow library call).
fn wide_f64(x: u128) -> f64 {
    match u64::try_from(x) {
        Ok(v) => v as f64,
        Err(_) => x as f64,
    }
}

/// Anscombe's transform: `2 * sqrt(x + 3/8)`.
fn anscombe(x: f64) -> f64 {
    2.0 * (x + 0.375).sqrt()
}

/// A count at or below the least `r` with `anscombe(r) >= g`: the gate of
/// [`Detector::episodes`] as an integer, so an idle bin costs no square root.
/// Exact below 2^50 (`anscombe` is monotone, and there the estimate is off by
/// at most a few and consecutive counts are distinct floats); lower, never
/// higher, beyond.
fn least_count(g: f64) -> u64 {
    if g.is_nan() || g <= anscombe(0.0) {
        return 0;
    }
    let est = (g / 2.0) * (g / 2.0) - 0.375;
    if est.is_nan() || est >= (1u64 << 50) as f64 {
        // Saturating cast; a margin far above the estimate's error.
        return (est * (1.0 - 1e-6)) as u64;
    }
    let mut r = est.max(0.0).ceil() as u64;
    let mut steps = 0;
    while r > 0 && anscombe((r - 1) as f64) >= g {
        r -= 1;
        steps += 1;
        if steps > 64 {
            return 0;
        }
    }
    while anscombe(r as f64) < g && steps <= 128 {
        r += 1;
        steps += 1;
    }
    r
}

/// One episode found by [`Detector::episodes`], in absolute bin indices.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEpisode {
    /// First bin whose score reached the entry level (with `R >= min_count`).
    pub onset: u32,
    /// Score at the onset.
    pub onset_score: f64,
    /// Events in the recent window at the onset.
    pub onset_count: u64,
    /// Expected events in the recent window at the onset (`mu`).
    pub onset_expected: f64,
    /// Bin of the highest score (the first, on ties).
    pub peak: u32,
    /// The highest score.
    pub peak_score: f64,
    /// Events in the recent window at the peak.
    pub peak_count: u64,
    /// Last bin that scored at or above the exit level, once the episode has
    /// ended; `None` while it is still going at the end of the data.
    pub end: Option<u32>,
    /// Events in the bins from the onset to the end, inclusive (or to the
    /// end of the data while it goes on); the cooldown's bins after the end
    /// are not counted.
    pub events: u64,
}

/// The detector with its parameters converted to bins of `bin` minutes.
#[derive(Debug, Clone)]
pub struct Detector {
    bin: u32,
    /// Recent window, bins.
    w: u32,
    /// Baseline blocks.
    k: u32,
    min_blocks: u32,
    /// Bins per day.
    day: u32,
    dispersion: Dispersion,
    days: u32,
    entry: f64,
    exit: f64,
    /// Cooldown, bins.
    cool: u32,
    min_count: u64,
    /// `p * W`: the prior's expected events in one window.
    prior_w: f64,
    /// State-machine warm-up, bins.
    horizon: u32,
    /// Novelty look-back, blocks (0 = off).
    nb: u32,
    novelty_factor: f64,
}

/// A tag's cells as the detector reads them: ascending, distinct bins, and
/// the running sum of their counts.
struct Cells<'a> {
    cells: &'a [(u32, u64)],
    /// `cum[i]` = counts of `cells[..i]`.
    cum: Vec<u64>,
}

impl Cells<'_> {
    /// Events in bins `<= x`.
    fn upto(&self, x: i64) -> u64 {
        if x < 0 {
            return 0;
        }
        let i = self.cells.partition_point(|c| i64::from(c.0) <= x);
        self.cum[i]
    }
}

/// Per-block sums of a stretch of blocks, with running sums for O(1) means
/// and variances. Integers throughout: the answer at a bin never depends on
/// where the computation started.
struct Blocks {
    /// First block held.
    first: i64,
    /// `s1[i]` = sum of blocks `first..first+i`; `s2` of their squares.
    s1: Vec<u128>,
    s2: Vec<u128>,
    /// `s3[i]` = sum of `(X_j - X_{j-1})^2` for `j` in `first+1..first+i`.
    s3: Vec<u128>,
}

impl Blocks {
    fn sums(&self, lo: i64, hi: i64) -> (u128, u128) {
        let idx = |j: i64| ((j - self.first).max(0) as usize).min(self.s1.len() - 1);
        let (a, b) = (idx(lo), idx(hi));
        (self.s1[b] - self.s1[a], self.s2[b] - self.s2[a])
    }

    /// Sum of squared differences of successive blocks within `[lo, hi)`.
    fn successive(&self, lo: i64, hi: i64) -> u128 {
        let idx = |j: i64| ((j - self.first).max(0) as usize).min(self.s3.len() - 1);
        let (a, b) = (idx(lo + 1), idx(hi));
        self.s3[b] - self.s3[a.min(b)]
    }
}

impl Detector {
    /// The detector for bins of `bin` minutes (1 or 60); windows are rounded up
    /// to whole bins.
    pub fn new(p: &BurstParams, bin: u32) -> Result<Detector> {
        let c = p.checked()?;
        let bin = bin.max(1);
        let w = c.window.div_ceil(bin);
        let k = (c.baseline / bin / w).max(2);
        Ok(Detector {
            bin,
            w,
            k,
            min_blocks: k.min(MIN_BLOCKS),
            day: (1440 / bin).max(1),
            dispersion: p.dispersion,
            days: p.seasonal_days,
            entry: p.entry,
            exit: p.exit,
            cool: c.cooldown.div_ceil(bin),
            min_count: p.min_count,
            prior_w: p.prior * f64::from(w) * f64::from(bin),
            horizon: c.horizon.div_ceil(bin),
            // Rounded up: a look-back shorter than a window is one block.
            nb: c.novelty.div_ceil(bin * w),
            novelty_factor: p.novelty_factor,
        })
    }

    /// Bin width in minutes.
    pub fn bin(&self) -> u32 {
        self.bin
    }

    /// Bins of data before bin `t` that the score at `t` and the onset
    /// decision (the novelty test) read: the farther of the oldest baseline
    /// or novelty block (each block ends at or before the recent window's
    /// start, so within `(blocks + 2) * w`) and the oldest seasonal window
    /// (`days * day + w`).
    pub fn lookback(&self) -> u32 {
        (self.w * (self.k.max(self.nb) + 2)).max(self.seasonal_reach())
    }

    /// Bins of data before bin `t` that the score alone reads (a ranking
    /// by score makes no onset decision).
    pub fn score_lookback(&self) -> u32 {
        (self.w * (self.k + 2)).max(self.seasonal_reach())
    }

    /// Bins before bin `t` that the oldest seasonal window reaches.
    fn seasonal_reach(&self) -> u32 {
        self.w + self.days * self.day
    }

    /// The first bin the seasonal windows of the score at bin `t` read (0
    /// when it would lie before bin 0).
    pub fn seasonal_start(&self, t: u32) -> u32 {
        (t + 1).saturating_sub(self.seasonal_reach())
    }

    /// The first bin the score at bin `t` reads: the start of its oldest
    /// baseline block or of its oldest seasonal window, whichever is
    /// earlier (0 when either would start before bin 0).
    pub fn score_reach(&self, t: u32) -> u32 {
        self.baseline_bins(t).0.min(self.seasonal_start(t))
    }

    /// The bins `[lo, hi)` of the baseline blocks the score at bin `t`
    /// reads: the `baseline / window` whole window-aligned blocks that end at
    /// or before the recent window's start (fewer where the store's history
    /// starts later).
    pub fn baseline_bins(&self, t: u32) -> (u32, u32) {
        let jr = (t + 1).saturating_sub(self.w) / self.w;
        (jr.saturating_sub(self.k) * self.w, jr * self.w)
    }

    /// Bins before a query's first bin at which the state machine starts.
    pub fn horizon(&self) -> u32 {
        self.horizon
    }

    /// The recent window, in bins.
    pub fn window(&self) -> u32 {
        self.w
    }

    /// Fewest events in the recent window for an onset.
    pub fn min_count(&self) -> u64 {
        self.min_count
    }

    /// The baseline every score at bins `[from, to)` reads in full: block
    /// indices `[lo, hi)` (bins `[lo * w, hi * w)`) and the most blocks
    /// (`n`) any of those scores averages, as `(lo, hi, n)`; `None` when the
    /// scores share no block. `history` as for [`Detector::episodes`]. With
    /// [`Detector::may_start`], a cheap test that a tag cannot start an
    /// episode there.
    pub fn shared_baseline(&self, history: u32, from: u32, to: u32) -> Option<(u32, u32, u32)> {
        if from >= to {
            return None;
        }
        let w = i64::from(self.w);
        let jr = |t: u32| (i64::from(t) - w + 1).div_euclid(w);
        let h = i64::from(history);
        let jv = h.div_euclid(w) + i64::from(h.rem_euclid(w) != 0);
        let last = jr(to - 1);
        let lo = (last - i64::from(self.k)).max(jv);
        let hi = jr(from);
        let n = last - lo;
        if lo >= hi || n < 1 {
            return None;
        }
        Some((
            u32::try_from(lo).ok()?,
            u32::try_from(hi).ok()?,
            u32::try_from(n).ok()?,
        ))
    }

    /// False when no bin can start an episode whose recent count is at most
    /// `recent` and whose baseline blocks hold at least `baseline` events
    /// over at most `blocks` blocks: an onset needs
    /// `g(R) >= entry + g(m + p*W)` (see `gate`) with `m >= baseline / blocks`.
    pub fn may_start(&self, recent: u64, baseline: u64, blocks: u32) -> bool {
        if recent < self.min_count {
            return false;
        }
        let m = if blocks == 0 {
            0.0
        } else {
            baseline as f64 / f64::from(blocks)
        };
        let bound = self.entry + anscombe(m + self.prior_w);
        anscombe(recent as f64) >= bound - 1e-9 - bound * 1e-12
    }

    /// Whether a tag may start an episode at some bin of `[from, to)`, judged
    /// from its sums over sub-blocks of `s` bins (`s` divides the window):
    /// `sub[i]` holds bins `[(first + i) * s, (first + i + 1) * s)`, and the
    /// tag has no events in bins `[history, first * s)` or after the last.
    /// For each block-aligned span (see `episodes`), every recent window lies
    /// in `w / s + 1` consecutive sub-blocks and the baseline blocks are sums
    /// of sub-blocks, so the span's gate is tested against the busiest such
    /// run: false means the detector would skip every span.
    pub fn may_start_within(
        &self,
        sub: &[u64],
        first: u32,
        s: u32,
        history: u32,
        from: u32,
        to: u32,
    ) -> bool {
        if s == 0 || !self.w.is_multiple_of(s) || from >= to {
            return true;
        }
        let d = i64::from(self.w / s);
        let mut prefix = Vec::with_capacity(sub.len() + 1);
        let mut acc = 0u64;
        prefix.push(0);
        for &x in sub {
            match acc.checked_add(x) {
                Some(a) => acc = a,
                // Beyond u64: no cheap judgement, let the detector decide.
                None => return true,
            }
            prefix.push(acc);
        }
        let first = i64::from(first);
        let len = sub.len() as i64;
        // Events in sub-blocks `[a, b)`, absolute indices.
        let sum = |a: i64, b: i64| {
            let at = |q: i64| prefix[(q - first).clamp(0, len) as usize];
            at(b) - at(a.min(b))
        };
        let w = i64::from(self.w);
        let h = i64::from(history);
        let jv = h.div_euclid(w) + i64::from(h.rem_euclid(w) != 0);
        let jr = |t: u32| (i64::from(t) - w + 1).div_euclid(w);
        for j in jr(from)..=jr(to - 1) {
            let jlo = (j - i64::from(self.k)).max(jv);
            let n = j - jlo;
            if n < i64::from(self.min_blocks) {
                continue;
            }
            let recent = (j * d..j * d + d)
                .map(|q| sum(q, q + d + 1))
                .max()
                .unwrap_or(0);
            if recent < self.min_count {
                continue;
            }
            // As `gate`: the same integer sums give the same bound.
            let mean = sum(jlo * d, j * d) as f64 / n as f64;
            let gate = self.entry + anscombe(mean + self.prior_w) - 1e-9;
            if anscombe(recent as f64) >= gate {
                return true;
            }
        }
        false
    }

    /// `(score, R, mu)` at bin `t`, or `None` before enough baseline exists.
    /// `history` is the first bin the store holds data for: blocks and
    /// seasonal windows that start before it are unknown, not zero.
    fn score_at(
        &self,
        cells: &Cells<'_>,
        blocks: &Blocks,
        history: i64,
        t: i64,
        r: u64,
    ) -> Option<(f64, f64)> {
        let w = i64::from(self.w);
        let start = t - w + 1;
        if start < history {
            return None;
        }
        let jr = start.div_euclid(w);
        let jv = history.div_euclid(w) + i64::from(history.rem_euclid(w) != 0);
        let jlo = (jr - i64::from(self.k)).max(jv);
        let n = jr - jlo;
        if n < i64::from(self.min_blocks) {
            return None;
        }
        let (s1, s2) = blocks.sums(jlo, jr);
        let nf = n as f64;
        let mean = wide_f64(s1) / nf;
        // n * s2 - s1^2 >= 0 by Cauchy-Schwarz; exact in integers.
        let var = match self.dispersion {
            Dispersion::Spread => {
                let nvar = (n as u128) * s2 - s1 * s1;
                wide_f64(nvar) / (nf * (nf - 1.0))
            }
            Dispersion::Successive => wide_f64(blocks.successive(jlo, jr)) / (2.0 * (nf - 1.0)),
        };
        let phi = if mean > 0.0 {
            (var / mean).max(1.0)
        } else {
            1.0
        };
        let mut mu = mean + self.prior_w;
        if self.days > 0 {
            let (mut sum, mut got) = (0u64, 0u32);
            for i in 1..=i64::from(self.days) {
                let u = t - i * i64::from(self.day);
                if u - w + 1 < history {
                    break;
                }
                sum += cells.upto(u) - cells.upto(u - w);
                got += 1;
            }
            if got > 0 {
                mu = mu.max(sum as f64 / f64::from(got) + self.prior_w);
            }
        }
        let z = (anscombe(r as f64) - anscombe(mu)) / phi.sqrt();
        Some((z, mu))
    }

    /// A necessary condition for an onset at bin `t`, cheap to test every
    /// bin: `score >= entry > 0` needs `g(R) - g(mu) >= entry` (as `phi >= 1`)
    /// and `mu >= m + p*W`, so `g(R) >= entry + g(m + p*W)`. Returns that
    /// bound, less a margin for rounding, or `None` when no score exists. It
    /// depends on `t` only through the baseline blocks, so callers cache it
    /// per block.
    fn gate(&self, blocks: &Blocks, history: i64, t: i64) -> Option<f64> {
        let w = i64::from(self.w);
        let start = t - w + 1;
        if start < history {
            return None;
        }
        let jr = start.div_euclid(w);
        let jv = history.div_euclid(w) + i64::from(history.rem_euclid(w) != 0);
        let jlo = (jr - i64::from(self.k)).max(jv);
        let n = jr - jlo;
        if n < i64::from(self.min_blocks) {
            return None;
        }
        let (s1, _) = blocks.sums(jlo, jr);
        let mean = wide_f64(s1) / n as f64;
        Some(self.entry + anscombe(mean + self.prior_w) - 1e-9)
    }

    /// The least recent count the novelty test lets start an episode at bin
    /// `t`: `ceil(novelty_factor * max X_j)` over the up to `nb` whole blocks
    /// before the recent window's block (0 when off or none). Depends on `t`
    /// only through that block, like `gate`.
    fn novel_least(&self, blocks: &Blocks, history: i64, t: i64) -> u64 {
        if self.nb == 0 {
            return 0;
        }
        let w = i64::from(self.w);
        let jr = (t - w + 1).div_euclid(w);
        let jv = history.div_euclid(w) + i64::from(history.rem_euclid(w) != 0);
        let jlo = (jr - i64::from(self.nb)).max(jv);
        let most = (jlo..jr)
            .map(|j| blocks.sums(j, j + 1).0)
            .max()
            .unwrap_or(0);
        let x = (self.novelty_factor * wide_f64(most)).ceil();
        // Saturating cast: beyond u64, no count passes.
        x as u64
    }

    /// The block sums a score in bins `[lo, hi)` can read. Blocks before the
    /// first whole block at or after `history` never enter a score (a
    /// baseline starts at or after it), so the stretch starts no earlier than
    /// the block before that one.
    fn blocks(&self, cells: &[(u32, u64)], history: i64, lo: i64, hi: i64) -> Blocks {
        let w = i64::from(self.w);
        let jv = history.div_euclid(w) + i64::from(history.rem_euclid(w) != 0);
        let first = (lo.div_euclid(w) - i64::from(self.k.max(self.nb)) - 1).max(jv - 1);
        let last = hi.div_euclid(w) + 1;
        let n = (last - first).max(0) as usize;
        let mut x = vec![0u64; n];
        // Cells ascend: walk the block edges alongside them, no division per cell.
        let start = first.saturating_mul(w);
        let from = cells.partition_point(|c| i64::from(c.0) < start);
        let (mut j, mut edge) = (0usize, start.saturating_add(w));
        for &(b, c) in &cells[from..] {
            let b = i64::from(b);
            while b >= edge && j < n {
                j += 1;
                edge = edge.saturating_add(w);
            }
            match x.get_mut(j) {
                Some(v) => *v = v.saturating_add(c),
                None => break,
            }
        }
        let mut s1 = Vec::with_capacity(n + 1);
        let mut s2 = Vec::with_capacity(n + 1);
        let mut s3 = Vec::with_capacity(n + 1);
        let (mut a, mut b, mut d) = (0u128, 0u128, 0u128);
        s1.push(0);
        s2.push(0);
        s3.push(0);
        let mut prev: Option<u64> = None;
        for &v in &x {
            a += u128::from(v);
            b += u128::from(v) * u128::from(v);
            if let Some(p) = prev {
                let diff = u128::from(p.abs_diff(v));
                d += diff * diff;
            }
            prev = Some(v);
            s1.push(a);
            s2.push(b);
            s3.push(d);
        }
        Blocks { first, s1, s2, s3 }
    }

    /// `(score, R, mu)` at bin `t`: the score, the events in the recent
    /// window and the expected count; `None` before enough baseline exists.
    /// `cells` as for [`Detector::episodes`].
    pub fn score_detail(
        &self,
        cells: &[(u32, u64)],
        history: u32,
        t: u32,
    ) -> Option<(f64, u64, f64)> {
        let c = prepare(cells);
        let blocks = self.blocks(cells, i64::from(history), i64::from(t), i64::from(t) + 1);
        let t = i64::from(t);
        let r = c.upto(t) - c.upto(t - i64::from(self.w));
        self.score_at(&c, &blocks, i64::from(history), t, r)
            .map(|(z, mu)| (z, r, mu))
    }

    /// The score at every bin of `[from, to)`, `None` where no score exists
    /// yet. `cells` are `(bin, count)`, ascending and distinct; `history` is the
    /// store's first bin with data.
    pub fn scores(
        &self,
        cells: &[(u32, u64)],
        history: u32,
        from: u32,
        to: u32,
    ) -> Vec<Option<f64>> {
        let c = prepare(cells);
        let blocks = self.blocks(cells, i64::from(history), i64::from(from), i64::from(to));
        let w = i64::from(self.w);
        (from..to)
            .map(|t| {
                let t = i64::from(t);
                let r = c.upto(t) - c.upto(t - w);
                self.score_at(&c, &blocks, i64::from(history), t, r)
                    .map(|s| s.0)
            })
            .collect()
    }

    /// The episodes of a series whose state machine starts idle at bin `from`
    /// and runs to `to` (exclusive). `cells` are `(bin, count)`, ascending and
    /// distinct, and must cover `[from - lookback, to)`; `history` is the
    /// store's first bin with data. Episodes come in onset order.
    pub fn episodes(
        &self,
        cells: &[(u32, u64)],
        history: u32,
        from: u32,
        to: u32,
    ) -> Vec<RawEpisode> {
        let mut out = Vec::new();
        if from >= to {
            return out;
        }
        let c = prepare(cells);
        let blocks = self.blocks(cells, i64::from(history), i64::from(from), i64::from(to));
        let history = i64::from(history);
        let w = i64::from(self.w);
        // a = cells with bin <= t; b = cells with bin <= t - w.
        let (mut a, mut b) = (0usize, 0usize);
        // The active episode and its bins below exit in a row.
        let mut cur: Option<(RawEpisode, u32)> = None;
        // Events of the active episode's bins since its last bin at or above exit.
        let mut after_end = 0u64;
        // The bins `[lo, hi)` whose recent window starts in one block share a
        // baseline, hence a gate (see `gate`), held here as the least `R` that
        // may start an episode (`None`: no onset in the span).
        let mut gate_span: (i64, i64, Option<u64>) = (0, 0, None);
        let mut t = i64::from(from);
        let end = i64::from(to);
        while t < end {
            if cur.is_none() && !(gate_span.0..gate_span.1).contains(&t) {
                let jr = (t - w + 1).div_euclid(w);
                let lo = jr * w + w - 1;
                // Every recent window of the span lies in blocks `jr` and
                // `jr + 1`: when those two cannot reach the gate, none can.
                let (two, _) = blocks.sums(jr, jr + 2);
                let least = self
                    .gate(&blocks, history, t)
                    .map(|g| least_count(g).max(self.min_count))
                    .filter(|&least| two >= u128::from(least))
                    .map(|least| least.max(self.novel_least(&blocks, history, t)))
                    .filter(|&least| two >= u128::from(least));
                gate_span = (lo, lo + w, least);
            }
            if cur.is_none() && gate_span.2.is_none() {
                // No onset anywhere in this span.
                t = gate_span.1;
                continue;
            }
            while a < cells.len() && i64::from(cells[a].0) <= t {
                a += 1;
            }
            while b < cells.len() && i64::from(cells[b].0) <= t - w {
                b += 1;
            }
            let r = c.cum[a] - c.cum[b];
            let bin = t as u32;
            if let Some((ep, below)) = cur.as_mut() {
                // Active: min_blocks is met for good once an onset happened.
                let (z, _) = self
                    .score_at(&c, &blocks, history, t, r)
                    .unwrap_or((f64::NEG_INFINITY, 0.0));
                // Events of bins past the last one at or above exit count
                // only once a later bin is (or the data ends first).
                after_end += cells
                    .get(a.wrapping_sub(1))
                    .filter(|x| x.0 == bin)
                    .map_or(0, |x| x.1);
                if z > ep.peak_score {
                    ep.peak = bin;
                    ep.peak_score = z;
                    ep.peak_count = r;
                }
                if z >= self.exit {
                    *below = 0;
                    ep.end = Some(bin);
                    ep.events += std::mem::take(&mut after_end);
                } else {
                    *below += 1;
                    if *below >= self.cool {
                        let (done, _) = cur.take().expect("active");
                        out.push(done);
                    }
                }
                t += 1;
                continue;
            }
            let may_enter = gate_span.2.is_some_and(|least| r >= least);
            if may_enter {
                if let Some((z, mu)) = self.score_at(&c, &blocks, history, t, r) {
                    if z >= self.entry {
                        let here = cells
                            .get(a.wrapping_sub(1))
                            .filter(|x| x.0 == bin)
                            .map_or(0, |x| x.1);
                        after_end = 0;
                        cur = Some((
                            RawEpisode {
                                onset: bin,
                                onset_score: z,
                                onset_count: r,
                                onset_expected: mu,
                                peak: bin,
                                peak_score: z,
                                peak_count: r,
                                end: Some(bin),
                                events: here,
                            },
                            0,
                        ));
                    }
                }
                t += 1;
                continue;
            }
            // Idle and no onset possible here. R grows only at a cell, and
            // the gate moves only when the baseline's blocks do: skip to the
            // first of those.
            let next_cell = cells.get(a).map(|c| i64::from(c.0));
            let next = if r >= self.min_count {
                let next_block = gate_span.1;
                Some(next_cell.map_or(next_block, |c| c.min(next_block)))
            } else {
                next_cell
            };
            match next {
                Some(next) => t = next.max(t + 1),
                None => break,
            }
        }
        if let Some((mut ep, below)) = cur {
            // Still going at the end of the data: not ended, whatever the
            // score did in its last bins, and its events run to the end.
            let _ = below;
            ep.end = None;
            ep.events += after_end;
            out.push(ep);
        }
        out
    }
}

fn prepare(cells: &[(u32, u64)]) -> Cells<'_> {
    let mut cum = Vec::with_capacity(cells.len() + 1);
    let mut s = 0u64;
    cum.push(0);
    for &(_, c) in cells {
        s = s.saturating_add(c);
        cum.push(s);
    }
    Cells { cells, cum }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mins(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    fn params(window: u64, baseline: u64) -> BurstParams {
        BurstParams {
            window: mins(window),
            baseline: mins(baseline),
            ..BurstParams::default()
        }
    }

    /// The reference: every quantity summed from scratch at every bin, and the
    /// state machine stepping every bin.
    fn naive(d: &Detector, dense: &[u64], history: u32, from: u32, to: u32) -> Vec<RawEpisode> {
        let at = |i: i64| -> u64 {
            if i < 0 {
                0
            } else {
                dense.get(i as usize).copied().unwrap_or(0)
            }
        };
        let w = i64::from(d.w);
        let sum = |lo: i64, hi: i64| (lo..hi).map(at).sum::<u64>();
        let h = i64::from(history);
        let score = |t: i64| -> Option<(f64, f64, u64)> {
            let r = sum(t - w + 1, t + 1);
            let start = t - w + 1;
            if start < h {
                return None;
            }
            let jr = start.div_euclid(w);
            let jv = (h + w - 1).div_euclid(w);
            let jlo = (jr - i64::from(d.k)).max(jv);
            let n = jr - jlo;
            if n < i64::from(d.min_blocks) {
                return None;
            }
            let xs: Vec<f64> = (jlo..jr).map(|j| sum(j * w, j * w + w) as f64).collect();
            let nf = n as f64;
            let mean = xs.iter().sum::<f64>() / nf;
            let var = match d.dispersion {
                Dispersion::Spread => {
                    xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (nf - 1.0)
                }
                Dispersion::Successive => {
                    xs.windows(2)
                        .map(|w| (w[1] - w[0]) * (w[1] - w[0]))
                        .sum::<f64>()
                        / (2.0 * (nf - 1.0))
                }
            };
            let phi = if mean > 0.0 {
                (var / mean).max(1.0)
            } else {
                1.0
            };
            let mut mu = mean + d.prior_w;
            let mut ss = Vec::new();
            for i in 1..=i64::from(d.days) {
                let u = t - i * i64::from(d.day);
                if u - w + 1 < h {
                    break;
                }
                ss.push(sum(u - w + 1, u + 1) as f64);
            }
            if !ss.is_empty() {
                mu = mu.max(ss.iter().sum::<f64>() / ss.len() as f64 + d.prior_w);
            }
            Some(((anscombe(r as f64) - anscombe(mu)) / phi.sqrt(), mu, r))
        };
        let mut out = Vec::new();
        let mut cur: Option<(RawEpisode, u32)> = None;
        let mut pending = 0u64;
        for t in from..to {
            let ti = i64::from(t);
            let s = score(ti);
            if let Some((ep, below)) = cur.as_mut() {
                let (z, _, r) = s.expect("active implies a score");
                pending += at(ti);
                if z > ep.peak_score {
                    (ep.peak, ep.peak_score, ep.peak_count) = (t, z, r);
                }
                if z >= d.exit {
                    *below = 0;
                    ep.end = Some(t);
                    ep.events += std::mem::take(&mut pending);
                } else {
                    *below += 1;
                    if *below >= d.cool {
                        out.push(cur.take().unwrap().0);
                    }
                }
            } else if let Some((z, mu, r)) = s {
                let start = ti - w + 1;
                let jr = start.div_euclid(w);
                let jv = (h + w - 1).div_euclid(w);
                let most = ((jr - i64::from(d.nb)).max(jv)..jr)
                    .map(|j| sum(j * w, j * w + w))
                    .max()
                    .unwrap_or(0);
                let novel = d.nb == 0 || r as f64 >= d.novelty_factor * most as f64;
                if z >= d.entry && r >= d.min_count && novel {
                    let ep = RawEpisode {
                        onset: t,
                        onset_score: z,
                        onset_count: r,
                        onset_expected: mu,
                        peak: t,
                        peak_score: z,
                        peak_count: r,
                        end: Some(t),
                        events: at(ti),
                    };
                    pending = 0;
                    cur = Some((ep, 0));
                }
            }
        }
        if let Some((mut ep, _)) = cur {
            ep.end = None;
            ep.events += pending;
            out.push(ep);
        }
        out
    }

    fn sparse(dense: &[u64]) -> Vec<(u32, u64)> {
        dense
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| (i as u32, c))
            .collect()
    }

    /// The reference sums floats where the detector sums integers, so two
    /// bins whose scores are equal can compare either way in the last bit:
    /// a peak may then move to the other of the tied bins.
    fn close(a: &[RawEpisode], b: &[RawEpisode]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x.onset == y.onset
                    && x.end == y.end
                    && x.events == y.events
                    && x.onset_count == y.onset_count
                    && (x.peak_score - y.peak_score).abs() < 1e-9
            })
    }

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        BurstParams::default().validate().unwrap();
        let cases: Vec<(BurstParams, &str)> = vec![
            (
                BurstParams {
                    entry: f64::NAN,
                    ..Default::default()
                },
                "entry",
            ),
            (
                BurstParams {
                    entry: 0.0,
                    ..Default::default()
                },
                "entry",
            ),
            (
                BurstParams {
                    entry: f64::INFINITY,
                    ..Default::default()
                },
                "entry",
            ),
            (
                BurstParams {
                    exit: 7.0,
                    ..Default::default()
                },
                "exit",
            ),
            (
                BurstParams {
                    prior: -1.0,
                    ..Default::default()
                },
                "prior",
            ),
            (
                BurstParams {
                    prior: f64::NAN,
                    ..Default::default()
                },
                "prior",
            ),
            (
                BurstParams {
                    window: Duration::from_secs(90),
                    ..Default::default()
                },
                "window",
            ),
            (
                BurstParams {
                    window: Duration::ZERO,
                    ..Default::default()
                },
                "window",
            ),
            (params(60, 90), "baseline"),
            (
                BurstParams {
                    cooldown: Duration::ZERO,
                    ..Default::default()
                },
                "cooldown",
            ),
            (
                BurstParams {
                    seasonal_days: 29,
                    ..Default::default()
                },
                "seasonal_days",
            ),
            (
                BurstParams {
                    horizon: mins(40 * 1440),
                    ..Default::default()
                },
                "horizon",
            ),
        ];
        for (p, name) in cases {
            let e = p.validate().unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(name) && msg.contains("must be"),
                "{name}: {msg}"
            );
            assert!(Detector::new(&p, 1).is_err());
        }
    }

    #[test]
    fn a_jump_from_nothing_fires_once_and_small_counts_do_not() {
        let d = Detector::new(&BurstParams::default(), 1).unwrap();
        // Two quiet days of 2 events an hour, then 2 -> 6 posts an hour: no alarm.
        let mut dense = vec![0u64; 3 * 1440];
        for (i, x) in dense.iter_mut().enumerate() {
            if i % 30 == 0 {
                *x = 1;
            }
        }
        for i in (2 * 1440..3 * 1440).step_by(10) {
            dense[i] = 1;
        }
        assert!(d.episodes(&sparse(&dense), 0, 0, 3 * 1440).is_empty());
        // Then 5 a minute for an hour: one episode, onset within minutes.
        for x in &mut dense[2 * 1440 + 600..2 * 1440 + 660] {
            *x = 5;
        }
        let eps = d.episodes(&sparse(&dense), 0, 0, 3 * 1440);
        assert_eq!(eps.len(), 1, "{eps:?}");
        let e = &eps[0];
        assert!(
            e.onset >= 2 * 1440 + 600 && e.onset < 2 * 1440 + 605,
            "{e:?}"
        );
        assert!(e.end.is_some() && e.end.unwrap() >= 2 * 1440 + 659);
        assert!(e.peak_score.is_finite() && e.peak_score >= e.onset_score);
    }

    #[test]
    fn novelty_silences_a_repeat_of_a_recent_level_only() {
        // 1 an hour for three days; 5 a minute for an hour on day 1 at 10:00,
        // 4 a minute on day 2 at 16:00 (no busier: a repeat), and 12 a minute
        // on day 3 at 20:00 (new for the tag). (A repeat at least 0.9 times
        // as busy still fires, once its recent count reaches that level.)
        let mut dense = vec![0u64; 4 * 1440];
        for x in dense.iter_mut().step_by(60) {
            *x = 1;
        }
        let bursts = [(1440 + 600, 5), (2 * 1440 + 960, 4), (3 * 1440 + 1200, 12)];
        for (at, rate) in bursts {
            for x in &mut dense[at..at + 60] {
                *x = rate;
            }
        }
        let onsets = |p: &BurstParams| -> Vec<u32> {
            let d = Detector::new(p, 1).unwrap();
            let eps = d.episodes(&sparse(&dense), 0, 0, 4 * 1440);
            eps.iter().map(|e| e.onset / 60).collect()
        };
        let off = BurstParams {
            novelty: Duration::ZERO,
            ..BurstParams::default()
        };
        assert_eq!(onsets(&off), [24 + 10, 48 + 16, 72 + 20]);
        assert_eq!(onsets(&BurstParams::default()), [24 + 10, 72 + 20]);
        // A look-back too short to see day 1 lets day 2 fire again.
        let short = BurstParams {
            novelty: mins(12 * 60),
            ..BurstParams::default()
        };
        assert_eq!(onsets(&short), [24 + 10, 48 + 16, 72 + 20]);
    }

    #[test]
    fn empty_baseline_is_finite_and_needs_min_count() {
        let d = Detector::new(&BurstParams::default(), 1).unwrap();
        let cells = vec![(1000u32, 9u64)];
        assert!(d.episodes(&cells, 0, 0, 2000).is_empty());
        let cells = vec![(1000u32, 30u64)];
        let eps = d.episodes(&cells, 0, 0, 2000);
        assert_eq!(eps.len(), 1);
        assert_eq!(eps[0].onset, 1000);
        assert!(eps[0].onset_score.is_finite());
        // Score with zero baseline and zero prior: still finite.
        let p = BurstParams {
            prior: 0.0,
            ..Default::default()
        };
        let d = Detector::new(&p, 1).unwrap();
        for s in d.scores(&cells, 0, 0, 2000).into_iter().flatten() {
            assert!(s.is_finite());
        }
    }

    #[test]
    fn no_decision_before_the_store_has_history() {
        let d = Detector::new(&BurstParams::default(), 1).unwrap();
        // A busy tag from the store's first minute: no onset at its start.
        let cells: Vec<(u32, u64)> = (500..3000).map(|m| (m, 40)).collect();
        assert!(d.episodes(&cells, 500, 500, 3000).is_empty());
        // The same series read as if the store had been empty before: a burst.
        assert_eq!(d.episodes(&cells, 0, 0, 3000).len(), 1);
    }

    #[test]
    fn seasonal_baseline_silences_a_daily_peak() {
        let mut dense = vec![0u64; 8 * 1440];
        for (i, x) in dense.iter_mut().enumerate() {
            *x = if i % 1440 >= 600 && i % 1440 < 720 {
                20
            } else {
                1
            };
        }
        let cells = sparse(&dense);
        // A 6-hour baseline never holds the previous day's peak.
        let flat = Detector::new(
            &BurstParams {
                seasonal_days: 0,
                ..params(30, 360)
            },
            1,
        )
        .unwrap();
        assert!(!flat.episodes(&cells, 0, 1440, 8 * 1440).is_empty());
        let p = BurstParams {
            seasonal_days: 3,
            ..params(30, 360)
        };
        let seasonal = Detector::new(&p, 1).unwrap();
        assert!(seasonal.episodes(&cells, 0, 4 * 1440, 8 * 1440).is_empty());
    }

    /// An episode's events run from its onset to its end; an event in the
    /// cooldown after the end (which closes the episode later) is not one
    /// of them. They used to be counted up to the close.
    #[test]
    fn an_episodes_events_stop_at_its_end() {
        let mut dense = vec![0u64; 14 * 60];
        for x in dense.iter_mut().step_by(10) {
            *x = 1;
        }
        dense[300] += 40;
        dense[480] += 1;
        let d = Detector::new(&BurstParams::default(), 1).unwrap();
        let eps = d.episodes(&sparse(&dense), 0, 0, dense.len() as u32);
        assert_eq!(eps.len(), 1, "{eps:?}");
        let e = &eps[0];
        let end = e.end.expect("ended within the data") as usize;
        assert!(end < 480, "{e:?}");
        assert_eq!(e.events, dense[e.onset as usize..=end].iter().sum::<u64>());
    }

    #[test]
    fn least_count_is_the_gate_as_a_count() {
        let mut g = 0.0f64;
        while g < 300.0 {
            let r = least_count(g);
            assert!(anscombe(r as f64) >= g, "{g}: {r}");
            assert!(r == 0 || anscombe((r - 1) as f64) < g, "{g}: {r}");
            g += 0.0137;
        }
        for g in [1e8, 3e9, 8e9, f64::INFINITY] {
            let r = least_count(g);
            assert!(r == 0 || anscombe((r - 1) as f64) < g, "{g}: {r}");
        }
        assert_eq!(least_count(f64::NAN), 0);
    }

    #[test]
    fn hour_bins_round_windows_up() {
        let d = Detector::new(&BurstParams::default(), 60).unwrap();
        assert_eq!((d.w, d.k, d.cool, d.day), (1, 24, 6, 24));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The skipping, integer-summed state machine equals the naive one,
        /// scores are finite, and cutting the data at any bin changes no
        /// onset before the cut (causality).
        #[test]
        fn matches_the_naive_machine_and_is_causal(
            dense in proptest::collection::vec(prop_oneof![4 => Just(0u64), 3 => 0u64..5, 1 => 0u64..200], 50..400),
            window in 1u64..6,
            blocks in 2u64..8,
            entry in 1.0f64..8.0,
            exit_frac in 0.0f64..1.0,
            cool in 1u64..8,
            min_count in 0u64..20,
            history in 0u32..40,
            days in 0u32..3,
            cut in 0usize..400,
            successive in any::<bool>(),
            novelty_blocks in 0u64..30,
            novelty_factor in 0.0f64..2.0,
        ) {
            let p = BurstParams {
                window: mins(window),
                baseline: mins(window * blocks),
                entry,
                exit: entry * exit_frac - 1.0,
                cooldown: mins(cool),
                min_count,
                seasonal_days: days,
                dispersion: if successive { Dispersion::Successive } else { Dispersion::Spread },
                novelty: mins(window * novelty_blocks),
                novelty_factor,
                ..BurstParams::default()
            };
            // Short days so the seasonal part is exercised.
            let mut d = Detector::new(&p, 1).unwrap();
            d.day = 37;
            let mut dense = dense;
            for x in dense.iter_mut().take(history as usize) {
                *x = 0;
            }
            let n = dense.len() as u32;
            let cells = sparse(&dense);
            let fast = d.episodes(&cells, history, 0, n);
            let slow = naive(&d, &dense, history, 0, n);
            prop_assert!(close(&fast, &slow), "{fast:?}\n{slow:?}");
            for s in d.scores(&cells, history, 0, n).into_iter().flatten() {
                prop_assert!(s.is_finite());
            }
            let cut = (cut as u32).min(n);
            let short = d.episodes(&cells[..cells.partition_point(|c| c.0 < cut)], history, 0, cut);
            let before: Vec<u32> = fast.iter().map(|e| e.onset).filter(|&o| o < cut).collect();
            let got: Vec<u32> = short.iter().map(|e| e.onset).collect();
            prop_assert_eq!(before, got);
            // What a range from `cut` on reads is all the data it needs:
            // cells from `lookback` (scores alone: `score_lookback`) before
            // it give the same episodes and scores as the whole series.
            let from_lb = |lb: u32| &cells[cells.partition_point(|c| c.0 < cut.saturating_sub(lb))..];
            prop_assert_eq!(
                d.episodes(from_lb(d.lookback()), history, cut, n),
                d.episodes(&cells, history, cut, n)
            );
            prop_assert_eq!(
                d.scores(from_lb(d.score_lookback()), history, cut, n),
                d.scores(&cells, history, cut, n)
            );
        }
    }
}
