//! Checksum repair and valid sample files for the decode targets.
//!
//! Every structure of every file kind carries a CRC32, so arbitrary or
//! mutated bytes are almost always refused at the first checksum and the
//! decoders' later checks (lengths, counts, ordering, varints, the skip
//! index) are never reached. The functions here recompute, in place, every
//! checksum whose covered range they can locate (following the layout in
//! `docs/format.md`), leaving everything else as the fuzzer made it. They are
//! written from the specification, not from the decoders, and never panic
//! on any input.

use trendlog::format::cells::Cells;
use trendlog::format::crc32;
use trendlog::format::dict::{encode_dict_header, encode_dict_keys, Framing};
use trendlog::format::log::{encode_block_with, encode_log_header_with};
use trendlog::format::manifest::{encode_manifest, Manifest, SegmentEntry};
use trendlog::format::segment::SegmentBuilder;
use trendlog::format::Resolution;

fn get32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn get64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    if let Some(dst) = at.checked_add(4).and_then(|end| b.get_mut(at..end)) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

/// A fixed header of `len` bytes whose last 4 bytes are the CRC32 of the rest.
fn header(b: &mut [u8], len: usize) {
    if b.len() >= len {
        let c = crc32(&b[..len - 4]);
        put32(b, len - 4, c);
    }
}

/// `(offset u16, xor u8)` triples: xor the byte at the offset (modulo the
/// length), or, for a zero xor, truncate there.
pub fn apply_edits(b: &mut Vec<u8>, edits: &[u8]) {
    for e in edits.chunks_exact(3) {
        if b.is_empty() {
            return;
        }
        let at = usize::from(u16::from_le_bytes([e[0], e[1]])) % b.len();
        if e[2] == 0 {
            b.truncate(at);
        } else {
            b[at] ^= e[2];
        }
    }
}

/// A sealed segment: each group's CRC in its skip index entry, the skip
/// index CRC in the footer, the tag totals CRC (version 2), then the header
/// CRC.
pub fn segment(b: &mut [u8]) {
    const HEADER: usize = 64;
    const ENTRY: usize = 32;
    let groups = get32(b, 20).map_or(0, |g| g as usize);
    let index = get64(b, 48).and_then(|i| usize::try_from(i).ok());
    if let (Some(index), Some(footer)) = (index, b.len().checked_sub(8)) {
        if index >= HEADER && index <= footer {
            for g in 0..groups.min((footer - index) / ENTRY) {
                let e = index + g * ENTRY;
                let (Some(len), Some(off)) = (get32(b, e + 12), get64(b, e + 16)) else {
                    break;
                };
                let range = usize::try_from(off)
                    .ok()
                    .and_then(|o| Some(o..o.checked_add(len as usize)?));
                if let Some(c) = range.and_then(|r| b.get(r)).map(crc32) {
                    put32(b, e + 24, c);
                }
            }
            let c = crc32(&b[index..footer]);
            put32(b, footer, c);
            // Version 2 with the totals flag: the tag totals section ends at
            // the index with an 8-byte trailer (u32 length, u32 CRC).
            if b.get(4) == Some(&2) && b.get(7).is_some_and(|f| f & 1 != 0) {
                if let Some(t) = index.checked_sub(8).filter(|&t| t >= HEADER) {
                    let len = get32(b, t).map_or(0, |l| l as usize);
                    if let Some(start) = t.checked_sub(len).filter(|&s| s >= HEADER) {
                        let c = crc32(&b[start..t]);
                        put32(b, t + 4, c);
                    }
                }
            }
        }
    }
    header(b, HEADER);
}

/// A log: the header CRC, then each block's CRC (over bytes 12..L) for as
/// long as the block lengths chain through the buffer.
pub fn log(b: &mut [u8]) {
    header(b, 64);
    let mut pos = 64usize;
    while let Some(len) = get32(b, pos + 4).map(|l| l as usize) {
        let Some(end) = pos.checked_add(len).filter(|&e| e <= b.len()) else {
            break;
        };
        if len < 40 || len % 8 != 0 {
            break;
        }
        let c = crc32(&b[pos + 12..end]);
        put32(b, pos + 8, c);
        pos = end;
    }
}

/// A dictionary: the header CRC, then (versions 1 to 3) each entry's CRC
/// (over its length field and payload) or (version 4) each block's CRC
/// (over its length field and body) for as long as the lengths chain.
pub fn dict(b: &mut [u8]) {
    header(b, 16);
    if Framing::of_file(b) == Framing::Blocks {
        return dict_blocks(b);
    }
    let mut pos = 16usize;
    while let Some(p) = get32(b, pos).map(|p| p as usize) {
        let Some(end) = pos.checked_add(8 + p).filter(|&e| e <= b.len()) else {
            break;
        };
        if !(2..=256).contains(&p) {
            break;
        }
        crc_of_length_and_body(b, pos..pos + 4, pos + 4, end);
        pos = end;
    }
}

