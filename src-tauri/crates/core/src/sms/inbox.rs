//! The inbox: texts patients sent that no rule handled (a question, "running late", a reply from
//! an unknown number), waiting for a person to read them. Keyword replies (C/YES, STOP, START,
//! HELP) are recorded too but are not in the inbox: what they asked for is already done.

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::Clinic;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// What ClinicDesk did with a patient's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ReplyHandling {
    /// C or YES: their next appointment was confirmed.
    Confirmed,
    /// STOP and the like: no more texts to that number.
    OptedOut,
    /// START or UNSTOP: texts allowed again.
    OptedIn,
    /// HELP: Twilio answered it.
    Help,
    /// Anything else: in the inbox for a person to read.
    Inbox,
}

impl ReplyHandling {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyHandling::Confirmed => "confirmed",
            ReplyHandling::OptedOut => "opted_out",
            ReplyHandling::OptedIn => "opted_in",
            ReplyHandling::Help => "help",
            ReplyHandling::Inbox => "inbox",
        }
    }
    fn parse(s: &str) -> ReplyHandling {
        match s {
            "confirmed" => ReplyHandling::Confirmed,
            "opted_out" => ReplyHandling::OptedOut,
            "opted_in" => ReplyHandling::OptedIn,
            "help" => ReplyHandling::Help,
            _ => ReplyHandling::Inbox,
        }
    }
}

/// A text a patient sent to the clinic.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct IncomingText {
    /// Twilio's SID: the text's id.
    pub sid: String,
    /// The sender's number, E.164.
    pub from: String,
    pub body: String,
    /// When Twilio received it.
    pub received_at: DateTime<Utc>,
    /// The patient with that number (`None`: no patient has it).
    pub patient_id: Option<Uuid>,
    pub patient_name: Option<String>,
    pub handling: ReplyHandling,
    /// The appointment a C/YES confirmed.
    pub appointment_id: Option<Uuid>,
    /// When a member of staff marked it read (`None`: unread).
    pub read_at: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT i.sid, i.from_e164, i.body, i.received_at, i.patient_id, p.full_name, i.handling,
                             i.appointment_id, i.read_at
                      FROM sms_inbound i LEFT JOIN patients p ON p.id = i.patient_id";

fn row_to_text(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncomingText> {
    let opt_uuid = |i: usize| -> rusqlite::Result<Option<Uuid>> {
        Ok(r.get::<_, Option<String>>(i)?.and_then(|s| Uuid::parse_str(&s).ok()))
    };
    Ok(IncomingText {
        sid: r.get(0)?,
        from: r.get(1)?,
        body: r.get(2)?,
        received_at: r.get(3)?,
        patient_id: opt_uuid(4)?,
        patient_name: r.get(5)?,
        handling: ReplyHandling::parse(&r.get::<_, String>(6)?),
        appointment_id: opt_uuid(7)?,
        read_at: r.get(8)?,
    })
}

fn find(conn: &Connection, sid: &str) -> Result<IncomingText> {
    conn.query_row(&format!("{SELECT} WHERE i.sid = ?1"), [sid], row_to_text)
        .optional()?
        .ok_or_else(|| CoreError::NotFound("That text from a patient could not be found.".into()))
}

pub struct Inbox<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Inbox<'_> {
    /// The inbox, newest first (only unread texts with `unread_only`), at most `limit` (1-500).
    /// Audited as a screen read of the patients shown.
    pub fn list(&self, caller: &Caller, unread_only: bool, limit: u32) -> Result<Vec<IncomingText>> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        let texts: Vec<IncomingText> = conn
            .prepare_cached(&format!(
                "{SELECT} WHERE i.handling IN ('inbox', 'opted_out') AND (?1 = 0 OR i.read_at IS NULL)
                 ORDER BY i.received_at DESC, i.sid LIMIT ?2"
            ))?
            .query_map(params![unread_only, limit.clamp(1, 500)], row_to_text)?
            .collect::<Result<_, _>>()?;
        // Polled by the window: one entry while the same patients stay on the screen.
        audit::record_polled_screen_read(
            &conn,
            self.clinic.now(),
            caller,
            "text inbox",
            texts.iter().filter_map(|t| t.patient_id),
        )?;
        Ok(texts)
    }

    /// Inbox texts nobody has marked read (the top bar's count). Shows no patient data.
    pub fn unread_count(&self, caller: &Caller) -> Result<u32> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        Ok(conn.query_row(
            "SELECT count(*) FROM sms_inbound WHERE handling IN ('inbox', 'opted_out') AND read_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// Marks a text read (dealt with) by the caller; marking it again changes nothing. Only
    /// those who text patients deal with their replies.
    pub fn mark_read(&self, caller: &Caller, sid: &str) -> Result<IncomingText> {
        caller.require(Permission::SendTexts)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        crate::sync::pending::refuse_on_desk(&conn, crate::sync::pending::ServerKeeps::ReadMarks)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let text = find(&tx, sid.trim())?;
        if text.read_at.is_none() {
            tx.execute(
                "UPDATE sms_inbound SET read_at = ?2, read_by = ?3 WHERE sid = ?1 AND read_at IS NULL",
                params![text.sid, ts(now), caller.user_id.to_string()],
            )?;
            let entry = audit::record(
                &tx,
                now,
                Actor::Staff(caller),
                AuditAction::TextHandled,
                Some(("sms_inbound", &text.sid)),
                text.patient_id.map(|p| format!("patient {p}; reply marked read")).as_deref(),
            )?;
            if let Some(patient) = text.patient_id {
                audit::link_patients(&tx, entry, &[patient])?;
            }
        }
        let marked = find(&tx, &text.sid)?;
        tx.commit()?;
        Ok(marked)
    }
}

impl Inbox<'_> {
    /// On a desk of a clinic server: marks a text read on the server (which every desk then
    /// learns from the feed) and keeps the server's answer here at once. Needs the server: a
    /// text marked read on one desk alone would stay unread on the others.
    pub async fn mark_read_on_server(
        &self,
        caller: &Caller,
        link: &crate::sync::ServerLink,
        sid: &str,
    ) -> Result<IncomingText> {
        caller.require(Permission::SendTexts)?;
        let text = find(&*self.clinic.db().conn()?, sid.trim())?;
        let row = link.text_read(caller.user_id, &text.sid).await.map_err(|e| {
            if crate::sync::is_offline(&e) || matches!(e, CoreError::NotSignedIn) {
                CoreError::Unavailable(
                    "The clinic server cannot be reached now, so this text was not marked read. Try again once the top bar says the clinic server is connected.".into(),
                )
            } else {
                e
            }
        })?;
        let conn = self.clinic.db().conn()?;
        keep_from_server(&conn, &row)?;
        find(&conn, &text.sid)
    }
}

