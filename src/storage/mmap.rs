//! The only module allowed `unsafe`: read-only memory maps of immutable files,
//! and the `posix_fallocate` call that reserves disk space before writing.
//!
//! Why the maps are sound (see also `docs/architecture.md`, "Why readers never
//! see bytes being written"):
//! - Sealed segment files are mapped. They are written completely, fsynced
//!   and renamed into place before the first map, and never written, truncated
//!   or renamed over afterwards: compaction writes new files and deletes old ones,
//!   and on Linux a deleted file stays intact for as long as a map of it lives.
//! - The dictionary index (`tags.idx`) is mapped: it is written like a segment
//!   (temp file, fsync, rename) and never modified in place.
//! - The dictionary (`tags.dict`) is mapped for the index to read names in
//!   place, and only its bytes below the index's `dict_end` are ever read:
//!   entries a seal had made durable. The writer only ever writes at or past
//!   the dictionary's valid end (appends, and zeroing a torn tail at open), and
//!   never truncates the file, so the bytes a reader reads never change.
//! - The active log segment is never mapped: the writer appends with `pwrite`
//!   and readers are served from the writer's in-memory copy, so no `&[u8]` ever
//!   aliases bytes another thread or process may be writing.
//! - The store's lock file keeps other trendlog writers out. Editing store files
//!   by hand while a store is open is unsupported (documented in the README).
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use memmap2::{Mmap, MmapOptions};

/// A read-only map of a whole immutable file. An empty file maps to an empty slice.
pub struct ReadOnlyMap {
    map: Option<Mmap>,
}

impl ReadOnlyMap {
    /// Maps the first `len` bytes of `file` read-only: the caller passes the
    /// length it read from the file's metadata (so mapping costs no further
    /// `fstat`).
    pub fn new(file: &File, len: u64) -> io::Result<ReadOnlyMap> {
        if len == 0 {
            // mmap of length 0 is an error on Linux; an empty file is an empty slice.
            return Ok(ReadOnlyMap { map: None });
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))?;
        // SAFETY: the file is a sealed segment or the dictionary index, which no
        // trendlog writer writes or truncates once it is in place, or the
        // dictionary, of which readers read only the prefix below the index's
        // `dict_end` that no writer writes again and that is never truncated
        // (see the module docs); so the bytes that are read never change, and
        // `len` is at most the file's length.
        let map = unsafe { MmapOptions::new().len(len).map(file)? };
        Ok(ReadOnlyMap { map: Some(map) })
    }
}

impl AsRef<[u8]> for ReadOnlyMap {
    fn as_ref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// Reserves `[0, len)` of `file` on disk, zero-filled. A full disk fails here
/// with `StorageFull` instead of later, inside a write.
pub fn allocate(file: &File, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "allocation too large"))?;
    // SAFETY: posix_fallocate reads no memory of ours; the descriptor is valid
    // for the duration of the call because `file` is borrowed.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    match rc {
        0 => Ok(()),
        // File systems without fallocate support: fall back to extending the
        // file; space is then claimed on write, and writes report ENOSPC.
        libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL => {
            let cur = file.metadata()?.len();
            if cur < len as u64 {
                file.set_len(len as u64)?;
            }
            Ok(())
        }
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}
