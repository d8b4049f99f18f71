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

use std::borrow::Cow;

use super::burst::{BurstParams, Detector, RawEpisode};
use super::labels::{group_by_value, TagFold};
use super::Snapshot;
use crate::error::Result;
use crate::labels::Filter;
use crate::time::{Minute, Step, TimeRange};

/// One burst episode of one tag. Times are minutes; over hour-resolution
/// ranges they are the last minute of their hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    /// The tag.
    pub tag: String,
    /// On a labelled store, the filter the tag's counts were summed within
    /// (its `(key, value)` conditions: a burst in one city); empty without a
    /// filter (every series of the tag summed) or labels.
    pub labels: Vec<(String, String)>,
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
    /// Events from the onset to the end, inclusive (or to the store's now
    /// while it goes on).
    pub events: u64,
    /// The step the detector ran at: [`Step::Minute`] or [`Step::Hour`].
    pub step: Step,
}

/// A [`Snapshot::bursts`] query. `Default`: [`BurstParams::default`], k = 10,
/// all tags, no filter.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstQuery {
    /// Detector parameters.
    pub params: BurstParams,
    /// Most episodes returned (0: none).
    pub k: usize,
    /// Only these tags (normalised as on ingest); empty: every tag.
    pub tags: Vec<String>,
    /// On a labelled store, only the series matching it count, summed per
    /// tag: the detector runs on each tag's counts within the filter (on
    /// every series of the tag when empty). On a store without labels, any
    /// condition is an unknown key.
    pub filter: Filter,
}

impl Default for BurstQuery {
    fn default() -> BurstQuery {
        BurstQuery {
            params: BurstParams::default(),
            k: 10,
            tags: Vec::new(),
            filter: Filter::all(),
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
    /// On a labelled store, the filter the tag's counts were summed within
    /// (as [`Burst::labels`]); empty otherwise.
    pub labels: Vec<(String, String)>,
    /// Events in the recent window.
    pub recent: u64,
    /// Events the baseline predicted for it (`mu`, prior included).
    pub expected: f64,
    /// The burst score (always finite).
    pub score: f64,
}

/// Fewer candidate tags than this are always read one by one through the tag
/// index; more, by index or by one walk over the cells, whichever [`indexed`]
/// finds cheaper.
const INDEXED_READS: usize = 64;

/// A tag id and its `(minute, count)` cells.
type TagCells = (u32, Vec<(u32, u64)>);

/// Which series bursts read: only these ids (ascending) when given, and on
/// a labelled store the fold that sums them per tag row.
type Scope<'a> = (Option<&'a [u32]>, Option<&'a TagFold>);

/// A tag and the labels of what its counts were summed within.
type Named = (String, Vec<(String, String)>);

/// How [`Snapshot::burst_episodes`] picks the tags it runs the detector on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// Only tags that the cheap bounds leave ([`Wanted`]).
    Pruned,
    /// As `Pruned`, but always by walks over the cells, never by index.
    #[cfg(test)]
    PrunedWalk,
    /// Every tag, read one by one: the reference the bounds must agree with.
    #[cfg(test)]
    Every,
}

impl Reads {
    fn pruned(self) -> bool {
        match self {
            Reads::Pruned => true,
            #[cfg(test)]
            Reads::PrunedWalk => true,
            #[cfg(test)]
            Reads::Every => false,
        }
    }

    fn walk(self) -> bool {
        match self {
            Reads::Pruned => false,
            #[cfg(test)]
            Reads::PrunedWalk => true,
            #[cfg(test)]
            Reads::Every => false,
        }
    }
}

/// Every tag's cells (of `only`, when given) in `[lo, hi)` minutes, read one
/// by one through the tag index.
#[cfg(test)]
fn every_tag_cells(
    snap: &Snapshot,
    lo: u32,
    hi: u32,
    only: Option<&[u32]>,
) -> Result<Vec<TagCells>> {
    let n = snap.id_count() as u32;
    let ids: Vec<u32> = match only {
        Some(ids) => ids.to_vec(),
        None => (0..n).collect(),
    };
    let mut out = Vec::new();
    for id in ids {
        let mut cells = Vec::new();
        snap.tag_cells(id, lo, hi, |m, c| cells.push((m, c)))?;
        merge_sorted(&mut cells);
        out.push((id, cells));
    }
    Ok(out)
}

/// Each series' cells added into its tag's row of `fold` (series the fold
/// leaves out dropped): `(row, cells)`, ascending and merged.
fn fold_cells(cells: Vec<TagCells>, fold: &TagFold) -> Vec<TagCells> {
    let mut rows: std::collections::BTreeMap<u32, Vec<(u32, u64)>> = Default::default();
    for (id, c) in cells {
        match fold.row_of.get(id as usize) {
            Some(&row) if row != u32::MAX => rows.entry(row).or_default().extend(c),
            _ => {}
        }
    }
    rows.into_iter()
        .map(|(row, mut c)| {
            merge_sorted(&mut c);
            (row, c)
        })
        .collect()
}

/// Which tags [`candidate_cells`] reads: those that may start an episode, by
/// bounds that decode no cell of a sealed segment wholly inside the ranges.
struct Wanted<'a> {
    /// Only these tags (ascending), when given.
    only: Option<&'a [u32]>,
    /// Minutes `[count_lo, hi)` hold every recent window of every bin at
    /// which an onset is looked for.
    count_lo: u32,
    /// Fewest events a recent window needs for an onset.
    need: u64,
    /// The recent window, in minutes.
    window: u32,
    /// The detector and the baseline every one of those bins' scores reads
    /// in full: minutes `[lo, hi)`, averaged over at most `n` blocks
    /// ([`Detector::shared_baseline`]). A tag whose total over
    /// `[count_lo, hi)` cannot clear its baseline there is dropped
    /// ([`Detector::may_start`]).
    baseline: Option<(&'a Detector, u32, u32, u32)>,
    /// The onsets looked for, to drop tags whose sums over short stretches
    /// rule out every onset ([`span_filter`]).
    spans: Option<Spans<'a>>,
    /// Walk the cells even where reads by index would be cheaper (tests use
    /// it to cover both ways).
    walk: bool,
    /// On a labelled store, the series summed per tag ([`TagFold`]): the
    /// bounds judge tag rows (sums of series), and the cells come back per
    /// row.
    fold: Option<&'a TagFold>,
}

/// Onsets looked for at bins `[from, to)` of `bin` minutes, by `d`, in a store
/// whose first bin with data is `history`.
struct Spans<'a> {
    d: &'a Detector,
    bin: u32,
    history: u32,
    from: u32,
    to: u32,
}

