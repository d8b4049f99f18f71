//! A labelled store answers every query, with and without filters and
//! group-by, exactly as a plain `BTreeMap<(tag, labels, minute), u64>` model
//! does, through batches, seals, compactions and reopens; and labelled input
//! that does not fit the store is refused without changing anything.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use trendlog::labels::{Filter, LabelKeys};
use trendlog::time::{Step, TimeRange};
use trendlog::{Error, InvalidInput, Options, SpreadQuery, Store, TrendQuery};

const TAGS: [&str; 4] = ["metoo", "timesup", "été", "x"];
const PLATFORMS: [&str; 3] = ["twitter", "instagram", ""];
const REGIONS: [&str; 4] = ["chicago", "nyc", "la", ""];
/// 2017-10-15T00:00:00Z, a day boundary.
const T0: i64 = 1_508_025_600;
const SPAN_MIN: u32 = 6 * 60;

type Key = (String, String, String, u32);

#[derive(Debug, Clone)]
enum Op {
    Batch(Vec<(usize, usize, usize, u32, u64)>),
    Seal,
    Compact,
    Reopen,
    Total(usize, u32, u32, u8),
    SeriesBy(usize, u32, u32, u8),
    Top(u32, u32, usize, u8),
    Trending(u32, u32, u32, usize, u64, u8),
    Spread(usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let ev = (
        0..TAGS.len(),
        0..PLATFORMS.len(),
        0..REGIONS.len(),
        0..SPAN_MIN,
        1..5u64,
    );
    prop_oneof![
        6 => prop::collection::vec(ev, 1..25).prop_map(Op::Batch),
        1 => Just(Op::Seal),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        3 => (0..TAGS.len(), 0..SPAN_MIN + 60, 0..SPAN_MIN + 60, 0..16u8)
            .prop_map(|(t, a, b, f)| Op::Total(t, a.min(b), a.max(b), f)),
        2 => (0..TAGS.len(), 0..7u32, 0..7u32, 0..16u8)
            .prop_map(|(t, a, b, f)| Op::SeriesBy(t, a.min(b), a.max(b), f)),
        2 => (0..SPAN_MIN, 0..SPAN_MIN, 0..5usize, 0..16u8)
            .prop_map(|(a, b, k, f)| Op::Top(a.min(b), a.max(b), k, f)),
        2 => (0..SPAN_MIN + 60, 1..90u32, 1..200u32, 0..5usize, 0..4u64, 0..16u8)
            .prop_map(|(at, w, b, k, mc, f)| Op::Trending(at, w, b, k, mc, f)),
        1 => (0..TAGS.len(), 0..16u8).prop_map(|(t, f)| Op::Spread(t, f)),
    ]
}

/// Filter number `f`: bits 0-1 pick a platform condition (3: none), bits 2-3
/// a region condition (3: none); the empty value selects "unknown".
fn filter(f: u8) -> (Filter, Option<&'static str>, Option<&'static str>) {
    let p = PLATFORMS.get(usize::from(f & 3)).copied();
    let r = REGIONS.get(usize::from(f >> 2 & 3)).copied();
    let mut flt = Filter::all();
    if let Some(p) = p {
        flt = flt.and("platform", p).unwrap();
    }
    if let Some(r) = r {
        flt = flt.and("region", r).unwrap();
    }
    (flt, p, r)
}

fn matches(k: &Key, p: Option<&str>, r: Option<&str>) -> bool {
    p.is_none_or(|p| k.1 == p) && r.is_none_or(|r| k.2 == r)
}

fn keys() -> LabelKeys {
    LabelKeys::parse("platform,region").unwrap()
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(
        dir,
        Options::default()
            .label_keys(keys())
            .background_compaction(false),
    )
    .unwrap()
}

fn range(a: u32, b: u32) -> TimeRange {
    TimeRange::new(T0 + i64::from(a) * 60, T0 + i64::from(b) * 60).unwrap()
}

fn sum(model: &BTreeMap<Key, u64>, tag: &str, lo: u32, hi: u32, f: u8) -> u64 {
    let (_, p, r) = filter(f);
    model
        .iter()
        .filter(|(k, _)| k.0 == tag && k.3 >= lo && k.3 < hi && matches(k, p, r))
        .map(|(_, c)| c)
        .sum()
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut model: BTreeMap<Key, u64> = BTreeMap::new();
    let mut now: Option<u32> = None;
    for op in ops {
        match op {
            Op::Batch(evs) => {
                let mut b = store.batch();
                for &(t, p, r, m, c) in &evs {
                    let labels = [("platform", PLATFORMS[p]), ("region", REGIONS[r])];
                    b.add_labelled(TAGS[t], &labels, T0 + i64::from(m) * 60, c)
                        .unwrap();
                }
                b.commit().unwrap();
                for &(t, p, r, m, c) in &evs {
                    let k = (TAGS[t].into(), PLATFORMS[p].into(), REGIONS[r].into(), m);
                    *model.entry(k).or_default() += c;
                    now = now.max(Some(m));
                }
            }
            Op::Seal => store.seal().unwrap(),
            Op::Compact => {
                store.compact().unwrap();
            }
            Op::Reopen => {
                store.close().unwrap();
                store = open(dir.path());
            }
            Op::Total(t, lo, hi, f) => {
                let got = store
                    .snapshot()
                    .total_where(TAGS[t], range(lo, hi), &filter(f).0)
                    .unwrap();
                prop_assert_eq!(got, sum(&model, TAGS[t], lo, hi, f));
            }
            Op::SeriesBy(t, a, b, f) => {
                let (lo, hi) = (a * 60, b * 60);
                let snap = store.snapshot();
                let got = snap
                    .series_by(TAGS[t], range(lo, hi), Step::Hour, &filter(f).0, "region")
                    .unwrap();
                let (_, p, rf) = filter(f);
                let mut want: Vec<(String, Vec<u64>, u64)> = Vec::new();
                for r in REGIONS {
                    if rf.is_some_and(|x| x != r) {
                        continue;
                    }
                    let pts: Vec<u64> = (a..b)
                        .map(|h| {
                            model
                                .iter()
                                .filter(|(k, _)| {
                                    k.0 == TAGS[t]
                                        && k.2 == r
                                        && k.3 / 60 == h
                                        && p.is_none_or(|p| k.1 == p)
                                })
                                .map(|(_, c)| c)
                                .sum()
                        })
                        .collect();
                    let total: u64 = pts.iter().sum();
                    if total > 0 {
                        want.push((r.to_string(), pts, total));
                    }
                }
                want.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| x.0.cmp(&y.0)));
                let got: Vec<(String, Vec<u64>, u64)> = got
                    .into_iter()
                    .map(|(v, s)| (v, s.points.iter().map(|p| p.1).collect(), s.total))
                    .collect();
                prop_assert_eq!(got, want);
                // The summed series equals the sum of the groups.
                let whole = snap
                    .series_where(TAGS[t], range(lo, hi), Step::Hour, &filter(f).0)
                    .unwrap();
                prop_assert_eq!(whole.total, sum(&model, TAGS[t], lo, hi, f));
            }
            Op::Top(lo, hi, k, f) => {
                let got = store
                    .snapshot()
                    .top_where(range(lo, hi), k, &filter(f).0)
                    .unwrap();
                let mut want: Vec<(String, u64)> = TAGS
                    .iter()
                    .map(|t| (t.to_string(), sum(&model, t, lo, hi, f)))
                    .filter(|x| x.1 > 0)
                    .collect();
                want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                want.truncate(k);
                let got: Vec<(String, u64)> = got.into_iter().map(|r| (r.tag, r.count)).collect();
                prop_assert_eq!(got, want);
                // Grouped by either key in one pass: per value, the top of
                // the filter narrowed to that value; values without events
                // left out.
                for (key, values) in [("platform", &PLATFORMS[..]), ("region", &REGIONS[..])] {
                    let got: BTreeMap<String, Vec<(String, u64)>> = store
                        .snapshot()
                        .top_by(range(lo, hi), k, &filter(f).0, key)
                        .unwrap()
                        .into_iter()
                        .map(|(v, rows)| (v, rows.into_iter().map(|r| (r.tag, r.count)).collect()))
                        .collect();
                    let mut want = BTreeMap::new();
                    for v in values.iter() {
                        let (_, p, r) = filter(f);
                        let mut rows: Vec<(String, u64)> = TAGS
                            .iter()
                            .map(|t| {
                                let c: u64 = model
                                    .iter()
                                    .filter(|(m, _)| {
                                        m.0 == *t
                                            && m.3 >= lo
                                            && m.3 < hi
                                            && matches(m, p, r)
                                            && if key == "platform" {
                                                m.1 == *v
                                            } else {
                                                m.2 == *v
                                            }
                                    })
                                    .map(|(_, c)| c)
                                    .sum();
                                (t.to_string(), c)
                            })
                            .filter(|x| x.1 > 0)
                            .collect();
                        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                        rows.truncate(k);
                        if !rows.is_empty() {
                            want.insert(v.to_string(), rows);
                        }
                    }
                    prop_assert_eq!(got, want, "by {}", key);
                }
            }
            Op::Trending(at, w, b, k, mc, f) => {
                let q = TrendQuery {
                    at: Some(T0 + i64::from(at) * 60),
                    window: Duration::from_secs(u64::from(w) * 60),
                    baseline: Duration::from_secs(u64::from(b) * 60),
                    k,
                    min_count: mc,
                    prior: 1.0 / 60.0,
                };
                let got = store.snapshot().trending_where(&q, &filter(f).0).unwrap();
                let rlo = at.saturating_sub(w);
                let blo = rlo.saturating_sub(b);
                let mut want: Vec<(f64, u64, String, u64)> = Vec::new();
                let (_, p, rf) = filter(f);
                for t in TAGS {
                    // Candidates: tags with some series matching the filter.
                    if !model.keys().any(|k| k.0 == t && matches(k, p, rf)) {
                        continue;
                    }
                    let r = sum(&model, t, rlo, at, f);
                    let base = sum(&model, t, blo, rlo, f);
                    // No event in either window: not ranked, at any `mc`.
                    if r < mc || r + base == 0 {
                        continue;
                    }
                    let g = (r as f64 / f64::from(w) + 1.0 / 60.0)
                        / (base as f64 / f64::from(b) + 1.0 / 60.0);
                    want.push((g, r, t.to_string(), base));
                }
                want.sort_by(|x, y| {
                    y.0.total_cmp(&x.0)
                        .then(y.1.cmp(&x.1))
                        .then_with(|| x.2.cmp(&y.2))
                });
                want.truncate(k);
                let got: Vec<(String, u64, u64)> = got
                    .into_iter()
                    .map(|r| (r.tag, r.recent, r.baseline))
                    .collect();
                let want: Vec<(String, u64, u64)> =
                    want.into_iter().map(|x| (x.2, x.1, x.3)).collect();
                prop_assert_eq!(got, want);
                // Grouped by a key the filter leaves open, in one pass: per
                // value, what the filter narrowed to that value ranks (that
                // ranking is checked against the model above).
                let open_keys = [
                    ("platform", f & 3 == 3, &PLATFORMS[..]),
                    ("region", f >> 2 == 3, &REGIONS[..]),
                ];
                for (key, _, values) in open_keys.into_iter().filter(|x| x.1) {
                    let snap = store.snapshot();
                    let got: BTreeMap<String, Vec<(String, u64, u64)>> = snap
                        .trending_by(&q, &filter(f).0, key)
                        .unwrap()
                        .into_iter()
                        .map(|(v, rows)| {
                            (
                                v,
                                rows.into_iter()
                                    .map(|r| (r.tag, r.recent, r.baseline))
                                    .collect(),
                            )
                        })
                        .collect();
                    let mut want = BTreeMap::new();
                    for v in values.iter() {
                        let narrowed = filter(f).0.and(key, v).unwrap();
                        let rows: Vec<(String, u64, u64)> = snap
                            .trending_where(&q, &narrowed)
                            .unwrap()
                            .into_iter()
                            .map(|r| (r.tag, r.recent, r.baseline))
                            .collect();
                        if !rows.is_empty() {
                            want.insert(v.to_string(), rows);
                        }
                    }
                    prop_assert_eq!(got, want, "by {}", key);
                }
            }
            Op::Spread(t, f) => {
                let Some(n) = now else { continue };
                let (flt, p, rf) = filter(f);
                let q = SpreadQuery {
                    by: "region".into(),
                    filter: flt,
                    at: Some(T0 + i64::from(n / 60 + 1) * 3600),
                    window: Duration::from_secs(3600),
                    baseline: Duration::from_secs(3 * 3600),
                    span: Duration::from_secs(6 * 3600),
                    step: Step::Hour,
                    min_count: 2,
                    threshold: 1.5,
                    prior: 1.0 / 60.0,
                };
                let s = store.snapshot().spread(TAGS[t], &q).unwrap();
                let end = (n / 60 + 1) * 60;
                let in_region = |r: &str, lo: u32, hi: u32| -> u64 {
                    model
                        .iter()
                        .filter(|(k, _)| {
                            k.0 == TAGS[t]
                                && k.2 == r
                                && k.3 >= lo
                                && k.3 < hi
                                && p.is_none_or(|p| k.1 == p)
                        })
                        .map(|(_, c)| c)
                        .sum()
                };
                let mut want_rows = BTreeSet::new();
                for r in REGIONS {
                    if rf.is_some_and(|x| x != r) {
                        continue;
                    }
                    let recent = in_region(r, end - 60, end);
                    let base = in_region(r, end.saturating_sub(240), end - 60);
                    let timeline = in_region(r, end.saturating_sub(360), end);
                    if recent + base + timeline > 0 {
                        want_rows.insert((r.to_string(), recent, base));
                    }
                }
                let got_rows: BTreeSet<(String, u64, u64)> = s
                    .rows
                    .iter()
                    .map(|r| (r.value.clone(), r.recent, r.baseline))
                    .collect();
                prop_assert_eq!(got_rows, want_rows);
                let last = s.timeline.last().copied();
                let present = REGIONS
                    .iter()
                    .filter(|r| rf.is_none_or(|x| x == **r))
                    .filter(|r| in_region(r, end - 60, end) > 0)
                    .count() as u32;
                prop_assert_eq!(last.map(|p| p.present), Some(present));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn labelled_store_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}

#[test]
fn labelled_input_that_does_not_fit_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut b = store.batch();
    b.add_labelled("metoo", &[("platform", "twitter")], T0, 1)
        .unwrap();
    let e = b
        .add_labelled("metoo", &[("regoin", "chicago")], T0, 1)
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(InvalidInput::UnknownLabelKey { key, known })
            if key == "regoin" && known == &["platform", "region"]),
        "{e}"
    );
    let e = b
        .add_labelled("metoo", &[("region", "new york")], T0, 1)
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(InvalidInput::BadLabelValue { key, value, .. })
            if key == "region" && value == "new york"),
        "{e}"
    );
    assert!(matches!(
        b.add("metoo", T0, 1).unwrap_err(),
        Error::InvalidInput(InvalidInput::BadLabels(_))
    ));
    assert!(b
        .add_labelled("metoo", &[("platform", "a"), ("platform", "b")], T0, 1)
        .is_err());
    assert_eq!(b.commit().unwrap().cells, 1);
    let snap = store.snapshot();
    let all = TimeRange::new(T0, T0 + 60).unwrap();
    assert_eq!(snap.total("metoo", all).unwrap(), 1);
    assert!(snap
        .total_where("metoo", all, &Filter::parse(&["regoin=x"]).unwrap())
        .is_err());
    assert!(snap.spread("metoo", &SpreadQuery::default()).is_err());
    drop(snap);
    store.close().unwrap();

    // Different keys on reopen are refused; none means "whatever it has".
    let other = Options::default().label_keys(LabelKeys::parse("region").unwrap());
    assert!(matches!(
        Store::open(dir.path(), other).unwrap_err(),
        Error::InvalidInput(InvalidInput::BadLabelKeys(_))
    ));
    // The same keys in another order: said so.
    let swapped = Options::default().label_keys(LabelKeys::parse("region,platform").unwrap());
    match Store::open(dir.path(), swapped).unwrap_err() {
        Error::InvalidInput(InvalidInput::BadLabelKeys(why)) => {
            assert!(why.contains("the same keys in another order"), "{why}")
        }
        e => panic!("{e:?}"),
    }
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.label_keys(), &keys());
    drop(ro);

    // An unlabelled store refuses labels and filters.
    let plain = tempfile::tempdir().unwrap();
    let store = Store::open(plain.path(), Options::default()).unwrap();
    let mut b = store.batch();
    assert!(matches!(
        b.add_labelled("metoo", &[("platform", "x")], T0, 1)
            .unwrap_err(),
        Error::InvalidInput(InvalidInput::BadLabels(_))
    ));
    b.add("metoo", T0, 2).unwrap();
    b.commit().unwrap();
    let snap = store.snapshot();
    assert_eq!(snap.total_where("metoo", all, &Filter::all()).unwrap(), 2);
    assert!(matches!(
        snap.total_where("metoo", all, &Filter::parse(&["platform=x"]).unwrap())
            .unwrap_err(),
        Error::InvalidInput(InvalidInput::UnknownLabelKey { .. })
    ));
    assert!(LabelKeys::new((0..9).map(|i| format!("k{i}"))).is_err());
}

