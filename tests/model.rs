//! The store answers every query exactly as a plain `BTreeMap<(tag, minute),
//! u64>` model does, through any sequence of records, batches, syncs, seals,
//! compactions (with roll-up to hours) and reopens.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use trendlog::time::{Step, TimeRange};
use trendlog::{Error, Options, Store, SyncPolicy, TrendQuery};

const TAGS: [&str; 5] = ["metoo", "#MeToo2", "timesup", "ÉTÉ", "x"];
/// 2017-10-15T00:00:00Z, a day boundary.
const T0: i64 = 1_508_025_600;
const SPAN_MIN: u32 = 8 * 60;
/// Minutes kept at minute resolution in these tests (rounded to hours by the store).
const MINUTE_KEEP_H: u64 = 2;

#[derive(Debug, Clone)]
enum Op {
    Batch(Vec<(usize, u32, u64)>),
    Record(usize, u32, u64),
    Sync,
    Seal,
    Compact,
    Reopen,
    Total(usize, u32, u32),
    Series(usize, u32, u32, u8),
    Top(u32, u32, usize),
    Trending(u32, u32, u32, usize, u64),
}

fn event() -> impl Strategy<Value = (usize, u32, u64)> {
    (0..TAGS.len(), 0..SPAN_MIN, 1..5u64)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(event(), 1..20).prop_map(Op::Batch),
        3 => event().prop_map(|(t, m, c)| Op::Record(t, m, c)),
        1 => Just(Op::Sync),
        1 => Just(Op::Seal),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        2 => (0..TAGS.len(), 0..SPAN_MIN + 60, 0..SPAN_MIN + 60).prop_map(|(t, a, b)| Op::Total(t, a.min(b), a.max(b))),
        2 => (0..TAGS.len(), 0..9u32, 0..9u32, 0..3u8).prop_map(|(t, a, b, s)| Op::Series(t, a.min(b), a.max(b), s)),
        1 => (0..SPAN_MIN, 0..SPAN_MIN, 0..7usize).prop_map(|(a, b, k)| Op::Top(a.min(b), a.max(b), k)),
        1 => (0..SPAN_MIN + 60, 1..90u32, 1..300u32, 0..6usize, 0..4u64)
            .prop_map(|(at, w, b, k, mc)| Op::Trending(at, w, b, k, mc)),
    ]
}

struct Model {
    cells: BTreeMap<(String, u32), u64>,
    now: Option<u32>,
}

fn norm(t: &str) -> String {
    trendlog::tag::normalize(t).unwrap().into_owned()
}

impl Model {
    fn add(&mut self, tag: &str, minute: u32, c: u64) {
        *self.cells.entry((norm(tag), minute)).or_default() += c;
        self.now = Some(self.now.map_or(minute, |n| n.max(minute)));
    }

    fn minute_floor(&self) -> Option<u32> {
        let n = self.now?;
        let f = n.saturating_sub(MINUTE_KEEP_H as u32 * 60);
        Some(f - f % 60)
    }

    /// Whether the store must refuse `[lo, hi)` minutes at `step` minutes.
    fn refuses(&self, lo: u32, hi: u32, step_min: u32) -> bool {
        let Some(f) = self.minute_floor() else {
            return false;
        };
        let splits = |m: u32| m < f && !m.is_multiple_of(60);
        lo < hi && ((step_min == 1 && lo < f) || splits(lo) || splits(hi))
    }

    fn total(&self, tag: &str, lo: u32, hi: u32) -> u64 {
        let t = norm(tag);
        self.cells
            .iter()
            .filter(|((k, m), _)| *k == t && *m >= lo && *m < hi)
            .map(|(_, c)| c)
            .sum()
    }

    fn totals_by_tag(&self, lo: u32, hi: u32) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((t, m), c) in &self.cells {
            if *m >= lo && *m < hi {
                *out.entry(t.clone()).or_default() += c;
            }
        }
        out
    }
}

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(MINUTE_KEEP_H * 3600)))
        .seal_after(Duration::from_secs(90 * 60))
        .seal_cells(40)
        .log_file_bytes(8192)
}

