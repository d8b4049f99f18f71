//! Log segment files: the write-ahead, append-only columnar log (the file
//! header and its blocks).
//!
//! A log file is a 64-byte file header ([`encode_log_header`]) followed, from
//! offset 64, by blocks ([`encode_block`]), one per committed batch. Every
//! block starts at an 8-byte-aligned offset and its length is a multiple of 8.
//! A block holds [`Cells`] (columns of tag ids, times and counts, sorted by
//! `(tag, time)`) and an optional opaque source position, under one CRC32.
//!
//! [`decode_block`] checks one block and returns a zero-copy [`BlockView`];
//! [`scan_log`] walks a whole file and tells a clean end (zeros or end of
//! buffer), a torn tail (nothing valid after the damage) and damage before
//! valid data apart ([`ScanEnd`]).

use byteorder::{ByteOrder, LittleEndian};

pub use super::cells::{Cells, CountOverflow};
use super::scan::damage_end;
pub use super::scan::ScanEnd;
use super::{
    align8, check_file_header, check_version, crc32, CorruptionKind, DecodeError, VERSION,
};

/// Magic of a log file header.
pub const LOG_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'L'];
/// Magic at the start of every block.
pub const BLOCK_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'B'];
/// Length of the log file header; the first block starts here.
pub const LOG_HEADER_LEN: usize = 64;
/// Offset of the store id in a log file header.
pub const LOG_STORE_ID_AT: usize = 24;
/// Length of a block header (before the source position and the columns).
pub const BLOCK_HEADER_LEN: usize = 40;
/// The longest source position a block can carry.
pub const MAX_SOURCE_LEN: usize = 65_535;
/// The most cells one block can hold (its length must fit a `u32`).
pub const MAX_BLOCK_CELLS: usize = (u32::MAX as usize - BLOCK_HEADER_LEN - MAX_SOURCE_LEN - 7) / 16;

/// Block flag bit: a source position is present (possibly empty).
const FLAG_SOURCE: u16 = 1;

// Field offsets inside a block header.
const B_LEN: usize = 4;
const B_CRC: usize = 8;
const B_VERSION: usize = 12;
const B_FLAGS: usize = 14;
const B_COUNT: usize = 16;
const B_MIN: usize = 20;
const B_MAX: usize = 24;
const B_SRC_LEN: usize = 28;
const B_DURABLE: usize = 32;

/// Encodes the 64-byte header of log file `file_id`, with no recorded
/// capacity and store id 0.
pub fn encode_log_header(file_id: u64) -> [u8; LOG_HEADER_LEN] {
    encode_log_header_with(file_id, 0, 0)
}

/// A log file header recording the file's preallocated length `capacity`
/// (0 = not recorded), so a file found shorter was truncated, and the id of
/// the store the file belongs to.
pub fn encode_log_header_with(file_id: u64, capacity: u64, store_id: u32) -> [u8; LOG_HEADER_LEN] {
    let mut h = [0u8; LOG_HEADER_LEN];
    h[..4].copy_from_slice(&LOG_MAGIC);
    LittleEndian::write_u16(&mut h[4..6], VERSION);
    LittleEndian::write_u64(&mut h[8..16], file_id);
    LittleEndian::write_u64(&mut h[16..24], capacity);
    LittleEndian::write_u32(&mut h[LOG_STORE_ID_AT..LOG_STORE_ID_AT + 4], store_id);
    let crc = crc32(&h[..LOG_HEADER_LEN - 4]);
    LittleEndian::write_u32(&mut h[LOG_HEADER_LEN - 4..], crc);
    h
}

/// Decodes a log file header at the start of `buf` and returns its file id.
pub fn decode_log_header(buf: &[u8]) -> Result<u64, DecodeError> {
    check_file_header(buf, LOG_MAGIC, LOG_HEADER_LEN)?;
    if buf[6..8]
        .iter()
        .chain(&buf[LOG_STORE_ID_AT + 4..LOG_HEADER_LEN - 4])
        .any(|&b| b != 0)
    {
        return Err(DecodeError::invalid(
            6,
            "reserved bytes of the log header are not zero",
        ));
    }
    Ok(LittleEndian::read_u64(&buf[8..16]))
}

