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
//! read); each group's own CRC is checked when a scan decodes the group, and
//! on the first tag lookup in it (later lookups start from marks kept then).
//!
//! [`builder`] writes a segment, [`view`] reads one in place; the layout
//! constants and [`SegmentMeta`] here are shared by both.

use super::Resolution;

pub mod builder;
pub mod view;

pub use builder::{encode_segment, try_encode_segment, SegmentBuildError, SegmentBuilder};
pub use view::{SegmentView, TagTotals};

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
/// Header flag (version 2): a tag totals section lies between the last group
/// and the skip index.
pub const FLAG_TOTALS: u8 = 1;
/// Length of the trailer that ends the totals section: `u32` length of the
/// section's varints, `u32` CRC32 of them.
pub const TOTALS_TRAILER_LEN: usize = 8;
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
