//! `open`: time to open a store of sealed segments must track metadata, not
//! data. Two synthetic stores (same 200,000-tag dictionary; 128 MiB and
//! 1 GiB of one-hour minute segments, each hour one batch and one seal) are
//! opened (timed) and dropped (not timed); the 1 GiB one should cost what its extra segment
//! headers and skip indexes cost, not 8x. `active_log_1h` opens a store whose
//! active log holds one unsealed hour (208,000 events), which is replayed.
//! Set `TRENDLOG_BENCH_OPEN_MIB` to change the large size; in test mode
//! (`-- --test`) the stores are 8 and 16 MiB.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use trendlog::Store;

fn bench(c: &mut Criterion) {
    let large_mib: u64 = std::env::var("TRENDLOG_BENCH_OPEN_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let mut g = c.benchmark_group("open");
    let sizes = if common::test_mode() {
        [8, 16]
    } else {
        [128, large_mib]
    };
    for mib in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = common::synthetic_store(dir.path(), 200_000, mib << 20);
        eprintln!(
            "open: synthetic store of {:.0} MiB of segments ({} files)",
            written as f64 / 1_048_576.0,
            std::fs::read_dir(dir.path()).expect("dir").count()
        );
        g.bench_function(format!("sealed_{mib}MiB"), |b| {
            b.iter_with_large_drop(|| Store::open(dir.path(), common::opts()).expect("open"))
        });
    }
    let data = common::workload(5_000_000, 24 * 3600);
    let hour_end = data.spec.start + 3600;
    let n = data.events.iter().take_while(|e| e.ts < hour_end).count();
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path(), common::opts()).expect("open");
        common::ingest(&store, &data.names, &data.events[..n], common::BATCH);
        store.close().expect("close");
    }
    g.bench_function("active_log_1h", |b| {
        b.iter_with_large_drop(|| Store::open(dir.path(), common::opts()).expect("open"))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
