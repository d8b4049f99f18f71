//! The labelled SQLite peer: one table `(tag, platform, region, minute, n)`,
//! as a user would build it for these questions.
//!
//! Tags get integer ids (the `tags` table of the unlabelled peer); platform
//! and region are `TEXT`. The primary key `(tag, platform, region, minute)`
//! (`WITHOUT ROWID`) is the one index: the upsert needs it, a tag's rows (the
//! spread) are one range of it, and a trending scan groups by its first
//! column. No second index on `region`: it would slow every insert for the
//! one filtered question, which scans the window either way. WAL,
//! `synchronous=NORMAL`, one transaction per batch, a prepared upsert per
//! pre-aggregated cell, as the unlabelled peer.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection};
use trendlog_workload::LabelledEvent;

use super::{LabelledSystem, Names, SpreadAnswer, SpreadQ};
use crate::systems::sqlite::{open_wal, tag_id};
use crate::systems::{Res, TrendQuery, TrendRow};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tags(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE IF NOT EXISTS counts(
    tag INTEGER, platform TEXT, region TEXT, minute INTEGER, n INTEGER,
    PRIMARY KEY(tag, platform, region, minute)
) WITHOUT ROWID;
";

const UPSERT: &str = "INSERT INTO counts(tag, platform, region, minute, n)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT(tag, platform, region, minute) DO UPDATE SET n = n + excluded.n";

/// The unlabelled peer's trending query, with `?9` (a region, or NULL for
/// every region) as the filter. The growth is `TrendQuery::growth`, operation
/// for operation.
const TRENDING: &str = "
SELECT t.name, w.r, w.b, (w.r / ?7 + ?5) / (w.b / ?8 + ?5) AS g
FROM (
    SELECT tag,
           SUM(CASE WHEN minute >= ?2 THEN n ELSE 0 END) AS r,
           SUM(CASE WHEN minute <  ?2 THEN n ELSE 0 END) AS b
    FROM counts
    WHERE minute >= ?1 AND minute < ?3 AND (?9 IS NULL OR region = ?9)
    GROUP BY tag
    HAVING r >= ?4
) AS w JOIN tags AS t ON t.id = w.tag
ORDER BY g DESC, w.r DESC, t.name ASC
LIMIT ?6";

/// The spread's data: the tag's events per region per hour over the span and
/// the windows before it; the rows and the timeline follow from these few
/// hundred rows ([`SpreadQ::answer`]).
const SPREAD: &str = "SELECT region, (minute - ?2) / 60, SUM(n) FROM counts
    WHERE tag = (SELECT id FROM tags WHERE name = ?1) AND minute >= ?2 AND minute < ?3
    GROUP BY region, (minute - ?2) / 60";

/// The labelled SQLite peer.
pub struct SqliteLabelled {
    conn: Connection,
    ids: HashMap<String, i64>,
}

impl SqliteLabelled {
    /// Opens or creates `dir/labelled.sqlite`.
    pub fn open(dir: &Path) -> Res<SqliteLabelled> {
        Ok(SqliteLabelled {
            conn: open_wal(&dir.join("labelled.sqlite"), SCHEMA)?,
            ids: HashMap::new(),
        })
    }
}

impl LabelledSystem for SqliteLabelled {
    fn ingest_batch(&mut self, events: &[LabelledEvent], names: &Names) -> Res<()> {
        let mut cells: HashMap<(u32, u16, u16, u32), u64> =
            HashMap::with_capacity(events.len() / 2);
        for e in events {
            *cells
                .entry((e.event.tag_index, e.platform, e.region, e.event.minute()))
                .or_insert(0) += e.event.count;
        }
        let tx = self.conn.transaction()?;
        {
            let mut rows: Vec<(i64, &str, &str, u32, u64)> = Vec::with_capacity(cells.len());
            for (&(tag, p, r, minute), &n) in &cells {
                let id = tag_id(&tx, &mut self.ids, &names.tags[tag as usize])?;
                rows.push((
                    id,
                    names.platforms[usize::from(p)].as_str(),
                    names.regions[usize::from(r)].as_str(),
                    minute,
                    n,
                ));
            }
            // Key order, for B-tree locality.
            rows.sort_unstable();
            let mut upsert = tx.prepare_cached(UPSERT)?;
            for (id, p, r, minute, n) in rows {
                upsert.execute(params![id, p, r, minute, i64::try_from(n)?])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn flush(&mut self) -> Res<()> {
        Ok(())
    }

    fn close(self: Box<Self>) -> Res<()> {
        let SqliteLabelled { conn, .. } = *self;
        conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }

    fn trending(&mut self, q: &TrendQuery, region: Option<&str>) -> Res<Vec<TrendRow>> {
        let mut stmt = self.conn.prepare_cached(TRENDING)?;
        let mut rows = stmt.query(params![
            q.baseline_start(),
            q.recent_start(),
            q.now,
            i64::try_from(q.min_count)?,
            q.prior,
            i64::try_from(q.k)?,
            f64::from(q.recent_minutes),
            f64::from(q.baseline_minutes),
            region,
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

    fn spread(&mut self, tag: &str, q: &SpreadQ) -> Res<SpreadAnswer> {
        let hours = ((q.at - q.first()) / 60) as usize;
        let mut hourly: HashMap<String, Vec<u64>> = HashMap::new();
        let mut stmt = self.conn.prepare_cached(SPREAD)?;
        let mut rows = stmt.query(params![tag, q.first(), q.at])?;
        while let Some(row) = rows.next()? {
            let region: String = row.get(0)?;
            let hour: i64 = row.get(1)?;
            let n: i64 = row.get(2)?;
            let slots = hourly.entry(region).or_insert_with(|| vec![0; hours]);
            slots[usize::try_from(hour)?] += u64::try_from(n)?;
        }
        Ok(q.answer(hourly))
    }

    fn cell_count(&mut self) -> Res<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM counts WHERE n <> 0", [], |r| r.get(0))?;
        Ok(u64::try_from(n)?)
    }
}
