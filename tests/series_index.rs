//! The series index (`tags.sidx`) of a labelled store: a clean close writes
//! it, a read-only open reads `tags.series` through it, and its answers are
//! those of a store read whole. Damage to it, or to the part of `tags.series`
//! it covers, never yields a wrong answer: every query answers exactly or
//! fails with `Error::Corrupted`, and `verify` reports the damage.

mod common;

use std::path::Path;

use trendlog::labels::{Filter, LabelKeys};
use trendlog::time::TimeRange;
use trendlog::{Error, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;
const TAGS: usize = 400;
const PLATFORMS: [&str; 3] = ["facebook", "instagram", "twitter"];

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .label_keys(LabelKeys::parse("platform,region").unwrap())
}

fn tag(i: usize) -> String {
    format!("tag{i:04}")
}

/// Adds `n` series from series number `from` on, in batches of 500, each
/// batch its own block of `tags.series`: eight series of a tag in a row,
/// then the next tag's, round after round over the tags.
fn add(s: &Store, from: usize, n: usize) {
    for chunk in (from..from + n).collect::<Vec<_>>().chunks(500) {
        let mut b = s.batch();
        for &i in chunk {
            let round = i / (8 * TAGS);
            let (t, p, r) = (
                (i / 8) % TAGS,
                PLATFORMS[i % 3],
                format!("r{round}-{}", i % 8),
            );
            b.add_labelled(
                &tag(t),
                &[("platform", p), ("region", &r)],
                T0 + (i as i64 % 60) * 60,
                i as u64 % 7 + 1,
            )
            .unwrap();
        }
        b.commit().unwrap();
    }
}

fn build(dir: &Path, n: usize) {
    let s = Store::open(dir, opts()).unwrap();
    add(&s, 0, n);
    s.close().unwrap();
}

/// Every tag's total, its total on one platform, its series by region, and
/// the top five; or the corruption error that stopped them.
fn answers(dir: &Path) -> Result<Vec<u64>, Error> {
    let s = Store::open_read_only_with(dir, opts())?;
    let all = TimeRange::new(T0, T0 + 3600).unwrap();
    let snap = s.snapshot();
    let ig = Filter::parse(&["platform=instagram"]).unwrap();
    let mut v = Vec::new();
    for t in (0..TAGS).map(tag) {
        v.push(snap.total(&t, all)?);
        v.push(snap.total_where(&t, all, &ig)?);
    }
    v.extend(snap.top(all, 5)?.into_iter().map(|r| r.count));
    Ok(v)
}

/// The answers of the store with its index removed (read whole).
fn answers_unindexed(dir: &Path) -> Vec<u64> {
    let copy = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "tags.sidx" {
            std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
        }
    }
    answers(copy.path()).unwrap()
}

/// How many series a read-only open reads through the index.
fn indexed(dir: &Path) -> Option<u32> {
    Store::open_read_only_with(dir, opts())
        .unwrap()
        .indexed_series()
}

fn index_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("tags.sidx")).unwrap().len()
}

#[test]
fn a_clean_close_writes_the_index_and_reads_through_it_agree() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 3000);
    let first = index_len(dir.path());
    assert_eq!(indexed(dir.path()), Some(3000));
    let want = answers_unindexed(dir.path());
    assert_eq!(answers(dir.path()).unwrap(), want);
    // A few more series (fewer than 256) leave the index as it is; a read
    // through it reads them after it.
    let s = Store::open(dir.path(), opts()).unwrap();
    add(&s, 3000, 100);
    s.close().unwrap();
    assert_eq!(index_len(dir.path()), first);
    assert_eq!(indexed(dir.path()), Some(3000));
    let want = answers_unindexed(dir.path());
    assert_eq!(answers(dir.path()).unwrap(), want);
    // Many more rewrite it.
    let s = Store::open(dir.path(), opts()).unwrap();
    add(&s, 3100, 1000);
    s.close().unwrap();
    assert!(index_len(dir.path()) > first);
    assert_eq!(indexed(dir.path()), Some(4100));
    let want = answers_unindexed(dir.path());
    assert_eq!(answers(dir.path()).unwrap(), want);
    assert!(trendlog::verify::verify(dir.path(), &opts())
        .unwrap()
        .is_clean());
    // A deleted index is written again by the next clean close.
    std::fs::remove_file(dir.path().join("tags.sidx")).unwrap();
    assert_eq!(answers(dir.path()).unwrap(), want);
    assert_eq!(indexed(dir.path()), Some(0));
    Store::open(dir.path(), opts()).unwrap().close().unwrap();
    assert!(dir.path().join("tags.sidx").exists());
}

