//! A store closed cleanly (by `trendlog ingest` and `compact` exiting normally, or by `Store::close`) has every
//! byte accounted for: after a flipped bit, a zeroed byte or a cut anywhere in any of its files,
//! every read command of the binary answers exactly as before, or refuses (exit 1 with an error),
//! or `verify` exits 1 naming the damage. Never a silent wrong answer, never a clean `verify` over
//! a wrong answer, never a panic or a hang (issue 11, finding 1).
//!
//! Failing positions are reported grouped by store, file kind and damage, with examples, so a
//! regression says where to look. `TRENDLOG_STRESS` multiplies the number of damaged states.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{stress, Rng};

/// Events in the one batch each store is written with.
const EVENTS: u64 = 20_000;
/// 2017-10-15T00:00:00Z.
const T0: i64 = 1_508_025_600;
/// A command that runs longer than this on a damaged store has hung.
const HANG: Duration = Duration::from_secs(30);

/// The read commands whose answers must be exact (stdout compared byte for byte with the
/// undamaged store's), strongest first: a position stops at its first wrong answer.
const READS: [&[&str]; 5] = [
    &["export"],
    &["--json", "top", "-k", "1000"],
    &["--json", "query", "tag0", "--step", "1h"],
    &["--json", "trending", "-k", "10", "--min-count", "1"],
    &["--json", "query", "tag7", "--step", "1m"],
];

/// Days of event time: more than the 7-day minute retention, so `compact` writes an hour
/// segment beside the minute segment and the sweep covers both.
const DAYS: u64 = 9;

/// The input: `EVENTS` lines of `timestamp,tag,count` over `DAYS` days and 300 tags.
fn input_csv() -> String {
    let mut rng = Rng(11);
    let mut s = String::from("timestamp,tag,count\n");
    for _ in 0..EVENTS {
        let ts = T0 + rng.below(DAYS * 86_400) as i64;
        // A skewed choice of tag, so top and trending have something to rank.
        let spread = 1 + rng.below(300);
        let tag = rng.below(spread);
        let count = 1 + rng.below(4);
        s.push_str(&format!("{ts},tag{tag},{count}\n"));
    }
    s
}

/// `(hour start, tag) -> count` of a `timestamp,tag,count` CSV with a header: the input, or
/// an export (1h rows for the rolled-up days, 1m rows after).
fn per_hour(csv: &str) -> BTreeMap<(i64, String), u64> {
    let mut m = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let ts: i64 = f[0].parse().unwrap();
        *m.entry((ts - ts.rem_euclid(3600), f[1].to_string()))
            .or_default() += f[2].parse::<u64>().unwrap();
    }
    m
}

/// How a command ended.
struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    hung: bool,
}

/// Runs the binary on `db` with stdout and stderr in files under `scratch` (no pipe to fill),
/// killing it after `HANG`.
fn run(db: &Path, scratch: &Path, args: &[&str]) -> Ran {
    let out = scratch.join("stdout");
    let err = scratch.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trendlog"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut hung = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            hung = true;
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    Ran {
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        hung,
    }
}

/// One way to damage a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Damage {
    /// XOR one bit of the byte.
    Flip(u8),
    /// Set the byte to 0 (to 0xFF where it already is 0).
    Zero,
    /// Truncate the file to this many bytes.
    Cut,
}

impl Damage {
    fn name(self) -> &'static str {
        match self {
            Damage::Flip(_) => "flip",
            Damage::Zero => "zero",
            Damage::Cut => "cut",
        }
    }
}

fn file_kind(name: &str) -> &'static str {
    if name == "MANIFEST" {
        "manifest"
    } else if name.ends_with(".dict") {
        "dictionary"
    } else if name.ends_with(".series") {
        "series file"
    } else if name.ends_with(".log") {
        "log"
    } else if name.ends_with(".min") {
        "minute segment"
    } else if name.ends_with(".hour") {
        "hour segment"
    } else {
        "other"
    }
}

/// One damaged state to try.
#[derive(Clone, Debug)]
struct Case {
    file: String,
    offset: u64,
    damage: Damage,
}

