//! The `trendlog` binary keeps its contract (issue 5): every subcommand, its JSON shapes and exit
//! codes, bad input, `--strict`, `--ack`, reads beside a live writer, and `export | ingest`.

mod cli_support;
use cli_support::*;

use std::io::Write;
use std::path::Path;

const T0: i64 = 1_508_112_000; // 2017-10-16T00:00:00Z

/// `steady` every hour for a day and a `metoo` burst in the last hour, as CSV.
fn sample_csv() -> String {
    let mut csv = String::from("timestamp,tag,count\n");
    for h in 0..25 {
        csv.push_str(&format!("{},steady,100\n", T0 + h * 3600));
    }
    for m in 0..30 {
        csv.push_str(&format!("{},#MeToo,{}\n", T0 + 24 * 3600 + m * 60, m + 1));
    }
    csv.push_str("2017-10-16T12:30:00Z,TimesUp,7\n");
    csv
}

/// A store of [`sample_csv`].
fn sample(db: &Path) {
    let o = run_stdin(db, &["ingest"], &sample_csv());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn query_json_shape_is_dense_and_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    let from = (T0 + 24 * 3600).to_string();
    let to = (T0 + 26 * 3600).to_string();
    let v = json(&run(
        &db,
        &[
            "--json", "query", "#METOO", "--from", &from, "--to", &to, "--step", "1h",
        ],
    ));
    assert_eq!(v["tag"], "metoo");
    assert_eq!(v["from"], T0 + 24 * 3600);
    assert_eq!(v["to"], T0 + 26 * 3600);
    assert_eq!(v["step"], 3600);
    assert_eq!(v["total"], (1..=30).sum::<i64>());
    assert_eq!(
        v["points"],
        serde_json::json!([[T0 + 24 * 3600, 465], [T0 + 25 * 3600, 0]])
    );
    // Defaults: from the earliest time held to the store's now plus a minute.
    let v = json(&run(&db, &["--json", "query", "metoo", "--step", "1m"]));
    assert_eq!(v["from"], T0);
    assert_eq!(v["to"], T0 + 24 * 3600 + 30 * 60);
    assert_eq!(v["points"].as_array().unwrap().len(), 24 * 60 + 30);
    // Relative times resolve against the store's now, not the wall clock.
    let v = json(&run(
        &db,
        &["--json", "query", "metoo", "--from", "-10m", "--to", "now"],
    ));
    assert_eq!(v["from"], T0 + 24 * 3600 + 20 * 60);
    assert_eq!(v["total"], (21..=30).sum::<i64>());
    // People get a table with a sparkline.
    let o = run(&db, &["query", "metoo", "--step", "1h"]);
    assert_eq!(code(&o), 0);
    let s = stdout(&o);
    assert!(s.contains('█') && s.contains("total 465"), "{s}");
}

#[test]
fn top_and_trending_json_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    let v = json(&run(&db, &["--json", "top", "-k", "2"]));
    assert_eq!(
        v,
        serde_json::json!([{"tag": "steady", "count": 2500}, {"tag": "metoo", "count": 465}])
    );
    let v = json(&run(&db, &["--json", "trending", "-k", "1"]));
    let row = &v[0];
    assert_eq!(row["tag"], "metoo");
    assert_eq!(row["recent"], 465);
    assert_eq!(row["baseline"], 0);
    assert!(row["growth"].as_f64().unwrap() > 100.0, "{v}");
    // Prior 0 with an empty baseline: infinite growth is null in JSON.
    let v = json(&run(
        &db,
        &[
            "--json",
            "trending",
            "--prior",
            "0",
            "--min-count",
            "1",
            "--at",
            "now",
        ],
    ));
    assert_eq!(v[0]["tag"], "metoo");
    assert!(v[0]["growth"].is_null(), "{v}");
    let o = run(&db, &["trending"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("metoo"), "{}", stdout(&o));
}

