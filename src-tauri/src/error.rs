//! The one error type that crosses IPC. Its `code` is a closed set mirrored in TypeScript
//! (`ApiErrorCode`); `message` is a sentence for staff; `field` names the input it is about.

use clinicdesk_core::CoreError;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ApiErrorCode {
    Invalid,
    NotFound,
    Conflict,
    NotSignedIn,
    Forbidden,
    BadCredentials,
    AccountLocked,
    NotInitialized,
    AlreadyInitialized,
    /// The clinic could not be opened at start-up (keyring or database problem).
    Unavailable,
    Storage,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ApiError {
    pub code: ApiErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ApiErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), field: None }
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        let code = match &err {
            CoreError::Invalid { .. } => ApiErrorCode::Invalid,
            CoreError::NotFound(_) => ApiErrorCode::NotFound,
            CoreError::Conflict(_) | CoreError::Unconfirmed { .. } => ApiErrorCode::Conflict,
            CoreError::NotSignedIn | CoreError::SessionEnded(_) => ApiErrorCode::NotSignedIn,
            CoreError::Forbidden(_) => ApiErrorCode::Forbidden,
            CoreError::BadCredentials => ApiErrorCode::BadCredentials,
            CoreError::AccountLocked { .. } => ApiErrorCode::AccountLocked,
            CoreError::NotInitialized => ApiErrorCode::NotInitialized,
            CoreError::AlreadyInitialized => ApiErrorCode::AlreadyInitialized,
            CoreError::SecretStore(_) | CoreError::Database(_) => ApiErrorCode::Unavailable,
            CoreError::Storage => ApiErrorCode::Storage,
        };
        ApiError { code, message: err.to_string(), field: err.field().map(str::to_owned) }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_their_sentence_and_field_at_the_boundary() {
        let api: ApiError = CoreError::invalid("phone", "Enter the patient's mobile number.").into();
        assert_eq!(api.code, ApiErrorCode::Invalid);
        assert_eq!(api.field.as_deref(), Some("phone"));
        assert_eq!(api.message, "Enter the patient's mobile number.");
        let json = serde_json::to_value(ApiError::from(CoreError::BadCredentials)).unwrap();
        assert_eq!(json["code"], "bad_credentials");
    }
}
