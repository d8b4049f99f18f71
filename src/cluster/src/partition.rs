//! Which partition owns a tag, and the names of everything per partition:
//! stream, publish subject, query subjects, control subject.
//!
//! A tag's partition is `fnv1a32(normalised tag) % P`; every publisher computes
//! it itself, so a tag lives in exactly one partition.

use crate::error::{Error, Result};

/// FNV-1a, 32 bits, over the bytes of `s`.
pub fn fnv1a32(s: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in s {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The partition of a tag, normalising it first.
pub fn partition_of(tag: &str, partitions: u32) -> Result<u32> {
    if partitions == 0 {
        return Err(Error::Config(
            "the partition count must be at least 1".into(),
        ));
    }
    let norm = trendlog::tag::normalize(tag)?;
    Ok(fnv1a32(norm.as_bytes()) % partitions)
}

/// Names derived from one deployment prefix (default `trendlog`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
    /// Number of partitions, fixed for the deployment.
    pub partitions: u32,
}

impl Names {
    /// Names for `partitions` partitions under `prefix` (letters, digits, `-`
    /// and `_` only, since it is part of stream names and subjects).
    pub fn new(prefix: &str, partitions: u32) -> Result<Names> {
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Config(format!(
                "the prefix {prefix:?} must be non-empty letters, digits, '-' or '_'"
            )));
        }
        if partitions == 0 || partitions > 4096 {
            return Err(Error::Config(format!(
                "the partition count must be 1..=4096 (got {partitions})"
            )));
        }
        Ok(Names {
            prefix: prefix.to_owned(),
            partitions,
        })
    }

    /// Checks a partition number.
    pub fn check(&self, p: u32) -> Result<()> {
        if p >= self.partitions {
            return Err(Error::Config(format!(
                "partition {p} does not exist: -P/--partitions says there are {}, numbered 0 to \
                 {} (give -P the deployment's partition count)",
                self.partitions,
                self.partitions - 1
            )));
        }
        Ok(())
    }

    /// The JetStream stream of partition `p`.
    pub fn stream(&self, p: u32) -> String {
        format!("{}_P{p}", self.prefix.to_ascii_uppercase())
    }

    /// The subject publishers send partition `p`'s batches to.
    pub fn subject(&self, p: u32) -> String {
        format!("{}.in.{p}", self.prefix)
    }

    /// The subject any live replica of partition `p` answers queries on (a
    /// queue group, so one replica answers each request).
    pub fn query_any(&self, p: u32) -> String {
        format!("{}.q.{p}", self.prefix)
    }

    /// The subject only replica `replica` of partition `p` answers on.
    pub fn query_replica(&self, p: u32, replica: &str) -> String {
        format!("{}.q.{p}.{replica}", self.prefix)
    }

    /// The control subject of replica `replica` of partition `p` (copy
    /// requests for rebuilding a peer).
    pub fn control(&self, p: u32, replica: &str) -> String {
        format!("{}.ctl.{p}.{replica}", self.prefix)
    }

    /// The subject routers answer on.
    pub fn router(&self) -> String {
        format!("{}.router", self.prefix)
    }
}

/// Checks a replica name (part of subjects and consumer names).
pub fn check_replica(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::Config(format!(
            "the replica name {name:?} must be 1..=64 letters, digits, '-' or '_'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn spellings_of_one_tag_share_a_partition() {
        for p in [1, 4, 16] {
            let a = partition_of("#MeToo", p).unwrap();
            assert_eq!(a, partition_of("metoo", p).unwrap());
            assert_eq!(a, partition_of("#METOO", p).unwrap());
            assert!(a < p);
        }
        assert!(partition_of("", 4).is_err());
        assert!(partition_of("x", 0).is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(Names::new("a.b", 4).is_err());
        assert!(Names::new("tl", 0).is_err());
        let n = Names::new("tl", 4).unwrap();
        assert_eq!(n.stream(3), "TL_P3");
        assert_eq!(n.subject(3), "tl.in.3");
        assert!(n.check(4).is_err());
        assert!(check_replica("a.b").is_err());
        assert!(check_replica("r-1").is_ok());
    }
}
