//! The consultation's chat through Twilio's REST API (the app window uses the Conversations SDK;
//! the CLI and any screen without it use these): send, list with read horizons, mark read. Once
//! the consultation has ended the chat is read from the clinic's own copy, with no network.

use super::access;
use super::end::line;
use super::model::{ChatLine, ChatView, ConsultationState};
use super::store::{self, Record};
use super::words::{self, Step};
use super::Consultations;
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::error::{CoreError, Result};
use crate::sms::templates::{self, TemplateData, TemplateName};
use crate::twilio::{conversations, TwilioHttp};
use uuid::Uuid;

/// Twilio's limit for one message's body.
pub const MAX_MESSAGE_CHARS: usize = 1600;

/// The consultation and its state, for its doctor.
fn running(
    c: &Consultations<'_>,
    caller: &Caller,
    appointment: Uuid,
    action: &str,
) -> Result<(access::Booking, Option<Record>, ConsultationState)> {
    let booking = access::own(c.clinic, caller, appointment, action)?;
    let record = store::load(&*c.clinic.db().conn()?, appointment)?;
    let state = store::state(booking.status, record.as_ref());
    Ok((booking, record, state))
}

impl Consultations<'_> {
    /// Posts `body` to the patient as the doctor, while the consultation is in progress.
    pub async fn send(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid, body: &str) -> Result<ChatLine> {
        let (booking, record, state) = running(self, caller, appointment, "chat in")?;
        if body.trim().is_empty() {
            return Err(CoreError::invalid("body", "Write a message first."));
        }
        if body.chars().count() > MAX_MESSAGE_CHARS {
            return Err(CoreError::invalid(
                "body",
                format!("A chat message can be up to {MAX_MESSAGE_CHARS} characters; split this one."),
            ));
        }
        let record = match record {
            Some(record) if state == ConsultationState::InProgress => record,
            _ if state == ConsultationState::Scheduled => {
                return Err(CoreError::Conflict("The chat opens when you start the consultation.".into()))
            }
            _ => return Err(super::start_steps::refusal("chat in", state)),
        };
        let account = self.account(Step::Send)?;
        let chat_sid = record.conversation_sid.clone().unwrap_or_default();
        let sent = conversations::send(http, &account, &chat_sid, &record.doctor_identity, body)
            .await
            .map_err(|err| words::failed(&err, Step::Send))?;
        let now = self.clinic.now();
        let conn = self.clinic.db().conn()?;
        audit::record_for_patient(
            &conn,
            now,
            caller,
            AuditAction::ChatMessageSent,
            ("appointment", &appointment.to_string()),
            booking.patient_id,
            Some(&format!("patient {}; message {}", booking.patient_id, sent.index)),
        )?;
        Ok(line(&record, &sent, now))
    }

    /// The chat replies the clinic keeps as templates (`chat.*`), filled in for this consultation's
    /// patient and doctor, for the doctor to pick and edit before sending. Read from the clinic's
    /// database only, so they are there with no network.
    pub fn quick_replies(&self, caller: &Caller, appointment: Uuid) -> Result<Vec<String>> {
        let booking = access::own(self.clinic, caller, appointment, "chat in")?;
        let conn = self.clinic.db().conn()?;
        let ctx = crate::appointment_texts::context::Ctx::read(&conn)?;
        let patient = crate::patients::find(&conn, booking.patient_id)?;
        let data = TemplateData {
            patient_first_name: patient.full_name.split_whitespace().next().unwrap_or("").to_owned(),
            clinic_name: ctx.clinic_name,
            clinic_phone: ctx.rules.clinic_phone,
            doctor_name: booking.doctor_name,
            ..Default::default()
        };
        TemplateName::ALL
            .into_iter()
            .filter(|name| name.is_chat_reply())
            .map(|name| templates::render_template(&conn, name, &data))
            .collect()
    }

    /// The whole chat, oldest first, with how far the doctor and the patient have read. Live
    /// while in progress; the kept copy once ended; empty before it starts. Audited as a read.
    pub async fn messages(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<ChatView> {
        let (booking, record, state) = running(self, caller, appointment, "read the chat of")?;
        let view = match (&record, state) {
            (Some(record), ConsultationState::InProgress) => {
                let account = self.account(Step::Read)?;
                let failed = |err| words::failed(&err, Step::Read);
                let chat_sid = record.conversation_sid.clone().unwrap_or_default();
                let transcript = conversations::transcript(http, &account, &chat_sid).await.map_err(failed)?;
                let people = conversations::participants(http, &account, &chat_sid).await.map_err(failed)?;
                let horizon = |identity: &str| {
                    people
                        .iter()
                        .find(|p| p.identity.as_deref() == Some(identity))
                        .and_then(|p| p.last_read_message_index)
                };
                let now = self.clinic.now();
                ChatView {
                    messages: transcript.iter().map(|m| line(record, m, now)).collect(),
                    doctor_read_index: horizon(&record.doctor_identity).or(record.doctor_read_index),
                    patient_read_index: horizon(&record.patient_identity),
                    closed: false,
                }
            }
            (Some(record), ConsultationState::Completed) => ChatView {
                messages: store::messages(&*self.clinic.db().conn()?, appointment)?,
                doctor_read_index: record.doctor_read_index,
                patient_read_index: None,
                closed: true,
            },
            _ => ChatView {
                messages: Vec::new(),
                doctor_read_index: None,
                patient_read_index: None,
                closed: state != ConsultationState::Scheduled,
            },
        };
        let conn = self.clinic.db().conn()?;
        audit::record_polled_screen_read(
            &conn,
            self.clinic.now(),
            caller,
            &format!("consultation chat {appointment}"),
            [booking.patient_id],
        )?;
        Ok(view)
    }

    /// Marks everything in the chat read by the doctor (the patient sees the read receipt).
    /// Returns the index read up to, `None` when the chat is empty.
    pub async fn mark_read(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<Option<i64>> {
        let (_, record, state) = running(self, caller, appointment, "read the chat of")?;
        let record = match record {
            Some(record) if state == ConsultationState::InProgress => record,
            Some(record) if state == ConsultationState::Completed => return Ok(record.doctor_read_index),
            _ => return Ok(None),
        };
        let account = self.account(Step::Read)?;
        let failed = |err| words::failed(&err, Step::Read);
        let chat_sid = record.conversation_sid.clone().unwrap_or_default();
        let Some(newest) = conversations::latest(http, &account, &chat_sid).await.map_err(failed)? else {
            return Ok(None);
        };
        let me = match &record.doctor_participant_sid {
            Some(sid) => sid.clone(),
            None => {
                conversations::join(http, &account, &chat_sid, &record.doctor_identity, None, None)
                    .await
                    .map_err(failed)?
                    .sid
            }
        };
        conversations::mark_read(http, &account, &chat_sid, &me, newest.index).await.map_err(failed)?;
        // The horizon only moves forward (two windows marking at once keep the later one).
        self.clinic.db().conn()?.execute(
            "UPDATE consultations SET doctor_read_index = max(coalesce(doctor_read_index, -1), ?2) WHERE appointment_id = ?1",
            rusqlite::params![appointment.to_string(), newest.index],
        )?;
        Ok(Some(newest.index))
    }
}
