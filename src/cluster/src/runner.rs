//! The shard runner: follows one partition stream into one embedded store,
//! exactly once, and answers that partition's queries.
//!
//! - Each applied group of messages is one store batch whose source position
//!   is `{stream}:{last sequence}`, committed atomically with the events; the
//!   messages are acknowledged only after the commit.
//! - On start (and whenever its consumer is recreated) it consumes from the
//!   store's position + 1 and skips any message at or below the position, so
//!   a redelivery, a crash between commit and ack, or a consumer that is
//!   behind changes nothing: the store's position, not the acks, decides.
//! - A watchdog recreates the consumer when the stream is ahead of the store
//!   and nothing arrives; JetStream calls that fail (a leader election) are
//!   retried with backoff.
//! - It answers queries only once it has caught up with the stream as it was
//!   when the runner started, so a restarted replica never serves stale data
//!   (or once it finds the stream empty above its position: those messages
//!   expired or were purged, and nothing is left to wait for).
//! - On a copy request it pauses consumption, seals and syncs the store,
//!   copies its files for a new replica, and resumes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, consumer::pull};
use async_nats::Client;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use trendlog::{Options, Store};

use crate::connect::retry;
use crate::error::{nats, Error, Result};
use crate::partition::{check_replica, Names};
use crate::query::{answer, now_end};
use crate::wire::{decode_events, PartitionReply, PartitionStatus, Request};

/// Where a test asks the runner to die (by `kill -9` of itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// In the middle of the n-th applied batch (1-based), after half of its
    /// events were added and before the commit.
    MidBatch(u64),
    /// After the n-th batch was committed, before its messages are acked.
    AfterCommit(u64),
}

/// Settings of one runner.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Deployment names.
    pub names: Names,
    /// The partition followed.
    pub partition: u32,
    /// This replica's name, unique within the partition (its consumer's name).
    pub replica: String,
    /// The store directory.
    pub store: PathBuf,
    /// Most messages applied in one store batch.
    pub fetch: usize,
    /// How long the stream may be ahead with nothing arriving before the
    /// consumer is recreated.
    pub stall: Duration,
    /// How often a compaction pass runs (between batches, never during a copy).
    pub compact_every: Duration,
    /// A crash to inject, for tests.
    pub fault: Option<Fault>,
}

impl RunnerConfig {
    /// Defaults: 256 messages per batch, 3 s stall, compaction every 60 s.
    pub fn new(names: Names, partition: u32, replica: &str, store: PathBuf) -> RunnerConfig {
        RunnerConfig {
            names,
            partition,
            replica: replica.to_owned(),
            store,
            fetch: 256,
            stall: Duration::from_secs(3),
            compact_every: Duration::from_secs(60),
            fault: None,
        }
    }
}

/// A control request to one replica.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Control {
    /// Seal, sync and copy the store's files into `to`, which must not exist.
    Copy {
        /// The target directory, on the runner's machine.
        to: PathBuf,
    },
}

/// The reply to a [`Control`] request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlReply {
    /// The copied store's position, or why the copy failed.
    pub result: std::result::Result<u64, String>,
}

/// Encodes a source position.
pub fn encode_position(stream: &str, seq: u64) -> Vec<u8> {
    format!("{stream}:{seq}").into_bytes()
}

/// Decodes a source position written by [`encode_position`].
pub fn decode_position(pos: &[u8]) -> Result<(String, u64)> {
    let s = std::str::from_utf8(pos)
        .map_err(|_| Error::Decode("the store's source position is not UTF-8".into()))?;
    let (stream, seq) = s
        .rsplit_once(':')
        .ok_or_else(|| Error::Decode(format!("source position {s:?} has no ':'")))?;
    let seq = seq
        .parse()
        .map_err(|_| Error::Decode(format!("source position {s:?} has no sequence")))?;
    Ok((stream.to_owned(), seq))
}

/// How `trendlog ingest` marks the batches it commits when no stream
/// position is there (it never overwrites one).
const INGEST_MARK: &[u8] = b"ingest lines ";

