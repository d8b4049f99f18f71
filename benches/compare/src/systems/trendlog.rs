//! trendlog itself, through its public API only.
//!
//! - `Store::open(dir, Options::default().sync_policy(SyncPolicy::EveryBatch)
//!   .background_compaction(false))`: every batch of 100,000 events is one
//!   `Batch` whose `commit` fsyncs the log (and the tag dictionary) before it
//!   returns;
//! - `flush` (timed as part of ingest) syncs and then seals the active log
//!   segment, so the bytes measured afterwards are those of sealed segments
//!   (the "bytes per cell after sealing" of issue 7) and the reopen that
//!   follows reads metadata only; the cost of sealing is charged to ingest;
//! - queries go through a `Snapshot`.
//!
//! trendlog gets raw events (no pre-aggregation: the engine's batch does it).

use std::path::Path;
use std::time::Duration;

use ::trendlog::time::{Step, TimeRange};
use ::trendlog::{Options, Store, SyncPolicy};
use ::trendlog_workload::Event;

use super::{Res, System, TrendQuery, TrendRow};

/// The engine under test.
pub struct TrendlogSys {
    store: Store,
}

fn store_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("store")
}

impl TrendlogSys {
    /// Opens or creates a store in `dir/store`.
    pub fn open(dir: &Path) -> Res<TrendlogSys> {
        let opts = Options::default()
            .sync_policy(SyncPolicy::EveryBatch)
            .background_compaction(false);
        Ok(TrendlogSys {
            store: Store::open(store_dir(dir), opts)?,
        })
    }
}

/// Bytes of the active log file that are preallocated but unused (the log is
/// created with `posix_fallocate` at its full capacity, 64 MiB by default):
/// a fixed reservation, not data, reported apart from the bytes per cell.
pub fn unused_preallocation(dir: &Path) -> Res<u64> {
    let dir = store_dir(dir);
    let store = Store::open_read_only(&dir)?;
    let mut unused = 0;
    for info in store.snapshot().segments() {
        if !info.sealed {
            let len = std::fs::metadata(dir.join(&info.file))?.len();
            unused += len.saturating_sub(info.bytes);
        }
    }
    store.close()?;
    Ok(unused)
}

impl System for TrendlogSys {
    fn ingest_batch(&mut self, events: &[Event], names: &[String]) -> Res<()> {
        let mut b = self.store.batch();
        for e in events {
            b.add(&names[e.tag_index as usize], e.ts, e.count)?;
        }
        b.commit()?;
        Ok(())
    }

    fn flush(&mut self) -> Res<()> {
        self.store.sync()?;
        self.store.seal()?;
        Ok(())
    }

    fn close(self: Box<Self>) -> Res<()> {
        self.store.close()?;
        Ok(())
    }

    fn hourly_series(&mut self, tag: &str, from_minute: u32, to_minute: u32) -> Res<Vec<u64>> {
        let from = i64::from(from_minute) * 60;
        let to = i64::from(to_minute) * 60;
        let snap = self.store.snapshot();
        let series = snap.series(tag, TimeRange::new(from, to)?, Step::Hour)?;
        Ok(series.points.into_iter().map(|(_, n)| n).collect())
    }

    fn trending(&mut self, q: &TrendQuery) -> Res<Vec<TrendRow>> {
        let snap = self.store.snapshot();
        let rows = snap.trending(&trendlog::TrendQuery {
            at: Some(i64::from(q.now) * 60),
            window: Duration::from_secs(u64::from(q.recent_minutes) * 60),
            baseline: Duration::from_secs(u64::from(q.baseline_minutes) * 60),
            k: q.k,
            min_count: q.min_count,
            prior: q.prior,
        })?;
        Ok(rows
            .into_iter()
            .map(|r| TrendRow {
                tag: r.tag,
                recent: r.recent,
                baseline: r.baseline,
                growth: r.growth,
            })
            .collect())
    }

    /// Distinct non-zero `(tag, minute)` cells. Not `Stats::cells`: that counts
    /// cells as held, and a late event for a minute whose segment is already
    /// sealed is held as a second cell in a later segment until compaction
    /// merges them (71 of 504,502 cells at 1M events). Counted hour by hour so
    /// memory stays bounded.
    fn cell_count(&mut self) -> Res<u64> {
        let snap = self.store.snapshot();
        let (Some(first), Some(now_end)) = (snap.earliest_time(), snap.now_end()) else {
            return Ok(0);
        };
        let mut from = first - first.rem_euclid(3600);
        let mut n = 0u64;
        while from < now_end {
            let hour = TimeRange::new(from, from + 3600)?;
            n += snap.buckets(hour, Step::Minute)?.len() as u64;
            from += 3600;
        }
        Ok(n)
    }
}
