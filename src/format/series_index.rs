//! The series index (`tags.sidx`, labelled stores of version 5): a derived,
//! immutable, memory-mapped index of the first `n` series of `tags.series`,
//! so that a read-only open of a store of millions of series neither reads
//! nor checks that file, and a question about one tag reads that tag's
//! series only.
//!
//! The file is a 64-byte header ([`encode_series_index`] writes it), a
//! **body**, then a **page CRC table**, one CRC32 per 4 KiB page of the
//! body. The body holds, in order:
//!
//! 1. the **block table**: per block of `tags.series` below `series_end`, 32
//!    bytes (its offset, first series id, series count, values defined
//!    before it, where its records start, its largest tag id, its field
//!    widths);
//! 2. the **values**: every label value those blocks define, in definition
//!    order (key index, length, bytes), as the blocks hold them;
//! 3. the **tag starts**: `T + 1` offsets into the next table, where `T` is
//!    one more than the largest tag id a covered series names;
//! 4. the **series by tag**: the `n` series ids ordered by tag, then id, so
//!    that the series of tag `t` are entries `starts[t]..starts[t + 1]`;
//! 5. the **file page CRCs**: a CRC32 of every 4 KiB page of `tags.series`
//!    below `series_end` (the last page only up to `series_end`), so that a
//!    record read in place is checked by its page, each page once per open.
//!
//! [`SeriesIndexView::open`] checks the header, the sizes and the page CRC
//! table only; each body page's CRC is checked the first time a read touches
//! it. The index is derived from `tags.series` alone: a writer rewrites it
//! whole (through a temporary file) when the series have grown enough, and
//! `verify` compares it with the index the file gives.

use byteorder::{ByteOrder, LittleEndian};

use super::dict_index::{check_pages, page_bits, DICT_INDEX_PAGE};
use super::series::{decode_series_block, decode_series_header, SERIES_HEADER_LEN};
use super::{crc32, CorruptionKind, DecodeError};
use crate::labels::MAX_LABEL_KEYS;
use std::sync::atomic::AtomicU64;

/// Magic of the series index file.
pub const SERIES_INDEX_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'X'];
/// Length of the header.
pub const SERIES_INDEX_HEADER_LEN: usize = 64;
/// Offset of the store id in the header.
pub const SERIES_INDEX_STORE_ID_AT: usize = 8;
/// Size of a checksummed page, of the body and of `tags.series` (that of
/// the dictionary index).
pub const SERIES_INDEX_PAGE: usize = DICT_INDEX_PAGE;
/// Bytes per entry of the block table.
pub const SERIES_INDEX_BLOCK_LEN: usize = 32;
/// The version the header records (that of `tags.series`).
pub const SERIES_INDEX_VERSION: u16 = 5;

const H_NKEYS: usize = 6;
const H_COUNT: usize = 12;
const H_SERIES_END: usize = 16;
const H_BLOCKS: usize = 24;
const H_VALUES: usize = 28;
const H_TAGS: usize = 32;
const H_PAGE: usize = 36;
const H_VALUES_LEN: usize = 40;
const H_TABLE_CRC: usize = 44;
const H_CRC: usize = SERIES_INDEX_HEADER_LEN - 4;

/// A block of `tags.series`, as the index records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedBlock {
    /// Its offset in `tags.series`.
    pub offset: u64,
    /// The id of its first series.
    pub first_id: u32,
    /// Its number of series.
    pub count: u32,
    /// The label values the file defines before it.
    pub values_before: u32,
    /// Where its records start, from the block's start.
    pub records_rel: u32,
    /// The largest tag id its records name (0 when it has none).
    pub max_tag: u32,
    /// Its field widths, the tag's then each key's (1 to 4 each).
    pub widths: Vec<usize>,
}

