//! Retention is a property of the store: set at creation from `Options`,
//! stored in the manifest, honoured identically by every opener (read-only
//! ones included, whatever options they pass), and changed only by
//! `Store::set_retention`, durably.

use std::time::Duration;

use trendlog::time::{Step, TimeRange};
use trendlog::{Error, Options, Retention, Store};

const DAY: i64 = 86_400;
const T0: i64 = 1_508_112_000; // 2017-10-16T00:00:00Z

fn opts() -> Options {
    Options::default().background_compaction(false)
}

/// Ten days of one event per hour, sealed.
fn ten_days(dir: &std::path::Path, o: Options) -> Store {
    let store = Store::open(dir, o).unwrap();
    let mut b = store.batch();
    for h in 0..240 {
        b.add("metoo", T0 + h * 3600, 1).unwrap();
    }
    b.commit().unwrap();
    store.seal().unwrap();
    store
}

#[test]
fn creation_options_are_stored_and_later_options_do_not_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let created = opts().minute_retention(Some(Duration::from_secs(2 * DAY as u64)));
    let store = ten_days(dir.path(), created);
    assert_eq!(store.retention().minute_minutes, Some(2 * 1440));
    store.close().unwrap();

    // A writer and a reader with default options (7 days) both see 2 days.
    let writer = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(writer.retention().minute_minutes, Some(2 * 1440));
    let reader = Store::open_read_only_with(dir.path(), opts()).unwrap();
    assert_eq!(reader.retention(), writer.retention());
    let old_minutes = TimeRange::new(T0, T0 + 3600).unwrap();
    for s in [&writer, &reader] {
        let e = s.series("metoo", old_minutes, Step::Minute).unwrap_err();
        assert!(matches!(e, Error::ResolutionUnavailable { .. }), "{e}");
        assert_eq!(s.series("metoo", old_minutes, Step::Hour).unwrap().total, 1);
    }
    // Both agree on the earliest minute held.
    assert_eq!(
        writer.snapshot().earliest_minute(),
        reader.snapshot().earliest_minute()
    );
}

#[test]
fn set_retention_is_durable_and_compaction_applies_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = ten_days(dir.path(), opts());
    let total = TimeRange::new(T0, T0 + 10 * DAY).unwrap();
    assert_eq!(store.total("metoo", total).unwrap(), 240);
    store
        .set_retention(Retention {
            minute_minutes: Some(90),
            hour_minutes: Some(3 * 1440 + 59),
        })
        .unwrap();
    // Rounded down to whole hours.
    assert_eq!(store.retention().hour_minutes, Some(3 * 1440));
    assert_eq!(store.retention().minute_minutes, Some(60));
    let r = store.compact().unwrap();
    assert!(r.events_expired > 0, "{r:?}");
    let kept = store.total("metoo", total).unwrap();
    assert_eq!(kept, 3 * 24 + 1, "three days back from now, hour-aligned");
    store.close().unwrap();

    let again = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(again.retention().hour_minutes, Some(3 * 1440));
    assert_eq!(again.total("metoo", total).unwrap(), kept);
}

#[test]
fn keep_forever_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts().minute_retention(None).hour_retention(None);
    let store = ten_days(dir.path(), o);
    store.compact().unwrap();
    let first_hour = TimeRange::new(T0, T0 + 3600).unwrap();
    assert_eq!(
        store
            .series("metoo", first_hour, Step::Minute)
            .unwrap()
            .total,
        1
    );
    store.close().unwrap();
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(
        ro.retention(),
        Retention {
            minute_minutes: None,
            hour_minutes: None
        }
    );
    assert_eq!(
        ro.series("metoo", first_hour, Step::Minute).unwrap().total,
        1
    );
}
