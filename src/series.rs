//! The series table of a labelled store of format version 5: series id →
//! (tag id, one value number per label key), from the `tags.series` file
//! ([`crate::format::series`]) and extended by writes.
//!
//! In such a store the ids in the log and the segments are series ids, and
//! `tags.dict` holds tags only (each once, whatever its labels), so a series
//! costs its fixed-width record instead of its key's text: about 5 bytes
//! against 27 on the labelled benchmark (docs/performance.md). A labelled
//! store of an earlier version keeps its series keys in `tags.dict` and no
//! table.
//!
//! A writable open reads the file whole and checks every block (its CRC,
//! its values, that its records name only values already defined) but
//! decodes no record into memory: the records are read in place, on demand,
//! so a question about one tag costs one pass over the tag fields, and a
//! process that asks nothing of the labels pays only the read and the
//! checks.
//!
//! A read-only open of a store with a series index (`tags.sidx`,
//! [`crate::format::series_index`]) reads neither: it maps the file, takes
//! the blocks and label values from the index, and reads only the blocks
//! written after the index. A record is then read in place and checked by
//! its 4 KiB page's CRC (from the index) the first time it is touched, and
//! a tag's series come from the index's list for that tag, so a question
//! about one tag costs that tag's pages. Damage found so late is an
//! [`Error::Corrupted`] naming the file that holds it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dict::{FxHashMap, MapBytes};
use crate::error::{CorruptionKind, Error, Result};
use crate::format::series::{
    decode_series_block, decode_series_header, encode_series_block, record_field, SERIES_HEADER_LEN,
};
use crate::format::series_index::{encode_series_index, SeriesIndexView, SERIES_INDEX_PAGE};
use crate::format::DecodeError;
use crate::labels::MAX_LABEL_KEYS;
use crate::storage::files::{self, PathFile};
use crate::storage::vfs::{OpenMode, Vfs};

/// A series as a hash key: its tag id and its value numbers (zero past the
/// store's keys).
type Record = (u32, [u32; MAX_LABEL_KEYS]);

/// A block of the file: where it is, and where its records are.
#[derive(Debug, Clone)]
struct Block {
    offset: u64,
    first_id: u32,
    count: u32,
    values_before: u32,
    /// Where its records start in the file, and their field widths.
    records_at: usize,
    widths: Vec<usize>,
    width: usize,
    /// The largest tag id its records name.
    max_tag: u32,
}

/// A mapped `tags.series` below the end its index covers, with that index.
struct Indexed {
    map: MapBytes,
    index: SeriesIndexView<MapBytes>,
    /// The end of the covered part: `index.series_end()`.
    covered: usize,
    /// One bit per page of `map` below `covered`, set once its CRC matched.
    pages: Vec<std::sync::atomic::AtomicU64>,
    index_path: PathBuf,
    series_path: PathBuf,
}

/// The bytes of `tags.series` that records are read from.
enum FileBytes {
    /// The file as read at open (from offset 0).
    Read(Vec<u8>),
    /// A mapped covered part, checked page by page as it is read, and the
    /// bytes after it as read at open.
    Indexed(Box<Indexed>, Vec<u8>),
}

impl Default for FileBytes {
    fn default() -> FileBytes {
        FileBytes::Read(Vec::new())
    }
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileBytes::Read(b) => write!(f, "Read({} bytes)", b.len()),
            FileBytes::Indexed(ix, tail) => {
                write!(f, "Indexed({} + {} bytes)", ix.covered, tail.len())
            }
        }
    }
}

impl FileBytes {
    /// `len` bytes at file offset `at`, which lie within one block; in the
    /// covered part, after checking the pages they touch.
    fn get(&self, at: usize, len: usize) -> Result<&[u8]> {
        match self {
            FileBytes::Read(b) => Ok(&b[at..at + len]),
            FileBytes::Indexed(ix, tail) if at >= ix.covered => {
                Ok(&tail[at - ix.covered..at - ix.covered + len])
            }
            FileBytes::Indexed(ix, _) => {
                let bytes = ix.map.as_ref();
                if at + len > ix.covered {
                    // Only a crafted block table reaches across the end.
                    return Err(Fault::Index(DecodeError::invalid(
                        0,
                        format!(
                            "a read of bytes {at}..{} of tags.series, past the index's {}",
                            at + len,
                            ix.covered
                        ),
                    ))
                    .into_error(ix));
                }
                crate::format::dict_index::check_pages(
                    &ix.pages,
                    &bytes[..ix.covered],
                    at..at + len,
                    |p| ix.index.file_page_crc(p).map_err(Fault::Index),
                    |lo, stored, computed| {
                        Fault::File(DecodeError::new(
                            lo as u64,
                            CorruptionKind::ChecksumMismatch { stored, computed },
                        ))
                    },
                )
                .map_err(|f| f.into_error(ix))?;
                Ok(&bytes[at..at + len])
            }
        }
    }

    /// The index's series of `tag`, when the file is indexed.
    fn indexed_series(&self, tag: u32) -> Result<Option<Vec<u32>>> {
        match self {
            FileBytes::Read(_) => Ok(None),
            FileBytes::Indexed(ix, _) => ix
                .index
                .series_of_tag(tag)
                .map(Some)
                .map_err(|e| Fault::Index(e).into_error(ix)),
        }
    }

