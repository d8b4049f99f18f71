//! A deterministic, in-memory, fault-injecting file system for crash and
//! I/O-error tests.
//!
//! # Types
//! - [`SimFs`]: a [`Vfs`] held entirely in memory. Cloning it shares the same
//!   disk, so a test keeps one handle while the store owns another.
//! - [`FaultPlan`]: the faults armed on a `SimFs` (crash after N operations,
//!   one-shot errors, a disk capacity). Usually set through the `SimFs` setters
//!   [`SimFs::crash_after`], [`SimFs::fail_next`] and [`SimFs::set_capacity`].
//! - [`OpKind`]: the kinds of operation a one-shot error can target.
//! - [`CrashMode`]: what happens to writes and directory changes that were not
//!   made durable when the power goes out; [`SimFs::crash`] applies one.
//!
//! # The model
//! Every file is an inode holding two images: `durable` (what survives a crash)
//! and `current` (what the process sees), plus the writes since its last
//! [`VFile::sync_data`], in order. A write or an `allocate` changes `current`
//! and joins that list; `sync_data` applies the list to `durable`. Invariant:
//! `current` is `durable` with the unsynced writes applied in order, except
//! after a failed `sync_data` (see below).
//!
//! Names work the same way one level up: the file system keeps a `current` and
//! a `durable` table from path to inode, plus the creates, renames and removes
//! not yet covered by a [`Vfs::sync_dir`]. `sync_dir(d)` makes every pending
//! change that touches `d` durable (both sides of a rename that touches `d`, as
//! a journalling file system commits a rename as one transaction). A file whose
//! creation was never covered by a `sync_dir` vanishes in a crash, even if its
//! data was synced; a rename or remove not followed by `sync_dir` may be
//! undone. Contents follow the inode: a renamed file keeps its durable state.
//!
//! A crash ([`SimFs::crash`]) starts from the durable images and the durable
//! name table and resolves every pending change with a [`CrashMode`] and a
//! seeded PRNG, yielding a new `SimFs` as a freshly started process would see
//! the disk. The old `SimFs` is left as it was, so one run can be crashed
//! several ways.
//!
//! Faults are driven by counting: every mutating operation (`write_all_at`,
//! `allocate`, `sync_data`, `rename`, `remove`, `sync_dir` and creating a file)
//! is numbered from zero ([`SimFs::op_count`]). [`SimFs::crash_after`]`(n)` lets
//! `n` more of them run, then fails the next one and *every* later call
//! (reads included) with "simulated crash": the process is dead. A test runs
//! a workload once to count its operations, then replays it crashing at each
//! index and checks what a reopen finds after each [`CrashMode`].
//!
//! A `sync_data` that fails through [`SimFs::fail_next`] behaves like Linux
//! after a write-back error: the unsynced writes stay visible to the process
//! but are dropped from the path to disk, so a later successful `sync_data`
//! does not make them durable. Retrying a failed fsync is therefore caught.
//!
//! Everything is deterministic: ordered maps only, no clock, no thread RNG;
//! the crash outcome is a pure function of the history and the seed.
//!
//! # Limits
//! - Directories are created durably and at once by [`Vfs::create_dir_all`],
//!   cannot be removed, and are not counted as operations.
//! - Only data (write/allocate) and names (create/rename/remove) are modelled.
//!   There is no metadata-only corruption (a size updated without its data
//!   beyond what [`CrashMode::ZeroLast`] gives, lost xattrs, a bad inode),
//!   no bit rot and no reads that fail on their own (arm [`OpKind::Read`]).
//! - Reordering is limited to what [`CrashMode::KeepSome`] gives: each pending
//!   write and each pending name change is kept or lost independently, so
//!   reordering within a file and across files and names is covered, but a
//!   write is never split except by [`CrashMode::TearLast`], and only the last
//!   unsynced write of each file is torn.
//! - Paths are compared by their components (`a/./b` is `a/b`); `..` and
//!   symbolic links are not resolved: there are no symbolic links here.
//! - Sizes are bounded by memory; both images of a file are full copies, so
//!   keep files in crash tests small.
//! - Locks are per `SimFs` disk and released by a crash; there are no other
//!   processes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use trendlog::vfs::{LockGuard, Mapped, OpenMode, VFile, Vfs};
use trendlog_workload::SplitMix64;

/// The sector size [`CrashMode::TearLast`] tears writes at, in bytes.
pub const SECTOR_SIZE: u64 = 512;

/// A kind of file-system operation, for [`SimFs::fail_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// [`VFile::write_all_at`] (mutating).
    Write,
    /// [`VFile::allocate`] (mutating).
    Allocate,
    /// [`VFile::sync_data`] (mutating).
    Sync,
    /// [`Vfs::rename`] (mutating).
    Rename,
    /// [`Vfs::remove`] (mutating).
    Remove,
    /// [`Vfs::sync_dir`] (mutating).
    SyncDir,
    /// [`Vfs::open`] with [`OpenMode::create_new`] (mutating).
    Create,
    /// [`Vfs::open`] of an existing file.
    Open,
    /// [`VFile::read_exact_at`].
    Read,
    /// [`Vfs::map`].
    Map,
}

