//! Burst episodes are causal: the onsets a service learns by asking
//! `onsets_since` after every minute it ingests are exactly the onsets a later
//! replay of the whole range with `bursts` reports; steady Poisson-like
//! background tags give no episode at the default levels; over a range held
//! only as hours, onsets are stamped at the last minute of their hour.

use std::time::Duration;

use trendlog::time::{Minute, Step, TimeRange};
use trendlog::{BurstParams, BurstQuery, Options, Store, SyncPolicy};

const T0: i64 = 1_508_112_000; // 2017-10-16T00:00:00Z

/// A small deterministic generator (xorshift), so the test needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Roughly Poisson with mean `mu` (sum of Bernoulli trials).
    fn count(&mut self, mu: f64) -> u64 {
        let n = (mu * 4.0).ceil() as u64;
        (0..n).filter(|_| (self.next() % 1000) < 250).count() as u64
    }
}

/// Counts of minute `m` for each tag: 20 steady tags of different rates and
/// one that surges from minute 1500 to 1600.
fn minute(rng: &mut Rng, m: i64) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for k in 0..20u32 {
        let mu = 0.2 * f64::from(k + 1);
        let c = rng.count(mu);
        if c > 0 {
            out.push((format!("steady{k}"), c));
        }
    }
    if (1500..1600).contains(&m) {
        out.push(("surge".to_string(), 8));
    }
    out
}

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
}

#[test]
fn live_onsets_equal_the_replay_and_background_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    let p = BurstParams::default();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut live = Vec::new();
    let mut since = Minute::from_unix(T0).unwrap();
    for m in 0..2000i64 {
        let mut b = store.batch();
        for (tag, c) in minute(&mut rng, m) {
            b.add(&tag, T0 + m * 60 + 7, c).unwrap();
        }
        b.commit().unwrap();
        if m % 300 == 299 {
            store.seal().unwrap();
        }
        let snap = store.snapshot();
        for e in snap.onsets_since(since, &p).unwrap() {
            live.push((e.tag, e.onset));
        }
        since = Minute(snap.now().unwrap().0 + 1);
    }
    let snap = store.snapshot();
    let all = TimeRange::new(T0, T0 + 2000 * 60).unwrap();
    let q = BurstQuery::top(100);
    let mut replay: Vec<(String, Minute)> = snap
        .bursts(all, &q)
        .unwrap()
        .into_iter()
        .map(|e| (e.tag, e.onset))
        .collect();
    replay.sort_by_key(|x| (x.1, x.0.clone()));
    assert_eq!(live, replay);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].0, "surge");
    let onset = live[0].1.to_unix();
    assert!(
        (T0 + 1500 * 60..=T0 + 1502 * 60).contains(&onset),
        "{onset}"
    );
    // Every answer is finite.
    for e in snap.bursts(all, &q).unwrap() {
        assert!(e.onset_score.is_finite() && e.peak_score.is_finite() && e.expected.is_finite());
    }
    for r in snap.burst_ranking(None, &p, 50).unwrap() {
        assert!(r.score.is_finite() && r.expected.is_finite());
    }
}

#[test]
fn hour_only_ranges_stamp_onsets_at_the_end_of_their_hour() {
    let dir = tempfile::tempdir().unwrap();
    let opts = opts().minute_retention(Some(Duration::from_secs(6 * 3600)));
    let store = Store::open(dir.path(), opts).unwrap();
    let mut b = store.batch();
    for m in 0..(4 * 1440i64) {
        b.add("steady", T0 + m * 60, 3).unwrap();
        if (1800..1830).contains(&m) {
            b.add("spike", T0 + m * 60, 40).unwrap();
        }
    }
    b.commit().unwrap();
    store.seal().unwrap();
    store.compact().unwrap();
    let snap = store.snapshot();
    let range = TimeRange::new(T0 + 1440 * 60, T0 + 2 * 1440 * 60).unwrap();
    let eps = snap.bursts(range, &BurstQuery::top(10)).unwrap();
    assert_eq!(eps.len(), 1, "{eps:?}");
    let e = &eps[0];
    assert_eq!((e.tag.as_str(), e.step), ("spike", Step::Hour));
    assert_eq!(e.onset.0 % 60, 59);
    // Never earlier than the data that decided it: the spike starts at 06:00.
    assert!(e.onset.to_unix() >= T0 + 1800 * 60, "{e:?}");
}

#[test]
fn bad_parameters_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    store.record("a", T0, 1).unwrap();
    let snap = store.snapshot();
    let r = TimeRange::new(T0, T0 + 3600).unwrap();
    for p in [
        BurstParams {
            entry: f64::NAN,
            ..BurstParams::default()
        },
        BurstParams {
            exit: 100.0,
            ..BurstParams::default()
        },
        BurstParams {
            prior: f64::INFINITY,
            ..BurstParams::default()
        },
        BurstParams {
            window: Duration::from_secs(30),
            ..BurstParams::default()
        },
    ] {
        let q = BurstQuery {
            params: p.clone(),
            ..BurstQuery::top(10)
        };
        let e = snap.bursts(r, &q).unwrap_err();
        assert!(
            matches!(
                e,
                trendlog::Error::InvalidInput(trendlog::InvalidInput::BurstParameter { .. })
            ),
            "{e:?}"
        );
        assert!(snap.onsets_since(Minute(0), &p).is_err());
        assert!(snap.burst_ranking(None, &p, 10).is_err());
    }
}

#[test]
fn the_candidate_filter_over_many_tags_loses_no_episode() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for hour in 0..36i64 {
        let mut b = store.batch();
        for m in hour * 60..(hour + 1) * 60 {
            for k in 0..150u32 {
                let c = rng.count(0.05 * f64::from(k % 30 + 1));
                if c > 0 {
                    b.add(&format!("tag{k}"), T0 + m * 60, c).unwrap();
                }
            }
            // Short bursts of three tags, one of them at an hour's edge.
            if (1000..1012).contains(&m) {
                b.add("edge", T0 + m * 60, 3).unwrap();
            }
            if (1500..1530).contains(&m) {
                b.add("tag7", T0 + m * 60, 6).unwrap();
                b.add("newcomer", T0 + m * 60, 2).unwrap();
            }
        }
        b.commit().unwrap();
        store.seal().unwrap();
    }
    let snap = store.snapshot();
    let range = TimeRange::new(T0, T0 + 36 * 3600).unwrap();
    let all = snap.bursts(range, &BurstQuery::top(1000)).unwrap();
    let mut tags: Vec<&str> = all.iter().map(|e| e.tag.as_str()).collect();
    tags.sort_unstable();
    assert_eq!(tags, vec!["edge", "newcomer", "tag7"], "{all:?}");
    for e in &all {
        let q = BurstQuery {
            tags: vec![e.tag.clone()],
            ..BurstQuery::top(10)
        };
        assert_eq!(snap.bursts(range, &q).unwrap(), vec![e.clone()]);
    }
}
