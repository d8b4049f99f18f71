//! `query_series`: one tag's dense series, 30 days at 1h (a 30-day store of
//! the issue-7 workload, 5M events, minutes older than 7 days rolled up into
//! hourly segments by `compact`) and the last 24 hours at 1m. Tags: the
//! surge tag `metoo` and `tag100` (a mid-popularity background tag).

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use trendlog::time::{Step, TimeRange};

fn bench(c: &mut Criterion) {
    let data = common::workload(5_000_000, 30 * 86_400);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::build_store(dir.path(), &data, common::opts(), true);
    store.compact().expect("compact");
    let snap = store.snapshot();
    let end = snap.now_end().expect("now");
    let day_end = end + (3600 - end.rem_euclid(3600)) % 3600;
    let month = TimeRange::new(day_end - 30 * 86_400, day_end).expect("range");
    let day = TimeRange::new(day_end - 86_400, day_end).expect("range");
    let mut g = c.benchmark_group("query_series");
    for tag in ["metoo", "tag100"] {
        g.bench_function(format!("30d_1h_{tag}"), |b| {
            b.iter(|| snap.series(tag, month, Step::Hour).expect("series"))
        });
        g.bench_function(format!("24h_1m_{tag}"), |b| {
            b.iter(|| snap.series(tag, day, Step::Minute).expect("series"))
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
