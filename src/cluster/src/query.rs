//! Answering a [`Request`] from one embedded store, and merging the answers of
//! several partitions into the answer one store over all the data would give.
//!
//! A tag lives in exactly one partition, so the global top-k is contained in
//! the union of every partition's local top-k (ties are broken by tag the same
//! way everywhere); sorting that union by the store's own order and keeping k
//! rows gives exactly the single store's answer.

use std::cmp::Ordering;
use std::time::Duration;

use trendlog::time::{Step, TimeRange};
use trendlog::{Store, TrendQuery};

use crate::error::{Error, Result};
use crate::wire::{Answer, Request, TopRow, TrendRow};

/// Most rows a top or trending request may ask for.
pub const MAX_K: usize = 1_000_000;

/// The end of the store's newest minute, unix seconds.
pub fn now_end(store: &Store) -> Option<i64> {
    store.now().map(|m| m.to_unix() + 60)
}

fn check_k(k: usize) -> Result<()> {
    if k > MAX_K {
        return Err(Error::BadRequest(format!("k = {k} is above {MAX_K}")));
    }
    Ok(())
}

/// Turns a trending request into the engine's query, with `at` resolved.
pub fn trend_query(req: &Request, at: Option<i64>) -> Result<TrendQuery> {
    match req {
        Request::Trending {
            window_secs,
            baseline_secs,
            k,
            min_count,
            prior,
            ..
        } => {
            check_k(*k)?;
            Ok(TrendQuery {
                at,
                window: Duration::from_secs(*window_secs),
                baseline: Duration::from_secs(*baseline_secs),
                k: *k,
                min_count: *min_count,
                prior: *prior,
            })
        }
        _ => Err(Error::BadRequest("not a trending request".into())),
    }
}

/// Answers `req` from `store` (a consistent snapshot of it). `Status` is
/// answered by the caller, who knows the position.
pub fn answer(store: &Store, req: &Request) -> Result<Answer> {
    let snap = store.snapshot();
    Ok(match req {
        Request::Total { tag, from, to } => {
            Answer::Total(snap.total(tag, TimeRange::new(*from, *to)?)?)
        }
        Request::Series {
            tag,
            from,
            to,
            step,
        } => {
            let s = snap.series(tag, TimeRange::new(*from, *to)?, Step::parse(step)?)?;
            Answer::Series {
                points: s.points,
                total: s.total,
            }
        }
        Request::Top { from, to, k, .. } => {
            check_k(*k)?;
            let rows = snap.top(TimeRange::new(*from, *to)?, *k)?;
            Answer::Top(
                rows.into_iter()
                    .map(|r| TopRow {
                        tag: r.tag,
                        count: r.count,
                    })
                    .collect(),
            )
        }
        Request::Trending { at, .. } => {
            let q = trend_query(req, *at)?;
            let rows = snap.trending(&q)?;
            Answer::Trending(
                rows.into_iter()
                    .map(|r| TrendRow {
                        tag: r.tag,
                        recent: r.recent,
                        baseline: r.baseline,
                        growth: r.growth.to_string(),
                    })
                    .collect(),
            )
        }
        Request::Status => {
            return Err(Error::BadRequest(
                "status is answered by the replica, not the store".into(),
            ))
        }
    })
}

/// The store's order for top rows: most events first, ties by tag.
pub fn top_order(a: &TopRow, b: &TopRow) -> Ordering {
    b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag))
}

/// The store's order for trending rows: highest growth, then most recent
/// events, then tag.
pub fn trend_order(a: &TrendRow, b: &TrendRow) -> Ordering {
    b.growth_value()
        .total_cmp(&a.growth_value())
        .then(b.recent.cmp(&a.recent))
        .then_with(|| a.tag.cmp(&b.tag))
}

/// Merges per-partition top lists into the global top k.
pub fn merge_top(parts: Vec<Vec<TopRow>>, k: usize) -> Vec<TopRow> {
    let mut all: Vec<TopRow> = parts.into_iter().flatten().collect();
    all.sort_by(top_order);
    all.truncate(k);
    all
}

