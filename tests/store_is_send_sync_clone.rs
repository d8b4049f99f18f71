//! `Store` is `Clone + Send + Sync`, `Snapshot` is `Clone + Send + Sync`, and a
//! `Batch` can be moved to another thread (`Send`): checked at compile time.

use trendlog::{Batch, Error, Snapshot, Store};

fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
fn send<T: Send + 'static>() {}
fn sync<T: Sync>() {}

#[test]
fn store_is_send_sync_clone() {
    clone_send_sync::<Store>();
    clone_send_sync::<Snapshot>();
    send::<Batch>();
    sync::<Batch>();
    // Errors cross threads too (a worker can hand one back through a channel).
    send::<Error>();
    sync::<Error>();
    send::<Box<dyn std::error::Error + Send + Sync>>();
    let _: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::ReadOnly);
}

/// `close()` on one clone leaves the store working for the others: background compaction
/// still rolls up what they write, and the last close unlocks it. Before, the first close
/// stopped the background threads of every clone (and recorded a clean close) while the
/// others went on writing, never rolled up.
#[test]
fn closing_one_clone_leaves_the_others_running() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let opts = || {
        trendlog::Options::default()
            .minute_retention(Some(Duration::from_secs(3600)))
            .compaction_interval(Duration::from_millis(20))
    };
    let store = Store::open(dir.path(), opts()).unwrap();
    let other = store.clone();
    store.close().unwrap();
    let t0 = 1_508_025_600;
    for h in 0..4 {
        other.record("a", t0 + h * 3600, 1).unwrap();
        other.seal().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while other.stats().hour_cells == 0 {
        assert!(
            Instant::now() < deadline,
            "no roll-up after the first close"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(matches!(
        Store::open(dir.path(), opts()),
        Err(Error::Locked { .. })
    ));
    other.close().unwrap();
    assert!(Store::open(dir.path(), opts()).is_ok());
}
