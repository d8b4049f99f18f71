//! The files of a store directory: their names, the atomic
//! write-temp-fsync-rename-fsync-directory sequence, and small I/O helpers
//! that attach the path to every error.
//!
//! File names are derived from numeric file ids, never read from a file, so no
//! manifest (however hostile) can make trendlog touch a path outside its
//! directory:
//!
//! | name | what |
//! |---|---|
//! | `MANIFEST` | the live file list, rewritten whole through `MANIFEST.tmp` |
//! | `LOCK` | the writer's advisory lock |
//! | `tags.dict` | the append-only tag dictionary |
//! | `log-{id:016x}.log` | a log segment (the active one is appended to) |
//! | `seg-{id:016x}.min` / `.hour` | sealed segments of minute / hourly cells |
//! | `tags.idx` | the dictionary index, rewritten whole through `tags.idx.tmp` |
//! | `tags.sidx` | the series index of a labelled store, rewritten whole through `tags.sidx.tmp` |
//! | `<one of the names above>.tmp` | a file being written; removed on open, never promoted (any other `.tmp` file is the user's, and left alone) |

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::Resolution;
use crate::storage::vfs::{OpenMode, VFile, Vfs};

/// Name of the manifest file.
pub const MANIFEST: &str = "MANIFEST";
/// Name of the lock file.
pub const LOCK: &str = "LOCK";
/// Name of the tag dictionary file.
pub const DICT: &str = "tags.dict";
/// Name of the dictionary index file.
pub const INDEX: &str = "tags.idx";
/// Name of the series file of a labelled store of version 5.
pub const SERIES: &str = "tags.series";
/// Name of the series index, derived from `tags.series`.
pub const SERIES_INDEX: &str = "tags.sidx";
/// Suffix of files being written.
pub const TMP_SUFFIX: &str = ".tmp";

/// The kind of a store file, recognised by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `MANIFEST`
    Manifest,
    /// `LOCK`
    Lock,
    /// `tags.dict`
    Dict,
    /// `tags.series`
    Series,
    /// A log segment with this id.
    Log(u64),
    /// A sealed segment with this id and resolution.
    Segment(u64, Resolution),
    /// A temporary file: one of the names above (the index's included)
    /// followed by `.tmp`.
    Temp,
}

/// File name of the log segment `id`.
pub fn log_name(id: u64) -> String {
    format!("log-{id:016x}.log")
}

/// File name of the sealed segment `id`.
pub fn segment_name(id: u64, res: Resolution) -> String {
    match res {
        Resolution::Minute => format!("seg-{id:016x}.min"),
        Resolution::Hour => format!("seg-{id:016x}.hour"),
    }
}

/// Recognises a store file name; `None` for anything else (left alone). A
/// `.tmp` file is a store's only when the name before the suffix is one of
/// its files': a user's `notes.tmp` beside a store is not touched.
pub fn classify(name: &str) -> Option<FileKind> {
    if let Some(base) = name.strip_suffix(TMP_SUFFIX) {
        let ours = base == INDEX
            || base == SERIES_INDEX
            || classify(base).is_some_and(|k| k != FileKind::Temp);
        return ours.then_some(FileKind::Temp);
    }
    match name {
        MANIFEST => return Some(FileKind::Manifest),
        LOCK => return Some(FileKind::Lock),
        DICT => return Some(FileKind::Dict),
        SERIES => return Some(FileKind::Series),
        _ => {}
    }
    let hex_id = |s: &str| {
        (s.len() == 16)
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
    };
    if let Some(rest) = name
        .strip_prefix("log-")
        .and_then(|r| r.strip_suffix(".log"))
    {
        return hex_id(rest).map(FileKind::Log);
    }
    if let Some(rest) = name.strip_prefix("seg-") {
        if let Some(id) = rest.strip_suffix(".min").and_then(hex_id) {
            return Some(FileKind::Segment(id, Resolution::Minute));
        }
        if let Some(id) = rest.strip_suffix(".hour").and_then(hex_id) {
            return Some(FileKind::Segment(id, Resolution::Hour));
        }
    }
    None
}

/// Writes `bytes` to `dir/name` atomically and durably: write `name.tmp`,
/// fsync it, rename it over `name`, fsync the directory. A crash at any step
/// leaves either the old file or the new one.
pub fn write_atomic(vfs: &dyn Vfs, dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let dst = dir.join(name);
    if vfs.exists(&tmp).map_err(|e| Error::io(&tmp, e))? {
        vfs.remove(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    write_new_file(vfs, &tmp, bytes)?;
    vfs.rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    sync_dir(vfs, dir)
}

/// Creates `path` (it must not exist), reserves its size, writes `bytes` and
/// fsyncs it. The directory entry is not yet durable: call [`sync_dir`].
pub fn write_new_file(vfs: &dyn Vfs, path: &Path, bytes: &[u8]) -> Result<()> {
    let f = vfs
        .open(path, OpenMode::CREATE)
        .map_err(|e| Error::io(path, e))?;
    f.allocate(bytes.len() as u64)
        .map_err(|e| Error::io(path, e))?;
    f.write_all_at(bytes, 0).map_err(|e| Error::io(path, e))?;
    f.sync_data().map_err(|e| Error::io(path, e))
}

/// Makes the directory's entries durable.
pub fn sync_dir(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    vfs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// Reads a whole file.
pub fn read_file(vfs: &dyn Vfs, path: &Path) -> Result<Vec<u8>> {
    let f = vfs
        .open(path, OpenMode::READ)
        .map_err(|e| Error::io(path, e))?;
    f.read_to_vec().map_err(|e| Error::io(path, e))
}

/// An open file and its path, so every error names the file.
pub struct PathFile {
    /// The path.
    pub path: PathBuf,
    /// The open file.
    pub file: Box<dyn VFile>,
}

impl PathFile {
    /// Opens `path` with `mode`.
    pub fn open(vfs: &dyn Vfs, path: PathBuf, mode: OpenMode) -> Result<PathFile> {
        let file = vfs.open(&path, mode).map_err(|e| Error::io(&path, e))?;
        Ok(PathFile { path, file })
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.file
            .write_all_at(buf, offset)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// fdatasync.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    /// Reads the whole file.
    pub fn read_all(&self) -> Result<Vec<u8>> {
        self.file
            .read_to_vec()
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Reserves `[0, len)`.
    pub fn allocate(&self, len: u64) -> Result<()> {
        self.file
            .allocate(len)
            .map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(classify(&log_name(7)), Some(FileKind::Log(7)));
        assert_eq!(
            classify(&segment_name(9, Resolution::Hour)),
            Some(FileKind::Segment(9, Resolution::Hour))
        );
        assert_eq!(classify("MANIFEST.tmp"), Some(FileKind::Temp));
        assert_eq!(classify("tags.idx.tmp"), Some(FileKind::Temp));
        assert_eq!(
            classify(&format!("{}.tmp", segment_name(3, Resolution::Minute))),
            Some(FileKind::Temp)
        );
        assert_eq!(classify("notes.tmp"), None);
        assert_eq!(classify(".tmp"), None);
        assert_eq!(classify("MANIFEST.tmp.tmp"), None);
        assert_eq!(classify("log-zz.log"), None);
        assert_eq!(classify("../x"), None);
        assert_eq!(classify("seg-0000000000000001.minx"), None);
    }
}
