//! A deterministic synthetic workload: hashtag events shaped like a social
//! stream, shared by the benchmarks, the tests and the demo.
//!
//! [`events`] turns a [`WorkloadSpec`] into a [`Workload`], an iterator of
//! [`Event`]s in (mostly) time order:
//!
//! - **Background.** Each event picks one of `tags` background tags, named
//!   `tag0`, `tag1`, … by popularity rank, from a Zipf distribution with
//!   exponent `zipf_s`: rank `k` (from 0) has weight `1 / (k + 1)^s`.
//! - **Surge.** One extra tag (`surge_tag`, `metoo` by default) takes a share
//!   of all events that is zero until `surge_start_frac` of the span and then
//!   ramps linearly to `surge_max_share` at the end of the span.
//! - **Time.** Event `i` of `N` is stamped `start + floor(i * span_secs / N)`.
//!   A `late_fraction` of the events is then moved back by a uniform
//!   `1..=late_max_secs` seconds (never before `start`), so the stream arrives
//!   slightly out of order, as a real one does.
//! - **Counts.** Every event has `count == 1`.
//!
//! [`labelled_events`] gives the same events with a platform and a region
//! each (a [`LabelSpec`]; see the `labelled` module docs there), and
//! [`labelled_counts`] their exact per-(tag, labels, minute) totals.
//!
//! The generator is seeded: the same [`WorkloadSpec`] gives the same events on
//! every run. It draws from the crate's [`SplitMix64`] and uses Walker's alias
//! method for the Zipf draw (O(1) per event), and needs no dependency. The alias
//! table is built once from `f64` weights with `powf`; on one platform the
//! stream is bit-for-bit reproducible, across platforms a last-ulp difference
//! in the system `pow` could in principle move a draw.
//!
//! Tag indices: `0..tags` are the background tags (index = popularity rank),
//! and index `tags` is the surge tag; [`Workload::tag_names`] holds all
//! `tags + 1` names, so `names[event.tag_index as usize]` always works.
//!
//! ```
//! use trendlog_workload::{events, WorkloadSpec};
//! let spec = WorkloadSpec { events: 1_000, tags: 50, ..WorkloadSpec::default() };
//! let w = events(&spec);
//! let names = w.tag_names().to_vec();
//! let mut n = 0;
//! for e in w {
//!     assert!(e.ts >= spec.start && e.ts < spec.start + spec.span_secs);
//!     assert!(names[e.tag_index as usize] == "metoo" || names[e.tag_index as usize].starts_with("tag"));
//!     n += 1;
//! }
//! assert_eq!(n, 1_000);
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::HashMap;

mod labelled;
mod rng;
pub use labelled::{
    labelled_counts, labelled_events, LabelSpec, LabelledCell, LabelledEvent, LabelledWorkload,
};
pub use rng::SplitMix64;

/// Unix second of 2017-10-15T00:00:00Z, the default start of the workload.
pub const DEFAULT_START: i64 = 1_508_025_600;

/// What to generate. [`Default`] is the benchmark workload of issue 7.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSpec {
    /// Number of events `N`. Default 5,000,000.
    pub events: u64,
    /// Number of distinct background tags `T`. Default 200,000. Must be at
    /// least 1 and below `u32::MAX`.
    pub tags: u32,
    /// Zipf exponent `s` of the background tags. Default 1.1.
    pub zipf_s: f64,
    /// Unix second of the first event. Default 2017-10-15T00:00:00Z
    /// ([`DEFAULT_START`]).
    pub start: i64,
    /// Span of event time in seconds. Default 86,400 (24 hours).
    pub span_secs: i64,
    /// Name of the surging tag. Default `metoo`.
    pub surge_tag: String,
    /// Share of all events taken by the surge tag at the very end of the
    /// span, in `[0, 1]`. Default 0.2.
    pub surge_max_share: f64,
    /// Fraction of the span after which the surge starts ramping up from 0.
    /// Default 0.5 (the second half).
    pub surge_start_frac: f64,
    /// Fraction of events that arrive late, in `[0, 1]`. Default 0.01.
    pub late_fraction: f64,
    /// A late event is stamped up to this many seconds earlier. Default 600.
    pub late_max_secs: i64,
    /// Seed of the generator. Default 42.
    pub seed: u64,
}

