//! A `publish` that fails says on stderr what was acknowledged and under
//! which publisher id, so the operator can rerun it to resume without
//! counting anything twice. Before, a failure printed only the error: a
//! generated publisher id was lost with it, and nothing told what had been
//! stored.

mod common;

use std::process::{Command, Output};

use common::*;
use trendlog_cluster::partition::{partition_of, Names};

fn publish(cluster: &Cluster, partitions: &str, args: &[&str]) -> (Output, String) {
    let servers = cluster.urls().join(",");
    let o = Command::new(env!("CARGO_BIN_EXE_trendlog-cluster"))
        .args([
            "--server",
            servers.as_str(),
            "--prefix",
            "fp",
            "-P",
            partitions,
        ])
        .arg("publish")
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_says_how_to_resume() {
    let bin = require_nats!();
    let cluster = Cluster::start(&bin, None);
    // The streams of one partition only.
    let client = cluster.client().await;
    streams(&client, &Names::new("fp", 1).unwrap()).await;
    let now = unix_now();
    std::fs::create_dir_all(cluster.stores()).unwrap();
    let dir = cluster.stores();
    let csv = dir.join("in.csv");
    std::fs::write(&csv, format!("{now},a,2\n{now},b,3\n{now},c,4\n")).unwrap();
    let csv = csv.to_str().unwrap();

    // An input that fails after one file: the messages sent are waited for
    // and counted, the id is said.
    let missing = dir.join("missing.csv");
    let (o, err) = publish(
        &cluster,
        "1",
        &[
            "--batch",
            "1",
            "--publisher-id",
            "resume-me",
            csv,
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "under publisher id resume-me, 3 events (9 posts) in 3 messages were acknowledged"
        ) && err.contains("--publisher-id resume-me --batch 1")
            && err.contains("missing.csv"),
        "{err}"
    );
    // The rerun the message asks for stores nothing twice.
    let (o, err) = publish(
        &cluster,
        "1",
        &["--batch", "1", "--publisher-id", "resume-me", csv],
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["earlier_run_duplicates"], 3, "{out}");
    assert_eq!(out["publisher_id"], "resume-me", "{out}");

    // A partition the servers cannot store to (its stream missing): the
    // acknowledgements before the failure are counted, and a generated id
    // is said.
    let tag_in = |want: u32| {
        (0..)
            .map(|i| format!("t{i}"))
            .find(|t| partition_of(t, 2).unwrap() == want)
            .unwrap()
    };
    let (t0, t1) = (tag_in(0), tag_in(1));
    let two = dir.join("two.csv");
    std::fs::write(&two, format!("{now},{t0},5\n{now},{t0},6\n{now},{t1},7\n")).unwrap();
    let (o, err) = publish(
        &cluster,
        "2",
        &[
            "--batch",
            "1",
            "--patience-secs",
            "2",
            two.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(o.stdout.is_empty());
    assert!(
        err.contains("not acknowledged within")
            && err.contains("2 events (11 posts) in 2 messages were acknowledged")
            && err.contains("under publisher id pub-")
            && err.contains("--publisher-id pub-"),
        "{err}"
    );
}
