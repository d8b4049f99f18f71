//! Shared setup for the criterion benches: the issue-7 workload, stores built
//! from it, and a quick synthetic store of a chosen size for `open`.
//!
//! Every bench binary includes this module and uses part of it.
#![allow(dead_code, reason = "each bench binary uses a different part")]

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use trendlog::format::manifest::{decode_manifest, encode_manifest};
use trendlog::format::segment::{SegmentBuilder, SegmentView};
use trendlog::format::{Resolution, SegmentEntry};
use trendlog::storage::files;
use trendlog::{Options, Store, SyncPolicy};
use trendlog_workload::{events, Event, WorkloadSpec};

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

/// Writes a synthetic store of about `target_bytes` of sealed minute segments
/// into `dir`: `tags` tags in the dictionary (interned through the engine),
/// then segments of one hour each, every tag with a cell every third minute
/// and small counts (about 2 bytes per cell), encoded with the segment
/// builder and listed in the manifest. Fast (no ingest path), and the store
/// opens like any other. Returns the bytes of segment files written.
pub fn synthetic_store(dir: &Path, tags: u32, target_bytes: u64) -> u64 {
    let t0_minute = (trendlog_workload::DEFAULT_START / 60) as u32;
    {
        let store = Store::open(dir, opts()).expect("open");
        let mut b = store.batch();
        for t in 0..tags {
            b.add(&format!("tag{t}"), i64::from(t0_minute) * 60, 1)
                .expect("add");
        }
        b.commit().expect("commit");
        store.seal().expect("seal");
        store.close().expect("close");
    }
    let mpath = dir.join(files::MANIFEST);
    let mut m = decode_manifest(&std::fs::read(&mpath).expect("read manifest")).expect("manifest");
    let mut written = 0u64;
    let mut hour = 1u32;
    while written < target_bytes {
        let id = m.next_file_id;
        m.next_file_id += 1;
        let base = t0_minute + hour * 60;
        let mut b = SegmentBuilder::new(Resolution::Minute, id);
        for t in 0..tags {
            for k in 0..20u32 {
                let minute = base + k * 3 + t % 3;
                let count = 1 + u64::from((t ^ k) % 7);
                b.push(t, minute, count).expect("push");
            }
        }
        let bytes = b.finish();
        let meta = *SegmentView::open(&bytes[..]).expect("segment").meta();
        std::fs::write(
            dir.join(files::segment_name(id, Resolution::Minute)),
            &bytes,
        )
        .expect("write segment");
        m.segments.push(SegmentEntry {
            file_id: id,
            resolution: Resolution::Minute,
            min_time: meta.min_time,
            max_time: meta.max_time,
            cell_count: meta.cell_count,
            total: meta.total,
            byte_len: meta.byte_len,
        });
        m.now = Some(m.now.unwrap_or(0).max(meta.max_time));
        written += bytes.len() as u64;
        hour += 1;
    }
    m.generation += 1;
    std::fs::write(&mpath, encode_manifest(&m)).expect("write manifest");
    written
}

/// Total size of the files in `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}
