//! The compaction worker: carries out one [`Plan`] over explicit handles (the
//! file system, the directory, the live segments, a source of file ids) and
//! returns an [`Outcome`] for the store to apply. It never touches the
//! manifest or the published view, and it reads no clock.

use std::path::Path;
use std::sync::Arc;

use super::{CompactionReport, Plan};
use crate::error::Result;
use crate::format::manifest::SegmentEntry;
use crate::format::Resolution;
use crate::storage::files;
use crate::storage::segment::{open_all, write_segment, Ids, Segment};
use crate::storage::vfs::Vfs;

/// What the worker needs from the store.
pub(crate) struct Ctx<'a> {
    pub(crate) vfs: &'a dyn Vfs,
    pub(crate) dir: &'a Path,
    pub(crate) store_id: u32,
    pub(crate) ids: Ids,
    /// Whether written segments carry their per-tag totals.
    pub(crate) tag_totals: bool,
}

/// What one executed plan produced: the store switches the manifest from
/// `inputs` to `outputs`, publishes `opened`, subtracts `expired` from its
/// grand total, and then deletes the inputs' files (`input_names`).
pub(crate) struct Outcome {
    pub(crate) inputs: Vec<u64>,
    pub(crate) input_names: Vec<String>,
    pub(crate) outputs: Vec<SegmentEntry>,
    pub(crate) opened: Vec<Arc<Segment>>,
    pub(crate) expired: u64,
}

/// Writes the new segments of `plan` (durably, directory fsynced) and opens
/// them. `next_id` allocates file ids.
pub(crate) fn execute(
    ctx: &Ctx<'_>,
    live: &[Arc<Segment>],
    plan: &Plan,
    next_id: &mut dyn FnMut() -> u64,
    report: &mut CompactionReport,
) -> Result<Outcome> {
    let (input_ids, outputs) = match plan {
        Plan::Nothing => (Vec::new(), Vec::new()),
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
                let entry = write_segment(
                    ctx.vfs,
                    ctx.dir,
                    next_id(),
                    ctx.store_id,
                    res,
                    ctx.tag_totals,
                    cells.iter().map(|&(k, c)| ((k >> 32) as u32, k as u32, c)),
                )?;
                outs.push(entry);
            }
            files::sync_dir(ctx.vfs, ctx.dir)?;
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
    let expired = total_in - total_out.min(total_in);
    report.events_expired += expired;
    let opened = open_all(ctx.vfs, ctx.dir, &outputs, ctx.ids, ctx.store_id)?;
    Ok(Outcome {
        input_names: inputs.iter().map(|s| s.name.clone()).collect(),
        inputs: input_ids,
        outputs,
        opened,
        expired,
    })
}

/// `(tag << 32 | time, count)` cells, sorted by key.
type Keyed = Vec<(u64, u64)>;

/// Hour cells of everything below the minute floor, and minute cells of the
/// rest, both sorted and summed; cells below the retention floor are dropped.
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
            .map_err(|e| seg.corrupted(e))?;
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