/// The index of the series file `file` (its bytes below `series_end`, all of
/// them blocks that decode) of store `store_id`. `Err` when the header or a
/// block does not decode, a record names an undefined value, or a value is
/// defined twice: the offset is in `tags.series`.
pub fn encode_series_index(file: &[u8], store_id: u32) -> Result<Vec<u8>, DecodeError> {
    let (owner, nkeys) = decode_series_header(file)?;
    if owner != store_id {
        return Err(DecodeError::invalid(
            8,
            format!("the file belongs to store {owner:#010x}, not {store_id:#010x}"),
        ));
    }
    let mut blocks = Vec::new();
    let mut values_blob = Vec::new();
    let mut nvalues = 0u32;
    let mut per_key = vec![std::collections::HashSet::<&str>::new(); nkeys];
    let mut tags: Vec<u32> = Vec::new();
    let mut pos = SERIES_HEADER_LEN;
    while pos < file.len() {
        let b = decode_series_block(&file[pos..], nkeys).map_err(|e| e.at_base(pos as u64))?;
        let values_before = nvalues;
        for &(k, v) in &b.values {
            if !per_key[k].insert(v) {
                return Err(DecodeError::invalid(
                    pos as u64,
                    format!("label value {v:?} of key {k} defined twice"),
                ));
            }
            values_blob.push(k as u8);
            values_blob.push(v.len() as u8);
            values_blob.extend_from_slice(v.as_bytes());
            nvalues += 1;
        }
        let max = b.field_max();
        let count = b.count();
        if count > 0 {
            if let Some(k) = (0..nkeys).find(|&k| max[1 + k] as usize >= per_key[k].len()) {
                return Err(DecodeError::invalid(
                    pos as u64,
                    format!(
                        "a series names value {} of key {k}, which has fewer",
                        max[1 + k]
                    ),
                ));
            }
        }
        let first_id = tags.len() as u32;
        let mut vals = [0u32; MAX_LABEL_KEYS];
        for i in 0..count {
            tags.push(b.record(i, &mut vals[..nkeys]));
        }
        if tags.len() >= u32::MAX as usize {
            return Err(DecodeError::invalid(pos as u64, "more than 2³² − 1 series"));
        }
        blocks.push(IndexedBlock {
            offset: pos as u64,
            first_id,
            count: count as u32,
            values_before,
            records_rel: b.records_at as u32,
            max_tag: max[0],
            widths: b.widths.clone(),
        });
        pos += b.len;
    }
    let ntags = tags.iter().max().map_or(0, |&m| m as usize + 1);
    // Counting sort by tag: ids stay ascending within a tag.
    let mut starts = vec![0u32; ntags + 1];
    for &t in &tags {
        starts[t as usize + 1] += 1;
    }
    for i in 0..ntags {
        starts[i + 1] += starts[i];
    }
    let mut next = starts.clone();
    let mut by_tag = vec![0u32; tags.len()];
    for (id, &t) in tags.iter().enumerate() {
        by_tag[next[t as usize] as usize] = id as u32;
        next[t as usize] += 1;
    }
    let mut body = Vec::with_capacity(
        blocks.len() * SERIES_INDEX_BLOCK_LEN
            + values_blob.len()
            + 4 * (starts.len() + by_tag.len() + file.len().div_ceil(SERIES_INDEX_PAGE)),
    );
    for b in &blocks {
        let mut e = [0u8; SERIES_INDEX_BLOCK_LEN];
        LittleEndian::write_u64(&mut e[0..8], b.offset);
        LittleEndian::write_u32(&mut e[8..12], b.first_id);
        LittleEndian::write_u32(&mut e[12..16], b.count);
        LittleEndian::write_u32(&mut e[16..20], b.values_before);
        LittleEndian::write_u32(&mut e[20..24], b.records_rel);
        LittleEndian::write_u32(&mut e[24..28], b.max_tag);
        let packed = b
            .widths
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &w)| acc | ((w as u32 - 1) << (2 * i)));
        LittleEndian::write_u32(&mut e[28..32], packed);
        body.extend_from_slice(&e);
    }
    body.extend_from_slice(&values_blob);
    for v in starts.iter().chain(&by_tag) {
        body.extend_from_slice(&v.to_le_bytes());
    }
    for page in file.chunks(SERIES_INDEX_PAGE) {
        body.extend_from_slice(&crc32(page).to_le_bytes());
    }
    let mut out = vec![0u8; SERIES_INDEX_HEADER_LEN];
    out.extend_from_slice(&body);
    let table_at = out.len();
    for page in body.chunks(SERIES_INDEX_PAGE) {
        out.extend_from_slice(&crc32(page).to_le_bytes());
    }
    let table_crc = crc32(&out[table_at..]);
    let h = &mut out[..SERIES_INDEX_HEADER_LEN];
    h[..4].copy_from_slice(&SERIES_INDEX_MAGIC);
    LittleEndian::write_u16(&mut h[4..6], SERIES_INDEX_VERSION);
    LittleEndian::write_u16(&mut h[H_NKEYS..], nkeys as u16);
    LittleEndian::write_u32(&mut h[SERIES_INDEX_STORE_ID_AT..], store_id);
    LittleEndian::write_u32(&mut h[H_COUNT..], tags.len() as u32);
    LittleEndian::write_u64(&mut h[H_SERIES_END..], file.len() as u64);
    LittleEndian::write_u32(&mut h[H_BLOCKS..], blocks.len() as u32);
    LittleEndian::write_u32(&mut h[H_VALUES..], nvalues);
    LittleEndian::write_u32(&mut h[H_TAGS..], ntags as u32);
    LittleEndian::write_u32(&mut h[H_PAGE..], SERIES_INDEX_PAGE as u32);
    LittleEndian::write_u32(&mut h[H_VALUES_LEN..], values_blob.len() as u32);
    LittleEndian::write_u32(&mut h[H_TABLE_CRC..], table_crc);
    let crc = crc32(&h[..H_CRC]);
    LittleEndian::write_u32(&mut h[H_CRC..], crc);
    Ok(out)
}

