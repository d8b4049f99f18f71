//! Damage to any file of a real store — flipped bytes, truncation, zeroed
//! sectors, segments swapped between stores, hostile symlinks and names —
//! never makes `Store::open`, `Store::open_read_only`, `verify::verify` or a
//! query panic or return a wrong count: each either answers exactly as the
//! undamaged store does, or returns `Error::Corrupted` (or refuses a hostile
//! file with an I/O error that names it).
//!
//! One class of damage cannot be told apart from a crash: damage inside the
//! LAST block of the active log (or the last dictionary entry), with nothing
//! valid after it, looks exactly like a write torn by power loss, which the
//! format must cut to recover (as SQLite's WAL and RocksDB's default WAL
//! recovery do). Those outcomes are tallied separately and accepted only when
//! the store then holds exactly the batches before the damaged block AND
//! reports the cut in its `RecoveryReport`; any other change is a failure.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{stress, Rng, T0, TAGS};
use trendlog::time::{Step, TimeRange};
use trendlog::{verify, Error, Options, Store, SyncPolicy};

/// Tracks the largest single allocation, to catch length fields that claim
/// huge sizes.
struct MaxAlloc;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only records the size.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for MaxAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LARGEST.fetch_max(n, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: MaxAlloc = MaxAlloc;

const LOG_BATCHES: usize = 4;

fn opts() -> Options {
    Options::default()
        .sync_policy(SyncPolicy::Manual)
        .background_compaction(false)
        .minute_retention(Some(Duration::from_secs(3600)))
        .seal_cells(1_000_000)
        .seal_after(Duration::from_secs(86_400))
        .log_file_bytes(4096)
}

type Files = BTreeMap<String, Vec<u8>>;

/// Builds the known-good store: five sealed hours, a compaction (an hourly
/// segment), then `log_batches` batches left in the active log. The last
/// batches introduce a tag ("storm") that no segment names.
fn build(dir: &Path, seed: u64, log_batches: usize) -> Files {
    let store = Store::open(dir, opts()).unwrap();
    let mut rng = Rng(seed);
    for h in 0..5i64 {
        for _ in 0..6 {
            let mut b = store.batch();
            for _ in 0..5 {
                let t = rng.below(4) as usize;
                b.add(
                    TAGS[t],
                    T0 + h * 3600 + rng.below(3600) as i64,
                    1 + rng.below(9),
                )
                .unwrap();
            }
            b.commit().unwrap();
        }
        store.seal().unwrap();
        if h == 3 {
            store.compact().unwrap();
        }
    }
    store.compact().unwrap();
    for i in 0..log_batches {
        let mut b = store.batch();
        for _ in 0..3 {
            let t = if i >= 2 { 5 } else { rng.below(5) as usize };
            b.add(
                TAGS[t],
                T0 + 5 * 3600 + rng.below(1800) as i64,
                1 + rng.below(9),
            )
            .unwrap();
        }
        b.set_source_position(vec![i as u8; 3]).unwrap();
        b.commit().unwrap();
    }
    store.close().unwrap();
    read_dir(dir)
}

fn read_dir(dir: &Path) -> Files {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn write_dir(dir: &Path, files: &Files) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Everything the queries say about the store.
type Print = String;

fn fingerprint(store: &Store) -> Result<Print, Error> {
    let snap = store.snapshot();
    let all = TimeRange::new(T0 - 86_400, T0 + 2 * 86_400)?;
    let minutes = TimeRange::new(T0 + 4 * 3600, T0 + 6 * 3600)?;
    let mut out = String::new();
    for tag in TAGS {
        let h = snap.series(tag, all, Step::Hour)?;
        let m = snap.series(tag, minutes, Step::Minute)?;
        let total = snap.total(tag, all)?;
        assert_eq!(h.total, total);
        let nz = |p: &[(i64, u64)]| -> Vec<(i64, u64)> {
            p.iter().copied().filter(|x| x.1 > 0).collect()
        };
        out += &format!("{tag}: {total} {:?} {:?}\n", nz(&h.points), nz(&m.points));
    }
    let top: Vec<(String, u64)> = snap
        .top(all, 10)?
        .into_iter()
        .map(|r| (r.tag, r.count))
        .collect();
    out += &format!("top {top:?}\n");
    Ok(out)
}

#[derive(Default)]
struct Tally {
    mutations: u64,
    intact: u64,
    detected: u64,
    torn_tail_cut: u64,
    refused_io: u64,
    failures: Vec<String>,
}

struct Ctx {
    good: Files,
    /// `alts[j]`: the fingerprint with only the first `j` log batches.
    alts: Vec<Print>,
    dir: PathBuf,
    tally: Tally,
}

impl Ctx {
    fn judge(&mut self, what: &str, path: &str, r: Result<Store, Error>) {
        let verdict = catch_unwind(AssertUnwindSafe(|| match r {
            Ok(store) => match fingerprint(&store) {
                Ok(p) if p == self.alts[LOG_BATCHES] => Ok(0),
                Ok(p) => match self.alts.iter().position(|a| *a == p) {
                    Some(j) if !store.recovery().is_clean() => Ok(j as u64 + 1),
                    Some(j) => Err(format!(
                        "{path}: holds {j} of {LOG_BATCHES} log batches and reported no repair"
                    )),
                    None => Err(format!("{path}: WRONG COUNTS:\n{p}")),
                },
                Err(Error::Corrupted(_)) => Ok(u64::MAX),
                Err(e) => Err(format!(
                    "{path}: query failed with a non-corruption error: {e}"
                )),
            },
            Err(Error::Corrupted(_)) => Ok(u64::MAX),
            Err(e) => Err(format!(
                "{path}: open failed with a non-corruption error: {e:?}"
            )),
        }));
        match verdict {
            Ok(Ok(0)) => self.tally.intact += 1,
            Ok(Ok(u64::MAX)) => self.tally.detected += 1,
            Ok(Ok(_)) => self.tally.torn_tail_cut += 1,
            Ok(Err(msg)) => self.tally.failures.push(format!("{what}: {msg}")),
            Err(_) => self.tally.failures.push(format!("{what}: {path} PANICKED")),
        }
    }

    /// Applies `files`, then opens read-only (when `ro`), verifies, opens for writing.
    fn trial(&mut self, what: &str, files: &Files, ro: bool) {
        self.tally.mutations += 1;
        write_dir(&self.dir, files);
        let dir = self.dir.clone();
        if ro {
            let r = catch_unwind(|| Store::open_read_only_with(&dir, opts()));
            match r {
                Ok(r) => self.judge(what, "open_read_only", r),
                Err(_) => self
                    .tally
                    .failures
                    .push(format!("{what}: open_read_only PANICKED")),
            }
        }
        let v = catch_unwind(|| verify::verify(&dir, &opts()));
        let verify_clean = match v {
            Ok(Ok(rep)) => rep.is_clean(),
            Ok(Err(Error::Corrupted(_))) => false,
            Ok(Err(e)) => {
                self.tally
                    .failures
                    .push(format!("{what}: verify failed: {e}"));
                false
            }
            Err(_) => {
                self.tally.failures.push(format!("{what}: verify PANICKED"));
                false
            }
        };
        let before = self.tally.detected;
        let r = catch_unwind(|| Store::open(&dir, opts()));
        match r {
            Ok(r) => self.judge(what, "open", r),
            Err(_) => self.tally.failures.push(format!("{what}: open PANICKED")),
        }
        if verify_clean && self.tally.detected > before {
            // verify said clean but the store found damage: verify missed it.
            self.tally.failures.push(format!(
                "{what}: verify reported clean but open found corruption"
            ));
        }
    }
}

fn setup() -> Ctx {
    let base = tempfile::tempdir_in(shm()).unwrap();
    let mut alts = Vec::new();
    let mut good = Files::new();
    for j in 0..=LOG_BATCHES {
        let d = base.path().join(format!("alt{j}"));
        let files = build(&d, 1, j);
        let s = Store::open_read_only_with(&d, opts()).unwrap();
        alts.push(fingerprint(&s).unwrap());
        if j == LOG_BATCHES {
            good = files;
        }
    }
    for w in alts.windows(2) {
        assert_ne!(w[0], w[1]);
    }
    let dir = base.path().join("victim");
    std::fs::create_dir(&dir).unwrap();
    std::mem::forget(base);
    Ctx {
        good,
        alts,
        dir,
        tally: Tally::default(),
    }
}

fn shm() -> &'static str {
    if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    }
}

