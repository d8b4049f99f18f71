//! Growth and ranking: [`Snapshot::growth`], [`Snapshot::trending`] and
//! [`Snapshot::top`], exactly as the design brief defines them:
//!
//! - `rate(tag, R) = count(tag, R) / minutes(R)`
//! - `growth = (rate(recent) + p) / (rate(baseline) + p)`, `p` in events per
//!   minute (default 1/60: one event an hour)
//! - trending: the k tags with the highest growth among tags with at least
//!   `min_count` events in the recent window; ties by recent count, then tag.
//! - top: the k tags with the most events, ties by tag.
//!
//! Both rankings make one sequential pass over the cells of their window into
//! one counter per tag id (ids are dense), then keep a k-sized heap: they never
//! sort every tag.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use super::{query_error, Snapshot};
use crate::error::Result;
use crate::labels::Filter;
use crate::time::{Step, TimeRange};

/// A trending query. `Default` gives: `at` = the store's now (end of its newest
/// minute), a 1h window, a 24h baseline, k = 10, min_count = 10, prior = 1/60.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendQuery {
    /// End of the recent window, unix seconds; `None` for the store's now.
    pub at: Option<i64>,
    /// Length of the recent window (whole minutes).
    pub window: Duration,
    /// Length of the baseline window just before it (whole minutes).
    pub baseline: Duration,
    /// How many rows to return.
    pub k: usize,
    /// Least events in the recent window for a tag to be ranked.
    pub min_count: u64,
    /// The smoothing prior `p`, events per minute; must be finite and `>= 0`.
    pub prior: f64,
}

impl Default for TrendQuery {
    fn default() -> TrendQuery {
        TrendQuery {
            at: None,
            window: Duration::from_secs(3600),
            baseline: Duration::from_secs(24 * 3600),
            k: 10,
            min_count: 10,
            prior: 1.0 / 60.0,
        }
    }
}

/// One row of [`Snapshot::trending`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrendRow {
    /// The tag.
    pub tag: String,
    /// Events in the recent window.
    pub recent: u64,
    /// Events in the baseline window.
    pub baseline: u64,
    /// `(rate(recent) + p) / (rate(baseline) + p)`; `f64::INFINITY` only when
    /// `p = 0` and the baseline is empty.
    pub growth: f64,
}

/// One row of [`Snapshot::top`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRow {
    /// The tag.
    pub tag: String,
    /// Events in the range.
    pub count: u64,
}

fn whole_minutes(d: Duration, what: &str) -> Result<u32> {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 || !secs.is_multiple_of(60) || secs == 0 {
        return Err(query_error(format!(
            "the {what} must be a positive whole number of minutes"
        )));
    }
    u32::try_from(secs / 60).map_err(|_| query_error(format!("the {what} is too long")))
}

pub(crate) fn check_prior(prior: f64) -> Result<()> {
    if !prior.is_finite() || prior < 0.0 {
        return Err(query_error(format!(
            "the prior must be a finite number >= 0 (got {prior})"
        )));
    }
    Ok(())
}

/// The growth formula. `None` when it is undefined (`p = 0`, both windows empty).
pub(crate) fn growth_of(recent: u64, rmin: u32, base: u64, bmin: u32, prior: f64) -> Option<f64> {
    let r = recent as f64 / f64::from(rmin) + prior;
    let b = base as f64 / f64::from(bmin) + prior;
    if b == 0.0 {
        return (r > 0.0).then_some(f64::INFINITY);
    }
    Some(r / b)
}

/// A ranked candidate; the heap keeps the worst on top.
struct Ranked {
    key: f64,
    recent: u64,
    baseline: u64,
    tag: Arc<str>,
}

impl Ranked {
    /// `Less` = ranks higher (better).
    fn rank_cmp(&self, other: &Ranked) -> Ordering {
        other
            .key
            .total_cmp(&self.key)
            .then(other.recent.cmp(&self.recent))
            .then_with(|| self.tag.cmp(&other.tag))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.rank_cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap on "worse": the top is the worst kept row.
        self.rank_cmp(other)
    }
}