/// The preallocated length a valid log header records (0 = not recorded).
/// Call after [`decode_log_header`] succeeded.
pub fn log_header_capacity(buf: &[u8]) -> u64 {
    buf.get(16..24).map_or(0, LittleEndian::read_u64)
}

/// The store id a valid log header records. Call after [`decode_log_header`]
/// succeeded.
pub fn log_header_store_id(buf: &[u8]) -> u32 {
    buf.get(LOG_STORE_ID_AT..LOG_STORE_ID_AT + 4)
        .map_or(0, LittleEndian::read_u32)
}
/// The encoded length of a block of `n_cells` cells and a source position of
/// `source_len` bytes (0 when absent), padding included.
pub fn encoded_block_len(n_cells: usize, source_len: usize) -> usize {
    (BLOCK_HEADER_LEN + source_len + 16 * n_cells + 7) & !7
}

/// Appends one block holding `cells` and `source` to `out`.
///
/// The block's length is a multiple of 8; the caller places it at an
/// 8-byte-aligned file offset (offset 64 for the first block, then each block
/// right after the previous one). `cells` must satisfy the [`Cells`]
/// invariant (checked in debug builds; a block that breaks it is rejected by
/// [`decode_block`]).
///
/// # Panics
/// If `source` is longer than [`MAX_SOURCE_LEN`] bytes, if `cells` has more
/// than [`MAX_BLOCK_CELLS`] cells, or if its columns differ in length. Callers
/// validate these first.
pub fn encode_block(cells: &Cells, source: Option<&[u8]>, out: &mut Vec<u8>) {
    encode_block_with(cells, source, u64::MAX, out)
}

/// [`encode_block`], recording `durable_end`: the log offset up to which the
/// writer knew the log to be durable (fsynced) when it wrote this block.
/// [`scan_log`] uses it to tell unsynced writes lost out of order in a power
/// failure (a torn tail) from damage to data that was durable (corruption).
/// `u64::MAX` claims everything before the block was durable.
///
/// # Panics
/// As [`encode_block`].
pub fn encode_block_with(
    cells: &Cells,
    source: Option<&[u8]>,
    durable_end: u64,
    out: &mut Vec<u8>,
) {
    let n = cells.len();
    assert!(
        cells.times.len() == n && cells.counts.len() == n,
        "cell columns differ in length"
    );
    assert!(n <= MAX_BLOCK_CELLS, "too many cells for one block");
    let src = source.unwrap_or(&[]);
    assert!(
        src.len() <= MAX_SOURCE_LEN,
        "source position longer than 65535 bytes"
    );
    debug_assert!(
        cells.is_valid(),
        "cells are not sorted, unique and non-zero"
    );
    let total = encoded_block_len(n, src.len());
    let (min_time, max_time) = if n == 0 {
        (0, 0)
    } else {
        let min = cells.times.iter().copied().min().unwrap_or(0);
        let max = cells.times.iter().copied().max().unwrap_or(0);
        (min, max)
    };
    let start = out.len();
    out.reserve(total);
    let mut h = [0u8; BLOCK_HEADER_LEN];
    h[..4].copy_from_slice(&BLOCK_MAGIC);
    LittleEndian::write_u32(&mut h[B_LEN..], total as u32);
    LittleEndian::write_u16(&mut h[B_VERSION..], VERSION);
    let flags = if source.is_some() { FLAG_SOURCE } else { 0 };
    LittleEndian::write_u16(&mut h[B_FLAGS..], flags);
    LittleEndian::write_u32(&mut h[B_COUNT..], n as u32);
    LittleEndian::write_u32(&mut h[B_MIN..], min_time);
    LittleEndian::write_u32(&mut h[B_MAX..], max_time);
    LittleEndian::write_u32(&mut h[B_SRC_LEN..], src.len() as u32);
    LittleEndian::write_u64(&mut h[B_DURABLE..], durable_end);
    out.extend_from_slice(&h);
    out.extend_from_slice(src);
    let mut b4 = [0u8; 4];
    for &t in &cells.tags {
        LittleEndian::write_u32(&mut b4, t);
        out.extend_from_slice(&b4);
    }
    for &t in &cells.times {
        LittleEndian::write_u32(&mut b4, t);
        out.extend_from_slice(&b4);
    }
    let mut b8 = [0u8; 8];
    for &c in &cells.counts {
        LittleEndian::write_u64(&mut b8, c);
        out.extend_from_slice(&b8);
    }
    out.resize(start + total, 0);
    let crc = crc32(&out[start + B_VERSION..]);
    LittleEndian::write_u32(&mut out[start + B_CRC..start + B_CRC + 4], crc);
}

