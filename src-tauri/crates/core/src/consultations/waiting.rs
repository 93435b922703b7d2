//! The waiting room. When the patient's link is sent, the consultation's conversation is opened at
//! Twilio with both participants in it (the same one the start would open: start_steps.rs `open_chat`),
//! so the patient's page can chat before the doctor starts and can say that the patient is waiting.
//!
//! The page says so through the only thing its token lets it write: its own participant's
//! attributes in that conversation, `{"waiting_since": RFC 3339, "device_check": "passed" |
//! "camera_off" | "failed", "left_at": RFC 3339}`. The app reads them back through the REST API
//! ([`Consultations::waiting_patients`], polled by the day view every few seconds), so the clinic
//! needs no server of its own and no webhook. The attributes are the patient's words about
//! themselves: they are shown, never trusted for anything else (the doctor still admits by Start).

use super::access;
use super::start::{plan_of, DeskStart};
use super::start_steps;
use super::store;
use super::words::{self, Step};
use super::{Consultations, EARLY_MINUTES, TOKEN_MARGIN_MINUTES};
use crate::auth::{Caller, Permission, Role};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use crate::twilio::{conversations, TwilioHttp};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// What the patient's page found in its device check, as it reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DeviceCheck {
    /// Camera and microphone work.
    Passed,
    /// The patient joins without their camera (none, refused, or switched off).
    CameraOff,
    /// The check found a problem the patient went on with (no microphone sound, say).
    Failed,
    /// The page said nothing about it.
    Unknown,
}

impl DeviceCheck {
    /// As the patient's page writes it (and the clinic keeps it).
    pub fn parse(text: Option<&str>) -> DeviceCheck {
        match text {
            Some("passed") => DeviceCheck::Passed,
            Some("camera_off") => DeviceCheck::CameraOff,
            Some("failed") => DeviceCheck::Failed,
            _ => DeviceCheck::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceCheck::Passed => "passed",
            DeviceCheck::CameraOff => "camera_off",
            DeviceCheck::Failed => "failed",
            DeviceCheck::Unknown => "unknown",
        }
    }
}

/// What the patient's page reported, whether or not they have left since: waiting since when,
/// and their device check (kept in the record at the end).
pub fn reported(attributes: &str) -> Option<(DateTime<Utc>, DeviceCheck)> {
    let value: serde_json::Value = serde_json::from_str(attributes).ok()?;
    let since = value.get("waiting_since")?.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok())?;
    Some((since.with_timezone(&Utc), DeviceCheck::parse(value.get("device_check").and_then(|v| v.as_str()))))
}

/// A patient waiting on the call page for their doctor to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct WaitingPatient {
    pub appointment_id: Uuid,
    pub patient_name: String,
    pub doctor_name: String,
    /// The appointment's start, clinic time ("09:30"), for a screen showing another day.
    pub local_start: String,
    /// The caller is the appointment's doctor (may admit the patient with Start).
    pub is_own: bool,
    pub since: DateTime<Utc>,
    pub device_check: DeviceCheck,
}

/// Reads a patient participant's attributes: waiting since when, unless they have left since.
pub fn read_attributes(attributes: &str) -> Option<(DateTime<Utc>, DeviceCheck)> {
    let value: serde_json::Value = serde_json::from_str(attributes).ok()?;
    let at = |key: &str| {
        value.get(key)?.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
    };
    let since = at("waiting_since")?;
    if at("left_at").is_some_and(|left| left >= since) {
        return None;
    }
    Some((since, DeviceCheck::parse(value.get("device_check").and_then(|v| v.as_str()))))
}

/// A scheduled consultation whose link works now and whose conversation is open.
struct Candidate {
    appointment: Uuid,
    patient_id: Uuid,
    doctor_user: Uuid,
    doctor_name: String,
    starts_at: DateTime<Utc>,
    conversation: String,
    patient_identity: String,
}

