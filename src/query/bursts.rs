//! Burst episodes over a [`Snapshot`]: [`Snapshot::bursts`] (the episodes
//! overlapping a range, ranked) and [`Snapshot::onsets_since`] (new onsets, for
//! a service that asks every minute). The detector itself is
//! [`super::burst`]; this file only reads tags' cells and converts bins to
//! minutes.
//!
//! Resolution: when the range starts at or after [`Snapshot::earliest_minute`]
//! the detector runs on minutes (its warm-up clipped to that minute); over a
//! range that starts earlier, held only as hourly buckets, it runs on hours:
//! windows are rounded up to whole hours and onsets, peaks and ends are stamped
//! at the last minute of their hour (the data that decided them is complete
//! only then).

use super::burst::{BurstParams, Detector, RawEpisode};
use super::Snapshot;
use crate::error::Result;
use crate::time::{Minute, Step, TimeRange};

/// One burst episode of one tag. Times are minutes; over hour-resolution
/// ranges they are the last minute of their hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    /// The tag.
    pub tag: String,
    /// The first minute whose score reached the entry level.
    pub onset: Minute,
    /// The score at the onset.
    pub onset_score: f64,
    /// Events in the recent window at the onset.
    pub onset_count: u64,
    /// Events the baseline predicted for that window (`mu`, prior included).
    pub expected: f64,
    /// The minute of the highest score.
    pub peak: Minute,
    /// The highest score.
    pub peak_score: f64,
    /// Events in the recent window at the peak.
    pub peak_count: u64,
    /// The last minute that scored at or above the exit level, once the score
    /// has stayed below it for the cooldown; `None` while the episode goes on.
    pub end: Option<Minute>,
    /// Events from the onset to the end (or to the store's now).
    pub events: u64,
    /// The step the detector ran at: [`Step::Minute`] or [`Step::Hour`].
    pub step: Step,
}

/// A [`Snapshot::bursts`] query. `Default`: [`BurstParams::default`], k = 10,
/// all tags.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstQuery {
    /// Detector parameters.
    pub params: BurstParams,
    /// Most episodes returned (0: none).
    pub k: usize,
    /// Only these tags (normalised as on ingest); empty: every tag.
    pub tags: Vec<String>,
}

impl Default for BurstQuery {
    fn default() -> BurstQuery {
        BurstQuery {
            params: BurstParams::default(),
            k: 10,
            tags: Vec::new(),
        }
    }
}

impl BurstQuery {
    /// The default query returning the best `k` episodes.
    pub fn top(k: usize) -> BurstQuery {
        BurstQuery {
            k,
            ..BurstQuery::default()
        }
    }
}

/// One row of [`Snapshot::burst_ranking`].
#[derive(Debug, Clone, PartialEq)]
pub struct BurstRow {
    /// The tag.
    pub tag: String,
    /// Events in the recent window.
    pub recent: u64,
    /// Events the baseline predicted for it (`mu`, prior included).
    pub expected: f64,
    /// The burst score (always finite).
    pub score: f64,
}

/// Fewer candidate tags than this are read one by one through the tag index;
/// more, by one walk over the window's cells.
const INDEXED_READS: usize = 64;

/// A tag id and its `(minute, count)` cells.
type TagCells = (u32, Vec<(u32, u64)>);