impl OpKind {
    /// True for the kinds counted by [`SimFs::op_count`] and [`SimFs::crash_after`].
    pub fn is_mutating(self) -> bool {
        !matches!(self, OpKind::Open | OpKind::Read | OpKind::Map)
    }
}

/// What a crash does to changes that were not made durable.
///
/// Synced data and synced directory entries always survive, in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashMode {
    /// Every unsynced write and every unsynced create, rename and remove is lost.
    DropUnsynced,
    /// Each unsynced write, and each unsynced create, rename and remove, is kept
    /// or lost independently (any subset, so a later write of a file may survive
    /// an earlier one, like a real page cache). Kept changes apply in their
    /// original order; a gap a lost write leaves past the end reads as zeros.
    KeepSome,
    /// For each file, every unsynced write but the last is kept and the last is
    /// kept only up to a random [`SECTOR_SIZE`] boundary inside it (possibly
    /// none or all of it). Unsynced name changes are kept.
    TearLast,
    /// For each file, every unsynced write but the last is kept and the range of
    /// the last reads back as zeros (the file is extended to cover it, as when a
    /// size reaches disk before the data). Unsynced name changes are kept.
    ZeroLast,
}

impl CrashMode {
    /// Every mode, for tests that loop over them.
    pub const ALL: [CrashMode; 4] = [
        CrashMode::DropUnsynced,
        CrashMode::KeepSome,
        CrashMode::TearLast,
        CrashMode::ZeroLast,
    ];
}

/// The faults armed on a [`SimFs`]. `Default` arms nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// The [`SimFs::op_count`] at which the simulated process dies: the
    /// mutating operation with this index (counting from zero) and every call
    /// after it fail. `None`: never.
    pub crash_at_op: Option<u64>,
    /// One-shot errors, in arming order: the next operation of each listed kind
    /// fails once with the listed error kind, without effect (except a failed
    /// `sync_data`, see the module docs), and the entry is consumed.
    pub fail_next: Vec<(OpKind, io::ErrorKind)>,
    /// Total bytes all files may hold (their current lengths, counting removed
    /// files that are still open). A write or allocate that would exceed it
    /// fails with `StorageFull` and changes nothing. `None`: unlimited. Kept
    /// across [`SimFs::crash`], as it is the size of the disk.
    pub capacity: Option<u64>,
}

/// A deterministic in-memory [`Vfs`] that can crash and fail on demand.
///
/// See the [module docs](self) for the model. Clones share one disk.
#[derive(Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

/// The body of one write: bytes, or a run of zeros (from `allocate`, or a
/// write zeroed by [`CrashMode::ZeroLast`]).
#[derive(Clone)]
enum Data {
    Bytes(Vec<u8>),
    Zeros(usize),
}

/// One unsynced write; `offset + len` is known not to overflow `usize`.
#[derive(Clone)]
struct Write {
    offset: usize,
    data: Data,
}

impl Write {
    fn len(&self) -> usize {
        match &self.data {
            Data::Bytes(b) => b.len(),
            Data::Zeros(n) => *n,
        }
    }

    /// Applies the first `keep` bytes of the write to `image`, extending it
    /// with zeros as needed.
    fn apply_prefix(&self, image: &mut Vec<u8>, keep: usize) {
        if keep == 0 {
            return;
        }
        let end = self.offset + keep;
        if image.len() < end {
            image.resize(end, 0);
        }
        let dst = &mut image[self.offset..end];
        match &self.data {
            Data::Bytes(b) => dst.copy_from_slice(&b[..keep]),
            Data::Zeros(_) => dst.fill(0),
        }
    }

    fn apply(&self, image: &mut Vec<u8>) {
        self.apply_prefix(image, self.len());
    }

    fn apply_zeroed(&self, image: &mut Vec<u8>) {
        Write {
            offset: self.offset,
            data: Data::Zeros(self.len()),
        }
        .apply(image);
    }

    /// How many bytes of the write a tear keeps: up to a sector boundary
    /// strictly inside the write, or none, or all, chosen uniformly.
    fn tear_len(&self, rng: &mut SplitMix64) -> usize {
        let sector = SECTOR_SIZE as usize;
        let start = self.offset;
        let end = start + self.len();
        let first = (start / sector + 1) * sector;
        let inner = if end > first {
            (end - 1 - first) / sector + 1
        } else {
            0
        };
        let pick = rng.below(inner as u64 + 2) as usize;
        let cut = match pick {
            0 => start,
            p if p == inner + 1 => end,
            p => first + (p - 1) * sector,
        };
        cut - start
    }
}

struct Inode {
    durable: Vec<u8>,
    current: Vec<u8>,
    unsynced: Vec<Write>,
    /// Open handles; an inode with open handles outlives its names.
    open: usize,
}

impl Inode {
    fn empty() -> Inode {
        Inode {
            durable: Vec::new(),
            current: Vec::new(),
            unsynced: Vec::new(),
            open: 0,
        }
    }
}

/// A change to the name table not yet made durable by `sync_dir`.
#[derive(Clone)]
enum DirOp {
    Create {
        path: PathBuf,
        ino: u64,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
        ino: u64,
    },
    Remove {
        path: PathBuf,
        ino: u64,
    },
}

