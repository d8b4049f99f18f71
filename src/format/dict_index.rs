//! The dictionary index file (`tags.idx`, format version 2): an immutable,
//! memory-mapped index of the first `n` entries of `tags.dict`, so that an
//! open neither reads those entries nor hashes them.
//!
//! The file is a 64-byte header ([`encode_dict_index`] writes it), a **body**,
//! then a **page CRC table**, one CRC32 per 4 KiB page of the body. Its body
//! has one of three layouts, named by the header's layout field:
//!
//! - **Layout 2** ([`LAYOUT_DICT_PAGES`], written by this version): layout
//!   1, then a CRC32 of every 4 KiB page of `tags.dict` below `dict_end`.
//!   A version-4 dictionary packs its entries in blocks with one CRC per
//!   block, so an entry read in place is checked by its pages' CRCs, each
//!   page once per open.
//! - **Layout 1** ([`LAYOUT_DICT_OFFSETS`], read only) holds no
//!   names: a sample table (the `tags.dict` offset of every 16th id's entry:
//!   id → name walks at most 15 entries from a sample) and the `tags.dict`
//!   offsets of all `n` entries sorted by name (name → entry by binary
//!   search; the entry's id is found from the samples). Names are read in
//!   place from the dictionary's bytes ([`DictIndexView::with_dict`]), and
//!   every entry read of a version 1 to 3 dictionary has its own CRC checked.
//! - **Layout 0** ([`LAYOUT_NAMES_INSIDE`], read only): an offset table into
//!   a names blob in id order, the ids sorted by name, and the blob, so that
//!   it copies every name of the dictionary.
//!
//! [`DictIndexView::open`] checks the header and the page table only
//! (O(pages)); each body page's CRC is checked the first time a lookup touches
//! it. [`DictIndexView::verify`] checks every page and the structure: names
//! valid UTF-8, strictly ascending in sorted order (so no duplicate), every
//! sorted slot naming one of the `n` entries, and in layouts 1 and 2 that the `n`
//! entries end exactly at `dict_end`.

use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::{AtomicU64, Ordering};

use byteorder::{ByteOrder, LittleEndian};

use super::dict::{
    block_entries_from, packed_entry, Framing, BLOCK_HEADER_LEN, DICT_HEADER_LEN, DICT_MAGIC,
    MAX_KEY_LEN,
};
use super::{check_file_header, crc32, CorruptionKind, DecodeError, VERSION};

/// Magic of a dictionary index file.
pub const DICT_INDEX_MAGIC: [u8; 4] = [0xB7, b'T', b'L', b'I'];
/// Length of the header.
pub const DICT_INDEX_HEADER_LEN: usize = 64;
/// Offset of the store id in the header.
pub const DICT_INDEX_STORE_ID_AT: usize = 8;
/// Size of a checksummed body page.
pub const DICT_INDEX_PAGE: usize = 4096;
/// Body layout 0: the index holds a copy of every name (read, no longer written).
pub const LAYOUT_NAMES_INSIDE: u32 = 0;
/// Body layout 1: the index holds `tags.dict` offsets; names are read there.
pub const LAYOUT_DICT_OFFSETS: u32 = 1;
/// Body layout 2: layout 1 and a CRC table of `tags.dict`'s pages.
pub const LAYOUT_DICT_PAGES: u32 = 2;
/// Ids per sample in layouts 1 and 2: id `i`'s entry is found by walking `i % 16`
/// entries from the sample of id `i - i % 16`.
pub const DICT_INDEX_STRIDE: usize = 16;

const H_STORE_ID: usize = DICT_INDEX_STORE_ID_AT;
const H_COUNT: usize = 12;
const H_DICT_END: usize = 16;
const H_NAMES_LEN: usize = 24;
const H_PAGE: usize = 32;
const H_TABLE_CRC: usize = 36;
const H_LAYOUT: usize = 40;
const H_STRIDE: usize = 44;
const H_CRC: usize = DICT_INDEX_HEADER_LEN - 4;

/// A `tags.dict` entry's fixed prefix: payload length, CRC.
const ENTRY_PREFIX_LEN: usize = 8;

/// Damage found through a view, and which file holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// In the index: offsets into `tags.idx`.
    Index(DecodeError),
    /// In a `tags.dict` entry the index points at: offsets into `tags.dict`.
    Dict(DecodeError),
}

impl From<DecodeError> for Fault {
    fn from(e: DecodeError) -> Fault {
        Fault::Index(e)
    }
}

impl Fault {
    /// One error for callers that know only the index file: damage in the
    /// dictionary keeps its `tags.dict` offset and says so.
    fn flatten(self) -> DecodeError {
        match self {
            Fault::Index(e) => e,
            Fault::Dict(e) => DecodeError::invalid(
                e.offset,
                format!(
                    "the tags.dict entry at byte {} that the index names is damaged: {}",
                    e.offset, e.kind
                ),
            ),
        }
    }
}

/// The name of the `tags.dict` entry at `at` (its payload after the kind
/// byte, whatever the kind) and the entry's length, after checking its
/// length field and CRC. `dict` ends at the last byte the caller may read.
fn dict_entry(dict: &[u8], at: usize) -> Result<(&[u8], usize), DecodeError> {
    let Some(prefix) = dict.get(at..).and_then(|d| d.get(..ENTRY_PREFIX_LEN)) else {
        return Err(DecodeError::invalid(
            at as u64,
            "an entry prefix runs past the indexed part of tags.dict",
        ));
    };
    let payload_len = LittleEndian::read_u32(prefix) as usize;
    if !(2..=1 + MAX_KEY_LEN).contains(&payload_len) {
        return Err(DecodeError::invalid(
            at as u64,
            format!(
                "dictionary entry payload length {payload_len} is not in 2..={}",
                1 + MAX_KEY_LEN
            ),
        ));
    }
    let total = ENTRY_PREFIX_LEN + payload_len;
    let Some(entry) = dict.get(at..at + total) else {
        return Err(DecodeError::invalid(
            at as u64,
            "an entry runs past the indexed part of tags.dict",
        ));
    };
    let stored = LittleEndian::read_u32(&entry[4..8]);
    let mut h = crc32fast::Hasher::new();
    h.update(&entry[..4]);
    h.update(&entry[ENTRY_PREFIX_LEN..]);
    let computed = h.finalize();
    if stored != computed {
        return Err(DecodeError::new(
            (at + 4) as u64,
            CorruptionKind::ChecksumMismatch { stored, computed },
        ));
    }
    Ok((&entry[ENTRY_PREFIX_LEN + 1..], total))
}

