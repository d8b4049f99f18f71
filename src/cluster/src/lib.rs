//! # trendlog-cluster
//!
//! trendlog partitioned and replicated over NATS JetStream, exactly once, with
//! exact answers. The engine stays an embedded store; this package adds:
//!
//! - [`partition`]: which partition owns a tag (`fnv1a32(normalised tag) % P`)
//!   and the names of streams and subjects;
//! - [`publish`]: a publisher that batches events per partition and retries
//!   with a stable `Nats-Msg-Id`, counting what the servers acknowledged;
//! - [`runner`]: a shard runner applying one partition stream to one store,
//!   with the stream sequence as the batch's source position;
//! - [`router`]: per-tag queries to the owning partition, top and trending
//!   merged exactly from every partition, missing partitions reported;
//! - [`connect`]: credentials, TLS and stream creation;
//! - [`input`]: the CSV lines `publish` reads;
//! - [`wire`], [`query`], [`workload`]: message formats, answering and merging,
//!   a small synthetic day.
//!
//! `docs/cluster.md` states the guarantee and the failure model.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod connect;
pub mod error;
pub mod input;
pub mod partition;
pub mod publish;
pub mod query;
pub mod router;
pub mod runner;
mod serve;
pub mod wire;
pub mod workload;

pub use error::{Error, Result};

/// How far past the time the stream stored a message (or past its
/// partition's newest data, if later) an event's time may lie: a runner's
/// store refuses what lies further. The publisher refuses, before sending,
/// events more than this less one minute past its own clock, so that no event
/// it reports acknowledged is refused by a runner (given clocks within a
/// minute of the servers').
pub const MAX_FUTURE_SKEW: std::time::Duration = std::time::Duration::from_secs(86_400);
