//! A full disk during ingest or compaction is a typed out-of-space error
//! (`Error::Io` whose source kind is `StorageFull`), never a SIGBUS or a
//! silent loss: after space is freed, a reopen finds every synced event.
//! Runs on a real 4 MiB tmpfs when root can mount one (skipped with a message
//! otherwise) and always on SimFs with a capacity.

mod common;

use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{read_hours, HourMap, Rng, T0, TAGS};
use trendlog::{Error, Options, Store, SyncPolicy};
use trendlog_testkit::sim::SimFs;

/// The typed out-of-space error, or (when the disk filled in the seal after a
/// batch that was already committed, so the commit itself succeeded) the
/// poisoning it caused, which names it.
fn is_full(e: &Error) -> bool {
    match e {
        Error::Io { source, .. } => source.kind() == ErrorKind::StorageFull,
        Error::Poisoned { reason } => reason.contains("out of disk space"),
        _ => false,
    }
}

fn base_opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::EveryBatch)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3600)))
        .seal_cells(400)
        .log_file_bytes(64 << 10)
}

/// Ingests until the disk is full; returns the acknowledged state and the error.
fn fill(store: &Store, rng: &mut Rng, synced: &mut HourMap, start: i64) -> Error {
    for i in 0.. {
        let mut b = store.batch();
        let mut delta = Vec::new();
        for k in 0..20 {
            let tag = format!("{}{}", TAGS[rng.below(6) as usize], rng.below(500));
            let ts = start + i * 6 + k / 4;
            b.add(&tag, ts, 1).unwrap();
            delta.push((common::norm(&tag), (ts / 3600) as u32));
        }
        match b.commit() {
            Ok(_) => {
                for key in delta {
                    *synced.entry(key).or_default() += 1;
                }
            }
            Err(e) => return e,
        }
        if i % 40 == 39 {
            if let Err(e) = store.seal() {
                return e;
            }
        }
    }
    unreachable!()
}

fn totals(store: &Store, keys: &HourMap) -> HourMap {
    let range = trendlog::time::TimeRange::new(T0 - 86_400, T0 + 60 * 86_400).unwrap();
    let mut tags: Vec<&String> = keys.keys().map(|(t, _)| t).collect();
    tags.dedup();
    let snap = store.snapshot();
    let mut out = HourMap::new();
    for t in tags {
        let s = snap.series(t, range, trendlog::time::Step::Hour).unwrap();
        for (start, c) in s.points {
            if c > 0 {
                out.insert((t.clone(), (start / 3600) as u32), c);
            }
        }
    }
    out
}

/// Asserts two states are equal, printing only a summary of the difference.
fn same(got: &HourMap, want: &HourMap, what: &str) {
    if got != want {
        let missing = want.iter().filter(|(k, v)| got.get(*k) != Some(*v)).count();
        let extra = got.iter().filter(|(k, v)| want.get(*k) != Some(*v)).count();
        let g: u64 = got.values().sum();
        let w: u64 = want.values().sum();
        panic!("{what}: {missing} cells differ from the synced state, {extra} unexpected; total {g} vs {w}");
    }
}

fn clean(m: &HourMap) -> HourMap {
    m.iter()
        .filter(|(_, &c)| c > 0)
        .map(|(k, c)| (k.clone(), *c))
        .collect()
}

/// The scenario on any file system: fill during ingest, free space, reopen;
/// fill during compaction, free, reopen.
fn scenario(dir: &Path, opts: Options, free: &dyn Fn(), refill: &dyn Fn()) -> (u64, u64) {
    let mut rng = Rng(3);
    let mut synced = HourMap::new();
    let store = Store::open(dir, opts.clone()).unwrap();
    let e = fill(&store, &mut rng, &mut synced, T0);
    assert!(
        is_full(&e) || matches!(e, Error::Poisoned { .. }),
        "ingest on a full disk: {e:?}"
    );
    assert!(
        is_full(&e),
        "the first error must be the out-of-space one: {e}"
    );
    assert!(e.to_string().contains("out of disk space"), "{e}");
    eprintln!("full_disk: ingest stopped with: {e}");
    assert!(matches!(
        store.record("x", T0, 1),
        Err(Error::Poisoned { .. })
    ));
    drop(store);
    free();
    let store = Store::open(dir, opts.clone()).expect("reopen after freeing space");
    same(
        &totals(&store, &synced),
        &clean(&synced),
        "after a full disk during ingest",
    );
    let ingest_events: u64 = synced.values().sum();
    // Now fill it again with data that will need compaction, then compact on a full disk.
    let e = fill(&store, &mut rng, &mut synced, T0 + 4 * 3600);
    assert!(is_full(&e), "{e}");
    drop(store);
    free();
    let store = Store::open(dir, opts.clone()).unwrap();
    store.seal().unwrap();
    refill();
    let r = store.compact();
    let compact_full = match &r {
        Err(e) => {
            assert!(is_full(e), "compaction on a full disk: {e:?}");
            1
        }
        Ok(rep) => {
            eprintln!("full_disk: compaction found room anyway: {rep:?}");
            0
        }
    };
    drop(store);
    free();
    let store = Store::open(dir, opts).unwrap();
    same(
        &totals(&store, &synced),
        &clean(&synced),
        "after a full disk during compaction",
    );
    store.compact().unwrap();
    same(
        &totals(&store, &synced),
        &clean(&synced),
        "after compacting with room again",
    );
    let _ = read_hours(&store).unwrap();
    (ingest_events, compact_full)
}

#[test]
fn simfs_capacity() {
    let fs = SimFs::new();
    let cap = 1 << 20;
    fs.set_capacity(Some(cap));
    let f2 = fs.clone();
    let f3 = fs.clone();
    let opts = base_opts().vfs(Arc::new(fs.clone()));
    let (events, compact_full) = scenario(
        Path::new("/db"),
        opts,
        &move || f2.set_capacity(Some(f2.used_bytes() + (256 << 10))),
        &move || f3.set_capacity(Some(f3.used_bytes() + 300)),
    );
    eprintln!(
        "full_disk SimFs ({cap} bytes): {events} events survived a full disk during ingest; \
         compaction hit it: {compact_full}"
    );
}

#[test]
fn real_tmpfs() {
    let Some(mnt) = trendlog_testkit::tmpfs::Tmpfs::mount("4m", "full_disk real_tmpfs") else {
        return;
    };
    let dir = mnt.path().join("db");
    // Ballast files: freeing space deletes one.
    for i in 0..3 {
        std::fs::write(
            mnt.path().join(format!("ballast-{i}")),
            vec![1u8; 700 << 10],
        )
        .unwrap();
    }
    let free = || {
        for i in 0..3 {
            if std::fs::remove_file(mnt.path().join(format!("ballast-{i}"))).is_ok() {
                return;
            }
        }
    };
    // Fill what is left, leaving no room for a compaction's output.
    let filler = mnt.path().join("filler");
    let refill = || {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![1u8; 512];
        use std::io::Write;
        while f.write_all(&chunk).and_then(|_| f.flush()).is_ok() {}
        let _ = f.sync_all();
    };
    let (events, compact_full) = scenario(&dir, base_opts(), &free, &refill);
    eprintln!(
        "full_disk tmpfs (4 MiB): {events} events survived a full disk during ingest; \
         compaction hit it: {compact_full}; no SIGBUS"
    );
}
