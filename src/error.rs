//! Errors: one public [`Error`] enum for every fallible call, and the
//! [`Corruption`] record that names the damaged file, the byte offset and what
//! was wrong there.
//!
//! Every variant's `Display` is a sentence that says what happened and what a
//! user can do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The result type of every fallible call in trendlog.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What was wrong with a damaged piece of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// The file does not start with the magic bytes of its kind.
    BadMagic,
    /// The file or block was written by a format version this build cannot read.
    UnsupportedVersion {
        /// The version found in the file.
        found: u16,
        /// The oldest version this build reads.
        min: u16,
        /// The newest version this build reads.
        max: u16,
    },
    /// A stored CRC32 does not match the bytes it covers.
    ChecksumMismatch {
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the bytes as read.
        computed: u32,
    },
    /// A length or offset points past the bytes that are actually there.
    Truncated {
        /// How many bytes the structure needed.
        needed: u64,
        /// How many bytes were available.
        available: u64,
    },
    /// A structural rule was broken (unsorted keys, an id out of range, ...).
    Invalid(String),
    /// A complete, checksummed block follows a damaged one in a log segment, so
    /// the damage is not a torn tail and cutting it would lose acknowledged data.
    DamageBeforeValidData {
        /// Offset of the next valid block after the damage.
        next_valid: u64,
    },
    /// An intact file that belongs to another store: its header carries a
    /// different store id than the manifest (a file copied or swapped in from
    /// another store directory).
    ForeignFile {
        /// The store id of this store's manifest.
        expected: u32,
        /// The store id the file carries.
        found: u32,
    },
}

impl fmt::Display for CorruptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptionKind::BadMagic => f.write_str("bad magic bytes"),
            CorruptionKind::UnsupportedVersion { found, min, max } => write!(
                f,
                "format version {found} is not supported (this build reads versions {min} to {max})"
            ),
            CorruptionKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            CorruptionKind::Truncated { needed, available } => write!(
                f,
                "truncated ({needed} bytes needed, {available} available)"
            ),
            CorruptionKind::Invalid(why) => write!(f, "invalid structure: {why}"),
            CorruptionKind::DamageBeforeValidData { next_valid } => write!(
                f,
                "damaged block followed by a valid block at offset {next_valid}"
            ),
            CorruptionKind::ForeignFile { expected, found } => write!(
                f,
                "the file belongs to another store (store id {found:#010x}, \
                 this store's manifest says {expected:#010x})"
            ),
        }
    }
}

/// Where damage was found: the file, the byte offset in it, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The damaged file.
    pub file: PathBuf,
    /// Byte offset of the damaged structure within the file.
    pub offset: u64,
    /// What was wrong.
    pub kind: CorruptionKind,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.file.display(),
            self.offset,
            self.kind
        )
    }
}