impl DirOp {
    fn ino(&self) -> u64 {
        match self {
            DirOp::Create { ino, .. } | DirOp::Rename { ino, .. } | DirOp::Remove { ino, .. } => {
                *ino
            }
        }
    }

    fn touches(&self, dir: &Path) -> bool {
        let in_dir = |p: &PathBuf| p.parent().unwrap_or(Path::new("")) == dir;
        match self {
            DirOp::Create { path, .. } | DirOp::Remove { path, .. } => in_dir(path),
            DirOp::Rename { from, to, .. } => in_dir(from) || in_dir(to),
        }
    }

    /// Applies the change to a name table. Written to make sense when earlier
    /// changes were dropped by a crash: a remove only removes the inode it
    /// removed, and a kept rename gives its target the inode even if the
    /// source name never became durable.
    fn apply(&self, names: &mut BTreeMap<PathBuf, u64>) {
        match self {
            DirOp::Create { path, ino } => {
                names.insert(path.clone(), *ino);
            }
            DirOp::Rename { from, to, ino } => {
                if names.get(from) == Some(ino) {
                    names.remove(from);
                }
                names.insert(to.clone(), *ino);
            }
            DirOp::Remove { path, ino } => {
                if names.get(path) == Some(ino) {
                    names.remove(path);
                }
            }
        }
    }
}

#[derive(Default)]
struct State {
    dirs: BTreeSet<PathBuf>,
    current: BTreeMap<PathBuf, u64>,
    durable: BTreeMap<PathBuf, u64>,
    dir_unsynced: Vec<DirOp>,
    inodes: BTreeMap<u64, Inode>,
    next_ino: u64,
    locks: BTreeSet<PathBuf>,
    ops: u64,
    crashed: bool,
    faults: FaultPlan,
}

fn crash_error() -> io::Error {
    io::Error::other("simulated crash")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{}: no such file in the simulated file system",
            path.display()
        ),
    )
}

fn is_a_directory(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is a directory, not a regular file", path.display()),
    )
}

fn storage_full() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        "simulated disk full: the write would exceed the capacity",
    )
}

/// A path by its components, so `a/./b/` and `a/b` name the same file.
fn normalize(path: &Path) -> PathBuf {
    path.components().collect()
}

fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

fn to_usize(n: u64) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| storage_full())
}

impl State {
    fn check_alive(&self) -> io::Result<()> {
        if self.crashed {
            Err(crash_error())
        } else {
            Ok(())
        }
    }

    /// Counts an operation and applies crash and one-shot faults to it.
    fn begin(&mut self, kind: OpKind) -> io::Result<()> {
        self.check_alive()?;
        if kind.is_mutating() {
            if self.faults.crash_at_op.is_some_and(|at| self.ops >= at) {
                self.crashed = true;
                return Err(crash_error());
            }
            self.ops += 1;
        }
        if let Some(i) = self.faults.fail_next.iter().position(|(k, _)| *k == kind) {
            let (_, err) = self.faults.fail_next.remove(i);
            return Err(io::Error::new(
                err,
                format!("simulated {kind:?} failure ({err})"),
            ));
        }
        Ok(())
    }

    fn dir_exists(&self, dir: &Path) -> bool {
        dir.as_os_str().is_empty() || dir.parent().is_none() || self.dirs.contains(dir)
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        match self.current.get(path) {
            Some(ino) => Ok(*ino),
            None if self.dirs.contains(path) => Err(is_a_directory(path)),
            None => Err(not_found(path)),
        }
    }

    fn inode(&mut self, ino: u64) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::other("simulated file system lost an open inode"))
    }

    /// Adds a new empty file at `path` (checked absent, parent present).
    fn create_file(&mut self, path: PathBuf) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(ino, Inode::empty());
        self.current.insert(path.clone(), ino);
        self.dir_unsynced.push(DirOp::Create { path, ino });
        ino
    }

    /// Bytes held: current lengths of named or open files.
    fn used_bytes(&self) -> u64 {
        let named: BTreeSet<u64> = self.current.values().copied().collect();
        self.inodes
            .iter()
            .filter(|(ino, inode)| inode.open > 0 || named.contains(ino))
            .map(|(_, inode)| inode.current.len() as u64)
            .sum()
    }

    /// Fails with `StorageFull` if growing inode `ino` to `new_len` would
    /// exceed the capacity.
    fn check_capacity(&self, ino: u64, new_len: usize) -> io::Result<()> {
        let Some(cap) = self.faults.capacity else {
            return Ok(());
        };
        let old_len = self.inodes.get(&ino).map_or(0, |i| i.current.len());
        if new_len <= old_len {
            return Ok(());
        }
        let grow = (new_len - old_len) as u64;
        if self.used_bytes().saturating_add(grow) > cap {
            return Err(storage_full());
        }
        Ok(())
    }

    /// Drops inodes nothing can reach any more: no name (current, durable, or
    /// in a pending change a crash might keep) and no open handle.
    fn collect_garbage(&mut self) {
        let live: BTreeSet<u64> = self
            .current
            .values()
            .chain(self.durable.values())
            .copied()
            .chain(self.dir_unsynced.iter().map(DirOp::ino))
            .collect();
        self.inodes
            .retain(|ino, inode| inode.open > 0 || live.contains(ino));
    }

    fn file_count(&self) -> usize {
        self.current.len()
    }
}

