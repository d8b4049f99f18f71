//! The in-memory side of the tag dictionary: normalised tag strings interned to
//! dense `u32` ids in order of first appearance (id `i` is entry `i` of
//! `tags.dict`), with the encoded entries not yet written to the file.
//!
//! Ids are dense so that queries over all tags (top-k, trending) can keep one
//! counter per tag in a flat array instead of a hash map.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use std::path::{Path, PathBuf};

use parking_lot::RwLock;

use crate::error::{CorruptionKind, Error, Result};
use crate::format::dict::{
    encode_dict_blocks, encode_dict_entry, encode_packed_entry, scan_dict, unframe_dict_blocks,
    Framing, DICT_HEADER_LEN, DICT_STORE_ID_AT,
};
use crate::format::dict_index::{
    encode_dict_index, DictIndexView, Fault, DICT_INDEX_STORE_ID_AT, LAYOUT_DICT_PAGES,
    LAYOUT_NAMES_INSIDE,
};
use crate::format::scan::ScanEnd;
use crate::format::{check_store_id, DecodeError};
use crate::storage::files::{self, PathFile};
use crate::storage::vfs::{Mapped, Vfs};

/// A small, fast, non-cryptographic hasher (the multiply-rotate scheme of
/// rustc's FxHash) for the tag map: keys are trusted after normalisation and the
/// map is per-store, so hash flooding is not a concern worth SipHash's cost on
/// every ingested event.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ (rest.len() as u64) << 56);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply only carries entropy upwards, and hashbrown picks
        // buckets from the low bits: without this finaliser (the last steps
        // of MurmurHash3's fmix64) tags sharing a prefix, like `tag1` and
        // `tag2`, collide into a few buckets.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The file the index is kept in, beside `tags.dict`.
pub(crate) const INDEX_FILE: &str = files::INDEX;

/// Bytes of a read-only map, for [`DictIndexView`]: of `tags.idx`, and of
/// `tags.dict`, where an index of layout 1 or 2 reads its names in place.
///
/// `tags.dict` is append-only, not immutable, so mapping it rests on these
/// rules: the view reads only bytes below the index's `dict_end`, which are
/// entries fsynced before the index was written; every write to the file goes
/// at or past the end of its valid entries (appends, and the zeroing of a torn
/// tail), never below `dict_end`; and nothing truncates it. A map of it may
/// include bytes past `dict_end` that a writer later fills (a zeroed torn tail
/// is overwritten in place); they are never read through the map.
pub(crate) struct MapBytes(pub(crate) Mapped);

impl AsRef<[u8]> for MapBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// When [`Dict::write_index`] rewrites `tags.idx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexWhen {
    /// When enough entries were added since the current index: a seal in
    /// the middle of a stream.
    Grown,
    /// When any entry was added: a clean close, so that the next open reads
    /// no entry past the index.
    Added,
}

/// The mapped index of ids `0..view.len()` and the paths errors name.
struct Index {
    view: DictIndexView<MapBytes>,
    path: PathBuf,
    dict_path: PathBuf,
}

impl Index {
    /// The error for damage the view found, naming the file that holds it.
    fn err(&self, f: Fault) -> Error {
        match f {
            Fault::Index(e) => corrupted(&self.path, e),
            Fault::Dict(e) => corrupted(&self.dict_path, e),
        }
    }
}

/// The interned tags: ids below `base` are found through the mapped index
/// (`tags.idx`), their names read in place from the mapped `tags.dict`;
/// later ones live in memory. `ids` maps the in-memory
/// names and every indexed name a writer has looked up, so ingest pays the
/// index's binary search once per tag, not once per event.
pub(crate) struct Dict {
    index: Option<Index>,
    base: u32,
    /// Names of ids `base..`.
    names: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
    /// The index holds names `ids` lacks: true when the dictionary was opened
    /// with an index. A dictionary built in this process (or read whole at
    /// open) keeps every name in `ids`, also after an index is written (the
    /// index drops only `names`), so a miss in `ids` is a miss, and a new
    /// tag skips the index's binary search.
    partial_map: bool,
    /// Encoded entries for ids `flushed..len()`, not yet in `tags.dict`
    /// (packed entries, not yet framed as blocks, in [`Framing::Blocks`]).
    pending: Vec<u8>,
    flushed: usize,
    /// How `tags.dict` frames its entries (by its header's version).
    framing: Framing,
}

