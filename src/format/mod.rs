//! Pure encode and decode of every on-disk structure of a store, over byte
//! slices: no files, no I/O. The `storage` layer reads and writes files and
//! attaches file names to the [`DecodeError`]s returned here.
//!
//! The file kinds, each with its own magic and format version
//! (`docs/format.md` is the byte-by-byte specification):
//!
//! - **Log segments** ([`log`]): a 64-byte file header, then an append-only
//!   sequence of checksummed columnar blocks, one per committed batch, each
//!   holding [`Cells`] (`(tag, time, count)` columns, [`cells`]) and an optional
//!   opaque source position. [`log::scan_log`] tells a torn tail from damage
//!   before valid data by the rule in [`scan`], which the dictionary shares.
//! - **Sealed segments** ([`segment`]; [`segment::builder`] writes,
//!   [`segment::view`] reads): immutable files of cells sorted by
//!   `(tag, time)` at one [`Resolution`], packed into varint-encoded groups of
//!   up to 64 tags with a fixed-width skip index at the end. Opening checks the
//!   header and the index only; each group's CRC is checked when it is read.
//! - **The tag dictionary** ([`dict`]): an append-only list of entries;
//!   entry `i` is the tag with id `i`. From version 4, entries are packed
//!   (a LEB128 length and kind, then the key) in blocks with one CRC each;
//!   before it, each entry carried its own length and CRC.
//! - **The dictionary index** ([`dict_index`], version 2 on): an immutable,
//!   mapped name → id and id → name index of the dictionary's first entries,
//!   with a CRC per 4 KiB page checked on first access.
//! - **The manifest** ([`manifest`]): the list of live files and the store's
//!   counters, rewritten whole and covered by one CRC.
//!
//! Common rules: every file starts with a 4-byte magic whose first byte is
//! `0xB7` (high bit set, never the first byte of valid UTF-8), then a `u16`
//! little-endian format version. All integers are little-endian with explicit
//! widths. A decoder checks every length against the bytes actually present
//! before slicing or allocating, never panics, and reports the offset (relative
//! to the start of the buffer it was given) and a [`CorruptionKind`].

use std::fmt;
use std::ops::RangeInclusive;

use byteorder::{ByteOrder, LittleEndian};

pub use crate::error::CorruptionKind;

pub mod cells;
pub mod dict;
pub mod dict_index;
pub mod log;
pub mod manifest;
pub mod scan;
pub mod segment;
pub mod series;
pub mod series_index;
pub mod varint;

pub use cells::{Cells, CountOverflow};
pub use dict::{encode_dict_entry, encode_dict_header, scan_dict, DictScan, DICT_HEADER_LEN};
pub use log::{
    decode_block, decode_log_header, encode_block, encode_log_header, encoded_block_len, scan_log,
    BlockView, LogScan, LOG_HEADER_LEN,
};
pub use manifest::{decode_manifest, encode_manifest, Manifest, SegmentEntry};
pub use scan::ScanEnd;
pub use segment::{
    encode_segment, try_encode_segment, SegmentBuildError, SegmentBuilder, SegmentMeta, SegmentView,
};

/// The oldest format version this build reads (all file kinds).
pub const MIN_VERSION: u16 = 1;
/// The newest format version this build reads (all file kinds).
pub const MAX_VERSION: u16 = 4;
/// The format version this build writes. Version 2 adds the dictionary index
/// file (`tags.idx`) and each sealed segment's stored tag totals; a version-1
/// store is read as it is and upgraded by its next seal or compaction.
/// Version 3 adds labels: the manifest lists the store's label keys and the
/// dictionary holds series keys (key kind 1) beside plain tags. Version 4
/// packs dictionary entries in blocks with one CRC each (8 bytes less per
/// tag), and the dictionary index checks `tags.dict` by page (layout 2).
pub const VERSION: u16 = 4;

/// Checks that a file records `expected` as the id of the store it belongs
/// to; `at` is the offset of the store id field in the file.
///
/// ```
/// use trendlog::format::{check_store_id, CorruptionKind};
/// assert!(check_store_id(7, 7, 24).is_ok());
/// let e = check_store_id(8, 7, 24).unwrap_err();
/// assert_eq!((e.offset, e.kind), (24, CorruptionKind::ForeignFile { expected: 7, found: 8 }));
/// ```
pub fn check_store_id(found: u32, expected: u32, at: u64) -> Result<(), DecodeError> {
    if found == expected {
        Ok(())
    } else {
        Err(DecodeError::new(
            at,
            CorruptionKind::ForeignFile { expected, found },
        ))
    }
}

/// A decoding failure: what was wrong and where, relative to the start of the
/// buffer handed to the decoder. The caller adds the file name (see
/// [`crate::error::Corruption`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the damaged structure, from the start of the decoded buffer.
    pub offset: u64,
    /// What was wrong.
    pub kind: CorruptionKind,
}

impl DecodeError {
    /// Builds an error at `offset`.
    pub fn new(offset: u64, kind: CorruptionKind) -> DecodeError {
        DecodeError { offset, kind }
    }

    /// Builds a [`CorruptionKind::Invalid`] error at `offset`.
    pub fn invalid(offset: u64, why: impl Into<String>) -> DecodeError {
        DecodeError::new(offset, CorruptionKind::Invalid(why.into()))
    }

