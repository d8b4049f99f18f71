//! kill -9 of shard runners mid-batch (before the commit) and between commit
//! and ack, 20 of each, plus kills at random moments, while events are being
//! published: every replica ends with exactly the acknowledged events (none
//! lost, none doubled), replicas of a partition answer byte for byte alike,
//! and the router's merged answers equal one store over the same data.

mod common;

use std::time::Duration;

use common::*;
use trendlog_cluster::partition::Names;
use trendlog_cluster::router;
use trendlog_cluster::wire::Request;

/// 20 per kind in CI; `TRENDLOG_CLUSTER_SOAK=1` makes it 200.
fn kills_per_kind() -> u32 {
    if std::env::var_os("TRENDLOG_CLUSTER_SOAK").is_some() {
        200
    } else {
        20
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_kills_lose_nothing() {
    let bin = require_nats!();
    let t0 = std::time::Instant::now();
    let cluster = Cluster::start(&bin, None);
    let names = Names::new("rk", 2).unwrap();
    let client = cluster.client().await;
    streams(&client, &names).await;
    let stores = cluster.stores();
    let store = |p: u32, r: &str| stores.join(format!("p{p}-{r}"));
    let mut runners: Vec<Runner> = Vec::new();
    for p in 0..2 {
        for r in ["a", "b"] {
            runners.push(Runner::start(&cluster, "rk", 2, p, r, &store(p, r), &[]));
        }
    }
    let publisher = publish_rounds(
        client.clone(),
        names.clone(),
        "rk-pub",
        11,
        20_000,
        100,
        Duration::from_millis(8),
        1_000,
    );

    let (mut mid, mut after, mut random) = (0u32, 0u32, 0u32);
    let mut i = 0u32;
    while mid < kills_per_kind() || after < kills_per_kind() {
        // Runner index 1 and 3 are the "b" replicas; they take the injected faults.
        let idx = if (i / 2).is_multiple_of(2) { 1 } else { 3 };
        let p = runners[idx].partition;
        let (flag, kind) = if i.is_multiple_of(2) {
            ("--fault-mid-batch", 0)
        } else {
            ("--fault-after-commit", 1)
        };
        let nth = 1 + u64::from(i % 3);
        runners[idx].kill();
        runners[idx] = Runner::start(
            &cluster,
            "rk",
            2,
            p,
            "b",
            &store(p, "b"),
            &[flag.into(), nth.to_string(), "--fetch".into(), "4".into()],
        );
        assert!(
            runners[idx].wait_killed(Duration::from_secs(20)),
            "runner {p}/b did not hit its fault {flag} {nth}"
        );
        if kind == 0 {
            mid += 1
        } else {
            after += 1
        }
        // Every third cycle, kill an "a" replica at a random moment too.
        if i.is_multiple_of(3) {
            let idx = if i.is_multiple_of(2) { 0 } else { 2 };
            let p = runners[idx].partition;
            tokio::time::sleep(Duration::from_millis(u64::from(i * 37 % 200))).await;
            runners[idx].kill();
            random += 1;
            runners[idx] = Runner::start(&cluster, "rk", 2, p, "a", &store(p, "a"), &[]);
        }
        i += 1;
    }
    // Restart the b replicas without faults: they must catch up.
    for idx in [1, 3] {
        let p = runners[idx].partition;
        runners[idx].kill();
        runners[idx] = Runner::start(&cluster, "rk", 2, p, "b", &store(p, "b"), &[]);
    }
    let (ledger, rounds) = publisher.stop().await;
    let last = stream_last(&client, &names).await;
    wait_caught_up(
        &client,
        &names,
        &[(0, "a"), (0, "b"), (1, "a"), (1, "b")],
        &last,
        Duration::from_secs(60),
    )
    .await;

    // Exactly what was acknowledged: no loss, no double.
    let got = totals_via_router(&client, &names).await;
    assert_eq!(
        got, ledger.per_tag,
        "router totals differ from acknowledged totals"
    );
    assert_eq!(got.values().sum::<u64>(), ledger.posts);

    // Replicas of one partition answer identically, byte for byte.
    let queries = [
        Request::Top {
            from: 0,
            to: 2_000_000_000,
            k: 100_000,
            allow_partial: false,
        },
        Request::Trending {
            at: Some(trendlog_cluster::workload::DAY_START + 20 * 3600),
            window_secs: 3600,
            baseline_secs: 6 * 3600,
            k: 50,
            min_count: 1,
            prior: 1.0 / 60.0,
            allow_partial: false,
        },
        Request::Series {
            tag: "metoo".into(),
            from: trendlog_cluster::workload::DAY_START,
            to: trendlog_cluster::workload::DAY_START + 86_400,
            step: "1m".into(),
        },
        Request::Series {
            tag: "tag0".into(),
            from: trendlog_cluster::workload::DAY_START,
            to: trendlog_cluster::workload::DAY_START + 86_400,
            step: "1m".into(),
        },
    ];
    for p in 0..2 {
        for q in &queries {
            let a: trendlog_cluster::wire::PartitionReply =
                serde_json::from_slice(&ask_replica(&client, &names, p, "a", q).await).unwrap();
            let b: trendlog_cluster::wire::PartitionReply =
                serde_json::from_slice(&ask_replica(&client, &names, p, "b", q).await).unwrap();
            let (a, b) = (
                serde_json::to_vec(&a.result).unwrap(),
                serde_json::to_vec(&b.result).unwrap(),
            );
            assert_eq!(a, b, "replicas of partition {p} differ on {q:?}");
        }
    }

    // The merged answers equal one store over the same events.
    let dir = tempfile::tempdir().unwrap();
    let single = single_store(dir.path(), 11, 20_000, rounds);
    for q in [
        Request::Top {
            from: 0,
            to: 2_000_000_000,
            k: 25,
            allow_partial: false,
        },
        Request::Trending {
            at: None,
            window_secs: 3600,
            baseline_secs: 6 * 3600,
            k: 25,
            min_count: 5,
            prior: 1.0 / 60.0,
            allow_partial: false,
        },
        Request::Total {
            tag: "#MeToo".into(),
            from: 0,
            to: 2_000_000_000,
        },
    ] {
        let reply = router::route(&client, &names, &q, Duration::from_secs(5)).await;
        let want = trendlog_cluster::query::answer(&single, &q).unwrap();
        assert_eq!(
            reply.answer,
            Some(want),
            "router differs from one store on {q:?}"
        );
    }
    eprintln!(
        "runner_kills_lose_nothing: {mid} mid-batch kills, {after} commit-to-ack kills, {random} random kills; \
         {} events ({} posts) in {} messages acknowledged ({} retries, {} duplicates), {rounds} rounds; exact; {:.1} s",
        ledger.events, ledger.posts, ledger.messages, ledger.retries, ledger.duplicates, t0.elapsed().as_secs_f64()
    );
}