impl Default for Dict {
    fn default() -> Dict {
        Dict {
            index: None,
            base: 0,
            names: Vec::new(),
            ids: FxHashMap::default(),
            partial_map: false,
            pending: Vec::new(),
            flushed: 0,
            framing: Framing::of_version(crate::format::VERSION),
        }
    }
}

/// What [`Dict::open`] found and did in `tags.dict`.
pub(crate) struct DictOpen {
    /// The end of the last valid entry: where the next entry is written.
    pub(crate) end: u64,
    /// Bytes of a torn tail that were cut (zeroed, or ignored read-only).
    pub(crate) tail_bytes_cut: u64,
}

fn corrupted(path: &Path, e: DecodeError) -> Error {
    Error::corrupted(path, e.offset, e.kind)
}

fn invalid(path: &Path, offset: u64, why: impl Into<String>) -> Error {
    Error::corrupted(path, offset, CorruptionKind::Invalid(why.into()))
}

/// Length of the non-zero bytes of `bytes` from `from` on.
fn garbage_len(bytes: &[u8], from: u64) -> u64 {
    let from = (from as usize).min(bytes.len());
    match bytes[from..].iter().rposition(|&b| b != 0) {
        Some(p) => (p + 1) as u64,
        None => 0,
    }
}

impl Dict {
    /// A dictionary holding `names` (already on disk), ids in order.
    /// Fails on a duplicate name: two ids for one tag would split its counts.
    pub(crate) fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> std::result::Result<Dict, (usize, String)> {
        let names = names.into_iter();
        let mut d = Dict::default();
        let hint = names.size_hint().0;
        d.names.reserve(hint);
        d.ids.reserve(hint);
        for (i, n) in names.enumerate() {
            let name: Arc<str> = Arc::from(n);
            if d.ids.insert(name.clone(), i as u32).is_some() {
                return Err((i, n.to_string()));
            }
            d.names.push(name);
        }
        d.flushed = d.names.len();
        Ok(d)
    }

