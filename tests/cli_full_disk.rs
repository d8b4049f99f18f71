//! `trendlog ingest --ack` on a disk that fills up: every line the store's
//! source position records as committed was acknowledged first, so a
//! consumer that resumes after its last acknowledgement never counts a line
//! twice. Before, a run whose last batch committed and whose closing seal
//! then hit the full disk exited 1 without `committed N` for that batch.
//! Runs on a real tmpfs when root can mount one (skipped with a message
//! otherwise).

mod cli_support;
use cli_support::*;

const T0: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z

/// The store's source position and events held (none before it exists).
fn state(db: &std::path::Path) -> (Option<String>, u64) {
    if !db.join("MANIFEST").exists() {
        return (None, 0);
    }
    let o = run(db, &["--json", "inspect"]);
    let v = json(&o);
    (
        v["source_position"].as_str().map(str::to_string),
        v["total"].as_u64().unwrap(),
    )
}

#[test]
fn every_committed_line_was_acknowledged_on_a_full_disk() {
    let Some(mnt) = trendlog_testkit::tmpfs::Tmpfs::mount("600k", "cli_full_disk") else {
        return;
    };
    let db = mnt.path().join("db");
    // Runs of 50 lines, each one batch ended by the end of its input,
    // until the disk refuses them.
    let (mut failed, mut minute) = (0, 0i64);
    for run_no in 0..2_000 {
        let mut csv = String::new();
        for i in 0..50 {
            minute += 1;
            csv.push_str(&format!(
                "{},t{},{}\n",
                T0 + minute * 60,
                (run_no * 50 + i) % 997,
                1 + i % 7
            ));
        }
        let before = state(&db).1;
        let o = run_stdin(&db, &["ingest", "--ack", "--batch-size", "200", "-"], &csv);
        if code(&o) == 0 {
            continue;
        }
        failed += 1;
        let (position, after) = state(&db);
        if after != before {
            // This run committed: its position names its lines.
            assert_eq!(
                position.as_deref(),
                Some("ingest lines 50 of <stdin>"),
                "{}",
                stderr(&o)
            );
            assert!(
                stdout(&o).lines().any(|l| l == "committed 50"),
                "run {run_no} committed 50 lines without acknowledging them:\nstdout: {}\nstderr: {}",
                stdout(&o),
                stderr(&o)
            );
            assert!(stderr(&o).contains("the first 50 input lines of this run are committed"));
        } else {
            assert!(
                !stdout(&o).contains("committed 50"),
                "run {run_no} acknowledged what is not in the store ({before:?} → {after:?}): {}\n{}",
                stdout(&o),
                stderr(&o)
            );
        }
        if failed >= 5 {
            break;
        }
    }
    assert!(failed >= 5, "the disk never filled");
}