/// Writes at `crc_at` the CRC32 of the bytes `length` followed by those
/// from `crc_at + 4` to `end`: the framing of a dictionary entry (versions 1
/// to 3) and of a dictionary block (version 4).
fn crc_of_length_and_body(b: &mut [u8], length: std::ops::Range<usize>, crc_at: usize, end: usize) {
    let covered: Vec<u8> = b[length]
        .iter()
        .chain(&b[crc_at + 4..end])
        .copied()
        .collect();
    put32(b, crc_at, crc32(&covered));
}

/// Version 4: each block is a mark byte, a 24-bit body length, the CRC of
/// the length and the body, then the body.
fn dict_blocks(b: &mut [u8]) {
    let mut pos = 16usize;
    while pos + 8 <= b.len() && b[pos] == 0 {
        let len = u32::from_le_bytes([b[pos + 1], b[pos + 2], b[pos + 3], 0]) as usize;
        let end = pos + 8 + len;
        if len == 0 || end > b.len() {
            break;
        }
        crc_of_length_and_body(b, pos + 1..pos + 4, pos + 4, end);
        pos = end;
    }
}

/// A series file (labelled stores of version 5): the header CRC, then each
/// block's CRC (over its 32-bit body length and the body) for as long as the
/// lengths chain through the buffer.
pub fn series(b: &mut [u8]) {
    header(b, 16);
    let mut pos = 16usize;
    while let Some(len) = get32(b, pos).map(|l| l as usize) {
        let Some(end) = pos.checked_add(8 + len).filter(|&e| e <= b.len()) else {
            break;
        };
        if len == 0 {
            break;
        }
        crc_of_length_and_body(b, pos..pos + 4, pos + 4, end);
        pos = end;
    }
}

/// A series index (`tags.sidx`): the body's size from the header's counts,
/// then the CRC of each 4 KiB body page, the CRC of that page table (header
/// bytes 44..48) and the header's CRC, when the file is as long as the
/// counts say.
pub fn series_index(b: &mut [u8]) {
    const H: usize = 64;
    let (Some(n), Some(end), Some(blocks), Some(tags), Some(values_len)) = (
        get32(b, 12),
        get64(b, 16),
        get32(b, 24),
        get32(b, 32),
        get32(b, 40),
    ) else {
        return;
    };
    let body = 32 * u64::from(blocks)
        + u64::from(values_len)
        + 4 * (u64::from(tags) + 1 + u64::from(n))
        + 4 * end.div_ceil(4096);
    let pages = body.div_ceil(4096);
    if H as u64 + body + 4 * pages != b.len() as u64 {
        header(b, H);
        return;
    }
    let table_at = H + body as usize;
    for p in 0..pages as usize {
        let from = H + p * 4096;
        let c = crc32(&b[from..(from + 4096).min(table_at)]);
        put32(b, table_at + 4 * p, c);
    }
    let c = crc32(&b[table_at..]);
    put32(b, 44, c);
    header(b, H);
}

/// A manifest: the length field set to the buffer's length, then the CRC.
pub fn manifest(b: &mut [u8]) {
    if b.len() >= 84 && u32::try_from(b.len()).is_ok() {
        put32(b, 8, b.len() as u32);
        let n = b.len();
        let c = crc32(&b[..n - 4]);
        put32(b, n - 4, c);
    }
}

/// A valid segment of 130 tags (three groups) with counts of every encoded
/// width and runs of cells.
pub fn sample_segment() -> Vec<u8> {
    let mut b = SegmentBuilder::new(Resolution::Minute, 7)
        .for_store(0x5EED)
        .with_tag_totals(true);
    for tag in 0..130u32 {
        let cells = 1 + tag % 6;
        for i in 0..cells {
            let count = match (tag + i) % 4 {
                0 => 1,
                1 => 2,
                2 => 300,
                _ => u64::from(tag) << 33,
            };
            b.push(tag * 3, 28_000_000 + i * (1 + tag % 3), count)
                .expect("sorted cells");
        }
    }
    b.finish()
}