#[test]
fn inspect_verify_compact_report_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    let v = json(&run(&db, &["--json", "inspect"]));
    assert_eq!(v["now"], T0 + 24 * 3600 + 29 * 60);
    assert_eq!(v["tags"], 3);
    assert_eq!(v["total"], 2500 + 465 + 7);
    // A store without labels: version 4, no series file.
    assert_eq!(v["manifest_version"], 4);
    assert!(v["durable_series"].is_null(), "{v}");
    let human = stdout(&run(&db, &["inspect"]));
    assert!(human.contains("\nmanifest        version 4\n"), "{human}");
    assert!(!human.contains("durable series"), "{human}");
    assert!(!v["segments"].as_array().unwrap().is_empty());
    let v = json(&run(&db, &["--json", "compact"]));
    assert!(v["steps"].is_u64(), "{v}");
    let v = json(&run(&db, &["--json", "verify"]));
    assert_eq!(v["clean"], true);
    assert_eq!(v["problems"], serde_json::json!([]));
    assert_eq!(code(&run(&db, &["verify"])), 0);
    // Each file of the store decodes alone.
    for entry in std::fs::read_dir(&db).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name == "LOCK" {
            continue;
        }
        let o = run(
            &db,
            &["--json", "inspect", "--segment", p.to_str().unwrap()],
        );
        let v = json(&o);
        assert_eq!(v["clean"], true, "{name}: {v}");
        assert_ne!(v["kind"], "unknown", "{name}");
    }
    // Damage: flip a byte in the dictionary; verify names the file and exits 1.
    let dict = db.join("tags.dict");
    let mut bytes = std::fs::read(&dict).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&dict, &bytes).unwrap();
    let o = run(&db, &["--json", "verify"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["clean"], false);
    assert!(v["problems"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with("tags.dict"));
    assert!(v["problems"][0]["offset"].is_u64());
    // The file alone: the ingest wrote its tags in one block, so with no
    // valid block after the damage it reads as a torn tail, which inspect
    // shows (exit 0, as for any torn tail); with the manifest's entry count
    // beside it, verify above knows it for damage.
    let o = run(&db, &["inspect", "--segment", dict.to_str().unwrap()]);
    let shown = stdout(&o);
    assert!(
        code(&o) == 1 || shown.contains("torn tail at byte 16"),
        "{shown}"
    );
}

#[test]
fn bad_lines_are_reported_with_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let f = dir.path().join("in.csv");
    std::fs::write(
        &f,
        "timestamp,tag,count\n\
         1508112000,good,1\n\
         not-a-time,x,1\n\
         1508112000,me too,1\n\
         -60,old,1\n\
         1969-12-31T23:59:00Z,old,1\n\
         1508112060,good,2\n",
    )
    .unwrap();
    let o = run(&db, &["ingest", f.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    let name = f.display().to_string();
    for line in [3, 4, 5, 6] {
        assert!(
            err.contains(&format!("{name}:{line}: ")),
            "line {line}: {err}"
        );
    }
    assert!(err.contains("before 1970"), "{err}");
    assert!(err.contains("whitespace"), "{err}");
    assert!(
        err.contains("accepted") && err.contains("rejected"),
        "{err}"
    );
    // Every good line was still ingested.
    let v = json(&run(&db, &["--json", "top"]));
    assert_eq!(v, serde_json::json!([{"tag": "good", "count": 3}]));
}

#[test]
fn only_the_first_20_bad_lines_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let input: String = (0..25).map(|i| format!("{i}bad\n")).collect();
    let o = run_stdin(&db, &["ingest"], &input);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert_eq!(err.matches("<stdin>:").count(), 20, "{err}");
    assert!(err.contains("5 more"), "{err}");
}

#[test]
fn strict_rejects_the_whole_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run_stdin(
        &db,
        &["ingest", "--strict", "--batch-size", "1"],
        "1508112000,a,1\n1508112060,b,1\n1508112120,c d,1\n",
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("<stdin>:3:"), "{}", stderr(&o));
    // Nothing was committed, and the store this run created is not left
    // behind (its directory keeps the lock file, which is never unlinked).
    assert!(!db.join("MANIFEST").exists(), "{}", stderr(&o));
    assert!(!db.join("tags.dict").exists(), "{}", stderr(&o));
    // A clean input goes in whole.
    let o = run_stdin(
        &db,
        &["ingest", "--strict"],
        "1508112000,a,1\n1508112060,b,1\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&run(&db, &["--json", "inspect"]))["total"], 2);
}

#[test]
fn ndjson_tweet_ids_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run_stdin(
        &db,
        &["ingest", "--format", "ndjson"],
        "{\"ts\": 1508112000, \"tag\": \"A\", \"count\": 3}\n{\"ts\": \"2017-10-16 00:01:00\", \"tag\": \"a\"}\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run_stdin(
        &db,
        &["ingest", "--columns", "tag,timestamp,count"],
        "ticker,timestamp,value\nB,2017-10-16 00:00:53,5\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // 929000000000000000 is 2017-11-10T14:57:14Z.
    let o = run_stdin(
        &db,
        &[
            "ingest",
            "--format",
            "tweet-ids",
            "--tag",
            "#MeToo",
            "--max-future-skew",
            "60d",
        ],
        "id\n929000000000000000\n929000000000000001\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&run(&db, &["--json", "top"]));
    assert_eq!(
        v,
        serde_json::json!([{"tag":"b","count":5},{"tag":"a","count":4},{"tag":"metoo","count":2}])
    );
    // tweet-ids without --tag is bad usage.
    let o = run_stdin(&db, &["ingest", "--format", "tweet-ids"], "1\n");
    assert_eq!(code(&o), 2);
}

#[test]
fn ack_prints_committed_lines_after_each_durable_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let input: String = (0..5).map(|i| format!("{},t,1\n", T0 + i * 60)).collect();
    let o = run_stdin(&db, &["ingest", "--ack", "--batch-size", "2"], &input);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "committed 2\ncommitted 4\ncommitted 5\n");
}

