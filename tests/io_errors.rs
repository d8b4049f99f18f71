//! An injected failure of write, fsync, allocate, rename, create or directory
//! fsync surfaces as a typed `Error::Io`; after a failed write-path step the
//! store refuses further writes with `Error::Poisoned` until reopened; and it
//! never reports success for data it could not make durable: a reopen (after
//! a power loss, too) holds every acknowledged batch exactly once.

mod common;

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use common::{add, read_hours, HourMap, Rng, T0, TAGS};
use trendlog::{Error, Options, Store, SyncPolicy};
use trendlog_testkit::sim::{CrashMode, OpKind, SimFs};

const DIR: &str = "/db";

fn opts(policy: SyncPolicy, fs: &SimFs) -> Options {
    Options::default()
        .sync_policy(policy)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3600)))
        .seal_cells(30)
        .log_file_bytes(4096)
        .vfs(Arc::new(fs.clone()))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Commit,
    Sync,
    Seal,
    Compact,
}

/// Arms `kind` to fail before the `arm_at`-th step of a workload, then runs
/// it. Checks the error type, the poisoning, and what a reopen (plain and
/// after power loss) holds. Returns whether the fault fired.
fn scenario(policy: SyncPolicy, kind: OpKind, err: ErrorKind, arm_at: usize, phase: Phase) -> bool {
    let fs = SimFs::new();
    let store = Store::open(DIR, opts(policy, &fs)).unwrap();
    let mut rng = Rng(arm_at as u64 * 31 + kind as u64);
    let mut states: Vec<HourMap> = vec![HourMap::new()];
    let mut acked = 0usize;
    let mut fired = None;
    for step in 0..40usize {
        let this = match step % 4 {
            0 | 1 => Phase::Commit,
            2 => {
                if step % 8 == 2 {
                    Phase::Sync
                } else {
                    Phase::Seal
                }
            }
            _ => Phase::Compact,
        };
        let arm =
            step >= arm_at && this == phase && fired.is_none() && fs.faults().fail_next.is_empty();
        if arm {
            fs.fail_next(kind, err);
        }
        let r = match this {
            Phase::Commit => {
                let mut b = store.batch();
                let mut next = states.last().unwrap().clone();
                for _ in 0..1 + rng.below(5) {
                    let t = rng.below(TAGS.len() as u64) as usize;
                    let ts = T0 + step as i64 * 1200 + rng.below(1200) as i64;
                    b.add(TAGS[t], ts, 1).unwrap();
                    add(&mut next, TAGS[t], ts, 1);
                }
                states.push(next);
                let r = b.commit().map(|_| ());
                if r.is_ok() && policy == SyncPolicy::EveryBatch {
                    acked = states.len() - 1;
                }
                r
            }
            Phase::Sync => store.sync().map(|_| acked = states.len() - 1),
            Phase::Seal => store.seal().map(|_| acked = states.len() - 1),
            Phase::Compact => store.compact().map(|_| ()),
        };
        if arm && fs.faults().fail_next.is_empty() {
            fired = Some(step);
        } else if arm {
            // This step did not use that kind of operation: disarm, go on.
            fs.set_faults(Default::default());
        }
        match r {
            Ok(()) if fired == Some(step) => {
                // Only a commit may succeed over a failure: the batch was
                // committed and the seal after it failed. The store must be
                // poisoned, so the failure is reported by the next call.
                assert_eq!(
                    this,
                    Phase::Commit,
                    "{kind:?} failed during {this:?} but the call reported success"
                );
                assert!(
                    matches!(store.sync(), Err(Error::Poisoned { .. })),
                    "{kind:?}: a seal after a commit failed but the store is not poisoned"
                );
                break;
            }
            Ok(()) => {}
            Err(e) => {
                assert_eq!(fired, Some(step), "unexpected error at step {step}: {e}");
                match &e {
                    Error::Io { source, path } => {
                        assert_eq!(source.kind(), err, "{e}");
                        assert!(path.starts_with(DIR), "{e}: the path names no store file");
                    }
                    other => panic!("{kind:?} during {this:?}: expected Error::Io, got {other:?}"),
                }
                // The store is now poisoned for writes.
                for tag in TAGS {
                    // A known tag reaches commit; a new one is refused by add.
                    let c = store.record(tag, T0, 1);
                    assert!(
                        matches!(c, Err(Error::Poisoned { .. })),
                        "{kind:?} in {this:?} ({policy:?}, arm {arm_at}): record after {e} gave {c:?}"
                    );
                }
                assert!(
                    matches!(store.sync(), Err(Error::Poisoned { .. })),
                    "sync after {e}"
                );
                assert!(
                    matches!(store.seal(), Err(Error::Poisoned { .. })),
                    "seal after {e}"
                );
                assert!(
                    matches!(store.compact(), Err(Error::Poisoned { .. })),
                    "compact after {e}"
                );
                // Queries still work.
                read_hours(&store).unwrap();
                break;
            }
        }
    }
    let attempted = states.len() - 1;
    let disk = fs.clone();
    drop(store);
    // Power loss now, and a plain reopen of the same disk: both hold a
    // prefix of the batches that covers everything acknowledged.
    let mut disks = vec![("reopen", disk.crash(CrashMode::TearLast, 0))];
    let modes: &[CrashMode] = if policy == SyncPolicy::Manual {
        &[
            CrashMode::DropUnsynced,
            CrashMode::TearLast,
            CrashMode::KeepSome,
        ]
    } else {
        &[CrashMode::DropUnsynced, CrashMode::KeepSome]
    };
    for &mode in modes {
        disks.push(("power loss", disk.crash(mode, arm_at as u64)));
    }
    for (what, d) in disks {
        let s = Store::open(DIR, opts(policy, &d))
            .unwrap_or_else(|e| panic!("{kind:?}/{phase:?}/{arm_at}: {what} failed: {e}"));
        let got = read_hours(&s).unwrap();
        assert!(
            (acked..=attempted).any(|k| states[k] == got),
            "{kind:?} failing in {phase:?} at {arm_at} ({policy:?}), {what}: holds no prefix of \
             batches {acked}..={attempted}: {got:?}"
        );
        // And it is writable again.
        s.record("metoo", T0, 1).unwrap();
        s.close().unwrap();
    }
    fired.is_some()
}

