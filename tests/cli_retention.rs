//! Retention through the binary: the first writing command sets it on a new
//! store, `inspect` and `retention` show the stored value, `retention`
//! changes it (needing the write lock), and `compact` applies it, so every
//! later reader agrees.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(db: &Path, args: &[&str], input: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trendlog"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = c
        .stdin
        .take()
        .unwrap()
        .write_all(input.unwrap_or("").as_bytes());
    c.wait_with_output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

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
    let o = run(
        &db,
        &["ingest", "--minute-retention", "2d"],
        Some(&ten_days()),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = json(&run(&db, &["--json", "retention"], None));
    assert_eq!(r["minute_retention_minutes"], 2 * 1440);
    assert!(r["hour_retention_minutes"].is_null());
    let i = json(&run(&db, &["--json", "inspect"], None));
    assert_eq!(i["retention"]["minute_minutes"], 2 * 1440);

    // A later ingest with other flags keeps the stored value and says so.
    let o = run(&db, &["ingest", "--minute-retention", "5d"], Some(""));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("keeps its retention"));
    let r = json(&run(&db, &["--json", "retention"], None));
    assert_eq!(r["minute_retention_minutes"], 2 * 1440);

    // Change the hour retention to three days and compact: older data goes.
    let r = json(&run(&db, &["--json", "retention", "--hours", "3d"], None));
    assert_eq!(r["hour_retention_minutes"], 3 * 1440);
    let c = json(&run(&db, &["--json", "compact"], None));
    assert!(c["events_expired"].as_u64().unwrap() > 0, "{c}");
    let t = json(&run(
        &db,
        &[
            "--json",
            "query",
            "metoo",
            "--step",
            "1d",
            "--from",
            "2017-10-16",
            "--to",
            "2017-10-27",
        ],
        None,
    ));
    assert_eq!(t["total"], 3 * 24 + 1);
}

#[test]
fn bad_retention_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    run(&db, &["ingest"], Some("1508112000,metoo,1\n"));
    for bad in ["10m", "soon", "-1d"] {
        let o = run(&db, &["retention", "--minutes", bad], None);
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    let o = run(&db, &["--json", "retention"], None);
    assert_eq!(json(&o)["minute_retention_minutes"], 7 * 1440);
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
    let o = run(&db, &["ingest", "--minute-retention", "2h"], Some(&input));
    assert!(o.status.success());
    let o = run(&db, &["--json", "trending"], None);
    let rows = json(&o);
    assert_eq!(rows[0]["tag"], "metoo");
    assert!(String::from_utf8_lossy(&o.stderr).contains("at 1h"));
}
