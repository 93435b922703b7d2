//! This computer as a desk of a multi-desk clinic: joined to a clinic server, keeping this
//! encrypted database as its cache (issue 12; docs/ARCHITECTURE.md, "Several desks").
//!
//! Invariant: changes from the server and the cursor that covers them are written in one
//! transaction, so a desk that stops at any moment resumes exactly where it stopped: no change
//! skipped, none applied twice (and applying one twice would change nothing: rows arrive whole).

mod answers;
pub(crate) mod apply;
pub(crate) mod apply_texts;
mod audit_upload;
pub mod link;
pub(crate) mod migration;
mod migration_history;
pub(crate) mod pending;
mod sign_in;
pub mod wire;

pub use answers::Sent;
pub use link::{is_offline, unreachable as link_unreachable, ServerFile, ServerLink};
pub use pending::{PendingChange, ServerKeeps, NOT_YET_CONFIRMED};
pub use sign_in::OFFLINE_SIGN_IN_DAYS;

use crate::error::{CoreError, Result};
use crate::secrets::SecretName;
use crate::Clinic;
use rusqlite::{OptionalExtension, TransactionBehavior};
use std::time::Duration;
use wire::{ChangePage, DeskIdentity};

/// The setting that makes this computer a desk of a clinic server.
pub const KEY_SERVER_URL: &str = "server.url";
/// A certificate to trust for the clinic server besides the system's (a clinic's own CA, PEM).
pub const KEY_SERVER_CERTIFICATE: &str = "server.certificate";
/// The cursor of one part of the feed (see `ServerLink::stream`).
fn cursor_key(stream: &str) -> String {
    format!("cursor:{stream}")
}

