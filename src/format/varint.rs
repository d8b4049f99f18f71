//! LEB128 variable-length unsigned integers: seven bits per byte, least
//! significant group first, the high bit set on every byte but the last.
//!
//! Decoding is strict: at most 10 bytes, no bits beyond the 64th, and no
//! overlong encodings (a last byte of zero after a continuation byte), so every
//! value has exactly one encoding and a decoded buffer re-encodes to itself.

/// The longest encoding of a `u64`.
pub const MAX_LEN: usize = 10;

/// Appends the LEB128 encoding of `v` to `out`.
pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes one value at `buf[*pos..]` and advances `pos` past it.
///
/// Returns `None` (and leaves `pos` unchanged) when the buffer ends inside the
/// value, when the encoding is longer than 10 bytes or overflows 64 bits, or
/// when it is overlong (not the shortest encoding of its value).
pub fn get_u64(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut i = *pos;
    for shift_idx in 0..MAX_LEN {
        let b = *buf.get(i)?;
        i += 1;
        let low = u64::from(b & 0x7f);
        let shift = 7 * shift_idx as u32;
        if shift_idx == MAX_LEN - 1 && b > 1 {
            // The tenth byte may only carry the 64th bit.
            return None;
        }
        v |= low << shift;
        if b & 0x80 == 0 {
            if b == 0 && shift_idx > 0 {
                return None;
            }
            *pos = i;
            return Some(v);
        }
    }
    None
}

/// The number of bytes [`put_u64`] writes for `v` (1 to 10).
pub fn len_u64(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_edges() {
        let vals = [
            0u64,
            1,
            127,
            128,
            255,
            16_383,
            16_384,
            u64::from(u32::MAX),
            (1 << 63) - 1,
            1 << 63,
            u64::MAX,
        ];
        for &v in &vals {
            let mut out = Vec::new();
            put_u64(&mut out, v);
            assert_eq!(out.len(), len_u64(v), "len of {v}");
            let mut pos = 0;
            assert_eq!(get_u64(&out, &mut pos), Some(v));
            assert_eq!(pos, out.len());
            // Every truncation fails without moving pos.
            for cut in 0..out.len() {
                let mut p = 0;
                assert_eq!(get_u64(&out[..cut], &mut p), None);
                assert_eq!(p, 0);
            }
        }
        let mut out = Vec::new();
        put_u64(&mut out, u64::MAX);
        assert_eq!(out.len(), MAX_LEN);
    }

    #[test]
    fn rejects_overflow_overlong_and_too_long() {
        let mut p = 0;
        // 11 continuation bytes.
        assert_eq!(get_u64(&[0x80; 11], &mut p), None);
        // Tenth byte carrying more than the 64th bit.
        let mut b = vec![0xff; 9];
        b.push(0x02);
        assert_eq!(get_u64(&b, &mut p), None);
        // Overlong encodings of 1 and 0.
        assert_eq!(get_u64(&[0x81, 0x00], &mut p), None);
        assert_eq!(get_u64(&[0x80, 0x00], &mut p), None);
        assert_eq!(p, 0);
        // Decoding from an offset.
        let mut p = 1;
        assert_eq!(get_u64(&[0xff, 0x05, 0x07], &mut p), Some(5));
        assert_eq!(p, 2);
    }
}
