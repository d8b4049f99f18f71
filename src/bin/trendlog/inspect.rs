//! `trendlog inspect`: what a store holds, or what one file of it holds.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use trendlog::format::dict::{scan_dict, DICT_MAGIC};
use trendlog::format::dict_index::{DictIndexView, DICT_INDEX_MAGIC};
use trendlog::format::log::{decode_block, log_header_store_id, scan_log, LOG_MAGIC};
use trendlog::format::manifest::{decode_manifest, MANIFEST_MAGIC};
use trendlog::format::segment::{SegmentView, SEGMENT_MAGIC};
use trendlog::format::series::{
    decode_series_block, decode_series_header, SERIES_HEADER_LEN, SERIES_MAGIC,
};
use trendlog::format::{DecodeError, Resolution, ScanEnd};
use trendlog::time::Minute;

use crate::out::{self, Align, CmdResult, Fail, Table, EXIT_RUNTIME};
use crate::Global;

/// Print what a store holds: its now, earliest minute, tags, every segment and
/// the totals. Read-only: never changes the store.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
With --segment FILE, decode that one file alone (a log segment, a sealed segment, the tag
dictionary or the manifest, told apart by their magic bytes): header, blocks or groups, and
every checksum, without opening the rest of the store. Exit 1 if the file is damaged.

Example:
  trendlog --db ./trendlog-data inspect
  trendlog inspect --segment ./trendlog-data/seg-0000000000000002.min")]
pub struct Args {
    /// Decode this one file instead of the whole store.
    #[arg(long, value_name = "FILE")]
    pub segment: Option<PathBuf>,
}

pub fn run(g: &Global, a: Args) -> CmdResult {
    match a.segment {
        Some(f) => inspect_file(g, &f),
        None => inspect_store(g),
    }
}

fn minute_str(m: Option<Minute>) -> String {
    m.map_or_else(|| "-".to_string(), |m| m.to_string())
}

/// Bytes of every file in the store directory: segments, log, manifest, the
/// tag dictionary and its index.
fn files_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    })
}

