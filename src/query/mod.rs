//! Queries over a [`Snapshot`]: range totals and dense series at 1m / 1h / 1d
//! steps, growth of one tag, trending (top-k by growth) and top-k by volume,
//! store statistics and the segment list.
//!
//! A snapshot pins the live segment list and the in-memory tail as they were
//! when it was taken; compaction and sealing swap in new lists but never change
//! a pinned one, so a query never sees half a compaction. Every answer is exact.
//!
//! Resolution: minutes older than the store's minute retention (measured back
//! from its now and rounded down to a whole hour: [`Snapshot::earliest_minute`])
//! are held as hourly buckets, even if compaction has not physically rolled
//! them up yet, so answers never depend on when a compaction happened to run.
//! A query that would need to split such an hour (a 1m step, or a range edge
//! inside the hour) fails with [`crate::Error::ResolutionUnavailable`].

pub mod burst;
mod bursts;
mod growth;
mod labels;
mod range;

use std::sync::Arc;

use parking_lot::RwLock;

pub use burst::BurstParams;
pub use bursts::{Burst, BurstQuery, BurstRow, ReadsCut};
pub use growth::{TopRow, TrendQuery, TrendRow};
pub(crate) use labels::SharedCatalog;
pub use labels::{Spread, SpreadPoint, SpreadQuery, SpreadRow};
pub use range::{Series, MAX_SERIES_POINTS};

use crate::dict::Dict;
use crate::error::{Error, InvalidInput, Result};
use crate::format::Resolution;
use crate::labels::LabelKeys;
use crate::options::Retention;
use crate::series::SeriesTable;
use crate::time::{Minute, Step};
use crate::view::View;

/// Counters copied into a snapshot when it is taken.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    pub(crate) grand_total: u64,
    pub(crate) rejected_too_old: u64,
    pub(crate) rejected_future: u64,
}

/// A consistent, immutable view of a store at one moment: the live segments
/// and the committed in-memory tail. Cheap to take; holds old segment files'
/// maps alive until dropped. `Send + Sync`, so one snapshot can serve many
/// threads.
///
/// ```
/// use trendlog::{Options, Store, TrendQuery};
/// use trendlog::time::{Step, TimeRange};
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path(), Options::default()).unwrap();
/// let t0 = 1_508_112_000; // 2017-10-16T00:00:00Z
/// let mut b = store.batch();
/// for minute in 0..120 {
///     b.add("background", t0 + minute * 60, 5).unwrap();
///     if minute >= 60 { b.add("metoo", t0 + minute * 60, minute as u64).unwrap(); }
/// }
/// b.commit().unwrap();
/// let snap = store.snapshot();
/// let two_hours = TimeRange::new(t0, t0 + 7200).unwrap();
/// let s = snap.series("metoo", two_hours, Step::Hour).unwrap();
/// assert_eq!(s.points, vec![(t0, 0), (t0 + 3600, (60..120).sum())]);
/// let rows = snap.trending(&TrendQuery { k: 1, ..TrendQuery::default() }).unwrap();
/// assert_eq!(rows[0].tag, "metoo");
/// ```
#[derive(Clone)]
pub struct Snapshot {
    view: Arc<View>,
    dict: Arc<RwLock<Dict>>,
    /// The series of a labelled store of version 5 (`None`: ids are
    /// dictionary entries).
    series: Option<Arc<RwLock<SeriesTable>>>,
    retention: Retention,
    counters: Counters,
    labels: Arc<LabelKeys>,
    catalog: SharedCatalog,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("now", &self.view.now)
            .field("segments", &self.view.segments.len())
            .field("runs", &self.view.runs.len())
            .finish()
    }
}

