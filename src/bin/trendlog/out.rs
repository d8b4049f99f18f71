//! What the subcommands share: the exit-code mapping ([`Fail`]), opening a
//! store for reading, resolving `--from/--to/--at` against the store's now,
//! and output for people (thousands separators, aligned tables, sparklines).

use std::path::Path;

use trendlog::time::{format_rfc3339, Step, TimeRange};
use trendlog::{Error, Snapshot, Store};

use crate::parse::{parse_time_spec, TimeSpec};

/// Exit code 1: a runtime error (I/O, corruption found, store locked).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code 2: bad usage or rejected input.
pub const EXIT_USAGE: u8 = 2;

/// A failed command: the exit code and one sentence for stderr (empty when
/// the command already reported everything itself).
#[derive(Debug)]
pub struct Fail {
    pub code: u8,
    pub msg: String,
}

impl Fail {
    pub fn usage(msg: impl Into<String>) -> Fail {
        Fail {
            code: EXIT_USAGE,
            msg: msg.into(),
        }
    }

    pub fn runtime(msg: impl Into<String>) -> Fail {
        Fail {
            code: EXIT_RUNTIME,
            msg: msg.into(),
        }
    }

    /// Exit with `code` and print nothing more.
    pub fn silent(code: u8) -> Fail {
        Fail {
            code,
            msg: String::new(),
        }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        let code = match e {
            Error::InvalidInput(_) | Error::ResolutionUnavailable { .. } => EXIT_USAGE,
            _ => EXIT_RUNTIME,
        };
        // Only writing commands take the lock, and they cannot write
        // read-only (the library's advice): say what a shell user can do.
        if let Error::Locked { dir } = &e {
            return Fail::runtime(format!(
                "the store {} is locked by another writer (an ingest, compact or retention, \
                 or a service that links trendlog); wait until it ends: query, top, \
                 trending and the other read commands work meanwhile",
                dir.display()
            ));
        }
        if let Error::NotAStore { dir } = &e {
            // The files a creation writes before its manifest: a creation
            // that was interrupted, which the next ingest redoes.
            let begun: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(|f| f.ok()?.file_name().into_string().ok())
                .filter(|n| n != "LOCK" && Store::is_store_file_name(n) || n == "MANIFEST.tmp")
                .collect();
            // Only trendlog's own files (every one starts with the magic
            // prefix B7 54 4C, or is shorter or zeros, as a crash leaves
            // it): a user's file of such a name makes ingest refuse, which
            // it says itself.
            let ours = |n: &String| {
                let head = std::fs::File::open(dir.join(n)).and_then(|f| {
                    let mut b = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::Read::take(f, 3), &mut b)?;
                    Ok(b)
                });
                head.is_ok_and(|h| [0xB7, b'T', b'L'].starts_with(&h) || h.iter().all(|&b| b == 0))
            };
            if !begun.is_empty() && begun.iter().all(ours) {
                if creating_now(dir) {
                    return Fail::runtime(format!(
                        "{} holds no trendlog store yet: a writer is creating it right now \
                         (its lock is held); try again in a moment",
                        dir.display()
                    ));
                }
                return Fail::runtime(format!(
                    "{} holds no trendlog store (no MANIFEST), only {}: a store's creation \
                     was interrupted there, and nothing was ever committed to it; the next \
                     `trendlog ingest` creates it anew",
                    dir.display(),
                    begun.join(", ")
                ));
            }
        }
        Fail {
            code,
            msg: e.to_string(),
        }
    }
}

/// Whether a writer holds the lock of `dir` (a store it is creating): a
/// shared lock cannot be had. The lock taken to find out is let go at once;
/// a writer that tried to lock in that instant is refused as locked, which
/// it says.
fn creating_now(dir: &Path) -> bool {
    std::fs::File::open(dir.join("LOCK"))
        .is_ok_and(|f| matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)))
}

