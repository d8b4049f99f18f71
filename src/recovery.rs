//! Recovery: ONE read-only pass over a store directory (manifest, dictionary,
//! sealed segments, active log, leftover files) that decides what is valid,
//! what is a torn tail a crash may leave, and what is damage.
//!
//! [`examine`] never writes. `Store::open` runs it at [`Depth::Open`] and acts
//! on what it returns (cuts torn tails, removes leftovers, builds the
//! in-memory state); a damaged store is refused at the first problem.
//! [`crate::verify::verify`] runs it at [`Depth::Full`], which applies the
//! same rules, adds the checks open leaves to query time (every segment
//! group's checksum and order), and reports every problem instead of stopping.
//! So `verify` can never call clean a store that `open` refuses or reads
//! differently.
//!
//! # Torn tail or damage
//! A torn tail can only exist after a crash, and only past the last
//! durability point the store recorded:
//! - the manifest records the active log's durability point
//!   (`log_durable_end`) whenever it is written (seal, compaction, clean
//!   close), and a **clean** flag when the store was closed cleanly and
//!   nothing was written since;
//! - damage below the recorded point is corruption; under the clean flag,
//!   any non-zero byte past it is corruption too;
//! - past the recorded point (after a crash), the rules of
//!   [`crate::format::log::scan_log`] apply: a bad block followed only by
//!   zeros or unverifiable bytes is a torn tail; damage followed by valid
//!   blocks that prove the log was fsynced past it is corruption.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::dict::Dict;
use crate::error::{Corruption, CorruptionKind, Error, Result};
use crate::format::dict::scan_dict;
use crate::format::log::{
    blocks_from, decode_block, log_header_capacity, log_header_store_id, scan_log, LOG_HEADER_LEN,
    LOG_STORE_ID_AT,
};
use crate::format::manifest::{decode_manifest, Manifest};
use crate::format::scan::ScanEnd;
use crate::format::series::SERIES_STORE_ID_AT;
use crate::format::series_index::{encode_series_index, SeriesIndexView};
use crate::format::{check_store_id, DecodeError};
use crate::memtable::Memtable;
use crate::series::{SeriesEnd, SeriesTable};
use crate::storage::files::{self, classify, FileKind, PathFile};
use crate::storage::segment::{open_segment, Ids, Segment};
use crate::storage::vfs::{OpenMode, Vfs};

/// How deep [`examine`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// What an open needs: stop at the first problem.
    Open,
    /// What a read-only open needs: as [`Depth::Open`], and a series file
    /// may be read through its index (`tags.sidx`), its records checked as
    /// they are read. A writer's open reads and checks it whole.
    OpenReadOnly,
    /// Everything, reporting every problem: `verify`.
    Full,
}

/// What the examination found; what an open acts on.
pub(crate) struct Examined {
    pub(crate) manifest: Manifest,
    pub(crate) dict: Dict,
    /// End of the last valid dictionary entry.
    pub(crate) dict_end: u64,
    /// Non-zero bytes of a torn dictionary tail at `dict_end` (to be zeroed).
    pub(crate) dict_cut: u64,
    /// The series file of a labelled store of version 5.
    pub(crate) series: Option<SeriesState>,
    pub(crate) segments: Vec<std::sync::Arc<Segment>>,
    pub(crate) log: LogState,
    /// Temp files and files the manifest does not name (removed by a
    /// writable open).
    pub(crate) leftovers: Vec<String>,
    /// Sum of every count held (segments and log).
    pub(crate) grand_total: u64,
    /// The store's now: the newest minute held.
    pub(crate) now: Option<u32>,
    /// Damage (only at [`Depth::Full`]; at [`Depth::Open`] the first problem
    /// is returned as an error instead).
    pub(crate) problems: Vec<Corruption>,
    /// Things worth knowing that are not damage.
    pub(crate) notes: Vec<String>,
    pub(crate) files_checked: u64,
    pub(crate) cells_checked: u64,
}

/// The series file of a labelled store of version 5, as recovery leaves it.
pub(crate) struct SeriesState {
    pub(crate) table: SeriesTable,
    /// End of the last block kept: where the next block is written.
    pub(crate) end: u64,
    /// Non-zero bytes of a torn tail at `end` (to be zeroed).
    pub(crate) cut: u64,
}

/// [`SeriesState`] with the file's bytes, while recovery decides.
struct SeriesExamined {
    table: SeriesTable,
    /// The end of the file's last non-zero byte.
    nonzero_end: u64,
    end: u64,
    cut: u64,
}