#[test]
fn injected_failures_are_typed_poison_and_lose_nothing_acknowledged() {
    let mut fired = 0;
    let mut ran = 0;
    for policy in [SyncPolicy::Manual, SyncPolicy::EveryBatch] {
        for (kind, err) in [
            (OpKind::Write, ErrorKind::Other),
            (OpKind::Write, ErrorKind::StorageFull),
            (OpKind::Allocate, ErrorKind::StorageFull),
            (OpKind::Sync, ErrorKind::Other),
            (OpKind::Rename, ErrorKind::Other),
            (OpKind::Create, ErrorKind::Other),
            (OpKind::SyncDir, ErrorKind::Other),
        ] {
            for phase in [Phase::Commit, Phase::Sync, Phase::Seal, Phase::Compact] {
                for arm_at in [0, 5, 13, 22, 31] {
                    ran += 1;
                    if scenario(policy, kind, err, arm_at, phase) {
                        fired += 1;
                    }
                }
            }
        }
    }
    eprintln!("io_errors: {ran} scenarios, {fired} injected failures surfaced and were checked");
    assert!(fired > 40, "too few faults fired: {fired}");
}

/// A failed fsync must not be retried into a false success (Linux drops the
/// dirty pages of a failed fsync): after it, sync() keeps failing, and the
/// batches it covered are not acknowledged.
#[test]
fn failed_fsync_is_never_retried_into_success() {
    let fs = SimFs::new();
    let store = Store::open(DIR, opts(SyncPolicy::Manual, &fs)).unwrap();
    store.record("metoo", T0, 5).unwrap();
    store.sync().unwrap();
    store.record("metoo", T0, 7).unwrap();
    fs.fail_next(OpKind::Sync, ErrorKind::Other);
    assert!(matches!(store.sync(), Err(Error::Io { .. })));
    for _ in 0..3 {
        assert!(matches!(store.sync(), Err(Error::Poisoned { .. })));
    }
    assert!(matches!(store.close(), Err(Error::Poisoned { .. })));
    let after = fs.crash(CrashMode::DropUnsynced, 0);
    let s = Store::open(DIR, opts(SyncPolicy::Manual, &after)).unwrap();
    assert_eq!(s.total("metoo", common::full_range()).unwrap(), 5);
}

/// A failed delete of an old file after the manifest switch is not an
/// error (the file is an orphan) and the next open removes it.
#[test]
fn failed_remove_leaves_an_orphan_that_open_removes() {
    let fs = SimFs::new();
    let store = Store::open(DIR, opts(SyncPolicy::Manual, &fs)).unwrap();
    store.record("metoo", T0, 5).unwrap();
    fs.fail_next(OpKind::Remove, ErrorKind::Other);
    store.seal().unwrap();
    store.close().unwrap();
    let s = Store::open(DIR, opts(SyncPolicy::Manual, &fs)).unwrap();
    assert_eq!(s.recovery().orphan_files_removed, 1, "{:?}", s.recovery());
    assert_eq!(s.total("metoo", common::full_range()).unwrap(), 5);
}
