//! [`Options`] for [`crate::Store::open`], each setter stating its default, and
//! the [`SyncPolicy`].
//!
//! ```
//! use std::time::Duration;
//! use trendlog::{Options, SyncPolicy};
//! let opts = Options::default()
//!     .sync_policy(SyncPolicy::Interval(Duration::from_millis(200)))
//!     .minute_retention(Some(Duration::from_secs(3 * 86_400)))
//!     .background_compaction(false);
//! assert_eq!(opts.get_minute_retention_minutes(), Some(3 * 1440));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::labels::LabelKeys;
use crate::storage::vfs::{RealFs, Vfs};

/// When committed batches are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every `Batch::commit` (and every `record`) is fsynced before it returns.
    EveryBatch,
    /// Commits are written at once and fsynced by a background thread this
    /// often; `sync()` still forces it.
    Interval(Duration),
    /// Only `sync()` makes data durable.
    Manual,
}

/// How long a store keeps its data at each resolution, in minutes measured back
/// from the store's now (its newest minute, not the wall clock).
///
/// Retention is a property of the store: it is stored in the manifest when the
/// store is created (from [`Options::minute_retention`] and
/// [`Options::hour_retention`]), every opener (read-only ones included) reads
/// it from there, and [`crate::Store::set_retention`] changes it.
///
/// ```
/// use trendlog::Retention;
/// let r = Retention { minute_minutes: Some(7 * 1440), hour_minutes: None };
/// // 2017-10-27T19:30 is minute 25_152_210; minutes are held back to the
/// // start of the hour seven days before.
/// assert_eq!(r.minute_floor(Some(25_152_210)), Some(25_152_210 - 7 * 1440 - 30));
/// assert_eq!(r.retain_floor(Some(25_152_210)), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Minutes older than this (whole hours, at least 60) are held as hourly
    /// buckets; `None` keeps minute resolution forever.
    pub minute_minutes: Option<u32>,
    /// Data older than this (whole hours, at least 60) is dropped and events
    /// older than it are rejected; `None` keeps everything.
    pub hour_minutes: Option<u32>,
}

impl Default for Retention {
    /// Minutes for 7 days, hours forever.
    fn default() -> Retention {
        Retention {
            minute_minutes: Some(7 * 1440),
            hour_minutes: None,
        }
    }
}

fn floor_hour(m: u32) -> u32 {
    m - m % 60
}

/// Rounds a retention down to whole hours, at least one hour.
pub(crate) fn whole_hours(minutes: u32) -> u32 {
    (minutes / 60).max(1) * 60
}

impl Retention {
    /// The earliest minute held at minute resolution (hour-aligned) when the
    /// store's now is `now`; `None` when every minute is.
    pub fn minute_floor(&self, now: Option<u32>) -> Option<u32> {
        let (now, keep) = (now?, self.minute_minutes?);
        Some(floor_hour(now.saturating_sub(keep)))
    }

    /// The earliest minute kept at all (hour-aligned); `None` when all are.
    pub fn retain_floor(&self, now: Option<u32>) -> Option<u32> {
        let (now, keep) = (now?, self.hour_minutes?);
        Some(floor_hour(now.saturating_sub(keep)))
    }

    /// The same retention with each period rounded down to whole hours (at
    /// least one), as the store keeps it.
    pub fn normalized(self) -> Retention {
        Retention {
            minute_minutes: self.minute_minutes.map(whole_hours),
            hour_minutes: self.hour_minutes.map(whole_hours),
        }
    }

    /// How long minutes are actually held: the minute retention, but no
    /// longer than the hour retention, which drops all older data (minutes
    /// included). `None`: every minute is held.
    ///
    /// ```
    /// use trendlog::Retention;
    /// let r = Retention { minute_minutes: Some(10 * 1440), hour_minutes: Some(2 * 1440) };
    /// assert_eq!(r.minutes_in_effect(), Some(2 * 1440));
    /// let r = Retention { minute_minutes: None, hour_minutes: Some(90) };
    /// assert_eq!(r.minutes_in_effect(), Some(90));
    /// assert_eq!(Retention::default().minutes_in_effect(), Some(7 * 1440));
    /// ```
    pub fn minutes_in_effect(&self) -> Option<u32> {
        match (self.minute_minutes, self.hour_minutes) {
            (Some(m), Some(h)) => Some(m.min(h)),
            (m, h) => m.or(h),
        }
    }
}

