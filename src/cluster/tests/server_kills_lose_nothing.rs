//! kill -9 of a NATS server (one of three, in turn) while events are being
//! published and applied, 20 times: publishers retry with the same message id,
//! runners resume from their stores, and every replica ends with exactly the
//! acknowledged events.

mod common;

use std::time::Duration;

use common::*;
use trendlog_cluster::partition::Names;

/// 20 in CI; `TRENDLOG_CLUSTER_SOAK=1` makes it 100.
fn server_kills() -> u32 {
    if std::env::var_os("TRENDLOG_CLUSTER_SOAK").is_some() {
        100
    } else {
        20
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_kills_lose_nothing() {
    let bin = require_nats!();
    let t0 = std::time::Instant::now();
    let mut cluster = Cluster::start(&bin, None);
    let names = Names::new("sk", 2).unwrap();
    let client = cluster.client().await;
    streams(&client, &names).await;
    let stores = cluster.stores();
    let mut runners = Vec::new();
    for p in 0..2 {
        for r in ["a", "b"] {
            runners.push(Runner::start(
                &cluster,
                "sk",
                2,
                p,
                r,
                &stores.join(format!("p{p}-{r}")),
                &[],
            ));
        }
    }
    let publisher = publish_rounds(
        client.clone(),
        names.clone(),
        "sk-pub",
        21,
        20_000,
        200,
        Duration::from_millis(5),
        1_000,
    );
    let mut restarts = Vec::new();
    for i in 0..server_kills() {
        let victim = (i % 3) as usize;
        tokio::time::sleep(Duration::from_millis(300)).await;
        cluster.kill(victim);
        tokio::time::sleep(Duration::from_millis(200)).await;
        cluster.restart(victim);
        let t = std::time::Instant::now();
        tokio::task::block_in_place(|| cluster.wait_healthy(victim, Duration::from_secs(90)));
        restarts.push(t.elapsed().as_secs_f64());
        assert!(
            !publisher.is_finished(),
            "the publisher stopped early (it panics when a message is never acknowledged)"
        );
    }
    let (ledger, rounds) = publisher.stop().await;
    // The stream's last sequence as its leader reports it, but never less
    // than the highest sequence the publisher was acknowledged: a leader
    // elected a moment ago may not have applied all of its log yet.
    let last: Vec<u64> = stream_last(&client, &names)
        .await
        .into_iter()
        .enumerate()
        .map(|(p, l)| {
            let acked = ledger.last_sequence.get(&names.stream(p as u32)).copied();
            l.max(acked.unwrap_or(0))
        })
        .collect();
    wait_caught_up(
        &client,
        &names,
        &[(0, "a"), (0, "b"), (1, "a"), (1, "b")],
        &last,
        Duration::from_secs(60),
    )
    .await;
    let got = totals_via_router(&client, &names).await;
    if got != ledger.per_tag {
        // Say which layer lost or doubled events: JetStream (the streams do
        // not hold exactly what it acknowledged) or the replicas (they do not
        // hold exactly what the streams hold).
        let stored = stream_contents(&client, &names, &last).await;
        let (js_tags, js_net) = totals_diff(&ledger.per_tag, &stored.per_tag);
        let (rep_tags, rep_net) = totals_diff(&stored.per_tag, &got);
        panic!(
            "router totals differ from acknowledged totals; the streams (read back from their \
             leaders up to {last:?}) differ from what JetStream acknowledged on {} tags (net \
             {js_net}), ids stored twice {:?}, unreadable {:?}; the router differs from the \
             streams on {} tags (net {rep_net}): {:?}",
            js_tags.len(),
            stored.stored_twice,
            stored.unreadable,
            rep_tags.len(),
            rep_tags.iter().take(20).collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        got, ledger.per_tag,
        "router totals differ from acknowledged totals"
    );
    for p in 0..2 {
        for r in ["a", "b"] {
            let q = trendlog_cluster::wire::Request::Top {
                from: 0,
                to: 2_000_000_000,
                k: 100_000,
                allow_partial: false,
            };
            let reply: trendlog_cluster::wire::PartitionReply =
                serde_json::from_slice(&ask_replica(&client, &names, p, r, &q).await).unwrap();
            let Ok(trendlog_cluster::wire::Answer::Top(rows)) = reply.result else {
                panic!("replica {p}/{r} refused")
            };
            for row in rows {
                assert_eq!(
                    Some(&row.count),
                    ledger.per_tag.get(&row.tag),
                    "replica {p}/{r} tag {}",
                    row.tag
                );
            }
        }
    }
    restarts.sort_by(f64::total_cmp);
    eprintln!(
        "server_kills_lose_nothing: {} server kills; {} events ({} posts) in {} messages acknowledged, \
         {} publish retries, {} duplicate acks, {rounds} rounds; restart to healthy median {:.2} s, max {:.2} s; exact; {:.1} s",
        cluster.kills, ledger.events, ledger.posts, ledger.messages, ledger.retries, ledger.duplicates,
        restarts[restarts.len() / 2], restarts[restarts.len() - 1], t0.elapsed().as_secs_f64()
    );
    assert!(cluster.kills >= server_kills());
}
