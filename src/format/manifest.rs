//! The manifest: the list of live files and the store's durable counters,
//! rewritten whole (write a temp file, fsync, rename, fsync the directory) on
//! every change, and covered by one CRC32.
//!
//! Layout: an 80-byte fixed part, the source position bytes, one 48-byte entry
//! per sealed segment, and a trailing CRC32 of everything before it.
//! [`decode_manifest`] checks the total length against the buffer before it
//! allocates anything, so a damaged count cannot cause a large allocation.

use byteorder::{ByteOrder, LittleEndian};

use super::{check_version, crc32, CorruptionKind, DecodeError, Resolution, VERSION};

/// Magic of the manifest file.
pub const MANIFEST_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'M'];
/// Length of the fixed part, before the source position.
pub const MANIFEST_FIXED_LEN: usize = 80;
/// Length of one segment entry.
pub const SEGMENT_ENTRY_LEN: usize = 48;
/// The longest source position a manifest carries (the same limit as a block).
pub const MAX_SOURCE_LEN: usize = super::log::MAX_SOURCE_LEN;

const FLAG_NOW: u16 = 1;
const FLAG_SOURCE: u16 = 2;

// Field offsets of the fixed part.
const M_FLAGS: usize = 6;
const M_LEN: usize = 8;
/// Offset of the store id in the manifest.
pub const MANIFEST_STORE_ID_AT: usize = 12;
const M_STORE_ID: usize = MANIFEST_STORE_ID_AT;
const M_GENERATION: usize = 16;
const M_NEXT_ID: usize = 24;
const M_ACTIVE_LOG: usize = 32;
const M_NOW: usize = 40;
const M_SRC_LEN: usize = 44;
const M_DICT: usize = 48;
const M_TOO_OLD: usize = 56;
const M_FUTURE: usize = 64;
const M_SEG_COUNT: usize = 72;

/// The list of live files and the store's durable counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The store's id, chosen at random when the store is created and carried
    /// by every file of the store, so a file swapped in from another store is
    /// refused even when its file id and contents look plausible.
    pub store_id: u32,
    /// Incremented on every rewrite.
    pub generation: u64,
    /// The next file id to allocate; every file id in use is below it.
    pub next_file_id: u64,
    /// The file id of the active log segment.
    pub active_log: u64,
    /// The live sealed segments.
    pub segments: Vec<SegmentEntry>,
    /// The store's now (newest minute seen), if any event was ever recorded.
    pub now: Option<u32>,
    /// The source position of the last commit folded into the sealed segments.
    pub source_position: Option<Vec<u8>>,
    /// How many dictionary entries are known durable.
    pub dict_entries: u64,
    /// Events rejected as older than the retention.
    pub rejected_too_old: u64,
    /// Events rejected as too far in the future.
    pub rejected_future: u64,
}

/// One live sealed segment, as listed in the manifest. The fields repeat the
/// segment's own header so that planning needs no file reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEntry {
    /// The segment's file id (its file name derives from it).
    pub file_id: u64,
    /// Minute or hour cells.
    pub resolution: Resolution,
    /// The smallest time of any cell.
    pub min_time: u32,
    /// The largest time of any cell.
    pub max_time: u32,
    /// The number of cells.
    pub cell_count: u64,
    /// The sum of all counts.
    pub total: u64,
    /// The file's length in bytes.
    pub byte_len: u64,
}

impl SegmentEntry {
    /// The first and one-past-last minute this segment's cells cover.
    pub fn minute_span(&self) -> (u32, u32) {
        let r = self.resolution;
        (
            r.first_minute(self.min_time),
            r.first_minute(self.max_time.saturating_add(1)),
        )
    }
}