impl SimFs {
    /// An empty file system with no faults armed.
    pub fn new() -> SimFs {
        SimFs::default()
    }

    /// Lets `n` more mutating operations run, then fails the next one and every
    /// later call with "simulated crash" (`ErrorKind::Other`).
    pub fn crash_after(&self, n: u64) {
        let mut st = self.state.lock();
        st.faults.crash_at_op = Some(st.ops.saturating_add(n));
    }

    /// How many mutating operations have run (including ones that failed by
    /// an injected error, excluding the one that crashed).
    pub fn op_count(&self) -> u64 {
        self.state.lock().ops
    }

    /// True once a [`SimFs::crash_after`] crash has happened.
    pub fn is_crashed(&self) -> bool {
        self.state.lock().crashed
    }

    /// Makes the next operation of kind `op` fail once with `kind` and no effect
    /// (a failed `sync_data` also loses the unsynced writes; see the module docs).
    pub fn fail_next(&self, op: OpKind, kind: io::ErrorKind) {
        self.state.lock().faults.fail_next.push((op, kind));
    }

    /// Sets the disk's capacity in bytes (`None`: unlimited).
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.state.lock().faults.capacity = bytes;
    }

    /// Bytes held by files now, as counted against the capacity.
    pub fn used_bytes(&self) -> u64 {
        self.state.lock().used_bytes()
    }

    /// The faults armed now.
    pub fn faults(&self) -> FaultPlan {
        self.state.lock().faults.clone()
    }

    /// Replaces the armed faults.
    pub fn set_faults(&self, plan: FaultPlan) {
        self.state.lock().faults = plan;
    }

    /// The current contents of the file at `path`, or `None` if there is none.
    /// For test assertions: not counted, not subject to faults, works after a crash.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.state.lock();
        let ino = st.current.get(&normalize(path))?;
        st.inodes.get(ino).map(|i| i.current.clone())
    }

    /// Every file's path, sorted. Not counted, not subject to faults.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.state.lock().current.keys().cloned().collect()
    }

    /// The disk as a freshly started process sees it after power is lost now:
    /// a new, independent `SimFs` holding the durable state plus the unsynced
    /// changes `mode` and the PRNG seeded with `seed` keep. The new disk has no
    /// locks held, no faults armed but the same capacity, and an operation
    /// count of zero. `self` is unchanged, so it can be crashed again.
    pub fn crash(&self, mode: CrashMode, seed: u64) -> SimFs {
        let st = self.state.lock();
        let mut rng = SplitMix64::new(seed);

        let mut names = st.durable.clone();
        for op in &st.dir_unsynced {
            let keep = match mode {
                CrashMode::DropUnsynced => false,
                CrashMode::KeepSome => rng.coin(),
                CrashMode::TearLast | CrashMode::ZeroLast => true,
            };
            if keep {
                op.apply(&mut names);
            }
        }

        let named: BTreeSet<u64> = names.values().copied().collect();
        let mut inodes = BTreeMap::new();
        for (ino, inode) in st.inodes.iter().filter(|(ino, _)| named.contains(ino)) {
            let mut image = inode.durable.clone();
            let last = inode.unsynced.len().checked_sub(1);
            for (i, w) in inode.unsynced.iter().enumerate() {
                let is_last = Some(i) == last;
                match mode {
                    CrashMode::DropUnsynced => {}
                    CrashMode::KeepSome => {
                        if rng.coin() {
                            w.apply(&mut image);
                        }
                    }
                    CrashMode::TearLast if is_last => {
                        let keep = w.tear_len(&mut rng);
                        w.apply_prefix(&mut image, keep);
                    }
                    CrashMode::ZeroLast if is_last => w.apply_zeroed(&mut image),
                    CrashMode::TearLast | CrashMode::ZeroLast => w.apply(&mut image),
                }
            }
            inodes.insert(
                *ino,
                Inode {
                    durable: image.clone(),
                    current: image,
                    unsynced: Vec::new(),
                    open: 0,
                },
            );
        }

        let state = State {
            dirs: st.dirs.clone(),
            current: names.clone(),
            durable: names,
            dir_unsynced: Vec::new(),
            inodes,
            next_ino: st.next_ino,
            locks: BTreeSet::new(),
            ops: 0,
            crashed: false,
            faults: FaultPlan {
                capacity: st.faults.capacity,
                ..FaultPlan::default()
            },
        };
        SimFs {
            state: Arc::new(Mutex::new(state)),
        }
    }
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(st) = self.state.try_lock() else {
            return f.write_str("SimFs { <busy> }");
        };
        f.debug_struct("SimFs")
            .field("files", &st.file_count())
            .field("dirs", &st.dirs.len())
            .field("unsynced_dir_changes", &st.dir_unsynced.len())
            .field("ops", &st.ops)
            .field("crashed", &st.crashed)
            .field("faults", &st.faults)
            .finish_non_exhaustive()
    }
}

