//! A store compacted with a short minute retention and reopened with other
//! options (as the CLI's read-only commands do) never answers a 1m query from
//! hourly buckets: the hours held only as buckets are refused at 1m, and 1h
//! answers stay exact.

use std::time::Duration;

use trendlog::time::{Step, TimeRange};
use trendlog::{Error, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600; // 2017-10-15T00:00:00Z

#[test]
fn rolled_up_hours_are_refused_at_minute_step_whatever_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let short = Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3600)));
    let store = Store::open(dir.path(), short).unwrap();
    let mut b = store.batch();
    for m in 0..(10 * 60) {
        b.add("metoo", T0 + m * 60 + 7, 1 + (m as u64 % 3)).unwrap();
    }
    b.commit().unwrap();
    store.seal().unwrap();
    let report = store.compact().unwrap();
    assert!(report.segments_written >= 1, "{report:?}");
    assert!(store.stats().hour_cells > 0);
    store.close().unwrap();

    let ro = Store::open_read_only(dir.path()).unwrap(); // default: 7-day minute retention
    let snap = ro.snapshot();
    let first_hours = TimeRange::new(T0, T0 + 3 * 3600).unwrap();
    match snap.series("metoo", first_hours, Step::Minute) {
        Err(Error::ResolutionUnavailable { earliest_minute }) => {
            assert!(i64::from(earliest_minute) * 60 >= T0 + 3 * 3600)
        }
        other => panic!("expected ResolutionUnavailable, got {other:?}"),
    }
    let hourly = snap.series("metoo", first_hours, Step::Hour).unwrap();
    let want: u64 = (0..60u64).map(|m| 1 + m % 3).sum();
    assert_eq!(
        hourly.points,
        vec![(T0, want), (T0 + 3600, want), (T0 + 7200, want)]
    );
}
