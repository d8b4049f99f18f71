//! A panic in the compaction worker poisons the store: every later write,
//! sync, seal and compaction returns `Error::Poisoned` (nothing carries on over
//! unknown state), and reopening recovers everything that was synced.

use std::time::{Duration, Instant};

use trendlog::time::TimeRange;
use trendlog::{Error, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::EveryBatch)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3600)))
        .seal_after(Duration::from_secs(30 * 60))
}

fn all() -> TimeRange {
    TimeRange::new(T0, T0 + 86_400).unwrap()
}

fn write(store: &Store, minutes: std::ops::Range<i64>) -> u64 {
    let mut n = 0;
    for m in minutes {
        store.record("metoo", T0 + m * 60, 2).unwrap();
        n += 2;
    }
    n
}

fn assert_poisoned<T: std::fmt::Debug>(r: trendlog::Result<T>, what: &str) {
    match r {
        Err(Error::Poisoned { reason }) => {
            assert!(reason.contains("panic"), "{what}: {reason}");
        }
        other => panic!("{what}: expected Error::Poisoned, got {other:?}"),
    }
}

fn check_poisoned(store: &Store) {
    assert_poisoned(store.record("metoo", T0, 1), "record");
    let mut b = store.batch();
    let _ = b.add("metoo", T0, 1);
    assert_poisoned(b.commit(), "batch commit");
    assert_poisoned(store.sync(), "sync");
    assert_poisoned(store.seal(), "seal");
    assert_poisoned(store.compact(), "compact");
    let msg = store.sync().unwrap_err().to_string();
    assert!(msg.contains("reopen"), "{msg}");
}

#[test]
fn panic_in_compact_poisons_and_reopen_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    let written = write(&store, 0..300);
    store.inject_compaction_panic();
    assert_poisoned(store.compact(), "the panicking pass");
    check_poisoned(&store);
    // Reads of what is held still work.
    assert_eq!(store.total("metoo", all()).unwrap(), written);
    drop(store);

    let store = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(store.total("metoo", all()).unwrap(), written);
    // And the reopened store is healthy: it compacts and writes again.
    store.compact().unwrap();
    store.record("metoo", T0 + 300 * 60, 1).unwrap();
    assert_eq!(store.total("metoo", all()).unwrap(), written + 1);
}

#[test]
fn panic_in_the_background_worker_poisons() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts()
        .background_compaction(true)
        .compaction_interval(Duration::from_millis(5));
    let store = Store::open(dir.path(), o.clone()).unwrap();
    let written = write(&store, 0..200);
    store.inject_compaction_panic();
    // Wait (bounded) for the background pass to hit the panic.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut extra = 0;
    loop {
        match store.record("metoo", T0 + 200 * 60, 1) {
            Ok(()) => extra += 1,
            Err(Error::Poisoned { .. }) => break,
            Err(e) => panic!("unexpected error {e:?}"),
        }
        assert!(Instant::now() < deadline, "the background pass never ran");
        std::thread::sleep(Duration::from_millis(1));
    }
    check_poisoned(&store);
    drop(store);
    let store = Store::open(dir.path(), o).unwrap();
    assert_eq!(store.total("metoo", all()).unwrap(), written + extra);
}
