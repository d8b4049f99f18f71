//! The dictionary index file (`tags.idx`, format version 2): an immutable,
//! memory-mapped picture of the first `n` entries of `tags.dict`, so that an
//! open reads neither those entries nor hashes them.
//!
//! Layout: a 64-byte header ([`encode_dict_index`] writes it), then the
//! **body**: an offset table of `n + 1` `u32` (tag `i`'s name is
//! `names[off[i]..off[i + 1]]`: id → name), the `n` ids sorted by name (name →
//! id by binary search), and the names blob in id order; then a **page CRC
//! table**, one CRC32 per 4 KiB page of the body. [`DictIndexView::open`]
//! checks the header and the page table only (O(pages)); each body page's CRC
//! is checked the first time a lookup touches it. [`DictIndexView::verify`]
//! checks every page and the structure: names valid UTF-8, strictly ascending
//! in sorted order (so no duplicate), every id below `n`.

use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::{AtomicU64, Ordering};

use byteorder::{ByteOrder, LittleEndian};

use super::dict::MAX_KEY_LEN;
use super::{check_file_header, crc32, CorruptionKind, DecodeError, VERSION};

/// Magic of a dictionary index file.
pub const DICT_INDEX_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'I'];
/// Length of the header.
pub const DICT_INDEX_HEADER_LEN: usize = 64;
/// Offset of the store id in the header.
pub const DICT_INDEX_STORE_ID_AT: usize = 8;
/// Size of a checksummed body page.
pub const DICT_INDEX_PAGE: usize = 4096;

const H_STORE_ID: usize = DICT_INDEX_STORE_ID_AT;
const H_COUNT: usize = 12;
const H_DICT_END: usize = 16;
const H_NAMES_LEN: usize = 24;
const H_PAGE: usize = 32;
const H_TABLE_CRC: usize = 36;

/// Encodes an index of `names` (ids in order, `names[i]` has id `i`), which
/// end at byte `dict_end` of `tags.dict`. Returns `None` when the names do not
/// fit the format's `u32` offsets or count.
pub fn encode_dict_index<S: AsRef<str>>(
    names: &[S],
    dict_end: u64,
    store_id: u32,
) -> Option<Vec<u8>> {
    let n = u32::try_from(names.len()).ok().filter(|&n| n < u32::MAX)?;
    let names_len: usize = names.iter().map(|s| s.as_ref().len()).sum();
    u32::try_from(names_len).ok()?;
    let mut sorted: Vec<u32> = (0..n).collect();
    sorted.sort_unstable_by(|&a, &b| names[a as usize].as_ref().cmp(names[b as usize].as_ref()));
    let body_len = 4 * (names.len() + 1) + 4 * names.len() + names_len;
    let pages = body_len.div_ceil(DICT_INDEX_PAGE);
    let mut out = Vec::with_capacity(DICT_INDEX_HEADER_LEN + body_len + 4 * pages);
    out.resize(DICT_INDEX_HEADER_LEN, 0);
    let mut off = 0u32;
    out.extend_from_slice(&off.to_le_bytes());
    for s in names {
        off += s.as_ref().len() as u32;
        out.extend_from_slice(&off.to_le_bytes());
    }
    for id in &sorted {
        out.extend_from_slice(&id.to_le_bytes());
    }
    for s in names {
        out.extend_from_slice(s.as_ref().as_bytes());
    }
    let mut table = Vec::with_capacity(4 * pages);
    for page in out[DICT_INDEX_HEADER_LEN..].chunks(DICT_INDEX_PAGE) {
        table.extend_from_slice(&crc32(page).to_le_bytes());
    }
    out.extend_from_slice(&table);
    let h = &mut out[..DICT_INDEX_HEADER_LEN];
    h[..4].copy_from_slice(&DICT_INDEX_MAGIC);
    LittleEndian::write_u16(&mut h[4..6], VERSION);
    LittleEndian::write_u32(&mut h[H_STORE_ID..], store_id);
    LittleEndian::write_u32(&mut h[H_COUNT..], n);
    LittleEndian::write_u64(&mut h[H_DICT_END..], dict_end);
    LittleEndian::write_u64(&mut h[H_NAMES_LEN..], names_len as u64);
    LittleEndian::write_u32(&mut h[H_PAGE..], DICT_INDEX_PAGE as u32);
    LittleEndian::write_u32(&mut h[H_TABLE_CRC..], crc32(&table));
    let crc = crc32(&h[..60]);
    LittleEndian::write_u32(&mut h[60..], crc);
    Some(out)
}

/// A dictionary index read in place. `bytes.as_ref()` must return the same
/// bytes on every call.
pub struct DictIndexView<B: AsRef<[u8]>> {
    bytes: B,
    n: u32,
    dict_end: u64,
    store_id: u32,
    names_len: u64,
    body_len: usize,
    table_at: usize,
    /// One bit per body page: set once the page's CRC matched.
    checked: Vec<AtomicU64>,
}

impl<B: AsRef<[u8]>> std::fmt::Debug for DictIndexView<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DictIndexView")
            .field("n", &self.n)
            .field("dict_end", &self.dict_end)
            .finish()
    }
}

