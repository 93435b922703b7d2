//! First-run setup: the clinic's settings and its first administrator.

use super::{check_new_password, hash_password, Auth, Role, SetupRequest, StaffProfile};
use crate::audit::{self, Actor, AuditAction};
use crate::db::ts;
use crate::error::{CoreError, Result};
use rusqlite::params;
use uuid::Uuid;

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
        // A desk joined to a clinic server gets its people from the server; a local administrator
        // made here would be an account the server never checks.
        let joined: i64 =
            tx.query_row("SELECT count(*) FROM settings WHERE key = ?1", [crate::sync::KEY_SERVER_URL], |r| r.get(0))?;
        if users > 0 || joined > 0 {
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
            AuditAction::ClinicSetUp,
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
}
