//! Writer threads, reader threads, background compaction and a read-only
//! opener in another process, against one store for a fixed number of
//! operations: final totals are exact, readers never see a total go down or
//! exceed what was sent, and nothing deadlocks (a watchdog aborts the test).

mod common;

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{stress, Rng, T0, TAGS};
use trendlog::time::TimeRange;
use trendlog::{verify, Options, Store, SyncPolicy};

const CHILD_ENV: &str = "TRENDLOG_CONCURRENCY_CHILD";
const WRITERS: usize = 3;

fn range() -> TimeRange {
    TimeRange::new(T0, T0 + 30 * 86_400).unwrap()
}

/// Writer `w`'s batch `i`: events of tag `w*2 + (i % 2)` (each writer owns two tags).
fn batch(w: usize, i: u64) -> Vec<(usize, i64, u64)> {
    let mut rng = Rng((w as u64) << 32 | i);
    (0..1 + rng.below(5))
        .map(|_| {
            (
                w * 2 + (i % 2) as usize,
                T0 + i as i64 * 20 + rng.below(60) as i64,
                1 + rng.below(3),
            )
        })
        .collect()
}

/// The read-only opener in another process: opens, reads every total, checks
/// each never exceeds the final expected total and never goes down.
#[test]
fn reader_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, max) = spec.split_once(';').unwrap();
    let max: Vec<u64> = max.split(',').map(|x| x.parse().unwrap()).collect();
    let mut last = vec![0u64; TAGS.len()];
    let mut opens = 0;
    let start = Instant::now();
    let mut done = false;
    while !done && start.elapsed() < Duration::from_secs(60) {
        done = std::path::Path::new(&format!("{dir}.done")).exists();
        let s = match Store::open_read_only(dir) {
            Ok(s) => s,
            Err(e) => panic!("read-only open failed while a writer runs: {e}"),
        };
        for (i, t) in TAGS.iter().enumerate() {
            let got = s.total(t, range()).unwrap();
            assert!(got <= max[i], "{t}: {got} > sent {}", max[i]);
            assert!(got >= last[i], "{t}: went down from {} to {got}", last[i]);
            last[i] = got;
        }
        opens += 1;
    }
    println!("child opens {opens} totals {last:?}");
}