/// Statistics of a store, as of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The store's now (newest minute held).
    pub now: Option<Minute>,
    /// The earliest minute still held at minute resolution (older minutes are
    /// hourly buckets); `None` for an empty store.
    pub earliest_minute: Option<Minute>,
    /// The earliest minute still kept at any resolution; `None` for an empty store.
    pub earliest_kept: Option<Minute>,
    /// Dictionary entries ever interned: distinct tags, or on a labelled
    /// store distinct series (tag and label values; [`Snapshot::tags`]
    /// lists the tags). Counts entries of batches never committed too (see
    /// [`Snapshot::tags`]).
    pub tags: u64,
    /// Non-zero `(tag, time)` cells as stored (sealed segments plus the active
    /// tail). A late event for a minute whose segment is already sealed is a
    /// second cell for that minute in a later segment until compaction merges
    /// them, so this can exceed the number of distinct `(tag, minute)` keys.
    pub cells: u64,
    /// Cells in sealed minute segments.
    pub minute_cells: u64,
    /// Cells in hourly segments.
    pub hour_cells: u64,
    /// Cells in the active (unsealed) log segment.
    pub active_cells: u64,
    /// Sealed minute segments.
    pub minute_segments: u64,
    /// Hourly segments.
    pub hour_segments: u64,
    /// Bytes of the sealed segment files plus the used part of the active log.
    pub bytes: u64,
    /// Sum of every count held.
    pub total_count: u64,
    /// Events rejected since creation for being older than the hour retention.
    pub rejected_too_old: u64,
    /// Events rejected since creation for lying too far in the future.
    pub rejected_future: u64,
}

/// One file of a store, as `inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentInfo {
    /// File name within the store directory.
    pub file: String,
    /// `"minute"`, `"hour"`, or `"log"` for the active log segment.
    pub resolution: &'static str,
    /// Whether the file is sealed (immutable).
    pub sealed: bool,
    /// First minute covered (`None` for an empty active log).
    pub first: Option<Minute>,
    /// Last minute covered, inclusive.
    pub last: Option<Minute>,
    /// Cells held.
    pub cells: u64,
    /// Sum of the counts held.
    pub total: u64,
    /// Bytes on disk (for the active log: bytes used of its preallocation).
    pub bytes: u64,
    /// Whether a sealed segment stores its per-tag totals
    /// ([`crate::Options::segment_tag_totals`]); false for the active log.
    pub tag_totals: bool,
}

impl Snapshot {
    pub(crate) fn new(
        view: Arc<View>,
        dict: Arc<RwLock<Dict>>,
        series: Option<Arc<RwLock<SeriesTable>>>,
        retention: Retention,
        counters: Counters,
        labels: Arc<LabelKeys>,
        catalog: SharedCatalog,
    ) -> Snapshot {
        Snapshot {
            view,
            dict,
            series,
            retention,
            counters,
            labels,
            catalog,
        }
    }

    /// The store's now: the newest minute it held when the snapshot was taken.
    pub fn now(&self) -> Option<Minute> {
        self.view.now.map(Minute)
    }

    /// The store's now as the end of a half-open range, in unix seconds:
    /// the end of the newest minute, so `[x, now_end)` includes it.
    pub fn now_end(&self) -> Option<i64> {
        self.view.now.map(|m| Minute(m).to_unix() + 60)
    }

    /// The earliest minute still held at minute resolution; a 1m query before it
    /// fails with [`Error::ResolutionUnavailable`]. `None` for an empty store.
    pub fn earliest_minute(&self) -> Option<Minute> {
        let data = self.earliest_data_minute()?;
        let floor = self.minute_floor().unwrap_or(0);
        Some(Minute(data.max(floor)))
    }

    /// The earliest minute that holds data (at any resolution) and is still
    /// kept; `None` for an empty store.
    pub fn earliest_time(&self) -> Option<i64> {
        self.earliest_data_minute().map(|m| Minute(m).to_unix())
    }

    fn earliest_data_minute(&self) -> Option<u32> {
        let segs = self.view.segments.iter().map(|s| s.minute_span().0);
        let runs = self
            .view
            .runs
            .iter()
            .filter(|r| r.len() > 0)
            .map(|r| r.min_time);
        let m = segs.chain(runs).min()?;
        Some(m.max(self.retain_floor().unwrap_or(0)))
    }

