//! The router: answers [`Request`]s over core NATS request/reply by asking the
//! owning partition (per-tag queries) or every partition (top, trending,
//! status) and merging exactly. A partition with no live replica within the
//! timeout is named in the reply's `missing`; the request is then refused
//! unless it asked for a partial answer. Never a silently partial answer.

use std::time::Duration;

use async_nats::Client;
use futures::StreamExt;

use crate::error::{nats, Error, Result};
use crate::partition::{partition_of, Names};
use crate::query::{merge_top, merge_trending};
use crate::wire::{Answer, PartitionReply, PartitionStatus, Request, RouterReply};

/// How many requests one ask of a partition may have in flight: the first,
/// and a hedge sent when it stays unanswered (see [`ask_partition`]).
const PARTITION_COPIES: u32 = 2;

/// Asks any live replica of partition `p` until `timeout`. `Ok(None)`: no
/// replica answered.
///
/// "No responders" (every replica restarting) is retried every 50 ms. A
/// request that stays unanswered for a quarter of the timeout is hedged: a
/// second copy is sent while the first stays in flight, and the first reply
/// wins (two copies at most, so the work of a replica that is merely slow is
/// not multiplied further). The queue group hands each copy to one replica, and
/// a replica killed a moment ago can still be handed one until the server
/// notices the closed connection, so without a hedge one dead replica could
/// make a partition look missing while a live one idles. The hedge makes that
/// rare, not impossible: if the server is still slow to notice when the copy
/// goes out, the group can hand the copy to the dead replica too.
pub async fn ask_partition(
    client: &Client,
    names: &Names,
    p: u32,
    req: &Request,
    timeout: Duration,
) -> Result<Option<PartitionReply>> {
    let body =
        bytes::Bytes::from(serde_json::to_vec(req).map_err(|e| Error::Decode(e.to_string()))?);
    let Some(msg) = request(client, names.query_any(p), body, timeout, PARTITION_COPIES).await?
    else {
        return Ok(None);
    };
    let reply: PartitionReply = serde_json::from_slice(&msg.payload)
        .map_err(|e| Error::Decode(format!("partition {p} replied: {e}")))?;
    Ok(Some(reply))
}

