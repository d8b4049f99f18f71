//! [`salvage`]: every count a damaged store still holds that can be read,
//! and what could not be, so a store that [`crate::verify`] calls damaged can
//! be copied into a new one instead of being given up whole.
//!
//! A store refuses any question that touches damage, and its writers refuse
//! to open it: that is what keeps a wrong answer from ever being given. What
//! a user then needs is the rest of the data. `salvage` reads the store's
//! files the way `verify` does, but keeps going: each sealed segment group,
//! log block and dictionary entry whose checksum holds is kept, each one that
//! does not is left out and named. `trendlog export --salvage` writes the
//! result as an export, which `trendlog ingest` loads into a new store.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
//! store.record("metoo", 600, 3).unwrap();
//! store.seal().unwrap();
//! store.close().unwrap();
//! let s = trendlog::salvage::salvage(dir.path(), &Default::default()).unwrap();
//! assert!(s.lost.is_empty());
//! assert_eq!(s.rows.len(), 1);
//! assert_eq!((s.rows[0].ts, s.name(s.rows[0].id), s.rows[0].count), (600, Some("metoo"), 3));
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use byteorder::{ByteOrder, LittleEndian};

use crate::error::{Error, Result};
use crate::format::dict::{decode_dict_header, scan_dict};
use crate::format::dict_index::DictIndexView;
use crate::format::log::{blocks_from, log_header_store_id, scan_log, LOG_HEADER_LEN};
use crate::format::segment::SegmentView;
use crate::format::series::SERIES_STORE_ID_AT;
use crate::format::{Resolution, ScanEnd};
use crate::options::{Options, Retention};
use crate::recovery;
use crate::series::{SeriesEnd, SeriesTable};
use crate::storage::files;
use crate::time::Step;

/// One bucket read back: its start in unix seconds, its width (a minute, or
/// an hour for data rolled into hourly buckets) and the sum of its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalvagedRow {
    /// The bucket's start, unix seconds.
    pub ts: i64,
    /// [`Step::Minute`] or [`Step::Hour`].
    pub step: Step,
    /// The tag's (or series') id in this store; its name is [`Salvage::name`].
    pub id: u32,
    /// The bucket's count.
    pub count: u64,
}

/// A part of the store that could not be read and was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    /// The file.
    pub file: PathBuf,
    /// Where in it the damage starts.
    pub offset: u64,
    /// What was left out, in words.
    pub what: String,
    /// Events left out, when the store records how many (a sealed segment's
    /// manifest entry does); `None` when nothing says.
    pub events: Option<u64>,
}

/// What [`salvage`] read.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Salvage {
    /// Every readable bucket inside the store's retention, in time order,
    /// then by name, then minutes before hours; buckets of one step, time and
    /// id are summed into one row.
    pub rows: Vec<SalvagedRow>,
    /// The store's label keys (empty when it has none); names are then
    /// series keys ([`crate::labels::split_series_key`]).
    pub label_keys: Vec<String>,
    /// The store's retention, as its manifest records it.
    pub retention: Retention,
    /// What was left out because it could not be read.
    pub lost: Vec<Lost>,
    /// Events older than the hour retention, left out as every read leaves
    /// them out (the next `compact` of the store would delete them).
    pub expired_events: u64,
    names: HashMap<u32, String>,
}

impl Salvage {
    /// The name of a row's id: a tag, or in a labelled store a series key.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// The events in [`Salvage::rows`].
    pub fn events(&self) -> u64 {
        self.rows
            .iter()
            .map(|r| r.count)
            .fold(0, u64::saturating_add)
    }
}

