//! The series file of a labelled store (`series`, format version 5): which
//! tag and which label values each series id stands for, in fixed-width
//! records, so that a series costs a few bytes instead of its key's text.
//!
//! A 16-byte header ([`encode_series_header`]) is followed by blocks, one per
//! write (the new series of one batch, written after the batch's new tags
//! reach `tags.dict` and before its log block). A block ([`encode_series_block`])
//! holds the label values it introduces, then its records: record `i` of the
//! file (counting across blocks, from 0) is series id `i`, and names its tag
//! by id in `tags.dict` and each label value by its number among the values
//! of its key (numbered in file order from 0). Every field of a block's
//! records has the width its largest number needs (1 to 4 bytes), so a
//! store of 200,000 tags and a few dozen label values spends 5 bytes per
//! series.
//!
//! A writable open reads the file whole (a read-only one reads it through
//! its index, [`super::series_index`], when there is one): a block that
//! fails to decode ends the valid part ([`decode_series_block`]); whether what follows is a torn write or damage
//! is decided by what the manifest and the log say was durable
//! (`crate::series`), not by looking for a later valid block.

use byteorder::{ByteOrder, LittleEndian};

use super::{check_file_header_versions, crc32, varint, CorruptionKind, DecodeError};
use crate::labels::{MAX_LABEL_KEYS, MAX_LABEL_VALUE_BYTES};

/// Magic of the series file.
pub const SERIES_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'R'];
/// Length of the series file header; the first block starts here.
pub const SERIES_HEADER_LEN: usize = 16;
/// Offset of the store id in the series file header.
pub const SERIES_STORE_ID_AT: usize = 8;
/// The format version of the series file (the first version that has one).
pub const SERIES_VERSION: u16 = 5;
/// Length of a block's header: the body length and the CRC.
pub const SERIES_BLOCK_HEADER_LEN: usize = 8;
/// The most body bytes one block holds; a longer write is split into several
/// blocks at record boundaries.
pub const MAX_SERIES_BLOCK_BODY: usize = 1 << 20;

/// Encodes the 16-byte header of the series file of store `store_id`, whose
/// records hold `nkeys` label values each.
pub fn encode_series_header(store_id: u32, nkeys: usize) -> Vec<u8> {
    let mut h = vec![0u8; SERIES_HEADER_LEN];
    h[..4].copy_from_slice(&SERIES_MAGIC);
    LittleEndian::write_u16(&mut h[4..6], SERIES_VERSION);
    LittleEndian::write_u16(&mut h[6..8], nkeys as u16);
    LittleEndian::write_u32(&mut h[8..12], store_id);
    let crc = crc32(&h[..12]);
    LittleEndian::write_u32(&mut h[12..16], crc);
    h
}

/// Checks the series file header at the start of `buf`: magic, length, CRC,
/// version, a key count of 1 to 8. Returns the store id and the key count.
pub fn decode_series_header(buf: &[u8]) -> Result<(u32, usize), DecodeError> {
    check_file_header_versions(
        buf,
        SERIES_MAGIC,
        SERIES_HEADER_LEN,
        SERIES_VERSION..=SERIES_VERSION,
    )?;
    let nkeys = LittleEndian::read_u16(&buf[6..8]) as usize;
    if !(1..=MAX_LABEL_KEYS).contains(&nkeys) {
        return Err(DecodeError::invalid(
            6,
            format!(
                "the series file holds {nkeys} label values per record, not 1 to {MAX_LABEL_KEYS}"
            ),
        ));
    }
    Ok((LittleEndian::read_u32(&buf[8..12]), nkeys))
}

/// Bytes a field holding `n` needs (1 to 4).
fn width_of(n: u32) -> usize {
    match n {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xff_ffff => 3,
        _ => 4,
    }
}

