//! The series table of a labelled store of format version 5: series id →
//! (tag id, one value number per label key), read whole from the `series`
//! file ([`crate::format::series`]) at open and extended by writes.
//!
//! In such a store the ids in the log and the segments are series ids, and
//! `tags.dict` holds tags only (each once, whatever its labels), so a series
//! costs its fixed-width record instead of its key's text: about 5 bytes
//! against 27 on the labelled benchmark (docs/performance.md). A labelled
//! store of an earlier version keeps its series keys in `tags.dict` and no
//! table.

use std::sync::Arc;

use crate::dict::FxHashMap;
use crate::format::series::{
    decode_series_block, decode_series_header, encode_series_block, SERIES_HEADER_LEN,
};
use crate::format::DecodeError;
use crate::labels::MAX_LABEL_KEYS;

/// A series as a hash key: its tag id and its value numbers (zero past the
/// store's keys).
type Record = (u32, [u32; MAX_LABEL_KEYS]);

/// Where a block of the file starts and what precedes it.
#[derive(Debug, Clone, Copy)]
struct Block {
    offset: u64,
    first_id: u32,
    values_before: u32,
}

/// The series of a labelled store: see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct SeriesTable {
    nkeys: usize,
    /// Per series id, its tag id.
    tags: Vec<u32>,
    /// Per series id, `nkeys` value numbers.
    vals: Vec<u32>,
    /// Per key, its values by number.
    values: Vec<Vec<Arc<str>>>,
    value_ix: Vec<FxHashMap<Arc<str>, u32>>,
    /// Every value in the order it was defined: (key, number).
    value_order: Vec<(u8, u32)>,
    /// (tag, values) → id, built by the first lookup of a writer.
    map: Option<FxHashMap<Record, u32>>,
    /// Blocks read from the file, for a cut.
    blocks: Vec<Block>,
    /// Series and values handed to the file writer.
    flushed: usize,
    values_flushed: usize,
}

/// How a read of the series file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SeriesEnd {
    /// At the end of the file or where only zeros follow.
    Clean,
    /// A block that fails to decode, or names a value not yet defined, at
    /// `error.offset`; its series and every later one were not read.
    Damaged(DecodeError),
}

/// What [`SeriesTable::read`] found.
#[derive(Debug)]
pub(crate) struct SeriesRead {
    pub(crate) table: SeriesTable,
    /// The store id of the header.
    pub(crate) store_id: u32,
    /// The end of the last valid block.
    pub(crate) valid_end: u64,
    pub(crate) end: SeriesEnd,
}

impl SeriesTable {
    /// An empty table of a store with `nkeys` label keys.
    pub(crate) fn new(nkeys: usize) -> SeriesTable {
        SeriesTable {
            nkeys,
            values: vec![Vec::new(); nkeys],
            value_ix: vec![FxHashMap::default(); nkeys],
            ..SeriesTable::default()
        }
    }

