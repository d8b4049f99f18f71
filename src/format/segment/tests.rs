//! Round trips and damage tests of the segment builder and view together.

use byteorder::{ByteOrder, LittleEndian};

use super::*;
use crate::format::{crc32, CorruptionKind, Resolution};
use proptest::prelude::*;

fn small() -> Vec<(u32, u32, u64)> {
    let mut v = Vec::new();
    for tag in 0..150u32 {
        let tag = tag * 3 + 1;
        for k in 0..(tag % 5 + 1) {
            let count = match k {
                0 => 1,
                1 => u64::from(tag) * 1000 + 2,
                _ => u64::from(k),
            };
            v.push((tag, 28_000_000 + k * 7 + tag % 11, count));
        }
    }
    v.push((1_000_000, 28_000_100, u64::MAX - 1_000_000_000));
    v
}

fn collect<B: AsRef<[u8]>>(s: &SegmentView<B>) -> Vec<(u32, u32, u64)> {
    let mut got = Vec::new();
    s.for_each_cell(|a, b, c| got.push((a, b, c))).unwrap();
    got
}

#[test]
fn store_id_is_recorded() {
    let mut b = SegmentBuilder::new(Resolution::Hour, 4).for_store(0x5EED_1D01);
    b.push(1, 2, 3).unwrap();
    let bytes = b.finish();
    let m = *SegmentView::open(&bytes[..]).unwrap().meta();
    assert_eq!((m.file_id, m.store_id, m.total), (4, 0x5EED_1D01, 3));
}

fn check_round_trip(cells: &[(u32, u32, u64)], res: Resolution) {
    let bytes = encode_segment(res, 9, cells.iter().copied());
    let s = SegmentView::open(&bytes[..]).unwrap();
    s.verify().unwrap();
    let m = s.meta();
    assert_eq!(m.resolution, res);
    assert_eq!((m.file_id, m.store_id), (9, 0));
    assert_eq!(m.cell_count, cells.len() as u64);
    assert_eq!(m.byte_len, bytes.len() as u64);
    assert_eq!(m.total, cells.iter().map(|c| c.2).sum::<u64>());
    assert_eq!(collect(&s), cells);
    let mut by_tag: std::collections::BTreeMap<u32, Vec<(u32, u64)>> = Default::default();
    for &(t, m, c) in cells {
        by_tag.entry(t).or_default().push((m, c));
    }
    assert_eq!(m.tag_count as usize, by_tag.len());
    for (&t, want) in &by_tag {
        let mut got = vec![(0, 0)];
        assert!(s.tag_cells(t, &mut got).unwrap());
        assert_eq!(&got[1..], &want[..]);
        for absent in [t.wrapping_sub(1), t + 1] {
            if !by_tag.contains_key(&absent) {
                let mut none = Vec::new();
                assert!(!s.tag_cells(absent, &mut none).unwrap());
                assert!(none.is_empty());
            }
        }
    }
    // Totals: streamed on the first call, kept from the second, the same
    // every time.
    let want: Vec<(u32, u64)> = by_tag
        .iter()
        .map(|(&t, cells)| (t, cells.iter().map(|c| c.1).sum()))
        .collect();
    let s = SegmentView::open(&bytes[..]).unwrap();
    for _ in 0..3 {
        let mut got = Vec::new();
        s.for_each_tag_total(|t, c| got.push((t, c))).unwrap();
        assert_eq!(got, want);
    }
    let kept = s.tag_totals().unwrap();
    assert_eq!(kept.tags.len(), want.len());
    // A fresh view looked up from the last tag back: each group's marks are
    // made by a lookup of its last tags, then serve the earlier ones.
    let s = SegmentView::open(&bytes[..]).unwrap();
    for (&t, want) in by_tag.iter().rev() {
        let mut got = Vec::new();
        assert!(s.for_each_tag_cell(t, |m, c| got.push((m, c))).unwrap());
        assert_eq!(got, *want, "tag {t}, looked up after every later tag");
    }
}

