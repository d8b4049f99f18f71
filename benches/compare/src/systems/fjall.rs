//! fjall: an LSM-tree key-value store with a journal. The same data model as
//! the redb peer: keyspace `counts` maps `(tag id, minute)` as 8 big-endian
//! bytes to a little-endian `u64`; `tag_ids` and `tag_names` hold the
//! dictionary. Each batch reads every cell's current value, writes the sums
//! in one atomic `WriteBatch`, then `persist(PersistMode::SyncAll)`: the
//! equivalent of a durable commit.

use std::collections::HashMap;
use std::path::Path;

use ::trendlog_workload::Event;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{
    add_to_hour, aggregate, cell_key, split_key, Res, System, TrendQuery, TrendRow, WindowFold,
};

/// The fjall peer.
pub struct FjallSys {
    db: Database,
    counts: Keyspace,
    tag_ids: Keyspace,
    tag_names: Keyspace,
    ids: HashMap<String, u32>,
    next_id: u32,
}

fn u64_le(v: &[u8]) -> Res<u64> {
    let b: [u8; 8] = v.try_into().map_err(|_| "count value is not 8 bytes")?;
    Ok(u64::from_le_bytes(b))
}

fn u32_be(v: &[u8]) -> Res<u32> {
    let b: [u8; 4] = v.try_into().map_err(|_| "tag id is not 4 bytes")?;
    Ok(u32::from_be_bytes(b))
}

impl FjallSys {
    /// Opens or creates a database in `dir/fjall`.
    pub fn open(dir: &Path) -> Res<FjallSys> {
        let db = Database::builder(dir.join("fjall")).open()?;
        let counts = db.keyspace("counts", KeyspaceCreateOptions::default)?;
        let tag_ids = db.keyspace("tag_ids", KeyspaceCreateOptions::default)?;
        let tag_names = db.keyspace("tag_names", KeyspaceCreateOptions::default)?;
        let next_id = match tag_names.last_key_value() {
            Some(guard) => u32_be(&guard.key()?)? + 1,
            None => 0,
        };
        Ok(FjallSys {
            db,
            counts,
            tag_ids,
            tag_names,
            ids: HashMap::new(),
            next_id,
        })
    }
}

impl System for FjallSys {
    fn ingest_batch(&mut self, events: &[Event], names: &[String]) -> Res<()> {
        let cells = aggregate(events, names);
        let mut batch = self.db.batch();
        let mut rows: Vec<([u8; 8], u64)> = Vec::with_capacity(cells.len());
        for (&(tag, minute), &n) in &cells {
            let id = match self.ids.get(tag) {
                Some(&id) => id,
                None => {
                    let id = match self.tag_ids.get(tag)? {
                        Some(v) => u32_be(&v)?,
                        None => {
                            let id = self.next_id;
                            self.next_id += 1;
                            batch.insert(&self.tag_ids, tag, id.to_be_bytes());
                            batch.insert(&self.tag_names, id.to_be_bytes(), tag);
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
        for (key, n) in rows {
            let cur = match self.counts.get(key)? {
                Some(v) => u64_le(&v)?,
                None => 0,
            };
            let sum = cur.checked_add(n).ok_or("count overflow")?;
            batch.insert(&self.counts, key, sum.to_le_bytes());
        }
        batch.commit()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    fn flush(&mut self) -> Res<()> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    fn close(self: Box<Self>) -> Res<()> {
        self.db.persist(PersistMode::SyncAll)?;
        drop(self);
        Ok(())
    }

    fn hourly_series(&mut self, tag: &str, from_minute: u32, to_minute: u32) -> Res<Vec<u64>> {
        let mut out = vec![0u64; ((to_minute - from_minute) / 60) as usize];
        let Some(v) = self.tag_ids.get(tag)? else {
            return Ok(out);
        };
        let id = u32_be(&v)?;
        for guard in self
            .counts
            .range(cell_key(id, from_minute)..cell_key(id, to_minute))
        {
            let (k, v) = guard.into_inner()?;
            let (_, minute) = split_key(&k)?;
            add_to_hour(&mut out, from_minute, minute, u64_le(&v)?);
        }
        Ok(out)
    }

    fn trending(&mut self, q: &TrendQuery) -> Res<Vec<TrendRow>> {
        let mut fold = WindowFold::default();
        for guard in self.counts.iter() {
            let (k, v) = guard.into_inner()?;
            let (tag, minute) = split_key(&k)?;
            fold.push(q, tag, minute, u64_le(&v)?);
        }
        let mut rows = Vec::new();
        for (id, r, b) in fold.finish(q) {
            let name = self
                .tag_names
                .get(id.to_be_bytes())?
                .ok_or_else(|| format!("tag id {id} has no name"))?;
            rows.push((String::from_utf8(name.to_vec())?, r, b));
        }
        Ok(q.rank(rows))
    }

    fn cell_count(&mut self) -> Res<u64> {
        Ok(self.counts.len()? as u64)
    }
}