/// Encodes a manifest.
///
/// # Panics
/// If the source position is longer than [`MAX_SOURCE_LEN`] bytes, or the
/// manifest would exceed 4 GiB (some 89 million segments).
pub fn encode_manifest(m: &Manifest) -> Vec<u8> {
    let src = m.source_position.as_deref().unwrap_or(&[]);
    assert!(
        src.len() <= MAX_SOURCE_LEN,
        "source position longer than 65535 bytes"
    );
    let total = MANIFEST_FIXED_LEN as u64
        + src.len() as u64
        + SEGMENT_ENTRY_LEN as u64 * m.segments.len() as u64
        + 4;
    assert!(total <= u64::from(u32::MAX), "manifest too large");
    let mut out = vec![0u8; MANIFEST_FIXED_LEN];
    out[..4].copy_from_slice(&MANIFEST_MAGIC);
    LittleEndian::write_u16(&mut out[4..6], VERSION);
    let mut flags = 0;
    if m.now.is_some() {
        flags |= FLAG_NOW;
    }
    if m.source_position.is_some() {
        flags |= FLAG_SOURCE;
    }
    LittleEndian::write_u16(&mut out[M_FLAGS..], flags);
    LittleEndian::write_u32(&mut out[M_LEN..], total as u32);
    LittleEndian::write_u32(&mut out[M_STORE_ID..], m.store_id);
    LittleEndian::write_u64(&mut out[M_GENERATION..], m.generation);
    LittleEndian::write_u64(&mut out[M_NEXT_ID..], m.next_file_id);
    LittleEndian::write_u64(&mut out[M_ACTIVE_LOG..], m.active_log);
    LittleEndian::write_u32(&mut out[M_NOW..], m.now.unwrap_or(0));
    LittleEndian::write_u32(&mut out[M_SRC_LEN..], src.len() as u32);
    LittleEndian::write_u64(&mut out[M_DICT..], m.dict_entries);
    LittleEndian::write_u64(&mut out[M_TOO_OLD..], m.rejected_too_old);
    LittleEndian::write_u64(&mut out[M_FUTURE..], m.rejected_future);
    LittleEndian::write_u32(&mut out[M_SEG_COUNT..], m.segments.len() as u32);
    out.reserve(total as usize - out.len());
    out.extend_from_slice(src);
    for s in &m.segments {
        let mut e = [0u8; SEGMENT_ENTRY_LEN];
        LittleEndian::write_u64(&mut e[0..8], s.file_id);
        e[8] = s.resolution.as_u8();
        LittleEndian::write_u32(&mut e[12..16], s.min_time);
        LittleEndian::write_u32(&mut e[16..20], s.max_time);
        LittleEndian::write_u64(&mut e[24..32], s.cell_count);
        LittleEndian::write_u64(&mut e[32..40], s.total);
        LittleEndian::write_u64(&mut e[40..48], s.byte_len);
        out.extend_from_slice(&e);
    }
    let crc = crc32(&out);
    let mut c = [0u8; 4];
    LittleEndian::write_u32(&mut c, crc);
    out.extend_from_slice(&c);
    out
}

