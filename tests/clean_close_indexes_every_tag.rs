//! A clean close leaves `tags.idx` covering every tag in `tags.dict`, so the
//! next open reads no dictionary entry past the index; a seal in the middle
//! of a stream may leave up to a 64th of the tags out. The index a close
//! writes by merging is the one a whole build gives, and answers agree.

use std::path::Path;

use trendlog::format::dict_index::{encode_dict_index, DictIndexView};
use trendlog::time::TimeRange;
use trendlog::{Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
}

fn add_tags(s: &Store, from: usize, to: usize, minute: i64) {
    let mut b = s.batch();
    for i in from..to {
        b.add(&format!("tag{i:05}"), T0 + minute * 60, i as u64 % 5 + 1)
            .unwrap();
    }
    b.commit().unwrap();
}

/// The number of tags `tags.idx` indexes.
fn indexed(dir: &Path) -> u32 {
    let bytes = std::fs::read(dir.join("tags.idx")).unwrap();
    DictIndexView::open(&bytes[..]).unwrap().len()
}

fn totals(dir: &Path, n: usize) -> Vec<u64> {
    let s = Store::open_read_only_with(dir, opts()).unwrap();
    let snap = s.snapshot();
    let all = TimeRange::new(T0, T0 + 7200).unwrap();
    (0..n)
        .map(|i| snap.total(&format!("tag{i:05}"), all).unwrap())
        .collect()
}

#[test]
fn a_clean_close_indexes_the_tags_a_seal_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), opts()).unwrap();
    add_tags(&s, 0, 20_000, 0);
    s.sync().unwrap();
    s.seal().unwrap();
    assert_eq!(indexed(dir.path()), 20_000);
    // 200 new tags: under the seal's threshold (256 and a 64th).
    add_tags(&s, 20_000, 20_200, 61);
    s.sync().unwrap();
    s.seal().unwrap();
    assert_eq!(indexed(dir.path()), 20_000);
    s.close().unwrap();
    assert_eq!(indexed(dir.path()), 20_200);

    let dict = std::fs::read(dir.path().join("tags.dict")).unwrap();
    let whole = encode_dict_index(&dict, dict.len() as u64, {
        let bytes = std::fs::read(dir.path().join("tags.idx")).unwrap();
        DictIndexView::open(&bytes[..]).unwrap().store_id()
    })
    .unwrap()
    .unwrap();
    assert!(std::fs::read(dir.path().join("tags.idx")).unwrap() == whole);

    let want: Vec<u64> = (0..20_200).map(|i| i as u64 % 5 + 1).collect();
    assert_eq!(totals(dir.path(), 20_200), want);
    assert!(trendlog::verify::verify(dir.path(), &opts())
        .unwrap()
        .is_clean());
}

#[test]
fn a_store_dropped_without_close_indexes_every_tag_too() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), opts()).unwrap();
        add_tags(&s, 0, 3_000, 0);
        s.sync().unwrap();
        s.seal().unwrap();
        add_tags(&s, 3_000, 3_010, 5);
    }
    assert_eq!(indexed(dir.path()), 3_010);
    let want: Vec<u64> = (0..3_010).map(|i| i as u64 % 5 + 1).collect();
    assert_eq!(totals(dir.path(), 3_010), want);
}
