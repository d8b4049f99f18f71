//! What a user met driving the binary on a store of months, one fresh
//! process per question: each case failed (silently or misleadingly) before
//! its fix.

mod cli_support;
use cli_support::*;

const T0: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z

/// Three events in hours of 2024-05-01, and one two weeks later: the first
/// day is held in 1h buckets only (minutes are kept 7 days).
fn rolled(db: &std::path::Path) {
    let csv = format!(
        "{},a,1\n{},a,10\n{},a,100\n{},z,1\n",
        T0 + 600,
        T0 + 3600 + 600,
        T0 + 7200 + 600,
        T0 + 14 * 86_400
    );
    let o = run_stdin(db, &["ingest"], &csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn export_refuses_an_edge_inside_an_hour_held_as_an_hourly_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    // Two adjacent exports cut at 11:30 would both write the 11:00 bucket.
    let o = run(
        &db,
        &[
            "export",
            "--from",
            "2024-05-01T10:30:00Z",
            "--to",
            "2024-05-01T11:30:00Z",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(stderr(&o).contains("inside an hour"), "{}", stderr(&o));
    let o = run(
        &db,
        &[
            "export",
            "--from",
            "2024-05-01T10:00:00Z",
            "--to",
            "2024-05-01T12:00:00Z",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));
    // Edges outside the hours held, and times relative to now (widened to
    // the hour, as stated on stderr), are accepted.
    for from in ["2024-04-01T00:30:00Z", "-14d"] {
        let o = run(&db, &["export", "--from", from]);
        assert_eq!(code(&o), 0, "{from}: {}", stderr(&o));
        assert!(stdout(&o).contains(",a,100"), "{from}: {}", stdout(&o));
    }
}

#[test]
fn a_column_named_after_a_stores_label_key_is_that_label() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let cols = "timestamp,tag,count,platform";
    let o = run_stdin(
        &db,
        &["ingest", "--columns", cols, "--labels", "platform"],
        "1704067200,a,1,twitter\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The store exists: --labels is not needed to name its key's column.
    let o = run_stdin(
        &db,
        &["ingest", "--columns", cols],
        "1704067260,a,5,twitter\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&run(
        &db,
        &["--json", "query", "a", "--where", "platform=twitter"],
    ));
    assert_eq!(v["total"], 6, "{v}");
}

#[test]
fn ndjson_labels_declare_a_new_stores_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let lines = "{\"ts\":1704067200,\"tag\":\"a\",\"count\":1,\"labels\":{\"region\":\"paris\",\"platform\":\"twitter\"}}\n\
                 {\"ts\":1704067260,\"tag\":\"a\",\"count\":2}\n";
    let o = run_stdin(&db, &["ingest", "--format", "ndjson"], lines);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ins = json(&run(&db, &["--json", "inspect"]));
    assert_eq!(ins["label_keys"], serde_json::json!(["region", "platform"]));
    assert_eq!(ins["total"], 3);
    // The NDJSON export reads back into a new store with nothing more said.
    let out = run(&db, &["export", "--format", "ndjson"]);
    let again = dir.path().join("again");
    let o = run_stdin(&again, &["ingest", "--format", "ndjson"], &stdout(&out));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&run(
        &again,
        &["--json", "query", "a", "--where", "region=paris"],
    ));
    assert_eq!(v["total"], 1, "{v}");
    // In the same key order as the store it came from.
    let ins = json(&run(&again, &["--json", "inspect"]));
    assert_eq!(ins["label_keys"], serde_json::json!(["region", "platform"]));
}

