//! A test harness: a 3-server JetStream cluster on free loopback ports with its
//! own folders, shard runner processes, and helpers to check answers. Every
//! process is killed when its guard drops, on panic too.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use trendlog_cluster::connect::{ensure_streams, Connection, StreamSettings};
use trendlog_cluster::partition::Names;
use trendlog_cluster::router;
use trendlog_cluster::wire::{Answer, Request, RouterReply, TopRow};

/// The nats-server binary, or `None` (the caller skips with a message).
pub fn nats_server() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TRENDLOG_NATS_SERVER_BIN") {
        // An explicit choice: a missing file means "no server", never a fallback.
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/bin".into()])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// Returns early from a test when nats-server is absent.
#[macro_export]
macro_rules! require_nats {
    () => {
        match common::nats_server() {
            Some(p) => p,
            None => {
                eprintln!(
                    "SKIPPED: nats-server is not installed (apt-get install nats-server); \
                     this cluster test needs a real server"
                );
                return;
            }
        }
    };
}

/// The wall clock in unix seconds (publishers stamp events with it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A free port on 127.0.0.1, below the kernel's ephemeral range. A port
/// from `bind(0)` comes from that range, and between its check and the
/// server's own bind the kernel may give it to the local end of any
/// outgoing connection (the servers' routes to each other among them): the
/// server then fails with "address already in use", as one CI run did. Below
/// the range only another listener can take it. Each call in a process
/// takes the next port of a sequence starting at a random point (so that
/// test processes running side by side rarely meet) and checks it is free.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (lo, width) = below_ephemeral();
    if width > 0 {
        let start = *START.get_or_init(|| RandomState::new().hash_one(std::process::id()) as u32);
        for _ in 0..width {
            let k = NEXT.fetch_add(1, Ordering::Relaxed);
            // 7919 is prime and `below_ephemeral` keeps the width off its
            // multiples: the sequence visits every port of the span once.
            let port = lo + start.wrapping_add(k.wrapping_mul(7919)) % width;
            let Ok(port) = u16::try_from(port) else {
                continue;
            };
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The span of ports tests take: from 10,000 up to the kernel's ephemeral
/// range (`ip_local_port_range`, 32768 by default), as (first, width);
/// width 0 when that range starts too low to leave room.
fn below_ephemeral() -> (u32, u32) {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let lo = 10_000;
    let width = low.saturating_sub(lo);
    // `free_port` steps by the prime 7919, which must not divide the width.
    let width = if width % 7919 == 0 { width - 1 } else { width };
    (lo, if width >= 1000 { width } else { 0 })
}

/// Settings for a secured cluster.
#[derive(Clone)]
pub struct Secure {
    pub user: String,
    pub password: String,
    /// (CA, server cert, server key), PEM files; `None`: no TLS.
    pub tls: Option<(PathBuf, PathBuf, PathBuf)>,
}

struct Server {
    name: String,
    port: u16,
    http: u16,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A 3-server JetStream cluster on loopback.
pub struct Cluster {
    bin: PathBuf,
    pub dir: tempfile::TempDir,
    servers: Vec<Server>,
    pub secure: Option<Secure>,
    pub kills: u32,
}

impl Cluster {
    pub fn start(bin: &Path, secure: Option<Secure>) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let n = 3;
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let mut servers = Vec::new();
        for i in 0..n {
            let (port, cport, http) = ports[i];
            let routes: Vec<String> = (0..n)
                .filter(|&j| j != i)
                .map(|j| format!("\"nats-route://127.0.0.1:{}\"", ports[j].1))
                .collect();
            let store = dir.path().join(format!("js{i}"));
            let mut conf = format!(
                "server_name: n{i}\nlisten: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{http}\"\n\
                 jetstream {{ store_dir: \"{}\", max_memory_store: 64MB, max_file_store: 1GB }}\n\
                 cluster {{ name: tl, listen: \"127.0.0.1:{cport}\", routes: [{}] }}\n",
                store.display(),
                routes.join(", ")
            );
            if let Some(s) = &secure {
                conf.push_str(&format!(
                    "authorization {{ users: [ {{ user: \"{}\", password: \"{}\" }} ] }}\n",
                    s.user, s.password
                ));
                if let Some((ca, cert, key)) = &s.tls {
                    conf.push_str(&format!(
                        "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", timeout: 3 }}\n",
                        cert.display(),
                        key.display(),
                        ca.display()
                    ));
                }
            }
            let path = dir.path().join(format!("n{i}.conf"));
            std::fs::write(&path, conf).expect("write server config");
            servers.push(Server {
                name: format!("n{i}"),
                port,
                http,
                conf: path,
                log: dir.path().join(format!("n{i}.log")),
                child: None,
            });
        }
        let mut c = Cluster {
            bin: bin.to_path_buf(),
            dir,
            servers,
            secure,
            kills: 0,
        };
        for i in 0..n {
            c.spawn(i);
        }
        for i in 0..n {
            c.wait_healthy(i, Duration::from_secs(60));
        }
        c
    }

    fn spawn(&mut self, i: usize) {
        let s = &mut self.servers[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&s.log)
            .expect("server log");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&s.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        s.child = Some(child);
    }

    /// Waits until server i's /healthz says ok (JetStream current).
    pub fn wait_healthy(&self, i: usize, limit: Duration) {
        let t = Instant::now();
        let mut last = None;
        while t.elapsed() < limit {
            last = http_get(self.servers[i].http, "/healthz");
            if last.as_deref().is_some_and(|b| b.contains("\"ok\"")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(&self.servers[i].log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        panic!(
            "server {} not healthy after {limit:?}; /healthz said {last:?}; log tail (newest first):\n{}",
            self.servers[i].name,
            tail.join("\n")
        );
    }

    /// kill -9 of server i.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
            self.kills += 1;
        }
    }

    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
    }

    pub fn urls(&self) -> Vec<String> {
        let scheme = match &self.secure {
            Some(Secure { tls: Some(_), .. }) => "tls",
            _ => "nats",
        };
        self.servers
            .iter()
            .map(|s| format!("{scheme}://127.0.0.1:{}", s.port))
            .collect()
    }

    /// A client connected to the cluster (waiting up to 30 s for a server).
    pub async fn client(&self) -> async_nats::Client {
        self.connection()
            .connect(Duration::from_secs(30))
            .await
            .expect("connecting to the test cluster")
    }

    /// A fresh directory for the runners' stores.
    pub fn stores(&self) -> PathBuf {
        let stores = self.dir.path().join("stores");
        std::fs::create_dir_all(&stores).expect("stores dir");
        stores
    }

    /// Connection settings with the cluster's credentials.
    pub fn connection(&self) -> Connection {
        let mut c = Connection::new(self.urls());
        if let Some(s) = &self.secure {
            c.user = Some(s.user.clone());
            c.password = Some(s.password.clone());
            c.tls_ca = s.tls.as_ref().map(|t| t.0.clone());
        }
        c
    }

    /// Resident memory of the live servers, KiB.
    pub fn rss_kib(&self) -> u64 {
        self.servers
            .iter()
            .filter_map(|s| s.child.as_ref())
            .map(|c| rss_kib(c.id()))
            .sum()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &mut self.servers {
            if let Some(mut c) = s.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A shard runner process.
pub struct Runner {
    pub partition: u32,
    pub replica: String,
    pub store: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Runner {
    pub fn start(
        cluster: &Cluster,
        names_prefix: &str,
        partitions: u32,
        partition: u32,
        replica: &str,
        store: &Path,
        extra: &[String],
    ) -> Runner {
        let log = cluster
            .dir
            .path()
            .join(format!("runner-{partition}-{replica}.log"));
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("runner log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trendlog-cluster"));
        cmd.arg("--server")
            .arg(cluster.urls().join(","))
            .arg("--prefix")
            .arg(names_prefix)
            .arg("-P")
            .arg(partitions.to_string())
            .arg("node")
            .arg("--partition")
            .arg(partition.to_string())
            .arg("--replica")
            .arg(replica)
            .arg("--store")
            .arg(store)
            .arg("--stall-secs")
            .arg("2")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(logf);
        if let Some(s) = &cluster.secure {
            cmd.env("TRENDLOG_NATS_USER", &s.user)
                .env("TRENDLOG_NATS_PASSWORD", &s.password);
            if let Some((ca, _, _)) = &s.tls {
                cmd.env("TRENDLOG_NATS_TLS_CA", ca);
            }
        }
        let child = cmd.spawn().expect("start runner");
        Runner {
            partition,
            replica: replica.to_owned(),
            store: store.to_path_buf(),
            log,
            child: Some(child),
        }
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits up to `limit` for the process to end by itself; true if it was
    /// killed by signal 9 (its injected fault).
    pub fn wait_killed(&mut self, limit: Duration) -> bool {
        use std::os::unix::process::ExitStatusExt;
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    return st.signal() == Some(9) || st.signal() == Some(6);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit; its
    /// exit status, or `None` if it was still running (then it is killed).
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.pid()?;
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    return Some(st);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        None
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creates the streams.
pub async fn streams(client: &async_nats::Client, names: &Names) {
    ensure_streams(client, names, &StreamSettings::default())
        .await
        .expect("streams");
}

/// Stream last sequences per partition.
pub async fn stream_last(client: &async_nats::Client, names: &Names) -> Vec<u64> {
    let js = async_nats::jetstream::new(client.clone());
    let mut out = Vec::new();
    for p in 0..names.partitions {
        let mut last = None;
        for _ in 0..200 {
            if let Ok(mut s) = js.get_stream(names.stream(p)).await {
                if let Ok(i) = s.info().await {
                    last = Some(i.state.last_sequence);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        out.push(last.expect("stream info"));
    }
    out
}

/// What the streams hold, read back message by message from their leaders
/// up to `last[p]`: the per-tag totals of their events, and each
/// `Nats-Msg-Id` stored more than once with its sequences (a publish retry
/// that the stream's deduplication missed).
pub struct StreamContents {
    pub per_tag: BTreeMap<String, u64>,
    pub stored_twice: Vec<(String, Vec<u64>)>,
    /// (partition, sequence) the leader could not return.
    pub unreadable: Vec<(u32, u64)>,
}

pub async fn stream_contents(
    client: &async_nats::Client,
    names: &Names,
    last: &[u64],
) -> StreamContents {
    let js = async_nats::jetstream::new(client.clone());
    let mut per_tag = BTreeMap::new();
    let mut ids: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for p in 0..names.partitions {
        let stream = js.get_stream(names.stream(p)).await.expect("stream");
        for seq in 1..=last[p as usize] {
            let mut got = None;
            for _ in 0..50 {
                if let Ok(m) = stream.get_raw_message(seq).await {
                    got = Some(m);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let Some(m) = got else {
                unreadable.push((p, seq));
                continue;
            };
            let id = m
                .headers
                .get("Nats-Msg-Id")
                .map(|v| format!("{p}/{}", v.as_str()))
                .unwrap_or_default();
            ids.entry(id).or_default().push(seq);
            for e in trendlog_cluster::wire::decode_events(&m.payload).expect("a stored message") {
                *per_tag.entry(e.tag).or_default() += e.count;
            }
        }
    }
    StreamContents {
        per_tag,
        stored_twice: ids.into_iter().filter(|(_, s)| s.len() > 1).collect(),
        unreadable,
    }
}

/// The tags on which `a` and `b` differ, as "tag a->b", and the sum of b - a.
pub fn totals_diff(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> (Vec<String>, i128) {
    let mut tags = Vec::new();
    let mut net = 0i128;
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (
            a.get(k).copied().unwrap_or(0),
            b.get(k).copied().unwrap_or(0),
        );
        if x != y {
            tags.push(format!("{k} {x}->{y}"));
            net += i128::from(y) - i128::from(x);
        }
    }
    (tags, net)
}

/// Asks one replica directly; its reply as raw bytes (for byte-for-byte comparison).
pub async fn ask_replica(
    client: &async_nats::Client,
    names: &Names,
    p: u32,
    replica: &str,
    req: &Request,
) -> Vec<u8> {
    let body = serde_json::to_vec(req).unwrap();
    let msg = client
        .send_request(
            names.query_replica(p, replica),
            async_nats::Request::new()
                .payload(body.into())
                .timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("replica answers");
    msg.payload.to_vec()
}

/// Waits until replica `replica` of every partition in `parts` has applied
/// up to `last[p]`.
pub async fn wait_caught_up(
    client: &async_nats::Client,
    names: &Names,
    parts: &[(u32, &str)],
    last: &[u64],
    limit: Duration,
) {
    let t = Instant::now();
    for &(p, r) in parts {
        loop {
            let body = serde_json::to_vec(&Request::Status).unwrap();
            let got = client
                .send_request(
                    names.query_replica(p, r),
                    async_nats::Request::new()
                        .payload(body.into())
                        .timeout(Some(Duration::from_secs(2))),
                )
                .await;
            if let Ok(m) = got {
                let reply: trendlog_cluster::wire::PartitionReply =
                    serde_json::from_slice(&m.payload).unwrap();
                if reply.status.position >= last[p as usize] {
                    break;
                }
            }
            assert!(
                t.elapsed() < limit,
                "replica {p}/{r} did not catch up to {} in {limit:?}",
                last[p as usize]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every tag's total over the demo day from the router (top with k = all).
pub async fn totals_via_router(
    client: &async_nats::Client,
    names: &Names,
) -> BTreeMap<String, u64> {
    let req = Request::Top {
        from: trendlog_cluster::workload::DAY_START - 86_400,
        to: trendlog_cluster::workload::DAY_START + 2 * 86_400,
        k: 1_000_000,
        allow_partial: false,
    };
    let reply: RouterReply = router::route(client, names, &req, Duration::from_secs(5)).await;
    assert_eq!(reply.error, None, "router refused: {reply:?}");
    match reply.answer {
        Some(Answer::Top(rows)) => rows
            .into_iter()
            .map(|TopRow { tag, count }| (tag, count))
            .collect(),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Publishes one round of `events` events of the synthetic day (seed
/// `seed`, 500 per message, unpaced) and returns what was acknowledged.
pub async fn publish_one_round(
    client: &async_nats::Client,
    names: &Names,
    id: &str,
    seed: u64,
    events: u64,
) -> trendlog_cluster::publish::Ledger {
    publish_rounds(
        client.clone(),
        names.clone(),
        id,
        seed,
        events,
        500,
        Duration::ZERO,
        1,
    )
    .join()
    .await
    .0
}

/// A publisher publishing rounds of the synthetic day until stopped.
pub struct Background {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: tokio::task::JoinHandle<(trendlog_cluster::publish::Ledger, u64)>,
    pub seed: u64,
    pub per_round: u64,
}

/// Starts publishing rounds of `per_round` events (round r uses seed + r),
/// sleeping `pace` after each message's worth of events.
#[expect(
    clippy::too_many_arguments,
    reason = "a test helper; each argument is one knob of the load"
)]
pub fn publish_rounds(
    client: async_nats::Client,
    names: Names,
    id: &str,
    seed: u64,
    per_round: u64,
    batch: usize,
    pace: Duration,
    max_rounds: u64,
) -> Background {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let id = id.to_owned();
    let handle = tokio::spawn(async move {
        let mut p = trendlog_cluster::publish::Publisher::new(client, names, &id, batch);
        let mut rounds = 0;
        while rounds < max_rounds && !flag.load(std::sync::atomic::Ordering::Relaxed) {
            for (i, e) in trendlog_cluster::workload::Workload::new(seed + rounds, per_round, 2_000)
                .enumerate()
            {
                p.add(&e.tag, e.ts, e.count).await.expect("publish");
                if i % batch == batch - 1 && !pace.is_zero() {
                    tokio::time::sleep(pace).await;
                }
            }
            rounds += 1;
        }
        (
            p.finish().await.expect("every message acknowledged"),
            rounds,
        )
    });
    Background {
        stop,
        handle,
        seed,
        per_round,
    }
}

impl Background {
    /// Stops after the current round; the ledger and the number of rounds.
    pub async fn stop(self) -> (trendlog_cluster::publish::Ledger, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.await.expect("publisher task")
    }

    /// Waits for the rounds to end by themselves.
    pub async fn join(self) -> (trendlog_cluster::publish::Ledger, u64) {
        self.handle.await.expect("publisher task")
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

/// One embedded store holding the same rounds, for comparison.
pub fn single_store(dir: &Path, seed: u64, per_round: u64, rounds: u64) -> trendlog::Store {
    let store = trendlog::Store::open(
        dir,
        trendlog::Options::default().sync_policy(trendlog::SyncPolicy::Manual),
    )
    .expect("single store");
    for r in 0..rounds {
        let mut b = store.batch();
        for e in trendlog_cluster::workload::Workload::new(seed + r, per_round, 2_000) {
            b.add(&e.tag, e.ts, e.count).expect("valid event");
        }
        b.commit().expect("commit");
    }
    store
}

/// Sums two ledgers' per-tag totals.
pub fn add_totals(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}
