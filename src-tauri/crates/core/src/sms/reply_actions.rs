//! What a patient's reply does, recorded in the worker's fenced transaction.
//!
//! Rules (one place, read with the tests in tests/replies.rs):
//! - The reply is matched to patients by number (`patients.phone_e164 = From`, exact E.164).
//! - "C" or "YES" (any case, spaces and punctuation around it ignored) confirms ONE appointment:
//!   the one the last reminder sent to that number before the reply was about, if it is still
//!   'scheduled' and has not started; with no reminder sent, the earliest one still 'scheduled'
//!   that starts after now, of any patient with that number (a parent answering for their children
//!   shares their number), and that was booked before the reply was written (a reply read late
//!   never confirms a later booking). Only its status and version change, never its time: texts
//!   about it stay valid. Nothing to confirm: the reply goes to the inbox for a person to read.
//! - STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT: Twilio's opt-out words. Twilio itself refuses
//!   further texts to the number (21610), so ClinicDesk records the opt-out for every patient
//!   with that number and skips their waiting texts. The reply is also shown in the inbox (a
//!   "CANCEL" may have meant an appointment).
//! - START, UNSTOP (and YES, which Twilio also takes as opting back in): the number may be texted
//!   again; the opt-out is cleared.
//! - HELP, INFO: Twilio answers these itself; recorded, not put in the inbox.
//! - Anything else goes to the inbox, tied to a patient with that number (see `patient_for`), or
//!   to nobody when no patient has it.
//!
//! Every change to a patient or appointment is audited under the patient's reply, not a person.

use super::outbox;
use crate::audit::{self, Actor, AuditAction};
use crate::db::{ts, uuid_at};
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

/// The audit trail's "who" for changes a reply made.
const REPLY_ACTOR: &str = "Patient's text reply";

/// One text a patient sent, as read from Twilio.
pub(super) struct Reply<'a> {
    pub sid: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    /// Twilio's clock: shown to staff, and how far replies have been read.
    pub received_at: DateTime<Utc>,
    /// The same instant on this computer's clock (for comparing with bookings).
    pub written_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// C or YES. `yes` because Twilio also takes YES as opting back in.
    Confirm {
        yes: bool,
    },
    OptOut,
    OptIn,
    Help,
}

/// The keyword a whole reply is, if it is one: case, spaces and punctuation around it ignored
/// ("Yes!", " c. ", "STOP."), but a sentence is never a keyword ("yes please" goes to the inbox).
pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body.trim_matches(|c: char| !c.is_alphanumeric()).to_uppercase();
    Some(match word.as_str() {
        "C" => Keyword::Confirm { yes: false },
        "YES" => Keyword::Confirm { yes: true },
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Keyword::OptOut,
        "START" | "UNSTOP" => Keyword::OptIn,
        "HELP" | "INFO" => Keyword::Help,
        _ => return None,
    })
}

/// Records `reply` and does what it asks. `false`: that SID was already recorded (a reply is
/// listed again by every overlapping read), and nothing was done.
pub(super) fn record(tx: &Connection, now: DateTime<Utc>, reply: &Reply<'_>) -> Result<bool> {
    let known: bool = tx
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM sms_inbound WHERE sid = ?1)")?
        .query_row([reply.sid], |r| r.get(0))?;
    if known {
        return Ok(false);
    }
    let (handling, patient, appointment) = match keyword(reply.body) {
        Some(Keyword::Confirm { yes }) => {
            let opted_in = yes && opt_in(tx, now, reply)?;
            match confirm_next(tx, now, reply)? {
                Some((appointment, patient)) => ("confirmed", Some(patient), Some(appointment)),
                None if opted_in => ("opted_in", patient_for(tx, reply.from)?, None),
                None => ("inbox", patient_for(tx, reply.from)?, None),
            }
        }
        Some(Keyword::OptOut) => {
            opt_out(tx, now, reply)?;
            ("opted_out", patient_for(tx, reply.from)?, None)
        }
        Some(Keyword::OptIn) => {
            opt_in(tx, now, reply)?;
            ("opted_in", patient_for(tx, reply.from)?, None)
        }
        Some(Keyword::Help) => ("help", patient_for(tx, reply.from)?, None),
        None => ("inbox", patient_for(tx, reply.from)?, None),
    };
    tx.prepare_cached(
        "INSERT INTO sms_inbound (sid, from_e164, to_e164, body, received_at, patient_id, appointment_id, handling, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        reply.sid,
        reply.from,
        reply.to,
        reply.body,
        ts(reply.received_at),
        patient.map(|p| p.to_string()),
        appointment.map(|a| a.to_string()),
        handling,
        ts(now)
    ])?;
    Ok(true)
}

/// The patient an inbox reply is about: of the patients with that number, the one the clinic
/// texted last at it (the conversation is most likely about them), else the first added.
fn patient_for(tx: &Connection, number: &str) -> Result<Option<Uuid>> {
    Ok(tx
        .prepare_cached(
            "SELECT p.id FROM patients p WHERE p.phone_e164 = ?1
             ORDER BY (SELECT max(n.created_at) FROM sms_notifications n WHERE n.patient_id = p.id AND n.to_e164 = ?1) DESC NULLS LAST,
                      p.created_at, p.id
             LIMIT 1",
        )?
        .query_row([number], |r| uuid_at(r, 0))
        .optional()?)
}

