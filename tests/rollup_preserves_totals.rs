//! Roll-up never changes a total: for random workloads, the total of every tag
//! over every hour-aligned range is the same before and after any number of
//! compaction passes, seals and reopens, and equals the sum of what was written.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use trendlog::time::TimeRange;
use trendlog::{Options, Store, SyncPolicy};

const TAGS: [&str; 4] = ["metoo", "timesup", "Été", "x"];
const T0: i64 = 1_508_025_600;
const HOURS: u32 = 10;

#[derive(Debug, Clone)]
enum Op {
    /// Events `(tag, minute, count)`; minutes anywhere in the span, so late
    /// events land in hours that are already rolled up.
    Batch(Vec<(usize, u32, u64)>),
    Seal,
    Compact,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((0..TAGS.len(), 0..HOURS * 60, 1..1000u64), 1..40).prop_map(Op::Batch),
        1 => Just(Op::Seal),
        3 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn opts(minute_keep_h: u64) -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(minute_keep_h * 3600)))
        .seal_after(Duration::from_secs(45 * 60))
        .seal_cells(64)
        .log_file_bytes(8192)
}

type Totals = BTreeMap<(usize, u32, u32), u64>;

/// Every tag's total over every hour-aligned range `[a, b)` of the span.
fn all_totals(store: &Store) -> Totals {
    let snap = store.snapshot();
    let mut out = Totals::new();
    for (t, tag) in TAGS.iter().enumerate() {
        for a in 0..=HOURS {
            for b in a..=HOURS + 1 {
                let r = TimeRange::new(T0 + i64::from(a) * 3600, T0 + i64::from(b) * 3600).unwrap();
                out.insert((t, a, b), snap.total(tag, r).unwrap());
            }
        }
    }
    out
}

fn model_totals(cells: &BTreeMap<(usize, u32), u64>) -> Totals {
    let mut per_hour = vec![vec![0u64; HOURS as usize + 1]; TAGS.len()];
    for (&(t, m), &c) in cells {
        per_hour[t][(m / 60) as usize] += c;
    }
    let mut out = Totals::new();
    for (t, hours) in per_hour.iter().enumerate() {
        for a in 0..=HOURS {
            for b in a..=HOURS + 1 {
                let sum = (a..b)
                    .map(|h| hours.get(h as usize).copied().unwrap_or(0))
                    .sum();
                out.insert((t, a, b), sum);
            }
        }
    }
    out
}

fn run(ops: Vec<Op>, minute_keep_h: u64) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), opts(minute_keep_h)).unwrap();
    let mut cells: BTreeMap<(usize, u32), u64> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Batch(evs) => {
                let mut b = store.batch();
                for &(t, m, c) in &evs {
                    b.add(TAGS[t], T0 + i64::from(m) * 60 + 7, c).unwrap();
                    *cells.entry((t, m)).or_default() += c;
                }
                b.commit().unwrap();
            }
            Op::Seal => store.seal().unwrap(),
            Op::Compact => {
                let before = all_totals(&store);
                let rep = store.compact().unwrap();
                prop_assert_eq!(rep.events_expired, 0);
                let after = all_totals(&store);
                prop_assert!(
                    before == after,
                    "a compaction pass changed a total: {:?}",
                    rep
                );
            }
            Op::Reopen => {
                let before = all_totals(&store);
                store.close().unwrap();
                store = Store::open(dir.path(), opts(minute_keep_h)).unwrap();
                prop_assert!(before == all_totals(&store), "reopen changed a total");
            }
        }
    }
    let want = model_totals(&cells);
    prop_assert!(all_totals(&store) == want, "totals differ from the model");
    store.seal().unwrap();
    store.compact().unwrap();
    prop_assert!(
        all_totals(&store) == want,
        "totals differ after a final compaction"
    );
    store.close().unwrap();
    let store = Store::open(dir.path(), opts(minute_keep_h)).unwrap();
    prop_assert!(
        all_totals(&store) == want,
        "totals differ after the final reopen"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn rollup_preserves_totals(ops in prop::collection::vec(op(), 1..30), keep in 1..4u64) {
        run(ops, keep)?;
    }
}
