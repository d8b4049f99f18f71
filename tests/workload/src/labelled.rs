//! The labelled workload: the events of [`crate::events`], unchanged, each
//! given a platform and a region.
//!
//! [`labelled_events`] wraps the unlabelled generator and draws the labels
//! from a second [`SplitMix64`] of its own, so the tags, times and counts are
//! exactly those of the unlabelled workload with the same [`WorkloadSpec`]
//! (its figures do not move) and only the labels are new:
//!
//! - **Background tags have a home.** Tag `k` has a home platform and a home
//!   region, fixed by a hash of `k` and the seed. Each event stays on the home
//!   platform with probability `home_platform_share` and in the home region
//!   with probability `home_region_share` (independently); otherwise it spills
//!   to a platform or region drawn uniformly from all of them (the home
//!   included).
//! - **The surge spreads.** The surge tag starts on platform
//!   `origin_platform` in region `origin_region`. Over the ramp (from
//!   `surge_start_frac` of the span to its end) it reaches region `j` (in
//!   index order after the origin, wrapping around) once a fraction
//!   `j / (regions - 1) * region_spread_frac` of the ramp has passed, and
//!   platform `j` once `j / (platforms - 1) * platform_spread_frac` has. Each
//!   surge event lands in the origin region with probability
//!   `origin_region_share`, else uniformly in a reached region; on the origin
//!   platform with probability `origin_platform_share`, else uniformly on a
//!   reached platform. Its place in the ramp is taken from its (possibly
//!   late) timestamp.
//!
//! [`labelled_counts`] gives the truth: the exact count per (tag, platform,
//! region, minute).
//!
//! ```
//! use trendlog_workload::{events, labelled_events, LabelSpec, WorkloadSpec};
//! let spec = WorkloadSpec { events: 1_000, tags: 50, ..WorkloadSpec::default() };
//! let labels = LabelSpec::default();
//! let plain: Vec<_> = events(&spec).collect();
//! let w = labelled_events(&spec, &labels);
//! assert_eq!(w.platform_names().len(), 3);
//! assert_eq!(w.region_names().len(), 50);
//! for (e, p) in w.zip(plain) {
//!     assert_eq!(e.event, p); // the same event, with labels added
//!     assert!(e.platform < 3 && e.region < 50);
//! }
//! ```

use std::collections::HashMap;

use crate::{events, Event, SplitMix64, Workload, WorkloadSpec};

/// Platform names, by index; more platforms than these are `platform{i}`.
const PLATFORMS: [&str; 3] = ["twitter", "facebook", "instagram"];

/// Region names (US cities, normalised: lower case, no spaces), by index;
/// more regions than these are `region{i}`.
const REGIONS: [&str; 50] = [
    "losangeles",
    "newyork",
    "chicago",
    "houston",
    "phoenix",
    "philadelphia",
    "sanantonio",
    "sandiego",
    "dallas",
    "austin",
    "jacksonville",
    "fortworth",
    "columbus",
    "charlotte",
    "indianapolis",
    "sanfrancisco",
    "seattle",
    "denver",
    "washington",
    "nashville",
    "oklahomacity",
    "elpaso",
    "boston",
    "portland",
    "lasvegas",
    "detroit",
    "memphis",
    "louisville",
    "baltimore",
    "milwaukee",
    "albuquerque",
    "tucson",
    "fresno",
    "sacramento",
    "kansascity",
    "mesa",
    "atlanta",
    "omaha",
    "coloradosprings",
    "raleigh",
    "longbeach",
    "virginiabeach",
    "miami",
    "oakland",
    "minneapolis",
    "tulsa",
    "bakersfield",
    "wichita",
    "arlington",
    "tampa",
];

/// How labels are drawn. [`Default`] is the labelled benchmark workload of
/// issue 14: 3 platforms, 50 regions.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSpec {
    /// Number of platforms (at least 1, at most 65,535). Default 3.
    pub platforms: u16,
    /// Number of regions (at least 1, at most 65,535). Default 50.
    pub regions: u16,
    /// Chance a background event stays on its tag's home platform. Default 0.9.
    pub home_platform_share: f64,
    /// Chance a background event stays in its tag's home region. Default 0.8.
    pub home_region_share: f64,
    /// Platform where the surge starts. Default 0 (`twitter`).
    pub origin_platform: u16,
    /// Region where the surge starts. Default 0 (`losangeles`).
    pub origin_region: u16,
    /// Chance a surge event lands on the origin platform. Default 0.4.
    pub origin_platform_share: f64,
    /// Chance a surge event lands in the origin region. Default 0.2.
    pub origin_region_share: f64,
    /// Fraction of the surge's ramp after which every platform is reached.
    /// Default 0.5.
    pub platform_spread_frac: f64,
    /// Fraction of the surge's ramp after which every region is reached.
    /// Default 0.9.
    pub region_spread_frac: f64,
}