fn check(dir: &Path, file: &str, at: usize, want: &[u64]) {
    common::flip_is_refused_or_exact(dir, (file, at), want, answers, &opts());
}

#[test]
fn damage_to_the_index_or_what_it_covers_is_refused_or_exact_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 3000);
    let want = answers(dir.path()).unwrap();
    let stride = if std::env::var_os("TRENDLOG_STRESS").is_some() {
        7
    } else {
        61
    };
    for file in ["tags.sidx", "tags.series"] {
        let len = std::fs::metadata(dir.path().join(file)).unwrap().len() as usize;
        for at in (0..len).step_by(stride) {
            check(dir.path(), file, at, &want);
        }
    }
}

/// A read-only open reads only the pages of `tags.series` its questions
/// touch: damage elsewhere in the file leaves one tag's answers exact, and
/// a question over every series meets it.
#[test]
fn a_read_only_open_checks_the_pages_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 8000);
    let all = TimeRange::new(T0, T0 + 3600).unwrap();
    let s = Store::open_read_only_with(dir.path(), opts()).unwrap();
    let want: Vec<u64> = (0..TAGS)
        .map(|t| s.snapshot().total(&tag(t), all).unwrap())
        .collect();
    drop(s);
    let path = dir.path().join("tags.series");
    let mut bytes = std::fs::read(&path).unwrap();
    // In the first page: an open checks only the last covered page and the
    // one holding the last block's length.
    assert!(bytes.len() > 3 * 4096);
    let at = 100;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let s = Store::open_read_only_with(dir.path(), opts()).unwrap();
    let snap = s.snapshot();
    let mut exact = 0;
    for (t, w) in want.iter().enumerate() {
        match snap.total(&tag(t), all) {
            Ok(got) => {
                assert_eq!(got, *w, "tag {t}");
                exact += 1;
            }
            Err(Error::Corrupted(c)) => assert!(c.file.ends_with("tags.series"), "{c}"),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(exact > 0, "no tag was answered");
    match snap.top(all, 5) {
        Err(Error::Corrupted(c)) => assert!(c.file.ends_with("tags.series"), "{c}"),
        other => panic!("a ranking over every series read past the damage: {other:?}"),
    }
    // A writable open reads the file whole, and refuses it.
    drop(s);
    assert!(matches!(
        Store::open(dir.path(), opts()),
        Err(Error::Corrupted(_))
    ));
}

/// An index copied from a later state of the same store (a backup mixing
/// files of two moments) covers series this store does not hold: it is not
/// used, `verify` says so, and the next clean close replaces it, however
/// few series were added.
#[test]
fn an_index_from_another_moment_is_not_used_and_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let later = tempfile::tempdir().unwrap();
    build(dir.path(), 3000);
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), later.path().join(e.file_name())).unwrap();
    }
    let s = Store::open(later.path(), opts()).unwrap();
    add(&s, 3000, 2000);
    s.close().unwrap();
    let want = answers_unindexed(dir.path());
    std::fs::copy(later.path().join("tags.sidx"), dir.path().join("tags.sidx")).unwrap();
    assert_eq!(indexed(dir.path()), Some(0));
    assert_eq!(answers(dir.path()).unwrap(), want);
    let report = trendlog::verify::verify(dir.path(), &opts()).unwrap();
    assert!(!report.is_clean());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file.ends_with("tags.sidx")),
        "{:?}",
        report.problems
    );
    // The store grows past the index's end with other series: still not
    // used, and a close that adds ten series writes the store's own.
    let s = Store::open(dir.path(), opts()).unwrap();
    add(&s, 9000, 2500);
    s.close().unwrap();
    let want = answers_unindexed(dir.path());
    assert_eq!(answers(dir.path()).unwrap(), want);
    assert_eq!(indexed(dir.path()), Some(5500));
    assert!(trendlog::verify::verify(dir.path(), &opts())
        .unwrap()
        .is_clean());
    // A damaged page of the index is written again by the next close.
    let path = dir.path().join("tags.sidx");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let s = Store::open(dir.path(), opts()).unwrap();
    add(&s, 20_000, 10);
    s.close().unwrap();
    assert_eq!(indexed(dir.path()), Some(5510));
    assert!(trendlog::verify::verify(dir.path(), &opts())
        .unwrap()
        .is_clean());
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// An index with its CRCs made to hold again after an edit: the body's page
/// CRCs, the table's CRC (header bytes 44..48) and the header's.
fn resign(mut d: Vec<u8>) -> Vec<u8> {
    let (n, blocks, tags, values) = (
        u32_at(&d, 12) as usize,
        u32_at(&d, 24) as usize,
        u32_at(&d, 32) as usize,
        u32_at(&d, 40) as usize,
    );
    let end = u64::from_le_bytes(d[16..24].try_into().unwrap()) as usize;
    let body = 32 * blocks + values + 4 * (tags + 1 + n) + 4 * end.div_ceil(4096);
    d.truncate(64 + body);
    let table: Vec<u8> = d[64..]
        .chunks(4096)
        .flat_map(|p| crc32fast::hash(p).to_le_bytes())
        .collect();
    let table_crc = crc32fast::hash(&table);
    d.extend_from_slice(&table);
    d[44..48].copy_from_slice(&table_crc.to_le_bytes());
    let header_crc = crc32fast::hash(&d[..60]);
    d[60..64].copy_from_slice(&header_crc.to_le_bytes());
    d
}