/// A series index read in place. `bytes.as_ref()` must return the same
/// bytes on every call.
pub struct SeriesIndexView<B: AsRef<[u8]>> {
    bytes: B,
    nkeys: usize,
    store_id: u32,
    n: u32,
    series_end: u64,
    nblocks: u32,
    nvalues: u32,
    ntags: u32,
    values_len: usize,
    body_len: usize,
    /// One bit per body page: set once the page's CRC matched.
    checked: Vec<AtomicU64>,
}

impl<B: AsRef<[u8]>> std::fmt::Debug for SeriesIndexView<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesIndexView")
            .field("n", &self.n)
            .field("series_end", &self.series_end)
            .finish()
    }
}

impl<B: AsRef<[u8]>> SeriesIndexView<B> {
    /// Checks the header, the sizes against the bytes present and the page
    /// CRC table; reads no body page.
    pub fn open(bytes: B) -> Result<Self, DecodeError> {
        let buf = bytes.as_ref();
        super::check_file_header_versions(
            buf,
            SERIES_INDEX_MAGIC,
            SERIES_INDEX_HEADER_LEN,
            SERIES_INDEX_VERSION..=SERIES_INDEX_VERSION,
        )?;
        let u32_at = |at: usize| LittleEndian::read_u32(&buf[at..]);
        let nkeys = LittleEndian::read_u16(&buf[H_NKEYS..]) as usize;
        if !(1..=MAX_LABEL_KEYS).contains(&nkeys) {
            return Err(DecodeError::invalid(
                H_NKEYS as u64,
                format!("{nkeys} label keys, not 1 to {MAX_LABEL_KEYS}"),
            ));
        }
        let page = u32_at(H_PAGE);
        if page as usize != SERIES_INDEX_PAGE {
            return Err(DecodeError::invalid(
                H_PAGE as u64,
                format!("page size {page}, expected {SERIES_INDEX_PAGE}"),
            ));
        }
        if buf[H_TABLE_CRC + 4..H_CRC].iter().any(|&b| b != 0) {
            return Err(DecodeError::invalid(
                (H_TABLE_CRC + 4) as u64,
                "reserved bytes of the index header are not zero",
            ));
        }
        let (n, nblocks, nvalues, ntags) = (
            u32_at(H_COUNT),
            u32_at(H_BLOCKS),
            u32_at(H_VALUES),
            u32_at(H_TAGS),
        );
        let values_len = u32_at(H_VALUES_LEN);
        let series_end = LittleEndian::read_u64(&buf[H_SERIES_END..]);
        if series_end < SERIES_HEADER_LEN as u64 || series_end > u64::from(u32::MAX) << 8 {
            return Err(DecodeError::invalid(
                H_SERIES_END as u64,
                format!("series_end {series_end} is out of range"),
            ));
        }
        if n == u32::MAX || (n > 0 && ntags == 0) || ntags == u32::MAX {
            return Err(DecodeError::invalid(H_COUNT as u64, "counts out of range"));
        }
        // Every term is below 2^40: the sum fits in u64.
        let body_len = SERIES_INDEX_BLOCK_LEN as u64 * u64::from(nblocks)
            + u64::from(values_len)
            + 4 * (u64::from(ntags) + 1 + u64::from(n))
            + 4 * series_end.div_ceil(SERIES_INDEX_PAGE as u64);
        let pages = body_len.div_ceil(SERIES_INDEX_PAGE as u64);
        let want = SERIES_INDEX_HEADER_LEN as u64 + body_len + 4 * pages;
        if buf.len() as u64 != want {
            return Err(DecodeError::invalid(
                H_COUNT as u64,
                format!(
                    "the header describes a {want}-byte file but it has {} bytes",
                    buf.len()
                ),
            ));
        }
        let table_at = SERIES_INDEX_HEADER_LEN + body_len as usize;
        let stored = u32_at(H_TABLE_CRC);
        let computed = crc32(&buf[table_at..]);
        if stored != computed {
            return Err(DecodeError::new(
                table_at as u64,
                CorruptionKind::ChecksumMismatch { stored, computed },
            ));
        }
        Ok(SeriesIndexView {
            nkeys,
            store_id: u32_at(SERIES_INDEX_STORE_ID_AT),
            n,
            series_end,
            nblocks,
            nvalues,
            ntags,
            values_len: values_len as usize,
            body_len: body_len as usize,
            checked: page_bits(pages as usize),
            bytes,
        })
    }