#[test]
fn round_trips() {
    check_round_trip(&small(), Resolution::Minute);
    check_round_trip(&[], Resolution::Hour);
    check_round_trip(&[(0, 0, u64::MAX)], Resolution::Hour);
    check_round_trip(&[(u32::MAX - 1, u32::MAX, 1)], Resolution::Minute);
    let heavy: Vec<_> = (0..3u32)
        .flat_map(|t| (0..1440u32).map(move |m| (t, 5_000_000 + m, u64::from(m % 300) + 1)))
        .collect();
    check_round_trip(&heavy, Resolution::Minute);
    let many: Vec<_> = (0..1000u32).map(|t| (t * 1000, t % 60, 1)).collect();
    check_round_trip(&many, Resolution::Minute);
}

#[test]
fn empty_segment() {
    let b = SegmentBuilder::new(Resolution::Minute, 1).finish();
    assert_eq!(b.len(), SEGMENT_HEADER_LEN + FOOTER_LEN);
    // An empty totals section still has its trailer.
    let t = SegmentBuilder::new(Resolution::Minute, 1)
        .with_tag_totals(true)
        .finish();
    assert_eq!(
        t.len(),
        SEGMENT_HEADER_LEN + TOTALS_TRAILER_LEN + FOOTER_LEN
    );
    SegmentView::open(t).unwrap().verify().unwrap();
    let s = SegmentView::open(b).unwrap();
    s.verify().unwrap();
    assert_eq!(s.meta().tag_count, 0);
    assert!(!s.tag_cells(0, &mut Vec::new()).unwrap());
    assert!(collect(&s).is_empty());
}

#[test]
fn builder_refuses_bad_cells_and_stays_usable() {
    let mut b = SegmentBuilder::new(Resolution::Minute, 1);
    b.push(5, 10, 1).unwrap();
    assert!(matches!(
        b.push(5, 10, 1),
        Err(SegmentBuildError::OutOfOrder { .. })
    ));
    assert!(matches!(
        b.push(4, 99, 1),
        Err(SegmentBuildError::OutOfOrder { .. })
    ));
    assert!(matches!(
        b.push(6, 1, 0),
        Err(SegmentBuildError::ZeroCount { .. })
    ));
    assert_eq!(
        b.push(u32::MAX, 1, 1),
        Err(SegmentBuildError::TagOutOfRange)
    );
    b.push(6, 1, u64::MAX - 1).unwrap();
    assert_eq!(b.push(7, 1, 1), Err(SegmentBuildError::TotalOverflow));
    let s = SegmentView::open(b.finish()).unwrap();
    s.verify().unwrap();
    assert_eq!(collect(&s), vec![(5, 10, 1), (6, 1, u64::MAX - 1)]);
}

#[test]
fn time_range_filter() {
    let cells = small();
    let bytes = encode_segment(Resolution::Minute, 1, cells.iter().copied());
    let s = SegmentView::open(&bytes).unwrap();
    let (lo, hi) = (28_000_005, 28_000_012);
    let mut got = Vec::new();
    s.for_each_cell_in(lo, hi, |a, b, c| got.push((a, b, c)))
        .unwrap();
    let want: Vec<_> = cells
        .iter()
        .copied()
        .filter(|c| (lo..hi).contains(&c.1))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    let mut none = 0;
    s.for_each_cell_in(0, 28_000_000, |_, _, _| none += 1)
        .unwrap();
    assert_eq!(none, 0);
}

/// Found by the `decode_segment` fuzz target once it recomputed CRCs: a
/// skip index entry with `first_tag > last_tag` and a valid index CRC
/// overflowed a subtraction (a panic in debug builds) before it was
/// refused.
#[test]
fn index_entry_with_reversed_tag_range_is_refused() {
    let mut b = encode_segment(Resolution::Minute, 3, small());
    let index = LittleEndian::read_u64(&b[H_INDEX..]) as usize;
    LittleEndian::write_u32(&mut b[index..], u32::MAX - 1);
    let footer = b.len() - FOOTER_LEN;
    let crc = crc32(&b[index..footer]);
    LittleEndian::write_u32(&mut b[footer..], crc);
    let e = SegmentView::open(&b[..]).unwrap_err();
    assert!(matches!(e.kind, CorruptionKind::Invalid(_)), "{e:?}");
    assert_eq!(e.offset, index as u64);
}

