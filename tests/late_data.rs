//! Counts are a commutative sum: an event for a minute that has already been
//! rolled up into its hour still counts (it lands in that hour), and late or
//! out-of-order events are just more deltas, whatever the order of arrival.

use std::collections::BTreeMap;
use std::time::Duration;

use trendlog::time::{Step, TimeRange};
use trendlog::{Error, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;
const H: i64 = 3600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(2 * 3600)))
        .seal_after(Duration::from_secs(3600))
}

#[test]
fn late_event_for_a_rolled_up_minute_lands_in_its_hour() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    for m in 0..10 * 60 {
        store.record("metoo", T0 + m * 60, 1).unwrap();
    }
    let rep = store.compact().unwrap();
    assert!(rep.segments_written > 0, "{rep:?}");
    let snap = store.snapshot();
    assert!(snap.stats().hour_segments >= 1, "{:?}", snap.stats());
    let hour1 = TimeRange::new(T0 + H, T0 + 2 * H).unwrap();
    assert_eq!(snap.total("metoo", hour1).unwrap(), 60);
    // Minute 90 (in hour 1) is held only as an hourly bucket now.
    assert!(matches!(
        snap.series("metoo", hour1, Step::Minute),
        Err(Error::ResolutionUnavailable { .. })
    ));
    drop(snap);

    // A late event for minute 90: accepted, counted in hour 1.
    store.record("metoo", T0 + 90 * 60 + 17, 5).unwrap();
    store.record("late-only", T0 + 90 * 60, 2).unwrap();
    let check = |store: &Store, what: &str| {
        let snap = store.snapshot();
        assert_eq!(snap.total("metoo", hour1).unwrap(), 65, "{what}");
        assert_eq!(snap.total("late-only", hour1).unwrap(), 2, "{what}");
        let day = TimeRange::new(T0, T0 + 86_400).unwrap();
        let s = snap.series("metoo", day, Step::Hour).unwrap();
        assert_eq!(s.points[1], (T0 + H, 65), "{what}");
        assert_eq!(s.total, 10 * 60 + 5, "{what}");
        assert_eq!(
            snap.series("metoo", day, Step::Day).unwrap().points,
            vec![(T0, 605)]
        );
        assert_eq!(
            snap.top(hour1, 2)
                .unwrap()
                .iter()
                .map(|r| (r.tag.as_str(), r.count))
                .collect::<Vec<_>>(),
            vec![("metoo", 65), ("late-only", 2)],
            "{what}"
        );
    };
    check(&store, "in the active tail");
    store.seal().unwrap();
    check(&store, "sealed");
    store.compact().unwrap();
    check(&store, "rolled up again");
    store.close().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    check(&store, "after reopen");
}

/// A deterministic Fisher-Yates shuffle driven by the shared seeded RNG.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = trendlog_testkit::SplitMix64(seed);
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

#[test]
fn out_of_order_arrival_gives_the_same_totals() {
    // Events over 6 hours for 8 tags; fed once in time order and once shuffled
    // (in batches of varying size, with seals and compactions in between).
    let mut events = Vec::new();
    for i in 0..3000i64 {
        let tag = format!("t{}", (i * 7) % 8);
        events.push((tag, T0 + (i * 7919) % (6 * H), (i % 5 + 1) as u64));
    }
    let mut model: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for (t, ts, c) in &events {
        *model.entry((t.clone(), ts / H * H)).or_default() += c;
    }
    let sorted = {
        let mut v = events.clone();
        v.sort_by_key(|e| e.1);
        v
    };
    let mut shuffled = events.clone();
    shuffle(&mut shuffled, 7);

    let answers = |evs: &[(String, i64, u64)], chunk: usize| {
        let dir = tempfile::tempdir().unwrap();
        // No minute retention here: out-of-order data may reach back anywhere.
        let o = opts().minute_retention(None);
        let store = Store::open(dir.path(), o.clone()).unwrap();
        for (n, part) in evs.chunks(chunk).enumerate() {
            let mut b = store.batch();
            for (t, ts, c) in part {
                b.add(t, *ts, *c).unwrap();
            }
            b.commit().unwrap();
            if n % 7 == 3 {
                store.seal().unwrap();
            }
            if n % 11 == 5 {
                store.compact().unwrap();
            }
        }
        store.close().unwrap();
        let store = Store::open(dir.path(), o).unwrap();
        let day = TimeRange::new(T0, T0 + 86_400).unwrap();
        let mut out = BTreeMap::new();
        for i in 0..8 {
            let t = format!("t{i}");
            for (ts, c) in store.series(&t, day, Step::Hour).unwrap().points {
                if c > 0 {
                    out.insert((t.clone(), ts), c);
                }
            }
        }
        out
    };
    assert_eq!(answers(&sorted, 100), model);
    assert_eq!(answers(&shuffled, 37), model);
    assert_eq!(answers(&shuffled, 1000), model);
}