/// Reads every count of the store in `dir` that can still be read, without
/// changing anything, for copying a damaged store into a new one.
///
/// Kept: each sealed segment group whose CRC holds (a segment whose header
/// or index cannot be read is left out whole), each log block that decodes
/// (before or after damage), and the names of the dictionary entries that
/// decode, read from `tags.dict` and, past damage there, through `tags.idx`
/// (each page checked by its CRC). Left out and listed in [`Salvage::lost`]:
/// everything else, and the cells whose id has no readable name. Data older
/// than the hour retention is left out as a read leaves it out.
///
/// On an undamaged store the rows are exactly what
/// [`crate::Snapshot::buckets`] gives at 1m for the minutes held and at 1h
/// for hourly buckets, at their own steps.
///
/// # Errors
/// [`Error::NotAStore`] when `dir` holds no store; [`Error::Corrupted`] when
/// the manifest cannot be read (it alone says which segments are live: files
/// an interrupted compaction left would otherwise be counted twice);
/// [`Error::Io`] when a file cannot be read for another reason than damage.
pub fn salvage(dir: &Path, opts: &Options) -> Result<Salvage> {
    let vfs = &*opts.vfs;
    let manifest = match recovery::read_manifest(vfs, dir)? {
        Some(m) => m,
        None => {
            return Err(
                crate::store::lost_manifest(vfs, dir)?.unwrap_or(Error::NotAStore {
                    dir: dir.to_path_buf(),
                }),
            )
        }
    };
    let mut out = Salvage {
        label_keys: manifest.label_keys.clone(),
        retention: Retention {
            minute_minutes: manifest.minute_retention,
            hour_minutes: manifest.hour_retention,
        },
        ..Salvage::default()
    };
    // Cells as (minute of the bucket start, resolution, id, count).
    let mut cells: Vec<(u32, Resolution, u32, u64)> = Vec::new();
    let mut lost = Vec::new();

    for entry in &manifest.segments {
        let path = dir.join(files::segment_name(entry.file_id, entry.resolution));
        let whole = |offset: u64, why: String| Lost {
            file: path.clone(),
            offset,
            what: format!(
                "the whole segment ({} cells from {} to {}): {why}",
                entry.cell_count,
                crate::time::format_rfc3339(
                    i64::from(entry.resolution.first_minute(entry.min_time)) * 60
                ),
                crate::time::format_rfc3339(
                    i64::from(
                        entry
                            .resolution
                            .first_minute(entry.max_time.saturating_add(1))
                    ) * 60
                ),
            ),
            events: Some(entry.total),
        };
        let bytes = match read(vfs, &path)? {
            Ok(b) => b,
            Err(why) => {
                lost.push(whole(0, why));
                continue;
            }
        };
        let view = match SegmentView::open(&bytes[..]) {
            Ok(v) => v,
            // A damaged header (or totals section): the groups may still be
            // found through the skip index, which has its own CRC.
            Err(e) => match SegmentView::open_past_header(&bytes[..], entry.resolution) {
                Ok(v) => {
                    lost.push(Lost {
                        file: path.clone(),
                        offset: e.offset,
                        what: format!(
                            "nothing (the segment's header or totals: {}; its groups are read \
                             through its skip index)",
                            e.kind
                        ),
                        events: Some(0),
                    });
                    v
                }
                Err(_) => {
                    lost.push(whole(e.offset, e.kind.to_string()));
                    continue;
                }
            },
        };
        let m = view.meta();
        if m.store_id != manifest.store_id || m.resolution != entry.resolution {
            lost.push(whole(
                0,
                "the file belongs to another store or place".into(),
            ));
            continue;
        }
        let mut group = Vec::new();
        let (mut kept_cells, mut kept_events) = (0u64, 0u64);
        let mut damaged = Vec::new();
        for g in 0..view.group_count() {
            group.clear();
            match view.group_cells(g, &mut group) {
                Ok(()) => {
                    for &(id, time, count) in &group {
                        kept_cells += 1;
                        kept_events = kept_events.saturating_add(count);
                        cells.push((
                            entry.resolution.first_minute(time),
                            entry.resolution,
                            id,
                            count,
                        ));
                    }
                }
                Err(e) => damaged.push((g, e)),
            }
        }
        if let Some((_, first)) = damaged.first() {
            let groups: Vec<String> = damaged.iter().map(|(g, _)| g.to_string()).collect();
            lost.push(Lost {
                file: path.clone(),
                offset: first.offset,
                what: format!(
                    "{} cells in {} of its {} groups (group {}): {}",
                    entry.cell_count.saturating_sub(kept_cells),
                    damaged.len(),
                    view.group_count(),
                    groups.join(", "),
                    first.kind
                ),
                events: Some(entry.total.saturating_sub(kept_events)),
            });
        }
    }

    // The active log: every block that decodes, wherever it lies.
    let log_path = dir.join(files::log_name(manifest.active_log));
    match read(vfs, &log_path)? {
        Err(why) => lost.push(Lost {
            file: log_path.clone(),
            offset: 0,
            what: format!("the active log, whatever it held since the last seal: {why}"),
            events: None,
        }),
        Ok(bytes) => {
            let scan = scan_log(&bytes);
            // The file and store the header names, read as they stand even
            // when its CRC fails: a damaged header whose id fields still
            // name another file or store is another log's (a single flip
            // elsewhere leaves them as written; one in them loses the log,
            // named, rather than read another store's counts).
            let file_id = match &scan.file_id {
                Ok(id) => Some(*id),
                Err(_) => bytes.get(8..16).map(LittleEndian::read_u64),
            };
            let foreign = match file_id {
                Some(id) if id != manifest.active_log => Some(format!("file {id}")),
                None => Some("nothing readable".to_string()),
                Some(_) if log_header_store_id(&bytes) != manifest.store_id => {
                    Some(format!("store {:08x}", log_header_store_id(&bytes)))
                }
                Some(_) => None,
            };
            if let Some(whose) = foreign {
                // Another store's log, or an old copy of this one's: its
                // blocks would be counted as this store's.
                lost.push(Lost {
                    file: log_path.clone(),
                    offset: 0,
                    what: format!(
                        "the active log, whatever this store held in it since the last seal: \
                         its header names {whose}, not file {} of store {:08x}, so it is not \
                         read",
                        manifest.active_log, manifest.store_id
                    ),
                    events: None,
                });
            } else {
                salvage_log(&bytes, &scan, &manifest, &log_path, &mut cells, &mut lost);
            }
        }
    }

    // Names: the entries of tags.dict up to any damage, and past it those
    // the index reaches.
    let dict_path = dir.join(files::DICT);
    let dict_bytes = match read(vfs, &dict_path)? {
        Ok(b) => b,
        Err(why) => {
            lost.push(Lost {
                file: dict_path.clone(),
                offset: 0,
                what: format!("every name: {why}"),
                events: None,
            });
            Vec::new()
        }
    };
    let scan = scan_dict(&dict_bytes);
    let foreign = matches!(decode_dict_header(&dict_bytes), Ok(id) if id != manifest.store_id);
    let entries: &[&str] = if foreign { &[] } else { &scan.entries };
    let index = match read(vfs, &dir.join(files::INDEX))? {
        Ok(b) if !foreign => DictIndexView::open(b)
            .ok()
            .filter(|v| v.store_id() == manifest.store_id)
            .and_then(|v| v.with_dict(dict_bytes.clone()).ok()),
        _ => None,
    };
    let tag_name = |id: u32| -> Option<String> {
        if let Some(n) = entries.get(id as usize) {
            return Some((*n).to_string());
        }
        index.as_ref()?.name(id).ok().flatten().map(str::to_string)
    };
    // A labelled store of version 5: its series, up to any damage, name
    // tags and values; a series' name is its key (`tag 1F value …`). With
    // it, where reading them stopped: at damage, or at the file's valid end.
    let series_path = dir.join(files::SERIES);
    let nkeys = manifest.label_keys.len();
    let series = match manifest.series_entries {
        None => None,
        Some(_) => Some(match read(vfs, &series_path)? {
            Ok(b) => match SeriesTable::read(b) {
                Ok(r) if r.store_id != manifest.store_id => {
                    (SeriesTable::new(nkeys), SERIES_STORE_ID_AT as u64)
                }
                // The key count, at byte 6 of the header.
                Ok(r) if r.table.nkeys() != nkeys => (SeriesTable::new(nkeys), 6),
                Ok(r) => {
                    let at = match &r.end {
                        SeriesEnd::Damaged(e) => e.offset,
                        SeriesEnd::Clean => r.valid_end,
                    };
                    (r.table, at)
                }
                Err(e) => (SeriesTable::new(nkeys), e.offset),
            },
            Err(_) => (SeriesTable::new(nkeys), 0),
        }),
    };
    let name = |id: u32| -> Option<String> {
        match &series {
            None => tag_name(id),
            // Salvage reads the file whole: its records read without fault.
            Some((t, _)) => t.key(id, &tag_name(t.tag(id).ok()??)?).ok(),
        }
    };

    // Every read leaves out what is older than the hour retention.
    let now = cells
        .iter()
        .map(|&(m, r, ..)| match r {
            Resolution::Minute => m,
            Resolution::Hour => m.saturating_add(59),
        })
        .max()
        .max(manifest.now);
    let floor = out.retention.retain_floor(now).unwrap_or(0);
    let mut unnamed = (0u64, 0u64, None::<u32>);
    let mut names: HashMap<u32, Option<String>> = HashMap::new();
    let mut rows: Vec<SalvagedRow> = Vec::with_capacity(cells.len());
    for (minute, res, id, count) in cells {
        if minute < floor {
            out.expired_events = out.expired_events.saturating_add(count);
            continue;
        }
        if names.entry(id).or_insert_with(|| name(id)).is_none() {
            unnamed.0 += 1;
            unnamed.1 = unnamed.1.saturating_add(count);
            unnamed.2 = Some(unnamed.2.map_or(id, |m| m.min(id)));
            continue;
        }
        rows.push(SalvagedRow {
            ts: i64::from(minute) * 60,
            step: match res {
                Resolution::Minute => Step::Minute,
                Resolution::Hour => Step::Hour,
            },
            id,
            count,
        });
    }
    if let (n, events, Some(first)) = unnamed {
        let offset = match &scan.end {
            ScanEnd::Corrupt(e) => e.offset,
            ScanEnd::TornTail { offset, .. } => *offset,
            ScanEnd::Clean => scan.valid_end,
        };
        lost.push(match &series {
            Some((t, at)) if first as usize >= t.len() => Lost {
                file: series_path,
                offset: *at,
                what: format!(
                    "{n} cells whose series cannot be read (ids from {first}; {} series read)",
                    t.len()
                ),
                events: Some(events),
            },
            _ => Lost {
                file: dict_path,
                offset,
                what: format!(
                    "{n} cells whose tag's name cannot be read (ids from {first}; {} names read{})",
                    entries.len(),
                    if foreign {
                        ": the file belongs to another store"
                    } else {
                        ""
                    }
                ),
                events: Some(events),
            },
        });
    }
    out.names = names
        .into_iter()
        .filter_map(|(id, n)| Some((id, n?)))
        .collect();
    rows.sort_unstable_by(|a, b| {
        (a.ts, &out.names[&a.id], a.step.seconds(), a.id).cmp(&(
            b.ts,
            &out.names[&b.id],
            b.step.seconds(),
            b.id,
        ))
    });
    rows.dedup_by(|b, a| {
        let same = (a.ts, a.step, a.id) == (b.ts, b.step, b.id);
        if same {
            a.count = a.count.saturating_add(b.count);
        }
        same
    });
    out.rows = rows;
    out.lost = lost;
    Ok(out)
}