impl Default for LabelSpec {
    fn default() -> LabelSpec {
        LabelSpec {
            platforms: 3,
            regions: 50,
            home_platform_share: 0.9,
            home_region_share: 0.8,
            origin_platform: 0,
            origin_region: 0,
            origin_platform_share: 0.4,
            origin_region_share: 0.2,
            platform_spread_frac: 0.5,
            region_spread_frac: 0.9,
        }
    }
}

/// One event of the labelled workload: the unlabelled [`Event`] and its
/// labels, as indexes into [`LabelledWorkload::platform_names`] and
/// [`LabelledWorkload::region_names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LabelledEvent {
    /// The event, exactly as [`crate::events`] gives it.
    pub event: Event,
    /// Index of its platform.
    pub platform: u16,
    /// Index of its region.
    pub region: u16,
}

/// The labelled generator, an iterator of [`LabelledEvent`]s. Make one with
/// [`labelled_events`].
#[derive(Debug, Clone)]
pub struct LabelledWorkload {
    inner: Workload,
    labels: LabelSpec,
    rng: SplitMix64,
    platform_names: Vec<String>,
    region_names: Vec<String>,
    home_salt: u64,
    home_platform: u64,
    home_region: u64,
    origin_platform: u64,
    origin_region: u64,
    /// Unix second where the surge's ramp starts, and its length.
    ramp_start: f64,
    ramp_secs: f64,
}

/// Seed offset of the label generator (ASCII "labels"), so its draws are
/// independent of the event generator's.
const LABEL_SEED: u64 = 0x6C61_6265_6C73;

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Builds the labelled generator for `spec` and `labels`.
///
/// # Panics
/// As [`crate::events`], and if `labels.platforms` or `labels.regions` is 0,
/// or an origin is out of range.
pub fn labelled_events(spec: &WorkloadSpec, labels: &LabelSpec) -> LabelledWorkload {
    assert!(
        labels.platforms >= 1 && labels.regions >= 1,
        "a labelled workload needs at least one platform and one region"
    );
    assert!(
        labels.origin_platform < labels.platforms && labels.origin_region < labels.regions,
        "the surge's origin must be one of the platforms and regions"
    );
    let name = |fixed: &[&str], prefix: &str, i: u16| {
        fixed
            .get(usize::from(i))
            .map_or_else(|| format!("{prefix}{i}"), |s| (*s).to_owned())
    };
    let start_frac = spec.surge_start_frac.clamp(0.0, 1.0);
    LabelledWorkload {
        inner: events(spec),
        rng: SplitMix64(spec.seed ^ LABEL_SEED),
        platform_names: (0..labels.platforms)
            .map(|i| name(&PLATFORMS, "platform", i))
            .collect(),
        region_names: (0..labels.regions)
            .map(|i| name(&REGIONS, "region", i))
            .collect(),
        home_salt: mix(spec.seed ^ LABEL_SEED.rotate_left(17)),
        home_platform: crate::threshold(labels.home_platform_share),
        home_region: crate::threshold(labels.home_region_share),
        origin_platform: crate::threshold(labels.origin_platform_share),
        origin_region: crate::threshold(labels.origin_region_share),
        ramp_start: spec.start as f64 + start_frac * spec.span_secs as f64,
        ramp_secs: (1.0 - start_frac) * spec.span_secs as f64,
        labels: labels.clone(),
    }
}

impl LabelledWorkload {
    /// Names of all tags by index, as [`Workload::tag_names`].
    pub fn tag_names(&self) -> &[String] {
        self.inner.tag_names()
    }

    /// The index of the surge tag.
    pub fn surge_index(&self) -> u32 {
        self.inner.surge_index()
    }

    /// Platform names by index (`twitter`, `facebook`, `instagram`, then
    /// `platform{i}`).
    pub fn platform_names(&self) -> &[String] {
        &self.platform_names
    }

