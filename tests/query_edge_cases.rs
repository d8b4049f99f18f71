//! Queries at the edges answer exactly or fail with a typed error, never NaN,
//! never a panic: empty store, a tag never seen, empty and future ranges, k = 0,
//! k past the number of tags, min_count filtering everything, prior = 0 with an
//! empty baseline (infinity in trending, a typed error for 0/0 in growth),
//! unaligned and reversed ranges.

use std::time::Duration;

use trendlog::time::{Step, TimeRange};
use trendlog::{Error, InvalidInput, Options, Store, SyncPolicy, TrendQuery};

const T0: i64 = 1_508_025_600;
const H: i64 = 3600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
}

fn r(a: i64, b: i64) -> TimeRange {
    TimeRange::new(a, b).unwrap()
}

fn is_query_error<T: std::fmt::Debug>(x: &trendlog::Result<T>) -> bool {
    matches!(x, Err(Error::InvalidInput(InvalidInput::Query(_))))
}

#[test]
fn empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    let snap = store.snapshot();
    assert_eq!(snap.now(), None);
    assert_eq!(snap.now_end(), None);
    assert_eq!(snap.earliest_minute(), None);
    assert_eq!(snap.total("metoo", r(T0, T0 + H)).unwrap(), 0);
    let s = snap.series("metoo", r(T0, T0 + 2 * H), Step::Hour).unwrap();
    assert_eq!(s.points, vec![(T0, 0), (T0 + H, 0)]);
    assert_eq!(s.total, 0);
    assert!(snap.top(r(T0, T0 + H), 10).unwrap().is_empty());
    assert!(snap.trending(&TrendQuery::default()).unwrap().is_empty());
    let q = TrendQuery {
        at: Some(T0),
        min_count: 0,
        ..TrendQuery::default()
    };
    assert!(snap.trending(&q).unwrap().is_empty());
    let st = snap.stats();
    assert_eq!((st.tags, st.cells, st.total_count), (0, 0, 0));
    assert!(snap.tags().is_empty());
    // growth with the default prior is 1 (p / p) for a tag with no events.
    let g = snap
        .growth("metoo", r(T0 + H, T0 + 2 * H), r(T0, T0 + H), 1.0 / 60.0)
        .unwrap();
    assert_eq!(g, 1.0);
}

fn store_with_data() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    let mut b = store.batch();
    // "old" only in the first hour, "new" only in the third, "both" everywhere.
    for m in 0..180 {
        b.add("both", T0 + m * 60, 1).unwrap();
        if m < 60 {
            b.add("old", T0 + m * 60, 2).unwrap();
        }
        if m >= 120 {
            b.add("new", T0 + m * 60, 3).unwrap();
        }
    }
    b.commit().unwrap();
    (dir, store)
}

#[test]
fn tag_never_seen_and_empty_or_future_ranges() {
    let (_dir, store) = store_with_data();
    let snap = store.snapshot();
    assert_eq!(snap.total("never-seen", r(T0, T0 + 3 * H)).unwrap(), 0);
    let s = snap
        .series("never-seen", r(T0, T0 + 3 * H), Step::Hour)
        .unwrap();
    assert_eq!(s.points, vec![(T0, 0), (T0 + H, 0), (T0 + 2 * H, 0)]);
    assert_eq!(s.tag, "never-seen");
    assert_eq!(
        snap.totals(&["both", "never-seen"], r(T0, T0 + 3 * H))
            .unwrap(),
        vec![180, 0]
    );
    // A tag that is invalid as input is a typed error even in a query.
    assert!(matches!(
        snap.total("a b", r(T0, T0 + H)),
        Err(Error::InvalidInput(_))
    ));

    // Empty ranges.
    assert_eq!(snap.total("both", r(T0 + 60, T0 + 60)).unwrap(), 0);
    assert!(snap
        .series("both", r(T0, T0), Step::Hour)
        .unwrap()
        .points
        .is_empty());
    assert!(snap.top(r(T0, T0), 5).unwrap().is_empty());
    // Inside one minute: no minute starts in [T0+1, T0+59).
    assert_eq!(snap.total("both", r(T0 + 1, T0 + 59)).unwrap(), 0);

    // Ranges in the future of the store's now.
    let fut = r(T0 + 10 * H, T0 + 12 * H);
    assert_eq!(snap.total("both", fut).unwrap(), 0);
    assert_eq!(
        snap.series("both", fut, Step::Minute).unwrap().points.len(),
        120
    );
    assert!(snap.top(fut, 5).unwrap().is_empty());
    let q = TrendQuery {
        at: Some(T0 + 30 * H),
        min_count: 1,
        ..TrendQuery::default()
    };
    assert!(snap.trending(&q).unwrap().is_empty());
    // Before any data.
    assert_eq!(snap.total("both", r(0, T0)).unwrap(), 0);
}

