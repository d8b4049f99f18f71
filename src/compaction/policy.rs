//! The compaction policy: a pure function from the live segment list, the
//! store's now and the retention settings to a [`Plan`]. It reads no files and
//! no clock, so the same store state always yields the same plan.

use crate::format::manifest::SegmentEntry;
use crate::format::Resolution;
use crate::options::Retention;

/// What one compaction step should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The store is as compact as the policy wants it.
    Nothing,
    /// Rewrite `inputs` (file ids): their cells below `minute_floor` become one
    /// hourly segment, the rest one minute segment, and cells below
    /// `retain_floor` are dropped.
    RollUp {
        /// Segments to read and replace.
        inputs: Vec<u64>,
        /// Earliest minute kept at minute resolution (`None`: all).
        minute_floor: Option<u32>,
        /// Earliest minute kept at all (`None`: all).
        retain_floor: Option<u32>,
    },
    /// Delete these segments: every cell in them is past the hour retention.
    Drop {
        /// Segments to delete.
        segments: Vec<u64>,
    },
}

/// Settings the policy needs besides the segments.
#[derive(Debug, Clone, Copy)]
pub struct PolicyConfig {
    pub(crate) retention: Retention,
    /// Merge hourly segments once there are more than this many.
    pub(crate) max_hour_segments: usize,
    /// Merge the oldest minute segments once there are more than this many.
    pub(crate) max_minute_segments: usize,
}

/// Chooses the next step for `segments` at the store's `now`.
pub fn choose(segments: &[SegmentEntry], now: Option<u32>, cfg: &PolicyConfig) -> Plan {
    if now.is_none() || segments.is_empty() {
        return Plan::Nothing;
    }
    let minute_floor = cfg.retention.minute_floor(now);
    let retain_floor = cfg.retention.retain_floor(now);

    // 1. Whole segments past the retention: delete them.
    if let Some(rf) = retain_floor {
        let expired: Vec<u64> = segments
            .iter()
            .filter(|e| e.minute_span().1 <= rf)
            .map(|e| e.file_id)
            .collect();
        if !expired.is_empty() {
            return Plan::Drop { segments: expired };
        }
    }

    // 2. Minute segments holding minutes past the minute retention, and any
    //    segment straddling the retention floor: roll up / rewrite.
    let mut inputs: Vec<u64> = segments
        .iter()
        .filter(|e| {
            let lo = e.minute_span().0;
            let old_minutes =
                e.resolution == Resolution::Minute && minute_floor.is_some_and(|f| lo < f);
            let expiring = retain_floor.is_some_and(|f| lo < f);
            old_minutes || expiring
        })
        .map(|e| e.file_id)
        .collect();
    let hours: Vec<u64> = segments
        .iter()
        .filter(|e| e.resolution == Resolution::Hour)
        .map(|e| e.file_id)
        .collect();
    if !inputs.is_empty() {
        let untouched_hours = hours.iter().filter(|id| !inputs.contains(id)).count();
        if untouched_hours + 1 > cfg.max_hour_segments {
            for id in &hours {
                if !inputs.contains(id) {
                    inputs.push(*id);
                }
            }
        }
        return roll_up(inputs, minute_floor, retain_floor);
    }

    // 3. Too many hourly segments: merge them all.
    if hours.len() > cfg.max_hour_segments {
        return roll_up(hours, minute_floor, retain_floor);
    }

    // 4. Too many minute segments: merge the oldest half into one.
    let mut minutes: Vec<&SegmentEntry> = segments
        .iter()
        .filter(|e| e.resolution == Resolution::Minute)
        .collect();
    if minutes.len() > cfg.max_minute_segments {
        minutes.sort_by_key(|e| (e.min_time, e.file_id));
        let take = minutes.len() - cfg.max_minute_segments / 2;
        let inputs = minutes[..take.max(2)].iter().map(|e| e.file_id).collect();
        return roll_up(inputs, minute_floor, retain_floor);
    }
    Plan::Nothing
}

fn roll_up(mut inputs: Vec<u64>, minute_floor: Option<u32>, retain_floor: Option<u32>) -> Plan {
    inputs.sort_unstable();
    Plan::RollUp {
        inputs,
        minute_floor,
        retain_floor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, res: Resolution, lo: u32, hi: u32) -> SegmentEntry {
        SegmentEntry {
            file_id: id,
            resolution: res,
            min_time: lo,
            max_time: hi,
            cell_count: 1,
            total: 1,
            byte_len: 100,
        }
    }

    fn cfg(minutes: Option<u32>, hours: Option<u32>) -> PolicyConfig {
        PolicyConfig {
            retention: Retention {
                minute_minutes: minutes,
                hour_minutes: hours,
            },
            max_hour_segments: 4,
            max_minute_segments: 8,
        }
    }

    #[test]
    fn nothing_to_do_when_young() {
        let s = [seg(1, Resolution::Minute, 0, 59)];
        assert_eq!(choose(&s, Some(100), &cfg(Some(1440), None)), Plan::Nothing);
        assert_eq!(choose(&s, None, &cfg(Some(1440), None)), Plan::Nothing);
    }

    #[test]
    fn old_minutes_roll_up() {
        let s = [
            seg(1, Resolution::Minute, 0, 59),
            seg(2, Resolution::Minute, 3000, 3059),
        ];
        let p = choose(&s, Some(3059), &cfg(Some(1440), None));
        assert_eq!(
            p,
            Plan::RollUp {
                inputs: vec![1],
                minute_floor: Some(1560),
                retain_floor: None
            }
        );
    }

    #[test]
    fn expired_segments_drop_first() {
        let s = [
            seg(1, Resolution::Hour, 0, 10),
            seg(2, Resolution::Minute, 5000, 5059),
        ];
        let p = choose(&s, Some(5059), &cfg(Some(60), Some(1440)));
        assert_eq!(p, Plan::Drop { segments: vec![1] });
    }

    #[test]
    fn many_minute_segments_merge() {
        let s: Vec<_> = (0..10)
            .map(|i| seg(i, Resolution::Minute, i as u32 * 60, i as u32 * 60 + 59))
            .collect();
        match choose(&s, Some(600), &cfg(None, None)) {
            Plan::RollUp { inputs, .. } => assert_eq!(inputs.len(), 6),
            p => panic!("{p:?}"),
        }
    }
}
