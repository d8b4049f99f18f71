//! [`Store`]: open or create a store directory, record counts in atomic
//! [`Batch`]es, make them durable with [`Store::sync`], and read consistent
//! [`Snapshot`]s.
//!
//! The write path, in order: a batch is pre-aggregated into sorted
//! `(tag id, minute, count)` cells; new tags are appended to `tags.dict`; the
//! cells are appended to the active log segment as one checksummed columnar
//! block (with the batch's source position, if any); under
//! [`SyncPolicy::EveryBatch`] both files are fsynced before `commit` returns;
//! the cells join the in-memory [`Memtable`] and a new view is published for
//! snapshots. When the active segment holds `seal_cells` cells, or the store's
//! now has moved `seal_after` past the now it had when the segment began, it
//! is sealed: merged into an immutable minute segment, written and fsynced,
//! and switched in through the manifest together with a fresh log segment.
//!
//! Every decision on that path depends only on the batches and their order,
//! never on the wall clock, so two stores fed the same batches hold the same
//! segments and answer every query identically.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::compaction::{self, CompactionReport};
use crate::dict::Dict;
use crate::error::{CorruptionKind, Error, InvalidInput, Result};
use crate::format::cells::Cells;
use crate::format::dict::encode_dict_header;
use crate::format::log::{
    blocks_from, decode_block, encode_block_with, encode_log_header_with, encoded_block_len,
    log_header_capacity, log_header_store_id, scan_log, LOG_HEADER_LEN, LOG_STORE_ID_AT,
};
use crate::format::manifest::{decode_manifest, encode_manifest, Manifest, SegmentEntry};
use crate::format::scan::ScanEnd;
use crate::format::segment::{SegmentView, SEGMENT_STORE_ID_AT};
use crate::format::{check_store_id, DecodeError, Resolution};
use crate::memtable::{Memtable, Run};
use crate::options::{Options, SyncPolicy};
use crate::query::{Limits, Series, Snapshot, Stats, TopRow, TrendQuery, TrendRow};
use crate::storage::files::{self, classify, FileKind, PathFile};
use crate::storage::vfs::{LockGuard, Mapped, OpenMode, Vfs};
use crate::tag;
use crate::time::{Minute, Step, TimeRange};

/// What opening the store found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Whole blocks replayed from the active log segment.
    pub blocks_replayed: u64,
    /// Bytes of a torn or garbage tail cut from the active log (ignored, not
    /// cut, when opened read-only).
    pub log_tail_bytes_cut: u64,
    /// Complete blocks dropped from the tail because they name tags whose
    /// dictionary entries did not survive the crash (never acknowledged).
    pub log_blocks_dropped: u64,
    /// Bytes missing from the end of the active log file: it is shorter than
    /// the length it was preallocated to, so it was truncated and any blocks
    /// past the cut are lost. A writable open seals the cut log and starts a
    /// new one, so the next open does not report it again.
    pub log_truncated_bytes: u64,
    /// Bytes of a torn tail cut from the tag dictionary.
    pub dict_tail_bytes_cut: u64,
    /// Temporary files of an interrupted seal or compaction that were removed.
    pub temp_files_removed: u64,
    /// Complete files no longer (or not yet) in the manifest that were removed.
    pub orphan_files_removed: u64,
}

impl RecoveryReport {
    /// True when the store was closed cleanly (nothing to repair).
    pub fn is_clean(&self) -> bool {
        self.log_tail_bytes_cut == 0
            && self.log_blocks_dropped == 0
            && self.log_truncated_bytes == 0
            && self.dict_tail_bytes_cut == 0
            && self.temp_files_removed == 0
            && self.orphan_files_removed == 0
    }
}

/// What a successful [`Batch::commit`] appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    /// Events added to the batch.
    pub events: u64,
    /// Distinct `(tag, minute)` cells written.
    pub cells: u64,
    /// Whether the batch is already durable (true under `SyncPolicy::EveryBatch`).
    pub durable: bool,
}

/// A bytes handle for a mapped segment.
#[derive(Clone)]
pub(crate) struct MapBytes(Mapped);

impl AsRef<[u8]> for MapBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// A live sealed segment.
pub(crate) struct Segment {
    pub(crate) entry: SegmentEntry,
    pub(crate) name: String,
    pub(crate) view: SegmentView<MapBytes>,
}

impl Segment {
    /// First and one-past-last minute this segment's cells cover.
    pub(crate) fn minute_span(&self) -> (u32, u32) {
        self.entry.minute_span()
    }
}

/// The state a snapshot pins: live segments, the in-memory tail, and now.
#[derive(Clone, Default)]
pub(crate) struct View {
    pub(crate) segments: Vec<Arc<Segment>>,
    pub(crate) runs: Vec<Arc<Run>>,
    pub(crate) now: Option<u32>,
    pub(crate) active_log: Option<ActiveInfo>,
}

/// What `inspect` shows of the active log.
#[derive(Clone, Debug, Default)]
pub(crate) struct ActiveInfo {
    pub(crate) name: String,
    pub(crate) bytes_used: u64,
}

struct ActiveLog {
    id: u64,
    file: PathFile,
    capacity: u64,
    end: u64,
    blocks: u64,
    /// The offset up to which the log is known durable (fsynced); recorded in
    /// every block so recovery can tell lost unsynced writes from damage.
    durable_end: u64,
    /// The store's now after this segment's first block, for the seal rule.
    start_now: Option<u32>,
}

struct Writer {
    log: Option<ActiveLog>,
    mem: Memtable,
    dict_file: Option<PathFile>,
    dict_end: u64,
    unsynced: bool,
}

pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) opts: Options,
    pub(crate) read_only: bool,
    _lock: Option<LockGuard>,
    pub(crate) dict: Arc<RwLock<Dict>>,
    pub(crate) view: Mutex<Arc<View>>,
    writer: Mutex<Writer>,
    pub(crate) manifest: Mutex<Manifest>,
    pub(crate) compaction_lock: Mutex<()>,
    poison: Mutex<Option<String>>,
    poisoned: AtomicBool,
    /// The store's now (newest minute), `u64::MAX` when empty.
    now: AtomicU64,
    /// Sum of every count held; no event may take it past `u64::MAX`, so no
    /// sum over any part of the store can overflow.
    grand_total: AtomicU64,
    pub(crate) rejected_too_old: AtomicU64,
    pub(crate) rejected_future: AtomicU64,
    recovery: RecoveryReport,
    source_position: Mutex<Option<Vec<u8>>>,
    pub(crate) inject_compaction_panic: AtomicBool,
}

struct Handle {
    inner: Arc<Inner>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop_threads();
        if !self.inner.read_only && !self.inner.is_poisoned() {
            // Best effort: a store dropped without close() still flushes.
            let _ = self
                .inner
                .sync()
                .and_then(|()| self.inner.checkpoint_dict());
        }
    }
}

impl Handle {
    fn stop_threads(&self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

/// An open store. Cheap to clone; clones share one store and may be used from
/// many threads at once.
///
/// ```
/// use trendlog::{Options, Store};
/// use trendlog::time::{Step, TimeRange};
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path(), Options::default()).unwrap();
/// store.record("#MeToo", 1_508_167_800, 3).unwrap();
/// let mut batch = store.batch();
/// batch.add("metoo", 1_508_167_860, 2).unwrap();
/// batch.add("TimesUp", 1_508_167_860, 1).unwrap();
/// batch.commit().unwrap();
/// store.sync().unwrap();
/// let hour = TimeRange::new(1_508_166_000, 1_508_169_600).unwrap();
/// assert_eq!(store.total("#METOO", hour).unwrap(), 5);
/// let s = store.series("metoo", hour, Step::Minute).unwrap();
/// assert_eq!(s.points.len(), 60);
/// ```
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .field("read_only", &self.inner.read_only)
            .finish()
    }
}

fn corrupted(path: &Path, e: DecodeError) -> Error {
    Error::corrupted(path, e.offset, e.kind)
}

fn invalid(path: &Path, offset: u64, why: impl Into<String>) -> Error {
    Error::corrupted(path, offset, CorruptionKind::Invalid(why.into()))
}

const NO_NOW: u64 = u64::MAX;

/// Most events one batch may hold: a block holds at most
/// [`crate::format::log::MAX_BLOCK_CELLS`] cells, and every event may be a cell.
pub const MAX_BATCH_CELLS: usize = 64 << 20;
const _: () = assert!(MAX_BATCH_CELLS <= crate::format::log::MAX_BLOCK_CELLS);

impl Store {
    /// Opens the store in `dir` for writing, creating it if needed. Takes the
    /// store's lock (a second writer gets [`Error::Locked`]), reads the manifest
    /// and the dictionary, maps the sealed segments and replays the active log,
    /// cutting a torn tail back to the last whole block (see [`Store::recovery`]).
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Store> {
        Self::open_inner(dir.as_ref(), opts, false)
    }

