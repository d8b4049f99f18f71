//! Sealed segments on disk: [`write_segment`] encodes sorted cells and makes
//! them durable under their final name; [`open_segment`] maps one read-only
//! and checks it against its manifest entry. Nothing here decides *when* a
//! segment is written: sealing (the store) and compaction (the worker) do.

use std::path::Path;
use std::sync::Arc;

use crate::error::{CorruptionKind, Error, Result};
use crate::format::manifest::SegmentEntry;
use crate::format::segment::{SegmentBuilder, SegmentView, SEGMENT_STORE_ID_AT};
use crate::format::{check_store_id, DecodeError, Resolution};
use crate::storage::files;
use crate::storage::vfs::{Mapped, Vfs};

/// A bytes handle for a mapped segment.
#[derive(Clone)]
pub(crate) struct MapBytes(Mapped);

impl AsRef<[u8]> for MapBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// A live sealed segment: its manifest entry, its file name and a decoder
/// over its read-only map.
pub(crate) struct Segment {
    pub(crate) entry: SegmentEntry,
    pub(crate) name: String,
    pub(crate) view: SegmentView<MapBytes>,
}

impl Segment {
    /// First and one-past-last minute this segment's cells cover.
    pub(crate) fn minute_span(&self) -> (u32, u32) {
        self.entry.minute_span()
    }

    /// A decode error inside this segment, as the crate's error.
    pub(crate) fn corrupted(&self, e: DecodeError) -> Error {
        Error::corrupted(&self.name, e.offset, e.kind)
    }
}

/// The ids a store's log and segments name, and how many are defined: series
/// ids in a store with a series file (`tags.series`), tag ids otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ids {
    /// How many ids are defined (ids `0..len`).
    pub(crate) len: u64,
    /// The ids are series ids.
    pub(crate) series: bool,
}

impl Ids {
    /// What one id names, as messages say it: "series" or "tag".
    pub(crate) fn one(&self) -> &'static str {
        if self.series {
            "series"
        } else {
            "tag"
        }
    }

    /// What the ids name, as messages say it: "series" or "tags".
    pub(crate) fn many(&self) -> &'static str {
        if self.series {
            "series"
        } else {
            "tags"
        }
    }

    /// The file that defines them, as messages say it.
    pub(crate) fn holder(&self) -> &'static str {
        if self.series {
            "tags.series"
        } else {
            "the dictionary"
        }
    }
}

fn invalid(path: &Path, why: impl Into<String>) -> Error {
    Error::corrupted(path, 0, CorruptionKind::Invalid(why.into()))
}

/// Maps segment `entry` of the store in `dir` and checks its header, skip
/// index and footer (not every group: see [`SegmentView::verify`]) against
/// the manifest entry, the store id and the number of ids defined.
pub(crate) fn open_segment(
    vfs: &dyn Vfs,
    dir: &Path,
    entry: &SegmentEntry,
    ids: Ids,
    store_id: u32,
) -> Result<Segment> {
    let name = files::segment_name(entry.file_id, entry.resolution);
    let path = dir.join(&name);
    let map = vfs.map(&path).map_err(|e| Error::io(&path, e))?;
    let view = SegmentView::open(MapBytes(map)).map_err(|e| corrupted(&path, e))?;
    let m = view.meta();
    check_store_id(m.store_id, store_id, SEGMENT_STORE_ID_AT as u64)
        .map_err(|e| corrupted(&path, e))?;
    let matches = m.file_id == entry.file_id
        && m.resolution == entry.resolution
        && m.cell_count == entry.cell_count
        && m.total == entry.total
        && (m.cell_count == 0 || (m.min_time == entry.min_time && m.max_time == entry.max_time));
    if !matches {
        return Err(invalid(
            &path,
            "the segment header does not match its manifest entry",
        ));
    }
    if m.cell_count > 0 && u64::from(view.max_tag()) >= ids.len {
        let (max, len) = (view.max_tag(), ids.len);
        return Err(invalid(
            &path,
            format!(
                "the segment names {} id {max} but {} holds {len} {}",
                ids.one(),
                ids.holder(),
                ids.many()
            ),
        ));
    }
    Ok(Segment {
        entry: *entry,
        name,
        view,
    })
}

fn corrupted(path: &Path, e: DecodeError) -> Error {
    Error::corrupted(path, e.offset, e.kind)
}

/// Encodes sorted cells as segment `id` of store `store_id` (with its
/// per-tag totals section when `tag_totals` is set) and writes it
/// durably under its final name (through a temp file). The caller fsyncs the
/// directory before any manifest names the segment.
pub(crate) fn write_segment(
    vfs: &dyn Vfs,
    dir: &Path,
    id: u64,
    store_id: u32,
    res: Resolution,
    tag_totals: bool,
    cells: impl Iterator<Item = (u32, u32, u64)>,
) -> Result<SegmentEntry> {
    let mut b = SegmentBuilder::new(res, id)
        .for_store(store_id)
        .with_tag_totals(tag_totals);
    for (tag, t, c) in cells {
        b.push(tag, t, c).map_err(|why| Error::Poisoned {
            reason: format!("internal error building segment {id}: {why}"),
        })?;
    }
    let bytes = b.finish();
    let view = SegmentView::open(&bytes[..]).map_err(|e| Error::Poisoned {
        reason: format!(
            "internal error: a freshly built segment does not decode: {:?}",
            e.kind
        ),
    })?;
    let m = *view.meta();
    let name = files::segment_name(id, res);
    let tmp = dir.join(format!("{name}{}", files::TMP_SUFFIX));
    files::write_new_file(vfs, &tmp, &bytes)?;
    let dst = dir.join(&name);
    vfs.rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    Ok(SegmentEntry {
        file_id: id,
        resolution: res,
        min_time: m.min_time,
        max_time: m.max_time,
        cell_count: m.cell_count,
        total: m.total,
        byte_len: bytes.len() as u64,
    })
}

/// Opens every entry as a live segment.
pub(crate) fn open_all(
    vfs: &dyn Vfs,
    dir: &Path,
    entries: &[SegmentEntry],
    ids: Ids,
    store_id: u32,
) -> Result<Vec<Arc<Segment>>> {
    entries
        .iter()
        .map(|e| open_segment(vfs, dir, e, ids, store_id).map(Arc::new))
        .collect()
}
