//! The desk's HTTPS link to the clinic server. Every request names the desk (its credential, from
//! the keyring); requests made for a signed-in person carry their server session too. A refusal
//! comes back as the server's code and sentence (`CoreError::Server`); no answer at all is
//! `Unavailable`, which callers treat as "offline".

use crate::error::{CoreError, ErrorCode, Result};
use crate::sync::wire::{ChangePage, DeskCommand, DeskIdentity, ErrorBody, ServerSignIn};
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

/// A desk waits this long for a normal answer; a long-poll adds its own wait on top.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);
/// A consultation's start or end: several requests to Twilio on the server, each retried when
/// Twilio is slow or busy.
const CONSULTATION_ANSWER_WITHIN: Duration = Duration::from_secs(120);
/// A chat attachment (at most 10 MB) over the clinic's network.
const ATTACHMENT_WITHIN: Duration = Duration::from_secs(60);

pub struct ServerLink {
    base: url::Url,
    http: reqwest::Client,
    credential: String,
    /// The server session of whoever signed in on this desk (memory only, never stored), and a
    /// generation bumped at every change of session, so a slow answer for an earlier person can
    /// never replace (or end) a later person's session.
    session: Mutex<(u64, Option<Session>)>,
    /// Which part of the feed that session receives ("all", "doctor:<id>", "everything"): the desk
    /// keeps a cursor per part, so a doctor signing in after reception still gets their rows.
    stream: Mutex<String>,
}

/// A person's session on the server: its token and who it belongs to.
#[derive(Clone)]
struct Session {
    token: String,
    user_id: Uuid,
}

/// "The clinic server cannot be reached", in reception's words.
pub fn unreachable() -> CoreError {
    CoreError::Unavailable(
        "The clinic server cannot be reached. You can keep working with what this computer has; changes are sent when it is back."
            .into(),
    )
}

impl ServerLink {
    /// `extra_root` is a PEM certificate to trust besides the system's (a clinic's own CA).
    pub fn new(base: &url::Url, credential: &str, extra_root: Option<&[u8]>) -> Result<ServerLink> {
        // No redirects: a redirect could carry the desk's credential, or a password, elsewhere.
        let loopback = matches!(base.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!loopback);
        if let Some(pem) = extra_root {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|_| CoreError::invalid("certificate", "That certificate file is not a PEM certificate."))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| {
            tracing::error!(error = %e, "could not build the HTTPS client");
            CoreError::Storage
        })?;
        Ok(ServerLink {
            base: base.clone(),
            http,
            credential: credential.to_string(),
            session: Mutex::new((0, None)),
            stream: Mutex::new(String::new()),
        })
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    fn session(&self) -> std::sync::MutexGuard<'_, (u64, Option<Session>)> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Which session is current; pass it to `set_person_if` / `forget_session_if`.
    pub fn generation(&self) -> u64 {
        self.session().0
    }

    /// Remembers who is signed in (the server decides what they receive the same way). Returns
    /// the token of the session it replaces, for the caller to end on the server.
    pub fn set_person(&self, signed: &ServerSignIn) -> Option<String> {
        let mut session = self.session();
        self.install(&mut session, signed)
    }

    /// `set_person`, unless the session changed since `generation` (someone signed in or out
    /// while this sign-in was on its way). Returns whether it was set.
    pub fn set_person_if(&self, generation: u64, signed: &ServerSignIn) -> bool {
        let mut session = self.session();
        if session.0 != generation {
            return false;
        }
        self.install(&mut session, signed);
        true
    }

    /// Under the session lock, so a check of the generation and the change are one step.
    fn install(&self, session: &mut (u64, Option<Session>), signed: &ServerSignIn) -> Option<String> {
        let stream = match (signed.role.as_str(), signed.doctor_id) {
            ("admin", _) => "everything".to_string(),
            ("doctor", Some(id)) => format!("doctor:{id}"),
            _ => "all".to_string(),
        };
        *self.stream.lock().unwrap_or_else(|p| p.into_inner()) = stream;
        session.0 += 1;
        let new = Session { token: signed.token.clone(), user_id: signed.user_id };
        session.1.replace(new).map(|old| old.token)
    }

    /// Forgets the session without telling the server (it ended there, or the desk is offline).
    pub fn forget_session(&self) -> Option<String> {
        let mut session = self.session();
        session.0 += 1;
        session.1.take().map(|old| old.token)
    }

    /// Forgets the session the server said has ended, unless it is no longer the current one.
    pub fn forget_session_if(&self, generation: u64) {
        let mut session = self.session();
        if session.0 == generation {
            session.0 += 1;
            session.1 = None;
        }
    }

    /// Whether a person's server session is open on this link (none after an offline sign-in).
    pub fn has_session(&self) -> bool {
        self.session().1.is_some()
    }

