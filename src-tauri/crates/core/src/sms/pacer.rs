//! Sending pace: never more than `per_second` texts in any one-second window (a long code carries
//! about one segment a second; Twilio queues the excess, but a clinic should not rely on that).

use std::collections::VecDeque;
use tokio::time::{sleep_until, Duration, Instant};

pub struct Pacer {
    per_second: u32,
    recent: VecDeque<Instant>,
}

impl Pacer {
    /// `per_second == 0` turns pacing off (benchmarks, tests).
    pub fn new(per_second: u32) -> Self {
        Pacer { per_second, recent: VecDeque::new() }
    }

    /// Waits until one more send keeps every one-second window within the limit, and records it.
    pub async fn wait_turn(&mut self) {
        if self.per_second == 0 {
            return;
        }
        // A little over a second: Twilio sees each request a moment after it leaves, and the limit
        // must hold as Twilio counts it, not only as this computer does.
        let window = Duration::from_millis(1050);
        loop {
            let now = Instant::now();
            while self.recent.front().is_some_and(|t| now.duration_since(*t) >= window) {
                self.recent.pop_front();
            }
            if (self.recent.len() as u32) < self.per_second {
                self.recent.push_back(now);
                return;
            }
            sleep_until(*self.recent.front().expect("window is full") + window).await;
        }
    }
}
