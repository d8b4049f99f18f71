//! Batches of a labelled store (format version 5) built on other threads while
//! one commits: a commit's series may only name tags that reach `tags.dict`
//! no later than they do. A copy of the files right after each acknowledged
//! commit (what `kill -9` leaves) holds every committed batch, and `verify`
//! finds nothing wrong with it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use trendlog::labels::{Filter, LabelKeys};
use trendlog::time::TimeRange;
use trendlog::{verify, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_commit_never_writes_series_whose_tags_it_has_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let opts = Options::default()
        .label_keys(LabelKeys::parse("region").unwrap())
        .sync_policy(SyncPolicy::EveryBatch)
        .background_compaction(false);
    let store = Store::open(&live, opts).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Other threads intern new tags and series (in batches they drop, so
    // only the commits below write them).
    let others: Vec<_> = (0..2)
        .map(|t| {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut b = store.batch();
                    for i in 0..5 {
                        let tag = format!("other{t}_{n}_{i}");
                        b.add_labelled(&tag, &[("region", "x")], T0, 1).unwrap();
                    }
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            })
        })
        .collect();
    let all = TimeRange::new(T0, T0 + 86_400).unwrap();
    let kept = Filter::parse(&["region=kept"]).unwrap();
    for k in 0..40i64 {
        let mut b = store.batch();
        b.add_labelled(&format!("kept{k}"), &[("region", "kept")], T0 + k * 60, 1)
            .unwrap();
        b.commit().unwrap();
        if k % 8 != 7 {
            continue;
        }
        let image = dir.path().join(format!("image{k}"));
        copy_dir(&live, &image);
        let report = verify::verify(&image, &Options::default()).unwrap();
        assert!(report.problems.is_empty(), "after commit {k}: {report:?}");
        let copy = Store::open_read_only(&image).unwrap();
        let snap = copy.snapshot();
        let held: u64 = (0..=k)
            .map(|j| snap.total_where(&format!("kept{j}"), all, &kept).unwrap())
            .sum();
        assert_eq!(held, (k + 1) as u64, "after commit {k}");
        std::fs::remove_dir_all(&image).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for t in others {
        t.join().unwrap();
    }
}

/// A read-only handle answers from the manifest it opened with: its
/// manifest version and durable series stay those while a writer seals
/// more series (`inspect` reads them from the handle, so its lines agree
/// with the segments it lists).
#[test]
fn a_reader_keeps_the_manifest_it_opened_with() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || {
        Options::default()
            .label_keys(LabelKeys::parse("region").unwrap())
            .background_compaction(false)
    };
    let w = Store::open(dir.path(), opts()).unwrap();
    let mut b = w.batch();
    b.add_labelled("metoo", &[("region", "paris")], T0, 5)
        .unwrap();
    b.commit().unwrap();
    w.seal().unwrap();
    let ro = Store::open_read_only(dir.path()).unwrap();
    let mut b = w.batch();
    b.add_labelled("metoo", &[("region", "tokyo")], T0 + 60, 7)
        .unwrap();
    b.commit().unwrap();
    w.seal().unwrap();
    assert_eq!(w.durable_series(), Some(2));
    assert_eq!((ro.manifest_version(), ro.durable_series()), (5, Some(1)));
    let sealed = |s: &Store| s.snapshot().segments().iter().filter(|x| x.sealed).count();
    assert_eq!(sealed(&ro), 1);
    let again = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(
        (again.manifest_version(), again.durable_series()),
        (5, Some(2))
    );
    assert_eq!(sealed(&again), 2);
}