impl Vfs for SimFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check_alive()?;
        let dir = normalize(dir);
        for d in dir.ancestors() {
            if st.current.contains_key(d) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is a file", d.display()),
                ));
            }
        }
        for d in dir.ancestors() {
            if !d.as_os_str().is_empty() && d.parent().is_some() {
                st.dirs.insert(d.to_path_buf());
            }
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.state.lock();
        st.check_alive()?;
        let dir = normalize(dir);
        if !st.dir_exists(&dir) {
            return Err(not_found(&dir));
        }
        Ok(st
            .current
            .keys()
            .filter(|p| parent_of(p) == dir)
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let st = self.state.lock();
        st.check_alive()?;
        let path = normalize(path);
        Ok(st.current.contains_key(&path) || st.dir_exists(&path))
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VFile>> {
        let mut st = self.state.lock();
        let path = normalize(path);
        let ino = if mode.create_new {
            st.begin(OpKind::Create)?;
            if !mode.write {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "creating a file needs write access",
                ));
            }
            if st.current.contains_key(&path) || st.dir_exists(&path) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} already exists", path.display()),
                ));
            }
            if !st.dir_exists(parent_of(&path)) {
                return Err(not_found(parent_of(&path)));
            }
            st.create_file(path)
        } else {
            st.begin(OpKind::Open)?;
            st.lookup(&path)?
        };
        st.inode(ino)?.open += 1;
        Ok(Box::new(SimFile {
            state: Arc::clone(&self.state),
            ino,
            writable: mode.write,
        }))
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let mut st = self.state.lock();
        st.begin(OpKind::Map)?;
        let ino = st.lookup(&normalize(path))?;
        let bytes = st.inode(ino)?.current.clone();
        Ok(Arc::new(bytes))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.begin(OpKind::Rename)?;
        let (from, to) = (normalize(from), normalize(to));
        let ino = st.lookup(&from)?;
        if st.dirs.contains(&to) {
            return Err(is_a_directory(&to));
        }
        if !st.dir_exists(parent_of(&to)) {
            return Err(not_found(parent_of(&to)));
        }
        if from == to {
            return Ok(());
        }
        st.current.remove(&from);
        st.current.insert(to.clone(), ino);
        st.dir_unsynced.push(DirOp::Rename { from, to, ino });
        st.collect_garbage();
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.begin(OpKind::Remove)?;
        let path = normalize(path);
        let ino = st.lookup(&path)?;
        st.current.remove(&path);
        st.dir_unsynced.push(DirOp::Remove { path, ino });
        st.collect_garbage();
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.begin(OpKind::SyncDir)?;
        let dir = normalize(dir);
        if !st.dir_exists(&dir) {
            return Err(not_found(&dir));
        }
        let pending = std::mem::take(&mut st.dir_unsynced);
        for op in pending {
            if op.touches(&dir) {
                op.apply(&mut st.durable);
            } else {
                st.dir_unsynced.push(op);
            }
        }
        st.collect_garbage();
        Ok(())
    }

    fn lock(&self, path: &Path) -> io::Result<LockGuard> {
        let mut st = self.state.lock();
        st.check_alive()?;
        let path = normalize(path);
        if st.dirs.contains(&path) {
            return Err(is_a_directory(&path));
        }
        if st.locks.contains(&path) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the lock is held by another writer",
            ));
        }
        // Like `RealFs`, taking the lock creates the lock file (uncounted, and
        // not durable until the directory is synced).
        if !st.current.contains_key(&path) {
            if !st.dir_exists(parent_of(&path)) {
                return Err(not_found(parent_of(&path)));
            }
            st.create_file(path.clone());
        }
        st.locks.insert(path.clone());
        Ok(Box::new(SimLock {
            state: Arc::clone(&self.state),
            path,
        }))
    }
}

/// A held [`SimFs`] lock; dropping it releases the path.
struct SimLock {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.state.lock().locks.remove(&self.path);
    }
}

/// An open [`SimFs`] file: a handle on an inode, so it follows renames and
/// outlives removal.
struct SimFile {
    state: Arc<Mutex<State>>,
    ino: u64,
    writable: bool,
}

impl SimFile {
    fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the file was opened read-only",
            ))
        }
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        let mut st = self.state.lock();
        if let Some(inode) = st.inodes.get_mut(&self.ino) {
            inode.open = inode.open.saturating_sub(1);
        }
        st.collect_garbage();
    }
}

impl VFile for SimFile {
    fn len(&self) -> io::Result<u64> {
        let mut st = self.state.lock();
        st.check_alive()?;
        Ok(st.inode(self.ino)?.current.len() as u64)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        st.begin(OpKind::Read)?;
        let current = &st.inode(self.ino)?.current;
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| current.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "read past the end of the simulated file",
                )
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check_writable()?;
        let mut st = self.state.lock();
        st.begin(OpKind::Write)?;
        if buf.is_empty() {
            return Ok(());
        }
        let offset = to_usize(offset)?;
        let end = offset.checked_add(buf.len()).ok_or_else(storage_full)?;
        let new_len = end.max(st.inode(self.ino)?.current.len());
        st.check_capacity(self.ino, new_len)?;
        let inode = st.inode(self.ino)?;
        let write = Write {
            offset,
            data: Data::Bytes(buf.to_vec()),
        };
        write.apply(&mut inode.current);
        inode.unsynced.push(write);
        Ok(())
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        let mut st = self.state.lock();
        st.begin(OpKind::Allocate)?;
        let len = to_usize(len)?;
        let old_len = st.inode(self.ino)?.current.len();
        if len <= old_len {
            return Ok(());
        }
        st.check_capacity(self.ino, len)?;
        let inode = st.inode(self.ino)?;
        inode
            .current
            .try_reserve_exact(len - old_len)
            .map_err(|_| storage_full())?;
        let write = Write {
            offset: old_len,
            data: Data::Zeros(len - old_len),
        };
        write.apply(&mut inode.current);
        inode.unsynced.push(write);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut st = self.state.lock();
        if let Err(e) = st.begin(OpKind::Sync) {
            if !st.crashed {
                // A failed fsync on Linux marks the dirty pages clean: the data
                // stays visible but will never reach the disk.
                st.inode(self.ino)?.unsynced.clear();
            }
            return Err(e);
        }
        let inode = st.inode(self.ino)?;
        for w in std::mem::take(&mut inode.unsynced) {
            w.apply(&mut inode.durable);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from("/db")
    }

