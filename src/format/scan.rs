//! The one rule that tells a torn tail from damage, shared by the log
//! ([`super::log::scan_log`]) and the dictionary ([`super::dict::scan_dict`]).
//!
//! Both files are sequences of self-checking records appended after a header.
//! When the record at `pos` fails to decode, `damage_end` looks at every
//! later offset (in steps of the file's alignment) for records that decode
//! fully. A later record proves the bytes at `pos` were once complete and
//! durable, so damaging them is real corruption ([`ScanEnd::Corrupt`]), only if
//! that record was written when the file was already durable past `pos`; a
//! record kind that does not say how far the file was durable (a dictionary
//! entry) is taken to prove it. Otherwise the damage is the tail of a write a
//! crash tore ([`ScanEnd::TornTail`]), and cutting it loses nothing complete.

use super::{CorruptionKind, DecodeError};

/// How a scan of a log (or dictionary) file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEnd {
    /// At the end of the buffer, or at an aligned offset after which every
    /// byte is zero (a preallocated, not yet written region).
    Clean,
    /// The structure at `offset` is damaged and nothing valid follows it: a
    /// write torn by a crash. Cutting the file back to `offset` loses nothing
    /// that was ever complete.
    TornTail {
        /// Where the damaged tail starts.
        offset: u64,
        /// What was wrong with the first damaged structure.
        kind: CorruptionKind,
    },
    /// The structure at `error.offset` is damaged and a complete, valid one
    /// follows it (`CorruptionKind::DamageBeforeValidData`): real corruption,
    /// which must not be cut away silently.
    Corrupt(DecodeError),
}

/// Decides what a record that failed to decode at `pos` with `kind` means.
///
/// `decode` tries a record at the start of a slice and returns its length and
/// how far the file was durable when it was written (`u64::MAX` for record
/// kinds that do not record it); a failed offset is stepped past by `step`
/// bytes, a valid record is stepped over whole. The end is
/// [`ScanEnd::Corrupt`] with `DamageBeforeValidData { next_valid }` (the first
/// later valid record) when some later record was written durable past `pos`,
/// and [`ScanEnd::TornTail`] at `pos` otherwise.
pub(crate) fn damage_end(
    buf: &[u8],
    pos: usize,
    step: usize,
    kind: CorruptionKind,
    decode: impl Fn(&[u8]) -> Option<(usize, u64)>,
) -> ScanEnd {
    let mut first_valid = None;
    let mut q = pos + step;
    while q < buf.len() {
        match decode(&buf[q..]) {
            Some((len, durable_end)) => {
                let y = *first_valid.get_or_insert(q as u64);
                if durable_end > pos as u64 {
                    return ScanEnd::Corrupt(DecodeError::new(
                        pos as u64,
                        CorruptionKind::DamageBeforeValidData { next_valid: y },
                    ));
                }
                q += len.max(step);
            }
            None => q += step,
        }
    }
    ScanEnd::TornTail {
        offset: pos as u64,
        kind,
    }
}
