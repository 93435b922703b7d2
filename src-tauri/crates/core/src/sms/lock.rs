//! The one-worker lock: at most one outbox worker per clinic database, fenced by generation.
//!
//! Invariants:
//! - The lock is taken over only from a holder that is certainly gone (its process is not running
//!   on this computer) or silent for longer than `stale_after`. A live worker beats its heartbeat
//!   every few seconds *while it waits* (Retry-After, slow answers), so silence that long means a
//!   frozen or vanished process, never a worker that is merely waiting.
//! - Each take-over gives the next generation. Every state change a worker records runs in an
//!   IMMEDIATE transaction that first checks (holder, generation) is still its own, so a worker
//!   that lost the lock records nothing; and it checks again before each request to Twilio, so it
//!   stops before its next request.
//! - Texts left 'sending' by a previous holder are put back for reconciliation in the same
//!   transaction that takes the lock over.

use crate::db::ts;
use crate::error::Result;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration as StdDuration;

pub(super) struct WorkerLock {
    holder: String,
    /// The generation this worker holds, 0 when it holds none.
    generation: AtomicI64,
    lost: AtomicBool,
    stale_after: StdDuration,
}

struct Current {
    holder: String,
    pid: u32,
    pid_started: u64,
    host: String,
    heartbeat_at: String,
    generation: i64,
}

impl WorkerLock {
    pub(super) fn new(stale_after: StdDuration) -> Self {
        WorkerLock {
            holder: uuid::Uuid::new_v4().to_string(),
            generation: AtomicI64::new(0),
            lost: AtomicBool::new(false),
            stale_after,
        }
    }

    /// How often a holder proves it is alive: well inside `stale_after`.
    pub(super) fn beat_every(&self) -> StdDuration {
        (self.stale_after / 4).clamp(StdDuration::from_millis(50), StdDuration::from_secs(5))
    }

    /// True once this worker has learnt that another took the lock over.
    pub(super) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Takes the lock, or refreshes it if it is already ours. `false`: another live worker has it.
    pub(super) fn acquire(&self, conn: &mut Connection, now: DateTime<Utc>) -> Result<bool> {
        if self.generation.load(Ordering::SeqCst) != 0 && !self.is_lost() && self.beat(conn, now)? {
            return Ok(true);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = tx
            .query_row(
                "SELECT holder, pid, host, heartbeat_at, generation, pid_started FROM outbox_lock WHERE id = 1",
                [],
                |r| {
                    Ok(Current {
                        holder: r.get(0)?,
                        pid: r.get(1)?,
                        host: r.get(2)?,
                        heartbeat_at: r.get(3)?,
                        generation: r.get(4)?,
                        pid_started: r.get::<_, i64>(5)? as u64,
                    })
                },
            )
            .optional()?;
        if let Some(current) = &current {
            if !self.may_take_over(current, now) {
                return Ok(false);
            }
        }
        let generation = current.as_ref().map_or(0, |c| c.generation) + 1;
        tx.execute(
            "INSERT INTO outbox_lock (id, holder, pid, host, heartbeat_at, generation, pid_started)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, host = excluded.host,
                                           heartbeat_at = excluded.heartbeat_at, generation = excluded.generation,
                                           pid_started = excluded.pid_started",
            params![
                self.holder,
                std::process::id(),
                this_host(),
                ts(now),
                generation,
                started_at(std::process::id()).unwrap_or(0) as i64
            ],
        )?;
        let orphans = tx.execute(
            "UPDATE sms_notifications SET state = 'pending', needs_reconcile = 1, next_attempt_at = ?1, updated_at = ?1
             WHERE state = 'sending'",
            [ts(now)],
        )?;
        tx.commit()?;
        self.generation.store(generation, Ordering::SeqCst);
        self.lost.store(false, Ordering::SeqCst);
        if orphans > 0 {
            tracing::warn!(orphans, "texts were mid-send when the last worker stopped; they will be reconciled");
        }
        Ok(true)
    }

    fn may_take_over(&self, current: &Current, now: DateTime<Utc>) -> bool {
        if current.holder.is_empty() {
            return true; // released
        }
        // A pid proves death only where it means the same process: this computer, this boot, this
        // process namespace (Flatpak and containers have their own), and the same start time (pids
        // are reused). Anything unknown leaves the decision to the heartbeat.
        let here = !current.host.is_empty() && current.host == this_host();
        if here && !pid_alive(current.pid, current.pid_started) {
            return true;
        }
        let stale = Duration::from_std(self.stale_after).unwrap_or(Duration::minutes(5));
        crate::auth::parse_instant(&current.heartbeat_at).is_none_or(|beat| now - beat > stale)
    }

    /// Proves this worker is alive. `false` (and `is_lost`) when the lock is no longer ours.
    pub(super) fn beat(&self, conn: &Connection, now: DateTime<Utc>) -> Result<bool> {
        let refreshed = conn.execute(
            "UPDATE outbox_lock SET heartbeat_at = ?3, pid = ?4 WHERE id = 1 AND holder = ?1 AND generation = ?2",
            params![self.holder, self.generation.load(Ordering::SeqCst), ts(now), std::process::id()],
        )?;
        if refreshed == 0 {
            self.mark_lost();
        }
        Ok(refreshed == 1)
    }

    /// The fence: true when the lock is still this worker's, read inside the caller's transaction.
    pub(super) fn still_ours(&self, conn: &Connection) -> Result<bool> {
        // Cached: this runs before every request and in every recording transaction.
        let ours: bool = conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM outbox_lock WHERE id = 1 AND holder = ?1 AND generation = ?2)",
            )?
            .query_row(params![self.holder, self.generation.load(Ordering::SeqCst)], |r| r.get(0))?;
        if !ours {
            self.mark_lost();
        }
        Ok(ours)
    }

    fn mark_lost(&self) {
        if !self.lost.swap(true, Ordering::SeqCst) {
            tracing::warn!("another worker took the outbox lock over; this one stops");
        }
    }

    /// Hands the lock back (the row stays, so generations only ever grow).
    pub(super) fn release(&self, conn: &Connection) -> Result<()> {
        conn.execute(
            "UPDATE outbox_lock SET holder = '', pid = 0 WHERE id = 1 AND holder = ?1 AND generation = ?2",
            params![self.holder, self.generation.load(Ordering::SeqCst)],
        )?;
        self.generation.store(0, Ordering::SeqCst);
        Ok(())
    }
}

/// Where a pid means something, as recorded with the lock: the machine id, this boot's id and
/// this process's pid namespace (Linux). Empty elsewhere, and then a pid is never taken as proof
/// that a holder died: the heartbeat alone decides.
pub(crate) fn this_host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let read =
            |path: &str| std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let machine = read("/etc/machine-id").or_else(|| read("/var/lib/dbus/machine-id"));
        let boot = read("/proc/sys/kernel/random/boot_id");
        let pid_namespace = std::fs::read_link("/proc/self/ns/pid").ok().map(|p| p.display().to_string());
        match (machine, boot, pid_namespace) {
            (Some(machine), Some(boot), Some(ns)) => format!("{machine}/{boot}/{ns}"),
            _ => String::new(),
        }
    })
}

/// A process's start time (clock ticks since boot, field 22 of `/proc/PID/stat`), to tell a pid
/// from a later process that reused it.
fn started_at(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn pid_alive(pid: u32, recorded_start: u64) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // A zombie (exited, not yet reaped) has a /proc entry but is gone for our purposes.
    if stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')) {
        return false;
    }
    // Same pid, different start time: the holder died and its pid was given to another process.
    recorded_start == 0 || started_at(pid) == Some(recorded_start)
}
