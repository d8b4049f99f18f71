//! The manifest on disk: [`ManifestFile`] holds the current [`Manifest`] and
//! is the one place that writes a new one. Every change (a seal, a
//! compaction step, a clean close, a retention change) goes through
//! [`ManifestFile::commit`], which bumps the generation and replaces the file
//! atomically (temp, fsync, rename, fsync the directory).

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::format::manifest::{encode_manifest, written_version, Manifest};
use crate::storage::files;
use crate::storage::vfs::Vfs;

/// The current manifest of a store and where it lives.
pub(crate) struct ManifestFile {
    dir: PathBuf,
    current: Manifest,
    /// The format version of the file as last read or written: an older
    /// store keeps its version until its first commit.
    version: u16,
}

impl ManifestFile {
    /// Wraps the manifest just read from (or written to) `dir`, whose file
    /// has format version `version`.
    pub(crate) fn new(dir: &Path, current: Manifest, version: u16) -> ManifestFile {
        ManifestFile {
            dir: dir.to_path_buf(),
            current,
            version,
        }
    }

    /// The manifest as last written.
    pub(crate) fn get(&self) -> &Manifest {
        &self.current
    }

    /// The format version of the file as last read or written.
    pub(crate) fn version(&self) -> u16 {
        self.version
    }

    /// Allocates a file id. Ids only reach the disk with the next commit; an
    /// id allocated for a file that never makes it into a manifest is simply
    /// skipped (its file, if any, is an orphan the next open removes).
    pub(crate) fn allocate_id(&mut self) -> u64 {
        let id = self.current.next_file_id;
        self.current.next_file_id += 1;
        id
    }

    /// Writes `edit(current)` with the next generation as the new manifest. The
    /// in-memory manifest changes only once the new one is durable.
    pub(crate) fn commit(&mut self, vfs: &dyn Vfs, edit: impl FnOnce(&mut Manifest)) -> Result<()> {
        let mut next = self.current.clone();
        next.generation += 1;
        edit(&mut next);
        files::write_atomic(vfs, &self.dir, files::MANIFEST, &encode_manifest(&next))?;
        self.version = written_version(&next);
        self.current = next;
        Ok(())
    }
}