/// Keeps the best `k` of what is offered.
struct TopK {
    k: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }

    /// Cheap pre-check before a name is looked up: can `(key, recent)` enter?
    fn may_enter(&self, key: f64, recent: u64) -> bool {
        if self.k == 0 {
            return false;
        }
        if self.heap.len() < self.k {
            return true;
        }
        let worst = self.heap.peek().expect("heap is full");
        match key.total_cmp(&worst.key).then(recent.cmp(&worst.recent)) {
            Ordering::Greater => true,
            Ordering::Equal => true, // decided by tag name
            Ordering::Less => false,
        }
    }

    fn offer(&mut self, r: Ranked) {
        if self.heap.len() < self.k {
            self.heap.push(r);
        } else if let Some(worst) = self.heap.peek() {
            if r.rank_cmp(worst) == Ordering::Less {
                self.heap.pop();
                self.heap.push(r);
            }
        }
    }

    fn into_sorted(self) -> Vec<Ranked> {
        // into_sorted_vec is ascending by Ord, i.e. best first.
        self.heap.into_sorted_vec()
    }
}

impl Snapshot {
    /// `(rate(recent) + prior) / (rate(baseline) + prior)` for one tag, rates in
    /// events per minute. With `prior = 0`: infinity when the baseline is empty
    /// and the recent window is not; an error when both are empty (0/0).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// use trendlog::time::TimeRange;
    /// store.record("metoo", 0, 60).unwrap();        // baseline: 60 in the first hour
    /// store.record("metoo", 3600, 600).unwrap();    // recent: 600 in the second
    /// let g = store.snapshot().growth(
    ///     "metoo",
    ///     TimeRange::new(3600, 7200).unwrap(),
    ///     TimeRange::new(0, 3600).unwrap(),
    ///     0.0,
    /// ).unwrap();
    /// assert_eq!(g, 10.0);
    /// ```
    pub fn growth(
        &self,
        tag: &str,
        recent: TimeRange,
        baseline: TimeRange,
        prior: f64,
    ) -> Result<f64> {
        check_prior(prior)?;
        let rmin = u32::try_from(recent.len_minutes()).unwrap_or(u32::MAX);
        let bmin = u32::try_from(baseline.len_minutes()).unwrap_or(u32::MAX);
        if rmin == 0 || bmin == 0 {
            return Err(query_error("growth needs two non-empty windows"));
        }
        let r = self.total(tag, recent)?;
        let b = self.total(tag, baseline)?;
        growth_of(r, rmin, b, bmin, prior).ok_or_else(|| {
            query_error("growth is undefined with prior 0 and no events in either window (0/0)")
        })
    }

    /// The k tags with the highest growth of the recent window
    /// `[at - window, at)` over the baseline `[at - window - baseline, at - window)`,
    /// among tags with at least `min_count` recent events and at least one
    /// event in either window; ties by recent count (higher first), then
    /// tag. See [`TrendQuery`] for the defaults.
    ///
    /// Windows that do not fall on whole hours need minutes: where the store
    /// holds them as hourly buckets only (older than the minute retention;
    /// the default 1 h window over a 24 h baseline needs 25 hours of
    /// minutes when `at` is not on an hour), the call fails with
    /// [`crate::Error::ResolutionUnavailable`], naming the earliest minute
    /// held.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// use trendlog::TrendQuery;
    /// let t0 = 1_508_112_000;
    /// for h in 0..25 {
    ///     store.record("steady", t0 + h * 3600, 100).unwrap();
    /// }
    /// store.record("metoo", t0 + 24 * 3600, 50).unwrap();
    /// let rows = store.snapshot().trending(&TrendQuery::default()).unwrap();
    /// assert_eq!(rows[0].tag, "metoo");
    /// assert_eq!((rows[0].recent, rows[0].baseline), (50, 0));
    /// ```
    pub fn trending(&self, q: &TrendQuery) -> Result<Vec<TrendRow>> {
        self.trending_where(q, &Filter::all())
    }

    /// [`Snapshot::trending`] among the series matching `filter` ("trending
    /// in Chicago"); a tag's series are summed over the labels left open.
    pub fn trending_where(&self, q: &TrendQuery, filter: &Filter) -> Result<Vec<TrendRow>> {
        let Some((wmin, bmin, recent, basec)) = self.trend_columns(q)? else {
            return Ok(Vec::new());
        };
        let (cols, rows) = self.fold_by_tag(filter, vec![recent, basec])?;
        let [recent, basec]: [Vec<u64>; 2] = cols.try_into().expect("two columns in, two out");
        let dict = self.dict().read();
        let mut top = TopK::new(q.k);
        for i in 0..recent.len() {
            let (r, b) = (recent[i], basec[i]);
            if let Some(g) = ranked_growth(q, &top, (wmin, r), (bmin, b)) {
                if let Some(name) = row_name(&dict, &rows, i)? {
                    top.offer(Ranked {
                        key: g,
                        recent: r,
                        baseline: b,
                        tag: name,
                    });
                }
            }
        }
        Ok(trend_rows(top))
    }