    /// Damage in the index that a read of the file found: an error naming
    /// the index (or, without one, the file).
    fn index_fault(&self, why: String) -> Error {
        let path = match self {
            FileBytes::Read(_) => PathBuf::from(files::SERIES),
            FileBytes::Indexed(ix, _) => ix.index_path.clone(),
        };
        Error::corrupted(path, 0, CorruptionKind::Invalid(why))
    }

    /// Checks every page of the index, if there is one, and every page of
    /// the file it covers against the CRCs it records: an index kept by a
    /// writer must be this file's, page by page.
    fn check_index(&self) -> Result<()> {
        match self {
            FileBytes::Read(_) => Ok(()),
            FileBytes::Indexed(ix, _) => {
                ix.index
                    .check_every_page()
                    .map_err(|e| Fault::Index(e).into_error(ix))?;
                self.get(0, ix.covered).map(|_| ())
            }
        }
    }

    /// Series ids below this are listed by the index.
    fn indexed_len(&self) -> u32 {
        match self {
            FileBytes::Read(_) => 0,
            FileBytes::Indexed(ix, _) => ix.index.len(),
        }
    }
}

/// Damage found through the index: in it, or in the file page it checks.
enum Fault {
    Index(DecodeError),
    File(DecodeError),
}

impl Fault {
    fn into_error(self, ix: &Indexed) -> Error {
        match self {
            Fault::Index(e) => Error::corrupted(&ix.index_path, e.offset, e.kind),
            Fault::File(e) => Error::corrupted(&ix.series_path, e.offset, e.kind),
        }
    }
}

