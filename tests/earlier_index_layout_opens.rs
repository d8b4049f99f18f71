//! A store whose `tags.idx` copies every name (the index layout written before
//! names were read from `tags.dict` in place; committed under
//! `tests/fixtures/v2-names-index-store/` with the answers that code gave)
//! opens, read-only and writable, and answers exactly as it did; its next seal
//! rewrites the index without the names, and the answers stay the same.

use std::path::Path;
use std::time::Duration;

use trendlog::format::dict_index::{DictIndexView, LAYOUT_DICT_PAGES, LAYOUT_NAMES_INSIDE};
use trendlog::time::{Step, TimeRange};
use trendlog::{Options, Store, SyncPolicy};

/// 2017-10-15T00:00:00Z, the fixture's first minute.
const T0: i64 = 1_508_025_600;

/// The options the fixture was written with.
fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(12 * 3600)))
        .seal_after(Duration::from_secs(6 * 3600))
        .log_file_bytes(4096)
}

fn fixture() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2-names-index-store");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

/// The tags the fixture was written with, then those after its index, then
/// one it never saw.
fn tags() -> Vec<String> {
    let mut v: Vec<String> = [
        "metoo",
        "metoo2017",
        "me",
        "rust",
        "rustlang",
        "café",
        "日本語",
        "z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend((0..300).map(|i| format!("tag{:03}", (i * 37) % 300)));
    v.extend(["metoo-late", "rusty", "tail1", "absent"].map(String::from));
    v
}

/// The answers in the fixture's text form: one line per question.
fn answers(store: &Store) -> String {
    let snap = store.snapshot();
    let all = TimeRange::new(T0, T0 + 86400).unwrap();
    let mut out = String::new();
    for t in &tags() {
        out += &format!("total {t} {}\n", snap.total(t, all).unwrap());
        let p = snap.series(t, all, Step::Hour).unwrap().points;
        out += &format!("series {t} {p:?}\n");
    }
    let top: Vec<_> = snap
        .top(all, 10)
        .unwrap()
        .into_iter()
        .map(|r| (r.tag, r.count))
        .collect();
    out += &format!("top {top:?}\n");
    out
}

/// Every tag the fixture holds, in id order (first appearance).
fn id_order() -> Vec<String> {
    let mut v = tags();
    assert_eq!(v.pop().as_deref(), Some("absent"));
    v
}

fn expected() -> String {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2-names-index-store.answers");
    std::fs::read_to_string(p).unwrap()
}

fn layout(dir: &Path) -> (u32, u64) {
    let b = std::fs::read(dir.join("tags.idx")).unwrap();
    let ix = DictIndexView::open(&b[..]).unwrap();
    (ix.layout(), b.len() as u64)
}

fn assert_clean(dir: &Path) {
    let report = trendlog::verify::verify(dir, &opts()).unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn an_index_holding_names_answers_as_before_and_is_rewritten_without_them() {
    let dir = fixture();
    let (was, old_len) = layout(dir.path());
    assert_eq!(was, LAYOUT_NAMES_INSIDE);
    assert_clean(dir.path());
    let ro = Store::open_read_only_with(dir.path(), opts()).unwrap();
    assert_eq!(answers(&ro), expected());
    assert_eq!(ro.snapshot().tags(), id_order());
    drop(ro);

    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().is_clean(), "{:?}", store.recovery());
    assert_eq!(answers(&store), expected());
    store.seal().unwrap();
    assert_eq!(answers(&store), expected());
    store.close().unwrap();

    let (now, new_len) = layout(dir.path());
    assert_eq!(now, LAYOUT_DICT_PAGES, "the seal rewrites the index");
    assert!(new_len < old_len, "{new_len} bytes, not below {old_len}");
    assert_clean(dir.path());
    let ro = Store::open_read_only_with(dir.path(), opts()).unwrap();
    assert_eq!(answers(&ro), expected());
    assert_eq!(ro.snapshot().tags(), id_order());
}
