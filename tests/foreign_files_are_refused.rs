//! Every file of a store carries the store's random id, and a file that
//! carries another store's id is refused with `CorruptionKind::ForeignFile`
//! naming it: by `Store::open`, by a read-only open and by `verify`. Without
//! the id, a log or dictionary copied in from a store with the same history of
//! file ids would be read as this store's data.

use std::collections::BTreeMap;
use std::path::Path;

use trendlog::error::CorruptionKind;
use trendlog::format::dict::DICT_STORE_ID_AT;
use trendlog::format::dict_index::{DictIndexView, DICT_INDEX_STORE_ID_AT};
use trendlog::format::log::{log_header_store_id, LOG_STORE_ID_AT};
use trendlog::format::manifest::{decode_manifest, MANIFEST_STORE_ID_AT};
use trendlog::format::segment::{SegmentView, SEGMENT_STORE_ID_AT};
use trendlog::{verify, Error, Options, Store, SyncPolicy};

const T0: i64 = 1_508_025_600;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
}

/// A store with a sealed segment, a log with blocks and a dictionary, built
/// the same way every time (so file names match between two of them).
fn build(dir: &Path, scale: u64) -> BTreeMap<String, Vec<u8>> {
    let s = Store::open(dir, opts()).unwrap();
    s.record("metoo", T0, scale).unwrap();
    s.record("rust", T0 + 60, 2 * scale).unwrap();
    s.seal().unwrap();
    s.record("metoo", T0 + 120, 3 * scale).unwrap();
    s.sync().unwrap();
    s.close().unwrap();
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "LOCK")
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// The store id each file records, read at its documented offset.
fn ids(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, u32> {
    let at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    files
        .iter()
        .map(|(n, b)| {
            let id = match n.as_str() {
                "MANIFEST" => {
                    let m = decode_manifest(b).unwrap();
                    assert_eq!(m.store_id, at(b, MANIFEST_STORE_ID_AT));
                    m.store_id
                }
                "tags.dict" => at(b, DICT_STORE_ID_AT),
                "tags.idx" => {
                    let ix = DictIndexView::open(&b[..]).unwrap();
                    assert_eq!(ix.store_id(), at(b, DICT_INDEX_STORE_ID_AT));
                    ix.store_id()
                }
                n if n.ends_with(".log") => {
                    assert_eq!(log_header_store_id(b), at(b, LOG_STORE_ID_AT));
                    log_header_store_id(b)
                }
                _ => {
                    let id = SegmentView::open(&b[..]).unwrap().meta().store_id;
                    assert_eq!(id, at(b, SEGMENT_STORE_ID_AT));
                    id
                }
            };
            (n.clone(), id)
        })
        .collect()
}

fn foreign(r: Result<Store, Error>) -> (String, u32, u32) {
    match r {
        Err(Error::Corrupted(c)) => match c.kind {
            CorruptionKind::ForeignFile { expected, found } => (
                c.file.file_name().unwrap().to_string_lossy().into_owned(),
                expected,
                found,
            ),
            other => panic!(
                "expected ForeignFile, got {other:?} in {}",
                c.file.display()
            ),
        },
        Err(e) => panic!("expected a corruption error, got {e:?}"),
        Ok(_) => panic!("a store with a foreign file opened"),
    }
}

#[test]
fn every_file_carries_the_store_id_and_foreign_files_are_refused() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = build(da.path(), 1);
    let b = build(db.path(), 10);
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "both stores have the same file names"
    );
    assert!(a.len() >= 4, "{:?}", a.keys());
    let (ia, ib) = (ids(&a), ids(&b));
    let id_a = ia["MANIFEST"];
    let id_b = ib["MANIFEST"];
    assert!(ia.values().all(|&v| v == id_a), "{ia:x?}");
    assert!(ib.values().all(|&v| v == id_b), "{ib:x?}");
    assert_ne!(id_a, 0);
    assert_ne!(id_a, id_b, "two stores drew the same random id");

    for name in a.keys() {
        let dir = tempfile::tempdir().unwrap();
        for (n, bytes) in &a {
            let bytes = if n == name { &b[n] } else { bytes };
            std::fs::write(dir.path().join(n), bytes).unwrap();
        }
        let (file, expected, found) = foreign(Store::open(dir.path(), opts()));
        let (ro_file, ..) = foreign(Store::open_read_only(dir.path()));
        assert_eq!(file, ro_file);
        if name == "MANIFEST" {
            // The manifest is the reference: the first file checked against
            // it (the dictionary index) is the one reported.
            assert_eq!((file.as_str(), expected, found), ("tags.idx", id_b, id_a));
        } else {
            assert_eq!(
                (file.as_str(), expected, found),
                (name.as_str(), id_a, id_b)
            );
        }
        let report = verify::verify(dir.path(), &opts()).unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p.kind, CorruptionKind::ForeignFile { .. })),
            "verify missed the other store's {name}: {report:?}"
        );
        // Nothing was changed by the refused opens.
        for (n, bytes) in &a {
            let want = if n == name { &b[n] } else { bytes };
            assert_eq!(&std::fs::read(dir.path().join(n)).unwrap(), want, "{n}");
        }
    }
}
