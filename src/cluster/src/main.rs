//! `trendlog-cluster`: the shard runner, the router, a publisher and a client
//! for trendlog partitioned over NATS JetStream. See docs/cluster.md.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use trendlog_cluster::connect::{ensure_streams, Connection, StreamSettings};
use trendlog_cluster::input::{Line, LineReader};
use trendlog_cluster::partition::Names;
use trendlog_cluster::publish::Publisher;
use trendlog_cluster::runner::{self, Fault, RunnerConfig};
use trendlog_cluster::wire::{Request, RouterReply};
use trendlog_cluster::workload::{Workload, DAY_START};
use trendlog_cluster::{router, Error, Result};

#[derive(Parser)]
#[command(
    name = "trendlog-cluster",
    version,
    about = "trendlog partitioned and replicated over NATS JetStream"
)]
struct Cli {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct ConnArgs {
    /// NATS server URLs, comma separated (nats://host:port or tls://host:port).
    #[arg(
        long,
        env = "TRENDLOG_NATS_SERVERS",
        default_value = "nats://127.0.0.1:4222",
        global = true
    )]
    server: String,
    /// User for user/password authentication.
    #[arg(long, env = "TRENDLOG_NATS_USER", global = true)]
    user: Option<String>,
    /// A file holding the password (its first line). Or set TRENDLOG_NATS_PASSWORD.
    #[arg(long, global = true)]
    password_file: Option<PathBuf>,
    /// A NATS .creds file (JWT and nkey seed).
    #[arg(long, global = true)]
    creds: Option<PathBuf>,
    /// A file holding an nkey seed.
    #[arg(long, global = true)]
    nkey_seed_file: Option<PathBuf>,
    /// CA certificate (PEM) the servers must chain to; turns TLS on.
    #[arg(long, env = "TRENDLOG_NATS_TLS_CA", global = true)]
    tls_ca: Option<PathBuf>,
    /// Client certificate (PEM), with --tls-key, for servers that verify clients.
    #[arg(long, global = true, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Client key (PEM).
    #[arg(long, global = true, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Deployment prefix of streams and subjects.
    #[arg(long, default_value = "trendlog", global = true)]
    prefix: String,
    /// Number of partitions, fixed for the deployment.
    #[arg(long, short = 'P', default_value_t = 4, global = true)]
    partitions: u32,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create or update the partition streams (R replicas, file storage, max age).
    ///
    /// Example: trendlog-cluster --server nats://127.0.0.1:4222 -P 4 streams --replicas 3
    Streams {
        /// Copies of each stream.
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// Hours a message is kept (replicas can be rebuilt from the stream within it).
        #[arg(long, default_value_t = 168)]
        max_age_hours: u64,
    },
    /// Run a shard runner: follow one partition into one store, answer its queries.
    ///
    /// Example: trendlog-cluster -P 4 node --partition 0 --replica a --store ./p0-a
    Node {
        /// The partition.
        #[arg(long)]
        partition: u32,
        /// This replica's name, unique within the partition.
        #[arg(long)]
        replica: String,
        /// The store directory.
        #[arg(long)]
        store: PathBuf,
        /// Most messages applied in one store batch.
        #[arg(long, default_value_t = 256)]
        fetch: usize,
        /// Seconds the stream may be ahead with nothing arriving before the consumer is recreated.
        #[arg(long, default_value_t = 3)]
        stall_secs: u64,
        /// Tests: kill -9 itself in the middle of the N-th batch, before its commit.
        #[arg(long, hide = true)]
        fault_mid_batch: Option<u64>,
        /// Tests: kill -9 itself after the N-th commit, before its acks.
        #[arg(long, hide = true)]
        fault_after_commit: Option<u64>,
    },
    /// Run a router: answer queries by asking the partitions and merging.
    Router {
        /// Milliseconds to wait for a partition's live replica.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Publish events: CSV lines `timestamp,tag,count` from files or stdin (`-`),
    /// or the synthetic demo day with --demo-events.
    ///
    /// CSV as RFC 4180 quotes it (`1508167800,"a,b",1` is the tag `a,b`); the
    /// count may be left out (1). A first line naming the columns is skipped;
    /// blank lines too. A line with more than three fields, or that is no
    /// event, is not published: it is said on stderr with its line number and
    /// counted in `bad_lines`, every other line is published, and the exit
    /// status is 2.
    ///
    /// Example: trendlog-cluster -P 4 publish --demo-events 1000000
    Publish {
        /// CSV files (unix-second timestamp,tag,count); `-` for stdin.
        files: Vec<PathBuf>,
        /// Publish this many events of the synthetic day instead.
        #[arg(long)]
        demo_events: Option<u64>,
        /// Seed of the synthetic day.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Events per message.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Publisher id in message ids; the same id and input resent within the
        /// duplicate window is dropped by the servers. Default: unique per run.
        /// Reuse it only to resend the same input with the same --batch: any
        /// other input under a reused id is dropped too (said on stderr).
        #[arg(long)]
        publisher_id: Option<String>,
        /// Tests: seconds one message is retried before publish gives up
        /// (keep it below the streams' 2-minute duplicate window).
        #[arg(long, hide = true, default_value_t = 90)]
        patience_secs: u64,
    },
    /// Ask a router; prints its JSON reply.
    ///
    /// Exit status: 0 answered; 1 the cluster could not answer (an outage: a
    /// partition had no live replica, or the router's NATS calls failed); 2 the
    /// request was refused; 3 a status answered with partitions missing (no
    /// replica of them answered; the reply lists them in `missing`).
    ///
    /// Example: trendlog-cluster ask '{"op":"top","from":1508025600,"to":1508112000,"k":10}'
    Ask {
        /// A JSON request: total, series, top, trending or status (see docs/cluster.md).
        request: String,
        /// Milliseconds to wait for the router.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
    /// Ask a live replica to copy its sealed store into DIR on the replica's
    /// own machine, for starting a new replica from it.
    ///
    /// Example: trendlog-cluster -P 4 copy --partition 2 --replica a --to /data/p2-c
    Copy {
        /// The partition (0 to P-1, P given by -P).
        #[arg(long)]
        partition: u32,
        /// The replica to copy from.
        #[arg(long)]
        replica: String,
        /// The new store directory, on the replica's machine: an absolute path
        /// that must not exist.
        #[arg(long)]
        to: PathBuf,
    },
}

fn connection(a: &ConnArgs, name: &str) -> Result<Connection> {
    let mut c = Connection::new(a.server.split(',').map(str::trim).filter(|s| !s.is_empty()));
    c.name = name.to_owned();
    c.user = a.user.clone();
    c.password = match &a.password_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| Error::Io(p.clone(), e))?
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
        ),
        None => std::env::var("TRENDLOG_NATS_PASSWORD").ok(),
    };
    c.creds_file = a.creds.clone();
    c.nkey_seed_file = a.nkey_seed_file.clone();
    c.tls_ca = a.tls_ca.clone();
    c.tls_client = a.tls_cert.clone().zip(a.tls_key.clone());
    Ok(c)
}

