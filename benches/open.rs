//! `open`: time to open a store of sealed segments must track metadata, not
//! data. Two synthetic stores (same 200,000-tag dictionary; 128 MiB and
//! 1 GiB of one-hour minute segments, each hour one batch and one seal) are
//! opened (timed) and dropped (not timed); the 1 GiB one should cost what its extra segment
//! headers and skip indexes cost, not 8x. `active_log_1h` opens a store whose
//! active log holds one unsealed hour (208,000 events), which is replayed.
//! Set `TRENDLOG_BENCH_OPEN_MIB` to change the large size; in test mode
//! (`-- --test`) the stores are 8 and 16 MiB.
//!
//! `labelled_one_tag/{indexed,whole}`: a read-only open of a labelled store
//! of 600,000 series (150,000 tags × 4 platforms, one cell each) and one
//! tag's total, with the series index (`tags.sidx`) and with it removed (the
//! whole `tags.series` read), in the same process: their ratio is what the
//! index saves a cold one-tag question. In test mode, 6,000 series.

mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use trendlog::labels::LabelKeys;
use trendlog::time::TimeRange;
use trendlog::Store;

const PLATFORMS: [&str; 4] = ["facebook", "instagram", "twitter", "tiktok"];

/// A labelled store of `tags` tags on every platform, sealed (so an open
/// replays no log) and closed cleanly.
fn labelled_store(dir: &Path, tags: usize) {
    let opts = common::opts().label_keys(LabelKeys::parse("platform").expect("keys"));
    let store = Store::open(dir, opts).expect("open");
    for chunk in (0..tags * PLATFORMS.len())
        .collect::<Vec<_>>()
        .chunks(100_000)
    {
        let mut b = store.batch();
        for &i in chunk {
            let (t, p) = (i / PLATFORMS.len(), PLATFORMS[i % PLATFORMS.len()]);
            b.add_labelled(&format!("tag{t}"), &[("platform", p)], 1_508_025_600, 1)
                .expect("add");
        }
        b.commit().expect("commit");
    }
    store.seal().expect("seal");
    store.close().expect("close");
}

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
    let tags = if common::test_mode() { 1_500 } else { 150_000 };
    let indexed = tempfile::tempdir().expect("tempdir");
    labelled_store(indexed.path(), tags);
    let whole = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(indexed.path()).expect("dir") {
        let e = e.expect("entry");
        if e.file_name() != "tags.sidx" {
            std::fs::copy(e.path(), whole.path().join(e.file_name())).expect("copy");
        }
    }
    assert!(indexed.path().join("tags.sidx").exists(), "no series index");
    let day = TimeRange::new(1_508_025_600, 1_508_112_000).expect("range");
    let tag = format!("tag{}", tags / 2);
    for (name, dir) in [("indexed", &indexed), ("whole", &whole)] {
        g.bench_function(format!("labelled_one_tag/{name}"), |b| {
            b.iter(|| {
                let s = Store::open_read_only_with(dir.path(), common::opts()).expect("open");
                assert_eq!(s.snapshot().total(&tag, day).expect("total"), 4);
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
