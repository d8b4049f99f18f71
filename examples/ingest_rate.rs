//! Measures the storage core's ingest rate and on-disk density (for the
//! storage-core issue's closing note): one thread records the default
//! benchmark workload (5,000,000 events over 200,000 tags, 24h of event time)
//! through batches of 100,000 with `SyncPolicy::EveryBatch`, then seals, and
//! reports events/s and the bytes per stored (tag, minute) cell.
//!
//! ```text
//! cargo run --release --example ingest_rate [-- --events N]
//! ```

use std::time::Instant;

use trendlog::{Options, Store, SyncPolicy};
use trendlog_workload::{events, WorkloadSpec};

const BATCH: u64 = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut spec = WorkloadSpec::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => {
                spec.events = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--events needs a number")?
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    // Generate first, so the rate is the store's, not the generator's.
    let w = events(&spec);
    let names = w.tag_names().to_vec();
    let evs: Vec<_> = w.collect();

    let dir = tempfile::tempdir()?;
    let store = Store::open(
        dir.path(),
        Options::default()
            .sync_policy(SyncPolicy::EveryBatch)
            .background_compaction(false),
    )?;
    let t = Instant::now();
    let mut batches = 0;
    for chunk in evs.chunks(BATCH as usize) {
        let mut b = store.batch();
        for e in chunk {
            b.add(&names[e.tag_index as usize], e.ts, e.count)?;
        }
        b.commit()?;
        batches += 1;
    }
    let ingest = t.elapsed();
    let t = Instant::now();
    store.seal()?;
    let seal = t.elapsed();
    let st = store.stats();
    let cells = st.minute_cells;
    let files: Vec<(String, u64)> = std::fs::read_dir(dir.path())?
        .map(|e| {
            let e = e?;
            Ok((
                e.file_name().to_string_lossy().into_owned(),
                e.metadata()?.len(),
            ))
        })
        .collect::<std::io::Result<_>>()?;
    let seg_bytes: u64 = files
        .iter()
        .filter(|f| f.0.ends_with(".min") || f.0.ends_with(".hour"))
        .map(|f| f.1)
        .sum();
    let dict_bytes: u64 = files
        .iter()
        .filter(|f| f.0 == "tags.dict")
        .map(|f| f.1)
        .sum();

    println!(
        "ingest_rate: {} events, {} tags, {batches} batches of {BATCH}, SyncPolicy::EveryBatch",
        spec.events, spec.tags
    );
    println!(
        "  ingest: {:.2?} -> {:.2} M events/s (one thread, fsync per batch)",
        ingest,
        spec.events as f64 / ingest.as_secs_f64() / 1e6
    );
    println!("  final seal: {seal:.2?}");
    println!(
        "  sealed cells (tag, minute): {cells}; {} sealed minute segments",
        st.minute_segments
    );
    println!(
        "  segment bytes: {seg_bytes} -> {:.2} bytes/cell",
        seg_bytes as f64 / cells as f64
    );
    println!(
        "  with the dictionary ({dict_bytes} bytes): {:.2} bytes/cell",
        (seg_bytes + dict_bytes) as f64 / cells as f64
    );
    for (name, len) in &files {
        println!("    {name:<28} {len:>12}");
    }
    store.close()?;
    Ok(())
}