/// A decoded, fully checked block, borrowing the encoded bytes.
#[derive(Debug, Clone, Copy)]
pub struct BlockView<'a> {
    bytes: &'a [u8],
    n: u32,
    min_time: u32,
    max_time: u32,
    source: Option<&'a [u8]>,
    tags_at: usize,
}

impl<'a> BlockView<'a> {
    /// The number of cells.
    pub fn cell_count(&self) -> u32 {
        self.n
    }

    /// The smallest time of any cell (0 for a block without cells).
    pub fn min_time(&self) -> u32 {
        self.min_time
    }

    /// The largest time of any cell (0 for a block without cells).
    pub fn max_time(&self) -> u32 {
        self.max_time
    }

    /// The source position, or `None` when the block carries none.
    pub fn source(&self) -> Option<&'a [u8]> {
        self.source
    }

    /// How far the log was known durable when this block was written.
    pub fn durable_end(&self) -> u64 {
        LittleEndian::read_u64(&self.bytes[B_DURABLE..])
    }

    /// The block's length in bytes, padding included; the next block starts
    /// this many bytes after this one.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a block has at least its header. Present for symmetry
    /// with [`BlockView::len`].
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The tag id of cell `i`.
    ///
    /// # Panics
    /// If `i >= cell_count()`.
    pub fn tag(&self, i: usize) -> u32 {
        assert!(i < self.n as usize, "cell index out of range");
        let at = self.tags_at + 4 * i;
        LittleEndian::read_u32(&self.bytes[at..at + 4])
    }

    /// The time of cell `i`.
    ///
    /// # Panics
    /// If `i >= cell_count()`.
    pub fn time(&self, i: usize) -> u32 {
        assert!(i < self.n as usize, "cell index out of range");
        let at = self.tags_at + 4 * self.n as usize + 4 * i;
        LittleEndian::read_u32(&self.bytes[at..at + 4])
    }

    /// The count of cell `i`.
    ///
    /// # Panics
    /// If `i >= cell_count()`.
    pub fn count(&self, i: usize) -> u64 {
        assert!(i < self.n as usize, "cell index out of range");
        let at = self.tags_at + 8 * self.n as usize + 8 * i;
        LittleEndian::read_u64(&self.bytes[at..at + 8])
    }

    /// The cells as `(tag, time, count)` triples, in `(tag, time)` order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, u64)> + 'a {
        let n = self.n as usize;
        let cols = &self.bytes[self.tags_at..self.tags_at + 16 * n];
        let (tags, rest) = cols.split_at(4 * n);
        let (times, counts) = rest.split_at(4 * n);
        tags.chunks_exact(4)
            .zip(times.chunks_exact(4))
            .zip(counts.chunks_exact(8))
            .map(|((t, m), c)| {
                (
                    LittleEndian::read_u32(t),
                    LittleEndian::read_u32(m),
                    LittleEndian::read_u64(c),
                )
            })
    }

    /// Copies the cells out.
    pub fn to_cells(&self) -> Cells {
        let mut c = Cells::with_capacity(self.n as usize);
        for (tag, time, count) in self.iter() {
            c.tags.push(tag);
            c.times.push(time);
            c.counts.push(count);
        }
        c
    }
}