impl<B: AsRef<[u8]>> DictIndexView<B> {
    /// Checks the header, the sizes against the bytes present and the page
    /// CRC table; reads no body page.
    pub fn open(bytes: B) -> Result<Self, DecodeError> {
        let buf = bytes.as_ref();
        check_file_header(buf, DICT_INDEX_MAGIC, DICT_INDEX_HEADER_LEN)?;
        let n = LittleEndian::read_u32(&buf[H_COUNT..]);
        let names_len = LittleEndian::read_u64(&buf[H_NAMES_LEN..]);
        let page = LittleEndian::read_u32(&buf[H_PAGE..]);
        if page as usize != DICT_INDEX_PAGE {
            return Err(DecodeError::invalid(
                H_PAGE as u64,
                format!("page size {page}, expected {DICT_INDEX_PAGE}"),
            ));
        }
        if n == u32::MAX || names_len > u64::from(u32::MAX) {
            return Err(DecodeError::invalid(
                H_COUNT as u64,
                "tag count or names length out of range",
            ));
        }
        // Fits in u64 without overflow: n < 2^32, names_len < 2^32.
        let body_len = 8 * u64::from(n) + 4 + names_len;
        let pages = body_len.div_ceil(DICT_INDEX_PAGE as u64);
        let want = DICT_INDEX_HEADER_LEN as u64 + body_len + 4 * pages;
        if buf.len() as u64 != want {
            return Err(DecodeError::invalid(
                H_COUNT as u64,
                format!(
                    "the header describes a {want}-byte file but it has {} bytes",
                    buf.len()
                ),
            ));
        }
        let body_len = body_len as usize;
        let table_at = DICT_INDEX_HEADER_LEN + body_len;
        let stored = LittleEndian::read_u32(&buf[H_TABLE_CRC..]);
        let computed = crc32(&buf[table_at..]);
        if stored != computed {
            return Err(DecodeError::new(
                table_at as u64,
                CorruptionKind::ChecksumMismatch { stored, computed },
            ));
        }
        let words = (pages as usize).div_ceil(64);
        Ok(DictIndexView {
            n,
            dict_end: LittleEndian::read_u64(&buf[H_DICT_END..]),
            store_id: LittleEndian::read_u32(&buf[H_STORE_ID..]),
            names_len,
            body_len,
            table_at,
            checked: (0..words).map(|_| AtomicU64::new(0)).collect(),
            bytes,
        })
    }

    /// Number of tags (ids `0..len`).
    pub fn len(&self) -> u32 {
        self.n
    }

    /// True when the index holds no tag.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The byte offset in `tags.dict` just past the last entry indexed.
    pub fn dict_end(&self) -> u64 {
        self.dict_end
    }

    /// The store id from the header.
    pub fn store_id(&self) -> u32 {
        self.store_id
    }

    /// Body bytes `[at, at + len)` (offsets relative to the body), after
    /// checking the CRC of every page they touch.
    fn body(&self, at: usize, len: usize) -> Result<&[u8], DecodeError> {
        let end = at
            .checked_add(len)
            .filter(|&e| e <= self.body_len)
            .ok_or_else(|| {
                DecodeError::invalid(
                    (DICT_INDEX_HEADER_LEN + at) as u64,
                    "index reference past the end of the body",
                )
            })?;
        let buf = self.bytes.as_ref();
        let body = &buf[DICT_INDEX_HEADER_LEN..self.table_at];
        if len > 0 {
            for p in at / DICT_INDEX_PAGE..=(end - 1) / DICT_INDEX_PAGE {
                let (w, bit) = (p / 64, 1u64 << (p % 64));
                if self.checked[w].load(Ordering::Relaxed) & bit != 0 {
                    continue;
                }
                let lo = p * DICT_INDEX_PAGE;
                let hi = (lo + DICT_INDEX_PAGE).min(self.body_len);
                let stored = LittleEndian::read_u32(&buf[self.table_at + 4 * p..]);
                let computed = crc32(&body[lo..hi]);
                if stored != computed {
                    return Err(DecodeError::new(
                        (DICT_INDEX_HEADER_LEN + lo) as u64,
                        CorruptionKind::ChecksumMismatch { stored, computed },
                    ));
                }
                self.checked[w].fetch_or(bit, Ordering::Relaxed);
            }
        }
        Ok(&body[at..end])
    }

    fn u32_at(&self, at: usize) -> Result<u32, DecodeError> {
        Ok(LittleEndian::read_u32(self.body(at, 4)?))
    }

    /// The name of tag `id`, or `None` when `id >= len()`.
    pub fn name(&self, id: u32) -> Result<Option<&str>, DecodeError> {
        let Some(bytes) = self.name_bytes(id)? else {
            return Ok(None);
        };
        std::str::from_utf8(bytes).map(Some).map_err(|_| {
            DecodeError::invalid(
                (DICT_INDEX_HEADER_LEN + 4 * id as usize) as u64,
                "a name is not UTF-8",
            )
        })
    }