/// The series of a labelled store: see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct SeriesTable {
    nkeys: usize,
    /// The file as read (or mapped) at open; `blocks` decode from it.
    file: FileBytes,
    blocks: Vec<Block>,
    /// Series of `blocks`: ids `0..in_file`.
    in_file: u32,
    /// Series interned since the open: ids `in_file..`, their tag ids and
    /// `nkeys` value numbers each.
    tags: Vec<u32>,
    vals: Vec<u32>,
    /// Per key, its values by number.
    values: Vec<Vec<Arc<str>>>,
    value_ix: Vec<FxHashMap<Arc<str>, u32>>,
    /// Every value in the order it was defined: (key, number).
    value_order: Vec<(u8, u32)>,
    /// (tag, values) → id, built by the first lookup of a writer.
    map: Option<FxHashMap<Record, u32>>,
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
    /// every block up to the first that fails to decode, names a label value
    /// not yet defined, or defines one twice.
    pub(crate) fn read(buf: Vec<u8>) -> Result<SeriesRead, DecodeError> {
        let (store_id, nkeys) = decode_series_header(&buf)?;
        let mut t = SeriesTable::new(nkeys);
        let (valid_end, end) = t.read_blocks(&buf, SERIES_HEADER_LEN, 0);
        t.file = FileBytes::Read(buf);
        Ok(t.read_as(store_id, (valid_end, end)))
    }

    /// A table just read, as a [`SeriesRead`]: everything it holds is in
    /// the file, so nothing is pending.
    fn read_as(mut self, store_id: u32, (valid_end, end): (u64, SeriesEnd)) -> SeriesRead {
        self.flushed = self.len();
        self.values_flushed = self.value_order.len();
        SeriesRead {
            table: self,
            store_id,
            valid_end,
            end,
        }
    }

    /// Reads a series file through its index: `head` is the file's header,
    /// `map` the whole file mapped (at least the index's `series_end` bytes),
    /// `tail` the bytes from `series_end` on. The blocks and values below
    /// `series_end` come from the index, unchecked against the file until a
    /// record is read; the blocks after it are read and checked as
    /// [`Self::read`] reads them. `Err` when the index does not fit the
    /// file: the caller reads the file whole instead.
    pub(crate) fn read_indexed(
        head: &[u8],
        map: MapBytes,
        index: SeriesIndexView<MapBytes>,
        tail: Vec<u8>,
        (index_path, series_path): (PathBuf, PathBuf),
    ) -> Result<SeriesRead, DecodeError> {
        let (store_id, nkeys) = decode_series_header(head)?;
        let covered = index.series_end();
        let fits = nkeys == index.nkeys()
            && store_id == index.store_id()
            && (map.as_ref().len() as u64) >= covered;
        if !fits {
            return Err(DecodeError::invalid(
                0,
                "the index does not fit tags.series",
            ));
        }
        let mut t = SeriesTable::new(nkeys);
        for (k, v) in index.values()? {
            if t.value_ix[k].contains_key(v) {
                return Err(DecodeError::invalid(0, "a label value is indexed twice"));
            }
            t.define(k, v);
        }
        for b in index.blocks()? {
            t.blocks.push(Block {
                offset: b.offset,
                first_id: b.first_id,
                count: b.count,
                values_before: b.values_before,
                records_at: (b.offset + u64::from(b.records_rel)) as usize,
                width: b.widths.iter().sum(),
                widths: b.widths,
                max_tag: b.max_tag,
            });
        }
        t.in_file = index.len();
        let covered = covered as usize;
        let (valid_end, end) = t.read_blocks(&tail, 0, covered);
        let pages = covered.div_ceil(SERIES_INDEX_PAGE);
        t.file = FileBytes::Indexed(
            Box::new(Indexed {
                map,
                index,
                covered,
                pages: crate::format::dict_index::page_bits(pages),
                index_path,
                series_path,
            }),
            tail,
        );
        t.bind_index()?;
        Ok(t.read_as(store_id, (valid_end, end)))
    }

    /// Checks, through their page CRCs, that the file below the index's end
    /// is the one it was built from, where it matters at open: the page that
    /// holds the last covered block's length field (which must span exactly
    /// to the index's end, so the blocks after it are read from a block
    /// boundary) and the last covered page. An index of another copy of the
    /// store, or one covering more than the file holds, fails here, and the
    /// file is read whole instead.
    fn bind_index(&self) -> std::result::Result<(), DecodeError> {
        let FileBytes::Indexed(ix, _) = &self.file else {
            return Ok(());
        };
        let covered = ix.covered;
        let unbound = |why: &str| DecodeError::invalid(0, format!("the index {why}"));
        let indexed: Vec<&Block> = self
            .blocks
            .iter()
            .take_while(|b| (b.offset as usize) < covered)
            .collect();
        if let Some(last) = indexed.last() {
            let at = last.offset as usize;
            let len = self
                .file
                .get(at, 4)
                .map_err(|_| unbound("does not match tags.series"))?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if at + 8 + len != covered {
                return Err(unbound("ends inside a block of tags.series"));
            }
        }
        self.file
            .get(covered - 1, 1)
            .map_err(|_| unbound("does not match tags.series"))?;
        Ok(())
    }

    /// Reads the blocks of `buf` from `from`, `buf[0]` being file offset
    /// `base`, after those the table holds: returns the file offset where
    /// the valid ones end, and how they end.
    fn read_blocks(&mut self, buf: &[u8], from: usize, base: usize) -> (u64, SeriesEnd) {
        let t = self;
        let nkeys = t.nkeys;
        let mut pos = from;
        let end = loop {
            let rest = &buf[pos..];
            let at = base + pos;
            if rest.iter().all(|&b| b == 0) {
                break SeriesEnd::Clean;
            }
            let b = match decode_series_block(rest, nkeys) {
                Ok(b) => b,
                Err(e) => break SeriesEnd::Damaged(e.at_base(at as u64)),
            };
            let bad = |why: String| DecodeError::invalid(at as u64, why);
            let values_before = t.value_order.len() as u32;
            let mut fault = None;
            for &(k, v) in &b.values {
                if t.value_ix[k].contains_key(v) {
                    fault = Some(bad(format!("label value {v:?} of key {k} defined twice")));
                    break;
                }
                t.define(k, v);
            }
            let max = b.field_max();
            let count = b.count() as u32;
            if fault.is_none() && count > 0 {
                if let Some(k) = (0..nkeys).find(|&k| max[1 + k] as usize >= t.values[k].len()) {
                    fault = Some(bad(format!(
                        "a series names value {} of key {k}, which has {}",
                        max[1 + k],
                        t.values[k].len()
                    )));
                }
            }
            let block = Block {
                offset: at as u64,
                first_id: t.in_file,
                count,
                values_before,
                records_at: at + b.records_at,
                width: b.widths.iter().sum(),
                widths: b.widths,
                max_tag: max[0],
            };
            if let Some(e) = fault {
                t.undefine_to(values_before);
                break SeriesEnd::Damaged(e);
            }
            let Some(next) = t.in_file.checked_add(count).filter(|&n| n < u32::MAX) else {
                t.undefine_to(values_before);
                break SeriesEnd::Damaged(bad("more than 2³² − 1 series".into()));
            };
            t.in_file = next;
            t.blocks.push(block);
            pos += b.len;
        };
        ((base + pos) as u64, end)
    }

    /// Forgets the values defined from `n` on (in definition order).
    fn undefine_to(&mut self, n: u32) {
        while self.value_order.len() > n as usize {
            let (k, _) = self.value_order.pop().expect("a value to drop");
            let v = self.values[k as usize].pop().expect("a value to drop");
            self.value_ix[k as usize].remove(&v);
        }
    }

    /// Drops the series from the block holding `id` on (series a crash left
    /// without the tags they name), in a table just read; returns the byte
    /// offset where that block started, the new end of the file's valid
    /// part.
    pub(crate) fn cut_from_series(&mut self, id: u32) -> Option<u64> {
        let i = self.blocks.iter().rposition(|b| b.first_id <= id)?;
        let mark = self.blocks[i].clone();
        self.blocks.truncate(i);
        self.in_file = mark.first_id;
        self.tags.clear();
        self.vals.clear();
        self.undefine_to(mark.values_before);
        self.map = None;
        self.flushed = self.len();
        self.values_flushed = self.value_order.len();
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

    /// Number of series read through the series index (0 when the file
    /// was read whole).
    pub(crate) fn indexed_len(&self) -> u32 {
        self.file.indexed_len()
    }

    /// Number of series.
    pub(crate) fn len(&self) -> usize {
        self.in_file as usize + self.tags.len()
    }

    /// The block holding file series `id` (below `in_file`), and the bytes
    /// of its record.
    fn file_record(&self, id: u32) -> Result<(&Block, &[u8])> {
        let i = self.blocks.partition_point(|b| b.first_id <= id) - 1;
        let b = &self.blocks[i];
        let at = b.records_at + (id - b.first_id) as usize * b.width;
        Ok((b, self.file.get(at, b.width)?))
    }

    /// The tag id of record `r` of block `b`, with its value numbers written
    /// into `vals` (one per key). A tag past the block's largest, or a value
    /// number past its key's values, is refused: a table read whole checked
    /// both at open, one read through an index trusts the index's block
    /// table, and this keeps a crafted index from reaching past them.
    fn decode(&self, b: &Block, r: &[u8], vals: &mut [u32]) -> Result<u32> {
        let tag = record_field(r, &b.widths, 0);
        let mut bad = tag > b.max_tag;
        for (k, v) in vals.iter_mut().enumerate().take(self.nkeys) {
            *v = record_field(r, &b.widths, 1 + k);
            bad |= *v as usize >= self.values[k].len();
        }
        if bad {
            return Err(self.file.index_fault(format!(
                "a record of the block at byte {} names tag {tag} or a value past those \
                 defined",
                b.offset
            )));
        }
        Ok(tag)
    }

    /// The records of block `b`.
    fn records(&self, b: &Block) -> Result<&[u8]> {
        self.file.get(b.records_at, b.count as usize * b.width)
    }

    /// The tag id of series `id`.
    pub(crate) fn tag(&self, id: u32) -> Result<Option<u32>> {
        if id < self.in_file {
            let (b, r) = self.file_record(id)?;
            let mut vals = [0u32; MAX_LABEL_KEYS];
            return self.decode(b, r, &mut vals).map(Some);
        }
        Ok(self.tags.get((id - self.in_file) as usize).copied())
    }

    /// The value numbers of series `id`, one per key (zero past the keys,
    /// and for an id the table does not hold).
    pub(crate) fn value_numbers(&self, id: u32) -> Result<[u32; MAX_LABEL_KEYS]> {
        let mut out = [0u32; MAX_LABEL_KEYS];
        if id < self.in_file {
            let (b, r) = self.file_record(id)?;
            self.decode(b, r, &mut out)?;
        } else {
            let at = (id - self.in_file) as usize * self.nkeys;
            if let Some(v) = self.vals.get(at..at + self.nkeys) {
                out[..self.nkeys].copy_from_slice(v);
            }
        }
        Ok(out)
    }

    /// Calls `f` with every series from `from` on, in id order: its id, tag
    /// id and value numbers (one per key).
    pub(crate) fn for_each_from(
        &self,
        from: u32,
        mut f: impl FnMut(u32, u32, &[u32]),
    ) -> Result<()> {
        let mut vals = [0u32; MAX_LABEL_KEYS];
        for b in &self.blocks {
            if b.first_id + b.count <= from {
                continue;
            }
            let recs = self.records(b)?;
            for (id, r) in (b.first_id..).zip(recs.chunks_exact(b.width)) {
                if id < from {
                    continue;
                }
                let tag = self.decode(b, r, &mut vals)?;
                f(id, tag, &vals[..self.nkeys]);
            }
        }
        let ids = (self.in_file..).zip(self.tags.iter().zip(self.vals.chunks_exact(self.nkeys)));
        for (id, (&tag, v)) in ids {
            if id >= from {
                f(id, tag, v);
            }
        }
        Ok(())
    }

    /// Value `n` of key `k`.
    pub(crate) fn value(&self, k: usize, n: u32) -> &str {
        self.values
            .get(k)
            .and_then(|v| v.get(n as usize))
            .map_or("", |v| v)
    }

    /// Number of values of key `k`.
    pub(crate) fn value_count(&self, k: usize) -> usize {
        self.values.get(k).map_or(0, Vec::len)
    }

    /// The number of `value` among key `k`'s values, if defined: by
    /// comparing it with each of a key's few values (a platform key's
    /// handful, on every event a writer adds), by hashing past eight.
    pub(crate) fn value_number(&self, k: usize, value: &str) -> Option<u32> {
        let known = self.values.get(k)?;
        if known.len() <= 8 {
            return known.iter().position(|v| **v == *value).map(|i| i as u32);
        }
        self.value_ix[k].get(value).copied()
    }

    /// The largest tag id the series below `below` name, if any.
    pub(crate) fn max_tag(&self, below: usize) -> Result<Option<u32>> {
        let below = below.min(self.len()) as u32;
        let mut max = None;
        for b in self
            .blocks
            .iter()
            .filter(|b| b.first_id < below && b.count > 0)
        {
            let m = if b.first_id + b.count <= below {
                b.max_tag
            } else {
                let mut m = 0;
                for id in b.first_id..below {
                    m = m.max(self.tag(id)?.unwrap_or(0));
                }
                m
            };
            max = max.max(Some(m));
        }
        let in_mem = below.saturating_sub(self.in_file) as usize;
        let mem = self.tags[..in_mem].iter().copied().max();
        Ok(max.max(mem))
    }

    /// The first series naming a tag id at or past `n`, if any.
    pub(crate) fn first_naming_tag_from(&self, n: u64) -> Result<Option<u32>> {
        for b in self
            .blocks
            .iter()
            .filter(|b| u64::from(b.max_tag) >= n && b.count > 0)
        {
            let recs = self.records(b)?;
            let hit = recs
                .chunks_exact(b.width)
                .position(|r| u64::from(record_field(r, &b.widths, 0)) >= n);
            if let Some(i) = hit {
                return Ok(Some(b.first_id + i as u32));
            }
        }
        let mem = self.tags.iter().position(|&t| u64::from(t) >= n);
        Ok(mem.map(|i| self.in_file + i as u32))
    }

    /// The ids of the series of tag `tag`, ascending: from the index's list
    /// for the series it covers, then one pass over the tag fields of the
    /// other blocks, skipping those whose largest tag is below it.
    pub(crate) fn series_of_tag(&self, tag: u32) -> Result<Vec<u32>> {
        let indexed = self.file.indexed_len();
        let mut out = self.file.indexed_series(tag)?.unwrap_or_default();
        // Series a cut dropped (never durable, so never indexed by a sound
        // index) are not the table's.
        out.retain(|&id| id < self.in_file);
        // Each listed series' record must name the tag: reading it checks
        // its page, which the values read next need anyway.
        for &id in &out {
            let named = self.tag(id)?;
            if named != Some(tag) {
                return Err(self.file.index_fault(format!(
                    "the index lists series {id} under tag {tag}, but its record names tag {}",
                    named.map_or("none".into(), |t| t.to_string())
                )));
            }
        }
        let rest = self.blocks.iter().filter(|b| b.first_id >= indexed);
        for b in rest.filter(|b| b.max_tag >= tag) {
            let recs = self.records(b)?;
            for (id, r) in (b.first_id..).zip(recs.chunks_exact(b.width)) {
                if record_field(r, &b.widths, 0) == tag {
                    out.push(id);
                }
            }
        }
        out.extend(
            (self.in_file..)
                .zip(&self.tags)
                .filter(|(_, &t)| t == tag)
                .map(|(i, _)| i),
        );
        Ok(out)
    }

    /// The series key of series `id` (`tag 1F value …`, as a labelled store
    /// of an earlier version holds it in `tags.dict`), given its tag's name.
    pub(crate) fn key(&self, id: u32, tag: &str) -> Result<String> {
        let mut s = String::from(tag);
        for (k, &n) in self.value_numbers(id)?[..self.nkeys].iter().enumerate() {
            s.push(crate::labels::SEPARATOR);
            s.push_str(self.value(k, n));
        }
        Ok(s)
    }

    /// The lookup map of a writer's table. A writer's table is read whole
    /// and checked at open (only a read-only handle's is indexed), so
    /// reading its records cannot fail.
    fn map(&mut self) -> &mut FxHashMap<Record, u32> {
        if self.map.is_none() {
            let mut m = FxHashMap::default();
            m.reserve(self.len());
            let read = self.for_each_from(0, |id, tag, vals| {
                let mut r = [0u32; MAX_LABEL_KEYS];
                r[..vals.len()].copy_from_slice(vals);
                m.entry((tag, r)).or_insert(id);
            });
            debug_assert!(read.is_ok(), "a writer's table is read whole");
            self.map = Some(m);
        }
        self.map.as_mut().expect("built above")
    }

    /// The id of the series of tag id `tag` with label `values`, if the
    /// table holds it.
    pub(crate) fn find<S: AsRef<str>>(&mut self, tag: u32, values: &[S]) -> Option<u32> {
        self.map();
        self.find_mapped(tag, values)
    }

    /// [`Self::find`] through a shared borrow: `None` also while the lookup
    /// map is not built yet (the first `find` or `intern` builds it), so a
    /// writer looks up under a read lock and takes the write lock only then
    /// or for a new series.
    pub(crate) fn find_mapped<S: AsRef<str>>(&self, tag: u32, values: &[S]) -> Option<u32> {
        let map = self.map.as_ref()?;
        let mut nums = [0u32; MAX_LABEL_KEYS];
        for (k, v) in values.iter().enumerate() {
            nums[k] = self.value_number(k, v.as_ref())?;
        }
        map.get(&(tag, nums)).copied()
    }

    /// The id of the series of tag id `tag` with label `values` (normalised,
    /// one per key), interning it (and any value not yet defined) when new.
    /// `None` when the table is full (2³² − 1 series): nothing is defined
    /// then, so no value of a refused series reaches the file.
    pub(crate) fn intern<S: AsRef<str>>(&mut self, tag: u32, values: &[S]) -> Option<u32> {
        debug_assert_eq!(values.len(), self.nkeys);
        let mut nums = [0u32; MAX_LABEL_KEYS];
        let mut known = true;
        for (k, v) in values.iter().enumerate() {
            match self.value_number(k, v.as_ref()) {
                Some(n) => nums[k] = n,
                None => known = false,
            }
        }
        // A series with a value not yet defined is new.
        if known {
            if let Some(&id) = self.map().get(&(tag, nums)) {
                return Some(id);
            }
        }
        let id = u32::try_from(self.len()).ok().filter(|&i| i < u32::MAX)?;
        for (k, v) in values.iter().enumerate() {
            let v = v.as_ref();
            if self.value_number(k, v).is_none() {
                nums[k] = self.define(k, v);
            }
        }
        let r = (tag, nums);
        self.tags.push(tag);
        self.vals.extend_from_slice(&nums[..self.nkeys]);
        self.map().insert(r, id);
        Some(id)
    }

    /// The first series that repeats an earlier one (the same tag and
    /// values), and that earlier one: `verify` reports it; a writer never
    /// writes one.
    pub(crate) fn first_repeat(&self) -> Result<Option<(u32, u32)>> {
        let mut m: FxHashMap<Record, u32> = FxHashMap::default();
        let mut found = None;
        self.for_each_from(0, |id, tag, vals| {
            let mut r = [0u32; MAX_LABEL_KEYS];
            r[..vals.len()].copy_from_slice(vals);
            if let Some(&first) = m.get(&(tag, r)) {
                found = found.or(Some((first, id)));
            }
            m.entry((tag, r)).or_insert(id);
        })?;
        Ok(found)
    }

    /// The blocks to append for the series and values not yet handed to the
    /// file writer; and where they start (series, values), for
    /// [`Self::restore_pending`].
    pub(crate) fn take_pending(&mut self) -> (Vec<u8>, usize, usize) {
        let (from, vfrom) = (self.flushed, self.values_flushed);
        let mut out = Vec::new();
        if from < self.len() || vfrom < self.value_order.len() {
            let values: Vec<(u8, &str)> = self.value_order[vfrom..]
                .iter()
                .map(|&(k, n)| (k, &*self.values[k as usize][n as usize]))
                .collect();
            // Series written are always in memory: a table is read (or
            // indexed) at open, and only later series are pending.
            let mem = from - self.in_file as usize;
            encode_series_block(
                self.nkeys,
                &values,
                &self.tags[mem..],
                &self.vals[mem * self.nkeys..],
                &mut out,
            );
        }
        self.flushed = self.len();
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
}

/// A series file read through its index, and where its last non-zero byte
/// ends.
pub(crate) struct ReadThrough {
    pub(crate) read: SeriesRead,
    pub(crate) nonzero_end: u64,
}

/// Reads the series file in `dir` through its index (`tags.sidx`): `None`
/// when there is none or it does not fit the file (the caller reads the
/// file whole, and meets any damage there). The index is derived from the
/// file, so a damaged one costs the read it saves, never the open. It is
/// written after the manifest that promises its series, so one covering
/// more than `promised` is not this store's history, and is not used
/// either.
pub(crate) fn read_through_index(
    vfs: &dyn Vfs,
    dir: &Path,
    promised: u32,
) -> Result<Option<ReadThrough>> {
    let index_path = dir.join(files::SERIES_INDEX);
    let series_path = dir.join(files::SERIES);
    if !vfs.exists(&index_path).unwrap_or(false) {
        return Ok(None);
    }
    let Ok(view) = vfs
        .map(&index_path)
        .map_err(|_| ())
        .and_then(|m| SeriesIndexView::open(MapBytes(m)).map_err(|_| ()))
    else {
        return Ok(None);
    };
    let Ok(file) = PathFile::open(vfs, series_path.clone(), OpenMode::READ) else {
        return Ok(None);
    };
    let io = |e| Error::io(&series_path, e);
    let len = file.file.len().map_err(io)?;
    let covered = view.series_end();
    if view.len() > promised || len < covered || len - covered > usize::MAX as u64 {
        return Ok(None);
    }
    let mut head = vec![0u8; SERIES_HEADER_LEN.min(len as usize)];
    file.file.read_exact_at(&mut head, 0).map_err(io)?;
    let mut tail = vec![0u8; (len - covered) as usize];
    file.file.read_exact_at(&mut tail, covered).map_err(io)?;
    let Ok(map) = vfs.map(&series_path) else {
        return Ok(None);
    };
    let nonzero_end = covered
        + tail
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |p| p as u64 + 1);
    let paths = (index_path, series_path);
    Ok(
        SeriesTable::read_indexed(&head, MapBytes(map), view, tail, paths)
            .ok()
            .map(|read| ReadThrough { read, nonzero_end }),
    )
}