    /// The store id the header records.
    pub fn store_id(&self) -> u32 {
        self.store_id
    }

    /// The store's number of label keys.
    pub fn nkeys(&self) -> usize {
        self.nkeys
    }

    /// Number of series covered (ids `0..len`).
    pub fn len(&self) -> u32 {
        self.n
    }

    /// True when no series is covered.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The end of the covered part of `tags.series`.
    pub fn series_end(&self) -> u64 {
        self.series_end
    }

    /// Number of label values the covered blocks define.
    pub fn value_count(&self) -> u32 {
        self.nvalues
    }

    /// `len` body bytes from body offset `at`, after checking the pages
    /// they touch.
    fn body(&self, at: usize, len: usize) -> Result<&[u8], DecodeError> {
        let buf = self.bytes.as_ref();
        let Some(end) = at.checked_add(len).filter(|&e| e <= self.body_len) else {
            return Err(DecodeError::invalid(
                (SERIES_INDEX_HEADER_LEN + at.min(self.body_len)) as u64,
                format!(
                    "a read of {len} bytes past the index's {}-byte body",
                    self.body_len
                ),
            ));
        };
        let table_at = SERIES_INDEX_HEADER_LEN + self.body_len;
        let body = &buf[SERIES_INDEX_HEADER_LEN..table_at];
        check_pages(
            &self.checked,
            body,
            at..end,
            |p| Ok(LittleEndian::read_u32(&buf[table_at + 4 * p..])),
            |lo, stored, computed| {
                DecodeError::new(
                    (SERIES_INDEX_HEADER_LEN + lo) as u64,
                    CorruptionKind::ChecksumMismatch { stored, computed },
                )
            },
        )?;
        Ok(&body[at..end])
    }

    fn values_at(&self) -> usize {
        SERIES_INDEX_BLOCK_LEN * self.nblocks as usize
    }

    fn starts_at(&self) -> usize {
        self.values_at() + self.values_len
    }

    fn by_tag_at(&self) -> usize {
        self.starts_at() + 4 * (self.ntags as usize + 1)
    }

    fn file_crcs_at(&self) -> usize {
        self.by_tag_at() + 4 * self.n as usize
    }