/// Settings for opening a store. Every setter documents its default.
#[derive(Clone)]
pub struct Options {
    pub(crate) sync: SyncPolicy,
    pub(crate) retention: Retention,
    pub(crate) max_future_skew: u32,
    pub(crate) future_skew_from_clock: bool,
    pub(crate) segment_tag_totals: bool,
    pub(crate) background_compaction: bool,
    pub(crate) compaction_interval: Duration,
    pub(crate) seal_minutes: u32,
    pub(crate) seal_cells: u64,
    pub(crate) log_file_bytes: u64,
    pub(crate) max_hour_segments: usize,
    pub(crate) max_minute_segments: usize,
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) label_keys: LabelKeys,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("sync", &self.sync)
            .field("retention", &self.retention)
            .field("max_future_skew", &self.max_future_skew)
            .field("future_skew_from_clock", &self.future_skew_from_clock)
            .field("segment_tag_totals", &self.segment_tag_totals)
            .field("background_compaction", &self.background_compaction)
            .field("compaction_interval", &self.compaction_interval)
            .field("seal_minutes", &self.seal_minutes)
            .field("seal_cells", &self.seal_cells)
            .field("log_file_bytes", &self.log_file_bytes)
            .field("vfs", &self.vfs)
            .field("label_keys", &self.label_keys)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sync: SyncPolicy::EveryBatch,
            retention: Retention::default(),
            max_future_skew: 1440,
            future_skew_from_clock: true,
            segment_tag_totals: false,
            background_compaction: true,
            compaction_interval: Duration::from_secs(1),
            seal_minutes: 60,
            seal_cells: 4_000_000,
            log_file_bytes: 16 << 20,
            max_hour_segments: 8,
            max_minute_segments: 48,
            vfs: Arc::new(RealFs),
            label_keys: LabelKeys::default(),
        }
    }
}

fn whole_minutes(d: Duration) -> u32 {
    u32::try_from(d.as_secs() / 60).unwrap_or(u32::MAX)
}

impl Options {
    /// The label keys of a store created with these options (at most 8, see
    /// [`crate::labels`]). They are stored in the store and fixed for its
    /// life: opening an existing store with different non-empty keys fails
    /// with [`crate::InvalidInput::BadLabelKeys`]; empty keys (the default)
    /// open any store with the keys it has.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{labels::LabelKeys, Options, Store};
    /// let keys = LabelKeys::parse("platform,region").unwrap();
    /// let store = Store::open(dir.path(), Options::default().label_keys(keys.clone())).unwrap();
    /// assert_eq!(store.label_keys(), &keys);
    /// ```
    pub fn label_keys(mut self, keys: LabelKeys) -> Options {
        self.label_keys = keys;
        self
    }

    /// When commits become durable. Default: [`SyncPolicy::EveryBatch`].
    pub fn sync_policy(mut self, policy: SyncPolicy) -> Options {
        self.sync = policy;
        self
    }

    /// How long minutes are kept at minute resolution, measured back from the
    /// store's now (its newest minute), before compaction rolls them into hourly
    /// buckets; `None` keeps minutes forever. Rounded down to whole hours, and at
    /// least one hour. Default: 7 days.
    ///
    /// Applies when the store is **created**: it is then stored in the store,
    /// and every later opener uses the stored value whatever its options say.
    /// Change an existing store's retention with [`crate::Store::set_retention`].
    pub fn minute_retention(mut self, keep: Option<Duration>) -> Options {
        self.retention.minute_minutes = keep.map(|d| whole_hours(whole_minutes(d)));
        self
    }

    /// How long hourly buckets are kept, measured back from the store's now;
    /// older data is dropped and events older than this are rejected.
    /// `None` keeps everything. Rounded down to whole hours, at least one hour.
    /// Default: `None` (keep forever).
    ///
    /// Like [`Options::minute_retention`], it applies when the store is created.
    pub fn hour_retention(mut self, keep: Option<Duration>) -> Options {
        self.retention.hour_minutes = keep.map(|d| whole_hours(whole_minutes(d)));
        self
    }

    /// How far past the store's now (and, by default, the wall clock: see
    /// [`Options::future_skew_from_clock`]) an event may lie before it is
    /// rejected, so one bad clock cannot roll up a week of minutes. Rounded
    /// down to whole minutes (under a minute is 0: no event past the later
    /// of the two). Default: 1 day.
    pub fn max_future_skew(mut self, skew: Duration) -> Options {
        self.max_future_skew = whole_minutes(skew);
        self
    }

