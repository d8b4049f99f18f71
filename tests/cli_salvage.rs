//! `trendlog export --salvage` through the binary: a store `verify` calls
//! damaged is copied, all but the damaged part, into a new store that
//! `verify` calls clean, and the output says what was left out.

mod cli_support;
use cli_support::*;

const T0: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z

/// Twenty days of 300 tags, one event a minute each hour's first 20
/// minutes; compacted, so the first two weeks are 1h buckets.
fn months(db: &std::path::Path) -> u64 {
    let mut csv = String::new();
    let mut total = 0;
    for h in 0..20 * 24i64 {
        for m in 0..20 {
            let tag = (h * 7 + m * 13) % 300;
            let count = 1 + (h + m) % 4;
            total += count as u64;
            csv.push_str(&format!("{},t{tag},{count}\n", T0 + h * 3600 + m * 60));
        }
    }
    let o = run_stdin(db, &["ingest", "-"], &csv);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(db, &["compact"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    total
}

fn store_total(db: &std::path::Path) -> u64 {
    let o = run(db, &["--json", "top", "-k", "1000"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn an_undamaged_store_salvages_as_it_exports() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    months(&db);
    let plain = run(&db, &["export"]);
    let salvaged = run(&db, &["export", "--salvage"]);
    assert_eq!(code(&salvaged), 0, "{}", stderr(&salvaged));
    assert_eq!(stdout(&plain), stdout(&salvaged));
    assert!(
        stderr(&salvaged).contains("--minute-retention 7d --hour-retention forever"),
        "{}",
        stderr(&salvaged)
    );
    let o = run(&db, &["export", "--salvage", "--from", "-1d"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn a_damaged_segment_is_copied_all_but_its_damaged_group() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let total = months(&db);
    let hour = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "hour"))
        .expect("an hourly segment");
    let mut bytes = std::fs::read(&hour).unwrap();
    bytes[200] ^= 0x04;
    std::fs::write(&hour, &bytes).unwrap();
    // What a user has: every question over that data refused.
    assert_eq!(code(&run(&db, &["verify"])), 1);
    assert_eq!(code(&run(&db, &["export"])), 1);

    let o = run(&db, &["export", "--salvage"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    let name = hour.file_name().unwrap().to_str().unwrap();
    let line = err
        .lines()
        .find(|l| l.starts_with("export: left out") && l.contains(name))
        .unwrap_or_else(|| panic!("{err}"));
    let lost: u64 = line
        .rsplit_once(" (")
        .and_then(|(_, n)| n.strip_suffix(" events)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(lost > 0 && lost < total, "{line}");
    assert!(err.contains("could not be read and were left out"), "{err}");

    let copy = dir.path().join("copy");
    let o = run_stdin(
        &copy,
        &[
            "ingest",
            "--minute-retention",
            "7d",
            "--hour-retention",
            "forever",
            "-",
        ],
        &stdout(&o),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(code(&run(&copy, &["verify"])), 0);
    assert_eq!(store_total(&copy), total - lost);
    // Questions about the minutes, which the damage did not touch, answer
    // as the store did before it.
    let q = ["--json", "query", "t7", "--from", "-2d", "--step", "1h"];
    let (a, b) = (run(&db, &q), run(&copy, &q));
    assert_eq!(code(&a), 0, "{}", stderr(&a));
    assert_eq!(json(&a), json(&b));
}

#[test]
fn a_damaged_manifest_is_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    months(&db);
    let path = db.join("MANIFEST");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let o = run(&db, &["export", "--salvage"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot salvage")
            && stderr(&o).contains("which segment files are live"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}