    /// Opens the store in `dir` without a lock and without ever writing: a
    /// consistent view of what was committed when it opened, even while another
    /// process writes the store. A torn tail is ignored, not cut.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Store> {
        Self::open_read_only_with(dir, Options::default())
    }

    /// [`Store::open_read_only`] with options (only the file system and the
    /// retention settings matter).
    pub fn open_read_only_with(dir: impl AsRef<Path>, opts: Options) -> Result<Store> {
        let dir = dir.as_ref();
        // A writer may seal or compact while we read its manifest: a file named
        // there can vanish before we map it. Retry from a fresh manifest.
        let mut last = None;
        for attempt in 0..20 {
            match Self::open_inner(dir, opts.clone(), true) {
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && attempt < 19 =>
                {
                    last = Some(source);
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(Error::Corrupted(_)) if attempt < 3 => {
                    // A block being written as we read looks torn-then-valid;
                    // a second look tells a race from real damage.
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
        Err(Error::io(
            dir,
            last.unwrap_or_else(|| std::io::Error::other("store kept changing")),
        ))
    }

    fn open_inner(dir: &Path, opts: Options, read_only: bool) -> Result<Store> {
        let vfs = opts.vfs.clone();
        let mut report = RecoveryReport::default();
        if read_only {
            if !vfs
                .exists(&dir.join(files::MANIFEST))
                .map_err(|e| Error::io(dir, e))?
            {
                return Err(Error::NotAStore {
                    dir: dir.to_path_buf(),
                });
            }
        } else {
            vfs.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let lock = if read_only {
            None
        } else {
            let p = dir.join(files::LOCK);
            match vfs.lock(&p) {
                Ok(g) => Some(g),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::Locked {
                        dir: dir.to_path_buf(),
                    })
                }
                Err(e) => return Err(Error::io(p, e)),
            }
        };
        let mut names = vfs.list(dir).map_err(|e| Error::io(dir, e))?;
        let manifest_path = dir.join(files::MANIFEST);
        let manifest = if names.iter().any(|n| n == files::MANIFEST) {
            let bytes = files::read_file(&*vfs, &manifest_path)?;
            decode_manifest(&bytes).map_err(|e| corrupted(&manifest_path, e))?
        } else {
            if names
                .iter()
                .any(|n| matches!(classify(n), Some(FileKind::Segment(..))))
            {
                return Err(invalid(
                    &manifest_path,
                    0,
                    "the manifest is missing but sealed segments exist",
                ));
            }
            let m = create_store(&*vfs, dir, &names, opts.log_file_bytes)?;
            // create_store removed the leftovers of an interrupted creation;
            // the old listing would send the cleanup below after them again.
            names = vfs.list(dir).map_err(|e| Error::io(dir, e))?;
            m
        };
        validate_manifest(&manifest, &manifest_path)?;

        // Leftovers of interrupted seals and compactions.
        if !read_only {
            let live: std::collections::HashSet<u64> = manifest
                .segments
                .iter()
                .map(|s| s.file_id)
                .chain(std::iter::once(manifest.active_log))
                .collect();
            let mut removed_any = false;
            for n in &names {
                let victim = match classify(n) {
                    Some(FileKind::Temp) => {
                        report.temp_files_removed += 1;
                        true
                    }
                    Some(FileKind::Log(id)) | Some(FileKind::Segment(id, _))
                        if !live.contains(&id) =>
                    {
                        report.orphan_files_removed += 1;
                        true
                    }
                    _ => false,
                };
                if victim {
                    let p = dir.join(n);
                    vfs.remove(&p).map_err(|e| Error::io(&p, e))?;
                    removed_any = true;
                }
            }
            if removed_any {
                files::sync_dir(&*vfs, dir)?;
            }
        }

        // The dictionary.
        let dict_path = dir.join(files::DICT);
        let dict_file = PathFile::open(
            &*vfs,
            dict_path.clone(),
            if read_only {
                OpenMode::READ
            } else {
                OpenMode::WRITE
            },
        )?;
        // Damage followed by valid entries is corruption, unless the damaged
        // entries may be unsynced writes that a power failure lost out of order
        // (a later one survived): past the entries the manifest promises, and
        // named by no block of the active log (a block naming a tag proves its
        // entry was written before it).
        let lost_unsynced = |x: usize| {
            x as u64 >= manifest.dict_entries
                && !log_names_tag_from(&*vfs, dir, manifest.active_log, x as u32)
        };
        let (dict, dict_open) = Dict::open(
            &*vfs,
            dir,
            &dict_file,
            read_only,
            manifest.store_id,
            manifest.dict_entries,
            lost_unsynced,
        )?;
        report.dict_tail_bytes_cut = dict_open.tail_bytes_cut;
        let dict_end = dict_open.end;
        let dict_len = dict.len() as u64;

        // Sealed segments.
        let mut segments = Vec::with_capacity(manifest.segments.len());
        let mut grand_total: u64 = 0;
        let mut now = manifest.now;
        for entry in &manifest.segments {
            let seg = open_segment(&*vfs, dir, entry, dict_len, manifest.store_id)?;
            grand_total = grand_total
                .checked_add(entry.total)
                .ok_or_else(|| invalid(&manifest_path, 0, "segment totals overflow 64 bits"))?;
            let (_, end) = seg.minute_span();
            now = max_opt(now, Some(end - 1));
            segments.push(Arc::new(seg));
        }

        // The active log.
        let log_path = dir.join(files::log_name(manifest.active_log));
        let log_file = PathFile::open(
            &*vfs,
            log_path.clone(),
            if read_only {
                OpenMode::READ
            } else {
                OpenMode::WRITE
            },
        )?;
        let log_bytes = log_file.read_all()?;
        let scan = scan_log(&log_bytes);
        let file_id = scan.file_id.clone().map_err(|e| corrupted(&log_path, e))?;
        if file_id != manifest.active_log {
            return Err(invalid(
                &log_path,
                0,
                format!(
                    "the log header names file {file_id}, the manifest expects {}",
                    manifest.active_log
                ),
            ));
        }
        check_store_id(
            log_header_store_id(&log_bytes),
            manifest.store_id,
            LOG_STORE_ID_AT as u64,
        )
        .map_err(|e| corrupted(&log_path, e))?;
        let mut log_end = match &scan.end {
            ScanEnd::Clean | ScanEnd::TornTail { .. } => scan.valid_end,
            ScanEnd::Corrupt(e) => return Err(corrupted(&log_path, e.clone())),
        };
        let mut mem = Memtable::default();
        let mut source = manifest.source_position.clone();
        let mut start_now = None;
        let mut blocks = 0;
        for (i, &(off, _len)) in scan.blocks.iter().enumerate() {
            let block = decode_block(&log_bytes[off as usize..]).map_err(|e| {
                corrupted(
                    &log_path,
                    DecodeError {
                        offset: off + e.offset,
                        kind: e.kind,
                    },
                )
            })?;
            if block.cell_count() > 0
                && u64::from(block.tag(block.cell_count() as usize - 1)) >= dict_len
            {
                // Its tags' dictionary entries were lost with the crash, so the
                // block (and all after it) was never made durable: a torn tail.
                report.log_blocks_dropped = (scan.blocks.len() - i) as u64;
                log_end = off;
                break;
            }
            let cells = block.to_cells();
            let block_total = cells
                .counts
                .iter()
                .try_fold(0u64, |a, &c| a.checked_add(c))
                .and_then(|s| grand_total.checked_add(s))
                .ok_or_else(|| invalid(&log_path, off, "counts overflow 64 bits"))?;
            grand_total = block_total;
            if block.cell_count() > 0 {
                now = max_opt(now, Some(block.max_time()));
                if start_now.is_none() {
                    start_now = now;
                }
            }
            if let Some(src) = block.source() {
                source = Some(src.to_vec());
            }
            mem.push(cells);
            blocks += 1;
        }
        report.blocks_replayed = blocks;
        // A clean end means everything past the last block is zeros already.
        let clean = matches!(scan.end, ScanEnd::Clean) && report.log_blocks_dropped == 0;
        let garbage = if clean {
            0
        } else {
            garbage_len(&log_bytes, log_end)
        };
        if garbage > 0 {
            report.log_tail_bytes_cut = garbage;
            if !read_only {
                log_file.write_at(&vec![0; garbage as usize], log_end)?;
                log_file.sync()?;
            }
        }
        // A header recording more than the file holds: the file was cut. It
        // is not extended back to the recorded length (a length field that a
        // damaged or hostile header may inflate to any size); a writable open
        // seals it away instead, below.
        let recorded = log_header_capacity(&log_bytes);
        let capacity = log_bytes.len() as u64;
        report.log_truncated_bytes = recorded.saturating_sub(capacity);
        drop(log_bytes);
        // What survived a crash of the process may still sit in the page
        // cache only; make it durable before blocks claim it is.
        let durable_end = if read_only {
            0
        } else {
            log_file.sync()?;
            dict_file.sync()?;
            log_end
        };

        let view = View {
            segments,
            runs: mem.runs().to_vec(),
            now,
            active_log: Some(ActiveInfo {
                name: files::log_name(manifest.active_log),
                bytes_used: log_end,
            }),
        };
        let writer = Writer {
            log: Some(ActiveLog {
                id: manifest.active_log,
                file: log_file,
                capacity,
                end: log_end,
                blocks,
                durable_end,
                start_now,
            }),
            mem,
            dict_file: Some(dict_file),
            dict_end,
            unsynced: false,
        };
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            read_only,
            _lock: lock,
            dict: Arc::new(RwLock::new(dict)),
            view: Mutex::new(Arc::new(view)),
            writer: Mutex::new(writer),
            rejected_too_old: AtomicU64::new(manifest.rejected_too_old),
            rejected_future: AtomicU64::new(manifest.rejected_future),
            manifest: Mutex::new(manifest),
            compaction_lock: Mutex::new(()),
            poison: Mutex::new(None),
            poisoned: AtomicBool::new(false),
            now: AtomicU64::new(now.map_or(NO_NOW, u64::from)),
            grand_total: AtomicU64::new(grand_total),
            recovery: report,
            source_position: Mutex::new(source),
            inject_compaction_panic: AtomicBool::new(false),
            opts,
        });
        let handle = Arc::new(Handle {
            inner: inner.clone(),
            stop: Arc::new((Mutex::new(false), Condvar::new())),
            threads: Mutex::new(Vec::new()),
        });
        let store = Store { inner, handle };
        if !read_only {
            if store.inner.recovery.log_truncated_bytes > 0 {
                // Seal the cut log away, so the next open does not report
                // the same truncation again.
                store.seal()?;
            }
            store.start_background();
        }
        Ok(store)
    }

    fn start_background(&self) {
        let mut threads = self.handle.threads.lock();
        if let SyncPolicy::Interval(every) = self.inner.opts.sync {
            let inner = self.inner.clone();
            let stop = self.handle.stop.clone();
            threads.push(spawn_periodic("trendlog-sync", every, stop, move || {
                if inner.is_poisoned() {
                    return;
                }
                // A failed sync poisons the store; the next call reports it.
                let _ = inner.sync();
            }));
        }
        if self.inner.opts.background_compaction {
            let inner = self.inner.clone();
            let stop = self.handle.stop.clone();
            threads.push(spawn_periodic(
                "trendlog-compact",
                self.inner.opts.compaction_interval,
                stop,
                move || {
                    if inner.is_poisoned() {
                        return;
                    }
                    let _ = compaction::run_pass(&inner);
                },
            ));
        }
    }

    /// Records `count` events of `tag` at unix second `ts`: a one-event batch,
    /// committed at once (and made durable at once under
    /// [`SyncPolicy::EveryBatch`]). For throughput, use [`Store::batch`].
    pub fn record(&self, tag: &str, ts: i64, count: u64) -> Result<()> {
        let mut b = self.batch();
        b.add(tag, ts, count)?;
        b.commit().map(|_| ())
    }

    /// Starts a batch: events added to it become visible and durable together,
    /// all or nothing, when it is committed.
    pub fn batch(&self) -> Batch {
        Batch {
            store: self.clone(),
            items: Vec::new(),
            events: 0,
            sum: 0,
            max_minute: None,
            source: None,
        }
    }

    /// Makes every committed batch durable: after `sync` returns, they survive a
    /// crash of the process or the machine. A failed sync poisons the store.
    pub fn sync(&self) -> Result<()> {
        self.inner.sync()
    }

    /// A consistent, immutable view of the store for queries.
    pub fn snapshot(&self) -> Snapshot {
        let view = self.inner.view.lock().clone();
        let i = &self.inner;
        Snapshot::new(
            view,
            i.dict.clone(),
            self.limits(),
            crate::query::Counters {
                grand_total: i.grand_total.load(Ordering::Acquire),
                rejected_too_old: i.rejected_too_old.load(Ordering::Relaxed),
                rejected_future: i.rejected_future.load(Ordering::Relaxed),
            },
        )
    }

    pub(crate) fn limits(&self) -> Limits {
        self.inner.limits()
    }

    /// Runs compaction now (roll-up of old minutes into hours, retention,
    /// merging of small segments) until there is nothing left to do, and
    /// reports what it did.
    pub fn compact(&self) -> Result<CompactionReport> {
        if self.inner.read_only {
            return Err(Error::ReadOnly);
        }
        compaction::run_pass(&self.inner)
    }

    /// Seals the active log segment now, whatever its size, so its cells move
    /// to an immutable sorted segment (and can be compacted).
    pub fn seal(&self) -> Result<()> {
        self.inner.check_writable()?;
        let mut w = self.inner.writer.lock();
        self.inner.seal_locked(&mut w)
    }

    /// The source position of the newest committed batch that carried one
    /// (after a reopen: the newest that was made durable).
    pub fn source_position(&self) -> Option<Vec<u8>> {
        self.inner.source_position.lock().clone()
    }

    /// What opening the store found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// The store's now: the newest minute it holds.
    pub fn now(&self) -> Option<Minute> {
        self.inner.now()
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// True when the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// Stops the background threads, syncs, and releases the lock (once the
    /// last clone is gone). Reports a failed final sync, which `drop` cannot.
    pub fn close(self) -> Result<()> {
        self.handle.stop_threads();
        let res = if self.inner.read_only {
            Ok(())
        } else {
            self.inner
                .sync()
                .and_then(|()| self.inner.checkpoint_dict())
        };
        drop(self);
        res
    }

    /// Makes the next background compaction pass panic (for tests of the
    /// poisoning path).
    #[doc(hidden)]
    pub fn inject_compaction_panic(&self) {
        self.inner
            .inject_compaction_panic
            .store(true, Ordering::SeqCst);
    }

    /// `self.snapshot().total(tag, range)`: see [`Snapshot::total`].
    pub fn total(&self, tag: &str, range: TimeRange) -> Result<u64> {
        self.snapshot().total(tag, range)
    }

    /// `self.snapshot().series(..)`: see [`Snapshot::series`].
    pub fn series(&self, tag: &str, range: TimeRange, step: Step) -> Result<Series> {
        self.snapshot().series(tag, range, step)
    }

    /// `self.snapshot().top(range, k)`: see [`Snapshot::top`].
    pub fn top(&self, range: TimeRange, k: usize) -> Result<Vec<TopRow>> {
        self.snapshot().top(range, k)
    }

    /// `self.snapshot().trending(q)`: see [`Snapshot::trending`].
    pub fn trending(&self, q: &TrendQuery) -> Result<Vec<TrendRow>> {
        self.snapshot().trending(q)
    }

    /// `self.snapshot().stats()`: see [`Snapshot::stats`].
    pub fn stats(&self) -> Stats {
        self.snapshot().stats()
    }
}

fn spawn_periodic(
    name: &str,
    every: Duration,
    stop: Arc<(Mutex<bool>, Condvar)>,
    mut work: impl FnMut() + Send + 'static,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || loop {
            {
                let mut stopped = stop.0.lock();
                if *stopped {
                    return;
                }
                stop.1.wait_for(&mut stopped, every);
                if *stopped {
                    return;
                }
            }
            work();
        })
        .expect("spawning a thread")
}

