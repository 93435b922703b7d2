//! What a patient's reply does: the rules once, over a small store trait.
//!
//! Two stores keep replies: the embedded SQLite file, where a one-desk clinic's sending worker
//! records them in its fenced transaction ([`SqliteReplies`](super::reply_store::SqliteReplies)),
//! and the clinic server's PostgreSQL, where its elected sender does (`clinicdesk-server`'s
//! `PgReplies`). Each implements [`ReplyStore`]: storage questions and writes, no rules. What a
//! reply does, which audit entries it leaves and their words are [`handle`], written once.
//! Invariant: every store method runs inside the caller's write transaction, so a reply is kept
//! together with what it did, or not at all; what follows (the server's feed) is the caller's.
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

use super::inbox::ReplyHandling;
use crate::audit::AuditAction;
use crate::error::CoreError;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// The audit trail's "who" for changes a reply made.
pub const REPLY_ACTOR: &str = "Patient's text reply";

/// A reminder sent may be stamped a little after the reply to it was written (the two clocks,
/// and a reply typed as the reminder arrived): reminders sent up to this long after still count.
const REMINDER_SLACK: Duration = Duration::minutes(5);

/// One text a patient sent, as read from Twilio.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    pub sid: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    /// Twilio's clock: shown to staff, and how far replies have been read.
    pub received_at: DateTime<Utc>,
    /// The same instant on this computer's (or server's) clock, for comparing with bookings.
    pub written_at: DateTime<Utc>,
}

/// The appointment a reminder was about, as it stands now.
#[derive(Debug, Clone, Copy)]
pub struct RemindedVisit {
    pub appointment: Uuid,
    pub patient: Uuid,
    /// Still scheduled (not confirmed, cancelled, moved to a no-show…).
    pub scheduled: bool,
    pub starts_at: DateTime<Utc>,
}

/// What a reply did, as kept with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub handling: ReplyHandling,
    /// The patient it is about (the one confirmed, else the one texted last at that number).
    pub patient: Option<Uuid>,
    /// The appointment a C/YES confirmed.
    pub appointment: Option<Uuid>,
    /// Patients whose opt-out changed (the server sends their rows to every desk).
    pub patients_changed: Vec<Uuid>,
}

/// Storage for replies, inside one write transaction (see the module's invariant). A store knows
/// the instant of the change (`updated_at`).
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait ReplyStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;

    /// Whether a reply with this SID is kept already (every overlapping read lists it again).
    async fn known(&mut self, sid: &str) -> Result<bool, Self::Error>;
    /// Of the patients with this number, the one the clinic texted last at it, else the first
    /// added.
    async fn patient_texted_last(&mut self, number: &str) -> Result<Option<Uuid>, Self::Error>;
    /// The appointment of the reminder last sent to this number at or before `sent_by`.
    async fn last_reminded(
        &mut self,
        number: &str,
        sent_by: DateTime<Utc>,
    ) -> Result<Option<RemindedVisit>, Self::Error>;
    /// The earliest scheduled appointment, of any patient with this number, starting after
    /// `after` and booked at or before `booked_by`: (appointment, patient).
    async fn next_scheduled(
        &mut self,
        number: &str,
        after: DateTime<Utc>,
        booked_by: DateTime<Utc>,
    ) -> Result<Option<(Uuid, Uuid)>, Self::Error>;
    /// Scheduled → confirmed, its version on, its time untouched. `false`: it was no longer
    /// scheduled, nothing changed.
    async fn confirm(&mut self, appointment: Uuid) -> Result<bool, Self::Error>;
    /// Every patient with this number opted out as of `at` (an earlier opt-out kept), and their
    /// waiting texts skipped (not those waiting to be checked at Twilio). The patients newly
    /// opted out (exactly those this write changed), in the order they were added.
    async fn opt_out(&mut self, number: &str, at: DateTime<Utc>) -> Result<Vec<Uuid>, Self::Error>;
    /// The opt-out of every patient with this number cleared. Those that were opted out (exactly
    /// those this write changed), in the order they were added.
    async fn opt_in(&mut self, number: &str) -> Result<Vec<Uuid>, Self::Error>;
    /// An entry in the trail, made by the patient's reply ([`REPLY_ACTOR`]), about `record` and
    /// the patient.
    async fn audit(
        &mut self,
        action: AuditAction,
        record: (&str, Uuid),
        patient: Uuid,
        detail: &str,
    ) -> Result<(), Self::Error>;
    /// Keeps the reply with what it did. `false`: another writer kept it meanwhile; the caller
    /// rolls its transaction back so nothing is done twice.
    async fn keep(&mut self, reply: &Reply<'_>, handled: &Handled) -> Result<bool, Self::Error>;
}

