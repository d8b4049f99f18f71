//! A flipped byte anywhere in a sealed segment is never read as data: it is an
//! `Error::Corrupted` naming that file, from the open or from the first query
//! that touches the damaged part, and `verify` reports it; never a panic, never
//! a silently wrong answer.

use std::path::Path;

use trendlog::time::TimeRange;
use trendlog::{Error, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
}

fn tag(i: usize) -> String {
    format!("tag{i}")
}

const TAGS: usize = 150;

fn all() -> TimeRange {
    TimeRange::new(T0, T0 + 86_400).unwrap()
}

/// Where an error came from.
#[derive(Debug)]
enum Stage {
    Open,
    Query,
}

/// Opens the store and asks it everything about the data; the first error.
fn read_everything(dir: &Path) -> Result<Vec<u64>, (Stage, Error)> {
    let store = Store::open(dir, opts()).map_err(|e| (Stage::Open, e))?;
    let snap = store.snapshot();
    let q = |e| (Stage::Query, e);
    let mut out = Vec::new();
    for i in 0..TAGS {
        out.push(snap.total(&tag(i), all()).map_err(q)?);
    }
    for row in snap.top(all(), TAGS).map_err(q)? {
        out.push(row.count);
    }
    Ok(out)
}

#[test]
fn sealed_bitflip_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    let mut b = store.batch();
    for i in 0..TAGS {
        for m in 0..(i % 9 + 1) as i64 {
            b.add(
                &tag(i),
                T0 + m * 97 % 3600,
                (i as u64 * 31 + m as u64) % 1000 + 1,
            )
            .unwrap();
        }
    }
    b.commit().unwrap();
    store.seal().unwrap();
    store.close().unwrap();

    let good = read_everything(dir.path()).unwrap();
    let seg = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "min"))
        .expect("a sealed minute segment");
    let seg_name = seg.file_name().unwrap().to_owned();
    let original = std::fs::read(&seg).unwrap();
    assert!(original.len() > 1000, "{}", original.len());

    let names_seg = |file: &Path| file.file_name() == Some(&seg_name);
    let mut at_open = 0;
    let mut at_query = 0;
    // Every 4th byte of the header, every 23rd of the groups, every 3rd of
    // the skip index and footer: each structure is hit many times, and the
    // test stays quick.
    let len = original.len();
    let positions: Vec<usize> = (0..64)
        .step_by(4)
        .chain((64..len - 64).step_by(23))
        .chain((len - 64..len).step_by(3))
        .collect();
    for pos in positions {
        // Alternate the low and the high bit.
        let flip = if pos % 2 == 0 { 0x01u8 } else { 0x80 };
        let mut bad = original.clone();
        bad[pos] ^= flip;
        std::fs::write(&seg, &bad).unwrap();
        match read_everything(dir.path()) {
            Err((stage, Error::Corrupted(c))) => {
                assert!(names_seg(&c.file), "byte {pos}: {c:?}");
                match stage {
                    Stage::Open => at_open += 1,
                    Stage::Query => at_query += 1,
                }
            }
            Err(e) => panic!("byte {pos} ^ {flip:#x}: not a corruption error: {e:?}"),
            Ok(v) => panic!(
                "byte {pos} ^ {flip:#x}: the damage went unnoticed (answers {})",
                if v == good { "unchanged" } else { "CHANGED" }
            ),
        }
        let report = trendlog::verify::verify(dir.path(), &opts()).unwrap();
        assert!(
            report.problems.iter().any(|c| names_seg(&c.file)),
            "byte {pos} ^ {flip:#x}: verify missed it: {report:?}"
        );
    }
    std::fs::write(&seg, &original).unwrap();
    assert_eq!(read_everything(dir.path()).unwrap(), good);
    println!("{at_open} flips caught at open, {at_query} at query");
    assert!(at_open > 0 && at_query > 0);
}

/// A compaction pass that meets a damaged segment fails with `Error::Corrupted` and changes
/// nothing, and the store goes on taking writes: only compaction stops. Before, the pass
/// poisoned the store, so one flipped bit in an old segment stopped every later write (and,
/// with background compaction, about a second after every reopen).
#[test]
fn compaction_meeting_damage_leaves_writes_going() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || opts().minute_retention(Some(std::time::Duration::from_secs(3600)));
    let store = Store::open(dir.path(), opts()).unwrap();
    for h in 0..3 {
        let mut b = store.batch();
        for i in 0..TAGS {
            b.add(&tag(i), T0 + h * 3600, 1).unwrap();
        }
        b.commit().unwrap();
        store.seal().unwrap();
    }
    store.close().unwrap();
    // Flip a byte in the middle of the first (oldest) minute segment.
    let mut segs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "min"))
        .collect();
    segs.sort();
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&segs[0], bytes).unwrap();

    let store = Store::open(dir.path(), opts()).unwrap();
    store.record("a", T0 + 5 * 3600, 1).unwrap();
    store.seal().unwrap();
    assert!(!store.compaction_stopped_by_damage());
    assert!(matches!(store.compact(), Err(Error::Corrupted(_))));
    assert!(store.compaction_stopped_by_damage());
    // Not poisoned: writes go on, and are read back.
    store.record("b", T0 + 5 * 3600 + 60, 2).unwrap();
    assert_eq!(store.total("b", all()).unwrap(), 2);
    assert!(matches!(store.compact(), Err(Error::Corrupted(_))));
    store.close().unwrap();
    let store = Store::open(dir.path(), opts()).unwrap();
    assert_eq!(store.total("b", all()).unwrap(), 2);
}