    /// The block table, checked for order and consistency: blocks in file
    /// order below `series_end`, ids consecutive from 0 to `len`, values
    /// defined before each within the values count, widths 1 to 4.
    pub fn blocks(&self) -> Result<Vec<IndexedBlock>, DecodeError> {
        let raw = self.body(0, self.values_at())?;
        let mut out = Vec::with_capacity(self.nblocks as usize);
        let (mut next_id, mut next_at, mut values) = (0u32, SERIES_HEADER_LEN as u64, 0u32);
        for (i, e) in raw.chunks_exact(SERIES_INDEX_BLOCK_LEN).enumerate() {
            let at = (SERIES_INDEX_HEADER_LEN + i * SERIES_INDEX_BLOCK_LEN) as u64;
            let bad = |why: &str| Err(DecodeError::invalid(at, format!("block {i}: {why}")));
            let packed = LittleEndian::read_u32(&e[28..32]);
            let widths: Vec<usize> = (0..=self.nkeys)
                .map(|k| ((packed >> (2 * k)) & 3) as usize + 1)
                .collect();
            let b = IndexedBlock {
                offset: LittleEndian::read_u64(&e[0..8]),
                first_id: LittleEndian::read_u32(&e[8..12]),
                count: LittleEndian::read_u32(&e[12..16]),
                values_before: LittleEndian::read_u32(&e[16..20]),
                records_rel: LittleEndian::read_u32(&e[20..24]),
                max_tag: LittleEndian::read_u32(&e[24..28]),
                widths,
            };
            if packed >> (2 * (self.nkeys + 1)) != 0 {
                return bad("width bits past the keys");
            }
            if b.offset != next_at || b.first_id != next_id || b.values_before < values {
                return bad("out of order");
            }
            // A block's records follow its header, its value count and its
            // widths.
            let least = super::series::SERIES_BLOCK_HEADER_LEN + 2 + self.nkeys;
            if (b.records_rel as usize) < least {
                return bad("its records start inside its header");
            }
            let width: u64 = b.widths.iter().sum::<usize>() as u64;
            let end = b.offset + u64::from(b.records_rel) + width * u64::from(b.count);
            if b.values_before > self.nvalues
                || end > self.series_end
                || (b.count > 0 && b.max_tag >= self.ntags)
            {
                return bad("out of range");
            }
            next_id = match next_id.checked_add(b.count) {
                Some(n) if n <= self.n => n,
                _ => return bad("more series than the index covers"),
            };
            next_at = end;
            values = b.values_before;
            out.push(b);
        }
        if next_id != self.n || next_at != self.series_end {
            return Err(DecodeError::invalid(
                H_COUNT as u64,
                "the blocks do not cover the series the header counts",
            ));
        }
        Ok(out)
    }

    /// The label values, in definition order: key index and value.
    pub fn values(&self) -> Result<Vec<(usize, &str)>, DecodeError> {
        let raw = self.body(self.values_at(), self.values_len)?;
        let base = (SERIES_INDEX_HEADER_LEN + self.values_at()) as u64;
        // Each value takes at least two bytes: no more room than the
        // section holds, whatever the header counts.
        let mut out = Vec::with_capacity((self.nvalues as usize).min(raw.len() / 2));
        let mut pos = 0;
        while pos < raw.len() {
            let bad = || DecodeError::invalid(base + pos as u64, "a label value does not decode");
            let (&k, &n) = (
                raw.get(pos).ok_or_else(bad)?,
                raw.get(pos + 1).ok_or_else(bad)?,
            );
            let v = raw.get(pos + 2..pos + 2 + n as usize).ok_or_else(bad)?;
            let v = std::str::from_utf8(v).map_err(|_| bad())?;
            if k as usize >= self.nkeys {
                return Err(bad());
            }
            out.push((k as usize, v));
            pos += 2 + n as usize;
        }
        if out.len() != self.nvalues as usize {
            return Err(DecodeError::invalid(
                H_VALUES as u64,
                format!(
                    "{} label values, the header counts {}",
                    out.len(),
                    self.nvalues
                ),
            ));
        }
        Ok(out)
    }

    /// The ids of tag `tag`'s covered series, ascending.
    pub fn series_of_tag(&self, tag: u32) -> Result<Vec<u32>, DecodeError> {
        if tag >= self.ntags {
            return Ok(Vec::new());
        }
        let s = self.body(self.starts_at() + 4 * tag as usize, 8)?;
        let (from, to) = (LittleEndian::read_u32(s), LittleEndian::read_u32(&s[4..]));
        if from > to || to > self.n {
            return Err(DecodeError::invalid(
                (SERIES_INDEX_HEADER_LEN + self.starts_at() + 4 * tag as usize) as u64,
                format!("tag {tag}'s series run from {from} to {to} of {}", self.n),
            ));
        }
        let ids = self.body(
            self.by_tag_at() + 4 * from as usize,
            4 * (to - from) as usize,
        )?;
        let ids: Vec<u32> = ids.chunks_exact(4).map(LittleEndian::read_u32).collect();
        if ids.windows(2).any(|w| w[0] >= w[1]) || ids.last().is_some_and(|&l| l >= self.n) {
            return Err(DecodeError::invalid(
                (SERIES_INDEX_HEADER_LEN + self.by_tag_at() + 4 * from as usize) as u64,
                format!(
                    "tag {tag}'s series ids are not ascending ids below {}",
                    self.n
                ),
            ));
        }
        Ok(ids)
    }

