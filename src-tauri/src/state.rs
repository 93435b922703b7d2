//! The app's one piece of state: the opened clinic (or why it could not be opened) and the
//! signed-in session. The session token lives only here, in Rust; the webview never sees it.

use crate::error::{ApiError, ApiErrorCode, ApiResult};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::{Clinic, CoreError};
use std::path::PathBuf;
use std::sync::Mutex;

pub struct AppState {
    clinic: Result<Clinic, String>,
    pub data_dir: PathBuf,
    session: Mutex<Option<String>>,
}

impl AppState {
    pub fn new(data_dir: PathBuf, clinic: Result<Clinic, CoreError>) -> Self {
        AppState { clinic: clinic.map_err(|e| e.to_string()), data_dir, session: Mutex::new(None) }
    }

    pub fn clinic(&self) -> ApiResult<&Clinic> {
        self.clinic.as_ref().map_err(|problem| ApiError::new(ApiErrorCode::Unavailable, problem.clone()))
    }

    /// Why the clinic could not be opened, if it could not.
    pub fn problem(&self) -> Option<&str> {
        self.clinic.as_ref().err().map(String::as_str)
    }

    pub fn token(&self) -> Option<String> {
        self.session.lock().expect("session lock").clone()
    }

    pub fn set_token(&self, token: Option<String>) {
        *self.session.lock().expect("session lock") = token;
    }

    /// The signed-in caller, checked by the core (signature, sign-out, idle time) on every call.
    /// A session the core has ended is forgotten here too.
    pub fn caller(&self) -> ApiResult<(&Clinic, Caller)> {
        let clinic = self.clinic()?;
        let token = self.token().ok_or_else(|| ApiError::from(CoreError::NotSignedIn))?;
        match clinic.auth().caller(&token) {
            Ok(caller) => Ok((clinic, caller)),
            Err(err) => {
                if err.code() == "not_signed_in" {
                    self.set_token(None);
                }
                Err(err.into())
            }
        }
    }
}