#[test]
fn writers_readers_compaction_and_a_reader_process() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let _w = common::Watchdog::new("concurrency", 240);
    let t = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let per_writer = 2000 * stress();
    let opts = Options::default()
        .sync_policy(SyncPolicy::Interval(Duration::from_millis(5)))
        .background_compaction(true)
        .compaction_interval(Duration::from_millis(3))
        .minute_retention(Some(Duration::from_secs(3600)))
        .seal_cells(80)
        .seal_after(Duration::from_secs(20 * 60))
        .log_file_bytes(8192);
    let store = Store::open(&db, opts.clone()).unwrap();
    // Expected totals per tag.
    let mut expected = vec![0u64; TAGS.len()];
    for w in 0..WRITERS {
        for i in 0..per_writer {
            for (t, _, c) in batch(w, i) {
                expected[t] += c;
            }
        }
    }
    let child = common::spawn_self(
        "reader_child",
        &[(
            CHILD_ENV,
            format!(
                "{};{}",
                db.display(),
                expected
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..2 {
        let s = store.clone();
        let stop = stop.clone();
        let exp = expected.clone();
        readers.push(std::thread::spawn(move || {
            let mut last = vec![0u64; TAGS.len()];
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let snap = s.snapshot();
                for (i, t) in TAGS.iter().enumerate() {
                    let got = snap.total(t, range()).unwrap();
                    assert!(
                        got <= exp[i] && got >= last[i],
                        "reader {r}: {t} {got} (last {})",
                        last[i]
                    );
                    last[i] = got;
                }
                let _ = snap.top(range(), 3).unwrap();
                n += 1;
            }
            n
        }));
    }
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = store.clone();
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    let mut b = s.batch();
                    for (t, ts, c) in batch(w, i) {
                        b.add(TAGS[t], ts, c).unwrap();
                    }
                    b.commit().unwrap();
                    if i % 50 == 0 {
                        s.sync().unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    store.sync().unwrap();
    std::fs::write(format!("{}.done", db.display()), b"").unwrap();
    stop.store(true, Ordering::SeqCst);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reader process failed: {}",
        out.status
    );
    let child_line = BufReader::new(&out.stdout[..])
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.find("child opens").map(|at| l[at..].to_string()))
        .unwrap_or_default();
    let stats = store.compact().unwrap();
    for (i, t) in TAGS.iter().enumerate() {
        assert_eq!(store.total(t, range()).unwrap(), expected[i], "{t}");
    }
    store.close().unwrap();
    let again = Store::open(&db, opts).unwrap();
    for (i, t) in TAGS.iter().enumerate() {
        assert_eq!(
            again.total(t, range()).unwrap(),
            expected[i],
            "{t} after reopen"
        );
    }
    let segs = again.snapshot().segments().len();
    drop(again);
    let rep = verify::verify(&db, &Options::default()).unwrap();
    assert!(rep.is_clean(), "{rep:?}");
    eprintln!(
        "concurrency: {WRITERS} writers x {per_writer} batches, {reads} reader snapshots, \
         reader process: {child_line}; {segs} segments at the end (last pass {stats:?}); {:.1?}",
        t.elapsed()
    );
}

/// `verify` beside a writer that adds new tags in every batch and seals now and then: always
/// clean. (A verify that read `tags.dict` before the log could meet blocks, recorded durable
/// by later blocks, naming entries its older copy of the dictionary lacked, and called that
/// damage: 2 of 60 `trendlog verify` runs beside a live `ingest` did.)
#[test]
fn verify_beside_a_writer_adding_tags_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .background_compaction(false)
        .sync_policy(SyncPolicy::EveryBatch);
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..400 * stress() as i64 {
                let mut b = store.batch();
                for j in 0..20 {
                    b.add(&format!("n{i}_{j}"), T0 + i * 60, 1).unwrap();
                }
                b.commit().unwrap();
                if i % 50 == 49 {
                    store.seal().unwrap();
                }
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let (mut runs, mut dirty) = (0, Vec::new());
    while !done.load(Ordering::SeqCst) {
        let r = verify::verify(dir.path(), &opts).unwrap();
        runs += 1;
        if !r.is_clean() {
            dirty.push(format!("{:?}", r.problems));
        }
    }
    writer.join().unwrap();
    println!(
        "verify beside the writer: {runs} runs, {} not clean",
        dirty.len()
    );
    assert!(
        dirty.is_empty(),
        "{} of {runs}: {}",
        dirty.len(),
        dirty.join("\n")
    );
}

/// A snapshot's `stats().total_count` is the sum of what that snapshot's queries see, even
/// while a writer commits: the total is updated under the view's lock, with the view. Before,
/// the writer added to the total before publishing its view, and a snapshot taken between
/// the two counted a batch it could not see.
#[test]
fn a_snapshots_total_matches_what_it_sees() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let store = trendlog::Store::open(
        dir.path(),
        trendlog::Options::default()
            .sync_policy(trendlog::SyncPolicy::Manual)
            .background_compaction(false),
    )
    .unwrap();
    let t0 = 1_508_025_600;
    let all = trendlog::time::TimeRange::new(t0, t0 + 86_400).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..3000i64 {
                let mut b = store.batch();
                b.add("a", t0 + (i % 1440) * 60, 1 + (i % 7) as u64)
                    .unwrap();
                b.add("b", t0 + (i % 1440) * 60, 2).unwrap();
                b.commit().unwrap();
            }
            done.store(true, Ordering::Release);
        });
        let mut checks = 0;
        while !done.load(Ordering::Acquire) || checks < 100 {
            let snap = store.snapshot();
            let seen = snap.total("a", all).unwrap() + snap.total("b", all).unwrap();
            assert_eq!(snap.stats().total_count, seen, "after {checks} checks");
            checks += 1;
        }
    });
}