    fn fs_with_dir() -> SimFs {
        let fs = SimFs::new();
        fs.create_dir_all(&dir()).unwrap();
        fs
    }

    /// Creates `name` in /db with `bytes`, syncs the data and the directory.
    fn durable_file(fs: &SimFs, name: &str, bytes: &[u8]) -> Box<dyn VFile> {
        let f = fs.open(&dir().join(name), OpenMode::CREATE).unwrap();
        f.write_all_at(bytes, 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(&dir()).unwrap();
        f
    }

    #[test]
    fn unsynced_write_is_lost_by_drop_unsynced() {
        let fs = fs_with_dir();
        let f = durable_file(&fs, "a", b"");
        f.write_all_at(b"hello", 0).unwrap();
        assert_eq!(fs.contents(&dir().join("a")).unwrap(), b"hello");
        let after = fs.crash(CrashMode::DropUnsynced, 1);
        assert_eq!(after.contents(&dir().join("a")).unwrap(), b"");
    }

    #[test]
    fn synced_data_survives_every_mode() {
        let fs = fs_with_dir();
        let f = durable_file(&fs, "a", b"synced!");
        f.write_all_at(b"later bytes past the synced part", 7)
            .unwrap();
        f.write_all_at(b"more", 100).unwrap();
        for mode in CrashMode::ALL {
            for seed in 0..50 {
                let after = fs.crash(mode, seed);
                let got = after.contents(&dir().join("a")).unwrap();
                assert_eq!(&got[..7], b"synced!", "{mode:?} seed {seed}");
            }
        }
    }

    #[test]
    fn unsynced_create_vanishes() {
        let fs = fs_with_dir();
        let f = fs.open(&dir().join("new"), OpenMode::CREATE).unwrap();
        f.write_all_at(b"data", 0).unwrap();
        f.sync_data().unwrap();
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert!(!after.exists(&dir().join("new")).unwrap());
        fs.sync_dir(&dir()).unwrap();
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(after.contents(&dir().join("new")).unwrap(), b"data");
    }

    #[test]
    fn rename_needs_sync_dir() {
        let fs = fs_with_dir();
        drop(durable_file(&fs, "tmp", b"new state"));
        fs.rename(&dir().join("tmp"), &dir().join("MANIFEST"))
            .unwrap();
        assert_eq!(fs.list(&dir()).unwrap(), vec!["MANIFEST".to_owned()]);

        let undone = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(undone.list(&dir()).unwrap(), vec!["tmp".to_owned()]);
        assert_eq!(undone.contents(&dir().join("tmp")).unwrap(), b"new state");

        fs.sync_dir(&dir()).unwrap();
        for mode in CrashMode::ALL {
            let kept = fs.crash(mode, 3);
            assert_eq!(kept.list(&dir()).unwrap(), vec!["MANIFEST".to_owned()]);
            // Contents follow the inode through the rename.
            assert_eq!(
                kept.contents(&dir().join("MANIFEST")).unwrap(),
                b"new state"
            );
        }
    }

    #[test]
    fn rename_over_an_existing_file_is_atomic() {
        let fs = fs_with_dir();
        drop(durable_file(&fs, "MANIFEST", b"old"));
        drop(durable_file(&fs, "tmp", b"new"));
        fs.rename(&dir().join("tmp"), &dir().join("MANIFEST"))
            .unwrap();
        for seed in 0..64 {
            let after = fs.crash(CrashMode::KeepSome, seed);
            let m = after.contents(&dir().join("MANIFEST")).unwrap();
            let tmp = after.contents(&dir().join("tmp"));
            match m.as_slice() {
                b"old" => assert_eq!(tmp.as_deref(), Some(&b"new"[..])),
                b"new" => assert_eq!(tmp, None),
                other => panic!("mixed state {other:?}"),
            }
        }
    }

    #[test]
    fn unsynced_remove_is_undone() {
        let fs = fs_with_dir();
        drop(durable_file(&fs, "old", b"x"));
        fs.remove(&dir().join("old")).unwrap();
        assert!(!fs.exists(&dir().join("old")).unwrap());
        let after = fs.crash(CrashMode::DropUnsynced, 0);
        assert_eq!(after.contents(&dir().join("old")).unwrap(), b"x");
        fs.sync_dir(&dir()).unwrap();
        assert!(fs.crash(CrashMode::KeepSome, 9).paths().is_empty());
    }

    /// A fixed workload of exactly 8 mutating operations.
    fn workload(fs: &SimFs) -> io::Result<()> {
        let f = fs.open(&dir().join("a"), OpenMode::CREATE)?; // 1
        f.allocate(1024)?; // 2
        f.write_all_at(b"abc", 0)?; // 3
        f.sync_data()?; // 4
        fs.sync_dir(&dir())?; // 5
        fs.rename(&dir().join("a"), &dir().join("b"))?; // 6
        fs.sync_dir(&dir())?; // 7
        fs.remove(&dir().join("b"))?; // 8
        Ok(())
    }

    #[test]
    fn crash_after_fails_the_nth_op_onward() {
        let counting = fs_with_dir();
        workload(&counting).unwrap();
        let total = counting.op_count();
        assert_eq!(total, 8);
        for n in 0..=total {
            let fs = fs_with_dir();
            fs.crash_after(n);
            let result = workload(&fs);
            assert_eq!(fs.op_count(), n, "ops that ran before the crash");
            if n == total {
                result.unwrap();
                assert!(!fs.is_crashed());
                continue;
            }
            let e = result.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::Other);
            assert_eq!(e.to_string(), "simulated crash");
            assert!(fs.is_crashed());
            // Dead from then on: reads and writes alike.
            assert!(fs.exists(&dir()).is_err());
            assert!(fs.list(&dir()).is_err());
            assert!(fs.open(&dir().join("c"), OpenMode::CREATE).is_err());
            assert_eq!(fs.op_count(), n);
            // A restart is alive again.
            let after = fs.crash(CrashMode::KeepSome, n);
            assert!(!after.is_crashed());
            after.list(&dir()).unwrap();
        }
    }

