//! The mission's scenario: over a Zipf background of 10,000 tags spanning 48
//! hours, one tag rises from 0 to 20% of the traffic over the last 6 hours;
//! `trending` (1h window, 24h baseline) ranks it first within 2 hours of the
//! start of its rise, and `top` over the last day ranks it by its exact count.

use std::collections::HashMap;
use std::time::Duration;

use trendlog::time::TimeRange;
use trendlog::{Options, Store, SyncPolicy, TrendQuery};
use trendlog_workload::{events, WorkloadSpec};

const H: i64 = 3600;

#[test]
fn trending_scenario() {
    let spec = WorkloadSpec {
        events: 1_200_000,
        tags: 10_000,
        span_secs: 48 * H,
        surge_tag: "metoo".into(),
        surge_max_share: 0.2,
        // The rise starts at hour 42 and reaches 20% at hour 48.
        surge_start_frac: 42.0 / 48.0,
        ..WorkloadSpec::default()
    };
    let start = spec.start;
    let rise = start + 42 * H;
    let end = start + 48 * H;
    let w = events(&spec);
    let names = w.tag_names().to_vec();
    let surge = w.surge_index() as usize;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        Options::default()
            .sync_policy(SyncPolicy::Manual)
            .background_compaction(false),
    )
    .unwrap();
    let q = TrendQuery {
        window: Duration::from_secs(3600),
        baseline: Duration::from_secs(24 * 3600),
        k: 5,
        ..TrendQuery::default()
    };

    // Exact counts of the last day, per tag, as the stream goes by.
    let mut last_day: HashMap<usize, u64> = HashMap::new();
    let mut first_rank_at: Option<i64> = None;
    let mut next_check = rise;
    let mut batch = store.batch();
    let mut in_batch = 0;
    let mut checks = Vec::new();
    for e in w {
        if e.ts >= next_check && first_rank_at.is_none() {
            // Everything stamped before `next_check` has been added (late
            // events arrive a little after, as in a real stream).
            batch.commit().unwrap();
            batch = store.batch();
            in_batch = 0;
            if next_check > rise {
                let rows = store
                    .trending(&TrendQuery {
                        at: Some(next_check),
                        ..q.clone()
                    })
                    .unwrap();
                checks.push((next_check - rise, rows.first().map(|r| r.tag.clone())));
                if rows.first().is_some_and(|r| r.tag == "metoo") {
                    first_rank_at = Some(next_check);
                }
            }
            next_check += 10 * 60;
        }
        batch
            .add(&names[e.tag_index as usize], e.ts, e.count)
            .unwrap();
        in_batch += 1;
        if in_batch == 10_000 {
            batch.commit().unwrap();
            batch = store.batch();
            in_batch = 0;
        }
        if e.ts >= end - 24 * H {
            *last_day.entry(e.tag_index as usize).or_default() += e.count;
        }
    }
    batch.commit().unwrap();
    println!("trending checks (seconds after the rise, top tag): {checks:?}");
    let at = first_rank_at.expect("the surging tag was never ranked first");
    assert!(
        at - rise <= 2 * H,
        "ranked first only {}s after the rise",
        at - rise
    );
    println!(
        "metoo ranked first {} minutes after the start of its rise",
        (at - rise) / 60
    );

    // At the end, it is still first, with exact counts.
    let rows = store.trending(&q).unwrap();
    assert_eq!(rows[0].tag, "metoo", "{rows:?}");
    let recent = store
        .total("metoo", TimeRange::new(end - H, end).unwrap())
        .unwrap();
    let base = store
        .total("metoo", TimeRange::new(end - 25 * H, end - H).unwrap())
        .unwrap();
    assert_eq!((rows[0].recent, rows[0].baseline), (recent, base));

    // top over the last day: the whole top-20 list equals the exact ranking,
    // and the surging tag sits at the rank its exact count gives it.
    let day = TimeRange::new(end - 24 * H, end).unwrap();
    let mut exact: Vec<(String, u64)> = last_day
        .iter()
        .map(|(&i, &c)| (names[i].clone(), c))
        .collect();
    exact.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    exact.truncate(20);
    let top: Vec<(String, u64)> = store
        .top(day, 20)
        .unwrap()
        .into_iter()
        .map(|r| (r.tag, r.count))
        .collect();
    assert_eq!(top, exact);
    let metoo = last_day[&surge];
    let rank = top
        .iter()
        .position(|r| r.0 == "metoo")
        .expect("metoo in the top 20");
    assert_eq!(top[rank].1, metoo);
    println!(
        "metoo: {metoo} events in the last day, rank {} by volume",
        rank + 1
    );
}
