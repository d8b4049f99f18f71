//! On a store holding eight weeks (the NAB realTweets data), every read command of the binary
//! answers with no range given (exit 0), states on stderr which range and resolution it used, and
//! answers exactly; `export` never drops held data silently and `export | ingest` reproduces the
//! store; `ingest` leaves the store sealed and `compact` rolls it up (issue 11, findings 2 and 3).

mod cli_support;
use cli_support::*;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;

fn ok(o: &Output) -> &Output {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    o
}

/// Unix seconds of `YYYY-MM-DD HH:MM:SS` (UTC), independently of the crate's parser.
fn unix(s: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// NAB rows as (lower-cased ticker, unix seconds, count).
fn nab_rows(text: &str) -> Vec<(String, i64, u64)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_lowercase(),
                unix(f[1]),
                f[2].trim().parse().unwrap(),
            )
        })
        .collect()
}

struct Nab {
    _dir: tempfile::TempDir,
    db: PathBuf,
    rows: Vec<(String, i64, u64)>,
}

fn nab_store() -> Option<Nab> {
    let data = data_dir()?;
    let file = data.join("nab_realTweets_volume_5min.csv");
    let rows = nab_rows(&std::fs::read_to_string(&file).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nab");
    ok(&run(
        &db,
        &[
            "ingest",
            "--columns",
            "tag,timestamp,count",
            file.to_str().unwrap(),
        ],
    ));
    Some(Nab {
        _dir: dir,
        db,
        rows,
    })
}

fn totals(rows: &[(String, i64, u64)], from: i64) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (t, ts, c) in rows {
        if *ts >= from {
            *m.entry(t.clone()).or_default() += c;
        }
    }
    m
}