/// Why an input (a tag, a time, a count, a query argument) was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidInput {
    /// The tag is empty after normalisation.
    EmptyTag,
    /// The tag is longer than 255 bytes of UTF-8 after normalisation.
    TagTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The tag holds whitespace or a control character.
    BadTagChar {
        /// The offending character.
        ch: char,
    },
    /// A time before 1970-01-01T00:00:00Z.
    BeforeEpoch {
        /// The rejected unix seconds.
        seconds: i64,
    },
    /// A time past the last minute trendlog can store (year 10 000 and later).
    TimeOutOfRange {
        /// The rejected unix seconds.
        seconds: i64,
    },
    /// The count does not fit in 64 bits, or adding it would take the sum of
    /// every count the store holds past `u64::MAX`: the store keeps that sum
    /// within 64 bits so that no answer (a cell, a range, a top-k) overflows.
    CountOverflow,
    /// The event is older than the hour retention and would be dropped at once.
    TooOld {
        /// The event's minute (minutes since the epoch).
        minute: u32,
        /// The oldest minute the store still keeps.
        oldest_kept: u32,
    },
    /// The event is further in the future of the later of the store's now
    /// and the current time (or of the store's now alone, with
    /// `Options::future_skew_from_clock(false)`) than `max_future_skew`.
    TooFarInFuture {
        /// The event's minute.
        minute: u32,
        /// The latest minute accepted.
        latest_accepted: u32,
    },
    /// A text that should be a time, a duration, a number or a step did not parse.
    Parse(String),
    /// A query argument is out of its domain (an unaligned range, a reversed range, ...).
    Query(String),
    /// The batch already holds the most events one batch may (commit it and
    /// start another).
    BatchTooLarge {
        /// The limit.
        max: usize,
    },
    /// A source position longer than the 64 KiB a block can carry.
    SourcePositionTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A burst-detection parameter outside its valid range
    /// ([`crate::query::BurstParams`]).
    BurstParameter {
        /// The parameter (`entry`, `exit`, `window`, `prior`, ...).
        name: &'static str,
        /// The value given, as text.
        value: String,
        /// The valid range, in words.
        valid: &'static str,
    },
    /// A label key the store does not declare (a typo is an error, never a new key).
    UnknownLabelKey {
        /// The key given.
        key: String,
        /// The store's keys, in declaration order.
        known: Vec<String>,
    },
    /// Label keys that cannot be declared (too many, repeated, bad characters),
    /// or that differ from the keys the store was created with.
    BadLabelKeys(String),
    /// A label value that fails validation.
    BadLabelValue {
        /// The key it was given for.
        key: String,
        /// The value as given.
        value: String,
        /// Why it was refused.
        why: String,
    },
    /// Labels that do not fit the store: a labelled add on a store without
    /// label keys, an unlabelled add on a store with them, a key given twice.
    BadLabels(String),
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidInput::EmptyTag => f.write_str("the tag is empty"),
            InvalidInput::TagTooLong { len } => {
                write!(
                    f,
                    "the tag is {len} bytes long; at most 255 bytes are allowed"
                )
            }
            InvalidInput::BadTagChar { ch } => write!(
                f,
                "the tag holds {ch:?}; whitespace and control characters are not allowed in tags"
            ),
            InvalidInput::BeforeEpoch { seconds } => {
                write!(f, "time {seconds} is before 1970-01-01T00:00:00Z")
            }
            InvalidInput::TimeOutOfRange { seconds } => {
                write!(
                    f,
                    "time {seconds} is past the last minute trendlog can store"
                )
            }
            InvalidInput::CountOverflow => {
                f.write_str(
                    "the count would overflow 64 bits: a count, and the sum of all counts \
                     a store holds, must stay within 18446744073709551615; it was not added",
                )
            }
            InvalidInput::TooOld {
                minute,
                oldest_kept,
            } => write!(
                f,
                "the event at {} is older than the hour retention \
                 (the oldest minute kept is {}); it was rejected",
                crate::civil::format_rfc3339(i64::from(*minute) * 60),
                crate::civil::format_rfc3339(i64::from(*oldest_kept) * 60)
            ),
            InvalidInput::TooFarInFuture {
                minute,
                latest_accepted,
            } => write!(
                f,
                "the event at {} is too far in the future \
                 (the latest accepted minute is {}); check the clock of its source \
                 or raise the allowed skew (Options::max_future_skew; the binary's --max-future-skew)",
                crate::civil::format_rfc3339(i64::from(*minute) * 60),
                crate::civil::format_rfc3339(i64::from(*latest_accepted) * 60)
            ),
            InvalidInput::Parse(msg) => f.write_str(msg),
            InvalidInput::Query(msg) => f.write_str(msg),
            InvalidInput::BatchTooLarge { max } => write!(
                f,
                "the batch already holds {max} events, the most one batch may; commit it and \
                 start another"
            ),
            InvalidInput::SourcePositionTooLong { len } => write!(
                f,
                "the source position is {len} bytes long; at most 65535 bytes are allowed"
            ),
            InvalidInput::BurstParameter { name, value, valid } => write!(
                f,
                "the burst parameter {name} is {value}; it must be {valid}"
            ),
            InvalidInput::UnknownLabelKey { key, known } if known.is_empty() => write!(
                f,
                "the label key {key:?} is unknown: the store has no label keys"
            ),
            InvalidInput::UnknownLabelKey { key, known } => write!(
                f,
                "the label key {key:?} is unknown; the store's label keys are {}",
                known.join(", ")
            ),
            InvalidInput::BadLabelKeys(msg) | InvalidInput::BadLabels(msg) => f.write_str(msg),
            InvalidInput::BadLabelValue { key, value, why } => {
                write!(f, "the value {value:?} of label {key:?} is refused: {why}")
            }
        }
    }
}

