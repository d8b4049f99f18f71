//! The unsealed tail in memory: the cells of the active log segment as a short
//! stack of immutable, sorted [`Run`]s.
//!
//! Each committed block becomes a run; runs are merged log-structured style
//! (while the newer run is at least half the size of the one below it), so
//! a segment of `n` cells is held in `O(log n)` runs and every merge is
//! amortised `O(log n)` per cell. Runs are `Arc`s and never change once built,
//! so a [`crate::Snapshot`] takes the tail by cloning a few pointers: queries
//! never hold a lock while they read.

use std::sync::Arc;

use crate::format::cells::Cells;

/// Sorted, unique `(tag, minute) -> count` cells.
#[derive(Debug, Default, Clone)]
pub(crate) struct Run {
    pub(crate) cells: Cells,
    pub(crate) min_time: u32,
    pub(crate) max_time: u32,
}

impl Run {
    /// Wraps sorted, unique cells.
    pub(crate) fn new(cells: Cells) -> Run {
        let (min_time, max_time) = cells
            .times
            .iter()
            .fold((u32::MAX, 0), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        Run {
            cells,
            min_time,
            max_time,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.cells.tags.len()
    }

    /// The half-open index range of `tag`'s cells.
    pub(crate) fn tag_range(&self, tag: u32) -> std::ops::Range<usize> {
        let tags = &self.cells.tags;
        let lo = tags.partition_point(|&t| t < tag);
        let hi = lo + tags[lo..].partition_point(|&t| t <= tag);
        lo..hi
    }

    /// Merges two runs, summing counts of equal keys. Sums cannot overflow:
    /// the store rejects any event that would take its grand total past `u64`.
    pub(crate) fn merge(a: &Run, b: &Run) -> Run {
        let (x, y) = (&a.cells, &b.cells);
        let mut out = Cells {
            tags: Vec::with_capacity(x.tags.len() + y.tags.len()),
            times: Vec::with_capacity(x.tags.len() + y.tags.len()),
            counts: Vec::with_capacity(x.tags.len() + y.tags.len()),
        };
        let (mut i, mut j) = (0, 0);
        while i < x.tags.len() && j < y.tags.len() {
            let ka = (x.tags[i], x.times[i]);
            let kb = (y.tags[j], y.times[j]);
            if ka < kb {
                out.push(ka.0, ka.1, x.counts[i]);
                i += 1;
            } else if kb < ka {
                out.push(kb.0, kb.1, y.counts[j]);
                j += 1;
            } else {
                out.push(ka.0, ka.1, x.counts[i].saturating_add(y.counts[j]));
                i += 1;
                j += 1;
            }
        }
        for k in i..x.tags.len() {
            out.push(x.tags[k], x.times[k], x.counts[k]);
        }
        for k in j..y.tags.len() {
            out.push(y.tags[k], y.times[k], y.counts[k]);
        }
        Run {
            cells: out,
            min_time: a.min_time.min(b.min_time),
            max_time: a.max_time.max(b.max_time),
        }
    }
}

/// The stack of runs of the active segment.
#[derive(Debug, Default, Clone)]
pub(crate) struct Memtable {
    runs: Vec<Arc<Run>>,
    cells: u64,
}

impl Memtable {
    /// Adds a committed block's cells.
    pub(crate) fn push(&mut self, cells: Cells) {
        if cells.tags.is_empty() {
            return;
        }
        self.cells += cells.tags.len() as u64;
        self.runs.push(Arc::new(Run::new(cells)));
        while self.runs.len() >= 2 {
            let n = self.runs.len();
            if self.runs[n - 1].len() * 2 < self.runs[n - 2].len() {
                break;
            }
            let b = self.runs.pop().expect("len >= 2");
            let a = self.runs.pop().expect("len >= 2");
            let merged = Run::merge(&a, &b);
            // Merging removes duplicate keys, so the cell count can only shrink.
            self.cells -= (a.len() + b.len() - merged.len()) as u64;
            self.runs.push(Arc::new(merged));
        }
    }

    /// The runs, oldest first.
    pub(crate) fn runs(&self) -> &[Arc<Run>] {
        &self.runs
    }

    /// Distinct cells held (exact: runs are merged before they are counted twice).
    pub(crate) fn cells_upper_bound(&self) -> u64 {
        self.cells
    }

    /// All runs merged into one.
    pub(crate) fn merged(&self) -> Run {
        let mut it = self.runs.iter();
        let Some(first) = it.next() else {
            return Run::new(Cells::default());
        };
        it.fold((**first).clone(), |acc, r| Run::merge(&acc, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[(u32, u32, u64)]) -> Cells {
        let mut c = Cells::default();
        for &(a, b, n) in v {
            c.push(a, b, n);
        }
        c
    }

    #[test]
    fn merge_sums_equal_keys() {
        let a = Run::new(cells(&[(1, 5, 2), (2, 1, 1)]));
        let b = Run::new(cells(&[(1, 5, 3), (1, 6, 1)]));
        let m = Run::merge(&a, &b);
        assert_eq!(m.cells.tags, vec![1, 1, 2]);
        assert_eq!(m.cells.times, vec![5, 6, 1]);
        assert_eq!(m.cells.counts, vec![5, 1, 1]);
        assert_eq!(m.tag_range(1), 0..2);
        assert_eq!(m.tag_range(3), 3..3);
    }

    #[test]
    fn memtable_keeps_few_runs() {
        let mut m = Memtable::default();
        for i in 0..1000u32 {
            m.push(cells(&[(i % 7, i, 1)]));
        }
        assert!(m.runs().len() <= 11, "{}", m.runs().len());
        let all = m.merged();
        assert_eq!(all.len(), 1000);
        assert_eq!(all.cells.counts.iter().sum::<u64>(), 1000);
    }
}