    /// [`Snapshot::trending_where`] within each value of the label key `by`
    /// ("trending in each city"): `(value, rows)` for every value with a
    /// ranked tag, in the order the store first met the values. One pass
    /// over the windows' cells however many values `by` has.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{labels::{Filter, LabelKeys}, Options, Store, TrendQuery};
    /// let keys = LabelKeys::parse("region").unwrap();
    /// let store = Store::open(dir.path(), Options::default().label_keys(keys)).unwrap();
    /// let mut b = store.batch();
    /// b.add_labelled("metoo", &[("region", "chicago")], 7200, 30).unwrap();
    /// b.add_labelled("metoo", &[("region", "paris")], 7200, 12).unwrap();
    /// b.add_labelled("rain", &[("region", "paris")], 7200, 20).unwrap();
    /// b.commit().unwrap();
    /// let by = store.snapshot().trending_by(&TrendQuery::default(), &Filter::all(), "region").unwrap();
    /// assert_eq!(by[0].0, "chicago");
    /// assert_eq!(by[0].1[0].recent, 30);
    /// let paris: Vec<&str> = by[1].1.iter().map(|r| r.tag.as_str()).collect();
    /// assert_eq!(paris, ["rain", "metoo"]);
    /// ```
    pub fn trending_by(
        &self,
        q: &TrendQuery,
        filter: &Filter,
        by: &str,
    ) -> Result<Vec<(String, Vec<TrendRow>)>> {
        self.labels.position(by)?;
        filter.resolve(&self.labels)?;
        let Some((wmin, bmin, recent, basec)) = self.trend_columns(q)? else {
            return Ok(Vec::new());
        };
        let groups = self.fold_by_value(filter, by, &[recent, basec])?;
        let mut out = Vec::new();
        for (value, rows) in groups {
            let mut top = TopK::new(q.k);
            for (tag, sums) in rows {
                let (r, b) = (sums[0], sums[1]);
                if let Some(g) = ranked_growth(q, &top, (wmin, r), (bmin, b)) {
                    top.offer(Ranked {
                        key: g,
                        recent: r,
                        baseline: b,
                        tag,
                    });
                }
            }
            if !top.heap.is_empty() {
                out.push((value.to_string(), trend_rows(top)));
            }
        }
        Ok(out)
    }

    /// The window lengths in minutes and the per-id event counts of a
    /// trending query's recent window and baseline; `None` when there is
    /// nothing to rank (an empty store, or `k` = 0). Checks the arguments and
    /// that the windows' resolution is held.
    #[allow(clippy::type_complexity, reason = "private; named at its two callers")]
    fn trend_columns(&self, q: &TrendQuery) -> Result<Option<(u32, u32, Vec<u64>, Vec<u64>)>> {
        check_prior(q.prior)?;
        let wmin = whole_minutes(q.window, "window")?;
        let bmin = whole_minutes(q.baseline, "baseline")?;
        let Some(at) = q.at.or_else(|| self.now_end()) else {
            return Ok(None);
        };
        let w = i64::from(wmin) * 60;
        let b = i64::from(bmin) * 60;
        // Saturating: `at` is the caller's, any i64.
        let rec = TimeRange::new(at.saturating_sub(w).max(0), at.max(0))?;
        let base = TimeRange::new(at.saturating_sub(w + b).max(0), at.saturating_sub(w).max(0))?;
        let (rlo, rhi) = rec.minute_span();
        let (blo, bhi) = base.minute_span();
        self.check_resolution(rlo, rhi, Step::Hour)?;
        self.check_resolution(blo, bhi, Step::Hour)?;
        if q.k == 0 {
            return Ok(None);
        }
        let n = self.id_count();
        let mut recent = vec![0u64; n];
        let mut basec = vec![0u64; n];
        debug_assert!(blo <= bhi && bhi == rlo && rlo <= rhi);
        self.sum_windows(&[blo, rlo, rhi], |w, tag, c| {
            let i = tag as usize;
            if i >= n {
                return;
            }
            if w == 1 {
                recent[i] += c;
            } else {
                basec[i] += c;
            }
        })?;
        Ok(Some((wmin, bmin, recent, basec)))
    }