/// Encodes one write's new series as blocks appended to `out`: `values`, the
/// label values first defined by this write (key index, value; numbered after
/// the values of their key already in the file, in this order), then the
/// records, `tags[i]` with `vals[i * nkeys..(i + 1) * nkeys]`. Usually one
/// block; a write of more than [`MAX_SERIES_BLOCK_BODY`] bytes is split,
/// values first (in order, blocks of values only while they fill one), then
/// records at record boundaries. Nothing is written for a write of neither.
pub fn encode_series_block(
    nkeys: usize,
    values: &[(u8, &str)],
    tags: &[u32],
    vals: &[u32],
    out: &mut Vec<u8>,
) {
    debug_assert_eq!(tags.len() * nkeys, vals.len());
    let (mut vi, mut ri) = (0, 0);
    while vi < values.len() || ri < tags.len() {
        // Values while they fit beside the count (at most 10 bytes) and
        // the widths.
        let mut room = MAX_SERIES_BLOCK_BODY - 10 - (1 + nkeys);
        let from = vi;
        while let Some((_, v)) = values.get(vi).filter(|(_, v)| 2 + v.len() <= room) {
            room -= 2 + v.len();
            vi += 1;
        }
        let mut body = Vec::new();
        varint::put_u64(&mut body, (vi - from) as u64);
        for (k, v) in &values[from..vi] {
            body.push(*k);
            body.push(v.len() as u8);
            body.extend_from_slice(v.as_bytes());
        }
        // Then as many records as fit, once every value is written, at the
        // widest widths of the rest (a bound that only makes a split earlier).
        let n = if vi < values.len() {
            0
        } else {
            tags.len() - ri
        };
        let max_tag = tags[ri..ri + n].iter().copied().max().unwrap_or(0);
        let mut max_val = vec![0u32; nkeys];
        for (i, v) in vals[ri * nkeys..(ri + n) * nkeys].iter().enumerate() {
            max_val[i % nkeys] = max_val[i % nkeys].max(*v);
        }
        let widths: Vec<usize> = std::iter::once(width_of(max_tag))
            .chain(max_val.iter().map(|&v| width_of(v)))
            .collect();
        let record: usize = widths.iter().sum();
        let room = MAX_SERIES_BLOCK_BODY - body.len() - widths.len();
        let n = n.min(room / record);
        body.extend(widths.iter().map(|&w| w as u8));
        for i in ri..ri + n {
            put_field(&mut body, tags[i], widths[0]);
            for k in 0..nkeys {
                put_field(&mut body, vals[i * nkeys + k], widths[1 + k]);
            }
        }
        ri += n;
        assert!(
            body.len() <= MAX_SERIES_BLOCK_BODY,
            "a series block of {} bytes",
            body.len()
        );
        let mut len = [0u8; 4];
        LittleEndian::write_u32(&mut len, body.len() as u32);
        out.extend_from_slice(&len);
        out.extend_from_slice(&block_crc(&len, &body).to_le_bytes());
        out.extend_from_slice(&body);
    }
}

/// The largest value of the `w`-byte field at `off` of each `width`-byte
/// record of `records`: four bytes read at once and masked to the field,
/// while four bytes remain, then field by field.
fn column_max(records: &[u8], width: usize, off: usize, w: usize) -> u32 {
    let mask = if w >= 4 {
        u32::MAX
    } else {
        (1u32 << (8 * w)) - 1
    };
    let n = records.len() / width;
    let read = |at: usize| {
        let b = &records[at..at + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & mask
    };
    // Records whose field has four bytes from it, four at a time into four
    // maxima (one running maximum is a chain of dependent compares).
    let fast = if records.len() >= off + 4 {
        ((records.len() - off - 4) / width + 1).min(n)
    } else {
        0
    };
    let mut m = [0u32; 4];
    let mut i = 0;
    while i + 4 <= fast {
        for (j, mj) in m.iter_mut().enumerate() {
            *mj = (*mj).max(read((i + j) * width + off));
        }
        i += 4;
    }
    let mut max = m.into_iter().max().unwrap_or(0);
    while i < fast {
        max = max.max(read(i * width + off));
        i += 1;
    }
    for j in i..n {
        let at = j * width + off;
        max = max.max(le(&records[at..at + w]));
    }
    max
}

/// A little-endian field of 1 to 4 bytes.
#[inline]
fn le(b: &[u8]) -> u32 {
    match *b {
        [a] => u32::from(a),
        [a, b] => u32::from(u16::from_le_bytes([a, b])),
        [a, b, c] => u32::from_le_bytes([a, b, c, 0]),
        [a, b, c, d, ..] => u32::from_le_bytes([a, b, c, d]),
        [] => 0,
    }
}

fn put_field(out: &mut Vec<u8>, v: u32, width: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..width]);
}