async fn run(cli: Cli) -> Result<()> {
    let names = Names::new(&cli.conn.prefix, cli.conn.partitions)?;
    let patience = Duration::from_secs(60);
    match cli.cmd {
        Cmd::Streams {
            replicas,
            max_age_hours,
        } => {
            let client = connection(&cli.conn, "trendlog-streams")?
                .connect(patience)
                .await?;
            let s = StreamSettings {
                replicas,
                max_age: Duration::from_secs(max_age_hours.max(1) * 3600),
                ..StreamSettings::default()
            };
            ensure_streams(&client, &names, &s).await?;
            println!("{} partition streams ready (R{replicas})", names.partitions);
            Ok(())
        }
        Cmd::Node {
            partition,
            replica,
            store,
            fetch,
            stall_secs,
            fault_mid_batch,
            fault_after_commit,
        } => {
            let client = connection(&cli.conn, &format!("trendlog-node-{partition}-{replica}"))?
                .connect(patience)
                .await?;
            let mut cfg = RunnerConfig::new(names, partition, &replica, store);
            cfg.fetch = fetch.max(1);
            cfg.stall = Duration::from_secs(stall_secs.max(1));
            cfg.fault = fault_mid_batch
                .map(Fault::MidBatch)
                .or(fault_after_commit.map(Fault::AfterCommit));
            runner::run_until(client, cfg, stop_requested()).await
        }
        Cmd::Router { timeout_ms } => {
            let client = connection(&cli.conn, "trendlog-router")?
                .connect(patience)
                .await?;
            eprintln!(
                "router: serving {} on {} partitions",
                names.router(),
                names.partitions
            );
            router::serve_until(
                client,
                names,
                Duration::from_millis(timeout_ms),
                stop_requested(),
            )
            .await
        }
        Cmd::Publish {
            files,
            demo_events,
            seed,
            batch,
            publisher_id,
            patience_secs,
        } => {
            let client = connection(&cli.conn, "trendlog-publish")?
                .connect(patience)
                .await?;
            let id = publisher_id.unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                format!("pub-{}-{nanos}", std::process::id())
            });
            let mut p = Publisher::new(client, names, &id, batch)
                .patience(Duration::from_secs(patience_secs.max(1)));
            let t0 = Instant::now();
            let mut bad_lines = 0u64;
            let fed = feed(&mut p, &files, demo_events, seed, &mut bad_lines).await;
            let outcome = match fed {
                Ok(()) => p.flush().await,
                // The input failed (a file that cannot be read): wait for the
                // messages sent, for the count, but send nothing of what is
                // buffered. A rerun of the same input under the same id and
                // --batch rebuilds every message sent with the same id and
                // events, so the servers drop it; a buffer sent early, short,
                // would hold another message's id with fewer events, and the
                // rerun's full message under that id would be dropped, lost.
                Err(e @ Error::Io(..)) => {
                    if let Err(s) = p.settle().await {
                        eprintln!("trendlog-cluster: {s}");
                    }
                    Err(e)
                }
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                let l = p.ledger();
                let input = match demo_events {
                    Some(n) => format!("--demo-events {n} --seed {seed}"),
                    None => "input".to_owned(),
                };
                let resume = resume_advice(
                    t0.elapsed(),
                    StreamSettings::default().duplicate_window,
                    &format!("--publisher-id {id} --batch {batch}"),
                    &input,
                );
                eprintln!(
                    "trendlog-cluster: publish stopped; under publisher id {id}, {} events ({} \
                     posts) in {} messages were acknowledged; messages sent but not \
                     acknowledged may or may not be stored. {resume}",
                    l.events, l.posts, l.messages
                );
                return Err(e);
            }
            let ledger = p.ledger().clone();
            let (rejected, rejected_times) = (p.rejected, p.rejected_times);
            if ledger.earlier_run_duplicates > 0 {
                eprintln!(
                    "trendlog-cluster: {} messages ({} events) were already in the stream under \
                     this publisher id, from an earlier run, and were not stored again: right \
                     for a rerun of the same input with the same --batch; any other input sent \
                     under a reused id is lost",
                    ledger.earlier_run_duplicates, ledger.earlier_run_events
                );
            }
            let secs = t0.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({
                    "publisher_id": id,
                    "acknowledged_events": ledger.events,
                    "acknowledged_posts": ledger.posts,
                    "messages": ledger.messages,
                    "duplicates": ledger.duplicates,
                    "earlier_run_duplicates": ledger.earlier_run_duplicates,
                    "retries": ledger.retries,
                    "rejected_tags": rejected,
                    "rejected_times": rejected_times,
                    "bad_lines": bad_lines,
                    "seconds": secs,
                    "events_per_second": ledger.events as f64 / secs.max(1e-9),
                    // The synthetic day's start: only the demo's events lie in it.
                    "day_start": demo_events.map(|_| DAY_START),
                })
            );
            // As `trendlog ingest`: everything else was published, exit 2.
            let refused = [
                (bad_lines, "line not timestamp,tag,count"),
                (rejected, "tag that does not normalise"),
                (
                    rejected_times,
                    "time a store cannot hold or more than a day past the clock",
                ),
            ];
            let said: Vec<String> = refused
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, why)| format!("{n} × {why}"))
                .collect();
            if !said.is_empty() {
                return Err(Error::Rejected(format!(
                    "refused, not published: {}; every other event was published",
                    said.join(", ")
                )));
            }
            Ok(())
        }
        Cmd::Ask {
            request,
            timeout_ms,
        } => {
            let req: Request = serde_json::from_str(&request).map_err(|e| {
                Error::BadRequest(format!("{e}: see docs/cluster.md for the requests"))
            })?;
            let client = connection(&cli.conn, "trendlog-ask")?
                .connect(Duration::from_secs(5))
                .await?;
            let reply =
                router::ask(&client, &names, &req, Duration::from_millis(timeout_ms)).await?;
            println!(
                "{}",
                serde_json::to_string(&reply).map_err(|e| Error::Decode(e.to_string()))?
            );
            refusal(&req, reply)
        }
        Cmd::Copy {
            partition,
            replica,
            to,
        } => {
            // Checked before connecting: a bad request needs no cluster.
            runner::check_copy(&names, partition, &replica, &to)?;
            let client = connection(&cli.conn, "trendlog-copy")?
                .connect(Duration::from_secs(5))
                .await?;
            let pos = runner::request_copy(&client, &names, partition, &replica, &to).await?;
            println!(
                "replica {replica} of partition {partition} copied its store, at stream sequence \
                 {pos}, into {} on its own machine; start the new replica there (or where you \
                 move the directory) with node --partition {partition} --store DIR and a replica name other than {replica}",
                to.display()
            );
            Ok(())
        }
    }
}