    /// Builds a [`CorruptionKind::Truncated`] error at `offset`.
    pub fn truncated(offset: u64, needed: u64, available: u64) -> DecodeError {
        DecodeError::new(offset, CorruptionKind::Truncated { needed, available })
    }

    /// Shifts the offset by `base`, for errors found in a sub-slice.
    pub fn at_base(mut self, base: u64) -> DecodeError {
        self.offset = self.offset.saturating_add(base);
        self
    }

    /// Attaches a file name, producing the crate's public corruption record.
    pub fn in_file(self, file: impl Into<std::path::PathBuf>) -> crate::error::Corruption {
        crate::error::Corruption {
            file: file.into(),
            offset: self.offset,
            kind: self.kind,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for DecodeError {}

/// The time resolution of a sealed segment; a `u8` on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Resolution {
    /// Times are minutes since the epoch.
    Minute = 1,
    /// Times are hours since the epoch.
    Hour = 2,
}

impl Resolution {
    /// Decodes the on-disk byte; `None` for an unknown value.
    pub fn from_u8(v: u8) -> Option<Resolution> {
        match v {
            1 => Some(Resolution::Minute),
            2 => Some(Resolution::Hour),
            _ => None,
        }
    }

    /// The on-disk byte.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The first minute (since the epoch) of stored time `t`: `t` itself for
    /// minute resolution, `t * 60` for hours (saturating).
    #[inline]
    pub fn first_minute(self, t: u32) -> u32 {
        match self {
            Resolution::Minute => t,
            Resolution::Hour => t.saturating_mul(60),
        }
    }
}

/// The CRC32 (IEEE, as computed by `crc32fast`) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Rounds `n` up to a multiple of 8.
pub(crate) const fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

/// Checks a fixed-size file header laid out the same way in every version:
/// `magic` at 0, a `u16` version at 4, and a CRC32 of `buf[..crc_at]` stored
/// at `crc_at` (the last 4 bytes of a `header_len`-byte header); the version
/// must lie in `MIN_VERSION..=MAX_VERSION`, the range of every file kind
/// but the series file (see [`check_file_header_versions`]).
///
/// The order of checks is magic, length, CRC, version, so a damaged version
/// field reads as a checksum mismatch rather than as a file from the future.
/// Returns the version found.
pub(crate) fn check_file_header(
    buf: &[u8],
    magic: [u8; 4],
    header_len: usize,
) -> Result<u16, DecodeError> {
    check_file_header_versions(buf, magic, header_len, MIN_VERSION..=MAX_VERSION)
}

/// [`check_file_header`] for a file kind that has its own range of
/// `versions` (the series file exists from version 5 only).
pub(crate) fn check_file_header_versions(
    buf: &[u8],
    magic: [u8; 4],
    header_len: usize,
    versions: RangeInclusive<u16>,
) -> Result<u16, DecodeError> {
    let crc_at = header_len - 4;
    let prefix = buf.len().min(4);
    if buf[..prefix] != magic[..prefix] {
        return Err(DecodeError::new(0, CorruptionKind::BadMagic));
    }
    if buf.len() < header_len {
        return Err(DecodeError::truncated(
            0,
            header_len as u64,
            buf.len() as u64,
        ));
    }
    let stored = LittleEndian::read_u32(&buf[crc_at..header_len]);
    let computed = crc32(&buf[..crc_at]);
    if stored != computed {
        return Err(DecodeError::new(
            crc_at as u64,
            CorruptionKind::ChecksumMismatch { stored, computed },
        ));
    }
    let version = LittleEndian::read_u16(&buf[4..6]);
    check_version_in(version, 4, versions)?;
    Ok(version)
}

/// Accepts `found` if it lies in `MIN_VERSION..=MAX_VERSION`.
pub(crate) fn check_version(found: u16, offset: u64) -> Result<(), DecodeError> {
    check_version_in(found, offset, MIN_VERSION..=MAX_VERSION)
}

/// Accepts `found` if it lies in `versions`; the error names the range.
fn check_version_in(
    found: u16,
    offset: u64,
    versions: RangeInclusive<u16>,
) -> Result<(), DecodeError> {
    if versions.contains(&found) {
        Ok(())
    } else {
        Err(DecodeError::new(
            offset,
            CorruptionKind::UnsupportedVersion {
                found,
                min: *versions.start(),
                max: *versions.end(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_are_not_utf8_and_have_the_high_bit() {
        for magic in [
            log::LOG_MAGIC,
            log::BLOCK_MAGIC,
            segment::SEGMENT_MAGIC,
            dict::DICT_MAGIC,
            manifest::MANIFEST_MAGIC,
        ] {
            assert!(magic[0] & 0x80 != 0);
            assert!(std::str::from_utf8(&magic).is_err());
        }
    }

    #[test]
    fn resolution_bytes() {
        for r in [Resolution::Minute, Resolution::Hour] {
            assert_eq!(Resolution::from_u8(r.as_u8()), Some(r));
        }
        assert_eq!(Resolution::from_u8(0), None);
        assert_eq!(Resolution::from_u8(3), None);
    }
}