#[test]
fn strict_refuses_a_first_line_that_is_neither_event_nor_header() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = "Oct 15 2017,metoo,3\n1508083200,metoo,1\n";
    let o = run_stdin(&db, &["ingest", "--strict"], csv);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("<stdin>:1"), "{}", stderr(&o));
    // With --columns a header's names do not matter: it is skipped.
    let o = run_stdin(
        &db,
        &["ingest", "--strict", "--columns", "timestamp,tag,count"],
        "date,hashtag,posts\n1508083200,metoo,1\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Without --strict, a first line that names no columns is skipped with a note, as
    // documented...
    let o = run_stdin(&db, &["ingest"], "date,hashtag,posts\n1508083200,metoo,1\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("taken as a header"), "{}", stderr(&o));
    // ...but one with a number or a time in a field is data, rejected and counted (before,
    // it was skipped as a header: a file's second part without its header, or columns in
    // another order, lost its first line with exit 0).
    for first in [csv, "b,1508167860,2\n", "AAPL,2015-02-26 21:42:53,104\n"] {
        let o = run_stdin(&db, &["ingest"], first);
        assert_eq!(code(&o), 2, "{first:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("<stdin>:1: "), "{}", stderr(&o));
        assert!(!stderr(&o).contains("taken as a header"), "{}", stderr(&o));
    }
}

#[test]
fn reads_before_the_hour_retention_say_the_data_was_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = "2024-01-10T10:00:00Z,old,5\n2024-05-14T00:00:00Z,new,1\n";
    let o = run_stdin(&db, &["ingest", "--hour-retention", "30d"], csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let range = ["--from", "2024-01-01", "--to", "2024-02-01"];
    for cmd in [&["top"][..], &["export"], &["bursts"]] {
        let o = run(&db, &[cmd, &range[..]].concat());
        assert_eq!(code(&o), 0, "{cmd:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("no longer held"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    let o = run(&db, &["trending", "--at", "2024-01-10T12:00:00Z"]);
    assert!(stderr(&o).contains("no longer held"), "{}", stderr(&o));
}

/// `--sync interval --ack`: a batch filled just before the input falls
/// silent is made durable and acknowledged about a second later, not when
/// the next line arrives (it waited for the next commit, which a silent
/// input never makes). No `committed 0` is printed first.
#[test]
fn sync_interval_acks_a_full_batch_while_the_input_is_silent() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let Ingesting {
        child: mut writer,
        mut input,
        acks: rx,
    } = spawn_ingest(&db, &["--sync", "interval", "--batch-size", "2"]);
    for i in 0..4 {
        writeln!(input, "{},a,1", T0 + i * 60).unwrap();
    }
    input.flush().unwrap();
    // The input stays open and silent; only a generous limit against a hang.
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("committed 4") {
        match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("no ack of the 4 lines while the input was open: {seen:?}"),
        }
    }
    assert!(!seen.contains(&"committed 0".to_string()), "{seen:?}");
    drop(input);
    assert!(writer.wait().unwrap().success());
    let v = json(&run(&db, &["--json", "query", "a"]));
    assert_eq!(v["total"], 4, "{v}");
}

/// `trending --at` off the minute: the header shows the minutes counted (a
/// minute counts when its first second lies in the window), which are the
/// minutes behind the recent count, and stderr says why they differ.
#[test]
fn trending_at_off_the_minute_shows_the_minutes_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // One event at second 10 of each minute from 09:50 to 10:09.
    let at = 1_714_384_800; // 2024-04-29T10:00:00Z
    let csv: String = (0..20)
        .map(|m| format!("{},tag2,1\n", at - 600 + m * 60 + 10))
        .collect();
    let o = run_stdin(&db, &["ingest"], &csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let args = [
        "trending",
        "--at",
        "2024-04-29T10:00:30Z",
        "--window",
        "5m",
        "--min-count",
        "1",
    ];
    let o = run(&db, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("window 2024-04-29T09:56:00Z → 2024-04-29T10:01:00Z"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("not on a whole minute"),
        "{}",
        stderr(&o)
    );
    // The recent count is that of minutes 09:56..10:01: five events.
    let mut json_args = vec!["--json"];
    json_args.extend(args);
    let v = json(&run(&db, &json_args));
    assert_eq!(v[0]["recent"], 5, "{v}");
}

/// A store that lost its MANIFEST is damaged, not "no store": `verify`
/// reports it, readers say so, and `ingest` refuses instead of taking the
/// directory for an interrupted creation and deleting the log and the
/// dictionary that hold acknowledged data (before the fix it did, when no
/// segment was sealed yet).
#[test]
fn a_store_without_its_manifest_is_damage_and_ingest_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run_stdin(&db, &["ingest"], &format!("{T0},a,3\n"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    std::fs::remove_file(db.join("MANIFEST")).unwrap();
    let snapshot = |db: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(db)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name() != "LOCK")
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot(&db);
    assert!(
        before.iter().any(|(n, _)| n.starts_with("log-")),
        "{before:?}"
    );
    let o = run(&db, &["verify"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("MANIFEST"), "{}", stdout(&o));
    let o = run(&db, &["query", "a"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
    let o = run_stdin(&db, &["ingest"], &format!("{T0},b,1\n"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest is missing"), "{}", stderr(&o));
    assert_eq!(snapshot(&db), before, "ingest changed a store it refused");
    // Without sealed segments too: the later log shows a seal happened.
    for (n, _) in &before {
        if n.starts_with("seg-") {
            std::fs::remove_file(db.join(n)).unwrap();
        }
    }
    let before = snapshot(&db);
    let o = run_stdin(&db, &["ingest"], &format!("{T0},b,1\n"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest is missing"), "{}", stderr(&o));
    assert_eq!(snapshot(&db), before, "ingest deleted files of a store");
    let o = run(&db, &["verify"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    // A dictionary with entries alone proves data was written.
    let only_dict = dir.path().join("only-dict");
    std::fs::create_dir(&only_dict).unwrap();
    std::fs::copy(db.join("tags.dict"), only_dict.join("tags.dict")).unwrap();
    let o = run_stdin(&only_dict, &["ingest"], &format!("{T0},b,1\n"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("tags.dict holds tags"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(only_dict.join("tags.dict")).unwrap(),
        std::fs::read(db.join("tags.dict")).unwrap()
    );
    // Doubly damaged: the dictionary cut to its header and the index gone
    // too; the logs still show a store existed.
    let dict = std::fs::read(db.join("tags.dict")).unwrap();
    std::fs::write(db.join("tags.dict"), &dict[..16]).unwrap();
    let _ = std::fs::remove_file(db.join("tags.idx"));
    let before = snapshot(&db);
    let o = run_stdin(&db, &["ingest"], &format!("{T0},b,1\n"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest is missing"), "{}", stderr(&o));
    assert_eq!(snapshot(&db), before, "ingest deleted files of a store");
}

/// A deleted `tags.dict` or `tags.series` (which a store never removes) is
/// damage: every command exits 1 as for other damage, naming the file, that
/// the manifest names it and what to do; before, reads and writes printed a
/// bare "No such file or directory". A refused ingest changes nothing.
#[test]
fn a_deleted_dictionary_or_series_file_is_named_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    let o = run_stdin(&plain, &["ingest"], &format!("{T0},a,3\n"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let labelled = dir.path().join("labelled");
    let cols = "timestamp,tag,count,platform";
    let o = run_stdin(
        &labelled,
        &["ingest", "--columns", cols, "--labels", "platform"],
        &format!("{T0},a,3,twitter\n"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let cases = [
        (&plain, "tags.dict", "it holds the store's tags"),
        (&labelled, "tags.dict", "it holds the store's tags"),
        (&labelled, "tags.series", "it holds the store's series"),
    ];
    for (db, file, held) in cases {
        let work = dir.path().join(format!("work-{file}"));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir(&work).unwrap();
        for e in std::fs::read_dir(db).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "LOCK" && e.file_name() != file {
                std::fs::copy(e.path(), work.join(e.file_name())).unwrap();
            }
        }
        let listing = |d: &std::path::Path| -> Vec<(String, Vec<u8>)> {
            let mut v: Vec<_> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.file_name() != "LOCK")
                .map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    (n, std::fs::read(e.path()).unwrap())
                })
                .collect();
            v.sort();
            v
        };
        let before = listing(&work);
        let line = if db == &labelled {
            format!("{},b,1,twitter\n", T0 + 60)
        } else {
            format!("{},b,1\n", T0 + 60)
        };
        let ingest: &[&str] = if db == &labelled {
            &["ingest", "--columns", cols]
        } else {
            &["ingest"]
        };
        for (args, input) in [
            (&["query", "a"][..], String::new()),
            (&["top"][..], String::new()),
            (&["inspect"][..], String::new()),
            (ingest, line),
        ] {
            let o = run_stdin(&work, args, &input);
            let err = stderr(&o);
            assert_eq!(code(&o), 1, "{file} {args:?}: {err}");
            let said = format!(
                "{file} at byte 0: invalid structure: the file is missing, but the manifest \
                 names it; {held}"
            );
            assert!(err.contains(&said), "{file} {args:?}: {err}");
            assert!(
                err.contains("cannot be opened without it: restore it from a backup of this store"),
                "{file} {args:?}: {err}"
            );
            assert!(!err.contains("No such file"), "{file} {args:?}: {err}");
        }
        assert_eq!(
            listing(&work),
            before,
            "a refused ingest changed {file}'s store"
        );
        // verify reports it as before.
        let o = run(&work, &["verify"]);
        assert_eq!(code(&o), 1, "{}", stdout(&o));
        assert!(
            stdout(&o).contains(&format!(
                "{file} at byte 0: invalid structure: the file is missing, but the manifest \
                 names it\n"
            )),
            "{}",
            stdout(&o)
        );
    }
}

/// A bad `--where` is refused with one line on stderr: no range line is
/// printed first, as if the command had started.
#[test]
fn a_bad_where_is_refused_before_anything_else_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    for cmd in [
        vec!["top", "--where", "a=b"],
        vec!["bursts", "--where", "a=b"],
        vec!["query", "a", "--where", "a=b", "--from", "-1h"],
    ] {
        let o = run(&db, &cmd);
        assert_eq!(code(&o), 2, "{cmd:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{cmd:?}: {err}");
        assert!(err.contains("--where"), "{cmd:?}: {err}");
    }
}

/// A trickle (a line every 200 ms, so the input is never silent for a
/// second) with a large batch still gets its lines committed and
/// acknowledged about a second after they arrive, not when the batch fills
/// (100 000 lines, hours at that pace).
#[test]
fn a_trickle_is_committed_and_acknowledged_without_filling_the_batch() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let Ingesting {
        child: mut writer,
        mut input,
        acks: rx,
    } = spawn_ingest(&db, &[]);
    let t = std::time::Instant::now();
    let mut sent = 0i64;
    let acked = loop {
        writeln!(input, "{},a,1", T0 + sent * 60).unwrap();
        input.flush().unwrap();
        sent += 1;
        if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            break l;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "no ack in 60 s of trickling ({sent} lines sent)"
        );
    };
    let n: i64 = acked
        .strip_prefix("committed ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{acked}"));
    assert!(n >= 1 && n <= sent, "{acked} after {sent} lines");
    drop(input);
    assert!(writer.wait().unwrap().success());
    let v = json(&run(&db, &["--json", "query", "a"]));
    assert_eq!(v["total"], sent, "{v}");
}

#[test]
fn a_negative_option_value_is_refused_by_its_own_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    // Each used to fail as clap's "unexpected argument '-1'", as if the
    // option had no value; now the option's own parser or range check
    // answers, naming the option or the parameter.
    for (args, says) in [
        (&["top", "-k", "-3"][..], "'-k <K>'"),
        (&["trending", "--min-count", "-5"][..], "--min-count"),
        (&["trending", "--prior", "-1"][..], "prior must be"),
        (&["trending", "--window", "-1h"][..], "is negative"),
        (&["query", "a", "--step", "-1h"][..], "'--step <STEP>'"),
        (&["bursts", "--entry", "-2"][..], "entry is -2"),
        (&["retention", "--minutes", "-3d"][..], "is negative"),
        (
            &["ingest", "--max-future-skew", "-1d", "/dev/null"][..],
            "is negative",
        ),
    ] {
        let o = run(&db, args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("unexpected argument"), "{args:?}");
    }
    // Nothing was changed: the store still answers as before.
    let o = run(&db, &["--json", "top", "--from", "0"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("\"a\""), "{}", stdout(&o));
}

#[test]
fn keys_refused_on_an_empty_store_say_how_to_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // An ingest that commits nothing still creates the store, without keys.
    let o = run_stdin(&db, &["ingest"], "garbage\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let labelled = "ts,tag,count,platform\n1508112000,a,1,x\n";
    let o = run_stdin(&db, &["ingest", "--labels", "platform"], labelled);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("holds no events"), "{}", stderr(&o));
    // Once it holds events, the keys are the store's: no such hint.
    let o = run_stdin(&db, &["ingest"], "1508112000,a,1\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run_stdin(&db, &["ingest", "--labels", "platform"], labelled);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("created without label keys, not with [platform]"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("holds no events"), "{}", stderr(&o));
}

#[test]
fn a_where_value_no_series_has_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = "ts,tag,count,region\n1508112000,a,1,tokyo\n";
    let o = run_stdin(&db, &["ingest", "--labels", "region"], csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for cmd in [&["top", "--from", "0"][..], &["trending"], &["query", "a"]] {
        let o = run(&db, &[cmd, &["--where", "region=atlantis"]].concat());
        assert_eq!(code(&o), 0, "{cmd:?}: {}", stderr(&o));
        let said = stderr(&o).matches("no series has region=atlantis").count();
        assert_eq!(said, 1, "{cmd:?}: {}", stderr(&o));
        let o = run(&db, &[cmd, &["--where", "region=tokyo"]].concat());
        assert!(!stderr(&o).contains("no series has"), "{cmd:?}");
    }
}

#[test]
fn columns_that_will_be_dropped_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // A store without label keys: a platform column is an ignored column,
    // as the --columns contract says, but not without a word.
    let o = run_stdin(
        &db,
        &["ingest", "--columns", "timestamp,tag,count,platform,_"],
        "1508112000,a,1,x,y\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ignoring column platform ("),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--labels"), "{}", stderr(&o));
    // Every column used: nothing said.
    let o = run_stdin(
        &db,
        &["ingest", "--columns", "ts,tag,n"],
        "1508112060,a,1\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("ignoring"), "{}", stderr(&o));
    // A header that names a column nothing reads: said too.
    let o = run_stdin(
        &db,
        &["ingest"],
        "id,timestamp,tag,count\n7,1508112120,a,1\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("ignoring column id "), "{}", stderr(&o));
    let o = run(&db, &["--json", "query", "a"]);
    assert!(stdout(&o).contains("\"total\":3"), "{}", stdout(&o));
}

#[test]
fn an_ingest_that_accepted_nothing_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run_stdin(&db, &["ingest"], "timestamp,tag,count\n1508112000,a,x\n");
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("nothing was ingested"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("every other line"), "{}", stderr(&o));
    // The run created the store and committed nothing: it leaves none behind
    // (a lock file is never unlinked: its directory keeps it).
    assert!(
        stderr(&o).contains("the store was not created"),
        "{}",
        stderr(&o)
    );
    assert_eq!(files_in(&db), ["LOCK"]);
    let o = run_stdin(&db, &["ingest", "--strict", "-"], "1508112000,a,1\nbad\n");
    assert_eq!(code(&o), 2);
    assert_eq!(files_in(&db), ["LOCK"], "{}", stderr(&o));
    // Before, a first NDJSON line rejected for its time created the store, with the label
    // keys of nothing (its own labels were never read), and refused every labelled line
    // after.
    let bad = r#"{"ts":"soon","tag":"a","count":1,"labels":{"region":"x"}}"#;
    let o = run_stdin(
        &db,
        &["ingest", "--format", "ndjson", "-"],
        &format!("{bad}\n"),
    );
    assert_eq!(code(&o), 2);
    assert_eq!(files_in(&db), ["LOCK"], "{}", stderr(&o));
    let good = r#"{"ts":1508112000,"tag":"a","count":1,"labels":{"region":"x"}}"#;
    let o = run_stdin(
        &db,
        &["ingest", "--format", "ndjson", "-"],
        &format!("{good}\n"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // An existing store is never removed, whatever a run rejects.
    let o = run_stdin(
        &db,
        &["ingest", "--format", "ndjson", "-"],
        &format!("{bad}\n"),
    );
    assert_eq!(code(&o), 2);
    assert!(db.join("MANIFEST").exists());
    // In a directory that holds a user's files, only the store's files go,
    // by their exact names.
    let mixed = dir.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    let precious = ["MANIFEST.bak", "log-2024-05.txt", "notes.tmp", "seg-notes"];
    for f in precious {
        std::fs::write(mixed.join(f), "precious").unwrap();
    }
    let o = run_stdin(&mixed, &["ingest"], "timestamp,tag,count\nsoon,a,1\n");
    assert_eq!(code(&o), 2);
    let mut left = vec!["LOCK"];
    left.extend(precious);
    assert_eq!(files_in(&mixed), left, "{}", stderr(&o));
    // Nor does creating, filling, compacting or reopening a store there touch them: a
    // `.tmp` file is the store's only under a store file's name (before, every `*.tmp`
    // was removed as a leftover of an interrupted write).
    let o = run_stdin(&mixed, &["ingest"], "timestamp,tag,count\n1508112000,a,1\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for args in [&["compact"][..], &["verify"], &["query", "a"]] {
        let o = run(&mixed, args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    for f in precious {
        assert_eq!(std::fs::read_to_string(mixed.join(f)).unwrap(), "precious");
    }
    // A user's file under a store file's name is never replaced by a creation (before, a
    // `tags.dict` of up to 16 bytes and any `log-<16 hex>.log` were removed without a word).
    for name in ["tags.dict", "log-0000000000000001.log"] {
        let foreign = dir.path().join(format!("foreign-{name}"));
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join(name), "precious").unwrap();
        let o = run_stdin(
            &foreign,
            &["ingest"],
            "timestamp,tag,count\n1508112000,a,1\n",
        );
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains("not a trendlog file"), "{}", stderr(&o));
        assert_eq!(files_in(&foreign), ["LOCK", name]);
        assert_eq!(
            std::fs::read_to_string(foreign.join(name)).unwrap(),
            "precious"
        );
    }
    // An empty input still creates a store: a way to declare its keys.
    let empty = dir.path().join("empty");
    let o = run_stdin(&empty, &["ingest", "--labels", "region", "-"], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(empty.join("MANIFEST").exists());
}

/// On the [`rolled`] store: `top --from REL` answers a's 111 events over a range widened to
/// start at `start`, and `top --from ABS` is refused naming the whole hour `hour`, without a
/// word about steps (top takes none).
fn top_widens_and_refuses(db: &std::path::Path, rel: &str, start: &str, abs: &str, hour: &str) {
    let o = run(db, &["--json", "top", "--from", rel]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v[0]["tag"], "a");
    assert_eq!(v[0]["count"], 111, "{v}");
    assert!(
        stderr(&o).contains(&format!("{start} → ")) && stderr(&o).contains("widened to the hour"),
        "{}",
        stderr(&o)
    );
    let o = run(db, &["top", "--from", abs]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains(&format!("give a whole hour, such as {hour}")),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("step"), "{}", stderr(&o));
}

/// `top --from -14d` on a store whose first day is held as hours: the relative edge falls
/// inside an hourly bucket, and is widened to its hour as `export` does. Before, top refused it
/// with a message telling it to use a step, which top does not take.
#[test]
fn top_widens_a_relative_edge_inside_an_hourly_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    // The store's now ends at T0 + 14 d + 60 s: -14d is T0 + 60 s, inside 10:00's bucket.
    let at = "2024-05-01T10:00:00Z";
    top_widens_and_refuses(&db, "-14d", at, "2024-05-01T10:01:00Z", at);
    // Equal relative edges are the empty range there too, not a widened hour.
    let v = json(&run(
        &db,
        &["--json", "top", "--from", "-14d", "--to", "-14d"],
    ));
    assert_eq!(v, serde_json::json!([]));
}

/// `top --from -15d` on that store: the edge lies before the first event, where the library
/// reads whole hours too (before the minute retention's floor, data or not). It used to be
/// refused there with the message about steps; it is widened to its hour like an edge inside
/// held hours, and an absolute edge there is refused naming the whole hours.
#[test]
fn top_widens_a_relative_edge_before_the_first_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    // -15d is T0 - 1 d + 60 s: no data there, a day before the first event.
    let at = "2024-04-30T10:00:00Z";
    top_widens_and_refuses(&db, "-15d", at, "2024-04-30T10:01:00Z", at);
    // Within the minutes held, before the first event, nothing changes.
    let o = run(&db, &["--json", "top", "--from", "-1h"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("widened"), "{}", stderr(&o));
}

/// `[t, t)` is empty wherever t falls; aligned outwards it used to be the whole bucket holding
/// t (a day of events for `--step 1d`). `--to` before `--from` within one minute is refused,
/// as it is across minutes.
#[test]
fn equal_edges_are_an_empty_range_and_reversed_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run_stdin(
        &db,
        &["ingest"],
        &format!("{},a,5\n{},a,7\n", T0 + 30, T0 + 90),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let at = (T0 + 45).to_string();
    for step in ["1m", "1h", "1d"] {
        let v = json(&run(
            &db,
            &[
                "--json", "query", "a", "--from", &at, "--to", &at, "--step", step,
            ],
        ));
        assert_eq!(v["total"], 0, "{step}: {v}");
    }
    let v = json(&run(&db, &["--json", "top", "--from", &at, "--to", &at]));
    assert_eq!(v, serde_json::json!([]));
    let o = run(&db, &["export", "--from", &at, "--to", &at]);
    assert_eq!(
        stdout(&o).lines().count(),
        1,
        "the header alone: {}",
        stdout(&o)
    );
    let o = run(
        &db,
        &["query", "a", "--from", &at, "--to", &(T0 + 40).to_string()],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("is before --from"), "{}", stderr(&o));
}

/// An export refused for its range writes nothing: no `[` of a JSON array, no CSV header,
/// and no note about what it was going to write.
#[test]
fn a_refused_export_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    for json_out in [true, false] {
        let mut args = vec!["export", "--step", "1m", "--from", "2024-05-01"];
        if json_out {
            args.insert(0, "--json");
        }
        let o = run(&db, &args);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert_eq!(stdout(&o), "", "json {json_out}");
        assert!(!stderr(&o).contains("export: "), "{}", stderr(&o));
    }
}

/// A log cut inside its 64-byte header is one problem. `verify` used to report the cut twice
/// (the header, then the durability point) and a third time as a clean close's end "followed
/// by 9 bytes that are not zero" (there was no byte past the cut to speak of).
#[test]
fn a_log_cut_inside_its_header_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    let log = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("log-"))
        .unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(10)
        .unwrap();
    let o = run(&db, &["verify"]);
    assert_eq!(code(&o), 1);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(out.matches("DAMAGED").count(), 1, "{out}");
    assert!(
        out.contains("truncated (64 bytes needed, 10 available)") && out.contains("1 problem"),
        "{out}"
    );
}

/// `top` reads its counts from the segments' stored totals and its trend column from their
/// cells. With a cell group damaged, it printed the right counts, a blank trend and exit 0;
/// a question that touches damage is refused (exit 1), before any output.
#[test]
fn top_refuses_damage_its_trend_column_meets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    let o = run(&db, &["top"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut flipped = 0;
    for e in std::fs::read_dir(&db).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_str().unwrap().starts_with("seg-") {
            // The first group starts right after the 64-byte header.
            let mut b = std::fs::read(&p).unwrap();
            b[64] ^= 0x55;
            std::fs::write(&p, b).unwrap();
            flipped += 1;
        }
    }
    assert!(flipped > 0);
    let o = run(&db, &["top"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
}

/// A flipped bit in the index's header is one problem: the dictionary's open and its full
/// check both read that header, and `verify` used to print the same line twice.
#[test]
fn one_flip_in_the_index_header_is_one_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    let idx = db.join("tags.idx");
    let mut b = std::fs::read(&idx).unwrap();
    b[60] ^= 4; // the header's CRC
    std::fs::write(&idx, b).unwrap();
    let o = run(&db, &["verify"]);
    assert_eq!(code(&o), 1);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(out.matches("DAMAGED").count(), 1, "{out}");
    assert!(
        out.contains("tags.idx at byte 60") && out.contains("1 problem"),
        "{out}"
    );
}

/// The names in `dir`, sorted.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A tag held as `#foo` (typed `##foo`) gets its own sparkline in `top`. Before, the
/// trend was looked up by the held text, which normalises to `foo`: the row showed
/// another tag's trend, or a flat line.
#[test]
fn a_hash_tag_row_draws_its_own_trend() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let input = "1508160000,foo,1000\n1508167800,##foo,5\n1508167860,##foo,1\n";
    let o = run_stdin(&db, &["ingest", "-"], input);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&db, &["top"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let row = |tag: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(tag))
            .unwrap_or_else(|| panic!("no {tag} row in {out}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(row("foo"), "█▁▁", "{out}");
    assert_eq!(row("#foo"), "▁▁█", "{out}");
}

/// `ingest --json`'s `committed` is false when no event was committed: every line
/// rejected, or `--strict` refusing the input. Before, it was true whenever `--strict` was
/// not given, even for a run that accepted nothing (and removed the store it created).
#[test]
fn ingest_json_committed_says_whether_events_were_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let committed = |args: &[&str], input: &str| {
        let mut all = vec!["--json", "ingest"];
        all.extend(args);
        all.push("-");
        let o = run_stdin(&db, &all, input);
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        v["committed"].as_bool().unwrap()
    };
    assert!(!committed(&[], "bad,line\n"));
    assert!(committed(&[], "1508112000,a,1\nbad,line\n"));
    assert!(!committed(&["--strict"], "1508112000,a,1\nbad,line\n"));
    assert!(committed(&["--strict"], "1508112000,a,1\n"));
}

/// A directory among the inputs is refused before anything is read or created, naming it.
/// Before, it failed only when read ("reading input: Is a directory", no name), after the
/// files before it were parsed but not committed, and left an empty store.
#[test]
fn a_directory_among_the_inputs_is_refused_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let ok = dir.path().join("ok.csv");
    std::fs::write(&ok, "1508112000,a,1\n").unwrap();
    let sub = dir.path().join("adir");
    std::fs::create_dir(&sub).unwrap();
    let o = run(
        &db,
        &["ingest", ok.to_str().unwrap(), sub.to_str().unwrap()],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("adir: it is a directory"),
        "{}",
        stderr(&o)
    );
    assert!(!db.exists());
}

/// Every ingest batch records how far the run got as the store's source position, which
/// `inspect` shows: after a kill, lines past the last `committed N` may be in the store, and
/// this says which.
#[test]
fn ingest_records_its_lines_as_the_source_position() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run_stdin(
        &db,
        &["ingest", "--ack", "--batch-size", "2", "-"],
        "timestamp,tag,count\n1508112000,a,1\nbad\n1508112060,a,1\n1508112120,b,1\n",
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = run(&db, &["--json", "inspect"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["source_position"], "ingest lines 5 of <stdin>", "{v}");
    let o = run(&db, &["inspect"]);
    assert!(
        stdout(&o).contains("source position ingest lines 5 of <stdin>"),
        "{}",
        stdout(&o)
    );
    // A run whose every event is refused records nothing: the position stays.
    let o = run_stdin(&db, &["ingest", "-"], "4000000000,a,1\n4000000060,a,1\n");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&run(&db, &["--json", "inspect"]))).unwrap();
    assert_eq!(v["source_position"], "ingest lines 5 of <stdin>", "{v}");
}

/// An export with hourly buckets says how a copy keeps them hours; data past the hour
/// retention, left out by every read, is said to be in `inspect`'s counts until compaction.
#[test]
fn export_and_inspect_say_what_hours_and_expired_data_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    let o = run(&db, &["export"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`ingest --minute-retention 7d --hour-retention forever`"),
        "{}",
        stderr(&o)
    );
    // Minutes only, but kept longer than a new store would: said too.
    let forever = dir.path().join("forever");
    let o = run_stdin(
        &forever,
        &["ingest", "--minute-retention", "forever", "-"],
        "1508112000,a,1\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&forever, &["export"]);
    assert!(
        stderr(&o).contains("`ingest --minute-retention forever --hour-retention forever`"),
        "{}",
        stderr(&o)
    );
    // The copy made as the note says refuses minute questions about those hours, as the
    // store does.
    let copy = dir.path().join("copy");
    let o = run_stdin(
        &copy,
        &["ingest", "--minute-retention", "7d", "-"],
        &stdout(&run(&db, &["export"])),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let minutes = ["query", "a", "--from", &T0.to_string(), "--step", "1m"];
    assert_eq!(code(&run(&db, &minutes)), 2);
    assert_eq!(code(&run(&copy, &minutes)), 2);
    let o = run(&db, &["retention", "--hours", "2d"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&db, &["inspect"]);
    assert!(
        stdout(&o).contains("past the hour retention"),
        "{}",
        stdout(&o)
    );
    assert_eq!(code(&run(&db, &["compact"])), 0);
    let o = run(&db, &["inspect"]);
    assert!(
        !stdout(&o).contains("past the hour retention"),
        "{}",
        stdout(&o)
    );
}

/// A directory left by an interrupted creation (files of a store, no manifest) is named as
/// such by the read commands, with what the next ingest does; before, only "holds no
/// trendlog store (no MANIFEST); check --db".
#[test]
fn an_interrupted_creation_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(db.join("tags.dict"), "").unwrap();
    let o = run(&db, &["query", "a"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("creation was interrupted") && stderr(&o).contains("tags.dict"),
        "{}",
        stderr(&o)
    );
    let o = run_stdin(&db, &["ingest", "-"], "1508112000,a,1\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(code(&run(&db, &["query", "a"])), 0);
    // A user's file of that name is not called a creation's (ingest refuses it).
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("tags.dict"), "my tags").unwrap();
    let o = run(&mine, &["query", "a"]);
    assert_eq!(code(&o), 1);
    assert!(!stderr(&o).contains("interrupted"), "{}", stderr(&o));
}

/// `bursts --tag ''` names the flag in its refusal (before: "the tag is empty", no flag).
#[test]
fn bursts_names_a_bad_tag_flag() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    let o = run(&db, &["bursts", "--tag", ""]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--tag \"\""), "{}", stderr(&o));
}

/// A `--db` that is a dangling symbolic link, or one in a loop, is said to be one (before:
/// "File exists" from ingest, "does not exist" from the read commands).
#[test]
fn a_db_link_that_leads_nowhere_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let dang = dir.path().join("dang");
    std::os::unix::fs::symlink(dir.path().join("missing"), &dang).unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    for db in [&dang, &a] {
        for args in [&["ingest", "-"][..], &["query", "x"]] {
            let o = run_stdin(db, args, "1508112000,a,1\n");
            assert_eq!(code(&o), 1, "{args:?}");
            assert!(
                stderr(&o).contains("is a symbolic link to"),
                "{args:?}: {}",
                stderr(&o)
            );
        }
    }
    assert!(!dir.path().join("missing").exists());
}

/// A source position another program set (a stream consumer's offset) is never overwritten
/// by `ingest`'s own: a consumer resuming from it would otherwise fail or start over.
#[test]
fn ingest_leaves_another_writers_source_position() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = trendlog::Store::open(&db, trendlog::Options::default()).unwrap();
    let mut b = s.batch();
    b.add("a", 1_508_112_000, 1).unwrap();
    b.set_source_position(b"orders:42".to_vec()).unwrap();
    b.commit().unwrap();
    s.close().unwrap();
    let o = run_stdin(&db, &["ingest", "-"], "1508112060,a,1\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("another writer's"), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&run(&db, &["--json", "inspect"]))).unwrap();
    assert_eq!(v["source_position"], "orders:42", "{v}");
    assert_eq!(v["total"], 2, "{v}");
}

/// A sealed store that lost its manifest is reported as such, even when its dictionary's
/// head is damaged too (not as a user's file to move away).
#[test]
fn a_lost_manifest_is_named_before_a_damaged_dictionary_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    std::fs::remove_file(db.join("MANIFEST")).unwrap();
    let mut dict = std::fs::read(db.join("tags.dict")).unwrap();
    dict[0] ^= 0xFF;
    std::fs::write(db.join("tags.dict"), dict).unwrap();
    let o = run_stdin(&db, &["ingest", "-"], "1508112000,a,1\n");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest is missing"), "{}", stderr(&o));
}

/// A store whose minute retention was lengthened after older minutes were
/// rolled into hours holds minutes from the end of those hours, later than
/// its retention alone says. `export` used to advise the copy this store's
/// retention, which kept the hour rows as minutes: a window of such an hour
/// leaving out its first minute got 0 from the copy while this store refuses
/// it. Following the advice now gives a copy that answers as this store does.
#[test]
fn export_advice_makes_a_copy_that_rolls_what_this_store_rolled() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let day = 86_400;
    let csv = format!(
        "{},a,1\n{},a,2\n{},a,1\n",
        T0 + 600,
        T0 + 2400,
        T0 + 3 * day
    );
    let o = run_stdin(&db, &["ingest", "--minute-retention", "1d", "-"], &csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(code(&run(&db, &["compact"])), 0);
    assert_eq!(code(&run(&db, &["retention", "--minutes", "7d"])), 0);
    let o = run(&db, &["export"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = stdout(&o);
    // The advice, taken as a user would: each `trendlog …` command in it.
    let advice = stderr(&o);
    let steps: Vec<Vec<String>> = advice
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("ingest --") || s.starts_with("trendlog "))
        .map(|s| {
            s.trim_start_matches("trendlog ")
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .collect();
    assert_eq!(steps.len(), 3, "ingest, compact, retention: {advice}");
    let copy = dir.path().join("copy");
    for mut step in steps {
        if step[0] == "ingest" {
            step.push("-".into());
        }
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let o = run_stdin(&copy, &args, &rows);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    let inside = [
        "--from",
        "2024-05-01T10:05:00Z",
        "--to",
        "2024-05-01T10:45:00Z",
    ];
    for store in [&db, &copy] {
        let o = run(store, &[&["top"][..], &inside].concat());
        assert_eq!(code(&o), 2, "{}", stderr(&o));
    }
    let whole = [
        "--from",
        "2024-05-01T10:00:00Z",
        "--to",
        "2024-05-04T11:00:00Z",
    ];
    for q in [
        [&["--json", "query", "a", "--step", "1h"][..], &whole].concat(),
        vec!["--json", "inspect"],
        vec!["--json", "retention"],
    ] {
        let (a, b) = (run(&db, &q), run(&copy, &q));
        let strip = |o: &std::process::Output| {
            let mut v = json(o);
            if let Some(m) = v.as_object_mut() {
                for k in ["dir", "files_bytes", "bytes", "segments", "source_position"] {
                    m.remove(k);
                }
            }
            v
        };
        assert_eq!(strip(&a), strip(&b), "{q:?}");
    }
}

/// NDJSON on a labelled store reads labels only from the `labels` object; a
/// line giving `"platform"` at the top level (or a `"label"` object) had its
/// events stored as unknown without a word. It still is (unknown keys are
/// ignored, as the contract says), but the run now says so, naming the line.
#[test]
fn ndjson_labels_outside_the_labels_object_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let input = format!(
        "{{\"ts\":{T0},\"tag\":\"a\",\"platform\":\"x\"}}\n\
         {{\"ts\":{T0},\"tag\":\"a\",\"labels\":{{\"platform\":\"y\"}}}}\n\
         {{\"ts\":{T0},\"tag\":\"b\",\"label\":{{\"platform\":\"z\"}}}}\n\
         {{\"ts\":{T0},\"tag\":\"c\",\"platform\":\"w\",\"labels\":{{}}}}\n"
    );
    let args = ["ingest", "--labels", "platform", "--format", "ndjson", "-"];
    let o = run_stdin(&db, &args, &input);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("<stdin>:1: the object gives \"platform\" outside its \"labels\" object")
            && stderr(&o).contains("3 lines gave such keys there"),
        "{}",
        stderr(&o)
    );
    // Labels given in place: nothing to say.
    let o = run_stdin(&db, &args, input.lines().nth(1).unwrap());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("outside"), "{}", stderr(&o));
}

/// A misspelt NDJSON count key (`"Count"`) was ignored without a word, so
/// every such line counted 1; a miscased tag or time key was refused as
/// missing, not naming the key given; a JSON line read as CSV (no
/// `--format ndjson`) was refused as "not a timestamp". Each now says what
/// happened; the counts stay as the contract has them.
#[test]
fn misspelt_ndjson_keys_and_json_read_as_csv_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let input = format!(
        "{{\"ts\":{T0},\"tag\":\"a\",\"Count\":5}}\n\
         {{\"ts\":{T0},\"tag\":\"a\",\"cnt\":7}}\n\
         {{\"ts\":{T0},\"tag\":\"a\",\"count\":2,\"cnt\":9}}\n"
    );
    let o = run_stdin(&db, &["ingest", "--format", "ndjson", "-"], &input);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The third line gives its count: its "cnt" is nobody's mistake.
    assert!(
        stderr(&o).contains("<stdin>:1: the object gives \"Count\" but no count, so it counted 1")
            && stderr(&o).contains("(2 such lines)"),
        "{}",
        stderr(&o)
    );
    let o = run(&db, &["--json", "query", "a"]);
    assert_eq!(json(&o)["total"], 4, "{}", stderr(&o));

    let input = format!("{{\"ts\":{T0},\"Tag\":\"a\"}}\n{{\"TS\":{T0},\"tag\":\"a\"}}\n");
    let o = run_stdin(&db, &["ingest", "--format", "ndjson", "-"], &input);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    for said in [
        "<stdin>:1: the object has no tag; add a \"tag\" key with a string (\"Tag\" is not read",
        "<stdin>:2: the object has no timestamp; add a \"ts\" key (or \"timestamp\", \"time\") \
         (\"TS\" is not read",
    ] {
        assert!(stderr(&o).contains(said), "{}", stderr(&o));
    }

    let o = run_stdin(
        &db,
        &["ingest", "-"],
        &format!("{{\"ts\":{T0},\"tag\":\"a\"}}\n"),
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "<stdin>:1: the line is a JSON object, read as CSV: NDJSON input needs --format ndjson"
        ),
        "{}",
        stderr(&o)
    );
}

/// Three ways a user lost data without a word, each now named by `ingest`:
/// one event dated a day ahead (it passes the future-skew check) moved an
/// old store's now years on, so the next `compact` rolled every minute into
/// hours; the same file given again was counted twice although the store's
/// source position recorded it; and a header without a count column counted
/// every line 1.
#[test]
fn a_lone_jump_of_the_now_a_file_read_again_and_no_count_column_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let lines: String = (0..100)
        .map(|i| format!("{},a,{}\n", T0 + i * 60, 1 + i % 3))
        .collect();
    let file = dir.path().join("in.csv");
    std::fs::write(&file, &lines).unwrap();
    let f = file.to_str().unwrap();
    let o = run(&db, &["ingest", "--minute-retention", "30d", f]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("trendlog:"), "{}", stderr(&o));
    // The same file again.
    let o = run(&db, &["ingest", f]);
    assert!(
        stderr(&o).contains("an earlier run committed the first 100 lines of")
            && stderr(&o).contains("`tail -n +101 FILE`"),
        "{}",
        stderr(&o)
    );
    // A file of the same name with new data (a daily `today.csv`) is no
    // read again.
    let newer: String = (0..100)
        .map(|i| format!("{},a,1\n", T0 + 86_400 + i * 60))
        .collect();
    std::fs::write(&file, &newer).unwrap();
    let o = run(&db, &["ingest", f]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("an earlier run committed"),
        "{}",
        stderr(&o)
    );
    // The same file grown since, read whole: its first lines count twice.
    let grown = format!("{newer}{},a,1\n", T0 + 2 * 86_400);
    std::fs::write(&file, &grown).unwrap();
    let o = run(&db, &["ingest", f]);
    assert!(
        stderr(&o).contains("an earlier run committed the first 100 lines of"),
        "{}",
        stderr(&o)
    );
    // A dense run a month later moves the now as far and says nothing.
    let later: String = (0..100)
        .map(|i| format!("{},a,1\n", T0 + 40 * 86_400 + i * 60))
        .collect();
    let o = run_stdin(&db, &["ingest", "-"], &later);
    assert!(
        !stderr(&o).contains("past every other event"),
        "{}",
        stderr(&o)
    );
    // One line two years on, among lines of the store's time.
    let odd = format!(
        "{},a,1\n{},a,1\n{},a,1\n",
        T0 + 40 * 86_400 + 6_000,
        T0 + 800 * 86_400,
        T0 + 40 * 86_400 + 6_060
    );
    let o = run_stdin(&db, &["ingest", "-"], &odd);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("<stdin>:2 (at 2026-07-10T10:00:00Z) lies 759.9 days past every other event")
            && stderr(&o).contains("`trendlog retention --minutes forever`"),
        "{}",
        stderr(&o)
    );
    // Under the default 7 days of minutes, a jump of 8 days is named too.
    let db3 = dir.path().join("db3");
    let o = run_stdin(&db3, &["ingest", "-"], &lines);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let odd = format!("{},a,1\n{},a,1\n", T0 + 6_000, T0 + 8 * 86_400);
    let o = run_stdin(&db3, &["ingest", "-"], &odd);
    assert!(
        stderr(&o).contains("lies 7.9 days past every other event"),
        "{}",
        stderr(&o)
    );
    let o = run_stdin(
        &dir.path().join("db2"),
        &["ingest", "-"],
        "timestamp,tag,posts\n1714557600,a,5\n",
    );
    assert!(
        stderr(&o).contains("with no count column, every line counts 1"),
        "{}",
        stderr(&o)
    );
}

/// `ingest` creates a store wherever --db points; a mistyped --db naming a
/// folder of the user's files scattered the store's files among them
/// without a word. It still creates the store (scripts rely on ingest
/// creating it), and now names the files it found there.
#[test]
fn a_store_created_among_other_files_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mine");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(db.join("notes.txt"), "mine").unwrap();
    // Hidden files and lost+found are no sign of a mistyped --db.
    std::fs::write(db.join(".gitkeep"), "").unwrap();
    std::fs::create_dir(db.join("lost+found")).unwrap();
    let line = format!("{T0},a,1\n");
    let o = run_stdin(&db, &["ingest", "-"], &line);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("beside 1 file that is not the store's (notes.txt)"),
        "{}",
        stderr(&o)
    );
    let o = run_stdin(&db, &["ingest", "-"], &line);
    assert!(!stderr(&o).contains("beside"), "{}", stderr(&o));
    let o = run_stdin(&dir.path().join("fresh"), &["ingest", "-"], &line);
    assert!(!stderr(&o).contains("beside"), "{}", stderr(&o));
}

/// A misspelt tag (`query metooo`) printed a series of zeros, exit 0, like
/// a quiet stretch of a real tag; a tweet id too small to be a Snowflake id
/// was dated 2010-11-04 without a word, and a `tweet_id` header was a bad
/// line.
#[test]
fn a_tag_never_held_and_ids_that_carry_no_time_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    let o = run(&db, &["query", "aa", "--step", "1h"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds no event of \"aa\" at any time"),
        "{}",
        stderr(&o)
    );
    // A held tag's quiet range says nothing of the kind.
    let o = run(
        &db,
        &[
            "query",
            "z",
            "--step",
            "1h",
            "--from",
            "2024-05-01T10:00:00Z",
            "--to",
            "2024-05-01T11:00:00Z",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("holds no event"), "{}", stderr(&o));
    // A bad --from lists the relative forms it also takes.
    let o = run(&db, &["query", "a", "--from", "yesterday"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--from: \"yesterday\" is not a timestamp")
            && stderr(&o).contains("relative to the store's now: `now`, `-24h`"),
        "{}",
        stderr(&o)
    );
    let o = run_stdin(
        &db,
        &[
            "ingest",
            "--format",
            "tweet-ids",
            "--tag",
            "x",
            "--max-future-skew",
            "10000d",
            "-",
        ],
        "tweet_id\n42\n929000000000000000\n",
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("<stdin>:2: \"42\" carries no time"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("<stdin>:1"), "{}", stderr(&o));
}

/// `top --to X` without `--from` starts at the earliest time held, hourly data included, as
/// its help says; with X inside the hours held only as 1h buckets it used to be refused as
/// "--to is before --from", naming the first minute held at 1m as a --from nobody gave. A 1m
/// query there is still refused, saying why; `export` writes the hours up to --to; a --to that
/// the step carries past the start is no refusal; on an empty store `top --from X` is the empty
/// answer, not a complaint about a --to of 1970.
#[test]
fn a_range_without_from_starts_where_the_command_says() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    rolled(&db);
    let o = run(&db, &["--json", "top", "--to", "2024-05-01T12:00:00Z"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o), serde_json::json!([{"tag": "a", "count": 11}]));
    let o = run(&db, &["query", "a", "--to", "2024-05-01T12:00:00Z"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("where the range starts without --from")
            && stderr(&o).contains("older data, from 2024-05-01T10:00:00Z, is held in 1h buckets"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &db,
        &[
            "--json",
            "query",
            "a",
            "--to",
            "2024-05-01T12:00:00Z",
            "--step",
            "1h",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["total"], 11);
    // A --to before the first event that the step's alignment carries past
    // it is no refusal: 09:30 at 1d is the end of the first day.
    let o = run(
        &db,
        &[
            "--json",
            "query",
            "a",
            "--to",
            "2024-05-01T09:30:00Z",
            "--step",
            "1d",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["total"], 111);
    // export without --step writes the hours up to --to, and no minutes.
    let o = run(&db, &["export", "--to", "2024-05-01T12:00:00Z"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows: u64 = stdout(&o)
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(rows, 11);
    let empty = dir.path().join("empty");
    assert_eq!(code(&run_stdin(&empty, &["ingest", "-"], "")), 0);
    let o = run(&empty, &["--json", "top", "--from", "2024-05-01T10:00:00Z"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o), serde_json::json!([]));
}

/// `--strict` named only the lines that did not parse when some did not: a line the store
/// refuses (a label key it lacks, a value too long) was named only in the next run, after the
/// user fixed the first ones. Every bad line is named in one run now, and nothing committed.
#[test]
fn strict_names_every_bad_line_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let input = format!(
        "{{\"ts\":{T0},\"tag\":\"a\",\"labels\":{{\"platform\":\"x\"}}}}\n\
         {{\"ts\":{T0},\"tag\":\"a\",\"labels\":{{\"city\":\"x\"}}}}\n\
         {{\"ts\":{T0},\"tag\":\"a\",\"labels\":[\"x\"]}}\n\
         {{\"ts\":{T0},\"tag\":\"a\",\"labels\":{{\"platform\":\"{}\"}}}}\n",
        "p".repeat(65)
    );
    let args = [
        "ingest", "--labels", "platform", "--format", "ndjson", "--strict", "-",
    ];
    let o = run_stdin(&db, &args, &input);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    for line in [2, 3, 4] {
        assert!(
            stderr(&o).contains(&format!("<stdin>:{line}: ")),
            "line {line}: {}",
            stderr(&o)
        );
    }
    assert!(
        stderr(&o).contains("3 lines were rejected"),
        "{}",
        stderr(&o)
    );
    assert!(!db.join("MANIFEST").exists());
}
