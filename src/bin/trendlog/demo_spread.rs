//! The demo's labels: every post carries a platform and a region, and the
//! #metoo surge starts on one platform in one city (twitter, los-angeles, at
//! 12:00) and spreads: a second city at 13:00, then one more every 40
//! minutes, facebook from 14:00, instagram from 15:30. The report asks the store where it spread
//! ([`trendlog::Snapshot::spread`], `series_by`) and draws a city × hour map.

use std::fmt::Write as _;

use serde_json::{json, Value};
use trendlog::labels::{Filter, LabelKeys};
use trendlog::time::{Step, TimeRange};
use trendlog::{Snapshot, SpreadQuery};

use crate::out::{self, Align, Table};

/// Label keys of the demo store.
pub const KEYS: &str = "platform,region";
/// Platforms, in the order the surge reaches them.
pub const PLATFORMS: [&str; 3] = ["twitter", "facebook", "instagram"];
/// Regions, in the order the surge reaches them.
pub const REGIONS: [&str; 12] = [
    "los-angeles",
    "new-york",
    "chicago",
    "toronto",
    "london",
    "dublin",
    "paris",
    "stockholm",
    "mumbai",
    "sydney",
    "tokyo",
    "lagos",
];
/// Minute of the day the surge starts.
const START: i64 = 12 * 60;

/// The demo store's label keys.
pub fn label_keys() -> LabelKeys {
    LabelKeys::parse(KEYS).expect("valid keys")
}

/// Minute of the day the surge reaches region `r`: the first city alone for
/// an hour, then one more every 40 minutes.
fn region_joins(r: usize) -> i64 {
    match r {
        0 => START,
        _ => START + 60 + 40 * (r as i64 - 1),
    }
}

/// Minute of the day the surge reaches platform `p`.
fn platform_joins(p: usize) -> i64 {
    [START, 14 * 60, 15 * 60 + 30][p]
}

/// A ramp from 0 at `join` to 1 two hours later (0 before).
fn ramp(m: i64, join: i64) -> f64 {
    if m < join {
        0.0
    } else {
        let x = (m - join) as f64 / 40.0 - 1.5;
        1.0 / (1.0 + (-x).exp())
    }
}

/// Splits the surge's `posts` of minute `m` over (platform, region) by how
/// far the surge has reached each; the parts sum to `posts` exactly.
pub fn split_surge(m: i64, posts: u64) -> Vec<(u8, u8, u64)> {
    let mut w = Vec::new();
    for (p, _) in PLATFORMS.iter().enumerate() {
        // The first platform and city carry the start on their own.
        let wp = if p == 0 {
            1.0
        } else {
            ramp(m, platform_joins(p))
        };
        for (r, _) in REGIONS.iter().enumerate() {
            let wr = if r == 0 {
                1.0
            } else {
                ramp(m, region_joins(r))
            };
            if wp * wr > 1e-3 {
                w.push((p as u8, r as u8, wp * wr));
            }
        }
    }
    let sum: f64 = w.iter().map(|x| x.2).sum();
    let mut out: Vec<(u8, u8, u64)> = w
        .iter()
        .map(|&(p, r, x)| (p, r, (posts as f64 * x / sum).floor() as u64))
        .collect();
    let given: u64 = out.iter().map(|x| x.2).sum();
    if let Some(first) = out.first_mut() {
        first.2 += posts - given;
    }
    out.retain(|x| x.2 > 0);
    out
}

/// Labels of a background post: its tag's home platform and region most of
/// the time, anywhere now and then (decided by the post's sequence number).
pub fn background_labels(tag: u32, seq: u64) -> (u8, u8) {
    let h = u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let s = seq.wrapping_mul(0xD1B5_4A32_D192_ED03) >> 40;
    let (mut p, mut r) = ((h >> 20) % 3, (h >> 40) % REGIONS.len() as u64);
    if s.is_multiple_of(10) {
        p = (s >> 4) % 3;
    }
    if s.is_multiple_of(7) {
        r = (s >> 8) % REGIONS.len() as u64;
    }
    (p as u8, r as u8)
}

/// The labels of the demo's other bursts: #alcs on twitter in its two
/// cities, #weinstein everywhere (split by the part `k` of the minute).
pub fn extra_labels(extra: usize, k: u64) -> (u8, u8) {
    match extra {
        1 => (0, [1u8, 0][(k % 2) as usize]),
        _ => ((k % 3) as u8, (k % REGIONS.len() as u64) as u8),
    }
}

/// One row of the spread table: a region, when the surge reached it, its
/// posts and its hourly counts.
struct RegionRow {
    region: String,
    first: Option<i64>,
    posts: u64,
    hourly: Vec<u64>,
}

