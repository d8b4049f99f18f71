//! [`SegmentView`]: a sealed segment read in place; opening checks the header
//! and skip index, each group's CRC is checked when the group is first read
//! (every time by a scan; once per open file by tag lookups, which then keep
//! marks inside it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use parking_lot::RwLock;

use byteorder::{ByteOrder, LittleEndian};

use super::*;
use crate::format::varint::{get_u64, skip};
use crate::format::{check_file_header, crc32, CorruptionKind, DecodeError, Resolution};

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

impl GroupEntry {
    /// Reads an entry from its [`INDEX_ENTRY_LEN`] bytes.
    fn parse(e: &[u8]) -> GroupEntry {
        GroupEntry {
            first_tag: LittleEndian::read_u32(&e[0..4]),
            last_tag: LittleEndian::read_u32(&e[4..8]),
            base_time: LittleEndian::read_u32(&e[8..12]),
            len: LittleEndian::read_u32(&e[12..16]),
            offset: LittleEndian::read_u64(&e[16..24]),
            crc: LittleEndian::read_u32(&e[24..28]),
            tag_count: LittleEndian::read_u32(&e[28..32]),
        }
    }
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
/// sum of the counts of `tags[i]`. Read from the segment's totals section
/// (version 2) or derived from the cells (version 1) by
/// [`SegmentView::tag_totals`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TagTotals {
    /// Tag ids, strictly ascending.
    pub tags: Vec<u32>,
    /// The matching totals, each at least 1.
    pub totals: Vec<u64>,
}

/// Reads the tag head at `pos` of group `e`'s bytes, after `seen` tags of
/// which the last was `tag` (the group's first tag when `seen` is 0): the
/// head's tag and its number of cells. Checks that tags strictly ascend and
/// stay within the skip index's range.
#[inline]
fn next_head(
    bytes: &[u8],
    pos: &mut usize,
    tag: u64,
    seen: u32,
    e: &GroupEntry,
    bad: &impl Fn(usize, &str) -> DecodeError,
) -> Result<(u64, u64), DecodeError> {
    let at = *pos;
    let h = get_u64(bytes, pos).ok_or_else(|| bad(at, "bad tag varint"))?;
    let delta = h >> 2;
    if (seen == 0) != (delta == 0) {
        return Err(bad(at, "tag ids are not strictly ascending"));
    }
    let tag = tag + delta;
    if tag > u64::from(e.last_tag) {
        return Err(bad(at, "tag id beyond the group's last tag"));
    }
    let cells = match h & 3 {
        3 => get_u64(bytes, pos)
            .ok_or_else(|| bad(at, "bad cell count"))?
            .saturating_add(4),
        code => code + 1,
    };
    Ok((tag, cells))
}

/// The position just past `n` cells starting at `pos` (each cell a time
/// varint whose low bit, when clear, says a count varint follows), or `None`
/// when the bytes end first. Steps over the bytes without decoding values:
/// for the cells of tags a lookup passes by, whose group CRC already checked.
#[inline]
fn skip_cells(bytes: &[u8], mut pos: usize, n: u64) -> Option<usize> {
    for _ in 0..n {
        let odd = *bytes.get(pos)? & 1 == 1;
        skip(bytes, &mut pos)?;
        if !odd {
            skip(bytes, &mut pos)?;
        }
    }
    Some(pos)
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
    /// Where the groups end: the index offset, or (version 2) the start of
    /// the tag totals section.
    groups_end: u64,
    /// Version 2: the totals section's varints `[start, end)`; its CRC follows.
    stored_totals: Option<(usize, usize)>,
    /// Per-tag totals, kept from their second use ([`Self::for_each_tag_total`])
    /// or from the first call of [`Self::tag_totals`] for the view's life:
    /// the segment is immutable, so they never go stale.
    totals: OnceLock<TagTotals>,
    /// How many calls of [`Self::for_each_tag_total`] found no kept totals;
    /// only the first of them streams without keeping.
    streamed: AtomicU32,
    /// Marks inside the groups that tag lookups have read, by group number:
    /// built on a group's first lookup (which checks its CRC), so later
    /// lookups start at most [`MARK_EVERY`] − 1 tags before the one wanted.
    marks: RwLock<BTreeMap<u32, Box<[Mark]>>>,
}

