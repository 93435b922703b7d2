//! This computer as a desk of a clinic server (issue 12): the one link to the server, the sync
//! loop that sends this desk's queued changes and pulls the server's news, and the state the top
//! bar shows. The rules (what is queued, how answers apply) are the core's (`core/src/sync`).

use crate::state::AppState;
use chrono::{DateTime, Utc};
use clinicdesk_core::error::{ErrorCode, SessionEnd};
use clinicdesk_core::sync::{is_offline, ServerLink};
use clinicdesk_core::{Clinic, CoreError};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::{AppHandle, Manager};
use tokio::sync::Notify;
use ts_rs::TS;
use zeroize::Zeroizing;

/// How long one pull waits for news from the server before asking again.
const LONG_POLL: Duration = Duration::from_secs(20);
/// How soon to try again while the server cannot be reached.
const RETRY_OFFLINE: Duration = Duration::from_secs(5);

/// The desk's link to its server, as the top bar words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Connection {
    /// Nobody is signed in: the desk does not talk to the server.
    Idle,
    Connecting,
    Connected,
    /// The server cannot be reached; the desk works from its own copy.
    Offline,
    /// Signed in while the server could not be reached; the server must check the password
    /// before this desk's changes can go (the person signs in again).
    NeedsSignIn,
}

#[derive(Debug, Clone)]
struct Progress {
    connection: Connection,
    last_synced_at: Option<DateTime<Utc>>,
    /// Bumped whenever the desk's copy changed: screens reload when it moves.
    revision: u64,
}

/// Someone who signed in while the server could not be reached, with the password they gave.
#[derive(Clone)]
struct Unchecked {
    user_id: uuid::Uuid,
    email: String,
    password: Zeroizing<String>,
}

#[derive(Default)]
pub struct Desk {
    link: Mutex<Option<Arc<ServerLink>>>,
    progress: Mutex<Option<Progress>>,
    /// The email and password of someone who signed in while the server could not be reached:
    /// memory only, until the server has checked them (then forgotten), or sign-out.
    unchecked: Mutex<Option<Unchecked>>,
    wake: Notify,
}

/// What the top bar and the schedule need to know about the desk.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct DeskProgress {
    pub connection: Connection,
    pub last_synced_at: Option<DateTime<Utc>>,
    #[ts(type = "number")]
    pub revision: u64,
}