    /// Reads a whole series file: its header (an error when unusable), then
    /// every block up to the first that fails to decode or names a label
    /// value it has not defined, or defines one twice.
    pub(crate) fn read(buf: &[u8]) -> Result<SeriesRead, DecodeError> {
        let (store_id, nkeys) = decode_series_header(buf)?;
        let mut t = SeriesTable::new(nkeys);
        let mut pos = SERIES_HEADER_LEN;
        let mut max = vec![0u32; nkeys];
        // At most one record per 1 + K bytes.
        t.tags.reserve(buf.len() / (1 + nkeys));
        t.vals.reserve(buf.len() / (1 + nkeys) * nkeys);
        let end = loop {
            let rest = &buf[pos..];
            if rest.iter().all(|&b| b == 0) {
                break SeriesEnd::Clean;
            }
            let b = match decode_series_block(rest, nkeys) {
                Ok(b) => b,
                Err(e) => break SeriesEnd::Damaged(e.at_base(pos as u64)),
            };
            let mark = Block {
                offset: pos as u64,
                first_id: t.tags.len() as u32,
                values_before: t.value_order.len() as u32,
            };
            let bad = |why: String| DecodeError::invalid(pos as u64, why);
            let mut fault = None;
            for &(k, v) in &b.values {
                if t.value_ix[k].contains_key(v) {
                    fault = Some(bad(format!("label value {v:?} of key {k} defined twice")));
                    break;
                }
                t.define(k, v);
            }
            if fault.is_none() {
                max.fill(0);
                b.decode_into(&mut t.tags, &mut t.vals, &mut max);
                let undefined =
                    (0..nkeys).find(|&k| b.count() > 0 && max[k] as usize >= t.values[k].len());
                if let Some(k) = undefined {
                    fault = Some(bad(format!(
                        "a series names value {} of key {k}, which has {}",
                        max[k],
                        t.values[k].len()
                    )));
                }
            }
            if let Some(e) = fault {
                t.cut_to(mark);
                break SeriesEnd::Damaged(e);
            }
            t.blocks.push(mark);
            pos += b.len;
        };
        t.flushed = t.tags.len();
        t.values_flushed = t.value_order.len();
        Ok(SeriesRead {
            table: t,
            store_id,
            valid_end: pos as u64,
            end,
        })
    }

    /// Drops the block starting at `mark` and every later one.
    fn cut_to(&mut self, mark: Block) {
        self.tags.truncate(mark.first_id as usize);
        self.vals.truncate(mark.first_id as usize * self.nkeys);
        while self.value_order.len() > mark.values_before as usize {
            let (k, _) = self.value_order.pop().expect("a value to drop");
            let v = self.values[k as usize].pop().expect("a value to drop");
            self.value_ix[k as usize].remove(&v);
        }
        self.blocks.retain(|b| b.first_id < mark.first_id);
        self.map = None;
        self.flushed = self.flushed.min(self.tags.len());
        self.values_flushed = self.values_flushed.min(self.value_order.len());
    }

    /// Drops the series from the block holding `id` on (series a crash
    /// left without the tags they name); returns the byte offset where that
    /// block started, the new end of the file's valid part.
    pub(crate) fn cut_from_series(&mut self, id: u32) -> Option<u64> {
        let i = self.blocks.iter().rposition(|b| b.first_id <= id)?;
        let mark = self.blocks[i];
        self.cut_to(mark);
        Some(mark.offset)
    }

    fn define(&mut self, k: usize, v: &str) -> u32 {
        let n = self.values[k].len() as u32;
        let v: Arc<str> = Arc::from(v);
        self.values[k].push(v.clone());
        self.value_ix[k].insert(v, n);
        self.value_order.push((k as u8, n));
        n
    }

    /// Number of label keys.
    pub(crate) fn nkeys(&self) -> usize {
        self.nkeys
    }

    /// Number of series.
    pub(crate) fn len(&self) -> usize {
        self.tags.len()
    }

    /// The tag id of series `id`.
    pub(crate) fn tag(&self, id: u32) -> Option<u32> {
        self.tags.get(id as usize).copied()
    }

    /// The value numbers of series `id`, one per key.
    pub(crate) fn value_numbers(&self, id: u32) -> &[u32] {
        let at = id as usize * self.nkeys;
        self.vals.get(at..at + self.nkeys).unwrap_or(&[])
    }

    /// Number of values of key `k`.
    pub(crate) fn value_count(&self, k: usize) -> usize {
        self.values.get(k).map_or(0, Vec::len)
    }

    /// Value `n` of key `k`.
    pub(crate) fn value(&self, k: usize, n: u32) -> &str {
        &self.values[k][n as usize]
    }

    /// The number of `value` among key `k`'s values, if defined.
    pub(crate) fn value_number(&self, k: usize, value: &str) -> Option<u32> {
        self.value_ix.get(k)?.get(value).copied()
    }

