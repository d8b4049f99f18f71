//! The active log segment on disk: created small and preallocated, grown (by
//! preallocating more) as blocks arrive, appended to with positioned writes
//! at the end of its last whole block, never memory-mapped and never
//! rewritten in place.

use std::path::Path;

use crate::error::Result;
use crate::format::log::{encode_log_header_with, LOG_HEADER_LEN};
use crate::storage::files::{self, PathFile};
use crate::storage::vfs::{OpenMode, Vfs};

/// The size a new log file is preallocated to: a store of one event costs
/// kilobytes, not the configured maximum log size.
pub(crate) const INITIAL_LOG_BYTES: u64 = 64 << 10;

/// The active log: its file, how much of it is reserved and used, and the
/// offset up to which it is known durable.
pub(crate) struct ActiveLog {
    pub(crate) id: u64,
    pub(crate) file: PathFile,
    /// Bytes reserved (preallocated) so far.
    pub(crate) capacity: u64,
    /// The end of the last whole block.
    pub(crate) end: u64,
    pub(crate) blocks: u64,
    /// The offset up to which the log is known durable (fsynced); recorded in
    /// every block so recovery can tell lost unsynced writes from damage.
    pub(crate) durable_end: u64,
    /// The store's now after this segment's first block, for the seal rule.
    pub(crate) start_now: Option<u32>,
}

/// Creates log file `id` with room for `capacity` bytes, writes its header and
/// fsyncs it. The directory entry is not yet durable.
pub(crate) fn create_log(
    vfs: &dyn Vfs,
    dir: &Path,
    id: u64,
    capacity: u64,
    store_id: u32,
) -> Result<ActiveLog> {
    let path = dir.join(files::log_name(id));
    let f = PathFile::open(vfs, path, OpenMode::CREATE)?;
    f.allocate(capacity)?;
    f.write_at(&encode_log_header_with(id, capacity, store_id), 0)?;
    f.sync()?;
    Ok(ActiveLog {
        id,
        file: f,
        capacity,
        end: LOG_HEADER_LEN as u64,
        blocks: 0,
        durable_end: LOG_HEADER_LEN as u64,
        start_now: None,
    })
}

impl ActiveLog {
    /// Makes room for `len` more bytes, preallocating up to `max` (doubling
    /// from the current size, so a growing log costs O(log n) allocations).
    /// Returns false when the block does not fit within `max`: the caller
    /// seals and starts a new log instead.
    pub(crate) fn reserve(&mut self, len: u64, max: u64) -> Result<bool> {
        let need = self.end + len;
        if need <= self.capacity {
            return Ok(true);
        }
        if need > max {
            return Ok(false);
        }
        let grown = (self.capacity.saturating_mul(2)).max(need).min(max);
        self.file.allocate(grown)?;
        self.capacity = grown;
        Ok(true)
    }

    /// Appends one encoded block at the end.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_at(bytes, self.end)?;
        self.end += bytes.len() as u64;
        self.blocks += 1;
        Ok(())
    }

    /// fdatasync; everything appended so far is durable after it.
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.file.sync()?;
        self.durable_end = self.end;
        Ok(())
    }
}
