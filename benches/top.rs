//! `top`: the 10 tags with the most events over the last 24 hours and over
//! the last hour, among the 200,000 tags of the issue-7 workload (5M events,
//! 24 h, sealed).

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use trendlog::time::TimeRange;

fn bench(c: &mut Criterion) {
    let data = common::workload(5_000_000, 24 * 3600);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::build_store(dir.path(), &data, common::opts(), true);
    let snap = store.snapshot();
    let end = snap.now_end().expect("now");
    let mut g = c.benchmark_group("top");
    for (name, secs) in [("24h_k10", 86_400), ("1h_k10", 3600)] {
        let range = TimeRange::new(end - secs, end).expect("range");
        g.bench_function(name, |b| b.iter(|| snap.top(range, 10).expect("top")));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