#[test]
fn k_zero_and_k_past_the_tag_count() {
    let (_dir, store) = store_with_data();
    let snap = store.snapshot();
    let all = r(T0, T0 + 3 * H);
    assert!(snap.top(all, 0).unwrap().is_empty());
    let q = TrendQuery {
        k: 0,
        min_count: 1,
        ..TrendQuery::default()
    };
    assert!(snap.trending(&q).unwrap().is_empty());
    let top: Vec<(String, u64)> = snap
        .top(all, 1000)
        .unwrap()
        .into_iter()
        .map(|r| (r.tag, r.count))
        .collect();
    // Ties by tag: "both" before "new".
    let want: Vec<(String, u64)> = [("both", 180), ("new", 180), ("old", 120)]
        .iter()
        .map(|&(t, c)| (t.to_string(), c))
        .collect();
    assert_eq!(top, want);
    // Only tags with events in the range are ranked, however large k is.
    let first_hour: Vec<String> = snap
        .top(r(T0, T0 + H), usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| r.tag)
        .collect();
    assert_eq!(first_hour, vec!["old", "both"]);
    let q = TrendQuery {
        k: usize::MAX,
        min_count: 1,
        baseline: Duration::from_secs(2 * 3600),
        ..TrendQuery::default()
    };
    let rows = snap.trending(&q).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}"); // "old" has no recent events
    assert_eq!(rows[0].tag, "new");
}

#[test]
fn min_count_filtering_everything() {
    let (_dir, store) = store_with_data();
    let q = TrendQuery {
        min_count: 1_000_000,
        ..TrendQuery::default()
    };
    assert!(store.trending(&q).unwrap().is_empty());
    let q = TrendQuery {
        min_count: u64::MAX,
        ..TrendQuery::default()
    };
    assert!(store.trending(&q).unwrap().is_empty());
}

#[test]
fn prior_zero_with_a_zero_baseline() {
    let (_dir, store) = store_with_data();
    let snap = store.snapshot();
    let recent = r(T0 + 2 * H, T0 + 3 * H);
    let base = r(T0, T0 + 2 * H);
    // Recent events, empty baseline, p = 0: infinity, as documented.
    assert_eq!(
        snap.growth("new", recent, base, 0.0).unwrap(),
        f64::INFINITY
    );
    // 0 / 0: a typed error, never NaN.
    let g = snap.growth("never-seen", recent, base, 0.0);
    assert!(is_query_error(&g), "{g:?}");
    let g = snap.growth("old", recent, r(T0 + H, T0 + 2 * H), 0.0);
    assert!(is_query_error(&g), "{g:?}");
    // Recent empty, baseline not: 0.
    assert_eq!(snap.growth("old", recent, base, 0.0).unwrap(), 0.0);
    // Bad priors and empty windows are typed errors.
    for p in [f64::NAN, -1.0, f64::INFINITY] {
        assert!(is_query_error(&snap.growth("new", recent, base, p)), "{p}");
        let q = TrendQuery {
            prior: p,
            ..TrendQuery::default()
        };
        assert!(is_query_error(&snap.trending(&q)), "{p}");
    }
    assert!(is_query_error(&snap.growth("new", r(T0, T0), base, 0.0)));

    // trending with p = 0: "new" has an empty baseline (infinite growth) and
    // ranks first; tags with neither recent nor baseline events never show NaN.
    let q = TrendQuery {
        window: Duration::from_secs(3600),
        baseline: Duration::from_secs(2 * 3600),
        min_count: 0,
        k: 10,
        prior: 0.0,
        ..TrendQuery::default()
    };
    let rows = snap.trending(&q).unwrap();
    assert!(rows.iter().all(|r| !r.growth.is_nan()), "{rows:?}");
    assert_eq!(rows[0].tag, "new");
    assert_eq!(rows[0].growth, f64::INFINITY);
    assert_eq!((rows[0].recent, rows[0].baseline), (180, 0));
    let both = rows.iter().find(|r| r.tag == "both").unwrap();
    assert_eq!(both.growth, 1.0);
    let old = rows.iter().find(|r| r.tag == "old").unwrap();
    assert_eq!((old.recent, old.baseline, old.growth), (0, 120, 0.0));
    // With a 1h baseline "old" has no event in either window: not ranked
    // even at min_count 0 (a copy of the store by `export | ingest` holding
    // only these windows would not know the tag).
    let q = TrendQuery {
        baseline: Duration::from_secs(3600),
        prior: 1.0 / 60.0,
        ..q
    };
    let tags: Vec<String> = snap
        .trending(&q)
        .unwrap()
        .into_iter()
        .map(|r| r.tag)
        .collect();
    assert_eq!(tags, ["new", "both"]);
}

