//! A runner whose consumer is deleted recreates it (the watchdog). A replica
//! rebuilt from a copy of a live peer's sealed store replays only the
//! stream after the copy's position; a replica started empty replays the
//! stream from its start; a restarted replica catches up; all answer byte for
//! byte like their peers with exactly the acknowledged totals. A partition
//! with no live replica is named by the router, which refuses the answer
//! unless a partial one was asked for: never a silently partial answer.

mod common;

use std::time::Duration;

use common::*;
use trendlog_cluster::partition::{partition_of, Names};
use trendlog_cluster::router;
use trendlog_cluster::runner::request_copy;
use trendlog_cluster::wire::{Answer, PartitionReply, Request};
use trendlog_cluster::Error;

/// The router's timeout where a partition is expected missing: the
/// product's default, so a live partition slowed by a loaded machine still
/// answers in time.
const MISSING_WAIT: Duration = Duration::from_secs(2);

fn status_position(bytes: &[u8]) -> u64 {
    let r: PartitionReply = serde_json::from_slice(bytes).unwrap();
    r.status.position
}

async fn same_answers(client: &async_nats::Client, names: &Names, p: u32, a: &str, b: &str) {
    for q in [
        Request::Top {
            from: 0,
            to: 2_000_000_000,
            k: 100_000,
            allow_partial: false,
        },
        Request::Trending {
            at: Some(trendlog_cluster::workload::DAY_START + 18 * 3600),
            window_secs: 3600,
            baseline_secs: 4 * 3600,
            k: 40,
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
    ] {
        let x: PartitionReply =
            serde_json::from_slice(&ask_replica(client, names, p, a, &q).await).unwrap();
        let y: PartitionReply =
            serde_json::from_slice(&ask_replica(client, names, p, b, &q).await).unwrap();
        assert_eq!(
            serde_json::to_vec(&x.result).unwrap(),
            serde_json::to_vec(&y.result).unwrap(),
            "{p}/{a} and {p}/{b} differ on {q:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_rebuild_and_report_missing() {
    let bin = require_nats!();
    let t0 = std::time::Instant::now();
    let cluster = Cluster::start(&bin, None);
    let names = Names::new("rb", 2).unwrap();
    let client = cluster.client().await;
    streams(&client, &names).await;
    let stores = cluster.stores();
    let store = |p: u32, r: &str| stores.join(format!("p{p}-{r}"));
    let mut a: Vec<Runner> = (0..2)
        .map(|p| Runner::start(&cluster, "rb", 2, p, "a", &store(p, "a"), &[]))
        .collect();

    // Round 0, applied by the a replicas.
    let mut ledger = publish_one_round(&client, &names, "rb-pub0", 31, 20_000).await;
    let last = stream_last(&client, &names).await;
    wait_caught_up(
        &client,
        &names,
        &[(0, "a"), (1, "a")],
        &last,
        Duration::from_secs(60),
    )
    .await;

    // The watchdog: partition 0's consumer vanishes under its runner; the runner
    // must notice the stream is ahead and recreate it (checked by catching up below).
    // Retried: one JetStream call can fail during a leader election on a
    // loaded machine.
    let js = async_nats::jetstream::new(client.clone());
    let t = std::time::Instant::now();
    loop {
        let deleted = match js.get_stream(names.stream(0)).await {
            Ok(s0) => s0.delete_consumer("a").await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match deleted {
            // A retry after a delete whose reply was lost finds it gone.
            Ok(_) => break,
            Err(e) if e.to_lowercase().contains("not found") => break,
            Err(e) => assert!(t.elapsed() < Duration::from_secs(60), "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Copies of the a replicas, sealed, at their positions.
    let mut copied = Vec::new();
    for p in 0..2 {
        let pos = request_copy(&client, &names, p, "a", &store(p, "c"))
            .await
            .unwrap();
        assert_eq!(pos, last[p as usize], "the copy holds everything applied");
        copied.push(pos);
    }
    // What copy says when it fails. Before, a failure on the replica's side
    // read "a NATS call failed", and one to a replica that does not run
    // "a NATS call failed: no responders".
    let again = request_copy(&client, &names, 0, "a", &store(0, "c"))
        .await
        .unwrap_err();
    assert!(matches!(again, Error::Copy(_)), "{again:?}");
    let said = again.to_string();
    assert!(
        said.contains("replica a of partition 0 could not copy its store")
            && said.contains("exists")
            && !said.contains("NATS"),
        "{said}"
    );
    let nobody = request_copy(&client, &names, 0, "nobody", &store(0, "x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        nobody.contains("replica nobody of partition 0 is not running"),
        "{nobody}"
    );
    assert!(!store(0, "x").exists());
    let beyond = request_copy(&client, &names, 2, "a", &store(2, "c")).await;
    assert!(matches!(beyond, Err(Error::Config(_))), "{beyond:?}");
    // More events while the new replicas start from the copies.
    let more = publish_rounds(
        client.clone(),
        names.clone(),
        "rb-pub1",
        32,
        20_000,
        200,
        Duration::from_millis(5),
        1,
    );
    let c: Vec<Runner> = (0..2)
        .map(|p| Runner::start(&cluster, "rb", 2, p, "c", &store(p, "c"), &[]))
        .collect();
    // And one replica of partition 0 rebuilt from the stream start.
    let d = Runner::start(&cluster, "rb", 2, 0, "d", &store(0, "d"), &[]);
    // A restarted replica catches up.
    a[1].kill();
    let (l1, _) = more.join().await;
    add_totals(&mut ledger.per_tag, &l1.per_tag);
    a[1] = Runner::start(&cluster, "rb", 2, 1, "a", &store(1, "a"), &[]);
    let last = stream_last(&client, &names).await;
    wait_caught_up(
        &client,
        &names,
        &[(0, "a"), (1, "a"), (0, "c"), (1, "c"), (0, "d")],
        &last,
        Duration::from_secs(60),
    )
    .await;
    for p in 0..2 {
        let pos = status_position(&ask_replica(&client, &names, p, "c", &Request::Status).await);
        assert_eq!(pos, last[p as usize]);
        assert!(
            copied[p as usize] > 0 && copied[p as usize] < last[p as usize],
            "the copy replayed only the tail"
        );
        same_answers(&client, &names, p, "a", "c").await;
    }
    same_answers(&client, &names, 0, "a", "d").await;
    let log = std::fs::read_to_string(&a[0].log).unwrap();
    assert!(
        log.contains("recreating consumer"),
        "the watchdog did not act:\n{log}"
    );
    assert_eq!(totals_via_router(&client, &names).await, ledger.per_tag);
    // Only c and d answer for their partitions now: still exact.
    a[0].kill();
    a[1].kill();
    assert_eq!(totals_via_router(&client, &names).await, ledger.per_tag);

    // Partition 1 without any live replica.
    let mut c = c;
    c[1].kill();
    let top = Request::Top {
        from: 0,
        to: 2_000_000_000,
        k: 10,
        allow_partial: false,
    };
    let reply = router::route(&client, &names, &top, MISSING_WAIT).await;
    assert_eq!(reply.answer, None, "a partial answer must be refused");
    assert_eq!(reply.missing, vec![1]);
    assert!(
        reply.error.as_deref().unwrap_or("").contains("[1]"),
        "{reply:?}"
    );
    let partial = Request::Top {
        from: 0,
        to: 2_000_000_000,
        k: 10,
        allow_partial: true,
    };
    let reply = router::route(&client, &names, &partial, MISSING_WAIT).await;
    assert!(matches!(reply.answer, Some(Answer::Top(ref rows)) if !rows.is_empty()));
    assert_eq!(reply.missing, vec![1]);
    let trending = Request::Trending {
        at: None,
        window_secs: 3600,
        baseline_secs: 3600,
        k: 5,
        min_count: 1,
        prior: 1.0 / 60.0,
        allow_partial: false,
    };
    let reply = router::route(&client, &names, &trending, MISSING_WAIT).await;
    assert_eq!((reply.answer, reply.missing), (None, vec![1]));
    let (tag0, tag1) = {
        let mut t0 = None;
        let mut t1 = None;
        for i in 0..100 {
            let t = format!("tag{i}");
            match partition_of(&t, 2).unwrap() {
                0 if t0.is_none() => t0 = Some(t),
                1 if t1.is_none() => t1 = Some(t),
                _ => {}
            }
        }
        (t0.unwrap(), t1.unwrap())
    };
    let total = |tag: &str| Request::Total {
        tag: tag.into(),
        from: 0,
        to: 2_000_000_000,
    };
    let reply = router::route(&client, &names, &total(&tag1), MISSING_WAIT).await;
    assert_eq!((reply.answer, reply.missing), (None, vec![1]));
    let reply = router::route(&client, &names, &total(&tag0), MISSING_WAIT).await;
    assert_eq!(reply.answer, Some(Answer::Total(ledger.per_tag[&tag0])));
    // A replica comes back: complete again.
    let _c1 = Runner::start(&cluster, "rb", 2, 1, "c", &store(1, "c"), &[]);
    wait_caught_up(&client, &names, &[(1, "c")], &last, Duration::from_secs(60)).await;
    let reply = router::route(&client, &names, &total(&tag1), Duration::from_secs(2)).await;
    assert_eq!(reply.answer, Some(Answer::Total(ledger.per_tag[&tag1])));
    drop(d);
    eprintln!(
        "replicas_rebuild_and_report_missing: copies at {copied:?}, streams at {last:?}; exact; {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