fn max_opt(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Length of the non-zero garbage from `from` to the last non-zero byte.
fn garbage_len(bytes: &[u8], from: u64) -> u64 {
    let from = (from as usize).min(bytes.len());
    match bytes[from..].iter().rposition(|&b| b != 0) {
        Some(p) => (p + 1) as u64,
        None => 0,
    }
}

/// True when a block of the log `id` that is known to have been durable names
/// a tag id `>= from` (or the log cannot be read: then nothing may be assumed
/// lost). A block is known durable when some valid block records a
/// `durable_end` at or past its end; the writer fsyncs the dictionary before
/// the log, so the entries such a block names were durable too, and damage to
/// them is corruption, not a lost unsynced write.
pub(crate) fn log_names_tag_from(vfs: &dyn Vfs, dir: &Path, id: u64, from: u32) -> bool {
    let Ok(bytes) = files::read_file(vfs, &dir.join(files::log_name(id))) else {
        return true;
    };
    let blocks: Vec<_> = blocks_from(&bytes, LOG_HEADER_LEN).collect();
    let durable = blocks
        .iter()
        .map(|(_, b)| b.durable_end())
        .max()
        .unwrap_or(0);
    blocks.iter().any(|(at, b)| {
        at + b.len() as u64 <= durable
            && b.cell_count() > 0
            && b.tag(b.cell_count() as usize - 1) >= from
    })
}

fn validate_manifest(m: &Manifest, path: &Path) -> Result<()> {
    let mut ids: Vec<u64> = m.segments.iter().map(|s| s.file_id).collect();
    ids.push(m.active_log);
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid(path, 0, "a file id is listed twice"));
    }
    if ids.last().is_some_and(|&max| max >= m.next_file_id) {
        return Err(invalid(path, 0, "a file id is not below next_file_id"));
    }
    for s in &m.segments {
        if s.min_time > s.max_time || (s.cell_count == 0) != (s.total == 0) {
            return Err(invalid(
                path,
                0,
                format!("segment {} has an inconsistent entry", s.file_id),
            ));
        }
    }
    Ok(())
}

