//! Every event a publisher reports acknowledged is counted, whatever its
//! time: events stamped days apart (a backfill of months of history), then
//! one stamped with the clock. A runner used to measure its store's
//! future-skew bound from the store's newest minute alone, so it refused an
//! event a day past the data it held (and, after it, live traffic) although
//! the publisher had reported it acknowledged. The bound now runs from the
//! time the stream stored the message, the same for every replica: a replica
//! replaying the stream later answers byte for byte like the first. An event
//! too far past the publisher's own clock is refused before it is sent.

mod common;

use std::time::Duration;

use common::*;
use trendlog_cluster::partition::Names;
use trendlog_cluster::publish::Publisher;
use trendlog_cluster::wire::{Answer, PartitionReply, Request, TopRow};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_count_whatever_their_times() {
    let bin = require_nats!();
    let cluster = Cluster::start(&bin, None);
    let names = Names::new("tm", 1).unwrap();
    let client = cluster.client().await;
    streams(&client, &names).await;
    let stores = cluster.stores();
    let store = |r: &str| stores.join(format!("p0-{r}"));
    let a = Runner::start(&cluster, "tm", 1, 0, "a", &store("a"), &[]);

    let now = unix_now() as i64;
    let t0 = 1_704_067_200; // 2024-01-01
    let mut p = Publisher::new(client.clone(), names.clone(), "tm-pub", 2);
    for (tag, ts, count) in [
        ("gap", t0, 1),
        ("gap", t0 + 2 * 86_400, 10),
        ("gap", t0 + 40 * 86_400, 100),
        ("live", now, 5),
        ("late", t0 + 86_400, 7),
        ("ahead", now + 3 * 86_400, 9),
    ] {
        p.add(tag, ts, count).await.unwrap();
    }
    assert_eq!(p.rejected_times, 1, "the event 3 days ahead is not sent");
    let ledger = p.finish().await.unwrap();
    assert_eq!(ledger.events, 5);

    let last = stream_last(&client, &names).await;
    wait_caught_up(&client, &names, &[(0, "a")], &last, Duration::from_secs(60)).await;
    let top = Request::Top {
        from: 0,
        to: now + 2 * 86_400,
        k: 100,
        allow_partial: false,
    };
    let x = ask_replica(&client, &names, 0, "a", &top).await;
    let reply: PartitionReply = serde_json::from_slice(&x).unwrap();
    let Ok(Answer::Top(rows)) = reply.result else {
        panic!("{reply:?}");
    };
    let got: std::collections::BTreeMap<String, u64> = rows
        .into_iter()
        .map(|TopRow { tag, count }| (tag, count))
        .collect();
    assert_eq!(
        got,
        ledger.per_tag,
        "{}",
        std::fs::read_to_string(&a.log).unwrap()
    );
    assert_eq!(reply.status.refused, 0);

    // A replica replaying the whole stream now decides exactly as `a` did.
    let _b = Runner::start(&cluster, "tm", 1, 0, "b", &store("b"), &[]);
    wait_caught_up(&client, &names, &[(0, "b")], &last, Duration::from_secs(60)).await;
    let y: PartitionReply =
        serde_json::from_slice(&ask_replica(&client, &names, 0, "b", &top).await).unwrap();
    let x: PartitionReply = serde_json::from_slice(&x).unwrap();
    assert_eq!(x.result, y.result);
}