    /// The k tags with the most events in `range`, ties by tag.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// use trendlog::time::TimeRange;
    /// store.record("b", 60, 5).unwrap();
    /// store.record("a", 60, 5).unwrap();
    /// store.record("c", 60, 9).unwrap();
    /// let rows = store.snapshot().top(TimeRange::new(0, 3600).unwrap(), 2).unwrap();
    /// let tags: Vec<_> = rows.iter().map(|r| (r.tag.as_str(), r.count)).collect();
    /// assert_eq!(tags, vec![("c", 9), ("a", 5)]);
    /// ```
    pub fn top(&self, range: TimeRange, k: usize) -> Result<Vec<TopRow>> {
        self.top_where(range, k, &Filter::all())
    }

    /// The k tags with the most events in `range` among the series matching
    /// `filter` ("top on Instagram"), ties by tag.
    pub fn top_where(&self, range: TimeRange, k: usize, filter: &Filter) -> Result<Vec<TopRow>> {
        let Some(counts) = self.top_counts(range, k)? else {
            return Ok(Vec::new());
        };
        let (cols, rows) = self.fold_by_tag(filter, vec![counts])?;
        let dict = self.dict().read();
        let mut top = TopK::new(k);
        for (i, &c) in cols[0].iter().enumerate() {
            if c == 0 || !top.may_enter(c as f64, c) {
                continue;
            }
            if let Some(name) = row_name(&dict, &rows, i)? {
                top.offer(ranked_count(c, name));
            }
        }
        Ok(top_rows(top))
    }

    /// [`Snapshot::top_where`] within each value of the label key `by` ("top
    /// in each city"): `(value, rows)` for every value with events in
    /// `range`, in the order the store first met the values. One pass over
    /// the range's cells however many values `by` has.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{labels::{Filter, LabelKeys}, time::TimeRange, Options, Store};
    /// let keys = LabelKeys::parse("region").unwrap();
    /// let store = Store::open(dir.path(), Options::default().label_keys(keys)).unwrap();
    /// let mut b = store.batch();
    /// b.add_labelled("metoo", &[("region", "chicago")], 60, 30).unwrap();
    /// b.add_labelled("rain", &[("region", "paris")], 60, 20).unwrap();
    /// b.add_labelled("metoo", &[("region", "paris")], 60, 12).unwrap();
    /// b.commit().unwrap();
    /// let r = TimeRange::new(0, 3600).unwrap();
    /// let by = store.snapshot().top_by(r, 5, &Filter::all(), "region").unwrap();
    /// assert_eq!(by.len(), 2);
    /// assert_eq!((by[1].0.as_str(), by[1].1[0].tag.as_str(), by[1].1[0].count), ("paris", "rain", 20));
    /// ```
    pub fn top_by(
        &self,
        range: TimeRange,
        k: usize,
        filter: &Filter,
        by: &str,
    ) -> Result<Vec<(String, Vec<TopRow>)>> {
        self.labels.position(by)?;
        filter.resolve(&self.labels)?;
        let Some(counts) = self.top_counts(range, k)? else {
            return Ok(Vec::new());
        };
        let groups = self.fold_by_value(filter, by, &[counts])?;
        Ok(groups
            .into_iter()
            .map(|(value, rows)| {
                let mut top = TopK::new(k);
                for (tag, sums) in rows {
                    let c = sums[0];
                    if c > 0 && top.may_enter(c as f64, c) {
                        top.offer(ranked_count(c, tag));
                    }
                }
                (value.to_string(), top_rows(top))
            })
            .collect())
    }

    /// Per-id event counts in `range` for a top query, or `None` when `k` is
    /// 0; checks that the range's resolution is held.
    fn top_counts(&self, range: TimeRange, k: usize) -> Result<Option<Vec<u64>>> {
        let (lo, hi) = range.minute_span();
        self.check_resolution(lo, hi, Step::Hour)?;
        if k == 0 {
            return Ok(None);
        }
        let n = self.id_count();
        let mut counts = vec![0u64; n];
        self.sum_windows(&[lo, hi], |_, tag, c| {
            if let Some(x) = counts.get_mut(tag as usize) {
                *x += c;
            }
        })?;
        Ok(Some(counts))
    }
}