/// Decodes and checks the block at the start of `buf` (bytes after the block
/// are ignored).
///
/// Checks, in order: magic, length (a multiple of 8, at least the header, at
/// most `buf.len()`), CRC, version, flags, source length, that the length is
/// exactly what the cell count and source length need, zero padding, strictly
/// ascending `(tag, time)`, counts at least 1, and the header's min and max
/// time against the cells.
pub fn decode_block(buf: &[u8]) -> Result<BlockView<'_>, DecodeError> {
    let prefix = buf.len().min(4);
    if buf[..prefix] != BLOCK_MAGIC[..prefix] {
        return Err(DecodeError::new(0, CorruptionKind::BadMagic));
    }
    if buf.len() < BLOCK_HEADER_LEN {
        return Err(DecodeError::truncated(
            0,
            BLOCK_HEADER_LEN as u64,
            buf.len() as u64,
        ));
    }
    let total = LittleEndian::read_u32(&buf[B_LEN..]) as usize;
    if total < BLOCK_HEADER_LEN || !total.is_multiple_of(8) {
        return Err(DecodeError::invalid(
            B_LEN as u64,
            format!("block length {total} is not a multiple of 8 of at least {BLOCK_HEADER_LEN}"),
        ));
    }
    if total > buf.len() {
        return Err(DecodeError::truncated(0, total as u64, buf.len() as u64));
    }
    let bytes = &buf[..total];
    let stored = LittleEndian::read_u32(&bytes[B_CRC..]);
    let computed = crc32(&bytes[B_VERSION..]);
    if stored != computed {
        return Err(DecodeError::new(
            B_CRC as u64,
            CorruptionKind::ChecksumMismatch { stored, computed },
        ));
    }
    check_version(
        LittleEndian::read_u16(&bytes[B_VERSION..]),
        B_VERSION as u64,
    )?;
    let flags = LittleEndian::read_u16(&bytes[B_FLAGS..]);
    if flags & !FLAG_SOURCE != 0 {
        return Err(DecodeError::invalid(
            B_FLAGS as u64,
            format!("unknown block flags {flags:#06x}"),
        ));
    }
    let n = LittleEndian::read_u32(&bytes[B_COUNT..]);
    let min_time = LittleEndian::read_u32(&bytes[B_MIN..]);
    let max_time = LittleEndian::read_u32(&bytes[B_MAX..]);
    let src_len = LittleEndian::read_u32(&bytes[B_SRC_LEN..]);
    if src_len as usize > MAX_SOURCE_LEN || (flags & FLAG_SOURCE == 0 && src_len != 0) {
        return Err(DecodeError::invalid(
            B_SRC_LEN as u64,
            format!("source position length {src_len} is out of range"),
        ));
    }
    let used = BLOCK_HEADER_LEN as u64 + u64::from(src_len) + 16 * u64::from(n);
    if align8(used) != total as u64 {
        return Err(DecodeError::invalid(
            B_COUNT as u64,
            format!("block length {total} does not match {n} cells and a {src_len}-byte source"),
        ));
    }
    let used = used as usize;
    if let Some(i) = bytes[used..].iter().position(|&b| b != 0) {
        return Err(DecodeError::invalid(
            (used + i) as u64,
            "block padding is not zero",
        ));
    }
    let src_end = BLOCK_HEADER_LEN + src_len as usize;
    let source = (flags & FLAG_SOURCE != 0).then(|| &bytes[BLOCK_HEADER_LEN..src_end]);
    let view = BlockView {
        bytes,
        n,
        min_time,
        max_time,
        source,
        tags_at: src_end,
    };
    let mut prev: Option<(u32, u32)> = None;
    let (mut lo, mut hi) = (u32::MAX, 0u32);
    for (i, (tag, time, count)) in view.iter().enumerate() {
        if prev.is_some_and(|p| p >= (tag, time)) {
            return Err(DecodeError::invalid(
                (src_end + 4 * i) as u64,
                format!("cell {i} is not in strictly ascending (tag, time) order"),
            ));
        }
        if count == 0 {
            return Err(DecodeError::invalid(
                (src_end + 8 * n as usize + 8 * i) as u64,
                format!("cell {i} has a count of 0"),
            ));
        }
        prev = Some((tag, time));
        lo = lo.min(time);
        hi = hi.max(time);
    }
    if n == 0 {
        (lo, hi) = (0, 0);
    }
    if (lo, hi) != (min_time, max_time) {
        return Err(DecodeError::invalid(
            B_MIN as u64,
            format!(
                "block header says times {min_time}..={max_time} but its cells span {lo}..={hi}"
            ),
        ));
    }
    Ok(view)
}

