//! Queries over labelled stores ([`crate::labels`]): totals and series of a
//! tag within a [`Filter`], one series per value of a key (group-by), the
//! spread of a tag over a key ([`Snapshot::spread`]), and the catalog that
//! maps series ids to their tag and values.
//!
//! The catalog decodes each dictionary entry of a labelled store once (ids
//! are dense and append-only, so it only ever extends) and is shared by every
//! snapshot of a store. An unlabelled store never builds one: its queries take
//! the same paths as before labels existed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::{query_error, Snapshot};
use crate::dict::{Dict, FxHashMap};
use crate::error::Result;
use crate::labels::{split_series_key, Filter, LabelKeys};
use crate::series::SeriesTable;
use crate::time::{Step, TimeRange};

/// Id → (tag, values) for a labelled store, extended as the dictionary grows.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// Ids decoded so far.
    covered: u32,
    /// Per id: its tag's index in `tags` (`u32::MAX`: not a series key).
    tag_of: Vec<u32>,
    /// Per id, `nkeys` value indexes (one per key, into `values[key]`).
    value_of: Vec<u32>,
    /// Distinct tags, first-seen order.
    tags: Vec<Arc<str>>,
    tag_ix: FxHashMap<InlineKey, u32>,
    /// Per key, distinct values in first-seen order.
    values: Vec<Vec<Arc<str>>>,
    value_ix: Vec<FxHashMap<InlineKey, u32>>,
    /// The folds of the last few filters, for the ids decoded so far.
    folds: Vec<(Filter, Arc<TagFold>)>,
    /// The series of the last few tags looked up, each with the dictionary
    /// length it was read at (a longer dictionary may hold more).
    tag_series: Vec<(String, usize, Arc<TagSeries>)>,
}

/// A hash map key that holds a short string in the table itself, so that a
/// lookup among hundreds of thousands of tags compares bytes in the bucket
/// it probes instead of following a pointer to each candidate's heap string
/// (a cache miss per series decoded). Its hash and equality are those of its
/// bytes, so a map keyed by it is searched with a `&[u8]`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InlineKey {
    /// Up to [`INLINE_KEY_MAX`] bytes, zero-filled after `len`.
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_MAX],
    },
    /// Longer keys.
    Heap(Box<[u8]>),
}

const INLINE_KEY_MAX: usize = 22;

impl InlineKey {
    fn new(b: &[u8]) -> InlineKey {
        if b.len() <= INLINE_KEY_MAX {
            let mut bytes = [0u8; INLINE_KEY_MAX];
            bytes[..b.len()].copy_from_slice(b);
            InlineKey::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            InlineKey::Heap(b.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            InlineKey::Inline { len, bytes } => &bytes[..*len as usize],
            InlineKey::Heap(b) => b,
        }
    }
}

// One representation per byte string (inline exactly when short enough),
// so the derived equality is that of the bytes, as `Borrow` requires.
impl std::hash::Hash for InlineKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for InlineKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// A tag's series: each id with its values in key order.
type TagSeries = [(u32, Box<[String]>)];

/// How many tags' series a catalog keeps.
const TAG_SERIES_KEPT: usize = 16;

/// How many filters' folds a catalog keeps.
const FOLDS_KEPT: usize = 4;

const NOT_SERIES: u32 = u32::MAX;

/// Up to this many values of a key, the catalog finds a value by comparing
/// it with each (a platform key's handful) rather than by hashing it.
const FEW_VALUES: usize = 8;

impl Catalog {
    /// Decodes the ids the dictionary (or the series table) gained since the
    /// last call.
    fn refresh(&mut self, dict: &Dict, table: Option<&SeriesTable>, nkeys: usize) -> Result<()> {
        if self.values.len() != nkeys {
            self.values = vec![Vec::new(); nkeys];
            self.value_ix = vec![FxHashMap::default(); nkeys];
        }
        if let Some(t) = table {
            return self.refresh_from_table(dict, t, nkeys);
        }
        let n = dict.len() as u32;
        if n != self.covered {
            self.folds.clear();
        }
        if let Err(e) = dict.for_each_key_from(self.covered, |_, key| self.push(key, nkeys)) {
            // Damage stops the walk part way: forget its ids, so that a
            // later call starts again from the same place.
            self.tag_of.truncate(self.covered as usize);
            self.value_of.truncate(self.covered as usize * nkeys);
            return Err(e);
        }
        debug_assert_eq!(self.tag_of.len(), n as usize);
        self.covered = n;
        Ok(())
    }