/// Every error trendlog returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed on `path` (out of space is `ErrorKind::StorageFull`).
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file of the store is damaged.
    Corrupted(Corruption),
    /// The input was rejected; nothing was changed.
    InvalidInput(InvalidInput),
    /// Another writer (in this or another process) holds the store's lock.
    Locked {
        /// The store directory.
        dir: PathBuf,
    },
    /// A background task panicked or a durability step failed earlier; the store
    /// refuses further writes so nothing is silently lost. Reopen it.
    Poisoned {
        /// What went wrong first.
        reason: String,
    },
    /// The query asks for minute resolution over a range that is only held in
    /// hourly buckets.
    ResolutionUnavailable {
        /// The earliest minute (minutes since the epoch) still held at minute resolution.
        earliest_minute: u32,
    },
    /// The store was opened read-only and the call would write.
    ReadOnly,
    /// The store directory does not exist or holds no store (for read-only opens).
    NotAStore {
        /// The directory.
        dir: PathBuf,
    },
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Corrupted`].
    pub fn corrupted(file: impl Into<PathBuf>, offset: u64, kind: CorruptionKind) -> Error {
        Error::Corrupted(Corruption {
            file: file.into(),
            offset,
            kind,
        })
    }

    /// True when this error reports damaged files.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corrupted(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => {
                if source.kind() == io::ErrorKind::StorageFull {
                    write!(
                        f,
                        "out of disk space writing {}; free some space and reopen the store",
                        path.display()
                    )
                } else {
                    write!(f, "I/O error on {}: {source}", path.display())
                }
            }
            Error::Corrupted(c) => write!(
                f,
                "the store is damaged: {c}; run `trendlog verify` for a full report"
            ),
            Error::InvalidInput(why) => write!(f, "invalid input: {why}"),
            Error::Locked { dir } => write!(
                f,
                "the store {} is locked by another writer; close it there first, \
                 or open it read-only",
                dir.display()
            ),
            Error::Poisoned { reason } => write!(
                f,
                "the store refuses further work after an earlier failure ({reason}); \
                 reopen it to recover what was made durable"
            ),
            Error::ResolutionUnavailable { earliest_minute } => write!(
                f,
                "minute resolution is not held for this range; the earliest minute still held \
                 is {} (use a 1h or 1d step, or start the range there)",
                crate::civil::format_rfc3339(i64::from(*earliest_minute) * 60)
            ),
            Error::ReadOnly => f.write_str("the store is open read-only; open it for writing"),
            Error::NotAStore { dir } => write!(
                f,
                "{} holds no trendlog store (no MANIFEST); check --db",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<InvalidInput> for Error {
    fn from(e: InvalidInput) -> Error {
        Error::InvalidInput(e)
    }
}

impl From<Corruption> for Error {
    fn from(c: Corruption) -> Error {
        Error::Corrupted(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_a_sentence_not_debug() {
        let e = Error::corrupted(
            "x/seg-1.min",
            42,
            CorruptionKind::ChecksumMismatch {
                stored: 1,
                computed: 2,
            },
        );
        let s = e.to_string();
        assert!(s.contains("x/seg-1.min at byte 42"), "{s}");
        assert!(!s.contains("Corruption {"), "{s}");
        let full = Error::io("d", io::Error::from(io::ErrorKind::StorageFull)).to_string();
        assert!(full.contains("out of disk space"), "{full}");
    }
}
