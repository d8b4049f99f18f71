//! [`View`]: what a snapshot pins (the live sealed segments, the in-memory
//! runs of the active log, the store's now) and the two cell walks every
//! query is built from:
//!
//! - [`View::tag_cells`]: a few tags, through each segment's skip index and each
//!   run's binary search; other tags' data is never decoded;
//! - [`View::window_cells`]: every cell of a time window, source by source,
//!   with a hook that lets a caller take a whole segment at once (from its
//!   per-tag totals) instead of cell by cell.
//!
//! Sealing and compaction publish new views; a published view never changes.

use std::sync::Arc;

use crate::error::Result;
use crate::format::Resolution;
use crate::memtable::Run;
use crate::storage::segment::Segment;

/// The state a snapshot pins: live segments, the in-memory tail, and now.
#[derive(Clone, Default)]
pub(crate) struct View {
    pub(crate) segments: Vec<Arc<Segment>>,
    pub(crate) runs: Vec<Arc<Run>>,
    pub(crate) now: Option<u32>,
    pub(crate) active_log: Option<ActiveInfo>,
}

/// What `inspect` shows of the active log.
#[derive(Clone, Debug, Default)]
pub(crate) struct ActiveInfo {
    pub(crate) name: String,
    pub(crate) bytes_used: u64,
}

/// What a window walk does with one sealed segment that overlaps the window.
pub(crate) enum SegmentVisit {
    /// Walk its cells (those inside the window).
    Cells,
    /// The caller consumed it whole; skip it.
    Done,
}

impl View {
    /// Calls `f(minute, count)` for each cell of the tags `ids` in `[lo, hi)`
    /// minutes, source by source and, within a source, id by id in time
    /// order (sources may overlap in time). Hour cells report their hour's
    /// first minute.
    pub(crate) fn tag_cells(
        &self,
        ids: &[u32],
        lo: u32,
        hi: u32,
        mut f: impl FnMut(u32, u64),
    ) -> Result<()> {
        if lo >= hi || ids.is_empty() {
            return Ok(());
        }
        for seg in self.segments_overlapping(lo, hi) {
            let res = seg.entry.resolution;
            let (s_lo, s_hi) = seg.minute_span();
            let inside = s_lo >= lo && s_hi <= hi && res == Resolution::Minute;
            for &id in ids {
                let found = if inside {
                    // Every cell is a minute inside the range: no test per cell.
                    seg.view.for_each_tag_cell(id, &mut f)
                } else {
                    seg.view.for_each_tag_cell(id, |t, c| {
                        let m = res.first_minute(t);
                        if m >= lo && m < hi {
                            f(m, c);
                        }
                    })
                };
                found.map_err(|e| seg.corrupted(e))?;
            }
        }
        for run in self.runs_overlapping(lo, hi) {
            for &id in ids {
                let r = run.tag_range(id);
                let times = &run.cells.times[r.clone()];
                let start = times.partition_point(|&m| m < lo);
                let end = times.partition_point(|&m| m < hi);
                for i in r.start + start..r.start + end {
                    f(run.cells.times[i], run.cells.counts[i]);
                }
            }
        }
        Ok(())
    }

    /// Calls `f(tag id, minute, count)` for every cell in `[lo, hi)` minutes,
    /// source by source (not in any global order). `visit` sees each
    /// overlapping sealed segment first and may consume it whole
    /// ([`SegmentVisit::Done`]).
    pub(crate) fn window_cells(
        &self,
        lo: u32,
        hi: u32,
        mut visit: impl FnMut(&Segment) -> Result<SegmentVisit>,
        mut f: impl FnMut(u32, u32, u64),
    ) -> Result<()> {
        if lo >= hi {
            return Ok(());
        }
        for seg in self.segments_overlapping(lo, hi) {
            if let SegmentVisit::Done = visit(seg)? {
                continue;
            }
            let (s_lo, s_hi) = seg.minute_span();
            let res = seg.entry.resolution;
            let contained = s_lo >= lo && s_hi <= hi;
            seg.view
                .for_each_cell(|tag, t, c| {
                    let m = res.first_minute(t);
                    if contained || (m >= lo && m < hi) {
                        f(tag, m, c);
                    }
                })
                .map_err(|e| seg.corrupted(e))?;
        }
        for run in self.runs_overlapping(lo, hi) {
            let c = &run.cells;
            for ((&tag, &m), &n) in c.tags.iter().zip(&c.times).zip(&c.counts) {
                if m >= lo && m < hi {
                    f(tag, m, n);
                }
            }
        }
        Ok(())
    }

    fn segments_overlapping(&self, lo: u32, hi: u32) -> impl Iterator<Item = &Arc<Segment>> {
        self.segments.iter().filter(move |s| {
            let (s_lo, s_hi) = s.minute_span();
            s_hi > lo && s_lo < hi
        })
    }

    fn runs_overlapping(&self, lo: u32, hi: u32) -> impl Iterator<Item = &Arc<Run>> {
        self.runs
            .iter()
            .filter(move |r| r.len() > 0 && r.max_time >= lo && r.min_time < hi)
    }
}
