//! Helpers shared by the reliability suites: the seeded PRNG, the tags and time
//! span of the workloads, the expected-state model, and the scale knob.
#![allow(dead_code)]

use std::collections::BTreeMap;

use trendlog::time::{Step, TimeRange};
use trendlog::{Error, Store};

/// Tags the workloads use (raw; the store normalises them).
pub const TAGS: [&str; 6] = ["metoo", "#TimesUp", "ÉTÉ", "x", "rust", "storm"];
/// 2017-10-15T00:00:00Z, a day boundary.
pub const T0: i64 = 1_508_025_600;
/// Hours of event time the workloads cover.
pub const HOURS: u32 = 12;

/// `TRENDLOG_STRESS` (default 1): multiply the counts of every suite by it.
pub fn stress() -> u64 {
    std::env::var("TRENDLOG_STRESS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// The shared seeded PRNG (SplitMix64), so every failure replays from its seed.
#[allow(unused_imports)]
pub use trendlog_testkit::SplitMix64 as Rng;

/// Expected counts, keyed by (normalised tag, hour since the epoch): the
/// resolution that survives roll-up exactly.
pub type HourMap = BTreeMap<(String, u32), u64>;

pub fn norm(tag: &str) -> String {
    trendlog::tag::normalize(tag).unwrap().into_owned()
}

/// Adds one event to an expected state.
pub fn add(m: &mut HourMap, tag: &str, ts: i64, count: u64) {
    let hour = (ts.div_euclid(3600)) as u32;
    *m.entry((norm(tag), hour)).or_default() += count;
}

/// The whole range the workloads write into (hour-aligned), plus slack.
pub fn full_range() -> TimeRange {
    TimeRange::new(T0 - 24 * 3600, T0 + i64::from(HOURS + 24) * 3600).unwrap()
}

/// What the store holds, per (tag, hour), read through hourly series queries.
pub fn read_hours(store: &Store) -> Result<HourMap, Error> {
    let snap = store.snapshot();
    let mut out = HourMap::new();
    for tag in TAGS {
        let s = snap.series(tag, full_range(), Step::Hour)?;
        let mut sum = 0u64;
        for (start, c) in s.points {
            if c > 0 {
                out.insert((norm(tag), (start / 3600) as u32), c);
            }
            sum += c;
        }
        assert_eq!(sum, s.total, "series total disagrees with its points");
        let total = snap.total(tag, full_range())?;
        assert_eq!(total, sum, "total() disagrees with series() for {tag}");
    }
    Ok(out)
}

/// Per-tag totals of a state.
pub fn tag_totals(m: &HourMap) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for ((t, _), c) in m {
        *out.entry(t.clone()).or_default() += c;
    }
    out
}

/// Aborts the whole test process if the returned guard is not dropped within
/// `secs` seconds: a hang is a failure, not a stuck CI job.
pub struct Watchdog(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Watchdog {
    pub fn new(name: &'static str, secs: u64) -> Watchdog {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while start.elapsed().as_secs() < secs {
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            eprintln!("WATCHDOG: {name} did not finish within {secs} s; aborting");
            std::process::abort();
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// [`read_hours`] over an explicit range.
pub fn read_hours_in(store: &Store, range: TimeRange) -> Result<HourMap, Error> {
    let snap = store.snapshot();
    let mut out = HourMap::new();
    for tag in TAGS {
        let s = snap.series(tag, range, Step::Hour)?;
        for (start, c) in s.points {
            if c > 0 {
                out.insert((norm(tag), (start / 3600) as u32), c);
            }
        }
        assert_eq!(
            snap.total(tag, range)?,
            s.total,
            "total() disagrees with series()"
        );
    }
    Ok(out)
}

/// Runs the `#[test]` named `name` of this test binary as a child process
/// with the given environment, its stdout piped.
pub fn spawn_self(name: &str, env: &[(&str, String)]) -> std::process::Child {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawning the child test process")
}

/// Flips bit 5 of byte `at` of `file` in the store at `dir`, asks
/// `answers` (a read-only open and its questions), and restores the byte:
/// the answers must equal `want` or stop at `Error::Corrupted`, never be
/// wrong, and `verify` must report the damage.
pub fn flip_is_refused_or_exact(
    dir: &std::path::Path,
    (file, at): (&str, usize),
    want: &[u64],
    answers: impl Fn(&std::path::Path) -> Result<Vec<u64>, Error>,
    opts: &trendlog::Options,
) {
    let path = dir.join(file);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[at] ^= 0x20;
    std::fs::write(&path, &bad).unwrap();
    match answers(dir) {
        Ok(got) => assert_eq!(got, want, "{file} byte {at}: a wrong answer"),
        Err(Error::Corrupted(_)) => {}
        Err(e) => panic!("{file} byte {at}: {e}"),
    }
    let report = trendlog::verify::verify(dir, opts).unwrap();
    assert!(
        !report.is_clean(),
        "{file} byte {at}: verify called it clean"
    );
    std::fs::write(&path, &good).unwrap();
}
