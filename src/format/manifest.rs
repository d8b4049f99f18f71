//! The manifest: the list of live files and the store's durable counters,
//! rewritten whole (write a temp file, fsync, rename, fsync the directory) on
//! every change, and covered by one CRC32.
//!
//! Layout: a fixed part (80 bytes in version 1, 104 from version 2: retention
//! and the active log's durability point), from version 3 the label keys
//! section (its length at byte 96), the source position bytes, one 48-byte
//! entry per sealed segment, and a trailing CRC32 of everything before it.
//! [`decode_manifest`] checks the total length against the buffer before it
//! allocates anything, so a damaged count cannot cause a large allocation.

use byteorder::{ByteOrder, LittleEndian};

use super::{crc32, CorruptionKind, DecodeError, Resolution, MIN_VERSION, VERSION};

/// Magic of the manifest file.
pub const MANIFEST_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'M'];
/// Length of the fixed part of a version 2 manifest, before the source position.
pub const MANIFEST_FIXED_LEN: usize = 104;
/// Length of the fixed part of a version 1 manifest.
pub const MANIFEST_V1_FIXED_LEN: usize = 80;
/// Length of one segment entry.
pub const SEGMENT_ENTRY_LEN: usize = 48;
/// The longest source position a manifest carries (the same limit as a block).
pub const MAX_SOURCE_LEN: usize = super::log::MAX_SOURCE_LEN;

const FLAG_NOW: u16 = 1;
const FLAG_SOURCE: u16 = 2;
const FLAG_CLEAN: u16 = 4;
/// Retention field value meaning "keep forever".
const FOREVER: u32 = u32::MAX;
/// The minute retention a version 1 store had by default (7 days).
pub const V1_MINUTE_RETENTION: u32 = 7 * 1440;

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
const M_MINUTE_RET: usize = 80;
const M_HOUR_RET: usize = 84;
const M_LOG_DURABLE: usize = 88;
const M_LABELS_LEN: usize = 96;
const M_SERIES: usize = 100;
/// Flag bit 3 (version 5): the store keeps its series in the `tags.series`
/// file, and bytes 100..104 count the series known durable.
const FLAG_SERIES: u16 = 1 << 3;
/// The manifest version of a store with a series file; a store without one
/// still writes [`VERSION`], so that a build of version 4 reads it.
pub const SERIES_MANIFEST_VERSION: u16 = 5;

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
    /// The store's minute retention in whole hours of minutes (`None`:
    /// forever). Version 1 manifests did not store retention; they read as
    /// the defaults their writers applied: 7 days of minutes, hours forever.
    pub minute_retention: Option<u32>,
    /// The store's hour retention in whole hours of minutes (`None`: forever).
    pub hour_retention: Option<u32>,
    /// The active log's last recorded durability point: every byte of the
    /// active log below it is whole, valid blocks that were made durable, so
    /// damage there is corruption, never a torn tail. 0 when none is recorded.
    pub log_durable_end: u64,
    /// The store was closed cleanly and nothing was written since: the active
    /// log ends exactly at `log_durable_end` and is zero after it, so any
    /// other byte there is damage.
    pub clean: bool,
    /// The store's label keys in declaration order (version 3; empty for a
    /// store without labels and for every older store).
    pub label_keys: Vec<String>,
    /// A labelled store of version 5 keeps its series in `tags.series`:
    /// `Some(n)`, n of them known durable (as `dict_entries` counts the
    /// dictionary's). `None`: a store without labels, or a labelled store of
    /// an earlier version, whose series keys are entries of `tags.dict`.
    pub series_entries: Option<u32>,
}

/// Encodes the label keys section: per key, a length byte and the key.
fn encode_label_keys(keys: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for k in keys {
        assert!(
            !k.is_empty() && k.len() <= crate::labels::MAX_LABEL_KEY_BYTES,
            "label keys are validated before they reach the manifest"
        );
        out.push(k.len() as u8);
        out.extend_from_slice(k.as_bytes());
    }
    out
}

