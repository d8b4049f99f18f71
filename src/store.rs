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

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::compaction::worker::{self, Outcome};
use crate::compaction::{choose, CompactionReport, Plan, PolicyConfig, MAX_STEPS};
use crate::dict::{Dict, IndexWhen};
use crate::error::{CorruptionKind, Error, InvalidInput, Result};
use crate::format::cells::Cells;
use crate::format::dict::encode_dict_header;
use crate::format::log::{encode_block_with, encoded_block_len, LOG_HEADER_LEN};
use crate::format::manifest::Manifest;
use crate::format::Resolution;
use crate::labels::LabelKeys;
use crate::memtable::Memtable;
use crate::options::{Options, Retention, SyncPolicy};
use crate::query::{Series, SharedCatalog, Snapshot, Stats, TopRow, TrendQuery, TrendRow};
use crate::recovery::{self, Depth};
use crate::series::SeriesTable;
use crate::storage::files::{self, classify, FileKind, PathFile};
use crate::storage::log::{create_log, ActiveLog, INITIAL_LOG_BYTES};
use crate::storage::manifest::ManifestFile;
use crate::storage::segment::{open_segment, write_segment, Ids};
use crate::storage::vfs::{LockGuard, OpenMode, Vfs};
use crate::tag;
use crate::time::{Minute, Step, TimeRange};
use crate::view::{ActiveInfo, View};

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

struct Writer {
    log: Option<ActiveLog>,
    mem: Memtable,
    dict_file: Option<PathFile>,
    dict_end: u64,
    /// The series file of a labelled store of version 5, and where its
    /// valid blocks end.
    series_file: Option<PathFile>,
    series_end: u64,
    unsynced: bool,
}

pub(crate) struct Inner {
    dir: PathBuf,
    opts: Options,
    read_only: bool,
    _lock: Option<LockGuard>,
    dict: Arc<RwLock<Dict>>,
    /// The series of a labelled store of version 5 (`None`: ids are
    /// dictionary entries).
    series: Option<Arc<RwLock<SeriesTable>>>,
    view: Mutex<Arc<View>>,
    writer: Mutex<Writer>,
    manifest: Mutex<ManifestFile>,
    /// The store's retention, as its manifest records it.
    retention: RwLock<Retention>,
    compaction_lock: Mutex<()>,
    poison: Mutex<Option<String>>,
    poisoned: AtomicBool,
    /// The store's now (newest minute), `u64::MAX` when empty.
    now: AtomicU64,
    /// Sum of every count held; no event may take it past `u64::MAX`, so no
    /// sum over any part of the store can overflow.
    grand_total: AtomicU64,
    rejected_too_old: AtomicU64,
    rejected_future: AtomicU64,
    /// This open created the store (decided under the writer lock).
    created: bool,
    recovery: RecoveryReport,
    source_position: Mutex<Option<Vec<u8>>>,
    inject_compaction_panic: AtomicBool,
    /// A compaction pass met a damaged segment: background passes stop
    /// trying (each would read it again) until the store is reopened;
    /// writes and [`Store::compact`] go on.
    compaction_met_damage: AtomicBool,
    /// The store's label keys, as its manifest records them.
    labels: Arc<LabelKeys>,
    /// Id → (tag, labels) of a labelled store, shared by its snapshots.
    catalog: SharedCatalog,
}