    #[test]
    fn tear_last_keeps_a_sector_aligned_prefix() {
        let fs = fs_with_dir();
        let f = durable_file(&fs, "log", &[0x11; 8192]);
        f.write_all_at(&[0x22; 100], 0).unwrap(); // kept whole: not the last
        let (start, len) = (100usize, 4000usize);
        f.write_all_at(&vec![0xAB; len], start as u64).unwrap();
        let mut interior = 0;
        for seed in 0..200 {
            let got = fs
                .crash(CrashMode::TearLast, seed)
                .contents(&dir().join("log"))
                .unwrap();
            assert_eq!(got.len(), 8192);
            assert!(got[..100].iter().all(|&b| b == 0x22));
            let kept = got[start..start + len]
                .iter()
                .take_while(|&&b| b == 0xAB)
                .count();
            let cut = start + kept;
            assert!(
                got[cut..start + len].iter().all(|&b| b == 0x11),
                "seed {seed}"
            );
            assert!(
                kept == 0 || kept == len || cut % SECTOR_SIZE as usize == 0,
                "seed {seed}: cut at {cut}"
            );
            if kept != 0 && kept != len {
                interior += 1;
            }
        }
        assert!(interior > 0, "some seed tears inside the write");
    }

    #[test]
    fn zero_last_zeroes_the_last_write() {
        let fs = fs_with_dir();
        let f = durable_file(&fs, "log", b"head");
        f.write_all_at(b"one", 4).unwrap();
        f.write_all_at(b"two", 7).unwrap();
        let got = fs
            .crash(CrashMode::ZeroLast, 0)
            .contents(&dir().join("log"))
            .unwrap();
        assert_eq!(got, b"headone\0\0\0");
    }

    #[test]
    fn keep_some_reorders_within_a_file() {
        let fs = fs_with_dir();
        let f = durable_file(&fs, "log", b"");
        f.write_all_at(b"first", 0).unwrap();
        f.write_all_at(b"second", 5).unwrap();
        let outcomes: BTreeSet<Vec<u8>> = (0..64)
            .map(|seed| {
                fs.crash(CrashMode::KeepSome, seed)
                    .contents(&dir().join("log"))
                    .unwrap()
            })
            .collect();
        let expected: BTreeSet<Vec<u8>> = [
            b"".to_vec(),
            b"first".to_vec(),
            b"\0\0\0\0\0second".to_vec(),
            b"firstsecond".to_vec(),
        ]
        .into();
        assert_eq!(outcomes, expected);
    }

    #[test]
    fn crashes_are_deterministic() {
        let fs = fs_with_dir();
        let f = durable_file(&fs, "log", b"");
        for i in 0..20u8 {
            f.write_all_at(&[i; 700], u64::from(i) * 700).unwrap();
        }
        for mode in CrashMode::ALL {
            let a = fs.crash(mode, 42).contents(&dir().join("log"));
            let b = fs.crash(mode, 42).contents(&dir().join("log"));
            assert_eq!(a, b);
        }
    }