/// A valid log with four blocks: cells, a source position, an empty block,
/// and `durable_end` values both behind and at the block.
pub fn sample_log() -> Vec<u8> {
    let mut b = encode_log_header_with(3, 0, 0x5EED).to_vec();
    for k in 0..4u32 {
        let mut cells = Cells::new();
        for t in 0..(k * 5) {
            cells.push(t, 28_000_000 + k, u64::from(t) + 1);
        }
        let source = (k % 2 == 1).then(|| format!("offset-{k}").into_bytes());
        let durable = if k == 3 { b.len() as u64 } else { 64 };
        encode_block_with(&cells, source.as_deref(), durable, &mut b);
    }
    b
}

/// A valid dictionary of a few tags, one of them not ASCII, written in
/// three writes (three blocks).
pub fn sample_dict() -> Vec<u8> {
    let mut b = encode_dict_header(0x5EED);
    let writes: [&[&str]; 3] = [
        &["metoo", "timesup", "été"],
        &["x"],
        &[
            "a-longer-tag-of-some-length",
            "metoo\u{1f}instagram\u{1f}chicago",
            "metoo\u{1f}\u{1f}",
        ],
    ];
    for w in writes {
        encode_dict_keys(Framing::Blocks, w, &mut b);
    }
    b
}

/// A valid manifest with three segments and a source position.
pub fn sample_manifest() -> Vec<u8> {
    let seg = |file_id, resolution, min_time: u32| SegmentEntry {
        file_id,
        resolution,
        min_time,
        max_time: min_time + 59,
        cell_count: 100,
        total: 1_000,
        byte_len: 4_096,
    };
    encode_manifest(&Manifest {
        store_id: 0x5EED,
        generation: 9,
        next_file_id: 12,
        active_log: 11,
        segments: vec![
            seg(4, Resolution::Hour, 466_000),
            seg(8, Resolution::Minute, 28_000_000),
            seg(10, Resolution::Minute, 28_000_060),
        ],
        now: Some(28_000_119),
        source_position: Some(b"kafka:7:1234".to_vec()),
        dict_entries: 5,
        rejected_too_old: 1,
        rejected_future: 0,
        minute_retention: Some(7 * 1440),
        hour_retention: None,
        log_durable_end: 64,
        clean: false,
        label_keys: vec!["platform".into(), "region".into()],
        series_entries: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use trendlog::format::dict::scan_dict;
    use trendlog::format::log::scan_log;
    use trendlog::format::manifest::decode_manifest;
    use trendlog::format::segment::SegmentView;
    use trendlog::format::ScanEnd;

    #[test]
    fn samples_are_valid_and_resealing_them_changes_nothing() {
        let seg = sample_segment();
        let v = SegmentView::open(&seg[..]).unwrap();
        v.verify().unwrap();
        assert_eq!(v.group_count(), 3);
        let log = sample_log();
        let s = scan_log(&log);
        assert_eq!((s.blocks.len(), s.end), (4, ScanEnd::Clean));
        let d = sample_dict();
        assert_eq!(scan_dict(&d).entries.len(), 7);
        let m = sample_manifest();
        assert!(decode_manifest(&m).is_ok());
        for (mut b, fix) in [
            (seg, segment as fn(&mut [u8])),
            (log, log_fix),
            (d, dict),
            (m, manifest),
        ] {
            let before = b.clone();
            fix(&mut b);
            assert_eq!(b, before);
        }
    }

    fn log_fix(b: &mut [u8]) {
        log(b)
    }

    #[test]
    fn resealing_makes_a_changed_field_reach_the_structural_checks() {
        // A cell count changed: refused by the CRC, then by the length rule.
        let mut b = sample_log();
        b[64 + 16] ^= 1;
        assert!(matches!(
            scan_log(&b).end,
            ScanEnd::TornTail { .. } | ScanEnd::Corrupt(_)
        ));
        log(&mut b);
        let s = scan_log(&b);
        assert_eq!(s.blocks.len(), 0, "{s:?}");
        let e = trendlog::format::decode_block(&b[64..]).unwrap_err();
        assert!(
            matches!(e.kind, trendlog::format::CorruptionKind::Invalid(_)),
            "{e:?}"
        );
        // A group's varint bytes changed: the group CRC is fixed, so verify
        // reports a structural error, not a checksum mismatch.
        let mut s = sample_segment();
        s[70] ^= 0x40;
        segment(&mut s);
        let v = SegmentView::open(&s[..]).unwrap();
        let e = v.verify().unwrap_err();
        assert!(
            !matches!(
                e.kind,
                trendlog::format::CorruptionKind::ChecksumMismatch { .. }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn never_panics_on_short_or_hostile_bytes() {
        for len in 0..200 {
            for fill in [0u8, 0xff, 0x41] {
                let mut b = vec![fill; len];
                segment(&mut b);
                log(&mut b);
                dict(&mut b);
                manifest(&mut b);
            }
        }
    }
}
