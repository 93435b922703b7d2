//! Staff accounts on the clinic server, as its administrator manages them from the command line
//! (`clinicdesk-server add-staff`, `set-password`, `deactivate-staff`, `list-staff`). Desks only
//! read accounts (the feed brings them); the checks are the core's, as on a one-desk clinic.

use crate::audit;
use crate::changes;
use crate::directory;
use crate::error::Result;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::{check_new_password, hash_password, Role};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::users::normalise_email;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// One account as `list-staff` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub active: bool,
    /// The doctor's speciality, for an account that can be booked.
    pub specialization: Option<String>,
}

/// Adds a staff account; a doctor is also made bookable, with `specialization`. In the caller's
/// transaction, so the account and its doctor record appear together.
pub async fn add_staff(
    db: &impl GenericClient,
    email: &str,
    full_name: &str,
    role: Role,
    password: &str,
    specialization: &str,
) -> Result<Uuid> {
    let id = directory::add_user(db, email, full_name, role, password).await?;
    if role == Role::Doctor {
        let specialization = specialization.trim();
        if specialization.chars().count() > 120 {
            return Err(CoreError::invalid("specialization", "Keep the speciality under 120 characters.").into());
        }
        directory::add_doctor(db, id, specialization).await?;
    }
    let detail = format!("{} as {}, at the server's command line", normalise_email(email)?, role.as_str());
    audit::record(db, None, AuditAction::UserAdded, Some(("user", &id.to_string())), Some(&detail)).await?;
    Ok(id)
}

fn no_account(email: &str) -> crate::ServerError {
    CoreError::NotFound(format!("There is no staff account for {email} on this clinic server.")).into()
}

/// Sets a new password chosen by the administrator: the lockout is lifted and every session of
/// the person ends, so a desk asks them to sign in again with it.
pub async fn set_password(db: &impl GenericClient, email: &str, password: &str, now: DateTime<Utc>) -> Result<()> {
    let email = normalise_email(email)?;
    check_new_password(password)?;
    let hash = hash_password(password)?;
    let row = db
        .query_opt(
            "UPDATE users SET password_hash = $2, failed_attempts = 0, locked_until = NULL, updated_at = $3,
                    version = version + 1
             WHERE lower(email) = lower($1) RETURNING id, email, full_name, role, active",
            &[&email, &hash, &now],
        )
        .await?
        .ok_or_else(|| no_account(&email))?;
    let id: Uuid = row.get(0);
    // Desks forget a password they remember for offline sign-in from before this moment: the old
    // one must not open any desk, even with its network cable pulled.
    let (email, name, role, active): (String, String, String, bool) = (row.get(1), row.get(2), row.get(3), row.get(4));
    changes::record(
        db,
        "user",
        id,
        "all",
        Some(json!({"id": id, "email": email, "full_name": name, "role": role, "active": active, "password_reset_at": now})),
    )
    .await?;
    audit::record(db, None, AuditAction::PasswordReset, Some(("user", &id.to_string())), None).await?;
    end_sessions(db, id, now).await
}

/// Deactivates an account: its sessions end at once, desks forget its offline password (the
/// feed carries `active: false`), and its history stays.
pub async fn deactivate(db: &impl GenericClient, email: &str, now: DateTime<Utc>) -> Result<()> {
    let email = normalise_email(email)?;
    let row = db
        .query_opt(
            "UPDATE users SET active = false, updated_at = $2, version = version + 1
             WHERE lower(email) = lower($1) RETURNING id, email, full_name, role",
            &[&email, &now],
        )
        .await?
        .ok_or_else(|| no_account(&email))?;
    let id: Uuid = row.get(0);
    let (email, name, role): (String, String, String) = (row.get(1), row.get(2), row.get(3));
    changes::record(
        db,
        "user",
        id,
        "all",
        Some(json!({"id": id, "email": email, "full_name": name, "role": role, "active": false})),
    )
    .await?;
    // A doctor who left can no longer be booked.
    if let Some(doctor) = db
        .query_opt(
            "UPDATE doctors SET active = false, version = version + 1 WHERE user_id = $1 RETURNING id, specialization",
            &[&id],
        )
        .await?
    {
        let (doctor_id, specialization): (Uuid, String) = (doctor.get(0), doctor.get(1));
        changes::record(
            db,
            "doctor",
            doctor_id,
            "all",
            Some(json!({"id": doctor_id, "user_id": id, "specialization": specialization, "active": false})),
        )
        .await?;
    }
    audit::record(db, None, AuditAction::UserUpdated, Some(("user", &id.to_string())), Some("deactivated")).await?;
    end_sessions(db, id, now).await
}

async fn end_sessions(db: &impl GenericClient, user: Uuid, now: DateTime<Utc>) -> Result<()> {
    db.execute("UPDATE staff_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL", &[&user, &now])
        .await?;
    Ok(())
}

/// Every account, active ones first, by name.
pub async fn list(db: &impl GenericClient) -> Result<Vec<Account>> {
    let rows = db
        .query(
            "SELECT u.email, u.full_name, u.role, u.active, d.specialization
             FROM users u LEFT JOIN doctors d ON d.user_id = u.id
             ORDER BY u.active DESC, lower(u.full_name)",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Account {
            email: r.get(0),
            full_name: r.get(1),
            role: r.get(2),
            active: r.get(3),
            specialization: r.get(4),
        })
        .collect())
}
