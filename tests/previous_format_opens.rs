//! A store written by the previous on-disk format (version 1, committed under
//! `tests/fixtures/v1-store/` together with the answers that version gave) opens
//! and answers exactly as it did, verifies clean, and keeps answering exactly
//! after it is written to, sealed and compacted by this version.

use std::path::Path;
use std::time::Duration;

use trendlog::time::{Step, TimeRange};
use trendlog::{Options, Store, SyncPolicy, TrendQuery};

/// 2017-10-15T00:00:00Z, the first day of the fixture.
const T0: i64 = 1_508_025_600;
const TAGS: [&str; 8] = [
    "metoo", "timesup", "rust", "café", "news", "late", "brandnew", "absent",
];

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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-store");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

/// The answers in the fixture's text form: one line per question.
fn answers(store: &Store, trending: bool) -> String {
    let snap = store.snapshot();
    let mut out = String::new();
    let all = TimeRange::new(T0, T0 + 3 * 86400).unwrap();
    let recent = TimeRange::new(T0 + 2 * 86400 - 3 * 3600, T0 + 2 * 86400 + 600).unwrap();
    for t in TAGS {
        out += &format!("total {t} {}\n", snap.total(t, all).unwrap());
        for (step, r) in [(Step::Hour, all), (Step::Day, all), (Step::Minute, recent)] {
            let p = snap.series(t, r, step).unwrap().points;
            out += &format!("series {t} {step:?} {p:?}\n");
        }
    }
    let top: Vec<_> = snap
        .top(all, 5)
        .unwrap()
        .into_iter()
        .map(|r| (r.tag, r.count))
        .collect();
    out += &format!("top {top:?}\n");
    if trending {
        let q = TrendQuery {
            k: 5,
            min_count: 1,
            baseline: Duration::from_secs(6 * 3600),
            ..TrendQuery::default()
        };
        let tr: Vec<_> = snap
            .trending(&q)
            .unwrap()
            .into_iter()
            .map(|r| (r.tag, r.recent, r.baseline, r.growth))
            .collect();
        out += &format!("trending {tr:?}\n");
    }
    out
}

fn expected(trending: bool) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-store.answers");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| trending || !l.starts_with("trending "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn assert_clean(dir: &Path) {
    let report = trendlog::verify::verify(dir, &opts()).unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn v1_store_answers_as_v1_did() {
    let dir = fixture();
    assert!(!dir.path().join("tags.idx").exists());
    assert_clean(dir.path());
    let ro = Store::open_read_only_with(dir.path(), opts()).unwrap();
    assert_eq!(answers(&ro, true), expected(true));
    drop(ro);
    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().is_clean(), "{:?}", store.recovery());
    assert_eq!(answers(&store, true), expected(true));
    // Twice: the second trending uses whatever the first one cached.
    assert_eq!(answers(&store, true), expected(true));
}

#[test]
fn v1_store_is_upgraded_by_seal_and_compaction() {
    let dir = fixture();
    let store = Store::open(dir.path(), opts()).unwrap();
    let mut b = store.batch();
    b.add("fresh", T0 + 2 * 86400 + 300, 3).unwrap();
    b.add("rust", T0 + 2 * 86400 + 300, 1).unwrap();
    b.commit().unwrap();
    store.sync().unwrap();
    store.seal().unwrap();
    store.compact().unwrap();
    let check = |store: &Store| {
        let mut want = expected(false);
        let all = TimeRange::new(T0, T0 + 3 * 86400).unwrap();
        // "rust" gained 1 at the minute after the fixture's last one.
        want = want.replace("total rust 284", "total rust 285");
        let got = answers(store, false);
        for (g, w) in got.lines().zip(want.lines()) {
            if g.starts_with("series rust") {
                continue;
            }
            assert_eq!(g, w);
        }
        let snap = store.snapshot();
        assert_eq!(snap.total("fresh", all).unwrap(), 3);
        assert_eq!(snap.total("rust", all).unwrap(), 285);
        let q = TrendQuery {
            k: 10,
            min_count: 1,
            baseline: Duration::from_secs(6 * 3600),
            ..TrendQuery::default()
        };
        let tr = snap.trending(&q).unwrap();
        assert!(
            tr.iter().any(|r| r.tag == "fresh" && r.recent == 3),
            "{tr:?}"
        );
    };
    check(&store);
    drop(store);
    assert!(
        dir.path().join("tags.idx").exists(),
        "the first seal indexes the dictionary"
    );
    assert_clean(dir.path());
    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().is_clean(), "{:?}", store.recovery());
    check(&store);
    // A second round of writes on the upgraded store.
    store.record("fresh", T0 + 2 * 86400 + 360, 1).unwrap();
    store.sync().unwrap();
    store.seal().unwrap();
    store.compact().unwrap();
    drop(store);
    assert_clean(dir.path());
    let store = Store::open_read_only_with(dir.path(), opts()).unwrap();
    let all = TimeRange::new(T0, T0 + 3 * 86400).unwrap();
    assert_eq!(store.snapshot().total("fresh", all).unwrap(), 4);
    assert_eq!(store.snapshot().total("metoo", all).unwrap(), 1102);
}