fn detected(b: &[u8]) -> bool {
    match SegmentView::open(b) {
        Err(_) => true,
        Ok(s) => s.verify().is_err(),
    }
}

#[test]
fn every_truncation_and_bit_flip_is_detected() {
    let b = encode_segment(Resolution::Minute, 3, small());
    assert!(b.len() < 4096, "{}", b.len());
    assert!(SegmentView::open(&b).unwrap().group_count() >= 2);
    for cut in 0..b.len() {
        assert!(SegmentView::open(&b[..cut]).is_err(), "cut {cut}");
    }
    for bit in 0..(b.len() * 8) {
        let mut d = b.clone();
        d[bit / 8] ^= 1 << (bit % 8);
        assert!(detected(&d), "flip {bit}");
    }
}

#[test]
fn queries_check_the_group_they_read() {
    let b = encode_segment(Resolution::Minute, 3, small());
    let s = SegmentView::open(&b).unwrap();
    let e = s.entry(0).unwrap();
    let mut d = b.clone();
    d[e.offset as usize + 1] ^= 4;
    let s = SegmentView::open(&d).unwrap(); // opening reads metadata only
    let mut out = vec![(1, 1)];
    let err = s.tag_cells(e.first_tag, &mut out).unwrap_err();
    assert!(matches!(err.kind, CorruptionKind::ChecksumMismatch { .. }));
    assert_eq!(out, vec![(1, 1)]);
    assert!(s.for_each_cell(|_, _, _| {}).is_err());
    assert!(s.verify().is_err());
    // Another group is still readable.
    let last = s.entry(s.group_count() - 1).unwrap();
    assert!(s.tag_cells(last.last_tag, &mut Vec::new()).unwrap());
}

/// Rewrites the header after `edit` with a valid CRC, so deeper checks run.
fn reseal_header(mut b: Vec<u8>, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    edit(&mut b);
    let crc = crc32(&b[..SEGMENT_HEADER_LEN - 4]);
    LittleEndian::write_u32(&mut b[SEGMENT_HEADER_LEN - 4..SEGMENT_HEADER_LEN], crc);
    b
}

#[test]
fn header_lies_are_caught() {
    let b = encode_segment(Resolution::Minute, 3, small());
    type Edit = Box<dyn Fn(&mut [u8])>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "total",
            Box::new(|h| {
                let v = LittleEndian::read_u64(&h[H_TOTAL..]);
                LittleEndian::write_u64(&mut h[H_TOTAL..], v - 1)
            }),
        ),
        (
            "cells",
            Box::new(|h| {
                let v = LittleEndian::read_u64(&h[H_CELLS..]);
                LittleEndian::write_u64(&mut h[H_CELLS..], v + 1)
            }),
        ),
        (
            "tags",
            Box::new(|h| {
                let v = LittleEndian::read_u32(&h[H_TAGS..]);
                LittleEndian::write_u32(&mut h[H_TAGS..], v + 1)
            }),
        ),
        (
            "min",
            Box::new(|h| LittleEndian::write_u32(&mut h[H_MIN..], 1)),
        ),
        (
            "max",
            Box::new(|h| LittleEndian::write_u32(&mut h[H_MAX..], u32::MAX)),
        ),
        (
            "groups",
            Box::new(|h| LittleEndian::write_u32(&mut h[H_GROUPS..], u32::MAX)),
        ),
        (
            "index",
            Box::new(|h| LittleEndian::write_u64(&mut h[H_INDEX..], u64::MAX - 3)),
        ),
        ("resolution", Box::new(|h| h[H_RES] = 0)),
    ];
    for (what, edit) in edits {
        let d = reseal_header(b.clone(), edit);
        assert!(detected(&d), "{what}");
    }
    let v4 = reseal_header(b.clone(), |h| LittleEndian::write_u16(&mut h[4..6], 5));
    assert_eq!(
        SegmentView::open(&v4).unwrap_err().kind,
        CorruptionKind::UnsupportedVersion {
            found: 5,
            min: 1,
            max: 4
        }
    );
}