#[test]
fn ingest_leaves_the_store_sealed_and_compact_rolls_it_up() {
    let Some(nab) = nab_store() else { return };
    let v = json(&run(&nab.db, &["--json", "inspect"]));
    assert_eq!(v["active_cells"], 0, "ingest left cells in the log: {v}");
    assert!(v["minute_cells"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["hour_cells"], 0, "{v}");
    let before = ok(&run(&nab.db, &["--json", "top", "-k", "20"]))
        .stdout
        .clone();

    let o = run(&nab.db, &["compact"]);
    ok(&o);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("nothing to compact"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let v = json(&run(&nab.db, &["--json", "inspect"]));
    assert!(v["hour_cells"].as_u64().unwrap() > 0, "no roll-up: {v}");
    assert_eq!(v["active_cells"], 0, "{v}");
    assert_eq!(
        ok(&run(&nab.db, &["--json", "top", "-k", "20"])).stdout,
        before,
        "compaction changed an answer"
    );
    ok(&run(&nab.db, &["verify"]));
}

#[test]
fn every_read_command_answers_with_no_range_and_says_what_it_used() {
    let Some(nab) = nab_store() else { return };
    let all = totals(&nab.rows, 0);
    let v = json(&run(&nab.db, &["--json", "inspect"]));
    let now_end = v["now"].as_i64().unwrap() + 60;
    let earliest_minute = v["earliest_minute"].as_i64().unwrap();

    // top: everything held, hour-aligned where only hours are held.
    let o = run(&nab.db, &["--json", "top", "-k", "20"]);
    let got: BTreeMap<String, u64> = json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["tag"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, all);
    let err = stderr(&o);
    assert!(err.contains("top: 2015-02-26T21:00:00Z"), "{err}");
    assert!(err.contains("1h buckets from"), "{err}");

    // bursts: the minutes held (onsets to the minute), naming the older hours and how to
    // include them; with that --from, episodes before the minutes are found (at 1h).
    let o = run(&nab.db, &["--json", "bursts", "-k", "1000"]);
    let err = stderr(&o);
    assert!(
        err.contains("1h buckets only, from 2015-02-26T21:00:00Z"),
        "{err}"
    );
    assert!(err.contains("give --from 2015-02-26T21:00:00Z"), "{err}");
    let steps: Vec<String> = json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["step"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !steps.is_empty() && steps.iter().all(|s| s == "1m"),
        "{steps:?}"
    );
    let o = run(
        &nab.db,
        &[
            "--json",
            "bursts",
            "-k",
            "1000",
            "--from",
            "2015-02-26T21:00:00Z",
        ],
    );
    let onsets: Vec<i64> = json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["onset_unix"].as_i64().unwrap())
        .collect();
    assert!(onsets.iter().any(|&t| t < earliest_minute), "{onsets:?}");

    // query at the default 1m: the minutes held, and says where the hours are.
    let o = run(&nab.db, &["--json", "query", "AAPL"]);
    let v = json(&o);
    assert_eq!(v["from"], earliest_minute);
    assert_eq!(v["to"], now_end);
    assert_eq!(
        v["total"].as_u64().unwrap(),
        totals(&nab.rows, earliest_minute)["aapl"]
    );
    let err = stderr(&o);
    assert!(err.contains("1h buckets only"), "{err}");
    assert!(err.contains("--step 1h"), "{err}");

    // query at 1h: everything.
    let o = run(&nab.db, &["--json", "query", "AAPL", "--step", "1h"]);
    assert_eq!(json(&o)["total"].as_u64().unwrap(), all["aapl"]);
    assert!(stderr(&o).contains("no --from"), "{}", stderr(&o));
    let o = run(&nab.db, &["--json", "query", "AAPL", "--step", "1d"]);
    assert_eq!(json(&o)["total"].as_u64().unwrap(), all["aapl"]);

    // trending at the store's now.
    let o = run(&nab.db, &["--json", "trending", "--min-count", "1"]);
    let rows = json(&o);
    assert!(!rows.as_array().unwrap().is_empty());
    assert!(stderr(&o).contains("no --at"), "{}", stderr(&o));
    // Human output too, for every command.
    for args in [
        &["query", "aapl"][..],
        &["top"],
        &["bursts"],
        &["trending"],
        &["inspect"],
    ] {
        let o = run(&nab.db, args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("2015-"), "{args:?} says no range: {err}");
    }
    // top's sparklines fold eight weeks of hours into whole days per mark,
    // and the header says how many.
    let out = stdout(ok(&run(&nab.db, &["top", "-k", "1"])));
    assert!(out.contains("trend (2d per mark)"), "{out}");
    let spark = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap();
    assert_eq!(spark.chars().count(), 28, "{out}");
}

#[test]
fn export_never_drops_held_data_and_round_trips() {
    let Some(nab) = nab_store() else { return };
    // A 1m export cannot hold the hour-only weeks: refused, naming UTC times.
    let o = run(&nab.db, &["export", "--step", "1m"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(err.contains("1h buckets only"), "{err}");
    assert!(err.contains("2015-02-26T21:00:00Z"), "{err}");

    // The default: hours where only hours are held, minutes after, said on stderr.
    let o = run(&nab.db, &["export"]);
    let exported = ok(&o).stdout.clone();
    let err = stderr(&o);
    assert!(
        err.contains("1h buckets from 2015-02-26T21:00:00Z") && err.contains("then 1m buckets"),
        "{err}"
    );
    let mut sum: BTreeMap<String, u64> = BTreeMap::new();
    for l in String::from_utf8_lossy(&exported).lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        *sum.entry(f[1].to_owned()).or_default() += f[2].parse::<u64>().unwrap();
    }
    assert_eq!(sum, totals(&nab.rows, 0), "export lost or added events");

    // export | ingest into an empty store gives the same store.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy");
    ok(&run_bytes(&copy, &["ingest", "-"], &exported));
    assert_eq!(ok(&run(&copy, &["export"])).stdout, exported);
    for args in [
        &["--json", "top", "-k", "20"][..],
        &["--json", "query", "aapl", "--step", "1h"],
        &["--json", "query", "aapl"],
        &["--json", "trending", "--min-count", "1"],
    ] {
        assert_eq!(
            ok(&run(&copy, args)).stdout,
            ok(&run(&nab.db, args)).stdout,
            "{args:?}"
        );
    }

    // At 1h, over the whole store, every event too.
    let o = run(&nab.db, &["export", "--step", "1h", "--format", "ndjson"]);
    let mut sum: BTreeMap<String, u64> = BTreeMap::new();
    for l in String::from_utf8_lossy(&ok(&o).stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        *sum.entry(v["tag"].as_str().unwrap().to_owned())
            .or_default() += v["count"].as_u64().unwrap();
    }
    assert_eq!(sum, totals(&nab.rows, 0));
}

#[test]
fn rejections_name_utc_times_not_minute_numbers() {
    let Some(nab) = nab_store() else { return };
    // trending at a half hour held only as hours: told what to change (it has no --step).
    let o = run(&nab.db, &["trending", "--at", "2015-03-01T00:30:00Z"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("whole hour") && !err.contains("step"), "{err}");
    let o = run(&nab.db, &["trending", "--at", "2015-03-01T01:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Past the clock (and the store's now): refused. The latest accepted
    // minute is a day past the clock, so only its shape is known here.
    let o = run_bytes(&nab.db, &["ingest", "-"], b"2100-01-01 00:00:00,aapl,1\n");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let latest = err
        .split("the latest accepted minute is ")
        .nth(1)
        .and_then(|rest| rest.get(..20))
        .unwrap_or_default();
    assert!(
        err.contains("the event at 2100-01-01T00:00:00Z")
            && latest.len() == 20
            && latest.ends_with(":00Z")
            && latest.as_bytes()[10] == b'T',
        "{err}"
    );
    // Months after the store's now but before the clock: an old stream
    // going on after a gap, accepted.
    let o = run_bytes(&nab.db, &["ingest", "-"], b"2016-01-01 00:00:00,aapl,1\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
