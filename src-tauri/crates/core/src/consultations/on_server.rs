//! Video consultations on a desk of a clinic server (issue 12). The server holds the clinic's
//! Twilio account, so it starts and ends the room and the chat and mints the doctor's tokens; the
//! desk asks it (as the signed-in doctor), keeps the server's answer in its copy at once, and
//! later rows from the feed replace it (`keep_from_server`).
//!
//! Invariants:
//! - The desk checks what it can alone first (only the appointment's own doctor, video only), in
//!   the same words as a one-desk clinic; the server checks again and has the last word.
//! - A consultation never goes back on a desk: a completed one is never made running again by an
//!   older row, a running one never scheduled again (the feed's order is transaction order).
//! - Without the server nothing about the call can happen (no Twilio account here); the notes
//!   still can, and say so.

use super::access;
use super::store::{self, KeptMessage, KeptParticipant};
use super::{status_of, ChatLine, ChatView, ConsultationState, ConsultationStatus, ConsultationToken, Consultations};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::sync::wire::{ConsultationAnswer, ConsultationRecordRow, ConsultationRow};
use crate::sync::{is_offline, ServerLink};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, TransactionBehavior};
use serde_json::json;
use uuid::Uuid;

/// No answer came at all (the request or its answer lost on the way): a server's own refusal,
/// Twilio's failure on the server included, is an answer.
fn no_answer(e: &CoreError) -> bool {
    !matches!(e, CoreError::Server { .. }) && is_offline(e)
}

/// What could not happen without the clinic server, in the doctor's words.
fn without_server(e: CoreError, consequence: &str) -> CoreError {
    // Only no answer at all (or no session yet, after an offline sign-in): a server's own refusal,
    // Twilio's failure on the server included, comes in the server's words.
    let no_answer = !matches!(e, CoreError::Server { .. }) && (is_offline(&e) || matches!(e, CoreError::NotSignedIn));
    if !no_answer {
        return e;
    }
    CoreError::Unavailable(format!(
        "Video consultations run through the clinic server, which cannot be reached now, so {consequence}. Try again once the top bar says the clinic server is connected. You can write your notes meanwhile: they are sent when it is back."
    ))
}