/// A lookup's starting point inside a group: the head of its `seen`-th tag
/// (counting from 0), which is `tag`, at byte `pos` of the group, whose
/// previous tag is `prev` (`tag` itself for the group's first).
#[derive(Debug, Clone, Copy)]
struct Mark {
    tag: u32,
    prev: u32,
    pos: u32,
    seen: u32,
}

/// A tag head met by [`SegmentView::walk_heads`].
struct Head {
    tag: u32,
    prev: u32,
    /// Where the head starts in the group.
    at: usize,
    /// Tags of the group before this one.
    seen: u32,
    /// How many cells follow the head.
    cells: u64,
    group_offset: u64,
    group: u32,
}

impl Head {
    /// A structural error in this tag's cells.
    fn bad(&self, why: &str) -> DecodeError {
        DecodeError::invalid(
            self.group_offset + self.at as u64,
            format!("group {}: tag {}: {why}", self.group, self.tag),
        )
    }
}

/// A group gets a [`Mark`] at every this many tags: 16 marks (256 bytes) for
/// a full group of 64 tags, kept only for groups that lookups have read.
/// Every 16th tag made a lookup step over 7.5 tags' cells on average; every
/// 4th made `spread` of a labelled tag (150 series, 13 segments) about 25%
/// faster (docs/performance.md).
const MARK_EVERY: u32 = 4;

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
        let version = LittleEndian::read_u16(&buf[4..6]);
        let allowed = if version >= 2 { FLAG_TOTALS } else { 0 };
        if buf[H_FLAGS] & !allowed != 0 {
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
        // Version 2: the totals section ends at the index; the groups end
        // where it starts. Its bytes are read (and CRC-checked) on first use.
        let (groups_end, stored_totals) = if buf[H_FLAGS] & FLAG_TOTALS != 0 {
            let bad = || {
                DecodeError::invalid(
                    index_offset,
                    "the tag totals section does not fit before the skip index",
                )
            };
            let trailer_at = (index_offset as usize)
                .checked_sub(TOTALS_TRAILER_LEN)
                .filter(|&t| t >= SEGMENT_HEADER_LEN)
                .ok_or_else(bad)?;
            let len = LittleEndian::read_u32(&buf[trailer_at..]) as usize;
            let start = trailer_at
                .checked_sub(len)
                .filter(|&s| s >= SEGMENT_HEADER_LEN)
                .ok_or_else(bad)?;
            (start as u64, Some((start, trailer_at)))
        } else {
            (index_offset, None)
        };
        let view = SegmentView {
            bytes,
            meta,
            group_count,
            index_offset,
            groups_end,
            stored_totals,
            totals: OnceLock::new(),
            streamed: AtomicU32::new(0),
            marks: RwLock::new(BTreeMap::new()),
        };
        view.check_index()?;
        Ok(view)
    }

    /// Opens a segment whose header is damaged, for reading what its groups
    /// still hold (`trendlog::salvage`): the header is trusted for nothing
    /// but the store id (compared by the caller). The resolution is the
    /// caller's (the manifest's). The skip index is found from the file's
    /// end, as the one `32·G` bytes before the footer whose CRC the footer
    /// holds and whose first group starts right after the header; then it
    /// is checked as [`Self::open`] checks it, with no time bounds, and
    /// every group is still checked by its own CRC before it is decoded.
    /// The totals section, if any, is not read.
    ///
    /// # Errors
    /// When no such index is found (the footer or the index is damaged too).
    pub fn open_past_header(bytes: B, resolution: Resolution) -> Result<Self, DecodeError> {
        let buf = bytes.as_ref();
        let len = buf.len();
        let lost = || DecodeError::invalid(0, "no skip index whose CRC holds was found");
        if len < SEGMENT_HEADER_LEN + FOOTER_LEN || buf[len - 4..] != SEGMENT_MAGIC {
            return Err(lost());
        }
        let footer_at = len - FOOTER_LEN;
        let stored = LittleEndian::read_u32(&buf[footer_at..]);
        let first_group_at = |at: usize| {
            buf.get(at + 16..at + 24)
                .is_some_and(|o| LittleEndian::read_u64(o) == SEGMENT_HEADER_LEN as u64)
        };
        // The header's group count first; else every count whose index
        // would start with a group at the header's end.
        let from_header = LittleEndian::read_u32(&buf[H_GROUPS..]) as usize;
        let most = (footer_at - SEGMENT_HEADER_LEN) / INDEX_ENTRY_LEN;
        let group_count = std::iter::once(from_header)
            .chain((1..=most).rev())
            .filter(|&g| g >= 1 && g <= most)
            .find(|&g| {
                let at = footer_at - g * INDEX_ENTRY_LEN;
                first_group_at(at) && crc32(&buf[at..footer_at]) == stored
            })
            .ok_or_else(lost)?;
        let index_offset = (footer_at - group_count * INDEX_ENTRY_LEN) as u64;
        let index = &buf[index_offset as usize..footer_at];
        let entries: Vec<GroupEntry> = index
            .chunks_exact(INDEX_ENTRY_LEN)
            .map(GroupEntry::parse)
            .collect();
        let last = entries.last().ok_or_else(lost)?;
        let groups_end = last.offset.saturating_add(u64::from(last.len));
        if groups_end > index_offset {
            return Err(lost());
        }
        let meta = SegmentMeta {
            resolution,
            file_id: 0,
            store_id: LittleEndian::read_u32(&buf[H_STORE_ID..]),
            tag_count: entries
                .iter()
                .map(|e| e.tag_count)
                .fold(0, u32::saturating_add),
            cell_count: 0,
            min_time: 0,
            max_time: u32::MAX,
            total: 0,
            byte_len: len as u64,
        };
        let view = SegmentView {
            bytes,
            meta,
            group_count: group_count as u32,
            index_offset,
            groups_end,
            stored_totals: None,
            totals: OnceLock::new(),
            streamed: AtomicU32::new(0),
            marks: RwLock::new(BTreeMap::new()),
        };
        view.check_index()?;
        Ok(view)
    }

    fn check_index(&self) -> Result<(), DecodeError> {
        let mut expected_offset = SEGMENT_HEADER_LEN as u64;
        let mut prev_last: Option<u32> = None;
        let mut tags: u64 = 0;
        let index = self.slice(
            self.index_offset,
            u64::from(self.group_count) * INDEX_ENTRY_LEN as u64,
        )?;
        for (g, raw) in index.chunks_exact(INDEX_ENTRY_LEN).enumerate() {
            let e = GroupEntry::parse(raw);
            let at = self.entry_offset(g as u32);
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
        if expected_offset != self.groups_end || tags != u64::from(self.meta.tag_count) {
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
        Ok(GroupEntry::parse(self.slice(at, INDEX_ENTRY_LEN as u64)?))
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
    ///
    /// With `from = Some(mark)` (a mark of this group, which [`Self::marks_of`]
    /// made after checking the group's CRC), starts at the mark instead of
    /// the group's first byte and does not check the CRC again.
    #[inline]
    fn walk_group<F: FnMut(u32, u32, u64)>(
        &self,
        g: u32,
        want: Option<u32>,
        from: Option<Mark>,
        f: &mut F,
    ) -> Result<(bool, GroupStats), DecodeError> {
        let e = self.entry(g)?;
        let bytes = self.group_bytes(&e, from.is_none())?;
        let bad = |pos: usize, why: &str| {
            DecodeError::invalid(e.offset + pos as u64, format!("group {g}: {why}"))
        };
        let max_time = u64::from(self.meta.max_time);
        let mut stats = GroupStats {
            min_time: u32::MAX,
            ..GroupStats::default()
        };
        let (mut pos, mut tag, mut tags_seen) = match from {
            Some(m) => (m.pos as usize, u64::from(m.prev), m.seen),
            None => (0usize, u64::from(e.first_tag), 0u32),
        };
        while pos < bytes.len() {
            let at = pos;
            let n;
            (tag, n) = next_head(bytes, &mut pos, tag, tags_seen, &e, &bad)?;
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
            if want.is_some_and(|w| tag32 < w) {
                // A tag before the wanted one: step over its cells. The CRC
                // vouched for these bytes; the wanted tag's own cells below
                // get every check.
                pos = skip_cells(bytes, pos, n).ok_or_else(|| bad(pos, "bad cell varint"))?;
                continue;
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

    /// Group `g`'s bytes, its CRC checked when `check` is set.
    fn group_bytes(&self, e: &GroupEntry, check: bool) -> Result<&[u8], DecodeError> {
        let bytes = self.slice(e.offset, u64::from(e.len))?;
        if check {
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
        }
        Ok(bytes)
    }

    /// The last of group `g`'s marks at or before `tag` (the group's first
    /// tag is marked, then every [`MARK_EVERY`]th).
    fn mark_for(&self, g: u32, tag: u32) -> Result<Option<Mark>, DecodeError> {
        let last_at_or_before = |marks: &[Mark]| {
            let i = marks.partition_point(|m| m.tag <= tag);
            i.checked_sub(1).and_then(|i| marks.get(i)).copied()
        };
        if let Some(marks) = self.marks.read().get(&g) {
            return Ok(last_at_or_before(marks));
        }
        Ok(last_at_or_before(&self.marks_of(g)?))
    }

    /// Makes group `g`'s marks and keeps them: checks the group's CRC and
    /// walks its tag heads (their rules checked; cells stepped over).
    fn marks_of(&self, g: u32) -> Result<Box<[Mark]>, DecodeError> {
        let e = self.entry(g)?;
        // Every tag takes at least 2 bytes: no allocation beyond what the
        // group's bytes can hold, whatever its index entry claims.
        let most = e.tag_count.min(e.len / 2).div_ceil(MARK_EVERY) + 1;
        let mut marks = Vec::with_capacity(most as usize);
        self.walk_heads(g, &e, |h, bytes, pos| {
            if h.seen % MARK_EVERY == 0 {
                marks.push(Mark {
                    tag: h.tag,
                    prev: h.prev,
                    pos: h.at as u32,
                    seen: h.seen,
                });
            }
            *pos = skip_cells(bytes, *pos, h.cells).ok_or_else(|| h.bad("bad cell varint"))?;
            Ok(())
        })?;
        let marks: Box<[Mark]> = marks.into();
        self.marks.write().insert(g, marks.clone());
        Ok(marks)
    }

    /// Checks group `g`'s CRC and walks its tag heads, checking their rules
    /// (ids strictly ascending within the skip index's range, its tag count);
    /// `on_tag(head, group bytes, pos)` must move `pos` past the tag's cells.
    fn walk_heads(
        &self,
        g: u32,
        e: &GroupEntry,
        mut on_tag: impl FnMut(&Head, &[u8], &mut usize) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let bytes = self.group_bytes(e, true)?;
        let bad = |pos: usize, why: &str| {
            DecodeError::invalid(e.offset + pos as u64, format!("group {g}: {why}"))
        };
        let (mut pos, mut tag, mut seen) = (0usize, u64::from(e.first_tag), 0u32);
        while pos < bytes.len() {
            let at = pos;
            let prev = tag;
            let cells;
            (tag, cells) = next_head(bytes, &mut pos, tag, seen, e, &bad)?;
            if seen >= e.tag_count {
                return Err(bad(at, "more tags than the skip index says"));
            }
            // Fit in u32: tags are at most last_tag, positions below len.
            let head = Head {
                tag: tag as u32,
                prev: prev as u32,
                at,
                seen,
                cells,
                group_offset: e.offset,
                group: g,
            };
            on_tag(&head, bytes, &mut pos)?;
            seen += 1;
        }
        if seen != e.tag_count || tag != u64::from(e.last_tag) {
            return Err(bad(
                bytes.len(),
                "group ends before its last tag or with a different tag count",
            ));
        }
        Ok(())
    }

    /// Appends the `(time, count)` pairs of `tag` to `out`, in time order, and
    /// returns whether the tag is present. Finds the group by binary search
    /// over the skip index; the first lookup in a group checks its CRC (see
    /// [`Self::for_each_tag_cell`]); on error `out` is left
    /// as it was.
    pub fn tag_cells(&self, tag: u32, out: &mut Vec<(u32, u64)>) -> Result<bool, DecodeError> {
        let before = out.len();
        let r = self.for_each_tag_cell(tag, |time, count| out.push((time, count)));
        if r.is_err() {
            out.truncate(before);
        }
        r
    }

    /// Calls `f(time, count)` for each cell of `tag`, in time order, and
    /// returns whether the tag is present; as [`Self::tag_cells`], but on
    /// error `f` may already have seen some of the tag's cells.
    ///
    /// The first lookup in a group checks its CRC and keeps a few marks
    /// inside it (16 bytes per 4 tags); later lookups in that group start at
    /// the nearest mark.
    pub fn for_each_tag_cell(
        &self,
        tag: u32,
        mut f: impl FnMut(u32, u64),
    ) -> Result<bool, DecodeError> {
        // The first group whose first_tag is greater than `tag`.
        let index = self.slice(
            self.index_offset,
            u64::from(self.group_count) * INDEX_ENTRY_LEN as u64,
        )?;
        let first_tag = |g: usize| LittleEndian::read_u32(&index[g * INDEX_ENTRY_LEN..]);
        let (mut lo, mut hi) = (0usize, self.group_count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if first_tag(mid) <= tag {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(g) = lo.checked_sub(1).map(|g| g as u32) else {
            return Ok(false);
        };
        if self.entry(g)?.last_tag < tag {
            return Ok(false);
        }
        let from = self.mark_for(g, tag)?;
        let (found, _) =
            self.walk_group(g, Some(tag), from, &mut |_, time, count| f(time, count))?;
        Ok(found)
    }

    /// Calls `f(tag, time, count)` for every cell in `(tag, time)` order,
    /// checking each group's CRC before decoding it. On error, `f` may
    /// already have seen the cells of the groups before the damaged one.
    pub fn for_each_cell(&self, mut f: impl FnMut(u32, u32, u64)) -> Result<(), DecodeError> {
        for g in 0..self.group_count {
            self.walk_group(g, None, None, &mut f)?;
        }
        Ok(())
    }

    /// Appends the cells of group `g` to `out` as `(tag, time, count)`, in
    /// `(tag, time)` order, after checking the group's CRC; on error `out` is
    /// left as it was, so a reader can keep every group that decodes and
    /// leave out a damaged one (`trendlog::salvage`).
    pub fn group_cells(&self, g: u32, out: &mut Vec<(u32, u32, u64)>) -> Result<(), DecodeError> {
        let before = out.len();
        let r = self.walk_group(g, None, None, &mut |tag, time, count| {
            out.push((tag, time, count))
        });
        if r.is_err() {
            out.truncate(before);
        }
        r.map(|_| ())
    }

    /// Whether the segment stores its per-tag totals (a version-2 totals
    /// section); without it [`Self::tag_totals`] decodes every group.
    pub fn has_stored_totals(&self) -> bool {
        self.stored_totals.is_some()
    }

    /// Each tag's total over the whole segment. The first call reads the
    /// stored totals section (version 2; its CRC checked) or, for a version-1
    /// segment, decodes every group (checking their CRCs), and caches the
    /// result in the view, so later calls cost nothing: queries whose window covers a segment entirely
    /// (trending, top) read one total per tag instead of one cell per minute.
    /// Memory: 12 bytes per distinct tag of the segment, for the view's life.
    pub fn tag_totals(&self) -> Result<&TagTotals, DecodeError> {
        if let Some(t) = self.totals.get() {
            return Ok(t);
        }
        let t = match self.stored_totals {
            Some(section) => self.read_totals(section)?,
            None => self.compute_totals()?,
        };
        // A racing thread may have set it first; both computed the same.
        let _ = self.totals.set(t);
        Ok(self.totals.get().expect("set above"))
    }

    /// Calls `f(tag, total)` for each tag of the segment, in tag order: from
    /// the kept totals ([`Self::tag_totals`]) when there are any; otherwise
    /// the first call reads them (from the stored section, or computed from
    /// the cells) without keeping them (no allocation: a process that asks
    /// one question, like the command-line tool's, never pays for the 12
    /// bytes per tag), and a later call keeps them, as a service that asks
    /// again will.
    pub fn for_each_tag_total(&self, mut f: impl FnMut(u32, u64)) -> Result<(), DecodeError> {
        if self.totals.get().is_none() && self.streamed.fetch_add(1, Ordering::Relaxed) == 0 {
            return match self.stored_totals {
                Some(section) => self.walk_stored_totals(section, f),
                None => self.walk_totals(f),
            };
        }
        let t = self.tag_totals()?;
        for (&tag, &c) in t.tags.iter().zip(&t.totals) {
            f(tag, c);
        }
        Ok(())
    }

    /// Each tag's total, from the cells (see [`Self::walk_totals`]).
    fn compute_totals(&self) -> Result<TagTotals, DecodeError> {
        // Every tag takes at least 2 bytes: never reserve more entries than
        // the file could hold, whatever its header claims.
        let n = (self.meta.tag_count as usize).min(self.bytes.as_ref().len() / 2);
        let mut t = TagTotals {
            tags: Vec::with_capacity(n),
            totals: Vec::with_capacity(n),
        };
        self.walk_totals(|tag, c| {
            t.tags.push(tag);
            t.totals.push(c);
        })?;
        Ok(t)
    }

    /// Calls `f(tag, total)` for each tag, computed from the cells: every
    /// group's CRC and tag heads checked, each cell's count read (its time
    /// stepped over, as totals do not need it), the sum of each tag and of
    /// all equal to the header's total. `verify` decodes every cell in full
    /// besides. On error `f` may have seen some tags.
    fn walk_totals(&self, mut f: impl FnMut(u32, u64)) -> Result<(), DecodeError> {
        let mut grand = 0u64;
        for g in 0..self.group_count {
            let e = self.entry(g)?;
            self.walk_heads(g, &e, |h, bytes, pos| {
                let mut sum = 0u64;
                for _ in 0..h.cells {
                    let b = *bytes.get(*pos).ok_or_else(|| h.bad("bad cell varint"))?;
                    if b & 0x81 == 0x01 {
                        // The common cell: a one-byte time, count 1.
                        *pos += 1;
                        sum = sum
                            .checked_add(1)
                            .ok_or_else(|| h.bad("sum of counts overflows"))?;
                        continue;
                    }
                    skip(bytes, pos).ok_or_else(|| h.bad("bad cell varint"))?;
                    let count = if b & 1 == 1 {
                        1
                    } else {
                        get_u64(bytes, pos)
                            .and_then(|c| c.checked_add(2))
                            .ok_or_else(|| h.bad("bad count varint"))?
                    };
                    sum = sum
                        .checked_add(count)
                        .ok_or_else(|| h.bad("sum of counts overflows"))?;
                }
                grand = grand
                    .checked_add(sum)
                    .ok_or_else(|| h.bad("sum of counts overflows"))?;
                f(h.tag, sum);
                Ok(())
            })?;
        }
        if grand != self.meta.total {
            return Err(DecodeError::invalid(
                H_TOTAL as u64,
                format!(
                    "header says total {}; the cells add up to {grand}",
                    self.meta.total
                ),
            ));
        }
        Ok(())
    }

    /// Each tag's total, from the stored section `[start, end)`: its CRC,
    /// then exactly `tag_count` strictly ascending tags, no tag past the
    /// skip index's last one, totals adding up to the header's total.
    fn read_totals(&self, section: (usize, usize)) -> Result<TagTotals, DecodeError> {
        let n = self.meta.tag_count as usize;
        let mut t = TagTotals {
            tags: Vec::with_capacity(n.min(section.1 - section.0)),
            totals: Vec::with_capacity(n.min(section.1 - section.0)),
        };
        self.walk_stored_totals(section, |tag, c| {
            t.tags.push(tag);
            t.totals.push(c);
        })?;
        Ok(t)
    }

    /// Calls `f(tag, total)` for each entry of the stored section `[start,
    /// end)`, with the checks of [`Self::read_totals`]; on error `f` may have
    /// seen some entries.
    fn walk_stored_totals(
        &self,
        (start, end): (usize, usize),
        mut f: impl FnMut(u32, u64),
    ) -> Result<(), DecodeError> {
        let buf = self.bytes.as_ref();
        let body = &buf[start..end];
        let stored = LittleEndian::read_u32(&buf[end + 4..]);
        let computed = crc32(body);
        if stored != computed {
            return Err(DecodeError::new(
                end as u64 + 4,
                CorruptionKind::ChecksumMismatch { stored, computed },
            ));
        }
        let n = self.meta.tag_count as usize;
        let bad = |at: usize, why: &str| DecodeError::invalid((start + at) as u64, why);
        // Every tag costs at least two bytes: a count past that is a lie.
        if n > body.len() / 2 {
            return Err(bad(0, "more tags than the totals section can hold"));
        }
        let max_tag = u64::from(self.max_tag());
        let (mut pos, mut tag, mut sum, mut seen) = (0usize, 0u64, 0u64, 0usize);
        while pos < body.len() {
            let (delta, total) = match body.get(pos..pos + 2) {
                // The common pair: a small step to the next tag, a small
                // total, one byte each.
                Some(&[d, t]) if (d | t) & 0x80 == 0 => {
                    pos += 2;
                    (u64::from(d), u64::from(t))
                }
                _ => {
                    let at = pos;
                    let d = get_u64(body, &mut pos).ok_or_else(|| bad(at, "bad varint"))?;
                    let at = pos;
                    let t = get_u64(body, &mut pos).ok_or_else(|| bad(at, "bad varint"))?;
                    (d, t)
                }
            };
            if seen > 0 && delta == 0 {
                return Err(bad(pos, "tags not strictly ascending"));
            }
            tag = tag.saturating_add(delta);
            let total = total
                .checked_add(1)
                .ok_or_else(|| bad(pos, "total overflows"))?;
            sum = sum
                .checked_add(total)
                .ok_or_else(|| bad(pos, "totals overflow"))?;
            if tag > max_tag || seen == n {
                return Err(bad(pos, "tag totals name a tag the segment lacks"));
            }
            f(tag as u32, total);
            seen += 1;
        }
        if seen != n || sum != self.meta.total {
            return Err(bad(
                0,
                "tag totals do not match the header's tag count and total",
            ));
        }
        Ok(())
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
    /// add up to; in version 2, the stored tag totals equal the cells' totals.
    pub fn verify(&self) -> Result<(), DecodeError> {
        let mut cells = 0u64;
        let mut total = 0u64;
        let (mut lo, mut hi) = (u32::MAX, 0u32);
        for g in 0..self.group_count {
            let (_, s) = self.walk_group(g, None, None, &mut |_, _, _| {})?;
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
        if let Some(section) = self.stored_totals {
            let stored = self.read_totals(section)?;
            if stored != self.compute_totals()? {
                return Err(DecodeError::invalid(
                    section.0 as u64,
                    "the stored tag totals differ from the cells' totals",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
