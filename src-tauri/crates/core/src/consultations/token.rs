//! The doctor's Access Token on a one-desk clinic: the rules are the core's (join_steps.rs, also
//! the clinic server's); this is their [`JoinStore`] over the embedded SQLite file, and the
//! one-desk calls (`rejoin` with the room opened again if Twilio closed it, `token`, `chat_token`).

use super::access::{self, Booking};
use super::join_steps::{self, JoinPlan, JoinStore};
use super::model::{ConsultationState, ConsultationToken};
use super::start_steps::refusal;
use super::store::{self, Record};
use super::words::Step;
use super::Consultations;
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::twilio::TwilioHttp;
use rusqlite::{params, TransactionBehavior};
use uuid::Uuid;

pub use super::join_steps::{token_lifetime, CHAT_TOKEN_MAX_SECONDS, TOKEN_MARGIN_MINUTES};

impl Consultations<'_> {
    /// Joins or rejoins: the room is opened again if Twilio closed it, then the doctor's token.
    pub async fn rejoin(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<ConsultationToken> {
        let (booking, plan) = self.join_plan(caller, appointment)?;
        let account = self.account(Step::Join)?;
        let mut desk = DeskJoin { consultations: self, booking: &booking };
        join_steps::reopen_room(&mut desk, http, &account, &plan).await?;
        self.token(caller, appointment)
    }

    /// The doctor's token to join the consultation's room and chat (also to rejoin after the app
    /// restarted: the same identity and room every time).
    pub fn token(&self, caller: &Caller, appointment: Uuid) -> Result<ConsultationToken> {
        self.mint_token(caller, appointment, true)
    }

    /// A token for the chat only (no Video grant, at most [`CHAT_TOKEN_MAX_SECONDS`]): for a window
    /// whose call runs elsewhere, and for the chat's refreshes. `room` in the answer still names the
    /// consultation's room, for display; the token cannot join it.
    pub fn chat_token(&self, caller: &Caller, appointment: Uuid) -> Result<ConsultationToken> {
        self.mint_token(caller, appointment, false)
    }

    /// Only the appointment's doctor, only while its consultation runs ("join").
    fn join_plan(&self, caller: &Caller, appointment: Uuid) -> Result<(Booking, JoinPlan)> {
        let booking = access::own(self.clinic, caller, appointment, "join")?;
        let record = store::load(&*self.clinic.db().conn()?, appointment)?;
        let state = store::state(booking.status, record.as_ref());
        match record {
            Some(record) if state == ConsultationState::InProgress => {
                let plan = join_plan(&booking, &record);
                Ok((booking, plan))
            }
            _ => Err(refusal("join", state)),
        }
    }

    fn mint_token(&self, caller: &Caller, appointment: Uuid, with_video: bool) -> Result<ConsultationToken> {
        let (booking, plan) = self.join_plan(caller, appointment)?;
        let account = self.account(Step::Join)?;
        let now = self.clinic.now();
        let (token, detail) = join_steps::doctor_token(&plan, &account, with_video, now)?;
        audit::record_for_patient(
            &*self.clinic.db().conn()?,
            now,
            caller,
            AuditAction::TokenMinted,
            ("appointment", &appointment.to_string()),
            booking.patient_id,
            Some(&detail),
        )?;
        Ok(token)
    }
}

fn join_plan(booking: &Booking, record: &Record) -> JoinPlan {
    JoinPlan {
        patient: booking.patient_id,
        ends_at: booking.ends_at,
        room_name: record.room_name.clone(),
        room_sid: record.room_sid.clone(),
        doctor_identity: record.doctor_identity.clone(),
        patient_identity: record.patient_identity.clone(),
        conversation_sid: record.conversation_sid.clone(),
        chat_service_sid: record.chat_service_sid.clone(),
    }
}

/// A join recorded in the one-desk clinic's SQLite file.
struct DeskJoin<'a> {
    consultations: &'a Consultations<'a>,
    booking: &'a Booking,
}

impl JoinStore for DeskJoin<'_> {
    type Error = CoreError;

    async fn record_room(&mut self, room_sid: &str, replaces: Option<&str>) -> Result<Result<()>> {
        let clinic = self.consultations.clinic;
        let mut conn = clinic.db().conn()?;
        // IMMEDIATE, as the end's: an end and a rejoin take turns.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fresh = access::booking(&tx, self.booking.id)?;
        let state = store::state(fresh.status, store::load(&tx, self.booking.id)?.as_ref());
        if state != ConsultationState::InProgress {
            return Ok(Err(refusal("join", state)));
        }
        if replaces == Some(room_sid) {
            return Ok(Ok(()));
        }
        // Only if no other window recorded a newer room meanwhile (the SID it replaces is checked).
        tx.execute(
            "UPDATE consultations SET earlier_room_sids = trim(earlier_room_sids || ' ' || coalesce(room_sid, '')),
                    room_sid = ?2, updated_at = ?4
             WHERE appointment_id = ?1 AND status = 'in_progress' AND room_sid IS ?3",
            params![self.booking.id.to_string(), room_sid, replaces, ts(clinic.now())],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }
}
