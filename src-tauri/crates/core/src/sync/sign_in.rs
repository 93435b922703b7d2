//! Signing in on a desk of a clinic server. Online, the server checks the password (its lockout
//! and audit apply) and this desk remembers a hash of it for OFFLINE_SIGN_IN_DAYS; offline, only
//! people who signed in here online within that time can sign in, against that hash.

use super::link::{is_offline, ServerLink};
use crate::auth::{hash_password, Channel, SignedIn};
use crate::db::ts;
use crate::error::Result;
use crate::Clinic;
use chrono::Duration;
use rusqlite::params;

pub const OFFLINE_SIGN_IN_DAYS: i64 = 14;

impl super::DeskSync<'_> {
    pub async fn sign_in(&self, link: &ServerLink, email: &str, password: &str, channel: Channel) -> Result<SignedIn> {
        let clinic: &Clinic = self.clinic;
        let email = email.trim().to_lowercase();
        match link.sign_in(&email, password).await {
            Ok(server) => {
                let hash = hash_password(password)?;
                let now = clinic.now();
                let until = now + Duration::days(OFFLINE_SIGN_IN_DAYS);
                let conn = clinic.db().conn()?;
                conn.execute(
                    "INSERT INTO users (id, email, full_name, role, password_hash, active, created_at, updated_at, offline_sign_in_until)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7)
                     ON CONFLICT (id) DO UPDATE SET email = excluded.email, full_name = excluded.full_name, role = excluded.role,
                       password_hash = excluded.password_hash, active = 1, failed_attempts = 0, locked_until = NULL,
                       offline_sign_in_until = excluded.offline_sign_in_until",
                    params![server.user_id.to_string(), server.email, server.full_name, server.role, hash, ts(now), ts(until)],
                )?;
                let signed = clinic.auth().sign_in(&email, password, channel)?;
                if let Some(replaced) = link.set_person(&server) {
                    // Whoever was signed in before on this desk: their server session ends too.
                    link.end_remote(replaced).await;
                }
                Ok(signed)
            }
            Err(e) if is_offline(&e) => {
                // The 14-day rule itself is enforced by the local sign-in (auth/sign_in.rs).
                let signed = clinic.auth().sign_in(&email, password, channel)?;
                // Nothing is sent for the previous person any more (their session, if any, ends
                // by itself on the server); this person's opens when the server is back.
                link.forget_session();
                Ok(signed)
            }
            Err(refused) => Err(refused),
        }
    }
}

impl super::DeskSync<'_> {
    /// The server refused a password this desk accepted offline (changed or locked there since):
    /// the hash remembered here goes, so that password cannot open this desk offline again.
    pub fn forget_offline_sign_in(&self, email: &str) -> Result<()> {
        let conn = self.clinic.db().conn()?;
        conn.execute(
            "UPDATE users SET password_hash = ?2, offline_sign_in_until = NULL WHERE email = ?1",
            params![email.trim().to_lowercase(), super::apply::NO_PASSWORD],
        )?;
        Ok(())
    }
}