    /// Opens the dictionary of the store in `dir`: maps `tags.idx` when there
    /// is one (checking its header and page table only) and scans only the
    /// entries of `dict_file` after those it indexes; without an index (a
    /// version-1 store, or one never sealed) the whole file is scanned.
    ///
    /// Recovery rules (docs/reliability.md): damage after the last valid
    /// entry, whether a valid entry follows it or not, is corruption unless
    /// `lost_unsynced(first damaged id)` says those entries may be unsynced
    /// writes a crash lost (no durable log block names them); such a torn
    /// tail is cut (zeroed) unless `read_only`; fewer entries than `promised` (the
    /// manifest's count) is corruption; every scanned entry must be a
    /// normalised tag, and no tag may appear twice among them (a repeat of an
    /// indexed tag is left to `verify`).
    pub(crate) fn open(
        vfs: &dyn Vfs,
        dir: &Path,
        dict_file: &PathFile,
        read_only: bool,
        store_id: u32,
        promised: u64,
        lost_unsynced: impl Fn(usize) -> bool,
    ) -> Result<(Dict, DictOpen)> {
        let dict_path = &dict_file.path;
        let index = Dict::open_index(vfs, dir, store_id)?;
        // The file as the scan sees it: the header, then the entries after
        // the indexed ones; `delta` maps scan offsets back to file offsets.
        let (bytes, delta) = match &index {
            None => (dict_file.read_all()?, 0),
            Some(ix) => {
                let len = dict_file.file.len().map_err(|e| Error::io(dict_path, e))?;
                let from = ix.view.dict_end();
                if from < DICT_HEADER_LEN as u64 || from > len {
                    return Err(invalid(
                        &ix.path,
                        0,
                        format!("the index ends at byte {from} of tags.dict, which has {len}"),
                    ));
                }
                let tail_len = usize::try_from(len - from)
                    .map_err(|_| invalid(dict_path, from, "tags.dict too large"))?;
                let mut b = vec![0u8; DICT_HEADER_LEN + tail_len];
                let io = |e| Error::io(dict_path, e);
                dict_file
                    .file
                    .read_exact_at(&mut b[..DICT_HEADER_LEN], 0)
                    .map_err(io)?;
                dict_file
                    .file
                    .read_exact_at(&mut b[DICT_HEADER_LEN..], from)
                    .map_err(io)?;
                (b, from - DICT_HEADER_LEN as u64)
            }
        };
        let base = index.as_ref().map_or(0, |ix| ix.view.len());
        let scan = scan_dict(&bytes);
        let owner = scan.header.clone().map_err(|e| corrupted(dict_path, e))?;
        check_store_id(owner, store_id, DICT_STORE_ID_AT as u64)
            .map_err(|e| corrupted(dict_path, e))?;
        let count = base as usize + scan.entries.len();
        let shift = |e: DecodeError| DecodeError {
            offset: e.offset + delta,
            ..e
        };
        let (end, cut) = match &scan.end {
            ScanEnd::Clean => (scan.valid_end + delta, 0),
            // Damage past the last valid entry is a torn write only if no
            // log block known to be durable names the entries it held: the
            // writer syncs the dictionary before the log, so such a block
            // proves those entries were durable once.
            ScanEnd::Corrupt(e) if !lost_unsynced(count) => {
                return Err(corrupted(dict_path, shift(e.clone())))
            }
            ScanEnd::TornTail { offset, kind } if !lost_unsynced(count) => {
                return Err(corrupted(
                    dict_path,
                    shift(DecodeError::new(*offset, kind.clone())),
                ))
            }
            ScanEnd::TornTail { offset, .. } | ScanEnd::Corrupt(DecodeError { offset, .. }) => {
                let cut = garbage_len(&bytes, *offset);
                if !read_only && cut > 0 {
                    dict_file.write_at(&vec![0; cut as usize], *offset + delta)?;
                    dict_file.sync()?;
                }
                (*offset + delta, cut)
            }
        };
        if (count as u64) < promised {
            return Err(invalid(
                dict_path,
                end,
                format!("the dictionary holds {count} tags but the manifest promises {promised}"),
            ));
        }
        for (i, t) in scan.entries.iter().enumerate() {
            if crate::labels::validate_key(t).is_err() {
                return Err(invalid(
                    dict_path,
                    0,
                    format!(
                        "entry {} ({t:?}) is not a normalised tag",
                        base as usize + i
                    ),
                ));
            }
        }
        let mut dict = Dict::from_names(scan.entries.iter().copied()).map_err(|(i, t)| {
            invalid(
                dict_path,
                0,
                format!(
                    "tag {t:?} appears twice (entries {} and earlier)",
                    base as usize + i
                ),
            )
        })?;
        dict.framing = Framing::of_file(&bytes);
        if let Some(ix) = index {
            // A tail entry repeating an indexed tag is not looked for here (a
            // binary search per tail entry is the cost the index removes);
            // writers never produce one, and `verify` reports it.
            for id in dict.ids.values_mut() {
                *id += base;
            }
            dict.base = base;
            dict.flushed += base as usize;
            dict.index = Some(ix);
            dict.partial_map = true;
        }
        Ok((
            dict,
            DictOpen {
                end,
                tail_bytes_cut: cut,
            },
        ))
    }