    /// [`Self::refresh`] on a store with a series table, which numbers tags
    /// (by their dictionary ids) and values as the catalog does: the
    /// catalog's tags are the dictionary's entries, its values the table's,
    /// and each series is its record.
    fn refresh_from_table(&mut self, dict: &Dict, t: &SeriesTable, nkeys: usize) -> Result<()> {
        let n = t.len() as u32;
        if n != self.covered {
            self.folds.clear();
        }
        // Tags are numbered by their dictionary ids, so no name -> number
        // map is built (`tag_ix` serves the text keys of earlier versions).
        let from = self.tags.len() as u32;
        let tags = &mut self.tags;
        dict.for_each_key_from(from, |_, key| match std::str::from_utf8(key) {
            Ok(name) => {
                tags.push(Arc::from(name));
                true
            }
            Err(_) => false,
        })?;
        for k in 0..nkeys {
            for v in self.values[k].len() as u32..t.value_count(k) as u32 {
                let name: Arc<str> = Arc::from(t.value(k, v));
                self.value_ix[k].insert(InlineKey::new(name.as_bytes()), v);
                self.values[k].push(name);
            }
        }
        let (tag_of, value_of) = (&mut self.tag_of, &mut self.value_of);
        let read = t.for_each_from(self.covered, |_, tag, vals| {
            tag_of.push(tag);
            value_of.extend_from_slice(vals);
        });
        if let Err(e) = read {
            // Forget the ids of a walk that damage stopped part way.
            self.tag_of.truncate(self.covered as usize);
            self.value_of.truncate(self.covered as usize * nkeys);
            return Err(e);
        }
        self.covered = n;
        Ok(())
    }

    /// Decodes the next id's key: a series key when it holds at least
    /// `nkeys` values (the first `nkeys` are its values), else not a series.
    /// False when a tag or value it keeps is not UTF-8.
    ///
    /// Every key of the store passes here once per process, so this works on
    /// bytes (the separator is ASCII), checks UTF-8 only for the tags and
    /// values it has not seen, and finds a value among a key's few values by
    /// comparing them, hashing only past [`FEW_VALUES`].
    fn push(&mut self, key: &[u8], nkeys: usize) -> bool {
        let sep = crate::labels::SEPARATOR as u8;
        let tag_end = key.iter().position(|&b| b == sep).unwrap_or(key.len());
        let start = self.value_of.len();
        let mut rest = &key[tag_end..];
        for k in 0..nkeys {
            // `rest` is empty or starts with the separator.
            let Some((_, after)) = rest.split_first() else {
                break;
            };
            let end = after.iter().position(|&b| b == sep).unwrap_or(after.len());
            let v = &after[..end];
            rest = &after[end..];
            let known = &self.values[k];
            let found = if known.len() <= FEW_VALUES {
                known
                    .iter()
                    .position(|a| a.as_bytes() == v)
                    .map(|i| i as u32)
            } else {
                self.value_ix[k].get(v).copied()
            };
            let vi = match found {
                Some(vi) => vi,
                None => {
                    let Ok(v) = std::str::from_utf8(v) else {
                        return false;
                    };
                    let vi = self.values[k].len() as u32;
                    self.values[k].push(Arc::from(v));
                    self.value_ix[k].insert(InlineKey::new(v.as_bytes()), vi);
                    vi
                }
            };
            self.value_of.push(vi);
        }
        // `nkeys >= 1` values mean at least one separator: a series key.
        if nkeys == 0 || self.value_of.len() - start != nkeys {
            self.value_of.truncate(start);
            self.value_of.extend(std::iter::repeat_n(0, nkeys));
            self.tag_of.push(NOT_SERIES);
            return true;
        }
        let tag = &key[..tag_end];
        let t = match self.tag_ix.get(tag) {
            Some(&t) => t,
            None => {
                let Ok(name) = std::str::from_utf8(tag) else {
                    return false;
                };
                let t = self.tags.len() as u32;
                self.tags.push(Arc::from(name));
                self.tag_ix.insert(InlineKey::new(tag), t);
                t
            }
        };
        self.tag_of.push(t);
        true
    }

