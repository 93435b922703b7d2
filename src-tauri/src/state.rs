//! The app's one piece of state: the opened clinic (or why it could not be opened), the signed-in
//! session, and the last Twilio health check. The session token lives only here, in Rust; the
//! webview never sees it, nor any Twilio secret.

use crate::error::{ApiError, ApiErrorCode, ApiResult};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::twilio::check::TwilioHealth;
use clinicdesk_core::{Clinic, CoreError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub struct AppState {
    clinic: Result<Arc<Clinic>, String>,
    pub data_dir: PathBuf,
    session: Mutex<Option<String>>,
    health: Mutex<Option<TwilioHealth>>,
}

impl AppState {
    pub fn new(data_dir: PathBuf, clinic: Result<Clinic, CoreError>) -> Self {
        AppState {
            clinic: clinic.map(Arc::new).map_err(|e| e.to_string()),
            data_dir,
            session: Mutex::new(None),
            health: Mutex::new(None),
        }
    }

    pub fn clinic(&self) -> ApiResult<&Clinic> {
        self.clinic.as_deref().map_err(|problem| ApiError::new(ApiErrorCode::Unavailable, problem.clone()))
    }

    /// A handle for background tasks that outlive a command.
    pub fn shared_clinic(&self) -> Option<Arc<Clinic>> {
        self.clinic.as_ref().ok().cloned()
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

    pub fn health(&self) -> Option<TwilioHealth> {
        self.health.lock().expect("health lock").clone()
    }

    pub fn set_health(&self, health: Option<TwilioHealth>) {
        *self.health.lock().expect("health lock") = health;
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
