//! SIGTERM stops a replica gracefully: it leaves its queue group, finishes
//! what it answers, exits 0 and leaves a store that `verify` calls clean at
//! exactly the position it had applied; its peer answers meanwhile, and the
//! replica restarted on the same store catches up and answers like its peer.
//! A router process stops on SIGTERM too.

mod common;

use std::time::Duration;

use common::*;
use trendlog_cluster::partition::Names;
use trendlog_cluster::runner::store_position;
use trendlog_cluster::wire::{PartitionReply, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_replica_cleanly() {
    let bin = require_nats!();
    let cluster = Cluster::start(&bin, None);
    let names = Names::new("st", 1).unwrap();
    let client = cluster.client().await;
    streams(&client, &names).await;
    let stores = cluster.stores();
    let store = |r: &str| stores.join(format!("p0-{r}"));
    let mut a = Runner::start(&cluster, "st", 1, 0, "a", &store("a"), &[]);
    let _b = Runner::start(&cluster, "st", 1, 0, "b", &store("b"), &[]);
    let mut ledger = publish_one_round(&client, &names, "st-pub0", 41, 20_000).await;
    let last = stream_last(&client, &names).await;
    wait_caught_up(
        &client,
        &names,
        &[(0, "a"), (0, "b")],
        &last,
        Duration::from_secs(60),
    )
    .await;

    let status = a.terminate(Duration::from_secs(30));
    let log = std::fs::read_to_string(&a.log).unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?}\n{log}"
    );
    assert!(log.contains("runner a: stopped"), "{log}");
    // Its store closed cleanly, at the position it had applied.
    let report = trendlog::verify::verify(&store("a"), &trendlog::Options::default()).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let s = trendlog::Store::open_read_only(store("a")).unwrap();
    assert_eq!(store_position(&s, &names.stream(0)).unwrap(), last[0]);
    drop(s);
    // The peer answers, exactly.
    assert_eq!(totals_via_router(&client, &names).await, ledger.per_tag);

    // Restarted on the same store: catches up with more events.
    let l1 = publish_one_round(&client, &names, "st-pub1", 42, 20_000).await;
    add_totals(&mut ledger.per_tag, &l1.per_tag);
    a = Runner::start(&cluster, "st", 1, 0, "a", &store("a"), &[]);
    let last = stream_last(&client, &names).await;
    wait_caught_up(
        &client,
        &names,
        &[(0, "a"), (0, "b")],
        &last,
        Duration::from_secs(60),
    )
    .await;
    let top = Request::Top {
        from: 0,
        to: 2_000_000_000,
        k: 100_000,
        allow_partial: false,
    };
    let x: PartitionReply =
        serde_json::from_slice(&ask_replica(&client, &names, 0, "a", &top).await).unwrap();
    let y: PartitionReply =
        serde_json::from_slice(&ask_replica(&client, &names, 0, "b", &top).await).unwrap();
    assert_eq!(x.result, y.result);
    assert_eq!(totals_via_router(&client, &names).await, ledger.per_tag);
    drop(a);

    // A router process stops on SIGTERM with exit 0.
    let mut router = std::process::Command::new(env!("CARGO_BIN_EXE_trendlog-cluster"))
        .args([
            "--server",
            &cluster.urls().join(","),
            "--prefix",
            "st",
            "-P",
            "1",
            "router",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once it serves, a request through it is answered.
    let ask = Request::Status;
    let body = serde_json::to_vec(&ask).unwrap();
    let t = std::time::Instant::now();
    loop {
        let r = client
            .send_request(
                names.router(),
                async_nats::Request::new()
                    .payload(body.clone().into())
                    .timeout(Some(Duration::from_secs(5))),
            )
            .await;
        if r.is_ok() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the router never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &router.id().to_string()])
        .status();
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(s) = router.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = router.kill();
            panic!("the router did not stop on SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
}
