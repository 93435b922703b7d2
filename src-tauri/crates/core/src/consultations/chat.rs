//! The consultation's chat on a one-desk clinic (the app window uses the Conversations SDK; the
//! CLI and any screen without it use these): the steps at Twilio are the core's (chat_steps.rs,
//! also the clinic server's). Once the consultation has ended the chat is read from the clinic's
//! own copy, with no network.

use super::access;
use super::chat_steps::{self, ChatPlan};
use super::model::{ChatLine, ChatView, ConsultationState};
use super::store::{self, Record};
use super::words::Step;
use super::Consultations;
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::error::Result;
use crate::sms::templates::{self, TemplateData, TemplateName};
use crate::twilio::TwilioHttp;
use uuid::Uuid;

pub use super::chat_steps::MAX_MESSAGE_CHARS;

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

fn chat_plan(booking: &access::Booking, record: &Record) -> ChatPlan {
    ChatPlan {
        patient: booking.patient_id,
        doctor_identity: record.doctor_identity.clone(),
        patient_identity: record.patient_identity.clone(),
        conversation_sid: record.conversation_sid.clone(),
        doctor_participant_sid: record.doctor_participant_sid.clone(),
        doctor_read_index: record.doctor_read_index,
    }
}

impl Consultations<'_> {
    /// Posts `body` to the patient as the doctor, while the consultation is in progress.
    pub async fn send(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid, body: &str) -> Result<ChatLine> {
        let (booking, record, state) = running(self, caller, appointment, "chat in")?;
        chat_steps::check_message(body)?;
        let plan = match record {
            Some(record) if state == ConsultationState::InProgress => chat_plan(&booking, &record),
            _ => return Err(chat_steps::not_running("chat in", state)),
        };
        let account = self.account(Step::Send)?;
        let now = self.clinic.now();
        let (line, detail) = chat_steps::send(http, &account, &plan, body, now).await?;
        audit::record_for_patient(
            &*self.clinic.db().conn()?,
            now,
            caller,
            AuditAction::ChatMessageSent,
            ("appointment", &appointment.to_string()),
            booking.patient_id,
            Some(&detail),
        )?;
        Ok(line)
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
                chat_steps::live_view(http, &account, &chat_plan(&booking, record), self.clinic.now()).await?
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
        let (booking, record, state) = running(self, caller, appointment, "read the chat of")?;
        let record = match record {
            Some(record) if state == ConsultationState::InProgress => record,
            Some(record) if state == ConsultationState::Completed => return Ok(record.doctor_read_index),
            _ => return Ok(None),
        };
        let account = self.account(Step::Read)?;
        let Some(newest) = chat_steps::mark_read(http, &account, &chat_plan(&booking, &record)).await? else {
            return Ok(None);
        };
        // The horizon only moves forward (two windows marking at once keep the later one).
        self.clinic.db().conn()?.execute(
            "UPDATE consultations SET doctor_read_index = max(coalesce(doctor_read_index, -1), ?2) WHERE appointment_id = ?1",
            rusqlite::params![appointment.to_string(), newest],
        )?;
        Ok(Some(newest))
    }
}
