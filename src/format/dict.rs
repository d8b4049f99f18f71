//! The tag dictionary file: an append-only list of tags, where entry `i` (in
//! file order, from 0) is the tag with id `i`.
//!
//! A 16-byte file header ([`encode_dict_header`]) is followed by entries,
//! packed with no padding: a dictionary holds one entry per distinct tag,
//! often more bytes than the cells of rare tags, so every byte counts. How
//! they are framed depends on the header's version ([`Framing`]):
//!
//! - versions 1 to 3 ([`Framing::Entries`]): each entry carries its payload
//!   length and its own CRC, 8 bytes ([`encode_dict_entry`]);
//! - version 4 on ([`Framing::Blocks`]): each entry carries only a one- or
//!   two-byte length ([`encode_packed_entry`]), and the entries of one write
//!   form a block with one CRC ([`encode_dict_blocks`]). A block starts with
//!   the byte 0, which never starts an entry.
//!
//! After damage, [`scan_dict`] looks for a later valid entry (or block) at
//! every byte offset (the file is small next to the segments); the length
//! range and CRC are its recognisable start.
//!
//! An entry's key kind is 0 for a plain tag and 1 (format version 3) for a
//! series key of a labelled store: the tag, then for each label key the byte
//! 0x1F and the value (see [`crate::labels`]). A kind-0 key never holds 0x1F
//! and a kind-1 key always does.

use byteorder::{ByteOrder, LittleEndian};

use super::scan::{damage_end, ScanEnd};
use super::{check_file_header, crc32, varint, CorruptionKind, DecodeError, VERSION};

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
/// The first format version whose dictionary packs entries in blocks.
pub const BLOCKS_FROM_VERSION: u16 = 4;
/// Length of a block's header: the mark byte 0, the body length (24 bits),
/// and the CRC.
pub const BLOCK_HEADER_LEN: usize = 8;
/// The most entry bytes one block holds; a longer write is split into
/// several blocks at entry boundaries.
pub const MAX_BLOCK_BODY: usize = 1 << 20;
/// The first byte of a block; no entry starts with it.
const BLOCK_MARK: u8 = 0;

/// How the entries of a dictionary file are framed, by its header's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Versions 1 to 3: each entry has an 8-byte prefix, its payload length
    /// and its CRC.
    Entries,
    /// Version 4 on: blocks of packed entries, one CRC per block.
    Blocks,
}

impl Framing {
    /// The framing of a file of format version `version`.
    pub fn of_version(version: u16) -> Framing {
        if version >= BLOCKS_FROM_VERSION {
            Framing::Blocks
        } else {
            Framing::Entries
        }
    }

    /// The framing the version field of a dictionary file's header names,
    /// read as it is: a damaged header is reported by
    /// [`decode_dict_header`], and the entries are still scanned for the
    /// report.
    pub fn of_file(buf: &[u8]) -> Framing {
        match buf.get(4..6) {
            Some(v) => Framing::of_version(LittleEndian::read_u16(v)),
            None => Framing::of_version(VERSION),
        }
    }
}

/// Encodes the 16-byte dictionary file header of the store `store_id`, of
/// the format version this build writes.
pub fn encode_dict_header(store_id: u32) -> Vec<u8> {
    encode_dict_header_of_version(store_id, VERSION)
}

/// Encodes a dictionary file header of format version `version` (which
/// decides the file's [`Framing`]); for tests and tools that build files of
/// earlier versions.
pub fn encode_dict_header_of_version(store_id: u32, version: u16) -> Vec<u8> {
    let mut h = vec![0u8; DICT_HEADER_LEN];
    h[..4].copy_from_slice(&DICT_MAGIC);
    LittleEndian::write_u16(&mut h[4..6], version);
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

/// The encoded length of a version 1 to 3 entry for a key of `tag_len` bytes:
/// `9 + tag_len` (the length and CRC prefix, the kind byte, the key; no padding).
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
    let key = check_key(
        kind,
        &entry[ENTRY_PREFIX_LEN + 1..payload_end],
        ENTRY_PREFIX_LEN,
    )?;
    Ok((key, total))
}