impl Consultations<'_> {
    /// Starts (or continues starting) the consultation on the clinic server: only its doctor.
    pub async fn start_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        appointment: Uuid,
    ) -> Result<ConsultationStatus> {
        access::own(self.clinic, caller, appointment, "start")?;
        let answer: ConsultationAnswer = link
            .consultation(caller.user_id(), appointment, "start", &json!({}))
            .await
            .map_err(|e| without_server(e, "the video consultation has not started"))?;
        self.keep_answer(&answer)?;
        self.own_status(appointment)
    }

    /// The doctor's token from the clinic server: for the room and the chat (`video`), or the
    /// chat only (the call runs in the browser, or the chat's refresh). The server opens the room
    /// again if Twilio closed it, as a one-desk clinic does.
    pub async fn token_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        appointment: Uuid,
        video: bool,
    ) -> Result<ConsultationToken> {
        access::own(self.clinic, caller, appointment, "join")?;
        link.consultation(caller.user_id(), appointment, "token", &json!({ "video": video }))
            .await
            .map_err(|e| without_server(e, "the video consultation cannot be joined from here"))
    }

    /// Ends the consultation on the clinic server and keeps its record here (who was in the room
    /// and the chat), readable offline from then on.
    pub async fn end_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        appointment: Uuid,
    ) -> Result<ConsultationStatus> {
        let booking = access::ender(self.clinic, caller, appointment)?;
        let own = access::is_own(caller, &booking);
        // The doctor's notes still queued go first: the server keeps the notes as they stand at
        // the end as the first version of their history, and a save typed before the end must
        // not reach it after as an amendment.
        // Without an answer the end would get none either; any other trouble with a queued change
        // is the next round's, never a reason not to end.
        if own {
            if let Err(e) = self.clinic.desk_sync().send_pending(link, caller.user_id()).await {
                if no_answer(&e) {
                    return Err(without_server(e, "the consultation has not finished ending"));
                }
                tracing::warn!(code = ?e.code(), "queued changes could not go before the end; they go with the next round");
            }
        }
        let answer: ConsultationAnswer = link
            .consultation(caller.user_id(), appointment, "end", &json!({}))
            .await
            .map_err(|e| without_server(e, "the consultation has not finished ending"))?;
        self.keep_answer(&answer)?;
        if own {
            return self.own_status(appointment);
        }
        let conn = self.clinic.db().conn()?;
        status_of(&conn, &access::booking(&conn, appointment)?, false)
    }

    /// Texts the patient a new link through the clinic server (its doctor, or staff who send
    /// texts), which holds the clinic's Twilio account and call page.
    pub async fn invite_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        appointment: Uuid,
    ) -> Result<crate::sms::TextMessage> {
        access::inviter(self.clinic, caller, appointment)?;
        // One id for this press: asked again once after no answer, the server answers with the
        // text it queued the first time instead of texting the patient a second link.
        let request = json!({ "request_id": Uuid::new_v4() });
        let mut sent = link.consultation(caller.user_id(), appointment, "invite", &request).await;
        if matches!(&sent, Err(e) if no_answer(e)) {
            sent = link.consultation(caller.user_id(), appointment, "invite", &request).await;
        }
        sent
            // Still no answer may mean the server texted it and the answer was lost: said so,
            // never "not texted".
            .map_err(|e| {
                without_server(
                    e,
                    "the patient's link may not have been texted: look at the appointment's texts before texting it again",
                )
            })
    }

    /// The chat: through the clinic server while the consultation runs (the window's live
    /// connection to Twilio is blocked), this desk's kept copy otherwise (no network needed).
    pub async fn messages_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        http: &crate::twilio::TwilioHttp,
        appointment: Uuid,
    ) -> Result<ChatView> {
        if self.local_state(caller, appointment, "read the chat of")? != ConsultationState::InProgress {
            return self.messages(caller, http, appointment).await;
        }
        let view = link
            .consultation(caller.user_id(), appointment, "messages", &json!({}))
            .await
            .map_err(|e| without_server(e, "the chat could not be loaded"))?;
        self.audit_chat_read(caller, appointment)?;
        Ok(view)
    }

    /// Posts a message to the patient as the doctor, through the clinic server.
    pub async fn send_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        appointment: Uuid,
        body: &str,
    ) -> Result<ChatLine> {
        access::own(self.clinic, caller, appointment, "chat in")?;
        // One id for this press: asked again once after no answer, the server answers with the
        // message it posted the first time instead of posting it twice.
        let request = json!({ "body": body, "request_id": Uuid::new_v4() });
        let mut sent = link.consultation(caller.user_id(), appointment, "send", &request).await;
        if matches!(&sent, Err(e) if no_answer(e)) {
            sent = link.consultation(caller.user_id(), appointment, "send", &request).await;
        }
        sent.map_err(|e| without_server(e, "the message may not have been sent: the chat shows it if it was"))
    }

    /// Marks the chat read by the doctor, through the clinic server while the consultation runs.
    pub async fn mark_read_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        http: &crate::twilio::TwilioHttp,
        appointment: Uuid,
    ) -> Result<Option<i64>> {
        if self.local_state(caller, appointment, "read the chat of")? != ConsultationState::InProgress {
            return self.mark_read(caller, http, appointment).await;
        }
        link.consultation(caller.user_id(), appointment, "read", &json!({}))
            .await
            .map_err(|e| without_server(e, "the chat could not be loaded"))
    }

    /// Records the patient's agreement to be recorded, on the clinic server (its doctor).
    pub async fn consent_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        appointment: Uuid,
    ) -> Result<ConsultationStatus> {
        access::own(self.clinic, caller, appointment, "record consent for")?;
        let answer: ConsultationAnswer = link
            .consultation(caller.user_id(), appointment, "consent", &json!({}))
            .await
            .map_err(|e| without_server(e, "the patient's agreement was not recorded"))?;
        self.keep_answer(&answer)?;
        self.own_status(appointment)
    }

    /// Switches recording on or off through the clinic server, which holds the room.
    pub async fn set_recording_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        appointment: Uuid,
        on: bool,
    ) -> Result<ConsultationStatus> {
        access::own(self.clinic, caller, appointment, "record")?;
        let answer: ConsultationAnswer = link
            .consultation(caller.user_id(), appointment, "recording", &json!({ "on": on }))
            .await
            .map_err(|e| without_server(e, "recording was not switched"))?;
        self.keep_answer(&answer)?;
        self.own_status(appointment)
    }

    /// The consultation's recordings (metadata), as the clinic server lists them from Twilio.
    pub async fn recordings_on_server(
        &self,
        caller: &Caller,
        link: &ServerLink,
        appointment: Uuid,
    ) -> Result<Vec<super::ConsultationRecording>> {
        access::own(self.clinic, caller, appointment, "see the recordings of")?;
        link.consultation(caller.user_id(), appointment, "recordings", &json!({}))
            .await
            .map_err(|e| without_server(e, "the recordings cannot be listed now"))
    }

    /// The consultation's state in this desk's copy, for its own doctor.
    fn local_state(&self, caller: &Caller, appointment: Uuid, action: &str) -> Result<ConsultationState> {
        let booking = access::own(self.clinic, caller, appointment, action)?;
        let record = store::load(&*self.clinic.db().conn()?, appointment)?;
        Ok(store::state(booking.status, record.as_ref()))
    }

    /// The chat read through the server is audited here, as a desk's reads are (and uploaded).
    fn audit_chat_read(&self, caller: &Caller, appointment: Uuid) -> Result<()> {
        let conn = self.clinic.db().conn()?;
        let booking = access::booking(&conn, appointment)?;
        crate::audit::record_polled_screen_read(
            &conn,
            self.clinic.now(),
            caller,
            &format!("consultation chat {appointment}"),
            [booking.patient_id],
        )
    }

    /// The patients waiting now, as the clinic server sees them (it reads the waiting rooms at
    /// Twilio). Without the server: none shown (the top bar already says the desk is offline).
    pub async fn waiting_on_server(&self, caller: &Caller, link: &ServerLink) -> Result<Vec<super::WaitingPatient>> {
        caller.require(crate::auth::Permission::ReadSchedule)?;
        match link.waiting_room(caller.user_id()).await {
            Ok(waiting) => Ok(waiting),
            Err(e) if is_offline(&e) || matches!(e, CoreError::NotSignedIn) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn keep_answer(&self, answer: &ConsultationAnswer) -> Result<()> {
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        keep_from_server(&tx, &answer.consultation, now)?;
        if let Some(record) = &answer.record {
            keep_record_from_server(&tx, record)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn own_status(&self, appointment: Uuid) -> Result<ConsultationStatus> {
        let conn = self.clinic.db().conn()?;
        let booking = access::booking(&conn, appointment)?;
        status_of(&conn, &booking, true)
    }
}

/// Order of the states: a row never moves a desk's copy back.
fn rank(status: &str) -> i64 {
    match status {
        "in_progress" => 1,
        "completed" => 2,
        _ => 0,
    }
}

/// The consultation as the clinic server holds it, kept in this desk's copy. The server's names
/// replace any drawn here (notes written before the start made a row); the notes stay. The
/// desk's own waiting-room mark (`chat_ready_at`) is never set: the server, not the desk, reads the
/// waiting room (a desk has no Twilio account to read it with).
pub(crate) fn keep_from_server(conn: &Connection, c: &ConsultationRow, now: DateTime<Utc>) -> Result<()> {
    let id = c.appointment_id.to_string();
    let known: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM appointments WHERE id = ?1)", [&id], |r| r.get(0))?;
    if !known {
        tracing::warn!("skipping a consultation for an appointment this desk does not hold");
        return Ok(());
    }
    if !matches!(c.status.as_str(), "scheduled" | "in_progress" | "completed") {
        return Err(CoreError::Database(
            "A consultation from the clinic server could not be read. Update ClinicDesk on this computer.".into(),
        ));
    }
    conn.execute(
        "INSERT INTO consultations (appointment_id, status, room_name, doctor_identity, patient_identity, start_requested_at,
                                    room_sid, conversation_sid, chat_service_sid, started_at, started_by, ended_at, ended_by,
                                    record_pending_since, recording_consent_at, recording, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, CASE WHEN ?16 THEN ?14 END, ?17, ?18, ?14, ?14)
         ON CONFLICT (appointment_id) DO UPDATE SET status = excluded.status, room_name = excluded.room_name,
           doctor_identity = excluded.doctor_identity, patient_identity = excluded.patient_identity,
           start_requested_at = excluded.start_requested_at, room_sid = excluded.room_sid,
           conversation_sid = excluded.conversation_sid, chat_service_sid = excluded.chat_service_sid,
           started_at = excluded.started_at, started_by = excluded.started_by, ended_at = excluded.ended_at,
           ended_by = excluded.ended_by, updated_at = excluded.updated_at,
           recording_consent_at = excluded.recording_consent_at, recording = excluded.recording,
           record_pending_since = CASE WHEN ?16 THEN coalesce(consultations.record_pending_since, ?14) END
         WHERE ?15 >= CASE consultations.status WHEN 'in_progress' THEN 1 WHEN 'completed' THEN 2 ELSE 0 END",
        params![
            id,
            c.status,
            c.room_name,
            c.doctor_identity,
            c.patient_identity,
            c.start_requested_at.map(ts),
            c.room_sid,
            c.conversation_sid,
            c.chat_service_sid,
            c.started_at.map(ts),
            c.started_by.map(|u| u.to_string()),
            c.ended_at.map(ts),
            c.ended_by.map(|u| u.to_string()),
            ts(now),
            rank(&c.status),
            c.record_pending,
            c.recording_consent_at.map(ts),
            c.recording,
        ],
    )?;
    Ok(())
}

/// Who was in the room and the chat, as the clinic server kept them at the end.
pub(crate) fn keep_record_from_server(conn: &Connection, r: &ConsultationRecordRow) -> Result<()> {
    let ended: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM consultations WHERE appointment_id = ?1 AND status = 'completed')",
        [r.appointment_id.to_string()],
        |row| row.get(0),
    )?;
    if !ended {
        tracing::warn!("skipping a consultation record that arrived before its end");
        return Ok(());
    }
    // A chat this desk already removed under the clinic's retention is never kept again (a record
    // with its chat may still come from an older row in the feed).
    let removed_here: bool = conn.query_row(
        "SELECT chat_removed_at IS NOT NULL FROM consultations WHERE appointment_id = ?1",
        [r.appointment_id.to_string()],
        |row| row.get(0),
    )?;
    let people: &[KeptParticipant] = &r.participants;
    let chat: &[KeptMessage] = if removed_here { &[] } else { &r.chat };
    store::keep(conn, r.appointment_id, people, chat)?;
    conn.execute(
        "UPDATE consultations SET record_pending_since = NULL, chat_removed_at = coalesce(?2, chat_removed_at)
         WHERE appointment_id = ?1",
        rusqlite::params![r.appointment_id.to_string(), r.chat_removed_at.map(ts)],
    )?;
    if r.chat_removed_at.is_some() {
        conn.execute("DELETE FROM chat_attachments WHERE appointment_id = ?1", [r.appointment_id.to_string()])?;
    }
    Ok(())
}
