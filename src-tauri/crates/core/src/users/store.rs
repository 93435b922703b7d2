//! Staff accounts: the rules once, over a small store trait.
//!
//! Two stores keep accounts: the embedded SQLite file (a one-desk clinic; [`SqliteStaff`] here;
//! a desk of a clinic server only reads the server's copy) and the clinic server's PostgreSQL
//! (`clinicdesk-server`'s `PgStaff`, behind its command line). Each implements [`StaffStore`]:
//! plain storage questions and writes, no rules. The rules (what a name, an email and a password
//! must be, one account per email, never without an active administrator, a doctor's role kept
//! while they are listed as a doctor, sessions ended when what a person may do changes, which audit
//! entries, every sentence) are the functions below, written once.
//!
//! Invariant: every store method runs inside the caller's write transaction, so a change and its
//! audit entry commit together or not at all, and "is this the last administrator" is answered
//! under the same lock as the change (two administrators deactivating each other at once cannot
//! both succeed).

use super::{check_name, normalise_email, NewStaffUser, StaffUserChange};
use crate::audit::{self, Actor, AuditAction};
use crate::auth::{check_new_password, hash_password, Auth, Caller, Role};
use crate::db::ts;
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

/// What the rules need to know about an account before changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    pub full_name: String,
    pub role: Role,
    pub active: bool,
}

/// A new account, after the checks, with its password already hashed.
#[derive(Debug, Clone)]
pub struct CheckedAccount {
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// Storage for staff accounts, inside one write transaction (see the module's invariant).
#[allow(async_fn_in_trait)] // used with concrete stores only; no caller needs the futures to be Send by bound
pub trait StaffStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;

    /// Whether an account already has this email (normalised: trimmed, lower case).
    async fn email_taken(&mut self, email: &str) -> Result<bool, Self::Error>;
    /// Stores a new, active account under `id`.
    async fn insert(&mut self, id: Uuid, account: &CheckedAccount) -> Result<(), Self::Error>;
    /// The account as stored, held for the change that follows; `None` if there is none.
    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<StoredAccount>, Self::Error>;
    /// How many active administrators there are besides `except`, held until the transaction
    /// ends so two changes at once cannot both remove the last one.
    async fn other_active_admins(&mut self, except: Uuid) -> Result<i64, Self::Error>;
    /// Whether the account is listed as a doctor who can be booked.
    async fn listed_as_doctor(&mut self, id: Uuid) -> Result<bool, Self::Error>;
    /// Replaces the account's name, role and whether it is active.
    async fn set_details(&mut self, id: Uuid, details: &StoredAccount) -> Result<(), Self::Error>;
    /// Replaces the password and lifts any lockout after failed sign-ins.
    async fn set_password_hash(&mut self, id: Uuid, hash: &str) -> Result<(), Self::Error>;
    /// Ends every open session of the account (a desk asks the person to sign in again).
    async fn end_sessions(&mut self, id: Uuid) -> Result<(), Self::Error>;
    /// An entry in the clinic's audit trail about the account, by the store's actor.
    async fn audit(&mut self, action: AuditAction, id: Uuid, detail: Option<&str>) -> Result<(), Self::Error>;
}

/// A new account as typed, checked (a name, an email, a password that meets the policy) and its
/// password hashed: before any transaction, so no lock is held while the hash is worked out.
pub fn check_new(new: &NewStaffUser) -> Result<CheckedAccount> {
    let email = normalise_email(&new.email)?;
    let full_name = check_name(&new.full_name)?;
    check_new_password(&new.password)?;
    Ok(CheckedAccount { email, full_name, role: new.role, password_hash: hash_password(&new.password)? })
}

/// A new password chosen by an administrator, checked against the policy and hashed (before any
/// transaction, as for [`check_new`]).
pub fn check_new_password_hash(password: &str) -> Result<String> {
    check_new_password(password)?;
    hash_password(password)
}

/// Adds a checked account under `id`, refused if another account has its email. Audited with
/// its role.
pub async fn add<S: StaffStore>(store: &mut S, id: Uuid, account: &CheckedAccount) -> Result<(), S::Error> {
    if store.email_taken(&account.email).await? {
        return Err(CoreError::invalid("email", format!("There is already an account for {}.", account.email)).into());
    }
    store.insert(id, account).await?;
    store.audit(AuditAction::UserAdded, id, Some(account.role.as_str())).await?;
    Ok(())
}

