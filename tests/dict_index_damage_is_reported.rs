//! Damage to the dictionary index (`tags.idx`) or to a `tags.dict` entry it
//! covers never yields a wrong answer: every query answers exactly or fails
//! with `Error::Corrupted`, and `verify` reports the damage.

mod common;

use std::path::Path;

use trendlog::time::TimeRange;
use trendlog::{Error, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
}

fn tags() -> Vec<String> {
    (0..600).map(|i| format!("tag{i:05}")).collect()
}

fn build(dir: &Path) {
    let s = Store::open(dir, opts()).unwrap();
    let mut b = s.batch();
    for (i, t) in tags().iter().enumerate() {
        b.add(t, T0 + (i as i64 % 60) * 60, i as u64 % 7 + 1)
            .unwrap();
    }
    b.commit().unwrap();
    s.sync().unwrap();
    s.seal().unwrap();
    s.close().unwrap();
    assert!(dir.join("tags.idx").exists());
}

/// Every tag's total, or the corruption error that stopped the queries.
fn answers(dir: &Path) -> Result<Vec<u64>, Error> {
    let s = Store::open_read_only_with(dir, opts())?;
    let all = TimeRange::new(T0, T0 + 3600).unwrap();
    let snap = s.snapshot();
    let mut v = tags()
        .iter()
        .map(|t| snap.total(t, all))
        .collect::<Result<Vec<_>, _>>()?;
    v.extend(snap.top(all, 5)?.into_iter().map(|r| r.count));
    Ok(v)
}

fn check(dir: &Path, file: &str, at: usize, want: &[u64]) {
    common::flip_is_refused_or_exact(dir, (file, at), want, answers, &opts());
}

#[test]
fn damaged_index_or_indexed_entry_is_refused_or_exact_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let want = answers(dir.path()).unwrap();
    assert!(trendlog::verify::verify(dir.path(), &opts())
        .unwrap()
        .is_clean());
    let idx_len = std::fs::metadata(dir.path().join("tags.idx"))
        .unwrap()
        .len() as usize;
    for at in (0..idx_len).step_by(13) {
        check(dir.path(), "tags.idx", at, &want);
    }
    // Entries of tags.dict that the index covers (past its 16-byte header).
    let dict_len = std::fs::metadata(dir.path().join("tags.dict"))
        .unwrap()
        .len() as usize;
    for at in (16..dict_len).step_by(41) {
        check(dir.path(), "tags.dict", at, &want);
    }
}
