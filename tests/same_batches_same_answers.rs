//! Determinism: sealing, roll-up and retention follow event time and the
//! contents of the log, never the wall clock. Two stores fed the same batches
//! with different sync policies and timings hold byte-identical segment files
//! after the same compact() calls; and a store compacting in the background at
//! arbitrary moments still answers every query exactly as one compacting only
//! on demand.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use trendlog::time::{Step, TimeRange};
use trendlog::{Options, Store, SyncPolicy, TrendQuery};
use trendlog_workload::{events, WorkloadSpec};

const T0: i64 = trendlog_workload::DEFAULT_START;
const SPAN: i64 = 12 * 3600;

fn spec() -> WorkloadSpec {
    WorkloadSpec {
        events: 120_000,
        tags: 500,
        span_secs: SPAN,
        late_fraction: 0.05,
        late_max_secs: 3 * 3600,
        seed: 7,
        ..WorkloadSpec::default()
    }
}

/// The batches: the workload cut into batches of uneven sizes, each carrying
/// its index as a source position.
fn batches() -> Vec<Vec<(String, i64, u64)>> {
    let w = events(&spec());
    let names = w.tag_names().to_vec();
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut size = 1;
    for e in w {
        cur.push((names[e.tag_index as usize].clone(), e.ts, e.count));
        if cur.len() >= size {
            out.push(std::mem::take(&mut cur));
            size = size * 7 % 997 + 1;
        }
    }
    out.push(cur);
    out
}

fn base() -> Options {
    Options::default()
        .minute_retention(Some(Duration::from_secs(3 * 3600)))
        .hour_retention(Some(Duration::from_secs(10 * 3600)))
        .seal_after(Duration::from_secs(40 * 60))
        .seal_cells(5_000)
        .log_file_bytes(64 << 10)
}

fn feed(
    store: &Store,
    batches: &[Vec<(String, i64, u64)>],
    pause_every: usize,
    compact_every: usize,
) {
    for (i, b) in batches.iter().enumerate() {
        let mut batch = store.batch();
        for (t, ts, c) in b {
            // Events older than the hour retention are rejected the same way in both.
            let _ = batch.add(t, *ts, *c);
        }
        batch.set_source_position(i.to_le_bytes().to_vec()).unwrap();
        batch.commit().unwrap();
        if pause_every > 0 && i % pause_every == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        if compact_every > 0 && i % compact_every == compact_every - 1 {
            store.compact().unwrap();
        }
    }
}

#[derive(Debug, PartialEq)]
struct Answers {
    hourly: BTreeMap<String, Vec<(i64, u64)>>,
    minutes: BTreeMap<String, Vec<(i64, u64)>>,
    top: Vec<(String, u64)>,
    trending: Vec<(String, u64, u64, u64)>,
    now: Option<trendlog::time::Minute>,
    earliest_minute: Option<trendlog::time::Minute>,
    rejected_too_old: u64,
    tags: Vec<String>,
    position: Option<Vec<u8>>,
}

fn answers(store: &Store) -> Answers {
    let snap = store.snapshot();
    let day = TimeRange::new(T0, T0 + 86_400).unwrap();
    let recent = TimeRange::new(T0 + SPAN - 2 * 3600, T0 + SPAN).unwrap();
    let tags = snap.tags();
    let mut hourly = BTreeMap::new();
    let mut minutes = BTreeMap::new();
    for t in tags.iter().take(60).chain(tags.iter().rev().take(5)) {
        hourly.insert(t.clone(), snap.series(t, day, Step::Hour).unwrap().points);
        minutes.insert(
            t.clone(),
            snap.series(t, recent, Step::Minute).unwrap().points,
        );
    }
    let st = snap.stats();
    Answers {
        hourly,
        minutes,
        top: snap
            .top(day, 25)
            .unwrap()
            .into_iter()
            .map(|r| (r.tag, r.count))
            .collect(),
        trending: snap
            .trending(&TrendQuery {
                k: 25,
                baseline: Duration::from_secs(5 * 3600),
                ..TrendQuery::default()
            })
            .unwrap()
            .into_iter()
            .map(|r| (r.tag, r.recent, r.baseline, r.growth.to_bits()))
            .collect(),
        now: st.now,
        earliest_minute: st.earliest_minute,
        rejected_too_old: st.rejected_too_old,
        tags,
        position: store.source_position(),
    }
}

/// Name and bytes of every sealed segment file.
/// A file's bytes with the store id (random per store) at `id_at` set to 0
/// and the CRC32 at `crc_at`, which covers everything before it, recomputed.
fn without_store_id(mut b: Vec<u8>, id_at: usize, crc_at: usize) -> Vec<u8> {
    b[id_at..id_at + 4].fill(0);
    let crc = trendlog::format::crc32(&b[..crc_at]);
    b[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Each segment file's bytes, but for the store id in its header.
fn segment_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    use trendlog::format::segment::{SEGMENT_HEADER_LEN, SEGMENT_STORE_ID_AT};
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "min" || e == "hour"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                without_store_id(bytes, SEGMENT_STORE_ID_AT, SEGMENT_HEADER_LEN - 4),
            )
        })
        .collect()
}