/// A file of the undamaged store.
struct Original {
    name: String,
    bytes: Vec<u8>,
    /// One past the last non-zero byte: the rest is preallocated zeros.
    used: u64,
}

fn originals(db: &Path) -> Vec<Original> {
    let mut v = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(db)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let bytes = std::fs::read(db.join(&name)).unwrap();
        if bytes.is_empty() {
            continue; // the LOCK file
        }
        let used = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1) as u64;
        v.push(Original { name, bytes, used });
    }
    v
}

/// The damaged states of one store: `budget` spread over its files (every byte of small files,
/// a sample of the written part of large ones, a few in preallocated space).
fn cases(files: &[Original], budget: u64, rng: &mut Rng) -> Vec<Case> {
    let mut out = Vec::new();
    let total_used: u64 = files.iter().map(|f| f.used.max(1)).sum();
    for f in files {
        let len = f.bytes.len() as u64;
        // Small files get every byte with every damage; others a share of the budget that
        // grows with their written size, at least 300.
        let share = (budget * f.used.max(1) / total_used).max(300);
        let mut offsets: BTreeSet<(u64, u8)> = BTreeSet::new();
        if f.used * 3 <= share {
            for o in 0..f.used {
                for k in 0..3 {
                    offsets.insert((o, k));
                }
            }
        } else {
            // The first 64 bytes (headers) in full, then a sample.
            for o in 0..64.min(f.used) {
                offsets.insert((o, (o % 3) as u8));
            }
            while (offsets.len() as u64) < share {
                offsets.insert((rng.below(f.used), rng.below(3) as u8));
            }
        }
        // Preallocated space past the written part.
        if len > f.used {
            for _ in 0..16 {
                offsets.insert((f.used + rng.below(len - f.used), 0));
            }
        }
        for (offset, k) in offsets {
            let byte = f.bytes.get(offset as usize).copied().unwrap_or(0);
            let damage = match k {
                0 => Damage::Flip(rng.below(8) as u8),
                1 if byte != 0 || offset < f.used => Damage::Zero,
                1 => Damage::Flip(rng.below(8) as u8),
                _ => Damage::Cut,
            };
            out.push(Case {
                file: f.name.clone(),
                offset,
                damage,
            });
        }
    }
    out
}

fn apply(db: &Path, f: &Original, c: &Case) {
    let file = OpenOptions::new()
        .write(true)
        .open(db.join(&f.name))
        .unwrap();
    let byte = f.bytes[c.offset as usize];
    match c.damage {
        Damage::Flip(bit) => file.write_all_at(&[byte ^ (1 << bit)], c.offset).unwrap(),
        Damage::Zero => {
            let b = if byte == 0 { 0xFF } else { 0 };
            file.write_all_at(&[b], c.offset).unwrap();
        }
        Damage::Cut => file.set_len(c.offset).unwrap(),
    }
}

fn restore(db: &Path, f: &Original, c: &Case) {
    let file = OpenOptions::new()
        .write(true)
        .open(db.join(&f.name))
        .unwrap();
    match c.damage {
        Damage::Cut => {
            file.set_len(f.bytes.len() as u64).unwrap();
            if c.offset < f.used {
                file.write_all_at(&f.bytes[c.offset as usize..f.used as usize], c.offset)
                    .unwrap();
            }
        }
        _ => file
            .write_all_at(&f.bytes[c.offset as usize..=c.offset as usize], c.offset)
            .unwrap(),
    }
}

/// What one damaged state led to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// `verify` exited 1.
    Flagged,
    /// `verify` exited 0 and every read answered exactly (or refused with exit 1).
    ExactOrRefused,
    /// A failure of the rule, described.
    Fail(String),
}

