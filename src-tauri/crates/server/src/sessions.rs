//! Staff signing in on a desk through the clinic server: the same rules as a one-desk clinic
//! (argon2id hashes, five wrong passwords lock the account for fifteen minutes, the same sentences),
//! and a random session token of which only the SHA-256 is stored.

use crate::audit;
use crate::desks::{digest, new_secret, Desk};
use crate::error::Result;
use crate::settings;
use crate::staff::Staff;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::{verify_against_nothing, verify_password, Role, LOCK_AFTER_FAILURES, LOCK_MINUTES};
use clinicdesk_core::error::{CoreError, SessionEnd};
use deadpool_postgres::Pool;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// As on a desk: a session ends twelve hours after sign-in whatever happens.
const LIFETIME: Duration = Duration::hours(clinicdesk_core::auth::ABSOLUTE_LIFETIME_HOURS);

pub use clinicdesk_core::sync::wire::ServerSignIn as SignedIn;

pub async fn sign_in(pool: &Pool, desk: &Desk, email: &str, password: &str, now: DateTime<Utc>) -> Result<SignedIn> {
    let client = pool.get().await?;
    let db = &**client;
    let row = db
        .query_opt(
            "SELECT u.id, u.email, u.full_name, u.role, u.password_hash, u.active, u.failed_attempts, u.locked_until, d.id
             FROM users u LEFT JOIN doctors d ON d.user_id = u.id WHERE lower(u.email) = lower($1)",
            &[&email.trim()],
        )
        .await?;
    let Some(row) = row else {
        // Same work as a real check, so timing does not tell which emails exist.
        let password = password.to_string();
        let _ = tokio::task::spawn_blocking(move || verify_against_nothing(&password)).await;
        audit::record(db, None, AuditAction::SignInFailed, None, Some("unknown email")).await?;
        return Err(CoreError::BadCredentials.into());
    };
    let (id, email, full_name, role): (Uuid, String, String, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
    let staff = Staff::new(id, Role::parse(&role).unwrap_or(Role::Reception), email.clone());
    let locked_until: Option<DateTime<Utc>> = row.get(7);
    if let Some(until) = locked_until.filter(|u| *u > now) {
        return Err(CoreError::AccountLocked { until: label(db, until).await? }.into());
    }
    // Argon2 takes tens of milliseconds of CPU: off the async workers.
    let (given, stored): (String, String) = (password.to_string(), row.get(4));
    let matches = tokio::task::spawn_blocking(move || verify_password(&given, &stored)).await.unwrap_or(false);
    if !matches || !row.get::<_, bool>(5) {
        let failed: i32 = row.get::<_, i32>(6) + 1;
        if failed as u32 >= LOCK_AFTER_FAILURES {
            let until = now + Duration::minutes(LOCK_MINUTES);
            db.execute("UPDATE users SET failed_attempts = 0, locked_until = $2 WHERE id = $1", &[&id, &until]).await?;
            audit::record(
                db,
                Some(&staff),
                AuditAction::AccountLocked,
                Some(("user", &id.to_string())),
                Some(&format!("{failed} failed attempts")),
            )
            .await?;
            return Err(CoreError::AccountLocked { until: label(db, until).await? }.into());
        }
        db.execute("UPDATE users SET failed_attempts = $2 WHERE id = $1", &[&id, &failed]).await?;
        audit::record(db, Some(&staff), AuditAction::SignInFailed, Some(("user", &id.to_string())), None).await?;
        return Err(CoreError::BadCredentials.into());
    }
    let token = new_secret();
    db.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1", &[&id]).await?;
    db.execute(
        "INSERT INTO staff_sessions (token_hash, user_id, desk_id, created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
        &[&digest(&token), &id, &desk.id, &now, &(now + LIFETIME)],
    )
    .await?;
    audit::record(db, Some(&staff), AuditAction::SignIn, Some(("desk", &desk.id.to_string())), Some(&desk.name))
        .await?;
    Ok(SignedIn { token, user_id: id, email, full_name, role, doctor_id: row.get(8) })
}

/// The staff member behind a session token, on the desk it was issued to.
pub async fn check(
    db: &impl GenericClient,
    desk: &Desk,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Staff, Option<Uuid>)> {
    let row = db
        .query_opt(
            "UPDATE staff_sessions s SET last_used_at = $3
             FROM users u LEFT JOIN doctors d ON d.user_id = u.id
             WHERE s.token_hash = $1 AND s.desk_id = $2 AND u.id = s.user_id
             RETURNING u.id, u.role, u.email, u.active, s.expires_at, s.ended_at, d.id",
            &[&digest(token), &desk.id, &now],
        )
        .await?
        .ok_or(CoreError::NotSignedIn)?;
    let expires: DateTime<Utc> = row.get(4);
    let ended: Option<DateTime<Utc>> = row.get(5);
    if ended.is_some() {
        return Err(CoreError::SessionEnded(SessionEnd::SignedOut).into());
    }
    if expires <= now {
        return Err(CoreError::SessionEnded(SessionEnd::Expired).into());
    }
    if !row.get::<_, bool>(3) {
        return Err(CoreError::SessionEnded(SessionEnd::AccountChanged).into());
    }
    let role = Role::parse(row.get(1)).ok_or(CoreError::NotSignedIn)?;
    Ok((Staff::new(row.get(0), role, row.get(2)), row.get(6)))
}

async fn label(db: &impl GenericClient, instant: DateTime<Utc>) -> Result<String> {
    let tz = settings::time_zone(db).await?;
    Ok(instant.with_timezone(&tz).format("%H:%M on %a %-d %b").to_string())
}