#[test]
fn usage_and_time_errors_exit_2_runtime_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    for args in [
        &["query", "metoo", "--from", "yesterday-ish"][..],
        &["query", "metoo", "--from", "2017-13-01"][..],
        &["query", "metoo", "--from", "1969-12-31T00:00:00Z"][..],
        &["query", "metoo", "--step", "5m"][..],
        &["query", "me too"][..],
        &["trending", "--window", "soon"][..],
        &["no-such-command"][..],
    ] {
        let o = run(&db, args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty());
    }
    // A relative time past either end names what it was counted from, not
    // the sum the user never typed.
    let o = run(&db, &["query", "metoo", "--from=-100000000000000"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains("\"-100000000000000\": counted back from the store's now (")
            && err.contains("before 1970")
            && !err.contains("-99"),
        "{err}"
    );
    // A date before 1970 is named as typed, not as its unix second.
    let o = run(&db, &["query", "metoo", "--from", "1969-12-31"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains("--from \"1969-12-31\" is before 1970") && !err.contains("-86400"),
        "{err}"
    );
    // `--db` before and after the subcommand: refused, never the later one
    // silently.
    let o = run(&db, &["query", "metoo", "--db", "elsewhere"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("'--db <DIR>' cannot be used multiple times"));
    // A missing store for each read command: exit 1, one clear sentence.
    let missing = dir.path().join("missing");
    for args in [
        &["query", "metoo"][..],
        &["top"][..],
        &["trending"][..],
        &["inspect"][..],
        &["verify"][..],
        &["export"][..],
        &["compact"][..],
    ] {
        let o = run(&missing, args);
        assert_eq!(code(&o), 1, "{args:?}");
        assert!(stderr(&o).contains("missing"), "{args:?}: {}", stderr(&o));
        assert!(!missing.exists(), "{args:?} created the store");
    }
}

#[test]
fn export_then_ingest_gives_identical_answers() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    sample(&a);
    // A tag that normalises to something starting with '#' must survive too,
    // as must one that needs CSV quoting.
    let o = run_stdin(
        &a,
        &["ingest"],
        "1508112000,##hash,2\n1508112000,\"a,b\",3\n1508112000,\"q\"\"uote\",4\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for format in ["csv", "ndjson"] {
        let b = dir.path().join(format!("b-{format}"));
        let exported = run(&a, &["export", "--format", format]);
        assert_eq!(code(&exported), 0, "{}", stderr(&exported));
        let o = run_stdin(&b, &["ingest", "--format", format], &stdout(&exported));
        assert_eq!(code(&o), 0, "{format}: {}", stderr(&o));
        for args in [
            &["--json", "top", "-k", "100"][..],
            &["--json", "query", "metoo"][..],
            &["--json", "query", "##hash", "--step", "1h"][..],
            &["--json", "trending", "--min-count", "1"][..],
        ] {
            assert_eq!(
                json(&run(&a, args)),
                json(&run(&b, args)),
                "{format} {args:?}"
            );
        }
        let top = json(&run(&b, &["--json", "top", "-k", "100"]));
        let tags: Vec<&str> = top
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["tag"].as_str().unwrap())
            .collect();
        assert!(tags.contains(&"#hash") && tags.contains(&"a,b") && tags.contains(&"q\"uote"));
    }
}

