//! Retention through the binary: the first writing command sets it on a new
//! store, `inspect` and `retention` show the stored value, `retention`
//! changes it (needing the write lock), and `compact` applies it, so every
//! later reader agrees.

mod cli_support;
use cli_support::*;

/// Ten days, one event per hour.
fn ten_days() -> String {
    (0..240)
        .map(|h| format!("{},metoo,1\n", 1_508_112_000 + h * 3600))
        .collect()
}

#[test]
fn the_first_writing_command_sets_it_and_retention_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let o = run_stdin(&db, &["ingest", "--minute-retention", "2d"], &ten_days());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = json(&run(&db, &["--json", "retention"]));
    assert_eq!(r["minute_retention_minutes"], 2 * 1440);
    assert!(r["hour_retention_minutes"].is_null());
    let i = json(&run(&db, &["--json", "inspect"]));
    assert_eq!(i["retention"]["minute_minutes"], 2 * 1440);

    // A later ingest with other flags keeps the stored value and says so.
    let o = run_stdin(&db, &["ingest", "--minute-retention", "5d"], "");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("keeps its retention"));
    let r = json(&run(&db, &["--json", "retention"]));
    assert_eq!(r["minute_retention_minutes"], 2 * 1440);

    // Change the hour retention to three days and compact: older data goes.
    let r = json(&run(&db, &["--json", "retention", "--hours", "3d"]));
    assert_eq!(r["hour_retention_minutes"], 3 * 1440);
    let c = json(&run(&db, &["--json", "compact"]));
    assert!(c["events_expired"].as_u64().unwrap() > 0, "{c}");
    let q = [
        "--json",
        "query",
        "metoo",
        "--step",
        "1d",
        "--from",
        "2017-10-16",
        "--to",
        "2017-10-27",
    ];
    let o = run(&db, &q);
    assert_eq!(json(&o)["total"], 3 * 24 + 1);
    // The zeros before the kept data are said to be dropped data, not silence.
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains("is no longer held (the hour retention, 3 d"),
        "{err}"
    );
}