    /// Maps and opens `tags.idx` if it exists, and maps `tags.dict` beside it
    /// when the index reads its names there (layouts 1 and 2; an index of the
    /// earlier layout holds them and is read as it is, until the next seal
    /// rewrites it).
    fn open_index(vfs: &dyn Vfs, dir: &Path, store_id: u32) -> Result<Option<Index>> {
        let path = dir.join(INDEX_FILE);
        if !vfs.exists(&path).map_err(|e| Error::io(&path, e))? {
            return Ok(None);
        }
        let map = vfs.map(&path).map_err(|e| Error::io(&path, e))?;
        let mut view = DictIndexView::open(MapBytes(map)).map_err(|e| corrupted(&path, e))?;
        check_store_id(view.store_id(), store_id, DICT_INDEX_STORE_ID_AT as u64)
            .map_err(|e| corrupted(&path, e))?;
        let dict_path = dir.join(files::DICT);
        if view.layout() != LAYOUT_NAMES_INSIDE {
            let dict = vfs.map(&dict_path).map_err(|e| Error::io(&dict_path, e))?;
            let (len, end) = ((*dict).as_ref().len(), view.dict_end());
            view = view.with_dict(MapBytes(dict)).map_err(|e| {
                if (len as u64) < end {
                    invalid(
                        &path,
                        0,
                        format!("the index ends at byte {end} of tags.dict, which has {len}"),
                    )
                } else {
                    corrupted(&dict_path, e)
                }
            })?;
        }
        Ok(Some(Index {
            view,
            path,
            dict_path,
        }))
    }

    /// Writes `tags.idx` for ids `0..upto` (entries durable in `tags.dict`,
    /// ending at byte `dict_end`) and switches to it, when the current index
    /// misses any of them (`when` = [`IndexWhen::Added`]) or enough of them
    /// (`Grown`: at least 256 and a 64th of those indexed), or there is none,
    /// or it is of an earlier layout (0, which copies the names, or 1, which
    /// has no page CRCs of `tags.dict`). The index is
    /// built from the entries in `tags.dict` itself, so it records their
    /// offsets: the new entries merged into the current index's sorted order
    /// (linear in the index, plus a galloping search per new entry), or, when
    /// that fails or there is no layout-2 index, every entry scanned and
    /// sorted. The file is written to a temporary name, synced and renamed,
    /// so a crash leaves the old index or the new one.
    pub(crate) fn write_index(
        dict: &RwLock<Dict>,
        vfs: &dyn Vfs,
        dir: &Path,
        (store_id, upto, dict_end): (u32, usize, u64),
        when: IndexWhen,
    ) -> Result<()> {
        {
            let d = dict.read();
            let base = d.base as usize;
            let added = upto.saturating_sub(base);
            let upgrade = d
                .index
                .as_ref()
                .is_some_and(|ix| ix.view.layout() != LAYOUT_DICT_PAGES);
            let enough = match when {
                IndexWhen::Added => true,
                IndexWhen::Grown => added >= (base / 64).max(256),
            };
            let grown = added > 0 && (d.index.is_none() || enough);
            if !(upgrade || grown) || upto < base || upto > d.len() {
                return Ok(());
            }
        }
        let dict_path = dir.join(files::DICT);
        let map = vfs.map(&dict_path).map_err(|e| Error::io(&dict_path, e))?;
        let merged = dict.read().index.as_ref().and_then(|ix| {
            // Any damage the merge meets is left to the whole build, which
            // reads every entry again and names what it finds.
            ix.view
                .extended((*map).as_ref(), dict_end, store_id)
                .ok()
                .flatten()
        });
        let bytes = match merged {
            Some(b) => b,
            None => match encode_dict_index((*map).as_ref(), dict_end, store_id) {
                Ok(Some(b)) => b,
                Ok(None) => return Ok(()),
                Err(e) => return Err(corrupted(&dict_path, e)),
            },
        };
        drop(map);
        let count = DictIndexView::open(&bytes[..]).map_or(0, |v| v.len() as usize);
        if count != upto {
            return Err(invalid(
                &dict_path,
                dict_end,
                format!("tags.dict holds {count} entries below byte {dict_end}, not {upto}"),
            ));
        }
        files::write_atomic(vfs, dir, INDEX_FILE, &bytes)?;
        let Some(ix) = Dict::open_index(vfs, dir, store_id)? else {
            return Ok(());
        };
        let mut d = dict.write();
        let n = ix.view.len();
        let drop_n = (n - d.base) as usize;
        d.names.drain(..drop_n);
        d.base = n;
        d.index = Some(ix);
        Ok(())
    }

