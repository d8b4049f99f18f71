//! Sealed segments: immutable files of `(tag, time, count)` cells sorted by
//! `(tag, time)` at one [`Resolution`], built once ([`SegmentBuilder`]) and
//! read in place, typically from a read-only memory map ([`SegmentView`]).
//!
//! Layout: a 64-byte header, then **groups** of consecutive tags (at most 64
//! tags, closed early once a group passes about 4 KiB), then a **skip index**
//! with one fixed-width entry per group, then an 8-byte footer. Inside a group
//! everything is LEB128 varints:
//!
//! - per tag, `h = tag_delta << 2 | code` where `tag_delta` is the distance
//!   from the previous tag of the group (0 for the group's first tag, which is
//!   the index entry's `first_tag`) and `code` 0..=2 means 1..=3 cells, 3 means
//!   a varint `n_cells - 4` follows;
//! - per cell, `a = time_delta << 1 | (count == 1)`, then, when the low bit is
//!   0, a varint `count - 2`. A tag's first `time_delta` is relative to the
//!   group's `base_time` (stored in the index), later ones to the previous time.
//!
//! So a tag with one cell of count 1 costs 2 bytes. Opening checks the header
//! CRC, the skip index CRC and the index's shape (O(groups), no group bytes are
//! read); each group's own CRC is checked whenever that group is decoded.

use std::fmt;
use std::sync::OnceLock;

use byteorder::{ByteOrder, LittleEndian};

use super::varint::{get_u64, len_u64, put_u64};
use super::{check_file_header, crc32, CorruptionKind, DecodeError, Resolution, VERSION};

/// Magic of a sealed segment (at the start of the header and of the footer).
pub const SEGMENT_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'S'];
/// Length of the segment header; the first group starts here.
pub const SEGMENT_HEADER_LEN: usize = 64;
/// Length of one skip index entry.
pub const INDEX_ENTRY_LEN: usize = 32;
/// Length of the footer (skip index CRC, magic).
pub const FOOTER_LEN: usize = 8;
/// The most tags in one group.
pub const GROUP_MAX_TAGS: usize = 64;
/// A group is closed at the next tag once its estimated size reaches this.
pub const GROUP_TARGET_BYTES: usize = 4096;
/// The most cells one tag may have in one segment (keeps a group under 4 GiB).
pub const MAX_CELLS_PER_TAG: u32 = 1 << 27;

// Header field offsets.
const H_RES: usize = 6;
const H_FLAGS: usize = 7;
const H_FILE_ID: usize = 8;
const H_TAGS: usize = 16;
const H_GROUPS: usize = 20;
const H_CELLS: usize = 24;
const H_MIN: usize = 32;
const H_MAX: usize = 36;
const H_TOTAL: usize = 40;
const H_INDEX: usize = 48;
/// Offset of the store id in a segment header.
pub const SEGMENT_STORE_ID_AT: usize = 56;
const H_STORE_ID: usize = SEGMENT_STORE_ID_AT;

/// What the header of a segment says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentMeta {
    /// Minute or hour cells.
    pub resolution: Resolution,
    /// The segment's file id.
    pub file_id: u64,
    /// The id of the store the segment was written for (0 when built outside
    /// a store).
    pub store_id: u32,
    /// The number of distinct tags.
    pub tag_count: u32,
    /// The number of cells.
    pub cell_count: u64,
    /// The smallest time of any cell (0 when empty).
    pub min_time: u32,
    /// The largest time of any cell (0 when empty).
    pub max_time: u32,
    /// The sum of all counts.
    pub total: u64,
    /// The length of the encoded segment in bytes.
    pub byte_len: u64,
}

/// Why [`SegmentBuilder::push`] refused a cell; the builder is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentBuildError {
    /// `(tag, time)` is not strictly after the previous cell's key.
    OutOfOrder {
        /// The previous key.
        prev: (u32, u32),
        /// The refused key.
        next: (u32, u32),
    },
    /// A count of 0.
    ZeroCount {
        /// The cell's tag.
        tag: u32,
        /// The cell's time.
        time: u32,
    },
    /// Tag id `u32::MAX` is reserved.
    TagOutOfRange,
    /// The segment's total of counts would overflow `u64`.
    TotalOverflow,
    /// One tag has more than [`MAX_CELLS_PER_TAG`] cells.
    TooManyCells {
        /// The tag.
        tag: u32,
    },
}

impl fmt::Display for SegmentBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentBuildError::OutOfOrder { prev, next } => write!(
                f,
                "segment cells must be pushed in strictly ascending (tag, time) order: \
                 {next:?} came after {prev:?}"
            ),
            SegmentBuildError::ZeroCount { tag, time } => {
                write!(f, "the cell of tag {tag} at time {time} has a count of 0")
            }
            SegmentBuildError::TagOutOfRange => f.write_str("tag id u32::MAX is reserved"),
            SegmentBuildError::TotalOverflow => {
                f.write_str("the sum of all counts in the segment would overflow u64")
            }
            SegmentBuildError::TooManyCells { tag } => write!(
                f,
                "tag {tag} has more than {MAX_CELLS_PER_TAG} cells in one segment"
            ),
        }
    }
}

impl std::error::Error for SegmentBuildError {}

/// Encodes a sealed segment from cells pushed in `(tag, time)` order. Memory
/// use is the output plus one group.
#[derive(Debug)]
pub struct SegmentBuilder {
    resolution: Resolution,
    file_id: u64,
    store_id: u32,
    out: Vec<u8>,
    index: Vec<u8>,
    group_count: u32,
    /// Tags of the open group: (tag, number of cells).
    group_tags: Vec<(u32, u32)>,
    /// Cells of the open group, in order.
    group_cells: Vec<(u32, u64)>,
    group_est: usize,
    last: Option<(u32, u32)>,
    tag_count: u32,
    cell_count: u64,
    total: u64,
    min_time: u32,
    max_time: u32,
}

