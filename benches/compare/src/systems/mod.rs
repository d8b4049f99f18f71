//! The systems under comparison, behind one trait.
//!
//! Every system stores the same data model: a counter per `(tag, minute)`.
//! The peers that pre-aggregate (SQLite, redb, fjall) turn each batch into
//! `(tag, minute) -> count` cells with a std `HashMap` first ([`aggregate`]),
//! inside their timed ingest; the `HashMap` baseline counts event by event;
//! trendlog gets the raw events and aggregates inside the engine.

use std::collections::HashMap;
use std::path::Path;

use ::trendlog_workload::Event;

pub mod fjall;
pub mod hashmap;
pub mod redb;
pub mod sqlite;
#[cfg(feature = "trendlog-engine")]
pub mod trendlog;

/// Errors from any system, boxed: the harness only reports them.
pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One trending row, as every system must return it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendRow {
    /// The tag.
    pub tag: String,
    /// Events in the recent window.
    pub recent: u64,
    /// Events in the baseline window.
    pub baseline: u64,
    /// `(recent / recent_minutes + prior) / (baseline / baseline_minutes + prior)`.
    pub growth: f64,
}

/// The trending question, in minutes.
#[derive(Debug, Clone, Copy)]
pub struct TrendQuery {
    /// One past the newest minute considered: the recent window is
    /// `[now - recent_minutes, now)`.
    pub now: u32,
    /// Length of the recent window (60).
    pub recent_minutes: u32,
    /// Length of the baseline window just before it (23 * 60).
    pub baseline_minutes: u32,
    /// How many rows.
    pub k: usize,
    /// Minimum events in the recent window.
    pub min_count: u64,
    /// Smoothing prior in events per minute (1/60).
    pub prior: f64,
}

impl TrendQuery {
    /// First minute of the recent window.
    pub fn recent_start(&self) -> u32 {
        self.now - self.recent_minutes
    }

    /// First minute of the baseline window.
    pub fn baseline_start(&self) -> u32 {
        self.now - self.recent_minutes - self.baseline_minutes
    }

    /// The growth of a tag with these counts. Written with the same
    /// operations, in the same order, as the SQL of the SQLite peer.
    pub fn growth(&self, recent: u64, baseline: u64) -> f64 {
        (recent as f64 / f64::from(self.recent_minutes) + self.prior)
            / (baseline as f64 / f64::from(self.baseline_minutes) + self.prior)
    }

    /// Ranks `(tag, recent, baseline)` candidates: drops those under
    /// `min_count`, sorts by growth desc, recent desc, tag asc, keeps `k`.
    pub fn rank<S: Into<String>>(
        &self,
        rows: impl IntoIterator<Item = (S, u64, u64)>,
    ) -> Vec<TrendRow> {
        let mut out: Vec<TrendRow> = rows
            .into_iter()
            .filter(|(_, r, _)| *r >= self.min_count)
            .map(|(tag, recent, baseline)| TrendRow {
                tag: tag.into(),
                recent,
                baseline,
                growth: self.growth(recent, baseline),
            })
            .collect();
        out.sort_by(|a, b| {
            b.growth
                .total_cmp(&a.growth)
                .then(b.recent.cmp(&a.recent))
                .then_with(|| a.tag.cmp(&b.tag))
        });
        out.truncate(self.k);
        out
    }
}

/// A system that counts `(tag, minute)` cells and answers the two queries.
pub trait System {
    /// Ingests one batch of events; a durable system commits it (its own
    /// notion of a durable commit per batch).
    fn ingest_batch(&mut self, events: &[Event], names: &[String]) -> Res<()>;
    /// Makes everything ingested durable (timed as part of ingest).
    fn flush(&mut self) -> Res<()>;
    /// Closes the store, releasing its files.
    fn close(self: Box<Self>) -> Res<()>;
    /// Hourly totals of `tag` over `[from_minute, to_minute)`, both
    /// hour-aligned: one value per hour, zeros included.
    fn hourly_series(&mut self, tag: &str, from_minute: u32, to_minute: u32) -> Res<Vec<u64>>;
    /// The trending rows for `q`.
    fn trending(&mut self, q: &TrendQuery) -> Res<Vec<TrendRow>>;
    /// Number of non-zero `(tag, minute)` cells stored.
    fn cell_count(&mut self) -> Res<u64>;
}

/// What the harness knows about a system before opening it.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// Name on the command line and in the table.
    pub name: &'static str,
    /// Whether it has files (bytes on disk and reopen make sense).
    pub persistent: bool,
    /// Whether its ingest pre-aggregates each batch with [`aggregate`].
    pub pre_aggregates: bool,
    /// How it makes a batch durable, for the output.
    pub durability: &'static str,
}