    /// Checks the index against the dictionary's entries (`entries[i]` is the
    /// tag with id `i`, as `scan_dict` read them): every page, every name
    /// equal to its entry, sorted and without duplicates. Returns the file
    /// and the damage found, if any; no index is no damage.
    /// Checks every page of the mapped index and of the `tags.dict` bytes it
    /// covers now rather than at first read (a writable open: a writer must
    /// not build on a damaged dictionary). Without an index, every entry was
    /// checked when the file was scanned at open.
    pub(crate) fn check_every_page(&self) -> Result<()> {
        match &self.index {
            Some(ix) => ix.view.check_every_page().map_err(|f| ix.err(f)),
            None => Ok(()),
        }
    }

    pub(crate) fn verify_index(
        vfs: &dyn Vfs,
        dir: &Path,
        store_id: u32,
        entries: &[&str],
    ) -> std::result::Result<(), Error> {
        let Some(ix) = Dict::open_index(vfs, dir, store_id)? else {
            return Ok(());
        };
        let mut mismatch = None;
        ix.view
            .verify_checked(|id, name| {
                if mismatch.is_none() && entries.get(id as usize) != Some(&name) {
                    mismatch = Some(id);
                }
            })
            .map_err(|e| ix.err(e))?;
        if let Some(id) = mismatch {
            return Err(invalid(
                &ix.path,
                0,
                format!("index entry {id} differs from tags.dict's entry {id}"),
            ));
        }
        Ok(())
    }

    /// The id of a normalised tag, for a batch: the in-memory map first, then
    /// the index (an indexed tag is remembered in the map, so the next event
    /// of that tag costs one hash lookup); a tag in neither is interned after
    /// `writable()` allows it.
    pub(crate) fn find_or_intern(
        dict: &RwLock<Dict>,
        tag: &str,
        writable: impl FnOnce() -> Result<()>,
    ) -> Result<u32> {
        let d = dict.read();
        if let Some(&id) = d.ids.get(tag) {
            return Ok(id);
        }
        let found = match &d.index {
            Some(ix) if d.partial_map => ix.view.lookup_checked(tag).map_err(|e| ix.err(e))?,
            Some(ix) => {
                debug_assert!(
                    ix.view.lookup_checked(tag).ok().flatten().is_none(),
                    "an indexed name is missing from a complete map"
                );
                None
            }
            None => None,
        };
        drop(d);
        if let Some(id) = found {
            dict.write().ids.insert(Arc::from(tag), id);
            return Ok(id);
        }
        writable()?;
        let mut d = dict.write();
        // Another batch may have interned it meanwhile; the index cannot have
        // changed under it without the name staying in the map.
        if let Some(&id) = d.ids.get(tag) {
            return Ok(id);
        }
        d.push_new(tag)
    }

    /// The id of a normalised tag, if interned.
    #[inline]
    pub(crate) fn lookup(&self, tag: &str) -> Result<Option<u32>> {
        if let Some(&id) = self.ids.get(tag) {
            return Ok(Some(id));
        }
        match &self.index {
            Some(ix) => ix.view.lookup_checked(tag).map_err(|e| ix.err(e)),
            None => Ok(None),
        }
    }

    /// The ids of the interned tags whose name starts with `prefix`, in name
    /// order (`entries_with_prefix` without the names).
    #[cfg(test)]
    pub(crate) fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<u32>> {
        Ok(self
            .entries_with_prefix(prefix)?
            .into_iter()
            .map(|(_, id)| id)
            .collect())
    }

