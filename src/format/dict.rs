//! The tag dictionary file: an append-only list of tags, where entry `i` (in
//! file order, from 0) is the tag with id `i`.
//!
//! A 16-byte file header ([`encode_dict_header`]) is followed by entries
//! ([`encode_dict_entry`]), packed with no padding: a dictionary holds one
//! entry per distinct tag, often more bytes than the cells of rare tags, so
//! every byte counts. After damage, [`scan_dict`] looks for a later valid entry
//! at every byte offset (the file is small next to the segments); the entry's
//! length range and CRC are its recognisable start.
//!
//! An entry's payload starts with a key kind byte. Kind 0 is a plain tag;
//! kind 1 (format version 3) is a series key of a labelled store: the tag, then
//! for each label key the byte 0x1F and the value (see [`crate::labels`]). A
//! kind-0 key never holds 0x1F and a kind-1 key always does.

use byteorder::{ByteOrder, LittleEndian};

use super::scan::{damage_end, ScanEnd};
use super::{check_file_header, crc32, CorruptionKind, DecodeError, VERSION};

/// Magic of the dictionary file.
pub const DICT_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'D'];
/// Length of the dictionary file header; the first entry starts here.
pub const DICT_HEADER_LEN: usize = 16;
/// Offset of the store id in the dictionary file header.
pub const DICT_STORE_ID_AT: usize = 8;
/// The longest key, in bytes: a 255-byte tag and eight 64-byte label values
/// with their separators fit.
pub const MAX_KEY_LEN: usize = 1023;
/// Key kind of a plain tag (the only kind of versions 1 and 2).
pub const KEY_KIND_TAG: u8 = 0;
/// Key kind of a series key: a tag with label values (version 3).
pub const KEY_KIND_SERIES: u8 = 1;
/// The byte separating a series key's tag and values.
const SERIES_SEPARATOR: u8 = 0x1f;
/// Length of an entry's fixed prefix (payload length and CRC).
const ENTRY_PREFIX_LEN: usize = 8;

/// Encodes the 16-byte dictionary file header of the store `store_id`.
pub fn encode_dict_header(store_id: u32) -> Vec<u8> {
    let mut h = vec![0u8; DICT_HEADER_LEN];
    h[..4].copy_from_slice(&DICT_MAGIC);
    LittleEndian::write_u16(&mut h[4..6], VERSION);
    LittleEndian::write_u32(&mut h[DICT_STORE_ID_AT..DICT_STORE_ID_AT + 4], store_id);
    let crc = crc32(&h[..DICT_HEADER_LEN - 4]);
    LittleEndian::write_u32(&mut h[DICT_HEADER_LEN - 4..], crc);
    h
}

/// Checks the dictionary file header at the start of `buf` and returns the
/// store id it records.
pub fn decode_dict_header(buf: &[u8]) -> Result<u32, DecodeError> {
    check_file_header(buf, DICT_MAGIC, DICT_HEADER_LEN)?;
    if buf[6..DICT_STORE_ID_AT].iter().any(|&b| b != 0) {
        return Err(DecodeError::invalid(
            6,
            "reserved bytes of the dictionary header are not zero",
        ));
    }
    Ok(LittleEndian::read_u32(&buf[DICT_STORE_ID_AT..]))
}

/// The encoded length of an entry for a tag of `tag_len` bytes (a multiple of 8).
pub fn encoded_dict_entry_len(tag_len: usize) -> usize {
    ENTRY_PREFIX_LEN + 1 + tag_len
}

/// Appends the entry for `tag` to `out`: `8 + 1 + tag.len()` bytes.
///
/// # Panics
/// If `tag` is empty or longer than [`MAX_KEY_LEN`] bytes; callers validate
/// tags first.
pub fn encode_dict_entry(tag: &str, out: &mut Vec<u8>) {
    assert!(
        !tag.is_empty() && tag.len() <= MAX_KEY_LEN,
        "a dictionary key must be 1 to 1023 bytes"
    );
    let start = out.len();
    let total = encoded_dict_entry_len(tag.len());
    let mut prefix = [0u8; ENTRY_PREFIX_LEN];
    LittleEndian::write_u32(&mut prefix[..4], 1 + tag.len() as u32);
    out.extend_from_slice(&prefix);
    let kind = if tag.as_bytes().contains(&SERIES_SEPARATOR) {
        KEY_KIND_SERIES
    } else {
        KEY_KIND_TAG
    };
    out.push(kind);
    out.extend_from_slice(tag.as_bytes());
    out.resize(start + total, 0);
    let crc = entry_crc(&out[start..]);
    LittleEndian::write_u32(&mut out[start + 4..start + 8], crc);
}

/// CRC of an entry: its payload length field, then the payload and padding.
fn entry_crc(entry: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&entry[..4]);
    h.update(&entry[ENTRY_PREFIX_LEN..]);
    h.finalize()
}