impl SegmentBuilder {
    /// A builder for segment `file_id` at `resolution`, with store id 0.
    pub fn new(resolution: Resolution, file_id: u64) -> SegmentBuilder {
        SegmentBuilder {
            resolution,
            file_id,
            store_id: 0,
            out: vec![0u8; SEGMENT_HEADER_LEN],
            index: Vec::new(),
            group_count: 0,
            group_tags: Vec::new(),
            group_cells: Vec::new(),
            group_est: 0,
            last: None,
            tag_count: 0,
            cell_count: 0,
            total: 0,
            min_time: u32::MAX,
            max_time: 0,
        }
    }

    /// Records `store_id` as the store the segment belongs to.
    pub fn for_store(mut self, store_id: u32) -> SegmentBuilder {
        self.store_id = store_id;
        self
    }

    /// Adds a cell. Cells must come in strictly ascending `(tag, time)` order,
    /// with `count >= 1` and `tag < u32::MAX`; a refused cell leaves the
    /// builder unchanged.
    pub fn push(&mut self, tag: u32, time: u32, count: u64) -> Result<(), SegmentBuildError> {
        if count == 0 {
            return Err(SegmentBuildError::ZeroCount { tag, time });
        }
        if tag == u32::MAX {
            return Err(SegmentBuildError::TagOutOfRange);
        }
        if let Some(prev) = self.last {
            if (tag, time) <= prev {
                return Err(SegmentBuildError::OutOfOrder {
                    prev,
                    next: (tag, time),
                });
            }
        }
        let total = self
            .total
            .checked_add(count)
            .ok_or(SegmentBuildError::TotalOverflow)?;
        let prev_in_tag = self.last.filter(|&(t, _)| t == tag).map(|(_, m)| m);
        match prev_in_tag {
            Some(_) => {
                let cur = self.group_tags.last().map_or(0, |&(_, n)| n);
                if cur >= MAX_CELLS_PER_TAG {
                    return Err(SegmentBuildError::TooManyCells { tag });
                }
            }
            None => {
                if self.group_tags.len() >= GROUP_MAX_TAGS || self.group_est >= GROUP_TARGET_BYTES {
                    self.flush_group();
                }
                self.group_tags.push((tag, 0));
                self.tag_count += 1;
                self.group_est += 2;
            }
        }
        if let Some(last) = self.group_tags.last_mut() {
            last.1 += 1;
        }
        self.group_est += match prev_in_tag {
            Some(p) => len_u64(u64::from(time - p) << 1),
            None => 1,
        } + if count == 1 { 0 } else { len_u64(count - 2) };
        self.group_cells.push((time, count));
        self.last = Some((tag, time));
        self.total = total;
        self.cell_count += 1;
        self.min_time = self.min_time.min(time);
        self.max_time = self.max_time.max(time);
        Ok(())
    }

    fn flush_group(&mut self) {
        let (Some(&(first_tag, _)), Some(&(last_tag, _))) =
            (self.group_tags.first(), self.group_tags.last())
        else {
            return;
        };
        let base = self.group_cells.iter().map(|&(t, _)| t).min().unwrap_or(0);
        let start = self.out.len();
        let mut prev_tag = first_tag;
        let mut cells = self.group_cells.iter();
        for &(tag, n) in &self.group_tags {
            let code = (n - 1).min(3);
            put_u64(
                &mut self.out,
                (u64::from(tag - prev_tag) << 2) | u64::from(code),
            );
            if code == 3 {
                put_u64(&mut self.out, u64::from(n - 4));
            }
            prev_tag = tag;
            let mut prev_time = base;
            for &(time, count) in cells.by_ref().take(n as usize) {
                let dt = u64::from(time - prev_time);
                put_u64(&mut self.out, (dt << 1) | u64::from(count == 1));
                if count != 1 {
                    put_u64(&mut self.out, count - 2);
                }
                prev_time = time;
            }
        }
        let len = self.out.len() - start;
        let mut e = [0u8; INDEX_ENTRY_LEN];
        LittleEndian::write_u32(&mut e[0..4], first_tag);
        LittleEndian::write_u32(&mut e[4..8], last_tag);
        LittleEndian::write_u32(&mut e[8..12], base);
        LittleEndian::write_u32(&mut e[12..16], len as u32);
        LittleEndian::write_u64(&mut e[16..24], start as u64);
        LittleEndian::write_u32(&mut e[24..28], crc32(&self.out[start..]));
        LittleEndian::write_u32(&mut e[28..32], self.group_tags.len() as u32);
        self.index.extend_from_slice(&e);
        self.group_count += 1;
        self.group_tags.clear();
        self.group_cells.clear();
        self.group_est = 0;
    }