    /// The interned tags whose name starts with `prefix`, as `(name, id)` in
    /// name order: the indexed ones by binary search in the index, and those
    /// interned after it (the unindexed tail of `tags.dict` and tags not yet
    /// written) by a scan of the in-memory names.
    pub(crate) fn entries_with_prefix(&self, prefix: &str) -> Result<Vec<(&str, u32)>> {
        let mut found: Vec<(&str, u32)> = Vec::new();
        if let Some(ix) = &self.index {
            for id in ix
                .view
                .ids_with_prefix_checked(prefix)
                .map_err(|e| ix.err(e))?
            {
                let name = ix.view.name_checked(id).map_err(|e| ix.err(e))?;
                found.push((name.unwrap_or_default(), id));
            }
        }
        let tail = self.names.iter().zip(self.base..);
        found.extend(
            tail.filter(|(name, _)| name.starts_with(prefix))
                .map(|(name, id)| (&**name, id)),
        );
        // Names are distinct, so name order is a total order of the matches.
        found.sort_unstable();
        Ok(found)
    }

    /// Interns a normalised tag, queueing its dictionary entry for the file.
    #[cfg(test)]
    pub(crate) fn intern(&mut self, tag: &str) -> Result<u32> {
        if let Some(id) = self.lookup(tag)? {
            self.ids.entry(Arc::from(tag)).or_insert(id);
            return Ok(id);
        }
        self.push_new(tag)
    }

    /// Gives `tag`, known to be in neither the map nor the index, the next id.
    fn push_new(&mut self, tag: &str) -> Result<u32> {
        let id = u32::try_from(self.len())
            .ok()
            .filter(|&id| id < u32::MAX)
            .ok_or_else(|| Error::Poisoned {
                reason: "the tag dictionary is full (4 294 967 295 tags)".into(),
            })?;
        let name: Arc<str> = Arc::from(tag);
        match self.framing {
            Framing::Entries => encode_dict_entry(tag, &mut self.pending),
            Framing::Blocks => encode_packed_entry(tag, &mut self.pending),
        }
        self.ids.insert(name.clone(), id);
        self.names.push(name);
        Ok(id)
    }

    /// The tag of an id.
    #[inline]
    pub(crate) fn name(&self, id: u32) -> Result<Option<&str>> {
        if id < self.base {
            let Some(ix) = &self.index else {
                return Ok(None);
            };
            return ix.view.name_checked(id).map_err(|e| ix.err(e));
        }
        Ok(self.names.get((id - self.base) as usize).map(|s| &**s))
    }

    /// Number of interned tags.
    pub(crate) fn len(&self) -> usize {
        self.base as usize + self.names.len()
    }

    /// Takes the entries not yet written, as the bytes to append to
    /// `tags.dict` (in [`Framing::Blocks`], framed as blocks), and the number
    /// of tags they bring the file to once written.
    pub(crate) fn take_pending(&mut self) -> (Vec<u8>, usize) {
        self.flushed = self.len();
        let entries = std::mem::take(&mut self.pending);
        let bytes = match self.framing {
            Framing::Entries => entries,
            Framing::Blocks if entries.is_empty() => entries,
            Framing::Blocks => {
                let mut b = Vec::with_capacity(entries.len() + 8);
                encode_dict_blocks(&entries, &mut b);
                b
            }
        };
        (bytes, self.flushed)
    }

    /// Puts back entries whose write failed (the bytes [`Self::take_pending`]
    /// gave), ahead of any queued since.
    pub(crate) fn restore_pending(&mut self, bytes: Vec<u8>, upto: usize) {
        let mut bytes = match self.framing {
            Framing::Entries => bytes,
            Framing::Blocks => unframe_dict_blocks(&bytes),
        };
        bytes.extend_from_slice(&self.pending);
        self.pending = bytes;
        self.flushed = self.flushed.min(upto);
    }

    /// Number of tags whose entries have been handed to the file writer.
    pub(crate) fn flushed_count(&self) -> usize {
        self.flushed
    }