    /// Measure [`Options::max_future_skew`] from the later of the store's now
    /// and the current time (the wall clock, UTC), instead of from the
    /// store's now alone. Default: `true`.
    ///
    /// Measured from the store's now alone (`false`), a live store that
    /// receives nothing for longer than the skew (an outage, a quiet tag's
    /// stream) refuses every later event, and its now, which only accepted
    /// events move, never moves again; an in-order replay of a sparse stream
    /// is refused after its first long gap. Measured from the clock as well,
    /// such a store and replay go on, and no event can move the store's now
    /// more than the skew past the real present (the first event of an empty
    /// store included, which `false` does not check). What is accepted then
    /// depends on when it is written, for events dated after that moment
    /// only; sealing, roll-up and retention still follow event time alone.
    /// `false` suits a store whose events are dated in the clock's future (a
    /// simulation); a replay that must accept exactly what a live run did
    /// passes each event's arrival time with [`crate::Batch::set_received_at`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{Options, Store};
    /// let store = Store::open(dir.path(), Options::default()).unwrap(); // on by default
    /// let day = 86_400;
    /// store.record("metoo", 1_508_112_000, 1).unwrap(); // 2017-10-16
    /// store.record("metoo", 1_508_112_000 + 30 * day, 1).unwrap(); // a month later: in the past
    /// assert!(store.record("metoo", 4_000_000_000, 1).is_err()); // 2096: beyond the clock
    /// ```
    pub fn future_skew_from_clock(mut self, on: bool) -> Options {
        self.future_skew_from_clock = on;
        self
    }

    /// Store each sealed segment's per-tag totals in the segment (a section
    /// after its cells; docs/format.md), so the first `trending` or `top`
    /// over it after an open reads one total per tag instead of decoding
    /// every cell. Default: `false`.
    ///
    /// On the comparison workload (5M events, 200k tags) the first trending
    /// after an open takes 3.3 ms with it and 10.5 ms without (warm: 2.6 ms
    /// either way). The cost is bytes: about one to two bytes per tag per
    /// segment (3.68 to 4.35 bytes per cell in all there). Without it
    /// the first such query decodes the cells and the second keeps the
    /// totals in memory, so a long-lived service pays once per open; turn it
    /// on where opens are frequent and disk is cheap. Applies to segments
    /// this opener seals or compacts; readers take segments with and without
    /// the section.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{Options, Store};
    /// let store = Store::open(dir.path(), Options::default().segment_tag_totals(true)).unwrap();
    /// store.record("metoo", 1_508_112_000, 3).unwrap();
    /// store.seal().unwrap();
    /// ```
    pub fn segment_tag_totals(mut self, on: bool) -> Options {
        self.segment_tag_totals = on;
        self
    }

    /// Run compaction passes on a background thread of the store. Default: `true`.
    pub fn background_compaction(mut self, on: bool) -> Options {
        self.background_compaction = on;
        self
    }

    /// How often the background compactor looks for work. Default: 1 second.
    pub fn compaction_interval(mut self, every: Duration) -> Options {
        self.compaction_interval = every;
        self
    }

    /// Seal the active log segment once the store's now is this far (in event
    /// time) past the store's now just after the segment's first block of
    /// cells was committed. Default: 60 minutes.
    ///
    /// # Panics
    /// If `span` is shorter than one minute.
    pub fn seal_after(mut self, span: Duration) -> Options {
        let m = whole_minutes(span);
        assert!(m >= 1, "seal_after must be at least one minute");
        self.seal_minutes = m;
        self
    }

    /// Seal the active log segment once it holds this many distinct
    /// `(tag, minute)` cells. Default: 4,000,000 (with the default
    /// [`Options::log_file_bytes`], a full log file seals first, at about a
    /// million cells).
    ///
    /// # Panics
    /// If `cells` is 0.
    pub fn seal_cells(mut self, cells: u64) -> Options {
        assert!(cells > 0, "seal_cells must be positive");
        self.seal_cells = cells;
        self
    }

    /// The largest size of a log segment file: a log is preallocated at 64 KiB
    /// (or less, if this is smaller) and grown by doubling up to this size; a
    /// block that would take it past this seals the log first. A batch larger
    /// than this gets a file of its own size. Opening a store reads the active
    /// log whole, so this bounds the data-proportional part of open time. At
    /// 16 bytes per cell, the default seals after about a million cells.
    /// Default: 16 MiB.
    ///
    /// # Panics
    /// If `bytes` is below 4 KiB.
    pub fn log_file_bytes(mut self, bytes: u64) -> Options {
        assert!(bytes >= 4096, "log_file_bytes must be at least 4 KiB");
        self.log_file_bytes = bytes;
        self
    }

    /// The file system under the store. Default: the operating system's
    /// ([`crate::vfs::RealFs`]). Tests pass a fault-injecting one.
    pub fn vfs(mut self, vfs: Arc<dyn Vfs>) -> Options {
        self.vfs = vfs;
        self
    }

    /// The minute retention in minutes (`None`: forever) a new store gets.
    pub fn get_minute_retention_minutes(&self) -> Option<u32> {
        self.retention.minute_minutes
    }

    /// The hour retention in minutes (`None`: forever) a new store gets.
    pub fn get_hour_retention_minutes(&self) -> Option<u32> {
        self.retention.hour_minutes
    }

    /// The retention a new store gets.
    pub fn get_retention(&self) -> Retention {
        self.retention
    }

    /// The sync policy.
    pub fn get_sync_policy(&self) -> SyncPolicy {
        self.sync
    }
}
