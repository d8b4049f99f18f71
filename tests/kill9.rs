//! A real process killed with SIGKILL at any moment, including in the middle
//! of a compaction, loses no acknowledged batch and counts none twice: after
//! each kill the store reopens holding exactly the acknowledged batches, or
//! those plus the one batch in flight, and its source position says which.
//!
//! The child is this test binary itself, running `child_main` with
//! `TRENDLOG_KILL9_CHILD` set; it prints `committed N` after batch N is
//! durable (`SyncPolicy::EveryBatch`) and `compacting` / `compacted` around
//! `Store::compact`. The ingest-time kills run on a labelled store (label key
//! `platform`, so every batch may intern series keys in the dictionary); the
//! compaction-time kills on a store without labels.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{add, read_hours_in, stress, HourMap, Rng, T0, TAGS};
use trendlog::time::TimeRange;
use trendlog::{verify, Options, Store, SyncPolicy};

const CHILD_ENV: &str = "TRENDLOG_KILL9_CHILD";
/// Event seconds between consecutive batches.
const BATCH_SECS: i64 = 40;

/// The events of batch `i` (deterministic, so parent and child agree).
fn batch(seed: u64, i: u64) -> Vec<(usize, i64, u64)> {
    let mut rng = Rng(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let base = T0 + i as i64 * BATCH_SECS;
    (0..1 + rng.below(8))
        .map(|_| {
            let late = if rng.chance(10) {
                rng.below(1800) as i64
            } else {
                0
            };
            (
                rng.below(TAGS.len() as u64) as usize,
                (base - late).max(T0),
                1 + rng.below(3),
            )
        })
        .collect()
}

fn range_for(batches: u64) -> TimeRange {
    let end = T0 + (batches as i64 + 200) * BATCH_SECS;
    TimeRange::new(T0, end - end.rem_euclid(3600) + 3600).unwrap()
}

fn child_opts(background: bool) -> Options {
    Options::default()
        .sync_policy(SyncPolicy::EveryBatch)
        .background_compaction(background)
        .compaction_interval(Duration::from_millis(2))
        .minute_retention(Some(Duration::from_secs(3600)))
        .seal_cells(60)
        .seal_after(Duration::from_secs(15 * 60))
        .log_file_bytes(4096)
}

/// The child: resumes at batch `start` and commits until killed.
#[test]
fn child_main() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut it = spec.split(',');
    let dir = it.next().unwrap().to_string();
    let seed: u64 = it.next().unwrap().parse().unwrap();
    let start: u64 = it.next().unwrap().parse().unwrap();
    let compact_mode = it.next().unwrap() == "compact";
    // Ingest-mode children write a labelled store (see the module docs).
    let labelled = !compact_mode;
    // The parent's other test thread may fork (to spawn its own child) while
    // the parent has this store open; the forked process shares the LOCK file
    // description until it execs (O_CLOEXEC), so the lock can look held for a
    // moment. Retry a little.
    let mut tries = 0;
    let store = loop {
        let opts = child_opts(!compact_mode);
        let opts = if labelled {
            opts.label_keys(trendlog::labels::LabelKeys::parse("platform").unwrap())
        } else {
            opts
        };
        match Store::open(&dir, opts) {
            Err(trendlog::Error::Locked { .. }) if tries < 500 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other.unwrap(),
        }
    };
    let resumed = store.source_position().map_or(0, |p| {
        u64::from_le_bytes(p.try_into().expect("an 8-byte source position"))
    });
    assert_eq!(
        resumed, start,
        "the store's source position disagrees with the parent"
    );
    println!("ready");
    // A safety net: a child whose parent died without killing it stops on its own.
    let born = std::time::Instant::now();
    for i in start.. {
        if born.elapsed() > Duration::from_secs(60) {
            return;
        }
        let mut b = store.batch();
        for (t, ts, c) in batch(seed, i) {
            if labelled {
                let p = ["twitter", "instagram", ""][(ts as usize + t) % 3];
                b.add_labelled(TAGS[t], &[("platform", p)], ts, c).unwrap();
            } else {
                b.add(TAGS[t], ts, c).unwrap();
            }
        }
        b.set_source_position((i + 1).to_le_bytes().to_vec())
            .unwrap();
        b.commit().unwrap();
        println!("committed {}", i + 1);
        if compact_mode && (i + 1) % 12 == 0 {
            store.seal().unwrap();
            println!("compacting");
            store.compact().unwrap();
            println!("compacted");
        }
    }
}

struct Run {
    /// Batches acknowledged before the kill.
    acked: u64,
    /// Whether the kill landed between `compacting` and `compacted`.
    in_compaction: bool,
}

