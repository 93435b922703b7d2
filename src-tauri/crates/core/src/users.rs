//! Staff accounts: administrators manage them; everyone else only ever sees their own profile.

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{check_new_password, hash_password, Auth, Caller, Permission, Role};
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::Clinic;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
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
        crate::sync::pending::refuse_on_desk(
            &*self.clinic.db().conn()?,
            crate::sync::pending::ServerKeeps::StaffAccounts,
        )?;
        let email = normalise_email(&new.email)?;
        let name = check_name(&new.full_name)?;
        check_new_password(&new.password)?;
        let hash = hash_password(&new.password)?;
        let now = self.clinic.now();
        let conn = self.clinic.db().conn()?;
        let taken: bool =
            conn.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE email = ?1)", [&email], |r| r.get(0))?;
        if taken {
            return Err(CoreError::invalid("email", format!("There is already an account for {email}.")));
        }
        let id = Uuid::new_v4();
        conn.execute(
            "INSERT INTO users (id, email, full_name, role, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![id.to_string(), email, name, new.role.as_str(), hash, ts(now)],
        )?;
        audit::record(
            &conn,
            now,
            Actor::Staff(caller),
            AuditAction::UserAdded,
            Some(("user", &id.to_string())),
            Some(new.role.as_str()),
        )?;
        find(&conn, id)
    }

    pub fn update(&self, caller: &Caller, id: Uuid, change: StaffUserChange) -> Result<StaffUser> {
        caller.require(Permission::ManageUsers)?;
        crate::sync::pending::refuse_on_desk(
            &*self.clinic.db().conn()?,
            crate::sync::pending::ServerKeeps::StaffAccounts,
        )?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let before = find(&tx, id)?;
        let name = change.full_name.as_deref().map(check_name).transpose()?.unwrap_or(before.full_name.clone());
        let role = change.role.unwrap_or(before.role);
        let active = change.active.unwrap_or(before.active);
        let loses_admin = before.role == Role::Admin && before.active && (role != Role::Admin || !active);
        if loses_admin {
            let admins: i64 =
                tx.query_row("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1", [], |r| r.get(0))?;
            if admins <= 1 {
                return Err(CoreError::Conflict(
                    "This is the only active administrator. Make another person an administrator first.".into(),
                ));
            }
        }
        if role != Role::Doctor && before.role == Role::Doctor {
            let has_doctor: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM doctors WHERE user_id = ?1 AND active = 1)",
                [id.to_string()],
                |r| r.get(0),
            )?;
            if has_doctor {
                return Err(CoreError::Conflict(
                    "This person is listed as a doctor. Remove them from the doctors list before changing their role."
                        .into(),
                ));
            }
        }
        tx.execute(
            "UPDATE users SET full_name = ?2, role = ?3, active = ?4, updated_at = ?5 WHERE id = ?1",
            params![id.to_string(), name, role.as_str(), active, ts(now)],
        )?;
        if role != before.role || active != before.active {
            Auth::end_sessions_of(&tx, &id.to_string(), now)?;
        }
        let detail = format!("role {}->{}, active {}->{}", before.role.as_str(), role.as_str(), before.active, active);
        audit::record(
            &tx,
            now,
            Actor::Staff(caller),
            AuditAction::UserUpdated,
            Some(("user", &id.to_string())),
            Some(&detail),
        )?;
        let after = find(&tx, id)?;
        tx.commit()?;
        Ok(after)
    }

    /// Sets a new password chosen by an administrator and signs the person out everywhere.
    pub fn reset_password(&self, caller: &Caller, id: Uuid, new_password: &str) -> Result<()> {
        caller.require(Permission::ManageUsers)?;
        crate::sync::pending::refuse_on_desk(
            &*self.clinic.db().conn()?,
            crate::sync::pending::ServerKeeps::StaffAccounts,
        )?;
        check_new_password(new_password)?;
        let hash = hash_password(new_password)?;
        let now = self.clinic.now();
        let conn = self.clinic.db().conn()?;
        find(&conn, id)?;
        conn.execute(
            "UPDATE users SET password_hash = ?2, failed_attempts = 0, locked_until = NULL, updated_at = ?3 WHERE id = ?1",
            params![id.to_string(), hash, ts(now)],
        )?;
        Auth::end_sessions_of(&conn, &id.to_string(), now)?;
        audit::record(
            &conn,
            now,
            Actor::Staff(caller),
            AuditAction::PasswordReset,
            Some(("user", &id.to_string())),
            None,
        )?;
        Ok(())
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
