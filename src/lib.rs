//! # trendlog
//!
//! An embedded storage engine for time-series counts: how many posts carried a
//! hashtag in a range of time, minute by minute or hour by hour, and which
//! hashtags are growing fastest right now.
//!
//! - **Ingest**: [`Store::record`] and atomic [`Batch`]es of
//!   `(tag, unix second, count)` events, pre-aggregated into per-minute cells and
//!   appended to a checksummed columnar log; [`Store::sync`] is the durability
//!   point, and a batch may carry a source position for exactly-once resume.
//! - **Seal**: the active log segment is merged into an immutable,
//!   memory-mapped segment sorted by `(tag, time)` with an index.
//! - **Compact**: minutes older than the minute retention roll up into hourly
//!   buckets; hours older than the hour retention are dropped.
//! - **Query**: a [`Snapshot`] answers totals, dense series at 1m/1h/1d, growth,
//!   trending (top-k by growth) and top-k by volume, exactly.
//!
//! A service that depends on `trendlog` with `default-features = false`
//! compiles the engine alone; the default `cli` feature only adds the
//! `trendlog` binary and the crates it needs.
//!
//! It is not a general time-series database: values are counts (commutative
//! sums), the series key is a normalised tag, and one process writes a store at
//! a time (others may read it).
//!
//! ```
//! use trendlog::{Options, Store, TrendQuery};
//! use trendlog::time::{Step, TimeRange};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), Options::default())?;
//! let mut batch = store.batch();
//! for (i, tag) in ["#MeToo", "metoo", "#TimesUp"].iter().enumerate() {
//!     batch.add(tag, 1_508_167_800 + i as i64 * 60, 1)?;
//! }
//! batch.commit()?;
//! store.sync()?;
//!
//! let snap = store.snapshot();
//! let hour = TimeRange::new(1_508_166_000, 1_508_169_600)?;
//! assert_eq!(snap.total("MeToo", hour)?, 2);
//! assert_eq!(snap.series("metoo", hour, Step::Minute)?.points.len(), 60);
//! let trending = snap.trending(&TrendQuery { min_count: 1, ..TrendQuery::default() })?;
//! assert_eq!(trending[0].tag, "metoo");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod civil;
mod compaction;
mod dict;
pub mod error;
pub mod format;
pub mod labels;
mod memtable;
mod options;
mod query;
mod recovery;
pub mod salvage;
mod series;
mod storage;
mod store;
pub mod tag;
pub mod time;
pub mod verify;
mod view;

pub mod vfs {
    //! The file-system seam: every read, write, sync, rename, map and lock of
    //! the engine goes through a [`Vfs`], so a test can put a simulated,
    //! fault-injecting file system in its place (the `trendlog-testkit`
    //! package's `SimFs`) and crash or fail the engine after any operation.
    //!
    //! - [`Vfs`]: the file system (open, rename, remove, `sync_dir`, map, lock).
    //! - [`VFile`]: an open file (positional reads and writes, `allocate`,
    //!   `sync_data`).
    //! - [`OpenMode`]: how a file is opened (read, write, create-new).
    //! - [`Mapped`]: a read-only view of a whole file's bytes.
    //! - [`LockGuard`]: holds a store's lock until dropped.
    //! - [`RealFs`]: the operating system's file system, the default (a
    //!   wrapper around it can count or fail chosen calls).
    pub use crate::storage::vfs::{LockGuard, Mapped, OpenMode, RealFs, VFile, Vfs};
}

pub use compaction::CompactionReport;
pub use error::{Corruption, CorruptionKind, Error, InvalidInput, Result};
pub use options::{Options, Retention, SyncPolicy};
pub use query::burst;
pub use query::{
    Burst, BurstParams, BurstQuery, BurstRow, ReadsCut, SegmentInfo, Series, Snapshot, Spread,
    SpreadPoint, SpreadQuery, SpreadRow, Stats, TopRow, TrendQuery, TrendRow, MAX_SERIES_POINTS,
};
pub use store::{Batch, CommitInfo, RecoveryReport, Store, MAX_BATCH_CELLS};
