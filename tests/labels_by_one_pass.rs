//! The one-pass `--by` rankings (`top_by`, `trending_by`, `bursts_by`,
//! `burst_ranking_by`) give, for every value of the key, exactly what the
//! filter narrowed to that value gives, on a store of many values where a
//! surge spreads from region to region, before and after compaction into
//! hours.

use std::time::Duration;

use trendlog::labels::{Filter, LabelKeys};
use trendlog::time::TimeRange;
use trendlog::{BurstParams, BurstQuery, Options, Store, TrendQuery};

const T0: i64 = 1_508_112_000; // 2017-10-16T00:00:00Z

fn store(dir: &std::path::Path) -> Store {
    let keys = LabelKeys::parse("platform,region").unwrap();
    let opts = Options::default()
        .label_keys(keys)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(6 * 3600)));
    let store = Store::open(dir, opts).unwrap();
    let mut b = store.batch();
    let mut x = 7u64;
    for m in 0..2 * 1440i64 {
        for _ in 0..6 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let tag = ["steady", "news", "rain", "sport"][(x >> 60) as usize % 4];
            let region = format!("r{}", (x >> 33) % 60);
            let platform = ["tw", "ig", ""][(x >> 20) as usize % 3];
            b.add_labelled(
                tag,
                &[("platform", platform), ("region", &region)],
                T0 + m * 60,
                1 + (x >> 50) % 3,
            )
            .unwrap();
        }
        // The surge: from the second day's noon, one more region every 20
        // minutes, 12 posts a minute in each.
        if m >= 1440 + 720 {
            for r in 0..=((m - 1440 - 720) / 20).min(59) {
                let region = format!("r{r}");
                b.add_labelled(
                    "metoo",
                    &[("platform", "ig"), ("region", &region)],
                    T0 + m * 60,
                    12,
                )
                .unwrap();
            }
        }
    }
    b.commit().unwrap();
    store
}

fn values(store: &Store, key: &str) -> Vec<String> {
    let all = store.snapshot().label_values().unwrap();
    all.into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_iter().map(|(v, _)| v).collect())
        .unwrap_or_default()
}

/// Groups in value order (the grouped answers keep the store's order).
fn sorted<T>(mut v: Vec<(String, T)>) -> Vec<(String, T)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn check(store: &Store) {
    let snap = store.snapshot();
    let day2 = TimeRange::new(T0 + 86_400, T0 + 2 * 86_400).unwrap();
    for (key, base) in [
        ("region", Filter::all()),
        ("region", Filter::parse(&["platform=ig"]).unwrap()),
        ("platform", Filter::all()),
        ("platform", Filter::parse(&["region=r3"]).unwrap()),
    ] {
        let narrowed = |v: &str| base.clone().and(key, v).unwrap();
        let mut want_top = Vec::new();
        let mut want_trend = Vec::new();
        let mut want_bursts = Vec::new();
        let mut want_rank = Vec::new();
        let trend = TrendQuery {
            min_count: 1,
            k: 3,
            ..TrendQuery::default()
        };
        let bq = |filter: Filter| BurstQuery {
            k: 4,
            filter,
            ..BurstQuery::default()
        };
        let p = BurstParams::default();
        for v in values(store, key) {
            let f = narrowed(&v);
            let rows = snap.top_where(day2, 3, &f).unwrap();
            if !rows.is_empty() {
                want_top.push((v.clone(), rows));
            }
            let rows = snap.trending_where(&trend, &f).unwrap();
            if !rows.is_empty() {
                want_trend.push((v.clone(), rows));
            }
            let rows = snap.bursts(day2, &bq(f.clone())).unwrap();
            if !rows.is_empty() {
                want_bursts.push((v.clone(), rows));
            }
            let rows = snap.burst_ranking_where(None, &p, 4, &f).unwrap();
            if !rows.is_empty() {
                want_rank.push((v.clone(), rows));
            }
        }
        // Values with no row are left out of the grouped answers too.
        let top: Vec<_> = snap.top_by(day2, 3, &base, key).unwrap();
        assert_eq!(sorted(top), sorted(want_top), "top by {key} within {base}");
        let tr = snap.trending_by(&trend, &base, key).unwrap();
        assert_eq!(
            sorted(tr),
            sorted(want_trend),
            "trending by {key} within {base}"
        );
        let b = snap.bursts_by(day2, &bq(base.clone()), key).unwrap();
        assert!(
            key != "region" || base.pairs().len() == 1 || b.len() > 10,
            "{b:?}"
        );
        assert_eq!(
            sorted(b),
            sorted(want_bursts),
            "bursts by {key} within {base}"
        );
        let r = snap.burst_ranking_by(None, &p, 4, &base, key).unwrap();
        assert_eq!(
            sorted(r),
            sorted(want_rank),
            "burst ranking by {key} within {base}"
        );
    }
    // An unknown key is the typed error the filters give.
    assert!(snap.top_by(day2, 3, &Filter::all(), "city").is_err());
    assert!(snap
        .trending_by(&TrendQuery::default(), &Filter::all(), "city")
        .is_err());
}

#[test]
fn one_pass_groupings_equal_the_narrowed_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    check(&store);
    // Compacted: the first day is held as hours only.
    store.compact().unwrap();
    check(&store);
}
