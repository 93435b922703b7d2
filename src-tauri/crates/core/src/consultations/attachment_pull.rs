//! On a desk of a clinic server: chat attachments come from the server, not from Twilio (a desk
//! holds no Twilio account). The server lists and fetches them (server consultations/
//! attachments.rs); the desks that keep the record (the consultation's doctor's, administrators')
//! take each kept file into their encrypted copy during sync, so the record shows and saves it
//! with no network, as on one desk. Same rows, states and limits as attachment_fetch.rs.
//!
//! Invariants:
//! - Asked only for consultations the signed-in person may read (its doctor, or an
//!   administrator): the server refuses everyone else, and asking would be wasted.
//! - No answer from the server, or a refusal about the session or the server itself: the pass
//!   stops, no file is charged. Still waiting on the server (Twilio not reached yet), or a server
//!   older than this desk: asked again a minute later, never given up for that. Only an answer
//!   that breaks off is charged to the file (1, 2, 4 … minutes, then given up).

use super::attachment_fetch::{Waiting, BYTES_PER_PASS, PER_PASS};
use super::Consultations;
use crate::db::ts;
use crate::error::{CoreError, ErrorCode, Result};
use crate::sync::{is_offline, ServerFile, ServerLink};
use rusqlite::params;
use uuid::Uuid;

impl Consultations<'_> {
    /// Takes the attachments the clinic server keeps into this desk's copy, as `person`. Returns
    /// how many files were kept.
    pub async fn fetch_attachments_from_server(&self, link: &ServerLink, person: Uuid) -> Result<u32> {
        let waiting: Vec<Waiting> = {
            let conn = self.clinic.db().conn()?;
            let mut statement = conn.prepare_cached(
                "SELECT a.media_sid, a.appointment_id FROM chat_attachments a
                 JOIN consultations c ON c.appointment_id = a.appointment_id
                 JOIN appointments p ON p.id = a.appointment_id
                 JOIN doctors d ON d.id = p.doctor_id
                 WHERE a.state = 'waiting' AND (a.fetch_after IS NULL OR a.fetch_after <= ?2)
                   AND (d.user_id = ?3 OR EXISTS (SELECT 1 FROM users WHERE id = ?3 AND role = 'admin'))
                 ORDER BY c.ended_at, a.message_index LIMIT ?1",
            )?;
            let rows = statement.query_map(params![PER_PASS, ts(self.clinic.now()), person.to_string()], |r| {
                Ok(Waiting { media_sid: r.get(0)?, appointment: r.get(1)?, service_sid: None })
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let (mut kept, mut bytes_this_pass) = (0, 0);
        for file in waiting {
            if bytes_this_pass >= BYTES_PER_PASS {
                break;
            }
            let appointment = Uuid::parse_str(&file.appointment).map_err(|e| CoreError::Database(e.to_string()))?;
            match link.attachment(person, appointment, &file.media_sid).await {
                Ok(ServerFile::Kept(bytes)) => {
                    bytes_this_pass += bytes.len();
                    if self.keep_attachment(&file, &bytes)? {
                        kept += 1;
                    }
                }
                Ok(ServerFile::State(state))
                    if matches!(state.as_str(), "too_large" | "unavailable" | "over_limit") =>
                {
                    self.set_attachment_state(&file.media_sid, &state)?
                }
                // Waiting on the server too (Twilio not reached yet), a state this desk does not
                // know yet, or a server older than this desk: not this file's failure.
                Ok(ServerFile::State(_) | ServerFile::AskAgain) => self.ask_server_again(&file.media_sid, 1)?,
                Ok(ServerFile::CutOff) => self.attachment_later(&file.media_sid)?,
                // No answer, or the session or the server itself at fault: nothing is charged to
                // the file; the next round tries again.
                Err(e) if is_offline(&e) || matches!(e, CoreError::NotSignedIn) => break,
                Err(CoreError::Server {
                    code:
                        ErrorCode::NotSignedIn | ErrorCode::BadCredentials | ErrorCode::AccountLocked | ErrorCode::Storage,
                    ..
                }) => break,
                Err(CoreError::Server { code: ErrorCode::NotFound, .. }) => {
                    self.set_attachment_state(&file.media_sid, "unavailable")?
                }
                // Not this person's to take (their role changed): another may, later.
                Err(CoreError::Server { code: ErrorCode::Forbidden, .. }) => {
                    self.ask_server_again(&file.media_sid, 60)?
                }
                Err(e) => {
                    tracing::warn!(code = ?e.code(), "could not take a chat attachment from the clinic server; trying it again later");
                    self.attachment_later(&file.media_sid)?;
                }
            }
        }
        Ok(kept)
    }

    /// Not this file's failure (the server has not fetched it from Twilio yet, say): asked again
    /// in `minutes`, never given up for it.
    fn ask_server_again(&self, media_sid: &str, minutes: i64) -> Result<()> {
        self.clinic.db().conn()?.execute(
            "UPDATE chat_attachments SET fetch_after = ?2 WHERE media_sid = ?1",
            params![media_sid, ts(self.clinic.now() + chrono::Duration::minutes(minutes))],
        )?;
        Ok(())
    }
}