/// Checks that a key's kind matches its bytes (a series key, and only one,
/// holds the separator) and that the bytes are UTF-8; `at` is the offset of
/// the kind (or of the length that carries it) for errors.
fn check_key(kind: u8, key: &[u8], at: usize) -> Result<&str, DecodeError> {
    let series = key.contains(&SERIES_SEPARATOR);
    match kind {
        KEY_KIND_TAG if !series => {}
        KEY_KIND_SERIES if series => {}
        KEY_KIND_TAG | KEY_KIND_SERIES => {
            return Err(DecodeError::invalid(
                at as u64,
                format!("dictionary key kind {kind} does not match its key"),
            ))
        }
        _ => {
            return Err(DecodeError::invalid(
                at as u64,
                format!("unknown dictionary key kind {kind}"),
            ))
        }
    }
    std::str::from_utf8(key)
        .map_err(|_| DecodeError::invalid(at as u64, "dictionary key is not valid UTF-8"))
}

/// Appends the packed entry (version 4) for `key` to `out`: the LEB128 of
/// `len << 1 | kind` (one byte for keys of up to 63 bytes, two up to 1023),
/// then the key. It has no CRC of its own: [`encode_dict_blocks`] frames
/// the entries of one write.
///
/// # Panics
/// If `key` is empty or longer than [`MAX_KEY_LEN`] bytes; callers validate
/// keys first.
pub fn encode_packed_entry(key: &str, out: &mut Vec<u8>) {
    assert!(
        !key.is_empty() && key.len() <= MAX_KEY_LEN,
        "a dictionary key must be 1 to 1023 bytes"
    );
    let kind = u64::from(key.as_bytes().contains(&SERIES_SEPARATOR));
    varint::put_u64(out, (key.len() as u64) << 1 | kind);
    out.extend_from_slice(key.as_bytes());
}

/// The packed entry at `buf[at..]`: its kind, its key bytes and its encoded
/// length, after checking the length field only (canonical, key 1 to
/// [`MAX_KEY_LEN`] bytes, inside `buf`). A CRC vouches for the bytes
/// elsewhere: the block's, or the index's page table.
pub fn packed_entry(buf: &[u8], at: usize) -> Result<(u8, &[u8], usize), DecodeError> {
    let mut pos = at;
    let h = varint::get_u64(buf, &mut pos)
        .filter(|&h| h >> 1 >= 1 && h >> 1 <= MAX_KEY_LEN as u64)
        .ok_or_else(|| {
            DecodeError::invalid(
                at as u64,
                format!("a packed dictionary entry's length is not in 1..={MAX_KEY_LEN}"),
            )
        })?;
    let key_len = (h >> 1) as usize;
    let key = buf.get(pos..pos + key_len).ok_or_else(|| {
        DecodeError::truncated(
            at as u64,
            (pos - at + key_len) as u64,
            (buf.len() - at) as u64,
        )
    })?;
    Ok(((h & 1) as u8, key, pos - at + key_len))
}

/// Frames packed entries (concatenated [`encode_packed_entry`] output) as
/// blocks appended to `out`, each at most [`MAX_BLOCK_BODY`] entry bytes:
/// byte 0 is 0, bytes 1..4 the body length (little-endian, 24 bits), bytes
/// 4..8 the CRC32 of bytes 1..4 and the body, then the body.
///
/// # Panics
/// If `entries` is not a sequence of whole packed entries.
pub fn encode_dict_blocks(entries: &[u8], out: &mut Vec<u8>) {
    let mut from = 0;
    while from < entries.len() {
        let mut to = from;
        while to < entries.len() {
            let (_, _, len) = packed_entry(entries, to).expect("whole packed entries");
            if to > from && to + len - from > MAX_BLOCK_BODY {
                break;
            }
            to += len;
        }
        frame_block(&entries[from..to], out);
        from = to;
    }
}

/// Appends one block holding `body` (at most [`MAX_BLOCK_BODY`] bytes, not
/// checked) to `out`: the mark, the 24-bit length, the CRC, the body.
fn frame_block(body: &[u8], out: &mut Vec<u8>) {
    let len = (body.len() as u32).to_le_bytes();
    out.push(BLOCK_MARK);
    out.extend_from_slice(&len[..3]);
    out.extend_from_slice(&block_crc(&len[..3], body).to_le_bytes());
    out.extend_from_slice(body);
}

/// The CRC32 of a block: its three length bytes, then its body.
fn block_crc(len: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(body);
    h.finalize()
}

