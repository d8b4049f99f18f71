//! Compaction: a [`policy`] that looks at the live segments and returns a
//! [`Plan`], and a worker that carries it out crash-safely:
//!
//! 1. write each new segment to `*.tmp`, fsync it, rename it to its final name;
//! 2. fsync the directory;
//! 3. switch the manifest atomically (temp, fsync, rename, fsync directory);
//! 4. publish the new segment list to new snapshots;
//! 5. delete the old files.
//!
//! A crash before step 3 leaves the old manifest, and the new files are
//! orphans that the next open deletes; after step 3 the old files are the
//! orphans. Either way every count is held exactly once. Snapshots taken
//! before step 4 keep the old segments mapped until they are dropped.
//!
//! A panic in the worker poisons the store: later calls return
//! [`crate::Error::Poisoned`] instead of carrying on over unknown state.

pub mod policy;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use policy::{choose, Plan, PolicyConfig};

use crate::error::{Error, Result};
use crate::format::manifest::{encode_manifest, SegmentEntry};
use crate::format::segment::SegmentBuilder;
use crate::format::Resolution;
use crate::storage::files;
use crate::store::{open_segment, Inner, Segment};

/// What a compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactionReport {
    /// Plans carried out (roll-ups, merges and drops).
    pub steps: u64,
    /// Segments read (and replaced or deleted).
    pub segments_read: u64,
    /// Segments written.
    pub segments_written: u64,
    /// Segments deleted whole for retention.
    pub segments_dropped: u64,
    /// Cells in the segments read.
    pub cells_before: u64,
    /// Cells in the segments written.
    pub cells_after: u64,
    /// Bytes of the segments read.
    pub bytes_before: u64,
    /// Bytes of the segments written.
    pub bytes_after: u64,
    /// Events dropped for retention.
    pub events_expired: u64,
    /// Wall time of the pass.
    pub elapsed: Duration,
}

impl CompactionReport {
    /// True when the pass found nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps == 0
    }
}

/// Most plans one pass carries out before it yields.
const MAX_STEPS: u64 = 64;

/// Runs plans until the policy says `Nothing`. Serialised by the store's
/// compaction lock; a panic inside poisons the store.
pub(crate) fn run_pass(inner: &Arc<Inner>) -> Result<CompactionReport> {
    inner.check_writable()?;
    let _one_at_a_time = inner.compaction_lock.lock();
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut report = CompactionReport::default();
        while report.steps < MAX_STEPS {
            if inner.inject_compaction_panic.swap(false, Ordering::SeqCst) {
                panic!("injected compaction panic");
            }
            let view = inner.current_view();
            let entries: Vec<SegmentEntry> = view.segments.iter().map(|s| s.entry).collect();
            let cfg = PolicyConfig {
                limits: inner.limits(),
                max_hour_segments: inner.opts.max_hour_segments,
                max_minute_segments: inner.opts.max_minute_segments,
            };
            let plan = choose(&entries, view.now, &cfg);
            if plan == Plan::Nothing {
                break;
            }
            execute(inner, &view.segments, &plan, &mut report)?;
            report.steps += 1;
        }
        Ok(report)
    }));
    match outcome {
        Ok(Ok(mut report)) => {
            report.elapsed = started.elapsed();
            Ok(report)
        }
        Ok(Err(e)) => {
            inner.poison(format!("compaction failed: {e}"));
            Err(e)
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let reason = format!("the compaction worker panicked: {msg}");
            inner.poison(reason.clone());
            Err(Error::Poisoned { reason })
        }
    }
}

