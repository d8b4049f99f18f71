//! The file-system seam: every byte trendlog reads or writes goes through a
//! [`Vfs`]. [`RealFs`] is the operating system; tests put a fault-injecting
//! layer (`SimFs` of the `trendlog-testkit` package) in its place to crash after the N-th
//! operation, drop unsynced writes, tear writes and fail calls.
//!
//! The contract a `Vfs` must honour is the one trendlog assumes of a POSIX disk
//! (spelled out in `docs/format.md`, "Assumptions about the medium"):
//! - `write_all_at` may be lost or torn by a crash until `sync_data` returns;
//! - a `rename` is atomic, but only durable once `sync_dir` of its directory returns;
//! - `allocate` reserves space so later writes inside it cannot fail for lack of space;
//! - `map` is only used on files that are never written again (sealed segments).

use std::any::Any;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use super::mmap;

/// Read-only bytes of an immutable file (a memory map for [`RealFs`]).
pub type Mapped = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A held lock; dropping it releases the lock.
pub type LockGuard = Box<dyn Any + Send + Sync>;

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenMode {
    /// Open for writing as well as reading.
    pub write: bool,
    /// Create the file; fail if it exists.
    pub create_new: bool,
}

impl OpenMode {
    /// Read only; the file must exist.
    pub const READ: OpenMode = OpenMode {
        write: false,
        create_new: false,
    };
    /// Read and write; the file must exist.
    pub const WRITE: OpenMode = OpenMode {
        write: true,
        create_new: false,
    };
    /// Create a new file for reading and writing; fails if it exists.
    pub const CREATE: OpenMode = OpenMode {
        write: true,
        create_new: true,
    };
}

/// An open file.
pub trait VFile: Send + Sync {
    /// The file's length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Reads exactly `buf.len()` bytes at `offset` (`UnexpectedEof` if the file is shorter).
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`. Not durable until [`VFile::sync_data`].
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Reserves `[0, len)` on disk, zero-filled, growing the file to at least
    /// `len`; fails with `StorageFull` when the disk cannot hold it.
    fn allocate(&self, len: u64) -> io::Result<()>;
    /// Makes every write so far durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;

    /// True when the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Reads the whole file into memory.
    fn read_to_vec(&self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len()?)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
        let mut buf = vec![0; len];
        self.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

/// The file system under a store.
pub trait Vfs: Send + Sync + fmt::Debug + 'static {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the entries of `dir` (files only; no `.`/`..`).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// True when `path` exists (a symlink counts as existing).
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Opens a regular file. Symbolic links are refused (`InvalidInput`), so a
    /// hostile store directory cannot point trendlog at files outside it.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VFile>>;
    /// Maps an immutable regular file read-only. Symbolic links are refused.
    fn map(&self, path: &Path) -> io::Result<Mapped>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive advisory lock on `path` (creating it). Fails with
    /// `WouldBlock` when another holder, in this process or another, has it.
    fn lock(&self, path: &Path) -> io::Result<LockGuard>;
}

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

struct RealFile(File);

impl VFile for RealFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(&self.0, buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(&self.0, buf, offset)
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        mmap::allocate(&self.0, len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

fn open_options(mode: OpenMode) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true).write(mode.write).create_new(mode.create_new);
    o.custom_flags(STORE_FILE_FLAGS);
    o
}

/// Never follow a symbolic link: store files are always regular files.
const STORE_FILE_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC;

fn refuse_symlink_error(path: &Path, e: io::Error) -> io::Error {
    // O_NOFOLLOW reports a link as ELOOP; say what it means.
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; store files must be regular files",
                path.display()
            ),
        )
    } else {
        e
    }
}

/// Opens `path` with `o` (whose flags are [`STORE_FILE_FLAGS`]) and refuses
/// anything but a regular file; returns the file and its length. What the
/// path names is looked at before the open too: opening a FIFO waits for a
/// writer, so a FIFO in a store directory would hang the command. (Opening
/// with `O_NONBLOCK` instead would leave the flag on the file, and a lease
/// held elsewhere, as on an exported directory, would fail the open at once.)
fn open_regular(path: &Path, o: &OpenOptions) -> io::Result<(File, u64)> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refuse_symlink_error(
                path,
                io::Error::from_raw_os_error(libc::ELOOP),
            ))
        }
        Ok(m) if !m.is_file() => return Err(not_regular(path)),
        // Missing: the open creates it, or reports it missing.
        _ => {}
    }
    let file = o.open(path).map_err(|e| refuse_symlink_error(path, e))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(path));
    }
    Ok((file, meta.len()))
}

fn not_regular(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is not a regular file", path.display()),
    )
}

impl Vfs for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VFile>> {
        let (file, _) = open_regular(path, &open_options(mode))?;
        Ok(Box::new(RealFile(file)))
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let (file, len) = open_regular(path, &open_options(OpenMode::READ))?;
        Ok(Arc::new(mmap::ReadOnlyMap::new(&file, len)?))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock(&self, path: &Path) -> io::Result<LockGuard> {
        let mut o = OpenOptions::new();
        o.read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(STORE_FILE_FLAGS);
        let (file, _) = open_regular(path, &o)?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the lock is held by another writer",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_within_a_process() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("LOCK");
        let g = RealFs.lock(&p).unwrap();
        let e = RealFs.lock(&p).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(g);
        RealFs.lock(&p).unwrap();
    }

    #[test]
    fn symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(RealFs.open(&link, OpenMode::READ).is_err());
        assert!(RealFs.map(&link).is_err());
    }

    #[test]
    fn allocate_write_read_map() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let f = RealFs.open(&p, OpenMode::CREATE).unwrap();
        f.allocate(4096).unwrap();
        assert_eq!(f.len().unwrap(), 4096);
        f.write_all_at(b"hello", 10).unwrap();
        f.sync_data().unwrap();
        let m = RealFs.map(&p).unwrap();
        assert_eq!(&(*m).as_ref()[10..15], b"hello");
        assert_eq!(f.read_to_vec().unwrap().len(), 4096);
    }
}
