//! The engine's dependency arrows point one way: each top-level module of the
//! library may name (`crate::x`) only modules on a lower layer, as
//! `docs/architecture.md` draws them. A new module must be given a layer here,
//! and an upward import fails this test, so the rule is kept, not remembered.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Layers from the bottom up. Modules on one layer may not name each other.
const LAYERS: &[&[&str]] = &[
    &["civil"],
    &["error"],
    &["time", "tag"],
    &["labels"],
    &["format"],
    &["storage"],
    &["options", "dict", "memtable"],
    &["view", "series"],
    &["query", "compaction"],
    &["recovery"],
    &["store"],
    &["verify", "salvage"],
    &["lib"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            // The binary is a client of the library, not a layer of it; a
            // folder with its own Cargo.toml is another package.
            if p.file_name().is_some_and(|n| n == "bin") || p.join("Cargo.toml").exists() {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a source file belongs to (`lib` for src/lib.rs).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::name` a file mentions, outside comments.
fn crate_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().next_back();
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` and `some_crate::` are not this crate.
            if !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '$')
                && !name.is_empty()
            {
                out.push(name);
            }
            rest = after;
        }
        // `use crate::{a, b}` groups.
        if let Some(i) = code.find("crate::{") {
            let group = &code[i + "crate::{".len()..];
            for part in group.split([',', '}']) {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
    }
    out
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = BTreeMap::new();
    let mut unplaced = Vec::new();
    for f in &files {
        let module = module_of(&src, f);
        let Some(from) = layer_of(&module) else {
            unplaced.push(module);
            continue;
        };
        let text = fs::read_to_string(f).unwrap();
        for to_mod in crate_refs(&text) {
            if to_mod == module {
                continue;
            }
            let Some(to) = layer_of(&to_mod) else {
                // A name re-exported at the crate root (`crate::Error`):
                // types, not modules; lib.rs re-exports from lower layers.
                if to_mod
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase())
                {
                    continue;
                }
                unplaced.push(to_mod);
                continue;
            };
            if to >= from {
                violations
                    .entry(format!(
                        "{} ({module})",
                        f.strip_prefix(&src).unwrap().display()
                    ))
                    .or_insert_with(Vec::new)
                    .push(to_mod);
            }
        }
    }
    unplaced.sort();
    unplaced.dedup();
    assert!(
        unplaced.is_empty(),
        "modules without a layer in tests/layering.rs: {unplaced:?}"
    );
    assert!(
        violations.is_empty(),
        "imports that do not point down the layers (file -> modules it names): {violations:#?}"
    );
}

#[test]
fn the_checker_sees_upward_imports() {
    let refs = crate_refs("use crate::store::{Inner, View};\nuse crate::{format, query::X};\n// crate::verify\nuse $crate::x; my_crate::y");
    assert_eq!(refs, vec!["store", "format", "query"]);
}