fn execute(
    inner: &Arc<Inner>,
    live: &[Arc<Segment>],
    plan: &Plan,
    report: &mut CompactionReport,
) -> Result<()> {
    let vfs = inner.vfs();
    let dir = &inner.dir;
    let (input_ids, outputs) = match plan {
        Plan::Nothing => return Ok(()),
        Plan::Drop { segments } => {
            report.segments_dropped += segments.len() as u64;
            (segments.clone(), Vec::new())
        }
        Plan::RollUp {
            inputs,
            minute_floor,
            retain_floor,
        } => {
            let segs: Vec<&Arc<Segment>> = live
                .iter()
                .filter(|s| inputs.contains(&s.entry.file_id))
                .collect();
            let (hours, minutes) = collect_cells(&segs, *minute_floor, *retain_floor)?;
            let mut outs = Vec::new();
            for (res, cells) in [(Resolution::Hour, hours), (Resolution::Minute, minutes)] {
                if cells.is_empty() {
                    continue;
                }
                let (id, store_id) = {
                    let mut m = inner.manifest.lock();
                    let id = m.next_file_id;
                    m.next_file_id += 1;
                    (id, m.store_id)
                };
                let entry = write_segment(
                    vfs,
                    dir,
                    id,
                    store_id,
                    res,
                    cells.iter().map(|&(k, c)| ((k >> 32) as u32, k as u32, c)),
                )?;
                outs.push(entry);
            }
            files::sync_dir(vfs, dir)?;
            (inputs.clone(), outs)
        }
    };
    let inputs: Vec<&Arc<Segment>> = live
        .iter()
        .filter(|s| input_ids.contains(&s.entry.file_id))
        .collect();
    let total_in: u64 = inputs.iter().map(|s| s.entry.total).sum();
    let total_out: u64 = outputs.iter().map(|e| e.total).sum();
    report.segments_read += inputs.len() as u64;
    report.segments_written += outputs.len() as u64;
    report.cells_before += inputs.iter().map(|s| s.entry.cell_count).sum::<u64>();
    report.cells_after += outputs.iter().map(|e| e.cell_count).sum::<u64>();
    report.bytes_before += inputs.iter().map(|s| s.entry.byte_len).sum::<u64>();
    report.bytes_after += outputs.iter().map(|e| e.byte_len).sum::<u64>();
    report.events_expired += total_in - total_out.min(total_in);

    let dict_len = inner.dict.read().len() as u64;
    let store_id = inner.manifest.lock().store_id;
    let opened: Vec<Arc<Segment>> = outputs
        .iter()
        .map(|e| open_segment(vfs, dir, e, dict_len, store_id).map(Arc::new))
        .collect::<Result<_>>()?;
    {
        let mut m = inner.manifest.lock();
        let mut next = m.clone();
        next.generation += 1;
        next.segments.retain(|e| !input_ids.contains(&e.file_id));
        next.segments.extend(outputs.iter().cloned());
        files::write_atomic(vfs, dir, files::MANIFEST, &encode_manifest(&next))?;
        *m = next;
        inner.publish_segments(&input_ids, opened);
    }
    inner.grand_total_sub(total_in - total_out.min(total_in));
    for s in inputs {
        // Already out of the manifest: a failed delete leaves an orphan that
        // the next open removes.
        let _ = vfs.remove(&dir.join(&s.name));
    }
    Ok(())
}

/// Hour cells `(tag << 32 | hour, count)` of everything below the minute
/// floor, and minute cells of the rest, both sorted and summed; cells below the
/// retention floor are dropped.
type Keyed = Vec<(u64, u64)>;

fn collect_cells(
    segs: &[&Arc<Segment>],
    minute_floor: Option<u32>,
    retain_floor: Option<u32>,
) -> Result<(Keyed, Keyed)> {
    let mut hours: Keyed = Vec::new();
    let mut minutes: Keyed = Vec::new();
    let mf = minute_floor.unwrap_or(0);
    let rf = retain_floor.unwrap_or(0);
    for seg in segs {
        let res = seg.entry.resolution;
        seg.view
            .for_each_cell(|tag, t, c| {
                let m = res.first_minute(t);
                if m < rf {
                    return;
                }
                let key_tag = u64::from(tag) << 32;
                if res == Resolution::Hour || m < mf {
                    hours.push((key_tag | u64::from(m / 60), c));
                } else {
                    minutes.push((key_tag | u64::from(m), c));
                }
            })
            .map_err(|e| Error::corrupted(&seg.name, e.offset, e.kind))?;
    }
    Ok((sum_sorted(hours), sum_sorted(minutes)))
}

fn sum_sorted(mut v: Keyed) -> Keyed {
    v.sort_unstable_by_key(|&(k, _)| k);
    let mut out: Keyed = Vec::with_capacity(v.len());
    for (k, c) in v {
        match out.last_mut() {
            // Cannot overflow: the store's grand total fits in u64.
            Some((lk, lc)) if *lk == k => *lc += c,
            _ => out.push((k, c)),
        }
    }
    out
}

/// Encodes sorted cells as segment `id` of store `store_id` and writes it
/// durably under its final name (through a temp file). The caller fsyncs the
/// directory.
pub(crate) fn write_segment(
    vfs: &dyn crate::storage::vfs::Vfs,
    dir: &Path,
    id: u64,
    store_id: u32,
    res: Resolution,
    cells: impl Iterator<Item = (u32, u32, u64)>,
) -> Result<SegmentEntry> {
    let mut b = SegmentBuilder::new(res, id).for_store(store_id);
    for (tag, t, c) in cells {
        b.push(tag, t, c).map_err(|why| Error::Poisoned {
            reason: format!("internal error building segment {id}: {why}"),
        })?;
    }
    let bytes = b.finish();
    let view =
        crate::format::segment::SegmentView::open(&bytes[..]).map_err(|e| Error::Poisoned {
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