/// Encodes a layout-2 index of the entries of `dict` (the bytes of
/// `tags.dict`) from its first entry up to `dict_end`. Returns `Ok(None)` when
/// the entries do not fit the format's `u32` offsets or count, and an error
/// when an entry there fails its checks or two entries share a name.
pub fn encode_dict_index(
    dict: &[u8],
    dict_end: u64,
    store_id: u32,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let Ok(end) = u32::try_from(dict_end) else {
        return Ok(None);
    };
    let end = end as usize;
    if end < DICT_HEADER_LEN || end > dict.len() {
        return Err(DecodeError::invalid(
            0,
            format!(
                "dict_end {dict_end} is outside tags.dict's {} bytes",
                dict.len()
            ),
        ));
    }
    let mut entries = scan_entries(&dict[..end], DICT_HEADER_LEN)?;
    let Some(n) = u32::try_from(entries.len()).ok().filter(|&n| n < u32::MAX) else {
        return Ok(None);
    };
    let samples: Vec<u32> = entries
        .iter()
        .step_by(DICT_INDEX_STRIDE)
        .map(|e| e.0)
        .collect();
    sort_unique(&mut entries)?;
    let sorted: Vec<u32> = entries.iter().map(|e| e.0).collect();
    let pages = dict_page_crcs(&dict[..end], 0);
    Ok(Some(assemble(
        &samples, &sorted, &pages, n, dict_end, store_id,
    )))
}

/// The CRC32 of every 4 KiB page of `dict` (the file's bytes up to
/// `dict_end`; the last page short) from page `from` on.
fn dict_page_crcs(dict: &[u8], from: usize) -> Vec<u32> {
    dict[(from * DICT_INDEX_PAGE).min(dict.len())..]
        .chunks(DICT_INDEX_PAGE)
        .map(crc32)
        .collect()
}

/// The `tags.dict` offset and name of every entry of `dict` (the file's
/// bytes from its header on) from byte `at` to its end, each entry's (or
/// block's) length and CRC checked.
fn scan_entries(dict: &[u8], mut at: usize) -> Result<Vec<(u32, &[u8])>, DecodeError> {
    if Framing::of_file(dict) == Framing::Blocks {
        return block_entries_from(dict, at);
    }
    let mut entries = Vec::new();
    while at < dict.len() {
        let (name, len) = dict_entry(dict, at)?;
        entries.push((at as u32, name));
        at += len;
    }
    Ok(entries)
}

/// Sorts entries by name; two entries sharing a name are an error.
fn sort_unique(entries: &mut [(u32, &[u8])]) -> Result<(), DecodeError> {
    entries.sort_unstable_by(|a, b| a.1.cmp(b.1));
    match entries.windows(2).find(|w| w[0].1 == w[1].1) {
        Some(w) => Err(shared_name(w[0].0, w[1].0)),
        None => Ok(()),
    }
}

fn shared_name(a: u32, b: u32) -> DecodeError {
    DecodeError::invalid(
        u64::from(a.max(b)),
        format!(
            "the entries at bytes {} and {} share a name",
            a.min(b),
            a.max(b)
        ),
    )
}

/// A layout-2 index file of `n` entries: header, the sample table, the
/// sorted table, the `tags.dict` page CRCs and the page CRC table.
fn assemble(
    samples: &[u32],
    sorted: &[u32],
    dict_pages: &[u32],
    n: u32,
    dict_end: u64,
    store_id: u32,
) -> Vec<u8> {
    let body_len = 4 * (samples.len() + sorted.len() + dict_pages.len());
    let pages = body_len.div_ceil(DICT_INDEX_PAGE);
    let mut out = Vec::with_capacity(DICT_INDEX_HEADER_LEN + body_len + 4 * pages);
    out.resize(DICT_INDEX_HEADER_LEN, 0);
    for v in samples.iter().chain(sorted).chain(dict_pages) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let table = page_table(&out[DICT_INDEX_HEADER_LEN..]);
    out.extend_from_slice(&table);
    let h = &mut out[..DICT_INDEX_HEADER_LEN];
    h[..4].copy_from_slice(&DICT_INDEX_MAGIC);
    LittleEndian::write_u16(&mut h[4..6], VERSION);
    LittleEndian::write_u32(&mut h[H_STORE_ID..], store_id);
    LittleEndian::write_u32(&mut h[H_COUNT..], n);
    LittleEndian::write_u64(&mut h[H_DICT_END..], dict_end);
    LittleEndian::write_u32(&mut h[H_PAGE..], DICT_INDEX_PAGE as u32);
    LittleEndian::write_u32(&mut h[H_TABLE_CRC..], crc32(&table));
    LittleEndian::write_u32(&mut h[H_LAYOUT..], LAYOUT_DICT_PAGES);
    LittleEndian::write_u32(&mut h[H_STRIDE..], DICT_INDEX_STRIDE as u32);
    let crc = crc32(&h[..H_CRC]);
    LittleEndian::write_u32(&mut h[H_CRC..], crc);
    out
}

/// Checks the CRC32 of every `DICT_INDEX_PAGE`-byte page of `bytes` (the
/// last one short) that the bytes `range` touch, once per page: `checked`
/// holds a bit per page, set once its CRC matched. `stored(p)` is page `p`'s
/// recorded CRC; `mismatch(page offset, stored, computed)` is the error.
/// The series index (`super::series_index`) checks its pages, and those of
/// `tags.series`, the same way.
pub(crate) fn check_pages<E>(
    checked: &[AtomicU64],
    bytes: &[u8],
    range: std::ops::Range<usize>,
    stored: impl Fn(usize) -> Result<u32, E>,
    mismatch: impl Fn(usize, u32, u32) -> E,
) -> Result<(), E> {
    if range.is_empty() {
        return Ok(());
    }
    for p in range.start / DICT_INDEX_PAGE..=(range.end - 1) / DICT_INDEX_PAGE {
        let (w, bit) = (p / 64, 1u64 << (p % 64));
        if checked[w].load(Ordering::Relaxed) & bit != 0 {
            continue;
        }
        let stored = stored(p)?;
        let lo = p * DICT_INDEX_PAGE;
        let computed = crc32(&bytes[lo..(lo + DICT_INDEX_PAGE).min(bytes.len())]);
        if stored != computed {
            return Err(mismatch(lo, stored, computed));
        }
        checked[w].fetch_or(bit, Ordering::Relaxed);
    }
    Ok(())
}