/// Standard output for a command that streams what it prints: when the
/// reader closed the pipe (`trendlog query x --step 1m | head`), the process
/// ends quietly with exit 0, as [`crate::write_stdout`] does for every other
/// print; any other failure is returned.
pub struct PipeOut(std::io::StdoutLock<'static>);

/// Locks standard output as a [`PipeOut`].
pub fn pipe_out() -> PipeOut {
    PipeOut(std::io::stdout().lock())
}

fn quiet_pipe<T>(r: std::io::Result<T>) -> std::io::Result<T> {
    if r.as_ref()
        .is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    {
        std::process::exit(0);
    }
    r
}

impl std::io::Write for PipeOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        quiet_pipe(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        quiet_pipe(self.0.flush())
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Fail {
        Fail::runtime(format!("I/O error: {e}"))
    }
}

pub type CmdResult = Result<(), Fail>;

/// Opens the store in `dir` read-only: works while another process writes it,
/// and never changes it.
pub fn open_read(dir: &Path) -> Result<Store, Fail> {
    require_dir(dir)?;
    Ok(Store::open_read_only(dir)?)
}

/// For commands that change a store but never create one (compact,
/// retention): fails unless `dir` holds a store, saying whether there is
/// none or one that lost its manifest (damage, as a read-only open reports).
pub fn require_store(dir: &Path) -> Result<(), Fail> {
    if dir.join("MANIFEST").exists() {
        return Ok(());
    }
    open_read(dir)?;
    Err(Error::NotAStore {
        dir: dir.to_path_buf(),
    }
    .into())
}

/// Fails (exit 1) with a sentence when the store directory does not exist.
pub fn require_dir(dir: &Path) -> Result<(), Fail> {
    if dir.is_dir() {
        return Ok(());
    }
    not_a_file(dir)?;
    Err(Fail::runtime(format!(
        "{} does not exist, so there is no store to read; check --db, or load data \
         with `trendlog ingest` first",
        dir.display()
    )))
}

/// Refuses a `--db` that names something other than a directory (a store is
/// a directory): every command says the same, whether it reads or writes.
pub fn not_a_file(dir: &Path) -> Result<(), Fail> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(Fail::runtime(format!(
            "{} is a file, not a store: a store is a directory; check --db",
            dir.display()
        ))),
        // A link that leads nowhere: said as such, rather than as the
        // "file exists" or "does not exist" of the calls that meet it.
        Err(e) if std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_symlink()) => {
            let to = std::fs::read_link(dir)
                .map_or_else(|_| "?".to_string(), |t| t.display().to_string());
            Err(Fail::runtime(format!(
                "{} is a symbolic link to {to}, which does not lead to a directory ({e}); \
                 check --db",
                dir.display()
            )))
        }
        _ => Ok(()),
    }
}

/// For a ranking that came out empty: true, having said so, when `-k 0`
/// asked for no rows, so that no reason about the data is given for it.
pub fn asked_for_none(k: usize) -> bool {
    if k == 0 {
        println!("(-k 0 asks for no rows)");
    }
    k == 0
}

/// Parses a command-line time and resolves it against the store's now.
pub fn resolve_time(flag: &str, text: &str, snap: &Snapshot) -> Result<i64, Fail> {
    let spec = parse_time_spec(text).map_err(|e| bad_time(flag, text, e))?;
    let now = match (spec, snap.now_end()) {
        (TimeSpec::Absolute(_), _) => 0,
        (TimeSpec::RelativeToNow(_), Some(n)) => n,
        (TimeSpec::RelativeToNow(_), None) => {
            return Err(Fail::usage(format!(
                "{flag} {text:?} is relative to the store's now, but the store is empty and has \
                 no now; give an absolute time"
            )))
        }
    };
    // `now` means the end of the newest minute, so `--to now` includes it.
    spec.resolve(now).map_err(|e| match spec {
        // The error's number is the sum, which the user never typed: say
        // what it was counted from instead.
        TimeSpec::RelativeToNow(d) => Fail::usage(format!(
            "{flag} {text:?}: {} the store's now ({}) is {}; times run from \
             1970-01-01T00:00:00Z to {}",
            if d < 0 {
                "counted back from"
            } else {
                "counted on from"
            },
            format_rfc3339(now),
            if d < 0 {
                "before 1970"
            } else {
                "past the last storable time"
            },
            format_rfc3339(crate::parse::MAX_UNIX_SECS),
        )),
        TimeSpec::Absolute(_) => bad_time(flag, text, e),
    })
}