#[test]
fn hostile_group_bytes_with_valid_crcs_never_panic() {
    // Rewrite one group with arbitrary bytes and fix both CRCs, so the
    // decoder's structural checks (not the CRC) must reject it.
    let b = encode_segment(Resolution::Minute, 3, small());
    let s = SegmentView::open(&b).unwrap();
    let e = s.entry(0).unwrap();
    let (off, len) = (e.offset as usize, e.len as usize);
    let mut rng = trendlog_workload::SplitMix64(0x9E37_79B9_7F4A_7C15);
    for round in 0..2000 {
        let mut d = b.clone();
        for byte in &mut d[off..off + len] {
            let r = rng.next_u64();
            if round % 2 == 0 || r.is_multiple_of(8) {
                *byte = (r >> 24) as u8;
            }
        }
        let crc = crc32(&d[off..off + len]);
        let idx = s.index_offset as usize;
        LittleEndian::write_u32(&mut d[idx + 24..idx + 28], crc);
        let footer = d.len() - FOOTER_LEN;
        let icrc = crc32(&d[idx..footer]);
        LittleEndian::write_u32(&mut d[footer..footer + 4], icrc);
        let v = SegmentView::open(&d).unwrap();
        let _ = v.verify();
        let _ = v.tag_cells(e.first_tag, &mut Vec::new());
        let _ = v.for_each_cell(|_, _, _| {});
    }
}

/// A realistic sample: one hour of minutes, 50,000 tags each seen at least
/// once plus Zipf-distributed events, 150,000 cells.
#[test]
fn bytes_per_cell_on_a_zipf_hour() {
    let mut rng = trendlog_workload::SplitMix64(0x0123_4567_89AB_CDEF);
    let mut next = move || rng.next_u64();
    const TAGS: usize = 50_000;
    let mut cum = Vec::with_capacity(TAGS);
    let mut acc = 0.0f64;
    for r in 0..TAGS {
        acc += 1.0 / ((r + 1) as f64).powf(1.1);
        cum.push(acc);
    }
    // Rank -> tag id: a shuffled subset of a 120,000-entry dictionary.
    let mut ids: Vec<u32> = (0..120_000).collect();
    for i in (1..ids.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        ids.swap(i, j);
    }
    let mut map = std::collections::HashMap::new();
    let base = 29_000_000u32;
    // Every tag is seen at least once in the hour, the rest is Zipf.
    for &id in &ids[..TAGS] {
        let minute = base + (next() % 60) as u32;
        map.insert((id, minute), 1u64);
    }
    while map.len() < 150_000 {
        let u = (next() >> 11) as f64 / (1u64 << 53) as f64 * acc;
        let r = cum.partition_point(|&c| c < u).min(TAGS - 1);
        let minute = base + (next() % 60) as u32;
        *map.entry((ids[r], minute)).or_insert(0u64) += 1;
    }
    let mut cells: Vec<_> = map.into_iter().map(|((t, m), c)| (t, m, c)).collect();
    cells.sort_unstable();
    let bytes = encode_segment(Resolution::Minute, 1, cells.iter().copied());
    let s = SegmentView::open(&bytes).unwrap();
    s.verify().unwrap();
    let m = s.meta();
    let per_cell = bytes.len() as f64 / cells.len() as f64;
    println!(
        "zipf hour: {} tags, {} cells, {} events, {} groups, {} bytes = {:.3} bytes/cell",
        m.tag_count,
        m.cell_count,
        m.total,
        s.group_count(),
        bytes.len(),
        per_cell
    );
    assert!(per_cell <= 3.0, "{per_cell} bytes per cell");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn prop_round_trip(
        raw in proptest::collection::btree_map(
            (0u32..5000, 0u32..3000),
            prop_oneof![Just(1u64), 1u64..300, Just(u64::MAX / 4096)],
            0..600,
        ),
        hour in any::<bool>(),
    ) {
        let cells: Vec<_> = raw.into_iter().map(|((t, m), c)| (t, m + 1_000_000, c)).collect();
        let res = if hour { Resolution::Hour } else { Resolution::Minute };
        check_round_trip(&cells, res);
    }
}

