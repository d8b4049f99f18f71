//! The publisher: routes each event to its tag's partition, packs many events
//! into one message, and publishes it with a `Nats-Msg-Id` of
//! `{publisher}:{partition}:{batch}`. A publish whose acknowledgement fails is
//! retried with the same id, so a retry inside the stream's duplicate window is
//! dropped by the server. [`Ledger`] counts only what the servers acknowledged.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::{self, message::PublishMessage};
use async_nats::Client;
use bytes::Bytes;

use crate::error::{Error, Result};
use crate::partition::{fnv1a32, Names};
use crate::wire::{encode_events, Event};

/// What the servers acknowledged.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// Posts per normalised tag.
    pub per_tag: BTreeMap<String, u64>,
    /// Events acknowledged.
    pub events: u64,
    /// Sum of their counts.
    pub posts: u64,
    /// Messages acknowledged.
    pub messages: u64,
    /// Acknowledgements that said "duplicate" (a retry of a stored message).
    pub duplicates: u64,
    /// Of those, messages whose first send was already a duplicate: the
    /// stream held that id from an earlier run, so these events were not
    /// stored now (right for a rerun of the same input with the same
    /// `--batch`; lost otherwise).
    pub earlier_run_duplicates: u64,
    /// The events of those messages.
    pub earlier_run_events: u64,
    /// Publish attempts that failed and were retried.
    pub retries: u64,
    /// The highest sequence acknowledged per stream: a reader that has
    /// applied up to it has seen every acknowledged message (a stream's
    /// info, asked of a leader elected a moment ago, can say less).
    pub last_sequence: BTreeMap<String, u64>,
}

struct InFlight {
    partition: u32,
    id: String,
    payload: Bytes,
    events: Vec<Event>,
    ack: Option<PublishAckFuture>,
    /// Sent more than once (a retry's duplicate is this run's own message).
    retried: bool,
    /// When it was first sent: retries stop at `first_sent + patience`, so
    /// that they stay inside the stream's duplicate window (120 s by
    /// default), past which a retry of a message already stored would be
    /// stored twice.
    first_sent: tokio::time::Instant,
}

/// Publishes events into the partitions. Call [`Publisher::finish`] at the end.
pub struct Publisher {
    js: jetstream::Context,
    names: Names,
    id: String,
    next_batch: u64,
    batch_events: usize,
    buffers: Vec<Vec<Event>>,
    window: VecDeque<InFlight>,
    max_in_flight: usize,
    patience: Duration,
    ledger: Ledger,
    /// Events refused before publishing (bad tag).
    pub rejected: u64,
    /// Events refused before publishing for their time: one a store cannot
    /// hold, or more than [`crate::MAX_FUTURE_SKEW`] less a minute past this
    /// machine's clock (a runner would refuse it).
    pub rejected_times: u64,
    /// The latest time accepted as of the last clock read: the clock only
    /// moves on, so a time at or before it needs no new read.
    latest_seen: i64,
}

/// The latest unix second a runner's store will take in an event sent at
/// `clock`: [`crate::MAX_FUTURE_SKEW`] less a minute past it (the minute
/// covers the store's minute flooring and a server clock a little behind
/// this one's).
fn latest_accepted(clock: std::time::SystemTime) -> i64 {
    let now = clock
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let skew = crate::MAX_FUTURE_SKEW.as_secs().saturating_sub(60);
    i64::try_from(now.saturating_add(skew)).unwrap_or(i64::MAX)
}

impl Publisher {
    /// A publisher named `id` (unique per publishing run: message ids are
    /// built from it), packing `batch_events` events per message.
    pub fn new(client: Client, names: Names, id: &str, batch_events: usize) -> Publisher {
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .build(client);
        let partitions = names.partitions as usize;
        Publisher {
            js,
            names,
            id: id.to_owned(),
            next_batch: 0,
            batch_events: batch_events.max(1),
            buffers: vec![Vec::new(); partitions],
            window: VecDeque::new(),
            max_in_flight: 64,
            patience: Duration::from_secs(90),
            ledger: Ledger::default(),
            rejected: 0,
            rejected_times: 0,
            latest_seen: i64::MIN,
        }
    }

    /// How long one message may be retried before the publisher gives up
    /// (keep it below the stream's duplicate window). Default: 90 s.
    pub fn patience(mut self, patience: Duration) -> Publisher {
        self.patience = patience;
        self
    }