fn check(db: &Path, scratch: &Path, want: &[Vec<u8>]) -> Outcome {
    let v = run(db, scratch, &["verify"]);
    if v.hung {
        return Outcome::Fail("verify hung".into());
    }
    match v.code {
        Some(1) => return Outcome::Flagged,
        Some(0) => {}
        other => {
            return Outcome::Fail(format!(
                "verify exited {other:?}: {}",
                v.stderr.lines().last().unwrap_or("")
            ))
        }
    }
    for (args, want) in READS.iter().zip(want) {
        let r = run(db, scratch, args);
        let cmd = args.iter().find(|a| !a.starts_with('-')).unwrap_or(&"?");
        if r.hung {
            return Outcome::Fail(format!("verify clean, `{cmd}` hung"));
        }
        match r.code {
            Some(0) if r.stdout == *want => {}
            Some(0) => {
                return Outcome::Fail(format!(
                    "verify clean, `{cmd}` exit 0 with a wrong answer ({} bytes, want {})",
                    r.stdout.len(),
                    want.len()
                ))
            }
            Some(1) if !r.stderr.trim().is_empty() => {}
            other => {
                return Outcome::Fail(format!(
                    "verify clean, `{cmd}` exited {other:?}: {}",
                    r.stderr.lines().last().unwrap_or("")
                ))
            }
        }
    }
    Outcome::ExactOrRefused
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn listing(db: &Path) -> BTreeSet<String> {
    std::fs::read_dir(db)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Sweeps `cases` over copies of `db`, one per thread; returns each case's outcome.
fn sweep(db: &Path, files: &[Original], cases: &[Case], want: &[Vec<u8>]) -> Vec<Outcome> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    let root = db.parent().unwrap().join(format!(
        "sweep-{}",
        db.file_name().unwrap().to_string_lossy()
    ));
    let chunks: Vec<&[Case]> = cases.chunks(cases.len().div_ceil(threads).max(1)).collect();
    let results: Vec<Vec<Outcome>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let work = root.join(format!("w{i}"));
                s.spawn(move || {
                    let copy = work.join("db");
                    copy_dir(db, &copy);
                    let names = listing(&copy);
                    let mut out = Vec::with_capacity(chunk.len());
                    for c in *chunk {
                        let f = files.iter().find(|f| f.name == c.file).unwrap();
                        apply(&copy, f, c);
                        let mut o = check(&copy, &work, want);
                        restore(&copy, f, c);
                        if listing(&copy) != names {
                            o = Outcome::Fail(
                                "a read-only command changed the store's files".into(),
                            );
                            std::fs::remove_dir_all(&copy).unwrap();
                            copy_dir(db, &copy);
                        }
                        out.push(o);
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    results.into_iter().flatten().collect()
}

/// Sweeps one store; returns the report lines of its failures (empty when it passes).
fn sweep_store(label: &str, db: &Path, budget: u64, seed: u64) -> (u64, Vec<String>) {
    let scratch = db.parent().unwrap().join(format!("scratch-{label}"));
    std::fs::create_dir_all(&scratch).unwrap();
    let v = run(db, &scratch, &["verify"]);
    assert_eq!(
        v.code,
        Some(0),
        "{label}: the undamaged store: {}",
        v.stderr
    );
    let want: Vec<Vec<u8>> = READS
        .iter()
        .map(|args| {
            let r = run(db, &scratch, args);
            assert_eq!(r.code, Some(0), "{label} {args:?}: {}", r.stderr);
            r.stdout
        })
        .collect();
    let files = originals(db);
    let cases = cases(&files, budget, &mut Rng(seed));
    let started = Instant::now();
    let outcomes = sweep(db, &files, &cases, &want);

    // (file kind, damage) -> [tried, flagged, exact or refused, failed]; examples of failures.
    let mut table: BTreeMap<(&str, &str), [u64; 4]> = BTreeMap::new();
    let mut examples: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for (c, o) in cases.iter().zip(&outcomes) {
        let key = (file_kind(&c.file), c.damage.name());
        let row = table.entry(key).or_default();
        row[0] += 1;
        match o {
            Outcome::Flagged => row[1] += 1,
            Outcome::ExactOrRefused => row[2] += 1,
            Outcome::Fail(why) => {
                row[3] += 1;
                let ex = examples.entry(key).or_default();
                if ex.len() < 5 {
                    ex.push(format!(
                        "{} byte {} {:?}: {why}",
                        c.file, c.offset, c.damage
                    ));
                }
            }
        }
    }
    eprintln!(
        "{label}: {} damaged states in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    eprintln!("  file kind       damage   tried  flagged  exact/refused  FAILED");
    let mut failures = Vec::new();
    for ((kind, damage), r) in &table {
        eprintln!(
            "  {kind:<15} {damage:<6} {:>7} {:>8} {:>14} {:>7}",
            r[0], r[1], r[2], r[3]
        );
        if r[3] > 0 {
            failures.push(format!(
                "{label}: {kind} {damage}: {} of {} positions failed, e.g.\n      {}",
                r[3],
                r[0],
                examples[&(*kind, *damage)].join("\n      ")
            ));
        }
    }
    (cases.len() as u64, failures)
}

#[test]
fn every_damaged_byte_of_a_cleanly_closed_store_is_exact_refused_or_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let csv = input_csv();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, &csv).unwrap();

    // Store A: written by the binary, one batch, the process exiting normally; then compacted by
    // the binary, so it holds a minute segment, an hour segment and an empty log.
    let a = dir.path().join("by-binary");
    let r = run(
        &a,
        dir.path(),
        &[
            "ingest",
            "--batch-size",
            "100000",
            "--max-future-skew",
            "30d",
            input.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, Some(0), "ingest: {}", r.stderr);
    let r = run(&a, dir.path(), &["compact"]);
    assert_eq!(r.code, Some(0), "compact: {}", r.stderr);
    let exported = run(&a, dir.path(), &["export"]);
    assert_eq!(exported.code, Some(0), "{}", exported.stderr);
    assert_eq!(
        per_hour(&String::from_utf8(exported.stdout).unwrap()),
        per_hour(&csv),
        "the undamaged store must hold exactly the input"
    );
    assert!(
        std::fs::read_dir(&a).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".hour")),
        "compact wrote no hour segment"
    );

    // Store B: written through the library and closed without sealing, so the batch sits in
    // the active log: the case of finding 1.
    let b = dir.path().join("by-library");
    {
        let store = trendlog::Store::open(
            &b,
            trendlog::Options::default().max_future_skew(Duration::from_secs(30 * 86_400)),
        )
        .unwrap();
        let mut batch = store.batch();
        for line in csv.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            batch
                .add(f[1], f[0].parse().unwrap(), f[2].parse().unwrap())
                .unwrap();
        }
        batch.commit().unwrap();
        store.close().unwrap();
    }

    // Store C: labelled (issue 14), written by the binary with label columns and compacted,
    // so tags.series (each series' tag and label values) and the manifest's label keys are
    // swept too (export writes every series with its labels, so it sees any change to them).
    let c = dir.path().join("labelled");
    let mut rng = Rng(5);
    let labelled: String = csv
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},platform,region\n")
            } else {
                let p = ["twitter", "instagram", ""][rng.below(3) as usize];
                format!("{l},{p},city{}\n", rng.below(12))
            }
        })
        .collect();
    let labelled_in = dir.path().join("labelled.csv");
    std::fs::write(&labelled_in, &labelled).unwrap();
    let r = run(
        &c,
        dir.path(),
        &[
            "ingest",
            "--labels",
            "platform,region",
            "--columns",
            "timestamp,tag,count,platform,region",
            "--max-future-skew",
            "30d",
            labelled_in.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, Some(0), "labelled ingest: {}", r.stderr);
    let r = run(&c, dir.path(), &["compact"]);
    assert_eq!(r.code, Some(0), "compact: {}", r.stderr);

    let budget = 2_600 * stress();
    let (na, mut failures) = sweep_store("binary-written store", &a, budget, 1);
    let (nb, fb) = sweep_store("library-written store (data in the log)", &b, budget, 2);
    failures.extend(fb);
    let (nc, fc) = sweep_store("labelled binary-written store", &c, budget / 2, 3);
    failures.extend(fc);
    assert!(
        na + nb + nc >= 6_000,
        "only {} damaged states",
        na + nb + nc
    );
    assert!(
        failures.is_empty(),
        "damage that was neither refused nor flagged by verify:\n  {}",
        failures.join("\n  ")
    );
}
