//! `--cli`: the store as users meet it, in whole processes (issue 11).
//!
//! Builds the comparison workload once into a trendlog store (through the
//! library, sealed, closed) and into a SQLite file (the schema of the SQLite
//! peer), then times one-question processes, each a fresh process, medians of
//! `--query-runs` runs after one untimed warm-up run: the `trendlog` binary
//! (`query TAG --step 1h`, `trending`, `top`, `inspect`, exactly as a user
//! types them, stdout to /dev/null) against the `sqlite3` shell running the
//! equivalent SQL. Peak RSS is one more run under GNU time (`-f %M`).
//! In process: `Store::open_read_only`, the first trending after an open,
//! the second (which keeps the segments' tag totals), and warm (the median of
//! the three after those).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use serde_json::{json, Value};
use trendlog::{Options, Store, SyncPolicy, TrendQuery};
use trendlog_workload::{events, Event};

use crate::systems::{self, Res, System};
use crate::{median, Args, BATCH};

/// Runs `program args` to completion with stdout and stderr discarded and
/// returns its wall time (spawn to exit).
fn run_once(program: &Path, args: &[OsString]) -> Res<f64> {
    let t = Instant::now();
    let st = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let secs = t.elapsed().as_secs_f64();
    if !st.success() {
        return Err(format!("{} {:?} failed ({st})", program.display(), args).into());
    }
    Ok(secs)
}

/// The peak RSS of one run of `program args`, through GNU time (`-f %M`).
/// Not `wait4` from this process: a child spawned from a large parent
/// inherits the parent's high-water mark across `exec` (Linux charges the
/// pre-exec address space to the child's `ru_maxrss`), while GNU time is
/// small, so its child's figure is the program's own (plus about 1 MiB of
/// floor, shown by the `--version` row). `None` without /usr/bin/time.
fn peak_rss(program: &Path, args: &[OsString]) -> Res<Option<u64>> {
    let time = Path::new("/usr/bin/time");
    if !time.is_file() {
        return Ok(None);
    }
    let o = Command::new(time)
        .args(["-f", "%M"])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if !o.status.success() {
        return Err(format!(
            "time {} {:?} failed ({})",
            program.display(),
            args,
            o.status
        )
        .into());
    }
    let err = String::from_utf8_lossy(&o.stderr);
    let kib: u64 = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("GNU time printed no peak RSS: {err:?}"))?;
    Ok(Some(kib * 1024))
}

/// Median wall time of `n` runs after one untimed warm-up, and the peak RSS
/// of one more run.
pub(crate) fn measure(n: usize, program: &Path, args: &[OsString]) -> Res<(f64, Option<u64>)> {
    run_once(program, args)?;
    let mut secs = Vec::with_capacity(n);
    for _ in 0..n {
        secs.push(run_once(program, args)?);
    }
    Ok((median(secs), peak_rss(program, args)?))
}

/// One question as whole processes of both shells (`n` timed runs each, see
/// [`measure`]): prints a progress line (the question padded to `width`) and
/// returns the result row.
pub(crate) fn measure_question(
    n: usize,
    (what, width): (&str, usize),
    (bin, tl_args): (&Path, &[OsString]),
    (sqlite3, sq_args): (&Path, &[OsString]),
) -> Res<Value> {
    let (t_secs, t_rss) = measure(n, bin, tl_args)?;
    let (s_secs, s_rss) = measure(n, sqlite3, sq_args)?;
    eprintln!(
        "  {what:<width$} trendlog {:>9.2} ms {:>6.1} MiB   sqlite3 {:>9.2} ms {:>6.1} MiB",
        t_secs * 1e3,
        mib(t_rss),
        s_secs * 1e3,
        mib(s_rss)
    );
    Ok(json!({
        "question": what,
        "trendlog_ms": t_secs * 1e3,
        "trendlog_peak_rss_bytes": t_rss,
        "sqlite3_ms": s_secs * 1e3,
        "sqlite3_peak_rss_bytes": s_rss,
        "sqlite3_over_trendlog": s_secs / t_secs,
    }))
}

pub(crate) fn mib(b: Option<u64>) -> f64 {
    b.map_or(f64::NAN, |b| b as f64 / 1_048_576.0)
}

