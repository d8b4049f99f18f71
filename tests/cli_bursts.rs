//! `trendlog bursts` and `trendlog trending --rank burst` add to the binary's contract without
//! changing it: their JSON shapes, finite numbers only, exit code 2 for a parameter out of its
//! range, and `trending` still ranks by growth by default.

mod cli_support;
use cli_support::*;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const T0: i64 = 1_508_112_000; // 2017-10-16T00:00:00Z

/// `steady` at 5 a minute for a day, then `metoo` at 20 a minute from 12:00 of the second day.
fn sample(db: &Path) {
    let mut csv = String::from("timestamp,tag,count\n");
    for m in 0..(36 * 60) {
        csv.push_str(&format!("{},steady,5\n", T0 + m * 60));
        if m >= 36 * 60 - 90 {
            csv.push_str(&format!("{},#MeToo,20\n", T0 + m * 60));
        }
    }
    let mut c = Command::new(env!("CARGO_BIN_EXE_trendlog"))
        .arg("--db")
        .arg(db)
        .arg("ingest")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(csv.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bursts_and_trending_by_burst_json_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    let v = json(&run(
        &db,
        &["--json", "bursts", "--from", "2017-10-16", "-k", "5"],
    ));
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    let r = &rows[0];
    assert_eq!(r["tag"], "metoo");
    assert_eq!(r["onset_unix"], T0 + (36 * 60 - 90) * 60);
    assert_eq!(r["onset"], "2017-10-17T10:30:00Z");
    assert_eq!(r["step"], "1m");
    assert!(r["end"].is_null(), "still going at the store's now: {r}");
    for k in ["onset_score", "expected", "peak_score"] {
        assert!(r[k].as_f64().unwrap().is_finite(), "{k}: {r}");
    }
    let t = json(&run(
        &db,
        &["--json", "trending", "--rank", "burst", "-k", "3"],
    ));
    let t = t.as_array().unwrap();
    assert_eq!(t[0]["tag"], "metoo");
    assert!(t[0]["score"].as_f64().unwrap().is_finite(), "{t:?}");
    assert!(t[0]["expected"].as_f64().unwrap().is_finite(), "{t:?}");
    // The default ranking is still growth, with its own shape.
    let g = json(&run(&db, &["--json", "trending", "-k", "3"]));
    assert!(
        g[0].get("growth").is_some() && g[0].get("score").is_none(),
        "{g}"
    );
    // The table form prints.
    let o = run(&db, &["bursts", "--from", "2017-10-16"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("metoo"));
}

#[test]
fn out_of_range_parameters_exit_2_and_name_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    for (args, name) in [
        (vec!["bursts", "--entry", "nan"], "entry"),
        (vec!["bursts", "--exit", "9"], "exit"),
        (vec!["bursts", "--window", "90s"], "window"),
        (vec!["bursts", "--prior=-1"], "prior"),
        (vec!["bursts", "--novelty-factor=-1"], "novelty_factor"),
        (vec!["bursts", "--novelty", "29d"], "novelty"),
        (
            vec![
                "trending",
                "--rank",
                "burst",
                "--window",
                "1h",
                "--baseline",
                "1h",
            ],
            "baseline",
        ),
        (vec!["bursts", "--baseline", "29d"], "baseline"),
    ] {
        let o = run(&db, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(name) && err.contains("must be"),
            "{args:?}: {err}"
        );
        // The flag that sets it follows the parameter's name (the baseline's
        // twice-the-window check names both, below).
        if !args.contains(&"1h") {
            let flag = format!("; the flag is --{}", name.replace('_', "-"));
            assert!(err.contains(&flag), "{args:?}: {err}");
        }
    }
    // A window alone can make the default baseline too short: the message
    // names both flags.
    let o = run(&db, &["bursts", "--window", "1440m"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("; the flags are --baseline and --window: give a longer --baseline"),
        "{err}"
    );
}

#[test]
fn trending_by_burst_names_the_window_it_scored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    let text = |args: &[&str]| {
        let o = run(&db, args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // On minutes: the window ends at the store's now.
    let t = text(&["trending", "--rank", "burst", "--window", "30m"]);
    assert!(
        t.contains("window 2017-10-17T11:30:00Z → 2017-10-17T12:00:00Z") && !t.contains("on hours"),
        "{t}"
    );
    // Keep one day of minutes and roll the rest into hours: a window
    // before the minutes held is scored on whole hours, the last one that
    // ends by --at, and says so.
    for args in [&["retention", "--minutes", "1d"][..], &["compact"]] {
        text(args);
    }
    let t = text(&[
        "trending",
        "--rank",
        "burst",
        "--window",
        "30m",
        "--at",
        "2017-10-16T10:10:00Z",
    ]);
    assert!(
        t.contains("window 2017-10-16T09:00:00Z → 2017-10-16T10:00:00Z") && t.contains("on hours"),
        "{t}"
    );
}

#[test]
fn a_burst_spread_over_many_series_is_the_tags_burst() {
    // 8 posts in each of 12 (platform, region) series: none reaches
    // --min-count 10 alone, the tag has 96.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut csv = String::from("timestamp,tag,count,label:platform,label:region\n");
    csv.push_str(&format!("{},base,1,,\n", T0 - 2 * 86_400));
    for p in ["twitter", "facebook", "instagram"] {
        for r in ["paris", "tokyo", "lagos", "chicago"] {
            for i in 0..8 {
                csv.push_str(&format!("{},spread,1,{p},{r}\n", T0 + 12 * 3600 + i * 200));
            }
        }
    }
    let o = run_stdin(&db, &["ingest"], &csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = json(&run(&db, &["--json", "bursts", "--from", "2017-10-16"]));
    assert_eq!(b[0]["tag"], "spread", "{b}");
    let at = ["--at", "2017-10-16T12:30:00Z", "--window", "30m"];
    let t = json(&run(
        &db,
        &[&["--json", "trending", "--rank", "burst"][..], &at].concat(),
    ));
    assert_eq!(
        (&t[0]["tag"], &t[0]["recent"]),
        (&"spread".into(), &96.into()),
        "{t}"
    );
    // Within one platform the tag has 32: still a burst, labelled with it.
    let tw = json(&run(
        &db,
        &[&[
            "--json",
            "bursts",
            "--from",
            "2017-10-16",
            "--where",
            "platform=twitter",
        ][..]]
        .concat(),
    ));
    assert_eq!(
        tw[0]["labels"],
        serde_json::json!({"platform": "twitter"}),
        "{tw}"
    );
}

#[test]
fn trending_by_burst_takes_the_score_flags_of_bursts() {
    use trendlog::burst::Dispersion;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    let store = trendlog::Store::open_read_only(&db).unwrap();
    let snap = store.snapshot();
    let mut scores = Vec::new();
    for (name, dispersion, days) in [
        ("spread", Dispersion::Spread, 0),
        ("successive", Dispersion::Successive, 1),
        ("spread", Dispersion::Spread, 1),
    ] {
        let d = days.to_string();
        let args = [
            "--json",
            "trending",
            "--rank",
            "burst",
            "--dispersion",
            name,
            "--seasonal-days",
            &d,
        ];
        let t = json(&run(&db, &args));
        let p = trendlog::BurstParams {
            window: std::time::Duration::from_secs(3600),
            dispersion,
            seasonal_days: days,
            ..trendlog::BurstParams::default()
        };
        let want = snap.burst_ranking(None, &p, 10).unwrap();
        scores.push(want.first().map(|r| r.score));
        assert_eq!(t.as_array().unwrap().len(), want.len(), "{args:?}: {t}");
        for (got, want) in t.as_array().unwrap().iter().zip(&want) {
            assert_eq!(got["tag"], want.tag.as_str(), "{args:?}: {t}");
            assert_eq!(got["score"].as_f64(), Some(want.score), "{args:?}: {t}");
        }
    }
    // The flags matter on this data: were they ignored, the first two
    // parameter sets would score alike.
    assert_ne!(scores[0], scores[1], "{scores:?}");
    // Without --at, what was scored is said on stderr, as for growth.
    let o = run(&db, &["--json", "trending", "--rank", "burst"]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("no --at") && err.contains("baseline"), "{err}");
    // The growth ranking has no burst score to shape: refused, not ignored.
    let o = run(&db, &["trending", "--seasonal-days", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--rank burst"));
}

/// A burst score reads the same window on previous days. Days older than the minute retention
/// are held only as hours; a window of whole hours ending on an hour reads them from the hours,
/// so the score does not depend on the minute retention. Before, it left those days out: 2 of 6
/// days in the store below (expected 426 instead of 326). Six seasonal days are asked for, as
/// the defaults had when this was found.
#[test]
fn burst_scores_read_seasonal_days_held_only_as_hours() {
    let dir = tempfile::tempdir().unwrap();
    let base = 1_577_836_800; // 2020-01-01
    let mut csv = String::new();
    for k in 0..10i64 {
        let n = if k == 9 { 1000 } else { 50 * (k + 1) };
        csv.push_str(&format!("{},x,{n}\n", base + k * 86_400 + 12 * 3600 + 1800));
        csv.push_str(&format!("{},y,5\n", base + k * 86_400 + 3 * 3600));
    }
    let ask = |db: &Path, window: &str| {
        run(
            db,
            &[
                "--json",
                "trending",
                "--rank",
                "burst",
                "--at",
                "2020-01-10T13:00:00Z",
                "--window",
                window,
                "--baseline",
                "24h",
                "--seasonal-days",
                "6",
                "--min-count",
                "1",
                "-k",
                "1",
            ],
        )
    };
    let mut answers = Vec::new();
    for retention in ["2d", "forever"] {
        let db = dir.path().join(retention);
        let o = run_stdin(&db, &["ingest", "--minute-retention", retention, "-"], &csv);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let o = ask(&db, "1h");
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(!stderr(&o).contains("held only as hours"), "{}", stderr(&o));
        answers.push(json(&o));
    }
    assert_eq!(answers[0], answers[1]);
    // Six previous days at 12:30: 50 * (4 + 5 + 6 + 7 + 8 + 9) / 6 = 325, plus the prior's
    // hour (1/60 a minute).
    assert_eq!(answers[0][0]["expected"], 326.0, "{}", answers[0]);
    // A half-hour window cannot be read from hours: the days before the minutes held are left
    // out, and stderr says so.
    let o = ask(&dir.path().join("2d"), "30m");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the minutes before 2020-01-08T12:00:00Z are held only as hours"),
        "{}",
        stderr(&o)
    );
}

/// Over hours-only data a burst ranking at an `--at` inside an hour scores the last whole hour
/// before it. It used to score the hour holding `--at`, events after `--at` included: 100 events
/// at 10:45 ranked first at `--at 10:30`.
#[test]
fn a_burst_ranking_on_hours_counts_nothing_after_at() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = 1_506_556_800; // 2017-09-28
    let mut csv = String::new();
    for i in 0..451 {
        csv.push_str(&format!("{},z,3\n", s + i * 3600 + 120));
    }
    csv.push_str("2017-10-01T10:45:00Z,x,100\n");
    let o = run_stdin(&db, &["ingest", "-"], &csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ask = |at: &str| {
        let o = run(
            &db,
            &[
                "--json",
                "trending",
                "--rank",
                "burst",
                "--at",
                at,
                "--min-count",
                "1",
                "-k",
                "3",
            ],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        json(&o)
    };
    let v = ask("2017-10-01T10:30:00Z");
    assert!(
        v.as_array().unwrap().iter().all(|r| r["tag"] != "x"),
        "x's events come after --at: {v}"
    );
    // From 11:00 on, the hour 10:00 is whole and x is there.
    let v = ask("2017-10-01T11:00:00Z");
    assert_eq!(v[0]["tag"], "x", "{v}");
    assert_eq!(v[0]["recent"], 100, "{v}");
}

/// An empty burst ranking says why: with too little history for a baseline, no tag has a score
/// at all, which used to read as "no tag had at least N events in the recent window".
#[test]
fn an_empty_burst_ranking_says_when_no_tag_has_a_score() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let o = run_stdin(&db, &["ingest", "-"], &format!("{},metoo,50\n", T0 + 600));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&db, &["trending", "--rank", "burst", "--min-count", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("no tag has a score: the baseline holds 0 whole window(s)"),
        "{}",
        stdout(&o)
    );
}

/// Over data held only as hours, `bursts --to` inside an hour used to score that hour whole:
/// an onset after --to, with the events past it. An absolute edge there is refused, as top and
/// export refuse it. And a default `bursts` (on the minutes held) whose reads reach back into
/// the hours says that its scores leave those out.
#[test]
fn bursts_edges_inside_hours_are_refused_and_cut_reads_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut csv = String::new();
    for h in 0..(10 * 24) {
        csv.push_str(&format!("{},a,3\n", T0 + h * 3600 + 120));
    }
    // A burst in the minutes held: 50 a minute from 10:45 to 10:55 on day 9.
    for m in 45..55 {
        csv.push_str(&format!(
            "{},late,50\n",
            T0 + 9 * 86_400 + 10 * 3600 + m * 60
        ));
    }
    let o = run_stdin(&db, &["ingest", "--minute-retention", "2d", "-"], &csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A range from the hours-only past runs on hours throughout: with --to at
    // 10:30 of day 9 (in the minutes held), the hour 10:00 is not scored,
    // and the burst at 10:45 is past --to.
    let o = run(
        &db,
        &[
            "--json",
            "bursts",
            "--from",
            "2017-10-20",
            "--to",
            "2017-10-25T10:30:00Z",
            "--tag",
            "late",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o), serde_json::json!([]), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("on hours the range ends at 2017-10-25T10:00:00Z"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &db,
        &["--json", "bursts", "--from", "2017-10-20", "--tag", "late"],
    );
    assert_eq!(json(&o)[0]["tag"], "late", "{}", stderr(&o));
    let o = run(
        &db,
        &[
            "bursts",
            "--from",
            "2017-10-17",
            "--to",
            "2017-10-17T10:01:00Z",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(
        stderr(&o).contains("--to 2017-10-17T10:01:00Z falls inside an hour held only"),
        "{}",
        stderr(&o)
    );
    let o = run(&db, &["bursts"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the reads before the range")
            && stderr(&o).contains("the scores leave those out"),
        "{}",
        stderr(&o)
    );
}

/// Counts that arrive once an hour (at minute 42) under the default 30-minute window: each
/// window holds a whole row or nothing, so the detector misses a fourfold burst; `bursts`
/// and `trending --rank burst` say so on stderr and name the window that fits, which finds it.
#[test]
fn hourly_rows_under_a_shorter_window_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut csv = String::from("timestamp,tag,count\n");
    let hours = 8 * 24;
    for h in 0..hours {
        let t = T0 + h * 3600 + 42 * 60;
        let n = if h == hours - 1 { 400 } else { 100 };
        csv.push_str(&format!("{t},hourly,{n}\n{t},other,50\n"));
    }
    // A quieter tag with a row every minute over the 13 hours up to the last row.
    for m in 0..13 * 60 {
        let t = T0 + (hours - 1) * 3600 + 42 * 60 - m * 60;
        csv.push_str(&format!("{t},minutely,1\n"));
    }
    let o = run_stdin(&db, &["ingest"], &csv);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let from = ["--from", "2017-10-23"];
    let plain = run(&db, &["--json", "bursts", from[0], from[1]]);
    let err = String::from_utf8_lossy(&plain.stderr);
    assert!(
        err.contains("hourly: every 60 minutes")
            && err.contains("30-minute window")
            && err.contains("--window 60m"),
        "{err}"
    );
    let missed = json(&plain);
    assert!(
        missed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["tag"] != "hourly"),
        "{missed}"
    );
    let fit = run(
        &db,
        &["--json", "bursts", from[0], from[1], "--window", "1h"],
    );
    let err = String::from_utf8_lossy(&fit.stderr);
    assert!(!err.contains("apart"), "{err}");
    let v = json(&fit);
    let found = v.as_array().unwrap().iter().find(|r| r["tag"] == "hourly");
    let found = found.unwrap_or_else(|| panic!("{v}"));
    assert_eq!(
        found["onset_unix"],
        T0 + (hours - 1) * 3600 + 42 * 60,
        "{v}"
    );
    // Asked about one tag: that tag's rows decide, not the store's busiest.
    let one = |tag: &str| {
        let o = run(&db, &["bursts", from[0], from[1], "--tag", tag]);
        String::from_utf8_lossy(&o.stderr).contains("apart")
    };
    assert!(!one("minutely"));
    assert!(one("hourly"));
    let t = run(&db, &["trending", "--rank", "burst", "--window", "30m"]);
    assert!(
        String::from_utf8_lossy(&t.stderr).contains("60 minutes or more apart"),
        "{t:?}"
    );
    // Rows every minute say nothing.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    sample(&db);
    let o = run(&db, &["bursts", "--from", "2017-10-16"]);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("apart"),
        "{o:?}"
    );
}

/// A store too young for any baseline block says so instead of naming a baseline after the
/// window it scored; an empty store's range is said to be empty, not a range from 1970.
#[test]
fn young_and_empty_stores_describe_their_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let o = run_stdin(
        &one,
        &["ingest", "-"],
        "timestamp,tag,count\n2017-10-16T15:30:00Z,a,5\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&one, &["trending", "--rank", "burst"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("no baseline yet (the store's data starts at 2017-10-16T15:30:00Z)"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains(
            "recent window 2017-10-16T14:31:00Z → 2017-10-16T15:31:00Z, no baseline yet (the \
             store's data starts at 2017-10-16T15:30:00Z)"
        ),
        "{}",
        stderr(&o)
    );
    let empty = dir.path().join("empty");
    let o = run_stdin(&empty, &["ingest", "-"], "timestamp,tag,count\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for cmd in [&["bursts"][..], &["query", "x"][..]] {
        let o = run(&empty, cmd);
        assert_eq!(code(&o), 0, "{cmd:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("(no --from: nothing (the store is empty))"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
}