/// The stream sequence a store has applied up to (0: nothing), checking that
/// the store follows `stream`. A store that only `trendlog ingest` wrote to
/// (a replica seeded by hand before its first message) has applied nothing
/// of the stream.
pub fn store_position(store: &Store, stream: &str) -> Result<u64> {
    match store.source_position() {
        None => Ok(0),
        Some(p) if p.starts_with(INGEST_MARK) => Ok(0),
        Some(p) => {
            let (found, seq) = decode_position(&p)?;
            if found != stream {
                return Err(Error::WrongStream {
                    expected: stream.to_owned(),
                    found,
                });
            }
            Ok(seq)
        }
    }
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn die() -> ! {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status();
    std::process::abort()
}

/// Copies the regular files of `from` (all but the writer's lock) into the
/// new directory `to`, syncing each file and the directory, so that `to`
/// appears whole or not at all: the files go into a hidden sibling,
/// `.NAME.copying`, which is renamed to `to` once synced (and the parent
/// synced after). A copy killed midway leaves no half store at `to` for a
/// runner to refuse as damage or, worse, to open. The sibling is also the
/// copy's lock: while it exists (a copy under way, from this replica or
/// another, or one interrupted) a copy to `to` is refused, naming it, and
/// never mixes its files with another's.
pub fn copy_store_files(from: &Path, to: &Path) -> Result<u64> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| Error::Io(p, e)
    };
    let exists = || std::io::Error::from(std::io::ErrorKind::AlreadyExists);
    if to.symlink_metadata().is_ok() {
        return Err(Error::Io(to.to_path_buf(), exists()));
    }
    let (parent, tmp) = copying_sibling(to)?;
    std::fs::create_dir(&tmp).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Io(
                tmp.clone(),
                std::io::Error::new(
                    e.kind(),
                    "a copy to the same destination is under way or was interrupted; once no \
                     copy runs, remove this directory and copy again",
                ),
            )
        } else {
            Error::Io(tmp.clone(), e)
        }
    })?;
    let mut n = 0;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let name = entry.file_name();
        if name == "LOCK" || !entry.file_type().map_err(io(from))?.is_file() {
            continue;
        }
        let dst = tmp.join(&name);
        std::fs::copy(entry.path(), &dst).map_err(io(&dst))?;
        std::fs::File::open(&dst)
            .and_then(|f| f.sync_all())
            .map_err(io(&dst))?;
        n += 1;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    // rename(2) would also replace an empty directory made at `to` since the
    // check above: look once more, right before.
    if to.symlink_metadata().is_ok() {
        return Err(Error::Io(to.to_path_buf(), exists()));
    }
    std::fs::rename(&tmp, to).map_err(io(to))?;
    std::fs::File::open(&parent)
        .and_then(|f| f.sync_all())
        .map_err(io(&parent))?;
    Ok(n)
}

/// Whether the store refused an event for its time (too old for the hour
/// retention, or too far ahead), as its own counters and `inspect` count.
fn refused_for_time(err: &trendlog::Error) -> bool {
    matches!(
        err,
        trendlog::Error::InvalidInput(
            trendlog::InvalidInput::TooFarInFuture { .. } | trendlog::InvalidInput::TooOld { .. }
        )
    )
}

/// Why the store refused an event, said for a runner's log: the store's own
/// message, except for a time too far ahead, whose hint (the binary's flag)
/// does not apply here.
fn refusal(err: &trendlog::Error) -> String {
    match err {
        trendlog::Error::InvalidInput(trendlog::InvalidInput::TooFarInFuture {
            minute,
            latest_accepted,
        }) => format!(
            "its minute {} lies past {}, a day after the later of the store's newest minute and \
             the time the stream stored the message (publish refuses such events before \
             sending: did another producer write it, or is a clock a day off?)",
            trendlog::time::Minute(*minute),
            trendlog::time::Minute(*latest_accepted),
        ),
        other => other.to_string(),
    }
}

/// The directory holding `to` and the hidden sibling a copy is written into.
fn copying_sibling(to: &Path) -> Result<(PathBuf, PathBuf)> {
    let name = to.file_name().ok_or_else(|| {
        Error::Io(
            to.to_path_buf(),
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the copy's destination has no directory name",
            ),
        )
    })?;
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut hidden = std::ffi::OsString::from(".");
    hidden.push(name);
    hidden.push(".copying");
    Ok((parent.clone(), parent.join(hidden)))
}

struct Shared {
    store: Store,
    position: AtomicU64,
    live: AtomicBool,
    /// Events the store refused, as `inspect` counts them.
    refused: AtomicU64,
}

