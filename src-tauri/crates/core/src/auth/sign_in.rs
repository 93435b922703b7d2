//! Signing in: password check, lockout after repeated failures, and a new session.

use super::{parse_instant, password, session, Auth, Caller, Channel, Role, SignedIn, StaffProfile};
use super::{LOCK_AFTER_FAILURES, LOCK_MINUTES};
use crate::audit::{self, Actor, AuditAction};
use crate::db::ts;
use crate::error::{CoreError, Result};
use chrono::Duration;
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

impl Auth<'_> {
    pub fn sign_in(&self, email: &str, password: &str, channel: Channel) -> Result<SignedIn> {
        let clinic = self.clinic;
        if clinic.needs_setup()? {
            return Err(CoreError::NotInitialized);
        }
        let email = email.trim().to_lowercase();
        let now = clinic.now();
        let conn = clinic.db().conn()?;
        let user = conn
            .query_row(
                "SELECT id, full_name, role, password_hash, active, failed_attempts, locked_until, offline_sign_in_until,
                        EXISTS (SELECT 1 FROM settings WHERE key = ?2)
                 FROM users WHERE email = ?1",
                params![&email, crate::sync::KEY_SERVER_URL],
                |r| {
                    Ok(UserRow {
                        id: r.get(0)?,
                        full_name: r.get(1)?,
                        role: r.get(2)?,
                        hash: r.get(3)?,
                        active: r.get(4)?,
                        failed: r.get(5)?,
                        locked_until: r.get(6)?,
                        offline_until: r.get(7)?,
                        joined: r.get(8)?,
                    })
                },
            )
            .optional()?;
        let Some(user) = user else {
            password::verify_against_nothing(password);
            audit::record(
                &conn,
                now,
                Actor::Anonymous { label: &email, user_id: None },
                AuditAction::SignInFailed,
                None,
                Some("unknown email"),
            )?;
            return Err(CoreError::BadCredentials);
        };
        let anon = Actor::Anonymous { label: &email, user_id: Some(&user.id) };
        // On a desk of a clinic server, the password here is only a copy the server confirmed when
        // this person last signed in online on this desk; it counts for OFFLINE_SIGN_IN_DAYS. Every
        // front door (window, CLI) comes through here, so none can skip the rule.
        if user.joined && user.offline_until.as_deref().and_then(parse_instant).is_none_or(|until| until <= now) {
            return Err(CoreError::Unavailable(format!(
                "{email} has not signed in on this computer in the last {} days while the clinic server could be reached, so ClinicDesk cannot check the password here. Sign in when the network is back, or on a computer you used recently.",
                crate::sync::OFFLINE_SIGN_IN_DAYS
            )));
        }
        if let Some(until) = user.locked_until.as_deref().and_then(parse_instant).filter(|u| *u > now) {
            audit::record(
                &conn,
                now,
                anon,
                AuditAction::SignInFailed,
                Some(("user", &user.id)),
                Some("account locked"),
            )?;
            return Err(CoreError::AccountLocked { until: clinic.settings().local_time_label(until)? });
        }
        if !password::verify(password, &user.hash) {
            let failed = user.failed + 1;
            if failed >= LOCK_AFTER_FAILURES {
                let until = now + Duration::minutes(LOCK_MINUTES);
                conn.execute(
                    "UPDATE users SET failed_attempts = 0, locked_until = ?2 WHERE id = ?1",
                    params![user.id, ts(until)],
                )?;
                audit::record(
                    &conn,
                    now,
                    anon,
                    AuditAction::AccountLocked,
                    Some(("user", &user.id)),
                    Some(&format!("{failed} failed attempts")),
                )?;
                return Err(CoreError::AccountLocked { until: clinic.settings().local_time_label(until)? });
            }
            conn.execute("UPDATE users SET failed_attempts = ?2 WHERE id = ?1", params![user.id, failed])?;
            audit::record(
                &conn,
                now,
                anon,
                AuditAction::SignInFailed,
                Some(("user", &user.id)),
                Some("wrong password"),
            )?;
            return Err(CoreError::BadCredentials);
        }
        if !user.active {
            audit::record(
                &conn,
                now,
                anon,
                AuditAction::SignInFailed,
                Some(("user", &user.id)),
                Some("account deactivated"),
            )?;
            return Err(CoreError::Forbidden(
                "This account has been deactivated. Ask an administrator to reactivate it.".into(),
            ));
        }
        let role = Role::parse(&user.role).ok_or(CoreError::Storage)?;
        let session_id = Uuid::new_v4().to_string();
        let expires = now + Duration::hours(session::ABSOLUTE_LIFETIME_HOURS);
        conn.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = ?1", [&user.id])?;
        conn.execute(
            "INSERT INTO sessions (id, user_id, channel, created_at, last_seen_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            params![session_id, user.id, channel.as_str(), ts(now), ts(expires)],
        )?;
        audit::record(&conn, now, anon, AuditAction::SignIn, Some(("user", &user.id)), Some(channel.as_str()))?;
        let claims = session::Claims {
            sid: session_id.clone(),
            sub: user.id.clone(),
            role,
            iat: now.timestamp(),
            exp: expires.timestamp(),
        };
        let token = session::sign(clinic.session_key(), &claims)?;
        let user_id = Uuid::parse_str(&user.id).map_err(|_| CoreError::Storage)?;
        let moved = crate::sync::migration::moved_notice(&conn)?;
        let caller = Caller::new(clinic, user_id, role, email.clone(), user.full_name.clone(), session_id, moved);
        let idle = clinic.settings().idle_timeout_minutes()?;
        let profile = StaffProfile { user_id, email, full_name: user.full_name, role, idle_timeout_minutes: idle };
        Ok(SignedIn { token, caller, profile })
    }
}

struct UserRow {
    id: String,
    full_name: String,
    role: String,
    hash: String,
    active: bool,
    failed: u32,
    locked_until: Option<String>,
    offline_until: Option<String>,
    /// This computer is a desk of a clinic server.
    joined: bool,
}
