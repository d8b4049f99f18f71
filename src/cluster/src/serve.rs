//! The request loop shared by the router and a replica's query service.

use std::future::Future;

use async_nats::{Message, Subject};
use futures::{Stream, StreamExt};

/// Runs `handle(message, reply_to)` on a task of its own for every message
/// of `requests` that asks for a reply, until `requests` ends or `stop`
/// completes. Then it drops `requests`, which unsubscribes (the server hands
/// new requests to the other members of the queue group), and waits for the
/// handlers still running, so that every request taken is answered.
pub(crate) async fn serve_each<S, F, Fut>(
    mut requests: S,
    stop: impl Future<Output = ()>,
    handle: F,
) where
    S: Stream<Item = Message> + Unpin,
    F: Fn(Message, Subject) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut running = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        let msg = tokio::select! {
            m = requests.next() => match m {
                Some(m) => m,
                None => break,
            },
            () = &mut stop => break,
            // Reap finished handlers so the set stays small.
            Some(_) = running.join_next(), if !running.is_empty() => continue,
        };
        if let Some(reply_to) = msg.reply.clone() {
            running.spawn(handle(msg, reply_to));
        }
    }
    drop(requests);
    while running.join_next().await.is_some() {}
}
