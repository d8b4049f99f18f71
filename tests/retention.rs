//! Retention is exact and physical: with `hour_retention`, expired data is gone
//! from every query and its segment files are deleted, the store shrinking by
//! exactly their bytes; with `minute_retention`, a 1m query before
//! `earliest_minute()` fails with `Error::ResolutionUnavailable` naming it, while
//! 1h and 1d steps stay exact.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use trendlog::time::{Minute, Step, TimeRange};
use trendlog::{Error, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;
const H: i64 = 3600;
const TAGS: i64 = 5;

fn segment_files(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".min") || n.ends_with(".hour")
        })
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect()
}

/// Hour `h` (from T0) holds `(t + 1) * (h + 1)` events of tag `t` in each minute.
fn write_hours(store: &Store, hours: std::ops::Range<i64>) {
    for h in hours {
        for m in 0..60 {
            let mut b = store.batch();
            for t in 0..TAGS {
                b.add(
                    &format!("t{t}"),
                    T0 + h * H + m * 60,
                    ((t + 1) * (h + 1)) as u64,
                )
                .unwrap();
            }
            b.commit().unwrap();
        }
    }
}

fn hour_total(t: i64, h: i64) -> u64 {
    ((t + 1) * (h + 1) * 60) as u64
}

#[test]
fn expired_hours_are_gone_from_queries_and_disk() {
    let dir = tempfile::tempdir().unwrap();
    // Minute segments sealed exactly on hour boundaries (a 59-minute seal span
    // with one batch a minute), kept at minute resolution, dropped after 6h.
    let o = Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(None)
        .hour_retention(Some(Duration::from_secs(6 * 3600)))
        .seal_after(Duration::from_secs(59 * 60));
    let store = Store::open(dir.path(), o.clone()).unwrap();
    write_hours(&store, 0..20);
    let snap = store.snapshot();
    let infos = snap.segments();
    let sealed: Vec<_> = infos.iter().filter(|s| s.sealed).collect();
    assert!(sealed.len() >= 19, "{infos:?}");
    for s in &sealed {
        // Each sealed segment is one whole hour.
        let first = s.first.unwrap().0;
        assert_eq!((first % 60, s.last.unwrap().0 - first), (0, 59), "{s:?}");
    }
    let files_before = segment_files(dir.path());
    assert_eq!(files_before.len(), sealed.len());

    // now = hour 19, minute 59: the retention floor is hour 13 (19:59 - 6h, rounded down).
    let floor_h = 13;
    let day = TimeRange::new(T0, T0 + 86_400).unwrap();
    // Queries already ignore expired hours, before any compaction.
    let want: Vec<(i64, u64)> = (0..24)
        .map(|h| {
            (
                T0 + h * H,
                if (floor_h..20).contains(&h) {
                    hour_total(0, h)
                } else {
                    0
                },
            )
        })
        .collect();
    assert_eq!(snap.series("t0", day, Step::Hour).unwrap().points, want);
    assert_eq!(
        snap.stats().earliest_kept,
        Some(Minute(((T0 + floor_h * H) / 60) as u32))
    );
    drop(snap);

    // The segments wholly before the floor are expected to go, nothing else.
    let expired: Vec<_> = sealed
        .iter()
        .filter(|s| i64::from(s.last.unwrap().0) < (T0 + floor_h * H) / 60)
        .collect();
    assert_eq!(expired.len(), floor_h as usize);
    let expired_bytes: u64 = expired.iter().map(|s| s.bytes).sum();
    let expired_events: u64 = (0..floor_h)
        .flat_map(|h| (0..TAGS).map(move |t| hour_total(t, h)))
        .sum();
    let total_before = store.stats().total_count;

    let rep = store.compact().unwrap();
    assert_eq!(rep.segments_dropped, floor_h as u64, "{rep:?}");
    assert_eq!(rep.bytes_before, expired_bytes, "{rep:?}");
    assert_eq!(rep.bytes_after, 0, "{rep:?}");
    assert_eq!(rep.events_expired, expired_events, "{rep:?}");

    let files_after = segment_files(dir.path());
    for s in &expired {
        assert!(
            !files_after.contains_key(&s.file),
            "{} still on disk",
            s.file
        );
    }
    let sum = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
    assert_eq!(sum(&files_before) - sum(&files_after), expired_bytes);
    assert_eq!(files_after.len(), files_before.len() - expired.len());
    let st = store.stats();
    assert_eq!(st.total_count, total_before - expired_events);
    assert_eq!(st.minute_segments as usize, files_after.len());

    // Same answers after the drop and after a reopen.
    let check = |store: &Store| {
        let snap = store.snapshot();
        assert_eq!(snap.series("t0", day, Step::Hour).unwrap().points, want);
        for t in 0..TAGS {
            let kept: u64 = (floor_h..20).map(|h| hour_total(t, h)).sum();
            assert_eq!(snap.total(&format!("t{t}"), day).unwrap(), kept);
        }
        let top = snap
            .top(TimeRange::new(T0, T0 + floor_h * H).unwrap(), 10)
            .unwrap();
        assert!(top.is_empty(), "{top:?}");
    };
    check(&store);
    store.close().unwrap();
    let store = Store::open(dir.path(), o).unwrap();
    check(&store);
    assert_eq!(segment_files(dir.path()), files_after);
}