/// Runs a shard runner until the process is killed or a fatal error occurs.
pub async fn run(client: Client, cfg: RunnerConfig) -> Result<()> {
    run_until(client, cfg, std::future::pending()).await
}

/// Runs a shard runner until a fatal error, or until `stop` completes (the
/// binary passes SIGTERM or SIGINT): then it leaves its queue group, so the
/// server hands new queries to its peers, finishes the queries it is
/// answering, and returns; the store closes cleanly as its last handle drops.
/// Messages fetched but not yet committed are redelivered to the next run.
pub async fn run_until(
    client: Client,
    cfg: RunnerConfig,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    cfg.names.check(cfg.partition)?;
    check_replica(&cfg.replica)?;
    let stream_name = cfg.names.stream(cfg.partition);
    let store = blocking(|| {
        Store::open(
            &cfg.store,
            // Compaction runs between batches, so a copy never races it.
            Options::default()
                .background_compaction(false)
                .max_future_skew(crate::MAX_FUTURE_SKEW),
        )
    })?;
    let pos = store_position(&store, &stream_name)?;
    let stats = store.snapshot().stats();
    let shared = Arc::new(Shared {
        store,
        position: AtomicU64::new(pos),
        live: AtomicBool::new(false),
        refused: AtomicU64::new(stats.rejected_too_old + stats.rejected_future),
    });
    let (ctl_tx, ctl_rx) = mpsc::channel(4);
    let (live_tx, live_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let queries = tokio::spawn(serve_queries(
        client.clone(),
        cfg.clone(),
        shared.clone(),
        live_rx,
        stop_rx,
    ));
    tokio::spawn(serve_control(client.clone(), cfg.clone(), ctl_tx));
    let replica = cfg.replica.clone();
    let consuming = consume(client.clone(), cfg, shared, ctl_rx, live_tx);
    tokio::select! {
        r = consuming => r,
        () = stop => {
            eprintln!("runner {replica}: stopping: leaving the queue group");
            let _ = stop_tx.send(true);
            let _ = queries.await;
            let _ = client.flush().await;
            eprintln!("runner {replica}: stopped");
            Ok(())
        }
    }
}

async fn serve_queries(
    client: Client,
    cfg: RunnerConfig,
    shared: Arc<Shared>,
    live: oneshot::Receiver<()>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::select! {
        r = live => if r.is_err() {
            return;
        },
        _ = stop.changed() => return,
    }
    let any = client
        .queue_subscribe(cfg.names.query_any(cfg.partition), "replicas".into())
        .await;
    let mine = client
        .subscribe(cfg.names.query_replica(cfg.partition, &cfg.replica))
        .await;
    let (Ok(any), Ok(mine)) = (any, mine) else {
        eprintln!("runner {}: cannot subscribe to queries", cfg.replica);
        return;
    };
    let subs = futures::stream::select(any, mine);
    // Requests are answered concurrently, store queries a few at a time: a
    // heavy query must not hold up a status request or a light query behind
    // it (the router would call the partition missing while its replica
    // works). Status requests (and bad ones) do no store work and take no
    // permit, so they never wait.
    let workers = Arc::new(tokio::sync::Semaphore::new(QUERY_WORKERS as usize));
    let stopped = async move {
        let _ = stop.changed().await;
    };
    crate::serve::serve_each(subs, stopped, |msg, reply| {
        let (client, shared, workers) = (client.clone(), shared.clone(), workers.clone());
        let (partition, replica) = (cfg.partition, cfg.replica.clone());
        async move {
            let req = serde_json::from_slice::<Request>(&msg.payload);
            let _permit = match &req {
                Ok(Request::Status) | Err(_) => None,
                Ok(_) => workers.acquire_owned().await.ok(),
            };
            let status = PartitionStatus {
                partition,
                replica,
                position: shared.position.load(Ordering::Acquire),
                now_end: now_end(&shared.store),
                refused: shared.refused.load(Ordering::Relaxed),
            };
            let result = match req {
                Err(e) => Err(format!("bad request: {e}")),
                Ok(Request::Status) => Ok(crate::wire::Answer::Status(vec![status.clone()])),
                Ok(req) => {
                    let store = shared.store.clone();
                    tokio::task::spawn_blocking(move || answer(&store, &req))
                        .await
                        .map_err(|e| format!("the query failed: {e}"))
                        .and_then(|r| r.map_err(|e| e.to_string()))
                }
            };
            let body = serde_json::to_vec(&PartitionReply { status, result }).unwrap_or_default();
            let _ = client.publish(reply, body.into()).await;
        }
    })
    .await;
}

/// How many queries one replica answers at once.
const QUERY_WORKERS: u32 = 4;

type CopyJob = (PathBuf, oneshot::Sender<ControlReply>);

async fn serve_control(client: Client, cfg: RunnerConfig, tx: mpsc::Sender<CopyJob>) {
    let Ok(mut sub) = client
        .subscribe(cfg.names.control(cfg.partition, &cfg.replica))
        .await
    else {
        eprintln!("runner {}: cannot subscribe to control", cfg.replica);
        return;
    };
    while let Some(msg) = sub.next().await {
        let Some(reply) = msg.reply.clone() else {
            continue;
        };
        let out = match serde_json::from_slice::<Control>(&msg.payload) {
            Err(e) => ControlReply {
                result: Err(format!("bad control request: {e}")),
            },
            Ok(Control::Copy { to }) => {
                let (done_tx, done_rx) = oneshot::channel();
                if tx.send((to, done_tx)).await.is_err() {
                    return;
                }
                done_rx.await.unwrap_or(ControlReply {
                    result: Err("the runner stopped".into()),
                })
            }
        };
        let body = serde_json::to_vec(&out).unwrap_or_default();
        let _ = client.publish(reply, body.into()).await;
    }
}

async fn recreate_consumer(
    js: &jetstream::Context,
    cfg: &RunnerConfig,
    stream_name: &str,
    next: u64,
) -> Result<consumer::Consumer<pull::Config>> {
    let deliver_policy = if next <= 1 {
        consumer::DeliverPolicy::All
    } else {
        consumer::DeliverPolicy::ByStartSequence {
            start_sequence: next,
        }
    };
    let config = pull::Config {
        durable_name: Some(cfg.replica.clone()),
        deliver_policy,
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 20_000,
        // One copy: the consumer's state is disposable (the store's position
        // decides what is applied), so it needs no Raft group of its own. If
        // its server dies, the stall watchdog recreates it on a live one.
        num_replicas: 1,
        ..Default::default()
    };
    retry(
        "recreating the consumer",
        Duration::from_secs(120),
        || async {
            let stream = js
                .get_stream(stream_name)
                .await
                .map_err(|e| e.to_string())?;
            // Its old state (ack floor, pending) is irrelevant: the store's position rules.
            let _ = stream.delete_consumer(&cfg.replica).await;
            stream
                .create_consumer(config.clone())
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await
}

async fn stream_state(js: &jetstream::Context, stream_name: &str) -> Option<(u64, u64)> {
    let s = js.get_stream(stream_name).await.ok()?;
    let st = s.cached_info().state.clone();
    Some((st.first_sequence, st.last_sequence))
}

async fn consume(
    client: Client,
    cfg: RunnerConfig,
    shared: Arc<Shared>,
    mut ctl: mpsc::Receiver<CopyJob>,
    live_tx: oneshot::Sender<()>,
) -> Result<()> {
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .build(client);
    let stream_name = cfg.names.stream(cfg.partition);
    let store = &shared.store;
    let mut pos = shared.position.load(Ordering::Acquire);
    // Caught up = applied the stream as it was when the runner started.
    let (_, target) = retry("reading the stream", Duration::from_secs(120), || async {
        stream_state(&js, &stream_name)
            .await
            .ok_or("stream not reachable")
    })
    .await?;
    let mut live_tx = Some(live_tx);
    let mut consumer = recreate_consumer(&js, &cfg, &stream_name, pos + 1).await?;
    let mut batches = 0u64;
    let mut idle_since = tokio::time::Instant::now();
    let mut last_check = tokio::time::Instant::now();
    let mut last_compact = tokio::time::Instant::now();
    let mut recreations = 0u64;
    // Set when the stream turned out empty above the position: every message
    // up to its last sequence expired (max age) or was purged, so nothing is
    // left to apply before going live.
    let mut nothing_left = false;
    loop {
        if pos >= target || nothing_left {
            if let Some(tx) = live_tx.take() {
                shared.live.store(true, Ordering::Release);
                let _ = tx.send(());
                eprintln!(
                    "runner {} partition {}: live at sequence {pos}",
                    cfg.replica, cfg.partition
                );
            }
        }
        // Control requests run between batches: consumption is paused.
        while let Ok((to, done)) = ctl.try_recv() {
            let result = blocking(|| {
                store.seal()?;
                store.sync()?;
                copy_store_files(store.dir(), &to)?;
                store_position(store, &stream_name)
            })
            .map_err(|e| e.to_string());
            let _ = done.send(ControlReply { result });
        }
        if last_compact.elapsed() >= cfg.compact_every {
            if let Err(e) = blocking(|| store.compact()) {
                eprintln!("runner {}: compaction failed: {e}", cfg.replica);
            }
            last_compact = tokio::time::Instant::now();
        }
        let fetched = consumer
            .fetch()
            .max_messages(cfg.fetch)
            .expires(Duration::from_millis(250))
            .messages()
            .await;
        let mut msgs = Vec::new();
        match fetched {
            Ok(mut batch) => {
                while let Some(m) = batch.next().await {
                    match m {
                        Ok(m) => msgs.push(m),
                        Err(e) => {
                            eprintln!("runner {}: fetch: {e}", cfg.replica);
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                eprintln!("runner {}: fetch failed: {e}", cfg.replica);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if msgs.is_empty() {
            if last_check.elapsed() >= Duration::from_millis(500) {
                last_check = tokio::time::Instant::now();
                if let Some((first, last)) = stream_state(&js, &stream_name).await {
                    if first > last && last > pos {
                        // Empty, and what it held above the position is gone:
                        // waiting for it would keep the replica from ever
                        // going live and the watchdog recreating consumers.
                        if !nothing_left {
                            eprintln!(
                                "runner {}: messages {}..={last} are gone from the stream \
                                 (expired or purged) before they were applied",
                                cfg.replica,
                                pos + 1
                            );
                        }
                        nothing_left = true;
                        idle_since = tokio::time::Instant::now();
                    } else if last <= pos {
                        idle_since = tokio::time::Instant::now();
                    } else if idle_since.elapsed() >= cfg.stall {
                        // Watchdog: the stream is ahead and nothing arrives.
                        recreations += 1;
                        eprintln!(
                            "runner {}: stalled at {pos} (stream at {last}); recreating consumer (#{recreations})",
                            cfg.replica
                        );
                        consumer = recreate_consumer(&js, &cfg, &stream_name, pos + 1).await?;
                        idle_since = tokio::time::Instant::now();
                    }
                }
            }
            continue;
        }
        idle_since = tokio::time::Instant::now();

        // Apply, in sequence order, every message above the position.
        let mut batch = store.batch();
        let mut new_pos = pos;
        let mut gap = false;
        let mut to_ack = Vec::with_capacity(msgs.len());
        let mut rejected = 0u64;
        let mid = cfg.fault == Some(Fault::MidBatch(batches + 1));
        for m in msgs {
            let (seq, stored_at) = match m.info() {
                Ok(i) => (i.stream_sequence, i.published.unix_timestamp()),
                Err(e) => {
                    eprintln!("runner {}: message without metadata: {e}", cfg.replica);
                    continue;
                }
            };
            if seq <= new_pos {
                to_ack.push(m); // already in the store: a redelivery
                continue;
            }
            if seq != new_pos + 1 {
                // Either expired from the stream (retention) or delivered out
                // of order. A fresh replica (position 0) is checked too: its
                // first message must be sequence 1 or the stream's first.
                match stream_state(&js, &stream_name).await {
                    Some((first, _)) if first > new_pos + 1 && seq == first => {
                        eprintln!(
                            "runner {}: messages {}..{} expired before they were applied",
                            cfg.replica,
                            new_pos + 1,
                            first
                        );
                    }
                    _ => {
                        gap = true;
                        break;
                    }
                }
            }
            // The skew bound runs from the time the stream stored the
            // message, the same for every replica and every replay, and
            // close to the publisher's clock that admitted its events.
            batch.set_received_at(stored_at);
            match decode_events(&m.payload) {
                Ok(events) => {
                    let half = events.len() / 2;
                    for (i, e) in events.iter().enumerate() {
                        if mid && i == half {
                            die();
                        }
                        if let Err(err) = batch.add(&e.tag, e.ts, e.count) {
                            rejected += 1;
                            if refused_for_time(&err) {
                                shared.refused.fetch_add(1, Ordering::Relaxed);
                            }
                            if rejected <= 3 {
                                eprintln!(
                                    "runner {}: event of message {seq} refused: {}",
                                    cfg.replica,
                                    refusal(&err)
                                );
                            }
                        }
                    }
                }
                Err(e) => eprintln!("runner {}: message {seq} skipped: {e}", cfg.replica),
            }
            new_pos = seq;
            to_ack.push(m);
        }
        if new_pos > pos {
            batch.set_source_position(crate::runner::encode_position(&stream_name, new_pos))?;
            blocking(|| batch.commit())?;
            pos = new_pos;
            shared.position.store(pos, Ordering::Release);
            batches += 1;
            if rejected > 3 {
                eprintln!(
                    "runner {}: {rejected} events up to message {pos} refused by the store",
                    cfg.replica
                );
            }
            if cfg.fault == Some(Fault::AfterCommit(batches)) {
                die();
            }
        }
        // Acks only let the server move on: losing one costs a redelivery
        // that is skipped above.
        for m in to_ack {
            let _ = m.ack().await;
        }
        if gap {
            eprintln!(
                "runner {}: gap after {pos}; recreating consumer",
                cfg.replica
            );
            consumer = recreate_consumer(&js, &cfg, &stream_name, pos + 1).await?;
        }
    }
}

/// How long [`request_copy`] waits for the replica's reply.
const COPY_WAIT: Duration = Duration::from_secs(120);

/// Checks a copy request before it is sent: the partition exists (by
/// `names`), the replica name is one a runner can have, and `to` is
/// absolute (the replica writes it on its own machine, where a relative
/// path would be taken from the replica's working directory, not the
/// caller's).
pub fn check_copy(names: &Names, partition: u32, replica: &str, to: &Path) -> Result<()> {
    names.check(partition)?;
    check_replica(replica)?;
    if !to.is_absolute() {
        return Err(Error::Config(format!(
            "--to {} is relative: the replica writes the copy on its own machine, where a \
             relative path is taken from the replica's working directory; give an absolute path",
            to.display()
        )));
    }
    Ok(())
}

/// Asks replica `replica` of `partition` to copy its store into `to` (an
/// absolute path on the runner's machine) and returns the copy's position.
///
/// # Errors
/// [`Error::Config`] for a partition `names` does not have, a bad replica
/// name or a relative `to`; [`Error::Copy`] when no such replica runs, when
/// it answered that the copy failed (and why), or when it did not answer in
/// time (the copy may then still be under way).
pub async fn request_copy(
    client: &Client,
    names: &Names,
    partition: u32,
    replica: &str,
    to: &Path,
) -> Result<u64> {
    check_copy(names, partition, replica, to)?;
    let body = serde_json::to_vec(&Control::Copy {
        to: to.to_path_buf(),
    })
    .map_err(|e| Error::Decode(e.to_string()))?;
    let req = async_nats::Request::new()
        .payload(body.into())
        .timeout(Some(COPY_WAIT));
    let subject = names.control(partition, replica);
    let who = format!("replica {replica} of partition {partition}");
    let msg = match client.send_request(subject.clone(), req).await {
        Ok(msg) => msg,
        Err(e) => {
            use async_nats::client::RequestErrorKind;
            return Err(match e.kind() {
                RequestErrorKind::NoResponders => Error::Copy(format!(
                    "no copy was made: {who} is not running (nothing answers on {subject}); \
                     check --replica and --partition, and that -P and --prefix are the \
                     deployment's"
                )),
                RequestErrorKind::TimedOut => {
                    let sibling = copying_sibling(to).map_or_else(
                        |_| "its hidden .copying sibling".to_owned(),
                        |(_, s)| s.display().to_string(),
                    );
                    Error::Copy(format!(
                        "{who} did not answer within {COPY_WAIT:?}: the copy may still be under \
                         way, or may have failed; on its machine, {} appears once the copy is \
                         whole, and {sibling} exists while it is under way (or was left by a \
                         copy that stopped)",
                        to.display()
                    ))
                }
                _ => nats(e),
            });
        }
    };
    let reply: ControlReply =
        serde_json::from_slice(&msg.payload).map_err(|e| Error::Decode(e.to_string()))?;
    reply
        .result
        .map_err(|why| Error::Copy(format!("{who} could not copy its store: {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_appears_whole_and_never_mixes_with_another() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("p2-a");
        std::fs::create_dir(&from).unwrap();
        for (name, body) in [("MANIFEST", "m"), ("LOCK", "l"), ("log-1", "x")] {
            std::fs::write(from.join(name), body).unwrap();
        }
        // A copy under way (or killed midway) holds the hidden sibling: a
        // second copy to the same place is refused and leaves it alone.
        let left = dir.path().join(".p2-c.copying");
        std::fs::create_dir(&left).unwrap();
        std::fs::write(left.join("MANIFEST"), "half").unwrap();
        let to = dir.path().join("p2-c");
        let err = copy_store_files(&from, &to).unwrap_err().to_string();
        assert!(err.contains("under way or was interrupted"), "{err}");
        assert_eq!(
            std::fs::read_to_string(left.join("MANIFEST")).unwrap(),
            "half"
        );
        assert!(!to.exists());
        // Once it is removed, the copy appears whole.
        std::fs::remove_dir_all(&left).unwrap();
        assert_eq!(copy_store_files(&from, &to).unwrap(), 2);
        assert!(!left.exists());
        assert_eq!(std::fs::read_to_string(to.join("MANIFEST")).unwrap(), "m");
        assert!(!to.join("LOCK").exists());
        // An existing destination is never written into.
        std::fs::write(from.join("MANIFEST"), "new").unwrap();
        assert!(matches!(copy_store_files(&from, &to), Err(Error::Io(..))));
        assert_eq!(std::fs::read_to_string(to.join("MANIFEST")).unwrap(), "m");
        assert!(!left.exists());
    }

    /// `copy --partition 7` on a deployment of 4 was sent to a subject
    /// nobody listens on and failed as "a NATS call failed: no responders";
    /// a relative --to was written relative to the replica's directory.
    #[test]
    fn a_copy_request_is_checked_before_it_is_sent() {
        let names = Names::new("tl", 4).unwrap();
        let to = Path::new("/data/p2-c");
        assert!(check_copy(&names, 3, "a", to).is_ok());
        let e = check_copy(&names, 4, "a", to).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        let said = e.to_string();
        assert!(
            said.contains("partition 4 does not exist") && said.contains("0 to 3"),
            "{said}"
        );
        assert!(matches!(
            check_copy(&names, 0, "a.*", to),
            Err(Error::Config(_))
        ));
        let e = check_copy(&names, 0, "a", Path::new("p2-c")).unwrap_err();
        assert!(
            matches!(e, Error::Config(_)) && e.to_string().contains("absolute"),
            "{e}"
        );
    }

    #[test]
    fn a_refused_time_is_explained_for_a_runner() {
        let far = trendlog::Error::InvalidInput(trendlog::InvalidInput::TooFarInFuture {
            minute: 28_400_000,
            latest_accepted: 28_398_000,
        });
        let said = refusal(&far);
        assert!(said.contains("the stream stored the message"), "{said}");
        assert!(!said.contains("--max-future-skew"), "{said}");
        let other = trendlog::Error::InvalidInput(trendlog::InvalidInput::BadLabels("x".into()));
        assert_eq!(refusal(&other), other.to_string());
    }

    #[test]
    fn positions_round_trip_and_name_their_stream() {
        let p = encode_position("TL_P3", 42);
        assert_eq!(decode_position(&p).unwrap(), ("TL_P3".into(), 42));
        assert!(decode_position(b"nope").is_err());
        assert!(decode_position(b"a:b").is_err());
        assert!(decode_position(&[0xff]).is_err());
    }

    /// A replica seeded with `trendlog ingest` before its first message holds the CLI's
    /// position, which names no stream: nothing applied. Before, the runner refused to
    /// start ("has no ':'").
    #[test]
    fn a_store_seeded_by_ingest_has_applied_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), trendlog::Options::default()).unwrap();
        let mut b = store.batch();
        b.add("a", 1_508_112_000, 1).unwrap();
        b.set_source_position(b"ingest lines 4 of backfill:2019.csv".to_vec())
            .unwrap();
        b.commit().unwrap();
        assert_eq!(store_position(&store, "TL_P0").unwrap(), 0);
    }
}