impl Default for WorkloadSpec {
    fn default() -> WorkloadSpec {
        WorkloadSpec {
            events: 5_000_000,
            tags: 200_000,
            zipf_s: 1.1,
            start: DEFAULT_START,
            span_secs: 86_400,
            surge_tag: "metoo".to_owned(),
            surge_max_share: 0.2,
            surge_start_frac: 0.5,
            late_fraction: 0.01,
            late_max_secs: 600,
            seed: 42,
        }
    }
}

/// One generated event: `count` occurrences of tag `tag_index` at unix second
/// `ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    /// Unix second of the event.
    pub ts: i64,
    /// Index into [`Workload::tag_names`]: `0..tags` are background tags by
    /// popularity rank, `tags` is the surge tag.
    pub tag_index: u32,
    /// How many occurrences; always 1 in this generator.
    pub count: u64,
}

impl Event {
    /// The UTC minute of the event, `floor(ts / 60)`.
    ///
    /// # Panics
    /// Panics if `ts` is before 1970 or past the last `u32` minute; the
    /// generator never produces such a time from a spec whose `start` is a
    /// valid time.
    pub fn minute(&self) -> u32 {
        u32::try_from(self.ts.div_euclid(60)).expect("event time out of the u32 minute range")
    }
}

/// `x * n / 2^64`: maps a uniform `u64` to a uniform value in `0..n` (Lemire's
/// multiply-shift, bias below 2^-32 for the sizes used here).
#[inline]
fn scale(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

/// Maps 32 uniform bits `x < 2^32` to a uniform value in `0..n`, `n <= 2^32`.
#[inline]
fn scale32(x: u64, n: u64) -> u64 {
    (x * n) >> 32
}

/// A probability in `[0, 1]` as a `u64` threshold: `draw < threshold` has that
/// probability for a uniform `u64` draw (up to 2^-64).
fn threshold(p: f64) -> u64 {
    if p <= 0.0 || p.is_nan() {
        0
    } else if p >= 1.0 {
        u64::MAX
    } else {
        (p * 18_446_744_073_709_551_616.0) as u64
    }
}

/// Walker's alias table for a Zipf distribution over `0..n`: draw a column
/// uniformly, keep it with probability `keep[col] / 2^32`, else take its
/// alias. Built with Vose's linear-time method.
#[derive(Debug, Clone)]
struct ZipfAlias {
    /// `(keep threshold, alias)` per column, together for one cache line read.
    table: Vec<(u32, u32)>,
}

impl ZipfAlias {
    fn new(n: u32, s: f64) -> ZipfAlias {
        assert!(n >= 1, "a workload needs at least one background tag");
        let weights: Vec<f64> = (0..n).map(|k| (f64::from(k) + 1.0).powf(-s)).collect();
        let total: f64 = weights.iter().sum();
        let scale_to_n = f64::from(n) / total;
        let mut p: Vec<f64> = weights.iter().map(|w| w * scale_to_n).collect();
        let mut table: Vec<(u32, u32)> = (0..n).map(|k| (u32::MAX, k)).collect();
        let mut small: Vec<u32> = Vec::new();
        let mut large: Vec<u32> = Vec::new();
        for (k, &pk) in p.iter().enumerate() {
            if pk < 1.0 {
                small.push(k as u32);
            } else {
                large.push(k as u32);
            }
        }
        while let (Some(&s_col), Some(&l_col)) = (small.last(), large.last()) {
            small.pop();
            let ps = p[s_col as usize];
            table[s_col as usize] = ((ps * 4_294_967_296.0).min(4_294_967_295.0) as u32, l_col);
            let pl = p[l_col as usize] + ps - 1.0;
            p[l_col as usize] = pl;
            if pl < 1.0 {
                large.pop();
                small.push(l_col);
            }
        }
        // Columns left on either list have probability 1 up to rounding: they
        // alias to themselves (set above), so the keep threshold is moot.
        ZipfAlias { table }
    }

    #[inline]
    fn sample(&self, x: u64) -> u32 {
        // High 32 bits pick the column, low 32 bits toss the coin.
        let col = scale32(x >> 32, self.table.len() as u64) as usize;
        let (keep, alias) = self.table[col];
        if (x as u32) < keep {
            col as u32
        } else {
            alias
        }
    }
}

/// The generator: an iterator of [`Event`]s for one [`WorkloadSpec`]. Make one
/// with [`events`].
#[derive(Debug, Clone)]
pub struct Workload {
    spec: WorkloadSpec,
    names: Vec<String>,
    zipf: ZipfAlias,
    rng: SplitMix64,
    /// Index of the next event.
    i: u64,
    /// Unlate timestamp of event `i`, kept incrementally: `start + q*i + floor(r*i/N)`.
    ts: i64,
    /// `(r * i) mod N`, the fractional part of the timestamp times `N`.
    acc: u64,
    step_q: i64,
    step_r: u64,
    surge_index: u32,
    /// First event index at which the surge may appear.
    surge_from: u64,
    /// Threshold slope: the surge share of event `i` is
    /// `(i - surge_from) * surge_slope` (as a fraction of 2^64).
    surge_slope: f64,
    late_threshold: u64,
}

/// Builds the generator for `spec`.
///
/// # Panics
/// Panics if `spec.tags` is 0 or `u32::MAX`, or if `span_secs` or
/// `late_max_secs` is negative.
pub fn events(spec: &WorkloadSpec) -> Workload {
    assert!(
        spec.tags >= 1 && spec.tags < u32::MAX,
        "tags must be in 1..u32::MAX"
    );
    assert!(spec.span_secs >= 0, "span_secs must not be negative");
    assert!(
        spec.late_max_secs >= 0,
        "late_max_secs must not be negative"
    );
    let mut names: Vec<String> = (0..spec.tags).map(|k| format!("tag{k}")).collect();
    names.push(spec.surge_tag.clone());
    let n = spec.events.max(1);
    let span = spec.span_secs as u64;
    let start_frac = spec.surge_start_frac.clamp(0.0, 1.0);
    let surge_from = (start_frac * spec.events as f64).ceil() as u64;
    let ramp_events = (1.0 - start_frac) * spec.events as f64;
    let max_share = spec.surge_max_share.clamp(0.0, 1.0);
    let surge_slope = if ramp_events > 0.0 && max_share > 0.0 {
        max_share / ramp_events * 18_446_744_073_709_551_616.0
    } else {
        0.0
    };
    Workload {
        names,
        zipf: ZipfAlias::new(spec.tags, spec.zipf_s),
        rng: SplitMix64(spec.seed),
        i: 0,
        ts: spec.start,
        acc: 0,
        step_q: (span / n) as i64,
        step_r: span % n,
        surge_index: spec.tags,
        surge_from,
        surge_slope,
        late_threshold: threshold(spec.late_fraction),
        spec: spec.clone(),
    }
}

impl Workload {
    /// Names of all tags by index: `tag{rank}` for `0..tags`, then the surge
    /// tag at index `tags`.
    pub fn tag_names(&self) -> &[String] {
        &self.names
    }

    /// The index of the surge tag in [`Workload::tag_names`] (equal to
    /// `spec.tags`).
    pub fn surge_index(&self) -> u32 {
        self.surge_index
    }

    /// The spec this generator was built from.
    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }

    /// Name of tag `idx`.
    ///
    /// # Panics
    /// Panics if `idx > spec.tags`.
    pub fn tag_name(&self, idx: u32) -> &str {
        &self.names[idx as usize]
    }
}