/// Sends `body` to `subject` (a queue group) and waits up to `timeout` for
/// the first reply. "No responders" is retried every 50 ms; with `copies` 2,
/// a request unanswered for a quarter of the timeout gets a second copy
/// while the first stays in flight. `Ok(None)`: no reply in time.
async fn request(
    client: &Client,
    subject: String,
    body: bytes::Bytes,
    timeout: Duration,
    copies: u32,
) -> Result<Option<async_nats::Message>> {
    let start = tokio::time::Instant::now();
    let deadline = start + timeout;
    let hedge = (timeout / 4).max(Duration::from_millis(50));
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let mut sent = 0;
    let mut next_send = start;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        if now >= next_send && sent < copies {
            let r = async_nats::Request::new()
                .payload(body.clone())
                .timeout(Some(deadline - now));
            in_flight.push(client.send_request(subject.clone(), r));
            sent += 1;
            next_send = now + hedge;
        }
        let wake = if sent < copies {
            next_send.min(deadline)
        } else {
            deadline
        };
        tokio::select! {
            // A reply ready at the deadline still counts.
            biased;
            Some(r) = in_flight.next() => match r {
                Ok(msg) => return Ok(Some(msg)),
                Err(e) => match e.kind() {
                    async_nats::client::RequestErrorKind::NoResponders => {
                        // Nobody to hand it to: this one does not count as
                        // a copy; try again shortly.
                        sent -= 1;
                        next_send = next_send.min(tokio::time::Instant::now() + Duration::from_millis(50));
                    }
                    async_nats::client::RequestErrorKind::TimedOut => {}
                    _ => return Err(nats(e)),
                },
            },
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Asks partitions `ps` concurrently; the replies of those that answered and
/// the list of those that did not.
async fn fan_out(
    client: &Client,
    names: &Names,
    ps: &[u32],
    req: &Request,
    timeout: Duration,
) -> Result<(Vec<PartitionReply>, Vec<u32>)> {
    let asks = ps
        .iter()
        .map(|&p| ask_partition(client, names, p, req, timeout));
    let results = futures::future::join_all(asks).await;
    let mut replies = Vec::new();
    let mut missing = Vec::new();
    for (&p, r) in ps.iter().zip(results) {
        match r? {
            Some(reply) => replies.push(reply),
            None => missing.push(p),
        }
    }
    Ok((replies, missing))
}

fn refused(error: String, missing: Vec<u32>, replicas: Vec<PartitionStatus>) -> RouterReply {
    RouterReply {
        answer: None,
        missing,
        error: Some(error),
        replicas,
        outage: false,
    }
}

/// The refusal for partitions with no live replica: an outage.
fn unanswered(missing: Vec<u32>, replicas: Vec<PartitionStatus>) -> RouterReply {
    RouterReply {
        outage: true,
        ..refused(
            Error::Missing(missing.clone()).to_string(),
            missing,
            replicas,
        )
    }
}

/// The reply for a request the router failed to route: an outage when its
/// NATS calls or a partition's reply failed, a refusal when the request was.
fn failed(e: Error) -> RouterReply {
    let outage = matches!(
        e,
        Error::Nats(_) | Error::Connect(_) | Error::Decode(_) | Error::Missing(_)
    );
    RouterReply {
        outage,
        ..refused(e.to_string(), Vec::new(), Vec::new())
    }
}

/// Answers one request, as the router does.
pub async fn route(
    client: &Client,
    names: &Names,
    req: &Request,
    timeout: Duration,
) -> RouterReply {
    match route_inner(client, names, req, timeout).await {
        Ok(r) => r,
        Err(e) => failed(e),
    }
}

async fn route_inner(
    client: &Client,
    names: &Names,
    req: &Request,
    timeout: Duration,
) -> Result<RouterReply> {
    let all: Vec<u32> = (0..names.partitions).collect();
    match req {
        Request::Total { tag, .. } | Request::Series { tag, .. } => {
            let p = partition_of(tag, names.partitions)?;
            let (mut replies, missing) = fan_out(client, names, &[p], req, timeout).await?;
            let Some(reply) = replies.pop() else {
                return Ok(unanswered(missing, Vec::new()));
            };
            let status = vec![reply.status];
            Ok(match reply.result {
                Ok(a) => RouterReply {
                    answer: Some(a),
                    missing,
                    error: None,
                    replicas: status,
                    outage: false,
                },
                Err(e) => refused(e, missing, status),
            })
        }
        Request::Status => {
            let (replies, missing) = fan_out(client, names, &all, req, timeout).await?;
            let statuses: Vec<PartitionStatus> = replies.into_iter().map(|r| r.status).collect();
            Ok(RouterReply {
                answer: Some(Answer::Status(statuses.clone())),
                missing,
                error: None,
                replicas: statuses,
                outage: false,
            })
        }
        Request::Top {
            k, allow_partial, ..
        } => {
            let (replies, missing) = fan_out(client, names, &all, req, timeout).await?;
            merge(replies, missing, *allow_partial, |answers| {
                let mut parts = Vec::new();
                for a in answers {
                    match a {
                        Answer::Top(rows) => parts.push(rows),
                        _ => return Err("a partition answered top with something else".into()),
                    }
                }
                Ok(Answer::Top(merge_top(parts, *k)))
            })
        }
        Request::Trending {
            at,
            k,
            allow_partial,
            ..
        } => {
            let mut req = req.clone();
            let mut missing_at = Vec::new();
            if at.is_none() {
                // The single store's now is the newest minute of all partitions.
                let (replies, missing) =
                    fan_out(client, names, &all, &Request::Status, timeout).await?;
                if !missing.is_empty() && !allow_partial {
                    let st = replies.into_iter().map(|r| r.status).collect();
                    return Ok(unanswered(missing, st));
                }
                missing_at = missing;
                let now = replies.iter().filter_map(|r| r.status.now_end).max();
                if let Request::Trending { at, .. } = &mut req {
                    *at = now;
                }
            }
            let (replies, mut missing) = fan_out(client, names, &all, &req, timeout).await?;
            missing.extend(missing_at);
            missing.sort_unstable();
            missing.dedup();
            merge(replies, missing, *allow_partial, |answers| {
                let mut parts = Vec::new();
                for a in answers {
                    match a {
                        Answer::Trending(rows) => parts.push(rows),
                        _ => return Err("a partition answered trending with something else".into()),
                    }
                }
                Ok(Answer::Trending(merge_trending(parts, *k)))
            })
        }
    }
}

fn merge(
    replies: Vec<PartitionReply>,
    missing: Vec<u32>,
    allow_partial: bool,
    f: impl FnOnce(Vec<Answer>) -> std::result::Result<Answer, String>,
) -> Result<RouterReply> {
    let statuses: Vec<PartitionStatus> = replies.iter().map(|r| r.status.clone()).collect();
    if !missing.is_empty() && !allow_partial {
        return Ok(unanswered(missing, statuses));
    }
    let mut answers = Vec::new();
    for r in replies {
        match r.result {
            Ok(a) => answers.push(a),
            Err(e) => {
                return Ok(refused(
                    format!("partition {}: {e}", r.status.partition),
                    missing,
                    statuses,
                ))
            }
        }
    }
    Ok(match f(answers) {
        Ok(a) => RouterReply {
            answer: Some(a),
            missing,
            error: None,
            replicas: statuses,
            outage: false,
        },
        Err(e) => refused(e, missing, statuses),
    })
}

/// Serves router requests until the connection closes. Several routers may
/// run: they share a queue group.
pub async fn serve(client: Client, names: Names, timeout: Duration) -> Result<()> {
    serve_until(client, names, timeout, std::future::pending()).await
}

/// [`serve`] until `stop` completes (the binary passes SIGTERM or SIGINT):
/// then it leaves the routers' queue group, so new requests go to the other
/// routers, answers the requests it is routing, and returns.
pub async fn serve_until(
    client: Client,
    names: Names,
    timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let sub = client
        .queue_subscribe(names.router(), "routers".into())
        .await
        .map_err(nats)?;
    crate::serve::serve_each(sub, stop, |msg, reply_to| {
        let client = client.clone();
        let names = names.clone();
        async move {
            let reply = match serde_json::from_slice::<Request>(&msg.payload) {
                Ok(req) => route(&client, &names, &req, timeout).await,
                Err(e) => refused(format!("bad request: {e}"), Vec::new(), Vec::new()),
            };
            let body = serde_json::to_vec(&reply).unwrap_or_default();
            let _ = client.publish(reply_to, body.into()).await;
        }
    })
    .await;
    let _ = client.flush().await;
    Ok(())
}

/// Asks a router, retrying "no responders" (a router restarting) every 50 ms
/// until the timeout.
pub async fn ask(
    client: &Client,
    names: &Names,
    req: &Request,
    timeout: Duration,
) -> Result<RouterReply> {
    let body =
        bytes::Bytes::from(serde_json::to_vec(req).map_err(|e| Error::Decode(e.to_string()))?);
    match request(client, names.router(), body, timeout, 1).await? {
        Some(msg) => serde_json::from_slice(&msg.payload).map_err(|e| Error::Decode(e.to_string())),
        None => Err(Error::Nats(format!(
            "no router answered on {} within {timeout:?}",
            names.router()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_nats_call_is_an_outage_and_a_bad_tag_is_not() {
        assert!(failed(Error::Nats("timed out".into())).outage);
        assert!(failed(Error::Decode("truncated reply".into())).outage);
        assert!(!failed(Error::BadRequest("tag of 300 bytes is too long".into())).outage);
        let gone = unanswered(vec![1, 3], Vec::new());
        assert!(gone.outage && gone.missing == [1, 3] && gone.answer.is_none());
        assert!(!refused("bad range".into(), vec![1], Vec::new()).outage);
    }
}