/// The refusal of `text`, given as `flag`, for `e`: a time before 1970 is
/// named as typed (the error's number is its unix second, which a date's
/// writer never typed).
fn bad_time(flag: &str, text: &str, e: Error) -> Fail {
    match e {
        Error::InvalidInput(trendlog::InvalidInput::BeforeEpoch { .. }) => Fail::usage(format!(
            "{flag} {text:?} is before 1970-01-01T00:00:00Z; times run from \
             1970-01-01T00:00:00Z to {}",
            format_rfc3339(crate::parse::MAX_UNIX_SECS),
        )),
        // A time flag also takes times relative to the store's now, which
        // the parser's message (shared with input lines) does not list.
        e => {
            let e = e.to_string();
            let e = e.strip_prefix("invalid input: ").unwrap_or(&e);
            let relative = if e.contains("is not a timestamp") {
                "; or a time relative to the store's now: `now`, `-24h`, `now-90m`, `-7d`"
            } else {
                ""
            };
            Fail::usage(format!("{flag}: {e}{relative}"))
        }
    }
}

fn align_down(t: i64, step: i64) -> i64 {
    t.div_euclid(step) * step
}

fn align_up(t: i64, step: i64) -> i64 {
    align_down(t + step - 1, step)
}

/// The range `[from, to)` of a query at `step`: explicit times are aligned
/// outwards to the step (from down, to up); `from` defaults to the earliest
/// time held (at 1m, not before the earliest minute still held at minute
/// resolution), `to` to the store's now plus one minute. A store that holds no
/// data gives an empty range unless times are given. Given times that are
/// equal give the empty range (not the bucket holding them); `--to` before
/// `--from` is an error, also within one bucket.
pub fn resolve_range(
    snap: &Snapshot,
    from: Option<&str>,
    to: Option<&str>,
    step: Step,
) -> Result<(i64, i64), Fail> {
    // Without --from: the earliest time held, from the first minute held
    // at 1m for a 1m step.
    let earliest = snap
        .earliest_time()
        .map(|earliest| match (step, snap.earliest_minute()) {
            (Step::Minute, Some(m)) => earliest.max(m.to_unix()),
            _ => earliest,
        });
    resolve_range_from(snap, from, to, step, earliest)
}

/// [`resolve_range`], but without `--from` from the earliest time held at
/// any resolution, even at 1m: for a caller that cuts the range at the first
/// minute held itself (`export`'s minute part).
pub fn resolve_range_held(
    snap: &Snapshot,
    from: Option<&str>,
    to: Option<&str>,
    step: Step,
) -> Result<(i64, i64), Fail> {
    resolve_range_from(snap, from, to, step, snap.earliest_time())
}