    /// Adds one event; returns an error only for NATS failures past the
    /// patience. A tag that does not normalise is counted in `rejected`, a
    /// time a runner would refuse in `rejected_times`: neither is sent.
    pub async fn add(&mut self, tag: &str, ts: i64, count: u64) -> Result<()> {
        let Ok(norm) = trendlog::tag::normalize(tag) else {
            self.rejected += 1;
            return Ok(());
        };
        if ts > self.latest_seen {
            self.latest_seen = latest_accepted(std::time::SystemTime::now());
        }
        if ts > self.latest_seen || trendlog::time::Minute::from_unix(ts).is_err() {
            self.rejected_times += 1;
            return Ok(());
        }
        let p = fnv1a32(norm.as_bytes()) % self.names.partitions;
        let buf = &mut self.buffers[p as usize];
        buf.push(Event {
            tag: norm.into_owned(),
            ts,
            count,
        });
        if buf.len() >= self.batch_events {
            self.flush_partition(p).await?;
        }
        Ok(())
    }

    /// Sends every buffered event and waits for every acknowledgement.
    pub async fn flush(&mut self) -> Result<()> {
        for p in 0..self.names.partitions {
            self.flush_partition(p).await?;
        }
        while !self.window.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Waits for the acknowledgement of every message sent, sending none of
    /// the events still buffered: after a failure of the input, so that
    /// [`Publisher::ledger`] counts all that was acknowledged while a rerun
    /// of the same input under the same id rebuilds the same messages.
    pub async fn settle(&mut self) -> Result<()> {
        while !self.window.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Flushes and returns what was acknowledged.
    pub async fn finish(mut self) -> Result<Ledger> {
        self.flush().await?;
        Ok(self.ledger)
    }

    /// What has been acknowledged so far.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    async fn flush_partition(&mut self, p: u32) -> Result<()> {
        let events = std::mem::take(&mut self.buffers[p as usize]);
        if events.is_empty() {
            return Ok(());
        }
        let payload = Bytes::from(encode_events(&events)?);
        let id = format!("{}:{p}:{}", self.id, self.next_batch);
        self.next_batch += 1;
        while self.window.len() >= self.max_in_flight {
            self.settle_oldest().await?;
        }
        let mut m = InFlight {
            partition: p,
            id,
            payload,
            events,
            ack: None,
            retried: false,
            first_sent: tokio::time::Instant::now(),
        };
        m.ack = self.send(&m).await.ok();
        self.window.push_back(m);
        Ok(())
    }

    async fn send(&self, m: &InFlight) -> std::result::Result<PublishAckFuture, String> {
        self.js
            .send_publish(
                self.names.subject(m.partition),
                PublishMessage::build()
                    .payload(m.payload.clone())
                    .message_id(&m.id),
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Waits for the oldest message's acknowledgement, retrying it with the
    /// same id until it is acknowledged or the patience runs out.
    async fn settle_oldest(&mut self) -> Result<()> {
        let Some(mut m) = self.window.pop_front() else {
            return Ok(());
        };
        // From the first send, not from now: messages queued behind a slow
        // one would otherwise be retried long after their first send.
        let deadline = m.first_sent + self.patience;
        let mut delay = Duration::from_millis(20);
        loop {
            let outcome = match m.ack.take() {
                Some(fut) => fut.await.map_err(|e| e.to_string()),
                None => Err("not sent".to_owned()),
            };
            match outcome {
                Ok(ack) => {
                    self.ledger.messages += 1;
                    let last = self.ledger.last_sequence.entry(ack.stream).or_default();
                    *last = (*last).max(ack.sequence);
                    if ack.duplicate {
                        self.ledger.duplicates += 1;
                        if !m.retried {
                            self.ledger.earlier_run_duplicates += 1;
                            self.ledger.earlier_run_events += m.events.len() as u64;
                        }
                    }
                    for e in &m.events {
                        self.ledger.events += 1;
                        // Saturating: a count near u64::MAX is the input's.
                        self.ledger.posts = self.ledger.posts.saturating_add(e.count);
                        let t = self.ledger.per_tag.entry(e.tag.clone()).or_default();
                        *t = t.saturating_add(e.count);
                    }
                    return Ok(());
                }
                Err(e) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(Error::Nats(format!(
                            "message {} was not acknowledged within {:?}: {e}",
                            m.id, self.patience
                        )));
                    }
                    self.ledger.retries += 1;
                    m.retried = true;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(500));
                    m.ack = self.send(&m).await.ok();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_latest_time_sent_is_a_day_less_a_minute_past_the_clock() {
        let now = 1_764_633_600;
        let clock = UNIX_EPOCH + Duration::from_secs(now);
        assert_eq!(latest_accepted(clock), now as i64 + 86_400 - 60);
        assert_eq!(latest_accepted(UNIX_EPOCH), 86_400 - 60);
    }
}