/// Confirms the appointment a C/YES answers (see the module's rules): (appointment, patient).
fn confirm_next(tx: &Connection, now: DateTime<Utc>, reply: &Reply<'_>) -> Result<Option<(Uuid, Uuid)>> {
    // The reminder ("reply C to confirm") last sent to this number before the reply names the
    // appointment the C answers — not simply the earliest: a parent answering their own reminder
    // must not confirm a child's visit, nor a C read after downtime next month's. If that one is
    // no longer open or has started, the reply goes to a person. With no reminder sent, the
    // earliest open appointment booked before the reply.
    let about: Option<(Uuid, Uuid, String, DateTime<Utc>)> = tx
        .prepare_cached(
            "SELECT a.id, a.patient_id, a.status, a.starts_at FROM sms_notifications n JOIN appointments a ON a.id = n.appointment_id
             WHERE n.to_e164 = ?1 AND n.kind = 'reminder' AND n.sent_at IS NOT NULL AND n.sent_at <= ?2
             ORDER BY n.sent_at DESC LIMIT 1",
        )?
        .query_row(params![reply.from, ts(reply.written_at + chrono::Duration::minutes(5))], |r| {
            Ok((uuid_at(r, 0)?, uuid_at(r, 1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let next = match about {
        Some((appointment, patient, status, starts_at)) => {
            (status == "scheduled" && starts_at > now).then_some((appointment, patient))
        }
        None => tx
            .prepare_cached(
                "SELECT a.id, a.patient_id FROM appointments a JOIN patients p ON p.id = a.patient_id
                 WHERE p.phone_e164 = ?1 AND a.status = 'scheduled' AND a.starts_at > ?2 AND a.created_at <= ?3
                 ORDER BY a.starts_at, a.id LIMIT 1",
            )?
            .query_row(params![reply.from, ts(now), ts(reply.written_at)], |r| Ok((uuid_at(r, 0)?, uuid_at(r, 1)?)))
            .optional()?,
    };
    let Some((appointment, patient)) = next else { return Ok(None) };
    // The time is left alone: texts about this appointment compare it (appointment_texts).
    tx.execute(
        "UPDATE appointments SET status = 'confirmed', version = version + 1, updated_at = ?2
         WHERE id = ?1 AND status = 'scheduled'",
        params![appointment.to_string(), ts(now)],
    )?;
    let entry = audit::record(
        tx,
        now,
        Actor::Anonymous { label: REPLY_ACTOR, user_id: None },
        AuditAction::AppointmentConfirmedByText,
        Some(("appointment", &appointment.to_string())),
        Some(&format!("patient {patient}; confirmed by text reply {}", reply.sid)),
    )?;
    audit::link_patients(tx, entry, &[patient])?;
    Ok(Some((appointment, patient)))
}

/// Patients with `number` whose opt-out is (`opted_out`) or is not recorded.
fn patients_with(tx: &Connection, number: &str, opted_out: bool) -> Result<Vec<Uuid>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id FROM patients WHERE phone_e164 = ?1 AND (opted_out_at IS NOT NULL) = ?2 ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map(params![number, opted_out], |r| uuid_at(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn opt_out(tx: &Connection, now: DateTime<Utc>, reply: &Reply<'_>) -> Result<()> {
    let newly = patients_with(tx, reply.from, false)?;
    outbox::opt_out(tx, reply.from, now)?;
    audit_each(tx, now, AuditAction::PatientOptedOut, &newly, reply, "stopped texts")
}

/// Clears the opt-out of every patient with the number. `true` when any was opted out.
fn opt_in(tx: &Connection, now: DateTime<Utc>, reply: &Reply<'_>) -> Result<bool> {
    let were_out = patients_with(tx, reply.from, true)?;
    tx.execute(
        "UPDATE patients SET opted_out_at = NULL, updated_at = ?2 WHERE phone_e164 = ?1 AND opted_out_at IS NOT NULL",
        params![reply.from, ts(now)],
    )?;
    audit_each(tx, now, AuditAction::PatientOptedIn, &were_out, reply, "agreed to texts again")?;
    Ok(!were_out.is_empty())
}

fn audit_each(
    tx: &Connection,
    now: DateTime<Utc>,
    action: AuditAction,
    patients: &[Uuid],
    reply: &Reply<'_>,
    what: &str,
) -> Result<()> {
    for patient in patients {
        let entry = audit::record(
            tx,
            now,
            Actor::Anonymous { label: REPLY_ACTOR, user_id: None },
            action,
            Some(("patient", &patient.to_string())),
            Some(&format!("patient {patient}; {what} by text reply {}", reply.sid)),
        )?;
        audit::link_patients(tx, entry, &[*patient])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{keyword, Keyword};

    #[test]
    fn keywords_are_whole_replies_in_any_case_with_punctuation_around_them() {
        for body in ["C", "c", " c. ", "Yes", "YES!", "yes 👍", "\"yes\""] {
            assert!(matches!(keyword(body), Some(Keyword::Confirm { .. })), "{body:?}");
        }
        for body in ["STOP", "stop.", "Stopall", "unsubscribe", "Cancel", "end", "QUIT!"] {
            assert_eq!(keyword(body), Some(Keyword::OptOut), "{body:?}");
        }
        for body in ["start", "UNSTOP"] {
            assert_eq!(keyword(body), Some(Keyword::OptIn), "{body:?}");
        }
        assert_eq!(keyword("Help?"), Some(Keyword::Help));
        for body in ["yes please", "Can I come at 10?", "c c", "stopp", "", "  ", "no"] {
            assert_eq!(keyword(body), None, "{body:?}");
        }
        assert_eq!(keyword("YES"), Some(Keyword::Confirm { yes: true }));
        assert_eq!(keyword("c"), Some(Keyword::Confirm { yes: false }));
    }
}
