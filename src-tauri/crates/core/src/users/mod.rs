//! Staff accounts: administrators manage them; everyone else only ever sees their own profile.

pub mod store;

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission, Role};
use crate::db::{at_once, ts};
use crate::error::{CoreError, Result};
use crate::Clinic;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use store::SqliteStaff;
use ts_rs::TS;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct StaffUser {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub active: bool,
    /// Set while the account is locked after failed sign-ins.
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct NewStaffUser {
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub password: String,
}

/// Changes an administrator makes to an account; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct StaffUserChange {
    pub full_name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

pub fn normalise_email(text: &str) -> Result<String> {
    let email = text.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(CoreError::invalid("email", "Enter an email address such as name@clinic.org."))
    }
}

pub fn check_name(text: &str) -> Result<String> {
    crate::text::one_line(text, "full_name", 120, "Enter the person's name (up to 120 characters).")
}

pub struct Users<'a> {
    pub(crate) clinic: &'a Clinic,
}

const SELECT: &str = "SELECT id, email, full_name, role, active, locked_until, created_at FROM users";

fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<StaffUser> {
    let role: String = r.get(3)?;
    Ok(StaffUser {
        id: crate::db::uuid_at(r, 0)?,
        email: r.get(1)?,
        full_name: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Reception),
        active: r.get(4)?,
        locked_until: r.get(5)?,
        created_at: r.get(6)?,
    })
}

impl Users<'_> {
    pub fn list(&self, caller: &Caller) -> Result<Vec<StaffUser>> {
        caller.require(Permission::ManageUsers)?;
        let conn = self.clinic.db().conn()?;
        let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY active DESC, full_name COLLATE NOCASE"))?;
        let now = self.clinic.now();
        let users = stmt.query_map([], row_to_user)?.collect::<Result<Vec<_>, _>>()?;
        Ok(users
            .into_iter()
            .map(|mut u| {
                u.locked_until = u.locked_until.filter(|t| *t > now);
                u
            })
            .collect())
    }

    pub fn get(&self, caller: &Caller, id: Uuid) -> Result<StaffUser> {
        caller.require(Permission::ManageUsers)?;
        let conn = self.clinic.db().conn()?;
        find(&conn, id)
    }

    pub fn add(&self, caller: &Caller, new: NewStaffUser) -> Result<StaffUser> {
        caller.require(Permission::ManageUsers)?;
        self.refuse_on_desk()?;
        let account = store::check_new(&new)?;
        let mut conn = self.clinic.db().conn()?;
        let tx = self.write(&mut conn)?;
        let id = Uuid::new_v4();
        at_once(store::add(&mut SqliteStaff { tx: &tx, caller, now: self.clinic.now() }, id, &account))?;
        let added = find(&tx, id)?;
        tx.commit()?;
        Ok(added)
    }

    pub fn update(&self, caller: &Caller, id: Uuid, change: StaffUserChange) -> Result<StaffUser> {
        caller.require(Permission::ManageUsers)?;
        let mut conn = self.clinic.db().conn()?;
        let tx = self.write(&mut conn)?;
        at_once(store::change(&mut SqliteStaff { tx: &tx, caller, now: self.clinic.now() }, id, &change))?;
        let after = find(&tx, id)?;
        tx.commit()?;
        Ok(after)
    }

    /// Sets a new password chosen by an administrator and signs the person out everywhere.
    pub fn reset_password(&self, caller: &Caller, id: Uuid, new_password: &str) -> Result<()> {
        caller.require(Permission::ManageUsers)?;
        self.refuse_on_desk()?;
        let hash = store::check_new_password_hash(new_password)?;
        let mut conn = self.clinic.db().conn()?;
        let tx = self.write(&mut conn)?;
        at_once(store::reset_password(&mut SqliteStaff { tx: &tx, caller, now: self.clinic.now() }, id, &hash))?;
        tx.commit()?;
        Ok(())
    }

    /// On a desk of a clinic server the accounts are the server's: said before what was typed
    /// is checked.
    fn refuse_on_desk(&self) -> Result<()> {
        crate::sync::pending::refuse_on_desk(
            &*self.clinic.db().conn()?,
            crate::sync::pending::ServerKeeps::StaffAccounts,
        )
    }

    /// A write transaction for a change to staff accounts (also refused on a desk).
    fn write<'c>(&self, conn: &'c mut Connection) -> Result<rusqlite::Transaction<'c>> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        crate::sync::pending::refuse_on_desk(&tx, crate::sync::pending::ServerKeeps::StaffAccounts)?;
        Ok(tx)
    }

    pub fn unlock(&self, caller: &Caller, id: Uuid) -> Result<StaffUser> {
        caller.require(Permission::ManageUsers)?;
        crate::sync::pending::refuse_on_desk(
            &*self.clinic.db().conn()?,
            crate::sync::pending::ServerKeeps::StaffAccounts,
        )?;
        let now = self.clinic.now();
        let conn = self.clinic.db().conn()?;
        find(&conn, id)?;
        conn.execute(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL, updated_at = ?2 WHERE id = ?1",
            params![id.to_string(), ts(now)],
        )?;
        audit::record(
            &conn,
            now,
            Actor::Staff(caller),
            AuditAction::UserUnlocked,
            Some(("user", &id.to_string())),
            None,
        )?;
        find(&conn, id)
    }

    pub fn find_by_email(&self, caller: &Caller, email: &str) -> Result<StaffUser> {
        caller.require(Permission::ManageUsers)?;
        let email = normalise_email(email)?;
        let conn = self.clinic.db().conn()?;
        conn.query_row(&format!("{SELECT} WHERE email = ?1"), [&email], row_to_user)
            .optional()?
            .ok_or_else(|| CoreError::NotFound(format!("There is no staff account for {email}.")))
    }
}

fn find(conn: &Connection, id: Uuid) -> Result<StaffUser> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id.to_string()], row_to_user)
        .optional()?
        .ok_or_else(|| CoreError::NotFound("That staff account no longer exists.".into()))
}