/// Most `(tag, stretch)` sums [`span_filter`] keeps at once (8 bytes each).
const SPAN_SUMS: usize = 1 << 21;

/// The cells of every tag that may burst ([`Wanted`]), each with its cells in
/// `[lo, hi)` minutes, ascending and merged. This is the one place bursts read
/// the store.
///
/// The bounds judge candidates ("keys"): tag ids, or on a labelled store the
/// fold's tag rows, each the sum of its series. Every bound holds for sums
/// (a row's recent count is at most the sum of its series' totals, its
/// baseline at least the sum of their floors), so one path serves both.
fn candidate_cells(snap: &Snapshot, lo: u32, hi: u32, want: &Wanted<'_>) -> Result<Vec<TagCells>> {
    let n = snap.id_count();
    let count_lo = want.count_lo.min(hi);
    let mut totals = vec![0u64; n];
    snap.sum_windows(&[count_lo, hi], |_, tag, c| {
        if let Some(x) = totals.get_mut(tag as usize) {
            *x = x.saturating_add(c);
        }
    })?;
    let need = want.need.max(1);
    let space = want.fold.map_or(n, |f| f.names.len());
    let allowed: Option<Vec<bool>> = want.only.map(|only| {
        let mut a = vec![false; n];
        for &id in only {
            if let Some(x) = a.get_mut(id as usize) {
                *x = true;
            }
        }
        a
    });
    let key_of = |id: usize| -> u32 {
        if allowed.as_ref().is_some_and(|a| !a[id]) {
            return u32::MAX;
        }
        match want.fold {
            Some(f) => f.row_of.get(id).copied().unwrap_or(u32::MAX),
            None => id as u32,
        }
    };
    let key_total: Cow<'_, [u64]> = if want.fold.is_none() && allowed.is_none() {
        Cow::Borrowed(&totals)
    } else {
        let mut sums = vec![0u64; space];
        for (id, &t) in totals.iter().enumerate() {
            if let Some(x) = sums.get_mut(key_of(id) as usize) {
                *x = x.saturating_add(t);
            }
        }
        Cow::Owned(sums)
    };
    let mut keys: Vec<u32> = (0..space as u32)
        .filter(|&k| key_total[k as usize] >= need)
        .collect();
    // The ids of the keys, ascending, each with its key's index in `keys`
    // (without a fold the keys are the ids: every id outside `only` has a
    // zero total, so none is a key).
    let members = |keys: &[u32]| -> Vec<(u32, u32)> {
        if want.fold.is_none() {
            return keys.iter().zip(0..).map(|(&id, i)| (id, i)).collect();
        }
        let mut at = vec![u32::MAX; space];
        for (i, &k) in keys.iter().enumerate() {
            at[k as usize] = i as u32;
        }
        (0..n)
            .filter_map(|id| {
                let i = *at.get(key_of(id) as usize)?;
                (i != u32::MAX).then_some((id as u32, i))
            })
            .collect()
    };
    if let Some((d, b_lo, b_hi, blocks)) = want.baseline {
        let floor = baseline_floor(snap, &members(&keys), keys.len(), b_lo, b_hi)?;
        keys = keys
            .iter()
            .zip(floor)
            .filter(|&(&k, f)| d.may_start(key_total[k as usize], f, blocks))
            .map(|(&k, _)| k)
            .collect();
    }
    if keys.len() > INDEXED_READS && hi.saturating_sub(count_lo) > 3 * 60 {
        let slot = slots(&members(&keys), n);
        keys = busy_somewhere(snap, &keys, &slot, count_lo, hi, need, want.window)?;
    }
    if let Some(spans) = &want.spans {
        if want.walk || !indexed(snap, keys.len(), lo, hi) {
            let slot = slots(&members(&keys), n);
            if let Some(kept) = span_filter(snap, &keys, &slot, lo, hi, spans)? {
                keys = kept;
            }
        }
    }
    let ids = members(&keys).into_iter().map(|(id, _)| id).collect();
    let cells = read_cells(snap, ids, lo, hi, want.walk)?;
    Ok(match want.fold {
        Some(fold) => fold_cells(cells, fold),
        None => cells,
    })
}

/// Per id (of `n`), the index of its key among the candidates, from the
/// candidates' `(id, index)` members; `u32::MAX` for an id of none.
fn slots(members: &[(u32, u32)], n: usize) -> Vec<u32> {
    let mut slot = vec![u32::MAX; n];
    for &(id, i) in members {
        slot[id as usize] = i;
    }
    slot
}

