//! This computer as a desk of a clinic server (issue 12): the one link to the server, the sync
//! loop that sends this desk's queued changes and pulls the server's news, and the state the top
//! bar shows. The rules (what is queued, how answers apply) are the core's (`core/src/sync`).

use crate::state::AppState;
use chrono::{DateTime, Utc};
use clinicdesk_core::sync::{is_offline, ServerLink};
use clinicdesk_core::{Clinic, CoreError};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::{AppHandle, Manager};
use tokio::sync::Notify;
use ts_rs::TS;

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

#[derive(Default)]
pub struct Desk {
    link: Mutex<Option<Arc<ServerLink>>>,
    progress: Mutex<Option<Progress>>,
    /// The email and password of someone who signed in while the server could not be reached:
    /// memory only, until the server has checked them (then forgotten), or sign-out.
    unchecked: Mutex<Option<(String, String)>>,
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
            *slot = Some(Arc::new(clinic.desk_sync().link(None)?));
        }
        Ok(slot.clone())
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

    pub fn remember_unchecked(&self, email: &str, password: &str) {
        *self.unchecked.lock().unwrap_or_else(|p| p.into_inner()) = Some((email.to_string(), password.to_string()));
    }

    pub fn forget_unchecked(&self) {
        *self.unchecked.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn unchecked(&self) -> Option<(String, String)> {
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
            desk.set(Connection::Idle, false, false);
            desk.pause(Duration::from_secs(2)).await;
            continue;
        };
        if desk.progress().connection == Connection::Idle {
            desk.set(Connection::Connecting, false, false);
        }
        if !link.has_session() && !open_session(desk, &link).await {
            desk.pause(RETRY_OFFLINE).await;
            continue;
        }
        let sync = clinic.desk_sync();
        // Sent first and never interrupted (an interrupted send is only re-sent, and the server
        // answers a client id once); the pull that follows is cut short when something is queued.
        let sent = sync.send_pending(&link, caller.user_id()).await;
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
                // The server ended the session (expired, or signed out elsewhere).
                link.set_token(None);
                desk.set(Connection::NeedsSignIn, false, false);
            }
            Err(err) => {
                tracing::warn!(code = %err.code(), "syncing with the clinic server failed; will try again");
                desk.set(Connection::Offline, false, false);
                desk.pause(RETRY_OFFLINE).await;
            }
        }
    }
}

/// Opens a server session for someone who signed in while the server could not be reached,
/// with the password they gave then. Returns whether a session is open.
async fn open_session(desk: &Desk, link: &ServerLink) -> bool {
    let Some((email, password)) = desk.unchecked() else {
        desk.set(Connection::NeedsSignIn, false, false);
        return false;
    };
    match link.sign_in(&email, &password).await {
        Ok(signed) => {
            link.set_person(&signed);
            desk.forget_unchecked();
            true
        }
        Err(err) if is_offline(&err) => {
            desk.set(Connection::Offline, false, false);
            false
        }
        Err(err) => {
            // The password changed on the server, or the account was locked: they sign in again.
            tracing::info!(code = %err.code(), "the clinic server did not accept an offline sign-in");
            desk.forget_unchecked();
            desk.set(Connection::NeedsSignIn, false, false);
            false
        }
    }
}
