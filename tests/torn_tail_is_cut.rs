//! After a crash, a torn or zeroed tail of the ACTIVE log segment, cut at any
//! offset inside its last block, is cut back on open to exactly the whole blocks before it and
//! reported by `Store::recovery()`; a read-only open ignores it without
//! changing the file; the repaired store takes new writes normally.

use std::path::{Path, PathBuf};

use trendlog::format::log::scan_log;
use trendlog::time::TimeRange;
use trendlog::{Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;
const TAGS: [&str; 3] = ["metoo", "timesup", "été"];

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        // Small preallocation: every cut copies the store.
        .log_file_bytes(4096)
}

fn all() -> TimeRange {
    TimeRange::new(T0, T0 + 86_400).unwrap()
}

/// The batches: batch `b` adds `(b + 1) * (i + 1)` to tag `i` in minute `b`,
/// with a source position.
fn write_batches(store: &Store, n: usize) {
    for b in 0..n {
        let mut batch = store.batch();
        for (i, t) in TAGS.iter().enumerate() {
            batch
                .add(t, T0 + b as i64 * 60 + 5, ((b + 1) * (i + 1)) as u64)
                .unwrap();
        }
        batch
            .set_source_position(format!("pos-{b}").into_bytes())
            .unwrap();
        batch.commit().unwrap();
    }
}

fn expected(n_batches: usize) -> Vec<u64> {
    (0..TAGS.len())
        .map(|i| (0..n_batches).map(|b| ((b + 1) * (i + 1)) as u64).sum())
        .collect()
}

fn totals(store: &Store) -> Vec<u64> {
    TAGS.iter()
        .map(|t| store.total(t, all()).unwrap())
        .collect()
}

/// The store's files after `sync` as a crash leaves them (no clean close, so
/// the manifest records no durability point past the log's first bytes): a
/// torn tail is only possible after a crash. After a clean close the same
/// damage is corruption (`tests/clean_close_proves_every_byte.rs`).
fn crash_image(store: Store, from: &Path) -> tempfile::TempDir {
    store.sync().unwrap();
    let to = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.path().join(e.file_name())).unwrap();
    }
    drop(store);
    to
}

fn active_log(dir: &Path) -> PathBuf {
    let store = Store::open_read_only(dir).unwrap();
    let segs = store.snapshot().segments();
    let log = segs.last().unwrap();
    assert_eq!(log.resolution, "log");
    dir.join(&log.file)
}

/// How the damaged tail looks on disk.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// The file ends at the cut (its preallocation is gone too).
    Truncate,
    /// The file keeps its length; everything from the cut on reads as zeros.
    Zero,
}

#[test]
fn torn_tail_is_cut_at_every_offset_of_the_last_block() {
    const N: usize = 4;
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(live.path(), opts()).unwrap();
    write_batches(&store, N);
    let dir = crash_image(store, live.path());

    let log_path = active_log(dir.path());
    let original = std::fs::read(&log_path).unwrap();
    let scan = scan_log(&original);
    assert_eq!(scan.blocks.len(), N);
    let (last_off, last_len) = *scan.blocks.last().unwrap();
    let (last_off, last_len) = (last_off as usize, last_len as usize);

    let work = tempfile::tempdir().unwrap();
    let mut cuts_checked = 0;
    for damage in [Damage::Truncate, Damage::Zero] {
        for cut in last_off..last_off + last_len {
            // A fresh copy of the store for each cut.
            let d = work.path().join(format!("{damage:?}-{cut}"));
            std::fs::create_dir(&d).unwrap();
            for e in std::fs::read_dir(dir.path()).unwrap() {
                let e = e.unwrap();
                std::fs::copy(e.path(), d.join(e.file_name())).unwrap();
            }
            let lp = d.join(log_path.file_name().unwrap());
            let damaged = match damage {
                Damage::Truncate => original[..cut].to_vec(),
                Damage::Zero => {
                    let mut v = original.clone();
                    v[cut..].fill(0);
                    v
                }
            };
            std::fs::write(&lp, &damaged).unwrap();
            // Zeroing bytes that were zero already (high bytes of small
            // counts) leaves the block whole.
            let intact = damaged.get(last_off..last_off + last_len)
                == Some(&original[last_off..last_off + last_len]);
            let whole = if intact { N } else { N - 1 };
            // Non-zero bytes of the partial block that an open must cut.
            let garbage = if intact {
                0
            } else {
                original[last_off..cut]
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(0, |p| p + 1) as u64
            };
            let ctx = format!("{damage:?} at {cut} (last block {last_off}+{last_len})");

            // Read-only: sees the whole blocks, reports the tail, changes nothing.
            let ro = Store::open_read_only(&d).unwrap();
            assert_eq!(totals(&ro), expected(whole), "{ctx}");
            assert_eq!(ro.recovery().blocks_replayed, whole as u64, "{ctx}");
            assert_eq!(ro.recovery().log_tail_bytes_cut, garbage, "{ctx}");
            assert_eq!(
                ro.source_position(),
                Some(format!("pos-{}", whole - 1).into_bytes()),
                "{ctx}"
            );
            drop(ro);
            assert_eq!(
                std::fs::read(&lp).unwrap(),
                damaged,
                "read-only open wrote: {ctx}"
            );

            // Writable: cuts the tail and reports it.
            let store = Store::open(&d, opts()).unwrap();
            let rec = store.recovery().clone();
            assert_eq!(rec.blocks_replayed, whole as u64, "{ctx}");
            assert_eq!(rec.log_tail_bytes_cut, garbage, "{ctx}");
            // A preallocated log found shorter than its recorded length was
            // truncated: that is reported whatever the cut hit.
            let truncated = matches!(damage, Damage::Truncate);
            assert_eq!(rec.log_truncated_bytes > 0, truncated, "{ctx}: {rec:?}");
            assert_eq!(rec.is_clean(), garbage == 0 && !truncated, "{ctx}: {rec:?}");
            assert_eq!(totals(&store), expected(whole), "{ctx}");
            assert_eq!(
                store.source_position(),
                Some(format!("pos-{}", whole - 1).into_bytes()),
                "{ctx}"
            );
            // The repaired store takes the lost batch again, durably.
            if !intact {
                let mut batch = store.batch();
                for (i, t) in TAGS.iter().enumerate() {
                    batch
                        .add(t, T0 + (N - 1) as i64 * 60 + 5, (N * (i + 1)) as u64)
                        .unwrap();
                }
                batch.commit().unwrap();
            }
            store.close().unwrap();

            let store = Store::open(&d, opts()).unwrap();
            assert!(store.recovery().is_clean(), "{ctx}: {:?}", store.recovery());
            assert_eq!(totals(&store), expected(N), "{ctx}");
            drop(store);
            std::fs::remove_dir_all(&d).unwrap();
            cuts_checked += 1;
        }
    }
    assert_eq!(cuts_checked, 2 * last_len);
}