/// Spawns a child at batch `start`, kills it as `when` decides, returns what it acknowledged.
fn run_child(dir: &Path, seed: u64, start: u64, compact: bool, rng: &mut Rng) -> Run {
    let spec = format!(
        "{},{seed},{start},{}",
        dir.display(),
        if compact { "compact" } else { "bg" }
    );
    let mut child = common::spawn_self("child_main", &[(CHILD_ENV, spec)]);
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = start;
    let mut compacting = false;
    let mut in_compaction = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    let handle = |line: &str, acked: &mut u64, compacting: &mut bool| {
        if let Some(n) = line.strip_prefix("committed ") {
            *acked = n.parse().unwrap();
        } else if line == "compacting" {
            *compacting = true;
        } else if line == "compacted" {
            *compacting = false;
        }
    };
    if compact {
        // Kill shortly after a compaction starts (sometimes at once).
        let wanted = 1 + rng.below(3);
        let mut seen = 0;
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("child went silent");
            handle(&line, &mut acked, &mut compacting);
            if line == "compacting" {
                seen += 1;
                if seen == wanted {
                    break;
                }
            }
        }
        let micros = [0, 50, 200, 500, 1000, 2000, 4000][rng.below(7) as usize];
        std::thread::sleep(Duration::from_micros(micros));
    } else {
        let ms = 5 + rng.below(120);
        std::thread::sleep(Duration::from_millis(ms));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child exited on its own: {status}");
    reader.join().unwrap();
    while let Ok(line) = rx.try_recv() {
        if compact && compacting && line == "compacted" {
            // Printed before the kill landed; the kill was after it.
        }
        handle(&line, &mut acked, &mut compacting);
    }
    if compact {
        in_compaction = compacting;
    }
    Run {
        acked,
        in_compaction,
    }
}

/// Kills children `kills` times; after each, checks the store.
fn kill_loop(compact: bool, kills: u64, min_in_compaction: u64) -> (u64, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let seed = 42 + u64::from(compact);
    let mut rng = Rng(seed * 7);
    let mut expected = HourMap::new();
    let mut done = 0u64; // batches in the store
    let mut in_compaction = 0u64;
    let mut n = 0;
    let mut in_flight_kept = 0;
    let mut lock_waits = 0u64;
    while n < kills || in_compaction < min_in_compaction {
        assert!(
            n < kills * 8,
            "too few kills landed during compaction: {in_compaction}"
        );
        n += 1;
        let run = run_child(dir.path(), seed, done, compact, &mut rng);
        in_compaction += u64::from(run.in_compaction);
        // Catch the expected state up to the acknowledged batches.
        for i in done..run.acked {
            for (t, ts, c) in batch(seed, i) {
                add(&mut expected, TAGS[t], ts, c);
            }
        }
        let mut plus_one = expected.clone();
        for (t, ts, c) in batch(seed, run.acked) {
            add(&mut plus_one, TAGS[t], ts, c);
        }
        let opts = child_opts(false);
        // See child_main: a sibling test's fork can hold the lock for a moment.
        let mut tries = 0;
        let store = loop {
            match Store::open(dir.path(), opts.clone()) {
                Err(trendlog::Error::Locked { .. }) if tries < 500 => {
                    tries += 1;
                    lock_waits += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other.unwrap_or_else(|e| panic!("kill {n}: reopen failed: {e}")),
            }
        };
        assert_eq!(
            store.label_keys().is_empty(),
            compact,
            "ingest-mode stores are labelled"
        );
        let got = read_hours_in(&store, range_for(run.acked + 1)).unwrap();
        let pos = store
            .source_position()
            .map_or(0, |p| u64::from_le_bytes(p.try_into().unwrap()));
        if got == expected {
            assert_eq!(pos, run.acked, "kill {n}: source position");
            done = run.acked;
        } else if got == plus_one {
            assert_eq!(pos, run.acked + 1, "kill {n}: source position");
            expected = plus_one;
            done = run.acked + 1;
            in_flight_kept += 1;
        } else {
            let totals = common::tag_totals(&got);
            let want = common::tag_totals(&expected);
            panic!(
                "kill {n} (compact={compact}): {} acknowledged batches; the store holds neither \
                 them nor them plus the one in flight.\n got totals {totals:?}\n want {want:?}",
                run.acked
            );
        }
        drop(store);
        if n % 10 == 0 {
            let report = verify::verify(dir.path(), &opts).unwrap();
            assert!(report.is_clean(), "kill {n}: {report:?}");
        }
    }
    eprintln!(
        "kill9 (compact={compact}): {n} kills, {done} batches in the store, \
         {in_flight_kept} in-flight batches kept, {in_compaction} kills during compaction, \
         {lock_waits} 10 ms waits for a lock held through a fork"
    );
    (n, done, in_compaction)
}

#[test]
fn sigkill_during_ingest_with_background_compaction() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let _w = common::Watchdog::new("kill9 ingest", 300 * stress());
    let t = Instant::now();
    let (kills, ..) = kill_loop(false, 100 * stress(), 0);
    eprintln!("kill9 ingest: {kills} kills in {:.1?}", t.elapsed());
}

#[test]
fn sigkill_during_compaction() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let _w = common::Watchdog::new("kill9 compaction", 300 * stress());
    let t = Instant::now();
    let (kills, _, during) = kill_loop(true, 50 * stress(), 50 * stress());
    eprintln!(
        "kill9 compaction: {kills} kills, {during} during compaction, in {:.1?}",
        t.elapsed()
    );
}