    /// The earliest minute answerable at minute resolution: the floor the
    /// minute retention implies, and never inside an hour that is held only as
    /// an hourly bucket. The second part matters when this snapshot's options
    /// differ from the writer's (a read-only open with default options of a
    /// store compacted with a shorter retention): an hourly bucket must never
    /// be read as its hour's first minute.
    pub(crate) fn minute_floor(&self) -> Option<u32> {
        let held_hours = self
            .view
            .segments
            .iter()
            .filter(|s| s.entry.resolution == Resolution::Hour && s.entry.cell_count > 0)
            .map(|s| s.minute_span().1)
            .max();
        match (self.retention.minute_floor(self.view.now), held_hours) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn retain_floor(&self) -> Option<u32> {
        self.retention.retain_floor(self.view.now)
    }

    /// Checks that `range` can be answered exactly at `step`, as a range
    /// query or [`Snapshot::buckets`] would, without reading any cell: a
    /// caller that writes as it reads (an export) asks first, so that a
    /// refusal comes before its first byte.
    ///
    /// # Errors
    /// [`Error::ResolutionUnavailable`] when `step` is 1m and the range
    /// starts before the minutes held, or when an edge cuts an hour held
    /// only as its 1h bucket.
    ///
    /// ```
    /// use trendlog::time::{Step, TimeRange};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// store.record("metoo", 1_508_112_000, 1).unwrap();
    /// let day = TimeRange::new(1_508_112_000, 1_508_198_400).unwrap();
    /// assert!(store.snapshot().check_held(day, Step::Minute).is_ok());
    /// ```
    pub fn check_held(&self, range: crate::time::TimeRange, step: Step) -> Result<()> {
        let (lo, hi) = range.minute_span();
        self.check_resolution(lo, hi, step)
    }

    /// Checks that `[lo, hi)` (minutes) can be answered exactly at `step`.
    pub(crate) fn check_resolution(&self, lo: u32, hi: u32, step: Step) -> Result<()> {
        let Some(floor) = self.minute_floor() else {
            return Ok(());
        };
        // Below the hour retention nothing is held at any step: every read
        // leaves it out (zeros), at minutes as at hours. Only `[gone, floor)`
        // is held as hourly buckets alone.
        let gone = self.retain_floor().unwrap_or(0);
        let hours_only = |m: u32| gone <= m && m < floor;
        let splits_hour = |m: u32| hours_only(m) && !m.is_multiple_of(60);
        let needs_minutes = step == Step::Minute && lo < floor && hi > gone && gone < floor;
        if lo < hi && (needs_minutes || splits_hour(lo) || splits_hour(hi)) {
            return Err(Error::ResolutionUnavailable {
                earliest_minute: floor,
            });
        }
        Ok(())
    }

    pub(crate) fn tag_id(&self, tag: &str) -> Result<Option<u32>> {
        let t = crate::tag::normalize(tag)?;
        self.dict.read().lookup(&t)
    }

    pub(crate) fn view(&self) -> &View {
        &self.view
    }

    pub(crate) fn dict(&self) -> &Arc<RwLock<Dict>> {
        &self.dict
    }

    /// Number of ids the log and segments may name: series on a store with a
    /// series table, dictionary entries otherwise.
    pub(crate) fn id_count(&self) -> usize {
        match &self.series {
            Some(t) => t.read().len(),
            None => self.dict.read().len(),
        }
    }

    /// The series table of a labelled store of version 5.
    pub(crate) fn series_table(&self) -> Option<&Arc<RwLock<SeriesTable>>> {
        self.series.as_ref()
    }

    /// The key of id `id` as the log and segments name it: a tag, or on a
    /// labelled store a series key (`tag 1F value …`), from `dict` (a guard
    /// of this snapshot's dictionary) and the series table if there is one.
    pub(crate) fn key_of(&self, dict: &Dict, id: u32) -> Result<Option<String>> {
        let Some(table) = &self.series else {
            return Ok(dict.name(id)?.map(str::to_string));
        };
        let t = table.read();
        let Some(tag) = t.tag(id)? else {
            return Ok(None);
        };
        dict.name(tag)?.map(|name| t.key(id, name)).transpose()
    }

    /// Statistics as of this snapshot.
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            now: self.now(),
            earliest_minute: self.earliest_minute(),
            earliest_kept: self.earliest_time().map(|t| Minute((t / 60) as u32)),
            tags: self.id_count() as u64,
            total_count: self.counters.grand_total,
            rejected_too_old: self.counters.rejected_too_old,
            rejected_future: self.counters.rejected_future,
            ..Stats::default()
        };
        for seg in &self.view.segments {
            let e = &seg.entry;
            match e.resolution {
                Resolution::Minute => {
                    s.minute_segments += 1;
                    s.minute_cells += e.cell_count;
                }
                Resolution::Hour => {
                    s.hour_segments += 1;
                    s.hour_cells += e.cell_count;
                }
            }
            s.bytes += e.byte_len;
        }
        s.active_cells = self.view.runs.iter().map(|r| r.len() as u64).sum();
        s.bytes += self.view.active_log.as_ref().map_or(0, |a| a.bytes_used);
        s.cells = s.minute_cells + s.hour_cells + s.active_cells;
        s
    }

    /// The store's files: sealed segments in manifest order, then the active log.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let mut out: Vec<SegmentInfo> = self
            .view
            .segments
            .iter()
            .map(|seg| {
                let (lo, hi) = seg.minute_span();
                let e = &seg.entry;
                SegmentInfo {
                    file: seg.name.clone(),
                    resolution: match e.resolution {
                        Resolution::Minute => "minute",
                        Resolution::Hour => "hour",
                    },
                    sealed: true,
                    first: (e.cell_count > 0).then_some(Minute(lo)),
                    last: (e.cell_count > 0).then_some(Minute(hi - 1)),
                    cells: e.cell_count,
                    total: e.total,
                    bytes: e.byte_len,
                    tag_totals: seg.view.has_stored_totals(),
                }
            })
            .collect();
        if let Some(a) = &self.view.active_log {
            let runs = &self.view.runs;
            let nonempty = runs.iter().filter(|r| r.len() > 0);
            out.push(SegmentInfo {
                file: a.name.clone(),
                resolution: "log",
                sealed: false,
                first: nonempty.clone().map(|r| r.min_time).min().map(Minute),
                last: nonempty.map(|r| r.max_time).max().map(Minute),
                cells: runs.iter().map(|r| r.len() as u64).sum(),
                total: runs
                    .iter()
                    .flat_map(|r| r.cells.counts.iter())
                    .copied()
                    .fold(0u64, u64::saturating_add),
                bytes: a.bytes_used,
                tag_totals: false,
            });
        }
        out
    }

    /// All tags ever interned, in id order (on a labelled store: each tag
    /// once, in the order its first series was interned). Empty if a page of
    /// the dictionary index is damaged (`verify` reports which).
    ///
    /// A tag is interned when it is first added to a batch, before the batch
    /// commits, and its name stays in the dictionary (durably, once a later
    /// batch commits) even when that batch is dropped: such a tag is listed
    /// here with no count, and a snapshot taken before the add lists it too.
    /// Counts, totals and rankings hold committed events only.
    pub fn tags(&self) -> Vec<String> {
        if self.labels.is_empty() {
            self.dict.read().names().unwrap_or_default()
        } else {
            self.catalog_tags().unwrap_or_default()
        }
    }
}

pub(crate) fn query_error(msg: impl Into<String>) -> Error {
    Error::InvalidInput(InvalidInput::Query(msg.into()))
}
