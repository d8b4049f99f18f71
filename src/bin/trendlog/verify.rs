//! `trendlog verify`: every checksum and structural invariant, read-only.

use serde_json::json;
use trendlog::Options;

use crate::out::{self, CmdResult, Fail, EXIT_RUNTIME};
use crate::Global;

/// Check every checksum and structural invariant of every file of the store,
/// without changing it. Exit 0 if clean, 1 if anything is damaged.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Each problem is printed with its file and byte offset. Notes (a torn tail that the next writable
open cuts, leftover temporary files) are not damage.

JSON: {\"clean\":true,\"files_checked\":N,\"cells_checked\":N,
       \"problems\":[{\"file\":\"...\",\"offset\":N,\"kind\":\"...\"}],\"notes\":[\"...\"]}

Example:
  trendlog --db ./trendlog-data verify && echo clean")]
pub struct Args {}

pub fn run(g: &Global, _a: Args) -> CmdResult {
    // Not `open_read`: a store too damaged to open must still be verified.
    out::require_dir(&g.db)?;
    let r = trendlog::verify::verify(&g.db, &Options::default())?;
    if g.json {
        let problems: Vec<_> = r
            .problems
            .iter()
            .map(|p| {
                json!({"file": p.file.display().to_string(), "offset": p.offset,
                            "kind": p.kind.to_string()})
            })
            .collect();
        out::print_json(&json!({
            "clean": r.is_clean(),
            "files_checked": r.files_checked,
            "cells_checked": r.cells_checked,
            "problems": problems,
            "notes": r.notes,
        }));
    } else {
        for p in &r.problems {
            println!("DAMAGED  {p}");
        }
        for n in &r.notes {
            println!("note     {n}");
        }
        println!(
            "{}: {} files, {} cells checked, {} problem{}",
            if r.is_clean() { "clean" } else { "damaged" },
            out::thousands(r.files_checked),
            out::thousands(r.cells_checked),
            r.problems.len(),
            if r.problems.len() == 1 { "" } else { "s" }
        );
    }
    if r.is_clean() {
        Ok(())
    } else {
        Err(Fail::silent(EXIT_RUNTIME))
    }
}
