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
//! - [`wire`], [`query`], [`workload`]: message formats, answering and merging,
//!   a small synthetic day.
//!
//! `docs/cluster.md` states the guarantee and the failure model.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod connect;
pub mod error;
pub mod partition;
pub mod publish;
pub mod query;
pub mod router;
pub mod runner;
mod serve;
pub mod wire;
pub mod workload;

pub use error::{Error, Result};