fn finish(name: &str, ctx: &Ctx, t: Instant) {
    let t2 = &ctx.tally;
    eprintln!(
        "corruption_sweep {name}: {} mutations -> {} intact, {} detected (Error::Corrupted), \
         {} cut as a torn tail (reported), {} refused with I/O errors; {} failures; {:.1?}",
        t2.mutations,
        t2.intact,
        t2.detected,
        t2.torn_tail_cut,
        t2.refused_io,
        t2.failures.len(),
        t.elapsed()
    );
    let shown: Vec<&String> = t2.failures.iter().take(25).collect();
    assert!(
        t2.failures.is_empty(),
        "{} failures, first ones:\n{shown:#?}",
        t2.failures.len()
    );
}

#[test]
fn flipped_bytes() {
    let t = Instant::now();
    let mut ctx = setup();
    let names: Vec<String> = ctx.good.keys().filter(|&n| n != "LOCK").cloned().collect();
    eprintln!(
        "store files: {:?}",
        ctx.good
            .iter()
            .map(|(n, b)| (n, b.len()))
            .collect::<Vec<_>>()
    );
    let per_file = (5200 * stress() as usize).div_ceil(names.len());
    let mut rng = Rng(9);
    let mut n = 0u64;
    for name in &names {
        let len = ctx.good[name].len();
        // Stratified: every byte of files up to the budget (the store's files
        // are small), else evenly spaced strata with one random byte in
        // each, plus every byte of the first 256 (headers).
        let positions: Vec<usize> = if len <= per_file.max(4096) {
            (0..len).collect()
        } else {
            let mut v: Vec<usize> = (0..256.min(len)).collect();
            let strata = per_file - v.len();
            for s in 0..strata {
                let lo = 256 + s * (len - 256) / strata;
                let hi = 256 + (s + 1) * (len - 256) / strata;
                v.push(lo + rng.below((hi - lo).max(1) as u64) as usize);
            }
            v
        };
        for pos in positions {
            let mut files = ctx.good.clone();
            let bit = rng.below(8);
            files.get_mut(name).unwrap()[pos] ^= 1 << bit;
            n += 1;
            ctx.trial(
                &format!("flip {name}[{pos}] bit {bit}"),
                &files,
                n.is_multiple_of(16),
            );
        }
    }
    finish("flips", &ctx, t);
}

