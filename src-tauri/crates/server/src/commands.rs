//! Commands from desks. Each carries the desk's own client id; the command's effect and its
//! outcome are committed in one transaction, keyed by that id, so a desk that lost the answer and
//! sends the command again gets the first outcome back instead of a second booking.
//!
//! A refusal (the slot was taken) is an outcome too and is kept: a retried command is answered the
//! same way, and the desk shows reception the server's sentence to rebook.

use crate::appointments;
use crate::consultation_notes;
use crate::desks::Desk;
use crate::error::{Result, ServerError};
use crate::patients;

use crate::staff::Staff;
use chrono::{DateTime, Utc};
use clinicdesk_core::auth::Permission;
use clinicdesk_core::error::CoreError;
use deadpool_postgres::Pool;
use serde_json::{json, Value};
use uuid::Uuid;

pub use clinicdesk_core::sync::wire::DeskCommand;

/// The outcome of a command, as stored and as sent back: `{"ok": …}` or
/// `{"refused": {"code": …, "message": …}}`.
pub type Outcome = Value;

pub async fn apply(
    pool: &Pool,
    desk: &Desk,
    staff: &Staff,
    client_id: Uuid,
    command: &DeskCommand,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let mut client = pool.get().await?;
    if let Some(outcome) = stored(&**client, desk, client_id).await? {
        return Ok(outcome);
    }
    let permission = match command {
        DeskCommand::Book { .. } | DeskCommand::Move { .. } | DeskCommand::Cancel { .. } => Permission::WriteSchedule,
        DeskCommand::AddPatient { .. } | DeskCommand::UpdatePatient { .. } | DeskCommand::RecordConsent { .. } => {
            Permission::WritePatients
        }
        DeskCommand::WriteNotes { .. } => Permission::RunConsultations,
        DeskCommand::TextPatient { .. } => Permission::SendTexts,
    };
    let outcome = match staff.require(&**client, permission).await {
        Err(ServerError::Rule(refused)) => refused_outcome(&refused),
        Err(other) => return Err(other),
        Ok(()) => {
            let tx = client.transaction().await?;
            let done = match command {
                DeskCommand::Book { appointment_id, booking } => {
                    { appointments::book_in(&*tx, staff, booking, Some(*appointment_id), now).await }
                        .map(|a| json!({ "ok": a }))
                }
                DeskCommand::Move { appointment_id, change } => {
                    { appointments::move_in(&*tx, staff, *appointment_id, change, now).await }
                        .map(|a| json!({ "ok": a }))
                }
                DeskCommand::Cancel { appointment_id, reason, expected_version } => {
                    { appointments::cancel_in(&*tx, staff, *appointment_id, reason, *expected_version, now).await }
                        .map(|a| json!({ "ok": a }))
                }
                DeskCommand::AddPatient { patient_id, patient } => {
                    { patients::add_patient_in(&*tx, staff, *patient_id, patient, now).await }
                        .map(|row| json!({ "ok": row }))
                }
                DeskCommand::UpdatePatient { patient_id, patient, expected_version } => {
                    { patients::update_patient_in(&*tx, staff, *patient_id, patient, *expected_version, now).await }
                        .map(|row| json!({ "ok": row }))
                }
                DeskCommand::RecordConsent { patient_id, agreed, expected_version } => {
                    { patients::record_consent_in(&*tx, staff, *patient_id, *agreed, *expected_version, now).await }
                        .map(|row| json!({ "ok": row }))
                }
                DeskCommand::WriteNotes { appointment_id, notes, expected_version, made_at } => {
                    // When it was typed (never later than now: a desk's clock may run ahead).
                    let typed = made_at.map_or(now, |at| at.min(now));
                    consultation_notes::write_in(&*tx, desk, staff, *appointment_id, notes, *expected_version, typed)
                        .await
                }
                .map(|row| json!({ "ok": row })),
                DeskCommand::TextPatient { patient_id, body } => {
                    crate::texts::to_patient(&*tx, staff, *patient_id, body, client_id, now)
                        .await
                        .map(|row| json!({ "ok": row }))
                }
            };
            match done {
                Ok(outcome) => {
                    if remember(&*tx, desk, client_id, &outcome).await? {
                        tx.commit().await?;
                        return Ok(outcome);
                    }
                    // The same command raced itself (sent twice at once): the other copy won.
                    drop(tx);
                    return stored(&**client, desk, client_id)
                        .await?
                        .ok_or_else(|| ServerError::Setup("lost command".into()));
                }
                Err(ServerError::Rule(refused)) => {
                    drop(tx);
                    refused_outcome(&refused)
                }
                Err(other) => return Err(other),
            }
        }
    };
    // A refusal is remembered on its own (nothing else was written).
    remember(&**client, desk, client_id, &outcome).await?;
    Ok(stored(&**client, desk, client_id).await?.unwrap_or(outcome))
}

fn refused_outcome(e: &CoreError) -> Outcome {
    json!({ "refused": { "code": e.code().as_str(), "message": e.to_string() } })
}

async fn stored(db: &impl tokio_postgres::GenericClient, desk: &Desk, client_id: Uuid) -> Result<Option<Outcome>> {
    let row = db.query_opt("SELECT desk_id, outcome FROM desk_commands WHERE client_id = $1", &[&client_id]).await?;
    match row {
        None => Ok(None),
        Some(r) if r.get::<_, Uuid>(0) == desk.id => Ok(Some(r.get(1))),
        // Client ids are UUIDs made by desks; another desk's id here is a bug or an attack.
        Some(_) => Err(CoreError::Conflict("That command id belongs to another desk.".into()).into()),
    }
}

/// Stores the outcome; false when this client id was already stored (by a concurrent copy of the
/// command, which waited for ours to commit or we for it).
async fn remember(
    db: &impl tokio_postgres::GenericClient,
    desk: &Desk,
    client_id: Uuid,
    outcome: &Outcome,
) -> Result<bool> {
    let stored = db
        .execute(
            "INSERT INTO desk_commands (client_id, desk_id, outcome) VALUES ($1, $2, $3) ON CONFLICT (client_id) DO NOTHING",
            &[&client_id, &desk.id, outcome],
        )
        .await?;
    Ok(stored == 1)
}
