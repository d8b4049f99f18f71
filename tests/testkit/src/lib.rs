//! Test support for trendlog, shared by its integration tests and fuzz targets.
//!
//! - [`sim`]: [`SimFs`](sim::SimFs), a deterministic in-memory file system that
//!   implements the engine's [`trendlog::vfs::Vfs`] seam and injects crashes,
//!   I/O errors and a full disk on cue.
//! - [`workload`]: the synthetic event generator, re-exported from
//!   `trendlog-workload` (which stays free of any `trendlog` dependency so
//!   the binary's `demo` can use it), and its seeded [`SplitMix64`].
//! - [`tmpfs`]: a real tmpfs of a given size, for full-disk tests that run
//!   as root.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod sim;
pub mod tmpfs;

pub use trendlog_workload as workload;
pub use trendlog_workload::SplitMix64;