fn create_store(
    vfs: &dyn Vfs,
    dir: &Path,
    names: &[String],
    log_file_bytes: u64,
) -> Result<Manifest> {
    // Only the files of an interrupted creation can be here (no manifest was
    // ever written, so nothing was ever acknowledged).
    for n in names {
        if matches!(
            classify(n),
            Some(FileKind::Dict | FileKind::Log(_) | FileKind::Temp)
        ) {
            let p = dir.join(n);
            vfs.remove(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    let store_id = new_store_id();
    files::write_new_file(vfs, &dir.join(files::DICT), &encode_dict_header(store_id))?;
    create_log(vfs, dir, 1, log_file_bytes, store_id)?;
    let m = Manifest {
        store_id,
        generation: 1,
        next_file_id: 2,
        active_log: 1,
        segments: Vec::new(),
        now: None,
        source_position: None,
        dict_entries: 0,
        rejected_too_old: 0,
        rejected_future: 0,
    };
    files::sync_dir(vfs, dir)?;
    files::write_atomic(vfs, dir, files::MANIFEST, &encode_manifest(&m))?;
    Ok(m)
}

/// A random, non-zero id for a new store: std's hasher keys are seeded from
/// the operating system's random source, mixed with the clock and the pid.
fn new_store_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    let v = h.finish();
    ((v >> 32) as u32 ^ v as u32).max(1)
}

fn create_log(
    vfs: &dyn Vfs,
    dir: &Path,
    id: u64,
    capacity: u64,
    store_id: u32,
) -> Result<PathFile> {
    let path = dir.join(files::log_name(id));
    let f = PathFile::open(vfs, path, OpenMode::CREATE)?;
    f.allocate(capacity)?;
    f.write_at(&encode_log_header_with(id, capacity, store_id), 0)?;
    f.sync()?;
    Ok(f)
}

pub(crate) fn open_segment(
    vfs: &dyn Vfs,
    dir: &Path,
    entry: &SegmentEntry,
    dict_len: u64,
    store_id: u32,
) -> Result<Segment> {
    let name = files::segment_name(entry.file_id, entry.resolution);
    let path = dir.join(&name);
    let map = vfs.map(&path).map_err(|e| Error::io(&path, e))?;
    let view = SegmentView::open(MapBytes(map)).map_err(|e| corrupted(&path, e))?;
    let m = view.meta();
    check_store_id(m.store_id, store_id, SEGMENT_STORE_ID_AT as u64)
        .map_err(|e| corrupted(&path, e))?;
    let matches = m.file_id == entry.file_id
        && m.resolution == entry.resolution
        && m.cell_count == entry.cell_count
        && m.total == entry.total
        && (m.cell_count == 0 || (m.min_time == entry.min_time && m.max_time == entry.max_time));
    if !matches {
        return Err(invalid(
            &path,
            0,
            "the segment header does not match its manifest entry",
        ));
    }
    if m.cell_count > 0 && u64::from(view.max_tag()) >= dict_len {
        return Err(invalid(
            &path,
            0,
            format!(
                "the segment names tag id {} but the dictionary holds {dict_len} tags",
                view.max_tag()
            ),
        ));
    }
    Ok(Segment {
        entry: *entry,
        name,
        view,
    })
}

impl Inner {
    pub(crate) fn vfs(&self) -> &dyn Vfs {
        &*self.opts.vfs
    }

    pub(crate) fn now(&self) -> Option<Minute> {
        match self.now.load(Ordering::Acquire) {
            NO_NOW => None,
            n => Some(Minute(n as u32)),
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            minute_retention: self.opts.minute_retention,
            hour_retention: self.opts.hour_retention,
        }
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    pub(crate) fn poison(&self, reason: String) {
        let mut p = self.poison.lock();
        if p.is_none() {
            *p = Some(reason);
        }
        self.poisoned.store(true, Ordering::Release);
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        if self.is_poisoned() {
            return Err(Error::Poisoned {
                reason: self.poison.lock().clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Runs a write-path step; any error poisons the store, because after a
    /// failed write or fsync the state on disk is unknown (Linux may drop the
    /// dirty pages of a failed fsync, so retrying it could report success for
    /// data that is gone).
    fn guard<T>(&self, what: &str, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            self.poison(format!("{what} failed: {e}"));
        }
        r
    }

    pub(crate) fn sync(&self) -> Result<()> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        self.sync_locked(&mut w)
    }

    fn sync_locked(&self, w: &mut Writer) -> Result<()> {
        if !w.unsynced {
            return Ok(());
        }
        let r = (|| {
            if let Some(d) = &w.dict_file {
                d.sync()?;
            }
            if let Some(l) = &w.log {
                l.file.sync()?;
            }
            Ok(())
        })();
        self.guard("sync", r)?;
        w.unsynced = false;
        if let Some(l) = &mut w.log {
            l.durable_end = l.end;
        }
        Ok(())
    }

    /// After a clean shutdown's sync: records in the manifest how many
    /// dictionary entries are durable, so that damage to any of them is
    /// reported as corruption instead of being taken for unsynced writes a
    /// power failure lost (which recovery cuts). Only writes when new entries
    /// became durable since the manifest was last written.
    fn checkpoint_dict(&self) -> Result<()> {
        self.check_writable()?;
        let w = self.writer.lock();
        if w.unsynced {
            return Ok(());
        }
        let durable = self.dict.read().flushed_count() as u64;
        let mut m = self.manifest.lock();
        if durable <= m.dict_entries {
            return Ok(());
        }
        let mut next = m.clone();
        next.generation += 1;
        next.dict_entries = durable;
        next.now = self.now().map(|m| m.0);
        next.source_position = self.source_position.lock().clone();
        next.rejected_too_old = self.rejected_too_old.load(Ordering::Relaxed);
        next.rejected_future = self.rejected_future.load(Ordering::Relaxed);
        let r = files::write_atomic(
            self.vfs(),
            &self.dir,
            files::MANIFEST,
            &encode_manifest(&next),
        );
        self.guard("writing the manifest", r)?;
        *m = next;
        drop(w);
        Ok(())
    }

    fn publish(&self, f: impl FnOnce(&mut View)) {
        let mut g = self.view.lock();
        let mut v = (**g).clone();
        f(&mut v);
        *g = Arc::new(v);
    }

    /// Appends one pre-aggregated batch as one block.
    fn commit(&self, cells: Cells, source: Option<Vec<u8>>, sum: u64) -> Result<CommitInfo> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        self.check_writable()?;
        // Checked here, added with fetch_add below: compaction may subtract
        // dropped totals meanwhile (without the writer lock), and a store of
        // a value loaded here would undo that subtraction. A concurrent
        // subtraction only lowers the total, so the add cannot overflow.
        self.grand_total
            .load(Ordering::Acquire)
            .checked_add(sum)
            .ok_or(InvalidInput::CountOverflow)?;
        let block_len = encoded_block_len(cells.len(), source.as_ref().map_or(0, |s| s.len()));
        let fits = {
            let log = w.log.as_ref().expect("writer has a log");
            log.end + block_len as u64 <= log.capacity
        };
        if !fits {
            self.seal_with_capacity(&mut w, block_len as u64)?;
        }
        let mut bytes = Vec::with_capacity(block_len);
        let durable_end = w.log.as_ref().map_or(0, |l| l.durable_end);
        encode_block_with(&cells, source.as_deref(), durable_end, &mut bytes);
        debug_assert_eq!(bytes.len(), block_len);

        // Dictionary entries first: a block must never reach the disk before
        // the names of its tags.
        let (pending, upto) = self.dict.write().take_pending();
        if !pending.is_empty() {
            let r = w
                .dict_file
                .as_ref()
                .expect("writer has a dictionary")
                .write_at(&pending, w.dict_end);
            if let Err(e) = r {
                self.dict.write().restore_pending(pending, upto);
                return self.guard("writing the tag dictionary", Err(e));
            }
            w.dict_end += pending.len() as u64;
        }
        let log = w.log.as_mut().expect("writer has a log");
        let r = log.file.write_at(&bytes, log.end);
        self.guard("appending a block to the log", r)?;
        log.end += bytes.len() as u64;
        log.blocks += 1;
        w.unsynced = true;
        let durable = self.opts.sync == SyncPolicy::EveryBatch;
        if durable {
            self.sync_locked(&mut w)?;
        }

        let n_cells = cells.len() as u64;
        let batch_max = cells.times.iter().copied().max();
        self.grand_total.fetch_add(sum, Ordering::AcqRel);
        let now = match (self.now(), batch_max) {
            (Some(n), Some(b)) => Some(n.0.max(b)),
            (None, b) => b,
            (n, None) => n.map(|m| m.0),
        };
        let _ = now.map(|n| self.now.store(u64::from(n), Ordering::Release));
        let log = w.log.as_mut().expect("writer has a log");
        if n_cells > 0 && log.start_now.is_none() {
            log.start_now = now;
        }
        let log_info = ActiveInfo {
            name: files::log_name(log.id),
            bytes_used: log.end,
        };
        w.mem.push(cells);
        if let Some(src) = source {
            *self.source_position.lock() = Some(src);
        }
        let runs = w.mem.runs().to_vec();
        self.publish(|v| {
            v.runs = runs;
            v.now = now;
            v.active_log = Some(log_info);
        });

        if self.should_seal(&w, now) {
            // The batch is committed (and durable under EveryBatch) and visible:
            // a failed seal must not report it as failed, or a caller retrying
            // it would count it twice. The failure poisons the store, so the
            // next call reports it.
            let _ = self.seal_locked(&mut w);
        }
        Ok(CommitInfo {
            events: 0,
            cells: n_cells,
            durable,
        })
    }

    fn should_seal(&self, w: &Writer, now: Option<u32>) -> bool {
        let Some(log) = &w.log else { return false };
        if w.mem.cells_upper_bound() >= self.opts.seal_cells {
            return true;
        }
        match (log.start_now, now) {
            (Some(start), Some(now)) => now.saturating_sub(start) >= self.opts.seal_minutes,
            _ => false,
        }
    }

    fn seal_locked(&self, w: &mut Writer) -> Result<()> {
        self.seal_with_capacity(w, 0)
    }

    /// Seals the active segment and starts a new log file with room for a
    /// block of at least `need` bytes (0: the configured size).
    fn seal_with_capacity(&self, w: &mut Writer, need: u64) -> Result<()> {
        self.check_writable()?;
        let r = self.seal_inner(w, need);
        self.guard("sealing the active segment", r)
    }

    fn seal_inner(&self, w: &mut Writer, need: u64) -> Result<()> {
        let vfs = self.vfs();
        let dir = &self.dir;
        let run = w.mem.merged();
        // Cells about to become durable in a segment name tags that must be
        // durable first; and the manifest will promise them.
        if let Some(d) = &w.dict_file {
            d.sync()?;
        }
        // Entries queued but not yet written belong to uncommitted batches;
        // the manifest only promises what is in the file.
        let flushed_entries = self.dict.read().flushed_count() as u64;
        let mut m = self.manifest.lock();
        let mut next = m.clone();
        next.generation += 1;
        let store_id = next.store_id;
        let mut new_entry = None;
        if run.len() > 0 {
            let id = next.next_file_id;
            next.next_file_id += 1;
            let entry = compaction::write_segment(
                vfs,
                dir,
                id,
                store_id,
                Resolution::Minute,
                run.cells
                    .tags
                    .iter()
                    .zip(&run.cells.times)
                    .zip(&run.cells.counts)
                    .map(|((&t, &m), &c)| (t, m, c)),
            )?;
            new_entry = Some(entry);
        }
        let log_id = next.next_file_id;
        next.next_file_id += 1;
        let capacity = self
            .opts
            .log_file_bytes
            .max(LOG_HEADER_LEN as u64 + need.next_multiple_of(4096));
        let new_log = create_log(vfs, dir, log_id, capacity, store_id)?;
        files::sync_dir(vfs, dir)?;
        if let Some(e) = &new_entry {
            next.segments.push(*e);
        }
        let old_log = next.active_log;
        next.active_log = log_id;
        next.now = self.now().map(|m| m.0);
        next.source_position = self.source_position.lock().clone();
        next.dict_entries = flushed_entries;
        next.rejected_too_old = self.rejected_too_old.load(Ordering::Relaxed);
        next.rejected_future = self.rejected_future.load(Ordering::Relaxed);
        files::write_atomic(vfs, dir, files::MANIFEST, &encode_manifest(&next))?;
        *m = next;
        drop(m);
        // The old log is no longer live; if removing it fails, the next open
        // removes it as an orphan.
        let _ = vfs.remove(&dir.join(files::log_name(old_log)));

        let segment = match &new_entry {
            Some(e) => Some(Arc::new(open_segment(
                vfs,
                dir,
                e,
                self.dict.read().len() as u64,
                store_id,
            )?)),
            None => None,
        };
        w.log = Some(ActiveLog {
            id: log_id,
            file: new_log,
            capacity,
            end: LOG_HEADER_LEN as u64,
            blocks: 0,
            durable_end: LOG_HEADER_LEN as u64,
            start_now: None,
        });
        w.mem = Memtable::default();
        w.unsynced = false;
        let info = ActiveInfo {
            name: files::log_name(log_id),
            bytes_used: LOG_HEADER_LEN as u64,
        };
        self.publish(|v| {
            if let Some(s) = segment {
                v.segments.push(s);
            }
            v.runs.clear();
            v.active_log = Some(info);
        });
        // Index the dictionary's durable entries (synced above), so the next
        // open maps them instead of reading and hashing them. The index is
        // derived data written by rename: if writing it fails the store is
        // still whole, and the next seal tries again.
        let _ = Dict::write_index(
            &self.dict,
            vfs,
            dir,
            store_id,
            flushed_entries as usize,
            w.dict_end,
        );
        Ok(())
    }

    /// The live segments (for compaction).
    pub(crate) fn current_view(&self) -> Arc<View> {
        self.view.lock().clone()
    }

    /// Replaces `inputs` by `outputs` in the published view.
    pub(crate) fn publish_segments(&self, inputs: &[u64], outputs: Vec<Arc<Segment>>) {
        self.publish(|v| {
            v.segments.retain(|s| !inputs.contains(&s.entry.file_id));
            v.segments.extend(outputs);
        });
    }

    pub(crate) fn grand_total_sub(&self, dropped: u64) {
        let _ = self
            .grand_total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_sub(dropped))
            });
    }
}

/// An atomic group of events: pre-aggregated into `(tag, minute)` cells and
/// appended as one block on [`Batch::commit`]. Dropping a batch without
/// committing discards it.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
/// let mut batch = store.batch();
/// batch.add("#MeToo", 1_508_167_830, 1).unwrap();
/// batch.add("#MeToo", 1_508_167_845, 1).unwrap(); // same minute: one cell
/// batch.set_source_position(b"partition-3:1042".to_vec()).unwrap();
/// let info = batch.commit().unwrap();
/// assert_eq!(info.cells, 1);
/// assert_eq!(store.source_position().as_deref(), Some(&b"partition-3:1042"[..]));
/// ```
pub struct Batch {
    store: Store,
    items: Vec<(u64, u64)>,
    events: u64,
    sum: u64,
    max_minute: Option<u32>,
    source: Option<Vec<u8>>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("events", &self.events)
            .finish()
    }
}

