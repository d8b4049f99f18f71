//! trendlog with label keys `platform,region`, through its public API only:
//! the unlabelled system's options (`SyncPolicy::EveryBatch`, no background
//! compaction; flush = sync + seal) plus the label keys. Each event goes in
//! with `Batch::add_labelled` (by key name, values normalised and validated,
//! as a user's code would call it); queries through a `Snapshot`:
//! `trending_where` and `spread`.

use std::path::Path;
use std::time::Duration;

use ::trendlog::labels::{Filter, LabelKeys};
use ::trendlog::time::{Step, TimeRange};
use ::trendlog::{Options, SpreadQuery, Store, SyncPolicy};
use trendlog_workload::LabelledEvent;

use super::{LabelledSystem, Names, SpreadAnswer, SpreadQ, SpreadRow};
use crate::systems::{Res, TrendQuery, TrendRow};

/// The engine with labels.
pub struct TrendlogLabelled {
    store: Store,
}

impl TrendlogLabelled {
    /// Opens or creates a labelled store in `dir/store`.
    pub fn open(dir: &Path) -> Res<TrendlogLabelled> {
        let opts = Options::default()
            .sync_policy(SyncPolicy::EveryBatch)
            .background_compaction(false)
            .label_keys(LabelKeys::parse("platform,region")?);
        Ok(TrendlogLabelled {
            store: Store::open(dir.join("store"), opts)?,
        })
    }
}

impl LabelledSystem for TrendlogLabelled {
    fn ingest_batch(&mut self, events: &[LabelledEvent], names: &Names) -> Res<()> {
        let mut b = self.store.batch();
        for e in events {
            b.add_labelled(
                &names.tags[e.event.tag_index as usize],
                &[
                    ("platform", &names.platforms[usize::from(e.platform)]),
                    ("region", &names.regions[usize::from(e.region)]),
                ],
                e.event.ts,
                e.event.count,
            )?;
        }
        b.commit()?;
        Ok(())
    }

    fn flush(&mut self) -> Res<()> {
        self.store.sync()?;
        self.store.seal()?;
        Ok(())
    }

    fn close(self: Box<Self>) -> Res<()> {
        self.store.close()?;
        Ok(())
    }

    fn trending(&mut self, q: &TrendQuery, region: Option<&str>) -> Res<Vec<TrendRow>> {
        let filter = match region {
            Some(r) => Filter::all().and("region", r)?,
            None => Filter::all(),
        };
        let rows = self.store.snapshot().trending_where(
            &trendlog::TrendQuery {
                at: Some(i64::from(q.now) * 60),
                window: Duration::from_secs(u64::from(q.recent_minutes) * 60),
                baseline: Duration::from_secs(u64::from(q.baseline_minutes) * 60),
                k: q.k,
                min_count: q.min_count,
                prior: q.prior,
            },
            &filter,
        )?;
        Ok(rows
            .into_iter()
            .map(|r| TrendRow {
                tag: r.tag,
                recent: r.recent,
                baseline: r.baseline,
                growth: r.growth,
            })
            .collect())
    }

    fn spread(&mut self, tag: &str, q: &SpreadQ) -> Res<SpreadAnswer> {
        let hours = |h: u32| Duration::from_secs(u64::from(h) * 3600);
        let s = self.store.snapshot().spread(
            tag,
            &SpreadQuery {
                by: "region".to_owned(),
                filter: Filter::all(),
                at: Some(i64::from(q.at) * 60),
                window: hours(q.window),
                baseline: hours(q.baseline),
                span: hours(q.span),
                step: Step::Hour,
                min_count: q.min_count,
                threshold: q.threshold,
                prior: q.prior,
            },
        )?;
        Ok(SpreadAnswer {
            rows: s
                .rows
                .into_iter()
                .map(|r| SpreadRow {
                    value: r.value,
                    recent: r.recent,
                    baseline: r.baseline,
                    growth: r.growth,
                    trending: r.trending,
                })
                .collect(),
            timeline: s
                .timeline
                .into_iter()
                .map(|p| ((p.time / 60) as u32, p.present, p.trending))
                .collect(),
        })
    }

    /// Distinct non-zero (series, minute) cells, hour by hour (as the
    /// unlabelled system counts them: not `Stats::cells`, which counts a
    /// late event's second cell in a later segment separately).
    fn cell_count(&mut self) -> Res<u64> {
        let snap = self.store.snapshot();
        let (Some(first), Some(now_end)) = (snap.earliest_time(), snap.now_end()) else {
            return Ok(0);
        };
        let mut from = first - first.rem_euclid(3600);
        let mut n = 0u64;
        while from < now_end {
            n += snap
                .buckets(TimeRange::new(from, from + 3600)?, Step::Minute)?
                .len() as u64;
            from += 3600;
        }
        Ok(n)
    }
}
