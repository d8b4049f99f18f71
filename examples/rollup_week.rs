//! Measures roll-up on a week of the benchmark workload: bytes on disk before
//! and after minutes are rolled into hourly buckets, compaction throughput,
//! and the longest pause a concurrent `record` call saw while it ran.
//!
//! ```text
//! cargo run --release --example rollup_week -- [EVENTS_PER_DAY] [DIR]
//! ```
//! Default: 5,000,000 events a day (200,000 tags, Zipf 1.1, one surging tag),
//! 7 days, in a temporary directory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use trendlog::{Options, Store, SyncPolicy};
use trendlog_workload::{events, WorkloadSpec};

/// Bytes on disk by kind: (sealed segments, tag dictionary, everything else —
/// the preallocated active log and the manifest).
fn dir_bytes(dir: &std::path::Path) -> (u64, u64, u64) {
    let mut out = (0, 0, 0);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("seg-") {
            out.0 += len;
        } else if name == "tags.dict" {
            out.1 += len;
        } else {
            out.2 += len;
        }
    }
    out
}

fn show(label: &str, (seg, dict, rest): (u64, u64, u64), cells: u64) {
    println!(
        "{label}: segments {seg} bytes ({:.2} bytes/cell), dictionary {dict}, log+manifest {rest}; total {}",
        seg as f64 / cells.max(1) as f64,
        seg + dict + rest
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let per_day: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5_000_000);
    let tmp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("week"));
    let days = 7;
    let spec = WorkloadSpec {
        events: per_day * days,
        span_secs: days as i64 * 86_400,
        ..WorkloadSpec::default()
    };
    println!(
        "workload: {} events over {days} days, {} tags",
        spec.events, spec.tags
    );
    // Phase 1: ingest a week with minutes kept for the whole week.
    let keep_all = Options::default()
        .sync_policy(SyncPolicy::EveryBatch)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(8 * 86_400)));
    let store = Store::open(&dir, keep_all)?;
    let w = events(&spec);
    let names = w.tag_names().to_vec();
    let started = Instant::now();
    let mut batch = store.batch();
    for e in w {
        batch.add(&names[e.tag_index as usize], e.ts, e.count)?;
        if batch.len() == 100_000 {
            batch.commit()?;
            batch = store.batch();
        }
    }
    batch.commit()?;
    store.seal()?;
    // Merge the week's hourly-sealed minute segments, as the background
    // compactor would, so "before" is the compact minute-resolution store.
    store.compact()?;
    let ingest = started.elapsed();
    store.close()?;
    let before = dir_bytes(&dir);
    let s = Store::open_read_only(&dir)?.stats();
    println!(
        "ingest: {:.2} s ({:.0} events/s); minute resolution: {} cells in {} segments",
        ingest.as_secs_f64(),
        spec.events as f64 / ingest.as_secs_f64(),
        s.cells,
        s.minute_segments,
    );
    show("before roll-up", before, s.cells);

    // Phase 2: the default minute retention (7 days) would keep this whole
    // week at minute resolution, so reopen keeping one day of minutes and roll
    // up the six days before it, with a writer recording the whole time.
    let roll = Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(86_400)));
    let store = Store::open(&dir, roll)?;
    let now = store.now().map(|m| m.to_unix()).unwrap_or(0);
    // Baseline: the same writer loop for two seconds with no compaction, so
    // the pause below can be told apart from scheduling noise.
    let (base_worst, base_calls) = {
        let started = Instant::now();
        let mut worst = Duration::ZERO;
        let mut calls = 0u64;
        while started.elapsed() < Duration::from_secs(2) {
            let t = Instant::now();
            store.record("metoo", now - (calls as i64 % 600), 1)?;
            worst = worst.max(t.elapsed());
            calls += 1;
        }
        (worst, calls)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = store.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut calls = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                store
                    .record("metoo", now - (calls as i64 % 600), 1)
                    .expect("record during compaction");
                worst = worst.max(t.elapsed());
                calls += 1;
            }
            (worst, calls)
        })
    };
    let report = store.compact()?;
    stop.store(true, Ordering::Relaxed);
    let (worst, calls) = writer.join().expect("writer thread");
    store.close()?;
    let after = dir_bytes(&dir);
    let s = Store::open_read_only(&dir)?.stats();
    println!(
        "roll-up: {} segments read, {} written, {} -> {} cells, {} -> {} segment bytes in {:.2} s ({:.0} cells/s)",
        report.segments_read,
        report.segments_written,
        report.cells_before,
        report.cells_after,
        report.bytes_before,
        report.bytes_after,
        report.elapsed.as_secs_f64(),
        report.cells_before as f64 / report.elapsed.as_secs_f64()
    );
    println!(
        "after: {} hour cells in {} hourly segments, {} minute cells in {} minute segments; segments {:.1}% of before",
        s.hour_cells,
        s.hour_segments,
        s.minute_cells,
        s.minute_segments,
        100.0 * after.0 as f64 / before.0 as f64
    );
    show("after roll-up", after, s.cells);
    println!(
        "concurrent record: {calls} calls during the pass, longest {:.3} ms \
         (baseline without compaction: {base_calls} calls in 2 s, longest {:.3} ms)",
        worst.as_secs_f64() * 1000.0,
        base_worst.as_secs_f64() * 1000.0
    );
    Ok(())
}