impl Iterator for Workload {
    type Item = Event;

    #[inline]
    fn next(&mut self) -> Option<Event> {
        if self.i >= self.spec.events {
            return None;
        }
        let i = self.i;
        let mut ts = self.ts;
        // Advance the unlate clock to event i + 1.
        self.i += 1;
        self.ts += self.step_q;
        self.acc += self.step_r;
        if self.acc >= self.spec.events {
            self.acc -= self.spec.events;
            self.ts += 1;
        }

        let draw = self.rng.next_u64();
        let mut tag_index = self.zipf.sample(draw);
        if i >= self.surge_from && self.surge_slope > 0.0 {
            let share = (i - self.surge_from) as f64 * self.surge_slope;
            let t = if share >= 18_446_744_073_709_551_615.0 {
                u64::MAX
            } else {
                share as u64
            };
            if self.rng.next_u64() < t {
                tag_index = self.surge_index;
            }
        }
        if self.late_threshold > 0 && self.rng.next_u64() < self.late_threshold {
            let back = 1 + scale(self.rng.next_u64(), self.spec.late_max_secs as u64) as i64;
            ts = (ts - back.min(self.spec.late_max_secs)).max(self.spec.start);
        }
        Some(Event {
            ts,
            tag_index,
            count: 1,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.spec.events - self.i).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Workload {}

/// The exact per-(tag, minute) totals of the workload `spec` generates, for
/// tests. Slow: it allocates a `String` key per distinct cell.
pub fn expected_counts(spec: &WorkloadSpec) -> HashMap<(String, u32), u64> {
    let w = events(spec);
    let names = w.tag_names().to_vec();
    let mut out: HashMap<(String, u32), u64> = HashMap::new();
    for e in w {
        *out.entry((names[e.tag_index as usize].clone(), e.minute()))
            .or_insert(0) += e.count;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> WorkloadSpec {
        WorkloadSpec {
            events: 200_000,
            tags: 10_000,
            seed,
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn same_seed_same_events_different_seed_different() {
        let a: Vec<Event> = events(&small(7)).take(10_000).collect();
        let b: Vec<Event> = events(&small(7)).take(10_000).collect();
        let c: Vec<Event> = events(&small(8)).take(10_000).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(events(&small(7)).len(), 200_000);
    }

    #[test]
    fn timestamps_cover_the_span_in_order_except_late_ones() {
        let spec = small(1);
        let mut last_on_time = spec.start;
        let mut late = 0u64;
        let mut n = 0u64;
        for (i, e) in events(&spec).enumerate() {
            let on_time = spec.start + (i as i64) * spec.span_secs / spec.events as i64;
            assert!(e.ts >= spec.start && e.ts < spec.start + spec.span_secs);
            assert!(e.ts <= on_time && on_time - e.ts <= spec.late_max_secs);
            if e.ts < on_time {
                late += 1;
            }
            assert!(on_time >= last_on_time);
            last_on_time = on_time;
            assert_eq!(e.count, 1);
            n += 1;
        }
        assert_eq!(n, spec.events);
        // Late and moved back by at least a second: about 1%, a few late
        // events near the start are clamped to `start` and may not move.
        let frac = late as f64 / n as f64;
        assert!((0.008..0.012).contains(&frac), "late fraction {frac}");
    }

    #[test]
    fn surge_is_absent_in_the_first_half_and_near_max_at_the_end() {
        let spec = small(3);
        let w = events(&spec);
        let surge = w.surge_index();
        assert_eq!(w.tag_name(surge), "metoo");
        let half = spec.start + spec.span_secs / 2 - spec.late_max_secs;
        let tail = spec.start + spec.span_secs * 9 / 10;
        let (mut tail_n, mut tail_surge) = (0u64, 0u64);
        for e in w {
            if e.ts < half {
                assert_ne!(
                    e.tag_index, surge,
                    "surge event in the first half at {}",
                    e.ts
                );
            }
            if e.ts >= tail {
                tail_n += 1;
                tail_surge += u64::from(e.tag_index == surge);
            }
        }
        // The share ramps 16% -> 20% over the last tenth: 18% on average.
        let share = tail_surge as f64 / tail_n as f64;
        assert!((0.17..0.195).contains(&share), "surge share {share}");
    }

    #[test]
    fn zipf_head_is_much_heavier_than_the_tail() {
        let spec = small(5);
        let mut hits = vec![0u64; spec.tags as usize + 1];
        for e in events(&spec) {
            hits[e.tag_index as usize] += 1;
        }
        // Weights 1 : 101^-1.1, about 160 to 1.
        assert!(
            hits[0] > 50 * hits[100].max(1),
            "tag0 {} tag100 {}",
            hits[0],
            hits[100]
        );
        let ratio = hits[0] as f64 / hits[1] as f64;
        assert!(
            (1.9..2.5).contains(&ratio),
            "tag0/tag1 = {ratio}, want about 2^1.1"
        );
        assert!(hits.iter().all(|&h| h < spec.events));
    }

    #[test]
    fn expected_counts_sum_to_the_event_count() {
        let spec = WorkloadSpec {
            events: 20_000,
            tags: 500,
            ..WorkloadSpec::default()
        };
        let counts = expected_counts(&spec);
        assert_eq!(counts.values().sum::<u64>(), 20_000);
        assert!(counts.keys().any(|(t, _)| t == "metoo"));
        assert!(counts
            .keys()
            .all(|(t, _)| t == "metoo" || t.starts_with("tag")));
    }

    #[test]
    fn degenerate_specs_do_not_panic() {
        let none = WorkloadSpec {
            events: 0,
            ..small(1)
        };
        assert_eq!(events(&none).count(), 0);
        let one_tag = WorkloadSpec {
            tags: 1,
            surge_max_share: 0.0,
            late_fraction: 0.0,
            ..small(1)
        };
        assert!(events(&one_tag).all(|e| e.tag_index == 0));
        let zero_span = WorkloadSpec {
            span_secs: 0,
            late_fraction: 1.0,
            ..small(1)
        };
        assert!(events(&zero_span).all(|e| e.ts == zero_span.start));
    }
}
