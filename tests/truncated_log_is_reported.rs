//! A log file cut exactly at a block boundary looks like a clean end; the
//! preallocated length in its header shows it was truncated, so the lost
//! blocks are reported as a repair, never silently missing. (Found by the
//! `open_store` fuzz target: the input `39 8e 78 00 00 00 e9`.) A writable
//! open then seals the truncated log away. It used to extend the file back
//! to the recorded length, until the resealing `open_store` fuzz mode found
//! that a header claiming a huge length made that a huge allocation (input
//! `f7 f7 13 00 51`): see the second test.

use std::time::Duration;

use trendlog::format::log::scan_log;
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

/// The store's one log file.
fn active_log(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap()
}

#[test]
fn truncation_at_a_block_boundary_is_reported() {
    // A crash image (copied while open, after sync): after a clean close,
    // the manifest records where the log ends and a cut is corruption.
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(live.path(), opts()).unwrap();
    store.record("metoo", T0, 5).unwrap();
    store.record("x", T0 + 60, 2).unwrap();
    store.sync().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(live.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    drop(store);

    let log = active_log(dir.path());
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
    // Sealed away, not extended back to the length its header records (a
    // length field that could claim any size): a fresh log takes the writes.
    assert!(!log.exists(), "the truncated log is still live");
    store.record("x", T0 + 60, 2).unwrap();
    store.close().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().is_clean(), "{:?}", store.recovery());
    assert_eq!(store.total("x", all).unwrap(), 2);
}

#[test]
fn a_cut_past_the_end_a_clean_close_recorded_loses_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    store.record("metoo", T0, 5).unwrap();
    store.close().unwrap();
    // The clean close left the log empty: its blocks end at the header, and
    // the rest of the file is preallocated zeros. Cut some of them.
    let log = active_log(dir.path());
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let report = trendlog::verify::verify(dir.path(), &Options::default()).unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    let note = report.notes.iter().find(|n| n.contains("truncated"));
    assert!(
        note.is_some_and(|n| n.contains("no block was lost") && !n.contains("are lost")),
        "{report:?}"
    );
    let all = TimeRange::new(T0 - 3600, T0 + 3600).unwrap();
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.total("metoo", all).unwrap(), 5);
}

/// A checksum-valid log header that claims a huge preallocated length (here
/// 2^62 bytes, and a claim of 1.3 GB from the fuzz input) is reported as a
/// truncation and costs no allocation: nothing is extended to the claim.
#[test]
fn a_huge_recorded_length_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    store.record("metoo", T0, 5).unwrap();
    store.close().unwrap();
    let log = active_log(dir.path());
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[16..24].copy_from_slice(&(1u64 << 62).to_le_bytes());
    let crc = trendlog::format::crc32(&bytes[..60]);
    bytes[60..64].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&log, &bytes).unwrap();
    let all = TimeRange::new(T0 - 3600, T0 + 3600).unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().log_truncated_bytes > 1 << 61);
    assert_eq!(store.total("metoo", all).unwrap(), 5);
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(on_disk < 1 << 20, "{on_disk} bytes in the store directory");
    store.close().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().is_clean(), "{:?}", store.recovery());
    assert_eq!(store.total("metoo", all).unwrap(), 5);
}