/// A bitmap for [`check_pages`] of `pages` pages, none checked yet.
pub(crate) fn page_bits(pages: usize) -> Vec<AtomicU64> {
    (0..pages.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

/// One CRC32 per page of `body`, little-endian.
fn page_table(body: &[u8]) -> Vec<u8> {
    body.chunks(DICT_INDEX_PAGE)
        .flat_map(|page| crc32(page).to_le_bytes())
        .collect()
}

/// Encodes a layout-0 index of `names` (ids in order), which end at byte
/// `dict_end` of `tags.dict`: the layout written before layout 1, kept so that
/// tests can build what earlier stores hold.
#[cfg(test)]
pub(crate) fn encode_dict_index_names_inside<S: AsRef<str>>(
    names: &[S],
    dict_end: u64,
    store_id: u32,
) -> Option<Vec<u8>> {
    let n = u32::try_from(names.len()).ok().filter(|&n| n < u32::MAX)?;
    let names_len: usize = names.iter().map(|s| s.as_ref().len()).sum();
    u32::try_from(names_len).ok()?;
    let mut sorted: Vec<u32> = (0..n).collect();
    sorted.sort_unstable_by(|&a, &b| names[a as usize].as_ref().cmp(names[b as usize].as_ref()));
    let mut out = vec![0u8; DICT_INDEX_HEADER_LEN];
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
    let table = page_table(&out[DICT_INDEX_HEADER_LEN..]);
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
    let crc = crc32(&h[..H_CRC]);
    LittleEndian::write_u32(&mut h[H_CRC..], crc);
    Some(out)
}

/// A dictionary index read in place. `bytes.as_ref()` (and the dictionary's,
/// once given) must return the same bytes on every call.
pub struct DictIndexView<B: AsRef<[u8]>> {
    bytes: B,
    /// `tags.dict`, at least `dict_end` bytes of it (layouts 1 and 2 read names there).
    dict: Option<B>,
    layout: u32,
    n: u32,
    dict_end: u64,
    store_id: u32,
    /// Layout 0: length of the names blob.
    names_len: u64,
    /// Body offset of the sorted table.
    sorted_at: usize,
    body_len: usize,
    table_at: usize,
    /// One bit per body page: set once the page's CRC matched.
    checked: Vec<AtomicU64>,
    /// Layout 2: body offset of the `tags.dict` page CRC table.
    dict_crc_at: usize,
    /// Layout 2: one bit per `tags.dict` page below `dict_end`, set once
    /// the page's CRC matched.
    dict_checked: Vec<AtomicU64>,
    /// How `tags.dict` frames its entries (known once it is given).
    framing: Framing,
}

impl<B: AsRef<[u8]>> std::fmt::Debug for DictIndexView<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DictIndexView")
            .field("layout", &self.layout)
            .field("n", &self.n)
            .field("dict_end", &self.dict_end)
            .finish()
    }
}

impl<B: AsRef<[u8]>> DictIndexView<B> {
    /// Checks the header, the sizes against the bytes present and the page
    /// CRC table; reads no body page. An index of layout 1 or 2 answers names only
    /// once it has the dictionary's bytes ([`Self::with_dict`]).
    pub fn open(bytes: B) -> Result<Self, DecodeError> {
        let buf = bytes.as_ref();
        check_file_header(buf, DICT_INDEX_MAGIC, DICT_INDEX_HEADER_LEN)?;
        let n = LittleEndian::read_u32(&buf[H_COUNT..]);
        let dict_end = LittleEndian::read_u64(&buf[H_DICT_END..]);
        let names_len = LittleEndian::read_u64(&buf[H_NAMES_LEN..]);
        let page = LittleEndian::read_u32(&buf[H_PAGE..]);
        let layout = LittleEndian::read_u32(&buf[H_LAYOUT..]);
        if page as usize != DICT_INDEX_PAGE {
            return Err(DecodeError::invalid(
                H_PAGE as u64,
                format!("page size {page}, expected {DICT_INDEX_PAGE}"),
            ));
        }
        if n == u32::MAX {
            return Err(DecodeError::invalid(
                H_COUNT as u64,
                "tag count out of range",
            ));
        }
        let n64 = u64::from(n);
        // Every size below fits in u64 without overflow: n < 2^32, names_len < 2^32.
        let (body_len, sorted_at, reserved_from) = match layout {
            LAYOUT_NAMES_INSIDE => {
                if names_len > u64::from(u32::MAX) {
                    return Err(DecodeError::invalid(
                        H_NAMES_LEN as u64,
                        "names length out of range",
                    ));
                }
                (8 * n64 + 4 + names_len, 4 * (n64 + 1), H_LAYOUT + 4)
            }
            LAYOUT_DICT_OFFSETS | LAYOUT_DICT_PAGES => {
                let stride = LittleEndian::read_u32(&buf[H_STRIDE..]);
                if stride as usize != DICT_INDEX_STRIDE {
                    return Err(DecodeError::invalid(
                        H_STRIDE as u64,
                        format!("sample stride {stride}, expected {DICT_INDEX_STRIDE}"),
                    ));
                }
                if names_len != 0 {
                    return Err(DecodeError::invalid(
                        H_NAMES_LEN as u64,
                        "an index of layout 1 or 2 records a names length",
                    ));
                }
                if dict_end > u64::from(u32::MAX) || dict_end < DICT_HEADER_LEN as u64 {
                    return Err(DecodeError::invalid(
                        H_DICT_END as u64,
                        format!("dict_end {dict_end} is out of range"),
                    ));
                }
                let samples = n64.div_ceil(DICT_INDEX_STRIDE as u64);
                let dict_pages = if layout == LAYOUT_DICT_PAGES {
                    dict_end.div_ceil(DICT_INDEX_PAGE as u64)
                } else {
                    0
                };
                (4 * (samples + n64 + dict_pages), 4 * samples, H_STRIDE + 4)
            }
            _ => {
                return Err(DecodeError::invalid(
                    H_LAYOUT as u64,
                    format!("unknown index layout {layout} (this build reads layouts 0 to 2)"),
                ))
            }
        };
        if buf[reserved_from..H_CRC].iter().any(|&b| b != 0) {
            return Err(DecodeError::invalid(
                reserved_from as u64,
                "reserved bytes of the index header are not zero",
            ));
        }
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
        let dict_crc_at = sorted_at as usize + 4 * n as usize;
        let dict_words = if layout == LAYOUT_DICT_PAGES {
            (dict_end.div_ceil(DICT_INDEX_PAGE as u64) as usize).div_ceil(64)
        } else {
            0
        };
        Ok(DictIndexView {
            dict_crc_at,
            dict_checked: (0..dict_words).map(|_| AtomicU64::new(0)).collect(),
            framing: Framing::Entries,
            dict: None,
            layout,
            n,
            dict_end,
            store_id: LittleEndian::read_u32(&buf[H_STORE_ID..]),
            names_len,
            sorted_at: sorted_at as usize,
            body_len,
            table_at,
            checked: (0..words).map(|_| AtomicU64::new(0)).collect(),
            bytes,
        })
    }

    /// Gives the view the bytes of `tags.dict`, where an index of layout 1 or 2 reads
    /// its names; only bytes below [`Self::dict_end`] are ever read, so bytes
    /// appended after them may change. Checks the dictionary's magic and
    /// length only.
    pub fn with_dict(mut self, dict: B) -> Result<Self, DecodeError> {
        let d = dict.as_ref();
        if d.get(..4) != Some(&DICT_MAGIC[..]) {
            return Err(DecodeError::new(0, CorruptionKind::BadMagic));
        }
        if (d.len() as u64) < self.dict_end {
            return Err(DecodeError::truncated(0, self.dict_end, d.len() as u64));
        }
        // The framing decides how every entry is read: take it from a
        // header whose CRC holds, never from a damaged version field.
        super::dict::decode_dict_header(d)?;
        self.framing = Framing::of_file(d);
        if self.framing == Framing::Blocks && self.layout == LAYOUT_DICT_OFFSETS {
            return Err(DecodeError::invalid(
                4,
                format!(
                    "a layout-{} index cannot check a dictionary of blocks (version 4)",
                    self.layout
                ),
            ));
        }
        self.dict = Some(dict);
        Ok(self)
    }

