//! Bad input is rejected with a typed error and changes nothing: empty,
//! over-255-byte, whitespace- and control-holding tags; times before 1970; a
//! count that would overflow u64; events older than the hour retention (counted
//! in `stats().rejected_too_old`) or further in the future than
//! `max_future_skew` (counted in `stats().rejected_future`). The batch that
//! refused an event stays usable.

use std::time::Duration;

use trendlog::time::TimeRange;
use trendlog::{Error, InvalidInput, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .hour_retention(Some(Duration::from_secs(48 * 3600)))
        .max_future_skew(Duration::from_secs(3600))
        // The skew measured from the data alone (these times are years before the clock).
        .future_skew_from_clock(false)
}

fn all() -> TimeRange {
    TimeRange::new(0, 4_000_000_000).unwrap()
}

/// Everything a caller can observe that a rejected event must not change.
fn observe(store: &Store) -> (Vec<u64>, Option<trendlog::time::Minute>, u64, u64, usize) {
    let snap = store.snapshot();
    let totals = ["ok", "a", "b"]
        .iter()
        .map(|t| snap.total(t, all()).unwrap())
        .collect();
    let st = snap.stats();
    (totals, st.now, st.total_count, st.cells, snap.tags().len())
}

fn expect_invalid(r: trendlog::Result<()>, what: &str) -> InvalidInput {
    match r {
        Err(Error::InvalidInput(why)) => {
            // A sentence, not a Debug dump.
            let msg = Error::InvalidInput(why.clone()).to_string();
            assert!(!msg.contains("InvalidInput"), "{what}: {msg}");
            why
        }
        other => panic!("{what}: expected InvalidInput, got {other:?}"),
    }
}

/// Which rejection a case expects.
type Expect = fn(&InvalidInput) -> bool;

#[test]
fn bad_tags_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    store.record("ok", T0, 1).unwrap();
    let before = observe(&store);
    let long = "x".repeat(256);
    let exactly = "y".repeat(255);
    let cases: Vec<(&str, Expect)> = vec![
        ("", |w| matches!(w, InvalidInput::EmptyTag)),
        ("#", |w| matches!(w, InvalidInput::EmptyTag)),
        (&long, |w| {
            matches!(w, InvalidInput::TagTooLong { len: 256 })
        }),
        ("me too", |w| {
            matches!(w, InvalidInput::BadTagChar { ch: ' ' })
        }),
        ("me\ttoo", |w| {
            matches!(w, InvalidInput::BadTagChar { ch: '\t' })
        }),
        ("metoo\n", |w| {
            matches!(w, InvalidInput::BadTagChar { ch: '\n' })
        }),
        ("me\u{0}too", |w| {
            matches!(w, InvalidInput::BadTagChar { ch: '\u{0}' })
        }),
        ("me\u{7f}", |w| {
            matches!(w, InvalidInput::BadTagChar { ch: '\u{7f}' })
        }),
        ("no\u{a0}break", |w| {
            matches!(w, InvalidInput::BadTagChar { .. })
        }),
        ("em\u{2003}space", |w| {
            matches!(w, InvalidInput::BadTagChar { .. })
        }),
    ];
    for (tag, ok) in &cases {
        let why = expect_invalid(store.record(tag, T0, 1), &format!("record {tag:?}"));
        assert!(ok(&why), "{tag:?}: {why:?}");
        let mut b = store.batch();
        b.add("ok", T0, 2).unwrap();
        let why = expect_invalid(b.add(tag, T0, 1), &format!("batch add {tag:?}"));
        assert!(ok(&why), "{tag:?}: {why:?}");
        // The batch is still usable and holds only what it accepted; drop it uncommitted.
        assert_eq!(b.len(), 1);
        drop(b);
    }
    assert_eq!(observe(&store), before);
    // 255 bytes is the limit, inclusive; multi-byte characters count in bytes.
    store.record(&exactly, T0, 1).unwrap();
    let e_acute = "é".repeat(128); // 256 bytes
    let why = expect_invalid(store.record(&e_acute, T0, 1), "256 bytes of é");
    assert!(
        matches!(why, InvalidInput::TagTooLong { len: 256 }),
        "{why:?}"
    );
}

#[test]
fn bad_times_and_counts_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    store.record("ok", T0, 1).unwrap();
    let before = observe(&store);

    let why = expect_invalid(store.record("a", -1, 1), "before 1970");
    assert!(
        matches!(why, InvalidInput::BeforeEpoch { seconds: -1 }),
        "{why:?}"
    );
    let why = expect_invalid(store.record("a", i64::MIN, 1), "i64::MIN");
    assert!(matches!(why, InvalidInput::BeforeEpoch { .. }), "{why:?}");
    let why = expect_invalid(store.record("a", i64::MAX, 1), "i64::MAX");
    assert!(
        matches!(
            why,
            InvalidInput::TimeOutOfRange { .. } | InvalidInput::TooFarInFuture { .. }
        ),
        "{why:?}"
    );
    assert_eq!(observe(&store), before);

    // Two events summing past u64::MAX: the second is refused, the first stays.
    store.record("a", T0, u64::MAX - 10).unwrap();
    let after_first = observe(&store);
    let why = expect_invalid(store.record("a", T0, 10), "overflow by record");
    assert!(matches!(why, InvalidInput::CountOverflow), "{why:?}");
    let why = expect_invalid(store.record("b", T0 + 60, 11), "overflow on another tag");
    assert!(matches!(why, InvalidInput::CountOverflow), "{why:?}");
    let mut batch = store.batch();
    batch.add("b", T0, 5).unwrap();
    let why = expect_invalid(batch.add("b", T0, 5), "overflow within a batch");
    assert!(matches!(why, InvalidInput::CountOverflow), "{why:?}");
    batch.add("b", T0, 4).unwrap();
    batch.commit().unwrap();
    assert_eq!(store.total("a", all()).unwrap(), u64::MAX - 10);
    assert_eq!(store.total("b", all()).unwrap(), 9);
    assert_eq!(store.stats().total_count, u64::MAX);
    drop(after_first);

    // And it survives a reopen as it is.
    store.close().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(store.total("a", all()).unwrap(), u64::MAX - 10);
    let why = expect_invalid(store.record("ok", T0, 1), "overflow after reopen");
    assert!(matches!(why, InvalidInput::CountOverflow), "{why:?}");
}