fn block_crc(len: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(body);
    h.finalize()
}

/// A decoded block of the series file, borrowing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesBlock<'a> {
    /// Label values the block defines: key index and value, in order.
    pub values: Vec<(usize, &'a str)>,
    /// Field widths: the tag's, then each key's value's.
    pub widths: Vec<usize>,
    /// The records' bytes.
    pub records: &'a [u8],
    /// Where the records start, from the start of the block.
    pub records_at: usize,
    /// The block's whole length, header included.
    pub len: usize,
}

/// Field `k` (0: the tag; `1 + j`: key `j`'s value) of a record of a block
/// with field `widths`, from the record's bytes.
#[inline]
pub fn record_field(record: &[u8], widths: &[usize], k: usize) -> u32 {
    let at: usize = widths[..k].iter().sum();
    le(&record[at..at + widths[k]])
}

impl SeriesBlock<'_> {
    /// The largest number of each field over the block's records (0 when
    /// it has none): the tag's, then each key's value's.
    pub fn field_max(&self) -> Vec<u32> {
        let width: usize = self.widths.iter().sum();
        let mut off = 0;
        let mut max = Vec::with_capacity(self.widths.len());
        for &w in &self.widths {
            max.push(column_max(self.records, width, off, w));
            off += w;
        }
        max
    }

    /// Number of records (series) in the block.
    pub fn count(&self) -> usize {
        self.records.len() / self.widths.iter().sum::<usize>()
    }

    /// Record `i`: its tag id, and its value numbers written into `vals`
    /// (one per key).
    pub fn record(&self, i: usize, vals: &mut [u32]) -> u32 {
        let width: usize = self.widths.iter().sum();
        let mut at = i * width;
        let mut field = |w: usize| {
            let mut b = [0u8; 4];
            b[..w].copy_from_slice(&self.records[at..at + w]);
            at += w;
            u32::from_le_bytes(b)
        };
        let tag = field(self.widths[0]);
        for (k, v) in vals.iter_mut().enumerate() {
            *v = field(self.widths[1 + k]);
        }
        tag
    }
}