/// Decodes and validates the label keys section at file offset `at`.
fn decode_label_keys(b: &[u8], at: usize) -> Result<Vec<String>, DecodeError> {
    let mut keys = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let len = usize::from(b[i]);
        let key = b
            .get(i + 1..i + 1 + len)
            .and_then(|k| std::str::from_utf8(k).ok())
            .ok_or_else(|| {
                DecodeError::invalid((at + i) as u64, "a label key overruns its section")
            })?;
        keys.push(key.to_string());
        i += 1 + len;
    }
    crate::labels::LabelKeys::new(&keys)
        .map_err(|e| DecodeError::invalid(at as u64, format!("bad label keys: {e}")))?;
    Ok(keys)
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

/// The format version [`encode_manifest`] writes `m` with: the series
/// file's version (5) when the store keeps its series in `tags.series`,
/// else [`VERSION`], so that a build of version 4 reads every other store.
pub fn written_version(m: &Manifest) -> u16 {
    if m.series_entries.is_some() {
        SERIES_MANIFEST_VERSION
    } else {
        VERSION
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
    let labels = encode_label_keys(&m.label_keys);
    let total = MANIFEST_FIXED_LEN as u64
        + labels.len() as u64
        + src.len() as u64
        + SEGMENT_ENTRY_LEN as u64 * m.segments.len() as u64
        + 4;
    let whole = |r: Option<u32>| r.map(|m| (m / 60).max(1) * 60);
    let (minute_ret, hour_ret) = (whole(m.minute_retention), whole(m.hour_retention));
    assert!(total <= u64::from(u32::MAX), "manifest too large");
    let mut out = vec![0u8; MANIFEST_FIXED_LEN];
    out[..4].copy_from_slice(&MANIFEST_MAGIC);
    LittleEndian::write_u16(&mut out[4..6], written_version(m));
    let mut flags = 0;
    if let Some(n) = m.series_entries {
        flags |= FLAG_SERIES;
        LittleEndian::write_u32(&mut out[M_SERIES..], n);
    }
    if m.now.is_some() {
        flags |= FLAG_NOW;
    }
    if m.source_position.is_some() {
        flags |= FLAG_SOURCE;
    }
    if m.clean {
        flags |= FLAG_CLEAN;
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
    LittleEndian::write_u32(&mut out[M_MINUTE_RET..], minute_ret.unwrap_or(FOREVER));
    LittleEndian::write_u32(&mut out[M_HOUR_RET..], hour_ret.unwrap_or(FOREVER));
    LittleEndian::write_u64(&mut out[M_LOG_DURABLE..], m.log_durable_end);
    LittleEndian::write_u16(&mut out[M_LABELS_LEN..], labels.len() as u16);
    out.reserve(total as usize - out.len());
    out.extend_from_slice(&labels);
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
    let min_len = MANIFEST_V1_FIXED_LEN + 4;
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
    let version = LittleEndian::read_u16(&buf[4..6]);
    // Version 5 is a manifest's only (a store with a series file).
    if !(MIN_VERSION..=SERIES_MANIFEST_VERSION).contains(&version) {
        return Err(DecodeError::new(
            4,
            CorruptionKind::UnsupportedVersion {
                found: version,
                min: MIN_VERSION,
                max: SERIES_MANIFEST_VERSION,
            },
        ));
    }
    let fixed = if version >= 2 {
        MANIFEST_FIXED_LEN
    } else {
        MANIFEST_V1_FIXED_LEN
    };
    if buf.len() < fixed + 4 {
        return Err(DecodeError::truncated(
            0,
            (fixed + 4) as u64,
            buf.len() as u64,
        ));
    }
    let flags = LittleEndian::read_u16(&buf[M_FLAGS..]);
    let known = if version >= SERIES_MANIFEST_VERSION {
        FLAG_NOW | FLAG_SOURCE | FLAG_CLEAN | FLAG_SERIES
    } else if version >= 2 {
        FLAG_NOW | FLAG_SOURCE | FLAG_CLEAN
    } else {
        FLAG_NOW | FLAG_SOURCE
    };
    if flags & !known != 0 {
        return Err(DecodeError::invalid(
            M_FLAGS as u64,
            format!("unknown manifest flags {flags:#06x}"),
        ));
    }
    if version >= SERIES_MANIFEST_VERSION && flags & FLAG_SERIES == 0 {
        return Err(DecodeError::invalid(
            M_FLAGS as u64,
            format!("a version-{version} manifest without the series flag"),
        ));
    }
    let reserved_v2 = match version {
        1 => 0..0,
        2 => 96..104,
        3 | 4 => 98..104,
        _ => 98..100,
    };
    let mut reserved = (76..80).chain(reserved_v2);
    if let Some(i) = reserved.find(|&i| buf[i] != 0) {
        return Err(DecodeError::invalid(
            i as u64,
            "reserved bytes of the manifest are not zero",
        ));
    }
    let (minute_retention, hour_retention) = if version >= 2 {
        let read = |at: usize| -> Result<Option<u32>, DecodeError> {
            match LittleEndian::read_u32(&buf[at..]) {
                FOREVER => Ok(None),
                m if m >= 60 && m % 60 == 0 => Ok(Some(m)),
                m => Err(DecodeError::invalid(
                    at as u64,
                    format!("retention of {m} minutes is not a whole number of hours"),
                )),
            }
        };
        (read(M_MINUTE_RET)?, read(M_HOUR_RET)?)
    } else {
        (Some(V1_MINUTE_RETENTION), None)
    };
    let log_durable_end = if version >= 2 {
        LittleEndian::read_u64(&buf[M_LOG_DURABLE..])
    } else {
        0
    };
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
    let labels_len = if version >= 3 {
        usize::from(LittleEndian::read_u16(&buf[M_LABELS_LEN..]))
    } else {
        0
    };
    let needed = fixed as u64
        + labels_len as u64
        + u64::from(src_len)
        + SEGMENT_ENTRY_LEN as u64 * u64::from(seg_count)
        + 4;
    if needed != total as u64 {
        return Err(DecodeError::invalid(
            M_SEG_COUNT as u64,
            format!(
                "{seg_count} segments, {labels_len} bytes of label keys and a {src_len}-byte \
                 source position need {needed} bytes, the manifest has {total}"
            ),
        ));
    }
    let src_start = fixed + labels_len;
    let label_keys = decode_label_keys(&buf[fixed..src_start], fixed)?;
    if flags & FLAG_SERIES != 0 && label_keys.is_empty() {
        return Err(DecodeError::invalid(
            M_FLAGS as u64,
            "the series flag is set on a store without label keys",
        ));
    }
    let src_end = src_start + src_len as usize;
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
        source_position: (flags & FLAG_SOURCE != 0).then(|| buf[src_start..src_end].to_vec()),
        dict_entries: LittleEndian::read_u64(&buf[M_DICT..]),
        series_entries: (flags & FLAG_SERIES != 0)
            .then(|| LittleEndian::read_u32(&buf[M_SERIES..])),
        rejected_too_old: LittleEndian::read_u64(&buf[M_TOO_OLD..]),
        rejected_future: LittleEndian::read_u64(&buf[M_FUTURE..]),
        minute_retention,
        hour_retention,
        log_durable_end,
        clean: flags & FLAG_CLEAN != 0,
        label_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `b` with its CRC made to hold again.
    fn fix_crc(mut b: Vec<u8>) -> Vec<u8> {
        let n = b.len() - 4;
        let crc = crc32(&b[..n]);
        LittleEndian::write_u32(&mut b[n..], crc);
        b
    }

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
            minute_retention: Some(3 * 1440),
            hour_retention: Some(400 * 1440),
            log_durable_end: 4096,
            clean: true,
            label_keys: vec!["platform".into(), "region".into()],
            series_entries: Some(41_000),
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(decode_manifest(&encode_manifest(&m)), Ok(m.clone()));
        // Without a series file it is a version-4 manifest, as before.
        let v4 = Manifest {
            series_entries: None,
            ..m.clone()
        };
        let b = encode_manifest(&v4);
        assert_eq!(LittleEndian::read_u16(&b[4..6]), 4);
        assert_eq!(decode_manifest(&b), Ok(v4.clone()));
        assert_eq!(LittleEndian::read_u16(&encode_manifest(&m)[4..6]), 5);
        // The series flag needs version 5 and label keys, and version 5 the flag.
        let mut b = encode_manifest(&m);
        b[4] = 4;
        assert!(decode_manifest(&fix_crc(b)).is_err());
        let mut b = encode_manifest(&Manifest {
            label_keys: vec![],
            ..m.clone()
        });
        assert!(decode_manifest(&b).is_err());
        b = encode_manifest(&v4);
        b[4] = 5;
        assert!(decode_manifest(&fix_crc(b)).is_err());
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
            minute_retention: None,
            hour_retention: None,
            log_durable_end: 0,
            clean: false,
            label_keys: vec![],
            series_entries: None,
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
        // Fixed part, 16 bytes of label keys, 16 of source position, then
        // the first segment entry, whose byte 8 is its resolution.
        let res = reseal(good.clone(), |b| b[MANIFEST_FIXED_LEN + 32 + 8] = 9);
        assert!(decode_manifest(&res).is_err());
        let v4 = reseal(good.clone(), |b| LittleEndian::write_u16(&mut b[4..6], 6));
        assert_eq!(
            decode_manifest(&v4).unwrap_err().kind,
            CorruptionKind::UnsupportedVersion {
                found: 6,
                min: 1,
                max: 5
            }
        );
        let bad_key = reseal(good.clone(), |b| b[MANIFEST_FIXED_LEN + 1] = b'P');
        assert!(decode_manifest(&bad_key).is_err());
        let overrun = reseal(good.clone(), |b| b[MANIFEST_FIXED_LEN + 9] = 200);
        assert!(decode_manifest(&overrun).is_err());
        let odd = reseal(good, |b| {
            LittleEndian::write_u32(&mut b[M_MINUTE_RET..], 61)
        });
        assert!(decode_manifest(&odd).is_err());
    }

    /// A version 1 manifest (80-byte fixed part) reads with the default
    /// retention and no recorded durability point.
    #[test]
    fn version_1_reads() {
        let m = Manifest {
            label_keys: vec![],
            series_entries: None,
            ..sample()
        };
        let v2 = encode_manifest(&m);
        let mut v1 = v2[..MANIFEST_V1_FIXED_LEN].to_vec();
        v1.extend_from_slice(&v2[MANIFEST_FIXED_LEN..v2.len() - 4]);
        LittleEndian::write_u16(&mut v1[4..6], 1);
        let flags = LittleEndian::read_u16(&v1[M_FLAGS..]) & !FLAG_CLEAN;
        LittleEndian::write_u16(&mut v1[M_FLAGS..], flags);
        let len = v1.len() as u32 + 4;
        LittleEndian::write_u32(&mut v1[M_LEN..], len);
        v1.extend_from_slice(&[0; 4]);
        let v1 = reseal(v1, |_| {});
        let got = decode_manifest(&v1).unwrap();
        assert_eq!(
            got,
            Manifest {
                minute_retention: Some(V1_MINUTE_RETENTION),
                hour_retention: None,
                log_durable_end: 0,
                clean: false,
                ..m
            }
        );
    }

    /// A version 2 manifest (no label keys section: bytes 96..104 reserved)
    /// reads with no label keys; a non-zero byte there is refused.
    #[test]
    fn version_2_reads() {
        let m = Manifest {
            label_keys: vec![],
            series_entries: None,
            ..sample()
        };
        let v2 = reseal(encode_manifest(&m), |b| {
            LittleEndian::write_u16(&mut b[4..6], 2)
        });
        assert_eq!(decode_manifest(&v2), Ok(m));
        let bad = reseal(v2, |b| b[M_LABELS_LEN] = 1);
        assert!(decode_manifest(&bad).is_err());
    }
}