/// Compaction rolls labelled minutes into hours exactly like unlabelled ones:
/// per-value hourly series are unchanged by the roll-up.
#[test]
fn labelled_minutes_roll_up_into_hours() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        Options::default()
            .label_keys(keys())
            .minute_retention(Some(Duration::from_secs(2 * 3600)))
            .background_compaction(false),
    )
    .unwrap();
    let mut model: BTreeMap<(String, u32), u64> = BTreeMap::new();
    let mut b = store.batch();
    for m in 0..10 * 60u32 {
        for (i, r) in REGIONS.iter().enumerate() {
            let c = u64::from(m % 7) + i as u64;
            if c == 0 {
                continue;
            }
            let p = PLATFORMS[(m as usize + i) % 3];
            b.add_labelled(
                "metoo",
                &[("platform", p), ("region", r)],
                T0 + i64::from(m) * 60,
                c,
            )
            .unwrap();
            *model.entry((r.to_string(), m / 60)).or_default() += c;
        }
    }
    b.commit().unwrap();
    let before = store
        .snapshot()
        .series_by("metoo", range(0, 600), Step::Hour, &Filter::all(), "region")
        .unwrap();
    store.seal().unwrap();
    let report = store.compact().unwrap();
    assert!(report.cells_after < report.cells_before, "{report:?}");
    let snap = store.snapshot();
    assert!(snap.stats().hour_cells > 0);
    let after = snap
        .series_by("metoo", range(0, 600), Step::Hour, &Filter::all(), "region")
        .unwrap();
    assert_eq!(before, after);
    for (r, s) in &after {
        for (h, &(_, c)) in s.points.iter().enumerate() {
            assert_eq!(c, model.get(&(r.clone(), h as u32)).copied().unwrap_or(0));
        }
    }
}
