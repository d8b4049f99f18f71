//! A small service in the shape of the mission: several threads record a
//! generated hashtag stream in batches while another thread prints the top
//! trending tags every few seconds from a snapshot.
//!
//! ```text
//! cargo run --release --example firehose -- --seconds 15
//! ```
//!
//! The stream is `trendlog_workload`: a Zipf background of 50,000 tags over
//! two days of event time with `metoo` surging to 20% of the traffic at the
//! end, replayed as fast as the writers can go (the store's now follows event
//! time, so a replay behaves like a live stream).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use trendlog::time::{format_rfc3339, TimeRange};
use trendlog::{Options, Store, SyncPolicy, TrendQuery};
use trendlog_workload::{events, WorkloadSpec};

const WRITERS: u64 = 3;
const BATCH: usize = 20_000;

fn parse_args() -> Result<(u64, Option<std::path::PathBuf>), String> {
    let mut seconds = 15;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds needs a whole number")?
            }
            "--dir" => dir = Some(args.next().ok_or("--dir needs a path")?.into()),
            "-h" | "--help" => {
                println!("usage: firehose [--seconds N] [--dir PATH]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok((seconds, dir))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (seconds, dir_arg) = parse_args()?;
    let tmp = tempfile::tempdir()?;
    let dir = dir_arg.unwrap_or_else(|| tmp.path().to_path_buf());
    let store = Store::open(
        &dir,
        Options::default()
            .sync_policy(SyncPolicy::Interval(Duration::from_millis(200)))
            .background_compaction(true),
    )?;
    let spec = WorkloadSpec {
        events: 20_000_000,
        tags: 50_000,
        span_secs: 2 * 86_400,
        ..WorkloadSpec::default()
    };
    println!(
        "firehose: {WRITERS} writer threads replaying {} events over {} tags into {} for {seconds}s",
        spec.events,
        spec.tags,
        dir.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    // Each writer takes every WRITERS-th chunk of BATCH events of the stream,
    // so together they replay it once, roughly in time order.
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, stop, recorded, spec) =
            (store.clone(), stop.clone(), recorded.clone(), spec.clone());
        writers.push(thread::spawn(move || -> trendlog::Result<()> {
            let stream = events(&spec);
            let names = stream.tag_names().to_vec();
            let mut chunk = 0u64;
            let mut batch = store.batch();
            for (i, e) in stream.enumerate() {
                if i % BATCH == 0 {
                    if !batch.is_empty() {
                        let n = batch.len();
                        batch.commit()?;
                        recorded.fetch_add(n, Ordering::Relaxed);
                    }
                    batch = store.batch();
                    chunk = i as u64 / BATCH as u64;
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
                if chunk % WRITERS == w {
                    batch.add(&names[e.tag_index as usize], e.ts, e.count)?;
                }
            }
            let n = batch.len();
            batch.commit()?;
            recorded.fetch_add(n, Ordering::Relaxed);
            Ok(())
        }));
    }

    // The dashboard: every few seconds, what is trending as of the store's now.
    let reporter = {
        let (store, stop, recorded) = (store.clone(), stop.clone(), recorded.clone());
        thread::spawn(move || -> trendlog::Result<()> {
            let q = TrendQuery {
                k: 5,
                min_count: 50,
                ..TrendQuery::default()
            };
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_secs(3).min(Duration::from_secs(seconds.max(1))));
                let snap = store.snapshot();
                let Some(now) = snap.now_end() else { continue };
                let t = Instant::now();
                let rows = snap.trending(&q)?;
                let took = t.elapsed();
                println!(
                    "[{:>5.1}s] {} events recorded; event time {}; trending ({took:.1?}):",
                    started.elapsed().as_secs_f64(),
                    recorded.load(Ordering::Relaxed),
                    format_rfc3339(now)
                );
                for (i, r) in rows.iter().enumerate() {
                    println!(
                        "    {}. #{:<12} {:>7} in the last hour, {:>8} in the 24h before, growth {:.2}",
                        i + 1,
                        r.tag,
                        r.recent,
                        r.baseline,
                        r.growth
                    );
                }
            }
            Ok(())
        })
    };

    while started.elapsed() < Duration::from_secs(seconds)
        && !writers.iter().all(|w| w.is_finished())
    {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer thread panicked")?;
    }
    reporter.join().expect("reporter thread panicked")?;
    let elapsed = started.elapsed();
    store.sync()?;

    let n = recorded.load(Ordering::Relaxed);
    let snap = store.snapshot();
    let st = snap.stats();
    println!("\nsummary after {:.1}s:", elapsed.as_secs_f64());
    println!(
        "  {n} events recorded ({:.2} M events/s over {WRITERS} threads)",
        n as f64 / elapsed.as_secs_f64() / 1e6
    );
    println!(
        "  {} tags, {} cells ({} minute, {} hour, {} unsealed), {} segments, {:.1} MiB on disk",
        st.tags,
        st.cells,
        st.minute_cells,
        st.hour_cells,
        st.active_cells,
        st.minute_segments + st.hour_segments,
        st.bytes as f64 / (1 << 20) as f64
    );
    if let (Some(now), Some(first)) = (snap.now_end(), snap.earliest_time()) {
        let all = TimeRange::new(first - first % 3600, now)?;
        println!(
            "  event time {} .. {}",
            format_rfc3339(first),
            format_rfc3339(now)
        );
        let top: Vec<String> = snap
            .top(all, 5)?
            .into_iter()
            .map(|r| format!("#{} {}", r.tag, r.count))
            .collect();
        println!("  top tags overall: {}", top.join(", "));
    }
    drop(snap);
    store.close()?;
    Ok(())
}
