//! `trendlog-cluster ask` exits 1 when a partition had no live replica (an
//! outage: starting a runner fixes it) and 2 when the request itself was
//! refused; both used to exit 2 as "bad request". The outage message names
//! the partition and says which requests take allow_partial (it used to
//! offer it to total, which refuses the field). A status answered with a
//! partition missing exits 3 (it exited 0).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use trendlog_cluster::partition::Names;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_tells_an_outage_from_a_bad_request() {
    let bin = require_nats!();
    let cluster = Cluster::start(&bin, None);
    let names = Names::new("ax", 1).unwrap();
    let client = cluster.client().await;
    streams(&client, &names).await;
    let exe = env!("CARGO_BIN_EXE_trendlog-cluster");
    let servers = cluster.urls().join(",");
    let base = ["--server", servers.as_str(), "--prefix", "ax", "-P", "1"];
    let mut router = Command::new(exe)
        .args(base)
        .args(["router", "--timeout-ms", "300"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ask = |body: &str| {
        // The router may still be subscribing: retry a few times while it
        // has not answered at all.
        for _ in 0..50 {
            let o = Command::new(exe)
                .args(base)
                .args(["ask", body, "--timeout-ms", "2000"])
                .output()
                .unwrap();
            if !o.stdout.is_empty() || o.status.code() == Some(2) {
                return o;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the router never answered {body}");
    };
    // No runner: partition 0 is missing.
    let o = ask(r#"{"op":"top","from":0,"to":3600,"k":1}"#);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no live replica") && err.contains("[0]"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains(r#""outage":true"#), "{out}");
    let o = ask(r#"{"op":"total","tag":"metoo","from":0,"to":3600}"#);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("top and trending also take allow_partial"),
        "{err}"
    );
    // A status is answered with partition 0 listed as missing: exit 3 (it
    // was 0), the reply printed as before.
    let o = ask(r#"{"op":"status"}"#);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("no live replica") && err.contains("[0]"),
        "{err}"
    );
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["missing"], serde_json::json!([0]), "{out}");
    assert_eq!(out["error"], serde_json::Value::Null, "{out}");
    assert_eq!(out["answer"], serde_json::json!({ "status": [] }), "{out}");
    // A request that cannot be read is the caller's mistake.
    let o = ask(r#"{"op":"nope"}"#);
    assert_eq!(o.status.code(), Some(2));
    let _ = router.kill();
    let _ = router.wait();
}

/// `publish` exits 2 when it refused input, as `trendlog ingest` does, and
/// still publishes everything else. Its CSV is RFC 4180: `"ok"` is `ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_exits_2_when_it_refused_input() {
    let bin = require_nats!();
    let cluster = Cluster::start(&bin, None);
    let names = Names::new("pb", 1).unwrap();
    let client = cluster.client().await;
    streams(&client, &names).await;
    let now = unix_now();
    let csv = cluster.stores().join("in.csv");
    std::fs::create_dir_all(cluster.stores()).unwrap();
    let far = now + 3 * 86_400;
    // A quoted tag is the same tag unquoted; a fourth field makes the line
    // bad, said with its number, not published in part (it was, silently).
    std::fs::write(
        &csv,
        format!("{now},ok,2\nnot a line\n{far},ahead,1\n{now},\"ok\",3\n{now},ok,5,extra\n"),
    )
    .unwrap();
    let exe = env!("CARGO_BIN_EXE_trendlog-cluster");
    let servers = cluster.urls().join(",");
    let o = Command::new(exe)
        .args([
            "--server",
            servers.as_str(),
            "--prefix",
            "pb",
            "-P",
            "1",
            "publish",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("2 × line not") && err.contains("1 × time"),
        "{err}"
    );
    assert!(err.contains("in.csv:5: the line has 4 fields"), "{err}");
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["acknowledged_events"], 2, "{out}");
    assert_eq!(out["acknowledged_posts"], 5, "{out}");
    assert_eq!(out["rejected_times"], 1, "{out}");
    assert_eq!(out["rejected_tags"], 0, "{out}");
    assert_eq!(out["bad_lines"], 2, "{out}");
}

/// A publisher id reused for other input is said: the servers drop every message whose id an
/// earlier run used, so that input is not stored. Before, the run reported it acknowledged
/// with exit 0 and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_publisher_id_is_said() {
    let bin = require_nats!();
    let cluster = Cluster::start(&bin, None);
    let names = Names::new("ri", 1).unwrap();
    let client = cluster.client().await;
    streams(&client, &names).await;
    let now = unix_now();
    std::fs::create_dir_all(cluster.stores()).unwrap();
    let exe = env!("CARGO_BIN_EXE_trendlog-cluster");
    let servers = cluster.urls().join(",");
    let publish = |count: u64| {
        let csv = cluster.stores().join(format!("in{count}.csv"));
        std::fs::write(&csv, format!("{now},a,{count}\n")).unwrap();
        let o = Command::new(exe)
            .args(["--server", servers.as_str(), "--prefix", "ri", "-P", "1"])
            .args(["publish", "--publisher-id", "same"])
            .arg(&csv)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (out, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (out, err) = publish(1);
    assert_eq!(out["earlier_run_duplicates"], 0, "{out}");
    assert!(!err.contains("publisher id"), "{err}");
    let (out, err) = publish(5);
    assert_eq!(out["earlier_run_duplicates"], 1, "{out}");
    assert!(
        err.contains("already in the stream under this publisher id"),
        "{err}"
    );
}