/// Reads the demo's events, then every file's lines, into the publisher;
/// counts the lines that hold no event in `bad_lines`, saying each.
async fn feed(
    p: &mut Publisher,
    files: &[PathBuf],
    demo_events: Option<u64>,
    seed: u64,
    bad_lines: &mut u64,
) -> Result<()> {
    if let Some(n) = demo_events {
        for e in Workload::new(seed, n, 50_000) {
            p.add(&e.tag, e.ts, e.count).await?;
        }
    }
    let mut lines = LineReader::new();
    let mut line = Vec::new();
    for f in files {
        let mut reader: Box<dyn BufRead> = if f.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(f).map_err(|e| Error::Io(f.clone(), e))?,
            ))
        };
        lines.start_input();
        for no in 1u64.. {
            line.clear();
            // Bytes, not `lines()`: a line that is not UTF-8 is one bad
            // line, not the end of the run.
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::Io(f.clone(), e))?;
            if n == 0 {
                break;
            }
            match lines.read(&line) {
                Ok(Line::Event(e)) => p.add(&e.tag, e.ts, e.count).await?,
                Ok(Line::Blank | Line::Header) => {}
                Err(why) => {
                    *bad_lines += 1;
                    eprintln!("{}:{no}: {why}", f.display());
                }
            }
        }
    }
    Ok(())
}

