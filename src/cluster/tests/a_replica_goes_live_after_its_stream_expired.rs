//! A replica started after every message of its stream expired (the
//! stream's max age, on a partition idle for longer) has nothing to apply:
//! it goes live and answers, instead of waiting forever for messages that
//! are gone while its watchdog recreates the consumer again and again.

mod common;

use std::time::{Duration, Instant};

use common::*;
use trendlog_cluster::connect::{ensure_streams, StreamSettings};
use trendlog_cluster::partition::Names;
use trendlog_cluster::wire::{PartitionReply, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_goes_live_after_its_stream_expired() {
    let bin = require_nats!();
    let cluster = Cluster::start(&bin, None);
    let names = Names::new("ex", 1).unwrap();
    let client = cluster.client().await;
    let settings = StreamSettings {
        max_age: Duration::from_secs(2),
        duplicate_window: Duration::from_secs(1),
        ..StreamSettings::default()
    };
    ensure_streams(&client, &names, &settings).await.unwrap();
    let ledger = publish_one_round(&client, &names, "ex-pub", 7, 2_000).await;
    assert!(ledger.messages > 0);
    // Wait until the server has expired every message.
    let js = async_nats::jetstream::new(client.clone());
    let t = Instant::now();
    loop {
        let mut s = js.get_stream(names.stream(0)).await.unwrap();
        let st = s.info().await.unwrap().state.clone();
        if st.messages == 0 && st.last_sequence > 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "never expired: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stores = cluster.stores();
    let runner = Runner::start(&cluster, "ex", 1, 0, "a", &stores.join("p0-a"), &[]);
    // It answers on its own subject once live.
    let t = Instant::now();
    let reply: PartitionReply = loop {
        let body = serde_json::to_vec(&Request::Status).unwrap();
        let got = client
            .send_request(
                names.query_replica(0, "a"),
                async_nats::Request::new()
                    .payload(body.into())
                    .timeout(Some(Duration::from_secs(2))),
            )
            .await;
        if let Ok(m) = got {
            break serde_json::from_slice(&m.payload).unwrap();
        }
        let log = std::fs::read_to_string(&runner.log).unwrap_or_default();
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the replica never went live:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reply.status.position, 0, "nothing was there to apply");
    let log = std::fs::read_to_string(&runner.log).unwrap();
    assert!(log.contains("are gone from the stream"), "{log}");
    assert!(!log.contains("recreating consumer"), "{log}");
}