#[test]
fn read_commands_work_while_another_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let Ingesting {
        child: mut writer,
        mut input,
        acks,
    } = spawn_ingest(&db, &["--batch-size", "1", "-"]);
    for i in 0..3i64 {
        writeln!(input, "{},live,{}", T0 + i * 60, i + 1).unwrap();
        input.flush().unwrap();
        let line = acks
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap();
        assert_eq!(line, format!("committed {}", i + 1));
        // The writer holds the lock now; readers still see what it committed.
        let v = json(&run(&db, &["--json", "query", "live"]));
        assert_eq!(v["total"], (1..=i + 1).sum::<i64>(), "{v}");
        json(&run(&db, &["--json", "top"]));
        json(&run(&db, &["--json", "trending", "--min-count", "1"]));
        json(&run(&db, &["--json", "inspect"]));
        json(&run(&db, &["--json", "verify"]));
        assert_eq!(code(&run(&db, &["export"])), 0);
    }
    // A second writer is refused with exit 1.
    let o = run_stdin(&db, &["ingest"], "1508112000,x,1\n");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("locked"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("read-only"), "{}", stderr(&o));
    drop(input);
    assert!(writer.wait().unwrap().success());
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in [
        "ingest",
        "query",
        "top",
        "trending",
        "compact",
        "inspect",
        "verify",
        "export",
        "demo",
        "spread",
        "bursts",
        "retention",
    ] {
        let o = bin().args([sub, "--help"]).output().unwrap();
        assert_eq!(code(&o), 0, "{sub}");
        assert!(stdout(&o).contains("Example"), "{sub}: {}", stdout(&o));
    }
}