/// The packed entries of blocks that [`encode_dict_blocks`] framed: what a
/// writer puts back in its queue when the write of the blocks failed.
///
/// # Panics
/// If `blocks` is not a sequence of whole blocks.
pub fn unframe_dict_blocks(blocks: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(blocks.len());
    let mut at = 0;
    while at < blocks.len() {
        let len = decode_dict_block(&blocks[at..], |_, _| {}).expect("whole blocks");
        out.extend_from_slice(&blocks[at + BLOCK_HEADER_LEN..at + len]);
        at += len;
    }
    out
}

/// Decodes the block at the start of `buf`: checks its mark, length and CRC,
/// then calls `each(offset, key)` for every entry (offsets from the start
/// of `buf`), each checked for kind and UTF-8; the entries must fill the
/// body exactly. Returns the block's length, header included.
pub fn decode_dict_block<'a>(
    buf: &'a [u8],
    mut each: impl FnMut(usize, &'a str),
) -> Result<usize, DecodeError> {
    let Some(header) = buf.get(..BLOCK_HEADER_LEN) else {
        return Err(DecodeError::truncated(
            0,
            BLOCK_HEADER_LEN as u64,
            buf.len() as u64,
        ));
    };
    if header[0] != BLOCK_MARK {
        return Err(DecodeError::invalid(
            0,
            format!("byte {:#04x} where a dictionary block starts", header[0]),
        ));
    }
    let body_len =
        usize::from(header[1]) | usize::from(header[2]) << 8 | usize::from(header[3]) << 16;
    if !(1..=MAX_BLOCK_BODY).contains(&body_len) {
        return Err(DecodeError::invalid(
            1,
            format!("dictionary block length {body_len} is not in 1..={MAX_BLOCK_BODY}"),
        ));
    }
    let total = BLOCK_HEADER_LEN + body_len;
    let Some(block) = buf.get(..total) else {
        return Err(DecodeError::truncated(0, total as u64, buf.len() as u64));
    };
    // No valid body holds a zero byte (lengths are at least 2, a second
    // length byte is at least 1, keys hold no control character). Looking
    // for one before the CRC bounds the cost of the search for a valid block
    // after damage: a candidate is a zero byte, and its body scan stops at
    // the next one, so crafted bytes cannot make every offset cost 1 MiB.
    if let Some(z) = block[BLOCK_HEADER_LEN..].iter().position(|&b| b == 0) {
        return Err(DecodeError::invalid(
            (BLOCK_HEADER_LEN + z) as u64,
            "a zero byte inside a dictionary block's body",
        ));
    }
    let stored = LittleEndian::read_u32(&header[4..8]);
    let computed = block_crc(&header[1..4], &block[BLOCK_HEADER_LEN..]);
    if stored != computed {
        return Err(DecodeError::new(
            4,
            CorruptionKind::ChecksumMismatch { stored, computed },
        ));
    }
    let mut at = BLOCK_HEADER_LEN;
    while at < total {
        let (kind, key, len) = packed_entry(block, at)?;
        each(at, check_key(kind, key, at)?);
        at += len;
    }
    Ok(total)
}

/// Appends `keys` to the bytes of a dictionary file of the given framing as
/// one write would: entries each with its CRC, or packed in blocks.
///
/// ```
/// use trendlog::format::dict::{encode_dict_header, encode_dict_keys, scan_dict, Framing};
/// let mut file = encode_dict_header(7);
/// encode_dict_keys(Framing::Blocks, &["metoo", "rust"], &mut file);
/// assert_eq!(file.len(), 16 + 8 + (1 + 5) + (1 + 4));
/// assert_eq!(scan_dict(&file).entries, ["metoo", "rust"]);
/// ```
///
/// # Panics
/// If a key is empty or longer than [`MAX_KEY_LEN`] bytes.
pub fn encode_dict_keys<S: AsRef<str>>(framing: Framing, keys: &[S], out: &mut Vec<u8>) {
    match framing {
        Framing::Entries => keys.iter().for_each(|k| encode_dict_entry(k.as_ref(), out)),
        Framing::Blocks => {
            let mut packed = Vec::new();
            keys.iter()
                .for_each(|k| encode_packed_entry(k.as_ref(), &mut packed));
            encode_dict_blocks(&packed, out);
        }
    }
}