    /// Writes the skip index, the footer and the header, and returns the
    /// encoded segment.
    pub fn finish(mut self) -> Vec<u8> {
        self.flush_group();
        let (min_time, max_time) = if self.cell_count == 0 {
            (0, 0)
        } else {
            (self.min_time, self.max_time)
        };
        let index_offset = self.out.len() as u64;
        let mut out = self.out;
        out.extend_from_slice(&self.index);
        let mut footer = [0u8; FOOTER_LEN];
        LittleEndian::write_u32(&mut footer[0..4], crc32(&self.index));
        footer[4..].copy_from_slice(&SEGMENT_MAGIC);
        out.extend_from_slice(&footer);
        let h = &mut out[..SEGMENT_HEADER_LEN];
        h[..4].copy_from_slice(&SEGMENT_MAGIC);
        LittleEndian::write_u16(&mut h[4..6], VERSION);
        h[H_RES] = self.resolution.as_u8();
        LittleEndian::write_u64(&mut h[H_FILE_ID..], self.file_id);
        LittleEndian::write_u32(&mut h[H_STORE_ID..], self.store_id);
        LittleEndian::write_u32(&mut h[H_TAGS..], self.tag_count);
        LittleEndian::write_u32(&mut h[H_GROUPS..], self.group_count);
        LittleEndian::write_u64(&mut h[H_CELLS..], self.cell_count);
        LittleEndian::write_u32(&mut h[H_MIN..], min_time);
        LittleEndian::write_u32(&mut h[H_MAX..], max_time);
        LittleEndian::write_u64(&mut h[H_TOTAL..], self.total);
        LittleEndian::write_u64(&mut h[H_INDEX..], index_offset);
        let crc = crc32(&h[..SEGMENT_HEADER_LEN - 4]);
        LittleEndian::write_u32(&mut h[SEGMENT_HEADER_LEN - 4..], crc);
        out
    }
}

/// Encodes a segment from cells in strictly ascending `(tag, time)` order.
///
/// # Panics
/// If a cell is refused by [`SegmentBuilder::push`] (out of order, count 0,
/// tag `u32::MAX`, total overflow). Use [`try_encode_segment`] to get the error.
pub fn encode_segment(
    resolution: Resolution,
    file_id: u64,
    cells: impl IntoIterator<Item = (u32, u32, u64)>,
) -> Vec<u8> {
    match try_encode_segment(resolution, file_id, cells) {
        Ok(v) => v,
        Err(e) => panic!("encode_segment: {e}"),
    }
}

/// Encodes a segment, or says which cell was refused.
pub fn try_encode_segment(
    resolution: Resolution,
    file_id: u64,
    cells: impl IntoIterator<Item = (u32, u32, u64)>,
) -> Result<Vec<u8>, SegmentBuildError> {
    let mut b = SegmentBuilder::new(resolution, file_id);
    for (tag, time, count) in cells {
        b.push(tag, time, count)?;
    }
    Ok(b.finish())
}

/// One skip index entry.
#[derive(Debug, Clone, Copy)]
struct GroupEntry {
    first_tag: u32,
    last_tag: u32,
    base_time: u32,
    len: u32,
    offset: u64,
    crc: u32,
    tag_count: u32,
}

/// What decoding a whole group found.
#[derive(Debug, Default)]
struct GroupStats {
    cells: u64,
    total: u64,
    min_time: u32,
    max_time: u32,
}

/// Each tag's total over a whole segment: `tags` ascending, `totals[i]` the
/// sum of the counts of `tags[i]`. Derived from the cells (not stored in the
/// file) by [`SegmentView::tag_totals`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TagTotals {
    /// Tag ids, strictly ascending.
    pub tags: Vec<u32>,
    /// The matching totals, each at least 1.
    pub totals: Vec<u64>,
}

/// A sealed segment read in place from any byte container (a memory map, a
/// `Vec<u8>`, a slice). `bytes.as_ref()` must return the same bytes on every
/// call.
#[derive(Debug)]
pub struct SegmentView<B: AsRef<[u8]>> {
    bytes: B,
    meta: SegmentMeta,
    group_count: u32,
    index_offset: u64,
    /// Per-tag totals, computed on first use and kept for the view's life:
    /// the segment is immutable, so they never go stale.
    totals: OnceLock<TagTotals>,
}

impl<B: AsRef<[u8]>> SegmentView<B> {
    /// Opens a segment, reading only its metadata: the header (CRC, version,
    /// field consistency), the footer, and the skip index (CRC and shape:
    /// contiguous groups covering exactly the data area, ascending disjoint
    /// tag ranges, tag counts adding up). Group bytes are not read.
    pub fn open(bytes: B) -> Result<Self, DecodeError> {
        let buf = bytes.as_ref();
        check_file_header(buf, SEGMENT_MAGIC, SEGMENT_HEADER_LEN)?;
        let resolution = Resolution::from_u8(buf[H_RES]).ok_or_else(|| {
            DecodeError::invalid(H_RES as u64, format!("unknown resolution {}", buf[H_RES]))
        })?;
        if buf[H_FLAGS] != 0 {
            return Err(DecodeError::invalid(
                H_FLAGS as u64,
                "unknown segment flags",
            ));
        }
        let meta = SegmentMeta {
            resolution,
            file_id: LittleEndian::read_u64(&buf[H_FILE_ID..]),
            store_id: LittleEndian::read_u32(&buf[H_STORE_ID..]),
            tag_count: LittleEndian::read_u32(&buf[H_TAGS..]),
            cell_count: LittleEndian::read_u64(&buf[H_CELLS..]),
            min_time: LittleEndian::read_u32(&buf[H_MIN..]),
            max_time: LittleEndian::read_u32(&buf[H_MAX..]),
            total: LittleEndian::read_u64(&buf[H_TOTAL..]),
            byte_len: buf.len() as u64,
        };
        let group_count = LittleEndian::read_u32(&buf[H_GROUPS..]);
        let index_offset = LittleEndian::read_u64(&buf[H_INDEX..]);
        let tags = u64::from(meta.tag_count);
        let groups = u64::from(group_count);
        let consistent = if meta.cell_count == 0 {
            tags == 0 && groups == 0 && meta.total == 0 && meta.min_time == 0 && meta.max_time == 0
        } else {
            groups >= 1
                && tags >= groups
                && meta.cell_count >= tags
                && meta.total >= meta.cell_count
                && meta.min_time <= meta.max_time
        };
        if !consistent {
            return Err(DecodeError::invalid(
                H_TAGS as u64,
                "segment header counts are inconsistent",
            ));
        }
        let expected_len = index_offset
            .checked_add(groups * INDEX_ENTRY_LEN as u64 + FOOTER_LEN as u64)
            .filter(|_| index_offset >= SEGMENT_HEADER_LEN as u64);
        match expected_len {
            Some(n) if n == buf.len() as u64 => {}
            Some(n) if n > buf.len() as u64 => {
                return Err(DecodeError::truncated(0, n, buf.len() as u64));
            }
            _ => {
                return Err(DecodeError::invalid(
                    H_INDEX as u64,
                    format!(
                        "index offset {index_offset} and {group_count} groups do not match \
                         a {}-byte segment",
                        buf.len()
                    ),
                ));
            }
        }
        let footer_at = buf.len() - FOOTER_LEN;
        if buf[footer_at + 4..] != SEGMENT_MAGIC {
            return Err(DecodeError::new(
                footer_at as u64 + 4,
                CorruptionKind::BadMagic,
            ));
        }
        let index = &buf[index_offset as usize..footer_at];
        let stored = LittleEndian::read_u32(&buf[footer_at..]);
        let computed = crc32(index);
        if stored != computed {
            return Err(DecodeError::new(
                footer_at as u64,
                CorruptionKind::ChecksumMismatch { stored, computed },
            ));
        }
        let view = SegmentView {
            bytes,
            meta,
            group_count,
            index_offset,
            totals: OnceLock::new(),
        };
        view.check_index()?;
        Ok(view)
    }