struct Handle {
    inner: Arc<Inner>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop_threads();
        // Never while unwinding: a panic may have stopped a seal between
        // its manifest and the switch to its new log, and a clean close
        // would then record the old log's end in the new manifest.
        if !self.inner.read_only && !self.inner.is_poisoned() && !std::thread::panicking() {
            // Best effort: a store dropped without close() still closes
            // cleanly.
            let _ = self.inner.close_cleanly();
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

    /// [`Store::open_read_only`] with options (only the file system matters:
    /// retention is read from the store).
    pub fn open_read_only_with(dir: impl AsRef<Path>, opts: Options) -> Result<Store> {
        let dir = dir.as_ref();
        retry_while_changing(dir, || Self::open_inner(dir, opts.clone(), true))
    }

    fn open_inner(dir: &Path, opts: Options, read_only: bool) -> Result<Store> {
        let vfs = opts.vfs.clone();
        let lock = if read_only {
            None
        } else {
            vfs.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
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
        let mut created = false;
        let (manifest, manifest_version) = match recovery::read_manifest_versioned(&*vfs, dir)? {
            Some(m) => m,
            None if read_only => {
                return Err(lost_manifest(&*vfs, dir)?.unwrap_or(Error::NotAStore {
                    dir: dir.to_path_buf(),
                }))
            }
            None => {
                created = true;
                let m = create_store(&*vfs, dir, &opts)?;
                let v = crate::format::manifest::written_version(&m);
                (m, v)
            }
        };
        let labels = LabelKeys::new(&manifest.label_keys)?;
        if !opts.label_keys.is_empty() && opts.label_keys != labels {
            let sorted = |k: &LabelKeys| {
                let mut v = k.names().to_vec();
                v.sort();
                v
            };
            let why = if labels.is_empty() {
                format!(
                    "the store was created without label keys, not with [{}]",
                    opts.label_keys
                )
            } else if sorted(&labels) == sorted(&opts.label_keys) {
                format!(
                    "the store was created with the label keys [{labels}]: [{}] names the same \
                     keys in another order, and keys are given in the store's order",
                    opts.label_keys
                )
            } else {
                format!(
                    "the store was created with the label keys [{labels}], not [{}]",
                    opts.label_keys
                )
            };
            return Err(InvalidInput::BadLabelKeys(why).into());
        }
        let depth = if read_only {
            Depth::OpenReadOnly
        } else {
            Depth::Open
        };
        let found = recovery::examine(&*vfs, dir, manifest, depth)?;
        let mut report = RecoveryReport::default();
        let mode = if read_only {
            OpenMode::READ
        } else {
            OpenMode::WRITE
        };
        let dict_file = PathFile::open(&*vfs, dir.join(files::DICT), mode)?;
        let log_path = dir.join(files::log_name(found.manifest.active_log));
        let log_file = PathFile::open(&*vfs, log_path, mode)?;
        let log = found.log;
        report.blocks_replayed = log.blocks;
        report.log_blocks_dropped = log.dropped_blocks;
        report.log_tail_bytes_cut = log.cut;
        report.log_truncated_bytes = log.truncated_bytes;
        report.dict_tail_bytes_cut = found.dict_cut;
        let series_file = match &found.series {
            Some(_) => Some(PathFile::open(&*vfs, dir.join(files::SERIES), mode)?),
            None => None,
        };
        if !read_only {
            // Before anything is changed: a writer builds every batch on the
            // dictionary, so its damage refuses the writable open (reads
            // check each page when they first touch it).
            found.dict.check_every_page()?;
            for n in &found.leftovers {
                match classify(n) {
                    Some(FileKind::Temp) => report.temp_files_removed += 1,
                    _ => report.orphan_files_removed += 1,
                }
                let p = dir.join(n);
                vfs.remove(&p).map_err(|e| Error::io(&p, e))?;
            }
            if !found.leftovers.is_empty() {
                files::sync_dir(&*vfs, dir)?;
            }
            if found.dict_cut > 0 {
                dict_file.write_at(&vec![0; found.dict_cut as usize], found.dict_end)?;
            }
            if log.cut > 0 {
                log_file.write_at(&vec![0; log.cut as usize], log.end)?;
            }
            if let (Some(f), Some(st)) = (&series_file, &found.series) {
                if st.cut > 0 {
                    f.write_at(&vec![0; st.cut as usize], st.end)?;
                }
            }
            // What survived a crash of the process may still sit in the page
            // cache only; make it durable before blocks claim it is (names
            // before numbers: tags, series, then the log).
            dict_file.sync()?;
            if let Some(f) = &series_file {
                f.sync()?;
            }
            log_file.sync()?;
        }
        let durable_end = if read_only { 0 } else { log.end };
        let manifest = found.manifest;
        let view = View {
            segments: found.segments,
            runs: log.mem.runs().to_vec(),
            now: found.now,
            active_log: Some(ActiveInfo {
                name: files::log_name(manifest.active_log),
                bytes_used: log.end,
            }),
        };
        let writer = Writer {
            log: Some(ActiveLog {
                id: manifest.active_log,
                file: log_file,
                capacity: log.file_len,
                end: log.end,
                blocks: log.blocks,
                durable_end,
                start_now: log.start_now,
            }),
            mem: log.mem,
            dict_file: Some(dict_file),
            dict_end: found.dict_end,
            series_end: found.series.as_ref().map_or(0, |st| st.end),
            series_file,
            unsynced: false,
        };
        let retention = Retention {
            minute_minutes: manifest.minute_retention,
            hour_minutes: manifest.hour_retention,
        };
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            read_only,
            _lock: lock,
            dict: Arc::new(RwLock::new(found.dict)),
            series: found.series.map(|st| Arc::new(RwLock::new(st.table))),
            view: Mutex::new(Arc::new(view)),
            writer: Mutex::new(writer),
            rejected_too_old: AtomicU64::new(manifest.rejected_too_old),
            rejected_future: AtomicU64::new(manifest.rejected_future),
            manifest: Mutex::new(ManifestFile::new(dir, manifest, manifest_version)),
            retention: RwLock::new(retention),
            compaction_lock: Mutex::new(()),
            poison: Mutex::new(None),
            poisoned: AtomicBool::new(false),
            now: AtomicU64::new(found.now.map_or(NO_NOW, u64::from)),
            grand_total: AtomicU64::new(found.grand_total),
            created,
            recovery: report,
            source_position: Mutex::new(log.source),
            inject_compaction_panic: AtomicBool::new(false),
            compaction_met_damage: AtomicBool::new(false),
            labels: Arc::new(labels),
            catalog: SharedCatalog::default(),
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
                    if inner.is_poisoned() || inner.compaction_met_damage.load(Ordering::Acquire) {
                        return;
                    }
                    let _ = inner.compact_pass();
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
        // Read once per batch: the wall clock is consulted only for the
        // future-skew bound, and only when the options ask for it.
        let clock_minute = self.inner.opts.future_skew_from_clock.then(|| {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            u32::try_from(secs / 60).unwrap_or(u32::MAX)
        });
        Batch {
            store: self.clone(),
            items: Vec::new(),
            events: 0,
            sum: 0,
            max_minute: None,
            clock_minute,
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
        let i = &self.inner;
        // The view and the grand total together: both change only under the
        // view's lock.
        let (view, grand_total) = {
            let v = i.view.lock();
            (v.clone(), i.grand_total.load(Ordering::Acquire))
        };
        Snapshot::new(
            view,
            i.dict.clone(),
            i.series.clone(),
            i.retention(),
            crate::query::Counters {
                grand_total,
                rejected_too_old: i.rejected_too_old.load(Ordering::Relaxed),
                rejected_future: i.rejected_future.load(Ordering::Relaxed),
            },
            i.labels.clone(),
            i.catalog.clone(),
        )
    }

    /// Runs compaction now (roll-up of old minutes into hours, retention,
    /// merging of small segments) until there is nothing left to do, and
    /// reports what it did. Only sealed segments are compacted: call
    /// [`Store::seal`] first to include the active log.
    pub fn compact(&self) -> Result<CompactionReport> {
        if self.inner.read_only {
            return Err(Error::ReadOnly);
        }
        self.inner.compact_pass()
    }

    /// Seals the active log segment now, whatever its size, so its cells move
    /// to an immutable sorted segment (and can be compacted).
    pub fn seal(&self) -> Result<()> {
        self.inner.check_writable()?;
        let mut w = self.inner.writer.lock();
        self.inner.seal_locked(&mut w)
    }

    /// Whether `name` is the name of a file a store keeps in its directory:
    /// `MANIFEST`, `LOCK`, `tags.dict`, `tags.idx`, `tags.series`,
    /// `tags.sidx`, a log `log-<16 hex>.log`
    /// or a segment `seg-<16 hex>.min|.hour` (not a `.tmp` file a write in
    /// progress leaves, nor anything else: a user's `log-2024-05.txt` is
    /// not).
    ///
    /// ```
    /// use trendlog::Store;
    /// assert!(Store::is_store_file_name("seg-0000000000000002.min"));
    /// assert!(!Store::is_store_file_name("log-2024-05.txt"));
    /// ```
    pub fn is_store_file_name(name: &str) -> bool {
        name == files::INDEX
            || name == files::SERIES_INDEX
            || files::classify(name).is_some_and(|k| k != files::FileKind::Temp)
    }

    /// Whether this open created the store (no manifest was there when it
    /// took the writer lock), as opposed to opening one that existed. Always
    /// false for a read-only open.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// assert!(store.created());
    /// drop(store);
    /// let again = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// assert!(!again.created());
    /// ```
    pub fn created(&self) -> bool {
        self.inner.created
    }

    /// The store's label keys (empty for a store without labels).
    pub fn label_keys(&self) -> &LabelKeys {
        &self.inner.labels
    }

    /// The format version of the store's `MANIFEST` as this handle last read
    /// or wrote it: 5 for a labelled store that keeps its series in
    /// `tags.series`, 4 for every other store this build writes, 1 to 4 for
    /// an older store not written since it was opened (a read-only handle
    /// never writes). The store's other files carry their own versions
    /// (docs/format.md): a labelled store of version 3 keeps a version-3
    /// `tags.dict` under a version-4 manifest.
    ///
    /// ```
    /// use trendlog::labels::LabelKeys;
    /// use trendlog::{Options, Store};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let labelled = tempfile::tempdir().unwrap();
    /// let plain = Store::open(dir.path(), Options::default()).unwrap();
    /// assert_eq!(plain.manifest_version(), 4);
    /// let keys = LabelKeys::parse("region").unwrap();
    /// let store = Store::open(labelled.path(), Options::default().label_keys(keys)).unwrap();
    /// assert_eq!(store.manifest_version(), 5);
    /// ```
    pub fn manifest_version(&self) -> u16 {
        self.inner.manifest.lock().version()
    }

    /// In a store that keeps its series in `tags.series` (manifest version
    /// 5), how many series the manifest records as durable: those in the
    /// file at the last seal or clean close (series written since count in
    /// [`Stats::tags`](crate::Stats::tags), not here). `None` for every other
    /// store.
    ///
    /// ```
    /// use trendlog::labels::LabelKeys;
    /// use trendlog::{Options, Store};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let keys = LabelKeys::parse("region").unwrap();
    /// let store = Store::open(dir.path(), Options::default().label_keys(keys.clone())).unwrap();
    /// let mut b = store.batch();
    /// b.add_labelled("metoo", &[("region", "paris")], 1_508_112_000, 5).unwrap();
    /// b.commit().unwrap();
    /// assert_eq!(store.durable_series(), Some(0));
    /// store.close().unwrap();
    /// let ro = Store::open_read_only(dir.path()).unwrap();
    /// assert_eq!(ro.durable_series(), Some(1));
    /// ```
    pub fn durable_series(&self) -> Option<u32> {
        self.inner.manifest.lock().get().series_entries
    }

    /// In a store that keeps its series in `tags.series`, how many of them
    /// this handle reads through the series index (`tags.sidx`): a
    /// read-only open maps the file and reads only the series past them. 0
    /// when it reads the whole file: a writable handle always does, and so
    /// does a read-only one when the store has no usable index. `None` for
    /// every other store.
    ///
    /// ```
    /// use trendlog::labels::LabelKeys;
    /// use trendlog::{Options, Store};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let keys = LabelKeys::parse("region").unwrap();
    /// let store = Store::open(dir.path(), Options::default().label_keys(keys.clone())).unwrap();
    /// let mut b = store.batch();
    /// b.add_labelled("metoo", &[("region", "paris")], 1_508_112_000, 5).unwrap();
    /// b.commit().unwrap();
    /// assert_eq!(store.indexed_series(), Some(0));
    /// store.close().unwrap(); // writes the index
    /// let ro = Store::open_read_only(dir.path()).unwrap();
    /// assert_eq!(ro.indexed_series(), Some(1));
    /// ```
    pub fn indexed_series(&self) -> Option<u32> {
        self.inner.series.as_ref().map(|t| t.read().indexed_len())
    }

    /// The store's retention, as stored in the store.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use std::time::Duration;
    /// use trendlog::{Options, Store};
    /// let opts = Options::default().minute_retention(Some(Duration::from_secs(2 * 86_400)));
    /// let store = Store::open(dir.path(), opts).unwrap();
    /// assert_eq!(store.retention().minute_minutes, Some(2 * 1440));
    /// drop(store);
    /// // Every later opener, read-only ones included, reads it from the store.
    /// let ro = Store::open_read_only(dir.path()).unwrap();
    /// assert_eq!(ro.retention().minute_minutes, Some(2 * 1440));
    /// ```
    pub fn retention(&self) -> Retention {
        self.inner.retention()
    }

    /// Changes the store's retention (rounded down to whole hours, at least
    /// one) and records it durably in the store; the next compaction pass
    /// applies it. Shortening the hour retention makes older data invisible at
    /// once and drops it at the next compaction.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{Retention, Store};
    /// let store = Store::open(dir.path(), Default::default()).unwrap();
    /// store.set_retention(Retention { minute_minutes: None, hour_minutes: Some(90 * 1440) }).unwrap();
    /// assert_eq!(store.retention().minute_minutes, None);
    /// ```
    pub fn set_retention(&self, retention: Retention) -> Result<()> {
        self.inner.check_writable()?;
        let r = retention.normalized();
        let mut m = self.inner.manifest.lock();
        let res = m.commit(self.inner.vfs(), |next| {
            next.minute_retention = r.minute_minutes;
            next.hour_retention = r.hour_minutes;
        });
        self.inner.guard("writing the manifest", res)?;
        *self.inner.retention.write() = r;
        Ok(())
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

    /// Whether background compaction has stopped because a pass met a
    /// damaged segment (see [`Store::compact`]): writes go on, but minutes
    /// are not rolled up and expired data stays on disk until the damage is
    /// gone (`verify` names the file) and a pass succeeds, or the store is
    /// reopened.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = trendlog::Store::open(dir.path(), Default::default()).unwrap();
    /// assert!(!store.compaction_stopped_by_damage());
    /// ```
    pub fn compaction_stopped_by_damage(&self) -> bool {
        self.inner.compaction_met_damage.load(Ordering::Acquire)
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

    /// Stops the background threads, syncs, records the clean close in the
    /// manifest (so that any later damage to what was written is reported as
    /// corruption, never taken for a torn tail), and releases the lock.
    /// Reports a failure, which `drop` cannot.
    ///
    /// While other clones of this store, or [`Batch`]es (each holds one),
    /// are alive, it only syncs and gives up this handle: the others go on
    /// writing with the background threads, and the last of them closes the
    /// store (its `close`, or its drop, which closes cleanly too but cannot
    /// report a failure).
    ///
    /// ```
    /// use trendlog::{Options, Store};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path(), Options::default()).unwrap();
    /// let other = store.clone();
    /// store.close().unwrap(); // synced; `other` still writes
    /// other.record("metoo", 1_508_112_000, 1).unwrap();
    /// other.close().unwrap(); // the last handle: closed, unlocked
    /// assert!(Store::open(dir.path(), Options::default()).is_ok());
    /// ```
    pub fn close(self) -> Result<()> {
        let Store { inner, handle } = self;
        // Exactly one of several handles closing at once gets the handle
        // (so a clean close's failure is always reported by some close).
        let Some(handle) = Arc::into_inner(handle) else {
            return if inner.read_only {
                Ok(())
            } else {
                inner.sync()
            };
        };
        handle.stop_threads();
        let res = if inner.read_only {
            Ok(())
        } else {
            inner.close_cleanly()
        };
        drop(handle);
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

/// Runs a read-only step that a concurrent writer may disturb: a file named
/// by the manifest can vanish before it is read (a seal or compaction), and
/// a block being written reads as torn-then-valid or as bytes past a clean
/// end. Retries from a fresh manifest; a second look tells a race from real
/// damage.
pub(crate) fn retry_while_changing<T>(dir: &Path, mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let mut last = None;
    for attempt in 0..20 {
        match f() {
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && attempt < 19 =>
            {
                last = Some(source);
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(Error::Corrupted(_)) if attempt < 3 => {
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

/// Why a directory without a manifest is not simply "no store yet": the
/// damage of a store that lost its manifest, when anything in it shows that
/// data was written. Creation writes the dictionary's 16-byte header and
/// log 1's header (the rest of it preallocated zeros), then the manifest;
/// so a sealed segment, a `tags.idx` (written by a seal or a close), a log
/// other than log 1, a dictionary with entries (every batch names its tags
/// there first) or a byte past log 1's header that is not zero proves a
/// store existed. `Ok(None)`: nothing in it was ever acknowledged.
pub(crate) fn lost_manifest(vfs: &dyn Vfs, dir: &Path) -> Result<Option<Error>> {
    let names = match vfs.list(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let damage = |why: String| Ok(Some(invalid(&dir.join(files::MANIFEST), 0, why)));
    for n in &names {
        match classify(n) {
            Some(FileKind::Segment(..)) => {
                return damage("the manifest is missing but sealed segments exist".into())
            }
            Some(FileKind::Log(id)) if id != 1 => {
                return damage(format!(
                    "the manifest is missing but {n} exists, so the store was sealed"
                ))
            }
            _ if n == crate::dict::INDEX_FILE || n == files::SERIES_INDEX => {
                return damage(format!(
                    "the manifest is missing but {n} exists, so the store was sealed or closed"
                ))
            }
            _ => {}
        }
    }
    let open = |name: &str| -> Result<Option<Box<dyn crate::storage::vfs::VFile>>> {
        if !names.iter().any(|n| n == name) {
            return Ok(None);
        }
        let p = dir.join(name);
        vfs.open(&p, OpenMode::READ)
            .map(Some)
            .map_err(|e| Error::io(&p, e))
    };
    for (name, header, what) in [
        (files::DICT, crate::format::dict::DICT_HEADER_LEN, "tags"),
        (
            files::SERIES,
            crate::format::series::SERIES_HEADER_LEN,
            "series",
        ),
    ] {
        if let Some(d) = open(name)? {
            let len = d.len().map_err(|e| Error::io(dir.join(name), e))?;
            if len > header as u64 {
                return damage(format!(
                    "the manifest is missing but {name} holds {what} ({len} bytes), so data \
                     was written"
                ));
            }
        }
    }
    let log1 = files::log_name(1);
    if let Some(l) = open(&log1)? {
        let l = l.read_to_vec().map_err(|e| Error::io(dir.join(&log1), e))?;
        if l.iter().skip(LOG_HEADER_LEN).any(|&b| b != 0) {
            return damage(format!(
                "the manifest is missing but {log1} holds data past its header"
            ));
        }
    }
    Ok(None)
}

/// Whether `e` is damage in one of the live segments a compaction pass read
/// (not in an output it wrote and read back, which is a failed write).
fn is_input_damage(e: &Error, view: &View) -> bool {
    let Error::Corrupted(c) = e else {
        return false;
    };
    let damaged = c.file.file_name();
    view.segments.iter().any(|s| {
        damaged
            .is_some_and(|d| d == files::segment_name(s.entry.file_id, s.entry.resolution).as_str())
    })
}

/// Refuses to create a store in `dir` over a file that bears a store file's
/// name but is someone else's. A dictionary or log that an interrupted
/// creation left starts with its magic (or is shorter than it, or its first
/// bytes never reached the disk and read as zeros), and is replaced; any other file of that name would be lost, so the creation
/// stops with `AlreadyExists` naming it, and nothing is removed.
fn refuse_foreign_files(vfs: &dyn Vfs, dir: &Path, names: &[String]) -> Result<()> {
    for n in names {
        let magic = match classify(n) {
            Some(FileKind::Dict) => crate::format::dict::DICT_MAGIC,
            Some(FileKind::Series) => crate::format::series::SERIES_MAGIC,
            Some(FileKind::Log(_)) => crate::format::log::LOG_MAGIC,
            _ => continue,
        };
        let p = dir.join(n);
        let f = vfs.open(&p, OpenMode::READ).map_err(|e| Error::io(&p, e))?;
        let len = f.len().map_err(|e| Error::io(&p, e))?;
        let mut head = [0u8; 4];
        let head = &mut head[..len.min(4) as usize];
        f.read_exact_at(head, 0).map_err(|e| Error::io(&p, e))?;
        // A crash can leave the file's length without its bytes: zeros.
        if !magic.starts_with(head) && head.iter().any(|&b| b != 0) {
            let why = "not a trendlog file (it does not start with trendlog's magic bytes), in a \
                       directory without a manifest: a store is never created over it; move it \
                       away or use another directory";
            return Err(Error::io(
                &p,
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, why),
            ));
        }
    }
    Ok(())
}

/// Creates a new store in `dir` (which has no manifest) with `opts`'
/// retention, and returns its first manifest.
fn create_store(vfs: &dyn Vfs, dir: &Path, opts: &Options) -> Result<Manifest> {
    let names = vfs.list(dir).map_err(|e| Error::io(dir, e))?;
    // Segments, an index or a later log are a store's that lost its
    // manifest (which `lost_manifest` reports, whatever its dictionary's
    // head holds); without them, a dictionary or log may be a user's.
    let sealed = names.iter().any(|n| {
        n == files::INDEX
            || n == files::SERIES_INDEX
            || matches!(classify(n), Some(FileKind::Segment(..)))
            || matches!(classify(n), Some(FileKind::Log(id)) if id != 1)
    });
    if !sealed {
        refuse_foreign_files(vfs, dir, &names)?;
    }
    if let Some(damage) = lost_manifest(vfs, dir)? {
        return Err(damage);
    }
    // Only the files of an interrupted creation can be here (no manifest was
    // ever written, so nothing was ever acknowledged).
    for n in &names {
        if matches!(
            classify(n),
            Some(FileKind::Dict | FileKind::Series | FileKind::Log(_) | FileKind::Temp)
        ) {
            let p = dir.join(n);
            vfs.remove(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    let store_id = new_store_id();
    files::write_new_file(vfs, &dir.join(files::DICT), &encode_dict_header(store_id))?;
    // A labelled store keeps its series in a file of their own (format
    // version 5); tags.dict then holds each tag once.
    let keys = opts.label_keys.len();
    if keys > 0 {
        let header = crate::format::series::encode_series_header(store_id, keys);
        files::write_new_file(vfs, &dir.join(files::SERIES), &header)?;
    }
    create_log(vfs, dir, 1, initial_log_bytes(opts, 0), store_id)?;
    let retention = opts.retention.normalized();
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
        minute_retention: retention.minute_minutes,
        hour_retention: retention.hour_minutes,
        log_durable_end: LOG_HEADER_LEN as u64,
        clean: true,
        label_keys: opts.label_keys.names().to_vec(),
        series_entries: (keys > 0).then_some(0),
    };
    files::sync_dir(vfs, dir)?;
    files::write_atomic(
        vfs,
        dir,
        files::MANIFEST,
        &crate::format::manifest::encode_manifest(&m),
    )?;
    Ok(m)
}

/// The size a new log is preallocated to: small, so a small store is small,
/// but with room for a first block of `need` bytes.
fn initial_log_bytes(opts: &Options, need: u64) -> u64 {
    INITIAL_LOG_BYTES
        .min(opts.log_file_bytes)
        .max(LOG_HEADER_LEN as u64 + need.next_multiple_of(4096))
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

impl Inner {
    fn vfs(&self) -> &dyn Vfs {
        &*self.opts.vfs
    }

    fn now(&self) -> Option<Minute> {
        match self.now.load(Ordering::Acquire) {
            NO_NOW => None,
            n => Some(Minute(n as u32)),
        }
    }

    fn retention(&self) -> Retention {
        *self.retention.read()
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    fn poison(&self, reason: String) {
        let mut p = self.poison.lock();
        if p.is_none() {
            *p = Some(reason);
        }
        self.poisoned.store(true, Ordering::Release);
    }

    /// The id of a tag, or of a series, interning it (after
    /// `check_writable`) when new: a series of a store with a series file is
    /// its tag's id in the dictionary and its values' numbers in the table;
    /// in a labelled store of an earlier version, its key's entry.
    fn intern<S: AsRef<str>>(&self, named: Named<'_, S>) -> Result<u32> {
        let writable = || self.check_writable();
        match (named, &self.series) {
            (Named::Tag(tag), _) => Dict::find_or_intern(&self.dict, tag, writable),
            (Named::Series(tag, values), None) => {
                let key = crate::labels::series_key_of_values(tag, values);
                Dict::find_or_intern(&self.dict, &key, writable)
            }
            (Named::Series(tag, values), Some(table)) => {
                let tag = Dict::find_or_intern(&self.dict, tag, writable)?;
                // Most adds name a known series: found under the shared
                // lock, so threads adding at once and readers do not wait
                // on each other.
                if let Some(id) = table.read().find_mapped(tag, values) {
                    return Ok(id);
                }
                let mut t = table.write();
                if let Some(id) = t.find(tag, values) {
                    return Ok(id);
                }
                self.check_writable()?;
                t.intern(tag, values).ok_or_else(|| Error::Poisoned {
                    reason: "the series table is full (4 294 967 295 series)".into(),
                })
            }
        }
    }

    /// Series handed to the series file writer (`None`: no series file).
    fn series_flushed(&self) -> Option<u32> {
        self.series
            .as_ref()
            .map(|t| t.read().flushed_count() as u32)
    }

    /// The ids the log and segments may name: series in a store with a
    /// series file, dictionary entries otherwise.
    fn ids(&self) -> Ids {
        match &self.series {
            Some(t) => Ids {
                len: t.read().len() as u64,
                series: true,
            },
            None => Ids {
                len: self.dict.read().len() as u64,
                series: false,
            },
        }
    }

    fn check_writable(&self) -> Result<()> {
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

    fn sync(&self) -> Result<()> {
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
            if let Some(f) = &w.series_file {
                f.sync()?;
            }
            if let Some(l) = &mut w.log {
                l.sync()?;
            }
            Ok(())
        })();
        self.guard("sync", r)?;
        w.unsynced = false;
        Ok(())
    }

    /// The clean close: syncs, then records in the manifest how many
    /// dictionary entries are durable and where the active log ends, with the
    /// clean flag. From then on, damage to any of those bytes (or any non-zero
    /// byte past the log's end) is reported as corruption instead of being
    /// taken for what a crash may leave. Writes no manifest when it already
    /// says exactly that. Then extends the dictionary index to every durable
    /// entry, so that the next open hashes none.
    fn close_cleanly(&self) -> Result<()> {
        self.check_writable()?;
        let mut w = self.writer.lock();
        self.sync_locked(&mut w)?;
        let durable = self.dict.read().flushed_count() as u64;
        let series = self.series_flushed();
        let log_end = w.log.as_ref().map_or(0, |l| l.end);
        let mut m = self.manifest.lock();
        let cur = m.get();
        let store_id = cur.store_id;
        let unchanged = cur.clean
            && cur.dict_entries >= durable
            && cur.series_entries >= series
            && cur.log_durable_end == log_end
            && cur.rejected_too_old == self.rejected_too_old.load(Ordering::Relaxed)
            && cur.rejected_future == self.rejected_future.load(Ordering::Relaxed);
        if !unchanged {
            let r = m.commit(self.vfs(), |next| {
                self.fill_counters(next);
                next.dict_entries = durable.max(next.dict_entries);
                next.series_entries = next.series_entries.max(series);
                next.log_durable_end = log_end;
                next.clean = true;
            });
            self.guard("writing the manifest", r)?;
        }
        drop(m);
        // The next open then reads no dictionary entry past the index (a seal
        // in the middle of a stream leaves up to a 64th of them out). Derived
        // data, as in a seal: a failure to write it is not the close's.
        let _ = Dict::write_index(
            &self.dict,
            self.vfs(),
            &self.dir,
            (store_id, durable as usize, w.dict_end),
            IndexWhen::Added,
        );
        // The series index likewise, when the series grew enough since it.
        if let Some(n) = series {
            let at = (n as usize, w.series_end);
            let _ = crate::series::write_index(self.vfs(), &self.dir, store_id, at);
        }
        Ok(())
    }

    /// The store's durable counters, as a manifest records them.
    fn fill_counters(&self, next: &mut Manifest) {
        next.now = self.now().map(|m| m.0);
        next.source_position = self.source_position.lock().clone();
        next.rejected_too_old = self.rejected_too_old.load(Ordering::Relaxed);
        next.rejected_future = self.rejected_future.load(Ordering::Relaxed);
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
        // Only this writer adds (under the writer lock) and compaction only
        // subtracts, so a total that fits now still fits when it is added.
        self.grand_total
            .load(Ordering::Acquire)
            .checked_add(sum)
            .ok_or(InvalidInput::CountOverflow)?;
        let block_len = encoded_block_len(cells.len(), source.as_ref().map_or(0, |s| s.len()));

        let max = self.opts.log_file_bytes;
        let fits = {
            let log = w.log.as_mut().expect("writer has a log");
            log.reserve(block_len as u64, max)
        };
        if !self.guard("growing the log", fits)? {
            self.seal_with_capacity(&mut w, block_len as u64)?;
        }
        // The manifest says the store is clean (closed cleanly, or just
        // sealed, possibly by the line above): say it no longer is before a
        // byte past the recorded end of the log that takes this block is
        // written.
        if self.manifest.lock().get().clean {
            let mut m = self.manifest.lock();
            let r = m.commit(self.vfs(), |next| next.clean = false);
            self.guard("writing the manifest", r)?;
        }
        let mut bytes = Vec::with_capacity(block_len);
        let durable_end = w.log.as_ref().map_or(0, |l| l.durable_end);
        encode_block_with(&cells, source.as_deref(), durable_end, &mut bytes);
        debug_assert_eq!(bytes.len(), block_len);

        // Dictionary entries first: a block must never reach the disk before
        // the names of its tags.
        // The series are taken before the tags: a batch on another thread
        // may intern a tag and then a series naming it between the two
        // takes, and the series taken first can only name tags interned
        // before them, which the second take then holds. They are written
        // in the other order (tags, series, then the block).
        let series = self.series.as_ref().map(|t| t.write().take_pending());
        let restore_series = || {
            if let (Some(t), Some((_, from, vfrom))) = (&self.series, &series) {
                t.write().restore_pending(*from, *vfrom);
            }
        };
        let (pending, upto) = self.dict.write().take_pending();
        if !pending.is_empty() {
            let r = w
                .dict_file
                .as_ref()
                .expect("writer has a dictionary")
                .write_at(&pending, w.dict_end);
            if let Err(e) = r {
                self.dict.write().restore_pending(pending, upto);
                restore_series();
                return self.guard("writing the tag dictionary", Err(e));
            }
            w.dict_end += pending.len() as u64;
        }
        if let (Some((pending, ..)), Some(file)) = (&series, &w.series_file) {
            if !pending.is_empty() {
                if let Err(e) = file.write_at(pending, w.series_end) {
                    restore_series();
                    return self.guard("writing the series file", Err(e));
                }
                w.series_end += pending.len() as u64;
            }
        }
        let log = w.log.as_mut().expect("writer has a log");
        let r = log.append(&bytes);
        self.guard("appending a block to the log", r)?;
        w.unsynced = true;
        let durable = self.opts.sync == SyncPolicy::EveryBatch;
        if durable {
            self.sync_locked(&mut w)?;
        }

        let n_cells = cells.len() as u64;
        let batch_max = cells.times.iter().copied().max();
        let now = max_opt(self.now().map(|m| m.0), batch_max);
        if let Some(n) = now {
            self.now.store(u64::from(n), Ordering::Release);
        }
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
            // An add, not a store of a total read earlier: a compaction pass
            // may have subtracted expired events in between. Under the
            // view's lock, so that a snapshot (which reads both under it)
            // never counts a batch its view does not hold.
            self.grand_total.fetch_add(sum, Ordering::AcqRel);
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
    /// block of at least `need` bytes.
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
        if let Some(f) = &w.series_file {
            f.sync()?;
        }
        // Entries queued but not yet written belong to uncommitted batches;
        // the manifest only promises what is in the file.
        let flushed_entries = self.dict.read().flushed_count() as u64;
        let flushed_series = self.series_flushed();
        let mut m = self.manifest.lock();
        let store_id = m.get().store_id;
        let mut new_entry = None;
        if run.len() > 0 {
            let id = m.allocate_id();
            let entry = write_segment(
                vfs,
                dir,
                id,
                store_id,
                Resolution::Minute,
                self.opts.segment_tag_totals,
                run.cells
                    .tags
                    .iter()
                    .zip(&run.cells.times)
                    .zip(&run.cells.counts)
                    .map(|((&t, &m), &c)| (t, m, c)),
            )?;
            new_entry = Some(entry);
        }
        let log_id = m.allocate_id();
        let new_log = create_log(
            vfs,
            dir,
            log_id,
            initial_log_bytes(&self.opts, need),
            store_id,
        )?;
        files::sync_dir(vfs, dir)?;
        let old_log = m.get().active_log;
        m.commit(vfs, |next| {
            if let Some(e) = &new_entry {
                next.segments.push(*e);
            }
            next.active_log = log_id;
            self.fill_counters(next);
            next.dict_entries = flushed_entries;
            next.series_entries = flushed_series;
            next.log_durable_end = LOG_HEADER_LEN as u64;
            next.clean = true;
        })?;
        drop(m);
        // The old log is no longer live; if removing it fails, the next open
        // removes it as an orphan.
        let _ = vfs.remove(&dir.join(files::log_name(old_log)));

        let segment = match &new_entry {
            Some(e) => Some(Arc::new(open_segment(vfs, dir, e, self.ids(), store_id)?)),
            None => None,
        };
        w.log = Some(new_log);
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
        // The indexes cover what this seal made durable. They are derived
        // data (a missing or stale one only means more of tags.dict or
        // tags.series is read at open), so a failure to write one is not
        // the seal's, and they are written once the seal is whole.
        let _ = Dict::write_index(
            &self.dict,
            vfs,
            dir,
            (store_id, flushed_entries as usize, w.dict_end),
            IndexWhen::Grown,
        );
        if let Some(n) = flushed_series {
            let _ = crate::series::write_index(vfs, dir, store_id, (n as usize, w.series_end));
        }
        Ok(())
    }

    /// Runs compaction plans until the policy says `Nothing` (at most
    /// [`MAX_STEPS`]). Serialised by the compaction lock; an error or a panic
    /// inside poisons the store, but for damage met while reading the input
    /// segments: nothing was changed then (the outputs written are not in
    /// the manifest, and the next writable open removes them), so writes go
    /// on and only compaction stops (see `compaction_met_damage`).
    fn compact_pass(&self) -> Result<CompactionReport> {
        self.check_writable()?;
        let _one_at_a_time = self.compaction_lock.lock();
        let started = Instant::now();
        let mut damage = false;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut report = CompactionReport::default();
            while report.steps < MAX_STEPS {
                if self.inject_compaction_panic.swap(false, Ordering::SeqCst) {
                    panic!("injected compaction panic");
                }
                let view = self.view.lock().clone();
                let entries: Vec<_> = view.segments.iter().map(|s| s.entry).collect();
                let cfg = PolicyConfig {
                    retention: self.retention(),
                    max_hour_segments: self.opts.max_hour_segments,
                    max_minute_segments: self.opts.max_minute_segments,
                };
                let plan = choose(&entries, view.now, &cfg);
                if plan == Plan::Nothing {
                    break;
                }
                let ctx = worker::Ctx {
                    vfs: self.vfs(),
                    dir: &self.dir,
                    store_id: self.manifest.lock().get().store_id,
                    ids: self.ids(),
                    tag_totals: self.opts.segment_tag_totals,
                };
                let mut next_id = || self.manifest.lock().allocate_id();
                let out = worker::execute(&ctx, &view.segments, &plan, &mut next_id, &mut report)
                    .inspect_err(|e| damage = is_input_damage(e, &view))?;
                self.apply(out)?;
                report.steps += 1;
            }
            Ok(report)
        }));
        match outcome {
            Ok(Ok(mut report)) => {
                // Damage that stopped background passes may be gone (its
                // segment dropped by retention): they resume.
                self.compaction_met_damage.store(false, Ordering::Release);
                report.elapsed = started.elapsed();
                Ok(report)
            }
            Ok(Err(e)) if damage => {
                self.compaction_met_damage.store(true, Ordering::Release);
                Err(e)
            }
            Ok(Err(e)) => {
                self.poison(format!("compaction failed: {e}"));
                Err(e)
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                let reason = format!("the compaction worker panicked: {msg}");
                self.poison(reason.clone());
                Err(Error::Poisoned { reason })
            }
        }
    }

    /// Applies a compaction outcome: the manifest switch, the new view, the
    /// grand total, then the deletion of the replaced files.
    fn apply(&self, out: Outcome) -> Result<()> {
        {
            let mut m = self.manifest.lock();
            m.commit(self.vfs(), |next| {
                next.segments.retain(|e| !out.inputs.contains(&e.file_id));
                next.segments.extend(out.outputs.iter().copied());
            })?;
            self.publish(|v| {
                v.segments
                    .retain(|s| !out.inputs.contains(&s.entry.file_id));
                v.segments.extend(out.opened);
                // Under the view's lock, as a snapshot reads it.
                let _ = self
                    .grand_total
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                        Some(t.saturating_sub(out.expired))
                    });
            });
        }
        for name in &out.input_names {
            // Already out of the manifest: a failed delete leaves an orphan
            // that the next open removes.
            let _ = self.vfs().remove(&self.dir.join(name));
        }
        Ok(())
    }
}

/// What an event counts: a tag, or a series of a labelled store (a tag and
/// normalised values, one per label key).
enum Named<'a, S> {
    Tag(&'a str),
    Series(&'a str, &'a [S]),
}

/// An atomic group of events: pre-aggregated into `(tag, minute)` cells and
/// appended as one block on [`Batch::commit`]. Dropping a batch without
/// committing discards its events (a tag it added first stays named in the
/// dictionary: see [`crate::Snapshot::tags`]).
///
/// A batch holds its store open, as a clone does: while it lives,
/// [`Store::close`] only syncs, and the store stays locked until the batch
/// is committed or dropped.
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
    /// The wall clock's minute when the batch began, when
    /// [`Options::future_skew_from_clock`] is on, or the minute given to
    /// [`Batch::set_received_at`].
    clock_minute: Option<u32>,
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
    /// batch stays usable. "Too old" is measured from the latest event before
    /// it in the stream (the store's now, or an earlier event of this batch),
    /// so a stream's order decides it, and never how the stream is cut into
    /// batches.
    pub fn add(&mut self, tag: &str, ts: i64, count: u64) -> Result<()> {
        let minute = Minute::from_unix(ts)?;
        let tag = tag::normalize(tag)?;
        self.add_normalized(&tag, minute, count)
    }

    /// Adds `count` events of `tag` with `labels` (`(key, value)` pairs by
    /// key name, any order; a key left out gets the empty value, "unknown")
    /// at unix second `ts`, on a store created with label keys
    /// ([`crate::Options::label_keys`]). An unknown key, a key given twice, a
    /// value that fails validation, or labels on a store without label keys:
    /// a typed error naming the key and value; nothing is added.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{labels::LabelKeys, Options, Store};
    /// let store = Store::open(dir.path(), Options::default().label_keys(LabelKeys::parse("platform").unwrap())).unwrap();
    /// let mut b = store.batch();
    /// b.add_labelled("#MeToo", &[("platform", "Instagram")], 60, 1).unwrap();
    /// assert!(b.add_labelled("#MeToo", &[("platfrom", "instagram")], 60, 1).is_err());
    /// assert!(b.add("#MeToo", 60, 1).is_err()); // this store's events carry labels
    /// assert_eq!(b.commit().unwrap().cells, 1);
    /// ```
    pub fn add_labelled(
        &mut self,
        tag: &str,
        labels: &[(&str, &str)],
        ts: i64,
        count: u64,
    ) -> Result<()> {
        let minute = Minute::from_unix(ts)?;
        let tag = tag::normalize(tag)?;
        let values = crate::labels::label_values(&self.store.inner.labels, labels)?;
        self.add_key(Named::Series(&tag, &values), minute, count)
    }

    /// Adds events of a series whose label values are already normalised
    /// ([`crate::labels::normalize_value`]), one per key in declaration
    /// order, for a tag already normalised, at a minute.
    pub fn add_normalized_labelled<S: AsRef<str>>(
        &mut self,
        tag: &str,
        values: &[S],
        minute: Minute,
        count: u64,
    ) -> Result<()> {
        let keys = &self.store.inner.labels;
        if values.len() != keys.len() || keys.is_empty() {
            return Err(InvalidInput::BadLabels(format!(
                "{} label values were given; the store has {} label keys ({keys})",
                values.len(),
                keys.len()
            ))
            .into());
        }
        self.add_key(Named::Series(tag, values), minute, count)
    }

    /// Adds events for a tag already normalised with [`crate::tag::normalize`]
    /// at a minute.
    pub fn add_normalized(&mut self, tag: &str, minute: Minute, count: u64) -> Result<()> {
        let keys = &self.store.inner.labels;
        if !keys.is_empty() {
            return Err(InvalidInput::BadLabels(format!(
                "the store has the label keys {keys}; add its events with labels \
                 (a key left out is unknown)"
            ))
            .into());
        }
        self.add_key(Named::<&str>::Tag(tag), minute, count)
    }

    /// Adds events of a tag, or of a series of a labelled store.
    fn add_key<S: AsRef<str>>(
        &mut self,
        named: Named<'_, S>,
        minute: Minute,
        count: u64,
    ) -> Result<()> {
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
        // Minute::from_unix refuses later minutes; `add_normalized` takes a
        // Minute as given.
        if minute > crate::time::LAST_MINUTE {
            return Err(InvalidInput::TimeOutOfRange {
                seconds: minute.to_unix(),
            }
            .into());
        }
        let now = max_opt(inner.now().map(|m| m.0), self.max_minute);
        // From the store's now and, when asked, the clock (which also bounds
        // the first event of an empty store).
        let base = match (now, self.clock_minute) {
            (Some(n), c) => Some(n.max(c.unwrap_or(0))),
            (None, c) => c,
        };
        if let Some(base) = base {
            let latest = base.saturating_add(inner.opts.max_future_skew);
            if minute.0 > latest {
                inner.rejected_future.fetch_add(1, Ordering::Relaxed);
                return Err(InvalidInput::TooFarInFuture {
                    minute: minute.0,
                    latest_accepted: latest,
                }
                .into());
            }
        }
        // Against the latest event before it in the stream (the committed
        // now, or this batch's events so far), never the committed now
        // alone: whether an event is kept must not depend on how a stream is
        // cut into batches (a replica's fetches, --batch-size), only on the
        // stream's order.
        let retention = inner.retention();
        let effective_now = max_opt(now, Some(minute.0));
        if let Some(floor) = retention.retain_floor(effective_now) {
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
        let id = inner.intern(named)?;
        self.sum = sum;
        self.events += 1;
        self.max_minute = max_opt(self.max_minute, Some(minute.0));
        self.items
            .push(((u64::from(id) << 32) | u64::from(minute.0), count));
        Ok(())
    }

    /// Measures [`Options::max_future_skew`] for the events added after this
    /// call from the later of the store's now and `unix_secs`, the time they
    /// were received, in place of the wall clock (which the batch reads when
    /// [`Options::future_skew_from_clock`] is on). A service that replays a
    /// stream passes each message's stored time, so that a replay, or a second
    /// replica, accepts and refuses exactly the events the live run did, and
    /// an event stamped days ahead of the data (but not of its arrival) is
    /// never refused. Times before 1970 count as 1970.
    ///
    /// ```
    /// use trendlog::{Options, Store};
    /// let dir = tempfile::tempdir().unwrap();
    /// // The skew from the data alone (the default measures it from the clock too).
    /// let opts = Options::default().future_skew_from_clock(false);
    /// let store = Store::open(dir.path(), opts).unwrap();
    /// store.record("metoo", 1_508_112_000, 1).unwrap();
    /// let two_days_later = 1_508_112_000 + 2 * 86_400;
    /// let mut b = store.batch();
    /// // A day past the store's newest minute: refused from the data alone...
    /// assert!(b.add("metoo", two_days_later, 1).is_err());
    /// // ...accepted once it is known to have arrived at that time.
    /// b.set_received_at(two_days_later);
    /// b.add("metoo", two_days_later, 1).unwrap();
    /// b.commit().unwrap();
    /// ```
    pub fn set_received_at(&mut self, unix_secs: i64) {
        let minute = unix_secs.max(0) / 60;
        self.clock_minute = Some(u32::try_from(minute).unwrap_or(u32::MAX));
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

    /// The label keys of the batch's store (empty for a store without labels).
    pub fn label_keys(&self) -> &LabelKeys {
        &self.store.inner.labels
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