    /// Region names by index (50 US cities, then `region{i}`).
    pub fn region_names(&self) -> &[String] {
        &self.region_names
    }

    /// The label spec this generator was built from.
    pub fn labels(&self) -> &LabelSpec {
        &self.labels
    }

    /// The home `(platform, region)` of background tag `tag`.
    pub fn home(&self, tag: u32) -> (u16, u16) {
        let h = mix(u64::from(tag) ^ self.home_salt);
        (
            crate::scale(h, u64::from(self.labels.platforms)) as u16,
            crate::scale(mix(h), u64::from(self.labels.regions)) as u16,
        )
    }

    /// How many platforms and regions the surge has reached at unix second `ts`.
    pub fn surge_reach(&self, ts: i64) -> (u16, u16) {
        let f = if self.ramp_secs > 0.0 {
            ((ts as f64 - self.ramp_start) / self.ramp_secs).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let reached = |n: u16, frac: f64| -> u16 {
            if n <= 1 || frac <= 0.0 {
                return n;
            }
            let k = 1.0 + (f / frac * f64::from(n - 1)).floor();
            (k.min(f64::from(n))) as u16
        };
        (
            reached(self.labels.platforms, self.labels.platform_spread_frac),
            reached(self.labels.regions, self.labels.region_spread_frac),
        )
    }

    /// One label of a surge event: the origin with probability `origin`
    /// (a threshold), else uniform over the `reached` values counted from
    /// the origin.
    fn surge_label(&mut self, origin_index: u16, n: u16, reached: u16, origin: u64) -> u16 {
        let x = self.rng.next_u64();
        if x < origin {
            return origin_index;
        }
        let j = crate::scale(self.rng.next_u64(), u64::from(reached)) as u32;
        ((u32::from(origin_index) + j) % u32::from(n)) as u16
    }
}

impl Iterator for LabelledWorkload {
    type Item = LabelledEvent;

