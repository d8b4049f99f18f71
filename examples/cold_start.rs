//! Cold-start figures for the dictionary index and stored segment totals: on
//! the benchmark workload (5,000,000 events over 200,000 tags, 24 h), sealed,
//! the median `Store::open` with and without `tags.idx` (without it, open
//! reads and hashes the whole dictionary, as format version 1 did), and the
//! first trending after open against a warm one.
//!
//! ```text
//! cargo run --release --example cold_start [-- --events N]
//! ```

use std::time::{Duration, Instant};

use trendlog::{Options, Store, SyncPolicy, TrendQuery};
use trendlog_workload::{events, WorkloadSpec};

const RUNS: usize = 21;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

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
    let dir = tempfile::tempdir()?;
    {
        let w = events(&spec);
        let names = w.tag_names().to_vec();
        let store = Store::open(dir.path(), opts())?;
        let all: Vec<_> = w.collect();
        for chunk in all.chunks(100_000) {
            let mut b = store.batch();
            for e in chunk {
                b.add(&names[e.tag_index as usize], e.ts, e.count)?;
            }
            b.commit()?;
        }
        store.sync()?;
        store.seal()?;
        store.close()?;
    }
    let idx = dir.path().join("tags.idx");
    let aside = dir.path().join("idx.aside");
    let st = Store::open_read_only(dir.path())?.stats();
    let tags = st.tags;
    println!(
        "store: {} events, {tags} tags, {} cells, {:.3} bytes/cell",
        spec.events,
        st.cells,
        st.bytes as f64 / st.cells.max(1) as f64
    );
    let open_median = || -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
        let (mut v, mut r) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let t = Instant::now();
            let s = Store::open(dir.path(), opts())?;
            v.push(t.elapsed());
            drop(s);
            let t = Instant::now();
            let s = Store::open_read_only_with(dir.path(), opts())?;
            r.push(t.elapsed());
            drop(s);
        }
        Ok((median(v), median(r)))
    };
    let has_index = idx.exists();
    if has_index {
        std::fs::rename(&idx, &aside)?;
    }
    let without = open_median()?;
    if has_index {
        std::fs::rename(&aside, &idx)?;
    }
    let with = open_median()?;
    println!(
        "Store::open, median of {RUNS}: without tags.idx {}, with {}",
        ms(without.0),
        ms(with.0)
    );
    println!(
        "Store::open_read_only: without tags.idx {}, with {}",
        ms(without.1),
        ms(with.1)
    );
    if let Ok(b) = std::fs::read(&idx) {
        let n = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
        println!("tags.idx covers {n} of {tags} tags");
    }

    let q = TrendQuery::default();
    let (mut first, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let store = Store::open(dir.path(), opts())?;
        let snap = store.snapshot();
        let t = Instant::now();
        snap.trending(&q)?;
        first.push(t.elapsed());
        for _ in 0..3 {
            let t = Instant::now();
            snap.trending(&q)?;
            warm.push(t.elapsed());
        }
    }
    let (f, w) = (median(first), median(warm));
    println!(
        "trending: first after open {}, warm {} ({:.2}x)",
        ms(f),
        ms(w),
        f.as_secs_f64() / w.as_secs_f64()
    );
    Ok(())
}
