//! A doctor's notes for a video consultation, sent by their desk (`DeskCommand::WriteNotes`): the
//! core's rules (only the appointment's own doctor, only a video appointment, the length limit, in
//! the core's words), kept whole as last saved, and published to the feed as clinical content: only
//! the desks of that doctor and of administrators receive it (`changes::Audience`).

use crate::audit;
use crate::changes;
use crate::desks::Desk;
use crate::error::Result;
use crate::staff::Staff;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{check_notes, in_person, only_their_doctor, NOTES_ACTION};
use clinicdesk_core::error::CoreError;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// One trail entry per doctor and consultation per this many minutes says who wrote the notes and
/// when (desks save on every pause in typing), as on a desk.
const NOTED_EVERY_MINUTES: i64 = 10;

/// Saves `notes` as the consultation's notes in the caller's transaction (the caller has checked
/// `RunConsultations`), made on the copy of `expected_version`; returns the version saved.
pub async fn write_in(
    db: &impl GenericClient,
    desk: &Desk,
    staff: &Staff,
    appointment: Uuid,
    notes: &str,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    check_notes(notes)?;
    let booking = db
        .query_opt(
            "SELECT a.patient_id, a.doctor_id, d.user_id, u.full_name, a.kind
             FROM appointments a JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
             WHERE a.id = $1",
            &[&appointment],
        )
        .await?
        .ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))?;
    let (patient, doctor, doctor_user, doctor_name, kind): (Uuid, Uuid, Uuid, String, String) =
        (booking.get(0), booking.get(1), booking.get(2), booking.get(3), booking.get(4));
    if doctor_user != staff.user_id {
        return Err(CoreError::Forbidden(only_their_doctor(&doctor_name, NOTES_ACTION)).into());
    }
    if kind != "video" {
        return Err(in_person().into());
    }
    // Saves of one consultation's notes take turns (two computers of one doctor saving at once):
    // each looks at the version only after the one before it committed.
    db.execute("SELECT pg_advisory_xact_lock(hashtext('consultation notes ' || $1::uuid::text))", &[&appointment])
        .await?;
    // The version this save was made on (0: the desk knew of no notes). Made on an older copy from
    // another computer, it still wins (the doctor's latest words), but the text it replaces is set
    // aside, not lost. The same desk's own earlier save (its answer lost) is no conflict.
    let set_aside = db
        .execute(
            "INSERT INTO consultation_notes_set_aside (appointment_id, version, notes, updated_at, updated_by, set_aside_at)
             SELECT appointment_id, version, notes, updated_at, updated_by, $3 FROM consultation_notes
             WHERE appointment_id = $1 AND version <> $2 AND notes <> '' AND desk_id IS DISTINCT FROM $4
             ON CONFLICT DO NOTHING",
            &[&appointment, &expected_version, &now, &desk.id],
        )
        .await?
        > 0;
    let version: i64 = db
        .query_one(
            "INSERT INTO consultation_notes (appointment_id, notes, version, updated_at, updated_by, desk_id)
             VALUES ($1, $2, 1, $3, $4, $5)
             ON CONFLICT (appointment_id) DO UPDATE SET notes = excluded.notes, updated_at = excluded.updated_at,
                    updated_by = excluded.updated_by, desk_id = excluded.desk_id, version = consultation_notes.version + 1
             RETURNING version",
            &[&appointment, &notes, &now, &staff.user_id, &desk.id],
        )
        .await?
        .get(0);
    let noted_lately: bool = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM audit_log WHERE record_type = 'appointment' AND record_id = $1
                            AND action = $2 AND actor_id = $3 AND at >= $4)",
            &[
                &appointment.to_string(),
                &AuditAction::ConsultationNoted.as_str(),
                &staff.user_id,
                &(now - Duration::minutes(NOTED_EVERY_MINUTES)),
            ],
        )
        .await?
        .get(0);
    if !noted_lately || set_aside {
        let detail = if set_aside {
            format!("patient {patient}; notes saved on a copy older than the clinic server's; the text it replaced was set aside (version {})", version - 1)
        } else {
            format!("patient {patient}; notes saved")
        };
        audit::record(
            db,
            Some(staff),
            AuditAction::ConsultationNoted,
            Some(("appointment", &appointment.to_string())),
            Some(&detail),
        )
        .await?;
    }
    // Each save carries the whole text: a desk that has not pulled the earlier rows needs only this
    // one, so they go (no copy of every pause in typing stays in the feed).
    db.execute("DELETE FROM changes WHERE entity = 'consultation_notes' AND entity_id = $1", &[&appointment]).await?;
    let row = json!({ "appointment_id": appointment, "notes": notes, "version": version, "updated_at": now });
    changes::record(db, "consultation_notes", appointment, &format!("doctor:{doctor}"), Some(row)).await?;
    // The answer to the desk names the version only: it holds the text it sent, and the server
    // keeps no second copy of every save in its record of answers.
    Ok(json!({ "appointment_id": appointment, "version": version, "updated_at": now }))
}