/// What `ask` exits with for a router's reply: an outage (exit 1) when the
/// cluster could not answer, a bad request (exit 2) when the request was
/// refused. A partial answer's own refusal (a bad range) also lists the
/// missing partitions: only the router's "missing" refusal is an outage,
/// which a router from before the `outage` field tells only by its message.
/// A status is answered even with partitions missing; it exits 3 then
/// (scripts check the status with it). A partial top or trending asked for
/// with allow_partial exits 0, as asked.
fn refusal(req: &Request, reply: RouterReply) -> Result<()> {
    let Some(error) = reply.error else {
        if matches!(req, Request::Status) && !reply.missing.is_empty() {
            return Err(Error::Incomplete(reply.missing));
        }
        return Ok(());
    };
    let missing = Error::Missing(reply.missing.clone());
    if reply.outage || (!reply.missing.is_empty() && error == missing.to_string()) {
        Err(Error::Unavailable(error))
    } else {
        Err(Error::BadRequest(error))
    }
}

/// Completes on SIGTERM or SIGINT: a node or router then stops gracefully
/// (never, if the handlers cannot be installed: the default action stays).
async fn stop_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trendlog-cluster: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trendlog-cluster: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit status of a failed run: 2 for the caller's mistake or refused
/// input, 3 for a status with partitions missing, 1 for the rest.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::BadRequest(_) | Error::Config(_) | Error::Rejected(_) => 2,
        Error::Incomplete(_) => 3,
        _ => 1,
    }
}