/// All systems this build knows, in table order.
pub fn kinds() -> Vec<Kind> {
    vec![
        #[cfg(feature = "trendlog-engine")]
        Kind {
            name: "trendlog",
            persistent: true,
            pre_aggregates: false,
            durability: "sync per batch (SyncPolicy::EveryBatch); flush = sync + seal",
        },
        Kind {
            name: "hashmap",
            persistent: false,
            pre_aggregates: false,
            durability: "none (in memory)",
        },
        Kind {
            name: "sqlite",
            persistent: true,
            pre_aggregates: true,
            durability: "WAL commit per batch, synchronous=NORMAL (no fsync per commit)",
        },
        Kind {
            name: "redb",
            persistent: true,
            pre_aggregates: true,
            durability: "commit per batch, Durability::Immediate (fsync)",
        },
        Kind {
            name: "fjall",
            persistent: true,
            pre_aggregates: true,
            durability: "batch commit + persist(SyncAll) per batch",
        },
    ]
}

/// The system called `name`, if this build has it.
pub fn kind(name: &str) -> Option<Kind> {
    kinds().into_iter().find(|k| k.name == name)
}

/// Opens (creating if needed) the store of `kind` in `dir`.
pub fn open(kind: &Kind, dir: &Path) -> Res<Box<dyn System>> {
    Ok(match kind.name {
        #[cfg(feature = "trendlog-engine")]
        "trendlog" => Box::new(trendlog::TrendlogSys::open(dir)?),
        "hashmap" => Box::new(hashmap::HashMapSys::new()),
        "sqlite" => Box::new(sqlite::SqliteSys::open(dir)?),
        "redb" => Box::new(redb::RedbSys::open(dir)?),
        "fjall" => Box::new(fjall::FjallSys::open(dir)?),
        other => return Err(format!("unknown system {other:?}").into()),
    })
}

/// Bytes in `dir` that a system reserved ahead of use (preallocated, still
/// zero), which the harness reports apart from the bytes per cell.
pub fn unused_preallocation(kind: &Kind, dir: &Path) -> Res<u64> {
    match kind.name {
        #[cfg(feature = "trendlog-engine")]
        "trendlog" => trendlog::unused_preallocation(dir),
        _ => {
            let _ = dir;
            Ok(0)
        }
    }
}

/// Pre-aggregates a batch into `(tag, minute) -> count` with the std hasher,
/// the way a user of a key-value store would before upserting.
pub fn aggregate<'a>(events: &[Event], names: &'a [String]) -> HashMap<(&'a str, u32), u64> {
    let mut cells: HashMap<(&'a str, u32), u64> = HashMap::with_capacity(events.len() / 4);
    for e in events {
        *cells
            .entry((names[e.tag_index as usize].as_str(), e.minute()))
            .or_insert(0) += e.count;
    }
    cells
}

/// Big-endian `(tag id, minute)` key: sorts by tag, then time.
pub fn cell_key(tag: u32, minute: u32) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&tag.to_be_bytes());
    k[4..].copy_from_slice(&minute.to_be_bytes());
    k
}

/// Inverse of [`cell_key`].
pub fn split_key(k: &[u8]) -> Res<(u32, u32)> {
    if k.len() != 8 {
        return Err(format!("cell key of {} bytes, want 8", k.len()).into());
    }
    let mut t = [0u8; 4];
    let mut m = [0u8; 4];
    t.copy_from_slice(&k[..4]);
    m.copy_from_slice(&k[4..]);
    Ok((u32::from_be_bytes(t), u32::from_be_bytes(m)))
}

/// Adds a minute's count to an hourly series over `[from, to)`.
pub fn add_to_hour(out: &mut [u64], from_minute: u32, minute: u32, n: u64) {
    let h = ((minute - from_minute) / 60) as usize;
    if let Some(slot) = out.get_mut(h) {
        *slot += n;
    }
}

/// Folds a scan of cells sorted by `(tag id, minute)` into per-tag
/// `(recent, baseline)` sums over the trending windows.
#[derive(Debug, Default)]
pub struct WindowFold {
    cur: Option<(u32, u64, u64)>,
    /// Finished tags: `(tag id, recent, baseline)`, only those with
    /// `recent >= min_count`.
    pub done: Vec<(u32, u64, u64)>,
}

impl WindowFold {
    /// Feeds one cell; cells must arrive grouped by tag.
    pub fn push(&mut self, q: &TrendQuery, tag: u32, minute: u32, n: u64) {
        if minute < q.baseline_start() || minute >= q.now {
            return;
        }
        match &mut self.cur {
            Some((t, r, b)) if *t == tag => {
                if minute >= q.recent_start() {
                    *r += n;
                } else {
                    *b += n;
                }
            }
            _ => {
                self.finish_current(q);
                let recent = minute >= q.recent_start();
                self.cur = Some((tag, if recent { n } else { 0 }, if recent { 0 } else { n }));
            }
        }
    }

    fn finish_current(&mut self, q: &TrendQuery) {
        if let Some((t, r, b)) = self.cur.take() {
            if r >= q.min_count {
                self.done.push((t, r, b));
            }
        }
    }

    /// Ends the scan and returns the candidates.
    pub fn finish(mut self, q: &TrendQuery) -> Vec<(u32, u64, u64)> {
        self.finish_current(q);
        self.done
    }
}