/// [`resolve_range`] with `earliest` where a range without `--from` starts
/// (`None`: the store holds no data).
fn resolve_range_from(
    snap: &Snapshot,
    from: Option<&str>,
    to: Option<&str>,
    step: Step,
    earliest: Option<i64>,
) -> Result<(i64, i64), Fail> {
    let s = step.seconds();
    let both_given = from.is_some() && to.is_some();
    let to_given = to.map(|t| resolve_time("--to", t, snap)).transpose()?;
    let from_given = from.map(|t| resolve_time("--from", t, snap)).transpose()?;
    // Without --to: the store's now; an empty store has none, and a range
    // from --from on it is empty (it holds nothing to show).
    let to = to_given.or(snap.now_end()).or(from_given).unwrap_or(0);
    let from = match from_given {
        Some(f) => f,
        // A store that holds no data (even one with a now) has nothing to
        // show: the empty range, never a range from 1970 at minute resolution.
        None => match earliest {
            None => align_down(to, s),
            // Compared as the range would be, aligned outwards to the step.
            Some(earliest) if align_up(to, s) < align_down(earliest, s) => {
                // The user gave no --from: say where the range would start.
                return Err(Fail::usage(format!(
                    "--to ({}) is before {}, where the range starts without --from (the \
                     earliest time held{}); give a later --to, or an earlier --from",
                    format_rfc3339(to),
                    format_rfc3339(align_down(earliest, s)),
                    match snap.earliest_time() {
                        Some(t) if t < earliest => format!(
                            " at 1m; older data, from {}, is held in 1h buckets only",
                            format_rfc3339(align_down(t, Step::Hour.seconds()))
                        ),
                        _ => String::new(),
                    }
                )));
            }
            Some(earliest) => earliest,
        },
    };
    if both_given && to <= from {
        if to == from {
            // [t, t) holds nothing, wherever t falls; aligned outwards it
            // would be a whole bucket.
            let t = align_down(from, s);
            return Ok((t, t));
        }
        return Err(Fail::usage(format!(
            "--to ({}) is before --from ({}); the range is [from, to)",
            format_rfc3339(to),
            format_rfc3339(from)
        )));
    }
    let (from, to) = (align_down(from, s), align_up(to, s));
    if to < from {
        return Err(Fail::usage(format!(
            "--to ({}) is before --from ({}); the range is [from, to)",
            format_rfc3339(to),
            format_rfc3339(from)
        )));
    }
    Ok((from, to))
}

