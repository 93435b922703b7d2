//! Sign-in, sessions and the caller identity every core operation is checked against.

mod caller;
mod own_password;
mod password;
mod permissions;
mod session;
mod sessions;
mod setup;
mod sign_in;

pub use caller::{refusal, Caller};
pub use password::MIN_LENGTH as MIN_PASSWORD_LENGTH;
pub use password::{
    check_new as check_new_password, hash as hash_password, is_stored_hash as is_stored_password_hash,
    verify as verify_password, verify_against_nothing,
};
pub use permissions::{Permission, Role};
pub use sessions::Touch;

use crate::error::Result;
use crate::settings::ClinicSettingsInput;
use crate::Clinic;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// Consecutive failures that lock an account, and for how long.
pub const LOCK_AFTER_FAILURES: u32 = 5;
pub const LOCK_MINUTES: i64 = 15;
pub use session::ABSOLUTE_LIFETIME_HOURS;

/// Where a session was opened; recorded for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    App,
    Cli,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Cli => "cli",
        }
    }
}

/// What the person signed in as, safe to show in the UI (no token).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct StaffProfile {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub idle_timeout_minutes: u32,
}

pub struct SignedIn {
    /// The signed session token. The desktop shell keeps it in Rust; it never reaches the webview.
    pub token: String,
    pub caller: Caller,
    pub profile: StaffProfile,
}

/// The first-run form: the clinic's basics and its first administrator.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct SetupRequest {
    pub clinic: ClinicSettingsInput,
    pub admin_email: String,
    pub admin_name: String,
    pub admin_password: String,
}

pub struct Auth<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Auth<'_> {
    pub fn profile(&self, caller: &Caller) -> Result<StaffProfile> {
        Ok(StaffProfile {
            user_id: caller.user_id,
            email: caller.email.clone(),
            full_name: caller.full_name.clone(),
            role: caller.role,
            idle_timeout_minutes: self.clinic.settings().idle_timeout_minutes()?,
        })
    }
}

pub(crate) fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}
