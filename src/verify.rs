//! [`verify`]: a read-only check of every checksum and structural invariant
//! of every file of a store, reporting each problem with its file and offset
//! instead of stopping at the first.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
//! store.record("metoo", 60, 1).unwrap();
//! store.seal().unwrap();
//! let report = trendlog::verify::verify(dir.path(), &Default::default()).unwrap();
//! assert!(report.is_clean(), "{report:?}");
//! assert_eq!(report.cells_checked, 1);
//! ```

use std::collections::HashSet;
use std::io;
use std::path::Path;

use crate::error::{Corruption, CorruptionKind, Error, Result};
use crate::format::dict::{scan_dict, DICT_STORE_ID_AT};
use crate::format::log::{
    decode_block, log_header_capacity, log_header_store_id, scan_log, LOG_STORE_ID_AT,
};
use crate::format::manifest::decode_manifest;
use crate::format::scan::ScanEnd;
use crate::format::segment::{SegmentView, SEGMENT_STORE_ID_AT};
use crate::format::{check_store_id, DecodeError};
use crate::options::Options;
use crate::storage::files::{self, classify, FileKind};

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Files read.
    pub files_checked: u64,
    /// Cells decoded and checked (segments and log).
    pub cells_checked: u64,
    /// Damage: each with its file, offset and kind.
    pub problems: Vec<Corruption>,
    /// Things that are not damage but worth knowing (a torn tail that the next
    /// writable open will cut, leftover temp files).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// True when no damage was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

fn problem(r: &mut VerifyReport, file: &Path, e: DecodeError, base: u64) {
    r.problems.push(Corruption {
        file: file.to_path_buf(),
        offset: base + e.offset,
        kind: e.kind,
    });
}

fn invalid(r: &mut VerifyReport, file: &Path, offset: u64, why: String) {
    r.problems.push(Corruption {
        file: file.to_path_buf(),
        offset,
        kind: CorruptionKind::Invalid(why),
    });
}