/// The range `[from, to)` of a command that reads every resolution (`top`):
/// like [`resolve_range`] at 1m, but without `--from` it starts at
/// the earliest time held, hourly data included (on its hour: where only hours
/// are held, a range edge must be a whole hour, and a relative one is widened
/// to it). Says on stderr, as `cmd`, which part of the range it chose itself
/// or widened.
pub fn resolve_any_range(
    cmd: &str,
    snap: &Snapshot,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(i64, i64), Fail> {
    // Without --from: the earliest time held, hourly data included.
    let earliest = snap.earliest_time().map(|t| match hours_only_before(snap) {
        Some((_, minutes)) if t < minutes => align_down(t, Step::Hour.seconds()),
        _ => t,
    });
    let (f, t) = resolve_range_from(snap, from, to, Step::Minute, earliest)?;
    // Before the first minute held at 1m the library reads whole hours, data
    // or not: an edge there before all data is widened or refused too.
    let cuts = |t| cuts_an_hour_read_whole(snap, t);
    let (f, t, widened) = widen_cut_edges(&cuts, [("--from", from), ("--to", to)], (f, t))?;
    let chose_from = from
        .is_none()
        .then(|| format!("everything held: {}", held(snap)));
    let mut range = format!("{} → {}", when(f), when(t));
    if widened {
        range.push_str(
            " (a relative edge inside an hour held only as its 1h bucket is widened to the hour)",
        );
        if from.is_some() && to.is_some() {
            say_used(cmd, &range);
        }
    }
    say_chosen_range(cmd, &range, chose_from.as_deref(), to.is_none());
    Ok((f, t))
}

/// Says on stderr, as `cmd`, the range (`range`, "A → B" and what else
/// describes it) a command chose part of itself: `chose_from` is why it
/// starts where it does when `--from` was not given, `chose_to` that `--to`
/// was not given. Silent when both were given.
pub fn say_chosen_range(cmd: &str, range: &str, chose_from: Option<&str>, chose_to: bool) {
    if chose_from.is_none() && !chose_to {
        return;
    }
    let mut text = range.to_string();
    if let Some(why) = chose_from {
        text.push_str(&format!(" (no --from: {why})"));
    }
    if chose_to {
        text.push_str(" (no --to: to the end of the store's now)");
    }
    say_used(cmd, &text);
}

/// Refuses (exit 2) a time `t` given as `flag` that falls inside an hour
/// held only as its 1h bucket (from the first hour held to the first minute
/// held at 1m): the bucket cannot be cut there.
pub fn refuse_edge_inside_an_hour(snap: &Snapshot, flag: &str, t: i64) -> Result<(), Fail> {
    refuse_cut(&|t| cuts_a_held_hour(snap, t), flag, t)
}

/// Where `t` cuts an hour held only as its 1h bucket, from the first hour
/// that holds data ([`hours_only_before`]) to the first minute held at 1m:
/// that first minute; `None` elsewhere and on a whole hour.
fn cuts_a_held_hour(snap: &Snapshot, t: i64) -> Option<i64> {
    let hour = Step::Hour.seconds();
    let (first, minutes) = hours_only_before(snap)?;
    ((align_down(first, hour)..minutes).contains(&t) && t.rem_euclid(hour) != 0).then_some(minutes)
}

/// Where `t` as the edge of a range read at every resolution (`top`) cuts an
/// hour the library reads only as its 1h bucket: the first minute held at
/// 1m. Unlike [`cuts_a_held_hour`] this holds before the first data too
/// (the library reads everything before the minute retention's floor at 1h,
/// data or not), so it asks the library itself.
fn cuts_an_hour_read_whole(snap: &Snapshot, t: i64) -> Option<i64> {
    let hour = Step::Hour.seconds();
    // A range from `t` to the next whole hour: only its start can cut one.
    let range = TimeRange::new(t, align_up(t + 1, hour)).ok()?;
    match snap.check_held(range, Step::Hour) {
        Err(Error::ResolutionUnavailable { earliest_minute }) => {
            Some(i64::from(earliest_minute) * 60)
        }
        _ => None,
    }
}

/// What says where an edge cuts an hour held only as its 1h bucket: the
/// first minute held at 1m, or `None` where the edge cuts nothing.
type Cuts<'a> = &'a dyn Fn(i64) -> Option<i64>;

/// [`refuse_edge_inside_an_hour`] where `cuts` says.
fn refuse_cut(cuts: Cuts, flag: &str, t: i64) -> Result<(), Fail> {
    let hour = Step::Hour.seconds();
    match cuts(t) {
        Some(minutes) => Err(Fail::usage(format!(
            "{flag} {} falls inside an hour held only as its 1h bucket (data before {} is held \
             in 1h buckets only); give a whole hour, such as {} or {}",
            when(t),
            when(minutes),
            when(align_down(t, hour)),
            when(align_up(t, hour))
        ))),
        None => Ok(()),
    }
}

/// The edges `[from, to)` of a command that reads every resolution, checked
/// where only hours are held: an absolute edge inside such an hour is
/// refused ([`refuse_edge_inside_an_hour`]); a relative one (`-10d`,
/// minute-aligned and rarely a whole hour) is widened to the hour, outwards,
/// as `export` does. `given` pairs each flag with its text; the last value
/// says whether an edge was widened.
pub fn widen_relative_edges(
    snap: &Snapshot,
    given: [(&str, Option<&str>); 2],
    (from, to): (i64, i64),
) -> Result<(i64, i64, bool), Fail> {
    widen_cut_edges(&|t| cuts_a_held_hour(snap, t), given, (from, to))
}

/// [`widen_relative_edges`] where `cuts` says an edge cuts an hour.
fn widen_cut_edges(
    cuts: Cuts,
    given: [(&str, Option<&str>); 2],
    (from, to): (i64, i64),
) -> Result<(i64, i64, bool), Fail> {
    let hour = Step::Hour.seconds();
    let mut edges = [from, to];
    let mut widened = false;
    if from == to {
        // The empty range stays empty.
        return Ok((from, to, false));
    }
    for (i, (flag, text)) in given.into_iter().enumerate() {
        let Some(text) = text else { continue };
        let t = edges[i];
        if !crate::parse::is_relative_time(text) {
            refuse_cut(cuts, flag, t)?;
            continue;
        }
        if cuts(t).is_some() {
            edges[i] = if i == 0 {
                align_down(t, hour)
            } else {
                align_up(t, hour)
            };
            widened = true;
        }
    }
    Ok((edges[0], edges[1], widened))
}

/// Says on stderr, as `cmd`, when a range starting at `from` reaches before
/// what the hour retention keeps: the answer there is empty because the data
/// was dropped, not because there was none (`what`: what that means for
/// this command's answer).
pub fn say_dropped_before(cmd: &str, store: &Store, snap: &Snapshot, from: i64, what: &str) {
    let kept = store.retention();
    let Some(floor) = kept.retain_floor(snap.now().map(|m| m.0)) else {
        return;
    };
    let floor = i64::from(floor) * 60;
    if from < floor {
        say_used(
            cmd,
            &format!(
                "data before {} is no longer held (the hour retention, {}, leaves it out of \
                 every read; `compact` deletes it): {what}",
                when(floor),
                crate::retention::describe(kept.hour_minutes)
            ),
        );
    }
}

/// Where resolution changes in a store that holds hours before its minutes:
/// `(first time held, first minute held at minute resolution)`, or `None`
/// when every time held is held at minute resolution (or the store is empty).
pub fn hours_only_before(snap: &Snapshot) -> Option<(i64, i64)> {
    let first = snap.earliest_time()?;
    let minutes = snap.earliest_minute()?.to_unix();
    (first < minutes).then_some((first, minutes))
}

/// What a store holds at which resolution, as a clause for people:
/// "hours from A, minutes from B to C" or "minutes from B to C".
pub fn held(snap: &Snapshot) -> String {
    let Some(end) = snap.now_end() else {
        return "nothing (the store is empty)".into();
    };
    match hours_only_before(snap) {
        Some((first, minutes)) => format!(
            "1h buckets from {} to {}, then 1m buckets to {}",
            when(align_down(first, Step::Hour.seconds())),
            when(minutes),
            when(end)
        ),
        None => format!(
            "1m buckets from {} to {}",
            when(snap.earliest_time().unwrap_or(0)),
            when(end)
        ),
    }
}

/// Tells the user on stderr which range and resolution a read command used
/// when it chose any part of them itself, so stdout stays the answer alone
/// and a default never narrows an answer silently.
pub fn say_used(cmd: &str, text: &str) {
    err_line!("{cmd}: {text}");
}

/// The baseline `[from, to)` (unix seconds) in words: "baseline A → B", or,
/// when it is empty (a burst ranking on a store younger than one baseline
/// block), that there is none yet and where the store's data starts.
pub fn baseline_words(snap: &Snapshot, baseline: (i64, i64)) -> String {
    if baseline.0 < baseline.1 {
        return format!("baseline {} → {}", when(baseline.0), when(baseline.1));
    }
    format!(
        "no baseline yet (the store's data starts at {})",
        when(snap.earliest_time().unwrap_or(baseline.1))
    )
}

/// Says on stderr, for `trending` without `--at`, the time and the windows
/// scored (`[from, to)` unix seconds each; the baseline in
/// [`baseline_words`]) and their resolution.
pub fn say_trending_windows(at: i64, recent: (i64, i64), baseline: &str, step: &str) {
    say_trending_windows_at(at, "the end of the store's now", recent, baseline, step);
}

/// [`say_trending_windows`] with why `at` is where it is (after "no --at:").
pub fn say_trending_windows_at(
    at: i64,
    why_at: &str,
    recent: (i64, i64),
    baseline: &str,
    step: &str,
) {
    say_used(
        "trending",
        &format!(
            "at {} (no --at: {why_at}), recent window {} → {}, {baseline}, at {step}",
            when(at),
            when(recent.0),
            when(recent.1),
        ),
    );
}

/// Parses `--step`.
/// A duration flag (`90s`, `15m`, `1h30m`, `7d`), for clap's `value_parser`.
pub fn parse_dur(s: &str) -> Result<std::time::Duration, String> {
    crate::parse::parse_duration(s).map_err(|e| e.to_string())
}

pub fn parse_step(s: &str) -> Result<Step, String> {
    Step::parse(s).map_err(|e| e.to_string())
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A float with thousands separators and `decimals` places.
pub fn thousands_f(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return if x > 0.0 { "∞".into() } else { "-".into() };
    }
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int: u64 = int.parse().unwrap_or(0);
    let mut out = thousands(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if x < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// Bytes for people: `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1024.0 && u < UNITS.len() - 1 {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

/// The text that normalises back to `held` (a normalised tag, or a label
/// value, normalised the same way): a held `#foo` was typed `##foo`, since
/// normalising strips one leading `#`. Every lookup by a tag or value the
/// store returned goes through it.
pub fn typed(held: &str) -> std::borrow::Cow<'_, str> {
    if held.starts_with('#') {
        format!("#{held}").into()
    } else {
        held.into()
    }
}

/// A table's sparkline from `spark`, the line or why it cannot be drawn: a
/// line that cannot be drawn at its step (minutes no longer held, say) is
/// left blank, but damage met while reading it fails the command (exit 1),
/// as the numbers beside it would had they been read from those cells.
pub fn spark_or_damage(spark: trendlog::Result<String>) -> Result<String, Fail> {
    match spark {
        Ok(line) => Ok(line),
        Err(e @ (Error::Corrupted(_) | Error::Io { .. })) => Err(e.into()),
        Err(_) => Ok(String::new()),
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A unicode sparkline of `values`, at most `width` characters: longer series
/// are summed into `width` equal groups first. Zero is the lowest bar and any
/// non-zero value at least the second, so the line keeps one character per
/// bucket and a small count never looks like none.
pub fn sparkline(values: &[u64], width: usize) -> String {
    if values.is_empty() {
        return String::new();
    }
    let groups: Vec<u64> = if values.len() <= width {
        values.to_vec()
    } else {
        let per = values.len().div_ceil(width);
        values.chunks(per).map(|c| c.iter().sum()).collect()
    };
    let max = groups.iter().copied().max().unwrap_or(0);
    groups
        .iter()
        .map(|&v| {
            if max == 0 || v == 0 {
                BARS[0]
            } else {
                let i = ((v as f64 / max as f64) * 7.0).round() as usize;
                BARS[i.clamp(1, 7)]
            }
        })
        .collect()
}

/// Column alignment for [`Table`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// An aligned text table: a header row and data rows, columns padded to
/// their widest cell (counted in characters).
pub struct Table {
    head: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(cols: &[(&str, Align)]) -> Table {
        Table {
            head: cols.iter().map(|c| c.0.to_string()).collect(),
            align: cols.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let n = self.head.len();
        let mut w = vec![0usize; n];
        for r in std::iter::once(&self.head).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.head).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(n) {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = w[i] - c.chars().count();
                match self.align[i] {
                    Align::Left => {
                        line.push_str(c);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(c);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A time for people: RFC 3339 in UTC.
pub fn when(secs: i64) -> String {
    format_rfc3339(secs)
}

/// A growth value for JSON: a number, or `null` when it is infinite (only with
/// `--prior 0` and an empty baseline; JSON has no infinity).
pub fn growth_json(g: f64) -> serde_json::Value {
    if g.is_finite() {
        serde_json::json!(g)
    } else {
        serde_json::Value::Null
    }
}

/// Prints one JSON document on stdout.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands_f(1234.5, 1), "1,234.5");
    }

    #[test]
    fn sparkline_scales_and_groups() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 10), "▁▂▃▅█");
        assert_eq!(sparkline(&[0, 0], 10), "▁▁");
        assert_eq!(sparkline(&[1; 100], 10).chars().count(), 10);
    }
}
