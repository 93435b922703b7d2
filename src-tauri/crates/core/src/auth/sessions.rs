//! Live sessions: checking a token against its `sessions` row, signing out, and ending sessions.
//!
//! Invariants:
//! - only what the person does restarts a session's idle time (`Touch::Yes`); background polling
//!   checks with `Touch::No`, so an unattended window still signs out;
//! - the idle limit is read from the settings at every check, so a changed
//!   `security.idle_timeout_minutes` applies at once to sessions already open.

use super::{parse_instant, session, Auth, Caller, Role};
use crate::audit::{self, Actor, AuditAction};
use crate::db::ts;
use crate::error::{CoreError, Result, SessionEnd};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

/// How often a session in use is marked as used (see `check`): a session may end as idle up to
/// this much before its timeout, never after.
const TOUCH_EVERY: Duration = Duration::seconds(30);

/// Whether checking a session counts as the person using ClinicDesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Something the person asked for: the session was just used.
    Yes,
    /// Work on a timer (a status badge, a periodic refresh): the session is checked, and ended if
    /// it has been idle too long, but its idle time keeps running.
    No,
}

impl Auth<'_> {
    /// Checks a session token and marks the session as just used. Every operation a person asks
    /// for starts here.
    pub fn caller(&self, token: &str) -> Result<Caller> {
        self.check(token, Touch::Yes)
    }

    /// Checks a session token for background polling, without counting as activity.
    pub fn caller_passive(&self, token: &str) -> Result<Caller> {
        self.check(token, Touch::No)
    }

    pub fn check(&self, token: &str, touch: Touch) -> Result<Caller> {
        let clinic = self.clinic;
        let now = clinic.now();
        let claims = session::verify(clinic.session_key(), token, now)?;
        let conn = clinic.db().conn()?;
        let row = conn
            .prepare_cached(
                "SELECT s.last_seen_at, s.ended_at, s.end_reason, u.email, u.full_name, u.role, u.active
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?1 AND s.user_id = ?2",
            )?
            .query_row(params![claims.sid, claims.sub], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, bool>(6)?,
                ))
            })
            .optional()?
            .ok_or(CoreError::NotSignedIn)?;
        let (last_seen, ended, reason, email, full_name, role_text, active) = row;
        if ended.is_some() {
            return Err(CoreError::SessionEnded(end_from_text(reason.as_deref())));
        }
        let role = Role::parse(&role_text).ok_or(CoreError::Storage)?;
        if !active || role != claims.role {
            end_session(&conn, &claims.sid, now, SessionEnd::AccountChanged)?;
            return Err(CoreError::SessionEnded(SessionEnd::AccountChanged));
        }
        let minutes = clinic.settings().idle_timeout_minutes()?;
        if parse_instant(&last_seen).is_some_and(|seen| now - seen > Duration::minutes(minutes as i64)) {
            if end_session(&conn, &claims.sid, now, SessionEnd::Idle)? {
                audit::record(
                    &conn,
                    now,
                    Actor::Anonymous { label: &email, user_id: Some(&claims.sub) },
                    AuditAction::SignedOutIdle,
                    Some(("user", &claims.sub)),
                    Some(&format!("no activity for more than {minutes} minutes")),
                )?;
            }
            return Err(CoreError::SessionEnded(SessionEnd::Idle));
        }
        // The idle timeout counts in minutes: marking the session used at most every TOUCH_EVERY
        // keeps it exact to within that, and spares every click a committed write (an fsync).
        let due = parse_instant(&last_seen).is_none_or(|seen| now - seen >= TOUCH_EVERY);
        if touch == Touch::Yes && due {
            conn.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1")?
                .execute(params![claims.sid, ts(now)])?;
        }
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| CoreError::NotSignedIn)?;
        let moved = crate::sync::migration::moved_notice(&conn)?;
        Ok(Caller::new(clinic, user_id, role, email, full_name, claims.sid, moved))
    }

    /// Ends the session. Signing out twice, or with an already-ended session, is not an error.
    pub fn sign_out(&self, token: &str, reason: SessionEnd) -> Result<()> {
        let clinic = self.clinic;
        let now = clinic.now();
        // An expired token can still be signed out; only a forged one is ignored.
        let Ok(claims) = session::verify(clinic.session_key(), token, DateTime::<Utc>::MIN_UTC) else {
            return Ok(());
        };
        let conn = clinic.db().conn()?;
        if end_session(&conn, &claims.sid, now, reason)? {
            let label: String = conn.query_row("SELECT email FROM users WHERE id = ?1", [&claims.sub], |r| r.get(0))?;
            let action = if reason == SessionEnd::Idle { AuditAction::SignedOutIdle } else { AuditAction::SignOut };
            audit::record(
                &conn,
                now,
                Actor::Anonymous { label: &label, user_id: Some(&claims.sub) },
                action,
                Some(("user", &claims.sub)),
                None,
            )?;
        }
        Ok(())
    }

    /// Ends every open session of a user (after a role change, deactivation or password reset).
    pub(crate) fn end_sessions_of(conn: &Connection, user_id: &str, now: DateTime<Utc>) -> Result<()> {
        end_sessions_except(conn, user_id, None, now, SessionEnd::AccountChanged)?;
        Ok(())
    }
}

/// Ends a user's open sessions, except `keep` (the one asking); returns how many ended.
pub(super) fn end_sessions_except(
    conn: &Connection,
    user_id: &str,
    keep: Option<&str>,
    now: DateTime<Utc>,
    reason: SessionEnd,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE sessions SET ended_at = ?3, end_reason = ?4
         WHERE user_id = ?1 AND ended_at IS NULL AND (?2 IS NULL OR id <> ?2)",
        params![user_id, keep, ts(now), end_to_text(reason)],
    )?)
}

fn end_session(conn: &Connection, sid: &str, now: DateTime<Utc>, reason: SessionEnd) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE id = ?1 AND ended_at IS NULL",
        params![sid, ts(now), end_to_text(reason)],
    )?;
    Ok(changed > 0)
}

fn end_to_text(reason: SessionEnd) -> &'static str {
    match reason {
        SessionEnd::Idle => "idle",
        SessionEnd::Expired => "expired",
        SessionEnd::SignedOut => "signed_out",
        SessionEnd::AccountChanged => "account_changed",
        SessionEnd::PasswordChanged => "password_changed",
        SessionEnd::AccountLocked => "account_locked",
    }
}

fn end_from_text(text: Option<&str>) -> SessionEnd {
    match text {
        Some("idle") => SessionEnd::Idle,
        Some("expired") => SessionEnd::Expired,
        Some("account_changed") => SessionEnd::AccountChanged,
        Some("password_changed") => SessionEnd::PasswordChanged,
        Some("account_locked") => SessionEnd::AccountLocked,
        _ => SessionEnd::SignedOut,
    }
}
