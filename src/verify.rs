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

use std::io;
use std::path::Path;

use crate::error::{Corruption, Error, Result};
use crate::options::Options;
use crate::recovery::{self, Depth};

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

/// Checks the store in `dir` without changing it. Returns `Err` only when the
/// check itself cannot run (no store there, I/O errors); damage is reported in
/// [`VerifyReport::problems`].
///
/// It applies exactly the rules a store open applies (one code path decides
/// what is valid, what is a torn tail and what is damage), plus the checks an
/// open leaves to query time: every segment group's checksum and order. So a
/// store `verify` calls clean opens and reads as `verify` read it.
pub fn verify(dir: &Path, opts: &Options) -> Result<VerifyReport> {
    // A writer may seal, compact or start appending while we read: a listed
    // file can vanish, and bytes past a clean end can appear. Either changes
    // the manifest, so damage found while the manifest changed under us is
    // looked at again before it is reported.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match verify_once(dir, opts) {
            Err(Error::Io { source, .. })
                if source.kind() == io::ErrorKind::NotFound && attempt < 10 =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok((r, generation)) if !r.is_clean() && attempt < 10 => {
                let now = recovery::read_manifest(&*opts.vfs, dir)
                    .ok()
                    .flatten()
                    .map(|m| m.generation);
                // No manifest read and none now (missing or damaged): the
                // damage stands; one that appeared meanwhile (a writer just
                // created the store) is looked at again.
                if now == generation {
                    return Ok(r);
                }
            }
            other => return other.map(|(r, _)| r),
        }
    }
}

/// One look, and the generation of the manifest it read.
fn verify_once(dir: &Path, opts: &Options) -> Result<(VerifyReport, Option<u64>)> {
    let vfs = &*opts.vfs;
    let mut r = VerifyReport::default();
    let manifest = match recovery::read_manifest(vfs, dir) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return match crate::store::lost_manifest(vfs, dir)? {
                Some(Error::Corrupted(c)) => {
                    r.files_checked = 1;
                    r.problems.push(c);
                    Ok((r, None))
                }
                Some(e) => Err(e),
                None => Err(Error::NotAStore {
                    dir: dir.to_path_buf(),
                }),
            };
        }
        Err(Error::Corrupted(c)) => {
            r.files_checked = 1;
            r.problems.push(c);
            return Ok((r, None));
        }
        Err(e) => return Err(e),
    };
    let generation = manifest.generation;
    let found = recovery::examine(vfs, dir, manifest, Depth::Full)?;
    r.files_checked = found.files_checked;
    r.cells_checked = found.cells_checked;
    r.problems = found.problems;
    r.notes = found.notes;
    Ok((r, Some(generation)))
}
