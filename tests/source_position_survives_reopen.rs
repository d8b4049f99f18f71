//! The source position committed with a batch is stored atomically with it: after
//! a reopen (and across seals) `source_position()` is the newest durable one,
//! and after a crash it is the last SYNCED one, never ahead of or behind the
//! data, so a consumer that resumes from it applies every batch exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use trendlog::time::TimeRange;
use trendlog::{Options, Store, SyncPolicy};
use trendlog_testkit::sim::{CrashMode, SimFs};

const T0: i64 = 1_508_025_600;
const TAGS: [&str; 4] = ["metoo", "timesup", "nats", "kafka"];

/// Batch `i` of the source stream: a few events, a minute apart per batch.
fn source_batch(i: u64) -> Vec<(&'static str, i64, u64)> {
    (0..3)
        .map(|j| {
            let t = TAGS[((i + j) % 4) as usize];
            (t, T0 + (i as i64) * 45 + j as i64, i % 5 + j + 1)
        })
        .collect()
}

fn position(i: u64) -> Vec<u8> {
    format!("orders:3:{i}").into_bytes()
}

fn parse_position(p: &[u8]) -> u64 {
    std::str::from_utf8(p)
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn apply(store: &Store, i: u64) {
    let mut b = store.batch();
    for (t, ts, c) in source_batch(i) {
        b.add(t, ts, c).unwrap();
    }
    b.set_source_position(position(i)).unwrap();
    b.commit().unwrap();
}

fn expected(upto: u64) -> BTreeMap<&'static str, u64> {
    let mut m = BTreeMap::new();
    for i in 0..upto {
        for (t, _, c) in source_batch(i) {
            *m.entry(t).or_default() += c;
        }
    }
    m
}

fn totals(store: &Store) -> BTreeMap<&'static str, u64> {
    let all = TimeRange::new(T0, T0 + 86_400 * 10).unwrap();
    TAGS.iter()
        .map(|&t| (t, store.total(t, all).unwrap()))
        .filter(|&(_, c)| c > 0)
        .collect()
}

fn opts(policy: SyncPolicy) -> Options {
    Options::default()
        .sync_policy(policy)
        .background_compaction(false)
        .seal_after(Duration::from_secs(20 * 60))
}

#[test]
fn source_position_survives_reopen_and_seals() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts(SyncPolicy::EveryBatch)).unwrap();
    assert_eq!(store.source_position(), None);
    for i in 0..100 {
        apply(&store, i);
        assert_eq!(store.source_position(), Some(position(i)));
    }
    assert!(
        store.stats().minute_segments >= 2,
        "seals happened: {:?}",
        store.stats()
    );
    // A batch without a position leaves the last one in place.
    store.record("metoo", T0 + 100 * 45, 1).unwrap();
    assert_eq!(store.source_position(), Some(position(99)));
    store.close().unwrap();

    let store = Store::open(dir.path(), opts(SyncPolicy::EveryBatch)).unwrap();
    assert_eq!(store.source_position(), Some(position(99)));
    // Sealed right away: the position then lives in the manifest.
    store.seal().unwrap();
    store.close().unwrap();
    let store = Store::open(dir.path(), opts(SyncPolicy::EveryBatch)).unwrap();
    assert_eq!(store.source_position(), Some(position(99)));
    // A batch that carries only a position still moves it.
    let mut b = store.batch();
    b.set_source_position(position(100)).unwrap();
    b.commit().unwrap();
    store.close().unwrap();
    let store = Store::open(dir.path(), opts(SyncPolicy::EveryBatch)).unwrap();
    assert_eq!(store.source_position(), Some(position(100)));
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.source_position(), Some(position(100)));
}

const N: u64 = 60;

/// Runs the consumer on a simulated disk: applies batches `0..N`, syncing after
/// every `sync_every` batches (seals happen too, as event time moves on), then
/// the power goes out with `mode`. Returns the disk as the restarted process
/// sees it and the last batch index made durable by a sync or a seal.
fn run_until_crash(sync_every: u64, mode: CrashMode, seed: u64) -> (SimFs, Option<u64>) {
    let sim = SimFs::new();
    let store = Store::open(
        "/store",
        opts(SyncPolicy::Manual).vfs(Arc::new(sim.clone())),
    )
    .unwrap();
    let mut synced = None;
    for i in 0..N {
        let sealed_before = store.stats().minute_segments;
        apply(&store, i);
        // A seal (driven by event time) is a durability point too.
        if store.stats().minute_segments > sealed_before {
            synced = Some(i);
        }
        if i % sync_every == sync_every - 1 {
            store.sync().unwrap();
            synced = Some(i);
        }
    }
    // Power loss before the store is dropped (a drop would sync).
    let after = sim.crash(mode, seed);
    drop(store);
    (after, synced)
}

/// The consumer restarts: reads the position, re-applies the stream from the
/// batch after it, and must end with every batch counted exactly once.
fn resume(disk: SimFs, synced: Option<u64>, what: &str) {
    let o = opts(SyncPolicy::Manual).vfs(Arc::new(disk));
    let store = Store::open(Path::new("/store"), o.clone()).unwrap();
    let pos = store.source_position().map(|p| parse_position(&p));
    if let Some(s) = synced {
        assert!(
            pos.is_some_and(|p| p >= s),
            "{what}: position {pos:?} behind synced {s}"
        );
    }
    // The position and the data agree: exactly batches 0..=pos are held.
    let held = pos.map_or(0, |p| p + 1);
    assert_eq!(totals(&store), expected(held), "{what}: position {pos:?}");
    for i in held..N {
        apply(&store, i);
    }
    store.sync().unwrap();
    assert_eq!(totals(&store), expected(N), "{what}: after resume");
    assert_eq!(store.source_position(), Some(position(N - 1)));
    store.close().unwrap();
}

#[test]
fn crash_resumes_from_the_last_synced_position() {
    // Dropping every unsynced write: exactly the last synced position.
    for sync_every in [1, 7, 25, N + 1] {
        let (disk, synced) = run_until_crash(sync_every, CrashMode::DropUnsynced, 0);
        let what = format!("sync every {sync_every}, DropUnsynced");
        {
            let store = Store::open(
                "/store",
                opts(SyncPolicy::Manual).vfs(Arc::new(disk.clone())),
            )
            .unwrap();
            assert_eq!(store.source_position(), synced.map(position), "{what}");
        }
        let (disk, synced) = run_until_crash(sync_every, CrashMode::DropUnsynced, 0);
        resume(disk, synced, &what);
    }
    // Other crash modes may keep some unsynced batches; position and data
    // must still agree, and never fall behind the last sync. (KeepSome, which
    // can keep a later unsynced block and lose an earlier one, belongs to the
    // power-loss suite: the store then refuses to open with
    // DamageBeforeValidData.)
    for mode in [
        CrashMode::DropUnsynced,
        CrashMode::TearLast,
        CrashMode::ZeroLast,
    ] {
        for seed in 0..8 {
            let (disk, synced) = run_until_crash(7, mode, seed);
            resume(disk, synced, &format!("{mode:?} seed {seed}"));
        }
    }
}
