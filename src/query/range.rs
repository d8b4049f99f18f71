//! Range queries: [`Snapshot::total`], [`Snapshot::totals`],
//! [`Snapshot::series`], and the two cell walks every query is built from: one
//! tag through each source's index ([`Snapshot::tag_cells`]), or every cell of a
//! time window ([`Snapshot::scan_window`]).

use std::collections::HashMap;

use super::{query_error, Snapshot};
use crate::error::Result;
use crate::labels::Filter;
use crate::time::{Step, TimeRange};
use crate::view::SegmentVisit;

/// Most points a single series may hold (about 19 years at 1m).
pub const MAX_SERIES_POINTS: u64 = 10_000_000;

/// A dense series: one point per bucket of the range, zeros included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The normalised tag.
    pub tag: String,
    /// Start of the range, unix seconds (inclusive).
    pub from: i64,
    /// End of the range, unix seconds (exclusive).
    pub to: i64,
    /// Bucket width.
    pub step: Step,
    /// `(bucket start in unix seconds, count)`, one per bucket, in time order.
    pub points: Vec<(i64, u64)>,
    /// Sum of all points.
    pub total: u64,
}

impl Snapshot {
    /// Calls `f(minute, count)` for each cell of tag `id` that lies in
    /// `[lo, hi)` minutes and is still kept, source by source (in time order
    /// within each; sources may overlap in time). Hour cells report their
    /// hour's first minute.
    pub(crate) fn tag_cells(
        &self,
        id: u32,
        lo: u32,
        hi: u32,
        f: impl FnMut(u32, u64),
    ) -> Result<()> {
        self.ids_cells(&[id], lo, hi, f)
    }

    /// [`Snapshot::tag_cells`] for several ids at once (the series of one
    /// tag): every cell of each, source by source, in no overall order.
    pub(crate) fn ids_cells(
        &self,
        ids: &[u32],
        lo: u32,
        hi: u32,
        f: impl FnMut(u32, u64),
    ) -> Result<()> {
        let lo = lo.max(self.retain_floor().unwrap_or(0));
        self.view().tag_cells(ids, lo, hi, f)
    }

    /// Calls `f(tag id, minute, count)` for every kept cell in `[lo, hi)`
    /// minutes, source by source (not in any global order).
    pub(crate) fn scan_window(&self, lo: u32, hi: u32, f: impl FnMut(u32, u32, u64)) -> Result<()> {
        let lo = lo.max(self.retain_floor().unwrap_or(0));
        self.view()
            .window_cells(lo, hi, |_| Ok(SegmentVisit::Cells), f)
    }

    /// Per-tag sums over adjacent windows: `cuts` (ascending) split
    /// `[cuts[0], cuts[last])` minutes into windows `[cuts[i], cuts[i + 1])`,
    /// and `f(i, tag id, count)` is called with counts that add up, per tag
    /// and window, to that tag's total in window `i` (a tag may be reported
    /// several times per window). A sealed segment lying wholly inside one
    /// window contributes its per-tag totals
    /// ([`crate::format::segment::SegmentView::for_each_tag_total`]): one call per tag
    /// instead of one per cell. Segments cut by a window edge, and the
    /// in-memory tail, are walked cell by cell.
    pub(crate) fn sum_windows(&self, cuts: &[u32], f: impl FnMut(usize, u32, u64)) -> Result<()> {
        let floor = self.retain_floor().unwrap_or(0);
        let cuts: Vec<u32> = cuts.iter().map(|&c| c.max(floor)).collect();
        let (Some(&lo), Some(&hi)) = (cuts.first(), cuts.last()) else {
            return Ok(());
        };
        let part = |m: u32| -> Option<usize> {
            if m < lo || m >= hi {
                return None;
            }
            // Few windows: a linear search beats a binary one.
            Some(cuts[1..].iter().position(|&c| m < c).unwrap_or(0))
        };
        let f = std::cell::RefCell::new(f);
        self.view().window_cells(
            lo,
            hi,
            |seg| {
                let (s_lo, s_hi) = seg.minute_span();
                let Some(i) = cuts.windows(2).position(|w| s_lo >= w[0] && s_hi <= w[1]) else {
                    return Ok(SegmentVisit::Cells);
                };
                let mut f = f.borrow_mut();
                seg.view
                    .for_each_tag_total(|tag, c| f(i, tag, c))
                    .map_err(|e| seg.corrupted(e))?;
                Ok(SegmentVisit::Done)
            },
            |tag, m, c| {
                if let Some(i) = part(m) {
                    (f.borrow_mut())(i, tag, c);
                }
            },
        )
    }

    /// Total events of `tag` in `range`. A minute counts when its first second
    /// lies in the range (events are stored per minute). A tag never seen has
    /// total 0.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// use trendlog::time::TimeRange;
    /// store.record("#MeToo", 120, 4).unwrap();
    /// let snap = store.snapshot();
    /// assert_eq!(snap.total("metoo", TimeRange::new(0, 3600).unwrap()).unwrap(), 4);
    /// assert_eq!(snap.total("metoo", TimeRange::new(180, 3600).unwrap()).unwrap(), 0);
    /// assert_eq!(snap.total("never-seen", TimeRange::new(0, 3600).unwrap()).unwrap(), 0);
    /// ```
    pub fn total(&self, tag: &str, range: TimeRange) -> Result<u64> {
        self.total_where(tag, range, &Filter::all())
    }

