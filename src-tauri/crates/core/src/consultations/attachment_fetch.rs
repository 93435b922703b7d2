//! Fetching chat attachments into the clinic database, in the background: the app runs
//! [`Consultations::fetch_attachments`] on its own timer (never inside the outbox pass, so texts
//! never wait behind a file), and `clinicdesk outbox run` after its pass.
//!
//! For each waiting file: the media's metadata and a fresh pre-signed link from the Media Content
//! Service (one request, no waiting on Retry-After), then the bytes from the link, with no
//! credentials, read in chunks and abandoned past [`MAX_BYTES`] whatever size was claimed.
//!
//! Invariants:
//! - No connection at all (the network is down), or a refusal that is about the account and not
//!   the file (the key refused, too many requests, Twilio failing): the pass stops, no file is
//!   charged with it, and everything waits for the next pass.
//! - A file's own failure (its metadata refused, its link refused, its download timing out or
//!   breaking off) delays that file alone (1, 2, 4 ... minutes); after [`GIVE_UP_AFTER`] such
//!   failures, or Twilio saying it no longer has it, it is `unavailable`.
//! - A file is stored only while the consultation keeps at most [`MAX_FILES`] files and
//!   [`MAX_TOTAL_BYTES`], checked in the same statement that stores it (two fetchers at once, the app
//!   and the CLI, cannot both pass the check).

use super::attachments::{MAX_BYTES, MAX_FILES, MAX_TOTAL_BYTES};
use super::Consultations;
use crate::db::ts;
use crate::error::Result;
use crate::twilio::config::TwilioAccount;
use crate::twilio::{media, TwilioError, TwilioHttp};
use rusqlite::{params, OptionalExtension};

/// The most files one pass fetches, and about the most bytes (the rest wait for the next pass).
pub(super) const PER_PASS: u32 = 5;
pub(super) const BYTES_PER_PASS: usize = MAX_BYTES as usize;
/// Failures after which a file is given up as unavailable.
pub const GIVE_UP_AFTER: i64 = 8;

/// One file waiting to be fetched.
pub(super) struct Waiting {
    pub(super) media_sid: String,
    pub(super) appointment: String,
    pub(super) service_sid: Option<String>,
}

