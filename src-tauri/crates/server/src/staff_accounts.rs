//! Staff accounts on the clinic server, as its administrator manages them from the command line
//! (`clinicdesk-server add-staff`, `set-password`, `deactivate-staff`, `list-staff`). Desks only
//! read accounts (the feed brings them); the checks are the core's, as on a one-desk clinic.

use crate::audit;
use crate::changes;
use crate::directory;
use crate::error::{Result, ServerError};
use crate::staff::Staff;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::Role;
use clinicdesk_core::error::CoreError;
use clinicdesk_core::users::store::{self, CheckedAccount, StaffStore, StoredAccount};
use clinicdesk_core::users::{normalise_email, StaffUserChange};
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

/// Staff accounts in the clinic's PostgreSQL database, in the caller's transaction: the store the
/// core's account rules (`clinicdesk_core::users::store`) run over here.
pub struct PgStaff<'a, C> {
    db: &'a C,
    /// Who makes the change; `None` at the server's command line (its operator has no account).
    actor: Option<&'a Staff>,
    now: DateTime<Utc>,
}

impl<'a, C> PgStaff<'a, C> {
    /// Changes made at the server's command line (`clinicdesk-server add-staff` and the like).
    pub fn at_command_line(db: &'a C, now: DateTime<Utc>) -> Self {
        PgStaff { db, actor: None, now }
    }
}

impl<C: GenericClient + Sync> StaffStore for PgStaff<'_, C> {
    type Error = ServerError;

    async fn email_taken(&mut self, email: &str) -> Result<bool> {
        Ok(self
            .db
            .query_one("SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))", &[&email])
            .await?
            .get(0))
    }

    async fn insert(&mut self, id: Uuid, a: &CheckedAccount) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO users (id, email, full_name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                &[&id, &a.email, &a.full_name, &a.role.as_str(), &a.password_hash, &self.now],
            )
            .await?;
        Ok(())
    }

    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<StoredAccount>> {
        let row = self
            .db
            .query_opt("SELECT full_name, role, active FROM users WHERE id = $1 FOR NO KEY UPDATE", &[&id])
            .await?;
        Ok(row.map(|r| StoredAccount {
            full_name: r.get(0),
            role: Role::parse(r.get(1)).unwrap_or(Role::Reception),
            active: r.get(2),
        }))
    }

    async fn other_active_admins(&mut self, except: Uuid) -> Result<i64> {
        // Held until the transaction ends: two administrators deactivating each other at once take
        // turns, and the second counts after the first committed (READ COMMITTED: a new statement).
        self.db.execute("SELECT pg_advisory_xact_lock(hashtext('staff administrators'))", &[]).await?;
        Ok(self
            .db
            .query_one("SELECT count(*) FROM users WHERE role = 'admin' AND active AND id <> $1", &[&except])
            .await?
            .get(0))
    }

    async fn listed_as_doctor(&mut self, id: Uuid) -> Result<bool> {
        Ok(self
            .db
            .query_one("SELECT EXISTS (SELECT 1 FROM doctors WHERE user_id = $1 AND active)", &[&id])
            .await?
            .get(0))
    }

    async fn set_details(&mut self, id: Uuid, d: &StoredAccount) -> Result<()> {
        self.db
            .execute(
                "UPDATE users SET full_name = $2, role = $3, active = $4, updated_at = $5, version = version + 1 WHERE id = $1",
                &[&id, &d.full_name, &d.role.as_str(), &d.active, &self.now],
            )
            .await?;
        Ok(())
    }

    async fn set_password_hash(&mut self, id: Uuid, hash: &str) -> Result<()> {
        self.db
            .execute(
                "UPDATE users SET password_hash = $2, failed_attempts = 0, locked_until = NULL, updated_at = $3,
                        version = version + 1
                 WHERE id = $1",
                &[&id, &hash, &self.now],
            )
            .await?;
        Ok(())
    }

    async fn end_sessions(&mut self, id: Uuid) -> Result<()> {
        self.db
            .execute(
                "UPDATE staff_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL",
                &[&id, &self.now],
            )
            .await?;
        Ok(())
    }

    async fn audit(&mut self, action: AuditAction, id: Uuid, detail: Option<&str>) -> Result<()> {
        audit::record(self.db, self.actor, action, Some(("user", &id.to_string())), detail).await?;
        Ok(())
    }
}

/// Adds a staff account; a doctor is also made bookable, with `specialization`. In the caller's
/// transaction, so the account and its doctor record appear together.
pub async fn add_staff(
    db: &(impl GenericClient + Sync),
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
    Ok(id)
}

fn no_account(email: &str) -> crate::ServerError {
    CoreError::NotFound(format!("There is no staff account for {email} on this clinic server.")).into()
}

/// Sets a new password chosen by the administrator, by the core's rules: the lockout is lifted
/// and every session of the person ends, so a desk asks them to sign in again with it.
pub async fn set_password(
    db: &(impl GenericClient + Sync),
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let hash = store::check_new_password_hash(password)?;
    let id = id_of(db, email).await?;
    store::reset_password(&mut PgStaff::at_command_line(db, now), id, &hash).await?;
    // Desks forget a password they remember for offline sign-in from before this moment: the old
    // one must not open any desk, even with its network cable pulled.
    publish(db, id, Some(now)).await
}

/// Deactivates an account by the core's rules (never the last active administrator): its sessions
/// end at once, desks forget its offline password (the feed carries `active: false`), a doctor can
/// no longer be booked, and its history stays.
pub async fn deactivate(db: &(impl GenericClient + Sync), email: &str, now: DateTime<Utc>) -> Result<()> {
    let id = id_of(db, email).await?;
    let change = StaffUserChange { active: Some(false), ..Default::default() };
    store::change(&mut PgStaff::at_command_line(db, now), id, &change).await?;
    publish(db, id, None).await?;
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
    Ok(())
}

/// The account with this email (any case).
async fn id_of(db: &impl GenericClient, email: &str) -> Result<Uuid> {
    let email = normalise_email(email)?;
    let row = db.query_opt("SELECT id FROM users WHERE lower(email) = lower($1)", &[&email]).await?;
    Ok(row.ok_or_else(|| no_account(&email))?.get(0))
}

/// The account as it now stands goes to every desk's feed (with the moment of a password reset).
async fn publish(db: &impl GenericClient, id: Uuid, password_reset_at: Option<DateTime<Utc>>) -> Result<()> {
    let r = db.query_one("SELECT email, full_name, role, active FROM users WHERE id = $1", &[&id]).await?;
    let mut row = json!({"id": id, "email": r.get::<_, String>(0), "full_name": r.get::<_, String>(1),
                         "role": r.get::<_, String>(2), "active": r.get::<_, bool>(3)});
    if let Some(at) = password_reset_at {
        row["password_reset_at"] = json!(at);
    }
    changes::record(db, "user", id, "all", Some(row)).await
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