impl Batch {
    /// Adds `count` events of `tag` at unix second `ts`. A rejected event (bad
    /// tag, time before 1970, too old for the retention, too far in the future,
    /// a count that would overflow) returns an error and changes nothing; the
    /// batch stays usable.
    pub fn add(&mut self, tag: &str, ts: i64, count: u64) -> Result<()> {
        let minute = Minute::from_unix(ts)?;
        let tag = tag::normalize(tag)?;
        self.add_normalized(&tag, minute, count)
    }

    /// Adds events for a tag already normalised with [`crate::tag::normalize`]
    /// at a minute.
    pub fn add_normalized(&mut self, tag: &str, minute: Minute, count: u64) -> Result<()> {
        let inner = &self.store.inner;
        if inner.read_only {
            return Err(Error::ReadOnly);
        }
        if self.items.len() >= MAX_BATCH_CELLS {
            return Err(InvalidInput::BatchTooLarge {
                max: MAX_BATCH_CELLS,
            }
            .into());
        }
        let now = max_opt(inner.now().map(|m| m.0), self.max_minute);
        if let Some(n) = now {
            let latest = n.saturating_add(inner.opts.max_future_skew);
            if minute.0 > latest {
                inner.rejected_future.fetch_add(1, Ordering::Relaxed);
                return Err(InvalidInput::TooFarInFuture {
                    minute: minute.0,
                    latest_accepted: latest,
                }
                .into());
            }
        }
        let limits = inner.limits();
        let effective_now = max_opt(now, Some(minute.0));
        if let Some(floor) = limits.retain_floor(effective_now) {
            if minute.0 < floor {
                inner.rejected_too_old.fetch_add(1, Ordering::Relaxed);
                return Err(InvalidInput::TooOld {
                    minute: minute.0,
                    oldest_kept: floor,
                }
                .into());
            }
        }
        let sum = self
            .sum
            .checked_add(count)
            .filter(|s| {
                inner
                    .grand_total
                    .load(Ordering::Acquire)
                    .checked_add(*s)
                    .is_some()
            })
            .ok_or(InvalidInput::CountOverflow)?;
        if count == 0 {
            self.events += 1;
            return Ok(());
        }
        let id = Dict::find_or_intern(&inner.dict, tag, || inner.check_writable())?;
        self.sum = sum;
        self.events += 1;
        self.max_minute = max_opt(self.max_minute, Some(minute.0));
        self.items
            .push(((u64::from(id) << 32) | u64::from(minute.0), count));
        Ok(())
    }

