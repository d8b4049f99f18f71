//! `trendlog::salvage` on undamaged and damaged stores, real files on disk.
//!
//! Undamaged, it reads what the store answers. With one bit flipped anywhere
//! in any file (a sweep of positions in every file), it never panics, never
//! gives a count that the undamaged store does not hold (a bucket is either
//! read whole, read in part when one of its places was lost, or left out),
//! names something lost whenever its rows differ from the undamaged ones,
//! and refuses only when the manifest is what was damaged.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use trendlog::labels::{split_series_key, LabelKeys};
use trendlog::salvage::{salvage, Salvage};
use trendlog::time::{Step, TimeRange};
use trendlog::{Options, Store};

/// 2017-10-16T00:00:00Z.
const T0: i64 = 1_508_112_000;

fn options(labelled: bool) -> Options {
    let o = Options::default()
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(2 * 3600)))
        .segment_tag_totals(true)
        .seal_cells(3_000);
    if labelled {
        o.label_keys(LabelKeys::parse("platform,region").unwrap())
    } else {
        o
    }
}

/// Six hours of 200 tags: sealed minute segments, hours rolled up by a
/// compaction, and a last hour left in the active log; closed cleanly.
fn build(dir: &Path, labelled: bool) {
    let s = Store::open(dir, options(labelled)).unwrap();
    let mut x: u64 = 7;
    for minute in 0..360i64 {
        let mut b = s.batch();
        for _ in 0..12 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let tag = format!("t{}", (x >> 33) % 200);
            let count = 1 + (x >> 20) % 5;
            let ts = T0 + minute * 60 + (x % 60) as i64;
            if labelled {
                let p = ["x", "ig", ""][(x >> 40) as usize % 3];
                let r = ["chicago", "paris"][(x >> 45) as usize % 2];
                b.add_labelled(&tag, &[("platform", p), ("region", r)], ts, count)
                    .unwrap();
            } else {
                b.add(&tag, ts, count).unwrap();
            }
        }
        if minute >= 330 {
            // Late events for minutes already sealed: a bucket held in two
            // places, summed when read.
            let late = T0 + (minute - 90) * 60;
            if labelled {
                b.add_labelled("t1", &[("platform", "x"), ("region", "paris")], late, 2)
                    .unwrap();
            } else {
                b.add("t1", late, 2).unwrap();
            }
        }
        b.commit().unwrap();
        if minute == 300 {
            s.compact().unwrap();
        }
    }
    s.close().unwrap();
}

type Truth = HashMap<(String, i64, u64), u64>;

fn rows(s: &Salvage) -> Truth {
    s.rows
        .iter()
        .map(|r| {
            (
                (
                    s.name(r.id).unwrap().to_string(),
                    r.ts,
                    r.step.seconds() as u64,
                ),
                r.count,
            )
        })
        .collect()
}

/// Copies a store's files but its `LOCK` (a writer's, not the store's
/// data): of a closed store, or of an open one, as a crash leaves it.
fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The undamaged store: salvage's rows add up, per tag, to what `top` says
/// over everything, and hold both minutes and hourly buckets.
fn truth(dir: &Path) -> Truth {
    let s = salvage(dir, &Options::default()).unwrap();
    assert!(s.lost.is_empty(), "{:?}", s.lost);
    let steps: std::collections::HashSet<Step> = s.rows.iter().map(|r| r.step).collect();
    assert_eq!(steps.len(), 2, "minutes and hours both salvaged");
    let mut per_tag: HashMap<String, u64> = HashMap::new();
    for r in &s.rows {
        let (tag, _) = split_series_key(s.name(r.id).unwrap());
        *per_tag.entry(tag.to_string()).or_default() += r.count;
    }
    let store = Store::open_read_only(dir).unwrap();
    let all = TimeRange::new(T0 - 86_400, T0 + 86_400).unwrap();
    let top: HashMap<String, u64> = store
        .top(all, 1_000)
        .unwrap()
        .into_iter()
        .map(|r| (r.tag, r.count))
        .collect();
    assert_eq!(per_tag, top);
    rows(&s)
}