    fn check_index(&self) -> Result<(), DecodeError> {
        let mut expected_offset = SEGMENT_HEADER_LEN as u64;
        let mut prev_last: Option<u32> = None;
        let mut tags: u64 = 0;
        for g in 0..self.group_count {
            let e = self.entry(g)?;
            let at = self.entry_offset(g);
            // Saturating: an entry with first_tag > last_tag is refused below.
            let span = u64::from(e.last_tag).saturating_sub(u64::from(e.first_tag)) + 1;
            let ok = e.offset == expected_offset
                && e.len >= 1
                && e.first_tag <= e.last_tag
                && e.last_tag < u32::MAX
                && prev_last.is_none_or(|p| p < e.first_tag)
                && e.tag_count >= 1
                && u64::from(e.tag_count) <= span
                && (self.meta.min_time..=self.meta.max_time).contains(&e.base_time);
            if !ok {
                return Err(DecodeError::invalid(
                    at,
                    format!("skip index entry {g} is inconsistent"),
                ));
            }
            expected_offset += u64::from(e.len);
            prev_last = Some(e.last_tag);
            tags += u64::from(e.tag_count);
        }
        if expected_offset != self.index_offset || tags != u64::from(self.meta.tag_count) {
            return Err(DecodeError::invalid(
                self.index_offset,
                "the skip index does not cover the groups or the header's tag count",
            ));
        }
        Ok(())
    }

    /// The largest tag id in the segment (from the skip index; 0 when empty).
    pub fn max_tag(&self) -> u32 {
        match self.group_count.checked_sub(1) {
            Some(last) => self.entry(last).map_or(0, |e| e.last_tag),
            None => 0,
        }
    }

    /// What the header says about the segment.
    pub fn meta(&self) -> &SegmentMeta {
        &self.meta
    }

    /// The number of groups.
    pub fn group_count(&self) -> u32 {
        self.group_count
    }

