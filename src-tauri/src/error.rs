//! The one error type that crosses IPC. Its `code` is a closed set mirrored in TypeScript
//! (`ApiErrorCode`); `message` is a sentence for staff; `field` names the input it is about.

use clinicdesk_core::CoreError;
use serde::Serialize;
use ts_rs::TS;

/// The core's closed set of codes, the same the CLI prints with `--json`.
pub use clinicdesk_core::error::ErrorCode as ApiErrorCode;

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
        let code = err.code();
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