#[test]
fn truncations_and_zeroed_sectors() {
    let t = Instant::now();
    let mut ctx = setup();
    let names: Vec<String> = ctx.good.keys().filter(|&n| n != "LOCK").cloned().collect();
    let mut n = 0u64;
    for name in &names {
        let len = ctx.good[name].len();
        let step = (len / 120).max(1);
        let cuts: Vec<usize> = (0..len)
            .step_by(step)
            .chain([len.saturating_sub(1)])
            .collect();
        for cut in cuts {
            let mut files = ctx.good.clone();
            files.get_mut(name).unwrap().truncate(cut);
            n += 1;
            ctx.trial(
                &format!("truncate {name} to {cut}"),
                &files,
                n.is_multiple_of(8),
            );
        }
        for sector in 0..len.div_ceil(512) {
            let mut files = ctx.good.clone();
            let f = files.get_mut(name).unwrap();
            let end = (sector * 512 + 512).min(len);
            f[sector * 512..end].fill(0);
            n += 1;
            ctx.trial(&format!("zero {name} sector {sector}"), &files, true);
        }
        // A missing file.
        let mut files = ctx.good.clone();
        files.remove(name);
        ctx.tally.mutations += 1;
        write_dir(&ctx.dir, &files);
        match catch_unwind(|| Store::open(&ctx.dir, opts())) {
            Ok(Err(Error::Corrupted(_))) => ctx.tally.detected += 1,
            Ok(Err(Error::Io { .. })) => ctx.tally.refused_io += 1,
            // The dictionary index is derived data: without it, open reads
            // the whole dictionary (as for a version-1 store), exactly.
            Ok(Ok(s))
                if name == "tags.idx"
                    && fingerprint(&s).ok().as_ref() == Some(&ctx.alts[LOG_BATCHES]) =>
            {
                ctx.tally.intact += 1
            }
            Ok(Ok(s)) => ctx.tally.failures.push(format!(
                "open succeeded without {name}: {:?}",
                fingerprint(&s).ok().map(|p| p == ctx.alts[LOG_BATCHES])
            )),
            Ok(Err(e)) => ctx.tally.failures.push(format!("missing {name}: {e}")),
            Err(_) => ctx.tally.failures.push(format!("missing {name}: PANICKED")),
        }
    }
    finish("truncations and zeroed sectors", &ctx, t);
}

