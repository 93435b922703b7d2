//! How the outbox worker paces, retries and polls, and what a pass reports.

use std::time::Duration as StdDuration;

/// How the worker paces, retries and polls. `Texts::worker_config` gives the clinic's configuration.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub messages_per_second: u32,
    /// Texts in flight at once (pacing still applies across all of them).
    pub concurrency: u32,
    pub max_attempts: u32,
    pub retry_base: StdDuration,
    pub first_poll: StdDuration,
    pub max_poll: StdDuration,
    /// A lock whose heartbeat is older than this belongs to a worker that froze or vanished. A
    /// live worker beats every `lock_stale_after / 4` (at most 5 s) even while it waits.
    pub lock_stale_after: StdDuration,
    /// After finding nothing in Twilio's records, wait this long and look once more (the list lags).
    pub reconcile_recheck: StdDuration,
    /// While sending is paused for a setup problem, check the setup again this often.
    pub hold_recheck: StdDuration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            messages_per_second: 1,
            concurrency: 1,
            // With `retry_base` doubling up to 30 minutes: about four and a half hours of trying.
            max_attempts: 12,
            retry_base: StdDuration::from_secs(30),
            first_poll: StdDuration::from_secs(2),
            max_poll: StdDuration::from_secs(15 * 60),
            lock_stale_after: StdDuration::from_secs(5 * 60),
            reconcile_recheck: StdDuration::from_secs(5),
            hold_recheck: StdDuration::from_secs(60),
        }
    }
}

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    pub sent: u32,
    pub adopted: u32,
    pub retrying: u32,
    pub failed: u32,
    pub skipped: u32,
    pub polled: u32,
    pub finished: u32,
    /// Reminders put in the outbox ahead of time by this pass.
    pub reminders_planned: u32,
    /// Texts patients sent back, recorded this pass.
    pub replies: u32,
}

impl RunReport {
    pub(super) fn add(&mut self, other: &RunReport) {
        self.sent += other.sent;
        self.adopted += other.adopted;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.polled += other.polled;
        self.finished += other.finished;
        self.reminders_planned += other.reminders_planned;
        self.replies += other.replies;
    }
}