    #[inline]
    fn next(&mut self) -> Option<LabelledEvent> {
        let event = self.inner.next()?;
        let (platform, region) = if event.tag_index == self.inner.surge_index() {
            let (np, nr) = self.surge_reach(event.ts);
            let p = self.surge_label(
                self.labels.origin_platform,
                self.labels.platforms,
                np,
                self.origin_platform,
            );
            let r = self.surge_label(
                self.labels.origin_region,
                self.labels.regions,
                nr,
                self.origin_region,
            );
            (p, r)
        } else {
            let (hp, hr) = self.home(event.tag_index);
            let x = self.rng.next_u64();
            let p = if x < self.home_platform {
                hp
            } else {
                crate::scale(self.rng.next_u64(), u64::from(self.labels.platforms)) as u16
            };
            let y = self.rng.next_u64();
            let r = if y < self.home_region {
                hr
            } else {
                crate::scale(self.rng.next_u64(), u64::from(self.labels.regions)) as u16
            };
            (p, r)
        };
        Some(LabelledEvent {
            event,
            platform,
            region,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for LabelledWorkload {}

/// A cell of the labelled truth: `(tag index, platform, region, minute)`.
pub type LabelledCell = (u32, u16, u16, u32);

/// The exact count per (tag, platform, region, minute) of the labelled
/// workload, by index (names from the generator's `*_names`).
pub fn labelled_counts(spec: &WorkloadSpec, labels: &LabelSpec) -> HashMap<LabelledCell, u64> {
    let mut out: HashMap<LabelledCell, u64> = HashMap::new();
    for e in labelled_events(spec, labels) {
        *out.entry((e.event.tag_index, e.platform, e.region, e.event.minute()))
            .or_insert(0) += e.event.count;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> WorkloadSpec {
        WorkloadSpec {
            events: 200_000,
            tags: 10_000,
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn events_are_the_unlabelled_ones_and_labels_are_seeded() {
        let spec = small();
        let a: Vec<LabelledEvent> = labelled_events(&spec, &LabelSpec::default()).collect();
        let b: Vec<LabelledEvent> = labelled_events(&spec, &LabelSpec::default()).collect();
        assert_eq!(a, b);
        let plain: Vec<Event> = events(&spec).collect();
        assert_eq!(a.iter().map(|e| e.event).collect::<Vec<_>>(), plain);
        let other = WorkloadSpec {
            seed: 43,
            ..small()
        };
        let c: Vec<(u16, u16)> = labelled_events(&other, &LabelSpec::default())
            .take(1000)
            .map(|e| (e.platform, e.region))
            .collect();
        let a_labels: Vec<(u16, u16)> = a
            .iter()
            .take(1000)
            .map(|e| (e.platform, e.region))
            .collect();
        assert_ne!(a_labels, c);
    }

    #[test]
    fn background_tags_mostly_stay_home() {
        let spec = small();
        let w = labelled_events(&spec, &LabelSpec::default());
        let surge = w.surge_index();
        let probe = w.clone();
        let (mut n, mut home_p, mut home_r, mut both) = (0u64, 0u64, 0u64, 0u64);
        let mut homes = std::collections::HashSet::new();
        for e in w {
            if e.event.tag_index == surge {
                continue;
            }
            let (hp, hr) = probe.home(e.event.tag_index);
            homes.insert((hp, hr));
            n += 1;
            home_p += u64::from(e.platform == hp);
            home_r += u64::from(e.region == hr);
            both += u64::from(e.platform == hp && e.region == hr);
        }
        // Stay + spill back home: 0.9 + 0.1/3 and 0.8 + 0.2/50.
        let share = |k: u64| k as f64 / n as f64;
        assert!((0.92..0.945).contains(&share(home_p)), "{}", share(home_p));
        assert!((0.79..0.82).contains(&share(home_r)), "{}", share(home_r));
        assert!((0.73..0.77).contains(&share(both)), "{}", share(both));
        // Homes cover every platform and region.
        assert_eq!(homes.len(), 150);
    }

    #[test]
    fn the_surge_starts_at_its_origin_and_reaches_every_region() {
        // Enough events that a few surge events fall before the second
        // region is reached (1.8% into the ramp, where its share is 0.4%).
        let spec = WorkloadSpec {
            events: 2_000_000,
            ..small()
        };
        let labels = LabelSpec::default();
        let w = labelled_events(&spec, &labels);
        let surge = w.surge_index();
        let ramp_start = spec.start + spec.span_secs / 2;
        let first_step = ramp_start + spec.span_secs / 2 * 18 / 1000;
        assert_eq!(w.surge_reach(first_step - 1), (1, 1));
        let mut regions_late = std::collections::HashSet::new();
        let mut platforms_late = std::collections::HashSet::new();
        let mut early = 0;
        for e in w {
            if e.event.tag_index != surge {
                continue;
            }
            if e.event.ts < first_step {
                early += 1;
                assert_eq!((e.platform, e.region), (0, 0), "at {}", e.event.ts);
            }
            if e.event.ts >= spec.start + spec.span_secs - 3600 {
                regions_late.insert(e.region);
                platforms_late.insert(e.platform);
            }
        }
        assert!(early > 0);
        assert_eq!(regions_late.len(), 50);
        assert_eq!(platforms_late.len(), 3);
    }

    #[test]
    fn reach_grows_from_one_to_all() {
        let spec = small();
        let w = labelled_events(&spec, &LabelSpec::default());
        let mid = spec.start + spec.span_secs / 2;
        assert_eq!(w.surge_reach(spec.start), (1, 1));
        assert_eq!(w.surge_reach(mid), (1, 1));
        let quarter = mid + spec.span_secs / 8;
        let (p, r) = w.surge_reach(quarter);
        assert_eq!(p, 2);
        assert!((13..=15).contains(&r), "{r}");
        assert_eq!(w.surge_reach(spec.start + spec.span_secs), (3, 50));
    }

    #[test]
    fn counts_sum_to_the_events_and_names_are_valid_labels() {
        let spec = WorkloadSpec {
            events: 20_000,
            tags: 500,
            ..WorkloadSpec::default()
        };
        let counts = labelled_counts(&spec, &LabelSpec::default());
        assert_eq!(counts.values().sum::<u64>(), 20_000);
        let w = labelled_events(&spec, &LabelSpec::default());
        for n in w.platform_names().iter().chain(w.region_names()) {
            assert!(n.bytes().all(|b| b.is_ascii_lowercase()), "{n}");
        }
        let many = LabelSpec {
            regions: 60,
            ..LabelSpec::default()
        };
        assert_eq!(labelled_events(&spec, &many).region_names()[55], "region55");
    }
}