/// The offset and key bytes of every entry of the version-4 dictionary
/// bytes `dict` in the blocks from byte `at` (which starts a block) to its
/// end, each block's CRC and each entry's kind checked.
pub fn block_entries_from(dict: &[u8], mut at: usize) -> Result<Vec<(u32, &[u8])>, DecodeError> {
    let mut entries = Vec::new();
    while at < dict.len() {
        let base = at;
        at += decode_dict_block(&dict[at..], |off, key| {
            entries.push(((base + off) as u32, key.as_bytes()))
        })
        .map_err(|e| DecodeError {
            offset: e.offset + base as u64,
            ..e
        })?;
    }
    Ok(entries)
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

/// Scans a whole dictionary file: the header, then every entry (or block, in
/// the [`Framing`] its header names) from offset 16.
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
    let framing = Framing::of_file(buf);
    let mut entries = Vec::new();
    let mut pos = DICT_HEADER_LEN;
    let end = loop {
        let rest = &buf[pos..];
        if rest.iter().all(|&b| b == 0) {
            break ScanEnd::Clean;
        }
        let decoded = match framing {
            Framing::Entries => decode_dict_entry(rest).map(|(key, len)| {
                entries.push(key);
                len
            }),
            Framing::Blocks => decode_dict_block(rest, |_, key| entries.push(key)),
        };
        match decoded {
            Ok(len) => pos += len,
            Err(e) => {
                break damage_end(buf, pos, 1, e.kind, |b| {
                    let len = match framing {
                        Framing::Entries => decode_dict_entry(b).ok()?.1,
                        Framing::Blocks => decode_dict_block(b, |_, _| {}).ok()?,
                    };
                    Some((len, u64::MAX))
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

    const FRAMINGS: [(Framing, u16); 2] = [(Framing::Entries, 3), (Framing::Blocks, 4)];

    /// A file of `TAGS`, each written on its own (one block each in
    /// version 4), and the end of each write.
    fn sample_of(framing: Framing) -> (Vec<u8>, Vec<u64>) {
        let version = if framing == Framing::Blocks { 4 } else { 3 };
        let mut d = encode_dict_header_of_version(7, version);
        let mut ends = vec![d.len() as u64];
        for t in TAGS {
            encode_dict_keys(framing, &[t], &mut d);
            ends.push(d.len() as u64);
        }
        (d, ends)
    }

    fn sample() -> (Vec<u8>, Vec<u64>) {
        sample_of(Framing::Entries)
    }

    #[test]
    fn the_header_version_decides_the_framing() {
        for (framing, version) in FRAMINGS {
            let h = encode_dict_header_of_version(7, version);
            assert_eq!(Framing::of_file(&h), framing);
            assert_eq!(decode_dict_header(&h), Ok(7));
        }
        assert_eq!(Framing::of_file(&encode_dict_header(7)), Framing::Blocks);
    }

    #[test]
    fn a_block_holds_a_write_and_a_cut_inside_it_loses_the_whole_write() {
        let mut d = encode_dict_header(7);
        encode_dict_keys(Framing::Blocks, &TAGS[..3], &mut d);
        let first = d.len();
        encode_dict_keys(Framing::Blocks, &TAGS[3..], &mut d);
        let s = scan_dict(&d);
        assert_eq!(
            (s.entries.as_slice(), s.end.clone()),
            (&TAGS[..], ScanEnd::Clean)
        );
        // 8 bytes of block header per write, one length byte per short key.
        let keys: usize = TAGS.iter().map(|t| t.len() + 1).sum();
        assert_eq!(d.len(), DICT_HEADER_LEN + 2 * BLOCK_HEADER_LEN + keys);
        for cut in DICT_HEADER_LEN + 1..d.len() {
            let s = scan_dict(&d[..cut]);
            let whole = if cut >= first { 3 } else { 0 };
            assert_eq!(s.entries, TAGS[..whole], "cut at {cut}");
            assert!(!matches!(s.end, ScanEnd::Corrupt(_)), "cut at {cut}");
        }
        assert_eq!(
            unframe_dict_blocks(&d[DICT_HEADER_LEN..first]).len(),
            first - 24
        );
    }

    #[test]
    fn long_writes_split_into_blocks_and_unframe_back() {
        let keys: Vec<String> = (0..60_000).map(|i| format!("tag-number-{i:08}")).collect();
        let mut packed = Vec::new();
        keys.iter()
            .for_each(|k| encode_packed_entry(k, &mut packed));
        let mut framed = Vec::new();
        encode_dict_blocks(&packed, &mut framed);
        assert!(packed.len() > MAX_BLOCK_BODY);
        assert_eq!(framed.len(), packed.len() + 2 * BLOCK_HEADER_LEN);
        assert_eq!(unframe_dict_blocks(&framed), packed);
        let mut d = encode_dict_header(7);
        d.extend_from_slice(&framed);
        let s = scan_dict(&d);
        assert_eq!(s.entries.len(), keys.len());
        assert_eq!(s.entries[59_999], keys[59_999]);
        // A 1023-byte key takes a two-byte length.
        let long = "b".repeat(MAX_KEY_LEN);
        let mut e = Vec::new();
        encode_packed_entry(&long, &mut e);
        assert_eq!(e.len(), 2 + MAX_KEY_LEN);
        assert_eq!(packed_entry(&e, 0).unwrap(), (0, long.as_bytes(), e.len()));
    }

    #[test]
    fn a_zero_byte_in_a_body_is_rejected_before_its_crc() {
        let mut d = encode_dict_header(7);
        encode_dict_keys(Framing::Blocks, &["ab", "cd"], &mut d);
        let body_at = DICT_HEADER_LEN + BLOCK_HEADER_LEN;
        d[body_at + 1] = 0;
        let e = decode_dict_block(&d[DICT_HEADER_LEN..], |_, _| {}).unwrap_err();
        assert_eq!(e.offset, (BLOCK_HEADER_LEN + 1) as u64);
        // Crafted damage that claims 1 MiB bodies at every fourth byte is
        // refused at the next zero, not after a CRC of each.
        let mut x = encode_dict_header(7);
        for _ in 0..100_000 {
            x.extend_from_slice(&[0x00, 0xff, 0xff, 0x0f]);
        }
        assert!(matches!(scan_dict(&x).end, ScanEnd::TornTail { .. }));
    }

    #[test]
    fn bad_packed_entries_and_blocks_are_rejected() {
        let block = |body: &[u8]| {
            let mut out = Vec::new();
            frame_block(body, &mut out);
            out
        };
        // Valid CRCs around bad bodies: a kind that does not match its key,
        // invalid UTF-8, an overlong length, a zero length, a key running
        // past the block, and an empty block.
        let bodies: [&[u8]; 6] = [
            b"\x0aa\x1fb\x1fc",
            &[0x04, 0xff, 0xfe],
            &[0x82, 0x00, b'a'],
            &[0x00],
            &[0x0a, b'a'],
            &[],
        ];
        for body in bodies {
            assert!(
                decode_dict_block(&block(body), |_, _| {}).is_err(),
                "{body:?}"
            );
        }
        assert!(decode_dict_block(&block(b"\x02a\x0bb\x1fc\x1fd"), |_, _| {}).is_ok());
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
        encode_dict_keys(Framing::Blocks, &[&long], &mut one);
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
        for (framing, _) in FRAMINGS {
            truncations(framing);
        }
    }

    fn truncations(framing: Framing) {
        let (d, ends) = sample_of(framing);
        for cut in 0..=d.len() {
            let s = scan_dict(&d[..cut]);
            if cut < DICT_HEADER_LEN {
                assert!(s.header.is_err() && s.entries.is_empty());
                continue;
            }
            let whole = ends.iter().filter(|&&e| e <= cut as u64).count() - 1;
            assert_eq!(s.entries, TAGS[..whole], "cut at {cut}");
            assert_eq!(s.valid_end, ends[whole]);
            // A cut that leaves only zero bytes of a write (a block's
            // mark) ends clean, as a preallocated region does.
            let rest_zero = d[ends[whole] as usize..cut].iter().all(|&b| b == 0);
            if ends.contains(&(cut as u64)) || rest_zero {
                assert_eq!(s.end, ScanEnd::Clean);
            } else {
                assert!(matches!(s.end, ScanEnd::TornTail { .. }), "cut at {cut}");
            }
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        for (framing, _) in FRAMINGS {
            bit_flips(framing);
        }
    }

    fn bit_flips(framing: Framing) {
        let (d, _) = sample_of(framing);
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