/// The cells of every tag that may burst: tags (of `only`, when given) with at
/// least `min_total` events in some `window`-minute stretch of
/// `[count_lo, hi)` minutes, each with its cells in `[lo, hi)` minutes,
/// ascending and merged. This is the one place bursts read the store.
fn candidate_cells(
    snap: &Snapshot,
    lo: u32,
    hi: u32,
    count_lo: u32,
    min_total: u64,
    window: u32,
    only: Option<&[u32]>,
) -> Result<Vec<TagCells>> {
    let n = snap.dict().read().len();
    let mut totals = vec![0u64; n];
    snap.sum_windows(&[count_lo.min(hi), hi], |_, tag, c| {
        if let Some(x) = totals.get_mut(tag as usize) {
            *x += c;
        }
    })?;
    let wanted = |id: u32| {
        totals
            .get(id as usize)
            .is_some_and(|&t| t >= min_total.max(1))
    };
    let mut ids: Vec<u32> = match only {
        Some(ids) => ids.iter().copied().filter(|&i| wanted(i)).collect(),
        None => (0..n as u32).filter(|&i| wanted(i)).collect(),
    };
    if ids.len() > INDEXED_READS && hi.saturating_sub(count_lo) > 3 * 60 {
        ids = busy_somewhere(snap, &ids, count_lo, hi, min_total, window, n)?;
    }
    let mut out: Vec<TagCells> = Vec::with_capacity(ids.len());
    if ids.len() < INDEXED_READS {
        for id in ids {
            let mut cells = Vec::new();
            snap.tag_cells(id, lo, hi, |m, c| cells.push((m, c)))?;
            out.push((id, cells));
        }
    } else {
        let mut slot = vec![u32::MAX; n];
        for (i, &id) in ids.iter().enumerate() {
            slot[id as usize] = i as u32;
            out.push((id, Vec::new()));
        }
        snap.scan_window(lo, hi, |tag, m, c| {
            if let Some(&s) = slot.get(tag as usize) {
                if s != u32::MAX {
                    out[s as usize].1.push((m, c));
                }
            }
        })?;
    }
    for (_, cells) in &mut out {
        merge_sorted(cells);
    }
    Ok(out)
}

/// The tags of `ids` whose events in some `window` minutes of `[lo, hi)` may
/// reach `need`. Each source (sealed segment or in-memory run) that overlaps
/// the range contributes its per-tag total (cached per segment) over its
/// minute span; a window `(t - window, t]` holds at most the totals of the
/// sources whose spans it touches, and the best `t` is found by a sweep.
/// No cell is decoded for sealed segments.
fn busy_somewhere(
    snap: &Snapshot,
    ids: &[u32],
    lo: u32,
    hi: u32,
    need: u64,
    window: u32,
    n: usize,
) -> Result<Vec<u32>> {
    let mut slot = vec![u32::MAX; n];
    for (i, &id) in ids.iter().enumerate() {
        slot[id as usize] = i as u32;
    }
    // Per candidate: (first t the source can touch, last t, total).
    let mut spans: Vec<Vec<(u32, u32, u64)>> = vec![Vec::new(); ids.len()];
    let mut add = |tag: u32, s_lo: u32, s_hi: u32, c: u64| {
        if let Some(&i) = slot.get(tag as usize) {
            if i != u32::MAX {
                let last = s_hi.saturating_sub(1).saturating_add(window - 1);
                let v = &mut spans[i as usize];
                match v.last_mut() {
                    Some(x) if (x.0, x.1) == (s_lo, last) => x.2 += c,
                    _ => v.push((s_lo, last, c)),
                }
            }
        }
    };
    for seg in &snap.view().segments {
        let (s_lo, s_hi) = seg.minute_span();
        if s_hi <= lo || s_lo >= hi {
            continue;
        }
        let t = seg
            .view
            .tag_totals()
            .map_err(|e| crate::Error::corrupted(&seg.name, e.offset, e.kind))?;
        for (&tag, &c) in t.tags.iter().zip(&t.totals) {
            add(tag, s_lo, s_hi, c);
        }
    }
    for run in &snap.view().runs {
        if run.len() == 0 || run.max_time < lo || run.min_time >= hi {
            continue;
        }
        let c = &run.cells;
        for ((&tag, &m), &k) in c.tags.iter().zip(&c.times).zip(&c.counts) {
            if (lo..hi).contains(&m) {
                add(tag, m, m + 1, k);
            }
        }
    }
    let mut events: Vec<(u32, i64)> = Vec::new();
    Ok(ids
        .iter()
        .zip(spans)
        .filter(|(_, v)| {
            events.clear();
            for &(a, b, c) in v {
                events.push((a, c as i64));
                events.push((b.saturating_add(1), -(c as i64)));
            }
            // At equal times, removals first: a source stops touching at `b + 1`.
            events.sort_unstable_by_key(|e| (e.0, e.1));
            let (mut cur, mut best) = (0i64, 0i64);
            for &(_, d) in &events {
                cur += d;
                best = best.max(cur);
            }
            best >= need.max(1) as i64
        })
        .map(|(&id, _)| id)
        .collect())
}

