//! Writers, readers and background compaction run together: no snapshot ever
//! sees half a compaction (a tag's all-time total never goes down from one
//! snapshot to the next while only adding), and the final totals are exact.
//! Also prints the longest pause a `record` call saw while compaction ran.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use trendlog::time::TimeRange;
use trendlog::{Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;
const WRITERS: usize = 3;
const RUN: Duration = Duration::from_secs(3);
/// Tags every thread writes to, so roll-ups constantly rewrite them.
const SHARED: [&str; 3] = ["metoo", "timesup", "blacklivesmatter"];

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Interval(Duration::from_millis(20)))
        .background_compaction(true)
        .compaction_interval(Duration::from_millis(2))
        .minute_retention(Some(Duration::from_secs(3600)))
        .max_future_skew(Duration::from_secs(30 * 86_400))
        .seal_after(Duration::from_secs(15 * 60))
        .seal_cells(2_000)
}

fn all() -> TimeRange {
    TimeRange::new(T0, T0 + 3000 * 86_400).unwrap()
}

#[test]
fn compaction_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tags: Vec<String> = SHARED.iter().map(|s| s.to_string()).collect();
    for w in 0..WRITERS {
        for j in 0..20 {
            tags.push(format!("w{w}-t{j}"));
        }
    }
    let tags = Arc::new(tags);

    // Writers: batches at advancing event minutes (each at its own pace).
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, stop) = (store.clone(), stop.clone());
        writers.push(thread::spawn(move || {
            let mut written: BTreeMap<String, u64> = BTreeMap::new();
            let mut minute = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let mut b = store.batch();
                for j in 0..20u64 {
                    let tag = if j % 4 == 0 {
                        SHARED[(j / 4 % 3) as usize].to_string()
                    } else {
                        format!("w{w}-t{j}")
                    };
                    // Some events are up to 3 hours late: they land in rolled-up hours.
                    let late = if j % 7 == 3 {
                        (minute * 13 + j as i64) % 180
                    } else {
                        0
                    };
                    let ts = T0 + (minute - late).max(0) * 60 + j as i64;
                    let c = 1 + (minute as u64 + j) % 3;
                    b.add(&tag, ts, c).unwrap();
                    *written.entry(tag).or_default() += c;
                }
                b.commit().unwrap();
                minute += 1 + w as i64;
            }
            written
        }));
    }

    // Readers: successive snapshots never see a total go down.
    let mut readers = Vec::new();
    for r in 0..2 {
        let (store, stop, tags) = (store.clone(), stop.clone(), tags.clone());
        readers.push(thread::spawn(move || {
            let mut last: Vec<u64> = vec![0; tags.len()];
            let mut snaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let snap = store.snapshot();
                let totals =
                    snap.totals(&tags.iter().map(|s| s.as_str()).collect::<Vec<_>>(), all());
                let totals = totals.unwrap();
                for (i, (&now, &before)) in totals.iter().zip(&last).enumerate() {
                    assert!(
                        now >= before,
                        "reader {r}: {} went from {before} to {now}",
                        tags[i]
                    );
                }
                // The same snapshot answers the same way twice, whatever compaction does meanwhile.
                if snaps.is_multiple_of(16) {
                    let top = snap.top(all(), 5).unwrap();
                    thread::sleep(Duration::from_millis(1));
                    assert_eq!(snap.top(all(), 5).unwrap(), top);
                    let again = snap
                        .totals(&tags.iter().map(|s| s.as_str()).collect::<Vec<_>>(), all())
                        .unwrap();
                    assert_eq!(again, totals);
                }
                last = totals;
                snaps += 1;
            }
            snaps
        }));
    }

    // A timed `record` loop on its own thread, and explicit compaction passes
    // whose time windows we know, beside the background compactor.
    let windows: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
    let compactor = {
        let (store, stop, windows) = (store.clone(), stop.clone(), windows.clone());
        thread::spawn(move || {
            let mut passes = 0u64;
            let mut cells_rolled = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let rep = store.compact().unwrap();
                if !rep.is_empty() {
                    windows.lock().unwrap().push((t, Instant::now()));
                    passes += 1;
                    cells_rolled += rep.cells_before;
                }
                thread::sleep(Duration::from_millis(3));
            }
            (passes, cells_rolled)
        })
    };
    let recorder = {
        let (store, stop) = (store.clone(), stop.clone());
        thread::spawn(move || {
            let mut calls: Vec<(Instant, Duration)> = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let now_min = store.now().map_or(0, |m| i64::from(m.0) * 60 - T0).max(0);
                let t = Instant::now();
                store.record("timed", T0 + now_min, 1).unwrap();
                calls.push((t, t.elapsed()));
                n += 1;
                if n.is_multiple_of(64) {
                    thread::sleep(Duration::from_micros(200));
                }
            }
            (calls, n)
        })
    };

    thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for w in writers {
        for (t, c) in w.join().unwrap() {
            *expected.entry(t).or_default() += c;
        }
    }
    let snaps: Vec<u64> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let (passes, cells_rolled) = compactor.join().unwrap();
    let (calls, timed) = recorder.join().unwrap();
    expected.insert("timed".into(), timed);

    let windows = windows.lock().unwrap().clone();
    let during = |t: Instant, d: Duration| windows.iter().any(|&(a, b)| t < b && t + d > a);
    let max_during = calls
        .iter()
        .filter(|&&(t, d)| during(t, d))
        .map(|c| c.1)
        .max();
    let max_all = calls.iter().map(|c| c.1).max().unwrap_or_default();
    let mut sorted: Vec<Duration> = calls.iter().map(|c| c.1).collect();
    sorted.sort();
    let p999 = sorted
        .get(sorted.len() * 999 / 1000)
        .copied()
        .unwrap_or_default();
    let st = store.stats();
    println!(
        "compaction_concurrency: {passes} explicit non-empty passes ({cells_rolled} cells read) \
         beside the background compactor; {} reader snapshots; {} record calls; \
         longest record pause overlapping an explicit pass: {:?}; longest overall: {max_all:?}; \
         p99.9: {p999:?}; final segments: {} minute, {} hour",
        snaps.iter().sum::<u64>(),
        calls.len(),
        max_during,
        st.minute_segments,
        st.hour_segments,
    );
    assert!(
        st.hour_segments >= 1,
        "compaction never rolled anything up: {st:?}"
    );

    let check = |store: &Store, what: &str| {
        let snap = store.snapshot();
        for (t, &c) in &expected {
            assert_eq!(snap.total(t, all()).unwrap(), c, "{what}: {t}");
        }
        assert_eq!(
            snap.stats().total_count,
            expected.values().sum::<u64>(),
            "{what}"
        );
    };
    check(&store, "live");
    store.compact().unwrap();
    check(&store, "after a final pass");
    store.close().unwrap();
    let store = Store::open(dir.path(), opts().background_compaction(false)).unwrap();
    check(&store, "after reopen");
}