    /// The bytes of tag `id`'s name (checked for range, not for UTF-8).
    fn name_bytes(&self, id: u32) -> Result<Option<&[u8]>, DecodeError> {
        if id >= self.n {
            return Ok(None);
        }
        let at = 4 * id as usize;
        let lo = self.u32_at(at)? as usize;
        let hi = self.u32_at(at + 4)? as usize;
        let names_at = 8 * self.n as usize + 4;
        if lo > hi || hi as u64 > self.names_len || hi - lo > MAX_KEY_LEN || hi == lo {
            return Err(DecodeError::invalid(
                (DICT_INDEX_HEADER_LEN + at) as u64,
                "name offsets out of order or out of range",
            ));
        }
        self.body(names_at + lo, hi - lo).map(Some)
    }

    /// The id of `name`, by binary search over the sorted ids.
    pub fn lookup(&self, name: &str) -> Result<Option<u32>, DecodeError> {
        let sorted_at = 4 * (self.n as usize + 1);
        let (mut lo, mut hi) = (0usize, self.n as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let id = self.u32_at(sorted_at + 4 * mid)?;
            // Bytes, not str: equality with a valid UTF-8 name implies the
            // probe is valid too, and byte order is the order sorted by.
            let Some(probe) = self.name_bytes(id)? else {
                return Err(DecodeError::invalid(
                    (DICT_INDEX_HEADER_LEN + sorted_at + 4 * mid) as u64,
                    format!("sorted slot {mid} names id {id}, past the {} tags", self.n),
                ));
            };
            match probe.cmp(name.as_bytes()) {
                CmpOrdering::Less => lo = mid + 1,
                CmpOrdering::Greater => hi = mid,
                CmpOrdering::Equal => return Ok(Some(id)),
            }
        }
        Ok(None)
    }

    /// Checks every page and the structure: every name decodes, the sorted
    /// ids name strictly ascending names (so there are no duplicates) and
    /// every id is below `len()`. `each(id, name)` sees every name in id order.
    pub fn verify(&self, mut each: impl FnMut(u32, &str)) -> Result<(), DecodeError> {
        self.body(0, self.body_len)?;
        for id in 0..self.n {
            let name = self.name(id)?.unwrap_or_default();
            each(id, name);
        }
        let sorted_at = 4 * (self.n as usize + 1);
        let mut prev: Option<&str> = None;
        for k in 0..self.n as usize {
            let id = self.u32_at(sorted_at + 4 * k)?;
            let at = (DICT_INDEX_HEADER_LEN + sorted_at + 4 * k) as u64;
            let Some(name) = self.name(id)? else {
                return Err(DecodeError::invalid(
                    at,
                    format!("sorted slot {k} names id {id}"),
                ));
            };
            if prev.is_some_and(|p| p >= name) {
                return Err(DecodeError::invalid(
                    at,
                    format!("sorted slot {k} ({name:?}) is not after the previous name"),
                ));
            }
            prev = Some(name);
        }
        let last = self.u32_at(4 * self.n as usize)?;
        if u64::from(last) != self.names_len {
            return Err(DecodeError::invalid(
                (DICT_INDEX_HEADER_LEN + 4 * self.n as usize) as u64,
                "the last name offset is not the names length",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("t{}", (i * 7919) % 100_003))
            .collect()
    }

    #[test]
    fn round_trip_and_lookup() {
        for n in [0, 1, 2, 700, 3000] {
            let v = names(n);
            let bytes = encode_dict_index(&v, 99, 7).unwrap();
            let ix = DictIndexView::open(&bytes[..]).unwrap();
            assert_eq!((ix.len(), ix.dict_end(), ix.store_id()), (n as u32, 99, 7));
            for (i, s) in v.iter().enumerate() {
                assert_eq!(ix.name(i as u32).unwrap(), Some(s.as_str()));
                assert_eq!(ix.lookup(s).unwrap(), Some(i as u32));
            }
            assert_eq!(ix.lookup("absent").unwrap(), None);
            assert_eq!(ix.name(n as u32).unwrap(), None);
            let mut seen = 0;
            ix.verify(|_, _| seen += 1).unwrap();
            assert_eq!(seen, n);
        }
    }

    #[test]
    fn every_bit_flip_and_cut_is_caught_by_open_or_verify() {
        let bytes = encode_dict_index(&names(300), 5, 1).unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut d = bytes.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            if let Ok(ix) = DictIndexView::open(&d[..]) {
                assert!(ix.verify(|_, _| {}).is_err(), "flip {bit} passed verify");
            }
        }
        for cut in 0..bytes.len() {
            assert!(DictIndexView::open(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn a_damaged_page_fails_the_lookups_that_touch_it_and_no_more() {
        let v = names(3000);
        let mut bytes = encode_dict_index(&v, 5, 1).unwrap();
        let names_len: usize = v.iter().map(String::len).sum();
        let body_len = 8 * v.len() + 4 + names_len;
        let last_body = DICT_INDEX_HEADER_LEN + body_len - 1;
        bytes[last_body] ^= 1;
        let ix = DictIndexView::open(&bytes[..]).unwrap();
        assert!(ix.name(0).is_ok());
        assert!(ix.verify(|_, _| {}).is_err());
    }
}