#[test]
fn demo_runs_small_and_never_wipes_a_users_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data");
    sample(&db);
    let o = run(&db, &["--json", "demo", "--events", "20000"]);
    let v = json(&o);
    assert_eq!(v["exact"], true);
    // The user's store is untouched; the demo went into a subdirectory.
    assert_eq!(
        json(&run(&db, &["--json", "inspect"]))["total"],
        2500 + 465 + 7
    );
    let store = v["store"].as_str().unwrap();
    assert!(store.ends_with("demo-1"), "{store}");
    assert!(Path::new(v["svg"].as_str().unwrap()).exists());
    assert!(Path::new(v["spread_svg"].as_str().unwrap()).exists());
    // The surge starts in one city and reaches every city of the demo.
    let cities = v["spread"]["cities"].as_array().unwrap();
    assert_eq!(cities[0]["region"], "los-angeles", "{cities:?}");
    assert_eq!(cities.len(), 12, "{cities:?}");
    // The trending command the demo suggests gives its table's 18:00 row.
    let row = v["trending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["at"] == 1_508_090_400)
        .unwrap();
    let demo_db = Path::new(store);
    let asked = json(&run(
        demo_db,
        &[
            "--json",
            "trending",
            "--at",
            "2017-10-15 18:00:00",
            "--baseline",
            "6h",
            "--min-count",
            "100",
            "-k",
            "3",
        ],
    ));
    let pick = |rows: &serde_json::Value| -> Vec<(String, u64, u64)> {
        let rows = rows.as_array().unwrap().iter();
        rows.map(|r| {
            (
                r["tag"].to_string(),
                r["recent"].as_u64().unwrap(),
                r["baseline"].as_u64().unwrap(),
            )
        })
        .collect()
    };
    assert!(!pick(&row["tags"]).is_empty(), "{row}");
    assert_eq!(pick(&asked), pick(&row["tags"]));
    // A demo store of its own is rebuilt in place.
    let own = dir.path().join("own");
    json(&run(&own, &["--json", "demo", "--events", "20000"]));
    let v = json(&run(&own, &["--json", "demo", "--events", "20000"]));
    assert_eq!(v["store"].as_str().unwrap(), own.to_str().unwrap());
    assert!(dir.path().join("metoo.svg").exists());
    // A link named like a chart is replaced, never written through (before, the demo
    // overwrote the link's target).
    let linked = dir.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::fs::write(linked.join("victim.txt"), "victim").unwrap();
    std::os::unix::fs::symlink("victim.txt", linked.join("metoo.svg")).unwrap();
    json(&run(
        &linked.join("store"),
        &["--json", "demo", "--events", "20000"],
    ));
    assert_eq!(
        std::fs::read_to_string(linked.join("victim.txt")).unwrap(),
        "victim"
    );
    let chart = std::fs::symlink_metadata(linked.join("metoo.svg")).unwrap();
    assert!(chart.is_file());
}

#[test]
fn an_old_sparse_stream_loads_and_a_date_past_the_clock_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // A date past the clock is refused even as an empty store's first event.
    let o = run_stdin(&db, &["ingest"], "4000000000,typo,1\n");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("too far in the future"),
        "{}",
        stderr(&o)
    );
    // In time order, a month apart: every gap is far longer than the 1d skew.
    let mut csv = String::from("timestamp,tag,count\n");
    for k in 0..6 {
        csv.push_str(&format!("{},sparse,{}\n", T0 + k * 30 * 86_400, k + 1));
    }
    let o = run_stdin(&db, &["ingest"], &csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&run(&db, &["--json", "top"]));
    assert_eq!(v, serde_json::json!([{"tag": "sparse", "count": 21}]));
    // 2096 is past the clock and the store's now: refused, and named as a UTC time.
    let o = run_stdin(&db, &["ingest"], "4000000000,typo,1\n");
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("too far in the future"), "{err}");
    assert!(err.contains("2096-10-02T07:06:00Z"), "{err}");
    let v = json(&run(&db, &["--json", "top"]));
    assert_eq!(v, serde_json::json!([{"tag": "sparse", "count": 21}]));
}

