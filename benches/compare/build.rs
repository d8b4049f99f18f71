//! Records the versions of the peers from the workspace lock file, so the
//! output says exactly what was measured.

use std::path::Path;

fn locked_version(lock: &str, name: &str) -> String {
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|at| {
            let rest = &lock[at + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() {
    let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = std::fs::read_to_string(&lock_path).unwrap_or_default();
    for (name, var) in [
        ("rusqlite", "LOCKED_RUSQLITE"),
        ("redb", "LOCKED_REDB"),
        ("fjall", "LOCKED_FJALL"),
    ] {
        println!("cargo:rustc-env={var}={}", locked_version(&lock, name));
    }
}