    /// The stored CRC of page `p` of `tags.series` (below `series_end`; a
    /// page past it is an error).
    pub fn file_page_crc(&self, p: usize) -> Result<u32, DecodeError> {
        let pages = self.series_end.div_ceil(SERIES_INDEX_PAGE as u64);
        if p as u64 >= pages {
            return Err(DecodeError::invalid(
                H_SERIES_END as u64,
                format!("page {p} of tags.series, which the index covers in {pages}"),
            ));
        }
        Ok(LittleEndian::read_u32(
            self.body(self.file_crcs_at() + 4 * p, 4)?,
        ))
    }

    /// Checks every body page now.
    pub fn check_every_page(&self) -> Result<(), DecodeError> {
        self.body(0, self.body_len).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::series::{encode_series_block, encode_series_header};

    fn file() -> Vec<u8> {
        let mut f = encode_series_header(9, 2);
        encode_series_block(
            2,
            &[(0, "ig"), (1, "paris")],
            &[5, 2, 5],
            &[0, 0, 0, 0, 0, 0],
            &mut f,
        );
        encode_series_block(2, &[(1, "rome")], &[300, 2], &[0, 1, 0, 1], &mut f);
        f
    }

    #[test]
    fn indexes_blocks_values_and_tags() {
        let f = file();
        let ix = encode_series_index(&f, 9).unwrap();
        let v = SeriesIndexView::open(&ix[..]).unwrap();
        assert_eq!(
            (v.len(), v.series_end(), v.store_id(), v.nkeys()),
            (5, f.len() as u64, 9, 2)
        );
        let blocks = v.blocks().unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            (blocks[1].first_id, blocks[1].count, blocks[1].max_tag),
            (3, 2, 300)
        );
        assert_eq!(blocks[1].widths, vec![2, 1, 1]);
        assert_eq!(
            v.values().unwrap(),
            vec![(0, "ig"), (1, "paris"), (1, "rome")]
        );
        assert_eq!(v.series_of_tag(5).unwrap(), vec![0, 2]);
        assert_eq!(v.series_of_tag(2).unwrap(), vec![1, 4]);
        assert_eq!(v.series_of_tag(300).unwrap(), vec![3]);
        assert_eq!(v.series_of_tag(299).unwrap(), Vec::<u32>::new());
        assert_eq!(v.series_of_tag(301).unwrap(), Vec::<u32>::new());
        assert_eq!(v.file_page_crc(0).unwrap(), crc32(&f));
        v.check_every_page().unwrap();
        // The wrong store, and a header-only file.
        assert!(encode_series_index(&f, 8).is_err());
        let empty = encode_series_index(&f[..SERIES_HEADER_LEN], 9).unwrap();
        let e = SeriesIndexView::open(&empty[..]).unwrap();
        assert_eq!((e.len(), e.blocks().unwrap().len()), (0, 0));
        assert_eq!(e.series_of_tag(0).unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn damage_is_found_where_it_is_read() {
        let f = file();
        let ix = encode_series_index(&f, 9).unwrap();
        // Every single-bit flip is refused at open or by the first read of
        // what it touched; none panics.
        for at in 0..ix.len() {
            let mut d = ix.clone();
            d[at] ^= 0x10;
            let Ok(v) = SeriesIndexView::open(&d[..]) else {
                continue;
            };
            assert!(
                v.check_every_page().is_err(),
                "a flip at byte {at} went unseen"
            );
            assert!(
                v.blocks().is_err()
                    || v.values().is_err()
                    || (0..=300).any(|t| v.series_of_tag(t).is_err()),
                "a flip at byte {at} was read as sound"
            );
        }
        // A truncated file is refused.
        assert!(SeriesIndexView::open(&ix[..ix.len() - 1]).is_err());
    }
}