#[test]
fn tag_totals_are_stored_by_default_cost_bytes_and_change_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let db = |n: &str| dir.path().join(n);
    let (dflt, flag, plain, last) = (db("default"), db("flag"), db("plain"), db("last"));
    // `--tag-totals` is the default and stays accepted; of the two flags,
    // the last given wins.
    for (d, args) in [
        (&dflt, &["ingest"][..]),
        (&flag, &["ingest", "--tag-totals"]),
        (&plain, &["ingest", "--no-tag-totals"]),
        (&last, &["ingest", "--no-tag-totals", "--tag-totals"]),
    ] {
        let o = run_stdin(d, args, &sample_csv());
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    for (d, args) in [
        (&dflt, &["compact"][..]),
        (&flag, &["compact", "--tag-totals"]),
        (&plain, &["compact", "--no-tag-totals"]),
        (&last, &["compact"]),
    ] {
        let o = run(d, args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert_eq!(code(&run(d, &["verify"])), 0);
    }
    for q in [
        &["--json", "top"][..],
        &["--json", "trending"],
        &["--json", "query", "metoo", "--step", "1h"],
    ] {
        let want = json(&run(&plain, q));
        for d in [&dflt, &flag, &last] {
            assert_eq!(json(&run(d, q)), want, "{q:?}");
        }
    }
    let bytes = |d: &Path| {
        json(&run(d, &["--json", "inspect"]))["bytes"]
            .as_u64()
            .unwrap()
    };
    assert!(bytes(&dflt) > bytes(&plain));
    assert_eq!(bytes(&dflt), bytes(&flag));
    assert_eq!(bytes(&dflt), bytes(&last));
}

/// Without --columns, a CSV header naming the columns sets them for its file (NAB's
/// ticker,timestamp,value; an export's header, label columns included), and a first line
/// taken as a header that names no columns is reported on stderr, not dropped silently.
#[test]
fn a_header_naming_the_columns_sets_them() {
    let dir = tempfile::tempdir().unwrap();
    let nab = dir.path().join("nab");
    let o = run_stdin(
        &nab,
        &["ingest"],
        "ticker,timestamp,value\nAAPL,2015-02-26 21:42:53,104\nIBM,2015-02-26 21:47:53,3\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let top = json(&run(&nab, &["--json", "top"]));
    assert_eq!(top[0]["tag"], "aapl", "{top}");
    assert_eq!(top[0]["count"], 104, "{top}");

    let odd = dir.path().join("odd");
    let o = run_stdin(&odd, &["ingest"], "garbage,foo,bar\n1508112000,x,1\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("<stdin>:1: taken as a header and skipped"),
        "{}",
        stderr(&o)
    );

    // export | ingest of a labelled store, with no --columns.
    let a = dir.path().join("a");
    let lines = format!(
        "{T0},metoo,3,instagram,chicago\n{},metoo,2,,boston\n",
        T0 + 60
    );
    let o = run_stdin(&a, &INGEST_LABELLED, &lines);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let exported = stdout(&run(&a, &["export"]));
    let b = dir.path().join("b");
    let o = run_stdin(&b, &["ingest", "--labels", "platform,region"], &exported);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&run(&b, &["export"])), exported);
    // Into a new store with no flags at all: the header's label:KEY columns declare the keys.
    let c = dir.path().join("c");
    let o = run_stdin(&c, &["ingest"], &exported);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&run(&c, &["export"])), exported);
}