/// The result of [`scan_log`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogScan {
    /// The file id from the header, or why the header is unusable. Blocks are
    /// scanned even when the header is damaged, so a report can say what is
    /// still readable.
    pub file_id: Result<u64, DecodeError>,
    /// The valid blocks, in file order: `(offset, length)`.
    pub blocks: Vec<(u64, u32)>,
    /// The end of the last valid block ([`LOG_HEADER_LEN`] when there is
    /// none; 0 when the buffer is shorter than the header).
    pub valid_end: u64,
    /// How the scan ended.
    pub end: ScanEnd,
}

/// Scans a whole log file: the header, then every block from offset 64.
///
/// The scan stops cleanly at the end of `buf` or at the first block offset
/// after which all bytes are zero. If the block at offset `X` fails to decode,
/// every later 8-aligned offset is tried for fully valid blocks: if one is
/// found at `Y` and some valid block after `X` records a
/// [`BlockView::durable_end`] past `X` (the log was fsynced beyond `X` before
/// it was written), the end is [`ScanEnd::Corrupt`] with
/// `DamageBeforeValidData { next_valid: Y }` at `X`; otherwise it is a
/// [`ScanEnd::TornTail`] at `X` (unsynced writes lost out of order). A buffer
/// shorter than the header ends as a torn tail at 0.
pub fn scan_log(buf: &[u8]) -> LogScan {
    let file_id = decode_log_header(buf);
    if buf.len() < LOG_HEADER_LEN {
        let kind = match &file_id {
            Err(e) => e.kind.clone(),
            Ok(_) => CorruptionKind::Truncated {
                needed: LOG_HEADER_LEN as u64,
                available: buf.len() as u64,
            },
        };
        return LogScan {
            file_id,
            blocks: Vec::new(),
            valid_end: 0,
            end: ScanEnd::TornTail { offset: 0, kind },
        };
    }
    let mut blocks = Vec::new();
    let mut pos = LOG_HEADER_LEN;
    let end = loop {
        let rest = &buf[pos..];
        if rest.iter().all(|&b| b == 0) {
            break ScanEnd::Clean;
        }
        match decode_block(rest) {
            Ok(view) => {
                blocks.push((pos as u64, view.len() as u32));
                pos += view.len();
            }
            Err(e) => break log_damage_end(buf, pos, e.kind),
        }
    };
    LogScan {
        file_id,
        blocks,
        valid_end: pos as u64,
        end,
    }
}

/// Decides what a block that fails to decode at `pos` means, by the shared
/// rule ([`damage_end`]): a later valid block proves damage to durable data
/// only if it records a [`BlockView::durable_end`] past `pos`.
fn log_damage_end(buf: &[u8], pos: usize, kind: CorruptionKind) -> ScanEnd {
    damage_end(buf, pos, 8, kind, |b| {
        decode_block(b).ok().map(|v| (v.len(), v.durable_end()))
    })
}

/// Every block of a log buffer at or after `pos` that decodes fully, with its
/// offset, including blocks after damage: a valid block is stepped over
/// whole, anything else is searched past at every 8-aligned offset.
pub fn blocks_from(buf: &[u8], pos: usize) -> impl Iterator<Item = (u64, BlockView<'_>)> {
    let mut q = pos;
    std::iter::from_fn(move || {
        while q < buf.len() {
            match decode_block(&buf[q..]) {
                Ok(v) => {
                    let at = q;
                    q += v.len();
                    return Some((at as u64, v));
                }
                Err(_) => q += 8,
            }
        }
        None
    })
}

/// Decides between a torn tail and damage before valid data, for a structure
/// at `pos` that failed with `kind`: tries every later 8-aligned offset with
#[cfg(test)]
mod tests {
    use super::*;

    fn sample_cells(seed: u32, n: u32) -> Cells {
        let mut c = Cells::new();
        for i in 0..n {
            c.push(seed + i / 3, 1000 + i % 3, u64::from(i) * 7 + 1);
        }
        c
    }

    type Parts = Vec<(Cells, Option<Vec<u8>>)>;