/// The growth of a row with `r` events in a window of `wmin` minutes and
/// `b` in a baseline of `bmin`, when it is ranked by trending and may enter
/// `top`: at least `q.min_count` recent events and one event in either
/// window (a tag with none is not in the question at all, only in the
/// dictionary: a copy of the store made by `export | ingest` may not know
/// it, even at `min_count` 0).
fn ranked_growth(
    q: &TrendQuery,
    top: &TopK,
    (wmin, r): (u32, u64),
    (bmin, b): (u32, u64),
) -> Option<f64> {
    if r < q.min_count || (r == 0 && b == 0) {
        return None;
    }
    let g = growth_of(r, wmin, b, bmin, q.prior)?;
    top.may_enter(g, r).then_some(g)
}

/// A top row's ranking entry: `c` events of `tag`.
fn ranked_count(c: u64, tag: Arc<str>) -> Ranked {
    Ranked {
        key: c as f64,
        recent: c,
        baseline: 0,
        tag,
    }
}

/// A trending ranking's rows, best first.
fn trend_rows(top: TopK) -> Vec<TrendRow> {
    top.into_sorted()
        .into_iter()
        .map(|r| TrendRow {
            tag: r.tag.to_string(),
            recent: r.recent,
            baseline: r.baseline,
            growth: r.key,
        })
        .collect()
}

/// A top ranking's rows, best first.
fn top_rows(top: TopK) -> Vec<TopRow> {
    top.into_sorted()
        .into_iter()
        .map(|r| TopRow {
            tag: r.tag.to_string(),
            count: r.recent,
        })
        .collect()
}

/// Ranking columns, and the rows' tags when they were folded by tag.
type Folded = (Vec<Vec<u64>>, Option<Arc<super::labels::TagFold>>);

/// The name of ranking row `i`: a tag id's name, or a folded row's tag.
fn row_name(
    dict: &crate::dict::Dict,
    rows: &Option<Arc<super::labels::TagFold>>,
    i: usize,
) -> Result<Option<Arc<str>>> {
    Ok(match rows {
        None => dict.name(i as u32)?.map(Arc::from),
        Some(fold) => fold.names.get(i).cloned().flatten(),
    })
}

impl Snapshot {
    /// On a labelled store, sums per-id columns into per-tag rows over the
    /// series matching `filter` and returns the rows' tags; on a store
    /// without labels, returns the columns as they are (rows are ids).
    fn fold_by_tag(&self, filter: &Filter, cols: Vec<Vec<u64>>) -> Result<Folded> {
        let Some(fold) = self.tag_fold(filter)? else {
            return Ok((cols, None));
        };
        let rows = fold.names.len();
        let out = cols
            .into_iter()
            .map(|col| {
                let mut folded = vec![0u64; rows];
                for (id, c) in col.into_iter().enumerate() {
                    if c == 0 {
                        continue;
                    }
                    if let Some(&r) = fold.row_of.get(id) {
                        if let Some(x) = folded.get_mut(r as usize) {
                            *x += c;
                        }
                    }
                }
                folded
            })
            .collect();
        Ok((out, Some(fold)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_formula() {
        assert_eq!(growth_of(60, 60, 60, 60, 0.0), Some(1.0));
        assert_eq!(growth_of(0, 60, 0, 60, 0.0), None);
        assert_eq!(growth_of(1, 60, 0, 60, 0.0), Some(f64::INFINITY));
        let p = 1.0 / 60.0;
        let g = growth_of(1, 60, 0, 1440, p).unwrap();
        assert!((g - 2.0).abs() < 1e-12, "{g}");
    }

    #[test]
    fn topk_keeps_best_with_ties_by_tag() {
        let mut t = TopK::new(2);
        for (k, r, name) in [(1.0, 5, "b"), (1.0, 5, "a"), (2.0, 1, "z"), (1.0, 5, "c")] {
            if t.may_enter(k, r) {
                t.offer(Ranked {
                    key: k,
                    recent: r,
                    baseline: 0,
                    tag: Arc::from(name),
                });
            }
        }
        let v: Vec<_> = t.into_sorted().into_iter().map(|r| r.tag).collect();
        assert_eq!(v, vec![Arc::from("z"), Arc::from("a")]);
    }
}
