//! SQLite through rusqlite (bundled): the fairest SQLite a user would write.
//!
//! `WITHOUT ROWID` table keyed `(tag id, minute)`, WAL, `synchronous=NORMAL`
//! (a commit is written to the WAL but not fsynced; checkpoints are), one
//! transaction per batch, a prepared upsert per pre-aggregated cell, and
//! both queries in SQL.

use std::collections::HashMap;
use std::path::Path;

use ::trendlog_workload::Event;
use rusqlite::{params, Connection, Transaction};

use super::{add_to_hour, aggregate, Res, System, TrendQuery, TrendRow};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tags(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE IF NOT EXISTS counts(
    tag INTEGER, minute INTEGER, n INTEGER,
    PRIMARY KEY(tag, minute)
) WITHOUT ROWID;
";

const UPSERT: &str = "INSERT INTO counts(tag, minute, n) VALUES (?1, ?2, ?3)
    ON CONFLICT(tag, minute) DO UPDATE SET n = n + excluded.n";

const SERIES: &str = "SELECT minute / 60, SUM(n) FROM counts
    WHERE tag = (SELECT id FROM tags WHERE name = ?1) AND minute >= ?2 AND minute < ?3
    GROUP BY minute / 60";

// One GROUP BY over the whole 24 h window, ranking in SQL. The growth
// expression is the one `TrendQuery::growth` computes, operation for
// operation, so the answers compare exactly.
const TRENDING: &str = "
SELECT t.name, w.r, w.b, (w.r / ?7 + ?5) / (w.b / ?8 + ?5) AS g
FROM (
    SELECT tag,
           SUM(CASE WHEN minute >= ?2 THEN n ELSE 0 END) AS r,
           SUM(CASE WHEN minute <  ?2 THEN n ELSE 0 END) AS b
    FROM counts
    WHERE minute >= ?1 AND minute < ?3
    GROUP BY tag
    HAVING r >= ?4
) AS w JOIN tags AS t ON t.id = w.tag
ORDER BY g DESC, w.r DESC, t.name ASC
LIMIT ?6";

/// The SQLite peer.
pub struct SqliteSys {
    conn: Connection,
    ids: HashMap<String, i64>,
}

impl SqliteSys {
    /// Opens or creates `dir/counts.sqlite`.
    pub fn open(dir: &Path) -> Res<SqliteSys> {
        Ok(SqliteSys {
            conn: open_wal(&dir.join("counts.sqlite"), SCHEMA)?,
            ids: HashMap::new(),
        })
    }
}

/// Opens or creates the database at `path` as both peers run it (WAL,
/// `synchronous=NORMAL`) and applies `schema`.
pub(crate) fn open_wal(path: &Path, schema: &str) -> Res<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

/// The id of tag `name` in the `tags(id, name)` table, inserting it on first
/// sight; `ids` remembers the ids already known.
pub(crate) fn tag_id(tx: &Transaction, ids: &mut HashMap<String, i64>, name: &str) -> Res<i64> {
    if let Some(&id) = ids.get(name) {
        return Ok(id);
    }
    tx.prepare_cached("INSERT OR IGNORE INTO tags(name) VALUES (?1)")?
        .execute([name])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM tags WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?;
    ids.insert(name.to_owned(), id);
    Ok(id)
}

fn to_i64(n: u64) -> Res<i64> {
    Ok(i64::try_from(n)?)
}

impl System for SqliteSys {
    fn ingest_batch(&mut self, events: &[Event], names: &[String]) -> Res<()> {
        let cells = aggregate(events, names);
        let tx = self.conn.transaction()?;
        let mut rows: Vec<(i64, u32, u64)> = Vec::with_capacity(cells.len());
        {
            for (&(tag, minute), &n) in &cells {
                rows.push((tag_id(&tx, &mut self.ids, tag)?, minute, n));
            }
            rows.sort_unstable();
            let mut upsert = tx.prepare_cached(UPSERT)?;
            for (id, minute, n) in rows {
                upsert.execute(params![id, minute, to_i64(n)?])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn flush(&mut self) -> Res<()> {
        // Every batch is already committed to the WAL; the checkpoint that
        // moves it into the database file happens on close.
        Ok(())
    }

    fn close(self: Box<Self>) -> Res<()> {
        let SqliteSys { conn, .. } = *self;
        conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }

    fn hourly_series(&mut self, tag: &str, from_minute: u32, to_minute: u32) -> Res<Vec<u64>> {
        let mut out = vec![0u64; ((to_minute - from_minute) / 60) as usize];
        let mut stmt = self.conn.prepare_cached(SERIES)?;
        let mut rows = stmt.query(params![tag, from_minute, to_minute])?;
        while let Some(row) = rows.next()? {
            let hour: i64 = row.get(0)?;
            let n: i64 = row.get(1)?;
            let minute = u32::try_from(hour * 60)?;
            add_to_hour(&mut out, from_minute, minute, u64::try_from(n)?);
        }
        Ok(out)
    }

    fn trending(&mut self, q: &TrendQuery) -> Res<Vec<TrendRow>> {
        let mut stmt = self.conn.prepare_cached(TRENDING)?;
        let mut rows = stmt.query(params![
            q.baseline_start(),
            q.recent_start(),
            q.now,
            to_i64(q.min_count)?,
            q.prior,
            i64::try_from(q.k)?,
            f64::from(q.recent_minutes),
            f64::from(q.baseline_minutes),
        ])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let recent: i64 = row.get(1)?;
            let baseline: i64 = row.get(2)?;
            out.push(TrendRow {
                tag: row.get(0)?,
                recent: u64::try_from(recent)?,
                baseline: u64::try_from(baseline)?,
                growth: row.get(3)?,
            });
        }
        Ok(out)
    }

    fn cell_count(&mut self) -> Res<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM counts WHERE n <> 0", [], |r| r.get(0))?;
        Ok(u64::try_from(n)?)
    }
}