/// Decodes the block at the start of `buf` in a file of `nkeys` keys: its
/// length in range, its CRC, its values (key index below `nkeys`, at most
/// 64 bytes, UTF-8 and normalised as label values are), its field widths (1
/// to 4) and records filling the rest exactly, and at least one value or
/// record. Offsets in errors are relative to `buf`. Whether the values are
/// new and the numbers in the records defined is for the reader that knows
/// the file before the block.
pub fn decode_series_block(buf: &[u8], nkeys: usize) -> Result<SeriesBlock<'_>, DecodeError> {
    let h = SERIES_BLOCK_HEADER_LEN;
    if buf.len() < h {
        return Err(DecodeError::truncated(0, h as u64, buf.len() as u64));
    }
    let len = LittleEndian::read_u32(&buf[..4]) as usize;
    if !(1..=MAX_SERIES_BLOCK_BODY).contains(&len) {
        return Err(DecodeError::invalid(
            0,
            format!("series block length {len} out of range 1..={MAX_SERIES_BLOCK_BODY}"),
        ));
    }
    if buf.len() < h + len {
        return Err(DecodeError::truncated(
            0,
            (h + len) as u64,
            buf.len() as u64,
        ));
    }
    let body = &buf[h..h + len];
    let stored = LittleEndian::read_u32(&buf[4..8]);
    let computed = block_crc(&buf[..4], body);
    if stored != computed {
        return Err(DecodeError::new(
            4,
            CorruptionKind::ChecksumMismatch { stored, computed },
        ));
    }
    let bad = |at: usize, why: String| DecodeError::invalid((h + at) as u64, why);
    let mut pos = 0;
    let nvalues = varint::get_u64(body, &mut pos)
        .ok_or_else(|| bad(0, "series block value count does not decode".into()))?;
    let mut values = Vec::new();
    for _ in 0..nvalues {
        let at = pos;
        let (Some(&k), Some(&n)) = (body.get(pos), body.get(pos + 1)) else {
            return Err(bad(at, "series block value runs past the block".into()));
        };
        let (k, n) = (k as usize, n as usize);
        if k >= nkeys {
            return Err(bad(at, format!("label key {k} of {nkeys}")));
        }
        if n > MAX_LABEL_VALUE_BYTES || pos + 2 + n > body.len() {
            return Err(bad(at, format!("label value of {n} bytes")));
        }
        let v = std::str::from_utf8(&body[pos + 2..pos + 2 + n])
            .map_err(|_| bad(at, "label value is not UTF-8".into()))?;
        if !crate::labels::is_normalized_value(v) {
            return Err(bad(at, format!("label value {v:?} is not normalised")));
        }
        values.push((k, v));
        pos += 2 + n;
    }
    if pos + 1 + nkeys > body.len() {
        return Err(bad(
            pos,
            "series block field widths run past the block".into(),
        ));
    }
    let widths: Vec<usize> = body[pos..pos + 1 + nkeys]
        .iter()
        .map(|&w| w as usize)
        .collect();
    if let Some(i) = widths.iter().position(|w| !(1..=4).contains(w)) {
        return Err(bad(
            pos + i,
            format!("field width {} not 1 to 4", widths[i]),
        ));
    }
    pos += 1 + nkeys;
    let records = &body[pos..];
    let width: usize = widths.iter().sum();
    if !records.len().is_multiple_of(width) {
        return Err(bad(
            pos,
            format!(
                "{} record bytes are not whole records of {width} bytes",
                records.len()
            ),
        ));
    }
    if values.is_empty() && records.is_empty() {
        return Err(bad(0, "empty series block".into()));
    }
    Ok(SeriesBlock {
        values,
        widths,
        records,
        records_at: h + pos,
        len: h + len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(b: &SeriesBlock, nkeys: usize) -> Vec<(u32, Vec<u32>)> {
        (0..b.count())
            .map(|i| {
                let mut v = vec![0; nkeys];
                let t = b.record(i, &mut v);
                (t, v)
            })
            .collect()
    }

    #[test]
    fn header_round_trips_and_refuses_damage() {
        let h = encode_series_header(0xdead_beef, 2);
        assert_eq!(decode_series_header(&h).unwrap(), (0xdead_beef, 2));
        for bit in 0..h.len() * 8 {
            let mut d = h.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_series_header(&d).is_err(), "bit {bit}");
        }
        assert!(decode_series_header(&encode_series_header(1, 0)).is_err());
        assert!(decode_series_header(&encode_series_header(1, 9)).is_err());
        assert!(decode_series_header(&h[..15]).is_err());
    }

    /// The header's errors, as the file-header check shared with every
    /// other file kind gives them, with the series file's own versions.
    #[test]
    fn header_errors_name_the_place_and_the_versions_read() {
        let h = encode_series_header(7, 1);
        let err = |b: &[u8]| decode_series_header(b).unwrap_err();
        assert_eq!(
            err(&[0xB7, b'x']),
            DecodeError::new(0, CorruptionKind::BadMagic)
        );
        assert_eq!(err(&h[..15]), DecodeError::truncated(0, 16, 15));
        let mut d = h.clone();
        d[9] ^= 1;
        assert!(matches!(
            err(&d),
            DecodeError {
                offset: 12,
                kind: CorruptionKind::ChecksumMismatch { .. }
            }
        ));
        // Version 4, with a CRC that holds: a file of the wrong version.
        let mut v4 = h.clone();
        v4[4] = 4;
        let crc = crc32(&v4[..12]);
        v4[12..16].copy_from_slice(&crc.to_le_bytes());
        let e = err(&v4);
        assert_eq!(
            e,
            DecodeError::new(
                4,
                CorruptionKind::UnsupportedVersion {
                    found: 4,
                    min: 5,
                    max: 5
                }
            )
        );
        assert_eq!(
            e.kind.to_string(),
            "format version 4 is not supported (this build reads versions 5 to 5)"
        );
    }

    #[test]
    fn a_block_round_trips_with_the_narrowest_widths() {
        let mut out = Vec::new();
        encode_series_block(
            2,
            &[(0, "instagram"), (1, ""), (1, "chicago")],
            &[0, 300, 70_000],
            &[0, 1, 0, 0, 0, 1],
            &mut out,
        );
        let b = decode_series_block(&out, 2).unwrap();
        assert_eq!(b.len, out.len());
        assert_eq!(b.values, vec![(0, "instagram"), (1, ""), (1, "chicago")]);
        assert_eq!(b.widths, vec![3, 1, 1]);
        assert_eq!(
            records(&b, 2),
            vec![(0, vec![0, 1]), (300, vec![0, 0]), (70_000, vec![0, 1])]
        );
        // Every bit flip is caught.
        for bit in 0..out.len() * 8 {
            let mut d = out.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_series_block(&d, 2).is_err(), "bit {bit}");
        }
        // And every truncation.
        for n in 0..out.len() {
            assert!(decode_series_block(&out[..n], 2).is_err(), "{n} bytes");
        }
    }

    #[test]
    fn long_writes_split_at_records() {
        let n = MAX_SERIES_BLOCK_BODY; // records of 2 bytes: two blocks
        let tags: Vec<u32> = (0..n as u32).map(|i| i % 200).collect();
        let vals = vec![3u32; n];
        let mut out = Vec::new();
        encode_series_block(1, &[(0, "x")], &tags, &vals, &mut out);
        let mut at = 0;
        let mut got = Vec::new();
        while at < out.len() {
            let b = decode_series_block(&out[at..], 1).unwrap();
            got.extend(records(&b, 1));
            at += b.len;
        }
        assert_eq!(got.len(), n);
        assert!(got.iter().zip(&tags).all(|((t, v), w)| t == w && v == &[3]));
    }

    #[test]
    fn more_than_a_block_of_values_splits_into_blocks_of_values() {
        let names: Vec<String> = (0..20_000).map(|i| format!("{i:064}")).collect();
        let values: Vec<(u8, &str)> = names.iter().map(|v| (0, v.as_str())).collect();
        let tags = [7u32, 8];
        let vals = [19_999u32, 0];
        let mut out = Vec::new();
        encode_series_block(1, &values, &tags, &vals, &mut out);
        let (mut at, mut got_values, mut got) = (0, Vec::new(), Vec::new());
        while at < out.len() {
            let b = decode_series_block(&out[at..], 1).unwrap();
            assert!(b.len - SERIES_BLOCK_HEADER_LEN <= MAX_SERIES_BLOCK_BODY);
            got_values.extend(b.values.iter().map(|&(k, v)| (k as u8, v.to_string())));
            got.extend(records(&b, 1));
            at += b.len;
        }
        assert!(at > MAX_SERIES_BLOCK_BODY, "more than one block");
        let want: Vec<(u8, String)> = values.iter().map(|&(k, v)| (k, v.to_string())).collect();
        assert_eq!(got_values, want);
        assert_eq!(got, vec![(7, vec![19_999]), (8, vec![0])]);
        // A write of nothing writes nothing.
        let mut none = Vec::new();
        encode_series_block(2, &[], &[], &[], &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn bad_values_and_widths_are_refused() {
        let block = |values: &[(u8, &str)], widths: &[u8]| {
            let mut body = Vec::new();
            varint::put_u64(&mut body, values.len() as u64);
            for (k, v) in values {
                body.push(*k);
                body.push(v.len() as u8);
                body.extend_from_slice(v.as_bytes());
            }
            body.extend_from_slice(widths);
            let mut len = [0u8; 4];
            LittleEndian::write_u32(&mut len, body.len() as u32);
            let mut out = len.to_vec();
            out.extend_from_slice(&block_crc(&len, &body).to_le_bytes());
            out.extend_from_slice(&body);
            out
        };
        assert!(decode_series_block(&block(&[(0, "ok")], &[1, 1]), 1).is_ok());
        assert!(decode_series_block(&block(&[(0, "#tw")], &[1, 1]), 1).is_ok());
        assert!(decode_series_block(&block(&[(1, "ok")], &[1, 1]), 1).is_err());
        assert!(decode_series_block(&block(&[(0, "Chicago")], &[1, 1]), 1).is_err());
        assert!(decode_series_block(&block(&[(0, "a b")], &[1, 1]), 1).is_err());
        assert!(decode_series_block(&block(&[(0, "ok")], &[0, 1]), 1).is_err());
        assert!(decode_series_block(&block(&[(0, "ok")], &[1, 5]), 1).is_err());
        assert!(decode_series_block(&block(&[], &[1, 1]), 1).is_err());
        assert!(decode_series_block(&block(&[(0, "ok")], &[1, 1, 7]), 1).is_err());
    }
}
