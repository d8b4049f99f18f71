//! `seal`: turning the active log segment (one hour of the issue-7 workload,
//! about 208,000 events, held in the memtable) into a sorted, indexed,
//! fsynced minute segment. Each iteration ingests into a fresh store
//! (untimed) and times `Store::seal`.

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use trendlog::Store;

fn bench(c: &mut Criterion) {
    let data = common::workload(5_000_000, 24 * 3600);
    let hour_end = data.spec.start + 3600;
    let n = data.events.iter().take_while(|e| e.ts < hour_end).count();
    let events = &data.events[..n];
    let mut g = c.benchmark_group("seal");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("1h_minute_segment", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let opts = common::opts().seal_after(Duration::from_secs(30 * 86_400));
                let store = Store::open(dir.path(), opts).expect("open");
                common::ingest(&store, &data.names, events, common::BATCH);
                (dir, store)
            },
            |(dir, store)| {
                store.seal().expect("seal");
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