#[test]
fn hour_retention_with_rolled_up_hours_shrinks_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(2 * 3600)))
        .hour_retention(Some(Duration::from_secs(24 * 3600)))
        .seal_after(Duration::from_secs(3600));
    let store = Store::open(dir.path(), o).unwrap();
    write_hours(&store, 0..30);
    store.compact().unwrap();
    let bytes_30h = segment_files(dir.path()).values().sum::<u64>();
    // 20 more hours: hours 0..25 expire (now 49:59 - 24h = 25:59 -> floor hour 25).
    write_hours(&store, 30..50);
    store.compact().unwrap();
    let day2 = TimeRange::new(T0, T0 + 3 * 86_400).unwrap();
    for t in 0..TAGS {
        let kept: u64 = (25..50).map(|h| hour_total(t, h)).sum();
        assert_eq!(store.total(&format!("t{t}"), day2).unwrap(), kept, "t{t}");
    }
    let st = store.stats();
    assert_eq!(st.earliest_kept, Some(Minute(((T0 + 25 * H) / 60) as u32)));
    // Nothing before the floor is left in any file.
    let floor = Minute(((T0 + 25 * H) / 60) as u32);
    for seg in store.snapshot().segments() {
        assert!(seg.first.is_none_or(|f| f >= floor), "{seg:?}");
    }
    let bytes_50h = segment_files(dir.path()).values().sum::<u64>();
    println!("segment bytes: {bytes_30h} after 30h, {bytes_50h} after 50h with 24h retention");
}

#[test]
fn minute_retention_refuses_fine_queries_and_keeps_coarse_ones_exact() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3 * 3600)))
        .seal_after(Duration::from_secs(3600));
    let store = Store::open(dir.path(), o).unwrap();
    write_hours(&store, 0..30);
    // Whether or not compaction has run, the answers are the same.
    for compacted in [false, true] {
        if compacted {
            let rep = store.compact().unwrap();
            assert!(rep.cells_after < rep.cells_before, "{rep:?}");
        }
        let snap = store.snapshot();
        // now = 29:59; floor = 26:59 rounded down = hour 26.
        let earliest = snap.earliest_minute().unwrap();
        assert_eq!(
            i64::from(earliest.0) * 60,
            T0 + 26 * H,
            "compacted={compacted}"
        );
        assert_eq!(snap.stats().earliest_minute, Some(earliest));
        let before = TimeRange::new(T0 + 20 * H, T0 + 28 * H).unwrap();
        match snap.series("t1", before, Step::Minute) {
            Err(Error::ResolutionUnavailable { earliest_minute }) => {
                assert_eq!(earliest_minute, earliest.0)
            }
            other => panic!("expected ResolutionUnavailable, got {other:?}"),
        }
        // A total whose edge splits a rolled-up hour is refused too.
        assert!(matches!(
            snap.total("t1", TimeRange::new(T0 + 20 * H + 60, T0 + 28 * H).unwrap()),
            Err(Error::ResolutionUnavailable { .. })
        ));
        // From the earliest minute on, 1m is exact.
        let recent = TimeRange::new(T0 + 26 * H, T0 + 30 * H).unwrap();
        let s = snap.series("t1", recent, Step::Minute).unwrap();
        assert_eq!(s.points.len(), 240);
        assert!(s
            .points
            .iter()
            .all(|&(ts, c)| c == ((ts - T0) / H + 1) as u64 * 2));
        // 1h and 1d are exact everywhere.
        let two_days = TimeRange::new(T0, T0 + 2 * 86_400).unwrap();
        let hours = snap.series("t1", two_days, Step::Hour).unwrap().points;
        for (h, &(ts, c)) in hours.iter().enumerate() {
            let h = h as i64;
            assert_eq!(ts, T0 + h * H);
            assert_eq!(c, if h < 30 { hour_total(1, h) } else { 0 }, "hour {h}");
        }
        let days = snap.series("t1", two_days, Step::Day).unwrap().points;
        assert_eq!(days[0].1, (0..24).map(|h| hour_total(1, h)).sum::<u64>());
        assert_eq!(days[1].1, (24..30).map(|h| hour_total(1, h)).sum::<u64>());
    }
}