pub struct DeskSync<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl DeskSync<'_> {
    /// Joins this computer to a clinic server: its address and this desk's credential (from
    /// `clinicdesk-server enroll-desk`), the credential into the keyring, without asking the
    /// server (tests and benchmarks; people use `join_checked`). Only on an empty clinic, or to
    /// give a desk of the same server a new credential: a one-desk clinic moves to a server with
    /// `clinicdesk server migrate-from` instead.
    pub fn join(&self, server_url: &str, credential: &str) -> Result<()> {
        let (url, credential) = self.may_join(server_url, credential)?;
        self.keep(&url, credential, None, None)
    }

    /// Joins after the server has recognised the credential at that address (with `certificate`,
    /// the clinic's own, trusted for it): nothing is kept unless it works. Returns which desk and
    /// clinic this computer now is.
    pub async fn join_checked(
        &self,
        server_url: &str,
        credential: &str,
        certificate: Option<&str>,
    ) -> Result<DeskIdentity> {
        let (url, credential) = self.may_join(server_url, credential)?;
        let certificate = certificate.map(str::trim).filter(|p| !p.is_empty()).map(check_certificate).transpose()?;
        // Re-joining without pasting it again keeps the certificate this desk already trusts.
        let kept = self.kept_certificate()?;
        let certificate = certificate.or(kept.as_deref());
        let link = ServerLink::new(&url, credential, certificate.map(str::as_bytes))?;
        let identity = link.whoami().await.map_err(|e| match e {
            e if is_offline(&e) => CoreError::invalid(
                "server_url",
                "No clinic server answered at that address. Check the address with your IT person and that this computer is on the clinic's network; if the clinic uses its own certificate, paste it below.",
            ),
            CoreError::Server { code: crate::error::ErrorCode::Forbidden, .. } => CoreError::invalid(
                "credential",
                "The clinic server does not know that desk credential (or it was withdrawn). Ask an administrator to enrol this desk again and copy the new line.",
            ),
            other => other,
        })?;
        self.keep(&url, credential, certificate, Some(&identity.clinic))?;
        Ok(identity)
    }

    fn may_join<'c>(&self, server_url: &str, credential: &'c str) -> Result<(url::Url, &'c str)> {
        let url = check_server_url(server_url)?;
        // The credential alone, or the whole line `enroll-desk` printed before it ("…: <credential>").
        let credential = credential.rsplit(':').next().unwrap_or(credential).trim();
        if credential.len() < 32 || !credential.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(CoreError::invalid(
                "credential",
                "That is not a desk credential. Copy the whole line `clinicdesk-server enroll-desk` printed.",
            ));
        }
        match self.server_url()? {
            // A desk of this server, given a new credential (re-enrolled): its copy stays valid.
            Some(joined) if joined == url => Ok((url, credential)),
            Some(_) => Err(CoreError::Conflict(
                "This computer is already a desk of another clinic server. Set it up again from an empty data folder to join this one.".into(),
            )),
            None if self.clinic.needs_setup()? => Ok((url, credential)),
            None => Err(CoreError::AlreadyInitialized),
        }
    }

    /// Keeps the credential (keyring) and the address with its certificate (one transaction, so
    /// the link is never made from an address without its certificate). The clinic's name is
    /// kept too, for the sign-in screen before the first sync (which brings it again).
    fn keep(&self, url: &url::Url, credential: &str, certificate: Option<&str>, clinic: Option<&str>) -> Result<()> {
        self.clinic.secrets().set(SecretName::DeskCredential, credential)?;
        let now = crate::db::ts(self.clinic.now());
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let set = "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
        if let Some(pem) = certificate {
            tx.execute(set, rusqlite::params![KEY_SERVER_CERTIFICATE, pem, now])?;
        }
        if let Some(name) = clinic.map(str::trim).filter(|n| !n.is_empty()) {
            tx.execute(set, rusqlite::params![crate::settings::KEY_NAME, name, now])?;
        }
        tx.execute(set, rusqlite::params![KEY_SERVER_URL, url.as_str(), now])?;
        tx.commit()?;
        Ok(())
    }

    /// The clinic server this desk belongs to; `None` on a one-desk clinic.
    pub fn server_url(&self) -> Result<Option<url::Url>> {
        let conn = self.clinic.db().conn()?;
        let text: Option<String> =
            conn.query_row("SELECT value FROM settings WHERE key = ?1", [KEY_SERVER_URL], |r| r.get(0)).optional()?;
        Ok(text.and_then(|t| url::Url::parse(&t).ok()))
    }

    /// The link to this desk's server (credential from the keyring). `extra_root` is a
    /// certificate to trust; without it, the one kept when joining (`server.certificate`), if any.
    pub fn link(&self, extra_root: Option<&[u8]>) -> Result<ServerLink> {
        let kept = self.kept_certificate()?;
        let extra_root = extra_root.or(kept.as_deref().map(str::as_bytes));
        let url = self
            .server_url()?
            .ok_or_else(|| CoreError::NotFound("This computer is not joined to a clinic server.".into()))?;
        let credential = self.clinic.secrets().get(SecretName::DeskCredential)?.ok_or_else(|| {
            CoreError::SecretStore(
                "This desk's credential is missing from the keyring. Ask an administrator to enrol it again.".into(),
            )
        })?;
        ServerLink::new(&url, &credential, extra_root)
    }

    fn kept_certificate(&self) -> Result<Option<String>> {
        Ok(self
            .clinic
            .db()
            .conn()?
            .query_row("SELECT value FROM settings WHERE key = ?1", [KEY_SERVER_CERTIFICATE], |r| r.get(0))
            .optional()?)
    }

    /// Where this desk has read its `stream` of the server's feed up to ("" before the first pull).
    pub fn cursor(&self, stream: &str) -> Result<String> {
        let conn = self.clinic.db().conn()?;
        Ok(conn
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [cursor_key(stream)], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
    }

    /// Applies a page of `stream` and moves that stream's cursor, in one transaction.
    pub fn apply(&self, stream: &str, page: &ChangePage) -> Result<usize> {
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Seen only inside this transaction: the double-booking backstop stands aside (0015).
        tx.execute("INSERT INTO sync_state (key, value) VALUES ('applying', '1')", [])?;
        let before: Option<String> = tx
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [cursor_key(stream)], |r| r.get(0))
            .optional()?;
        for change in &page.changes {
            if !apply::KINDS.contains(&change.entity.as_str()) {
                // A newer server's kind: remembered with where this page began, so the desk,
                // once updated, pulls it again from there (rows arrive whole: nothing doubles).
                remember_skipped(&tx, stream, &change.entity, before.as_deref().unwrap_or_default())?;
            }
            apply::apply(&tx, change, now)?;
        }
        tx.execute("DELETE FROM sync_state WHERE key = 'applying'", [])?;
        tx.execute(
            "INSERT INTO sync_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![cursor_key(stream), page.cursor],
        )?;
        tx.commit()?;
        Ok(page.changes.len())
    }

    /// Pulls and applies until the server has nothing newer (waiting up to `wait` for news on the
    /// last request). Returns how many changes were applied.
    pub async fn pull(&self, link: &ServerLink, wait: Duration) -> Result<usize> {
        let stream = link.stream();
        self.pull_again_what_is_known_now(&stream)?;
        let mut applied = 0;
        loop {
            let page = link.pull(&self.cursor(&stream)?, if applied == 0 { wait } else { Duration::ZERO }).await?;
            if page.changes.is_empty() {
                return Ok(applied);
            }
            applied += self.apply(&stream, &page)?;
        }
    }
}

