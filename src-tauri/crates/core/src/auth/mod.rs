//! Sign-in, sessions and the caller identity every core operation is checked against.

mod password;
mod permissions;
mod session;

pub use password::MIN_LENGTH as MIN_PASSWORD_LENGTH;
pub(crate) use password::{check_new as check_new_password, hash as hash_password};
pub use permissions::{Permission, Role};

use crate::audit::{self, Actor};
use crate::db::ts;
use crate::error::{CoreError, Result, SessionEnd};
use crate::settings::ClinicSettingsInput;
use crate::Clinic;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// Consecutive failures that lock an account, and for how long.
pub const LOCK_AFTER_FAILURES: u32 = 5;
pub const LOCK_MINUTES: i64 = 15;

/// A verified, live session. Only the core can make one (from a checked token or a fresh sign-in),
/// so holding a `Caller` proves who is asking.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
    pub email: String,
    pub full_name: String,
    session_id: String,
}

impl Caller {
    pub fn require(&self, permission: Permission) -> Result<()> {
        if permission.allows(self.role) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!(
                "Your role ({}) is not allowed to {}. Ask an administrator if you need this.",
                self.role.label(),
                permission.describe()
            )))
        }
    }
}

/// Where a session was opened; recorded for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    App,
    Cli,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Cli => "cli",
        }
    }
}

/// What the person signed in as, safe to show in the UI (no token).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct StaffProfile {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub idle_timeout_minutes: u32,
}

pub struct SignedIn {
    /// The signed session token. The desktop shell keeps it in Rust; it never reaches the webview.
    pub token: String,
    pub caller: Caller,
    pub profile: StaffProfile,
}

/// The first-run form: the clinic's basics and its first administrator.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct SetupRequest {
    pub clinic: ClinicSettingsInput,
    pub admin_email: String,
    pub admin_name: String,
    pub admin_password: String,
}

pub struct Auth<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Auth<'_> {
    /// Creates the clinic's settings and first administrator. Only possible while no user exists.
    pub fn set_up(&self, request: SetupRequest) -> Result<StaffProfile> {
        let clinic = self.clinic;
        let settings = request.clinic.validate()?;
        let email = crate::users::normalise_email(&request.admin_email)?;
        let name = crate::users::check_name(&request.admin_name)?;
        check_new_password(&request.admin_password)?;
        let hash = hash_password(&request.admin_password)?;
        let now = clinic.now();
        let mut conn = clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let users: i64 = tx.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
        if users > 0 {
            return Err(CoreError::AlreadyInitialized);
        }
        let id = Uuid::new_v4();
        tx.execute(
            "INSERT INTO users (id, email, full_name, role, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, 'admin', ?4, ?5, ?5)",
            params![id.to_string(), email, name, hash, ts(now)],
        )?;
        crate::settings::write_all(&tx, &settings, now)?;
        audit::record(
            &tx,
            now,
            Actor::Anonymous { label: &email, user_id: Some(&id.to_string()) },
            "setup.first_admin",
            Some(("user", &id.to_string())),
            None,
        )?;
        tx.commit()?;
        Ok(StaffProfile {
            user_id: id,
            email,
            full_name: name,
            role: Role::Admin,
            idle_timeout_minutes: settings.idle_timeout_minutes,
        })
    }

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
                "SELECT id, full_name, role, password_hash, active, failed_attempts, locked_until FROM users WHERE email = ?1",
                [&email],
                |r| {
                    Ok(UserRow {
                        id: r.get(0)?,
                        full_name: r.get(1)?,
                        role: r.get(2)?,
                        hash: r.get(3)?,
                        active: r.get(4)?,
                        failed: r.get(5)?,
                        locked_until: r.get(6)?,
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
                "auth.sign_in_failed",
                None,
                Some("unknown email"),
            )?;
            return Err(CoreError::BadCredentials);
        };
        let anon = Actor::Anonymous { label: &email, user_id: Some(&user.id) };
        if let Some(until) = user.locked_until.as_deref().and_then(parse_instant).filter(|u| *u > now) {
            audit::record(&conn, now, anon, "auth.sign_in_failed", Some(("user", &user.id)), Some("account locked"))?;
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
                    "auth.account_locked",
                    Some(("user", &user.id)),
                    Some(&format!("{failed} failed attempts")),
                )?;
                return Err(CoreError::AccountLocked { until: clinic.settings().local_time_label(until)? });
            }
            conn.execute("UPDATE users SET failed_attempts = ?2 WHERE id = ?1", params![user.id, failed])?;
            audit::record(&conn, now, anon, "auth.sign_in_failed", Some(("user", &user.id)), Some("wrong password"))?;
            return Err(CoreError::BadCredentials);
        }
        if !user.active {
            audit::record(
                &conn,
                now,
                anon,
                "auth.sign_in_failed",
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
        audit::record(&conn, now, anon, "auth.sign_in", Some(("user", &user.id)), Some(channel.as_str()))?;
        let claims = session::Claims {
            sid: session_id.clone(),
            sub: user.id.clone(),
            role,
            iat: now.timestamp(),
            exp: expires.timestamp(),
        };
        let token = session::sign(clinic.session_key(), &claims)?;
        let user_id = Uuid::parse_str(&user.id).map_err(|_| CoreError::Storage)?;
        let caller = Caller { user_id, role, email: email.clone(), full_name: user.full_name.clone(), session_id };
        let idle = clinic.settings().idle_timeout_minutes()?;
        let profile = StaffProfile { user_id, email, full_name: user.full_name, role, idle_timeout_minutes: idle };
        Ok(SignedIn { token, caller, profile })
    }

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

    pub fn profile(&self, caller: &Caller) -> Result<StaffProfile> {
        Ok(StaffProfile {
            user_id: caller.user_id,
            email: caller.email.clone(),
            full_name: caller.full_name.clone(),
            role: caller.role,
            idle_timeout_minutes: self.clinic.settings().idle_timeout_minutes()?,
        })
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

impl Caller {
    pub fn session_id(&self) -> &str {
        &self.session_id
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

pub(crate) fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}