/// Files swapped between two stores built the same way (same names, same
/// ids, different counts), and between files of one store. A file of the
/// other store must always be refused: every file carries the store id, and
/// open checks it against the manifest.
fn swaps() -> Ctx {
    let mut ctx = setup();
    let other_dir = tempfile::tempdir_in(shm()).unwrap();
    let other = build(other_dir.path(), 2, LOG_BATCHES);
    let names: Vec<String> = ctx.good.keys().filter(|&n| n != "LOCK").cloned().collect();
    for name in &names {
        if let Some(theirs) = other.get(name) {
            let mut files = ctx.good.clone();
            files.insert(name.clone(), theirs.clone());
            let before = ctx.tally.detected;
            ctx.trial(&format!("swap in the other store's {name}"), &files, true);
            if ctx.tally.detected == before {
                ctx.tally
                    .failures
                    .push(format!("the other store's {name} was not refused"));
            }
        }
        for other_name in &names {
            if other_name != name {
                let mut files = ctx.good.clone();
                files.insert(name.clone(), ctx.good[other_name].clone());
                ctx.trial(&format!("{name} replaced by {other_name}"), &files, false);
            }
        }
    }
    ctx
}

#[test]
fn files_swapped_between_stores_and_within_one() {
    let t = Instant::now();
    let ctx = swaps();
    finish("file swaps", &ctx, t);
}

#[test]
fn huge_length_fields_do_not_allocate_hugely() {
    let mut ctx = setup();
    let m = ctx.good["MANIFEST"].clone();
    for count in [u32::MAX, 1 << 31, 1 << 20] {
        let mut bad = m.clone();
        bad[72..76].copy_from_slice(&count.to_le_bytes());
        let crc_at = bad.len() - 4;
        let crc = trendlog::format::crc32(&bad[..crc_at]);
        bad[crc_at..].copy_from_slice(&crc.to_le_bytes());
        let mut files = ctx.good.clone();
        files.insert("MANIFEST".into(), bad);
        LARGEST.store(0, Ordering::Relaxed);
        ctx.trial(&format!("manifest claiming {count} segments"), &files, true);
        let big = LARGEST.load(Ordering::Relaxed);
        assert!(
            big < 16 << 20,
            "a manifest claiming {count} segments allocated {big} bytes"
        );
    }
    // Every u32/u64-looking field of every file set to huge values.
    let mut worst = 0;
    for name in ctx.good.keys().cloned().collect::<Vec<_>>() {
        if name == "LOCK" {
            continue;
        }
        let len = ctx.good[&name].len().min(512);
        for at in (0..len.saturating_sub(4)).step_by(4) {
            for v in [u32::MAX, 0x8000_0000] {
                let mut files = ctx.good.clone();
                files.get_mut(&name).unwrap()[at..at + 4].copy_from_slice(&v.to_le_bytes());
                LARGEST.store(0, Ordering::Relaxed);
                ctx.trial(&format!("{name}[{at}..+4] = {v:#x}"), &files, false);
                worst = worst.max(LARGEST.load(Ordering::Relaxed));
            }
        }
    }
    eprintln!("huge length fields: largest single allocation {worst} bytes");
    assert!(
        worst < 16 << 20,
        "a huge length field allocated {worst} bytes"
    );
    finish("huge length fields", &ctx, Instant::now());
}