/// Decodes and checks a whole manifest file.
///
/// Checks, in order: magic, that the stored length equals `buf.len()`, the
/// CRC, the version, flags and reserved bytes, that the stored counts account
/// for exactly the bytes present, then each segment entry (a known
/// resolution, `min_time <= max_time`, `total >= cell_count`, zero reserved
/// bytes), that no file id repeats (among segments and the active log), and
/// that every file id is below `next_file_id`.
pub fn decode_manifest(buf: &[u8]) -> Result<Manifest, DecodeError> {
    let prefix = buf.len().min(4);
    if buf[..prefix] != MANIFEST_MAGIC[..prefix] {
        return Err(DecodeError::new(0, CorruptionKind::BadMagic));
    }
    let min_len = MANIFEST_FIXED_LEN + 4;
    if buf.len() < min_len {
        return Err(DecodeError::truncated(0, min_len as u64, buf.len() as u64));
    }
    let total = LittleEndian::read_u32(&buf[M_LEN..]) as usize;
    if total > buf.len() {
        return Err(DecodeError::truncated(0, total as u64, buf.len() as u64));
    }
    if total != buf.len() {
        return Err(DecodeError::invalid(
            M_LEN as u64,
            format!(
                "manifest length field says {total} bytes but the file has {}",
                buf.len()
            ),
        ));
    }
    let crc_at = total - 4;
    let stored = LittleEndian::read_u32(&buf[crc_at..]);
    let computed = crc32(&buf[..crc_at]);
    if stored != computed {
        return Err(DecodeError::new(
            crc_at as u64,
            CorruptionKind::ChecksumMismatch { stored, computed },
        ));
    }
    check_version(LittleEndian::read_u16(&buf[4..6]), 4)?;
    let flags = LittleEndian::read_u16(&buf[M_FLAGS..]);
    if flags & !(FLAG_NOW | FLAG_SOURCE) != 0 {
        return Err(DecodeError::invalid(
            M_FLAGS as u64,
            format!("unknown manifest flags {flags:#06x}"),
        ));
    }
    if buf[76..80].iter().any(|&b| b != 0) {
        return Err(DecodeError::invalid(
            76,
            "reserved bytes of the manifest are not zero",
        ));
    }
    let src_len = LittleEndian::read_u32(&buf[M_SRC_LEN..]);
    if src_len as usize > MAX_SOURCE_LEN || (flags & FLAG_SOURCE == 0 && src_len != 0) {
        return Err(DecodeError::invalid(
            M_SRC_LEN as u64,
            format!("source position length {src_len} is out of range"),
        ));
    }
    let now_raw = LittleEndian::read_u32(&buf[M_NOW..]);
    if flags & FLAG_NOW == 0 && now_raw != 0 {
        return Err(DecodeError::invalid(
            M_NOW as u64,
            "now is set but flagged absent",
        ));
    }
    let seg_count = LittleEndian::read_u32(&buf[M_SEG_COUNT..]);
    let needed = MANIFEST_FIXED_LEN as u64
        + u64::from(src_len)
        + SEGMENT_ENTRY_LEN as u64 * u64::from(seg_count)
        + 4;
    if needed != total as u64 {
        return Err(DecodeError::invalid(
            M_SEG_COUNT as u64,
            format!(
                "{seg_count} segments and a {src_len}-byte source position need {needed} bytes, \
                 the manifest has {total}"
            ),
        ));
    }
    let src_end = MANIFEST_FIXED_LEN + src_len as usize;
    let next_file_id = LittleEndian::read_u64(&buf[M_NEXT_ID..]);
    let active_log = LittleEndian::read_u64(&buf[M_ACTIVE_LOG..]);
    if active_log >= next_file_id {
        return Err(DecodeError::invalid(
            M_ACTIVE_LOG as u64,
            format!("active log id {active_log} is not below next_file_id {next_file_id}"),
        ));
    }
    // seg_count was checked against the bytes present, so this allocation is bounded by buf.
    let mut segments = Vec::with_capacity(seg_count as usize);
    for (i, e) in buf[src_end..crc_at]
        .chunks_exact(SEGMENT_ENTRY_LEN)
        .enumerate()
    {
        let at = (src_end + i * SEGMENT_ENTRY_LEN) as u64;
        let file_id = LittleEndian::read_u64(&e[0..8]);
        let resolution = Resolution::from_u8(e[8]).ok_or_else(|| {
            DecodeError::invalid(
                at + 8,
                format!("unknown resolution {} in segment entry {i}", e[8]),
            )
        })?;
        if e[9..12].iter().chain(&e[20..24]).any(|&b| b != 0) {
            return Err(DecodeError::invalid(
                at,
                format!("reserved bytes of segment entry {i} are not zero"),
            ));
        }
        let entry = SegmentEntry {
            file_id,
            resolution,
            min_time: LittleEndian::read_u32(&e[12..16]),
            max_time: LittleEndian::read_u32(&e[16..20]),
            cell_count: LittleEndian::read_u64(&e[24..32]),
            total: LittleEndian::read_u64(&e[32..40]),
            byte_len: LittleEndian::read_u64(&e[40..48]),
        };
        if entry.min_time > entry.max_time || entry.total < entry.cell_count {
            return Err(DecodeError::invalid(
                at,
                format!("segment entry {i} is inconsistent"),
            ));
        }
        if file_id >= next_file_id || file_id == active_log {
            return Err(DecodeError::invalid(
                at,
                format!("segment entry {i} has file id {file_id}, which is the active log's or not below next_file_id"),
            ));
        }
        segments.push(entry);
    }
    let mut ids: Vec<u64> = segments.iter().map(|s| s.file_id).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(DecodeError::invalid(
            src_end as u64,
            format!("segment file id {} is listed twice", w[0]),
        ));
    }
    Ok(Manifest {
        store_id: LittleEndian::read_u32(&buf[M_STORE_ID..]),
        generation: LittleEndian::read_u64(&buf[M_GENERATION..]),
        next_file_id,
        active_log,
        segments,
        now: (flags & FLAG_NOW != 0).then_some(now_raw),
        source_position: (flags & FLAG_SOURCE != 0)
            .then(|| buf[MANIFEST_FIXED_LEN..src_end].to_vec()),
        dict_entries: LittleEndian::read_u64(&buf[M_DICT..]),
        rejected_too_old: LittleEndian::read_u64(&buf[M_TOO_OLD..]),
        rejected_future: LittleEndian::read_u64(&buf[M_FUTURE..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            store_id: 0x5EED_1D01,
            generation: 7,
            next_file_id: 100,
            active_log: 99,
            segments: vec![
                SegmentEntry {
                    file_id: 3,
                    resolution: Resolution::Minute,
                    min_time: 28_000_000,
                    max_time: 28_000_059,
                    cell_count: 150_000,
                    total: 2_000_000,
                    byte_len: 400_000,
                },
                SegmentEntry {
                    file_id: 5,
                    resolution: Resolution::Hour,
                    min_time: 466_000,
                    max_time: 466_100,
                    cell_count: 1,
                    total: u64::MAX,
                    byte_len: 128,
                },
            ],
            now: Some(28_000_060),
            source_position: Some(b"nats:trends:1234".to_vec()),
            dict_entries: 50_000,
            rejected_too_old: 2,
            rejected_future: 1,
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(decode_manifest(&encode_manifest(&m)), Ok(m.clone()));
        let empty = Manifest {
            store_id: 0,
            generation: 0,
            next_file_id: 1,
            active_log: 0,
            segments: vec![],
            now: None,
            source_position: None,
            dict_entries: 0,
            rejected_too_old: 0,
            rejected_future: 0,
        };
        assert_eq!(decode_manifest(&encode_manifest(&empty)), Ok(empty.clone()));
        let with_empty_src = Manifest {
            source_position: Some(vec![]),
            now: Some(0),
            ..empty
        };
        assert_eq!(
            decode_manifest(&encode_manifest(&with_empty_src)),
            Ok(with_empty_src)
        );
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        let b = encode_manifest(&sample());
        for cut in 0..b.len() {
            assert!(decode_manifest(&b[..cut]).is_err(), "cut {cut}");
        }
        for bit in 0..(b.len().min(4096) * 8) {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_manifest(&d).is_err(), "flip {bit}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(decode_manifest(&longer).is_err());
    }

    fn reseal(mut b: Vec<u8>, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
        edit(&mut b);
        let n = b.len();
        let crc = crc32(&b[..n - 4]);
        LittleEndian::write_u32(&mut b[n - 4..], crc);
        b
    }

    #[test]
    fn huge_counts_fail_fast_without_allocating() {
        // 100 bytes claiming 2^32 - 1 segments.
        let mut b = vec![0u8; 100];
        b[..4].copy_from_slice(&MANIFEST_MAGIC);
        LittleEndian::write_u16(&mut b[4..6], 1);
        LittleEndian::write_u32(&mut b[M_LEN..], 100);
        LittleEndian::write_u32(&mut b[M_SEG_COUNT..], u32::MAX);
        let b = reseal(b, |_| {});
        assert!(matches!(
            decode_manifest(&b).unwrap_err().kind,
            CorruptionKind::Invalid(_)
        ));
        // A length field claiming 4 GiB.
        let big = reseal(encode_manifest(&sample()), |b| {
            LittleEndian::write_u32(&mut b[M_LEN..], u32::MAX)
        });
        assert!(matches!(
            decode_manifest(&big).unwrap_err().kind,
            CorruptionKind::Truncated { .. }
        ));
    }

    #[test]
    fn semantic_checks() {
        let mut dup = sample();
        dup.segments[1].file_id = 3;
        assert!(decode_manifest(&encode_manifest(&dup)).is_err());
        let mut active = sample();
        active.segments[0].file_id = 99;
        assert!(decode_manifest(&encode_manifest(&active)).is_err());
        let mut beyond = sample();
        beyond.segments[0].file_id = 100;
        assert!(decode_manifest(&encode_manifest(&beyond)).is_err());
        let mut times = sample();
        times.segments[0].min_time = times.segments[0].max_time + 1;
        assert!(decode_manifest(&encode_manifest(&times)).is_err());
        let good = encode_manifest(&sample());
        let res = reseal(good.clone(), |b| b[MANIFEST_FIXED_LEN + 16 + 8] = 9);
        assert!(decode_manifest(&res).is_err());
        let v2 = reseal(good, |b| LittleEndian::write_u16(&mut b[4..6], 3));
        assert_eq!(
            decode_manifest(&v2).unwrap_err().kind,
            CorruptionKind::UnsupportedVersion {
                found: 3,
                min: 1,
                max: 2
            }
        );
    }
}