    /// Calls `f` with every id from `from` on and its key's bytes, in id
    /// order (one sequential walk of the indexed entries, then the later
    /// ones), for a caller that decodes every key of a store and checks
    /// only the bytes it keeps:
    /// `f` returns false for bytes it finds not to be UTF-8, which is then
    /// corruption at that entry (the dictionary's pages are checked either
    /// way).
    pub(crate) fn for_each_key_from(
        &self,
        from: u32,
        mut f: impl FnMut(u32, &[u8]) -> bool,
    ) -> Result<()> {
        if let Some(ix) = &self.index {
            if from < self.base {
                ix.view
                    .for_each_key(|id, key| id < from || f(id, key))
                    .map_err(|e| ix.err(e))?;
            }
        }
        for (id, name) in (self.base..).zip(&self.names) {
            if id >= from {
                // Names past the index are `str` already: `f` cannot find
                // them not to be UTF-8.
                let utf8 = f(id, name.as_bytes());
                debug_assert!(utf8);
            }
        }
        Ok(())
    }

    /// All names, id order.
    pub(crate) fn names(&self) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(self.len());
        if let Some(ix) = &self.index {
            ix.view
                .for_each_name(|_, name| out.push(name.to_string()))
                .map_err(|e| ix.err(e))?;
        }
        out.extend(self.names.iter().map(|s| s.to_string()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_keys_spread_over_low_bits() {
        use std::hash::BuildHasher;
        let b = BuildHasherDefault::<FxHasher>::default();
        let mut seen = std::collections::HashSet::new();
        for i in 0..4096 {
            seen.insert(b.hash_one(format!("tag{i}")) & 0xfff);
        }
        // 4096 keys into 4096 buckets: a good hash fills about 63% of them.
        assert!(
            seen.len() > 2000,
            "only {} distinct low-12-bit values",
            seen.len()
        );
    }

    #[test]
    fn interns_densely_and_rejects_duplicates_on_load() {
        let mut d = Dict::default();
        assert_eq!(d.intern("a").unwrap(), 0);
        assert_eq!(d.intern("b").unwrap(), 1);
        assert_eq!(d.intern("a").unwrap(), 0);
        assert_eq!(d.name(1).unwrap(), Some("b"));
        let (bytes, n) = d.take_pending();
        assert_eq!(n, 2);
        assert!(!bytes.is_empty());
        assert!(Dict::from_names(["x", "y", "x"]).is_err());
    }

    use crate::format::dict::{encode_dict_header_of_version, encode_dict_keys};
    use crate::format::dict_index::{encode_dict_index_names_inside, LAYOUT_NAMES_INSIDE};
    use crate::storage::vfs::{OpenMode, RealFs};

    const NAMES: [&str; 6] = ["metoo", "me", "rust", "metoo2017", "日本", "mf"];

    /// Writes `tags.dict` holding `names` (one write each) of the version
    /// this build writes into `dir`; returns its end.
    fn write_dict(dir: &Path, names: &[&str]) -> u64 {
        write_dict_of(dir, names, crate::format::VERSION)
    }

    fn write_dict_of(dir: &Path, names: &[&str], version: u16) -> u64 {
        let mut d = encode_dict_header_of_version(9, version);
        for n in names {
            encode_dict_keys(Framing::of_version(version), &[n], &mut d);
        }
        std::fs::write(dir.join(files::DICT), &d).unwrap();
        d.len() as u64
    }

    fn open_dict(dir: &Path, promised: u64) -> Dict {
        let f = PathFile::open(&RealFs, dir.join(files::DICT), OpenMode::READ).unwrap();
        Dict::open(&RealFs, dir, &f, true, 9, promised, |_| false)
            .unwrap()
            .0
    }

    #[test]
    fn ids_with_prefix_cover_the_index_and_the_tail_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let end = write_dict(dir.path(), &NAMES[..4]);
        let d = RwLock::new(open_dict(dir.path(), 4));
        Dict::write_index(&d, &RealFs, dir.path(), (9, 4, end), IndexWhen::Grown).unwrap();
        // Two more entries in the file, after the index.
        let end = write_dict(dir.path(), &NAMES);
        let mut d = open_dict(dir.path(), 6);
        assert_eq!(d.base, 4);
        assert_eq!(d.index.as_ref().unwrap().view.layout(), LAYOUT_DICT_PAGES);
        // And one interned but not yet written.
        assert_eq!(d.intern("metal").unwrap(), 6);
        assert_eq!(d.ids_with_prefix("me").unwrap(), vec![1, 6, 0, 3]);
        assert_eq!(d.ids_with_prefix("metoo").unwrap(), vec![0, 3]);
        assert_eq!(d.ids_with_prefix("m").unwrap(), vec![1, 6, 0, 3, 5]);
        assert_eq!(d.ids_with_prefix("日").unwrap(), vec![4]);
        assert_eq!(d.ids_with_prefix("x").unwrap(), Vec::<u32>::new());
        assert_eq!(d.ids_with_prefix("").unwrap().len(), 7);
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(d.lookup(n).unwrap(), Some(i as u32));
            assert_eq!(d.name(i as u32).unwrap(), Some(*n));
        }
        // Not enough new tags to rewrite the index in a stream's seal; a
        // close writes it for any, merging the two into its sorted order.
        let d = RwLock::new(d);
        Dict::write_index(&d, &RealFs, dir.path(), (9, 6, end), IndexWhen::Grown).unwrap();
        assert_eq!(d.read().base, 4);
        Dict::write_index(&d, &RealFs, dir.path(), (9, 6, end), IndexWhen::Added).unwrap();
        assert_eq!(d.read().base, 6);
        let dict = std::fs::read(dir.path().join(files::DICT)).unwrap();
        let whole = encode_dict_index(&dict, end, 9).unwrap().unwrap();
        assert_eq!(std::fs::read(dir.path().join(INDEX_FILE)).unwrap(), whole);
        let d = open_dict(dir.path(), 6);
        assert_eq!(d.base, 6);
        assert_eq!(d.ids_with_prefix("m").unwrap(), vec![1, 0, 3, 5]);
    }

