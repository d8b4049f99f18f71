//! What travels over NATS: event batches (a small binary format, decoded with
//! every length checked) and queries (JSON requests and replies).
//!
//! An event batch is `"TLB1"`, a u32 LE event count, then per event a u16 LE
//! tag length, the normalised tag's UTF-8 bytes, the unix second as i64 LE and
//! the count as u64 LE.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"TLB1";

/// One event: `count` posts carried `tag` at unix second `ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The tag (normalised before it is published).
    pub tag: String,
    /// Unix seconds.
    pub ts: i64,
    /// Number of posts.
    pub count: u64,
}

/// Encodes a batch of events.
pub fn encode_events(events: &[Event]) -> Result<Vec<u8>> {
    let n = u32::try_from(events.len())
        .map_err(|_| Error::BadRequest("too many events for one message".into()))?;
    let mut out = Vec::with_capacity(8 + events.iter().map(|e| e.tag.len() + 18).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&n.to_le_bytes());
    for e in events {
        let len = u16::try_from(e.tag.len())
            .map_err(|_| Error::BadRequest(format!("tag of {} bytes is too long", e.tag.len())))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(e.tag.as_bytes());
        out.extend_from_slice(&e.ts.to_le_bytes());
        out.extend_from_slice(&e.count.to_le_bytes());
    }
    Ok(out)
}

fn take<'a>(buf: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8]> {
    if buf.len() < n {
        return Err(Error::Decode(format!(
            "event batch truncated in {what}: need {n} bytes, {} left",
            buf.len()
        )));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(b);
    a
}

/// Decodes a batch of events; never panics, whatever the bytes.
pub fn decode_events(mut buf: &[u8]) -> Result<Vec<Event>> {
    let b = &mut buf;
    if take(b, 4, "the magic")? != MAGIC {
        return Err(Error::Decode(
            "not a trendlog event batch (bad magic)".into(),
        ));
    }
    let n = u32::from_le_bytes(arr(take(b, 4, "the count")?));
    // Each event needs at least 18 bytes: never allocate more than the input allows.
    let cap = (n as usize).min(b.len() / 18);
    let mut out = Vec::with_capacity(cap);
    for _ in 0..n {
        let len = u16::from_le_bytes(arr(take(b, 2, "a tag length")?));
        let tag = std::str::from_utf8(take(b, usize::from(len), "a tag")?)
            .map_err(|_| Error::Decode("a tag is not UTF-8".into()))?
            .to_owned();
        let ts = i64::from_le_bytes(arr(take(b, 8, "a time")?));
        let count = u64::from_le_bytes(arr(take(b, 8, "a count")?));
        out.push(Event { tag, ts, count });
    }
    if !b.is_empty() {
        return Err(Error::Decode(format!(
            "{} bytes after the last event",
            b.len()
        )));
    }
    Ok(out)
}

/// A query, to a router or to one partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// One tag's total over `[from, to)`.
    Total {
        /// The tag.
        tag: String,
        /// Unix seconds, inclusive.
        from: i64,
        /// Unix seconds, exclusive.
        to: i64,
    },
    /// One tag's dense series.
    Series {
        /// The tag.
        tag: String,
        /// Unix seconds, inclusive.
        from: i64,
        /// Unix seconds, exclusive.
        to: i64,
        /// `1m`, `1h` or `1d`.
        step: String,
    },
    /// The k tags with most events in `[from, to)`.
    Top {
        /// Unix seconds, inclusive.
        from: i64,
        /// Unix seconds, exclusive.
        to: i64,
        /// Rows wanted.
        k: usize,
        /// Answer with the live partitions' rows (and the missing list) instead
        /// of refusing when some partition has no live replica.
        #[serde(default)]
        allow_partial: bool,
    },
    /// The k tags growing fastest.
    Trending {
        /// End of the recent window; `None` for the newest minute of all partitions.
        #[serde(default)]
        at: Option<i64>,
        /// Recent window, seconds (whole minutes).
        window_secs: u64,
        /// Baseline window, seconds (whole minutes).
        baseline_secs: u64,
        /// Rows wanted.
        k: usize,
        /// Least recent events for a tag to be ranked.
        min_count: u64,
        /// Smoothing prior, events per minute.
        prior: f64,
        /// See [`Request::Top`].
        #[serde(default)]
        allow_partial: bool,
    },
    /// The replica's position and now (to a partition), or every partition's (to a router).
    Status,
}

