//! [`Error`]: everything the cluster processes can fail with, each variant a
//! sentence that says what happened and what to do.

use std::fmt;

/// A cluster error.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The embedded store refused an operation.
    Store(trendlog::Error),
    /// Connecting to NATS failed (wrong address, credentials or TLS settings).
    Connect(String),
    /// A NATS or JetStream call failed after its retries.
    Nats(String),
    /// A message or request could not be decoded.
    Decode(String),
    /// A request was well formed but cannot be answered (bad range, unknown op).
    BadRequest(String),
    /// Some partitions had no live replica within the timeout.
    Missing(Vec<u32>),
    /// A store belongs to another stream than the one it is asked to follow.
    WrongStream {
        /// The stream this runner follows.
        expected: String,
        /// The stream recorded in the store's source position.
        found: String,
    },
    /// A file operation failed.
    Io(std::path::PathBuf, std::io::Error),
    /// An invalid setting (flag or configuration).
    Config(String),
    /// Some input was refused (bad lines, tags or times); the rest was
    /// published.
    Rejected(String),
    /// A router could not answer (an outage on its side, as its reply
    /// says); the same request may succeed later.
    Unavailable(String),
    /// A status was answered, but no replica of these partitions answered
    /// it: they are listed in the reply's `missing`.
    Incomplete(Vec<u32>),
    /// A copy of a replica's store was not made, or its outcome is not
    /// known: the sentence says which, and what to do.
    Copy(String),
}

/// `Result<T, Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Store(e) => write!(f, "the store refused: {e}"),
            Error::Connect(e) => write!(
                f,
                "cannot connect to NATS: {e}; check --server, the credentials and the TLS CA"
            ),
            Error::Nats(e) => write!(f, "a NATS call failed: {e}"),
            Error::Decode(e) => write!(f, "a message could not be decoded: {e}"),
            Error::BadRequest(e) => write!(f, "bad request: {e}"),
            Error::Missing(p) => write!(
                f,
                "no live replica answered for partition(s) {p:?}; start a runner for them \
                 (top and trending also take allow_partial to answer from the other partitions)"
            ),
            Error::WrongStream { expected, found } => write!(
                f,
                "the store follows stream {found}, not {expected}; give this runner the store \
                 of its own partition or an empty directory"
            ),
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Error::Config(e) => write!(f, "invalid setting: {e}"),
            Error::Rejected(e) => f.write_str(e),
            Error::Unavailable(e) => write!(f, "the cluster could not answer: {e}"),
            Error::Copy(e) => f.write_str(e),
            Error::Incomplete(p) => write!(
                f,
                "no live replica answered for partition(s) {p:?} (the reply's missing); \
                 start a runner for them"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Store(e) => Some(e),
            Error::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl From<trendlog::Error> for Error {
    fn from(e: trendlog::Error) -> Error {
        Error::Store(e)
    }
}

/// Turns any displayable NATS error into [`Error::Nats`].
pub(crate) fn nats<E: fmt::Display>(e: E) -> Error {
    Error::Nats(e.to_string())
}