/// The "where it spread" part of the report: printed unless `quiet`, and
/// returned as JSON; also the SVG map of posts by city and hour.
pub fn report(
    snap: &Snapshot,
    tag: &str,
    day: i64,
    quiet: bool,
) -> trendlog::Result<(Value, String)> {
    let day_range = TimeRange::new(day, day + 86_400)?;
    let by_region = snap.series_by(tag, day_range, Step::Hour, &Filter::all(), "region")?;
    let mut rows: Vec<RegionRow> = by_region
        .into_iter()
        .map(|(region, s)| RegionRow {
            first: s.points.iter().find(|p| p.1 > 0).map(|p| p.0),
            posts: s.total,
            hourly: s.points.iter().map(|p| p.1).collect(),
            region,
        })
        .collect();
    rows.sort_by(|a, b| a.first.cmp(&b.first).then(b.posts.cmp(&a.posts)));
    let q = |by: &str| SpreadQuery {
        by: by.into(),
        at: Some(day + 86_400),
        window: std::time::Duration::from_secs(3600),
        baseline: std::time::Duration::from_secs(6 * 3600),
        span: std::time::Duration::from_secs(86_400),
        min_count: 100,
        threshold: 2.0,
        ..SpreadQuery::default()
    };
    let regions = snap.spread(tag, &q("region"))?;
    let platforms = snap.spread(tag, &q("platform"))?;
    if !quiet {
        println!(
            "Where #{tag} spread: {} cities, {} platforms (a city or platform is trending in an hour \
             when its posts grew ×2 over the 6 hours before, with at least 100)",
            rows.len(),
            platforms.rows.len()
        );
        let mut t = Table::new(&[
            ("hour", Align::Left),
            ("cities", Align::Right),
            ("trending", Align::Right),
            ("platforms", Align::Right),
            ("trending", Align::Right),
            ("", Align::Left),
        ]);
        for (r, p) in regions.timeline.iter().zip(&platforms.timeline) {
            if r.present == 0 && p.present == 0 {
                continue;
            }
            t.row(vec![
                hhmm(r.time),
                r.present.to_string(),
                r.trending.to_string(),
                p.present.to_string(),
                p.trending.to_string(),
                format!(
                    "{}{}",
                    "●".repeat(r.trending as usize),
                    "○".repeat((r.present - r.trending) as usize)
                ),
            ]);
        }
        for l in t.render().lines() {
            println!("  {l}");
        }
        let mut t = Table::new(&[
            ("city", Align::Left),
            ("first post", Align::Left),
            ("posts", Align::Right),
            ("00h … 23h", Align::Left),
        ]);
        for r in &rows {
            t.row(vec![
                r.region.clone(),
                r.first.map_or_else(|| "-".into(), hhmm),
                out::thousands(r.posts),
                out::sparkline(&r.hourly, 24),
            ]);
        }
        println!();
        for l in t.render().lines() {
            println!("  {l}");
        }
        println!();
    }
    let timeline: Vec<Value> = regions
        .timeline
        .iter()
        .zip(&platforms.timeline)
        .map(|(r, p)| {
            json!({"time": r.time, "cities": r.present, "cities_trending": r.trending,
                   "platforms": p.present, "platforms_trending": p.trending})
        })
        .collect();
    let cities: Vec<Value> = rows
        .iter()
        .map(|r| json!({"region": r.region, "first": r.first, "posts": r.posts}))
        .collect();
    let svg = map_svg(tag, &rows, &regions.timeline);
    Ok((json!({"timeline": timeline, "cities": cities}), svg))
}

fn hhmm(secs: i64) -> String {
    let t = secs.rem_euclid(86_400);
    format!("{:02}:{:02}", t / 3600, t / 60 % 60)
}

/// A city × hour map of the tag's posts (log-scaled colour), with the number
/// of cities it was trending in per hour along the top.
fn map_svg(tag: &str, rows: &[RegionRow], timeline: &[trendlog::SpreadPoint]) -> String {
    let (l, t, cw, ch) = (110.0, 110.0, 32.0, 24.0);
    let w = l + 24.0 * cw + 30.0;
    let h = t + rows.len() as f64 * ch + 60.0;
    let max = rows
        .iter()
        .flat_map(|r| r.hourly.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="{w}" height="{h}" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="{l}" y="26" font-size="18" font-weight="bold">Where #{tag} spread, 2017-10-15 (UTC, synthetic)</text>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="{l}" y="44" fill="#555">posts per city and hour (colour: log scale); dots: cities where it was trending that hour; data from `trendlog demo`</text>"##
    );
    for (i, p) in timeline.iter().enumerate().take(24) {
        let x = l + i as f64 * cw + cw / 2.0;
        for k in 0..p.trending {
            let _ = writeln!(
                s,
                r##"<circle cx="{x:.1}" cy="{:.1}" r="2.2" fill="#e0245e"/>"##,
                t - 12.0 - f64::from(k) * 5.0
            );
        }
    }
    for (j, r) in rows.iter().enumerate() {
        let y = t + j as f64 * ch;
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            l - 8.0,
            y + ch / 2.0 + 4.0,
            r.region
        );
        for (i, &c) in r.hourly.iter().enumerate().take(24) {
            let v = if c == 0 {
                0.0
            } else {
                (1.0 + c as f64).ln() / (1.0 + max).ln()
            };
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#e0245e" fill-opacity="{v:.3}" stroke="#f0f0f0"/>"##,
                l + i as f64 * cw,
                cw,
                ch
            );
        }
    }
    let base = t + rows.len() as f64 * ch;
    for hr in (0..=24).step_by(3) {
        let x = l + f64::from(hr) * cw;
        let _ = writeln!(
            s,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{hr:02}:00</text>"##,
            base + 18.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_surge_split_is_exact_and_starts_in_one_place() {
        assert_eq!(split_surge(START, 1000), vec![(0, 0, 1000)]);
        for m in [START, START + 100, START + 400, 23 * 60] {
            for posts in [0, 1, 7, 12_000] {
                let parts = split_surge(m, posts);
                assert_eq!(parts.iter().map(|p| p.2).sum::<u64>(), posts);
            }
        }
        let late = split_surge(23 * 60, 12_000);
        let cities: std::collections::BTreeSet<u8> = late.iter().map(|p| p.1).collect();
        let platforms: std::collections::BTreeSet<u8> = late.iter().map(|p| p.0).collect();
        assert_eq!((cities.len(), platforms.len()), (REGIONS.len(), 3));
    }
}