/// Writes `tags.sidx` for the first `count` series of `tags.series` (ending
/// at byte `end`, all of them durable) when there is none, when a read-only
/// open would not use the one there (another store's, or not the history of
/// this file: [`read_through_index`]), when a page of it is damaged, or when
/// it misses enough of them: at least 256 and a 64th
/// of those it covers, so a store growing in many small writes rewrites it
/// a bounded number of times, and an open reads at most that many series
/// past it. Built from the file's bytes, which it checks; written through a
/// temporary file, so a crash leaves the old index or the new one. Returns
/// whether it wrote.
pub(crate) fn write_index(
    vfs: &dyn Vfs,
    dir: &Path,
    store_id: u32,
    (count, end): (usize, u64),
) -> Result<bool> {
    if count == 0 {
        return Ok(false);
    }
    // An index kept must be one a read-only open would use (this store's,
    // fitting the file as it is now, no longer than the series durable),
    // and sound in every page: a damaged one fails the questions that read
    // it, so it is written again.
    let promised = u32::try_from(count).unwrap_or(u32::MAX);
    let have = read_through_index(vfs, dir, promised)?
        .filter(|r| r.read.store_id == store_id && r.read.table.file.check_index().is_ok())
        .map(|r| r.read.table.indexed_len() as usize);
    if let Some(have) = have {
        if count - have < (have / 64).max(256) {
            return Ok(false);
        }
    }
    let series_path = dir.join(files::SERIES);
    let file = PathFile::open(vfs, series_path.clone(), OpenMode::READ)?;
    let len = usize::try_from(end).map_err(|_| invalid(&series_path, end, "too large"))?;
    let mut bytes = vec![0u8; len];
    file.file
        .read_exact_at(&mut bytes, 0)
        .map_err(|e| Error::io(&series_path, e))?;
    let index = encode_series_index(&bytes, store_id)
        .map_err(|e| Error::corrupted(&series_path, e.offset, e.kind))?;
    let n = SeriesIndexView::open(&index[..]).map_or(0, |v| v.len() as usize);
    if n != count {
        return Err(invalid(
            &series_path,
            end,
            format!("tags.series holds {n} series below byte {end}, not {count}"),
        ));
    }
    files::write_atomic(vfs, dir, files::SERIES_INDEX, &index)?;
    Ok(true)
}