    /// The largest tag id any series names, if any.
    pub(crate) fn max_tag(&self, below: usize) -> Option<u32> {
        self.tags[..below.min(self.tags.len())]
            .iter()
            .copied()
            .max()
    }

    /// The ids of the series of tag `tag`, ascending.
    pub(crate) fn series_of_tag(&self, tag: u32) -> Vec<u32> {
        (0u32..)
            .zip(&self.tags)
            .filter(|(_, &t)| t == tag)
            .map(|(i, _)| i)
            .collect()
    }

    /// The series key of series `id` (`tag 1F value …`, as a labelled store
    /// of an earlier version holds it in `tags.dict`), given its tag's name.
    pub(crate) fn key(&self, id: u32, tag: &str) -> String {
        let mut s = String::from(tag);
        for (k, &n) in self.value_numbers(id).iter().enumerate() {
            s.push(crate::labels::SEPARATOR);
            s.push_str(self.value(k, n));
        }
        s
    }

    fn record(&self, tag: u32, vals: &[u32]) -> Record {
        let mut r = [0u32; MAX_LABEL_KEYS];
        r[..vals.len()].copy_from_slice(vals);
        (tag, r)
    }

    fn map(&mut self) -> &mut FxHashMap<Record, u32> {
        if self.map.is_none() {
            let mut m = FxHashMap::default();
            m.reserve(self.tags.len());
            for id in 0..self.tags.len() as u32 {
                let r = self.record(self.tags[id as usize], self.value_numbers(id));
                m.entry(r).or_insert(id);
            }
            self.map = Some(m);
        }
        self.map.as_mut().expect("built above")
    }

    /// The id of the series of tag id `tag` with label `values`, if the
    /// table holds it.
    pub(crate) fn find(&mut self, tag: u32, values: &[&str]) -> Option<u32> {
        let mut nums = [0u32; MAX_LABEL_KEYS];
        for (k, v) in values.iter().enumerate() {
            nums[k] = self.value_number(k, v)?;
        }
        self.map().get(&(tag, nums)).copied()
    }

    /// The id of the series of tag id `tag` with label `values` (normalised,
    /// one per key), interning it (and any value not yet defined) when new.
    /// `None` when the table is full (2³² − 1 series).
    pub(crate) fn intern(&mut self, tag: u32, values: &[&str]) -> Option<u32> {
        debug_assert_eq!(values.len(), self.nkeys);
        let mut nums = [0u32; MAX_LABEL_KEYS];
        for (k, v) in values.iter().enumerate() {
            nums[k] = match self.value_number(k, v) {
                Some(n) => n,
                None => self.define(k, v),
            };
        }
        let r = (tag, nums);
        if let Some(&id) = self.map().get(&r) {
            return Some(id);
        }
        let id = u32::try_from(self.tags.len())
            .ok()
            .filter(|&i| i < u32::MAX)?;
        self.tags.push(tag);
        self.vals.extend_from_slice(&nums[..self.nkeys]);
        self.map().insert(r, id);
        Some(id)
    }

    /// Duplicate series (the first id repeated, and the repeat), checked by
    /// `verify`: a writer never writes one.
    pub(crate) fn first_repeat(&self) -> Option<(u32, u32)> {
        let mut m: FxHashMap<Record, u32> = FxHashMap::default();
        for id in 0..self.tags.len() as u32 {
            let r = self.record(self.tags[id as usize], self.value_numbers(id));
            if let Some(&first) = m.get(&r) {
                return Some((first, id));
            }
            m.insert(r, id);
        }
        None
    }