pub(crate) fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// The `trendlog` binary: `--trendlog PATH`, else beside this executable
/// (`cargo build --release --bin trendlog` puts it there).
pub(crate) fn trendlog_binary(a: &Args) -> Res<PathBuf> {
    if let Some(p) = &a.trendlog_bin {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe()?;
    let p = exe
        .parent()
        .ok_or("no directory for the current executable")?
        .join("trendlog");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build --release --bin trendlog`, or pass --trendlog PATH",
            p.display()
        )
        .into())
    }
}

fn dir_size(dir: &Path) -> Res<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        total += e?.metadata()?.len();
    }
    Ok(total)
}

/// `--cli`: build both stores, time the processes, print the table.
pub fn run(a: &Args) -> Res<ExitCode> {
    let spec = a.spec();
    let bin = trendlog_binary(a)?;
    let sqlite3 = a.sqlite3_bin.clone().unwrap_or_else(|| "sqlite3".into());
    let root = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("trendlog-compare-cli-{}", std::process::id())),
    };
    std::fs::create_dir_all(&root)?;
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful numbers");
    }

    // The same data into both, batches of BATCH events.
    let tl_dir = root.join("trendlog");
    let sq_dir = root.join("sqlite");
    for d in [&tl_dir, &sq_dir] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
        std::fs::create_dir_all(d)?;
    }
    let store_dir = tl_dir.join("store");
    let t = Instant::now();
    let mut gen = events(&spec);
    let names = gen.tag_names().to_vec();
    let store = Store::open(
        &store_dir,
        Options::default()
            .sync_policy(SyncPolicy::EveryBatch)
            .background_compaction(false)
            .segment_tag_totals(a.segment_totals),
    )?;
    let mut sq = systems::sqlite::SqliteSys::open(&sq_dir)?;
    let mut buf: Vec<Event> = Vec::with_capacity(BATCH);
    let mut max_minute = 0u32;
    loop {
        buf.clear();
        buf.extend(gen.by_ref().take(BATCH));
        if buf.is_empty() {
            break;
        }
        if let Some(m) = buf.iter().map(Event::minute).max() {
            max_minute = max_minute.max(m);
        }
        let mut b = store.batch();
        for e in &buf {
            b.add(&names[e.tag_index as usize], e.ts, e.count)?;
        }
        b.commit()?;
        sq.ingest_batch(&buf, &names)?;
    }
    store.sync()?;
    store.seal()?;
    store.close()?;
    Box::new(sq).close()?;
    let db = sq_dir.join("counts.sqlite");
    eprintln!(
        "built both stores in {:.1} s: trendlog {:.1} MiB on disk ({} bytes{}), SQLite {:.1} MiB",
        t.elapsed().as_secs_f64(),
        dir_size(&store_dir)? as f64 / 1_048_576.0,
        dir_size(&store_dir)?,
        if a.segment_totals {
            ", segments with their tag totals, as `trendlog ingest` writes them"
        } else {
            ", segments without tag totals (`ingest --no-tag-totals`)"
        },
        dir_size(&sq_dir)? as f64 / 1_048_576.0
    );

    // The SQL a user of the sqlite3 shell would type for the same questions,
    // with the parameters the trendlog commands take by default: the whole
    // store for query (at 1h) and top (k 10); trending at the store's now
    // (one past the newest minute), window 60 min, baseline 1440 min,
    // min count 10, prior 1/60, k 10.
    let tag = &spec.surge_tag;
    let now = max_minute + 1;
    let (recent_start, baseline_start) = (now - 60, now - 60 - 1440);
    let sql_query = format!(
        "SELECT minute / 60, SUM(n) FROM counts \
         WHERE tag = (SELECT id FROM tags WHERE name = '{tag}') GROUP BY minute / 60;"
    );
    let sql_top = "SELECT t.name, w.s FROM (SELECT tag, SUM(n) AS s FROM counts GROUP BY tag \
                   ORDER BY s DESC LIMIT 10) AS w JOIN tags AS t ON t.id = w.tag \
                   ORDER BY w.s DESC, t.name;"
        .to_owned();
    let sql_trending = format!(
        "SELECT t.name, w.r, w.b, (w.r / 60.0 + 1.0/60) / (w.b / 1440.0 + 1.0/60) AS g FROM (\
           SELECT tag, SUM(CASE WHEN minute >= {recent_start} THEN n ELSE 0 END) AS r, \
                       SUM(CASE WHEN minute <  {recent_start} THEN n ELSE 0 END) AS b \
           FROM counts WHERE minute >= {baseline_start} AND minute < {now} \
           GROUP BY tag HAVING r >= 10) AS w JOIN tags AS t ON t.id = w.tag \
         ORDER BY g DESC, w.r DESC, t.name ASC LIMIT 10;"
    );
    let sql_inspect = "SELECT COUNT(*), SUM(n), MIN(minute), MAX(minute) FROM counts; \
                       SELECT COUNT(*) FROM tags;"
        .to_owned();

    // The answers agree (checked once, untimed): top and trending tags, counts.
    check_agreement(&bin, &store_dir, &sqlite3, &db, &sql_top, &sql_trending)?;

    let n = a.query_runs;
    let store_arg = store_dir.as_os_str().to_owned();
    let db_arg = db.as_os_str().to_owned();
    let tl = |args: &[&str]| {
        let mut v = vec![OsString::from("--db"), store_arg.clone()];
        v.extend(os(args));
        v
    };
    let sq = |sql: &str| vec![db_arg.clone(), OsString::from(sql)];
    let questions: [(&str, Vec<OsString>, Vec<OsString>); 4] = [
        (
            "query TAG --step 1h",
            tl(&["query", tag, "--step", "1h"]),
            sq(&sql_query),
        ),
        ("trending", tl(&["trending"]), sq(&sql_trending)),
        ("top", tl(&["top"]), sq(&sql_top)),
        ("inspect", tl(&["inspect"]), sq(&sql_inspect)),
    ];
    let mut rows = Vec::new();
    for (what, tl_args, sq_args) in &questions {
        rows.push(measure_question(
            n,
            (what, 20),
            (&bin, tl_args),
            (Path::new(&sqlite3), sq_args),
        )?);
    }
    let floor_sq = measure(n, Path::new(&sqlite3), &sq("SELECT 1;"))?;
    let floor_tl = measure(n, &bin, &os(&["--version"]))?;

    // In process: open, and the first trending after it against the next.
    let mut open_ms = Vec::new();
    let mut first_ms = Vec::new();
    let mut second_ms = Vec::new();
    let mut warm_ms = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let s = Store::open_read_only(&store_dir)?;
        open_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let snap = s.snapshot();
        let q = TrendQuery::default();
        let t = Instant::now();
        let first = snap.trending(&q)?;
        first_ms.push(t.elapsed().as_secs_f64() * 1e3);
        // The second call keeps the segments' tag totals (the first only
        // streams them); warm is the steady state after it.
        let t = Instant::now();
        let second = snap.trending(&q)?;
        second_ms.push(t.elapsed().as_secs_f64() * 1e3);
        for _ in 0..3 {
            let t = Instant::now();
            let warm = snap.trending(&q)?;
            warm_ms.push(t.elapsed().as_secs_f64() * 1e3);
            if first != warm || first != second {
                return Err("trending changed between calls".into());
            }
        }
        drop(snap);
        s.close()?;
    }
    let in_process = json!({
        "open_ms": median(open_ms),
        "first_trending_ms": median(first_ms),
        "second_trending_ms": median(second_ms),
        "warm_trending_ms": median(warm_ms.clone()),
    });

    let mut table = String::new();
    table.push_str(&format!(
        "whole processes, medians of {n} runs after one warm-up (page cache warm); {} events, {} tags, surge tag {tag}\n",
        spec.events, spec.tags
    ));
    table.push_str(&format!(
        "{:<22}{:>13}{:>15}{:>13}{:>15}{:>12}\n",
        "question", "trendlog ms", "trendlog MiB", "sqlite3 ms", "sqlite3 MiB", "sqlite3/tl"
    ));
    for r in &rows {
        table.push_str(&format!(
            "{:<22}{:>13.2}{:>15.1}{:>13.2}{:>15.1}{:>11.2}x\n",
            r["question"].as_str().unwrap_or("?"),
            r["trendlog_ms"].as_f64().unwrap_or(f64::NAN),
            r["trendlog_peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / 1_048_576.0,
            r["sqlite3_ms"].as_f64().unwrap_or(f64::NAN),
            r["sqlite3_peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / 1_048_576.0,
            r["sqlite3_over_trendlog"].as_f64().unwrap_or(f64::NAN),
        ));
    }
    table.push_str(&format!(
        "floor: `trendlog --version` {:.2} ms {:.1} MiB; `sqlite3 DB 'SELECT 1;'` {:.2} ms {:.1} MiB\n",
        floor_tl.0 * 1e3,
        mib(floor_tl.1),
        floor_sq.0 * 1e3,
        mib(floor_sq.1)
    ));
    table.push_str(&format!(
        "in process: Store::open_read_only {:.3} ms; trending first after open {:.3} ms, second {:.3} ms, warm {:.3} ms\n",
        in_process["open_ms"].as_f64().unwrap_or(f64::NAN),
        in_process["first_trending_ms"].as_f64().unwrap_or(f64::NAN),
        in_process["second_trending_ms"].as_f64().unwrap_or(f64::NAN),
        in_process["warm_trending_ms"].as_f64().unwrap_or(f64::NAN),
    ));
    table.push_str(&format!(
        "sqlite3: {}\n",
        String::from_utf8_lossy(&Command::new(&sqlite3).arg("--version").output()?.stdout).trim()
    ));
    if a.json {
        eprint!("{table}");
        let doc = json!({
            "workload": {"events": spec.events, "tags": spec.tags, "seed": spec.seed},
            "query_runs": n,
            "processes": rows,
            "in_process": in_process,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{table}");
    }
    if a.dir.is_none() && !a.keep {
        std::fs::remove_dir_all(&root).ok();
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `program args` and returns its stdout, failing on a non-zero exit.
pub(crate) fn stdout_of(program: &Path, args: &[OsString]) -> Res<String> {
    let o = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if !o.status.success() {
        return Err(format!(
            "{} {args:?}: {}",
            program.display(),
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(o.stdout)?)
}

/// top and trending give the same tags and counts through both shells.
fn check_agreement(
    bin: &Path,
    store: &Path,
    sqlite3: &Path,
    db: &Path,
    sql_top: &str,
    sql_trending: &str,
) -> Res<()> {
    let json_of = |cmd: &str| -> Res<Value> {
        let args = vec![
            OsString::from("--db"),
            store.as_os_str().to_owned(),
            OsString::from("--json"),
            OsString::from(cmd),
        ];
        Ok(serde_json::from_str(&stdout_of(bin, &args)?)?)
    };
    let sql_rows = |sql: &str| -> Res<Vec<Vec<String>>> {
        let args = vec![db.as_os_str().to_owned(), OsString::from(sql)];
        Ok(stdout_of(sqlite3, &args)?
            .lines()
            .map(|l| l.split('|').map(str::to_owned).collect())
            .collect())
    };
    let field = |v: &Value, k: &str| -> String {
        match &v[k] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    let top: Vec<Vec<String>> = json_of("top")?
        .as_array()
        .ok_or("top: not an array")?
        .iter()
        .map(|r| vec![field(r, "tag"), field(r, "count")])
        .collect();
    if top != sql_rows(sql_top)? {
        return Err(format!(
            "top differs: trendlog {top:?}, sqlite3 {:?}",
            sql_rows(sql_top)?
        )
        .into());
    }
    let trending: Vec<Vec<String>> = json_of("trending")?
        .as_array()
        .ok_or("trending: not an array")?
        .iter()
        .map(|r| vec![field(r, "tag"), field(r, "recent"), field(r, "baseline")])
        .collect();
    let sq: Vec<Vec<String>> = sql_rows(sql_trending)?
        .into_iter()
        .map(|mut r| {
            r.truncate(3);
            r
        })
        .collect();
    if trending != sq {
        return Err(format!("trending differs: trendlog {trending:?}, sqlite3 {sq:?}").into());
    }
    eprintln!("answers: top and trending agree between trendlog and sqlite3");
    Ok(())
}
