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

/// At most this many password checks run at once: each takes tens of milliseconds of a core, and a
/// flood of sign-ins must not starve everything else.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Checks a password off the async workers, a bounded number at a time.
async fn check_password(password: &str, stored: Option<String>) -> bool {
    let Ok(_permit) = HASHING.acquire().await else { return false };
    let given = password.to_string();
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify_password(&given, &stored),
        // Same work as a real check, so timing does not tell which emails exist.
        None => {
            verify_against_nothing(&given);
            false
        }
    })
    .await
    .unwrap_or(false)
}

pub async fn sign_in(pool: &Pool, desk: &Desk, email: &str, password: &str, now: DateTime<Utc>) -> Result<SignedIn> {
    // The attempt is counted before the password is checked, in one statement, so guesses sent in
    // parallel each take their own number and the sixth is refused unchecked: the lockout cannot be
    // outrun. A locked account is not counted (and not checked).
    let counted = {
        let client = pool.get().await?;
        client
            .query_opt(
                // RETURNING reads the row as this UPDATE left it, after waiting for any concurrent
                // attempt (a self-join would read `locked_until` from before that wait, and a guess
                // queued behind the one that locked the account would not see the lock).
                "UPDATE users u SET failed_attempts = u.failed_attempts + 1
                 WHERE lower(u.email) = lower($1)
                 RETURNING u.id, u.email, u.full_name, u.role, u.password_hash, u.active, u.failed_attempts,
                           u.locked_until, (SELECT d.id FROM doctors d WHERE d.user_id = u.id)",
                &[&email.trim()],
            )
            .await?
    };
    // The connection goes back to the pool while the password is checked.
    let Some(row) = counted else {
        check_password(password, None).await;
        let client = pool.get().await?;
        audit::record(&**client, None, AuditAction::SignInFailed, None, Some("unknown email")).await?;
        return Err(CoreError::BadCredentials.into());
    };
    let (id, email, full_name, role): (Uuid, String, String, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
    let staff = Staff::new(id, Role::parse(&role).unwrap_or(Role::Reception), email.clone());
    let attempt: i32 = row.get(6);
    let locked_until: Option<DateTime<Utc>> = row.get(7);
    if let Some(until) = locked_until.filter(|u| *u > now) {
        let client = pool.get().await?;
        client.execute("UPDATE users SET failed_attempts = failed_attempts - 1 WHERE id = $1", &[&id]).await?;
        return Err(CoreError::AccountLocked { until: label(&**client, until).await? }.into());
    }
    let matches = attempt as u32 <= LOCK_AFTER_FAILURES && check_password(password, Some(row.get(4))).await;
    let client = pool.get().await?;
    let db = &**client;
    if !matches || !row.get::<_, bool>(5) {
        if attempt as u32 >= LOCK_AFTER_FAILURES {
            let until = now + Duration::minutes(LOCK_MINUTES);
            db.execute("UPDATE users SET failed_attempts = 0, locked_until = $2 WHERE id = $1", &[&id, &until]).await?;
            audit::record(
                db,
                Some(&staff),
                AuditAction::AccountLocked,
                Some(("user", &id.to_string())),
                Some(&format!("{attempt} failed attempts")),
            )
            .await?;
            return Err(CoreError::AccountLocked { until: label(db, until).await? }.into());
        }
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

/// Ends a session (the person signed out on their desk, or it went idle there).
pub async fn sign_out(db: &impl GenericClient, desk: &Desk, token: &str, now: DateTime<Utc>) -> Result<()> {
    db.execute(
        "UPDATE staff_sessions SET ended_at = $3 WHERE token_hash = $1 AND desk_id = $2 AND ended_at IS NULL",
        &[&digest(token), &desk.id, &now],
    )
    .await?;
    Ok(())
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