    /// Who the open server session belongs to.
    pub fn signed_in_as(&self) -> Option<Uuid> {
        self.session().1.as_ref().map(|s| s.user_id)
    }

    pub fn stream(&self) -> String {
        self.stream.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn token(&self) -> Result<String> {
        self.session().1.as_ref().map(|s| s.token.clone()).ok_or(CoreError::NotSignedIn)
    }

    /// The token of `person`'s session: a change is only ever sent as the person who made it.
    fn token_of(&self, person: Uuid) -> Result<String> {
        match &self.session().1 {
            Some(session) if session.user_id == person => Ok(session.token.clone()),
            _ => Err(CoreError::NotSignedIn),
        }
    }

    async fn answer<T: serde::de::DeserializeOwned>(sent: reqwest::Result<reqwest::Response>) -> Result<T> {
        let response = sent.map_err(|e| {
            tracing::warn!(error = %e, "the clinic server did not answer");
            unreachable()
        })?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(|e| {
                tracing::warn!(error = %e, "the clinic server's answer was cut off or not understood");
                unreachable()
            });
        }
        match response.json::<ErrorBody>().await {
            Ok(body) => Err(CoreError::Server { code: body.code, message: body.message }),
            // Not our server's words (a proxy's error page): treat as unreachable.
            Err(_) => Err(unreachable()),
        }
    }