fn sweep(labelled: bool, per_file: u64) {
    let base = tempfile::tempdir().unwrap();
    build(base.path(), labelled);
    let truth = truth(base.path());
    let mut files: Vec<_> = std::fs::read_dir(base.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "LOCK")
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with(".hour")), "{files:?}");
    let (mut runs, mut lossy) = (0, 0);
    for name in &files {
        let len = std::fs::metadata(base.path().join(name)).unwrap().len();
        let stride = (len / per_file).max(1);
        for pos in (0..len).step_by(stride as usize) {
            let work = tempfile::tempdir().unwrap();
            copy(base.path(), work.path());
            let path = work.path().join(name);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[pos as usize] ^= 1 << (pos % 8);
            std::fs::write(&path, &bytes).unwrap();
            runs += 1;
            let s = match salvage(work.path(), &Options::default()) {
                Ok(s) => s,
                Err(trendlog::Error::Corrupted(c)) if name == "MANIFEST" => {
                    assert!(c.file.ends_with("MANIFEST"), "{c}");
                    continue;
                }
                Err(e) => panic!("{name} byte {pos}: {e}"),
            };
            let got = rows(&s);
            for (key, &count) in &got {
                let held = truth.get(key).copied();
                assert!(
                    held.is_some_and(|t| count <= t),
                    "{name} byte {pos}: {key:?} salvaged as {count}, the store holds {held:?}"
                );
            }
            if got != truth {
                lossy += 1;
                assert!(
                    !s.lost.is_empty(),
                    "{name} byte {pos}: rows lost, nothing named"
                );
            }
        }
    }
    // The sweep reached damage that costs data, not only bytes nobody reads.
    assert!(lossy > runs / 4, "{lossy} of {runs}");
}

#[test]
fn one_flipped_bit_anywhere_loses_only_what_it_hit() {
    sweep(false, 160);
}

#[test]
fn labelled_stores_are_salvaged_by_series() {
    sweep(true, 60);
}

/// A damaged group of a sealed segment costs that group only: every other
/// group, segment and log block is read, and the events lost are the ones
/// the manifest records for the segment less those read.
#[test]
fn a_damaged_group_costs_its_cells_only() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), false);
    let truth = truth(dir.path());
    let held: u64 = truth.values().sum();
    let seg = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "min"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[100] ^= 0x10;
    std::fs::write(&seg, &bytes).unwrap();
    let s = salvage(dir.path(), &Options::default()).unwrap();
    assert_eq!(s.lost.len(), 1, "{:?}", s.lost);
    let lost = s.lost[0].events.unwrap();
    assert!(lost > 0 && s.lost[0].file == seg, "{:?}", s.lost);
    assert_eq!(s.events() + lost, held);
}

fn active_log(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .unwrap()
}

fn not_above(got: &Truth, truth: &Truth, what: &str) {
    for (key, &count) in got {
        let held = truth.get(key).copied();
        assert!(
            held.is_some_and(|t| count <= t),
            "{what}: {key:?} salvaged as {count}, the store holds {held:?}"
        );
    }
}

/// The active log must be this store's, and this one's current log: another
/// store's log (same file id, other store id), an old copy of this store's
/// own log put back after a seal (other file id), and blocks past the end a
/// clean close recorded were read as this store's counts, with nothing
/// named (found by swapping files in a pass through the binary).
#[test]
fn a_foreign_or_stale_active_log_is_not_read() {
    let a = tempfile::tempdir().unwrap();
    build(a.path(), false);
    let truth = truth(a.path());

    // Another store's log, under this store's log's name.
    let b = tempfile::tempdir().unwrap();
    build(b.path(), false);
    let work = tempfile::tempdir().unwrap();
    copy(a.path(), work.path());
    std::fs::copy(active_log(b.path()), active_log(work.path())).unwrap();
    let s = salvage(work.path(), &Options::default()).unwrap();
    assert!(
        s.lost
            .iter()
            .any(|l| l.what.contains("its header names store")),
        "{:?}",
        s.lost
    );
    not_above(&rows(&s), &truth, "another store's log");

    // An old copy of this store's own log, put back after a seal.
    let work = tempfile::tempdir().unwrap();
    copy(a.path(), work.path());
    let old = std::fs::read(active_log(work.path())).unwrap();
    let st = Store::open(work.path(), options(false)).unwrap();
    st.seal().unwrap();
    st.close().unwrap();
    let sealed = rows(&salvage(work.path(), &Options::default()).unwrap());
    std::fs::write(active_log(work.path()), &old).unwrap();
    let s = salvage(work.path(), &Options::default()).unwrap();
    assert!(
        s.lost
            .iter()
            .any(|l| l.what.contains("its header names file")),
        "{:?}",
        s.lost
    );
    assert_eq!(rows(&s), sealed, "nothing of the old log counted again");

    // Blocks written after the clean close the manifest records.
    let work = tempfile::tempdir().unwrap();
    copy(a.path(), work.path());
    let manifest = std::fs::read(work.path().join("MANIFEST")).unwrap();
    let st = Store::open(work.path(), options(false)).unwrap();
    st.record("late", T0 + 359 * 60, 5).unwrap();
    st.close().unwrap();
    std::fs::write(work.path().join("MANIFEST"), &manifest).unwrap();
    let s = salvage(work.path(), &Options::default()).unwrap();
    assert!(
        s.lost.iter().any(|l| l
            .what
            .contains("past the end the last clean close recorded")),
        "{:?}",
        s.lost
    );
    assert_eq!(rows(&s), truth);
}

