//! Recording, only with the patient's recorded consent: switched on and off with the room's
//! Recording Rules while the consultation runs; completing the room at the end stops it.
//!
//! The rules are written once for a one-desk clinic and the clinic server (`clinicdesk-server`'s
//! consultations/recording.rs): [`switch`] over a small [`RecordingStore`] (never on without the
//! agreement; recorded only after Twilio applied it, only while the consultation runs; every
//! switch Twilio applied in the trail) and [`list_recordings`] (every room the consultation used,
//! nothing asked of Twilio without the agreement).

use super::access::{self, Booking};
use super::model::{ConsultationRecording, ConsultationState, ConsultationStatus};
use super::start_steps::refusal;
use super::store;
use super::words::{self, Step};
use super::{status_of, Consultations};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::twilio::config::TwilioAccount;
use crate::twilio::{rooms, TwilioHttp};
use rusqlite::params;
use uuid::Uuid;

/// What a switch needs of a running consultation.
#[derive(Debug, Clone)]
pub struct SwitchPlan {
    pub patient: Uuid,
    pub room_sid: Option<String>,
    /// The patient's agreement is recorded.
    pub consented: bool,
}

/// Where a recording switch is recorded.
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait RecordingStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;
    /// What the store answers after a switch.
    type Switched;
    /// In one transaction: the switch recorded if the consultation still runs (an end meanwhile
    /// completed the room, which stops recording), and a trail entry with `detail` in any case
    /// (Twilio applied it).
    async fn record_switch(&mut self, on: bool, detail: &str) -> Result<Self::Switched, Self::Error>;
}

/// Switches recording on (only after the agreement) or off. The caller has checked who may, and
/// taken the `plan` (refused unless in progress: [`refusal`]`("record", …)`) and the account.
pub async fn switch<S: RecordingStore>(
    store: &mut S,
    plan: &SwitchPlan,
    http: &TwilioHttp,
    account: &TwilioAccount,
    on: bool,
) -> Result<S::Switched, S::Error> {
    if on && !plan.consented {
        return Err(consent_first().into());
    }
    let room_sid = plan.room_sid.clone().unwrap_or_default();
    rooms::set_recording(http, account, &room_sid, on).await.map_err(|err| words::failed(&err, Step::Record))?;
    let detail = format!("patient {}; recording {}", plan.patient, if on { "on" } else { "off" });
    store.record_switch(on, &detail).await
}

/// The recordings (metadata) of every room a consultation used, oldest first. `twilio` (the
/// clinic's connection and account, or why there is none) is only asked for when there is
/// something to ask Twilio: never without the agreement.
pub async fn list_recordings<H, A, E>(
    twilio: impl FnOnce() -> std::result::Result<(H, A), E>,
    rooms_used: &[String],
    consented: bool,
) -> std::result::Result<Vec<ConsultationRecording>, E>
where
    H: std::borrow::Borrow<TwilioHttp>,
    A: std::borrow::Borrow<TwilioAccount>,
    E: From<CoreError>,
{
    if rooms_used.is_empty() || !consented {
        return Ok(Vec::new()); // never recorded without consent, so nothing to ask Twilio
    }
    let (http, account) = twilio()?;
    let mut all = Vec::new();
    for room in rooms_used {
        let listed = rooms::recordings(http.borrow(), account.borrow(), room)
            .await
            .map_err(|err| words::failed(&err, Step::Record))?;
        all.extend(listed.into_iter().map(recording_of));
    }
    in_order(&mut all);
    Ok(all)
}

impl Consultations<'_> {
    /// Switches recording on (`true`) or off. On needs the patient's consent, recorded first with
    /// `consent_to_recording`; off is always allowed.
    pub async fn set_recording(
        &self,
        caller: &Caller,
        http: &TwilioHttp,
        appointment: Uuid,
        on: bool,
    ) -> Result<ConsultationStatus> {
        let booking = access::own(self.clinic, caller, appointment, "record")?;
        let record = store::load(&*self.clinic.db().conn()?, appointment)?;
        let state = store::state(booking.status, record.as_ref());
        let plan = match record {
            Some(record) if state == ConsultationState::InProgress => SwitchPlan {
                patient: booking.patient_id,
                room_sid: record.room_sid,
                consented: record.recording_consent_at.is_some(),
            },
            _ => return Err(refusal("record", state)),
        };
        if on && !plan.consented {
            return Err(consent_first()); // said before "no Twilio account" (the rule checks it too)
        }
        let account = self.account(Step::Record)?;
        switch(&mut DeskSwitch { consultations: self, caller, booking: &booking }, &plan, http, &account, on).await
    }

    /// The consultation's recordings (metadata), from every room it used; the appointment's doctor
    /// only. Empty when it never started.
    pub async fn recordings(
        &self,
        caller: &Caller,
        http: &TwilioHttp,
        appointment: Uuid,
    ) -> Result<Vec<ConsultationRecording>> {
        let _booking = access::own(self.clinic, caller, appointment, "see the recordings of")?;
        let Some(record) = store::load(&*self.clinic.db().conn()?, appointment)? else { return Ok(Vec::new()) };
        let rooms: Vec<String> = record.earlier_room_sids.iter().cloned().chain(record.room_sid.clone()).collect();
        let twilio = || self.account(Step::Record).map(|account| (http, account));
        list_recordings(twilio, &rooms, record.recording_consent_at.is_some()).await
    }
}

/// A switch recorded in the one-desk clinic's SQLite file.
struct DeskSwitch<'a> {
    consultations: &'a Consultations<'a>,
    caller: &'a Caller,
    booking: &'a Booking,
}

impl RecordingStore for DeskSwitch<'_> {
    type Error = CoreError;
    type Switched = ConsultationStatus;

    async fn record_switch(&mut self, on: bool, detail: &str) -> Result<ConsultationStatus> {
        let clinic = self.consultations.clinic;
        let appointment = self.booking.id.to_string();
        let mut conn = clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE consultations SET recording = ?2, updated_at = ?3 WHERE appointment_id = ?1 AND status = 'in_progress'",
            params![appointment, on, ts(clinic.now())],
        )?;
        crate::audit::record_for_patient(
            &tx,
            clinic.now(),
            self.caller,
            crate::audit::AuditAction::RecordingSwitched,
            ("appointment", &appointment),
            self.booking.patient_id,
            Some(detail),
        )?;
        let status = status_of(&tx, self.booking, true)?;
        tx.commit()?;
        Ok(status)
    }
}

/// The refusal to record before the patient's agreement is recorded (here and on a clinic server).
pub fn consent_first() -> CoreError {
    CoreError::Conflict("Record the patient's agreement first: a consultation is never recorded without it.".into())
}

/// A recording as Twilio lists it, as the doctor sees it.
pub fn recording_of(r: rooms::RoomRecording) -> ConsultationRecording {
    ConsultationRecording {
        started_at: r
            .date_created
            .as_deref()
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        sid: r.sid,
        kind: r.kind,
        status: r.status,
        seconds: r.duration,
        bytes: r.size,
    }
}

/// Oldest first; a room's audio before its video.
pub fn in_order(all: &mut [ConsultationRecording]) {
    all.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.kind.cmp(&b.kind)));
}