/// A segment with the optional tag totals section.
fn encode_with_totals(cells: &[(u32, u32, u64)]) -> Vec<u8> {
    let mut b = SegmentBuilder::new(Resolution::Minute, 1).with_tag_totals(true);
    for &(t, m, c) in cells {
        b.push(t, m, c).unwrap();
    }
    b.finish()
}

#[test]
fn segments_are_written_without_totals_by_default() {
    let b = encode_segment(Resolution::Minute, 1, (0..100u32).map(|i| (i, 5, 1)));
    let s = SegmentView::open(&b[..]).unwrap();
    assert!(s.stored_totals.is_none());
    assert_eq!(s.tag_totals().unwrap(), &s.compute_totals().unwrap());
}

#[test]
fn stored_totals_equal_the_cells_and_damage_to_them_is_caught() {
    let cells: Vec<_> = (0..3000u32)
        .map(|i| (i / 7 * 3, i % 7 * 5, u64::from(i % 13) + 1))
        .collect();
    let b = encode_with_totals(&cells);
    let s = SegmentView::open(&b[..]).unwrap();
    assert_eq!(s.tag_totals().unwrap(), &s.compute_totals().unwrap());
    s.verify().unwrap();
    let (start, end) = s.stored_totals.unwrap();
    for at in start..end + 8 {
        let mut d = b.clone();
        d[at] ^= 0x10;
        // Opening reads the trailer's length only; the CRC is checked on use.
        if let Ok(v) = SegmentView::open(&d[..]) {
            assert!(
                v.tag_totals().is_err() || at < end && v.verify().is_err(),
                "{at}"
            );
        }
    }
}

#[test]
fn stored_totals_stream_alike_with_one_byte_and_longer_pairs() {
    // Tag steps and totals on both sides of one varint byte (127 / 128),
    // and a total of many bytes.
    let mut cells = Vec::new();
    let mut tag = 0u32;
    for i in 0..2000u32 {
        tag += [1, 2, 127, 128, 300][i as usize % 5];
        let count = [1u64, 127, 128, 129, 1 << 40][i as usize % 7 % 5];
        cells.push((tag, i % 60, count));
    }
    let b = encode_with_totals(&cells);
    let s = SegmentView::open(&b[..]).unwrap();
    assert!(s.stored_totals.is_some());
    let want: Vec<(u32, u64)> = cells.iter().map(|&(t, _, c)| (t, c)).collect();
    // The first call streams the section, the second keeps it, the third
    // reads what was kept: all three see every tag's total.
    for _ in 0..3 {
        let mut got = Vec::new();
        s.for_each_tag_total(|t, c| got.push((t, c))).unwrap();
        assert_eq!(got, want);
    }
}

#[test]
fn a_version_1_segment_without_totals_computes_them() {
    let cells: Vec<_> = (0..500u32).map(|i| (i / 3, i % 3, 2)).collect();
    let v2 = encode_with_totals(&cells);
    let want = SegmentView::open(&v2[..])
        .unwrap()
        .tag_totals()
        .unwrap()
        .clone();
    // Rewrite as version 1: no flag, no section, the index moved down.
    let s = SegmentView::open(&v2[..]).unwrap();
    let (start, end) = s.stored_totals.unwrap();
    let mut v1 = v2[..start].to_vec();
    v1.extend_from_slice(&v2[end + TOTALS_TRAILER_LEN..]);
    let index_offset = start as u64;
    LittleEndian::write_u64(&mut v1[48..], index_offset);
    v1[4] = 1;
    v1[7] = 0;
    let crc = crc32(&v1[..SEGMENT_HEADER_LEN - 4]);
    LittleEndian::write_u32(&mut v1[SEGMENT_HEADER_LEN - 4..], crc);
    let old = SegmentView::open(&v1[..]).unwrap();
    assert!(old.stored_totals.is_none());
    assert_eq!(old.tag_totals().unwrap(), &want);
    old.verify().unwrap();
    // A version-1 header may not claim the totals flag.
    v1[7] = FLAG_TOTALS;
    let crc = crc32(&v1[..SEGMENT_HEADER_LEN - 4]);
    LittleEndian::write_u32(&mut v1[SEGMENT_HEADER_LEN - 4..], crc);
    assert!(SegmentView::open(&v1[..]).is_err());
}
