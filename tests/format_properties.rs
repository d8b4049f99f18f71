//! On files a real store wrote (not synthetic ones): every truncation of a log
//! or dictionary yields exactly the whole blocks (entries) before the cut;
//! every single-bit flip in a 4 KiB region of any file is detected (the scan
//! or decode differs, and never yields a block whose cells changed); an
//! all-zero tail is the clean end of a log; every truncation of a manifest or
//! a segment is refused.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Rng, T0, TAGS};
use trendlog::format::dict::scan_dict;
use trendlog::format::log::{decode_block, scan_log};
use trendlog::format::manifest::decode_manifest;
use trendlog::format::scan::ScanEnd;
use trendlog::format::segment::SegmentView;
use trendlog::{Options, Store, SyncPolicy};
use trendlog_testkit::sim::SimFs;

/// The files of a store with sealed minute and hour segments and a log
/// holding many blocks, as the store wrote them.
fn real_files() -> Vec<(PathBuf, Vec<u8>)> {
    let fs = SimFs::new();
    let opts = Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3600)))
        .seal_cells(1_000_000)
        .seal_after(Duration::from_secs(86_400))
        .log_file_bytes(8192)
        .vfs(Arc::new(fs.clone()));
    let store = Store::open("/db", opts).unwrap();
    let mut rng = Rng(5);
    for h in 0..4i64 {
        for _ in 0..10 {
            let mut b = store.batch();
            for _ in 0..1 + rng.below(6) {
                b.add(
                    TAGS[rng.below(6) as usize],
                    T0 + h * 3600 + rng.below(3600) as i64,
                    1 + rng.below(50),
                )
                .unwrap();
            }
            if rng.chance(30) {
                b.set_source_position(vec![7; rng.below(20) as usize])
                    .unwrap();
            }
            b.commit().unwrap();
        }
        store.seal().unwrap();
    }
    store.compact().unwrap();
    for i in 0..40 {
        let mut b = store.batch();
        for _ in 0..1 + rng.below(6) {
            b.add(
                &format!("late{}", rng.below(30)),
                T0 + 4 * 3600 + i * 60,
                1 + rng.below(9),
            )
            .unwrap();
        }
        b.commit().unwrap();
    }
    store.close().unwrap();
    fs.paths()
        .into_iter()
        .map(|p| {
            let b = fs.contents(&p).unwrap();
            (p, b)
        })
        .collect()
}

fn file(files: &[(PathBuf, Vec<u8>)], pred: impl Fn(&str) -> bool) -> &[u8] {
    &files
        .iter()
        .find(|(p, _)| pred(p.file_name().unwrap().to_str().unwrap()))
        .expect("a file of that kind")
        .1
}

fn name_of(p: &Path) -> &str {
    p.file_name().unwrap().to_str().unwrap()
}

#[test]
fn log_truncation_zero_tail_and_bit_flips() {
    let t = Instant::now();
    let files = real_files();
    let log = file(&files, |n| n.starts_with("log-"));
    let full = scan_log(log);
    assert_eq!(full.end, ScanEnd::Clean);
    assert!(
        full.blocks.len() >= 30,
        "want many blocks, got {}",
        full.blocks.len()
    );
    let valid_end = full.valid_end as usize;
    let mut cuts = 0;
    for cut in 0..=log.len() {
        let whole: Vec<(u64, u32)> = full
            .blocks
            .iter()
            .copied()
            .filter(|&(o, l)| o as usize + l as usize <= cut)
            .collect();
        // Truncated file.
        let s = scan_log(&log[..cut]);
        assert_eq!(s.blocks, whole, "truncated at {cut}");
        assert!(
            !matches!(s.end, ScanEnd::Corrupt(_)),
            "truncated at {cut}: {:?}",
            s.end
        );
        // Preallocated file whose tail from `cut` is still zero: a block
        // survives when every byte it has past `cut` was zero anyway (its
        // padding).
        let mut z = log.to_vec();
        z[cut..].fill(0);
        let s = scan_log(&z);
        let survivors: Vec<(u64, u32)> = full
            .blocks
            .iter()
            .copied()
            .filter(|&(o, l)| {
                let (o, end) = (o as usize, o as usize + l as usize);
                o < cut && log[cut.min(end)..end].iter().all(|&b| b == 0)
            })
            .collect();
        assert_eq!(s.blocks, survivors, "zero tail from {cut}");
        let at_boundary = cut >= valid_end
            || whole
                .last()
                .map_or(cut == 64, |&(o, l)| o as usize + l as usize == cut);
        if at_boundary && cut >= 64 {
            assert_eq!(s.end, ScanEnd::Clean, "zero tail from block boundary {cut}");
        } else {
            assert!(
                !matches!(s.end, ScanEnd::Corrupt(_)),
                "zero tail from {cut}: {:?}",
                s.end
            );
        }
        cuts += 1;
    }
    // Every bit of the first 4 KiB.
    let region = log.len().min(4096);
    let mut flips = 0;
    for byte in 0..region {
        for bit in 0..8 {
            let mut f = log.to_vec();
            f[byte] ^= 1 << bit;
            let s = scan_log(&f);
            assert_ne!(s, full, "flip of bit {bit} at {byte} went unnoticed");
            for &(o, _) in &s.blocks {
                let a = decode_block(&f[o as usize..]).unwrap().to_cells();
                let b = decode_block(&log[o as usize..]).map(|b| b.to_cells());
                assert_eq!(
                    Ok(a),
                    b,
                    "flip at {byte}: a block decodes to different cells"
                );
            }
            flips += 1;
        }
    }
    eprintln!(
        "format_properties log ({} bytes, {} blocks): {cuts} truncations, {cuts} zero tails, \
         {flips} bit flips, all as specified, {:.1?}",
        log.len(),
        full.blocks.len(),
        t.elapsed()
    );
}

