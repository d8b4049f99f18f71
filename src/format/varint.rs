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
#[inline]
pub fn get_u64(buf: &[u8], pos: &mut usize) -> Option<u64> {
    // Most varints in a segment are one byte.
    if let Some(&b) = buf.get(*pos) {
        if b < 0x80 {
            *pos += 1;
            return Some(u64::from(b));
        }
    }
    get_u64_long(buf, pos)
}

/// [`get_u64`] for an encoding of any length.
fn get_u64_long(buf: &[u8], pos: &mut usize) -> Option<u64> {
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

/// Advances `pos` past one encoded value without decoding it: past the
/// first byte whose high bit is clear, at most [`MAX_LEN`] bytes on. Returns
/// `None` (and leaves `pos` unchanged) when the buffer ends first or no byte
/// within `MAX_LEN` ends the value. Unlike [`get_u64`] it does not reject
/// overlong or overflowing encodings: it is for stepping over values a
/// checksum has already vouched for.
#[inline]
pub fn skip(buf: &[u8], pos: &mut usize) -> Option<()> {
    if *buf.get(*pos)? < 0x80 {
        *pos += 1;
        return Some(());
    }
    let rest = buf.get(*pos..)?;
    let n = rest.iter().take(MAX_LEN).position(|&b| b < 0x80)?;
    *pos += n + 1;
    Some(())
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
    fn skip_steps_over_exactly_one_value() {
        let mut buf = Vec::new();
        for v in [0u64, 127, 128, 1 << 40, u64::MAX] {
            put_u64(&mut buf, v);
        }
        let (mut a, mut b) = (0, 0);
        for _ in 0..5 {
            get_u64(&buf, &mut a).unwrap();
            skip(&buf, &mut b).unwrap();
            assert_eq!(a, b);
        }
        assert_eq!(skip(&buf, &mut b), None);
        // A value cut short, or 10 continuation bytes, does not move pos.
        let mut p = 0;
        assert_eq!(skip(&[0x80, 0x80], &mut p), None);
        assert_eq!(skip(&[0x80; 11], &mut p), None);
        assert_eq!(p, 0);
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
