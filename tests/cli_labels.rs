//! Labels through the binary (issue 14): `ingest --labels` declares a new
//! store's keys and reads label columns; `query`, `top` and `trending` take
//! `--where` and `--by`; `spread` answers "trending in several cities";
//! `export | ingest` round-trips a labelled store in CSV and NDJSON; `inspect`
//! lists the keys and values; bad keys exit 2 naming the known keys.

mod cli_support;
use cli_support::*;

/// 2017-10-16T00:00:00Z.
const T0: i64 = 1_508_112_000;

/// Two days: background chatter everywhere, and #MeToo starting on twitter
/// in la at hour 40, reaching a new region every hour after.
fn input() -> String {
    let regions = ["la", "nyc", "chicago", "boston"];
    let mut s = String::from("timestamp,tag,count,platform,region\n");
    let mut rows = Vec::new();
    for m in (0..48 * 60).step_by(5) {
        let r = regions[(m / 5) % 4];
        let p = if m % 2 == 0 { "twitter" } else { "instagram" };
        rows.push((T0 + m as i64 * 60, "background", 2, p, r));
    }
    for (i, r) in regions.iter().enumerate() {
        for m in (40 + i) * 60..48 * 60 {
            rows.push((T0 + m as i64 * 60, "#MeToo", 3, "twitter", r));
        }
    }
    rows.sort();
    for (t, tag, c, p, r) in rows {
        s.push_str(&format!("{t},{tag},{c},{p},{r}\n"));
    }
    s
}