#[test]
fn dict_truncation_and_bit_flips() {
    let files = real_files();
    let dict = file(&files, |n| n == "tags.dict");
    let full = scan_dict(dict);
    assert_eq!(full.end, ScanEnd::Clean);
    let n = full.entries.len();
    assert!(n >= 30);
    // Entry ends, from a scan of each prefix of the whole file.
    let mut cuts = 0;
    let mut prev = 0;
    for cut in 0..=dict.len() {
        let s = scan_dict(&dict[..cut]);
        assert!(
            !matches!(s.end, ScanEnd::Corrupt(_)),
            "cut {cut}: {:?}",
            s.end
        );
        assert_eq!(s.entries[..], full.entries[..s.entries.len()], "cut {cut}");
        assert!(
            s.entries.len() >= prev,
            "cut {cut}: fewer entries than a shorter cut"
        );
        assert!((s.valid_end as usize) <= cut);
        prev = s.entries.len();
        cuts += 1;
    }
    assert_eq!(prev, n);
    let mut flips = 0;
    for byte in 0..dict.len().min(4096) {
        for bit in 0..8 {
            let mut f = dict.to_vec();
            f[byte] ^= 1 << bit;
            let s = scan_dict(&f);
            let same = s.header.is_ok() && s.end == ScanEnd::Clean && s.entries == full.entries;
            assert!(!same, "dict flip of bit {bit} at {byte} went unnoticed");
            for (i, e) in s.entries.iter().enumerate() {
                assert_eq!(*e, full.entries[i], "flip at {byte}: entry {i} changed");
            }
            flips += 1;
        }
    }
    eprintln!(
        "format_properties dict ({} bytes, {n} entries): {cuts} truncations, {flips} bit flips",
        dict.len()
    );
}

#[test]
fn manifest_and_segments_refuse_every_cut_and_flip() {
    let t = Instant::now();
    let files = real_files();
    let mut flips = 0;
    let mut cuts = 0;
    let m = file(&files, |n| n == "MANIFEST");
    let good = decode_manifest(m).unwrap();
    assert!(good.segments.len() >= 2);
    for cut in 0..m.len() {
        assert!(
            decode_manifest(&m[..cut]).is_err(),
            "manifest cut at {cut} accepted"
        );
        cuts += 1;
    }
    for byte in 0..m.len().min(4096) {
        for bit in 0..8 {
            let mut f = m.to_vec();
            f[byte] ^= 1 << bit;
            assert!(
                decode_manifest(&f).is_err(),
                "manifest flip at {byte} bit {bit} accepted"
            );
            flips += 1;
        }
    }
    let mut segs = 0;
    for (p, bytes) in files.iter().filter(|(p, _)| name_of(p).starts_with("seg-")) {
        segs += 1;
        let ok = |b: &[u8]| {
            SegmentView::open(b)
                .and_then(|v| v.verify().map(|_| v))
                .is_ok()
        };
        assert!(ok(bytes), "{}", p.display());
        for cut in 0..bytes.len() {
            assert!(!ok(&bytes[..cut]), "{} cut at {cut} accepted", p.display());
            cuts += 1;
        }
        // 4 KiB regions: the start and the end (index and footer).
        let mut region: Vec<usize> = (0..bytes.len().min(4096)).collect();
        region.extend(bytes.len().saturating_sub(4096).max(4096)..bytes.len());
        for byte in region {
            for bit in 0..8 {
                let mut f = bytes.clone();
                f[byte] ^= 1 << bit;
                assert!(!ok(&f), "{} flip at {byte} bit {bit} accepted", p.display());
                flips += 1;
            }
        }
    }
    eprintln!(
        "format_properties manifest + {segs} segments: {cuts} truncations and {flips} bit flips, \
         all refused, {:.1?}",
        t.elapsed()
    );
}

/// A flipped segment that still opens (before `verify`) must never answer
/// with counts different from the original's: the lazy read path checks each
/// group it touches.
#[test]
fn segment_flips_never_change_a_lazy_read() {
    let files = real_files();
    let mut rng = Rng(77);
    let mut checked = 0;
    for (_, bytes) in files.iter().filter(|(p, _)| name_of(p).starts_with("seg-")) {
        let orig = SegmentView::open(&bytes[..]).unwrap();
        let mut want = Vec::new();
        orig.for_each_cell(|t, m, c| want.push((t, m, c))).unwrap();
        for _ in 0..2000 {
            let mut f = bytes.clone();
            let at = rng.below(f.len() as u64) as usize;
            f[at] ^= 1 << rng.below(8);
            let Ok(v) = SegmentView::open(&f[..]) else {
                continue;
            };
            let mut got = Vec::new();
            if v.for_each_cell(|t, m, c| got.push((t, m, c))).is_ok() {
                assert_eq!(
                    got, want,
                    "flip at {at}: a read returned different cells without an error"
                );
            }
            for tag in 0..8 {
                let mut out = Vec::new();
                if v.tag_cells(tag, &mut out).is_ok() {
                    let exp: Vec<(u32, u64)> = want
                        .iter()
                        .filter(|c| c.0 == tag)
                        .map(|c| (c.1, c.2))
                        .collect();
                    assert_eq!(
                        out, exp,
                        "flip at {at}: tag {tag} read differently without an error"
                    );
                }
            }
            checked += 1;
        }
    }
    eprintln!("format_properties: {checked} flipped segments that still open read exactly or fail");
}