    /// Attaches an opaque source position (for example a Kafka partition
    /// offset or a NATS stream sequence, at most 65535 bytes), stored atomically
    /// with the batch and returned by [`Store::source_position`] after a reopen.
    pub fn set_source_position(&mut self, pos: Vec<u8>) -> Result<()> {
        if pos.len() > usize::from(u16::MAX) {
            return Err(InvalidInput::SourcePositionTooLong { len: pos.len() }.into());
        }
        self.source = Some(pos);
        Ok(())
    }

    /// Events added so far.
    pub fn len(&self) -> u64 {
        self.events
    }

    /// True when no event was added.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Appends the batch to the log as one block; under
    /// [`SyncPolicy::EveryBatch`] it is durable when this returns. On error
    /// nothing of the batch is visible.
    pub fn commit(mut self) -> Result<CommitInfo> {
        let events = self.events;
        if self.items.is_empty() && self.source.is_none() {
            return Ok(CommitInfo {
                events,
                cells: 0,
                durable: true,
            });
        }
        self.items.sort_unstable_by_key(|&(k, _)| k);
        let mut cells = Cells::default();
        let mut last = u64::MAX;
        for &(k, c) in &self.items {
            if k == last {
                let n = cells.counts.len() - 1;
                // Cannot overflow: `add` bounded the batch's sum.
                cells.counts[n] += c;
            } else {
                cells.push((k >> 32) as u32, k as u32, c);
                last = k;
            }
        }
        let mut info = self
            .store
            .inner
            .commit(cells, self.source.take(), self.sum)?;
        info.events = events;
        Ok(info)
    }
}
