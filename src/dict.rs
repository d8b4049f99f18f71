//! The in-memory side of the tag dictionary: normalised tag strings interned to
//! dense `u32` ids in order of first appearance (id `i` is entry `i` of
//! `tags.dict`), with the encoded entries not yet written to the file.
//!
//! Ids are dense so that queries over all tags (top-k, trending) can keep one
//! counter per tag in a flat array instead of a hash map.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::dict::encode_dict_entry;

/// A small, fast, non-cryptographic hasher (the multiply-rotate scheme of
/// rustc's FxHash) for the tag map: keys are trusted after normalisation and the
/// map is per-store, so hash flooding is not a concern worth SipHash's cost on
/// every ingested event.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ (rest.len() as u64) << 56);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply only carries entropy upwards, and hashbrown picks
        // buckets from the low bits: without this finaliser (the last steps
        // of MurmurHash3's fmix64) tags sharing a prefix, like `tag1` and
        // `tag2`, collide into a few buckets.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The interned tags.
#[derive(Default)]
pub(crate) struct Dict {
    names: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
    /// Encoded entries for ids `flushed..names.len()`, not yet in `tags.dict`.
    pending: Vec<u8>,
    flushed: usize,
}

impl Dict {
    /// A dictionary holding `names` (already on disk), ids in order.
    /// Fails on a duplicate name: two ids for one tag would split its counts.
    pub(crate) fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> std::result::Result<Dict, (usize, String)> {
        let names = names.into_iter();
        let mut d = Dict::default();
        let hint = names.size_hint().0;
        d.names.reserve(hint);
        d.ids.reserve(hint);
        for (i, n) in names.enumerate() {
            let name: Arc<str> = Arc::from(n);
            if d.ids.insert(name.clone(), i as u32).is_some() {
                return Err((i, n.to_string()));
            }
            d.names.push(name);
        }
        d.flushed = d.names.len();
        Ok(d)
    }

    /// The id of a normalised tag, if interned.
    #[inline]
    pub(crate) fn lookup(&self, tag: &str) -> Option<u32> {
        self.ids.get(tag).copied()
    }

    /// Interns a normalised tag, queueing its dictionary entry for the file.
    pub(crate) fn intern(&mut self, tag: &str) -> Result<u32> {
        if let Some(id) = self.lookup(tag) {
            return Ok(id);
        }
        let id = u32::try_from(self.names.len())
            .ok()
            .filter(|&id| id < u32::MAX)
            .ok_or_else(|| Error::Poisoned {
                reason: "the tag dictionary is full (4 294 967 295 tags)".into(),
            })?;
        let name: Arc<str> = Arc::from(tag);
        encode_dict_entry(tag, &mut self.pending);
        self.ids.insert(name.clone(), id);
        self.names.push(name);
        Ok(id)
    }

    /// The tag of an id.
    #[inline]
    pub(crate) fn name(&self, id: u32) -> Option<&Arc<str>> {
        self.names.get(id as usize)
    }

    /// Number of interned tags.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Takes the entries not yet written, and the number of tags they bring the
    /// file to once written.
    pub(crate) fn take_pending(&mut self) -> (Vec<u8>, usize) {
        self.flushed = self.names.len();
        (std::mem::take(&mut self.pending), self.flushed)
    }

    /// Puts back entries whose write failed, ahead of any queued since.
    pub(crate) fn restore_pending(&mut self, mut bytes: Vec<u8>, upto: usize) {
        bytes.extend_from_slice(&self.pending);
        self.pending = bytes;
        self.flushed = self.flushed.min(upto);
    }

    /// Number of tags whose entries have been handed to the file writer.
    pub(crate) fn flushed_count(&self) -> usize {
        self.flushed
    }

    /// All names, id order.
    pub(crate) fn names(&self) -> &[Arc<str>] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_keys_spread_over_low_bits() {
        use std::hash::BuildHasher;
        let b = BuildHasherDefault::<FxHasher>::default();
        let mut seen = std::collections::HashSet::new();
        for i in 0..4096 {
            seen.insert(b.hash_one(format!("tag{i}")) & 0xfff);
        }
        // 4096 keys into 4096 buckets: a good hash fills about 63% of them.
        assert!(
            seen.len() > 2000,
            "only {} distinct low-12-bit values",
            seen.len()
        );
    }

    #[test]
    fn interns_densely_and_rejects_duplicates_on_load() {
        let mut d = Dict::default();
        assert_eq!(d.intern("a").unwrap(), 0);
        assert_eq!(d.intern("b").unwrap(), 1);
        assert_eq!(d.intern("a").unwrap(), 0);
        assert_eq!(d.name(1).map(|s| &**s), Some("b"));
        let (bytes, n) = d.take_pending();
        assert_eq!(n, 2);
        assert!(!bytes.is_empty());
        assert!(Dict::from_names(["x", "y", "x"]).is_err());
    }
}
