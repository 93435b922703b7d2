//! Recording, only with the patient's recorded consent: switched on and off with the room's
//! Recording Rules while the consultation runs; completing the room at the end stops it.

use super::access;
use super::model::{ConsultationRecording, ConsultationState, ConsultationStatus};
use super::start_steps::refusal;
use super::store;
use super::words::{self, Step};
use super::{status_of, Consultations};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::twilio::{rooms, TwilioHttp};
use rusqlite::params;
use uuid::Uuid;

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
        let record = match record {
            Some(record) if state == ConsultationState::InProgress => record,
            _ => return Err(refusal("record", state)),
        };
        if on && record.recording_consent_at.is_none() {
            return Err(consent_first());
        }
        let account = self.account(Step::Record)?;
        let room_sid = record.room_sid.clone().unwrap_or_default();
        rooms::set_recording(http, &account, &room_sid, on).await.map_err(|err| words::failed(&err, Step::Record))?;
        let conn = self.clinic.db().conn()?;
        conn.execute(
            "UPDATE consultations SET recording = ?2, updated_at = ?3 WHERE appointment_id = ?1 AND status = 'in_progress'",
            params![appointment.to_string(), on, ts(self.clinic.now())],
        )?;
        crate::audit::record_for_patient(
            &conn,
            self.clinic.now(),
            caller,
            crate::audit::AuditAction::RecordingSwitched,
            ("appointment", &appointment.to_string()),
            booking.patient_id,
            Some(&format!("patient {}; recording {}", booking.patient_id, if on { "on" } else { "off" })),
        )?;
        status_of(&conn, &booking, true)
    }
}

impl Consultations<'_> {
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
        if rooms.is_empty() || record.recording_consent_at.is_none() {
            return Ok(Vec::new()); // never recorded without consent, so nothing to ask Twilio
        }
        let account = self.account(Step::Record)?;
        let mut all = Vec::new();
        for room in rooms {
            let listed =
                rooms::recordings(http, &account, &room).await.map_err(|err| words::failed(&err, Step::Record))?;
            all.extend(listed.into_iter().map(recording_of));
        }
        in_order(&mut all);
        Ok(all)
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
