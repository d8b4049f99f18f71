//! A small synthetic day of events, deterministic from a seed: a skewed
//! background of tags and a surge of `#metoo` in the afternoon. The cluster's
//! own, so it does not depend on the engine's internal demo generator.

use crate::wire::Event;

/// Midnight UTC of 2017-10-15, the day #MeToo took off.
pub const DAY_START: i64 = 1_508_025_600;

/// An iterator over `events` events spread over one day.
#[derive(Debug, Clone)]
pub struct Workload {
    state: u64,
    left: u64,
    total: u64,
    tags: u32,
}

impl Workload {
    /// `events` events over `tags` background tags, from `seed`.
    pub fn new(seed: u64, events: u64, tags: u32) -> Workload {
        Workload {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
            left: events,
            total: events,
            tags: tags.max(1),
        }
    }

    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Iterator for Workload {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Events are spread evenly over the day, in time order, with jitter.
        let i = self.total - self.left - 1;
        let ts = DAY_START + (i as f64 * 86_400.0 / self.total as f64) as i64;
        let afternoon = ts >= DAY_START + 12 * 3600;
        let u = self.unit();
        let count = 1 + self.next_u64() % 3;
        let tag = if afternoon && u < 0.15 + 0.3 * ((ts - DAY_START - 43_200) as f64 / 43_200.0) {
            "metoo".to_owned()
        } else {
            // Skewed: low ranks are far more frequent (about Zipf-like).
            let r = self.unit();
            let rank = ((r * r * r) * f64::from(self.tags)) as u32;
            format!("tag{rank}")
        };
        Some(Event { tag, ts, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_within_the_day() {
        let a: Vec<Event> = Workload::new(1, 1000, 50).collect();
        let b: Vec<Event> = Workload::new(1, 1000, 50).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 1000);
        assert!(a
            .iter()
            .all(|e| (DAY_START..DAY_START + 86_400).contains(&e.ts)));
        assert!(a.iter().any(|e| e.tag == "metoo"));
    }
}