/// The cells of every block of the active log that decodes, below the end
/// a clean close recorded (past it, no block is this store's: a clean
/// close leaves zeros there), and what could not be read.
fn salvage_log(
    bytes: &[u8],
    scan: &crate::format::log::LogScan,
    manifest: &crate::format::manifest::Manifest,
    log_path: &Path,
    cells: &mut Vec<(u32, Resolution, u32, u64)>,
    lost: &mut Vec<Lost>,
) {
    if let Err(e) = &scan.file_id {
        // A damaged header holds no count; its blocks are still read.
        lost.push(Lost {
            file: log_path.to_path_buf(),
            offset: e.offset,
            what: format!(
                "nothing (the log's header: {}; its blocks are read)",
                e.kind
            ),
            events: Some(0),
        });
    }
    let clean_end = if manifest.clean && manifest.log_durable_end > 0 {
        manifest.log_durable_end
    } else {
        u64::MAX
    };
    let mut skipped = None;
    let mut past_clean_end = None;
    let mut expect = LOG_HEADER_LEN as u64;
    for (at, block) in blocks_from(bytes, LOG_HEADER_LEN) {
        if at >= clean_end {
            past_clean_end.get_or_insert(at);
            continue;
        }
        if at != expect && skipped.is_none() {
            skipped = Some(expect);
        }
        expect = at + block.len() as u64;
        for (id, minute, count) in block.iter() {
            cells.push((minute, Resolution::Minute, id, count));
        }
    }
    let torn = match &scan.end {
        ScanEnd::Clean => None,
        ScanEnd::TornTail { offset, .. } => Some(*offset),
        ScanEnd::Corrupt(e) => Some(e.offset),
    }
    .filter(|&at| at < clean_end);
    if let Some(at) = skipped.or(torn) {
        lost.push(Lost {
            file: log_path.to_path_buf(),
            offset: at,
            what: "the blocks from here that do not decode (damage, or writes a crash tore \
                   before they were synced)"
                .into(),
            events: None,
        });
    }
    if let Some(at) = past_clean_end {
        lost.push(Lost {
            file: log_path.to_path_buf(),
            offset: at,
            what: format!(
                "blocks past the end the last clean close recorded (byte {clean_end}): not \
                 this store's writes, so not read"
            ),
            events: None,
        });
    }
}

/// A store file's bytes, or why it cannot be read as damage (missing, not a
/// regular file); other I/O errors are the caller's.
fn read(
    vfs: &dyn crate::storage::vfs::Vfs,
    path: &Path,
) -> Result<std::result::Result<Vec<u8>, String>> {
    match files::read_file(vfs, path) {
        Ok(b) => Ok(Ok(b)),
        Err(e) if recovery::is_missing(&e) => Ok(Err("the file is missing".into())),
        Err(Error::Corrupted(c)) => Ok(Err(c.kind.to_string())),
        Err(e) => Err(e),
    }
}
