//! trendlog itself. NOT COMPILED YET: behind the cargo feature
//! `trendlog-engine` (off by default) until the engine's `Store` lands.
//! Written against the API the lead is implementing:
//!
//! - `Store::open(dir, Options::default().sync_policy(SyncPolicy::EveryBatch)
//!   .background_compaction(false))`
//! - `store.batch()` -> `b.add(tag, ts_unix_secs, count)?`, `b.commit()?`
//! - `store.sync()?`, `store.close()?` (consumes)
//! - `store.snapshot()` -> `snap.series(tag, TimeRange, Step::Hour)?`,
//!   `snap.trending(&TrendQuery { .. })?`, `snap.stats().cells`
//!
//! TODO(lead): wire up and fix signatures once `Store` exists; then run
//! `cargo run --release -p trendlog-compare --features trendlog-engine`.
//! trendlog gets raw events (no pre-aggregation: the engine's batch does it)
//! and syncs once per batch of 100,000 events.

use std::path::Path;
use std::time::Duration;

use ::trendlog::time::{Step, TimeRange};
use ::trendlog::workload::Event;
use ::trendlog::{Options, Store, SyncPolicy};

use super::{Res, System, TrendQuery, TrendRow};

/// The engine under test.
pub struct TrendlogSys {
    store: Store,
}

impl TrendlogSys {
    /// Opens or creates a store in `dir/store`.
    pub fn open(dir: &Path) -> Res<TrendlogSys> {
        let opts = Options::default()
            .sync_policy(SyncPolicy::EveryBatch)
            .background_compaction(false);
        Ok(TrendlogSys {
            store: Store::open(dir.join("store"), opts)?,
        })
    }
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
        let mut out = vec![0u64; ((to_minute - from_minute) / 60) as usize];
        for (ts, n) in series.points {
            if let Some(slot) = out.get_mut(((ts - from) / 3600) as usize) {
                *slot += n;
            }
        }
        Ok(out)
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

    fn cell_count(&mut self) -> Res<u64> {
        Ok(self.store.snapshot().stats().cells)
    }
}