fn secs(m: u32) -> i64 {
    T0 + i64::from(m) * 60
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), opts()).unwrap();
    let mut model = Model {
        cells: BTreeMap::new(),
        now: None,
    };
    let base_min = (T0 / 60) as u32;
    for op in ops {
        match op {
            Op::Batch(evs) => {
                let mut b = store.batch();
                for &(t, m, c) in &evs {
                    b.add(TAGS[t], secs(m), c).unwrap();
                }
                b.commit().unwrap();
                for (t, m, c) in evs {
                    model.add(TAGS[t], base_min + m, c);
                }
            }
            Op::Record(t, m, c) => {
                store.record(TAGS[t], secs(m), c).unwrap();
                model.add(TAGS[t], base_min + m, c);
            }
            Op::Sync => store.sync().unwrap(),
            Op::Seal => store.seal().unwrap(),
            Op::Compact => {
                store.compact().unwrap();
            }
            Op::Reopen => {
                store.sync().unwrap();
                store.close().unwrap();
                store = Store::open(dir.path(), opts()).unwrap();
            }
            Op::Total(t, a, b) => {
                let r = TimeRange::new(secs(a), secs(b)).unwrap();
                let got = store.total(TAGS[t], r);
                if model.refuses(base_min + a, base_min + b, 60) {
                    prop_assert!(
                        matches!(got, Err(Error::ResolutionUnavailable { .. })),
                        "{got:?}"
                    );
                } else {
                    prop_assert_eq!(
                        got.unwrap(),
                        model.total(TAGS[t], base_min + a, base_min + b)
                    );
                }
            }
            Op::Series(t, a, b, s) => {
                let step = [Step::Minute, Step::Hour, Step::Day][s as usize];
                let w = step.minutes();
                let (lo, hi) = if step == Step::Day {
                    (0, (b > a) as u32 * w)
                } else {
                    (a * 60, b * 60)
                };
                let r = TimeRange::new(secs(lo), secs(hi)).unwrap();
                let got = store.snapshot().series(TAGS[t], r, step);
                if model.refuses(base_min + lo, base_min + hi, w) {
                    prop_assert!(
                        matches!(got, Err(Error::ResolutionUnavailable { .. })),
                        "{got:?}"
                    );
                } else {
                    let got = got.unwrap();
                    let want: Vec<(i64, u64)> = (lo..hi)
                        .step_by(w as usize)
                        .map(|m| {
                            (
                                secs(m),
                                model.total(TAGS[t], base_min + m, base_min + m + w),
                            )
                        })
                        .collect();
                    prop_assert_eq!(got.points, want);
                }
            }
            Op::Top(a, b, k) => {
                let r = TimeRange::new(secs(a), secs(b)).unwrap();
                let got = store.snapshot().top(r, k);
                if model.refuses(base_min + a, base_min + b, 60) {
                    prop_assert!(
                        matches!(got, Err(Error::ResolutionUnavailable { .. })),
                        "{:?}",
                        got
                    );
                } else {
                    let mut want: Vec<(String, u64)> = model
                        .totals_by_tag(base_min + a, base_min + b)
                        .into_iter()
                        .filter(|x| x.1 > 0)
                        .collect();
                    want.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
                    want.truncate(k);
                    let got: Vec<(String, u64)> =
                        got.unwrap().into_iter().map(|r| (r.tag, r.count)).collect();
                    prop_assert_eq!(got, want);
                }
            }
            Op::Trending(at, w, b, k, mc) => {
                let q = TrendQuery {
                    at: Some(secs(at)),
                    window: Duration::from_secs(u64::from(w) * 60),
                    baseline: Duration::from_secs(u64::from(b) * 60),
                    k,
                    min_count: mc,
                    prior: 1.0 / 60.0,
                };
                let got = store.snapshot().trending(&q);
                let at_m = base_min + at;
                let (rlo, blo) = (at_m.saturating_sub(w), at_m.saturating_sub(w + b));
                let refuse = model.refuses(rlo, at_m, 60) || model.refuses(blo, rlo, 60);
                if refuse {
                    prop_assert!(
                        matches!(got, Err(Error::ResolutionUnavailable { .. })),
                        "{got:?}"
                    );
                    continue;
                }
                let rec = model.totals_by_tag(rlo, at_m);
                let base = model.totals_by_tag(blo, rlo);
                let p = 1.0 / 60.0;
                let mut want: Vec<(String, u64, u64, f64)> = store
                    .snapshot()
                    .tags()
                    .into_iter()
                    .map(|t| {
                        let r = rec.get(&t).copied().unwrap_or(0);
                        let bc = base.get(&t).copied().unwrap_or(0);
                        let g = (r as f64 / f64::from(w) + p) / (bc as f64 / f64::from(b) + p);
                        (t, r, bc, g)
                    })
                    // No event in either window: not ranked, at any `mc`.
                    .filter(|x| x.1 >= mc && x.1 + x.2 > 0)
                    .collect();
                want.sort_by(|x, y| y.3.total_cmp(&x.3).then(y.1.cmp(&x.1)).then(x.0.cmp(&y.0)));
                want.truncate(k);
                let got = got.unwrap();
                prop_assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    prop_assert_eq!(&g.tag, &w.0);
                    prop_assert_eq!((g.recent, g.baseline), (w.1, w.2));
                    prop_assert!((g.growth - w.3).abs() <= 1e-9 * w.3.abs().max(1.0));
                }
            }
        }
    }
    // Whatever happened, every hour-aligned total still matches after a final reopen.
    store.close().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    for t in TAGS {
        let r = TimeRange::new(T0, secs(SPAN_MIN)).unwrap();
        prop_assert_eq!(
            store.total(t, r).unwrap(),
            model.total(t, base_min, base_min + SPAN_MIN)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 2000, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