/// One row of a top answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopRow {
    /// The tag.
    pub tag: String,
    /// Events in the range.
    pub count: u64,
}

/// One row of a trending answer. `growth` is written with Rust's shortest
/// round-trip float formatting, so it survives JSON exactly (infinity included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendRow {
    /// The tag.
    pub tag: String,
    /// Events in the recent window.
    pub recent: u64,
    /// Events in the baseline window.
    pub baseline: u64,
    /// The growth, as text.
    pub growth: String,
}

impl TrendRow {
    /// The growth as a number (NaN if the text is damaged).
    pub fn growth_value(&self) -> f64 {
        self.growth.parse().unwrap_or(f64::NAN)
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// A total.
    Total(u64),
    /// A dense series: `(bucket start, count)` and the sum.
    Series {
        /// The points.
        points: Vec<(i64, u64)>,
        /// Their sum.
        total: u64,
    },
    /// Top rows, best first.
    Top(Vec<TopRow>),
    /// Trending rows, best first.
    Trending(Vec<TrendRow>),
    /// Status of one replica, or of every partition.
    Status(Vec<PartitionStatus>),
}

/// What one replica reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionStatus {
    /// The partition.
    pub partition: u32,
    /// The replica that answered.
    pub replica: String,
    /// The stream sequence of the newest applied message (0: none).
    pub position: u64,
    /// End of the store's newest minute, unix seconds.
    pub now_end: Option<i64>,
    /// Events its store refused for their time (older than the hour
    /// retention, or too far past both the data and the time the stream
    /// stored the message), as `trendlog inspect` counts them: the store's
    /// counters, recorded at each seal (so a kill -9 may lose the count of
    /// refusals since the last one), plus those since the runner started;
    /// 0 from a replica that predates the field.
    #[serde(default)]
    pub refused: u64,
}

/// A partition replica's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionReply {
    /// Who answered, and how far it had applied its stream.
    pub status: PartitionStatus,
    /// The answer, or the store's refusal as a sentence.
    pub result: std::result::Result<Answer, String>,
}

/// A router's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouterReply {
    /// The merged answer; `None` when refused.
    pub answer: Option<Answer>,
    /// Partitions with no live replica within the timeout (never silently left out).
    pub missing: Vec<u32>,
    /// Why the request was refused, if it was.
    pub error: Option<String>,
    /// Which replica answered for each partition asked, and its position.
    pub replicas: Vec<PartitionStatus>,
    /// Set when the cluster could not answer, rather than refusing the
    /// request itself: a partition had no live replica, or the router's own
    /// NATS calls failed. The same request may succeed later. Absent (false)
    /// in a reply from a router before this field.
    #[serde(default)]
    pub outage: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let ev = vec![
            Event {
                tag: "metoo".into(),
                ts: 1_508_025_600,
                count: 3,
            },
            Event {
                tag: "é".into(),
                ts: -1,
                count: u64::MAX,
            },
        ];
        let bytes = encode_events(&ev).unwrap();
        assert_eq!(decode_events(&bytes).unwrap(), ev);
    }

    #[test]
    fn damaged_batches_are_errors_not_panics() {
        let ev = vec![Event {
            tag: "metoo".into(),
            ts: 1,
            count: 3,
        }];
        let bytes = encode_events(&ev).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_events(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_events(&long).is_err());
        let mut huge = bytes.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_events(&huge).is_err());
        let mut bad = bytes;
        bad[10] = 0xff;
        assert!(decode_events(&bad).is_err());
    }

    #[test]
    fn requests_are_json_with_an_op() {
        let r: Request = serde_json::from_str(r#"{"op":"top","from":0,"to":60,"k":3}"#).unwrap();
        assert_eq!(
            r,
            Request::Top {
                from: 0,
                to: 60,
                k: 3,
                allow_partial: false
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"drop_all"}"#).is_err());
    }
}