/// Keeps a patient's text as the clinic server recorded it (the feed, or the answer to a
/// mark-read). The server decides what it did and whether it is read; a patient or appointment
/// this desk does not hold is left out rather than refused, and a row that cannot be kept is
/// logged and skipped, never a reason for the desk's sync to stop.
pub(crate) fn keep_from_server(conn: &Connection, r: &crate::sync::wire::TextReplyRow) -> Result<()> {
    if !matches!(r.handling.as_str(), "confirmed" | "opted_out" | "opted_in" | "help" | "inbox") {
        tracing::warn!("skipping a patient's text whose handling this desk does not know");
        return Ok(());
    }
    conn.execute_batch("SAVEPOINT text_reply")?;
    let kept = conn.execute(
        "INSERT INTO sms_inbound (sid, from_e164, to_e164, body, received_at, patient_id, appointment_id, handling,
                                  read_at, read_by, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, (SELECT id FROM patients WHERE id = ?6), (SELECT id FROM appointments WHERE id = ?7),
                 ?8, ?9, (SELECT id FROM users WHERE id = ?10), ?11)
         ON CONFLICT (sid) DO UPDATE SET patient_id = excluded.patient_id, appointment_id = excluded.appointment_id,
           handling = excluded.handling,
           -- Never read again unread (an older page applied after a mark-read's answer).
           read_at = coalesce(sms_inbound.read_at, excluded.read_at),
           read_by = coalesce(sms_inbound.read_by, excluded.read_by)",
        params![
            r.sid,
            r.from,
            r.to,
            r.body,
            ts(r.received_at),
            r.patient_id.map(|p| p.to_string()),
            r.appointment_id.map(|a| a.to_string()),
            r.handling,
            r.read_at.map(ts),
            r.read_by.map(|u| u.to_string()),
            ts(r.recorded_at)
        ],
    );
    match kept {
        Ok(_) => conn.execute_batch("RELEASE SAVEPOINT text_reply")?,
        Err(e) => {
            tracing::warn!(error = %e, "a patient's text from the clinic server could not be kept on this desk; skipped");
            conn.execute_batch("ROLLBACK TO SAVEPOINT text_reply; RELEASE SAVEPOINT text_reply")?;
        }
    }
    Ok(())
}
