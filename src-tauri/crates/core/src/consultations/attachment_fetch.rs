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
const PER_PASS: u32 = 5;
const BYTES_PER_PASS: usize = MAX_BYTES as usize;
/// Failures after which a file is given up as unavailable.
const GIVE_UP_AFTER: i64 = 8;

/// One file waiting to be fetched.
struct Waiting {
    media_sid: String,
    appointment: String,
    service_sid: Option<String>,
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
            let Some(service) = service.filter(|sid| media::is_sid(sid, "IS") && media::is_sid(&file.media_sid, "ME"))
            else {
                self.set_attachment_state(&file.media_sid, "unavailable")?;
                continue;
            };
            match fetch_one(http, account, &service, &file.media_sid).await {
                Ok(Some(bytes)) => {
                    bytes_this_pass += bytes.len();
                    if self.keep_attachment(&file, &bytes)? {
                        kept += 1;
                    }
                }
                Ok(None) => self.set_attachment_state(&file.media_sid, "too_large")?,
                Err(Failed { err: TwilioError::NoAnswer { maybe_processed: false, detail }, .. }) => {
                    tracing::info!(%detail, "Twilio unreachable; chat attachments wait");
                    break;
                }
                Err(Failed { err, .. })
                    if err.code() == Some(20404) || matches!(err, TwilioError::Api { status: 404, .. }) =>
                {
                    self.set_attachment_state(&file.media_sid, "unavailable")?;
                }
                Err(Failed { err, of_the_account: true }) => {
                    tracing::warn!(code = ?err.code(), "Twilio refused the account's request for chat attachments; they wait");
                    break;
                }
                Err(Failed { err, .. }) => {
                    tracing::warn!(code = ?err.code(), "could not fetch a chat attachment; trying it again later");
                    self.attachment_later(&file.media_sid)?;
                }
            }
        }
        Ok(kept)
    }

    /// Stores the file if the consultation's kept files and bytes allow it (else `over_limit`), in
    /// one statement. Returns whether it was kept. A file removed meanwhile (retention) stays removed.
    fn keep_attachment(&self, file: &Waiting, bytes: &[u8]) -> Result<bool> {
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

    fn set_attachment_state(&self, media_sid: &str, state: &str) -> Result<()> {
        self.clinic.db().conn()?.execute(
            "UPDATE chat_attachments SET state = ?2 WHERE media_sid = ?1 AND state = 'waiting'",
            [media_sid, state],
        )?;
        Ok(())
    }

    /// This file failed: the next try waits 1, 2, 4 ... minutes; given up after a while.
    fn attachment_later(&self, media_sid: &str) -> Result<()> {
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

/// Why a file could not be fetched, and whether the refusal is about the account rather than the
/// file (the key refused, too many requests, Twilio itself failing): then no file is to blame.
struct Failed {
    err: TwilioError,
    of_the_account: bool,
}

/// The file's bytes (`None`: over the limit), from a fresh direct link.
async fn fetch_one(
    http: &TwilioHttp,
    account: &TwilioAccount,
    service: &str,
    media_sid: &str,
) -> Result<Option<Vec<u8>>, Failed> {
    let info = media::info(http, account, service, media_sid).await.map_err(|err| {
        let of_the_account = matches!(err, TwilioError::Api { status: 401 | 429 | 500..=599, .. });
        Failed { err, of_the_account }
    })?;
    let file = |err| Failed { err, of_the_account: false };
    if info.size.is_some_and(|size| size > MAX_BYTES) {
        return Ok(None);
    }
    let link = info.links.content_direct_temporary.unwrap_or_default();
    if !media::link_allowed(http, &link) {
        return Err(file(TwilioError::Unreadable("the attachment's link is not a secure web address".into())));
    }
    http.download(&link, MAX_BYTES as u64).await.map_err(file)
}