/// `--json export` prints one JSON document, as `--json` promises: an array of the NDJSON rows.
#[test]
fn json_export_is_one_document_of_the_ndjson_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    let doc = json(&run(&db, &["--json", "export"]));
    let lines: Vec<serde_json::Value> = stdout(&run(&db, &["export", "--format", "ndjson"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    assert_eq!(doc.as_array().unwrap(), &lines);
    // An explicit --format wins over --json.
    let nd = stdout(&run(&db, &["--json", "export", "--format", "ndjson"]));
    assert_eq!(nd.lines().count(), lines.len());
    let csv = stdout(&run(&db, &["--json", "export", "--format", "csv"]));
    assert!(csv.starts_with("timestamp,tag,count\n"), "{csv}");
    let empty = dir.path().join("empty");
    run_stdin(&empty, &["ingest"], "");
    assert_eq!(
        json(&run(&empty, &["--json", "export"])),
        serde_json::json!([])
    );
}

/// `inspect --segment` on a file that is not ours says so from its first bytes (a sparse
/// 1 GiB file), and reports the file's size.
#[test]
fn inspect_of_a_foreign_file_reads_its_magic_only() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big.bin");
    std::fs::File::create(&f).unwrap().set_len(1 << 30).unwrap();
    let o = bin()
        .args(["--json", "inspect", "--segment"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["bytes"].as_u64()),
        (Some("unknown"), Some(1 << 30))
    );
}

/// `--db` naming a file: every command says it is a file, not a store, and changes nothing.
#[test]
fn a_db_that_is_a_file_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("afile");
    std::fs::write(&f, b"not a store").unwrap();
    for args in [
        &["ingest", "-"][..],
        &["top"],
        &["query", "x"],
        &["verify"],
        &["compact"],
        &["inspect"],
        &["retention"],
    ] {
        let o = run_stdin(&f, args, "1508112000,x,1\n");
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("is a file, not a store"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert_eq!(std::fs::read(&f).unwrap(), b"not a store");
}

/// A file the manifest names but the directory lacks is damage that `verify` reports (exit 1,
/// naming the file), and that every read refuses; never an I/O error alone, never a clean verify.
#[test]
fn a_missing_file_is_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    for kind in [".log", ".min", "tags.dict"] {
        let db = dir.path().join(kind.trim_start_matches('.'));
        let o = run_stdin(&db, &["ingest"], &sample_csv());
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let gone = std::fs::read_dir(&db)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(kind))
            .unwrap();
        std::fs::remove_file(&gone).unwrap();
        let v = run(&db, &["verify"]);
        assert_eq!(code(&v), 1, "{kind}: {}", stderr(&v));
        let said = format!("{}{}", stdout(&v), stderr(&v));
        assert!(said.contains("missing"), "{kind}: {said}");
        let v = run(&db, &["--json", "verify"]);
        let doc: serde_json::Value = serde_json::from_str(&stdout(&v)).unwrap();
        assert_eq!(doc["clean"], false, "{kind}: {doc}");
        assert_eq!(code(&run(&db, &["top"])), 1, "{kind}");
    }
}

/// A writer refuses a store whose dictionary is damaged anywhere (it builds every batch on it):
/// `ingest`, `compact` and `retention` exit 1 and change nothing, and `ingest --ack`
/// acknowledges nothing. (They used to open it, write new segments, and report the damage a
/// lookup met as a rejected line while acknowledging it.)
#[test]
fn writers_refuse_a_damaged_dictionary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let lines: String = (0..3000)
        .map(|i| format!("{T0},t{i},1,p{},r{}\n", i % 7, i % 5))
        .collect();
    let o = run_stdin(&db, &INGEST_LABELLED, &lines);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dict = db.join("tags.dict");
    let mut b = std::fs::read(&dict).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 8;
    std::fs::write(&dict, &b).unwrap();
    let files = |db: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(db)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (p.display().to_string(), std::fs::read(&p).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let before = files(&db);
    let event = format!("{},t5,1,p5,r0\n", T0 + 60);
    for args in [
        &INGEST_LABELLED[..],
        &[
            "ingest",
            "--ack",
            "--labels",
            "platform,region",
            "--columns",
            "timestamp,tag,count,platform,region",
        ],
        &["compact"],
        &["retention", "--minutes", "1h"],
    ] {
        let o = run_stdin(&db, args, &event);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("damaged"), "{args:?}: {}", stderr(&o));
        assert!(
            !stdout(&o).contains("committed"),
            "{args:?}: {}",
            stdout(&o)
        );
    }
    assert_eq!(files(&db), before, "a refused writer changed the store");
    assert_eq!(code(&run(&db, &["verify"])), 1);
}

/// `--json ingest` prints its summary as one JSON object on stdout (after any `--ack` lines).
#[test]
fn json_ingest_prints_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run_stdin(&db, &["--json", "ingest"], &format!("{T0},a,3\nbad\n"));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (v["lines_read"].as_u64(), v["accepted"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (v["events"].as_u64(), v["rejected"].as_u64()),
        (Some(3), Some(1))
    );
    let o = run_stdin(&db, &["--json", "ingest", "--ack"], &format!("{T0},a,3\n"));
    let out = stdout(&o);
    let last = out.lines().last().unwrap();
    assert!(out.starts_with("committed 1\n"), "{out}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(last).unwrap()["accepted"],
        1
    );
}

