//! The app's one piece of state: the opened clinic (or why it could not be opened), the signed-in
//! session, and the last Twilio health check. The session token lives only here, in Rust; the
//! webview never sees it, nor any Twilio secret.

use crate::error::{ApiError, ApiErrorCode, ApiResult};
use clinicdesk_core::auth::{Caller, Touch};
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::twilio::check::TwilioHealth;
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use clinicdesk_core::{Clinic, CoreError};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

pub struct AppState {
    clinic: Result<Arc<Clinic>, String>,
    pub data_dir: PathBuf,
    /// The keys sit in `scripts/run.sh`'s own keyring, whose unlock password is public
    /// (`CLINICDESK_TRIAL_KEYRING=1`): the window warns on every screen.
    pub trial_keyring: bool,
    session: Mutex<Option<String>>,
    health: Mutex<Option<TwilioHealth>>,
    /// This computer as a desk of a clinic server (idle on a one-desk clinic).
    pub desk: crate::desk::Desk,
    /// The one Twilio client: one connection pool, and one measure of Twilio's clock, shared by
    /// the outbox worker, the credential check and every command. Built on first use, off the
    /// main thread (`background::start`): making it loads the system's CA certificates, which
    /// took 100-200 ms of start-up before the window could open.
    pub twilio: LazyLock<TwilioHttp>,
}

impl AppState {
    pub fn new(data_dir: PathBuf, clinic: Result<Clinic, CoreError>, trial_keyring: bool) -> Self {
        AppState {
            clinic: clinic.map(Arc::new).map_err(|e| e.to_string()),
            data_dir,
            trial_keyring,
            session: Mutex::new(None),
            health: Mutex::new(None),
            desk: Default::default(),
            twilio: LazyLock::new(|| TwilioHttp::new(Endpoints::from_env())),
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

    /// The signed-in caller, checked by the core (signature, sign-out, idle time) on every call,
    /// for a command the person asked for: the session counts as just used.
    pub fn caller(&self) -> ApiResult<(&Clinic, Caller)> {
        self.check(Touch::Yes)
    }

    /// The same check for commands the window runs on a timer (the Twilio badge, the Texts
    /// screen's refresh, the start-up status): they must not keep an unattended window signed in.
    pub fn caller_passive(&self) -> ApiResult<(&Clinic, Caller)> {
        self.check(Touch::No)
    }

    /// A session the core has ended is forgotten here too.
    fn check(&self, touch: Touch) -> ApiResult<(&Clinic, Caller)> {
        let clinic = self.clinic()?;
        let token = self.token().ok_or_else(|| ApiError::from(CoreError::NotSignedIn))?;
        match clinic.auth().check(&token, touch) {
            Ok(caller) => Ok((clinic, caller)),
            Err(err) => {
                if err.code() == "not_signed_in" {
                    self.set_token(None);
                }
                Err(err.into())
            }
        }
    }

    /// Signs out. The token is forgotten first, so the window is signed out even when the core
    /// cannot record it (the error is still reported).
    pub fn sign_out(&self, reason: SessionEnd) -> ApiResult<()> {
        let Some(token) = self.session.lock().expect("session lock").take() else { return Ok(()) };
        self.clinic()?.auth().sign_out(&token, reason)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_out_forgets_the_session_even_when_the_core_cannot_end_it() {
        let broken = Err(CoreError::Database("The clinic database could not be opened.".into()));
        let state = AppState::new(PathBuf::from("unused"), broken, false);
        state.set_token(Some("a session token".into()));
        let err = state.sign_out(SessionEnd::SignedOut).unwrap_err();
        assert_eq!(err.code, ApiErrorCode::Unavailable);
        assert_eq!(state.token(), None, "the shell must not stay signed in");
        assert!(state.caller().is_err());
    }
}