#[test]
fn too_old_and_too_far_in_the_future_are_rejected_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    // now = T0 + 100h
    let now = T0 + 100 * 3600;
    store.record("ok", now, 1).unwrap();
    let before = observe(&store);
    let st0 = store.stats();
    assert_eq!((st0.rejected_too_old, st0.rejected_future), (0, 0));

    // Hour retention 48h from now, rounded down to the hour.
    let floor = now - 48 * 3600;
    let why = expect_invalid(store.record("a", floor - 1, 1), "too old");
    assert!(
        matches!(why, InvalidInput::TooOld { minute, oldest_kept }
            if i64::from(minute) == (floor - 1) / 60 && i64::from(oldest_kept) == floor / 60),
        "{why:?}"
    );
    let mut b = store.batch();
    expect_invalid(b.add("a", T0, 1), "too old in a batch");
    b.add("a", floor, 3).unwrap(); // the oldest kept minute is accepted
    b.add("a", floor + 2 * 3600, 3).unwrap();
    b.commit().unwrap();
    assert_eq!(store.total("a", all()).unwrap(), 6);

    // Future skew: 1h past now.
    let why = expect_invalid(store.record("b", now + 3600 + 60, 1), "too far ahead");
    assert!(
        matches!(why, InvalidInput::TooFarInFuture { minute, latest_accepted }
            if i64::from(minute) == (now + 3660) / 60 && i64::from(latest_accepted) == (now + 3600) / 60),
        "{why:?}"
    );
    store.record("b", now + 3600, 2).unwrap(); // exactly the skew: accepted
    let why = expect_invalid(store.record("b", now + 30 * 86_400, 1), "a month ahead");
    assert!(
        matches!(why, InvalidInput::TooFarInFuture { .. }),
        "{why:?}"
    );

    let st = store.stats();
    assert_eq!(st.rejected_too_old, 2);
    assert_eq!(st.rejected_future, 2);
    // Only the accepted events changed anything. (Now moved on by an hour, so
    // the hour at the old retention floor has expired meanwhile.)
    let (t, _, total, _, _) = observe(&store);
    assert_eq!(t, vec![1, 3, 2]);
    assert_eq!(total, before.2 + 8);

    // The counters are part of the store's durable statistics.
    store.seal().unwrap();
    store.close().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    let st = store.stats();
    assert_eq!((st.rejected_too_old, st.rejected_future), (2, 2));
}

#[test]
fn an_empty_store_accepts_any_valid_first_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    // No now yet: neither too old nor too far in the future.
    store.record("a", 0, 1).unwrap();
    store.record("a", 60, 1).unwrap();
    assert_eq!(store.total("a", all()).unwrap(), 2);
}

/// With the default options a store fed live data survives a gap longer than the skew: the
/// skew is measured from the wall clock as well as from the store's now. Before (skew from
/// the store's now alone), every event after a gap of more than a day was refused, and the
/// store's now, which only accepted events move, never moved again.
#[test]
fn the_default_skew_survives_a_gap_in_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    store.record("x", T0, 1).unwrap();
    store.record("x", T0 + 3 * 86_400, 1).unwrap();
    store.record("x", T0 + 400 * 86_400, 1).unwrap();
    // Still bounded: a day past the clock is refused.
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let why = expect_invalid(store.record("x", clock + 2 * 86_400, 1), "past the clock");
    assert!(
        matches!(why, InvalidInput::TooFarInFuture { .. }),
        "{why:?}"
    );
    assert_eq!(store.total("x", all()).unwrap(), 3);
}

/// Whether an event is too old is measured from the latest event before it
/// in the stream, however the stream is cut into batches: the same stream in
/// batches of one and in one batch keeps and refuses the same events (a
/// replica's fetch sizes and `ingest --batch-size` decide nothing). Measured
/// from the committed now alone, the old event below was refused in batches
/// of one and kept in one batch.
#[test]
fn batch_boundaries_decide_nothing_about_retention() {
    let stream = [T0 + 5 * 3600, T0, T0 + 3 * 3600, T0 + 6 * 3600, T0 + 3600];
    let mut outcomes = Vec::new();
    for batch_size in [1, 2, stream.len()] {
        let dir = tempfile::tempdir().unwrap();
        let o = opts()
            .hour_retention(Some(Duration::from_secs(2 * 3600)))
            .max_future_skew(Duration::from_secs(86_400));
        let store = Store::open(dir.path(), o).unwrap();
        let mut kept = Vec::new();
        for chunk in stream.chunks(batch_size) {
            let mut b = store.batch();
            for &t in chunk {
                kept.push(b.add("a", t, 1).is_ok());
            }
            b.commit().unwrap();
        }
        assert_eq!(store.stats().rejected_too_old, 2, "batches of {batch_size}");
        outcomes.push(kept);
    }
    assert_eq!(outcomes[0], [true, false, true, true, false]);
    assert!(outcomes.iter().all(|k| *k == outcomes[0]), "{outcomes:?}");
}