#[test]
fn k_zero_says_it_asked_for_no_rows_not_that_there_were_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    for args in [
        &["top", "-k", "0"][..],
        &["trending", "-k", "0"][..],
        &["trending", "--rank", "burst", "-k", "0"][..],
        &["bursts", "-k", "0"][..],
    ] {
        let o = run(&db, args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("(-k 0 asks for no rows)"), "{args:?}: {out}");
        assert!(!out.contains("(no "), "{args:?}: {out}");
    }
}

#[test]
fn a_header_that_names_its_columns_but_cannot_be_read_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let input = "timestamp,tag,count,label:platform,label:platform\n2020-03-01T04:00:00Z,x,1,a,b\n";
    let o = run_stdin(&db, &["ingest"], input);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains("<stdin>:1: ") && err.contains("names the label \"platform\" twice"),
        "{err}"
    );
    assert!(!err.contains("names no timestamp and tag column"), "{err}");
    // The lines after it are not read against columns it does not have
    // (`timestamp,tag,tag` read as the default columns would count 3).
    for strict in [false, true] {
        let mut args = vec!["ingest"];
        if strict {
            args.push("--strict");
        }
        let o = run_stdin(&db, &args, "timestamp,tag,tag\n1508112000,metoo,3\n");
        assert_eq!(code(&o), 2);
        let err = stderr(&o);
        assert!(
            err.contains("<stdin>:1: ") && err.contains("names the \"tag\" role twice"),
            "{err}"
        );
        assert!(
            err.contains("<stdin>:2: the header (line 1) could not be read"),
            "{err}"
        );
        assert!(
            !db.join("MANIFEST").exists(),
            "nothing was accepted, so no store is left"
        );
    }
}

/// A run that fails part way still tells a script, in its JSON, how far
/// the events committed before the failure reach. (`/proc/self/mem` opens
/// but fails at its first read: a read error in the middle of a run.)
#[cfg(target_os = "linux")]
#[test]
fn a_failed_ingest_still_prints_its_json_with_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "1508112000,a,1\n1508112060,b,2\n").unwrap();
    let o = run(
        &db,
        &["--json", "ingest", good.to_str().unwrap(), "/proc/self/mem"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["committed"], true, "{j}");
    assert_eq!(j["committed_lines"], 2, "{j}");
    assert_eq!(j["committed_events"], 3, "{j}");
    assert!(
        j["error"].as_str().unwrap().contains("/proc/self/mem"),
        "{j}"
    );
    let q = json(&run(&db, &["--json", "query", "b"]));
    assert_eq!(q["total"], 2);
    // A run that created the store and committed nothing before failing
    // (--strict commits at the end) leaves no store, as a refusal does.
    let fresh = dir.path().join("fresh");
    let o = run(
        &fresh,
        &[
            "ingest",
            "--strict",
            good.to_str().unwrap(),
            "/proc/self/mem",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!fresh.join("MANIFEST").exists(), "{}", stderr(&o));
}

/// A reader that stops early (`trendlog query x --step 1m | head`) ends a
/// streamed series quietly, exit 0, as every other command's output does.
#[test]
fn a_series_whose_reader_stops_early_ends_quietly() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    for json in [false, true] {
        let mut cmd = bin();
        cmd.arg("--db").arg(&db);
        if json {
            cmd.arg("--json");
        }
        // 30 days of minutes: far more than a pipe holds.
        let to = (T0 + 30 * 86_400).to_string();
        let mut child = cmd
            .args([
                "query",
                "metoo",
                "--step",
                "1m",
                "--from",
                &T0.to_string(),
                "--to",
                &to,
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        out.read_exact(&mut first).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(!stderr(&o).contains("Broken pipe"), "{}", stderr(&o));
    }
}