    fn value(&self, id: u32, key: usize, nkeys: usize) -> u32 {
        self.value_of[id as usize * nkeys + key]
    }
}

/// A filter resolved against a catalog: `(key, value index)` pairs, or
/// `None` when some value was never seen (nothing matches).
type Resolved = Option<Vec<(usize, u32)>>;

/// The id → tag fold of a labelled ranking (kept per filter by the catalog): per id, the index of its tag's
/// row, or `u32::MAX` when the id is filtered out; and the rows' tags, `None`
/// for a tag none of whose series match (it is not ranked at all).
#[derive(Debug)]
pub(crate) struct TagFold {
    pub(crate) row_of: Vec<u32>,
    pub(crate) names: Vec<Option<Arc<str>>>,
}

/// Ranking rows grouped by the values of one label key, as
/// [`Snapshot::fold_by_value`] gives them: per value, its tags, each with one
/// sum per column.
pub(crate) type ByValue = Vec<(Arc<str>, Vec<(Arc<str>, Vec<u64>)>)>;

/// Per row of a [`Snapshot::value_tag_fold`], its value: the value's index
/// in the order the store first met the key's values, and the value.
pub(crate) type RowValues = Vec<(u32, Arc<str>)>;

/// Items of the rows of a [`Snapshot::value_tag_fold`], `(row, item)`,
/// grouped by their row's value (`values[row]`): the values in the order the
/// store first met them, each with its items in the order given.
pub(crate) fn group_by_value<T>(
    values: &[(u32, Arc<str>)],
    items: impl IntoIterator<Item = (usize, T)>,
) -> Vec<(Arc<str>, Vec<T>)> {
    let mut items: Vec<(u32, usize, T)> = items
        .into_iter()
        .filter_map(|(r, item)| values.get(r).map(|v| (v.0, r, item)))
        .collect();
    // Stable: items of one value keep their order.
    items.sort_by_key(|x| x.0);
    let mut out: Vec<(u32, Arc<str>, Vec<T>)> = Vec::new();
    for (v, r, item) in items {
        match out.last_mut() {
            Some((last, _, group)) if *last == v => group.push(item),
            _ => out.push((v, values[r].1.clone(), vec![item])),
        }
    }
    out.into_iter().map(|(_, v, g)| (v, g)).collect()
}

/// One label key and its values, each with how many series carry it.
pub type LabelValues = (String, Vec<(String, u64)>);

/// A spread query: how a tag's recent activity spreads over the values of
/// one label key. `Default` gives `by` = "" (set it), no filter, `at` = the
/// store's now rounded up to the step, a 1h window over a 24h baseline, hourly
/// steps over the last 24 hours, min_count 10, threshold 2, prior 1/60.
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadQuery {
    /// The label key to spread over (`region`).
    pub by: String,
    /// Only series matching this filter count.
    pub filter: Filter,
    /// End of the evaluation, unix seconds, aligned to `step`; `None`: the
    /// store's now, rounded up to the step.
    pub at: Option<i64>,
    /// The recent window (a whole number of steps).
    pub window: Duration,
    /// The baseline just before the window (a whole number of steps).
    pub baseline: Duration,
    /// How far back the timeline goes from `at` (a whole number of steps).
    pub span: Duration,
    /// The timeline's step.
    pub step: Step,
    /// Least recent events for a value to count as trending.
    pub min_count: u64,
    /// Least growth for a value to count as trending.
    pub threshold: f64,
    /// The growth formula's prior, events per minute (as in trending).
    pub prior: f64,
}

impl Default for SpreadQuery {
    fn default() -> SpreadQuery {
        SpreadQuery {
            by: String::new(),
            filter: Filter::default(),
            at: None,
            window: Duration::from_secs(3600),
            baseline: Duration::from_secs(24 * 3600),
            span: Duration::from_secs(24 * 3600),
            step: Step::Hour,
            min_count: 10,
            threshold: 2.0,
            prior: 1.0 / 60.0,
        }
    }
}

/// One value's row of a [`Spread`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadRow {
    /// The label value (`""`: unknown).
    pub value: String,
    /// The tag's events with this value in the recent window.
    pub recent: u64,
    /// Its events in the baseline window.
    pub baseline: u64,
    /// `(rate(recent) + p) / (rate(baseline) + p)` (finite when `p > 0`; with
    /// `p = 0` and an empty baseline, `f64::MAX` stands for infinity).
    pub growth: f64,
    /// Whether it counts as trending: `recent >= min_count` and
    /// `growth >= threshold`.
    pub trending: bool,
}

/// One step of a [`Spread`]'s timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpreadPoint {
    /// Start of the step, unix seconds.
    pub time: i64,
    /// Values in which the tag had events during the step.
    pub present: u32,
    /// Values in which the tag was trending at the end of the step (its
    /// window ending there against the baseline before it).
    pub trending: u32,
}

/// The answer of [`Snapshot::spread`].
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// The tag.
    pub tag: String,
    /// The label key.
    pub by: String,
    /// End of the evaluation, unix seconds.
    pub at: i64,
    /// One row per value the tag has events in, within the window, the
    /// baseline or the timeline: trending first, then by recent events,
    /// then by value.
    pub rows: Vec<SpreadRow>,
    /// One point per step over `[at - span, at)`.
    pub timeline: Vec<SpreadPoint>,
}

impl Snapshot {
    /// The store's label keys (empty for a store without labels).
    pub fn label_keys(&self) -> &LabelKeys {
        &self.labels
    }