/// A crafted index whose CRCs hold but whose last block entry is a block
/// of no series whose records would start one byte before the index's end
/// (found by a review: the open read past the file, and a panic inside a
/// seal left a manifest claiming a clean close): an open reads the file
/// whole instead, and a writer replaces the index.
#[test]
fn a_crafted_block_table_is_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 3000);
    let want = answers_unindexed(dir.path());
    let path = dir.path().join("tags.sidx");
    let mut d = std::fs::read(&path).unwrap();
    let (n, blocks, end) = (
        u32_at(&d, 12),
        u32_at(&d, 24) as usize,
        u64::from_le_bytes(d[16..24].try_into().unwrap()),
    );
    let last = 64 + 32 * (blocks - 1);
    // The last block now ends a byte early, and a block of no series
    // follows it, its records starting at its offset plus one.
    let rel = u32_at(&d, last + 20);
    d[last + 20..last + 24].copy_from_slice(&(rel - 1).to_le_bytes());
    let values = u32_at(&d, 28);
    let mut entry = Vec::new();
    entry.extend_from_slice(&(end - 1).to_le_bytes());
    for f in [n, 0, values, 1, 0, u32_at(&d, last + 28)] {
        entry.extend_from_slice(&f.to_le_bytes());
    }
    let at = 64 + 32 * blocks;
    d.splice(at..at, entry);
    d[24..28].copy_from_slice(&(blocks as u32 + 1).to_le_bytes());
    std::fs::write(&path, resign(d)).unwrap();
    assert_eq!(indexed(dir.path()), Some(0));
    assert_eq!(answers(dir.path()).unwrap(), want);
    let s = Store::open(dir.path(), opts()).unwrap();
    s.seal().unwrap();
    s.close().unwrap();
    assert_eq!(indexed(dir.path()), Some(3000));
    assert_eq!(answers(dir.path()).unwrap(), want);
    assert!(trendlog::verify::verify(dir.path(), &opts())
        .unwrap()
        .is_clean());
}