    /// The underlying bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    fn entry_offset(&self, g: u32) -> u64 {
        self.index_offset + u64::from(g) * INDEX_ENTRY_LEN as u64
    }

    fn entry(&self, g: u32) -> Result<GroupEntry, DecodeError> {
        let at = self.entry_offset(g);
        let e = self.slice(at, INDEX_ENTRY_LEN as u64)?;
        Ok(GroupEntry {
            first_tag: LittleEndian::read_u32(&e[0..4]),
            last_tag: LittleEndian::read_u32(&e[4..8]),
            base_time: LittleEndian::read_u32(&e[8..12]),
            len: LittleEndian::read_u32(&e[12..16]),
            offset: LittleEndian::read_u64(&e[16..24]),
            crc: LittleEndian::read_u32(&e[24..28]),
            tag_count: LittleEndian::read_u32(&e[28..32]),
        })
    }

    fn slice(&self, at: u64, len: u64) -> Result<&[u8], DecodeError> {
        let buf = self.bytes.as_ref();
        usize::try_from(at)
            .ok()
            .zip(usize::try_from(at.saturating_add(len)).ok())
            .and_then(|(a, b)| buf.get(a..b))
            .ok_or_else(|| DecodeError::truncated(at, at.saturating_add(len), buf.len() as u64))
    }

    /// Checks group `g`'s CRC and decodes it, calling `f` for each cell. With
    /// `want = Some(tag)`, calls `f` only for that tag's cells and stops after
    /// them; returns whether the tag was found. Every structural rule is
    /// checked on the bytes decoded.
    #[inline]
    fn walk_group<F: FnMut(u32, u32, u64)>(
        &self,
        g: u32,
        want: Option<u32>,
        f: &mut F,
    ) -> Result<(bool, GroupStats), DecodeError> {
        let e = self.entry(g)?;
        let bytes = self.slice(e.offset, u64::from(e.len))?;
        let computed = crc32(bytes);
        if computed != e.crc {
            return Err(DecodeError::new(
                e.offset,
                CorruptionKind::ChecksumMismatch {
                    stored: e.crc,
                    computed,
                },
            ));
        }
        let bad = |pos: usize, why: &str| {
            DecodeError::invalid(e.offset + pos as u64, format!("group {g}: {why}"))
        };
        let max_time = u64::from(self.meta.max_time);
        let mut pos = 0usize;
        let mut stats = GroupStats {
            min_time: u32::MAX,
            ..GroupStats::default()
        };
        let mut tag = u64::from(e.first_tag);
        let mut tags_seen = 0u32;
        while pos < bytes.len() {
            let at = pos;
            let h = get_u64(bytes, &mut pos).ok_or_else(|| bad(at, "bad tag varint"))?;
            let delta = h >> 2;
            if (tags_seen == 0) != (delta == 0) {
                return Err(bad(at, "tag ids are not strictly ascending"));
            }
            tag += delta;
            if tag > u64::from(e.last_tag) {
                return Err(bad(at, "tag id beyond the group's last tag"));
            }
            let code = h & 3;
            let n = if code < 3 {
                code + 1
            } else {
                let extra = get_u64(bytes, &mut pos).ok_or_else(|| bad(at, "bad cell count"))?;
                extra.saturating_add(4)
            };
            if n > (bytes.len() - pos) as u64 {
                return Err(bad(at, "cell count exceeds the group's bytes"));
            }
            tags_seen += 1;
            if tags_seen > e.tag_count {
                return Err(bad(at, "more tags than the skip index says"));
            }
            let tag32 = tag as u32;
            let selected = want.is_none_or(|w| w == tag32);
            if want.is_some_and(|w| w < tag32) {
                return Ok((false, stats));
            }
            let mut time = u64::from(e.base_time);
            for i in 0..n {
                let cat = pos;
                let a = get_u64(bytes, &mut pos).ok_or_else(|| bad(cat, "bad cell varint"))?;
                let dt = a >> 1;
                if i > 0 && dt == 0 {
                    return Err(bad(cat, "times of a tag are not strictly ascending"));
                }
                time += dt;
                if time > max_time {
                    return Err(bad(cat, "time beyond the segment's max_time"));
                }
                let count = if a & 1 == 1 {
                    1
                } else {
                    get_u64(bytes, &mut pos)
                        .and_then(|c| c.checked_add(2))
                        .ok_or_else(|| bad(cat, "bad count varint"))?
                };
                let time32 = time as u32;
                stats.cells += 1;
                stats.total = stats
                    .total
                    .checked_add(count)
                    .ok_or_else(|| bad(cat, "sum of counts overflows"))?;
                stats.min_time = stats.min_time.min(time32);
                stats.max_time = stats.max_time.max(time32);
                if selected {
                    f(tag32, time32, count);
                }
            }
            if want == Some(tag32) {
                return Ok((true, stats));
            }
        }
        if tags_seen != e.tag_count || tag != u64::from(e.last_tag) {
            return Err(bad(
                bytes.len(),
                "group ends before its last tag or with a different tag count",
            ));
        }
        if stats.min_time != e.base_time {
            return Err(bad(0, "group base time is not its smallest time"));
        }
        Ok((false, stats))
    }

    /// Appends the `(time, count)` pairs of `tag` to `out`, in time order, and
    /// returns whether the tag is present. Finds the group by binary search
    /// over the skip index and checks that group's CRC; on error `out` is left
    /// as it was.
    pub fn tag_cells(&self, tag: u32, out: &mut Vec<(u32, u64)>) -> Result<bool, DecodeError> {
        // The first group whose first_tag is greater than `tag`.
        let (mut lo, mut hi) = (0u32, self.group_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid)?.first_tag <= tag {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(g) = lo.checked_sub(1) else {
            return Ok(false);
        };
        if self.entry(g)?.last_tag < tag {
            return Ok(false);
        }
        let before = out.len();
        let r = self.walk_group(g, Some(tag), &mut |_, time, count| out.push((time, count)));
        match r {
            Ok((found, _)) => Ok(found),
            Err(e) => {
                out.truncate(before);
                Err(e)
            }
        }
    }

    /// Calls `f(tag, time, count)` for every cell in `(tag, time)` order,
    /// checking each group's CRC before decoding it. On error, `f` may
    /// already have seen the cells of the groups before the damaged one.
    pub fn for_each_cell(&self, mut f: impl FnMut(u32, u32, u64)) -> Result<(), DecodeError> {
        for g in 0..self.group_count {
            self.walk_group(g, None, &mut f)?;
        }
        Ok(())
    }

    /// Each tag's total over the whole segment. The first call decodes every
    /// group (checking its CRC) and caches the result in the view, so later
    /// calls cost nothing: queries whose window covers a segment entirely
    /// (trending, top) read one total per tag instead of one cell per minute.
    /// Memory: 12 bytes per distinct tag of the segment, for the view's life.
    pub fn tag_totals(&self) -> Result<&TagTotals, DecodeError> {
        if let Some(t) = self.totals.get() {
            return Ok(t);
        }
        let n = self.meta.tag_count as usize;
        let mut t = TagTotals {
            tags: Vec::with_capacity(n),
            totals: Vec::with_capacity(n),
        };
        self.for_each_cell(|tag, _, count| {
            if t.tags.last() == Some(&tag) {
                if let Some(x) = t.totals.last_mut() {
                    // Cannot overflow: open() checked the header total, and
                    // each group walk checks its own sum.
                    *x = x.saturating_add(count);
                }
            } else {
                t.tags.push(tag);
                t.totals.push(count);
            }
        })?;
        // A racing thread may have set it first; both computed the same.
        let _ = self.totals.set(t);
        Ok(self.totals.get().expect("set above"))
    }

    /// Like [`SegmentView::for_each_cell`], for the cells with time in
    /// `[time_lo, time_hi)` only. Reads nothing when the range misses the
    /// segment's `[min_time, max_time]`.
    pub fn for_each_cell_in(
        &self,
        time_lo: u32,
        time_hi: u32,
        mut f: impl FnMut(u32, u32, u64),
    ) -> Result<(), DecodeError> {
        if self.meta.cell_count == 0
            || time_hi <= self.meta.min_time
            || time_lo > self.meta.max_time
        {
            return Ok(());
        }
        self.for_each_cell(|tag, time, count| {
            if (time_lo..time_hi).contains(&time) {
                f(tag, time, count);
            }
        })
    }

    /// The full structural check: every group's CRC, strictly ascending tags
    /// and times, counts at least 1, times within `[min_time, max_time]`, each
    /// group's tags and base time as the skip index says, and the header's
    /// cell count, tag count, total and time bounds equal to what the cells
    /// add up to.
    pub fn verify(&self) -> Result<(), DecodeError> {
        let mut cells = 0u64;
        let mut total = 0u64;
        let (mut lo, mut hi) = (u32::MAX, 0u32);
        for g in 0..self.group_count {
            let (_, s) = self.walk_group(g, None, &mut |_, _, _| {})?;
            cells += s.cells;
            total = total.checked_add(s.total).ok_or_else(|| {
                DecodeError::invalid(H_TOTAL as u64, "sum of counts overflows u64")
            })?;
            lo = lo.min(s.min_time);
            hi = hi.max(s.max_time);
        }
        if cells == 0 {
            (lo, hi) = (0, 0);
        }
        if cells != self.meta.cell_count
            || total != self.meta.total
            || (lo, hi) != (self.meta.min_time, self.meta.max_time)
        {
            return Err(DecodeError::invalid(
                H_CELLS as u64,
                format!(
                    "header says {} cells, total {}, times {}..={}; the groups hold {cells} cells, \
                     total {total}, times {lo}..={hi}",
                    self.meta.cell_count, self.meta.total, self.meta.min_time, self.meta.max_time
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> Vec<(u32, u32, u64)> {
        let mut v = Vec::new();
        for tag in 0..150u32 {
            let tag = tag * 3 + 1;
            for k in 0..(tag % 5 + 1) {
                let count = match k {
                    0 => 1,
                    1 => u64::from(tag) * 1000 + 2,
                    _ => u64::from(k),
                };
                v.push((tag, 28_000_000 + k * 7 + tag % 11, count));
            }
        }
        v.push((1_000_000, 28_000_100, u64::MAX - 1_000_000_000));
        v
    }

    fn collect<B: AsRef<[u8]>>(s: &SegmentView<B>) -> Vec<(u32, u32, u64)> {
        let mut got = Vec::new();
        s.for_each_cell(|a, b, c| got.push((a, b, c))).unwrap();
        got
    }

    #[test]
    fn store_id_is_recorded() {
        let mut b = SegmentBuilder::new(Resolution::Hour, 4).for_store(0x5EED_1D01);
        b.push(1, 2, 3).unwrap();
        let bytes = b.finish();
        let m = *SegmentView::open(&bytes[..]).unwrap().meta();
        assert_eq!((m.file_id, m.store_id, m.total), (4, 0x5EED_1D01, 3));
    }

    fn check_round_trip(cells: &[(u32, u32, u64)], res: Resolution) {
        let bytes = encode_segment(res, 9, cells.iter().copied());
        let s = SegmentView::open(&bytes[..]).unwrap();
        s.verify().unwrap();
        let m = s.meta();
        assert_eq!(m.resolution, res);
        assert_eq!((m.file_id, m.store_id), (9, 0));
        assert_eq!(m.cell_count, cells.len() as u64);
        assert_eq!(m.byte_len, bytes.len() as u64);
        assert_eq!(m.total, cells.iter().map(|c| c.2).sum::<u64>());
        assert_eq!(collect(&s), cells);
        let mut by_tag: std::collections::BTreeMap<u32, Vec<(u32, u64)>> = Default::default();
        for &(t, m, c) in cells {
            by_tag.entry(t).or_default().push((m, c));
        }
        assert_eq!(m.tag_count as usize, by_tag.len());
        for (&t, want) in &by_tag {
            let mut got = vec![(0, 0)];
            assert!(s.tag_cells(t, &mut got).unwrap());
            assert_eq!(&got[1..], &want[..]);
            for absent in [t.wrapping_sub(1), t + 1] {
                if !by_tag.contains_key(&absent) {
                    let mut none = Vec::new();
                    assert!(!s.tag_cells(absent, &mut none).unwrap());
                    assert!(none.is_empty());
                }
            }
        }
    }

    #[test]
    fn round_trips() {
        check_round_trip(&small(), Resolution::Minute);
        check_round_trip(&[], Resolution::Hour);
        check_round_trip(&[(0, 0, u64::MAX)], Resolution::Hour);
        check_round_trip(&[(u32::MAX - 1, u32::MAX, 1)], Resolution::Minute);
        let heavy: Vec<_> = (0..3u32)
            .flat_map(|t| (0..1440u32).map(move |m| (t, 5_000_000 + m, u64::from(m % 300) + 1)))
            .collect();
        check_round_trip(&heavy, Resolution::Minute);
        let many: Vec<_> = (0..1000u32).map(|t| (t * 1000, t % 60, 1)).collect();
        check_round_trip(&many, Resolution::Minute);
    }

    #[test]
    fn empty_segment() {
        let b = SegmentBuilder::new(Resolution::Minute, 1).finish();
        assert_eq!(b.len(), SEGMENT_HEADER_LEN + FOOTER_LEN);
        let s = SegmentView::open(b).unwrap();
        s.verify().unwrap();
        assert_eq!(s.meta().tag_count, 0);
        assert!(!s.tag_cells(0, &mut Vec::new()).unwrap());
        assert!(collect(&s).is_empty());
    }

    #[test]
    fn builder_refuses_bad_cells_and_stays_usable() {
        let mut b = SegmentBuilder::new(Resolution::Minute, 1);
        b.push(5, 10, 1).unwrap();
        assert!(matches!(
            b.push(5, 10, 1),
            Err(SegmentBuildError::OutOfOrder { .. })
        ));
        assert!(matches!(
            b.push(4, 99, 1),
            Err(SegmentBuildError::OutOfOrder { .. })
        ));
        assert!(matches!(
            b.push(6, 1, 0),
            Err(SegmentBuildError::ZeroCount { .. })
        ));
        assert_eq!(
            b.push(u32::MAX, 1, 1),
            Err(SegmentBuildError::TagOutOfRange)
        );
        b.push(6, 1, u64::MAX - 1).unwrap();
        assert_eq!(b.push(7, 1, 1), Err(SegmentBuildError::TotalOverflow));
        let s = SegmentView::open(b.finish()).unwrap();
        s.verify().unwrap();
        assert_eq!(collect(&s), vec![(5, 10, 1), (6, 1, u64::MAX - 1)]);
    }

    #[test]
    fn time_range_filter() {
        let cells = small();
        let bytes = encode_segment(Resolution::Minute, 1, cells.iter().copied());
        let s = SegmentView::open(&bytes).unwrap();
        let (lo, hi) = (28_000_005, 28_000_012);
        let mut got = Vec::new();
        s.for_each_cell_in(lo, hi, |a, b, c| got.push((a, b, c)))
            .unwrap();
        let want: Vec<_> = cells
            .iter()
            .copied()
            .filter(|c| (lo..hi).contains(&c.1))
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want);
        let mut none = 0;
        s.for_each_cell_in(0, 28_000_000, |_, _, _| none += 1)
            .unwrap();
        assert_eq!(none, 0);
    }

    /// Found by the `decode_segment` fuzz target once it recomputed CRCs: a
    /// skip index entry with `first_tag > last_tag` and a valid index CRC
    /// overflowed a subtraction (a panic in debug builds) before it was
    /// refused.
    #[test]
    fn index_entry_with_reversed_tag_range_is_refused() {
        let mut b = encode_segment(Resolution::Minute, 3, small());
        let index = LittleEndian::read_u64(&b[H_INDEX..]) as usize;
        LittleEndian::write_u32(&mut b[index..], u32::MAX - 1);
        let footer = b.len() - FOOTER_LEN;
        let crc = crc32(&b[index..footer]);
        LittleEndian::write_u32(&mut b[footer..], crc);
        let e = SegmentView::open(&b[..]).unwrap_err();
        assert!(matches!(e.kind, CorruptionKind::Invalid(_)), "{e:?}");
        assert_eq!(e.offset, index as u64);
    }

    fn detected(b: &[u8]) -> bool {
        match SegmentView::open(b) {
            Err(_) => true,
            Ok(s) => s.verify().is_err(),
        }
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        let b = encode_segment(Resolution::Minute, 3, small());
        assert!(b.len() < 4096, "{}", b.len());
        assert!(SegmentView::open(&b).unwrap().group_count() >= 2);
        for cut in 0..b.len() {
            assert!(SegmentView::open(&b[..cut]).is_err(), "cut {cut}");
        }
        for bit in 0..(b.len() * 8) {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(detected(&d), "flip {bit}");
        }
    }

    #[test]
    fn queries_check_the_group_they_read() {
        let b = encode_segment(Resolution::Minute, 3, small());
        let s = SegmentView::open(&b).unwrap();
        let e = s.entry(0).unwrap();
        let mut d = b.clone();
        d[e.offset as usize + 1] ^= 4;
        let s = SegmentView::open(&d).unwrap(); // opening reads metadata only
        let mut out = vec![(1, 1)];
        let err = s.tag_cells(e.first_tag, &mut out).unwrap_err();
        assert!(matches!(err.kind, CorruptionKind::ChecksumMismatch { .. }));
        assert_eq!(out, vec![(1, 1)]);
        assert!(s.for_each_cell(|_, _, _| {}).is_err());
        assert!(s.verify().is_err());
        // Another group is still readable.
        let last = s.entry(s.group_count() - 1).unwrap();
        assert!(s.tag_cells(last.last_tag, &mut Vec::new()).unwrap());
    }

    /// Rewrites the header after `edit` with a valid CRC, so deeper checks run.
    fn reseal_header(mut b: Vec<u8>, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
        edit(&mut b);
        let crc = crc32(&b[..SEGMENT_HEADER_LEN - 4]);
        LittleEndian::write_u32(&mut b[SEGMENT_HEADER_LEN - 4..SEGMENT_HEADER_LEN], crc);
        b
    }

    #[test]
    fn header_lies_are_caught() {
        let b = encode_segment(Resolution::Minute, 3, small());
        type Edit = Box<dyn Fn(&mut [u8])>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "total",
                Box::new(|h| {
                    let v = LittleEndian::read_u64(&h[H_TOTAL..]);
                    LittleEndian::write_u64(&mut h[H_TOTAL..], v - 1)
                }),
            ),
            (
                "cells",
                Box::new(|h| {
                    let v = LittleEndian::read_u64(&h[H_CELLS..]);
                    LittleEndian::write_u64(&mut h[H_CELLS..], v + 1)
                }),
            ),
            (
                "tags",
                Box::new(|h| {
                    let v = LittleEndian::read_u32(&h[H_TAGS..]);
                    LittleEndian::write_u32(&mut h[H_TAGS..], v + 1)
                }),
            ),
            (
                "min",
                Box::new(|h| LittleEndian::write_u32(&mut h[H_MIN..], 1)),
            ),
            (
                "max",
                Box::new(|h| LittleEndian::write_u32(&mut h[H_MAX..], u32::MAX)),
            ),
            (
                "groups",
                Box::new(|h| LittleEndian::write_u32(&mut h[H_GROUPS..], u32::MAX)),
            ),
            (
                "index",
                Box::new(|h| LittleEndian::write_u64(&mut h[H_INDEX..], u64::MAX - 3)),
            ),
            ("resolution", Box::new(|h| h[H_RES] = 0)),
        ];
        for (what, edit) in edits {
            let d = reseal_header(b.clone(), edit);
            assert!(detected(&d), "{what}");
        }
        let v3 = reseal_header(b.clone(), |h| LittleEndian::write_u16(&mut h[4..6], 3));
        assert_eq!(
            SegmentView::open(&v3).unwrap_err().kind,
            CorruptionKind::UnsupportedVersion {
                found: 3,
                min: 1,
                max: 2
            }
        );
    }

    #[test]
    fn hostile_group_bytes_with_valid_crcs_never_panic() {
        // Rewrite one group with arbitrary bytes and fix both CRCs, so the
        // decoder's structural checks (not the CRC) must reject it.
        let b = encode_segment(Resolution::Minute, 3, small());
        let s = SegmentView::open(&b).unwrap();
        let e = s.entry(0).unwrap();
        let (off, len) = (e.offset as usize, e.len as usize);
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..2000 {
            let mut d = b.clone();
            for byte in &mut d[off..off + len] {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                if round % 2 == 0 || rng.is_multiple_of(8) {
                    *byte = (rng >> 24) as u8;
                }
            }
            let crc = crc32(&d[off..off + len]);
            let idx = s.index_offset as usize;
            LittleEndian::write_u32(&mut d[idx + 24..idx + 28], crc);
            let footer = d.len() - FOOTER_LEN;
            let icrc = crc32(&d[idx..footer]);
            LittleEndian::write_u32(&mut d[footer..footer + 4], icrc);
            let v = SegmentView::open(&d).unwrap();
            let _ = v.verify();
            let _ = v.tag_cells(e.first_tag, &mut Vec::new());
            let _ = v.for_each_cell(|_, _, _| {});
        }
    }

    /// A realistic sample: one hour of minutes, 50,000 tags each seen at least
    /// once plus Zipf-distributed events, 150,000 cells.
    #[test]
    fn bytes_per_cell_on_a_zipf_hour() {
        let mut rng = 0x0123_4567_89AB_CDEFu64;
        let mut next = move || {
            rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        const TAGS: usize = 50_000;
        let mut cum = Vec::with_capacity(TAGS);
        let mut acc = 0.0f64;
        for r in 0..TAGS {
            acc += 1.0 / ((r + 1) as f64).powf(1.1);
            cum.push(acc);
        }
        // Rank -> tag id: a shuffled subset of a 120,000-entry dictionary.
        let mut ids: Vec<u32> = (0..120_000).collect();
        for i in (1..ids.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            ids.swap(i, j);
        }
        let mut map = std::collections::HashMap::new();
        let base = 29_000_000u32;
        // Every tag is seen at least once in the hour, the rest is Zipf.
        for &id in &ids[..TAGS] {
            let minute = base + (next() % 60) as u32;
            map.insert((id, minute), 1u64);
        }
        while map.len() < 150_000 {
            let u = (next() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            let r = cum.partition_point(|&c| c < u).min(TAGS - 1);
            let minute = base + (next() % 60) as u32;
            *map.entry((ids[r], minute)).or_insert(0u64) += 1;
        }
        let mut cells: Vec<_> = map.into_iter().map(|((t, m), c)| (t, m, c)).collect();
        cells.sort_unstable();
        let bytes = encode_segment(Resolution::Minute, 1, cells.iter().copied());
        let s = SegmentView::open(&bytes).unwrap();
        s.verify().unwrap();
        let m = s.meta();
        let per_cell = bytes.len() as f64 / cells.len() as f64;
        println!(
            "zipf hour: {} tags, {} cells, {} events, {} groups, {} bytes = {:.3} bytes/cell",
            m.tag_count,
            m.cell_count,
            m.total,
            s.group_count(),
            bytes.len(),
            per_cell
        );
        assert!(per_cell <= 3.0, "{per_cell} bytes per cell");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn prop_round_trip(
            raw in proptest::collection::btree_map(
                (0u32..5000, 0u32..3000),
                prop_oneof![Just(1u64), 1u64..300, Just(u64::MAX / 4096)],
                0..600,
            ),
            hour in any::<bool>(),
        ) {
            let cells: Vec<_> = raw.into_iter().map(|((t, m), c)| (t, m + 1_000_000, c)).collect();
            let res = if hour { Resolution::Hour } else { Resolution::Minute };
            check_round_trip(&cells, res);
        }
    }
}