    /// Which desk this link's credential is, and of which clinic (no person needed).
    pub async fn whoami(&self) -> Result<DeskIdentity> {
        let sent = self
            .http
            .get(self.url("/v1/desk"))
            .timeout(ANSWER_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .send()
            .await;
        Self::answer(sent).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<ServerSignIn> {
        let sent = self
            .http
            .post(self.url("/v1/sign-in"))
            .timeout(ANSWER_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await;
        Self::answer(sent).await
    }

    /// Ends this desk's server session, if any (on every local sign-out and idle sign-out). An
    /// unreachable server is not an error: the session also ends by itself within hours.
    pub async fn sign_out(&self) {
        if let Some(token) = self.forget_session() {
            self.end_remote(token).await;
        }
    }

    /// Ends a session on the server that this desk no longer uses (replaced by another person's).
    pub async fn end_remote(&self, token: String) {
        let sent = self
            .http
            .post(self.url("/v1/sign-out"))
            .timeout(ANSWER_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(token)
            .send()
            .await;
        if let Err(e) = Self::answer::<serde_json::Value>(sent).await {
            tracing::warn!(error = %e, "the server session could not be ended now; it expires by itself");
        }
    }

    /// The changes after `after`, waiting up to `wait` for news when there is none.
    pub async fn pull(&self, after: &str, wait: Duration) -> Result<ChangePage> {
        let sent = self
            .http
            .get(self.url("/v1/changes"))
            .query(&[("after", after), ("wait", &wait.as_secs().to_string())])
            .timeout(ANSWER_WITHIN + wait)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token()?)
            .send()
            .await;
        Self::answer(sent).await
    }

    /// Sends a part of this desk's audit trail; the server keeps each entry once.
    pub async fn send_audit(&self, upload: &crate::sync::wire::AuditUpload) -> Result<serde_json::Value> {
        let sent = self
            .http
            .post(self.url("/v1/audit"))
            .timeout(ANSWER_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token()?)
            .json(upload)
            .send()
            .await;
        Self::answer(sent).await
    }

    /// Sends one part of a clinic moving onto the server (an administrator's session).
    pub async fn migrate(&self, batch: &crate::sync::wire::MigrationBatch) -> Result<serde_json::Value> {
        let sent = self
            .http
            .post(self.url("/v1/migrate"))
            .timeout(ANSWER_WITHIN * 4)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token()?)
            .json(batch)
            .send()
            .await;
        Self::answer(sent).await
    }

    /// Sends a command with the open session; `{"ok": …}` or `{"refused": {"code", "message"}}`
    /// (a refusal is an outcome).
    pub async fn command(&self, client_id: Uuid, command: &DeskCommand) -> Result<serde_json::Value> {
        self.send_command(self.token()?, client_id, command).await
    }

    /// Sends a command made by `person`, only with their own session (`NotSignedIn` otherwise:
    /// it waits until they sign in again).
    pub async fn command_for(&self, person: Uuid, client_id: Uuid, command: &DeskCommand) -> Result<serde_json::Value> {
        self.send_command(self.token_of(person)?, client_id, command).await
    }

    async fn send_command(&self, token: String, client_id: Uuid, command: &DeskCommand) -> Result<serde_json::Value> {
        let sent = self
            .http
            .post(self.url("/v1/commands"))
            .timeout(ANSWER_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(token)
            .json(&serde_json::json!({ "client_id": client_id, "command": command }))
            .send()
            .await;
        Self::answer(sent).await
    }
}

impl ServerLink {
    /// Asks the server to `action` ("start", "end", "token") the video consultation of
    /// `appointment`, as `person` (only with their own session). Starting talks to Twilio several
    /// times on the server, so it may take longer than other answers.
    pub async fn consultation<T: serde::de::DeserializeOwned>(
        &self,
        person: Uuid,
        appointment: Uuid,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        let sent = self
            .http
            .post(self.url(&format!("/v1/consultations/{appointment}/{action}")))
            .timeout(CONSULTATION_ANSWER_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token_of(person)?)
            .json(body)
            .send()
            .await;
        if let Err(e) = &sent {
            if e.is_timeout() {
                // The server may still be working with Twilio: not "unreachable", and not a reason
                // to press again blindly.
                return Err(CoreError::Twilio(
                    "The clinic server did not answer in time: it may still be talking to Twilio. Look at the consultation's state in a moment (the day view shows it) before trying again; trying again carries on from where it stopped.".into(),
                ));
            }
        }
        Self::answer(sent).await
    }
}

impl ServerLink {
    /// The patients waiting on the call page now, as `person` may see them.
    pub async fn waiting_room(&self, person: Uuid) -> Result<Vec<crate::consultations::WaitingPatient>> {
        let sent = self
            .http
            .get(self.url("/v1/waiting-room"))
            .timeout(ANSWER_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token_of(person)?)
            .send()
            .await;
        Self::answer(sent).await
    }
}

impl ServerLink {
    /// A chat attachment as the clinic server holds it, for `person` (the consultation's doctor
    /// or an administrator). No connection at all, or the server's refusal, is an error.
    pub async fn attachment(&self, person: Uuid, appointment: Uuid, media_sid: &str) -> Result<ServerFile> {
        let limit = crate::consultations::attachments::MAX_BYTES as usize;
        let sent = self
            .http
            .get(self.url(&format!("/v1/consultations/{appointment}/attachments/{media_sid}")))
            .timeout(ATTACHMENT_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token_of(person)?)
            .send()
            .await;
        let mut response = sent.map_err(|e| {
            tracing::warn!(error = %e, "the clinic server did not answer");
            unreachable()
        })?;
        let status = response.status();
        if !status.is_success() {
            return match response.json::<ErrorBody>().await {
                Ok(body) => Err(CoreError::Server { code: body.code, message: body.message }),
                // A server older than this desk has no such address: asked again later.
                Err(_) if status == reqwest::StatusCode::NOT_FOUND => Ok(ServerFile::AskAgain),
                Err(_) => Err(unreachable()),
            };
        }
        let state = response.headers().get(crate::sync::wire::ATTACHMENT_STATE_HEADER).and_then(|v| v.to_str().ok());
        match state {
            Some("kept") => {}
            Some(other) => return Ok(ServerFile::State(other.to_owned())),
            None => return Ok(ServerFile::CutOff), // not the clinic server's answer
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() > limit => {
                    return Ok(ServerFile::State("too_large".into()))
                }
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => return Ok(ServerFile::Kept(bytes)),
                Err(e) => {
                    tracing::warn!(error = %e, "a chat attachment from the clinic server was cut off");
                    return Ok(ServerFile::CutOff);
                }
            }
        }
    }
}

impl ServerLink {
    /// Marks a patient's text read on the clinic server, as `person`.
    pub async fn text_read(&self, person: Uuid, sid: &str) -> Result<crate::sync::wire::TextReplyRow> {
        // Twilio's ids only (SM/MM + 32 hex digits): nothing else is put in an address.
        let twilio_id = sid.len() == 34
            && (sid.starts_with("SM") || sid.starts_with("MM"))
            && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if !twilio_id {
            return Err(CoreError::NotFound("That text from a patient could not be found.".into()));
        }
        let sent = self
            .http
            .post(self.url(&format!("/v1/texts/{sid}/read")))
            .timeout(ANSWER_WITHIN)
            .header("x-clinicdesk-desk", &self.credential)
            .bearer_auth(self.token_of(person)?)
            .send()
            .await;
        Self::answer(sent).await
    }
}

/// A chat attachment as the clinic server answered for it.
#[derive(Debug, PartialEq)]
pub enum ServerFile {
    /// Kept there: its bytes (at most the largest file kept, whatever was sent).
    Kept(Vec<u8>),
    /// Not kept there: "waiting" (not fetched from Twilio yet), "too_large", "unavailable",
    /// "over_limit", or a state a newer server knows.
    State(String),
    /// The answer broke off or was not the server's: this file is tried again later, and given up
    /// after a while.
    CutOff,
    /// The server does not know this request yet (older than this desk): asked again later.
    AskAgain,
}

/// Whether an error means "no answer from the server" (as opposed to a refusal).
pub fn is_offline(e: &CoreError) -> bool {
    matches!(e, CoreError::Unavailable(_)) || matches!(e, CoreError::Server { code: ErrorCode::Unavailable, .. })
}