/// The manifest's bytes, but for the store id.
fn manifest(dir: &Path) -> Vec<u8> {
    let bytes = std::fs::read(dir.join("MANIFEST")).unwrap();
    let crc_at = bytes.len() - 4;
    without_store_id(
        bytes,
        trendlog::format::manifest::MANIFEST_STORE_ID_AT,
        crc_at,
    )
}

#[test]
fn same_batches_give_identical_segments() {
    let batches = batches();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A syncs on a wall-clock interval and pauses now and then; B only on demand.
    let a = Store::open(
        da.path(),
        base()
            .sync_policy(SyncPolicy::Interval(Duration::from_millis(3)))
            .background_compaction(false),
    )
    .unwrap();
    let b = Store::open(
        db.path(),
        base()
            .sync_policy(SyncPolicy::Manual)
            .background_compaction(false),
    )
    .unwrap();
    feed(&a, &batches, 10, 20);
    feed(&b, &batches, 0, 20);
    let (sa, sb) = (a.snapshot().segments(), b.snapshot().segments());
    assert!(
        sa.iter().filter(|s| s.resolution == "hour").count() >= 1,
        "{sa:?}"
    );
    assert!(
        sa.iter().filter(|s| s.resolution == "minute").count() >= 2,
        "{sa:?}"
    );
    assert_eq!(sa, sb, "segment lists (names, spans, cells, totals, bytes)");
    assert_eq!(answers(&a), answers(&b));
    a.compact().unwrap();
    b.compact().unwrap();
    assert_eq!(a.snapshot().segments(), b.snapshot().segments());
    a.close().unwrap();
    b.close().unwrap();
    let (fa, fb) = (segment_files(da.path()), segment_files(db.path()));
    assert!(!fa.is_empty());
    assert!(
        fa == fb,
        "segment files differ: {:?} vs {:?}",
        fa.keys(),
        fb.keys()
    );
    assert_eq!(manifest(da.path()), manifest(db.path()));
}

#[test]
fn background_compaction_gives_identical_answers() {
    let batches = batches();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Store::open(
        da.path(),
        base()
            .sync_policy(SyncPolicy::Interval(Duration::from_millis(5)))
            .background_compaction(true)
            .compaction_interval(Duration::from_millis(1)),
    )
    .unwrap();
    let b = Store::open(
        db.path(),
        base()
            .sync_policy(SyncPolicy::Manual)
            .background_compaction(false),
    )
    .unwrap();
    feed(&a, &batches, 5, 0);
    feed(&b, &batches, 0, 0);
    let want = answers(&b);
    assert_eq!(answers(&a), want, "background compaction vs none");
    a.compact().unwrap();
    b.compact().unwrap();
    assert_eq!(answers(&a), want, "after compact()");
    assert_eq!(answers(&b), want, "compaction changed answers");
    // Once both have compacted (expired hours dropped), their grand totals agree.
    // Before that, `stats().total_count` still counts hours past the retention
    // that were not yet dropped, so it depends on when compaction ran.
    assert_eq!(a.stats().total_count, b.stats().total_count);
    a.close().unwrap();
    b.close().unwrap();
    let a = Store::open(da.path(), base().background_compaction(false)).unwrap();
    assert_eq!(answers(&a), want, "after reopen");
}

/// `Options::segment_tag_totals` changes bytes, never answers: a store whose
/// sealed and compacted segments carry their tag totals answers every query
/// as one without them, before and after a reopen (the first trending and
/// top after it read the stored totals), and verifies clean.
#[test]
fn stored_tag_totals_give_identical_answers() {
    let batches = batches();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = || {
        base()
            .sync_policy(SyncPolicy::Manual)
            .background_compaction(false)
    };
    let plain = Store::open(da.path(), opts()).unwrap();
    let stored = Store::open(db.path(), opts().segment_tag_totals(true)).unwrap();
    feed(&plain, &batches, 0, 20);
    feed(&stored, &batches, 0, 20);
    assert_eq!(answers(&plain), answers(&stored));
    for s in [&plain, &stored] {
        s.seal().unwrap();
        s.compact().unwrap();
    }
    let (sp, ss) = (plain.snapshot().segments(), stored.snapshot().segments());
    assert_eq!(sp.len(), ss.len());
    for (p, s) in sp.iter().zip(&ss).filter(|(p, _)| p.sealed) {
        assert_eq!((p.cells, p.total), (s.cells, s.total), "{p:?} {s:?}");
        assert!(
            s.bytes > p.bytes,
            "the totals section costs bytes: {p:?} {s:?}"
        );
    }
    plain.close().unwrap();
    stored.close().unwrap();
    let plain = Store::open(da.path(), opts()).unwrap();
    let stored = Store::open(db.path(), opts()).unwrap();
    assert_eq!(answers(&plain), answers(&stored));
    let report = trendlog::verify::verify(db.path(), &Options::default()).unwrap();
    assert!(report.is_clean(), "{report:?}");
}
