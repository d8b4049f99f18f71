//! A labelled store written by the previous format version (3: a dictionary
//! whose entries each carry a CRC, a layout-1 `tags.idx`), committed under
//! `tests/fixtures/v3-labelled-store/` with the answers that build's binary
//! printed (`tests/fixtures/v3-labelled-store.answers`: one `== ARGS` line
//! per command, its stdout, then `exit CODE`). This build answers each
//! question exactly as it did, read-only; then a write keeps the old
//! dictionary's framing, the index is rewritten as layout 2, and the store
//! verifies clean and answers as before plus the new event.

mod cli_support;
use cli_support::*;

use std::path::Path;

use trendlog::format::dict::Framing;
use trendlog::format::dict_index::{DictIndexView, LAYOUT_DICT_OFFSETS, LAYOUT_DICT_PAGES};

fn fixture() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3-labelled-store");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

/// The recorded commands and, for each, what the version-3 binary printed.
fn recorded() -> Vec<(String, String)> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3-labelled-store.answers");
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

#[test]
fn a_version_3_store_answers_as_it_did_then_takes_writes() {
    let dir = fixture();
    let db = dir.path();
    assert_eq!(dict_framing(db), Framing::Entries);
    assert_eq!(index_layout(db), LAYOUT_DICT_OFFSETS);
    let o = run(db, &["verify"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    for (args, want) in recorded() {
        assert_eq!(answer(db, &args), want, "{args}");
    }
    // Read-only commands changed nothing.
    assert_eq!(index_layout(db), LAYOUT_DICT_OFFSETS);

    // One event of a new tag and a new series: appended as a version-3
    // entry; the clean close indexes it, as layout 2.
    let line = "1508198000,brandnew,5,twitter,chicago\n";
    let o = run_stdin(db, &INGEST_LABELLED, line);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(dict_framing(db), Framing::Entries);
    assert_eq!(index_layout(db), LAYOUT_DICT_PAGES);
    let o = run(db, &["verify"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    for (args, want) in recorded() {
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