/// How to resume a publish that failed `age` into its run: a rerun with
/// `flags` and the same `input` resends every message, and the servers drop
/// one whose id they stored within their duplicate `window` only, so a
/// rerun is safe only while the oldest message sent (at most the run's age)
/// is inside that window, with 10 s to spare.
fn resume_advice(age: Duration, window: Duration, flags: &str, input: &str) -> String {
    let spare = Duration::from_secs(10);
    if age + spare < window {
        format!(
            "To resume without counting anything twice, rerun with {flags} and the same {input} \
             within the next {} s: the servers drop the messages they stored in their duplicate \
             window ({} s)",
            (window - age - spare).as_secs(),
            window.as_secs()
        )
    } else {
        format!(
            "This run began {} s ago, longer than the servers' duplicate window ({} s): a rerun \
             with {flags} and the same {input} would count again every message stored before \
             that window, so publish only what was not acknowledged (check the cluster's totals \
             with `ask`)",
            age.as_secs(),
            window.as_secs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rerun_is_called_safe_only_inside_the_duplicate_window() {
        let w = Duration::from_secs(120);
        let soon = super::resume_advice(Duration::from_secs(30), w, "--publisher-id p", "input");
        assert!(
            soon.contains("without counting anything twice") && soon.contains("next 80 s"),
            "{soon}"
        );
        let late = super::resume_advice(Duration::from_secs(600), w, "--publisher-id p", "input");
        assert!(
            late.contains("would count again") && !late.contains("without counting"),
            "{late}"
        );
    }

    fn reply(error: Option<&str>, missing: Vec<u32>, outage: bool) -> RouterReply {
        RouterReply {
            answer: None,
            missing,
            error: error.map(str::to_owned),
            replicas: Vec::new(),
            outage,
        }
    }

    /// A status is answered with the missing partitions listed, and used to
    /// exit 0 with them: scripts took a cluster with a dead partition for a
    /// healthy one.
    #[test]
    fn ask_status_exits_3_when_a_partition_is_missing() {
        let status = Request::Status;
        assert!(refusal(&status, reply(None, vec![], false)).is_ok());
        let gone = refusal(&status, reply(None, vec![1, 3], false));
        assert!(matches!(gone, Err(Error::Incomplete(ref p)) if p == &[1, 3]));
        let e = gone.unwrap_err();
        assert_eq!(exit_code(&e), 3);
        assert!(e.to_string().contains("[1, 3]"), "{e}");
        // A partial top asked for with allow_partial is what was asked.
        let top = Request::Top {
            from: 0,
            to: 3600,
            k: 1,
            allow_partial: true,
        };
        assert!(refusal(&top, reply(None, vec![1], false)).is_ok());
        assert_eq!(exit_code(&Error::Unavailable("x".into())), 1);
        assert_eq!(exit_code(&Error::BadRequest("x".into())), 2);
    }

    #[test]
    fn ask_exits_1_for_an_outage_and_2_for_a_refused_request() {
        let top = Request::Top {
            from: 0,
            to: 3600,
            k: 1,
            allow_partial: false,
        };
        let refusal = |r| refusal(&top, r);
        assert!(refusal(reply(None, vec![], false)).is_ok());
        // The router's NATS calls failed: no partition is listed as missing.
        let nats = refusal(reply(Some("a NATS call failed: timed out"), vec![], true));
        assert!(matches!(nats, Err(Error::Unavailable(ref e)) if e.contains("timed out")));
        // A router from before the field: its "missing" message is the sign.
        let old = Error::Missing(vec![2]).to_string();
        let by_message = refusal(reply(Some(&old), vec![2], false));
        assert!(matches!(by_message, Err(Error::Unavailable(_))));
        // A partial answer refused for a bad range lists what was missing
        // too, but the request is what was refused.
        let bad = refusal(reply(Some("partition 1: bad range"), vec![2], false));
        assert!(matches!(bad, Err(Error::BadRequest(_))));
    }
}