/// Reads the series file of a version-5 labelled store: its header (the
/// store's id and its number of label keys), then its blocks, whose damage
/// past the series the manifest promises (`promised`) and any durable log
/// block names (`durable_named`: `None` when the log is missing) is a torn
/// write a crash left, to be cut; any other damage is a problem. A file
/// that cannot be used at all leaves an empty table.
fn examine_series(
    vfs: &dyn Vfs,
    dir: &Path,
    manifest: &Manifest,
    promised: u32,
    durable_named: Option<Option<u32>>,
    depth: Depth,
    sink: &mut Sink,
) -> Result<SeriesExamined> {
    let path = dir.join(files::SERIES);
    let nkeys = manifest.label_keys.len();
    let empty = || SeriesExamined {
        table: SeriesTable::new(nkeys),
        nonzero_end: 0,
        end: 0,
        cut: 0,
    };
    let indexed = match depth {
        Depth::OpenReadOnly => {
            crate::series::read_through_index(vfs, dir, promised)?.map(|r| (r.read, r.nonzero_end))
        }
        Depth::Open | Depth::Full => None,
    };
    let (read, nonzero_end) = match indexed {
        Some(r) => r,
        None => {
            let missing = missing_names_kind(depth, SERIES_HELD);
            let Some(bytes) = read_named(vfs, &path, Some(missing), sink)? else {
                return Ok(empty());
            };
            let nonzero_end = garbage_len(&bytes, 0);
            if depth == Depth::Full {
                check_series_index(vfs, dir, &bytes, manifest.store_id, sink)?;
            }
            match SeriesTable::read(bytes) {
                Ok(r) => (r, nonzero_end),
                Err(e) => {
                    sink.decode(&path, e)?;
                    return Ok(empty());
                }
            }
        }
    };
    if let Err(e) = check_store_id(read.store_id, manifest.store_id, SERIES_STORE_ID_AT as u64) {
        sink.decode(&path, e)?;
        return Ok(empty());
    }
    if read.table.nkeys() != nkeys {
        sink.invalid(
            &path,
            6,
            format!(
                "the file holds {} label values per series, the store has {nkeys} label keys",
                read.table.nkeys()
            ),
        )?;
        return Ok(empty());
    }
    let count = read.table.len() as u32;
    let mut cut = 0;
    if let SeriesEnd::Damaged(e) = read.end {
        let named = durable_named.is_none_or(|m| m.is_some_and(|m| m >= count));
        if count < promised || named {
            sink.decode(&path, e)?;
        } else {
            cut = nonzero_end.saturating_sub(read.valid_end);
            sink.note(format!(
                "{}: torn tail of {cut} bytes at byte {} (unsynced series a crash lost); a \
                 writable open cuts it",
                path.display(),
                read.valid_end
            ));
        }
    } else if count < promised {
        sink.invalid(
            &path,
            read.valid_end,
            format!("the file holds {count} series but the manifest promises {promised}"),
        )?;
    }
    if depth == Depth::Full {
        if let Some((first, again)) = sink.settle(read.table.first_repeat())? {
            sink.invalid(
                &path,
                0,
                format!("series {again} repeats series {first} (the same tag and labels)"),
            )?;
        }
    }
    Ok(SeriesExamined {
        table: read.table,
        nonzero_end,
        end: read.valid_end,
        cut,
    })
}

