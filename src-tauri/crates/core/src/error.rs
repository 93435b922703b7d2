//! The core's errors. Every message is written for clinic staff: it says what went wrong and, where
//! possible, what to do next. Technical detail goes to the log (without patient data), never here.

use std::fmt;

/// Which input a validation error is about, so a screen can show the message beside that field.
pub type Field = &'static str;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{message}")]
    Invalid { field: Field, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what is already recorded (a double booking, a duplicate email).
    #[error("{0}")]
    Conflict(String),
    /// Allowed, but with consequences the person must see and accept first (a time-zone change
    /// with appointments booked). Reported as a conflict on `field`; repeat with confirmation.
    #[error("{message}")]
    Unconfirmed { field: Field, message: String },
    #[error("Please sign in to continue.")]
    NotSignedIn,
    #[error("{0}")]
    SessionEnded(SessionEnd),
    #[error("{0}")]
    Forbidden(String),
    #[error("The email or password is not correct.")]
    BadCredentials,
    #[error("This account is locked after too many failed sign-in attempts. Try again after {until}, or ask an administrator to unlock it.")]
    AccountLocked { until: String },
    #[error("ClinicDesk has not been set up yet. Create the first administrator to begin.")]
    NotInitialized,
    #[error("ClinicDesk is already set up on this computer.")]
    AlreadyInitialized,
    /// The OS keyring could not be used (locked, missing, or refused access).
    #[error("{0}")]
    SecretStore(String),
    /// The database file is unusable as it stands (wrong key, newer version, damaged).
    #[error("{0}")]
    Database(String),
    /// An unexpected storage failure; the detail is logged, the person sees a plain sentence.
    #[error("The clinic database could not complete that action. Please try again; if it keeps happening, contact support (details are in the log).")]
    Storage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    Idle,
    Expired,
    SignedOut,
    AccountChanged,
    /// The person changed their own password on another computer (or in the CLI).
    PasswordChanged,
    /// Too many wrong passwords locked the account.
    AccountLocked,
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionEnd::Idle => {
                "You were signed out because ClinicDesk was not used for a while. Please sign in again."
            }
            SessionEnd::Expired => "Your session has expired. Please sign in again.",
            SessionEnd::SignedOut => "You have signed out. Please sign in again.",
            SessionEnd::AccountChanged => "Your account was changed by an administrator. Please sign in again.",
            SessionEnd::PasswordChanged => {
                "Your password was changed, so you were signed out here. Please sign in with the new password."
            }
            SessionEnd::AccountLocked => {
                "You were signed out because of too many wrong passwords. Wait 15 minutes or ask an administrator to unlock your account."
            }
        })
    }
}

impl CoreError {
    pub fn invalid(field: Field, message: impl Into<String>) -> Self {
        CoreError::Invalid { field, message: message.into() }
    }

    /// A stable, machine-readable code: the closed set the UI and the CLI's `--json` branch on.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Invalid { .. } => "invalid",
            CoreError::NotFound(_) => "not_found",
            CoreError::Conflict(_) | CoreError::Unconfirmed { .. } => "conflict",
            CoreError::NotSignedIn | CoreError::SessionEnded(_) => "not_signed_in",
            CoreError::Forbidden(_) => "forbidden",
            CoreError::BadCredentials => "bad_credentials",
            CoreError::AccountLocked { .. } => "account_locked",
            CoreError::NotInitialized => "not_initialized",
            CoreError::AlreadyInitialized => "already_initialized",
            CoreError::SecretStore(_) => "secret_store",
            CoreError::Database(_) => "database",
            CoreError::Storage => "storage",
        }
    }

    /// The input field the error is about, if any.
    pub fn field(&self) -> Option<Field> {
        match self {
            CoreError::Invalid { field, .. } | CoreError::Unconfirmed { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for CoreError {
    fn from(err: rusqlite::Error) -> Self {
        // SQLite's messages name tables and constraints, never bound values, so they are safe to log.
        tracing::error!(error = %err, "database error");
        CoreError::Storage
    }
}

impl From<r2d2::Error> for CoreError {
    fn from(err: r2d2::Error) -> Self {
        tracing::error!(error = %err, "database pool error");
        CoreError::Storage
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