#[test]
fn bad_retention_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    run_stdin(&db, &["ingest"], "1508112000,metoo,1\n");
    for bad in ["10m", "soon", "-1d"] {
        let o = run(&db, &["retention", "--minutes", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    let o = run(&db, &["--json", "retention"]);
    assert_eq!(json(&o)["minute_retention_minutes"], 7 * 1440);
}

/// The store keeps the retention as asked (in whole hours, saying so on stderr when it
/// rounds), and says how long minutes are held when the hour retention, which drops all older
/// data, is the shorter: a later, longer hour retention gives the minute retention back.
#[test]
fn retention_says_how_long_minutes_are_held() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let o = run_stdin(
        &db,
        &["ingest", "--minute-retention", "90m"],
        "1508112000,metoo,1\n",
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.contains("minute retention 90 min: retention is kept in whole hours; kept 1 h"),
        "{err}"
    );
    let o = run(
        &db,
        &["--json", "retention", "--minutes", "10d", "--hours", "2d"],
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("minutes are held 2 d"), "{err}");
    let r = json(&o);
    assert_eq!(r["minute_retention_minutes"], 10 * 1440);
    assert_eq!(r["minutes_held_minutes"], 2 * 1440);
    let o = run(&db, &["retention"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("minutes kept  10 d (2 d in effect"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let i = json(&run(&db, &["--json", "inspect"]));
    assert_eq!(i["retention"]["minutes_held"], 2 * 1440);
    let o = run(&db, &["retention", "--minutes", "10d"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("unchanged"));
    let r = json(&run(&db, &["--json", "retention", "--hours", "forever"]));
    assert_eq!(r["minute_retention_minutes"], 10 * 1440);
    assert_eq!(r["minutes_held_minutes"], 10 * 1440);
}

/// With a minute retention shorter than the default baseline, `trending`
/// with no `--at` still answers: at the last whole hour, and it says so.
#[test]
fn trending_defaults_work_with_a_short_minute_retention() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let input: String = (0..100)
        .map(|h| format!("{},metoo,{h}\n", 1_508_112_000 + h * 3600 + 600))
        .collect();
    let o = run_stdin(&db, &["ingest", "--minute-retention", "2h"], &input);
    assert!(o.status.success());
    let o = run(&db, &["--json", "trending"]);
    let rows = json(&o);
    assert_eq!(rows[0]["tag"], "metoo");
    assert!(String::from_utf8_lossy(&o.stderr).contains("at 1h"));
}

#[test]
fn a_shorter_hour_retention_hides_at_once_and_compact_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let o = run_stdin(&db, &["ingest"], &ten_days());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let total = |db: &std::path::Path| {
        let q = ["--json", "query", "metoo", "--step", "1d", "--from", "0"];
        json(&run(db, &q))["total"].as_u64().unwrap()
    };
    assert_eq!(total(&db), 240);
    // What `retention` says is what happens: reads leave the old data out
    // at once...
    let o = run(&db, &["retention", "--hours", "3d"]);
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(said.contains("reads leave out data older"), "{said}");
    assert!(total(&db) < 240);
    // ...and, until a compaction, a longer retention brings it back.
    let o = run(&db, &["retention", "--hours", "forever"]);
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        said.contains("changed") && !said.contains("leave out"),
        "{said}"
    );
    assert_eq!(total(&db), 240);
    // After one, it is gone for good.
    run(&db, &["retention", "--hours", "3d"]);
    let hidden = total(&db);
    assert!(run(&db, &["compact"]).status.success());
    run(&db, &["retention", "--hours", "forever"]);
    assert_eq!(total(&db), hidden);
}

/// When the hour retention falls inside the hours a store holds as hourly buckets only,
/// what lies before it is dropped at every step: questions reaching there are answered
/// (zeros, as every read leaves dropped data out) rather than refused for want of minutes
/// that the store could never have held, and the minute floor named in the refusals that
/// remain is the retained one. Before, `trending --at` off the hour was refused naming a
/// minute before the retention, which `inspect` showed as no longer kept.
#[test]
fn questions_before_the_hour_retention_are_not_refused_for_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let o = run_stdin(&db, &["ingest", "--minute-retention", "2d"], &ten_days());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The minutes of the last 2 days; hours before; then keep 3 days in all.
    assert!(run(&db, &["retention", "--hours", "3d"]).status.success());
    let now = 1_508_112_000 + 239 * 3600;
    let at = (now - 60).to_string(); // off the hour: minute windows
    let o = run(
        &db,
        &["--json", "trending", "--at", &at, "--baseline", "5d"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A minute query over dropped time only: zeros, not a refusal.
    let from = (1_508_112_000 + 3600 + 600).to_string();
    let to = (1_508_112_000 + 7200 + 600).to_string();
    let o = run(
        &db,
        &[
            "--json", "query", "metoo", "--from", &from, "--to", &to, "--step", "1m",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&o)["total"], 0);
    // Between the hour retention and the minutes: hours only, still refused at 1m.
    let from = (now - 60 * 3600 + 600).to_string();
    let o = run(&db, &["query", "metoo", "--from", &from, "--step", "1m"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn an_event_that_jumps_the_now_past_the_hour_retention_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    let o = run_stdin(&db, &["ingest", "--hour-retention", "3d"], &ten_days());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // Ten days into a store that keeps three: the run's own first days are
    // out of every read as it ends, and said.
    assert!(
        err.contains("<stdin>:240 (at 2017-10-25T23:00:00Z) moved the store's now to")
            && err.contains("so this run's events from 2017-10-16T00:00:00Z to ")
            && err.contains("are older than the hour retention (3 d)"),
        "{err}"
    );
    // A day later: the ordinary course of retention, no warning.
    let next = format!("{},metoo,1\n", 1_508_112_000 + 264 * 3600);
    let o = run_stdin(&db, &["ingest"], &next);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("moved the store's now"));
    // One line dated years on: accepted (not past the clock), and named.
    let stray = format!("{next}2020-06-01T00:00:00Z,metoo,1\n");
    let o = run_stdin(&db, &["ingest"], &stray);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("<stdin>:2 (at 2020-06-01T00:00:00Z) moved the store's now")
            && err.contains("hour retention (3 d)")
            && err.contains("trendlog retention --hours forever"),
        "{err}"
    );
    // The advice holds: with the retention lifted the old data reads again.
    run(&db, &["retention", "--hours", "forever"]);
    let q = json(&run(
        &db,
        &[
            "--json",
            "query",
            "metoo",
            "--step",
            "1d",
            "--from",
            "1508112000",
            "--to",
            "1509000000",
        ],
    ));
    assert!(q["total"].as_u64().unwrap() >= 240, "{q}");
}