/// Changes an account's name, role or whether it is active. Refused when it would leave the clinic
/// without an active administrator, or take the doctor's role from someone still listed as a
/// doctor. A change of role or of being active ends the person's sessions. Returns the account
/// before and after.
pub async fn change<S: StaffStore>(
    store: &mut S,
    id: Uuid,
    change: &StaffUserChange,
) -> Result<(StoredAccount, StoredAccount), S::Error> {
    let before = store
        .stored_for_change(id)
        .await?
        .ok_or_else(|| CoreError::NotFound("That staff account no longer exists.".into()))?;
    let after = StoredAccount {
        full_name: change.full_name.as_deref().map(check_name).transpose()?.unwrap_or(before.full_name.clone()),
        role: change.role.unwrap_or(before.role),
        active: change.active.unwrap_or(before.active),
    };
    let loses_admin = before.role == Role::Admin && before.active && (after.role != Role::Admin || !after.active);
    if loses_admin && store.other_active_admins(id).await? == 0 {
        return Err(CoreError::Conflict(
            "This is the only active administrator. Make another person an administrator first.".into(),
        )
        .into());
    }
    if after.role != Role::Doctor && before.role == Role::Doctor && store.listed_as_doctor(id).await? {
        return Err(CoreError::Conflict(
            "This person is listed as a doctor. Remove them from the doctors list before changing their role.".into(),
        )
        .into());
    }
    store.set_details(id, &after).await?;
    if after.role != before.role || after.active != before.active {
        store.end_sessions(id).await?;
    }
    let detail =
        format!("role {}->{}, active {}->{}", before.role.as_str(), after.role.as_str(), before.active, after.active);
    store.audit(AuditAction::UserUpdated, id, Some(&detail)).await?;
    Ok((before, after))
}

/// Sets a new password (hashed by [`check_new_password_hash`]) chosen by an administrator: the
/// lockout is lifted and the person is signed out everywhere.
pub async fn reset_password<S: StaffStore>(store: &mut S, id: Uuid, hash: &str) -> Result<(), S::Error> {
    store
        .stored_for_change(id)
        .await?
        .ok_or_else(|| CoreError::NotFound("That staff account no longer exists.".into()))?;
    store.set_password_hash(id, hash).await?;
    store.end_sessions(id).await?;
    store.audit(AuditAction::PasswordReset, id, None).await?;
    Ok(())
}

/// Staff accounts in the embedded SQLite file, in the caller's IMMEDIATE transaction (which
/// already holds the file's write lock).
pub(crate) struct SqliteStaff<'a> {
    pub tx: &'a Connection,
    pub caller: &'a Caller,
    pub now: DateTime<Utc>,
}

impl StaffStore for SqliteStaff<'_> {
    type Error = CoreError;

    async fn email_taken(&mut self, email: &str) -> Result<bool> {
        Ok(self.tx.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1)", [email], |r| r.get(0))?)
    }

    async fn insert(&mut self, id: Uuid, a: &CheckedAccount) -> Result<()> {
        self.tx.execute(
            "INSERT INTO users (id, email, full_name, role, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![id.to_string(), a.email, a.full_name, a.role.as_str(), a.password_hash, ts(self.now)],
        )?;
        Ok(())
    }

    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<StoredAccount>> {
        Ok(self
            .tx
            .query_row("SELECT full_name, role, active FROM users WHERE id = ?1", [id.to_string()], |r| {
                let role: String = r.get(1)?;
                Ok(StoredAccount {
                    full_name: r.get(0)?,
                    role: Role::parse(&role).unwrap_or(Role::Reception),
                    active: r.get(2)?,
                })
            })
            .optional()?)
    }

    async fn other_active_admins(&mut self, except: Uuid) -> Result<i64> {
        Ok(self.tx.query_row(
            "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1 AND id <> ?1",
            [except.to_string()],
            |r| r.get(0),
        )?)
    }

    async fn listed_as_doctor(&mut self, id: Uuid) -> Result<bool> {
        Ok(self.tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM doctors WHERE user_id = ?1 AND active = 1)",
            [id.to_string()],
            |r| r.get(0),
        )?)
    }

    async fn set_details(&mut self, id: Uuid, d: &StoredAccount) -> Result<()> {
        self.tx.execute(
            "UPDATE users SET full_name = ?2, role = ?3, active = ?4, updated_at = ?5 WHERE id = ?1",
            params![id.to_string(), d.full_name, d.role.as_str(), d.active, ts(self.now)],
        )?;
        Ok(())
    }

    async fn set_password_hash(&mut self, id: Uuid, hash: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE users SET password_hash = ?2, failed_attempts = 0, locked_until = NULL, updated_at = ?3 WHERE id = ?1",
            params![id.to_string(), hash, ts(self.now)],
        )?;
        Ok(())
    }

    async fn end_sessions(&mut self, id: Uuid) -> Result<()> {
        Auth::end_sessions_of(self.tx, &id.to_string(), self.now)
    }

    async fn audit(&mut self, action: AuditAction, id: Uuid, detail: Option<&str>) -> Result<()> {
        audit::record(self.tx, self.now, Actor::Staff(self.caller), action, Some(("user", &id.to_string())), detail)?;
        Ok(())
    }
}
