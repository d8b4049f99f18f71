//! `compact`: rolling 23 sealed one-hour minute segments (the issue-7
//! workload scaled to 2M events over 24 h) up into hourly buckets, with the
//! minute retention set to one hour. A template store is built once; each
//! iteration copies it (untimed), opens it and times `Store::compact`.

mod common;

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use trendlog::Store;

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

fn bench(c: &mut Criterion) {
    let data = common::workload(2_000_000, 24 * 3600);
    let opts = || common::opts().minute_retention(Some(Duration::from_secs(3600)));
    let template = tempfile::tempdir().expect("tempdir");
    common::build_store(template.path(), &data, opts(), true)
        .close()
        .expect("close");
    let cells = {
        let s = Store::open(template.path(), opts()).expect("open");
        s.stats().minute_cells
    };
    let mut g = c.benchmark_group("compact");
    g.throughput(Throughput::Elements(cells));
    g.bench_function("rollup_24h_2m_events", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                copy_dir(template.path(), dir.path());
                let store = Store::open(dir.path(), opts()).expect("open");
                (dir, store)
            },
            |(dir, store)| {
                store.compact().expect("compact");
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