fn invalid(path: &Path, offset: u64, why: impl Into<String>) -> Error {
    Error::corrupted(path, offset, CorruptionKind::Invalid(why.into()))
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

    fn all(t: &SeriesTable) -> Vec<(u32, u32, Vec<u32>)> {
        let mut v = Vec::new();
        t.for_each_from(0, |id, tag, vals| v.push((id, tag, vals.to_vec())))
            .unwrap();
        v
    }

    #[test]
    fn interns_reads_back_and_cuts() {
        let mut t = SeriesTable::new(2);
        assert_eq!(t.intern(5, &["instagram", "chicago"]), Some(0));
        assert_eq!(t.intern(5, &["instagram", ""]), Some(1));
        assert_eq!(t.intern(5, &["instagram", "chicago"]), Some(0));
        let mut f = file(&mut t);
        let first_end = f.len();
        assert_eq!(t.intern(300, &["x", "chicago"]), Some(2));
        f.extend(t.take_pending().0);
        let r = SeriesTable::read(f.clone()).unwrap();
        assert_eq!(r.end, SeriesEnd::Clean);
        assert_eq!(r.store_id, 7);
        assert_eq!(r.valid_end, f.len() as u64);
        let mut back = r.table;
        assert_eq!(all(&back), all(&t));
        assert_eq!(back.len(), 3);
        assert_eq!(back.key(2, "t").unwrap(), "t\u{1f}x\u{1f}chicago");
        assert_eq!(back.series_of_tag(5).unwrap(), vec![0, 1]);
        assert_eq!(back.max_tag(2).unwrap(), Some(5));
        assert_eq!(back.max_tag(3).unwrap(), Some(300));
        assert_eq!(back.first_naming_tag_from(6).unwrap(), Some(2));
        assert_eq!(back.first_naming_tag_from(301).unwrap(), None);
        assert_eq!(back.intern(5, &["instagram", ""]), Some(1));
        // A new series after the read lives in memory, and is the next
        // write's only record.
        assert_eq!(back.intern(5, &["x", ""]), Some(3));
        assert_eq!(
            (back.tag(3).unwrap(), back.series_of_tag(5).unwrap()),
            (Some(5), vec![0, 1, 3])
        );
        assert_eq!(back.first_repeat().unwrap(), None);
        let (more, from, _) = back.take_pending();
        assert_eq!(from, 3);
        f.extend(more);
        let again = SeriesTable::read(f.clone()).unwrap().table;
        assert_eq!(all(&again), all(&back));
        // A damaged last block: the others stand, and the cut forgets the
        // value it defined.
        let mut d = f.clone();
        d[first_end + 9] ^= 1;
        let r = SeriesTable::read(d).unwrap();
        assert_eq!(r.table.len(), 2);
        assert_eq!(r.valid_end, first_end as u64);
        assert!(matches!(r.end, SeriesEnd::Damaged(ref e) if e.offset >= first_end as u64));
        assert_eq!(r.table.value_number(0, "x"), None);
        // A cut at the series of a lost tag.
        let mut t = SeriesTable::read(f).unwrap().table;
        assert_eq!(t.cut_from_series(2), Some(first_end as u64));
        assert_eq!((t.len(), t.value_number(0, "x")), (2, None));
        assert_eq!(t.intern(9, &["x", "chicago"]), Some(2));
    }

    /// The shared-borrow lookup finds what `find` finds once the map is
    /// built, and before that says nothing (the caller falls back to `find`).
    #[test]
    fn find_mapped_needs_the_map_and_then_agrees_with_find() {
        let mut t = SeriesTable::new(2);
        assert_eq!(t.intern(5, &["ig", "paris"]), Some(0));
        let mut back = SeriesTable::read(file(&mut t)).unwrap().table;
        assert_eq!(back.find_mapped(5, &["ig", "paris"]), None);
        assert_eq!(back.find(5, &["ig", "paris"]), Some(0));
        assert_eq!(back.find_mapped(5, &["ig", "paris"]), Some(0));
        assert_eq!(back.find_mapped(5, &["ig", "rome"]), None);
        assert_eq!(back.find_mapped(6, &["ig", "paris"]), None);
    }

    #[test]
    fn a_full_table_refuses_a_series_and_defines_none_of_its_values() {
        let mut t = SeriesTable::new(2);
        assert_eq!(t.intern(5, &["ig", "paris"]), Some(0));
        t.take_pending();
        // 2³² − 1 series, as far as `intern` can tell (the table's count;
        // its one real series keeps its place in the lookup map).
        t.in_file = u32::MAX - 1;
        assert_eq!(t.len(), u32::MAX as usize);
        // A series it holds is still found.
        assert_eq!(t.intern(5, &["ig", "paris"]), Some(0));
        // A new one is refused, with a new value or with known ones, and
        // leaves no value behind for the next write to carry.
        assert_eq!(t.intern(5, &["x", "paris"]), None);
        assert_eq!(t.intern(6, &["ig", "paris"]), None);
        assert_eq!(t.value_number(0, "x"), None);
        assert_eq!((t.value_count(0), t.value_count(1)), (1, 1));
        assert_eq!(t.value_order.len(), t.values_flushed);
    }

    #[test]
    fn a_value_used_before_it_is_defined_is_damage() {
        let mut out = encode_series_header(7, 1);
        encode_series_block(1, &[], &[0], &[0], &mut out);
        let r = SeriesTable::read(out).unwrap();
        assert_eq!(r.table.len(), 0);
        assert!(matches!(r.end, SeriesEnd::Damaged(_)));
    }

    #[test]
    fn a_repeated_series_is_found() {
        let mut out = encode_series_header(7, 1);
        encode_series_block(1, &[(0, "a")], &[3, 4, 3], &[0, 0, 0], &mut out);
        let t = SeriesTable::read(out).unwrap().table;
        assert_eq!(t.first_repeat().unwrap(), Some((0, 2)));
    }

    /// A file of `n` series over `tags` tags in blocks of `per` series, its
    /// label values defined as they first appear.
    fn big_file(n: u32, tags: u32, per: usize) -> (Vec<u8>, SeriesTable) {
        let mut t = SeriesTable::new(2);
        let mut f = encode_series_header(7, 2);
        for i in 0..n {
            // Distinct series, each tag's spread over the blocks.
            let tag = (i * 7919) % tags;
            let (a, b) = (format!("p{}", (i / tags) % 3), format!("r{}", i / tags / 3));
            t.intern(tag, &[a.as_str(), b.as_str()]);
            if (i as usize + 1).is_multiple_of(per) {
                f.extend(t.take_pending().0);
            }
        }
        f.extend(t.take_pending().0);
        (f, t)
    }

    fn indexed(file: &[u8], covered: usize) -> SeriesRead {
        let index = encode_series_index(&file[..covered], 7).unwrap();
        let map: crate::storage::vfs::Mapped = Arc::new(index);
        let view = SeriesIndexView::open(MapBytes(map)).unwrap();
        let fmap: crate::storage::vfs::Mapped = Arc::new(file.to_vec());
        let paths = (PathBuf::from("tags.sidx"), PathBuf::from("tags.series"));
        let tail = file[covered..].to_vec();
        SeriesTable::read_indexed(
            &file[..SERIES_HEADER_LEN],
            MapBytes(fmap),
            view,
            tail,
            paths,
        )
        .unwrap()
    }

    /// A table read through its index answers every question as the table
    /// read whole does, with the index covering all, part or none of it.
    #[test]
    fn an_indexed_table_answers_as_the_whole_read() {
        let (f, _) = big_file(5000, 700, 900);
        let whole = SeriesTable::read(f.clone()).unwrap();
        let starts: Vec<usize> = whole
            .table
            .blocks
            .iter()
            .map(|b| b.offset as usize)
            .collect();
        for covered in [f.len(), starts[3], SERIES_HEADER_LEN] {
            let r = indexed(&f, covered);
            assert_eq!((r.valid_end, &r.end), (whole.valid_end, &whole.end));
            let (a, b) = (&whole.table, &r.table);
            assert_eq!(a.len(), b.len());
            assert_eq!(all(a), all(b));
            for k in 0..2 {
                assert_eq!(a.value_count(k), b.value_count(k));
            }
            for tag in [0, 1, 350, 699, 700] {
                assert_eq!(a.series_of_tag(tag).unwrap(), b.series_of_tag(tag).unwrap());
            }
            for id in [0, 1, 899, 900, 4999] {
                assert_eq!(a.tag(id).unwrap(), b.tag(id).unwrap());
                assert_eq!(a.value_numbers(id).unwrap(), b.value_numbers(id).unwrap());
            }
            for below in [0, 10, 950, 5000] {
                assert_eq!(a.max_tag(below).unwrap(), b.max_tag(below).unwrap());
            }
            for n in [0, 600, 699, 700] {
                assert_eq!(
                    a.first_naming_tag_from(n).unwrap(),
                    b.first_naming_tag_from(n).unwrap()
                );
            }
        }
    }

    /// Damage to a covered page of the file is found by the first read of a
    /// record on that page, named in the file, and leaves other pages
    /// readable.
    #[test]
    fn damage_under_the_index_is_found_where_it_is_read() {
        let (mut f, _) = big_file(5000, 700, 900);
        let whole = SeriesTable::read(f.clone()).unwrap().table;
        let b = &whole.blocks[2];
        let id = b.first_id + 100;
        let at = b.records_at + 100 * b.width;
        let index = encode_series_index(&f, 7).unwrap();
        f[at] ^= 1;
        let map: crate::storage::vfs::Mapped = Arc::new(index);
        let view = SeriesIndexView::open(MapBytes(map)).unwrap();
        let fmap: crate::storage::vfs::Mapped = Arc::new(f.clone());
        let paths = (PathBuf::from("tags.sidx"), PathBuf::from("tags.series"));
        let head = f[..SERIES_HEADER_LEN].to_vec();
        let t = SeriesTable::read_indexed(&head, MapBytes(fmap), view, Vec::new(), paths)
            .unwrap()
            .table;
        let e = t.tag(id).unwrap_err();
        assert!(
            matches!(&e, Error::Corrupted(c) if c.file == Path::new("tags.series")
                && c.offset as usize == at / SERIES_INDEX_PAGE * SERIES_INDEX_PAGE),
            "{e}"
        );
        assert!(t.for_each_from(0, |_, _, _| {}).is_err());
        assert_eq!(t.tag(0).unwrap(), whole.tag(0).unwrap());
        let far = whole.blocks[4].first_id;
        assert_eq!(
            t.value_numbers(far).unwrap(),
            whole.value_numbers(far).unwrap()
        );
    }
}
