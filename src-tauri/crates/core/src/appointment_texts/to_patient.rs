//! Reception texting a patient from their record: a quick text filled for that patient, edited if
//! need be, then queued to the number on their record (never a typed one), with their consent
//! checked like every other text.

use super::context::{self, Ctx};
use crate::audit::{self, AuditAction};
use crate::auth::{Caller, Permission};
use crate::error::{CoreError, Result};
use crate::sms::templates::{self, TemplateData, TemplateName};
use crate::sms::{outbox, smart_encoding, NewText, TextKind, TextMessage};
use rusqlite::TransactionBehavior;
use uuid::Uuid;

impl super::AppointmentTexts<'_> {
    /// The quick text `name` filled in for `patient` (first name, clinic name and phone).
    pub fn quick_text_for(&self, caller: &Caller, name: TemplateName, patient: Uuid) -> Result<String> {
        caller.require(Permission::SendTexts)?;
        if !name.is_quick_text() {
            return Err(CoreError::invalid("template", "Choose one of the quick texts."));
        }
        let conn = self.clinic.db().conn()?;
        let ctx = Ctx::read(&conn)?;
        let patient = crate::patients::find(&conn, patient)?;
        audit::record_screen_read(&conn, self.clinic.now(), caller, "quick text", [patient.id])?;
        let data = TemplateData {
            patient_first_name: patient.full_name.split_whitespace().next().unwrap_or("").to_owned(),
            clinic_name: ctx.clinic_name.clone(),
            clinic_phone: ctx.rules.clinic_phone.clone(),
            ..Default::default()
        };
        templates::render_template(&conn, name, &data)
    }

    /// Queues `body` to the patient's number on record. Refused, with the reason, when the patient
    /// cannot be texted (no consent, replied STOP) or texting is not set up.
    pub fn send_to_patient(&self, caller: &Caller, patient: Uuid, body: &str) -> Result<TextMessage> {
        caller.require(Permission::SendTexts)?;
        crate::sync::pending::refuse_on_desk(&*self.clinic.db().conn()?, crate::sync::pending::ServerKeeps::Texts)?;
        let body = smart_encoding::normalise(body);
        outbox::check_body(&body)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ctx = Ctx::read(&tx)?;
        crate::patients::find(&tx, patient)?;
        if !ctx.texting_set_up {
            return Err(CoreError::Conflict(
                "Texting is not set up yet: an administrator connects Twilio in Settings.".into(),
            ));
        }
        if let Some(why) = context::patient_verdict(&tx, patient, ctx.tz)? {
            return Err(CoreError::Conflict(format!("{}.", why.replacen("Not texted: ", "Cannot text: ", 1))));
        }
        let text = NewText {
            kind: TextKind::Custom,
            to: context::patient_phone(&tx, patient)?,
            body,
            patient_id: Some(patient),
            appointment_id: None,
            idempotency_key: format!("custom:{}", Uuid::new_v4()),
            due_at: now,
            about_starts_at: None,
            reminder_rule: None,
        };
        let (id, _) = outbox::enqueue(&tx, now, Some(caller.user_id), &text, true)?;
        audit::record_for_patient(
            &tx,
            now,
            caller,
            AuditAction::TextSent,
            ("sms", &id.to_string()),
            patient,
            Some(&format!("patient {patient}")),
        )?;
        let stored = outbox::find(&tx, id)?;
        tx.commit()?;
        Ok(stored)
    }
}

impl super::AppointmentTexts<'_> {
    /// On a desk of a clinic server: the text goes to the server at once (which sends it, with the
    /// same checks and words) and the queued text is kept here. Without the server it is not sent,
    /// and the desk says so: a text is never held back on a desk to go later, out of its moment.
    pub async fn send_to_patient_on_server(
        &self,
        caller: &Caller,
        link: &crate::sync::ServerLink,
        patient: Uuid,
        body: &str,
    ) -> Result<TextMessage> {
        caller.require(Permission::SendTexts)?;
        let body = smart_encoding::normalise(body);
        outbox::check_body(&body)?;
        crate::patients::find(&*self.clinic.db().conn()?, patient)?;
        let command = crate::sync::wire::DeskCommand::TextPatient { patient_id: patient, body };
        // One id for this text: asked again after no answer, the server answers from its record
        // of the first instead of queuing a second text.
        let client_id = Uuid::new_v4();
        let mut sent = link.command_for(caller.user_id, client_id, &command).await;
        if matches!(&sent, Err(e) if crate::sync::is_offline(e)) {
            sent = link.command_for(caller.user_id, client_id, &command).await;
        }
        let outcome = sent.map_err(|e| match e {
            CoreError::NotSignedIn => CoreError::Unavailable(
                "The clinic server cannot be reached now, so the text was not sent. Try again once the top bar says the clinic server is connected.".into(),
            ),
            e if crate::sync::is_offline(&e) => CoreError::Unavailable(
                "The clinic server did not answer, so this text may not have been sent. Look at the Texts screen in a moment before sending it again.".into(),
            ),
            e => e,
        })?;
        let Some(row) = outcome.get("ok") else {
            let refused: crate::sync::wire::ErrorBody = serde_json::from_value(outcome["refused"].clone())
                .map_err(|_| CoreError::Conflict("The clinic server did not send this text.".into()))?;
            return Err(CoreError::Server { code: refused.code, message: refused.message });
        };
        let conn = self.clinic.db().conn()?;
        let id = crate::sync::apply_texts::keep_answered_text(&conn, row)?;
        outbox::find(&conn, id)
    }
}