/// Sorts by time and adds up cells of the same time (a late event sealed
/// into a later segment is a second cell for its minute).
fn merge_sorted(cells: &mut Vec<(u32, u64)>) {
    if !cells.windows(2).all(|w| w[0].0 < w[1].0) {
        cells.sort_unstable_by_key(|c| c.0);
        cells.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 = a.1.saturating_add(b.1);
                true
            } else {
                false
            }
        });
    }
}

/// Bins of `bin` minutes: `(bin index, count)`, merged.
fn to_bins(cells: &[(u32, u64)], bin: u32) -> Vec<(u32, u64)> {
    if bin == 1 {
        return cells.to_vec();
    }
    let mut out: Vec<(u32, u64)> = Vec::new();
    for &(m, c) in cells {
        let b = m / bin;
        match out.last_mut() {
            Some(last) if last.0 == b => last.1 = last.1.saturating_add(c),
            _ => out.push((b, c)),
        }
    }
    out
}

impl Snapshot {
    /// Runs the detector for `[lo, hi)` minutes and returns every tag's
    /// episodes that `keep` accepts, as `(tag id, episode, step)`, with bins
    /// converted to minutes (last minute of each bin).
    fn burst_episodes(
        &self,
        lo: u32,
        hi: u32,
        p: &BurstParams,
        only: Option<&[u32]>,
        onsets_from_lo: bool,
        keep: impl Fn(&RawEpisode, u32, u32) -> bool,
    ) -> Result<Vec<(u32, RawEpisode, Step)>> {
        p.validate()?;
        let (Some(now), Some(first)) = (self.view().now, self.earliest_data_minute()) else {
            return Ok(Vec::new());
        };
        let hi = hi.min(now.saturating_add(1));
        if lo >= hi {
            return Ok(Vec::new());
        }
        let floor = self.minute_floor().unwrap_or(0);
        let step = if lo >= floor {
            Step::Minute
        } else {
            Step::Hour
        };
        let bin = step.minutes();
        let d = Detector::new(p, bin)?;
        let history_min = if bin == 1 { first.max(floor) } else { first };
        let (lo_b, hi_b) = (lo / bin, hi.div_ceil(bin));
        let from_b = lo_b.saturating_sub(d.horizon());
        let data_lo_b = from_b.saturating_sub(d.lookback());
        let (data_lo, data_hi) = (
            (data_lo_b * bin).max(if bin == 1 { floor } else { 0 }),
            hi_b.saturating_mul(bin),
        );
        // An onset at bin t needs R(t) >= min_count, and R(t) <= g^-1(entry +
        // g(p*W)) can never score `entry`: a tag with fewer events than that
        // over every window the state machine reads cannot start an episode.
        // Episodes of interest start no earlier than `lo` (onsets_since) or
        // the horizon before it (bursts).
        let first_onset = if onsets_from_lo { lo_b } else { from_b };
        let count_lo = (first_onset.saturating_sub(d.window() - 1)) * bin;
        let empty_need = {
            let pw = p.prior * f64::from(d.window() * bin);
            let g = p.entry + 2.0 * (pw + 0.375).sqrt();
            (g * g / 4.0 - 0.375).ceil().max(0.0) as u64
        };
        let need = d.min_count().max(empty_need);
        let cands = candidate_cells(
            self,
            data_lo,
            data_hi,
            count_lo,
            need,
            d.window() * bin,
            only,
        )?;
        let history = history_min / bin;
        let mut out = Vec::new();
        for (id, cells) in cands {
            let bins = to_bins(&cells, bin);
            // Only onsets from `lo` on are wanted: a tag whose score never
            // reaches the entry level there has none, whatever its state.
            if onsets_from_lo && hi_b - lo_b <= 60 {
                let fires = (lo_b..hi_b).any(|t| {
                    d.score_detail(&bins, history, t)
                        .is_some_and(|(z, r, _)| z >= p.entry && r >= d.min_count())
                });
                if !fires {
                    continue;
                }
            }
            for mut e in d.episodes(&bins, history, from_b, hi_b) {
                if !keep(&e, lo_b, hi_b) {
                    continue;
                }
                let stamp = |b: u32| b.saturating_mul(bin).saturating_add(bin - 1);
                e.onset = stamp(e.onset);
                e.peak = stamp(e.peak);
                e.end = e.end.map(stamp);
                out.push((id, e, step));
            }
        }
        Ok(out)
    }