impl Desk {
    /// The link to this desk's server, made on first use; `None` on a one-desk clinic.
    pub fn link(&self, clinic: &Clinic) -> Result<Option<Arc<ServerLink>>, CoreError> {
        let mut slot = self.link.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() && clinic.desk_sync().is_joined()? {
            // Making the link reads the desk credential from the keyring, which may take seconds
            // (a keyring still starting is asked again for up to ~12 s): on the async runtime,
            // tokio is told, so the window's other commands and the sync loop are not held up.
            let make = || clinic.desk_sync().link(None);
            let made = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(make),
                _ => make(),
            };
            *slot = Some(Arc::new(made?));
        }
        Ok(slot.clone())
    }

    /// Forgets the link, so the next use makes it again from the kept address and credential.
    pub fn drop_link(&self) {
        *self.link.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn progress(&self) -> DeskProgress {
        let progress = self.progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let progress = progress.unwrap_or(Progress { connection: Connection::Idle, last_synced_at: None, revision: 0 });
        DeskProgress {
            connection: progress.connection,
            last_synced_at: progress.last_synced_at,
            revision: progress.revision,
        }
    }

    fn set(&self, connection: Connection, synced: bool, changed: bool) {
        let mut slot = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        let progress = slot.get_or_insert(Progress { connection: Connection::Idle, last_synced_at: None, revision: 0 });
        progress.connection = connection;
        if synced {
            progress.last_synced_at = Some(Utc::now());
        }
        if changed {
            progress.revision += 1;
        }
    }

    /// Something changed here (a booking queued, a sign-in): send and pull now.
    pub fn wake(&self) {
        self.set_changed();
        self.wake.notify_one();
    }

    fn set_changed(&self) {
        let connection = self.progress().connection;
        self.set(connection, false, true);
    }

    pub fn remember_unchecked(&self, user_id: uuid::Uuid, email: &str, password: Zeroizing<String>) {
        let unchecked = Unchecked { user_id, email: email.to_string(), password };
        *self.unchecked.lock().unwrap_or_else(|p| p.into_inner()) = Some(unchecked);
    }

    pub fn forget_unchecked(&self) {
        *self.unchecked.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn unchecked(&self) -> Option<Unchecked> {
        self.unchecked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits up to `wait`, or less if woken.
    async fn pause(&self, wait: Duration) {
        let _ = tokio::time::timeout(wait, self.wake.notified()).await;
    }
}

/// The sync loop, for as long as the app runs. It idles on a one-desk clinic and while nobody is
/// signed in (the server serves signed-in people only).
pub async fn run(app: AppHandle) {
    let state = app.state::<AppState>();
    let desk = &state.desk;
    loop {
        let Ok(clinic) = state.clinic() else { return };
        let link = match desk.link(clinic) {
            Ok(Some(link)) => link,
            Ok(None) => {
                desk.pause(Duration::from_secs(2)).await;
                continue;
            }
            Err(err) => {
                tracing::warn!(code = %err.code(), "the desk's link to its server could not be made");
                desk.pause(RETRY_OFFLINE).await;
                continue;
            }
        };
        let Ok((_, caller)) = state.caller_passive() else {
            // Signed out (or timed out): an offline sign-in's password is not kept for anyone.
            desk.forget_unchecked();
            desk.set(Connection::Idle, false, false);
            desk.pause(Duration::from_secs(2)).await;
            continue;
        };
        if desk.progress().connection == Connection::Idle {
            desk.set(Connection::Connecting, false, false);
        }
        let person = caller.user_id();
        if link.signed_in_as() != Some(person) && !open_session(&state, &link, person).await {
            desk.pause(RETRY_OFFLINE).await;
            continue;
        }
        // Which session this round uses: a sign-in or sign-out meanwhile makes it stale, and
        // nothing this round learns may then touch the newer session.
        let generation = link.generation();
        let sync = clinic.desk_sync();
        // Sent first and never interrupted (an interrupted send is only re-sent, and the server
        // answers a client id once); the pull that follows is cut short when something is queued.
        // Each change goes with its maker's session only (`command_for`).
        let sent = match sync.send_pending(&link, person).await {
            // This desk's audit entries follow, so the server's trail has every read and write.
            Ok(sent) => sync.send_audit(&link).await.map(|_| sent),
            Err(err) => Err(err),
        };
        let round = match sent {
            Ok(sent) => tokio::select! {
                pulled = sync.pull(&link, LONG_POLL) => pulled.map(|applied| (sent, applied)),
                _ = desk.wake.notified() => Ok((sent, 0)),
            },
            Err(err) => Err(err),
        };
        match round {
            Ok((sent, applied)) => {
                let changed = applied > 0 || sent != Default::default();
                desk.set(Connection::Connected, true, changed);
            }
            Err(err) if is_offline(&err) => {
                desk.set(Connection::Offline, false, false);
                desk.pause(RETRY_OFFLINE).await;
            }
            Err(err) if err.code() == "not_signed_in" => {
                if link.generation() == generation {
                    // The server ended the session (expired, or signed out elsewhere).
                    link.forget_session_if(generation);
                    desk.set(Connection::NeedsSignIn, false, false);
                }
                // Otherwise someone signed in or out during the round: the next round is theirs.
            }
            Err(err) => {
                tracing::warn!(code = %err.code(), "syncing with the clinic server failed; will try again");
                desk.set(Connection::Offline, false, false);
                desk.pause(RETRY_OFFLINE).await;
            }
        }
    }
}

/// Opens a server session for `person`, who signed in while the server could not be reached,
/// with the password they gave then. Returns whether a session is open. An answer that comes
/// after someone else signed in or out (the link's generation moved) changes nothing.
async fn open_session(state: &AppState, link: &ServerLink, person: uuid::Uuid) -> bool {
    let desk = &state.desk;
    let Some(unchecked) = desk.unchecked().filter(|u| u.user_id == person) else {
        desk.set(Connection::NeedsSignIn, false, false);
        return false;
    };
    let generation = link.generation();
    match link.sign_in(&unchecked.email, unchecked.password.as_str()).await {
        Ok(signed) => {
            if !link.set_person_if(generation, &signed) {
                link.end_remote(signed.token).await;
                return false;
            }
            desk.forget_unchecked();
            true
        }
        Err(err) if is_offline(&err) => {
            desk.set(Connection::Offline, false, false);
            false
        }
        Err(_) if link.generation() != generation => false,
        Err(err) if matches!(err.code(), ErrorCode::BadCredentials | ErrorCode::AccountLocked) => {
            // The password changed on the server, or the account was locked: the password this
            // desk accepted offline no longer opens it, here either, and the person signs in
            // again (their changes wait, queued, until they do).
            tracing::info!(code = %err.code(), "the clinic server did not accept an offline sign-in");
            desk.forget_unchecked();
            if let Ok(clinic) = state.clinic() {
                if let Err(e) = clinic.desk_sync().forget_offline_sign_in(&unchecked.email) {
                    tracing::warn!(code = %e.code(), "could not forget a refused offline password");
                }
            }
            if let Err(e) = state.sign_out(SessionEnd::PasswordChanged) {
                tracing::warn!(code = %e.code, "could not end the refused offline session");
            }
            desk.set(Connection::NeedsSignIn, false, false);
            false
        }
        Err(err) => {
            // Anything else (this desk was revoked, the server is misconfigured): try again later.
            tracing::warn!(code = %err.code(), "the clinic server could not open a session for an offline sign-in");
            desk.set(Connection::Offline, false, false);
            false
        }
    }
}
