//! [`Cells`]: the engine's in-memory unit of data, columns of
//! `(tag id, time, count)` sorted by `(tag, time)`. Log blocks encode one, the
//! memtable accumulates them, segments are built from them.

use std::fmt;

/// Columnar `(tag, time, count)` cells, sorted by `(tag, time)` strictly
/// ascending (so keys are unique), every count at least 1.
///
/// The fields are public for cheap construction and access; the invariant is
/// the caller's to keep when filling them directly. [`Cells::push`] and
/// [`Cells::from_unsorted`] keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cells {
    /// Tag ids.
    pub tags: Vec<u32>,
    /// Times (minutes or hours since the epoch).
    pub times: Vec<u32>,
    /// Counts, each at least 1.
    pub counts: Vec<u64>,
}

/// A sum of counts for one `(tag, time)` overflowed `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountOverflow {
    /// The tag of the overflowing cell.
    pub tag: u32,
    /// The time of the overflowing cell.
    pub time: u32,
}

impl fmt::Display for CountOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the count of tag {} at time {} would overflow a 64-bit counter",
            self.tag, self.time
        )
    }
}

impl std::error::Error for CountOverflow {}

impl Cells {
    /// An empty set of cells.
    pub fn new() -> Cells {
        Cells::default()
    }

    /// An empty set with room for `n` cells.
    pub fn with_capacity(n: usize) -> Cells {
        Cells {
            tags: Vec::with_capacity(n),
            times: Vec::with_capacity(n),
            counts: Vec::with_capacity(n),
        }
    }

    /// The number of cells.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True when there are no cells.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Appends a cell.
    ///
    /// # Panics
    /// If `(tag, time)` is not strictly greater than the last cell's key, or if
    /// `count` is 0: both would make an undecodable block.
    pub fn push(&mut self, tag: u32, time: u32, count: u64) {
        assert!(count >= 1, "a cell's count must be at least 1");
        if let (Some(&t), Some(&m)) = (self.tags.last(), self.times.last()) {
            assert!(
                (tag, time) > (t, m),
                "cells must be pushed in strictly ascending (tag, time) order"
            );
        }
        self.tags.push(tag);
        self.times.push(time);
        self.counts.push(count);
    }

    /// Sorts `v` by `(tag, time)` and sums the counts of equal keys. Cells with
    /// a count of 0 add nothing and are dropped.
    pub fn from_unsorted(mut v: Vec<(u32, u32, u64)>) -> Result<Cells, CountOverflow> {
        v.sort_unstable_by_key(|&(tag, time, _)| (tag, time));
        let mut out = Cells::with_capacity(v.len());
        for (tag, time, count) in v {
            if count == 0 {
                continue;
            }
            let same = out.tags.last() == Some(&tag) && out.times.last() == Some(&time);
            match out.counts.last_mut() {
                Some(last) if same => {
                    *last = last.checked_add(count).ok_or(CountOverflow { tag, time })?;
                }
                _ => {
                    out.tags.push(tag);
                    out.times.push(time);
                    out.counts.push(count);
                }
            }
        }
        Ok(out)
    }

    /// The cells as `(tag, time, count)` triples, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, u64)> + '_ {
        self.tags
            .iter()
            .zip(&self.times)
            .zip(&self.counts)
            .map(|((&t, &m), &c)| (t, m, c))
    }

    /// True when the columns have equal lengths, keys are strictly ascending
    /// and every count is at least 1.
    pub fn is_valid(&self) -> bool {
        let n = self.tags.len();
        if self.times.len() != n || self.counts.len() != n {
            return false;
        }
        let mut prev: Option<(u32, u32)> = None;
        for (tag, time, count) in self.iter() {
            if count == 0 || prev.is_some_and(|p| p >= (tag, time)) {
                return false;
            }
            prev = Some((tag, time));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_unsorted_sorts_sums_and_checks_overflow() {
        let c = Cells::from_unsorted(vec![(2, 5, 1), (1, 9, 2), (2, 5, 3), (1, 3, 0), (1, 2, 4)])
            .unwrap();
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            vec![(1, 2, 4), (1, 9, 2), (2, 5, 4)]
        );
        assert!(c.is_valid());
        assert_eq!(
            Cells::from_unsorted(vec![(1, 1, u64::MAX), (1, 1, 1)]),
            Err(CountOverflow { tag: 1, time: 1 })
        );
        assert_eq!(
            Cells::from_unsorted(vec![(1, 1, u64::MAX)]).unwrap().counts,
            vec![u64::MAX]
        );
    }
}
