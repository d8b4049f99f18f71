//! Compaction: a [`policy`] that looks at the live segments and returns a
//! [`Plan`], and a worker that carries it out crash-safely:
//!
//! 1. write each new segment to `*.tmp`, fsync it, rename it to its final name;
//! 2. fsync the directory;
//! 3. switch the manifest atomically (temp, fsync, rename, fsync directory);
//! 4. publish the new segment list to new snapshots;
//! 5. delete the old files.
//!
//! A crash before step 3 leaves the old manifest, and the new files are
//! orphans that the next open deletes; after step 3 the old files are the
//! orphans. Either way every count is held exactly once. Snapshots taken
//! before step 4 keep the old segments mapped until they are dropped.
//!
//! The [`worker`] does step 1 and hands back an [`worker::Outcome`]; the store
//! applies it (steps 2 to 5), because the store owns the manifest and the
//! published view. A panic in the worker poisons the store: later calls
//! return [`crate::Error::Poisoned`] instead of carrying on over unknown
//! state.

pub(crate) mod policy;
pub(crate) mod worker;

use std::time::Duration;

pub(crate) use policy::{choose, Plan, PolicyConfig};

/// What a compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactionReport {
    /// Plans carried out (roll-ups, merges and drops).
    pub steps: u64,
    /// Segments read (and replaced or deleted).
    pub segments_read: u64,
    /// Segments written.
    pub segments_written: u64,
    /// Segments deleted whole for retention.
    pub segments_dropped: u64,
    /// Cells in the segments read.
    pub cells_before: u64,
    /// Cells in the segments written.
    pub cells_after: u64,
    /// Bytes of the segments read.
    pub bytes_before: u64,
    /// Bytes of the segments written.
    pub bytes_after: u64,
    /// Events dropped for retention.
    pub events_expired: u64,
    /// Wall time of the pass.
    pub elapsed: Duration,
}

impl CompactionReport {
    /// True when the pass found nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps == 0
    }
}

/// Most plans one pass carries out before it yields.
pub(crate) const MAX_STEPS: u64 = 64;