/// A flipped bit in a segment's header lost the whole segment although
/// every group's own CRC held (one bit, 3.2 million events of a NAB store).
/// The groups are found through the skip index, whose CRC the footer
/// holds, even when the flip is in the header's group count or index offset.
#[test]
fn a_damaged_segment_header_costs_nothing_its_groups_hold() {
    let base = tempfile::tempdir().unwrap();
    build(base.path(), false);
    let truth = truth(base.path());
    let segments: Vec<_> = std::fs::read_dir(base.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("seg-"))
        .collect();
    // Time, counts, group count, index offset, CRC: everything but the
    // magic and the store id.
    for name in &segments {
        for at in [9usize, 16, 20, 24, 33, 40, 48, 61] {
            let work = tempfile::tempdir().unwrap();
            copy(base.path(), work.path());
            let path = work.path().join(name);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[at] ^= 0x02;
            std::fs::write(&path, &bytes).unwrap();
            let s = salvage(work.path(), &Options::default()).unwrap();
            assert_eq!(rows(&s), truth, "{name} byte {at}: {:?}", s.lost);
            assert!(
                s.lost
                    .iter()
                    .any(|l| l.what.contains("its groups are read")),
                "{name} byte {at}: {:?}",
                s.lost
            );
        }
    }
}

/// A store left by a crash has no clean end to hold its log to: another
/// store's log with a damaged header was read as this store's (12,282
/// cells above its counts). A header whose CRC fails is still read for the
/// file and store ids it names.
#[test]
fn a_foreign_log_with_a_damaged_header_is_not_read_after_a_crash() {
    let crashed = |seed_dir: &Path| {
        build(seed_dir, false);
        let st = Store::open(seed_dir, options(false)).unwrap();
        st.record("after", T0 + 359 * 60, 3).unwrap();
        // What a crash leaves: the files as they are while it is open.
        let image = tempfile::tempdir().unwrap();
        copy(seed_dir, image.path());
        drop(st);
        image
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (crashed(a.path()), crashed(b.path()));
    let truth = rows(&salvage(a.path(), &Options::default()).unwrap());
    for at in [0usize, 5, 20, 30, 40, 61] {
        let work = tempfile::tempdir().unwrap();
        copy(a.path(), work.path());
        let mut log = std::fs::read(active_log(b.path())).unwrap();
        log[at] ^= 0x08;
        std::fs::write(active_log(work.path()), &log).unwrap();
        let s = salvage(work.path(), &Options::default()).unwrap();
        assert!(
            s.lost.iter().any(|l| l.what.contains("its header names")),
            "byte {at}: {:?}",
            s.lost
        );
        not_above(&rows(&s), &truth, &format!("byte {at}"));
    }
}

/// Damage inside `tags.series` is named where it lies: the series of the
/// blocks before it keep their names, and the cells of the rest are named
/// as lost at the damaged block (the file's start was named before, wherever
/// the damage was).
#[test]
fn damage_inside_the_series_file_is_named_at_its_block() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), true);
    let path = dir.path().join("tags.series");
    let mut bytes = std::fs::read(&path).unwrap();
    // After the 16-byte header, each block: its body's length (u32 LE), a
    // CRC, the body.
    let mut blocks = Vec::new();
    let mut at = 16;
    while at + 8 <= bytes.len() && bytes[at..].iter().any(|&b| b != 0) {
        blocks.push(at);
        at += 8 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    assert!(blocks.len() > 4, "{} blocks", blocks.len());
    let hit = blocks[blocks.len() / 2];
    bytes[hit + 9] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let s = salvage(dir.path(), &Options::default()).unwrap();
    let lost: Vec<_> = s.lost.iter().filter(|l| l.file == path).collect();
    assert_eq!(lost.len(), 1, "{:?}", s.lost);
    // The block's CRC, 4 bytes into it, is what fails.
    assert_eq!(lost[0].offset, hit as u64 + 4, "{:?}", lost[0]);
    assert!(
        lost[0].what.contains("whose series cannot be read"),
        "{:?}",
        lost[0]
    );
    assert!(!s.rows.is_empty(), "the series before the damage are read");
}