/// Merges per-partition trending lists into the global top k.
pub fn merge_trending(parts: Vec<Vec<TrendRow>>, k: usize) -> Vec<TrendRow> {
    let mut all: Vec<TrendRow> = parts.into_iter().flatten().collect();
    all.sort_by(trend_order);
    all.truncate(k);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(tag: &str, count: u64) -> TopRow {
        TopRow {
            tag: tag.into(),
            count,
        }
    }

    #[test]
    fn top_merge_breaks_ties_by_tag_across_partitions() {
        let merged = merge_top(
            vec![
                vec![top("b", 5), top("d", 1)],
                vec![top("a", 5), top("c", 2)],
                vec![],
            ],
            3,
        );
        assert_eq!(merged, vec![top("a", 5), top("b", 5), top("c", 2)]);
    }

    #[test]
    fn trending_merge_uses_growth_then_recent_then_tag() {
        let row = |tag: &str, recent, g: f64| TrendRow {
            tag: tag.into(),
            recent,
            baseline: 0,
            growth: g.to_string(),
        };
        let merged = merge_trending(
            vec![
                vec![row("x", 5, 2.0), row("y", 9, 1.5)],
                vec![
                    row("a", 5, 2.0),
                    row("z", 10, 1.5),
                    row("inf", 1, f64::INFINITY),
                ],
            ],
            4,
        );
        let tags: Vec<&str> = merged.iter().map(|r| r.tag.as_str()).collect();
        assert_eq!(tags, ["inf", "a", "x", "z"]);
    }

    #[test]
    fn merged_answers_equal_one_store_over_all_data() {
        use crate::partition::partition_of;
        let one = tempfile::tempdir().unwrap();
        let parts: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
        let opts = || trendlog::Options::default().sync_policy(trendlog::SyncPolicy::Manual);
        let single = Store::open(one.path(), opts()).unwrap();
        let stores: Vec<Store> = parts
            .iter()
            .map(|d| Store::open(d.path(), opts()).unwrap())
            .collect();
        let base = 1_508_025_600;
        let mut all = single.batch();
        let mut each: Vec<_> = stores.iter().map(Store::batch).collect();
        for ev in crate::workload::Workload::new(7, 20_000, 300) {
            all.add(&ev.tag, ev.ts, ev.count).unwrap();
            let p = partition_of(&ev.tag, 4).unwrap() as usize;
            each[p].add(&ev.tag, ev.ts, ev.count).unwrap();
        }
        all.commit().unwrap();
        for b in each {
            b.commit().unwrap();
        }
        let at = stores.iter().filter_map(now_end).max();
        for k in [1, 5, 50, 1000] {
            let req = Request::Top {
                from: base,
                to: base + 86_400,
                k,
                allow_partial: false,
            };
            let want = answer(&single, &req).unwrap();
            let got: Vec<Vec<TopRow>> = stores
                .iter()
                .map(|s| match answer(s, &req).unwrap() {
                    Answer::Top(r) => r,
                    _ => unreachable!(),
                })
                .collect();
            assert_eq!(Answer::Top(merge_top(got, k)), want);
            let req = Request::Trending {
                at: None,
                window_secs: 3600,
                baseline_secs: 6 * 3600,
                k,
                min_count: 1,
                prior: 1.0 / 60.0,
                allow_partial: false,
            };
            let want = answer(&single, &req).unwrap();
            let got: Vec<Vec<TrendRow>> = stores
                .iter()
                .map(|s| {
                    let q = trend_query(&req, at).unwrap();
                    s.trending(&q)
                        .unwrap()
                        .into_iter()
                        .map(|r| TrendRow {
                            tag: r.tag,
                            recent: r.recent,
                            baseline: r.baseline,
                            growth: r.growth.to_string(),
                        })
                        .collect()
                })
                .collect();
            assert_eq!(Answer::Trending(merge_trending(got, k)), want);
        }
    }
}
