//! redb: a copy-on-write B-tree key-value store. Key `(tag id, minute)` as 8
//! big-endian bytes -> `u64`, read-modify-write of every pre-aggregated cell
//! in one write transaction per batch, committed with the default durability
//! (`Immediate`: fsync before `commit` returns). The tag dictionary lives in
//! two more tables (name -> id, id -> name) plus an in-memory cache.

use std::collections::HashMap;
use std::path::Path;

use ::trendlog_workload::Event;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{
    add_to_hour, aggregate, cell_key, split_key, Res, System, TrendQuery, TrendRow, WindowFold,
};

const COUNTS: TableDefinition<[u8; 8], u64> = TableDefinition::new("counts");
const TAG_IDS: TableDefinition<&str, u32> = TableDefinition::new("tag_ids");
const TAG_NAMES: TableDefinition<u32, &str> = TableDefinition::new("tag_names");

/// The redb peer.
pub struct RedbSys {
    db: Database,
    ids: HashMap<String, u32>,
    next_id: u32,
}

impl RedbSys {
    /// Opens or creates `dir/counts.redb`.
    pub fn open(dir: &Path) -> Res<RedbSys> {
        let db = Database::create(dir.join("counts.redb"))?;
        let tx = db.begin_write()?;
        let next_id = {
            tx.open_table(COUNTS)?;
            tx.open_table(TAG_IDS)?;
            let names = tx.open_table(TAG_NAMES)?;
            let last = names.last()?.map(|(k, _)| k.value());
            last.map_or(0, |id| id + 1)
        };
        tx.commit()?;
        Ok(RedbSys {
            db,
            ids: HashMap::new(),
            next_id,
        })
    }
}

impl System for RedbSys {
    fn ingest_batch(&mut self, events: &[Event], names: &[String]) -> Res<()> {
        let cells = aggregate(events, names);
        let tx = self.db.begin_write()?;
        {
            let mut tag_ids = tx.open_table(TAG_IDS)?;
            let mut tag_names = tx.open_table(TAG_NAMES)?;
            let mut rows: Vec<([u8; 8], u64)> = Vec::with_capacity(cells.len());
            for (&(tag, minute), &n) in &cells {
                let id = match self.ids.get(tag) {
                    Some(&id) => id,
                    None => {
                        let found = tag_ids.get(tag)?.map(|g| g.value());
                        let id = match found {
                            Some(id) => id,
                            None => {
                                let id = self.next_id;
                                self.next_id += 1;
                                tag_ids.insert(tag, id)?;
                                tag_names.insert(id, tag)?;
                                id
                            }
                        };
                        self.ids.insert(tag.to_owned(), id);
                        id
                    }
                };
                rows.push((cell_key(id, minute), n));
            }
            rows.sort_unstable();
            let mut counts = tx.open_table(COUNTS)?;
            for (key, n) in rows {
                let cur = counts.get(key)?.map_or(0, |g| g.value());
                let sum = cur.checked_add(n).ok_or("count overflow")?;
                counts.insert(key, sum)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn flush(&mut self) -> Res<()> {
        // Every commit was already durable.
        Ok(())
    }

    fn close(self: Box<Self>) -> Res<()> {
        drop(self);
        Ok(())
    }

    fn hourly_series(&mut self, tag: &str, from_minute: u32, to_minute: u32) -> Res<Vec<u64>> {
        let mut out = vec![0u64; ((to_minute - from_minute) / 60) as usize];
        let tx = self.db.begin_read()?;
        let Some(id) = tx.open_table(TAG_IDS)?.get(tag)?.map(|g| g.value()) else {
            return Ok(out);
        };
        let counts = tx.open_table(COUNTS)?;
        for item in counts.range(cell_key(id, from_minute)..cell_key(id, to_minute))? {
            let (k, v) = item?;
            let (_, minute) = split_key(&k.value())?;
            add_to_hour(&mut out, from_minute, minute, v.value());
        }
        Ok(out)
    }

    fn trending(&mut self, q: &TrendQuery) -> Res<Vec<TrendRow>> {
        let tx = self.db.begin_read()?;
        let counts = tx.open_table(COUNTS)?;
        let mut fold = WindowFold::default();
        for item in counts.iter()? {
            let (k, v) = item?;
            let (tag, minute) = split_key(&k.value())?;
            fold.push(q, tag, minute, v.value());
        }
        let tag_names = tx.open_table(TAG_NAMES)?;
        let mut rows = Vec::new();
        for (id, r, b) in fold.finish(q) {
            let name = tag_names
                .get(id)?
                .map(|g| g.value().to_owned())
                .ok_or_else(|| format!("tag id {id} has no name"))?;
            rows.push((name, r, b));
        }
        Ok(q.rank(rows))
    }

    fn cell_count(&mut self) -> Res<u64> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(COUNTS)?.len()?)
    }
}
