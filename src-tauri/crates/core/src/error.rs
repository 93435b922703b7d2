//! The core's errors. Every message is written for clinic staff: it says what went wrong and, where
//! possible, what to do next. Technical detail goes to the log (without patient data), never here.

use serde::Serialize;
use std::fmt;
use ts_rs::TS;

/// Which input a validation error is about, so a screen can show the message beside that field.
pub type Field = &'static str;

/// What kind of failure an error is, for programs: the UI branches on it, scripts read it from
/// the CLI's `--json` output and exit code. A closed set; add a code only when a caller branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "ApiErrorCode")]
pub enum ErrorCode {
    Invalid,
    NotFound,
    Conflict,
    NotSignedIn,
    Forbidden,
    BadCredentials,
    AccountLocked,
    NotInitialized,
    AlreadyInitialized,
    /// The clinic cannot be opened or used here (keyring or database problem).
    Unavailable,
    Storage,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::NotSignedIn => "not_signed_in",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::AccountLocked => "account_locked",
            ErrorCode::NotInitialized => "not_initialized",
            ErrorCode::AlreadyInitialized => "already_initialized",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Storage => "storage",
        }
    }

    /// The CLI's exit code for this kind of failure (documented in the README).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorCode::Invalid => 3,
            ErrorCode::NotFound => 4,
            ErrorCode::Conflict => 5,
            ErrorCode::NotSignedIn | ErrorCode::BadCredentials | ErrorCode::AccountLocked | ErrorCode::Forbidden => 6,
            _ => 1,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

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
    /// Twilio could not do what was asked (unreachable, refused, not set up): the sentence says
    /// what happened and what the person can do, in the clinic's words.
    #[error("{0}")]
    Twilio(String),
    /// Something on this computer ClinicDesk needs is not available (a loopback port for the call
    /// page); the sentence says what.
    #[error("{0}")]
    Unavailable(String),
    /// The clinic server refused (a desk of a multi-desk clinic): its code and its sentence, which
    /// are the core's own, written on the server.
    #[error("{message}")]
    Server { code: ErrorCode, message: String },
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

    /// The stable, machine-readable code: the one closed set both front doors use (the window's
    /// `ApiError.code` and the CLI's `--json` errors and exit codes).
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::Invalid { .. } => ErrorCode::Invalid,
            CoreError::NotFound(_) => ErrorCode::NotFound,
            CoreError::Conflict(_) | CoreError::Unconfirmed { .. } => ErrorCode::Conflict,
            CoreError::NotSignedIn | CoreError::SessionEnded(_) => ErrorCode::NotSignedIn,
            CoreError::Forbidden(_) => ErrorCode::Forbidden,
            CoreError::BadCredentials => ErrorCode::BadCredentials,
            CoreError::AccountLocked { .. } => ErrorCode::AccountLocked,
            CoreError::NotInitialized => ErrorCode::NotInitialized,
            CoreError::AlreadyInitialized => ErrorCode::AlreadyInitialized,
            // Both mean "the clinic cannot be used on this computer as it stands" (keyring or file).
            CoreError::SecretStore(_) | CoreError::Database(_) => ErrorCode::Unavailable,
            // A service the clinic depends on cannot be used right now; the same for programs.
            CoreError::Twilio(_) | CoreError::Unavailable(_) => ErrorCode::Unavailable,
            CoreError::Storage => ErrorCode::Storage,
            CoreError::Server { code, .. } => *code,
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

/// Said when the file itself refused a change because the clinic is moving (or moved) onto a
/// clinic server (migration 0018): a change already past the core's own look at the mark. The
/// core's usual sentence (sync/migration.rs) names the server; this one is for that rare moment.
pub(crate) const PAUSED_BY_MOVE: &str = "This clinic is being moved onto its clinic server, so changes on this computer are paused and this one was not saved. Ask whoever is moving it.";

impl From<rusqlite::Error> for CoreError {
    fn from(err: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(e, Some(message)) = &err {
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER && message == "clinic_moved" {
                return CoreError::Forbidden(PAUSED_BY_MOVE.into());
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_the_same_in_json_in_words_and_as_an_exit_code() {
        use ErrorCode::*;
        let all = [
            Invalid,
            NotFound,
            Conflict,
            NotSignedIn,
            Forbidden,
            BadCredentials,
            AccountLocked,
            NotInitialized,
            AlreadyInitialized,
            Unavailable,
            Storage,
        ];
        for code in all {
            // The window receives the JSON form, the CLI prints `as_str` and compares with it.
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str(), "{code:?}");
        }
        assert_eq!(CoreError::SecretStore("locked".into()).code(), "unavailable", "one code for both front doors");
        assert_eq!(CoreError::invalid("phone", "x").code().exit_code(), 3);
        assert_eq!(CoreError::BadCredentials.code().exit_code(), 6);
    }
}