/// The cells of `ids` in `[lo, hi)` minutes, each ascending and merged: read
/// one by one through the tag index, or by one walk over every cell when
/// that is cheaper ([`indexed`]) or `walk` asks for it.
fn read_cells(
    snap: &Snapshot,
    ids: Vec<u32>,
    lo: u32,
    hi: u32,
    walk: bool,
) -> Result<Vec<TagCells>> {
    let mut out: Vec<TagCells> = Vec::with_capacity(ids.len());
    if !walk && indexed(snap, ids.len(), lo, hi) {
        for id in ids {
            let mut cells = Vec::new();
            snap.tag_cells(id, lo, hi, |m, c| cells.push((m, c)))?;
            out.push((id, cells));
        }
    } else {
        let n = ids.last().map_or(0, |&id| id as usize + 1);
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

/// Whether `tags` tags' cells in `[lo, hi)` minutes are cheaper to read one
/// by one through each segment's tag index than by one walk over every cell:
/// a read by index costs about as much as decoding a few hundred cells (a
/// binary search, a group's checksum, the group decoded up to the tag).
fn indexed(snap: &Snapshot, tags: usize, lo: u32, hi: u32) -> bool {
    if tags < INDEXED_READS {
        return true;
    }
    let (mut segs, mut cells) = (0u64, 0u64);
    for seg in &snap.view().segments {
        let (s_lo, s_hi) = seg.minute_span();
        if s_hi > lo && s_lo < hi {
            segs += 1;
            cells = cells.saturating_add(seg.entry.cell_count);
        }
    }
    (tags as u64).saturating_mul(segs).saturating_mul(400) < cells
}

/// The candidates of `keys` that may start an episode at one of `spans`'
/// bins (`slot[id]`: the index in `keys` of the candidate id adds into): one
/// walk over the cells of `[lo, hi)` minutes adds up each candidate's events
/// per stretch of a fraction of the window, and
/// [`Detector::may_start_within`] judges each from those sums. `None` when
/// the sums would not fit in [`SPAN_SUMS`].
fn span_filter(
    snap: &Snapshot,
    keys: &[u32],
    slot: &[u32],
    lo: u32,
    hi: u32,
    spans: &Spans<'_>,
) -> Result<Option<Vec<u32>>> {
    let (d, bin) = (spans.d, spans.bin.max(1));
    let w = d.window();
    let (lo_b, hi_b) = ((lo / bin).max(spans.history), hi.div_ceil(bin));
    // The finest stretch that divides the window and fits the budget.
    let Some((s, first, len)) = [6u32, 5, 4, 3, 2, 1]
        .iter()
        .filter(|&&parts| w.is_multiple_of(parts))
        .map(|&parts| {
            let s = w / parts;
            let first = lo_b / s;
            (s, first, hi_b.div_ceil(s).saturating_sub(first) as usize)
        })
        .find(|&(_, _, len)| keys.len().saturating_mul(len) <= SPAN_SUMS)
    else {
        return Ok(None);
    };
    if len == 0 {
        return Ok(Some(Vec::new()));
    }
    let stretch = |m: u32| ((m / bin) / s).checked_sub(first).map(|q| q as usize);
    let mut sums = vec![0u64; keys.len() * len];
    snap.scan_window(lo, hi, |tag, m, c| {
        let Some(&i) = slot.get(tag as usize) else {
            return;
        };
        // Bins before the store's history enter no score.
        if let (true, Some(q)) = (i != u32::MAX, stretch(m)) {
            if let Some(x) = sums.get_mut(i as usize * len + q) {
                *x = x.saturating_add(c);
            }
        }
    })?;
    Ok(Some(
        keys.iter()
            .zip(sums.chunks_exact(len))
            .filter(|(_, row)| {
                d.may_start_within(row, first, s, spans.history, spans.from, spans.to)
            })
            .map(|(&id, _)| id)
            .collect(),
    ))
}

/// For each of `keys` candidates, a floor under its events in minutes
/// `[lo, hi)`: the sum of its ids' totals (cached per segment) in the sealed
/// segments that lie wholly inside. `members`: the candidates' ids,
/// ascending, each with its candidate's index. No cell is decoded.
fn baseline_floor(
    snap: &Snapshot,
    members: &[(u32, u32)],
    keys: usize,
    lo: u32,
    hi: u32,
) -> Result<Vec<u64>> {
    let mut floor = vec![0u64; keys];
    for seg in &snap.view().segments {
        let (s_lo, s_hi) = seg.minute_span();
        if s_lo < lo || s_hi > hi || seg.entry.cell_count == 0 {
            continue;
        }
        let t = seg.view.tag_totals().map_err(|e| seg.corrupted(e))?;
        let mut at = 0usize;
        for &(id, k) in members {
            at += t
                .tags
                .get(at..)
                .unwrap_or_default()
                .partition_point(|&x| x < id);
            match (t.tags.get(at), t.totals.get(at)) {
                (Some(&tag), Some(&c)) if tag == id => {
                    floor[k as usize] = floor[k as usize].saturating_add(c)
                }
                (None, _) => break,
                _ => {}
            }
        }
    }
    Ok(floor)
}

/// The candidates of `keys` whose events in some `window` minutes of
/// `[lo, hi)` may reach `need` (`slot[id]`: the index in `keys` of the
/// candidate id adds into). Each source (sealed segment or in-memory run)
/// that overlaps the range contributes each tag's total over its minute span
/// (cached per segment); a window `(t - window, t]` holds at most the totals of the
/// sources whose spans it touches, and the best `t` is found by one sweep
/// over the sources' edges, the same for every tag. No cell of a sealed
/// segment is decoded.
fn busy_somewhere(
    snap: &Snapshot,
    keys: &[u32],
    slot: &[u32],
    lo: u32,
    hi: u32,
    need: u64,
    window: u32,
) -> Result<Vec<u32>> {
    let segs: Vec<_> = snap
        .view()
        .segments
        .iter()
        .filter(|seg| {
            let (s_lo, s_hi) = seg.minute_span();
            s_hi > lo && s_lo < hi
        })
        .collect();
    let runs: Vec<_> = snap
        .view()
        .runs
        .iter()
        .filter(|run| run.len() > 0 && run.max_time >= lo && run.min_time < hi)
        .collect();
    let sources = segs.len() + runs.len();
    // Per source: the first and last `t` whose window it can touch. A run
    // counts as one source over its whole span: a looser bound, still a bound.
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(sources);
    // weight[candidate * sources + source]: the candidate's total there.
    let mut weight = vec![0u64; keys.len() * sources];
    let touch = |s_lo: u32, s_hi: u32| {
        let last = s_hi.saturating_sub(1).saturating_add(window - 1);
        (s_lo, last)
    };
    for seg in &segs {
        let (s_lo, s_hi) = seg.minute_span();
        let i = spans.len();
        spans.push(touch(s_lo, s_hi));
        let t = seg.view.tag_totals().map_err(|e| seg.corrupted(e))?;
        for (&tag, &c) in t.tags.iter().zip(&t.totals) {
            if let Some(&k) = slot.get(tag as usize) {
                if k != u32::MAX {
                    let x = &mut weight[k as usize * sources + i];
                    *x = x.saturating_add(c);
                }
            }
        }
    }
    for run in &runs {
        let i = spans.len();
        spans.push(touch(
            run.min_time.max(lo),
            run.max_time.saturating_add(1).min(hi),
        ));
        let c = &run.cells;
        for ((&tag, &m), &k) in c.tags.iter().zip(&c.times).zip(&c.counts) {
            if let Some(&s) = slot.get(tag as usize) {
                if s != u32::MAX && (lo..hi).contains(&m) {
                    let x = &mut weight[s as usize * sources + i];
                    *x = x.saturating_add(k);
                }
            }
        }
    }
    // A source starts touching at its first `t` and stops at `last + 1`; at
    // equal times, removals first.
    let mut edges: Vec<(u32, bool, usize)> = Vec::with_capacity(2 * sources);
    for (i, &(a, b)) in spans.iter().enumerate() {
        edges.push((a, true, i));
        edges.push((b.saturating_add(1), false, i));
    }
    edges.sort_unstable_by_key(|e| (e.0, e.1));
    let need = i128::from(need.max(1));
    Ok(keys
        .iter()
        .zip(weight.chunks_exact(sources.max(1)))
        .filter(|(_, w)| {
            let (mut cur, mut best) = (0i128, 0i128);
            for &(_, add, i) in &edges {
                let x = i128::from(w[i]);
                if add {
                    cur += x;
                    best = best.max(cur);
                } else {
                    cur -= x;
                }
            }
            best >= need
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
fn to_bins(cells: &[(u32, u64)], bin: u32) -> Cow<'_, [(u32, u64)]> {
    if bin == 1 {
        return Cow::Borrowed(cells);
    }
    let mut out: Vec<(u32, u64)> = Vec::new();
    for &(m, c) in cells {
        let b = m / bin;
        match out.last_mut() {
            Some(last) if last.0 == b => last.1 = last.1.saturating_add(c),
            _ => out.push((b, c)),
        }
    }
    Cow::Owned(out)
}

/// The most events any `w` consecutive bins whose last bin lies in
/// `[from, to)` hold: at least the recent count `R(t)` at every `t` there.
/// `bins` ascending and distinct.
fn peak_window(bins: &[(u32, u64)], w: u32, from: u32, to: u32) -> u64 {
    let lo = match from.checked_sub(w) {
        Some(before) => bins.partition_point(|c| c.0 <= before),
        None => 0,
    };
    let hi = bins.partition_point(|c| c.0 < to);
    let bins = bins.get(lo..hi).unwrap_or_default();
    let (mut left, mut sum, mut best) = (0usize, 0u64, 0u64);
    for &(b, c) in bins {
        sum = sum.saturating_add(c);
        while let Some(&(l, lc)) = bins.get(left) {
            if l.saturating_add(w) > b {
                break;
            }
            sum = sum.saturating_sub(lc);
            left += 1;
        }
        best = best.max(sum);
    }
    best
}

/// What a burst ranking's score leaves out when it runs on minutes and its
/// reads reach before the minutes held ([`Snapshot::burst_reads_cut`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadsCut {
    /// The first minute held as minutes (unix seconds): reads before it are
    /// left out.
    pub before: i64,
    /// Some of the baseline's blocks start before it.
    pub baseline: bool,
    /// Some of the seasonal windows (the same window on previous days)
    /// start before it.
    pub seasonal: bool,
}

/// A burst ranking's detector and the bin it runs on (see
/// [`Snapshot::burst_window`]).
struct BurstPlan {
    detector: Detector,
    /// 1 (minutes) or 60 (hours).
    bin: u32,
    /// The bin of the window's last minute.
    tb: u32,
    /// The first bin with data the detector may read.
    history: u32,
    /// The first minute held as minutes.
    floor: u32,
    /// The plan runs on minutes, and the score's reads before `floor` (held
    /// only as hours) are left out.
    cut: bool,
}

impl Snapshot {
    /// Runs the detector for `[lo, hi)` minutes and returns every tag's
    /// episodes that overlap the range, or with `onsets_from_lo` those whose
    /// onset lies in it, as `(tag id, episode, step)`, with bins converted to
    /// minutes (last minute of each bin).
    fn burst_episodes(
        &self,
        lo: u32,
        hi: u32,
        p: &BurstParams,
        (only, fold): Scope<'_>,
        onsets_from_lo: bool,
        reads: Reads,
    ) -> Result<Vec<(u32, RawEpisode, Step)>> {
        let keep = |e: &RawEpisode, lo_b: u32, hi_b: u32| {
            if onsets_from_lo {
                e.onset >= lo_b
            } else {
                e.onset < hi_b && e.end.is_none_or(|end| end >= lo_b)
            }
        };
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
        // On hours, a range that ends inside an hour before the store's now
        // stops at that hour's start: the rest of the hour is past `hi`.
        let hi_b = if bin > 1 && hi <= now {
            hi / bin
        } else {
            hi.div_ceil(bin)
        };
        let lo_b = lo / bin;
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
        let history = history_min / bin;
        // Over a stretch shorter than the baseline (onsets since a recent
        // minute), every score reads the same blocks: a tag whose recent
        // total cannot clear them is not read at all.
        let minutes = |block: u32| block.saturating_mul(d.window()).saturating_mul(bin);
        let baseline = d
            .shared_baseline(history, first_onset, hi_b)
            .map(|(b_lo, b_hi, n)| (&d, minutes(b_lo), minutes(b_hi), n));
        let want = Wanted {
            only,
            count_lo,
            need,
            window: d.window() * bin,
            baseline,
            spans: Some(Spans {
                d: &d,
                bin,
                history,
                from: first_onset,
                to: hi_b,
            }),
            walk: reads.walk(),
            fold,
        };
        let pruned = reads.pruned();
        let cands = match reads {
            #[cfg(test)]
            Reads::Every => {
                let every = every_tag_cells(self, data_lo, data_hi, only)?;
                match fold {
                    Some(fold) => fold_cells(every, fold),
                    None => every,
                }
            }
            _ => candidate_cells(self, data_lo, data_hi, &want)?,
        };
        let mut out = Vec::new();
        for (id, cells) in cands {
            let bins = to_bins(&cells, bin);
            // An onset at `t` needs `R(t) >= need`.
            if pruned && peak_window(&bins, d.window(), first_onset, hi_b) < need {
                continue;
            }
            // Only onsets from `lo` on are wanted: a tag whose score never
            // reaches the entry level there has none, whatever its state.
            if pruned && onsets_from_lo && hi_b - lo_b <= 60 {
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

    /// The episodes named: by the dictionary (ids), or on a labelled store by
    /// the fold's rows, labelled with the filter they were summed within.
    fn name_bursts(
        &self,
        eps: Vec<(u32, RawEpisode, Step)>,
        fold: Option<&TagFold>,
        filter: &Filter,
    ) -> Result<Vec<Burst>> {
        eps.into_iter()
            .filter_map(|(id, e, step)| {
                let (tag, labels) = match self.name_of(id, fold, filter) {
                    Ok(n) => n?,
                    Err(err) => return Some(Err(err)),
                };
                Some(Ok(Burst {
                    tag,
                    labels,
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

    /// The tag and labels of a detector's key: a tag id, or with `fold` a
    /// tag row labelled with `filter`. `None` for an id without a name.
    fn name_of(&self, key: u32, fold: Option<&TagFold>, filter: &Filter) -> Result<Option<Named>> {
        Ok(match fold {
            Some(fold) => fold
                .names
                .get(key as usize)
                .and_then(|n| n.as_deref())
                .map(|tag| (tag.to_string(), filter.pairs().to_vec())),
            None => self
                .dict()
                .read()
                .name(key)?
                .map(|n| (n.to_string(), Vec::new())),
        })
    }

    fn tag_filter(&self, tags: &[String]) -> Result<Option<Vec<u32>>> {
        if tags.is_empty() {
            return Ok(None);
        }
        let mut ids = Vec::new();
        for t in tags {
            ids.extend(self.select_ids(t, &crate::labels::Filter::all())?);
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
        self.bursts_with(range, q, Reads::Pruned)
    }

    fn bursts_with(&self, range: TimeRange, q: &BurstQuery, reads: Reads) -> Result<Vec<Burst>> {
        q.params.validate()?;
        let (lo, hi) = range.minute_span();
        let only = self.tag_filter(&q.tags)?;
        if q.k == 0 || only.as_ref().is_some_and(|v| v.is_empty()) {
            return Ok(Vec::new());
        }
        let fold = self.tag_fold(&q.filter)?;
        let (only, fold) = (only.as_deref(), fold.as_deref());
        let eps = self.burst_episodes(lo, hi, &q.params, (only, fold), false, reads)?;
        let rows = self.name_bursts(eps, fold, &q.filter)?;
        Ok(best_episodes(rows, q.k))
    }

    /// [`Snapshot::bursts`] within each value of the label key `by` ("bursts
    /// in each city"): `(value, episodes)` for every value with an episode,
    /// in the order the store first met the values; each value's episodes
    /// are those of the filter narrowed to it (and carry it in their
    /// labels), the `q.k` best. The detector runs once over every (value,
    /// tag) row, however many values `by` has.
    ///
    /// ```
    /// use trendlog::labels::LabelKeys;
    /// use trendlog::time::TimeRange;
    /// use trendlog::{BurstQuery, Options};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let keys = LabelKeys::parse("region").unwrap();
    /// let store = trendlog::Store::open(dir.path(), Options::default().label_keys(keys)).unwrap();
    /// let t0 = 1_508_112_000;
    /// let mut b = store.batch();
    /// for m in 0..1440 {
    ///     b.add_labelled("steady", &[("region", "paris")], t0 + m * 60, 5).unwrap();
    ///     if m >= 720 {
    ///         b.add_labelled("metoo", &[("region", "chicago")], t0 + m * 60, 20).unwrap();
    ///     }
    /// }
    /// b.commit().unwrap();
    /// let day = TimeRange::new(t0, t0 + 86_400).unwrap();
    /// let by = store.snapshot().bursts_by(day, &BurstQuery::top(10), "region").unwrap();
    /// assert_eq!(by.len(), 1);
    /// assert_eq!((by[0].0.as_str(), by[0].1[0].tag.as_str()), ("chicago", "metoo"));
    /// ```
    pub fn bursts_by(
        &self,
        range: TimeRange,
        q: &BurstQuery,
        by: &str,
    ) -> Result<Vec<(String, Vec<Burst>)>> {
        q.params.validate()?;
        self.labels.position(by)?;
        q.filter.resolve(&self.labels)?;
        let (lo, hi) = range.minute_span();
        let only = self.tag_filter(&q.tags)?;
        if q.k == 0 || only.as_ref().is_some_and(|v| v.is_empty()) {
            return Ok(Vec::new());
        }
        let Some((fold, values)) = self.value_tag_fold(&q.filter, by)? else {
            return Ok(Vec::new());
        };
        let eps = self.burst_episodes(
            lo,
            hi,
            &q.params,
            (only.as_deref(), Some(&fold)),
            false,
            Reads::Pruned,
        )?;
        let eps = eps.into_iter().map(|e| (e.0 as usize, e));
        let mut out = Vec::new();
        for (value, eps) in group_by_value(&values, eps) {
            let filter = q.filter.clone().and_held(by, &value);
            let rows = self.name_bursts(eps, Some(&fold), &filter)?;
            out.push((value.to_string(), best_episodes(rows, q.k)));
        }
        Ok(out)
    }

    /// The recent window and baseline that [`Snapshot::burst_ranking`] scores
    /// at `at` (default: the store's now), as `(window, baseline, step)`:
    /// `[at - window, at)` and the baseline before it when those minutes are
    /// held; when the window reaches before the minutes held (only hours
    /// remain there), the detector runs on hours, so the window is whole hours
    /// (the window rounded up) ending at the last whole hour at or before
    /// `at` (no event after `at` is counted).
    /// A window of whole hours ending on an hour also runs on hours when its
    /// baseline or seasonal days reach before the minutes held: the score
    /// reads the same windows from the hours (see
    /// [`Snapshot::burst_reads_cut`] for other windows).
    /// `None` for an empty store, or an `at` before the first hour.
    ///
    /// ```
    /// use trendlog::BurstParams;
    /// use trendlog::time::Step;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// let t0 = 1_508_112_000;
    /// store.record("metoo", t0 + 599 * 60, 40).unwrap();
    /// let (window, _, step) = store
    ///     .snapshot()
    ///     .burst_window(None, &BurstParams::default())
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!((window.from(), window.to()), (t0 + 570 * 60, t0 + 600 * 60));
    /// assert_eq!(step, Step::Minute);
    /// ```
    pub fn burst_window(
        &self,
        at: Option<i64>,
        p: &BurstParams,
    ) -> Result<Option<(TimeRange, TimeRange, Step)>> {
        let Some(plan) = self.burst_plan(at, p)? else {
            return Ok(None);
        };
        let (bin, d) = (i64::from(plan.bin), &plan.detector);
        let end = (i64::from(plan.tb) + 1) * bin;
        let start = end - i64::from(d.window()) * bin;
        let (lo, hi) = d.baseline_bins(plan.tb);
        // The first whole block at or after the store's history.
        let first_block = plan.history.div_ceil(d.window()) * d.window();
        // No whole block yet: an empty baseline where it would end.
        let lo = i64::from(lo.max(first_block).min(hi)) * bin;
        let hi = i64::from(hi) * bin;
        let step = if plan.bin == 1 {
            Step::Minute
        } else {
            Step::Hour
        };
        let window = TimeRange::new(start * 60, end * 60)?;
        let baseline = TimeRange::new(lo * 60, hi * 60)?;
        Ok(Some((window, baseline, step)))
    }

    /// How a burst ranking at `at` runs: on minutes when the window's minutes
    /// are held, else on hours. `None` when there is nothing to rank.
    fn burst_plan(&self, at: Option<i64>, p: &BurstParams) -> Result<Option<BurstPlan>> {
        p.validate()?;
        let Some(at) = at.or_else(|| self.now_end()) else {
            return Ok(None);
        };
        let (Some(first), true) = (self.earliest_data_minute(), at >= 60) else {
            return Ok(None);
        };
        // The last minute of the window [at - window, at).
        let t = crate::time::Minute::from_unix(at - 1)?.0;
        let floor = self.minute_floor().unwrap_or(0);
        let d = Detector::new(p, 1)?;
        let step_lo = (t + 1).saturating_sub(d.window());
        // Hours held before the minutes that the score would read (its
        // baseline or the same window on previous days): a whole-hour window
        // runs on hours, which hold those windows exactly; another window
        // leaves them out (`cut`).
        let cut = first < floor && d.score_reach(t) < floor;
        let whole_hours = d.window() % 60 == 0 && (t + 1) % 60 == 0;
        let (detector, bin) = if step_lo >= floor && !(cut && whole_hours) {
            (d, 1)
        } else {
            (Detector::new(p, 60)?, 60)
        };
        // Blocks and seasonal windows count from the first data on: on
        // hours, from the first whole hour (an hour that starts before the
        // first event is not held whole), so that a whole-hour window reads
        // on hours exactly what it would on minutes.
        let history = if bin == 1 {
            first.max(floor)
        } else {
            first.div_ceil(60)
        };
        // On hours, the last whole hour that ends by `at`: the hour holding
        // `at - 1` ends after `at` unless `at` is on the hour, and its later
        // events are not known at `at`.
        let Some(tb) = ((t + 1) / bin).checked_sub(1) else {
            return Ok(None);
        };
        Ok(Some(BurstPlan {
            detector,
            bin,
            tb,
            history,
            floor,
            cut: cut && bin == 1,
        }))
    }

    /// When a burst ranking at `at` runs on minutes but its score would read
    /// before the minutes held (its baseline, or the same window on previous
    /// days), where hours alone remain: what is left out. `None` when nothing
    /// is: the reads are all held as minutes, or the ranking runs on hours
    /// (as it does for a window of whole hours ending on an hour).
    ///
    /// ```
    /// use trendlog::BurstParams;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// store.record("metoo", 1_508_112_000, 40).unwrap();
    /// let cut = store.snapshot().burst_reads_cut(None, &BurstParams::default()).unwrap();
    /// assert_eq!(cut, None); // every minute is held
    /// ```
    pub fn burst_reads_cut(&self, at: Option<i64>, p: &BurstParams) -> Result<Option<ReadsCut>> {
        let Some(plan) = self.burst_plan(at, p)?.filter(|plan| plan.cut) else {
            return Ok(None);
        };
        let (d, t, floor) = (&plan.detector, plan.tb, plan.floor);
        Ok(Some(ReadsCut {
            before: i64::from(floor) * 60,
            baseline: d.baseline_bins(t).0 < floor,
            // Plans that are cut run on minutes: bins are minutes here.
            seasonal: p.seasonal_days > 0 && d.seasonal_start(t) < floor,
        }))
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
        self.burst_ranking_where(at, p, k, &Filter::all())
    }

    /// [`Snapshot::burst_ranking`] within a filter: on a labelled store each
    /// tag is scored on the sum of its series that match `filter` (all of
    /// them when it is empty), and its rows carry the filter as `labels`.
    ///
    /// ```
    /// use trendlog::labels::{Filter, LabelKeys};
    /// use trendlog::{BurstParams, Options};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let keys = LabelKeys::parse("region").unwrap();
    /// let store = trendlog::Store::open(dir.path(), Options::default().label_keys(keys)).unwrap();
    /// let t0 = 1_508_112_000;
    /// let mut b = store.batch();
    /// for m in 0..600 {
    ///     b.add_labelled("steady", &[("region", "paris")], t0 + m * 60, 20).unwrap();
    /// }
    /// // 8 posts in each of 5 cities: no city alone reaches min_count 10.
    /// for city in ["paris", "tokyo", "lagos", "lima", "oslo"] {
    ///     b.add_labelled("metoo", &[("region", city)], t0 + 599 * 60, 8).unwrap();
    /// }
    /// b.commit().unwrap();
    /// let snap = store.snapshot();
    /// let p = BurstParams::default();
    /// let rows = snap.burst_ranking_where(None, &p, 10, &Filter::all()).unwrap();
    /// assert_eq!((rows[0].tag.as_str(), rows[0].recent), ("metoo", 40));
    /// let tokyo = Filter::parse(&["region=tokyo"]).unwrap();
    /// assert!(snap.burst_ranking_where(None, &p, 10, &tokyo).unwrap().is_empty());
    /// ```
    pub fn burst_ranking_where(
        &self,
        at: Option<i64>,
        p: &BurstParams,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<BurstRow>> {
        let fold = self.tag_fold(filter)?;
        let fold = fold.as_deref();
        if k == 0 {
            // (The plan still checks `p` and `at`.)
            self.burst_plan(at, p)?;
            return Ok(Vec::new());
        }
        let scores = self.burst_scores(at, p, fold)?;
        let rows = self.name_burst_rows(scores, fold, filter)?;
        Ok(best_rows(rows, k))
    }

    /// [`Snapshot::burst_ranking_where`] within each value of the label key
    /// `by`: `(value, rows)` for every value with a scored tag, in the order
    /// the store first met the values; each value's rows are those of the
    /// filter narrowed to it (and carry it in their labels), the `k` best.
    /// One pass over the cells however many values `by` has.
    pub fn burst_ranking_by(
        &self,
        at: Option<i64>,
        p: &BurstParams,
        k: usize,
        filter: &Filter,
        by: &str,
    ) -> Result<Vec<(String, Vec<BurstRow>)>> {
        self.labels.position(by)?;
        filter.resolve(&self.labels)?;
        let Some((fold, values)) = self.value_tag_fold(filter, by)? else {
            return Ok(Vec::new());
        };
        if k == 0 {
            self.burst_plan(at, p)?;
            return Ok(Vec::new());
        }
        let scores = self.burst_scores(at, p, Some(&fold))?;
        let scores = scores.into_iter().map(|x| (x.3 as usize, x));
        let mut out = Vec::new();
        for (value, scores) in group_by_value(&values, scores) {
            let narrowed = filter.clone().and_held(by, &value);
            let rows = self.name_burst_rows(scores, Some(&fold), &narrowed)?;
            out.push((value.to_string(), best_rows(rows, k)));
        }
        Ok(out)
    }

    /// The burst score of every id (with `fold`, every fold row) busy enough
    /// to be ranked at `at`: `(score, recent, expected, key)`.
    fn burst_scores(
        &self,
        at: Option<i64>,
        p: &BurstParams,
        fold: Option<&TagFold>,
    ) -> Result<Vec<(f64, u64, f64, u32)>> {
        let Some(plan) = self.burst_plan(at, p)? else {
            return Ok(Vec::new());
        };
        let (d, bin, tb, history) = (&plan.detector, plan.bin, plan.tb, plan.history);
        let data_lo = (tb.saturating_sub(d.score_lookback()) * bin).max(if bin == 1 {
            plan.floor
        } else {
            0
        });
        let count_lo = (tb + 1).saturating_sub(d.window()) * bin;
        let hi = (tb + 1) * bin;
        let want = Wanted {
            only: None,
            count_lo,
            need: d.min_count(),
            window: d.window() * bin,
            baseline: None,
            spans: None,
            walk: false,
            fold,
        };
        let cands = candidate_cells(self, data_lo, hi, &want)?;
        let mut rows: Vec<(f64, u64, f64, u32)> = Vec::new();
        for (id, cells) in cands {
            let bins = to_bins(&cells, bin);
            if let Some((z, r, mu)) = d.score_detail(&bins, history, tb) {
                if r >= d.min_count() {
                    rows.push((z, r, mu, id));
                }
            }
        }
        Ok(rows)
    }

    /// Scored keys named as ranking rows (labelled with `filter`).
    fn name_burst_rows(
        &self,
        scores: Vec<(f64, u64, f64, u32)>,
        fold: Option<&TagFold>,
        filter: &Filter,
    ) -> Result<Vec<BurstRow>> {
        scores
            .into_iter()
            .filter_map(|(score, recent, expected, id)| {
                let (tag, labels) = match self.name_of(id, fold, filter) {
                    Ok(n) => n?,
                    Err(err) => return Some(Err(err)),
                };
                Some(Ok(BurstRow {
                    tag,
                    labels,
                    recent,
                    expected,
                    score,
                }))
            })
            .collect()
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
        self.onsets_since_with(since, p, &Filter::all(), Reads::Pruned)
    }

    /// [`Snapshot::onsets_since`] within a filter: on a labelled store the
    /// detector runs on each tag's series that match `filter`, summed (all of
    /// them when it is empty, as [`Snapshot::onsets_since`] does).
    pub fn onsets_since_where(
        &self,
        since: Minute,
        p: &BurstParams,
        filter: &Filter,
    ) -> Result<Vec<Burst>> {
        self.onsets_since_with(since, p, filter, Reads::Pruned)
    }

    fn onsets_since_with(
        &self,
        since: Minute,
        p: &BurstParams,
        filter: &Filter,
        reads: Reads,
    ) -> Result<Vec<Burst>> {
        p.validate()?;
        let fold = self.tag_fold(filter)?;
        let fold = fold.as_deref();
        let Some(now) = self.view().now else {
            return Ok(Vec::new());
        };
        let lo = since.0;
        if lo > now {
            return Ok(Vec::new());
        }
        // Onsets from `since` on: the state machine must know whether an
        // episode was already going at `since`, so it starts a horizon earlier.
        let eps = self.burst_episodes(lo, now.saturating_add(1), p, (None, fold), true, reads)?;
        let mut rows = self.name_bursts(eps, fold, filter)?;
        rows.retain(|b| b.onset.0 >= lo);
        rows.sort_by(|a, b| a.onset.cmp(&b.onset).then_with(|| a.tag.cmp(&b.tag)));
        Ok(rows)
    }
}

/// The `k` best episodes: the highest peak score first, ties by onset, then
/// tag.
fn best_episodes(mut rows: Vec<Burst>, k: usize) -> Vec<Burst> {
    rows.sort_by(|a, b| {
        b.peak_score
            .total_cmp(&a.peak_score)
            .then(a.onset.cmp(&b.onset))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    rows.truncate(k);
    rows
}

/// The `k` best ranking rows: the highest score first, ties by recent
/// count (higher first), then tag.
fn best_rows(mut rows: Vec<BurstRow>, k: usize) -> Vec<BurstRow> {
    rows.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.recent.cmp(&a.recent))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    rows.truncate(k);
    rows
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Options, Store, SyncPolicy};

    const T0: i64 = 1_508_112_000;

    /// xorshift: deterministic data without a crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// One event: tag, unix seconds, count, region (0 to 2).
    type Event = (String, i64, u64, u8);

    /// `hours` hours of events, one batch an hour: steady tags of many rates,
    /// tags that surge for a while, sparse tags, and late events for hours
    /// already sealed; each event in one of three regions.
    fn random_events(rng: &mut Rng, hours: i64) -> Vec<Vec<Event>> {
        let tags = 70 + rng.below(60);
        let surges: Vec<(u64, i64, i64, u64)> = (0..4 + rng.below(6))
            .map(|_| {
                let start = rng.below(hours as u64 * 60) as i64;
                let len = 5 + rng.below(90) as i64;
                (rng.below(tags + 5), start, start + len, 1 + rng.below(12))
            })
            .collect();
        let mut batches = Vec::new();
        for hour in 0..hours {
            let mut b = Vec::new();
            for m in hour * 60..(hour + 1) * 60 {
                for k in 0..tags {
                    // Rates from one event a day to a few a minute.
                    let per_1000 = [0u64, 1, 5, 30, 200, 900, 3000][(k % 7) as usize];
                    let mut c = u64::from(rng.below(1000) < per_1000 % 1000) + per_1000 / 1000;
                    for &(tag, lo, hi, extra) in &surges {
                        if tag == k && (lo..hi).contains(&m) {
                            c += rng.below(extra + 1);
                        }
                    }
                    if c > 0 {
                        b.push((format!("t{k}"), T0 + m * 60, c, rng.below(3) as u8));
                    }
                }
                if m > 90 && rng.below(50) == 0 {
                    // A late event for an hour already sealed.
                    let back = 61 + rng.below(60) as i64;
                    let tag = format!("t{}", rng.below(tags));
                    b.push((tag, T0 + (m - back) * 60, 3, rng.below(3) as u8));
                }
            }
            batches.push(b);
        }
        batches
    }

    const REGIONS: [&str; 3] = ["r0", "r1", "r2"];

    /// A store of `events`, sealed after every batch but the last (left in
    /// the active log): with the label key `region`, or without labels
    /// (events of one region only, when `only` names one).
    fn build_store(
        dir: &std::path::Path,
        events: &[Vec<Event>],
        labelled: bool,
        only: Option<u8>,
    ) -> Store {
        let mut opts = Options::default()
            .sync_policy(SyncPolicy::Manual)
            .background_compaction(false);
        if labelled {
            opts = opts.label_keys(crate::labels::LabelKeys::parse("region").unwrap());
        }
        let store = Store::open(dir, opts).unwrap();
        for (i, batch) in events.iter().enumerate() {
            let mut b = store.batch();
            for (tag, ts, c, r) in batch {
                if labelled {
                    b.add_labelled(tag, &[("region", REGIONS[*r as usize])], *ts, *c)
                        .unwrap();
                } else if only.is_none_or(|o| o == *r) {
                    b.add(tag, *ts, *c).unwrap();
                }
            }
            b.commit().unwrap();
            if i + 1 < events.len() {
                store.seal().unwrap();
            }
        }
        store
    }

    fn random_store(dir: &std::path::Path, rng: &mut Rng, hours: i64) -> Store {
        build_store(dir, &random_events(rng, hours), false, None)
    }

    fn random_params(rng: &mut Rng) -> BurstParams {
        let window = [1u64, 5, 10, 30][rng.below(4) as usize];
        BurstParams {
            window: Duration::from_secs(window * 60),
            baseline: Duration::from_secs(window * 60 * (2 + rng.below(40))),
            seasonal_days: rng.below(2) as u32,
            dispersion: if rng.below(2) == 0 {
                super::super::burst::Dispersion::Successive
            } else {
                super::super::burst::Dispersion::Spread
            },
            entry: 1.0 + rng.below(60) as f64 / 10.0,
            exit: rng.below(20) as f64 / 10.0 - 1.0,
            cooldown: Duration::from_secs((1 + rng.below(120)) * 60),
            min_count: rng.below(15),
            prior: rng.below(4) as f64 / 60.0,
            horizon: Duration::from_secs(rng.below(12 * 60) * 60),
            novelty: Duration::from_secs(window * 60 * rng.below(60)),
            novelty_factor: rng.below(15) as f64 / 10.0,
        }
    }

    /// A random range within `hours` of the store's data, and a query with
    /// `p` that returns every episode.
    fn random_query(rng: &mut Rng, hours: i64, p: &BurstParams) -> (TimeRange, BurstQuery) {
        let a = rng.below(hours as u64 * 3600) as i64;
        let b = a + 60 + rng.below(hours as u64 * 3600) as i64;
        let range = TimeRange::new(T0 + a, T0 + b).unwrap();
        let q = BurstQuery {
            params: p.clone(),
            k: 10_000,
            ..BurstQuery::default()
        };
        (range, q)
    }

    /// The pruned reads (cheap bounds on tags, spans and windows) give
    /// exactly the episodes of running the detector on every tag.
    #[test]
    fn pruned_reads_equal_every_tag_read() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (mut onsets, mut episodes) = (0, 0);
        for case in 0..4 {
            let dir = tempfile::tempdir().unwrap();
            let hours = 20 + rng.below(30) as i64;
            let store = random_store(dir.path(), &mut rng, hours);
            let snap = store.snapshot();
            let now = snap.now().unwrap().0;
            for _ in 0..8 {
                let mut p = random_params(&mut rng);
                if rng.below(3) == 0 {
                    p = BurstParams::default();
                }
                for back in [0, 1, 5, 60, rng.below(hours as u64 * 60) as u32] {
                    let since = Minute(now.saturating_sub(back));
                    let fast = snap.onsets_since(since, &p).unwrap();
                    let all = Filter::all();
                    let slow = snap
                        .onsets_since_with(since, &p, &all, Reads::Every)
                        .unwrap();
                    assert_eq!(fast, slow, "case {case}, onsets since {back} back, {p:?}");
                    let walked = snap
                        .onsets_since_with(since, &p, &all, Reads::PrunedWalk)
                        .unwrap();
                    assert_eq!(walked, slow, "case {case}, onsets since {back} back, {p:?}");
                    onsets += fast.len();
                }
                let (range, q) = random_query(&mut rng, hours, &p);
                let (a, b) = (range.from() - T0, range.to() - T0);
                let fast = snap.bursts(range, &q).unwrap();
                let slow = snap.bursts_with(range, &q, Reads::Every).unwrap();
                assert_eq!(fast, slow, "case {case}, bursts {a}..{b}, {p:?}");
                let walked = snap.bursts_with(range, &q, Reads::PrunedWalk).unwrap();
                assert_eq!(walked, slow, "case {case}, bursts {a}..{b}, {p:?}");
                episodes += fast.len();
            }
        }
        // Not vacuous: both queries found episodes to compare.
        assert!(
            onsets > 5 && episodes > 20,
            "{onsets} onsets, {episodes} episodes"
        );
    }

    /// On a labelled store the detector runs per tag on its series summed
    /// (within a filter: on the matching series only), so its answers equal
    /// those of a store without labels holding the sums; the pruned reads
    /// equal reading every series.
    #[test]
    fn labelled_bursts_are_the_bursts_of_the_sums() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut episodes = 0;
        for case in 0..2 {
            let hours = 20 + rng.below(20) as i64;
            let events = random_events(&mut rng, hours);
            let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
            let labelled = build_store(dirs[0].path(), &events, true, None);
            let summed = build_store(dirs[1].path(), &events, false, None);
            let r1 = build_store(dirs[2].path(), &events, false, Some(1));
            let (ls, ss, rs) = (labelled.snapshot(), summed.snapshot(), r1.snapshot());
            let in_r1 = Filter::parse(&["region=r1"]).unwrap();
            let now = ls.now().unwrap();
            for _ in 0..6 {
                let mut p = random_params(&mut rng);
                if rng.below(3) == 0 {
                    p = BurstParams::default();
                }
                let (range, q) = random_query(&mut rng, hours, &p);
                let b = range.to() - T0;
                let mine = ls.bursts(range, &q).unwrap();
                assert_eq!(mine, ss.bursts(range, &q).unwrap(), "case {case} {p:?}");
                assert_eq!(mine, ls.bursts_with(range, &q, Reads::Every).unwrap());
                assert_eq!(mine, ls.bursts_with(range, &q, Reads::PrunedWalk).unwrap());
                episodes += mine.len();
                let qr = BurstQuery {
                    filter: in_r1.clone(),
                    ..q.clone()
                };
                let mine = ls.bursts(range, &qr).unwrap();
                assert!(mine.iter().all(|e| e.labels == in_r1.pairs()));
                let bare: Vec<Burst> = mine
                    .into_iter()
                    .map(|e| Burst {
                        labels: Vec::new(),
                        ..e
                    })
                    .collect();
                assert_eq!(bare, rs.bursts(range, &q).unwrap(), "case {case} r1 {p:?}");
                // Some tags only, within a filter: the fold over a subset.
                let qt = BurstQuery {
                    tags: vec!["t3".into(), "t5".into(), "t12".into()],
                    ..qr.clone()
                };
                let mine = ls.bursts(range, &qt).unwrap();
                assert_eq!(mine, ls.bursts_with(range, &qt, Reads::Every).unwrap());
                assert_eq!(mine, ls.bursts_with(range, &qt, Reads::PrunedWalk).unwrap());
                let since = Minute(now.0.saturating_sub(rng.below(600) as u32));
                assert_eq!(
                    ls.onsets_since(since, &p).unwrap(),
                    ss.onsets_since(since, &p).unwrap()
                );
                let within = ls.onsets_since_where(since, &p, &in_r1).unwrap();
                let every = ls.onsets_since_with(since, &p, &in_r1, Reads::Every);
                assert_eq!(within, every.unwrap());
                let at = Some(T0 + b.min(hours * 3600));
                assert_eq!(
                    ls.burst_ranking(at, &p, 50).unwrap(),
                    ss.burst_ranking(at, &p, 50).unwrap()
                );
            }
        }
        assert!(episodes > 10, "{episodes} episodes");
    }
}