impl Consultations<'_> {
    /// Texts the patient a new link ([`Consultations::invite`]) and opens the waiting room. The text
    /// is queued whatever Twilio does now; a waiting room that could not open comes back as the
    /// sentence saying so (the patient still joins when the doctor starts; the next invite or the
    /// start opens it).
    pub async fn invite_to_waiting_room(
        &self,
        caller: &Caller,
        http: &TwilioHttp,
        appointment: Uuid,
    ) -> Result<(crate::sms::TextMessage, Option<String>)> {
        let text = self.invite(caller, appointment)?;
        let problem = match self.open_waiting_room(caller, http, appointment).await {
            Ok(()) => None,
            Err(err) => {
                tracing::warn!(%appointment, "the waiting room did not open: {err}");
                Some(err.to_string())
            }
        };
        Ok((text, problem))
    }

    /// Opens the waiting room of `appointment` (its conversation, with both participants), after its
    /// link was made. Nothing to do once it is open, in progress (the start opened it) or over.
    pub async fn open_waiting_room(&self, caller: &Caller, http: &TwilioHttp, appointment: Uuid) -> Result<()> {
        let booking = access::inviter(self.clinic, caller, appointment)?;
        let record = store::load(&*self.clinic.db().conn()?, appointment)?;
        let record = match record {
            Some(record) if record.status == "scheduled" => record,
            _ => return Ok(()),
        };
        if record.chat_ready && record.conversation_sid.is_some() {
            return Ok(());
        }
        let account = self.account(Step::WaitingRoom)?;
        let mut desk = DeskStart { consultations: self, caller, booking: &booking };
        start_steps::open_chat(&mut desk, http, &account, &plan_of(&record), Step::WaitingRoom).await.map(drop)
    }

    /// The patients waiting now: a doctor sees their own, other staff who see the schedule see all.
    /// One REST read per consultation whose link works now and whose waiting room is open (a
    /// quarter hour before to half an hour after a slot: a handful at a time), none when there is
    /// none; no database connection is held across them.
    pub async fn waiting_patients(&self, caller: &Caller, http: &TwilioHttp) -> Result<Vec<WaitingPatient>> {
        caller.require(Permission::ReadSchedule)?;
        let candidates = self.candidates(caller)?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let account = self.account(Step::WaitingRoom)?;
        let looked = candidates.len();
        let mut waiting = Vec::new();
        let mut failures = Vec::new();
        for c in candidates {
            // One waiting room that cannot be read (deleted at Twilio, a passing error) does not
            // hide the others; only when none could be read is it said.
            let people = match conversations::participants(http, &account, &c.conversation).await {
                Ok(people) => people,
                Err(err) => {
                    tracing::warn!(code = ?err.code(), "a waiting room could not be read");
                    failures.push(err);
                    continue;
                }
            };
            let patient = people.iter().find(|p| p.identity.as_deref() == Some(c.patient_identity.as_str()));
            let Some((since, device_check)) = patient.and_then(|p| p.attributes.as_deref()).and_then(read_attributes)
            else {
                continue;
            };
            let conn = self.clinic.db().conn()?;
            let patient_name = crate::patients::find(&conn, c.patient_id)?.full_name;
            let tz = crate::appointment_texts::context::Ctx::read(&conn)?.tz;
            waiting.push(WaitingPatient {
                appointment_id: c.appointment,
                patient_name,
                doctor_name: c.doctor_name,
                local_start: c.starts_at.with_timezone(&tz).format("%H:%M").to_string(),
                is_own: caller.role() == Role::Doctor && c.doctor_user == caller.user_id(),
                since,
                device_check,
            });
        }
        if failures.len() == looked {
            return Err(words::failed(&failures[0], Step::WaitingRoom));
        }
        waiting.sort_by_key(|w| w.since);
        Ok(waiting)
    }

    fn candidates(&self, caller: &Caller) -> Result<Vec<Candidate>> {
        let now = self.clinic.now();
        // The link's window (invite.rs `link_window`): from a quarter before the start to the
        // margin after the end.
        let opens_before = ts(now + Duration::minutes(EARLY_MINUTES));
        let closes_after = ts(now - Duration::minutes(TOKEN_MARGIN_MINUTES));
        let doctor = (caller.role() == Role::Doctor).then(|| caller.user_id().to_string());
        let conn = self.clinic.db().conn()?;
        let mut statement = conn.prepare_cached(
            "SELECT a.id, a.patient_id, u.full_name, c.conversation_sid, c.patient_identity, d.user_id, a.starts_at
             FROM consultations c
             JOIN appointments a ON a.id = c.appointment_id
             JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
             WHERE c.status = 'scheduled' AND c.conversation_sid IS NOT NULL AND c.chat_ready_at IS NOT NULL
               AND a.kind = 'video' AND a.status IN ('scheduled', 'confirmed', 'checked_in')
               AND a.starts_at <= ?1 AND a.ends_at >= ?2 AND (?3 IS NULL OR d.user_id = ?3)
             ORDER BY a.starts_at",
        )?;
        let rows = statement.query_map(rusqlite::params![opens_before, closes_after, doctor], |r| {
            Ok(Candidate {
                appointment: uuid_at(r, 0)?,
                patient_id: uuid_at(r, 1)?,
                doctor_name: r.get(2)?,
                conversation: r.get(3)?,
                patient_identity: r.get(4)?,
                doctor_user: uuid_at(r, 5)?,
                starts_at: r.get(6)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(CoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patients_attributes_say_since_when_and_whether_they_left() {
        let waiting = r#"{"role":"patient","waiting_since":"2026-03-03T09:02:00Z","device_check":"passed"}"#;
        let (since, check) = read_attributes(waiting).unwrap();
        assert_eq!(since.to_rfc3339(), "2026-03-03T09:02:00+00:00");
        assert_eq!(check, DeviceCheck::Passed);
        let left = r#"{"waiting_since":"2026-03-03T09:02:00Z","left_at":"2026-03-03T09:05:00Z"}"#;
        assert_eq!(read_attributes(left), None, "left after they started waiting");
        let back =
            r#"{"waiting_since":"2026-03-03T09:06:00Z","left_at":"2026-03-03T09:05:00Z","device_check":"camera_off"}"#;
        assert_eq!(read_attributes(back).unwrap().1, DeviceCheck::CameraOff, "came back after leaving");
        assert_eq!(read_attributes(r#"{"role":"patient"}"#), None, "not on the page yet");
        assert_eq!(read_attributes("not json"), None);
        assert_eq!(read_attributes(r#"{"waiting_since":"yesterday"}"#), None);
        let odd = r#"{"waiting_since":"2026-03-03T09:02:00+01:00","device_check":"<script>"}"#;
        assert_eq!(read_attributes(odd).unwrap().1, DeviceCheck::Unknown);
    }
}