/// `verify`'s check of the series index, if there is one: every page, and
/// byte for byte the index the series file's bytes (`file`) give for the
/// part it covers. Damage in the series file itself is left to its read.
fn check_series_index(
    vfs: &dyn Vfs,
    dir: &Path,
    file: &[u8],
    store_id: u32,
    sink: &mut Sink,
) -> Result<()> {
    let path = dir.join(files::SERIES_INDEX);
    let index = match files::read_file(vfs, &path) {
        Ok(b) => b,
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    let damaged = |e: DecodeError| (e.offset, format!("{}; {SIDX_REBUILT}", e.kind));
    let view = match SeriesIndexView::open(&index[..]) {
        Ok(v) => v,
        Err(e) => {
            let (at, why) = damaged(e);
            return sink.invalid(&path, at, why);
        }
    };
    if let Err(e) = view.check_every_page() {
        let (at, why) = damaged(e);
        return sink.invalid(&path, at, why);
    }
    let end = view.series_end();
    let Some(covered) = file.get(..end as usize) else {
        return sink.invalid(
            &path,
            16,
            format!(
                "the index covers {end} bytes of tags.series, which has {}; {SIDX_REBUILT}",
                file.len()
            ),
        );
    };
    // A range that does not decode as whole blocks is the index's fault
    // when the file's own read (which reports its damage) finds it sound.
    let sound_file = || {
        SeriesTable::read(file.to_vec())
            .is_ok_and(|r| r.end == SeriesEnd::Clean || r.valid_end >= end)
    };
    match encode_series_index(covered, store_id) {
        Ok(want) if want == index => Ok(()),
        Err(_) if !sound_file() => Ok(()),
        _ => sink.invalid(
            &path,
            0,
            format!(
                "the index does not match the first {end} bytes of tags.series; {SIDX_REBUILT}"
            ),
        ),
    }
}

/// What to do about a series index that does not match its file.
const SIDX_REBUILT: &str = "it is derived from tags.series: delete it, and the next seal or clean \
                            close writes it again";

/// The active log as recovery leaves it.
#[derive(Default)]
pub(crate) struct LogState {
    pub(crate) mem: Memtable,
    /// End of the last block kept.
    pub(crate) end: u64,
    /// The file's length.
    pub(crate) file_len: u64,
    pub(crate) blocks: u64,
    /// Non-zero bytes of a torn tail at `end` (to be zeroed).
    pub(crate) cut: u64,
    /// Complete blocks dropped because their tags' names were lost.
    pub(crate) dropped_blocks: u64,
    /// Bytes missing from the end of a log shorter than its header records.
    pub(crate) truncated_bytes: u64,
    /// The store's now after the log's first block, for the seal rule.
    pub(crate) start_now: Option<u32>,
    /// Source position of the newest block that carried one.
    pub(crate) source: Option<Vec<u8>>,
}

struct Sink {
    depth: Depth,
    problems: Vec<Corruption>,
    notes: Vec<String>,
}

impl Sink {
    /// Records damage; at [`Depth::Open`] it is returned at once.
    fn problem(&mut self, file: &Path, offset: u64, kind: CorruptionKind) -> Result<()> {
        let c = Corruption {
            file: file.to_path_buf(),
            offset,
            kind,
        };
        match self.depth {
            Depth::Open | Depth::OpenReadOnly => Err(Error::Corrupted(c)),
            Depth::Full => {
                // Two checks may meet the same damage (the dictionary's open
                // and its full check both read the index header): one
                // problem, reported once.
                if !self.problems.contains(&c) {
                    self.problems.push(c);
                }
                Ok(())
            }
        }
    }

    fn decode(&mut self, file: &Path, e: DecodeError) -> Result<()> {
        self.problem(file, e.offset, e.kind)
    }

    fn invalid(&mut self, file: &Path, offset: u64, why: impl Into<String>) -> Result<()> {
        self.problem(file, offset, CorruptionKind::Invalid(why.into()))
    }

    fn note(&mut self, n: String) {
        self.notes.push(n);
    }

    /// The value of a read that may meet damage (a record of an indexed
    /// series file, checked as it is read): the damage is a problem, and
    /// at [`Depth::Full`] the read counts as empty.
    fn settle<T: Default>(&mut self, r: Result<T>) -> Result<T> {
        match r {
            Ok(v) => Ok(v),
            Err(Error::Corrupted(c)) => {
                self.problem(&c.file, c.offset, c.kind)?;
                Ok(T::default())
            }
            Err(e) => Err(e),
        }
    }
}

fn max_opt(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Length of the non-zero garbage from `from` to the last non-zero byte.
pub(crate) fn garbage_len(bytes: &[u8], from: u64) -> u64 {
    let from = (from as usize).min(bytes.len());
    match bytes[from..].iter().rposition(|&b| b != 0) {
        Some(p) => (p + 1) as u64,
        None => 0,
    }
}

/// Reads the manifest of the store in `dir`. `Ok(None)` when there is none.
pub(crate) fn read_manifest(vfs: &dyn Vfs, dir: &Path) -> Result<Option<Manifest>> {
    Ok(read_manifest_versioned(vfs, dir)?.map(|(m, _)| m))
}

/// [`read_manifest`], with the format version the file was written with.
pub(crate) fn read_manifest_versioned(
    vfs: &dyn Vfs,
    dir: &Path,
) -> Result<Option<(Manifest, u16)>> {
    let path = dir.join(files::MANIFEST);
    if !vfs.exists(&path).map_err(|e| Error::io(dir, e))? {
        return Ok(None);
    }
    let bytes = files::read_file(vfs, &path)?;
    let m = decode_manifest(&bytes).map_err(|e| Error::corrupted(&path, e.offset, e.kind))?;
    // A manifest that decodes holds its version at bytes 4..6.
    Ok(Some((m, u16::from_le_bytes([bytes[4], bytes[5]]))))
}

/// Examines the store in `dir` whose manifest is `manifest`, without writing.
pub(crate) fn examine(
    vfs: &dyn Vfs,
    dir: &Path,
    manifest: Manifest,
    depth: Depth,
) -> Result<Examined> {
    let mut sink = Sink {
        depth,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let manifest_path = dir.join(files::MANIFEST);
    let mut files_checked = 1;
    let mut cells_checked = 0;

    // Leftovers of interrupted seals and compactions.
    let live: HashSet<u64> = manifest
        .segments
        .iter()
        .map(|s| s.file_id)
        .chain([manifest.active_log])
        .collect();
    let mut leftovers = Vec::new();
    for n in vfs.list(dir).map_err(|e| Error::io(dir, e))? {
        match classify(&n) {
            Some(FileKind::Temp) => {
                sink.note(format!(
                    "{n}: a temporary file, of a write in progress (a writer holds the \
                     store) or left by an interrupted one; a writable open removes it"
                ));
                leftovers.push(n);
            }
            Some(FileKind::Log(id)) | Some(FileKind::Segment(id, _)) if !live.contains(&id) => {
                sink.note(format!(
                    "{n}: not in the manifest, from a seal or compaction in progress (a \
                     writer holds the store) or left by an interrupted one; \
                     a writable open removes it"
                ));
                leftovers.push(n);
            }
            _ => {}
        }
    }

    // The active log, read before the dictionary: the writer writes a
    // block's new entries to `tags.dict` before the block, so every block in
    // this copy names entries that the dictionary read next holds, even while
    // another process writes (it only adds later entries and blocks).
    let log_path: PathBuf = dir.join(files::log_name(manifest.active_log));
    let log_missing = (depth == Depth::Full).then(missing_kind);
    let log_bytes = read_named(vfs, &log_path, log_missing, &mut sink)?;

    // A labelled store of version 5: its series, read after the log and
    // before the dictionary, in the reverse of the order a writer writes
    // them (tags, series, then the block), so every id this copy of the log
    // names is in it, and every tag its series name in the dictionary.
    let durable_named = log_bytes.as_deref().map(durable_named_max);
    files_checked += u64::from(manifest.series_entries.is_some());
    // `verify` checks the series index too, when there is one.
    let index_there = || vfs.exists(&dir.join(files::SERIES_INDEX)).unwrap_or(false);
    files_checked +=
        u64::from(depth == Depth::Full && manifest.series_entries.is_some() && index_there());
    let mut series = match manifest.series_entries {
        None => None,
        Some(promised) => Some(examine_series(
            vfs,
            dir,
            &manifest,
            promised,
            durable_named,
            depth,
            &mut sink,
        )?),
    };
    // The series a crash cannot have lost: those the manifest promises and
    // those a durable log block names.
    let durable_series = |promised: u32| match durable_named {
        None => u32::MAX,
        Some(m) => m.map_or(promised, |m| promised.max(m.saturating_add(1))),
    };

    // The dictionary: the mapped index (checked in its header and page
    // table only) and the entries of `tags.dict` after those it covers.
    let dict_path = dir.join(files::DICT);
    let dict_file = match PathFile::open(vfs, dict_path.clone(), OpenMode::READ) {
        Ok(f) => Some(f),
        Err(e) if is_missing(&e) => {
            sink.problem(&dict_path, 0, missing_names_kind(depth, TAGS_HELD))?;
            None
        }
        Err(e) => return Err(e),
    };
    files_checked += 1;
    // Damage after the last valid entry is corruption, unless the damaged
    // entries may be unsynced writes that a crash lost (a power failure may
    // also keep a later one): past the entries the manifest promises, and
    // named by no durable block of the active log.
    //
    // In a store with a series file the log names series, and the series
    // name tags: a tag is needed when a series that cannot be lost names it.
    let needed_tag = match &series {
        None => None,
        Some(st) => {
            let keep = durable_series(manifest.series_entries.unwrap_or(0));
            Some(sink.settle(st.table.max_tag(keep as usize))?)
        }
    };
    let lost_unsynced = |x: usize| {
        x as u64 >= manifest.dict_entries
            && match needed_tag {
                Some(needed) => needed.is_none_or(|t| (t as usize) < x),
                None => durable_named.is_some_and(|m| m.is_none_or(|m| m < x as u32)),
            }
    };
    let opened = dict_file.as_ref().map(|f| {
        Dict::open(
            vfs,
            dir,
            f,
            true,
            manifest.store_id,
            manifest.dict_entries,
            lost_unsynced,
        )
    });
    let (dict, dict_end, dict_cut) = match opened {
        None => (Dict::default(), 0, 0),
        Some(Ok((d, o))) => {
            if o.tail_bytes_cut > 0 {
                sink.note(format!(
                    "{}: torn tail of {} bytes at byte {} (unsynced entries a crash lost); \
                     a writable open cuts it",
                    dict_path.display(),
                    o.tail_bytes_cut,
                    o.end
                ));
            }
            (d, o.end, o.tail_bytes_cut)
        }
        Some(Err(Error::Corrupted(c))) => {
            sink.problem(&c.file, c.offset, c.kind)?;
            (Dict::default(), 0, 0)
        }
        Some(Err(e)) => return Err(e),
    };
    // With damage found, tag ids are checked against what the manifest
    // promises instead.
    let dict_len = if dict.len() > 0 || sink.problems.is_empty() {
        dict.len() as u64
    } else {
        manifest.dict_entries
    };
    if depth == Depth::Full && dict_file.is_some() {
        check_every_entry(
            vfs,
            dir,
            &dict_path,
            manifest.store_id,
            (dict.len(), series.is_some()),
            &mut sink,
        )?;
    }
    drop(dict_file);
    // Series whose tags the dictionary lost with a torn tail were written
    // after those tags and never made durable: they go too (from the block
    // that holds the first). A durable one is damage.
    let id_len = match &mut series {
        None => dict_len,
        Some(st) => {
            let promised = manifest.series_entries.unwrap_or(0);
            let first_lost = sink.settle(st.table.first_naming_tag_from(dict_len))?;
            if let Some(i) = first_lost {
                let path = dir.join(files::SERIES);
                if i < durable_series(promised) {
                    let t = sink.settle(st.table.tag(i))?.unwrap_or(0);
                    sink.invalid(
                        &path,
                        0,
                        format!("series {i} names tag {t}, but tags.dict holds {dict_len} tags"),
                    )?;
                } else if let Some(at) = st.table.cut_from_series(i) {
                    st.cut = st.nonzero_end.saturating_sub(at);
                    st.end = at;
                    sink.note(format!(
                        "{}: series from {i} name tags a crash lost; a writable open cuts them \
                         ({} bytes at byte {at})",
                        path.display(),
                        st.cut
                    ));
                }
            }
            if st.table.len() > 0 || sink.problems.is_empty() {
                st.table.len() as u64
            } else {
                u64::from(promised)
            }
        }
    };

    // Sealed segments.
    let mut segments = Vec::with_capacity(manifest.segments.len());
    let mut grand_total: u64 = 0;
    let mut now = manifest.now;
    let ids = Ids {
        len: id_len,
        series: series.is_some(),
    };
    for entry in &manifest.segments {
        files_checked += 1;
        let seg = match open_segment(vfs, dir, entry, ids, manifest.store_id) {
            Ok(s) => s,
            Err(Error::Corrupted(c)) => {
                sink.problem(&c.file, c.offset, c.kind)?;
                continue;
            }
            // Missing: at open, the caller retries (a seal or compaction
            // may have replaced it since the manifest was read).
            Err(Error::Io { path, source })
                if source.kind() == std::io::ErrorKind::NotFound && depth == Depth::Full =>
            {
                sink.problem(&path, 0, missing_kind())?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if depth == Depth::Full {
            if let Err(e) = seg.view.verify() {
                sink.decode(&dir.join(&seg.name), e)?;
                continue;
            }
        }
        cells_checked += entry.cell_count;
        match grand_total.checked_add(entry.total) {
            Some(t) => grand_total = t,
            None => sink.invalid(&manifest_path, 0, "segment totals overflow 64 bits")?,
        }
        let (_, end) = seg.minute_span();
        now = max_opt(now, Some(end - 1));
        segments.push(std::sync::Arc::new(seg));
    }

    // The active log.
    files_checked += 1;
    let log = examine_log(
        &log_path,
        log_bytes,
        &manifest,
        ids,
        &mut grand_total,
        &mut now,
        &mut cells_checked,
        &mut sink,
    )?;
    Ok(Examined {
        manifest,
        dict,
        dict_end,
        dict_cut,
        series: series.map(|st| SeriesState {
            table: st.table,
            end: st.end,
            cut: st.cut,
        }),
        segments,
        log,
        leftovers,
        grand_total,
        now,
        problems: sink.problems,
        notes: sink.notes,
        files_checked,
        cells_checked,
    })
}

/// What an open leaves to `verify`: every entry of `tags.dict` a normalised
/// tag, none twice, and the index (if any) equal to the entries it covers.
fn check_every_entry(
    vfs: &dyn Vfs,
    dir: &Path,
    dict_path: &Path,
    store_id: u32,
    (known, tags_only): (usize, bool),
    sink: &mut Sink,
) -> Result<()> {
    let bytes = files::read_file(vfs, dict_path)?;
    let scan = scan_dict(&bytes);
    // Entries the index covers are not scanned by an open; damage to them
    // shows here.
    if scan.entries.len() < known {
        match &scan.end {
            ScanEnd::Corrupt(e) => sink.decode(dict_path, e.clone())?,
            ScanEnd::TornTail { offset, kind } => sink.problem(dict_path, *offset, kind.clone())?,
            ScanEnd::Clean => sink.invalid(
                dict_path,
                scan.valid_end,
                format!(
                    "tags.dict holds {} entries but {known} are indexed",
                    scan.entries.len()
                ),
            )?,
        }
    }
    let mut seen = HashSet::with_capacity(scan.entries.len());
    for (i, t) in scan.entries.iter().enumerate() {
        if crate::labels::validate_key(t).is_err() {
            sink.invalid(
                dict_path,
                0,
                format!("entry {i} ({t:?}) is not a normalised tag"),
            )?;
        }
        if tags_only && crate::labels::is_series_key(t) {
            sink.invalid(
                dict_path,
                0,
                format!(
                    "entry {i} ({t:?}) is a series key; this store keeps series in tags.series"
                ),
            )?;
        }
        if !seen.insert(*t) {
            sink.invalid(dict_path, 0, format!("tag {t:?} appears twice (entry {i})"))?;
        }
    }
    match Dict::verify_index(vfs, dir, store_id, &scan.entries) {
        Ok(()) => Ok(()),
        Err(Error::Corrupted(c)) => sink.problem(&c.file, c.offset, c.kind),
        Err(e) => Err(e),
    }
}

#[allow(clippy::too_many_arguments)]
fn examine_log(
    log_path: &Path,
    bytes: Option<Vec<u8>>,
    manifest: &Manifest,
    ids: Ids,
    grand_total: &mut u64,
    now: &mut Option<u32>,
    cells_checked: &mut u64,
    sink: &mut Sink,
) -> Result<LogState> {
    // Missing (a problem already reported): nothing to examine.
    let Some(bytes) = bytes else {
        return Ok(LogState::default());
    };
    let scan = scan_log(&bytes);
    let mut st = LogState {
        file_len: bytes.len() as u64,
        source: manifest.source_position.clone(),
        ..LogState::default()
    };
    match &scan.file_id {
        Err(e) => sink.decode(log_path, e.clone())?,
        Ok(id) if *id != manifest.active_log => sink.invalid(
            log_path,
            0,
            format!(
                "the log header names file {id}, the manifest expects {}",
                manifest.active_log
            ),
        )?,
        Ok(_) => {
            let found = log_header_store_id(&bytes);
            if let Err(e) = check_store_id(found, manifest.store_id, LOG_STORE_ID_AT as u64) {
                sink.decode(log_path, e)?;
            }
        }
    }
    if bytes.len() < LOG_HEADER_LEN {
        // Cut inside its header (reported just above): there is no block to
        // look at, and the durability point and a clean close's end would
        // only report the same cut again.
        return Ok(st);
    }
    // The recorded durability point: whole valid blocks below it, always.
    let durable = manifest.log_durable_end.max(LOG_HEADER_LEN as u64);
    let mut end = match &scan.end {
        ScanEnd::Clean | ScanEnd::TornTail { .. } => scan.valid_end,
        ScanEnd::Corrupt(e) => {
            sink.decode(log_path, e.clone())?;
            scan.valid_end
        }
    };
    if end < durable && manifest.log_durable_end > 0 {
        let kind = match &scan.end {
            ScanEnd::TornTail { kind, .. } => kind.clone(),
            _ => CorruptionKind::Truncated {
                needed: durable,
                available: end,
            },
        };
        sink.problem(log_path, end, kind)?;
    }
    for (i, &(off, len)) in scan.blocks.iter().enumerate() {
        let block = match decode_block(&bytes[off as usize..]) {
            Ok(b) => b,
            Err(e) => {
                sink.decode(log_path, e.at_base(off))?;
                end = off;
                break;
            }
        };
        if block.cell_count() > 0
            && u64::from(block.tag(block.cell_count() as usize - 1)) >= ids.len
        {
            let (names, holder) = (ids.many(), ids.holder());
            // Its tags' dictionary entries were lost with a crash, so the
            // block (and all after it) was never made durable: a torn tail.
            // Unless the manifest or a later block records the log as
            // durable past it: then the entries were durable too (the
            // dictionary is synced first), and their loss is damage.
            if (off < durable && manifest.log_durable_end > 0)
                || off + u64::from(len) <= recorded_durable_end(&bytes)
            {
                sink.invalid(
                    log_path,
                    off,
                    format!(
                        "a block below the recorded durability point names {names} {holder} lacks"
                    ),
                )?;
            }
            st.dropped_blocks = (scan.blocks.len() - i) as u64;
            sink.note(format!(
                "{}: {} block(s) from byte {off} name {names} {holder} lost in a crash; \
                 a writable open drops them (they were never made durable)",
                log_path.display(),
                st.dropped_blocks
            ));
            end = off;
            break;
        }
        let cells = block.to_cells();
        *cells_checked += cells.len() as u64;
        let block_total = cells
            .counts
            .iter()
            .try_fold(0u64, |a, &c| a.checked_add(c))
            .and_then(|s| grand_total.checked_add(s));
        match block_total {
            Some(t) => *grand_total = t,
            None => {
                sink.invalid(log_path, off, "counts overflow 64 bits")?;
                continue;
            }
        }
        if block.cell_count() > 0 {
            *now = max_opt(*now, Some(block.max_time()));
            if st.start_now.is_none() {
                st.start_now = *now;
            }
        }
        if let Some(src) = block.source() {
            st.source = Some(src.to_vec());
        }
        st.mem.push(cells);
        st.blocks += 1;
    }
    // A clean end means everything past the last block is zeros already.
    let clean_end = matches!(scan.end, ScanEnd::Clean) && st.dropped_blocks == 0;
    st.cut = if clean_end {
        0
    } else {
        garbage_len(&bytes, end)
    };
    if manifest.clean && (end != durable || st.cut > 0) {
        sink.invalid(log_path, end.min(durable), {
            let mut why =
                format!("the store was closed cleanly with the log ending at byte {durable}, but");
            if end != durable {
                why.push_str(&format!(" it now ends at byte {end}"));
            }
            if st.cut > 0 {
                let and = if end != durable { ", and" } else { "" };
                why.push_str(&format!(
                    "{and} bytes from there up to byte {} are not all zero",
                    end + st.cut
                ));
            }
            why
        })?;
    } else if st.cut > 0 {
        sink.note(format!(
            "{}: torn tail of {} bytes at byte {end} (written after the last durability point, \
             byte {durable}, and cut short by a crash); a writable open cuts it",
            log_path.display(),
            st.cut
        ));
    }
    // A header recording more than the file holds: the file was cut. It is
    // never extended back to the recorded length (a damaged or hostile
    // header may inflate it to any size); a writable open seals it away.
    let recorded = log_header_capacity(&bytes);
    st.truncated_bytes = recorded.saturating_sub(bytes.len() as u64);
    if st.truncated_bytes > 0 {
        // After a clean close the log's end is known: a cut at or past it
        // took only preallocated zeros (a cut below it is reported above).
        let lost = if manifest.clean && end == durable {
            format!("it ends after its last block (byte {end}), so no block was lost")
        } else {
            "any blocks past the cut are lost".to_string()
        };
        sink.note(format!(
            "{}: the file is {} bytes shorter than it was preallocated: it was truncated, and \
             {lost}",
            log_path.display(),
            st.truncated_bytes
        ));
    }
    st.end = end;
    Ok(st)
}

/// The bytes of `path`, a file the manifest names; `None` when it is missing
/// and `missing` gives what that is (reported as a problem). Without it a
/// missing file is the I/O error: at open the caller retries, as a seal or
/// compaction may have replaced a log since the manifest was read.
fn read_named(
    vfs: &dyn Vfs,
    path: &Path,
    missing: Option<CorruptionKind>,
    sink: &mut Sink,
) -> Result<Option<Vec<u8>>> {
    match (files::read_file(vfs, path), missing) {
        (Ok(b), _) => Ok(Some(b)),
        (Err(e), Some(kind)) if is_missing(&e) => {
            sink.problem(path, 0, kind)?;
            Ok(None)
        }
        (Err(e), _) => Err(e),
    }
}

/// Whether `e` says a file is not there.
pub(crate) fn is_missing(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// What a file the manifest names but the directory lacks is: damage (a
/// store never removes a file its manifest still names).
fn missing_kind() -> CorruptionKind {
    CorruptionKind::Invalid("the file is missing, but the manifest names it".into())
}

/// What `tags.dict` holds, for [`missing_names_kind`].
const TAGS_HELD: &str = "the store's tags";
/// What `tags.series` holds, for [`missing_names_kind`].
const SERIES_HELD: &str = "the store's series (each one's tag and label values)";

/// What a missing `tags.dict` or `tags.series` is: damage, unlike a missing
/// log or segment at open (a seal or compaction may have replaced those
/// since the manifest was read), since a store never removes or replaces
/// either. `verify` says so as it does of any file; an open, which stops
/// there, also says what the file held and what to do.
fn missing_names_kind(depth: Depth, held: &str) -> CorruptionKind {
    match depth {
        Depth::Full => missing_kind(),
        Depth::Open | Depth::OpenReadOnly => CorruptionKind::Invalid(format!(
            "the file is missing, but the manifest names it; it holds {held}, and the store \
             cannot be opened without it: restore it from a backup of this store"
        )),
    }
}

/// The largest id a block of the log `bytes` known to have been durable
/// names, if any: ids up to it were durable, and so must be what names
/// them. A block is known durable when some valid block
/// records a `durable_end` at or past its end; a sync fsyncs the dictionary
/// before the log, and `durable_end` moves only after both, so the entries
/// such a block names were durable too, and damage to them is corruption, not
/// a lost unsynced write. (Callers count a missing log as naming every id:
/// nothing may then be assumed lost.)
fn durable_named_max(bytes: &[u8]) -> Option<u32> {
    let durable = recorded_durable_end(bytes);
    blocks_from(bytes, LOG_HEADER_LEN)
        .filter(|(at, b)| at + b.len() as u64 <= durable && b.cell_count() > 0)
        .map(|(_, b)| b.tag(b.cell_count() as usize - 1))
        .max()
}

/// The furthest durability point any valid block of the log `bytes`
/// records (0 when none does): every block ending at or before it was
/// durable when a later block was written.
fn recorded_durable_end(bytes: &[u8]) -> u64 {
    blocks_from(bytes, LOG_HEADER_LEN)
        .map(|(_, b)| b.durable_end())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::vfs::RealFs;
    use crate::{Options, Store};

    const T0: i64 = 1_508_112_000;

    /// A store with three committed batches in its active log, closed
    /// cleanly (`close`) or left as a crash leaves it (copied while open).
    fn store(clean: bool) -> (tempfile::TempDir, PathBuf) {
        let live = tempfile::tempdir().unwrap();
        let s = Store::open(live.path(), Options::default().background_compaction(false)).unwrap();
        for i in 0..3 {
            s.record("metoo", T0 + i * 60, 1).unwrap();
        }
        if clean {
            s.close().unwrap();
            let log = log_path(live.path());
            return (live, log);
        }
        let copy = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(live.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
        }
        drop(s);
        let log = log_path(copy.path());
        (copy, log)
    }

    fn log_path(dir: &Path) -> PathBuf {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "log"))
            .unwrap()
    }

    fn look(dir: &Path, depth: Depth) -> Result<Examined> {
        let m = read_manifest(&RealFs, dir).unwrap().unwrap();
        examine(&RealFs, dir, m, depth)
    }

    fn last_block_byte(log: &Path) -> usize {
        let b = std::fs::read(log).unwrap();
        b.iter().rposition(|&x| x != 0).unwrap()
    }

    #[test]
    fn a_clean_store_has_no_problems_and_nothing_to_cut() {
        let (dir, _) = store(true);
        let e = look(dir.path(), Depth::Full).unwrap();
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        assert_eq!((e.log.blocks, e.log.cut, e.grand_total), (3, 0, 3));
        assert!(e.manifest.clean);
    }

    #[test]
    fn damage_to_the_last_block_after_a_clean_close_is_a_problem() {
        let (dir, log) = store(true);
        let mut b = std::fs::read(&log).unwrap();
        let at = last_block_byte(&log);
        b[at] ^= 0x10;
        std::fs::write(&log, &b).unwrap();
        let full = look(dir.path(), Depth::Full).unwrap();
        assert!(!full.problems.is_empty());
        assert!(look(dir.path(), Depth::Open).is_err_and(|e| e.is_corruption()));
    }

    #[test]
    fn the_same_damage_after_a_crash_is_a_torn_tail() {
        let (dir, log) = store(false);
        let mut b = std::fs::read(&log).unwrap();
        let at = last_block_byte(&log);
        b[at] ^= 0x10;
        std::fs::write(&log, &b).unwrap();
        let e = look(dir.path(), Depth::Full).unwrap();
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        assert_eq!(e.log.blocks, 2);
        assert!(e.log.cut > 0);
        assert!(e.notes.iter().any(|n| n.contains("torn tail")));
        // Open depth agrees, and examining wrote nothing.
        assert_eq!(look(dir.path(), Depth::Open).unwrap().log.blocks, 2);
        assert_eq!(std::fs::read(&log).unwrap(), b);
    }

    /// A crashed store whose dictionary's last block holds a tag that log
    /// blocks name: the first of them is followed by `after` more batches
    /// (each synced, so each records the log durable past the ones before).
    fn crashed_with_last_dict_block_named(after: usize) -> tempfile::TempDir {
        let live = tempfile::tempdir().unwrap();
        let s = Store::open(live.path(), Options::default().background_compaction(false)).unwrap();
        s.record("metoo", T0, 1).unwrap();
        s.record("weinstein", T0 + 60, 1).unwrap();
        for i in 0..after {
            s.record("weinstein", T0 + 120 + i as i64 * 60, 1).unwrap();
        }
        let copy = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(live.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
        }
        drop(s);
        let dict = copy.path().join(files::DICT);
        let mut b = std::fs::read(&dict).unwrap();
        let at = b.iter().rposition(|&x| x != 0).unwrap();
        b[at] ^= 0x04;
        std::fs::write(&dict, &b).unwrap();
        copy
    }

    #[test]
    fn a_damaged_dictionary_tail_that_durable_log_blocks_name_is_a_problem() {
        // The block naming "weinstein" is followed by two synced batches, which
        // record the log durable past it: its tag was durable, and losing it
        // would silently drop acknowledged events.
        let dir = crashed_with_last_dict_block_named(2);
        let full = look(dir.path(), Depth::Full).unwrap();
        assert!(!full.problems.is_empty(), "notes: {:?}", full.notes);
        assert!(look(dir.path(), Depth::Open).is_err_and(|e| e.is_corruption()));
        assert!(Store::open(dir.path(), Options::default()).is_err_and(|e| e.is_corruption()));
    }

    #[test]
    fn a_damaged_dictionary_tail_only_the_last_log_block_names_is_a_torn_tail() {
        // Nothing proves the last block durable (docs/reliability.md, limit 2):
        // the crash may have lost it, and its tag with it.
        let dir = crashed_with_last_dict_block_named(0);
        let e = look(dir.path(), Depth::Full).unwrap();
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        assert_eq!((e.dict.len(), e.log.blocks, e.grand_total), (1, 1, 1));
        assert!(e.notes.iter().any(|n| n.contains("torn tail")));
    }

    #[test]
    fn bytes_past_a_clean_end_are_a_problem() {
        let (dir, log) = store(true);
        let mut b = std::fs::read(&log).unwrap();
        let at = last_block_byte(&log) + 100;
        b[at] = 1;
        std::fs::write(&log, &b).unwrap();
        assert!(!look(dir.path(), Depth::Full).unwrap().problems.is_empty());
    }
}
