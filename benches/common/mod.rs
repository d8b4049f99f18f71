//! Shared setup for the criterion benches: the issue-7 workload, stores built
//! from it, and a quick synthetic store of a chosen size for `open`.
//!
//! Every bench binary includes this module and uses part of it.
#![allow(dead_code, reason = "each bench binary uses a different part")]

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use trendlog::{Options, Store, SyncPolicy};
use trendlog_workload::{events, Event, WorkloadSpec, DEFAULT_START};

/// Events per durable batch, as in the comparison.
pub const BATCH: usize = 100_000;

/// A generated workload held in memory.
pub struct Data {
    /// `names[event.tag_index]`.
    pub names: Vec<String>,
    /// The events, in arrival order.
    pub events: Vec<Event>,
    /// The spec it came from.
    pub spec: WorkloadSpec,
}

/// The issue-7 workload with `n` events over `span_secs` (200,000 tags).
pub fn workload(n: u64, span_secs: i64) -> Data {
    let spec = WorkloadSpec {
        events: n,
        span_secs,
        ..WorkloadSpec::default()
    };
    let w = events(&spec);
    let names = w.tag_names().to_vec();
    Data {
        names,
        events: w.collect(),
        spec,
    }
}

/// The engine as the comparison runs it: sync per batch, no background
/// compaction (benches call `compact` themselves).
pub fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::EveryBatch)
        .background_compaction(false)
}

/// Ingests `events` in batches of `batch`, one durable commit each.
pub fn ingest(store: &Store, names: &[String], events: &[Event], batch: usize) {
    for chunk in events.chunks(batch) {
        let mut b = store.batch();
        for e in chunk {
            b.add(&names[e.tag_index as usize], e.ts, e.count)
                .expect("add");
        }
        b.commit().expect("commit");
    }
}

/// An empty store in a fresh temporary directory, opened with [`opts`]; the
/// set-up of the benches that time one operation on a new store. Return both
/// from the timed routine so their drop (close, removal) stays untimed.
pub fn fresh_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), opts()).expect("open");
    (dir, store)
}

/// A store in `dir` holding all of `data`, sealed when `seal` (else the last
/// hour or so stays in the active log, as after plain ingest).
pub fn build_store(dir: &Path, data: &Data, opts: Options, seal: bool) -> Store {
    let store = Store::open(dir, opts).expect("open");
    ingest(&store, &data.names, &data.events, BATCH);
    store.sync().expect("sync");
    if seal {
        store.seal().expect("seal");
    }
    store
}

/// A criterion set-up for slow, noisy, shared machines: few samples, short
/// warm-up, a few seconds of measurement.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args()
}

/// Writes a synthetic store of about `target_bytes` into `dir` through the
/// public API: `tags` tags, then one sealed segment per hour, every tag with
/// a cell every third minute and small counts (about 2 bytes per cell). Each
/// hour is one batch and one `seal`, so the store is exactly what an engine
/// writes, store id and all. Returns the bytes of its segments
/// ([`trendlog::Stats::bytes`]).
pub fn synthetic_store(dir: &Path, tags: u32, target_bytes: u64) -> u64 {
    let names: Vec<String> = (0..tags).map(|t| format!("tag{t}")).collect();
    let t0_minute = DEFAULT_START / 60;
    let store = Store::open(dir, opts()).expect("open");
    let mut hour = 0i64;
    let mut written = 0u64;
    while written < target_bytes {
        let base = t0_minute + hour * 60;
        let mut b = store.batch();
        for (t, name) in (0u32..).zip(&names) {
            for k in 0..20u32 {
                let minute = base + i64::from(k * 3 + t % 3);
                let count = 1 + u64::from((t ^ k) % 7);
                b.add(name, minute * 60, count).expect("add");
            }
        }
        b.commit().expect("commit");
        store.seal().expect("seal");
        written = store.stats().bytes;
        hour += 1;
    }
    store.close().expect("close");
    written
}

/// True when the bench binary runs in criterion's test mode
/// (`cargo bench -- --test`): each bench runs once, so setups may shrink
/// their data to prove the bench works without the cost of measuring it.
pub fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// Total size of the files in `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}
