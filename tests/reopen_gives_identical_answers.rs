//! A store written (several seals, hourly roll-ups and an unsealed active tail),
//! closed and reopened in a new `Store` answers totals, series, top, trending,
//! stats and the segment list exactly as it did before; so does a read-only open.

use std::time::Duration;

use trendlog::time::{Step, TimeRange};
use trendlog::{Options, SegmentInfo, Stats, Store, SyncPolicy, TrendQuery};

/// 2017-10-15T00:00:00Z, a day boundary.
const T0: i64 = 1_508_025_600;
const HOURS: i64 = 10;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3 * 3600)))
        .seal_after(Duration::from_secs(3600))
}

#[derive(Debug, PartialEq)]
struct Answers {
    totals: Vec<u64>,
    series: Vec<Vec<(i64, u64)>>,
    top: Vec<(String, u64)>,
    trending: Vec<(String, u64, u64, u64)>,
    stats: Stats,
    segments: Vec<SegmentInfo>,
    now: Option<trendlog::time::Minute>,
}

fn tags() -> Vec<String> {
    (0..30).map(|i| format!("tag{i}")).collect()
}

fn answers(store: &Store) -> Answers {
    let snap = store.snapshot();
    let end = T0 + HOURS * 3600;
    let mut totals = Vec::new();
    let mut series = Vec::new();
    for t in tags() {
        for (a, b) in [
            (0, HOURS),
            (0, 1),
            (2, 5),
            (HOURS - 2, HOURS),
            (HOURS, HOURS + 1),
        ] {
            let r = TimeRange::new(T0 + a * 3600, T0 + b * 3600).unwrap();
            totals.push(snap.total(&t, r).unwrap());
        }
        let all = TimeRange::new(T0, T0 + 86_400).unwrap();
        series.push(snap.series(&t, all, Step::Hour).unwrap().points);
        series.push(snap.series(&t, all, Step::Day).unwrap().points);
        let recent = TimeRange::new(end - 2 * 3600, end).unwrap();
        series.push(snap.series(&t, recent, Step::Minute).unwrap().points);
    }
    let top = snap
        .top(TimeRange::new(T0, end).unwrap(), 12)
        .unwrap()
        .into_iter()
        .map(|r| (r.tag, r.count))
        .collect();
    let trending = snap
        .trending(&TrendQuery {
            k: 12,
            min_count: 1,
            baseline: Duration::from_secs(5 * 3600),
            ..TrendQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| (r.tag, r.recent, r.baseline, r.growth.to_bits()))
        .collect();
    Answers {
        totals,
        series,
        top,
        trending,
        stats: snap.stats(),
        segments: snap.segments(),
        now: snap.now(),
    }
}

/// Field by field, so a failure names what differs.
fn same(got: &Answers, want: &Answers, what: &str) {
    assert_eq!(got.now, want.now, "{what}: now");
    assert_eq!(got.stats, want.stats, "{what}: stats");
    assert_eq!(got.segments, want.segments, "{what}: segments");
    assert!(got.totals == want.totals, "{what}: totals differ");
    for (i, (g, w)) in got.series.iter().zip(&want.series).enumerate() {
        assert_eq!(g, w, "{what}: series {i}");
    }
    assert_eq!(got.top, want.top, "{what}: top");
    assert_eq!(got.trending, want.trending, "{what}: trending");
    assert_eq!(got, want, "{what}");
}

fn fill(store: &Store) {
    let tags = tags();
    for minute in 0..HOURS * 60 {
        let mut b = store.batch();
        for (i, t) in tags.iter().enumerate() {
            let i = i as i64;
            // Tag i appears every (i % 7 + 1) minutes, more often as time goes on for the odd ones.
            if minute % (i % 7 + 1) == 0 {
                let n = 1 + (i % 3) as u64 + if i % 2 == 1 { (minute / 60) as u64 } else { 0 };
                b.add(t, T0 + minute * 60 + i % 60, n).unwrap();
            }
        }
        b.commit().unwrap();
    }
}

#[test]
fn reopen_gives_identical_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    fill(&store);
    store.compact().unwrap();
    // A few more batches after the last seal: the active tail must survive too.
    for i in 0..5 {
        store.record("tail", T0 + HOURS * 3600 - 60 + i, 7).unwrap();
    }
    let before = answers(&store);
    assert!(before.stats.minute_segments >= 2, "{:?}", before.stats);
    assert!(before.stats.hour_segments >= 1, "{:?}", before.stats);
    assert!(before.stats.active_cells > 0, "{:?}", before.stats);
    store.sync().unwrap();
    store.close().unwrap();

    let ro = Store::open_read_only_with(dir.path(), opts()).unwrap();
    same(&answers(&ro), &before, "read-only open");
    drop(ro);

    let store = Store::open(dir.path(), opts()).unwrap();
    assert!(store.recovery().is_clean(), "{:?}", store.recovery());
    same(&answers(&store), &before, "first reopen");
    // Dropping without close() flushes as well.
    drop(store);
    let store = Store::open(dir.path(), opts()).unwrap();
    same(&answers(&store), &before, "second reopen");
}

/// Retention settings are options, not stored: a read-only open with default
/// options (7 days of minutes) must still refuse a 1m series over hours that
/// were rolled up, rather than return each hour's sum as its first minute.
#[test]
fn read_only_open_with_other_options_never_splits_rolled_up_hours() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    fill(&store);
    store.compact().unwrap();
    let hour1 = TimeRange::new(T0 + 3600, T0 + 7200).unwrap();
    let want_hourly = store.series("tag0", hour1, Step::Hour).unwrap().points;
    assert!(matches!(
        store.series("tag0", hour1, Step::Minute),
        Err(trendlog::Error::ResolutionUnavailable { .. })
    ));
    let earliest = store.snapshot().earliest_minute();
    store.close().unwrap();
    for ro in [
        Store::open_read_only(dir.path()).unwrap(),
        Store::open_read_only_with(dir.path(), opts().minute_retention(None)).unwrap(),
    ] {
        let got = ro.series("tag0", hour1, Step::Minute);
        assert!(
            matches!(got, Err(trendlog::Error::ResolutionUnavailable { .. })),
            "a 1m series over a rolled-up hour: {:?}",
            got.map(|s| s.points.into_iter().filter(|p| p.1 > 0).collect::<Vec<_>>())
        );
        assert_eq!(
            ro.series("tag0", hour1, Step::Hour).unwrap().points,
            want_hourly
        );
        assert!(ro.snapshot().earliest_minute() >= earliest);
    }
    // A writer reopened with a longer minute retention cannot un-roll hours either.
    let store = Store::open(
        dir.path(),
        opts().minute_retention(Some(Duration::from_secs(30 * 86_400))),
    )
    .unwrap();
    assert!(matches!(
        store.series("tag0", hour1, Step::Minute),
        Err(trendlog::Error::ResolutionUnavailable { .. })
    ));
}