/// Decodes the entry at the start of `buf`; returns its key and its encoded
/// length (padding included).
pub fn decode_dict_entry(buf: &[u8]) -> Result<(&str, usize), DecodeError> {
    if buf.len() < ENTRY_PREFIX_LEN {
        return Err(DecodeError::truncated(
            0,
            ENTRY_PREFIX_LEN as u64,
            buf.len() as u64,
        ));
    }
    let payload_len = LittleEndian::read_u32(&buf[..4]) as usize;
    if !(2..=1 + MAX_KEY_LEN).contains(&payload_len) {
        return Err(DecodeError::invalid(
            0,
            format!(
                "dictionary entry payload length {payload_len} is not in 2..={}",
                1 + MAX_KEY_LEN
            ),
        ));
    }
    let total = encoded_dict_entry_len(payload_len - 1);
    if buf.len() < total {
        return Err(DecodeError::truncated(0, total as u64, buf.len() as u64));
    }
    let entry = &buf[..total];
    let stored = LittleEndian::read_u32(&entry[4..8]);
    let computed = entry_crc(entry);
    if stored != computed {
        return Err(DecodeError::new(
            4,
            CorruptionKind::ChecksumMismatch { stored, computed },
        ));
    }
    let payload_end = ENTRY_PREFIX_LEN + payload_len;
    let kind = entry[ENTRY_PREFIX_LEN];
    let key_bytes = &entry[ENTRY_PREFIX_LEN + 1..payload_end];
    let series = key_bytes.contains(&SERIES_SEPARATOR);
    match kind {
        KEY_KIND_TAG if !series => {}
        KEY_KIND_SERIES if series => {}
        KEY_KIND_TAG | KEY_KIND_SERIES => {
            return Err(DecodeError::invalid(
                ENTRY_PREFIX_LEN as u64,
                format!("dictionary key kind {kind} does not match its key"),
            ))
        }
        _ => {
            return Err(DecodeError::invalid(
                ENTRY_PREFIX_LEN as u64,
                format!("unknown dictionary key kind {kind}"),
            ))
        }
    }
    let key = std::str::from_utf8(&entry[ENTRY_PREFIX_LEN + 1..payload_end]).map_err(|e| {
        DecodeError::invalid(
            (ENTRY_PREFIX_LEN + 1 + e.valid_up_to()) as u64,
            "dictionary key is not valid UTF-8",
        )
    })?;
    Ok((key, total))
}

/// The result of [`scan_dict`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictScan<'a> {
    /// The store id from the file header, or why the header is unusable.
    /// Entries are scanned even when the header is unusable, so a report can
    /// say what is still readable.
    pub header: Result<u32, DecodeError>,
    /// The valid entries in order: entry `i` is the tag with id `i`.
    pub entries: Vec<&'a str>,
    /// The end of the last valid entry ([`DICT_HEADER_LEN`] when there is
    /// none; 0 when the buffer is shorter than the header).
    pub valid_end: u64,
    /// How the scan ended; the same rules as [`super::scan_log`].
    pub end: ScanEnd,
}

