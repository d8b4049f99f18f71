//! The figures of docs/cluster.md, measured on a loopback 3-server cluster:
//! end-to-end events/s with 1 and 2 runners per partition, publish-to-queryable
//! lag, merged trending latency at P = 4 and 16 against one store over the
//! same data, and the servers' memory. Runs only with
//! `TRENDLOG_CLUSTER_MEASURE=1` (it is a measurement, not a check).

mod common;

use std::time::{Duration, Instant};

use common::*;
use trendlog_cluster::partition::Names;
use trendlog_cluster::router;
use trendlog_cluster::wire::{Answer, Request};

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_cluster() {
    if std::env::var_os("TRENDLOG_CLUSTER_MEASURE").is_none() {
        eprintln!("SKIPPED: set TRENDLOG_CLUSTER_MEASURE=1 to measure the cluster");
        return;
    }
    let bin = require_nats!();
    let events: u64 = std::env::var("TRENDLOG_CLUSTER_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400_000);
    let cluster = Cluster::start(&bin, None);
    let client = cluster.client().await;
    eprintln!(
        "idle 3-server cluster: {} MiB resident",
        cluster.rss_kib() / 1024
    );
    let stores = cluster.stores();
    let mut keep = Vec::new();
    let mut deployments = Vec::new();
    for (prefix, p_count, per) in [("m1", 4u32, 1usize), ("m2", 4, 2), ("m16", 16, 1)] {
        let names = Names::new(prefix, p_count).unwrap();
        streams(&client, &names).await;
        let mut runners = Vec::new();
        let mut parts = Vec::new();
        for p in 0..p_count {
            for r in ["a", "b"].iter().take(per) {
                runners.push(Runner::start(
                    &cluster,
                    prefix,
                    p_count,
                    p,
                    r,
                    &stores.join(format!("{prefix}-{p}-{r}")),
                    &[],
                ));
                parts.push((p, *r));
            }
        }
        // Let every runner reach live before timing.
        let zero = vec![0; p_count as usize];
        let parts_ref: Vec<(u32, &str)> = parts.iter().map(|(p, r)| (*p, *r)).collect();
        wait_caught_up(&client, &names, &parts_ref, &zero, Duration::from_secs(60)).await;
        let t = Instant::now();
        let (ledger, _) = publish_rounds(
            client.clone(),
            names.clone(),
            prefix,
            51,
            events,
            1000,
            Duration::ZERO,
            1,
        )
        .join()
        .await;
        let published = t.elapsed().as_secs_f64();
        let last = stream_last(&client, &names).await;
        wait_caught_up(&client, &names, &parts_ref, &last, Duration::from_secs(600)).await;
        let applied = t.elapsed().as_secs_f64();
        eprintln!(
            "{prefix}: P={p_count}, {per} runner(s) per partition: {} events published in {published:.2} s ({:.0} events/s acknowledged), \
             applied by every replica after {applied:.2} s ({:.0} events/s end to end)",
            ledger.events, ledger.events as f64 / published, ledger.events as f64 / applied
        );
        deployments.push((names, p_count));
        keep.push(runners);
    }
    eprintln!(
        "3-server cluster after loading {} events x3 deployments: {} MiB resident",
        events,
        cluster.rss_kib() / 1024
    );

    // Publish -> queryable lag, through the router, with runners idle.
    let names = &deployments[0].0;
    let mut lags = Vec::new();
    let mut p = trendlog_cluster::publish::Publisher::new(client.clone(), names.clone(), "lag", 1);
    for i in 0..30 {
        let tag = format!("lagprobe{i}");
        let t = Instant::now();
        p.add(&tag, trendlog_cluster::workload::DAY_START + 80_000, 1)
            .await
            .unwrap();
        p.flush().await.unwrap();
        let q = Request::Total {
            tag: tag.clone(),
            from: 0,
            to: 2_000_000_000,
        };
        loop {
            let r = router::route(&client, names, &q, Duration::from_secs(2)).await;
            if r.answer == Some(Answer::Total(1)) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "lag probe never queryable"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        lags.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    eprintln!("publish -> queryable (router total): median {:.2} ms, p90 {:.2} ms, max {:.2} ms over 30 probes", pct(&mut lags, 0.5), pct(&mut lags, 0.9), pct(&mut lags, 1.0));

    // Merged trending against one store over the same data.
    let dir = tempfile::tempdir().unwrap();
    let single = single_store(dir.path(), 51, events, 1);
    let q = Request::Trending {
        at: None,
        window_secs: 3600,
        baseline_secs: 24 * 3600,
        k: 10,
        min_count: 10,
        prior: 1.0 / 60.0,
        allow_partial: false,
    };
    let mut one = Vec::new();
    let want = trendlog_cluster::query::answer(&single, &q).unwrap();
    for _ in 0..20 {
        let t = Instant::now();
        let a = trendlog_cluster::query::answer(&single, &q).unwrap();
        one.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(a, want);
    }
    eprintln!(
        "trending, one embedded store, in process: median {:.2} ms",
        pct(&mut one, 0.5)
    );
    for (names, pc) in [&deployments[0], &deployments[2]] {
        let mut lat = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let r = router::route(&client, names, &q, Duration::from_secs(5)).await;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(r.answer.is_some(), "{r:?}");
        }
        eprintln!(
            "trending via router, P={pc}: median {:.2} ms, p90 {:.2} ms",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.9)
        );
    }
    let r16 = router::route(&client, &deployments[2].0, &q, Duration::from_secs(5)).await;
    assert_eq!(
        r16.answer,
        Some(want),
        "P=16 merged trending equals the single store"
    );
    eprintln!(
        "3-server cluster at the end: {} MiB resident",
        cluster.rss_kib() / 1024
    );
}