    /// The blocks to append for the series and values not yet handed to the
    /// file writer, and the number of series they bring the file to.
    pub(crate) fn take_pending(&mut self) -> (Vec<u8>, usize, usize) {
        let (from, vfrom) = (self.flushed, self.values_flushed);
        let mut out = Vec::new();
        if from < self.tags.len() || vfrom < self.value_order.len() {
            let values: Vec<(u8, &str)> = self.value_order[vfrom..]
                .iter()
                .map(|&(k, n)| (k, &*self.values[k as usize][n as usize]))
                .collect();
            encode_series_block(
                self.nkeys,
                &values,
                &self.tags[from..],
                &self.vals[from * self.nkeys..],
                &mut out,
            );
        }
        self.flushed = self.tags.len();
        self.values_flushed = self.value_order.len();
        (out, from, vfrom)
    }

    /// Hands back a write that failed: the series from `from` and the values
    /// from `vfrom` are written again with the next batch.
    pub(crate) fn restore_pending(&mut self, from: usize, vfrom: usize) {
        self.flushed = self.flushed.min(from);
        self.values_flushed = self.values_flushed.min(vfrom);
    }

    /// Number of series handed to the file writer.
    pub(crate) fn flushed_count(&self) -> usize {
        self.flushed
    }

    /// Records that the bytes just written start a block at `offset` (for a
    /// later cut, and nothing else).
    pub(crate) fn note_written(&mut self, offset: u64, first_id: usize, values_before: usize) {
        self.blocks.push(Block {
            offset,
            first_id: first_id as u32,
            values_before: values_before as u32,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::series::encode_series_header;

    fn file(t: &mut SeriesTable) -> Vec<u8> {
        let mut f = encode_series_header(7, t.nkeys());
        f.extend(t.take_pending().0);
        f
    }

    #[test]
    fn interns_reads_back_and_cuts() {
        let mut t = SeriesTable::new(2);
        assert_eq!(t.intern(5, &["instagram", "chicago"]), Some(0));
        assert_eq!(t.intern(5, &["instagram", ""]), Some(1));
        assert_eq!(t.intern(5, &["instagram", "chicago"]), Some(0));
        let mut f = file(&mut t);
        let first_end = f.len();
        assert_eq!(t.intern(9, &["x", "chicago"]), Some(2));
        f.extend(t.take_pending().0);
        let r = SeriesTable::read(&f).unwrap();
        assert_eq!(r.end, SeriesEnd::Clean);
        assert_eq!(r.store_id, 7);
        assert_eq!(r.valid_end, f.len() as u64);
        let mut back = r.table;
        assert_eq!(back.len(), 3);
        assert_eq!(back.key(2, "t"), "t\u{1f}x\u{1f}chicago");
        assert_eq!(back.series_of_tag(5), vec![0, 1]);
        assert_eq!(back.intern(5, &["instagram", ""]), Some(1));
        assert_eq!(back.first_repeat(), None);
        // A damaged last block: the first one stands, and the cut forgets
        // the value it defined.
        let mut d = f.clone();
        d[first_end + 9] ^= 1;
        let r = SeriesTable::read(&d).unwrap();
        assert_eq!(r.table.len(), 2);
        assert_eq!(r.valid_end, first_end as u64);
        assert!(matches!(r.end, SeriesEnd::Damaged(ref e) if e.offset >= first_end as u64));
        assert_eq!(r.table.value_number(0, "x"), None);
        // A cut at the series of a lost tag.
        let mut t = SeriesTable::read(&f).unwrap().table;
        assert_eq!(t.cut_from_series(2), Some(first_end as u64));
        assert_eq!((t.len(), t.value_number(0, "x")), (2, None));
        assert_eq!(t.intern(9, &["x", "chicago"]), Some(2));
    }

    #[test]
    fn a_value_used_before_it_is_defined_is_damage() {
        let mut out = encode_series_header(7, 1);
        encode_series_block(1, &[], &[0], &[0], &mut out);
        let r = SeriesTable::read(&out).unwrap();
        assert_eq!(r.table.len(), 0);
        assert!(matches!(r.end, SeriesEnd::Damaged(_)));
    }
}