/// Checks the store in `dir` without changing it. Returns `Err` only when the
/// check itself cannot run (no store there, I/O errors); damage is reported in
/// [`VerifyReport::problems`].
pub fn verify(dir: &Path, opts: &Options) -> Result<VerifyReport> {
    // A writer may compact while we read: a listed file can vanish. Retry.
    for attempt in 0.. {
        match verify_once(dir, opts) {
            Err(Error::Io { source, .. })
                if source.kind() == io::ErrorKind::NotFound && attempt < 10 =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
    unreachable!("the loop returns")
}

fn verify_once(dir: &Path, opts: &Options) -> Result<VerifyReport> {
    let vfs = &*opts.vfs;
    let mut r = VerifyReport::default();
    let manifest_path = dir.join(files::MANIFEST);
    if !vfs.exists(&manifest_path).map_err(|e| Error::io(dir, e))? {
        return Err(Error::NotAStore {
            dir: dir.to_path_buf(),
        });
    }
    let bytes = files::read_file(vfs, &manifest_path)?;
    r.files_checked += 1;
    let manifest = match decode_manifest(&bytes) {
        Ok(m) => m,
        Err(e) => {
            problem(&mut r, &manifest_path, e, 0);
            return Ok(r);
        }
    };

    let dict_path = dir.join(files::DICT);
    let dict_bytes = files::read_file(vfs, &dict_path)?;
    r.files_checked += 1;
    let scan = scan_dict(&dict_bytes);
    let owner = scan
        .header
        .clone()
        .and_then(|id| check_store_id(id, manifest.store_id, DICT_STORE_ID_AT as u64));
    if let Err(e) = owner {
        problem(&mut r, &dict_path, e, 0);
    }
    match &scan.end {
        ScanEnd::Clean => {}
        ScanEnd::TornTail { offset, kind } => r.notes.push(format!(
            "{}: torn tail at byte {offset} ({kind}); a writable open cuts it",
            dict_path.display()
        )),
        ScanEnd::Corrupt(e)
            if (scan.entries.len() as u64) < manifest.dict_entries
                || crate::store::log_names_tag_from(
                    vfs,
                    dir,
                    manifest.active_log,
                    scan.entries.len() as u32,
                ) =>
        {
            problem(&mut r, &dict_path, e.clone(), 0)
        }
        ScanEnd::Corrupt(e) => r.notes.push(format!(
            "{}: unsynced entries lost out of order at byte {} (a power failure); \
             a writable open cuts them",
            dict_path.display(),
            e.offset
        )),
    }
    let dict_len = scan.entries.len() as u64;
    if dict_len < manifest.dict_entries {
        invalid(
            &mut r,
            &dict_path,
            scan.valid_end,
            format!(
                "the dictionary holds {dict_len} tags but the manifest promises {}",
                manifest.dict_entries
            ),
        );
    }
    let mut seen = HashSet::new();
    for (i, t) in scan.entries.iter().enumerate() {
        if crate::tag::validate_normalized(t).is_err() {
            invalid(
                &mut r,
                &dict_path,
                0,
                format!("entry {i} ({t:?}) is not a normalised tag"),
            );
        }
        if !seen.insert(*t) {
            invalid(&mut r, &dict_path, 0, format!("tag {t:?} appears twice"));
        }
    }
    // The dictionary index (tags.idx), read whole: every page, every name
    // equal to its tags.dict entry, sorted, no duplicates.
    if let Err(e) = crate::dict::Dict::verify_index(vfs, dir, manifest.store_id, &scan.entries) {
        match e {
            Error::Corrupted(c) => r.problems.push(c),
            other => return Err(other),
        }
    }

    for entry in &manifest.segments {
        let name = files::segment_name(entry.file_id, entry.resolution);
        let path = dir.join(&name);
        let map = vfs.map(&path).map_err(|e| Error::io(&path, e))?;
        r.files_checked += 1;
        let view = match SegmentView::open((*map).as_ref()) {
            Ok(v) => v,
            Err(e) => {
                problem(&mut r, &path, e, 0);
                continue;
            }
        };
        let m = view.meta();
        let checked = check_store_id(m.store_id, manifest.store_id, SEGMENT_STORE_ID_AT as u64)
            .and_then(|()| view.verify());
        if let Err(e) = checked {
            problem(&mut r, &path, e, 0);
            continue;
        }
        if m.cell_count != entry.cell_count
            || m.total != entry.total
            || m.resolution != entry.resolution
            || m.file_id != entry.file_id
        {
            invalid(
                &mut r,
                &path,
                0,
                "the segment header does not match its manifest entry".into(),
            );
        }
        if m.cell_count > 0 && u64::from(view.max_tag()) >= dict_len {
            invalid(
                &mut r,
                &path,
                0,
                format!("tag id {} is not in the dictionary", view.max_tag()),
            );
        }
        r.cells_checked += m.cell_count;
    }

    let log_path = dir.join(files::log_name(manifest.active_log));
    let log_bytes = files::read_file(vfs, &log_path)?;
    r.files_checked += 1;
    let scan = scan_log(&log_bytes);
    match scan.file_id {
        Err(e) => problem(&mut r, &log_path, e, 0),
        Ok(id) if id != manifest.active_log => {
            invalid(&mut r, &log_path, 0, format!("the header names file {id}"))
        }
        Ok(_) => {
            let found = log_header_store_id(&log_bytes);
            if let Err(e) = check_store_id(found, manifest.store_id, LOG_STORE_ID_AT as u64) {
                problem(&mut r, &log_path, e, 0);
            }
        }
    }
    let recorded = log_header_capacity(&log_bytes);
    if recorded > log_bytes.len() as u64 {
        r.notes.push(format!(
            "{}: the file is {} bytes shorter than it was preallocated: it was truncated, and \
             any blocks past the cut are lost",
            log_path.display(),
            recorded - log_bytes.len() as u64
        ));
    }
    match &scan.end {
        ScanEnd::Clean => {}
        ScanEnd::TornTail { offset, kind } => r.notes.push(format!(
            "{}: torn tail at byte {offset} ({kind}); a writable open cuts it",
            log_path.display()
        )),
        ScanEnd::Corrupt(e) => problem(&mut r, &log_path, e.clone(), 0),
    }
    for &(off, _) in &scan.blocks {
        match decode_block(&log_bytes[off as usize..]) {
            Ok(b) => {
                r.cells_checked += b.cell_count() as u64;
                if b.cell_count() > 0 && u64::from(b.tag(b.cell_count() as usize - 1)) >= dict_len {
                    r.notes.push(format!(
                        "{}: the block at byte {off} names tags the dictionary lost in a crash; \
                         a writable open drops it (it was never made durable)",
                        log_path.display()
                    ));
                }
            }
            Err(e) => problem(&mut r, &log_path, e, off),
        }
    }

    let live: HashSet<u64> = manifest
        .segments
        .iter()
        .map(|s| s.file_id)
        .chain([manifest.active_log])
        .collect();
    for n in vfs.list(dir).map_err(|e| Error::io(dir, e))? {
        match classify(&n) {
            Some(FileKind::Temp) => r.notes.push(format!(
                "{n}: leftover temporary file; a writable open removes it"
            )),
            Some(FileKind::Log(id)) | Some(FileKind::Segment(id, _)) if !live.contains(&id) => {
                r.notes.push(format!(
                    "{n}: not in the manifest (left by an interrupted seal or compaction); \
                     a writable open removes it"
                ))
            }
            _ => {}
        }
    }
    Ok(r)
}