    fn name_bursts(&self, eps: Vec<(u32, RawEpisode, Step)>) -> Result<Vec<Burst>> {
        let dict = self.dict().read();
        eps.into_iter()
            .filter_map(|(id, e, step)| {
                let tag = match dict.name(id) {
                    Ok(n) => n?.to_string(),
                    Err(err) => return Some(Err(err)),
                };
                Some(Ok(Burst {
                    tag,
                    onset: Minute(e.onset),
                    onset_score: e.onset_score,
                    onset_count: e.onset_count,
                    expected: e.onset_expected,
                    peak: Minute(e.peak),
                    peak_score: e.peak_score,
                    peak_count: e.peak_count,
                    end: e.end.map(Minute),
                    events: e.events,
                    step,
                }))
            })
            .collect()
    }

    fn tag_filter(&self, tags: &[String]) -> Result<Option<Vec<u32>>> {
        if tags.is_empty() {
            return Ok(None);
        }
        let mut ids = Vec::new();
        for t in tags {
            if let Some(id) = self.tag_id(t)? {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(Some(ids))
    }

    /// The burst episodes that overlap `range` (onset before its end, and not
    /// ended before its start), the `k` with the highest peak score first; ties
    /// by onset, then tag. Every tag, or only `q.tags`. The detector and its
    /// parameters are described in [`super::burst`]; the state machine starts
    /// idle `q.params.horizon` before the range.
    ///
    /// ```
    /// use trendlog::BurstQuery;
    /// use trendlog::time::TimeRange;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// let t0 = 1_508_112_000; // 2017-10-16T00:00Z
    /// let mut b = store.batch();
    /// for m in 0..1440 {
    ///     b.add("steady", t0 + m * 60, 5).unwrap();
    ///     if m >= 720 { b.add("metoo", t0 + m * 60, 20).unwrap(); }
    /// }
    /// b.commit().unwrap();
    /// let day = TimeRange::new(t0, t0 + 86_400).unwrap();
    /// let eps = store.snapshot().bursts(day, &BurstQuery::top(10)).unwrap();
    /// assert_eq!(eps.len(), 1);
    /// assert_eq!(eps[0].tag, "metoo");
    /// assert_eq!(eps[0].onset.to_unix(), t0 + 720 * 60);
    /// ```
    pub fn bursts(&self, range: TimeRange, q: &BurstQuery) -> Result<Vec<Burst>> {
        q.params.validate()?;
        let (lo, hi) = range.minute_span();
        let only = self.tag_filter(&q.tags)?;
        if q.k == 0 || only.as_ref().is_some_and(|v| v.is_empty()) {
            return Ok(Vec::new());
        }
        let eps = self.burst_episodes(
            lo,
            hi,
            &q.params,
            only.as_deref(),
            false,
            |e, lo_b, hi_b| e.onset < hi_b && e.end.is_none_or(|end| end >= lo_b),
        )?;
        let mut rows = self.name_bursts(eps)?;
        rows.sort_by(|a, b| {
            b.peak_score
                .total_cmp(&a.peak_score)
                .then(a.onset.cmp(&b.onset))
                .then_with(|| a.tag.cmp(&b.tag))
        });
        rows.truncate(q.k);
        Ok(rows)
    }

    /// The k tags with the highest burst score at one instant: the score of
    /// the recent window `[at - window, at)` against its baseline (see
    /// [`super::burst`]), among tags with at least `min_count` events in that
    /// window; ties by recent count (higher first), then tag. `at` defaults to
    /// the store's now (end of its newest minute). The levels, cooldown and
    /// horizon of `p` play no part.
    ///
    /// ```
    /// use trendlog::BurstParams;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// let t0 = 1_508_112_000;
    /// for m in 0..600 {
    ///     store.record("steady", t0 + m * 60, 20).unwrap();
    /// }
    /// store.record("metoo", t0 + 599 * 60, 40).unwrap();
    /// let rows = store.snapshot().burst_ranking(None, &BurstParams::default(), 10).unwrap();
    /// assert_eq!(rows[0].tag, "metoo");
    /// assert!(rows.iter().all(|r| r.score.is_finite()));
    /// ```
    pub fn burst_ranking(
        &self,
        at: Option<i64>,
        p: &BurstParams,
        k: usize,
    ) -> Result<Vec<BurstRow>> {
        p.validate()?;
        let Some(at) = at.or_else(|| self.now_end()) else {
            return Ok(Vec::new());
        };
        let (Some(first), true) = (self.earliest_data_minute(), at >= 60) else {
            return Ok(Vec::new());
        };
        if k == 0 {
            return Ok(Vec::new());
        }
        // The last minute of the window [at - window, at).
        let t = crate::time::Minute::from_unix(at - 1)?.0;
        let floor = self.minute_floor().unwrap_or(0);
        let d = Detector::new(p, 1)?;
        let w = d.window();
        let step_lo = (t + 1).saturating_sub(w);
        let (d, bin) = if step_lo >= floor {
            (d, 1)
        } else {
            (Detector::new(p, 60)?, 60)
        };
        let tb = t / bin;
        let history = if bin == 1 { first.max(floor) } else { first } / bin;
        let data_lo = (tb.saturating_sub(d.lookback()) * bin).max(if bin == 1 { floor } else { 0 });
        let count_lo = (tb + 1).saturating_sub(d.window()) * bin;
        let hi = (tb + 1) * bin;
        let cands = candidate_cells(
            self,
            data_lo,
            hi,
            count_lo,
            d.min_count(),
            d.window() * bin,
            None,
        )?;
        let mut rows: Vec<(f64, u64, f64, u32)> = Vec::new();
        for (id, cells) in cands {
            let bins = to_bins(&cells, bin);
            if let Some((z, r, mu)) = d.score_detail(&bins, history, tb) {
                if r >= d.min_count() {
                    rows.push((z, r, mu, id));
                }
            }
        }
        let dict = self.dict().read();
        let mut named: Vec<BurstRow> = rows
            .into_iter()
            .filter_map(|(score, recent, expected, id)| {
                let tag = match dict.name(id) {
                    Ok(n) => n?.to_string(),
                    Err(err) => return Some(Err(err)),
                };
                Some(Ok(BurstRow {
                    tag,
                    recent,
                    expected,
                    score,
                }))
            })
            .collect::<Result<_>>()?;
        named.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.recent.cmp(&a.recent))
                .then_with(|| a.tag.cmp(&b.tag))
        });
        named.truncate(k);
        Ok(named)
    }

    /// The episodes whose onset lies at or after minute `since`, up to the
    /// store's now, in onset order (then tag). A service that calls it every
    /// minute with the minute after the last one it saw learns of each onset
    /// once; because the detector is causal, these are the onsets a replay
    /// with [`Snapshot::bursts`] reports too. Costs a walk over the tag totals
    /// of the last window plus the history of the few tags busy enough to burst.
    ///
    /// ```
    /// use trendlog::BurstParams;
    /// use trendlog::time::Minute;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// let t0 = 1_508_112_000;
    /// for m in 0..600 {
    ///     store.record("steady", t0 + m * 60, 5).unwrap();
    /// }
    /// store.record("metoo", t0 + 600 * 60, 40).unwrap();
    /// let snap = store.snapshot();
    /// let since = Minute::from_unix(t0 + 599 * 60).unwrap();
    /// let new = snap.onsets_since(since, &BurstParams::default()).unwrap();
    /// assert_eq!(new.len(), 1);
    /// assert_eq!((new[0].tag.as_str(), new[0].onset.to_unix()), ("metoo", t0 + 600 * 60));
    /// ```
    pub fn onsets_since(&self, since: Minute, p: &BurstParams) -> Result<Vec<Burst>> {
        p.validate()?;
        let Some(now) = self.view().now else {
            return Ok(Vec::new());
        };
        let lo = since.0;
        if lo > now {
            return Ok(Vec::new());
        }
        // Onsets from `since` on: the state machine must know whether an
        // episode was already going at `since`, so it starts a horizon earlier.
        let eps = self.burst_episodes(lo, now + 1, p, None, true, |e, lo_b, _| e.onset >= lo_b)?;
        let mut rows = self.name_bursts(eps)?;
        rows.retain(|b| b.onset.0 >= lo);
        rows.sort_by(|a, b| a.onset.cmp(&b.onset).then_with(|| a.tag.cmp(&b.tag)));
        Ok(rows)
    }
}