    /// Runs `f` with the catalog brought up to date.
    fn with_catalog<T>(&self, f: impl FnOnce(&Catalog) -> Result<T>) -> Result<T> {
        let mut c = self.catalog.lock();
        c.refresh(
            &self.dict().read(),
            self.series_table().map(|t| t.read()).as_deref(),
            self.labels.len(),
        )?;
        f(&c)
    }

    fn resolve(&self, c: &Catalog, filter: &Filter) -> Result<Resolved> {
        let pairs = filter.resolve(&self.labels)?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| c.value_ix[k].get(v.as_bytes()).map(|&vi| (k, vi)))
            .collect())
    }

    /// The ids of `tag`'s series that match `filter`. On a store without
    /// labels: the tag's one id, and any filter is an unknown key.
    pub(crate) fn select_ids(&self, tag: &str, filter: &Filter) -> Result<Vec<u32>> {
        if self.labels.is_empty() {
            filter.resolve(&self.labels)?;
            return Ok(self.tag_id(tag)?.into_iter().collect());
        }
        Ok(self
            .tag_series(tag, filter)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// The series of `tag` matching `filter` on a labelled store: each id with
    /// its values in key order. Found through the dictionary's sorted index
    /// (a tag's series share the prefix `tag 0x1F`), so only this tag's
    /// entries are read, however many tags the store holds.
    /// The last [`TAG_SERIES_KEPT`] tags' lists are kept until the dictionary
    /// grows.
    fn tag_series(&self, tag: &str, filter: &Filter) -> Result<Vec<(u32, Vec<String>)>> {
        let norm = crate::tag::normalize(tag)?;
        let pairs = filter.resolve(&self.labels)?;
        let all = self.all_tag_series(&norm)?;
        Ok(all
            .iter()
            .filter(|(_, values)| pairs.iter().all(|&(k, v)| values[k] == v))
            .map(|(id, values)| (*id, values.to_vec()))
            .collect())
    }

    /// Every series of the normalised `tag`, from the catalog's recent
    /// lookups or the dictionary's sorted index.
    fn all_tag_series(&self, tag: &str) -> Result<Arc<TagSeries>> {
        // Catalog, then dictionary: the order every catalog user locks in.
        let mut c = self.catalog.lock();
        let dict = self.dict().read();
        let table = self.series_table().map(|t| t.read());
        let len = table.as_ref().map_or(dict.len(), |t| t.len());
        if let Some((_, _, hit)) = c.tag_series.iter().find(|(t, l, _)| t == tag && *l == len) {
            return Ok(hit.clone());
        }
        let n = self.labels.len();
        let mut all = Vec::new();
        if let Some(t) = &table {
            // The tag's id, then its series: one pass over the records.
            if let Some(tag_id) = dict.lookup(tag)? {
                for id in t.series_of_tag(tag_id)? {
                    let nums = t.value_numbers(id)?;
                    let values = nums[..n].iter().enumerate();
                    all.push((
                        id,
                        values.map(|(k, &v)| t.value(k, v).to_string()).collect(),
                    ));
                }
            }
        } else {
            let prefix = format!("{tag}{}", crate::labels::SEPARATOR);
            for (name, id) in dict.entries_with_prefix(&prefix)? {
                let (_, values) = split_series_key(name);
                let values: Box<[String]> = values.map(String::from).collect();
                if values.len() == n {
                    all.push((id, values));
                }
            }
        }
        let all: Arc<TagSeries> = all.into();
        c.tag_series.retain(|(t, _, _)| t != tag);
        if c.tag_series.len() >= TAG_SERIES_KEPT {
            c.tag_series.remove(0);
        }
        c.tag_series.push((tag.to_string(), len, all.clone()));
        Ok(all)
    }

    /// The fold of ids into tags for a ranking within `filter`, or `None` on
    /// a store without labels (ids are tags).
    pub(crate) fn tag_fold(&self, filter: &Filter) -> Result<Option<Arc<TagFold>>> {
        if self.labels.is_empty() {
            filter.resolve(&self.labels)?;
            return Ok(None);
        }
        let mut c = self.catalog.lock();
        c.refresh(
            &self.dict().read(),
            self.series_table().map(|t| t.read()).as_deref(),
            self.labels.len(),
        )?;
        if let Some((_, f)) = c.folds.iter().find(|(f, _)| f == filter) {
            return Ok(Some(f.clone()));
        }
        let fold = Arc::new(self.build_fold(&c, filter)?);
        if c.folds.len() >= FOLDS_KEPT {
            c.folds.remove(0);
        }
        c.folds.push((filter.clone(), fold.clone()));
        Ok(Some(fold))
    }

    /// The fold of ids into one row per (value of the label key `by`, tag)
    /// over the series matching `filter`, built in one pass over the ids:
    /// a [`TagFold`] whose rows are those pairs (named by their tag), and
    /// each row's value with its index in the order the store first met the
    /// key's values. `None` on a store without labels, where an unknown `by`
    /// (every key) is an error first.
    pub(crate) fn value_tag_fold(
        &self,
        filter: &Filter,
        by: &str,
    ) -> Result<Option<(TagFold, RowValues)>> {
        let kx = self.labels.position(by)?;
        let Some(base) = self.tag_fold(filter)? else {
            return Ok(None);
        };
        let c = self.catalog.lock();
        let nkeys = self.labels.len();
        let ids = base.row_of.len().min(c.tag_of.len());
        let mut slot: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        let mut names = Vec::new();
        let mut values = Vec::new();
        let row_of = base.row_of[..ids]
            .iter()
            .enumerate()
            .map(|(id, &t)| {
                if t == NOT_SERIES {
                    return NOT_SERIES;
                }
                let v = c.value(id as u32, kx, nkeys);
                *slot.entry((v, t)).or_insert_with(|| {
                    names.push(base.names.get(t as usize).cloned().flatten());
                    let value = c.values[kx].get(v as usize).cloned().unwrap_or_default();
                    values.push((v, value));
                    (names.len() - 1) as u32
                })
            })
            .collect();
        Ok(Some((TagFold { row_of, names }, values)))
    }

    /// Per-id columns `cols` summed into one row per (value of the label key
    /// `by`, tag) over the series matching `filter` ([`Snapshot::value_tag_fold`]),
    /// in one pass however many values the key has: each value (in the
    /// order the store first met them) with its tags' rows, a row holding
    /// one sum per column. Rows whose every sum is 0 are left out, and so
    /// are values left with none.
    pub(crate) fn fold_by_value(
        &self,
        filter: &Filter,
        by: &str,
        cols: &[Vec<u64>],
    ) -> Result<ByValue> {
        let Some((fold, values)) = self.value_tag_fold(filter, by)? else {
            return Ok(Vec::new());
        };
        let width = cols.len();
        let mut sums = vec![0u64; values.len() * width];
        for (j, col) in cols.iter().enumerate() {
            for (&r, &c) in fold.row_of.iter().zip(col) {
                if r != NOT_SERIES && c > 0 {
                    // Cannot overflow: the store's grand total fits in u64.
                    sums[r as usize * width + j] += c;
                }
            }
        }
        Ok(group_by_value(
            &values,
            (0..values.len()).filter_map(|r| {
                let row = &sums[r * width..(r + 1) * width];
                let tag = fold.names[r].clone()?;
                row.iter().any(|&x| x > 0).then(|| (r, (tag, row.to_vec())))
            }),
        ))
    }

    /// The fold of `filter` over the ids decoded so far.
    fn build_fold(&self, c: &Catalog, filter: &Filter) -> Result<TagFold> {
        let n = self.labels.len();
        let pairs = self.resolve(c, filter)?;
        let row_of: Vec<u32> = c
            .tag_of
            .iter()
            .enumerate()
            .map(|(id, &t)| match &pairs {
                Some(p) if t != NOT_SERIES => {
                    if p.iter().all(|&(k, v)| c.value(id as u32, k, n) == v) {
                        t
                    } else {
                        NOT_SERIES
                    }
                }
                _ => NOT_SERIES,
            })
            .collect();
        let mut matched = vec![false; c.tags.len()];
        for &t in &row_of {
            if let Some(m) = matched.get_mut(t as usize) {
                *m = true;
            }
        }
        // One name per row that some series matched; none for the others.
        let names = c
            .tags
            .iter()
            .zip(matched)
            .map(|(t, m)| m.then(|| t.clone()))
            .collect();
        Ok(TagFold { row_of, names })
    }

    /// Total events of `tag` in `range` over its series matching `filter`
    /// (summed over every label the filter leaves open).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{labels::{Filter, LabelKeys}, time::TimeRange, Options, Store};
    /// let keys = LabelKeys::parse("platform,region").unwrap();
    /// let store = Store::open(dir.path(), Options::default().label_keys(keys)).unwrap();
    /// let mut b = store.batch();
    /// b.add_labelled("#MeToo", &[("platform", "twitter"), ("region", "chicago")], 60, 3).unwrap();
    /// b.add_labelled("#MeToo", &[("platform", "instagram"), ("region", "chicago")], 60, 4).unwrap();
    /// b.commit().unwrap();
    /// let snap = store.snapshot();
    /// let r = TimeRange::new(0, 3600).unwrap();
    /// assert_eq!(snap.total("metoo", r).unwrap(), 7);
    /// let f = Filter::parse(&["platform=instagram"]).unwrap();
    /// assert_eq!(snap.total_where("metoo", r, &f).unwrap(), 4);
    /// assert!(snap.total_where("metoo", r, &Filter::parse(&["plattform=x"]).unwrap()).is_err());
    /// ```
    pub fn total_where(&self, tag: &str, range: TimeRange, filter: &Filter) -> Result<u64> {
        let (lo, hi) = range.minute_span();
        self.check_resolution(lo, hi, Step::Hour)?;
        let mut sum = 0u64;
        // Cannot overflow: the store's grand total fits in u64.
        self.ids_cells(&self.select_ids(tag, filter)?, lo, hi, |_, c| sum += c)?;
        Ok(sum)
    }

    /// One series of `tag` per value of the label key `by` (among its series
    /// matching `filter`), for every value with events in `range`; sorted by
    /// total (highest first), then value.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{labels::{Filter, LabelKeys}, time::{Step, TimeRange}, Options, Store};
    /// let store = Store::open(dir.path(), Options::default().label_keys(LabelKeys::parse("region").unwrap())).unwrap();
    /// let mut b = store.batch();
    /// b.add_labelled("metoo", &[("region", "chicago")], 60, 3).unwrap();
    /// b.add_labelled("metoo", &[("region", "nyc")], 3660, 5).unwrap();
    /// b.commit().unwrap();
    /// let by = store.snapshot().series_by("metoo", TimeRange::new(0, 7200).unwrap(), Step::Hour, &Filter::all(), "region").unwrap();
    /// assert_eq!(by[0].0, "nyc");
    /// assert_eq!(by[0].1.points, vec![(0, 0), (3600, 5)]);
    /// assert_eq!(by[1].0, "chicago");
    /// ```
    pub fn series_by(
        &self,
        tag: &str,
        range: TimeRange,
        step: Step,
        filter: &Filter,
        by: &str,
    ) -> Result<Vec<(String, super::Series)>> {
        let key = self.labels.position(by)?;
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        for (id, mut values) in self.tag_series(tag, filter)? {
            let v = std::mem::take(&mut values[key]);
            let g = *at.entry(v.clone()).or_insert_with(|| {
                groups.push((v, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(id);
        }
        let mut out = Vec::new();
        for (value, ids) in groups {
            let s = self.series_of_ids(tag, &ids, range, step)?;
            if s.total > 0 {
                out.push((value, s));
            }
        }
        out.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    /// The conditions of `filter` that no series meets (a value never written
    /// under its key), in the filter's order: a filter with any matches
    /// nothing, so a reader can say why an answer is empty. Unknown keys are
    /// an error, as in every filtered query.
    ///
    /// ```
    /// use trendlog::labels::{Filter, LabelKeys};
    /// use trendlog::Options;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let keys = LabelKeys::parse("platform,region").unwrap();
    /// let store = trendlog::Store::open(dir.path(), Options::default().label_keys(keys)).unwrap();
    /// let mut b = store.batch();
    /// let labels = [("platform", "instagram"), ("region", "tokyo")];
    /// b.add_labelled("metoo", &labels, 1_508_112_000, 1).unwrap();
    /// b.commit().unwrap();
    /// let snap = store.snapshot();
    /// let f = Filter::parse(&["platform=instagram", "region=atlantis"]).unwrap();
    /// let unmet = snap.unmet_conditions(&f).unwrap();
    /// assert_eq!(unmet, vec![("region".to_string(), "atlantis".to_string())]);
    /// ```
    pub fn unmet_conditions(&self, filter: &Filter) -> Result<Vec<(String, String)>> {
        let pairs = filter.resolve(&self.labels)?;
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let name = |(k, v): (usize, &str)| (self.labels.names()[k].clone(), v.to_owned());
        if let Some(t) = self.series_table() {
            // The series table knows every value without decoding a record.
            let t = t.read();
            return Ok(pairs
                .into_iter()
                .filter(|&(k, v)| t.value_number(k, v).is_none())
                .map(name)
                .collect());
        }
        self.with_catalog(|c| {
            Ok(pairs
                .into_iter()
                .filter(|&(k, v)| !c.value_ix[k].contains_key(v.as_bytes()))
                .map(name)
                .collect())
        })
    }

    /// Every label key with its values and how many series carry each, values
    /// sorted by series (most first), then value. Empty without labels.
    pub fn label_values(&self) -> Result<Vec<LabelValues>> {
        if self.labels.is_empty() {
            return Ok(Vec::new());
        }
        self.with_catalog(|c| {
            let n = self.labels.len();
            let mut out = Vec::new();
            for (k, name) in self.labels.names().iter().enumerate() {
                let mut counts = vec![0u64; c.values[k].len()];
                for id in 0..c.tag_of.len() {
                    if c.tag_of[id] != NOT_SERIES {
                        counts[c.value(id as u32, k, n) as usize] += 1;
                    }
                }
                let mut vals: Vec<(String, u64)> = c.values[k]
                    .iter()
                    .zip(counts)
                    .map(|(v, n)| (v.to_string(), n))
                    .collect();
                vals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                out.push((name.clone(), vals));
            }
            Ok(out)
        })
    }

    /// The distinct tags of a labelled store (first-seen order).
    pub(crate) fn catalog_tags(&self) -> Result<Vec<String>> {
        self.with_catalog(|c| Ok(c.tags.iter().map(|t| t.to_string()).collect()))
    }

    /// How `tag` spreads over the values of the key `q.by`: per value its
    /// recent events, baseline and growth (the trending formula), and per step
    /// of the timeline how many values it was present and trending in. This
    /// answers "trending in several cities" directly.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use trendlog::{labels::LabelKeys, Options, SpreadQuery, Store};
    /// let store = Store::open(dir.path(), Options::default().label_keys(LabelKeys::parse("region").unwrap())).unwrap();
    /// let t0 = 1_508_112_000;
    /// let mut b = store.batch();
    /// // Steady in la all day; new in nyc an hour ago and in chicago now.
    /// for (h, region) in [(0, "la"), (22, "nyc"), (23, "chicago")] {
    ///     for hour in h..24 {
    ///         b.add_labelled("metoo", &[("region", region)], t0 + hour * 3600, 50).unwrap();
    ///     }
    /// }
    /// b.commit().unwrap();
    /// let s = store.snapshot().spread("metoo", &SpreadQuery { by: "region".into(), ..Default::default() }).unwrap();
    /// assert_eq!(s.rows.len(), 3);
    /// assert_eq!(s.timeline.last().unwrap().present, 3);
    /// assert_eq!(s.timeline.last().unwrap().trending, 2); // nyc and chicago, not la
    /// assert!(s.rows.iter().any(|r| r.value == "la" && !r.trending));
    /// ```
    pub fn spread(&self, tag: &str, q: &SpreadQuery) -> Result<Spread> {
        super::growth::check_prior(q.prior)?;
        if !q.threshold.is_finite() || q.threshold < 0.0 {
            return Err(query_error(format!(
                "the spread threshold must be a finite number >= 0 (got {})",
                q.threshold
            )));
        }
        let key = self.labels.position(&q.by)?;
        let step_s = q.step.seconds();
        let steps = |d: Duration, what: &str| -> Result<usize> {
            let s = d.as_secs() as i64;
            if d.subsec_nanos() != 0 || s <= 0 || s % step_s != 0 {
                return Err(query_error(format!(
                    "the spread {what} must be a positive whole number of {} steps",
                    q.step
                )));
            }
            usize::try_from(s / step_s)
                .ok()
                .filter(|&n| n as u64 <= super::MAX_SERIES_POINTS)
                .ok_or_else(|| query_error(format!("the spread {what} is too long")))
        };
        let (w, b, span) = (
            steps(q.window, "window")?,
            steps(q.baseline, "baseline")?,
            steps(q.span, "span")?,
        );
        let norm = crate::tag::normalize(tag)?.into_owned();
        let at = match q.at {
            Some(at) if at % step_s != 0 => {
                return Err(query_error(format!(
                    "the spread's end must fall on a {} boundary",
                    q.step
                )))
            }
            Some(at) => at,
            None => match self.now_end() {
                Some(e) => (e + step_s - 1) / step_s * step_s,
                None => {
                    return Ok(Spread {
                        tag: norm,
                        by: q.by.clone(),
                        at: 0,
                        rows: Vec::new(),
                        timeline: Vec::new(),
                    })
                }
            },
        };
        // Buckets [first, at): the span's timeline, each point needing the
        // window and baseline before its end.
        let lead = span + w + b;
        // Saturating: `at` is the caller's, any i64.
        let first = at
            .saturating_sub((lead as i64).saturating_mul(step_s))
            .max(0);
        let first = first - first % step_s;
        let range = TimeRange::new(first, at)?;
        let n = ((at - first) / step_s) as usize;
        let mut by_value: HashMap<String, Vec<u32>> = HashMap::new();
        for (id, mut values) in self.tag_series(&norm, &q.filter)? {
            by_value
                .entry(std::mem::take(&mut values[key]))
                .or_default()
                .push(id);
        }
        let (wmin, bmin) = (
            (w as i64 * step_s / 60) as u32,
            (b as i64 * step_s / 60) as u32,
        );
        let trending_at = |pre: &[u64], end: usize| -> (u64, u64, f64, bool) {
            let sum = |a: usize, z: usize| pre[z] - pre[a];
            let r_lo = end.saturating_sub(w);
            let b_lo = r_lo.saturating_sub(b);
            let (r, base) = (sum(r_lo, end), sum(b_lo, r_lo));
            let g = super::growth::growth_of(r, wmin, base, bmin, q.prior).unwrap_or(0.0);
            let g = if g.is_infinite() { f64::MAX } else { g };
            (r, base, g, r >= q.min_count && r > 0 && g >= q.threshold)
        };
        let mut rows = Vec::new();
        let mut present = vec![0u32; span];
        let mut trending = vec![0u32; span];
        let t0 = n - span.min(n);
        for (v, ids) in by_value {
            let s = self.series_of_ids(&norm, &ids, range, q.step)?;
            let mut pre = Vec::with_capacity(n + 1);
            pre.push(0u64);
            for &(_, c) in &s.points {
                pre.push(pre.last().copied().unwrap_or(0) + c);
            }
            if s.total == 0 {
                continue;
            }
            for i in 0..span.min(n) {
                let bucket = t0 + i;
                present[i] += u32::from(s.points[bucket].1 > 0);
                trending[i] += u32::from(trending_at(&pre, bucket + 1).3);
            }
            let (recent, baseline, growth, is_trending) = trending_at(&pre, n);
            let from_timeline = pre[n] - pre[t0];
            if recent == 0 && baseline == 0 && from_timeline == 0 {
                continue;
            }
            rows.push(SpreadRow {
                value: v,
                recent,
                baseline,
                growth,
                trending: is_trending,
            });
        }
        rows.sort_by(|a, b| {
            b.trending
                .cmp(&a.trending)
                .then(b.recent.cmp(&a.recent))
                .then_with(|| a.value.cmp(&b.value))
        });
        let timeline = (0..span.min(n))
            .map(|i| SpreadPoint {
                time: first + (t0 + i) as i64 * step_s,
                present: present[i],
                trending: trending[i],
            })
            .collect();
        Ok(Spread {
            tag: norm,
            by: q.by.clone(),
            at,
            rows,
            timeline,
        })
    }
}

/// The catalog handle a store shares with its snapshots.
pub(crate) type SharedCatalog = Arc<Mutex<Catalog>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_keys_find_their_bytes_on_both_sides_of_the_inline_limit() {
        let mut m: FxHashMap<InlineKey, u32> = FxHashMap::default();
        let keys: Vec<Vec<u8>> = (0..=INLINE_KEY_MAX + 2)
            .map(|n| (0..n).map(|i| b'a' + (i % 26) as u8).collect())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(m.insert(InlineKey::new(k), i as u32).is_none());
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(&k[..]), Some(&(i as u32)));
            assert_eq!(InlineKey::new(k).as_bytes(), &k[..]);
        }
        assert!(matches!(
            InlineKey::new(&keys[INLINE_KEY_MAX]),
            InlineKey::Inline { .. }
        ));
        assert!(matches!(
            InlineKey::new(&keys[INLINE_KEY_MAX + 1]),
            InlineKey::Heap(_)
        ));
        // A prefix, or the same length with other bytes, is another key.
        assert_eq!(m.get(&b"abcz"[..]), None);
        assert_eq!(
            m.get(&keys[INLINE_KEY_MAX + 2][..INLINE_KEY_MAX + 1]),
            Some(&(INLINE_KEY_MAX as u32 + 1))
        );
    }

    #[test]
    fn the_catalog_decodes_keys_and_refuses_a_new_tag_or_value_not_utf8() {
        let mut c = Catalog {
            values: vec![Vec::new(); 2],
            value_ix: vec![FxHashMap::default(); 2],
            ..Catalog::default()
        };
        // More values of one key than are compared one by one, so both
        // ways of finding a value run.
        for i in 0..FEW_VALUES + 3 {
            let key = format!("t{}\u{1f}p{}\u{1f}r{i}", i % 2, i % 3);
            assert!(c.push(key.as_bytes(), 2));
        }
        assert!(c.push("t1\u{1f}p2\u{1f}r4".as_bytes(), 2));
        assert!(c.push(b"plain", 2), "a plain tag is no series, not damage");
        let n = FEW_VALUES as u32 + 3;
        assert_eq!(c.tags.len(), 2);
        assert_eq!((c.values[0].len(), c.values[1].len()), (3, n as usize));
        assert_eq!(c.tag_of[n as usize], 1);
        assert_eq!((c.value(n, 0, 2), c.value(n, 1, 2)), (2, 4));
        assert_eq!(c.tag_of[n as usize + 1], NOT_SERIES);
        // Bytes that are no UTF-8, as a new tag or a new value: refused.
        assert!(!c.push(b"t\xff\x1fp0\x1fr0", 2));
        assert!(!c.push(b"t0\x1fp\xff\x1fr0", 2));
        assert!(!c.push(b"t0\x1fp0\x1fr\xff", 2));
    }
}