    #[test]
    fn an_index_that_copies_the_names_is_read_then_rewritten_without_them() {
        let dir = tempfile::tempdir().unwrap();
        // The layout that copies the names was written beside version-3
        // dictionaries.
        let end = write_dict_of(dir.path(), &NAMES, 3);
        // "mf", the last entry, is 8 + 1 + 2 bytes and stays out of the index.
        let old = encode_dict_index_names_inside(&NAMES[..5], end - 11, 9).unwrap();
        std::fs::write(dir.path().join(INDEX_FILE), &old).unwrap();
        let d = open_dict(dir.path(), 6);
        assert_eq!(d.base, 5);
        assert_eq!(d.index.as_ref().unwrap().view.layout(), LAYOUT_NAMES_INSIDE);
        assert_eq!(d.ids_with_prefix("me").unwrap(), vec![1, 0, 3]);
        assert_eq!(d.ids_with_prefix("m").unwrap(), vec![1, 0, 3, 5]);
        Dict::verify_index(&RealFs, dir.path(), 9, &NAMES).unwrap();
        // The next seal rewrites it, even with no tag added since.
        let d = RwLock::new(d);
        Dict::write_index(&d, &RealFs, dir.path(), (9, 5, end - 11), IndexWhen::Grown).unwrap();
        let d = d.into_inner();
        assert_eq!(d.index.as_ref().unwrap().view.layout(), LAYOUT_DICT_PAGES);
        assert_eq!(d.base, 5);
        let new = std::fs::read(dir.path().join(INDEX_FILE)).unwrap();
        assert!(new.len() < old.len());
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(d.lookup(n).unwrap(), Some(i as u32));
            assert_eq!(d.name(i as u32).unwrap(), Some(*n));
        }
        assert_eq!(d.ids_with_prefix("m").unwrap(), vec![1, 0, 3, 5]);
        Dict::verify_index(&RealFs, dir.path(), 9, &NAMES).unwrap();
    }
}