    /// The body layout: [`LAYOUT_NAMES_INSIDE`], [`LAYOUT_DICT_OFFSETS`] or
    /// [`LAYOUT_DICT_PAGES`].
    pub fn layout(&self) -> u32 {
        self.layout
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
        check_pages(
            &self.checked,
            body,
            at..end,
            |p| Ok(LittleEndian::read_u32(&buf[self.table_at + 4 * p..])),
            |lo, stored, computed| {
                DecodeError::new(
                    (DICT_INDEX_HEADER_LEN + lo) as u64,
                    CorruptionKind::ChecksumMismatch { stored, computed },
                )
            },
        )?;
        Ok(&body[at..end])
    }

    fn u32_at(&self, at: usize) -> Result<u32, DecodeError> {
        Ok(LittleEndian::read_u32(self.body(at, 4)?))
    }

    /// The file offset of body byte `at`, for errors.
    fn file_at(at: usize) -> u64 {
        (DICT_INDEX_HEADER_LEN + at) as u64
    }

    /// The name of tag `id`, or `None` when `id >= len()`.
    pub fn name(&self, id: u32) -> Result<Option<&str>, DecodeError> {
        self.name_checked(id).map_err(Fault::flatten)
    }

    /// [`Self::name`], saying which file holds the damage.
    pub(crate) fn name_checked(&self, id: u32) -> Result<Option<&str>, Fault> {
        let Some(bytes) = self.name_bytes(id)? else {
            return Ok(None);
        };
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s)),
            Err(_) if self.layout != LAYOUT_NAMES_INSIDE => {
                let (at, _) = self.entry_of(id)?;
                Err(Fault::Dict(DecodeError::invalid(
                    at as u64,
                    "dictionary key is not valid UTF-8",
                )))
            }
            Err(_) => Err(Fault::Index(DecodeError::invalid(
                Self::file_at(4 * id as usize),
                "a name is not UTF-8",
            ))),
        }
    }

    /// The bytes of tag `id`'s name (checked for range and CRC, not UTF-8).
    fn name_bytes(&self, id: u32) -> Result<Option<&[u8]>, Fault> {
        if id >= self.n {
            return Ok(None);
        }
        if self.layout != LAYOUT_NAMES_INSIDE {
            return Ok(Some(self.entry_of(id)?.1));
        }
        let at = 4 * id as usize;
        let lo = self.u32_at(at)? as usize;
        let hi = self.u32_at(at + 4)? as usize;
        let names_at = 8 * self.n as usize + 4;
        if lo > hi || hi as u64 > self.names_len || hi - lo > MAX_KEY_LEN || hi == lo {
            return Err(Fault::Index(DecodeError::invalid(
                Self::file_at(at),
                "name offsets out of order or out of range",
            )));
        }
        Ok(Some(self.body(names_at + lo, hi - lo)?))
    }

    /// Layout 1: the indexed part of the dictionary.
    fn dict_bytes(&self) -> Result<&[u8], Fault> {
        match &self.dict {
            // `with_dict` checked that `dict_end` bytes are there.
            Some(d) => Ok(&d.as_ref()[..self.dict_end as usize]),
            None => Err(Fault::Index(DecodeError::invalid(
                H_LAYOUT as u64,
                "this index reads names from tags.dict, which it was not given",
            ))),
        }
    }

    /// Layouts 1 and 2: the name of the entry at dictionary offset `at`, and
    /// the step to the next entry (its length, and in a dictionary of blocks
    /// the header of a block that follows it).
    fn entry(&self, at: usize) -> Result<(&[u8], usize), Fault> {
        let dict = self.dict_bytes()?;
        if at < DICT_HEADER_LEN {
            return Err(Fault::Index(DecodeError::invalid(
                0,
                format!("an entry offset {at} points into the tags.dict header"),
            )));
        }
        if self.framing == Framing::Entries {
            return dict_entry(dict, at).map_err(Fault::Dict);
        }
        // The length field (at most two bytes), then the key and the byte
        // after it, which is 0 where a block header follows.
        self.check_dict_pages(dict, at, at + 2)?;
        let (_, key, len) = packed_entry(dict, at).map_err(Fault::Dict)?;
        let next = at + len;
        self.check_dict_pages(dict, at, next + 1)?;
        let step = match dict.get(next) {
            Some(0) => len + BLOCK_HEADER_LEN,
            _ => len,
        };
        Ok((key, step))
    }

    /// Layout 2: checks the CRC of every page of `dict` (below `dict_end`)
    /// that bytes `lo..hi` touch, once per page per view.
    fn check_dict_pages(&self, dict: &[u8], lo: usize, hi: usize) -> Result<(), Fault> {
        if self.layout != LAYOUT_DICT_PAGES {
            return Ok(());
        }
        check_pages(
            &self.dict_checked,
            dict,
            lo..hi.min(dict.len()),
            |p| Ok(self.u32_at(self.dict_crc_at + 4 * p)?),
            |page_at, stored, computed| {
                Fault::Dict(DecodeError::new(
                    page_at as u64,
                    CorruptionKind::ChecksumMismatch { stored, computed },
                ))
            },
        )
    }

    /// Layouts 1 and 2: the dictionary offset of the first entry.
    fn first_entry(&self) -> usize {
        match self.framing {
            Framing::Entries => DICT_HEADER_LEN,
            Framing::Blocks => DICT_HEADER_LEN + BLOCK_HEADER_LEN,
        }
    }

    /// Layout 1: the dictionary offset of the sample of ids `k * 16..`.
    fn sample(&self, k: usize) -> Result<usize, DecodeError> {
        Ok(self.u32_at(4 * k)? as usize)
    }

    /// Layout 1: the dictionary offset and the name of id `id < n`.
    fn entry_of(&self, id: u32) -> Result<(usize, &[u8]), Fault> {
        let mut at = self.sample(id as usize / DICT_INDEX_STRIDE)?;
        for _ in 0..id as usize % DICT_INDEX_STRIDE {
            at += self.entry(at)?.1;
        }
        Ok((at, self.entry(at)?.0))
    }

    /// Layout 1: the id of the entry at dictionary offset `off`, named by
    /// sorted slot `slot`: the last sample at or before `off`, then a walk.
    fn id_at(&self, off: usize, slot: usize) -> Result<u32, Fault> {
        let n = self.n as usize;
        let (mut lo, mut hi) = (0usize, n.div_ceil(DICT_INDEX_STRIDE));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.sample(mid)? <= off {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let not_an_entry = || {
            Fault::Index(DecodeError::invalid(
                Self::file_at(self.sorted_at + 4 * slot),
                format!("sorted slot {slot} names byte {off} of tags.dict, not an indexed entry"),
            ))
        };
        let k = lo.checked_sub(1).ok_or_else(not_an_entry)?;
        let mut at = self.sample(k)?;
        let last = (k * DICT_INDEX_STRIDE + DICT_INDEX_STRIDE).min(n);
        for id in k * DICT_INDEX_STRIDE..last {
            match at.cmp(&off) {
                CmpOrdering::Equal => return Ok(id as u32),
                CmpOrdering::Greater => break,
                CmpOrdering::Less => at += self.entry(at)?.1,
            }
        }
        Err(not_an_entry())
    }

    /// Sorted slot `k < n`: its stored value (an id in layout 0, a dictionary
    /// offset in layouts 1 and 2) and its name.
    fn slot(&self, k: usize) -> Result<(u32, &[u8]), Fault> {
        let v = self.u32_at(self.sorted_at + 4 * k)?;
        let name = if self.layout != LAYOUT_NAMES_INSIDE {
            self.entry(v as usize)?.0
        } else {
            self.name_bytes(v)?.ok_or_else(|| {
                Fault::Index(DecodeError::invalid(
                    Self::file_at(self.sorted_at + 4 * k),
                    format!("sorted slot {k} names id {v}, past the {} tags", self.n),
                ))
            })?
        };
        Ok((v, name))
    }

    /// The id of sorted slot `k`, whose stored value is `v`.
    fn slot_id(&self, k: usize, v: u32) -> Result<u32, Fault> {
        if self.layout != LAYOUT_NAMES_INSIDE {
            self.id_at(v as usize, k)
        } else {
            Ok(v)
        }
    }

    /// The first sorted slot whose name is not below `key` (`n` if none).
    fn lower_bound(&self, key: &[u8]) -> Result<usize, Fault> {
        self.lower_bound_in(0, self.n as usize, key)
    }

    /// The first slot in `lo..hi` whose name is not below `key`, or `hi`;
    /// the caller knows the slots before `lo` to be below it and slot `hi`
    /// (if any) not.
    fn lower_bound_in(&self, mut lo: usize, mut hi: usize, key: &[u8]) -> Result<usize, Fault> {
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // Bytes, not str: byte order is the order sorted by, and equality
            // with a valid UTF-8 key implies the name is valid too.
            if self.slot(mid)?.1 < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The first slot from `lo` on whose name is not below `key` (all
    /// before `lo` are), by galloping: probes `lo`, `lo + 2`, `lo + 6`,
    /// `lo + 14`, … until a slot is not below `key`, then a binary search in
    /// the last gap. A run of ascending keys merged into the table
    /// costs O(k log(n / k)) slot reads instead of O(k log n).
    fn gallop_from(&self, lo: usize, key: &[u8]) -> Result<usize, Fault> {
        let n = self.n as usize;
        let (mut below, mut step) = (lo, 1usize);
        loop {
            let probe = below + step - 1;
            if probe >= n {
                return self.lower_bound_in(below, n, key);
            }
            if self.slot(probe)?.1 >= key {
                return self.lower_bound_in(below, probe, key);
            }
            below = probe + 1;
            step *= 2;
        }
    }

    /// The id of `name`, by binary search over the sorted slots.
    pub fn lookup(&self, name: &str) -> Result<Option<u32>, DecodeError> {
        self.lookup_checked(name).map_err(Fault::flatten)
    }

    /// [`Self::lookup`], saying which file holds the damage.
    pub(crate) fn lookup_checked(&self, name: &str) -> Result<Option<u32>, Fault> {
        let k = self.lower_bound(name.as_bytes())?;
        if k == self.n as usize {
            return Ok(None);
        }
        let (v, probe) = self.slot(k)?;
        if probe != name.as_bytes() {
            return Ok(None);
        }
        self.slot_id(k, v).map(Some)
    }

    /// `extended` (what a seal or a clean close writes when an index
    /// exists), for callers outside the crate: fuzzing and tests compare it
    /// with [`encode_dict_index`].
    pub fn extend(
        &self,
        dict: &[u8],
        dict_end: u64,
        store_id: u32,
    ) -> Result<Option<Vec<u8>>, DecodeError> {
        self.extended(dict, dict_end, store_id)
            .map_err(Fault::flatten)
    }

    /// A layout-2 index of the entries of `dict` up to `dict_end`, given this
    /// index of the first [`Self::len`] of them: the same bytes as
    /// [`encode_dict_index`] over `dict`, built by merging the entries past
    /// [`Self::dict_end`], sorted on their own, into this index's sorted table
    /// (a galloping search each) instead of sorting every name again. Only the
    /// new entries are scanned; the old names a search compares are read (and
    /// their CRCs checked) through this view. `Ok(None)` when this index is
    /// not of layout 2 with its dictionary, `dict_end` precedes its own, or
    /// the entries do not fit the format; the caller then builds the index
    /// whole.
    pub(crate) fn extended(
        &self,
        dict: &[u8],
        dict_end: u64,
        store_id: u32,
    ) -> Result<Option<Vec<u8>>, Fault> {
        if self.layout != LAYOUT_DICT_PAGES || self.dict.is_none() {
            return Ok(None);
        }
        let Some(end) = usize::try_from(dict_end)
            .ok()
            .filter(|_| dict_end <= u64::from(u32::MAX))
        else {
            return Ok(None);
        };
        if dict_end < self.dict_end || end > dict.len() {
            return Ok(None);
        }
        let mut added = scan_entries(&dict[..end], self.dict_end as usize).map_err(Fault::Dict)?;
        let old_n = self.n as usize;
        let Some(n) = u32::try_from(old_n + added.len())
            .ok()
            .filter(|&n| n < u32::MAX)
        else {
            return Ok(None);
        };
        let old_samples = old_n.div_ceil(DICT_INDEX_STRIDE);
        let mut samples: Vec<u32> = self
            .body(0, 4 * old_samples)?
            .chunks_exact(4)
            .map(LittleEndian::read_u32)
            .collect();
        samples.extend(
            added
                .iter()
                .enumerate()
                .filter(|(i, _)| (old_n + i).is_multiple_of(DICT_INDEX_STRIDE))
                .map(|(_, e)| e.0),
        );
        sort_unique(&mut added).map_err(Fault::Dict)?;
        let old_sorted = self.body(self.sorted_at, 4 * old_n)?;
        let mut sorted = Vec::with_capacity(n as usize);
        let mut from = 0usize;
        for &(off, name) in &added {
            let k = self.gallop_from(from, name)?;
            if k < old_n {
                let (v, probe) = self.slot(k)?;
                if probe == name {
                    return Err(Fault::Dict(shared_name(v, off)));
                }
            }
            sorted.extend(
                old_sorted[4 * from..4 * k]
                    .chunks_exact(4)
                    .map(LittleEndian::read_u32),
            );
            sorted.push(off);
            from = k;
        }
        sorted.extend(
            old_sorted[4 * from..]
                .chunks_exact(4)
                .map(LittleEndian::read_u32),
        );
        // Pages wholly below the old `dict_end` keep their CRCs (those bytes
        // never change); the page it ended in, and later ones, are new.
        let full = self.dict_end as usize / DICT_INDEX_PAGE;
        let mut pages: Vec<u32> = self
            .body(self.dict_crc_at, 4 * full)?
            .chunks_exact(4)
            .map(LittleEndian::read_u32)
            .collect();
        pages.extend(dict_page_crcs(&dict[..end], full));
        Ok(Some(assemble(
            &samples, &sorted, &pages, n, dict_end, store_id,
        )))
    }

    /// The ids of the tags whose name starts with `prefix`, in name order:
    /// a binary search for the first, then the sorted slots in turn.
    pub fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<u32>, DecodeError> {
        self.ids_with_prefix_checked(prefix).map_err(Fault::flatten)
    }

    /// [`Self::ids_with_prefix`], saying which file holds the damage.
    pub(crate) fn ids_with_prefix_checked(&self, prefix: &str) -> Result<Vec<u32>, Fault> {
        let mut ids = Vec::new();
        for k in self.lower_bound(prefix.as_bytes())?..self.n as usize {
            let (v, name) = self.slot(k)?;
            if !name.starts_with(prefix.as_bytes()) {
                break;
            }
            ids.push(self.slot_id(k, v)?);
        }
        Ok(ids)
    }

    /// Checks every page and the structure: every name decodes, the sorted
    /// slots name strictly ascending names (so there are no duplicates) and
    /// each names one of the `len()` tags. `each(id, name)` sees every name in
    /// id order. An index of layout 1 or 2 given no dictionary ([`Self::with_dict`])
    /// gets the checks its own bytes allow: pages, and samples and sorted
    /// offsets in range; `each` is not called.
    pub fn verify(&self, each: impl FnMut(u32, &str)) -> Result<(), DecodeError> {
        self.verify_checked(each).map_err(Fault::flatten)
    }

    /// Checks the CRC of every page now instead of at its first read: the
    /// index body, and (layout 2) `tags.dict` below `dict_end` once given.
    /// What a writer does before it builds on the dictionary.
    pub(crate) fn check_every_page(&self) -> Result<(), Fault> {
        self.body(0, self.body_len)?;
        if self.layout == LAYOUT_DICT_PAGES && self.dict.is_some() {
            let dict = self.dict_bytes()?;
            self.check_dict_pages(dict, 0, dict.len())?;
        }
        Ok(())
    }

    /// [`Self::verify`], saying which file holds the damage.
    pub(crate) fn verify_checked(&self, each: impl FnMut(u32, &str)) -> Result<(), Fault> {
        if self.layout != LAYOUT_NAMES_INSIDE && self.dict.is_none() {
            self.body(0, self.body_len)?;
            return self.verify_offsets_alone();
        }
        self.check_every_page()?;
        self.for_each_name(each)?;
        if self.layout == LAYOUT_NAMES_INSIDE {
            let last = self.u32_at(4 * self.n as usize)?;
            if u64::from(last) != self.names_len {
                return Err(Fault::Index(DecodeError::invalid(
                    Self::file_at(4 * self.n as usize),
                    "the last name offset is not the names length",
                )));
            }
        }
        let mut prev: Option<&[u8]> = None;
        for k in 0..self.n as usize {
            let (v, name) = self.slot(k)?;
            // Each slot names an entry of an indexed id; strictly ascending
            // names then make the slots a permutation of the ids.
            self.slot_id(k, v)?;
            std::str::from_utf8(name).map_err(|_| {
                Fault::Index(DecodeError::invalid(
                    Self::file_at(self.sorted_at + 4 * k),
                    format!("sorted slot {k} names a key that is not UTF-8"),
                ))
            })?;
            if prev.is_some_and(|p| p >= name) {
                return Err(Fault::Index(DecodeError::invalid(
                    Self::file_at(self.sorted_at + 4 * k),
                    format!(
                        "sorted slot {k} ({:?}) is not after the previous name",
                        String::from_utf8_lossy(name)
                    ),
                )));
            }
            prev = Some(name);
        }
        Ok(())
    }

    /// Calls `each(id, name)` for every tag in id order: [`Self::for_each_key`]
    /// with every key checked to be UTF-8.
    pub(crate) fn for_each_name(&self, mut each: impl FnMut(u32, &str)) -> Result<(), Fault> {
        self.for_each_key(|id, key| match std::str::from_utf8(key) {
            Ok(name) => {
                each(id, name);
                true
            }
            Err(_) => false,
        })
    }

    /// Calls `each(id, key)` for every tag in id order, with its key's bytes;
    /// `each` returns false for a key it finds not to be UTF-8 (it may check
    /// only the bytes it keeps), which is then corruption at that entry.
    /// Layout 1 walks the entries once from the first (not a walk from a
    /// sample per id), checking that each sample falls on its entry and that
    /// the `n` entries end exactly at `dict_end`.
    pub(crate) fn for_each_key(
        &self,
        mut each: impl FnMut(u32, &[u8]) -> bool,
    ) -> Result<(), Fault> {
        let not_utf8 = |at: usize| {
            Fault::Dict(DecodeError::invalid(
                at as u64,
                "dictionary key is not valid UTF-8",
            ))
        };
        if self.layout == LAYOUT_NAMES_INSIDE {
            for id in 0..self.n {
                let name = self.name_checked(id)?.unwrap_or_default();
                if !each(id, name.as_bytes()) {
                    return Err(not_utf8(0));
                }
            }
            return Ok(());
        }
        let mut at = if self.n == 0 {
            DICT_HEADER_LEN
        } else {
            self.first_entry()
        };
        for id in 0..self.n {
            if (id as usize).is_multiple_of(DICT_INDEX_STRIDE) {
                let k = id as usize / DICT_INDEX_STRIDE;
                if self.sample(k)? != at {
                    return Err(Fault::Index(DecodeError::invalid(
                        Self::file_at(4 * k),
                        format!("sample {k} is not the offset of entry {id} ({at})"),
                    )));
                }
            }
            let (key, len) = self.entry(at)?;
            if !each(id, key) {
                return Err(not_utf8(at));
            }
            at += len;
        }
        if at as u64 != self.dict_end {
            return Err(Fault::Index(DecodeError::invalid(
                H_DICT_END as u64,
                format!(
                    "the {} indexed entries end at byte {at} of tags.dict, not at dict_end {}",
                    self.n, self.dict_end
                ),
            )));
        }
        Ok(())
    }

    /// Layout 1 without the dictionary: samples strictly ascending from the
    /// first entry, every offset inside the indexed part of `tags.dict`.
    fn verify_offsets_alone(&self) -> Result<(), Fault> {
        let in_range = |o: usize| (DICT_HEADER_LEN..self.dict_end as usize).contains(&o);
        let samples = (self.n as usize).div_ceil(DICT_INDEX_STRIDE);
        let mut prev = None;
        for k in 0..samples {
            let s = self.sample(k)?;
            // Without the dictionary its framing is unknown: the first
            // entry follows the header, or the header and a block header.
            let first_ok = k > 0
                || s == DICT_HEADER_LEN
                || (self.layout == LAYOUT_DICT_PAGES && s == DICT_HEADER_LEN + BLOCK_HEADER_LEN);
            if !in_range(s) || !first_ok || prev.is_some_and(|p| p >= s) {
                return Err(Fault::Index(DecodeError::invalid(
                    Self::file_at(4 * k),
                    format!("sample {k} ({s}) is out of order or out of range"),
                )));
            }
            prev = Some(s);
        }
        for k in 0..self.n as usize {
            let o = self.u32_at(self.sorted_at + 4 * k)? as usize;
            if !in_range(o) {
                return Err(Fault::Index(DecodeError::invalid(
                    Self::file_at(self.sorted_at + 4 * k),
                    format!("sorted slot {k} names byte {o}, outside the indexed entries"),
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::dict::{
        encode_dict_header, encode_dict_header_of_version, encode_dict_keys,
    };

    fn names(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("t{}", (i * 7919) % 100_003))
            .collect()
    }

    /// A dictionary of `names` in `framing`, written 7 names at a time (so
    /// that in version 4 block headers fall inside sample strides).
    fn dict_in<S: AsRef<str>>(framing: Framing, names: &[S]) -> Vec<u8> {
        let mut d = match framing {
            Framing::Entries => encode_dict_header_of_version(7, 3),
            Framing::Blocks => encode_dict_header(7),
        };
        for chunk in names.chunks(7) {
            encode_dict_keys(framing, chunk, &mut d);
        }
        d
    }

    fn dict_of<S: AsRef<str>>(names: &[S]) -> Vec<u8> {
        dict_in(Framing::Blocks, names)
    }

    /// A dictionary of `names` written in the writes `cuts` mark (each a
    /// count of names), and the end of each write.
    fn dict_cut_at<S: AsRef<str>>(names: &[S], cuts: &[usize]) -> (Vec<u8>, Vec<u64>) {
        let mut d = encode_dict_header(7);
        let mut ends = vec![d.len() as u64];
        let mut from = 0;
        for &to in cuts.iter().chain([&names.len()]) {
            encode_dict_keys(Framing::Blocks, &names[from..to], &mut d);
            ends.push(d.len() as u64);
            from = to;
        }
        (d, ends)
    }

    /// A layout-2 index of `names` and the dictionary it reads.
    fn index_of<S: AsRef<str>>(names: &[S]) -> (Vec<u8>, Vec<u8>) {
        index_in(Framing::Blocks, names)
    }

    fn index_in<S: AsRef<str>>(framing: Framing, names: &[S]) -> (Vec<u8>, Vec<u8>) {
        let dict = dict_in(framing, names);
        let ix = encode_dict_index(&dict, dict.len() as u64, 7)
            .unwrap()
            .unwrap();
        (ix, dict)
    }

    /// Every answer of `ix` against the names it indexes.
    fn check_answers(ix: &DictIndexView<&[u8]>, v: &[String]) {
        assert_eq!(ix.len(), v.len() as u32);
        for (i, s) in v.iter().enumerate() {
            assert_eq!(ix.name(i as u32).unwrap(), Some(s.as_str()));
            assert_eq!(ix.lookup(s).unwrap(), Some(i as u32));
        }
        assert_eq!(ix.lookup("absent").unwrap(), None);
        assert_eq!(ix.lookup("").unwrap(), None);
        assert_eq!(ix.lookup("\u{10ffff}").unwrap(), None);
        assert_eq!(ix.name(v.len() as u32).unwrap(), None);
        let mut seen = Vec::new();
        ix.verify(|id, name| seen.push((id, name.to_string())))
            .unwrap();
        let want: Vec<_> = v
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, s)| (i as u32, s))
            .collect();
        assert_eq!(seen, want);
    }

    /// The ids of `v` whose name starts with `p`, in name order.
    fn brute_prefix(v: &[String], p: &str) -> Vec<u32> {
        let mut m: Vec<(&str, u32)> = v
            .iter()
            .enumerate()
            .filter(|(_, s)| s.starts_with(p))
            .map(|(i, s)| (s.as_str(), i as u32))
            .collect();
        m.sort();
        m.into_iter().map(|(_, i)| i).collect()
    }

    #[test]
    fn round_trip_and_lookup() {
        for (n, framing) in [0, 1, 2, 15, 16, 17, 33, 700, 3000]
            .into_iter()
            .flat_map(|n| [(n, Framing::Entries), (n, Framing::Blocks)])
        {
            let v = names(n);
            let (bytes, dict) = index_in(framing, &v);
            let ix = DictIndexView::open(&bytes[..])
                .unwrap()
                .with_dict(&dict[..])
                .unwrap();
            assert_eq!(ix.layout(), LAYOUT_DICT_PAGES);
            assert_eq!(
                (ix.len(), ix.dict_end(), ix.store_id()),
                (n as u32, dict.len() as u64, 7)
            );
            check_answers(&ix, &v);
            // 4 bytes per tag, 4 per 16 tags and 4 per page of tags.dict.
            let body = 4 * n + 4 * n.div_ceil(16) + 4 * dict.len().div_ceil(4096);
            assert_eq!(bytes.len(), 64 + body + 4 * body.div_ceil(4096));
        }
    }

    #[test]
    fn the_names_inside_layout_still_reads() {
        for n in [0, 1, 17, 3000] {
            let v = names(n);
            let dict = dict_of(&v);
            let bytes = encode_dict_index_names_inside(&v, dict.len() as u64, 7).unwrap();
            let ix = DictIndexView::open(&bytes[..]).unwrap();
            assert_eq!(ix.layout(), LAYOUT_NAMES_INSIDE);
            check_answers(&ix, &v);
            for p in ["t1", "t99", "", "u"] {
                assert_eq!(ix.ids_with_prefix(p).unwrap(), brute_prefix(&v, p));
            }
            let ix = ix.with_dict(&dict[..]).unwrap();
            check_answers(&ix, &v);
        }
    }

    #[test]
    fn ids_with_prefix_are_the_matching_ids_in_name_order() {
        let mut v: Vec<String> = [
            "metoo",
            "me",
            "rust",
            "metoo2017",
            "mf",
            "m",
            "日本語",
            "日本",
            "metoo-late",
            "a",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(names(500));
        let (bytes, dict) = index_of(&v);
        let ix = DictIndexView::open(&bytes[..])
            .unwrap()
            .with_dict(&dict[..])
            .unwrap();
        assert_eq!(ix.ids_with_prefix("metoo").unwrap(), vec![0, 8, 3]);
        assert_eq!(ix.ids_with_prefix("me").unwrap(), vec![1, 0, 8, 3]);
        assert_eq!(ix.ids_with_prefix("mf").unwrap(), vec![4]);
        assert_eq!(ix.ids_with_prefix("日本").unwrap(), vec![7, 6]);
        for p in [
            "",
            "m",
            "t1",
            "t99",
            "t100",
            "zzz",
            "metoo2017x",
            "\u{10ffff}",
        ] {
            assert_eq!(ix.ids_with_prefix(p).unwrap(), brute_prefix(&v, p), "{p:?}");
        }
    }

    #[test]
    fn any_key_kind_is_indexed_by_the_bytes_after_its_kind() {
        // Version 3 does not decode kinds; version 4 checks them in blocks.
        let mut dict = dict_in(Framing::Entries, &["b"]);
        let at = dict.len();
        // A kind-1 entry built by hand: payload = kind, key.
        let key = b"a\x00label";
        dict.extend_from_slice(&(1 + key.len() as u32).to_le_bytes());
        dict.extend_from_slice(&[0; 4]);
        dict.push(1);
        dict.extend_from_slice(key);
        let mut h = crc32fast::Hasher::new();
        h.update(&dict[at..at + 4]);
        h.update(&dict[at + 8..]);
        let crc = h.finalize();
        dict[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        let bytes = encode_dict_index(&dict, dict.len() as u64, 7)
            .unwrap()
            .unwrap();
        let ix = DictIndexView::open(&bytes[..])
            .unwrap()
            .with_dict(&dict[..])
            .unwrap();
        assert_eq!(ix.name(1).unwrap(), Some("a\0label"));
        assert_eq!(ix.lookup("a\0label").unwrap(), Some(1));
        assert_eq!(ix.ids_with_prefix("a").unwrap(), vec![1]);
        ix.verify(|_, _| {}).unwrap();
    }

    #[test]
    fn duplicate_names_and_damaged_entries_are_not_indexed() {
        let dict = dict_of(&["a", "b", "a"]);
        assert!(encode_dict_index(&dict, dict.len() as u64, 7).is_err());
        let mut dict = dict_of(&["a", "b"]);
        let last = dict.len() - 1;
        dict[last] ^= 1;
        assert!(encode_dict_index(&dict, dict.len() as u64, 7).is_err());
        assert!(encode_dict_index(&dict, dict.len() as u64 + 1, 7).is_err());
    }

    #[test]
    fn an_extended_index_is_byte_for_byte_the_whole_build() {
        let v = names(300);
        // Splits on and off the sample stride, none and all old, none new.
        for (old, new) in [
            (0, 1),
            (1, 2),
            (15, 17),
            (16, 32),
            (17, 300),
            (150, 151),
            (299, 300),
        ]
        .into_iter()
        .chain([(40, 40), (0, 300), (100, 260)])
        {
            // Writes of 5 names, then the two that end at `old` and `new`.
            let mut cuts: Vec<usize> = (5..old).step_by(5).collect();
            cuts.extend([old, new]);
            let (dict, ends) = dict_cut_at(&v, &cuts);
            let old_end = ends[cuts.len() - 1];
            let base = encode_dict_index(&dict, old_end, 7).unwrap().unwrap();
            let view = DictIndexView::open(&base[..])
                .unwrap()
                .with_dict(&dict[..])
                .unwrap();
            let new_end = ends[cuts.len()];
            let got = view.extended(&dict, new_end, 7).unwrap().unwrap();
            let whole = encode_dict_index(&dict, new_end, 7).unwrap().unwrap();
            assert!(got == whole, "{old} -> {new}");
            let ix = DictIndexView::open(&got[..])
                .unwrap()
                .with_dict(&dict[..])
                .unwrap();
            check_answers(&ix, &v[..new]);
        }
    }

    #[test]
    fn an_extension_refuses_a_repeated_name_and_a_damaged_new_entry() {
        let v = ["b", "d", "f"];
        let dict = dict_of(&v);
        let base = encode_dict_index(&dict, dict.len() as u64, 7)
            .unwrap()
            .unwrap();
        let view = DictIndexView::open(&base[..])
            .unwrap()
            .with_dict(&dict[..])
            .unwrap();
        // "d" again: a name the old index holds.
        let mut more = dict.clone();
        encode_dict_keys(Framing::Blocks, &["a", "d"], &mut more);
        assert!(matches!(
            view.extended(&more, more.len() as u64, 7),
            Err(Fault::Dict(_))
        ));
        // Twice among the new ones.
        let mut more = dict.clone();
        encode_dict_keys(Framing::Blocks, &["e", "e"], &mut more);
        assert!(view.extended(&more, more.len() as u64, 7).is_err());
        // A flipped byte in a new entry.
        let mut more = dict.clone();
        encode_dict_keys(Framing::Blocks, &["zz"], &mut more);
        let last = more.len() - 1;
        more[last] ^= 1;
        assert!(view.extended(&more, more.len() as u64, 7).is_err());
        // An end before the index's own, or past the bytes given: no answer.
        assert_eq!(view.extended(&dict, 16, 7).unwrap(), None);
        assert_eq!(
            view.extended(&dict, dict.len() as u64 + 1, 7).unwrap(),
            None
        );
    }

    #[test]
    fn a_dictionary_header_that_fails_its_crc_is_refused_before_any_read() {
        let v = names(150);
        for framing in [Framing::Entries, Framing::Blocks] {
            let (bytes, mut dict) = index_in(framing, &v);
            dict[4] ^= 0x04; // the version field: another framing
            let ix = DictIndexView::open(&bytes[..]).unwrap();
            assert!(ix.with_dict(&dict[..]).is_err());
        }
    }

    #[test]
    fn without_the_dictionary_names_are_refused_and_verify_checks_offsets() {
        let v = names(40);
        let (bytes, dict) = index_of(&v);
        let ix = DictIndexView::open(&bytes[..]).unwrap();
        assert!(ix.name(0).is_err() && ix.lookup("t0").is_err());
        let mut called = false;
        ix.verify(|_, _| called = true).unwrap();
        assert!(!called);
        // A dictionary shorter than dict_end, or not a dictionary, is refused.
        let ix = DictIndexView::open(&bytes[..]).unwrap();
        assert!(ix.with_dict(&dict[..dict.len() - 1]).is_err());
        let ix = DictIndexView::open(&bytes[..]).unwrap();
        assert!(ix.with_dict(&bytes[..]).is_err());
    }

    #[test]
    fn every_bit_flip_and_cut_is_caught_by_open_or_verify() {
        let v = names(300);
        let (bytes, dict) = index_of(&v);
        let old = encode_dict_index_names_inside(&v, dict.len() as u64, 7).unwrap();
        for bytes in [bytes, old] {
            for bit in 0..bytes.len() * 8 {
                let mut d = bytes.clone();
                d[bit / 8] ^= 1 << (bit % 8);
                if let Ok(ix) = DictIndexView::open(&d[..]) {
                    if let Ok(ix) = ix.with_dict(&dict[..]) {
                        assert!(ix.verify(|_, _| {}).is_err(), "flip {bit} passed verify");
                    }
                }
            }
            for cut in 0..bytes.len() {
                assert!(DictIndexView::open(&bytes[..cut]).is_err(), "cut {cut}");
            }
        }
    }

    #[test]
    fn a_flipped_dictionary_byte_fails_what_reads_it_and_verify_and_nothing_lies() {
        let v = names(100);
        let (bytes, dict) = index_of(&v);
        for bit in (DICT_HEADER_LEN * 8..dict.len() * 8).step_by(3) {
            let mut d = dict.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let ix = DictIndexView::open(&bytes[..])
                .unwrap()
                .with_dict(&d[..])
                .unwrap();
            for (i, s) in v.iter().enumerate() {
                if let Ok(got) = ix.lookup(s) {
                    assert_eq!(got, Some(i as u32), "flip {bit}: lookup {s}");
                }
                if let Ok(got) = ix.name(i as u32) {
                    assert_eq!(got, Some(s.as_str()), "flip {bit}: name {i}");
                }
            }
            assert!(
                ix.verify_checked(|_, _| {})
                    .is_err_and(|e| matches!(e, Fault::Dict(_))),
                "flip {bit} passed verify"
            );
        }
    }

    #[test]
    fn a_damaged_page_fails_the_lookups_that_touch_it_and_no_more() {
        let v = names(3000);
        let (mut bytes, dict) = index_of(&v);
        // A byte of the sorted table on the third page: id -> name reads
        // the first page (samples) and the last (tags.dict's page CRCs).
        bytes[DICT_INDEX_HEADER_LEN + 2 * DICT_INDEX_PAGE + 100] ^= 1;
        let ix = DictIndexView::open(&bytes[..])
            .unwrap()
            .with_dict(&dict[..])
            .unwrap();
        assert!(ix.name(0).is_ok());
        assert!(ix.verify(|_, _| {}).is_err());
    }
}
