//! [`SplitMix64`], the one small seeded generator of the test-support code:
//! the workload generator, the simulated file system's crash outcomes and the
//! randomised test suites all draw from it, so every run replays from its seed.

/// SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit word of state, a
/// 2^64 period, and statistics good enough to pick events, faults and crash
/// outcomes. Not for anything that needs unpredictability.
///
/// The state is public so a seed reads as `SplitMix64(seed)`.
///
/// ```
/// use trendlog_workload::SplitMix64;
/// let (mut a, mut b) = (SplitMix64(7), SplitMix64::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub const fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next uniformly distributed 64-bit value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`0` when `n` is 0), by remainder: the bias is
    /// below `n / 2^64`, invisible at the sizes tests use.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A fair coin.
    #[inline]
    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// True with probability `percent / 100`.
    #[inline]
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn known_first_value() {
        // The reference sequence for seed 0 (Vigna's splitmix64.c).
        assert_eq!(SplitMix64(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = SplitMix64(1);
        for n in [1, 2, 3, 10, 1000] {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
        assert_eq!(r.below(0), 0);
    }
}
