//! `bursts`: the burst episodes of a day over the 200,000 tags of the issue-7
//! workload (5M events, 24 h, one surging tag), and the onsets-since query a
//! service asks every minute, next to `trending` over the same store.
//!
//! - `day_sealed`: `Snapshot::bursts` over the whole day, top 10;
//! - `onsets_since_now_sealed`: `Snapshot::onsets_since` the store's now;
//! - `trending_1h_24h_sealed`: `Snapshot::trending` with its defaults, the
//!   cost the onsets-since query must not exceed.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use trendlog::time::TimeRange;
use trendlog::{BurstParams, BurstQuery, TrendQuery};

fn bench(c: &mut Criterion) {
    let data = common::workload(5_000_000, 24 * 3600);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::build_store(dir.path(), &data, common::opts(), true);
    let snap = store.snapshot();
    let from = data.spec.start;
    let day = TimeRange::new(from, from + 24 * 3600).expect("range");
    let p = BurstParams::default();
    let now = snap.now().expect("a store with data");
    let mut g = c.benchmark_group("bursts");
    g.bench_function("day_sealed", |b| {
        b.iter(|| snap.bursts(day, &BurstQuery::top(10)).expect("bursts"))
    });
    g.bench_function("onsets_since_now_sealed", |b| {
        b.iter(|| snap.onsets_since(now, &p).expect("onsets"))
    });
    let q = TrendQuery::default();
    g.bench_function("trending_1h_24h_sealed", |b| {
        b.iter(|| snap.trending(&q).expect("trending"))
    });
    g.finish();
    let eps = snap.bursts(day, &BurstQuery::top(10)).expect("bursts");
    for e in &eps {
        eprintln!(
            "episode: {} onset {} peak score {:.1}",
            e.tag, e.onset, e.peak_score
        );
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
