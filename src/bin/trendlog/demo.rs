//! `trendlog demo` (placeholder, filled in below).
use crate::out::CmdResult;
use crate::Global;

/// Generate, ingest and report a synthetic day with a #MeToo-like surge.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_g: &Global, _a: Args) -> CmdResult {
    Ok(())
}