impl Consultations<'_> {
    /// Whether any attachment is waiting and due: a cheap look before anything reads the keyring.
    pub fn attachments_due(&self) -> Result<bool> {
        Ok(self.clinic.db().conn()?.query_row(
            "SELECT EXISTS (SELECT 1 FROM chat_attachments INDEXED BY chat_attachments_waiting
                            WHERE state = 'waiting' AND (fetch_after IS NULL OR fetch_after <= ?1))",
            [ts(self.clinic.now())],
            |r| r.get(0),
        )?)
    }

    /// Fetches attachments still waiting (oldest consultations first). Returns how many files were
    /// kept; stops at the first that cannot reach Twilio at all (the network is down).
    pub async fn fetch_attachments(&self, http: &TwilioHttp, account: &TwilioAccount) -> Result<u32> {
        let waiting: Vec<Waiting> = {
            let conn = self.clinic.db().conn()?;
            let mut statement = conn.prepare_cached(
                "SELECT a.media_sid, a.appointment_id, c.chat_service_sid FROM chat_attachments a
                 JOIN consultations c ON c.appointment_id = a.appointment_id
                 WHERE a.state = 'waiting' AND (a.fetch_after IS NULL OR a.fetch_after <= ?2)
                 ORDER BY c.ended_at, a.message_index LIMIT ?1",
            )?;
            let rows = statement.query_map(params![PER_PASS, ts(self.clinic.now())], |r| {
                Ok(Waiting { media_sid: r.get(0)?, appointment: r.get(1)?, service_sid: r.get(2)? })
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let (mut kept, mut bytes_this_pass) = (0, 0);
        for file in waiting {
            if bytes_this_pass >= BYTES_PER_PASS {
                break;
            }
            let service = file.service_sid.clone().or_else(|| account.settings.conversations_service_sid.clone());
            match fetch_media(http, account, service.as_deref(), &file.media_sid).await {
                Fetched::Bytes(bytes) => {
                    bytes_this_pass += bytes.len();
                    if self.keep_attachment(&file, &bytes)? {
                        kept += 1;
                    }
                }
                Fetched::TooLarge => self.set_attachment_state(&file.media_sid, "too_large")?,
                Fetched::Gone => self.set_attachment_state(&file.media_sid, "unavailable")?,
                Fetched::NoConnection | Fetched::AccountRefused => break,
                Fetched::Failed => self.attachment_later(&file.media_sid)?,
            }
        }
        Ok(kept)
    }

    /// Stores the file if the consultation's kept files and bytes allow it (else `over_limit`), in
    /// one statement. Returns whether it was kept. A file removed meanwhile (retention) stays removed.
    pub(super) fn keep_attachment(&self, file: &Waiting, bytes: &[u8]) -> Result<bool> {
        let stored = self.clinic.db().conn()?.execute(
            "UPDATE chat_attachments SET state = 'kept', content = ?2, size = ?3, kept_at = ?4
             WHERE media_sid = ?1 AND state = 'waiting'
               AND (SELECT count(*) FROM chat_attachments WHERE appointment_id = ?5 AND state = 'kept') < ?6
               AND (SELECT coalesce(sum(length(content)), 0) FROM chat_attachments
                    WHERE appointment_id = ?5 AND state = 'kept') + ?3 <= ?7",
            params![
                file.media_sid,
                bytes,
                bytes.len() as i64,
                ts(self.clinic.now()),
                file.appointment,
                MAX_FILES,
                MAX_TOTAL_BYTES
            ],
        )?;
        if stored == 0 {
            // Still waiting means the consultation is full; anything else, someone else settled it.
            self.set_attachment_state(&file.media_sid, "over_limit")?;
        }
        Ok(stored == 1)
    }

    pub(super) fn set_attachment_state(&self, media_sid: &str, state: &str) -> Result<()> {
        self.clinic.db().conn()?.execute(
            "UPDATE chat_attachments SET state = ?2 WHERE media_sid = ?1 AND state = 'waiting'",
            [media_sid, state],
        )?;
        Ok(())
    }

    /// This file failed: the next try waits 1, 2, 4 ... minutes; given up after a while.
    pub(super) fn attachment_later(&self, media_sid: &str) -> Result<()> {
        let conn = self.clinic.db().conn()?;
        let attempts: Option<i64> = conn
            .query_row(
                "UPDATE chat_attachments SET fetch_attempts = fetch_attempts + 1 WHERE media_sid = ?1
                 RETURNING fetch_attempts",
                [media_sid],
                |r| r.get(0),
            )
            .optional()?;
        // Removed meanwhile (the chat's retention): nothing left to try.
        let Some(attempts) = attempts else { return Ok(()) };
        if attempts >= GIVE_UP_AFTER {
            drop(conn);
            return self.set_attachment_state(media_sid, "unavailable");
        }
        let pause = chrono::Duration::minutes(1i64 << (attempts - 1).clamp(0, 9));
        conn.execute(
            "UPDATE chat_attachments SET fetch_after = ?2 WHERE media_sid = ?1",
            params![media_sid, ts(self.clinic.now() + pause)],
        )?;
        Ok(())
    }
}

/// What became of one try to fetch a chat attachment from Twilio (here, and on a clinic server).
#[derive(Debug)]
pub enum Fetched {
    /// The file, within [`MAX_BYTES`].
    Bytes(Vec<u8>),
    /// Larger than [`MAX_BYTES`] (claimed or found while reading): never kept.
    TooLarge,
    /// Twilio no longer has it, or its ids are not Twilio's: `unavailable`.
    Gone,
    /// No connection at all: the pass stops, nothing is charged to the file.
    NoConnection,
    /// Refused for the account, not the file (the key, too many requests, Twilio failing): the
    /// pass stops, nothing is charged to the file.
    AccountRefused,
    /// This file's own failure: it waits longer (`attachment_later`), then is given up.
    Failed,
}

/// Fetches one attachment: the media's metadata and a fresh direct link, then the bytes from the
/// link, with no credentials, abandoned past [`MAX_BYTES`] whatever size was claimed.
pub async fn fetch_media(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: Option<&str>,
    media_sid: &str,
) -> Fetched {
    let Some(service) = service.filter(|sid| media::is_sid(sid, "IS") && media::is_sid(media_sid, "ME")) else {
        return Fetched::Gone;
    };
    let info = match media::info(http, account, service, media_sid).await {
        Ok(info) => info,
        Err(err) => return classify(err, true),
    };
    if info.size.is_some_and(|size| size > MAX_BYTES) {
        return Fetched::TooLarge;
    }
    let link = info.links.content_direct_temporary.unwrap_or_default();
    if !media::link_allowed(http, &link) {
        tracing::warn!("a chat attachment's link is not a secure web address; trying it again later");
        return Fetched::Failed;
    }
    match http.download(&link, MAX_BYTES as u64).await {
        Ok(Some(bytes)) => Fetched::Bytes(bytes),
        Ok(None) => Fetched::TooLarge,
        Err(err) => classify(err, false),
    }
}

/// A failure in words for the log, and what it means for the pass. `metadata`: the request
/// carried the account's key, so 401, 429 and 5xx are about the account, not the file.
fn classify(err: TwilioError, metadata: bool) -> Fetched {
    match err {
        TwilioError::NoAnswer { maybe_processed: false, detail } => {
            tracing::info!(%detail, "Twilio unreachable; chat attachments wait");
            Fetched::NoConnection
        }
        err if err.code() == Some(20404) || matches!(err, TwilioError::Api { status: 404, .. }) => Fetched::Gone,
        err if metadata && matches!(err, TwilioError::Api { status: 401 | 429 | 500..=599, .. }) => {
            tracing::warn!(code = ?err.code(), "Twilio refused the account's request for chat attachments; they wait");
            Fetched::AccountRefused
        }
        err => {
            tracing::warn!(code = ?err.code(), "could not fetch a chat attachment; trying it again later");
            Fetched::Failed
        }
    }
}
