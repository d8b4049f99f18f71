//! `--labelled --cli`: the labelled questions as whole processes, the
//! `trendlog` binary against the `sqlite3` shell over the same data.
//!
//! Builds the labelled workload once into a trendlog store (label keys
//! `platform,region`, sealed and closed) and into the labelled SQLite peer's
//! file, checks that both shells give the same answers (trending, trending
//! within the region, the spread's per-region recent and baseline counts),
//! then times each question as a fresh process, medians of `--query-runs`
//! runs after one untimed warm-up, stdout to /dev/null; peak RSS from one
//! more run under GNU time, as `--cli` does.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use serde_json::{json, Value};
use trendlog_workload::{labelled_events, LabelSpec, LabelledEvent};

use super::{open, LabelledSystem, Names, SpreadQ};
use crate::cli::{measure, measure_question, mib, os, stdout_of, trendlog_binary};
use crate::systems::Res;
use crate::{dir_size, Args, BATCH};

/// Builds both stores, checks the answers agree, times the processes.
pub fn run(a: &Args) -> Res<ExitCode> {
    let spec = a.spec();
    let bin = trendlog_binary(a)?;
    let sqlite3 = a.sqlite3_bin.clone().unwrap_or_else(|| "sqlite3".into());
    let root = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("trendlog-compare-lcli-{}", std::process::id())),
    };
    let (tl_dir, sq_dir) = (root.join("labelled-trendlog"), root.join("labelled-sqlite"));
    for d in [&tl_dir, &sq_dir] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
        std::fs::create_dir_all(d)?;
    }
    let t = Instant::now();
    let mut gen = labelled_events(&spec, &LabelSpec::default());
    let names = Names {
        tags: gen.tag_names().to_vec(),
        platforms: gen.platform_names().to_vec(),
        regions: gen.region_names().to_vec(),
    };
    let mut systems: Vec<Box<dyn LabelledSystem>> =
        vec![open("trendlog", &tl_dir)?, open("sqlite", &sq_dir)?];
    let mut buf: Vec<LabelledEvent> = Vec::with_capacity(BATCH);
    let mut max_minute = 0u32;
    loop {
        buf.clear();
        buf.extend(gen.by_ref().take(BATCH));
        if buf.is_empty() {
            break;
        }
        if let Some(m) = buf.iter().map(|e| e.event.minute()).max() {
            max_minute = max_minute.max(m);
        }
        for s in &mut systems {
            s.ingest_batch(&buf, &names)?;
        }
    }
    for mut s in systems {
        s.flush()?;
        s.close()?;
    }
    let store = tl_dir.join("store");
    let db = sq_dir.join("labelled.sqlite");
    eprintln!(
        "built both labelled stores in {:.1} s: trendlog {:.1} MiB, SQLite {:.1} MiB",
        t.elapsed().as_secs_f64(),
        dir_size(&store)? as f64 / 1_048_576.0,
        dir_size(&sq_dir)? as f64 / 1_048_576.0
    );

    // The binary's defaults: trending at the store's now (one past the
    // newest minute), window 60 min, baseline 1440 min, min count 10, prior
    // 1/60, k 10; spread at now rounded up to the hour, window 1h, baseline
    // 24h, span 24h, hourly.
    let tag = &spec.surge_tag;
    let region = &a.region;
    let now = max_minute + 1;
    let (recent_start, baseline_start) = (now - 60, now - 60 - 1440);
    let sql_trending = |filter: &str| {
        format!(
            "SELECT t.name, w.r, w.b, (w.r / 60.0 + 1.0/60) / (w.b / 1440.0 + 1.0/60) AS g FROM (\
               SELECT tag, SUM(CASE WHEN minute >= {recent_start} THEN n ELSE 0 END) AS r, \
                           SUM(CASE WHEN minute <  {recent_start} THEN n ELSE 0 END) AS b \
               FROM counts WHERE minute >= {baseline_start} AND minute < {now}{filter} \
               GROUP BY tag HAVING r >= 10) AS w JOIN tags AS t ON t.id = w.tag \
             ORDER BY g DESC, w.r DESC, t.name ASC LIMIT 10;"
        )
    };
    let sq = SpreadQ {
        at: now.div_ceil(60) * 60,
        window: 1,
        baseline: 24,
        span: 24,
        min_count: 10,
        threshold: 2.0,
        prior: 1.0 / 60.0,
    };
    let first = sq.first();
    let sql_spread = format!(
        "SELECT region, (minute - {first}) / 60 AS h, SUM(n) FROM counts \
         WHERE tag = (SELECT id FROM tags WHERE name = '{tag}') \
           AND minute >= {first} AND minute < {} GROUP BY region, h;",
        sq.at
    );
    let questions: Vec<(String, Vec<String>, String)> = vec![
        ("trending".into(), vec!["trending".into()], sql_trending("")),
        (
            format!("trending --where region={region}"),
            vec![
                "trending".into(),
                "--where".into(),
                format!("region={region}"),
            ],
            sql_trending(&format!(" AND region = '{region}'")),
        ),
        (
            format!("spread {tag} --by region"),
            vec!["spread".into(), tag.clone(), "--by".into(), "region".into()],
            sql_spread.clone(),
        ),
    ];

    // Agreement, once, untimed.
    let tl_json = |args: &[String]| -> Res<Value> {
        let mut v = vec![OsString::from("--db"), store.as_os_str().to_owned()];
        v.push("--json".into());
        v.extend(args.iter().map(OsString::from));
        Ok(serde_json::from_str(&stdout_of(&bin, &v)?)?)
    };
    let sql_rows = |sql: &str| -> Res<Vec<Vec<String>>> {
        let args = vec![db.as_os_str().to_owned(), OsString::from(sql)];
        Ok(stdout_of(Path::new(&sqlite3), &args)?
            .lines()
            .map(|l| l.split('|').map(str::to_owned).collect())
            .collect())
    };
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for (what, args, sql) in &questions[..2] {
        let got: Vec<Vec<String>> = tl_json(args)?
            .as_array()
            .ok_or("trending: not an array")?
            .iter()
            .map(|r| vec![s(&r["tag"]), s(&r["recent"]), s(&r["baseline"])])
            .collect();
        let want: Vec<Vec<String>> = sql_rows(sql)?
            .into_iter()
            .map(|mut r| {
                r.truncate(3);
                r
            })
            .collect();
        if got != want || got.is_empty() {
            return Err(format!("{what} differs: trendlog {got:?}, sqlite3 {want:?}").into());
        }
    }
    let mut hourly: HashMap<String, Vec<u64>> = HashMap::new();
    for r in sql_rows(&sql_spread)? {
        let (h, n): (usize, u64) = (r[1].parse()?, r[2].parse()?);
        hourly
            .entry(r[0].clone())
            .or_insert_with(|| vec![0; ((sq.at - first) / 60) as usize])[h] += n;
    }
    let want = sq.answer(hourly);
    let got = tl_json(&questions[2].1)?;
    let got_rows: Vec<(String, u64, u64, bool)> = got["rows"]
        .as_array()
        .ok_or("spread: no rows")?
        .iter()
        .map(|r| {
            (
                s(&r["value"]),
                r["recent"].as_u64().unwrap_or(u64::MAX),
                r["baseline"].as_u64().unwrap_or(u64::MAX),
                r["trending"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let want_rows: Vec<(String, u64, u64, bool)> = want
        .rows
        .iter()
        .map(|r| (r.value.clone(), r.recent, r.baseline, r.trending))
        .collect();
    let got_timeline: Vec<(u64, u64)> = got["timeline"]
        .as_array()
        .ok_or("spread: no timeline")?
        .iter()
        .map(|p| {
            (
                p["present"].as_u64().unwrap_or(u64::MAX),
                p["trending"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    let want_timeline: Vec<(u64, u64)> = want
        .timeline
        .iter()
        .map(|&(_, p, t)| (u64::from(p), u64::from(t)))
        .collect();
    if got_rows != want_rows || got_timeline != want_timeline {
        return Err(format!(
            "spread differs: trendlog {got_rows:?} {got_timeline:?}, from sqlite3 {want_rows:?} {want_timeline:?}"
        )
        .into());
    }
    eprintln!(
        "answers: trending, trending in {region} and the spread of {tag} agree between trendlog and sqlite3"
    );

    let n = a.query_runs;
    let mut rows = Vec::new();
    for (what, args, sql) in &questions {
        let mut tl_args = vec![OsString::from("--db"), store.as_os_str().to_owned()];
        tl_args.extend(args.iter().map(OsString::from));
        let sq_args = vec![db.as_os_str().to_owned(), OsString::from(sql)];
        rows.push(measure_question(
            n,
            (what, 32),
            (&bin, &tl_args),
            (Path::new(&sqlite3), &sq_args),
        )?);
    }
    let floor_tl = measure(n, &bin, &os(&["--version"]))?;
    let floor_sq = measure(
        n,
        Path::new(&sqlite3),
        &[db.as_os_str().to_owned(), OsString::from("SELECT 1;")],
    )?;
    let mut table = format!(
        "labelled, whole processes, medians of {n} runs after one warm-up; {} events\n{:<34}{:>13}{:>15}{:>13}{:>15}{:>12}\n",
        spec.events, "question", "trendlog ms", "trendlog MiB", "sqlite3 ms", "sqlite3 MiB", "sqlite3/tl"
    );
    for r in &rows {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        table.push_str(&format!(
            "{:<34}{:>13.2}{:>15.1}{:>13.2}{:>15.1}{:>11.2}x\n",
            r["question"].as_str().unwrap_or("?"),
            f("trendlog_ms"),
            f("trendlog_peak_rss_bytes") / 1_048_576.0,
            f("sqlite3_ms"),
            f("sqlite3_peak_rss_bytes") / 1_048_576.0,
            f("sqlite3_over_trendlog"),
        ));
    }
    table.push_str(&format!(
        "floor: `trendlog --version` {:.2} ms {:.1} MiB; `sqlite3 DB 'SELECT 1;'` {:.2} ms {:.1} MiB\nsqlite3: {}\n",
        floor_tl.0 * 1e3,
        mib(floor_tl.1),
        floor_sq.0 * 1e3,
        mib(floor_sq.1),
        String::from_utf8_lossy(&Command::new(&sqlite3).arg("--version").output()?.stdout).trim()
    ));
    if a.json {
        eprint!("{table}");
        let doc = json!({
            "workload": {"events": spec.events, "tags": spec.tags, "seed": spec.seed, "labelled": true},
            "query_runs": n,
            "processes": rows,
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