impl DeskSync<'_> {
    /// After an update: if this desk once skipped kinds of change it now knows, its cursor goes
    /// back to where the first was skipped, so the next pull brings them (and applies again what
    /// came since, which changes nothing: rows arrive whole).
    fn pull_again_what_is_known_now(&self, stream: &str) -> Result<()> {
        let conn = self.clinic.db().conn()?;
        let skipped: Option<String> = conn
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [format!("skipped_kinds:{stream}")], |r| r.get(0))
            .optional()?;
        let Some(skipped) = skipped else { return Ok(()) };
        let kinds: Vec<String> = serde_json::from_str(&skipped).unwrap_or_default();
        if !kinds.iter().any(|k| apply::KINDS.contains(&k.as_str())) {
            return Ok(());
        }
        let from: String = conn
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [format!("skipped_from:{stream}")], |r| r.get(0))
            .optional()?
            .unwrap_or_default();
        tracing::info!(?kinds, "this desk now knows changes it skipped before; pulling them again");
        let tx = conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO sync_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![cursor_key(stream), from],
        )?;
        tx.execute(
            "DELETE FROM sync_state WHERE key IN (?1, ?2)",
            [format!("skipped_kinds:{stream}"), format!("skipped_from:{stream}")],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Remembers a kind of change this desk skipped, and the cursor before the first skipped one.
fn remember_skipped(tx: &rusqlite::Connection, stream: &str, kind: &str, before: &str) -> Result<()> {
    let key = format!("skipped_kinds:{stream}");
    let mut kinds: Vec<String> = tx
        .query_row("SELECT value FROM sync_state WHERE key = ?1", [&key], |r| r.get::<_, String>(0))
        .optional()?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    if !kinds.iter().any(|k| k == kind) {
        kinds.push(kind.to_owned());
        let value = serde_json::to_string(&kinds).map_err(|_| CoreError::Storage)?;
        tx.execute(
            "INSERT INTO sync_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![key, value],
        )?;
    }
    tx.execute(
        "INSERT OR IGNORE INTO sync_state (key, value) VALUES (?1, ?2)",
        rusqlite::params![format!("skipped_from:{stream}"), before],
    )?;
    Ok(())
}

/// What one round of syncing did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Synced {
    pub sent: Sent,
    pub applied: usize,
}

impl DeskSync<'_> {
    /// One round: the signed-in person's queued changes first (so the pull that follows brings
    /// the server's copy of them), then the server's news, waiting up to `wait` for some.
    pub async fn sync_once(&self, link: &ServerLink, person: uuid::Uuid, wait: Duration) -> Result<Synced> {
        // The clinic's chat retention (a setting from the server) applies to this desk's copies
        // too, first, so also while the server cannot be reached: no network needed, and nothing
        // to do on most rounds (an indexed look).
        if let Err(e) = self.clinic.consultations().remove_expired_chats() {
            tracing::warn!(code = ?e.code(), "could not remove expired consultation chats on this desk");
        }
        let sent = self.send_pending(link, person).await?;
        self.send_audit(link).await?;
        let applied = self.pull(link, if sent == Sent::default() { wait } else { Duration::ZERO }).await?;
        // Files patients sent in kept chats, after the news (a booking never waits behind a
        // file); a file that cannot come now is asked for again later, never stopping the sync.
        if let Err(e) = self.clinic.consultations().fetch_attachments_from_server(link, person).await {
            tracing::warn!(code = ?e.code(), "could not take chat attachments from the clinic server");
        }
        Ok(Synced { sent, applied })
    }

    /// Whether this computer is a desk of a clinic server.
    pub fn is_joined(&self) -> Result<bool> {
        pending::is_desk(&*self.clinic.db().conn()?)
    }
}

/// A certificate (PEM) as pasted by a person, checked and trimmed.
pub fn check_certificate(pem: &str) -> Result<&str> {
    let pem = pem.trim();
    if !pem.starts_with("-----BEGIN CERTIFICATE-----") || reqwest::Certificate::from_pem(pem.as_bytes()).is_err() {
        return Err(CoreError::invalid(
            "certificate",
            "That is not a certificate. Paste the whole text of the .pem or .crt file, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----.",
        ));
    }
    Ok(pem)
}

/// A clinic server's address, checked (`check_server_url`).
pub type ServerUrl = url::Url;

/// A clinic server's address: https, or http on this computer only (a test or a local proxy).
pub fn check_server_url(text: &str) -> Result<ServerUrl> {
    let bad =
        || CoreError::invalid("server_url", "Enter the clinic server's address, such as https://clinic-server:8640.");
    let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(CoreError::invalid(
            "server_url",
            "The clinic server must be reached over https (passwords and patient details travel on this link).",
        )),
        _ => Err(bad()),
    }
}
