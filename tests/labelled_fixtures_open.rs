//! Labelled stores written by earlier format versions, committed under
//! `tests/fixtures/` with the answers that build's binary printed
//! (`NAME.answers`: one `== ARGS` line per command, its stdout, then `exit
//! CODE`):
//! - `v3-labelled-store`: version 3, a dictionary whose entries each carry a
//!   CRC, a layout-1 `tags.idx`;
//! - `v4-labelled-store`: version 4, series keys as entries of a block-framed
//!   `tags.dict` (the format before `tags.series`).
//!
//! This build answers each question exactly as they did, read-only; then a
//! write keeps the store's layout (the old dictionary framing, series keys in
//! `tags.dict`, no `tags.series`, a version-4 manifest), the index is
//! (re)written as layout 2, and the store verifies clean and answers as before
//! plus the new event.

mod cli_support;
use cli_support::*;

use std::path::Path;

use trendlog::format::dict::Framing;
use trendlog::format::dict_index::{DictIndexView, LAYOUT_DICT_OFFSETS, LAYOUT_DICT_PAGES};

fn fixture(name: &str) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

/// The recorded commands and, for each, what the fixture's binary printed.
fn recorded(name: &str) -> Vec<(String, String)> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.answers"));
    let text = std::fs::read_to_string(p).unwrap();
    let mut out = Vec::new();
    for part in text.split("== ").skip(1) {
        let (args, rest) = part.split_once('\n').unwrap();
        out.push((args.to_string(), rest.to_string()));
    }
    assert_eq!(out.len(), 8);
    out
}

/// What this build prints for `args`, in the recorded form.
fn answer(db: &Path, args: &str) -> String {
    let argv: Vec<&str> = args.split(' ').collect();
    let o = run(db, &argv);
    format!("{}exit {}\n", stdout(&o), code(&o))
}

fn index_layout(db: &Path) -> u32 {
    let b = std::fs::read(db.join("tags.idx")).unwrap();
    DictIndexView::open(&b[..]).unwrap().layout()
}

fn dict_framing(db: &Path) -> Framing {
    Framing::of_file(&std::fs::read(db.join("tags.dict")).unwrap())
}

fn manifest_version(db: &Path) -> u16 {
    let b = std::fs::read(db.join("MANIFEST")).unwrap();
    u16::from_le_bytes([b[4], b[5]])
}

/// Answers the fixture's questions as its build did; takes one labelled
/// event; then verifies clean and answers as before plus that event.
fn answers_then_takes_a_write(name: &str, after_write: impl Fn(&Path)) {
    let dir = fixture(name);
    let db = dir.path();
    let o = run(db, &["verify"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    for (args, want) in recorded(name) {
        assert_eq!(answer(db, &args), want, "{args}");
    }
    // `inspect` shows the version the manifest carries, and no durable
    // series count: the store has no series file.
    let ins = json(&run(db, &["--json", "inspect"]));
    assert_eq!(ins["manifest_version"], manifest_version(db), "{ins}");
    assert!(ins["durable_series"].is_null(), "{ins}");
    let human = stdout(&run(db, &["inspect"]));
    let version = format!("\nmanifest        version {}\n", manifest_version(db));
    assert!(human.contains(&version), "{human}");
    assert!(!human.contains("durable series"), "{human}");
    // One event of a new tag and a new series.
    let line = "1508198000,brandnew,5,twitter,chicago\n";
    let o = run_stdin(db, &INGEST_LABELLED, line);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    after_write(db);
    assert!(!db.join("tags.series").exists());
    assert_eq!(manifest_version(db), 4);
    let o = run(db, &["verify"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    for (args, want) in recorded(name) {
        let got = answer(db, &args);
        if args == "export" {
            let mut lines: Vec<&str> = want.lines().collect();
            let at = lines.len() - 1; // before "exit 0"
            lines.insert(at, "1508197980,brandnew,5,twitter,chicago");
            let mut sorted_got: Vec<&str> = got.lines().collect();
            sorted_got.sort();
            lines.sort();
            assert_eq!(sorted_got, lines, "{args}");
        } else if !args.contains("trending") && !args.contains("spread") {
            // `trending` and `spread` answer at the store's now, which the
            // new event leaves unchanged only if it is not newer.
            assert_eq!(got, want, "{args}");
        }
    }
}

#[test]
fn a_version_3_store_answers_as_it_did_then_takes_writes() {
    let dir = fixture("v3-labelled-store");
    let db = dir.path();
    assert_eq!(dict_framing(db), Framing::Entries);
    assert_eq!(index_layout(db), LAYOUT_DICT_OFFSETS);
    drop(dir);
    // The new entry is a version-3 one; the clean close indexes it, as
    // layout 2.
    answers_then_takes_a_write("v3-labelled-store", |db| {
        assert_eq!(dict_framing(db), Framing::Entries);
        assert_eq!(index_layout(db), LAYOUT_DICT_PAGES);
    });
}

#[test]
fn a_version_4_store_keeps_its_series_keys_in_the_dictionary() {
    let dir = fixture("v4-labelled-store");
    assert_eq!(dict_framing(dir.path()), Framing::Blocks);
    assert_eq!(manifest_version(dir.path()), 4);
    drop(dir);
    answers_then_takes_a_write("v4-labelled-store", |db| {
        assert_eq!(dict_framing(db), Framing::Blocks);
        assert_eq!(index_layout(db), LAYOUT_DICT_PAGES);
        // The new series is a key of tags.dict, as the store's others are.
        let d = std::fs::read(db.join("tags.dict")).unwrap();
        let scan = trendlog::format::dict::scan_dict(&d);
        assert!(scan.entries.contains(&"brandnew\u{1f}twitter\u{1f}chicago"));
    });
}