fn inspect_store(g: &Global) -> CmdResult {
    let store = out::open_read(&g.db)?;
    let snap = store.snapshot();
    let st = snap.stats();
    // The manifest the store was opened with (a read-only handle never
    // writes one), so these agree with the snapshot's segments.
    let manifest_version = store.manifest_version();
    let durable_series = store.durable_series();
    let indexed_series = store.indexed_series();
    let segs = snap.segments();
    // A labelled store's dictionary holds series (a tag with label values);
    // `tags` counts distinct tags there, `series` the dictionary's entries.
    let labels = snap.label_values()?;
    let tags = if labels.is_empty() {
        st.tags
    } else {
        snap.tags().len() as u64
    };
    if g.json {
        let label_json: Vec<Value> = labels
            .iter()
            .map(|(k, vals)| {
                let v: Vec<Value> = vals
                    .iter()
                    .map(|(v, n)| json!({"value": v, "series": n}))
                    .collect();
                json!({"key": k, "value_count": vals.len(), "values": v})
            })
            .collect();
        let segments: Vec<Value> = segs
            .iter()
            .map(|s| {
                json!({
                    "file": s.file, "resolution": s.resolution, "sealed": s.sealed,
                    "first": s.first.map(|m| m.to_unix()),
                    "last": s.last.map(|m| m.to_unix()),
                    "cells": s.cells, "total": s.total, "bytes": s.bytes,
                    "tag_totals": s.tag_totals,
                })
            })
            .collect();
        out::print_json(&json!({
            "dir": g.db.display().to_string(),
            "manifest_version": manifest_version,
            "now": st.now.map(|m| m.to_unix()),
            "earliest_minute": st.earliest_minute.map(|m| m.to_unix()),
            "earliest_kept": st.earliest_kept.map(|m| m.to_unix()),
            "tags": tags,
            "series": st.tags,
            "durable_series": durable_series,
            "indexed_series": indexed_series,
            "label_keys": snap.label_keys().names(),
            "labels": label_json,
            "cells": st.cells,
            "minute_cells": st.minute_cells,
            "hour_cells": st.hour_cells,
            "active_cells": st.active_cells,
            "total": st.total_count,
            "bytes": st.bytes,
            "files_bytes": files_bytes(&g.db),
            "rejected_too_old": st.rejected_too_old,
            "rejected_future": st.rejected_future,
            "source_position": store.source_position().map(|p| String::from_utf8_lossy(&p).into_owned()),
            "segments": segments,
            "retention": {
                "minute_minutes": store.retention().minute_minutes,
                "hour_minutes": store.retention().hour_minutes,
                "minutes_held": store.retention().minutes_in_effect(),
            },
        }));
        return Ok(());
    }
    out::say_used("inspect", &format!("the whole store: {}", out::held(&snap)));
    println!("store           {}", g.db.display());
    println!("manifest        version {manifest_version}");
    println!("now             {}", minute_str(st.now));
    println!(
        "earliest minute {}  (at minute resolution)",
        minute_str(st.earliest_minute)
    );
    println!("earliest kept   {}", minute_str(st.earliest_kept));
    println!("tags            {}", out::thousands(tags));
    // A store with a series file: the series its manifest records as
    // durable, which a seal or a clean close updates (series written since
    // are counted above, not here).
    let durable_line = |n: Option<u32>| {
        if let Some(n) = n {
            println!(
                "durable series  {}  (in tags.series at the last seal or clean close, as the \
                 manifest records)",
                out::thousands(u64::from(n))
            );
        }
        match indexed_series {
            Some(0) => println!(
                "series index    none  (a read-only open reads tags.series whole; the next seal \
                 or clean close writes tags.sidx)"
            ),
            Some(n) => println!(
                "series index    {}  (series a read-only open reads through tags.sidx; those \
                 after them are read from tags.series)",
                out::thousands(u64::from(n))
            ),
            None => {}
        }
    };
    if labels.is_empty() {
        durable_line(durable_series);
    } else {
        println!(
            "series          {}  (a tag with one value per label key)",
            out::thousands(st.tags)
        );
        durable_line(durable_series);
        for (k, vals) in &labels {
            let shown: Vec<String> = vals
                .iter()
                .take(8)
                .map(|(v, n)| format!("{} ({})", crate::labels::show_value(v), out::thousands(*n)))
                .collect();
            let more = if vals.len() > 8 { ", …" } else { "" };
            let values = if vals.len() == 1 { "value" } else { "values" };
            println!(
                "label {k:<9} {} {values}: {}{more}",
                vals.len(),
                shown.join(", ")
            );
        }
    }
    println!(
        "cells           {}  ({} minute, {} hour, {} in the active log)",
        out::thousands(st.cells),
        out::thousands(st.minute_cells),
        out::thousands(st.hour_cells),
        out::thousands(st.active_cells)
    );
    println!("events          {}", out::thousands(st.total_count));
    // Cells and events count what the files hold; data past the hour
    // retention stays in them until compaction removes it.
    if let Some(kept) = st.earliest_kept {
        if segs.iter().any(|s| s.first.is_some_and(|f| f < kept)) {
            println!(
                "                (cells and events include data before {}, past the hour \
                 retention: every read leaves it out, and `trendlog compact` removes it)",
                minute_str(Some(kept))
            );
        }
    }
    let per_cell = if st.cells > 0 {
        format!("  ({:.1} bytes/cell)", st.bytes as f64 / st.cells as f64)
    } else {
        String::new()
    };
    println!(
        "bytes           {}{per_cell} in segments and the active log; {} in every file of the store",
        out::bytes(st.bytes),
        out::bytes(files_bytes(&g.db))
    );
    if st.rejected_too_old + st.rejected_future > 0 {
        println!(
            "rejected        {} too old, {} too far in the future",
            out::thousands(st.rejected_too_old),
            out::thousands(st.rejected_future)
        );
    }
    if let Some(p) = store.source_position() {
        println!("source position {}", String::from_utf8_lossy(&p));
    }
    let sealed = segs.iter().filter(|s| s.sealed).count();
    if sealed > 0 {
        let with = segs.iter().filter(|s| s.tag_totals).count();
        println!(
            "tag totals      stored in {with} of {sealed} sealed segment{} (segments sealed \
             with --no-tag-totals have none)",
            if sealed == 1 { "" } else { "s" }
        );
    }
    println!(
        "retention       minutes {}, hours {}  (stored in the store; change with `trendlog retention`)",
        crate::retention::describe_minutes(store.retention()),
        crate::retention::describe(store.retention().hour_minutes)
    );
    println!();
    let mut t = Table::new(&[
        ("file", Align::Left),
        ("resolution", Align::Left),
        ("state", Align::Left),
        ("first", Align::Left),
        ("last", Align::Left),
        ("cells", Align::Right),
        ("events", Align::Right),
        ("bytes", Align::Right),
    ]);
    for s in &segs {
        t.row(vec![
            s.file.clone(),
            s.resolution.to_string(),
            if s.sealed { "sealed" } else { "active" }.to_string(),
            minute_str(s.first),
            minute_str(s.last),
            out::thousands(s.cells),
            out::thousands(s.total),
            out::thousands(s.bytes),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

/// What one file decoded to: lines for people, a JSON object, the problems.
struct Report {
    kind: &'static str,
    lines: Vec<String>,
    json: serde_json::Map<String, Value>,
    problems: Vec<(u64, String)>,
}

impl Report {
    fn new(kind: &'static str) -> Report {
        Report {
            kind,
            lines: Vec::new(),
            json: serde_json::Map::new(),
            problems: Vec::new(),
        }
    }
    fn field(&mut self, key: &str, human: String, v: Value) {
        self.lines.push(format!("{key:<16}{human}"));
        self.json.insert(key.replace(' ', "_"), v);
    }
    fn problem(&mut self, e: &DecodeError) {
        self.problems.push((e.offset, e.kind.to_string()));
    }
}

/// `Ok` when `path` names a regular file (following links: `--segment`
/// names any file the user likes).
fn regular(path: &Path) -> std::io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

fn inspect_file(g: &Global, path: &Path) -> CmdResult {
    let cannot = |e: std::io::Error| Fail::runtime(format!("cannot read {}: {e}", path.display()));
    // The magic first: a file that is not ours is never read whole. (Not a
    // FIFO or a device: opening one could wait forever.)
    regular(path).map_err(cannot)?;
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    let mut head = Vec::with_capacity(4);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, 4), &mut head)
        .map_err(cannot)?;
    let ours = [
        LOG_MAGIC,
        SEGMENT_MAGIC,
        DICT_MAGIC,
        MANIFEST_MAGIC,
        DICT_INDEX_MAGIC,
        SERIES_MAGIC,
    ]
    .iter()
    .any(|m| m[..] == head[..]);
    let bytes = if ours {
        std::fs::read(path).map_err(cannot)?
    } else {
        head
    };
    let magic = bytes.get(..4).unwrap_or(&bytes);
    let r = if magic == LOG_MAGIC {
        log_report(&bytes)
    } else if magic == SEGMENT_MAGIC {
        segment_report(&bytes)
    } else if magic == DICT_MAGIC {
        dict_report(&bytes)
    } else if magic == MANIFEST_MAGIC {
        manifest_report(&bytes)
    } else if magic == SERIES_MAGIC {
        series_report(&bytes)
    } else if magic == DICT_INDEX_MAGIC {
        // An index of layout 1 or 2 reads its names from the tags.dict beside it.
        let dict_path = path.with_file_name("tags.dict");
        let dict = regular(&dict_path)
            .and_then(|()| std::fs::read(&dict_path))
            .ok();
        dict_index_report(&bytes, dict.as_deref())
    } else {
        let mut r = Report::new("unknown");
        r.problems.push((
            0,
            "bad magic bytes: not a trendlog log segment, sealed segment, dictionary, dictionary index, series file or manifest"
                .into(),
        ));
        r
    };
    if g.json {
        let mut m = r.json.clone();
        m.insert("file".into(), json!(path.display().to_string()));
        m.insert("kind".into(), json!(r.kind));
        m.insert("bytes".into(), json!(size));
        m.insert("clean".into(), json!(r.problems.is_empty()));
        let p: Vec<_> = r
            .problems
            .iter()
            .map(|(o, k)| json!({"offset": o, "kind": k}))
            .collect();
        m.insert("problems".into(), json!(p));
        out::print_json(&Value::Object(m));
    } else {
        println!("file            {}", path.display());
        println!("kind            {}", r.kind);
        println!("size            {} bytes", out::thousands(size));
        for l in &r.lines {
            println!("{l}");
        }
        for (o, k) in &r.problems {
            println!("DAMAGED at byte {o}: {k}");
        }
        println!(
            "{}",
            if r.problems.is_empty() {
                "checksums: all valid"
            } else {
                "checksums: damage found"
            }
        );
    }
    if r.problems.is_empty() {
        Ok(())
    } else {
        Err(Fail::silent(EXIT_RUNTIME))
    }
}

fn scan_end(r: &mut Report, end: &ScanEnd) {
    match end {
        ScanEnd::Clean => r.field("end", "clean".into(), json!("clean")),
        ScanEnd::TornTail { offset, kind } => r.field(
            "end",
            format!("torn tail at byte {offset} ({kind}); a writable open cuts it"),
            json!({"torn_tail": offset, "kind": kind.to_string()}),
        ),
        ScanEnd::Corrupt(e) => r.problem(e),
    }
}

/// The id every file of one store carries (hex, as error messages print it).
fn store_id_field(r: &mut Report, id: u32) {
    r.field("store id", format!("{id:#010x}"), json!(id));
}

fn log_report(bytes: &[u8]) -> Report {
    let mut r = Report::new("log segment");
    let scan = scan_log(bytes);
    match &scan.file_id {
        Ok(id) => {
            r.field("file id", id.to_string(), json!(id));
            store_id_field(&mut r, log_header_store_id(bytes));
        }
        Err(e) => r.problem(e),
    }
    let mut t = Table::new(&[
        ("offset", Align::Right),
        ("bytes", Align::Right),
        ("cells", Align::Right),
        ("first minute", Align::Left),
        ("last minute", Align::Left),
        ("source", Align::Left),
    ]);
    let mut blocks = Vec::new();
    let mut cells = 0u64;
    for &(off, len) in &scan.blocks {
        let Some(b) = bytes
            .get(off as usize..off as usize + len as usize)
            .and_then(|s| decode_block(s).ok())
        else {
            continue;
        };
        cells += u64::from(b.cell_count());
        let src = b.source().map(|s| String::from_utf8_lossy(s).into_owned());
        blocks.push(json!({"offset": off, "bytes": len, "cells": b.cell_count(),
            "min_minute": b.min_time(), "max_minute": b.max_time(), "source": src}));
        t.row(vec![
            out::thousands(off),
            out::thousands(u64::from(len)),
            out::thousands(u64::from(b.cell_count())),
            Minute(b.min_time()).to_string(),
            Minute(b.max_time()).to_string(),
            src.unwrap_or_default(),
        ]);
    }
    r.field(
        "blocks",
        format!("{} (each with a valid CRC32)", blocks.len()),
        json!(blocks),
    );
    r.field("cells", out::thousands(cells), json!(cells));
    r.field(
        "valid end",
        format!("byte {}", scan.valid_end),
        json!(scan.valid_end),
    );
    scan_end(&mut r, &scan.end);
    if !scan.blocks.is_empty() {
        r.lines.push(String::new());
        r.lines.extend(t.render().lines().map(str::to_string));
    }
    r.json.remove("blocks");
    r.json.insert("blocks".into(), json!(blocks));
    r
}

fn segment_report(bytes: &[u8]) -> Report {
    let mut r = Report::new("sealed segment");
    let view = match SegmentView::open(bytes) {
        Ok(v) => v,
        Err(e) => {
            r.problem(&e);
            return r;
        }
    };
    let m = *view.meta();
    let (res, unit) = match m.resolution {
        Resolution::Minute => ("minute", 60),
        Resolution::Hour => ("hour", 3600),
    };
    r.field("file id", m.file_id.to_string(), json!(m.file_id));
    store_id_field(&mut r, m.store_id);
    r.field("resolution", res.into(), json!(res));
    r.field(
        "tags",
        out::thousands(u64::from(m.tag_count)),
        json!(m.tag_count),
    );
    r.field("cells", out::thousands(m.cell_count), json!(m.cell_count));
    r.field("events", out::thousands(m.total), json!(m.total));
    let (first, last) = (i64::from(m.min_time) * unit, i64::from(m.max_time) * unit);
    r.field(
        "span",
        format!("{} → {}", out::when(first), out::when(last)),
        json!({"first": first, "last": last}),
    );
    r.field(
        "groups",
        view.group_count().to_string(),
        json!(view.group_count()),
    );
    if m.cell_count > 0 {
        r.field(
            "bytes/cell",
            format!("{:.2}", bytes.len() as f64 / m.cell_count as f64),
            json!(bytes.len() as f64 / m.cell_count as f64),
        );
    }
    if let Err(e) = view.verify() {
        r.problem(&e);
    }
    r
}

/// A dictionary key as shown: a series key's separators (0x1F) as ` / `.
fn shown_key(key: &str) -> String {
    key.replace(trendlog::labels::SEPARATOR, " / ")
}

fn dict_report(bytes: &[u8]) -> Report {
    let mut r = Report::new("tag dictionary");
    let scan = scan_dict(bytes);
    match &scan.header {
        Ok(id) => store_id_field(&mut r, *id),
        Err(e) => r.problem(e),
    }
    let n = scan.entries.len();
    r.field("entries", out::thousands(n as u64), json!(n));
    let first: Vec<String> = scan.entries.iter().take(10).map(|k| shown_key(k)).collect();
    r.field(
        "first entries",
        format!("{}{}", first.join(", "), if n > 10 { ", …" } else { "" }),
        json!(first),
    );
    r.field(
        "valid end",
        format!("byte {}", scan.valid_end),
        json!(scan.valid_end),
    );
    scan_end(&mut r, &scan.end);
    r
}

/// A series file: its blocks read in order up to the first that fails to
/// decode (each block's own checks; whether its values are defined is for
/// `verify`, which reads the store).
fn series_report(bytes: &[u8]) -> Report {
    let mut r = Report::new("series file");
    let nkeys = match decode_series_header(bytes) {
        Ok((id, nkeys)) => {
            store_id_field(&mut r, id);
            r.field("label keys", nkeys.to_string(), json!(nkeys));
            nkeys
        }
        Err(e) => {
            r.problem(&e);
            return r;
        }
    };
    let (mut pos, mut blocks, mut series, mut values) = (SERIES_HEADER_LEN, 0u64, 0u64, 0u64);
    let mut damage = None;
    while bytes[pos..].iter().any(|&b| b != 0) {
        match decode_series_block(&bytes[pos..], nkeys) {
            Ok(b) => {
                blocks += 1;
                series += b.count() as u64;
                values += b.values.len() as u64;
                pos += b.len;
            }
            Err(e) => {
                damage = Some(DecodeError {
                    offset: e.offset + pos as u64,
                    ..e
                });
                break;
            }
        }
    }
    r.field("series", out::thousands(series), json!(series));
    r.field("label values", out::thousands(values), json!(values));
    r.field("blocks", out::thousands(blocks), json!(blocks));
    r.field("valid end", format!("byte {pos}"), json!(pos));
    match damage {
        // What follows may be a write a crash tore (an open decides, from
        // what the manifest and the log say was durable).
        Some(e) => r.field(
            "end",
            format!(
                "a block that does not decode at byte {} ({}): a torn write if nothing durable \
                 names its series, damage otherwise (`trendlog verify` decides)",
                e.offset, e.kind
            ),
            json!({"bad_block": e.offset, "kind": e.kind.to_string()}),
        ),
        None => r.field("end", "clean".into(), json!("clean")),
    }
    r
}

fn dict_index_report(bytes: &[u8], dict: Option<&[u8]>) -> Report {
    let mut r = Report::new("dictionary index");
    let view = match DictIndexView::open(bytes) {
        Ok(v) => v,
        Err(e) => {
            r.problem(&e);
            return r;
        }
    };
    let view = match (view.layout(), dict) {
        (trendlog::format::dict_index::LAYOUT_NAMES_INSIDE, _) => view,
        (_, None) => {
            r.field(
                "names",
                "not shown: this index layout reads them from tags.dict, which is not beside it"
                    .into(),
                json!(null),
            );
            return r;
        }
        (_, Some(d)) => match view.with_dict(d) {
            Ok(v) => v,
            Err(e) => {
                r.problem(&e);
                return r;
            }
        },
    };
    store_id_field(&mut r, view.store_id());
    let n = view.len();
    r.field("entries", out::thousands(u64::from(n)), json!(n));
    r.field(
        "covers",
        format!("tags.dict up to byte {}", view.dict_end()),
        json!(view.dict_end()),
    );
    let mut first = Vec::new();
    if let Err(e) = view.verify(|id, name| {
        if id < 10 {
            first.push(shown_key(name));
        }
    }) {
        r.problem(&e);
    }
    r.field(
        "first entries",
        format!("{}{}", first.join(", "), if n > 10 { ", …" } else { "" }),
        json!(first),
    );
    r
}

fn manifest_report(bytes: &[u8]) -> Report {
    let mut r = Report::new("manifest");
    let m = match decode_manifest(bytes) {
        Ok(m) => m,
        Err(e) => {
            r.problem(&e);
            return r;
        }
    };
    store_id_field(&mut r, m.store_id);
    r.field("generation", m.generation.to_string(), json!(m.generation));
    r.field(
        "now",
        minute_str(m.now.map(Minute)),
        json!(m.now.map(|x| Minute(x).to_unix())),
    );
    r.field(
        "active log",
        format!("file id {}", m.active_log),
        json!(m.active_log),
    );
    r.field(
        "next file id",
        m.next_file_id.to_string(),
        json!(m.next_file_id),
    );
    r.field(
        "dict entries",
        out::thousands(m.dict_entries),
        json!(m.dict_entries),
    );
    let src = m
        .source_position
        .as_ref()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    r.field(
        "source position",
        src.clone().unwrap_or_else(|| "-".into()),
        json!(src),
    );
    let mut t = Table::new(&[
        ("file id", Align::Right),
        ("resolution", Align::Left),
        ("cells", Align::Right),
        ("events", Align::Right),
        ("bytes", Align::Right),
    ]);
    let mut segs = Vec::new();
    for s in &m.segments {
        let res = match s.resolution {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
        };
        segs.push(
            json!({"file_id": s.file_id, "resolution": res, "min_time": s.min_time,
            "max_time": s.max_time, "cells": s.cell_count, "total": s.total, "bytes": s.byte_len}),
        );
        t.row(vec![
            s.file_id.to_string(),
            res.into(),
            out::thousands(s.cell_count),
            out::thousands(s.total),
            out::thousands(s.byte_len),
        ]);
    }
    r.field("segments", m.segments.len().to_string(), json!(segs));
    if !m.segments.is_empty() {
        r.lines.push(String::new());
        r.lines.extend(t.render().lines().map(str::to_string));
    }
    r
}