    fn sample_log() -> (Vec<u8>, Parts) {
        let parts = vec![
            (sample_cells(1, 5), Some(b"kafka:0:17".to_vec())),
            (sample_cells(40, 0), Some(b"kafka:0:18".to_vec())),
            (sample_cells(7, 9), None),
        ];
        let mut log = encode_log_header(42).to_vec();
        for (c, s) in &parts {
            encode_block(c, s.as_deref(), &mut log);
        }
        (log, parts)
    }

    #[test]
    fn log_header_round_trip() {
        let h = encode_log_header(0xDEAD_BEEF_0123);
        assert_eq!(decode_log_header(&h), Ok(0xDEAD_BEEF_0123));
        assert_eq!((log_header_capacity(&h), log_header_store_id(&h)), (0, 0));
        let owned = encode_log_header_with(3, 1 << 24, 0x5EED_1D01);
        assert_eq!(decode_log_header(&owned), Ok(3));
        assert_eq!(log_header_capacity(&owned), 1 << 24);
        assert_eq!(log_header_store_id(&owned), 0x5EED_1D01);
        assert_eq!(
            decode_log_header(&h[..10]).unwrap_err().kind,
            CorruptionKind::Truncated {
                needed: 64,
                available: 10
            }
        );
        assert_eq!(
            decode_log_header(&[0u8; 64]).unwrap_err().kind,
            CorruptionKind::BadMagic
        );
        let mut v4 = h;
        LittleEndian::write_u16(&mut v4[4..6], 5);
        let crc = crc32(&v4[..60]);
        LittleEndian::write_u32(&mut v4[60..], crc);
        assert_eq!(
            decode_log_header(&v4).unwrap_err().kind,
            CorruptionKind::UnsupportedVersion {
                found: 5,
                min: 1,
                max: 4
            }
        );
    }

    #[test]
    fn block_round_trips() {
        for (cells, src) in [
            (sample_cells(3, 10), Some(&b"pos"[..])),
            (sample_cells(3, 10), None),
            (Cells::new(), Some(&b"only a source position"[..])),
            (Cells::new(), Some(&b""[..])),
            (Cells::new(), None),
        ] {
            let mut out = vec![0xAA; 8]; // encode_block appends
            encode_block(&cells, src, &mut out);
            assert_eq!(
                out.len() - 8,
                encoded_block_len(cells.len(), src.map_or(0, <[u8]>::len))
            );
            let v = decode_block(&out[8..]).unwrap();
            assert_eq!(v.len(), out.len() - 8);
            assert_eq!(v.source(), src);
            assert_eq!(v.to_cells(), cells);
            assert_eq!(v.cell_count() as usize, cells.len());
            for i in 0..cells.len() {
                assert_eq!(
                    (v.tag(i), v.time(i), v.count(i)),
                    (cells.tags[i], cells.times[i], cells.counts[i])
                );
            }
            if !cells.is_empty() {
                assert_eq!(v.min_time(), 1000);
                assert_eq!(v.max_time(), 1002);
            }
        }
    }

    #[test]
    fn block_with_max_counts_and_max_source() {
        let mut c = Cells::new();
        c.push(0, 0, u64::MAX);
        c.push(u32::MAX, u32::MAX, u64::MAX);
        let src = vec![0x5A; MAX_SOURCE_LEN];
        let mut out = Vec::new();
        encode_block(&c, Some(&src), &mut out);
        let v = decode_block(&out).unwrap();
        assert_eq!(v.to_cells(), c);
        assert_eq!(v.source().map(<[u8]>::len), Some(MAX_SOURCE_LEN));
        assert_eq!((v.min_time(), v.max_time()), (0, u32::MAX));
    }

    #[test]
    #[should_panic(expected = "65535")]
    fn oversized_source_panics() {
        encode_block(
            &Cells::new(),
            Some(&vec![0; MAX_SOURCE_LEN + 1]),
            &mut Vec::new(),
        );
    }

    /// Re-encodes a block after `edit`, fixing the CRC, so structural checks are reached.
    fn reseal(mut b: Vec<u8>, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        edit(&mut b);
        let crc = crc32(&b[B_VERSION..]);
        LittleEndian::write_u32(&mut b[B_CRC..B_CRC + 4], crc);
        b
    }