fn ingest(db: &std::path::Path) {
    let o = run_stdin(db, &INGEST_LABELLED, &input());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn filters_group_by_and_spread() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    ingest(&db);
    let all = json(&run(&db, &["--json", "query", "metoo", "--step", "1h"]));
    let la = json(&run(
        &db,
        &[
            "--json",
            "query",
            "metoo",
            "--step",
            "1h",
            "--where",
            "region=la",
        ],
    ));
    assert_eq!(all["total"], 3 * 60 * (8 + 7 + 6 + 5));
    assert_eq!(la["total"], 3 * 60 * 8);
    let by = json(&run(
        &db,
        &["--json", "query", "metoo", "--step", "1h", "--by", "region"],
    ));
    assert_eq!(by["by"], "region");
    let groups = by["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4);
    assert_eq!(groups[0]["value"], "la");
    let sum: u64 = groups.iter().map(|g| g["total"].as_u64().unwrap()).sum();
    assert_eq!(sum, all["total"].as_u64().unwrap());

    let top = json(&run(
        &db,
        &["--json", "top", "--where", "platform=instagram"],
    ));
    assert_eq!(top.as_array().unwrap().len(), 1, "{top}");
    assert_eq!(top[0]["tag"], "background");
    let top_by = json(&run(&db, &["--json", "top", "-k", "1", "--by", "platform"]));
    assert_eq!(top_by.as_array().unwrap().len(), 2, "{top_by}");
    assert!(top_by[0]["by"]["key"] == "platform");

    let tr = json(&run(
        &db,
        &[
            "--json",
            "trending",
            "--where",
            "region=boston",
            "--min-count",
            "1",
        ],
    ));
    assert_eq!(tr[0]["tag"], "metoo", "{tr}");

    let sp = json(&run(&db, &["--json", "spread", "metoo", "--by", "region"]));
    let rows = sp["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{sp}");
    let tl = sp["timeline"].as_array().unwrap();
    let present: Vec<u64> = tl.iter().map(|p| p["present"].as_u64().unwrap()).collect();
    // One more region each hour from hour 40 (the last 8 steps of 24).
    assert_eq!(&present[16..], &[1, 2, 3, 4, 4, 4, 4, 4], "{sp}");
    assert_eq!(present[..16].iter().sum::<u64>(), 0);
    let o = run(&db, &["spread", "metoo", "--by", "region"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("trending in"), "{}", stdout(&o));
    // Without a prior, the first region, new in the recent window, grows infinitely: null in JSON and
    // ∞ in the table, as trending prints it (never 1.8e308, never ×0.0).
    let p0 = [
        "spread",
        "metoo",
        "--by",
        "region",
        "--prior",
        "0",
        "--at",
        "2017-10-17T17:00:00Z",
    ];
    let sp = json(&run(&db, &[&["--json"][..], &p0[..]].concat()));
    let nulls = sp["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["growth"].is_null() && r["baseline"] == 0)
        .count();
    assert!(nulls > 0, "{sp}");
    assert!(!sp.to_string().contains("e308"), "{sp}");
    let table = stdout(&run(&db, &p0));
    assert!(table.contains("×∞"), "{table}");

    // trending --rank burst takes --where and --by like the growth ranking.
    let rb = ["--json", "trending", "--rank", "burst", "--min-count", "1"];
    let all = json(&run(&db, &rb));
    assert!(!all.as_array().unwrap().is_empty(), "{all}");
    let boston = json(&run(
        &db,
        &[&rb[..], &["--where", "region=boston"]].concat(),
    ));
    let rows = boston.as_array().unwrap();
    assert!(!rows.is_empty(), "{all}");
    assert!(
        rows.iter().all(|r| r["labels"]["region"] == "boston"),
        "{boston}"
    );
    let by = json(&run(
        &db,
        &[&rb[..], &["--by", "region", "-k", "1"]].concat(),
    ));
    let by = by.as_array().unwrap();
    assert!(by.len() > 1, "{by:?}");
    assert!(
        by.iter().all(|r| r["labels"]["region"] == r["by"]["value"]),
        "{by:?}"
    );
    let o = run(
        &db,
        &["trending", "--rank", "burst", "--where", "nosuchkey=x"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));

    // Bursts run per tag, its series summed: one episode of metoo, whose
    // onset is no later than the first city's (the surge starts in la).
    let b = json(&run(
        &db,
        &[
            "--json",
            "bursts",
            "--tag",
            "metoo",
            "-k",
            "50",
            "--from",
            "1508112000",
        ],
    ));
    let b = b.as_array().unwrap();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0]["tag"], "metoo");
    assert!(b[0].get("labels").is_none(), "{b:?}");
    let la = json(&run(
        &db,
        &[
            "--json",
            "bursts",
            "--tag",
            "metoo",
            "--where",
            "region=la",
            "--from",
            "1508112000",
        ],
    ));
    let la_onset = la[0]["onset_unix"].as_i64().unwrap();
    assert!(
        b[0]["onset_unix"].as_i64().unwrap() <= la_onset,
        "{b:?} {la}"
    );
    // bursts takes --where and --by too.
    let bq = ["--json", "bursts", "--tag", "metoo", "--from", "1508112000"];
    let nyc = json(&run(&db, &[&bq[..], &["--where", "region=nyc"]].concat()));
    let nyc = nyc.as_array().unwrap();
    assert!(!nyc.is_empty(), "{b:?}");
    assert!(
        nyc.iter().all(|x| x["labels"]["region"] == "nyc"),
        "{nyc:?}"
    );
    let by = json(&run(
        &db,
        &[&bq[..], &["--by", "region", "-k", "1"]].concat(),
    ));
    let by = by.as_array().unwrap();
    assert_eq!(by.len(), 4, "{by:?}");
    assert!(
        by.iter().all(|x| x["labels"]["region"] == x["by"]["value"]),
        "{by:?}"
    );
    let o = run(&db, &["bursts", "--where", "nosuchkey=x"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));

    let ins = json(&run(&db, &["--json", "inspect"]));
    assert_eq!(ins["label_keys"], serde_json::json!(["platform", "region"]));
    assert_eq!(ins["tags"], 2);
    assert_eq!(ins["labels"][1]["value_count"], 4);
    // A labelled store of version 5, closed cleanly: every series is
    // durable, as its manifest records.
    assert_eq!(ins["manifest_version"], 5);
    assert!(ins["series"].as_u64().unwrap() > 2, "{ins}");
    assert_eq!(ins["durable_series"], ins["series"], "{ins}");
    let human = stdout(&run(&db, &["inspect"]));
    assert!(human.contains("\nmanifest        version 5\n"), "{human}");
    // As the table prints counts: with thousands separators.
    let n = ins["series"].as_u64().unwrap().to_string();
    let mut grouped = String::new();
    for (i, c) in n.chars().enumerate() {
        if i > 0 && (n.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let durable =
        format!("\ndurable series  {grouped}  (in tags.series at the last seal or clean close");
    assert!(human.contains(&durable), "{human}");
}

#[test]
fn bad_keys_exit_2_naming_the_known_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    ingest(&db);
    for args in [
        &["query", "metoo", "--where", "regoin=la"][..],
        &["top", "--where", "regoin=la"],
        &["trending", "--by", "regoin"],
        &["spread", "metoo", "--by", "regoin"],
    ] {
        let o = run(&db, args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("platform, region"), "{}", stderr(&o));
    }
    // A line with an unknown label key or a bad value is rejected by line; the rest is kept.
    let o = run_stdin(
        &db,
        &["ingest", "--format", "ndjson"],
        &format!(
            "{{\"ts\":{T0},\"tag\":\"a\",\"labels\":{{\"regoin\":\"x\"}}}}\n\
             {{\"ts\":{T0},\"tag\":\"a\",\"labels\":{{\"region\":\"new york\"}}}}\n\
             {{\"ts\":{T0},\"tag\":\"a\",\"labels\":{{\"region\":\"nyc\"}}}}\n"
        ),
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("regoin"), "{}", stderr(&o));
    assert!(stderr(&o).contains("new york"), "{}", stderr(&o));
    let a = json(&run(&db, &["--json", "query", "a", "--step", "1h"]));
    assert_eq!(a["total"], 1);
    // --labels that differ from the store's are refused.
    let o = run_stdin(&db, &["ingest", "--labels", "region"], "");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A store without labels refuses --where.
    let plain = dir.path().join("plain");
    let o = run_stdin(&plain, &["ingest"], &format!("{T0},metoo,1\n"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&plain, &["query", "metoo", "--where", "region=la"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn export_then_ingest_round_trips_a_labelled_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    ingest(&db);
    let csv = run(&db, &["export"]);
    assert_eq!(code(&csv), 0, "{}", stderr(&csv));
    let text = String::from_utf8(csv.stdout.clone()).unwrap();
    assert!(text.starts_with("timestamp,tag,count,label:platform,label:region\n"));
    let copy = dir.path().join("copy");
    let o = run_bytes(
        &copy,
        &[
            "ingest",
            "--columns",
            "timestamp,tag,count,label:platform,label:region",
        ],
        &csv.stdout,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(run(&copy, &["export"]).stdout, csv.stdout);

    let nd = run(&db, &["export", "--format", "ndjson"]);
    let copy2 = dir.path().join("copy2");
    let o = run_bytes(
        &copy2,
        &[
            "ingest",
            "--format",
            "ndjson",
            "--labels",
            "platform,region",
        ],
        &nd.stdout,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(run(&copy2, &["export"]).stdout, csv.stdout);
    let v = run(&copy2, &["verify"]);
    assert_eq!(code(&v), 0, "{}", stderr(&v));
}

/// A reader that stops early (`export | head -1`, with stderr in the same
/// closed pipe) ends any command with exit 0, never a panic or an I/O error.
#[test]
fn export_into_a_pipe_closed_early_exits_0() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    ingest(&db);
    let runs: [&[&str]; 4] = [
        &["export", "--format", "csv"],
        &["export", "--format", "ndjson"],
        &["inspect"],
        &["query", "metoo", "--step", "1m", "--by", "region"],
    ];
    for args in runs {
        let mut child = bin()
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {status}");
    }
}

/// A value typed `##tw` is held as `#tw`, as a tag is. The `--by` rankings used to look its
/// group up by normalising the held value again (`#tw` → `tw`), so `#tw` got the numbers of `tw`
/// or vanished; and `export` wrote `#tw`, which reads back as `tw`, merging the two series.
#[test]
fn a_value_held_with_a_leading_hash_keeps_its_own_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = "2023-01-01T00:00:00Z,x,1,##tw\n2023-01-01T00:00:00Z,x,2,tw\n2023-01-01T00:00:00Z,y,4,##tw\n";
    let o = run_stdin(
        &db,
        &[
            "ingest",
            "--labels",
            "platform",
            "--columns",
            "timestamp,tag,count,platform",
            "-",
        ],
        csv,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let counts = |db: &std::path::Path, args: &[&str]| {
        let v = json(&run(db, args));
        let mut got: Vec<(String, String, u64)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let recent = r.get("count").or_else(|| r.get("recent")).unwrap();
                (
                    r["by"]["value"].as_str().unwrap().to_string(),
                    r["tag"].as_str().unwrap().to_string(),
                    recent.as_u64().unwrap(),
                )
            })
            .collect();
        got.sort();
        got
    };
    let want = vec![
        ("#tw".to_string(), "x".to_string(), 1),
        ("#tw".to_string(), "y".to_string(), 4),
        ("tw".to_string(), "x".to_string(), 2),
    ];
    assert_eq!(counts(&db, &["--json", "top", "--by", "platform"]), want);
    // A held `#tw` is a normalised value, not damage (verify and the open of
    // a store whose dictionary tail holds it used to refuse it).
    let o = run(&db, &["verify"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let trending = [
        "--json",
        "trending",
        "--by",
        "platform",
        "--min-count",
        "1",
        "--at",
        "2023-01-01T00:01:00Z",
    ];
    assert_eq!(counts(&db, &trending), want);
    // The export writes `##tw`, so that it reads back as itself.
    let o = run(&db, &["export"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(",##tw"), "{}", stdout(&o));
    for format in ["csv", "ndjson"] {
        let o = run(&db, &["export", "--format", format]);
        let copy = dir.path().join(format);
        let mut args = vec!["ingest", "--labels", "platform"];
        if format == "ndjson" {
            args.extend(["--format", "ndjson"]);
        }
        args.push("-");
        let i = run_stdin(&copy, &args, &stdout(&o));
        assert_eq!(code(&i), 0, "{}", stderr(&i));
        assert_eq!(
            counts(&copy, &["--json", "top", "--by", "platform"]),
            want,
            "{format}"
        );
        assert_eq!(code(&run(&copy, &["verify"])), 0, "{format}");
    }
}

/// Two values of one key under `--where` can match no series (conditions are ANDed, a series
/// has one value per key): exit 2 saying so, rather than an empty answer. An empty `--labels`
/// (a script's empty variable) is refused rather than creating a store without labels.
#[test]
fn contradictory_wheres_and_an_empty_labels_list_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ingest(&db);
    let o = run(
        &db,
        &["top", "--where", "region=la", "--where", "region=nyc"],
    );
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(
        stderr(&o).contains("--where gives region twice") && stderr(&o).contains("--by region"),
        "{}",
        stderr(&o)
    );
    // The same value twice is only redundant.
    let o = run(
        &db,
        &["top", "--where", "region=la", "--where", "region=LA"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let fresh = dir.path().join("fresh");
    let o = run_stdin(&fresh, &["ingest", "--labels", "", "-"], "");
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--labels names no key"),
        "{}",
        stderr(&o)
    );
    assert!(!fresh.exists());
}

/// A `--labels` key named as a column role (`count`, `value`, `tag`...) would read the
/// events' counts (or tags) as label values: each event counted 1, or the file refused for
/// want of a tag column, with the message blaming `--columns`. Such a column must be
/// named `label:KEY`; the clash is refused, naming `--labels`, and nothing is written.
#[test]
fn a_labels_key_named_as_a_column_role_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = "timestamp,tag,count\n1508167800,metoo,500\n";
    for key in ["count", "tag"] {
        let o = run_stdin(&db, &["ingest", "--labels", key, "-"], csv);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("--labels: ") && stderr(&o).contains(&format!("label:{key}")),
            "{}",
            stderr(&o)
        );
        assert!(!db.join("MANIFEST").exists());
    }
    // From a file's own header: the header line is rejected with the reason.
    let nab = "ticker,timestamp,value\nAAPL,2015-02-26 21:42:53,104\n";
    let o = run_stdin(&db, &["ingest", "--labels", "value", "-"], nab);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("<stdin>:1: column 3") && stderr(&o).contains("label:value"),
        "{}",
        stderr(&o)
    );
    // Named label:count, a key may be called count.
    let o = run_stdin(
        &db,
        &["ingest", "-"],
        "timestamp,tag,count,label:count\n1508167800,metoo,500,many\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&db, &["--json", "query", "metoo", "--where", "count=many"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("\"total\":500"), "{}", stdout(&o));
}

#[test]
fn keys_taken_from_a_first_line_are_named_when_a_later_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let input = "{\"ts\":1508112000,\"tag\":\"a\",\"labels\":{\"platform\":\"x\"}}\n\
                 {\"ts\":1508112060,\"tag\":\"a\",\"labels\":{\"platform\":\"y\",\"region\":\"z\"}}\n";
    let o = run_stdin(&db, &["ingest", "--format", "ndjson"], input);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("this run created the store with the label keys of its first input's first line (platform)")
            && err.contains("--labels"),
        "{err}"
    );
    // Into the store as it now is: the keys were not this run's doing.
    let o = run_stdin(&db, &["ingest", "--format", "ndjson"], input);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("this run created"), "{err}");
}