/// Scans a whole dictionary file: the header, then every entry from offset 16.
///
/// Ends cleanly at the end of `buf` or at the first entry offset after which
/// every byte is zero. An entry that fails to decode at `X` ends the scan with
/// [`ScanEnd::Corrupt`] (`DamageBeforeValidData`) if a valid entry starts at
/// some later offset, and with [`ScanEnd::TornTail`] at `X`
/// otherwise.
pub fn scan_dict(buf: &[u8]) -> DictScan<'_> {
    let header = decode_dict_header(buf);
    if buf.len() < DICT_HEADER_LEN {
        let kind = match &header {
            Err(e) => e.kind.clone(),
            Ok(_) => CorruptionKind::Truncated {
                needed: DICT_HEADER_LEN as u64,
                available: buf.len() as u64,
            },
        };
        return DictScan {
            header,
            entries: Vec::new(),
            valid_end: 0,
            end: ScanEnd::TornTail { offset: 0, kind },
        };
    }
    let mut entries = Vec::new();
    let mut pos = DICT_HEADER_LEN;
    let end = loop {
        let rest = &buf[pos..];
        if rest.iter().all(|&b| b == 0) {
            break ScanEnd::Clean;
        }
        match decode_dict_entry(rest) {
            Ok((key, len)) => {
                entries.push(key);
                pos += len;
            }
            Err(e) => {
                break damage_end(buf, pos, 1, e.kind, |b| {
                    decode_dict_entry(b).ok().map(|(_, len)| (len, u64::MAX))
                })
            }
        }
    };
    DictScan {
        header,
        entries,
        valid_end: pos as u64,
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAGS: [&str; 5] = [
        "metoo",
        "rust",
        "日本語",
        "x",
        "a-very-long-tag-name-of-some-length",
    ];

    fn sample() -> (Vec<u8>, Vec<u64>) {
        let mut d = encode_dict_header(7);
        let mut ends = vec![d.len() as u64];
        for t in TAGS {
            encode_dict_entry(t, &mut d);
            ends.push(d.len() as u64);
        }
        (d, ends)
    }

    #[test]
    fn round_trip() {
        let (d, ends) = sample();
        let s = scan_dict(&d);
        assert_eq!(s.header, Ok(7));
        assert_eq!(s.entries, TAGS);
        assert_eq!(s.end, ScanEnd::Clean);
        assert_eq!(s.valid_end, *ends.last().unwrap());
        let long = "é".repeat(127) + "a";
        let mut one = encode_dict_header(7);
        encode_dict_entry(&long, &mut one);
        assert_eq!(scan_dict(&one).entries, vec![long.as_str()]);
        let empty = encode_dict_header(7);
        let s = scan_dict(&empty);
        assert_eq!(
            (s.entries.len(), s.valid_end, s.end),
            (0, 16, ScanEnd::Clean)
        );
        let mut zeroed = d.clone();
        zeroed.resize(d.len() + 1000, 0);
        assert_eq!(scan_dict(&zeroed).entries, TAGS);
        assert_eq!(scan_dict(&zeroed).end, ScanEnd::Clean);
    }

    #[test]
    fn every_truncation_yields_whole_entries_before_the_cut() {
        let (d, ends) = sample();
        for cut in 0..=d.len() {
            let s = scan_dict(&d[..cut]);
            if cut < DICT_HEADER_LEN {
                assert!(s.header.is_err() && s.entries.is_empty());
                continue;
            }
            let whole = ends.iter().filter(|&&e| e <= cut as u64).count() - 1;
            assert_eq!(s.entries, TAGS[..whole], "cut at {cut}");
            assert_eq!(s.valid_end, ends[whole]);
            if ends.contains(&(cut as u64)) {
                assert_eq!(s.end, ScanEnd::Clean);
            } else {
                assert!(matches!(s.end, ScanEnd::TornTail { .. }), "cut at {cut}");
            }
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let (d, _) = sample();
        for bit in 0..(d.len().min(4096) * 8) {
            let mut x = d.clone();
            x[bit / 8] ^= 1 << (bit % 8);
            let s = scan_dict(&x);
            if bit / 8 < DICT_HEADER_LEN {
                assert!(s.header.is_err(), "header flip {bit}");
                continue;
            }
            assert!(s.entries.len() < TAGS.len(), "flip {bit} lost nothing");
            assert_eq!(s.entries, TAGS[..s.entries.len()]);
            match s.end {
                ScanEnd::TornTail { .. } => {
                    assert_eq!(s.entries.len(), TAGS.len() - 1, "flip {bit}")
                }
                ScanEnd::Corrupt(e) => {
                    assert!(matches!(
                        e.kind,
                        CorruptionKind::DamageBeforeValidData { .. }
                    ));
                    assert_eq!(e.offset, s.valid_end);
                }
                ScanEnd::Clean => panic!("flip {bit} ended clean"),
            }
        }
    }

    #[test]
    fn bad_entries_are_rejected() {
        // Invalid UTF-8 and an unknown kind, both with valid CRCs.
        for (kind, key) in [(0u8, &[0xff, 0xfe][..]), (7, b"tag")] {
            let mut e = vec![0u8; 8];
            LittleEndian::write_u32(&mut e[..4], 1 + key.len() as u32);
            e.push(kind);
            e.extend_from_slice(key);
            e.resize(encoded_dict_entry_len(key.len()), 0);
            let crc = entry_crc(&e);
            LittleEndian::write_u32(&mut e[4..8], crc);
            assert!(matches!(
                decode_dict_entry(&e).unwrap_err().kind,
                CorruptionKind::Invalid(_)
            ));
        }
        // Empty key and huge lengths.
        for len in [0u32, 1, 257, u32::MAX] {
            let mut e = vec![0u8; 64];
            LittleEndian::write_u32(&mut e[..4], len);
            assert!(decode_dict_entry(&e).is_err());
        }
    }

    #[test]
    fn damaged_middle_entry_is_corruption() {
        let (mut d, ends) = sample();
        d[ends[1] as usize + 9] ^= 0x20;
        let s = scan_dict(&d);
        assert_eq!(s.entries, TAGS[..1]);
        assert_eq!(
            s.end,
            ScanEnd::Corrupt(DecodeError::new(
                ends[1],
                CorruptionKind::DamageBeforeValidData {
                    next_valid: ends[2]
                }
            ))
        );
    }

    #[test]
    #[should_panic(expected = "1 to 1023")]
    fn long_key_panics() {
        encode_dict_entry(&"a".repeat(1024), &mut Vec::new());
    }
}