    /// Totals of many tags over one range, in the order given.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// use trendlog::time::TimeRange;
    /// store.record("a", 60, 1).unwrap();
    /// store.record("b", 60, 2).unwrap();
    /// let r = TimeRange::new(0, 3600).unwrap();
    /// assert_eq!(store.snapshot().totals(&["b", "a", "c"], r).unwrap(), vec![2, 1, 0]);
    /// ```
    pub fn totals(&self, tags: &[&str], range: TimeRange) -> Result<Vec<u64>> {
        tags.iter().map(|t| self.total(t, range)).collect()
    }

    /// The dense series of `tag` over `range` at `step`: one point per bucket,
    /// zeros included. The range must be aligned to the step (UTC buckets).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// use trendlog::time::{Step, TimeRange};
    /// store.record("metoo", 3600 + 30, 2).unwrap();
    /// let s = store.snapshot().series("MeToo", TimeRange::new(0, 3 * 3600).unwrap(), Step::Hour).unwrap();
    /// assert_eq!(s.points, vec![(0, 0), (3600, 2), (7200, 0)]);
    /// assert!(store.snapshot().series("metoo", TimeRange::new(60, 3600).unwrap(), Step::Hour).is_err());
    /// ```
    pub fn series(&self, tag: &str, range: TimeRange, step: Step) -> Result<Series> {
        self.series_where(tag, range, step, &Filter::all())
    }

    /// The dense series of `tag` over its series matching `filter` (summed
    /// over every label the filter leaves open); otherwise as [`Snapshot::series`].
    pub fn series_where(
        &self,
        tag: &str,
        range: TimeRange,
        step: Step,
        filter: &Filter,
    ) -> Result<Series> {
        let ids = self.select_ids(tag, filter)?;
        self.series_of_ids(tag, &ids, range, step)
    }

    /// The summed dense series of the ids `ids`, named `tag`.
    pub(crate) fn series_of_ids(
        &self,
        tag: &str,
        ids: &[u32],
        range: TimeRange,
        step: Step,
    ) -> Result<Series> {
        if !range.is_aligned(step) {
            return Err(query_error(format!(
                "the range [{}, {}) is not aligned to the {step} step; start and end must fall on \
                 {step} boundaries (UTC)",
                range.from(),
                range.to()
            )));
        }
        let n = ((range.to() - range.from()) / step.seconds()) as u64;
        if n > MAX_SERIES_POINTS {
            return Err(query_error(format!(
                "the series would have {n} points; at most {MAX_SERIES_POINTS} are allowed \
                 (use a coarser step or a shorter range)"
            )));
        }
        let (lo, hi) = range.minute_span();
        self.check_resolution(lo, hi, step)?;
        let norm = crate::tag::normalize(tag)?.into_owned();
        let mut counts = vec![0u64; n as usize];
        let width = step.minutes();
        // Cells arrive in time order per tag and segment: sum into the
        // current bucket, and divide (and store) only when a cell leaves it.
        let (mut b_lo, mut b_hi, mut b, mut acc) = (1u32, 0u32, 0usize, 0u64);
        self.ids_cells(ids, lo, hi, |m, c| {
            if !(b_lo..b_hi).contains(&m) {
                if let Some(x) = counts.get_mut(b) {
                    *x += std::mem::take(&mut acc);
                }
                b = ((m - lo) / width) as usize;
                b_lo = lo + b as u32 * width;
                b_hi = b_lo.saturating_add(width);
            }
            acc += c;
        })?;
        if let Some(x) = counts.get_mut(b) {
            *x += acc;
        }
        let points: Vec<(i64, u64)> = counts
            .into_iter()
            .enumerate()
            .map(|(i, c)| (range.from() + i as i64 * step.seconds(), c))
            .collect();
        Ok(Series {
            tag: norm,
            from: range.from(),
            to: range.to(),
            step,
            total: points.iter().map(|p| p.1).sum(),
            points,
        })
    }

    /// Every tag's non-zero buckets over `range` at `step`, sorted by tag, then
    /// time: `(tag, bucket start in unix seconds, count)`. What `trendlog
    /// export` writes, so that ingesting it into an empty store reproduces the
    /// data at that step.
    pub fn buckets(&self, range: TimeRange, step: Step) -> Result<Vec<(String, i64, u64)>> {
        if !range.is_aligned(step) {
            return Err(query_error(format!(
                "the range is not aligned to the {step} step"
            )));
        }
        let (lo, hi) = range.minute_span();
        self.check_resolution(lo, hi, step)?;
        let width = step.minutes();
        let mut acc: HashMap<(u32, u32), u64> = HashMap::new();
        self.scan_window(lo, hi, |tag, m, c| {
            *acc.entry((tag, m - (m - lo) % width)).or_default() += c;
        })?;
        let dict = self.dict().read();
        let mut rows = Vec::with_capacity(acc.len());
        for ((tag, m), c) in acc {
            if let Some(n) = self.key_of(&dict, tag)? {
                rows.push((n, i64::from(m) * 60, c));
            }
        }
        rows.sort_unstable();
        Ok(rows)
    }
}