    #[test]
    fn structural_checks_behind_a_valid_crc() {
        let mut good = Vec::new();
        encode_block(&sample_cells(1, 4), None, &mut good);
        let n = 4usize;
        let cols = BLOCK_HEADER_LEN;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "unsorted",
                reseal(good.clone(), |b| {
                    LittleEndian::write_u32(&mut b[cols + 4..], 0)
                }),
            ),
            (
                "zero count",
                reseal(good.clone(), |b| {
                    LittleEndian::write_u64(&mut b[cols + 8 * n..], 0)
                }),
            ),
            (
                "min time",
                reseal(good.clone(), |b| {
                    LittleEndian::write_u32(&mut b[B_MIN..], 999)
                }),
            ),
            (
                "flags",
                reseal(good.clone(), |b| {
                    LittleEndian::write_u16(&mut b[B_FLAGS..], 2)
                }),
            ),
            (
                "source without flag",
                reseal(good.clone(), |b| {
                    LittleEndian::write_u32(&mut b[B_SRC_LEN..], 8)
                }),
            ),
            (
                "count",
                reseal(good.clone(), |b| {
                    LittleEndian::write_u32(&mut b[B_COUNT..], 3)
                }),
            ),
            (
                "huge count",
                reseal(good.clone(), |b| {
                    LittleEndian::write_u32(&mut b[B_COUNT..], u32::MAX)
                }),
            ),
            (
                "version",
                reseal(good.clone(), |b| {
                    LittleEndian::write_u16(&mut b[B_VERSION..], 9)
                }),
            ),
        ];
        for (what, b) in cases {
            assert!(decode_block(&b).is_err(), "{what} accepted");
        }
        // Padding must be zero.
        let mut odd = Vec::new();
        encode_block(&Cells::new(), Some(b"abc"), &mut odd);
        let last = odd.len() - 1;
        let bad = reseal(odd, |b| b[last] = 1);
        assert!(matches!(
            decode_block(&bad).unwrap_err().kind,
            CorruptionKind::Invalid(_)
        ));
    }

    #[test]
    fn block_every_truncation_and_bit_flip_is_detected() {
        let mut b = Vec::new();
        encode_block(&sample_cells(5, 20), Some(b"src-17"), &mut b);
        for cut in 0..b.len() {
            assert!(decode_block(&b[..cut]).is_err(), "cut at {cut} accepted");
        }
        for bit in 0..(b.len().min(4096) * 8) {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_block(&d).is_err(), "flip of bit {bit} accepted");
        }
    }

    #[test]
    fn log_scan_round_trip_and_zero_tail() {
        let (log, parts) = sample_log();
        let s = scan_log(&log);
        assert_eq!(s.file_id, Ok(42));
        assert_eq!(s.end, ScanEnd::Clean);
        assert_eq!(s.valid_end, log.len() as u64);
        assert_eq!(s.blocks.len(), 3);
        for ((off, len), (cells, src)) in s.blocks.iter().zip(&parts) {
            let v = decode_block(&log[*off as usize..]).unwrap();
            assert_eq!(v.len(), *len as usize);
            assert_eq!(&v.to_cells(), cells);
            assert_eq!(v.source(), src.as_deref());
        }
        // A preallocated, zero-filled tail ends the log cleanly.
        let mut padded = log.clone();
        padded.resize(log.len() + 4096, 0);
        let s2 = scan_log(&padded);
        assert_eq!(
            (s2.blocks.len(), s2.valid_end, s2.end),
            (3, log.len() as u64, ScanEnd::Clean)
        );
        // A fresh log (header then zeros).
        let mut fresh = encode_log_header(1).to_vec();
        fresh.resize(1 << 12, 0);
        let s3 = scan_log(&fresh);
        assert_eq!(
            (s3.blocks.len(), s3.valid_end, s3.end),
            (0, 64, ScanEnd::Clean)
        );
    }

    #[test]
    fn log_every_truncation_yields_whole_blocks_before_the_cut() {
        let (log, _) = sample_log();
        let full = scan_log(&log).blocks;
        for cut in 0..=log.len() {
            let s = scan_log(&log[..cut]);
            let whole: Vec<_> = full
                .iter()
                .copied()
                .filter(|&(o, l)| o + u64::from(l) <= cut as u64)
                .collect();
            if cut < LOG_HEADER_LEN {
                assert!(s.file_id.is_err());
                assert!(s.blocks.is_empty());
                continue;
            }
            assert_eq!(s.file_id, Ok(42));
            assert_eq!(s.blocks, whole, "cut at {cut}");
            let at_boundary =
                cut == LOG_HEADER_LEN || full.iter().any(|&(o, l)| o + u64::from(l) == cut as u64);
            if at_boundary {
                assert_eq!(s.end, ScanEnd::Clean, "cut at {cut}");
            } else {
                assert!(
                    matches!(s.end, ScanEnd::TornTail { .. }),
                    "cut at {cut}: {:?}",
                    s.end
                );
            }
            // The same cut followed by zeros (a torn write into a preallocated file).
            let mut z = log[..cut].to_vec();
            z.resize(log.len() + 64, 0);
            let sz = scan_log(&z);
            // Bytes lost at the cut may have been zeros already, so a block
            // can survive intact; what comes back is always a prefix of the
            // original blocks and never fewer than the whole ones.
            assert!(sz.blocks.starts_with(&whole), "zero-filled cut at {cut}");
            assert!(full.starts_with(&sz.blocks), "zero-filled cut at {cut}");
            assert!(
                !matches!(sz.end, ScanEnd::Corrupt(_)),
                "zero-filled cut at {cut}"
            );
        }
    }

    #[test]
    fn log_every_bit_flip_is_detected() {
        let (log, _) = sample_log();
        let full = scan_log(&log);
        for bit in 0..(log.len().min(4096) * 8) {
            let mut d = log.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let s = scan_log(&d);
            if bit / 8 < LOG_HEADER_LEN {
                assert!(s.file_id.is_err(), "header flip {bit} accepted");
                assert_eq!(s.blocks, full.blocks);
                continue;
            }
            assert!(
                s.blocks.len() < full.blocks.len(),
                "flip {bit} lost nothing"
            );
            assert_eq!(s.blocks[..], full.blocks[..s.blocks.len()]);
            let damaged_is_last = s.blocks.len() == full.blocks.len() - 1;
            match &s.end {
                ScanEnd::TornTail { .. } => assert!(damaged_is_last, "flip {bit}: {:?}", s.end),
                ScanEnd::Corrupt(e) => {
                    assert!(!damaged_is_last, "flip {bit}");
                    assert_eq!(e.offset, s.valid_end);
                    assert!(matches!(
                        e.kind,
                        CorruptionKind::DamageBeforeValidData { .. }
                    ));
                }
                ScanEnd::Clean => panic!("flip {bit} ended clean"),
            }
        }
    }

    #[test]
    fn damaged_middle_block_is_corruption_not_a_torn_tail() {
        let (mut log, _) = sample_log();
        let s = scan_log(&log);
        let (mid, _) = s.blocks[1];
        let (last, _) = s.blocks[2];
        // Zero the middle block entirely (a lost sector).
        for b in &mut log[mid as usize..last as usize] {
            *b = 0;
        }
        let s = scan_log(&log);
        assert_eq!(s.blocks.len(), 1);
        assert_eq!(s.valid_end, mid);
        assert_eq!(
            s.end,
            ScanEnd::Corrupt(DecodeError::new(
                mid,
                CorruptionKind::DamageBeforeValidData { next_valid: last }
            ))
        );
    }

    #[test]
    fn garbage_tail_is_torn() {
        let (mut log, _) = sample_log();
        let end = log.len() as u64;
        log.extend_from_slice(&[0x11; 100]);
        let s = scan_log(&log);
        assert_eq!(s.blocks.len(), 3);
        assert_eq!(s.valid_end, end);
        assert!(
            matches!(s.end, ScanEnd::TornTail { offset, kind: CorruptionKind::BadMagic } if offset == end)
        );
    }

    #[test]
    fn huge_length_field_does_not_allocate_or_panic() {
        let mut b = Vec::new();
        encode_block(&Cells::new(), None, &mut b);
        LittleEndian::write_u32(&mut b[B_LEN..], 0xFFFF_FFF8);
        assert!(matches!(
            decode_block(&b).unwrap_err().kind,
            CorruptionKind::Truncated { .. }
        ));
    }
}