    #[test]
    fn capacity_fails_with_storage_full_and_no_effect() {
        let fs = fs_with_dir();
        fs.set_capacity(Some(1000));
        let f = fs.open(&dir().join("a"), OpenMode::CREATE).unwrap();
        f.allocate(600).unwrap();
        f.write_all_at(b"x", 10).unwrap(); // inside the allocation: no growth
        let g = fs.open(&dir().join("b"), OpenMode::CREATE).unwrap();
        assert_eq!(
            g.allocate(401).unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        assert_eq!(
            g.write_all_at(&[1; 300], 200).unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        assert_eq!(g.len().unwrap(), 0);
        assert_eq!(fs.contents(&dir().join("b")).unwrap(), b"");
        assert_eq!(fs.used_bytes(), 600);
        g.allocate(400).unwrap();
        assert_eq!(fs.used_bytes(), 1000);
        // Removing a file frees its space once no handle holds it.
        fs.remove(&dir().join("a")).unwrap();
        assert_eq!(fs.used_bytes(), 1000);
        drop(f);
        assert_eq!(fs.used_bytes(), 400);
        g.write_all_at(&[1; 600], 400).unwrap();
    }

    #[test]
    fn fail_next_fails_once() {
        let fs = fs_with_dir();
        let f = fs.open(&dir().join("a"), OpenMode::CREATE).unwrap();
        fs.fail_next(OpKind::Write, io::ErrorKind::StorageFull);
        assert_eq!(
            f.write_all_at(b"x", 0).unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        assert_eq!(f.len().unwrap(), 0);
        f.write_all_at(b"x", 0).unwrap();

        fs.fail_next(OpKind::Rename, io::ErrorKind::PermissionDenied);
        assert!(fs.rename(&dir().join("a"), &dir().join("b")).is_err());
        assert!(fs.exists(&dir().join("a")).unwrap());
        fs.rename(&dir().join("a"), &dir().join("b")).unwrap();
        assert!(fs.faults().fail_next.is_empty());
    }

    #[test]
    fn failed_sync_loses_the_unsynced_writes() {
        let fs = fs_with_dir();
        let f = durable_file(&fs, "a", b"old");
        f.write_all_at(b"new", 0).unwrap();
        fs.fail_next(OpKind::Sync, io::ErrorKind::Other);
        assert!(f.sync_data().is_err());
        // The retry "succeeds" but the data never reaches the disk.
        f.sync_data().unwrap();
        assert_eq!(fs.contents(&dir().join("a")).unwrap(), b"new");
        for mode in CrashMode::ALL {
            let after = fs.crash(mode, 5);
            assert_eq!(after.contents(&dir().join("a")).unwrap(), b"old");
        }
    }

    #[test]
    fn lock_is_exclusive_until_dropped() {
        let fs = fs_with_dir();
        let lock = dir().join("LOCK");
        let g = fs.lock(&lock).unwrap();
        assert!(fs.exists(&lock).unwrap());
        assert_eq!(
            fs.lock(&lock).err().unwrap().kind(),
            io::ErrorKind::WouldBlock
        );
        // A clone shares the disk and so the lock table.
        assert!(fs.clone().lock(&lock).is_err());
        // A restarted process holds no locks.
        let after = fs.crash(CrashMode::KeepSome, 0);
        drop(after.lock(&lock).unwrap());
        drop(g);
        drop(fs.lock(&lock).unwrap());
    }

    #[test]
    fn map_sees_current_bytes_as_a_snapshot() {
        let fs = fs_with_dir();
        let f = fs.open(&dir().join("seg"), OpenMode::CREATE).unwrap();
        f.write_all_at(b"unsynced", 0).unwrap();
        let m = fs.map(&dir().join("seg")).unwrap();
        f.write_all_at(b"changed!", 0).unwrap();
        assert_eq!((*m).as_ref(), b"unsynced");
        assert_eq!((*fs.map(&dir().join("seg")).unwrap()).as_ref(), b"changed!");
    }

    #[test]
    fn open_errors_match_a_real_disk() {
        let fs = fs_with_dir();
        drop(durable_file(&fs, "a", b"abc"));
        let kind = |r: io::Result<Box<dyn VFile>>| r.err().unwrap().kind();
        assert_eq!(
            kind(fs.open(&dir().join("a"), OpenMode::CREATE)),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(fs.open(&dir().join("zz"), OpenMode::READ)),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs.open(Path::new("/nodir/x"), OpenMode::CREATE)),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs.open(&dir(), OpenMode::READ)),
            io::ErrorKind::InvalidInput
        );
        let r = fs.open(&dir().join("a"), OpenMode::READ).unwrap();
        assert!(r.write_all_at(b"x", 0).is_err());
        let mut buf = [0; 4];
        assert_eq!(
            r.read_exact_at(&mut buf, 0).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        r.read_exact_at(&mut buf[..3], 0).unwrap();
        assert_eq!(&buf[..3], b"abc");
        // Handles follow the inode through renames and removal.
        let w = fs.open(&dir().join("a"), OpenMode::WRITE).unwrap();
        fs.rename(&dir().join("a"), &dir().join("b")).unwrap();
        w.write_all_at(b"X", 0).unwrap();
        assert_eq!(fs.contents(&dir().join("b")).unwrap(), b"Xbc");
        fs.remove(&dir().join("b")).unwrap();
        w.write_all_at(b"Y", 0).unwrap();
        assert_eq!(r.read_to_vec().unwrap(), b"Ybc");
    }

    #[test]
    fn debug_does_not_dump_contents() {
        let fs = fs_with_dir();
        drop(durable_file(&fs, "a", b"secret-bytes"));
        let s = format!("{fs:?}");
        assert!(s.contains("files: 1"), "{s}");
        assert!(!s.contains("secret"));
    }
}
