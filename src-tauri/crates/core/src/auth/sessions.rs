//! Live sessions: checking a token against its `sessions` row, signing out, and ending sessions.

use super::{parse_instant, session, Auth, Caller, Role};
use crate::audit::{self, Actor};
use crate::db::ts;
use crate::error::{CoreError, Result, SessionEnd};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

impl Auth<'_> {
    /// Checks a session token and marks the session as just used. Every operation starts here.
    pub fn caller(&self, token: &str) -> Result<Caller> {
        let clinic = self.clinic;
        let now = clinic.now();
        let claims = session::verify(clinic.session_key(), token, now)?;
        let conn = clinic.db().conn()?;
        let row = conn
            .query_row(
                "SELECT s.last_seen_at, s.ended_at, s.end_reason, u.email, u.full_name, u.role, u.active
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?1 AND s.user_id = ?2",
                params![claims.sid, claims.sub],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, bool>(6)?,
                    ))
                },
            )
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
        let idle = Duration::minutes(clinic.settings().idle_timeout_minutes()? as i64);
        if parse_instant(&last_seen).is_some_and(|seen| now - seen > idle) {
            end_session(&conn, &claims.sid, now, SessionEnd::Idle)?;
            return Err(CoreError::SessionEnded(SessionEnd::Idle));
        }
        conn.execute("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1", params![claims.sid, ts(now)])?;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| CoreError::NotSignedIn)?;
        Ok(Caller { user_id, role, email, full_name, session_id: claims.sid })
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
            let action = if reason == SessionEnd::Idle { "auth.signed_out_idle" } else { "auth.sign_out" };
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
    pub(crate) fn end_sessions_of(conn: &rusqlite::Connection, user_id: &str, now: DateTime<Utc>) -> Result<()> {
        conn.execute(
            "UPDATE sessions SET ended_at = ?2, end_reason = 'account_changed' WHERE user_id = ?1 AND ended_at IS NULL",
            params![user_id, ts(now)],
        )?;
        Ok(())
    }
}

fn end_session(conn: &rusqlite::Connection, sid: &str, now: DateTime<Utc>, reason: SessionEnd) -> Result<bool> {
    let text = match reason {
        SessionEnd::Idle => "idle",
        SessionEnd::Expired => "expired",
        SessionEnd::SignedOut => "signed_out",
        SessionEnd::AccountChanged => "account_changed",
    };
    let changed = conn.execute(
        "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE id = ?1 AND ended_at IS NULL",
        params![sid, ts(now), text],
    )?;
    Ok(changed > 0)
}

fn end_from_text(text: Option<&str>) -> SessionEnd {
    match text {
        Some("idle") => SessionEnd::Idle,
        Some("expired") => SessionEnd::Expired,
        Some("account_changed") => SessionEnd::AccountChanged,
        _ => SessionEnd::SignedOut,
    }
}
