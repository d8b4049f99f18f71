//! trendlog: an embedded storage engine for per-minute hashtag counts.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod options;
pub mod storage;
pub mod time;
pub mod workload;

pub use error::{Corruption, CorruptionKind, Error, InvalidInput, Result};
pub use options::{Options, SyncPolicy};
