//! A replica killed a moment ago can still be handed a request by its queue
//! group until the server notices the closed connection. The router hedges:
//! a request unanswered for a quarter of its timeout is sent again, so a live
//! replica answers and the partition is not reported missing.

mod common;

use std::time::Duration;

use futures::StreamExt;
use trendlog_cluster::partition::Names;
use trendlog_cluster::router::ask_partition;
use trendlog_cluster::wire::{Answer, PartitionReply, PartitionStatus, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_hedges_past_a_dead_replica() {
    let bin = require_nats!();
    let cluster = common::Cluster::start(&bin, None);
    let names = Names::new("hd", 1).unwrap();
    let client = cluster.client().await;

    // The live replica answers every request.
    let mut live = client
        .queue_subscribe(names.query_any(0), "replicas".into())
        .await
        .unwrap();
    let answerer = client.clone();
    tokio::spawn(async move {
        while let Some(m) = live.next().await {
            let reply = PartitionReply {
                status: PartitionStatus {
                    partition: 0,
                    replica: "live".into(),
                    position: 7,
                    now_end: None,
                    refused: 0,
                },
                result: Ok(Answer::Top(Vec::new())),
            };
            if let Some(to) = m.reply {
                let body = serde_json::to_vec(&reply).unwrap();
                answerer.publish(to, body.into()).await.unwrap();
            }
        }
    });

    // Eight rounds, each with a fresh "dead" member that swallows what it is
    // handed and leaves the group 200 ms later (the server noticing). Without
    // a hedge each round fails with probability one half.
    let req = Request::Status;
    for round in 0..8 {
        let mut dead = client
            .queue_subscribe(names.query_any(0), "replicas".into())
            .await
            .unwrap();
        client.flush().await.unwrap();
        let gone = tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_millis(200), async {
                while dead.next().await.is_some() {}
            })
            .await;
            dead.unsubscribe().await.unwrap();
        });
        let reply = ask_partition(&client, &names, 0, &req, Duration::from_secs(2))
            .await
            .unwrap();
        let reply = reply.unwrap_or_else(|| panic!("round {round}: partition reported missing"));
        assert_eq!(reply.status.replica, "live");
        gone.await.unwrap();
    }
}
