//! `trending`: top-10 by growth of the last hour over the 24 hours before it,
//! over the 200,000 tags of the issue-7 workload (5M events, 24 h).
//!
//! - `1h_24h_active_tail`: as ingest leaves the store (the newest hour or so
//!   still in the memtable);
//! - `1h_24h_sealed`: after `seal` (every cell in a segment);
//! - `1h_24h_sealed_cold`: the first query after opening the store, which
//!   also computes the per-segment tag totals the others reuse.

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use trendlog::{Store, TrendQuery};

fn bench(c: &mut Criterion) {
    let data = common::workload(5_000_000, 24 * 3600);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::build_store(dir.path(), &data, common::opts(), false);
    let q = TrendQuery::default();
    let mut g = c.benchmark_group("trending");
    let snap = store.snapshot();
    g.bench_function("1h_24h_active_tail", |b| {
        b.iter(|| snap.trending(&q).expect("trending"))
    });
    drop(snap);
    store.seal().expect("seal");
    let snap = store.snapshot();
    g.bench_function("1h_24h_sealed", |b| {
        b.iter(|| snap.trending(&q).expect("trending"))
    });
    drop(snap);
    store.close().expect("close");
    g.bench_function("1h_24h_sealed_cold", |b| {
        b.iter_batched(
            || {
                let store = Store::open(dir.path(), common::opts()).expect("open");
                let snap = store.snapshot();
                (store, snap)
            },
            |(store, snap)| {
                snap.trending(&q).expect("trending");
                (store, snap)
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