/// Keeps `reply` and does what it asks (the module's rules). `None`: that SID was kept already
/// (or meanwhile), and nothing is to be done — the caller drops its transaction's work.
pub async fn handle<S: ReplyStore>(
    store: &mut S,
    reply: &Reply<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Handled>, S::Error> {
    if store.known(reply.sid).await? {
        return Ok(None);
    }
    let mut patients_changed = Vec::new();
    let handled =
        |handling, patient, appointment| Handled { handling, patient, appointment, patients_changed: Vec::new() };
    let mut outcome = match keyword(reply.body) {
        Some(Keyword::Confirm { yes }) => {
            if yes {
                patients_changed = opt_in(store, reply).await?;
            }
            match confirm_next(store, reply, now).await? {
                Some((appointment, patient)) => handled(ReplyHandling::Confirmed, Some(patient), Some(appointment)),
                None if !patients_changed.is_empty() => {
                    handled(ReplyHandling::OptedIn, store.patient_texted_last(reply.from).await?, None)
                }
                None => handled(ReplyHandling::Inbox, store.patient_texted_last(reply.from).await?, None),
            }
        }
        Some(Keyword::OptOut) => {
            patients_changed = opt_out(store, reply).await?;
            handled(ReplyHandling::OptedOut, store.patient_texted_last(reply.from).await?, None)
        }
        Some(Keyword::OptIn) => {
            patients_changed = opt_in(store, reply).await?;
            handled(ReplyHandling::OptedIn, store.patient_texted_last(reply.from).await?, None)
        }
        Some(Keyword::Help) => handled(ReplyHandling::Help, store.patient_texted_last(reply.from).await?, None),
        None => handled(ReplyHandling::Inbox, store.patient_texted_last(reply.from).await?, None),
    };
    outcome.patients_changed = patients_changed;
    if !store.keep(reply, &outcome).await? {
        return Ok(None);
    }
    Ok(Some(outcome))
}

/// Confirms the appointment a C/YES answers (see the module's rules): (appointment, patient).
async fn confirm_next<S: ReplyStore>(
    store: &mut S,
    reply: &Reply<'_>,
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, Uuid)>, S::Error> {
    // The reminder ("reply C to confirm") last sent to this number before the reply names the
    // appointment the C answers — not simply the earliest: a parent answering their own reminder
    // must not confirm a child's visit, nor a C read after downtime next month's. If that one is
    // no longer open or has started, the reply goes to a person. With no reminder sent, the
    // earliest open appointment booked before the reply.
    let next = match store.last_reminded(reply.from, reply.written_at + REMINDER_SLACK).await? {
        Some(visit) => (visit.scheduled && visit.starts_at > now).then_some((visit.appointment, visit.patient)),
        None => store.next_scheduled(reply.from, now, reply.written_at).await?,
    };
    let Some((appointment, patient)) = next else { return Ok(None) };
    // The time is left alone: texts about this appointment compare it (appointment_texts).
    if !store.confirm(appointment).await? {
        return Ok(None);
    }
    let detail = format!("patient {patient}; confirmed by text reply {}", reply.sid);
    store.audit(AuditAction::AppointmentConfirmedByText, ("appointment", appointment), patient, &detail).await?;
    Ok(Some((appointment, patient)))
}

/// Opts the number out; the patients newly opted out, each audited.
async fn opt_out<S: ReplyStore>(store: &mut S, reply: &Reply<'_>) -> Result<Vec<Uuid>, S::Error> {
    let newly = store.opt_out(reply.from, reply.written_at).await?;
    audit_each(store, AuditAction::PatientOptedOut, &newly, reply, "stopped texts").await?;
    Ok(newly)
}

/// Clears the opt-out of every patient with the number; those that were opted out, each audited.
async fn opt_in<S: ReplyStore>(store: &mut S, reply: &Reply<'_>) -> Result<Vec<Uuid>, S::Error> {
    let were_out = store.opt_in(reply.from).await?;
    audit_each(store, AuditAction::PatientOptedIn, &were_out, reply, "agreed to texts again").await?;
    Ok(were_out)
}

async fn audit_each<S: ReplyStore>(
    store: &mut S,
    action: AuditAction,
    patients: &[Uuid],
    reply: &Reply<'_>,
    what: &str,
) -> Result<(), S::Error> {
    for &patient in patients {
        let detail = format!("patient {patient}; {what} by text reply {}", reply.sid);
        store.audit(action, ("patient", patient), patient, &detail).await?;
    }
    Ok(())
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
