//! `ingest`: events per second into a fresh store, durable per batch
//! (`SyncPolicy::EveryBatch`), one thread or two sharing the store, batches
//! of 1,000 and 100,000 events. Each iteration opens a fresh store (untimed)
//! and times the ingest of the first 500,000 events of the issue-7 workload
//! (5M events / 24 h, 200,000 tags), including the interning of new tags.
//! `labelled_threads2_batch_1k`: the same with two label keys (3 platforms,
//! 50 regions, picked from the tag's index), two threads, so both look up
//! their series in the shared series table at once.
//! `normalize/*`: the cost of `tag::normalize` alone on short tags, already
//! normal or not, the first step of every `Batch::add`.

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const EVENTS: usize = 500_000;

fn bench(c: &mut Criterion) {
    let data = common::workload(5_000_000, 24 * 3600);
    let events = &data.events[..EVENTS];
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(EVENTS as u64));
    for (name, batch) in [("batch_1k", 1_000), ("batch_100k", 100_000)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                common::fresh_store,
                |(dir, store)| {
                    common::ingest(&store, &data.names, events, batch);
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        });
    }
    for (name, batch) in [
        ("threads2_batch_1k", 1_000),
        ("threads2_batch_100k", 100_000),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                common::fresh_store,
                |(dir, store)| {
                    std::thread::scope(|s| {
                        for part in 0..2 {
                            let store = store.clone();
                            let names = &data.names;
                            s.spawn(move || {
                                // Batches alternate between the threads.
                                for (i, chunk) in events.chunks(batch).enumerate() {
                                    if i % 2 == part {
                                        common::ingest(&store, names, chunk, batch);
                                    }
                                }
                            });
                        }
                    });
                    (dir, store)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.bench_function("labelled_threads2_batch_1k", |b| {
        let platforms = ["twitter", "instagram", "facebook"];
        let regions: Vec<String> = (0..50).map(|r| format!("r{r}")).collect();
        let keys = trendlog::labels::LabelKeys::parse("platform,region").expect("keys");
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let opts = common::opts().label_keys(keys.clone());
                let store = trendlog::Store::open(dir.path(), opts).expect("open");
                (dir, store)
            },
            |(dir, store)| {
                std::thread::scope(|s| {
                    for part in 0..2 {
                        let (store, names) = (store.clone(), &data.names);
                        let (platforms, regions) = (&platforms, &regions);
                        s.spawn(move || {
                            for (i, chunk) in events.chunks(1_000).enumerate() {
                                if i % 2 != part {
                                    continue;
                                }
                                let mut b = store.batch();
                                for e in chunk {
                                    let t = e.tag_index as usize;
                                    let labels = [
                                        ("platform", platforms[t % 3]),
                                        ("region", regions[t % 50].as_str()),
                                    ];
                                    b.add_labelled(&names[t], &labels, e.ts, e.count)
                                        .expect("add");
                                }
                                b.commit().expect("commit");
                            }
                        });
                    }
                });
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn normalize(c: &mut Criterion) {
    use std::hint::black_box;
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(1));
    for tag in ["metoo", "#MeToo", "bitcoin", "#WeinsteinGuilty", "elenão"] {
        g.bench_function(tag, |b| {
            b.iter(|| trendlog::tag::normalize(black_box(tag)).map(|t| t.len()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench, normalize
}
criterion_main!(benches);
