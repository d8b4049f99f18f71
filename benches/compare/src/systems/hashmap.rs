//! The plain-counting baseline: an in-memory `HashMap<(String, u32), u64>`
//! with the std hasher, counting event by event (no pre-aggregation).
//!
//! It reuses one scratch key so a hit costs a hash and a compare, not an
//! allocation: the careful version of `*map.entry((tag.to_string(), minute))
//! .or_insert(0) += n`, which makes it a harder target, not an easier one.

use std::collections::HashMap;

use ::trendlog_workload::Event;

use super::{add_to_hour, Res, System, TrendQuery, TrendRow};

/// The in-memory baseline.
#[derive(Debug, Default)]
pub struct HashMapSys {
    map: HashMap<(String, u32), u64>,
    scratch: (String, u32),
}

impl HashMapSys {
    /// An empty map.
    pub fn new() -> HashMapSys {
        HashMapSys::default()
    }
}

impl System for HashMapSys {
    fn ingest_batch(&mut self, events: &[Event], names: &[String]) -> Res<()> {
        for e in events {
            self.scratch.0.clear();
            self.scratch.0.push_str(&names[e.tag_index as usize]);
            self.scratch.1 = e.minute();
            if let Some(v) = self.map.get_mut(&self.scratch) {
                *v += e.count;
            } else {
                self.map.insert(self.scratch.clone(), e.count);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Res<()> {
        Ok(())
    }

    fn close(self: Box<Self>) -> Res<()> {
        Ok(())
    }

    fn hourly_series(&mut self, tag: &str, from_minute: u32, to_minute: u32) -> Res<Vec<u64>> {
        let mut out = vec![0u64; ((to_minute - from_minute) / 60) as usize];
        let mut key = (tag.to_owned(), 0u32);
        for m in from_minute..to_minute {
            key.1 = m;
            if let Some(&n) = self.map.get(&key) {
                add_to_hour(&mut out, from_minute, m, n);
            }
        }
        Ok(out)
    }

    fn trending(&mut self, q: &TrendQuery) -> Res<Vec<TrendRow>> {
        let mut per_tag: HashMap<&str, (u64, u64)> = HashMap::new();
        for ((tag, m), &n) in &self.map {
            if *m < q.baseline_start() || *m >= q.now {
                continue;
            }
            let e = per_tag.entry(tag.as_str()).or_insert((0, 0));
            if *m >= q.recent_start() {
                e.0 += n;
            } else {
                e.1 += n;
            }
        }
        Ok(q.rank(per_tag.into_iter().map(|(t, (r, b))| (t, r, b))))
    }

    fn cell_count(&mut self) -> Res<u64> {
        Ok(self.map.len() as u64)
    }
}
