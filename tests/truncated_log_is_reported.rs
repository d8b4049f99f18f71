//! A log file cut exactly at a block boundary looks like a clean end; the
//! preallocated length in its header shows it was truncated, so the lost
//! blocks are reported as a repair, never silently missing. (Found by the
//! `open_store` fuzz target: the input `39 8e 78 00 00 00 e9`.)

use std::time::Duration;

use trendlog::format::block::scan_log;
use trendlog::time::TimeRange;
use trendlog::{Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3600)))
        .log_file_bytes(4096)
}

#[test]
fn truncation_at_a_block_boundary_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    store.record("metoo", T0, 5).unwrap();
    store.record("x", T0 + 60, 2).unwrap();
    store.sync().unwrap();
    store.close().unwrap();

    let log = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let bytes = std::fs::read(&log).unwrap();
    let scan = scan_log(&bytes);
    assert_eq!(scan.blocks.len(), 2);
    let boundary = scan.blocks[1].0 as usize;
    std::fs::write(&log, &bytes[..boundary]).unwrap();

    let all = TimeRange::new(T0 - 3600, T0 + 3600).unwrap();
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert!(ro.recovery().log_truncated_bytes > 0, "{:?}", ro.recovery());
    assert!(!ro.recovery().is_clean());
    assert_eq!(ro.total("x", all).unwrap(), 0);
    drop(ro);
    let report = trendlog::verify::verify(dir.path(), &Options::default()).unwrap();
    assert!(
        report.notes.iter().any(|n| n.contains("truncated")),
        "{report:?}"
    );

    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().log_truncated_bytes > 0);
    assert_eq!(store.total("metoo", all).unwrap(), 5);
    // Extended back to its preallocated length: new writes land in reserved space.
    assert_eq!(std::fs::metadata(&log).unwrap().len(), bytes.len() as u64);
    store.record("x", T0 + 60, 2).unwrap();
    store.close().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().is_clean(), "{:?}", store.recovery());
    assert_eq!(store.total("x", all).unwrap(), 2);
}