#[test]
fn hostile_directories_touch_nothing_outside() {
    use std::os::unix::fs::symlink;
    let ctx = setup();
    let outside = tempfile::tempdir_in(shm()).unwrap();
    let seg_name = ctx
        .good
        .keys()
        .find(|n| n.starts_with("seg-"))
        .unwrap()
        .clone();
    let snapshot_outside = |p: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let mut cases = 0;
    // Each store file replaced by a symlink to a copy outside the store.
    for name in ctx.good.keys() {
        let mut files = ctx.good.clone();
        let bytes = files.remove(name).unwrap();
        write_dir(&ctx.dir, &files);
        let target = outside.path().join(format!("copy-{name}"));
        std::fs::write(&target, &bytes).unwrap();
        symlink(&target, ctx.dir.join(name)).unwrap();
        let before = snapshot_outside(outside.path());
        let w = Store::open(&ctx.dir, opts());
        let r = Store::open_read_only_with(&ctx.dir, opts());
        let v = verify::verify(&ctx.dir, &opts());
        assert!(w.is_err(), "open followed a symlinked {name}");
        if name != "LOCK" {
            // (Read-only opens and verify never touch LOCK.)
            assert!(r.is_err(), "read-only open followed a symlinked {name}");
            assert!(
                v.as_ref().map_or(true, |rep| !rep.is_clean()),
                "verify followed a symlinked {name}"
            );
        }
        assert_eq!(
            before,
            snapshot_outside(outside.path()),
            "{name}: a file outside changed"
        );
        assert!(
            ctx.dir.join(name).is_symlink(),
            "{name}: the symlink was replaced"
        );
        cases += 1;
    }
    // Each store file replaced by a FIFO: every open refuses it at once
    // (opening a FIFO to read waits for a writer; a store never does).
    for name in ctx.good.keys() {
        let mut files = ctx.good.clone();
        files.remove(name);
        write_dir(&ctx.dir, &files);
        let fifo = ctx.dir.join(name);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo {name}");
        let dir = ctx.dir.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let w = Store::open(&dir, opts()).is_err();
            let r = Store::open_read_only_with(&dir, opts()).is_err();
            let v = verify::verify(&dir, &opts()).map_or(true, |rep| !rep.is_clean());
            let _ = tx.send((w, r, v));
        });
        let (w, r, v) = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("a FIFO named {name} made an open wait"));
        assert!(w, "open took a FIFO named {name}");
        if name != "LOCK" {
            assert!(r && v, "a read took a FIFO named {name}");
        }
        cases += 1;
    }
    // A LOCK symlink to a path outside that does not exist: must not be created.
    let mut files = ctx.good.clone();
    files.remove("LOCK");
    write_dir(&ctx.dir, &files);
    let ghost = outside.path().join("ghost");
    symlink(&ghost, ctx.dir.join("LOCK")).unwrap();
    assert!(Store::open(&ctx.dir, opts()).is_err());
    assert!(
        !ghost.exists(),
        "open created a file through the LOCK symlink"
    );
    cases += 1;
    // Names that look like store files but are not; an orphan "segment" that is
    // a symlink to a file outside (removing it must remove the link only);
    // a directory with a segment's name.
    let mut files = ctx.good.clone();
    for n in [
        "seg-..",
        "seg-../x",
        "..",
        "log-..log",
        "seg-0000000000000001.min.bak",
        "MANIFEST~",
    ] {
        if !n.contains('/') && n != ".." {
            files.insert(n.to_string(), b"junk".to_vec());
        }
    }
    write_dir(&ctx.dir, &files);
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    symlink(&victim, ctx.dir.join("seg-00000000000000ff.min")).unwrap();
    symlink(&victim, ctx.dir.join("log-00000000000000fe.log")).unwrap();
    symlink(outside.path(), ctx.dir.join("seg-00000000000000fd.hour")).unwrap();
    let s = Store::open(&ctx.dir, opts()).expect("junk names and orphan links do not stop an open");
    assert_eq!(fingerprint(&s).unwrap(), ctx.alts[LOG_BATCHES]);
    drop(s);
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "a file outside was changed"
    );
    assert!(outside.path().is_dir());
    for n in ["seg-..", "seg-0000000000000001.min.bak", "MANIFEST~"] {
        assert!(
            ctx.dir.join(n).exists(),
            "{n}: a file the store does not own was removed"
        );
    }
    cases += 1;
    // A directory where a live segment should be.
    let mut files = ctx.good.clone();
    files.remove(&seg_name);
    write_dir(&ctx.dir, &files);
    std::fs::create_dir(ctx.dir.join(&seg_name)).unwrap();
    assert!(Store::open(&ctx.dir, opts()).is_err());
    assert!(Store::open_read_only_with(&ctx.dir, opts()).is_err());
    cases += 1;
    eprintln!("hostile directories: {cases} cases refused, nothing outside read or written");
}