#[test]
fn unaligned_and_reversed_ranges_are_typed_errors() {
    let (_dir, store) = store_with_data();
    let snap = store.snapshot();
    assert!(is_query_error(&snap.series(
        "both",
        r(T0 + 60, T0 + H),
        Step::Hour
    )));
    assert!(is_query_error(&snap.series(
        "both",
        r(T0, T0 + H + 60),
        Step::Hour
    )));
    assert!(is_query_error(&snap.series(
        "both",
        r(T0 + 30, T0 + 90),
        Step::Minute
    )));
    assert!(is_query_error(&snap.series(
        "both",
        r(T0 + H, T0 + 2 * H),
        Step::Day
    )));
    // A reversed range cannot even be built.
    assert!(is_query_error(&TimeRange::new(T0 + 60, T0)));
    assert!(matches!(
        TimeRange::new(-60, T0),
        Err(Error::InvalidInput(InvalidInput::BeforeEpoch { .. }))
    ));
    // Trending windows must be whole positive minutes.
    for (w, b) in [(0, 3600), (3600, 0), (90, 3600), (3600, 30)] {
        let q = TrendQuery {
            window: Duration::from_secs(w),
            baseline: Duration::from_secs(b),
            ..TrendQuery::default()
        };
        assert!(is_query_error(&snap.trending(&q)), "{w} {b}");
    }
    // Unaligned totals are fine: a minute counts when its first second is in range.
    assert_eq!(snap.total("both", r(T0 + 30, T0 + 150)).unwrap(), 2);
}

/// `at` far before 1970 (any i64 a caller passes) gives an answer or a typed error, never an
/// overflow: trending and spread subtracted the window from it unchecked.
#[test]
fn an_at_of_i64_min_is_no_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let keys = trendlog::labels::LabelKeys::parse("region").unwrap();
    let s = Store::open(dir.path(), opts().label_keys(keys)).unwrap();
    let mut b = s.batch();
    b.add_labelled("x", &[("region", "la")], T0, 1).unwrap();
    b.commit().unwrap();
    let snap = s.snapshot();
    for at in [i64::MIN, -1, 0] {
        let q = TrendQuery {
            at: Some(at),
            ..TrendQuery::default()
        };
        if let Ok(rows) = snap.trending(&q) {
            assert!(rows.is_empty(), "{at}: {rows:?}");
        }
    }
    let q = trendlog::SpreadQuery {
        by: "region".into(),
        at: Some(i64::MIN - i64::MIN % H),
        ..trendlog::SpreadQuery::default()
    };
    assert!(snap.spread("x", &q).is_err());
}

/// The last minute a store takes is inside a range, so what it holds can be read back (and
/// the store's now with it). Before, minute `u32::MAX` was accepted, and no range could
/// reach it: every default-range read of the store failed.
#[test]
fn the_last_storable_minute_reads_back() {
    use trendlog::time::LAST_MINUTE;
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(
        dir.path(),
        opts().max_future_skew(Duration::from_secs(u64::from(u32::MAX) * 60)),
    )
    .unwrap();
    let last = LAST_MINUTE.to_unix();
    s.record("edge", last + 59, 3).unwrap();
    assert!(matches!(
        s.record("edge", last + 60, 1),
        Err(Error::InvalidInput(InvalidInput::TimeOutOfRange { .. }))
    ));
    let snap = s.snapshot();
    let end = snap.now_end().unwrap();
    assert_eq!(snap.total("edge", r(last, end)).unwrap(), 3);
    assert!(snap.trending(&TrendQuery::default()).is_ok());
}
