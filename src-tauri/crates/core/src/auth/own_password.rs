//! Staff change their own password (administrators set other people's in `users.rs`).

use super::sessions::end_sessions_except;
use super::{check_new_password, hash_password, password, Auth, Caller, LOCK_AFTER_FAILURES, LOCK_MINUTES};
use crate::audit::{self, Actor, AuditAction};
use crate::db::ts;
use crate::error::{CoreError, Result, SessionEnd};
use chrono::Duration;
use rusqlite::{params, OptionalExtension};

impl Auth<'_> {
    /// Replaces the caller's password after checking the current one.
    ///
    /// - The new password follows the same rules as everywhere else and must differ from the current one.
    /// - Wrong current passwords count towards the same lockout as sign-in, so a desk left signed in
    ///   cannot be used to guess the password; the lockout also ends all of the person's sessions.
    /// - On success every other session of the person ends; the one asking stays signed in.
    pub fn change_password(&self, caller: &Caller, current: &str, new: &str) -> Result<()> {
        let clinic = self.clinic;
        crate::sync::pending::refuse_on_desk(&*clinic.db().conn()?, crate::sync::pending::ServerKeeps::Passwords)?;
        // A folder whose clinic moved onto a server keeps old passwords: staff sign in there.
        caller.refuse_if_moved()?;
        let user_id = caller.user_id.to_string();
        check_new_password(new).map_err(|err| match err {
            CoreError::Invalid { message, .. } => CoreError::invalid("new_password", message),
            other => other,
        })?;
        if new == current {
            return Err(CoreError::invalid(
                "new_password",
                "Choose a new password that is different from your current one.",
            ));
        }
        let now = clinic.now();
        let actor = || Actor::Staff(caller);
        let record = Some(("user", user_id.as_str()));
        let mut conn = clinic.db().conn()?;
        let old_hash: String = conn
            .query_row("SELECT password_hash FROM users WHERE id = ?1", [&user_id], |r| r.get(0))
            .optional()?
            .ok_or(CoreError::NotSignedIn)?;

        if !password::verify(current, &old_hash) {
            let failed: u32 = conn.query_row(
                "UPDATE users SET failed_attempts = failed_attempts + 1 WHERE id = ?1 RETURNING failed_attempts",
                [&user_id],
                |r| r.get(0),
            )?;
            if failed >= LOCK_AFTER_FAILURES {
                let until = now + Duration::minutes(LOCK_MINUTES);
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.execute(
                    "UPDATE users SET failed_attempts = 0, locked_until = ?2 WHERE id = ?1",
                    params![user_id, ts(until)],
                )?;
                end_sessions_except(&tx, &user_id, None, now, SessionEnd::AccountLocked)?;
                let detail = format!("{failed} wrong current passwords while changing the password");
                audit::record(&tx, now, actor(), AuditAction::AccountLocked, record, Some(&detail))?;
                tx.commit()?;
                return Err(CoreError::AccountLocked { until: clinic.settings().local_time_label(until)? });
            }
            audit::record(
                &conn,
                now,
                actor(),
                AuditAction::PasswordChangeFailed,
                record,
                Some("wrong current password"),
            )?;
            return Err(CoreError::invalid("current_password", "That is not your current password."));
        }

        let new_hash = hash_password(new)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Only if nobody changed the password since it was checked above.
        let changed = tx.execute(
            "UPDATE users SET password_hash = ?2, failed_attempts = 0, updated_at = ?4 WHERE id = ?1 AND password_hash = ?3",
            params![user_id, new_hash, old_hash, ts(now)],
        )?;
        if changed == 0 {
            return Err(CoreError::Conflict(
                "Your password was changed somewhere else a moment ago. Sign in again with the new one.".into(),
            ));
        }
        let ended = end_sessions_except(&tx, &user_id, Some(caller.session_id()), now, SessionEnd::PasswordChanged)?;
        let detail = format!("{ended} other session(s) ended");
        audit::record(&tx, now, actor(), AuditAction::PasswordChanged, record, Some(&detail))?;
        tx.commit()?;
        Ok(())
    }
}
