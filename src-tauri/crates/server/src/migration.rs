//! A one-desk clinic moving onto this server (`clinicdesk server migrate-from`), received in
//! parts (`POST /v1/migrate`, an administrator's session). Rows keep their ids, staff keep their
//! passwords, the audit trail keeps its entries, so the clinic's history reads the same.
//!
//! Its history (consultations, texts, replies) is kept by migration_history.rs.
//!
//! Invariants: a server holds one clinic. The first part is accepted only while it has no
//! patients and no appointments, and names the clinic it comes from (`migration.source`); later
//! parts must name the same one. Every part is idempotent (rows already here are skipped, audit
//! entries carry a client id made from the source and their number), so a migration cut short is
//! simply run again. Staff whose email the server already has (the administrator from `init`)
//! are the same person: their old id is mapped to the server's in appointments and the trail.
//! Each row also goes into the feed, so desks receive the clinic. After the last part
//! (`finished`) nothing more is written: any part is answered `already_finished`.

use crate::audit;
use crate::changes;
use crate::error::Result;
use crate::settings;
use crate::staff::Staff;
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::{is_stored_password_hash, Permission, Role};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::sync::wire::MigrationBatch;
use deadpool_postgres::Pool;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokio_postgres::GenericClient;
use uuid::Uuid;

const SOURCE: &str = "migration.source";
/// Set by the last part: the clinic is here now, and no part is accepted any more.
const FINISHED: &str = "migration.finished";

/// True while a one-desk clinic is moving onto this server (parts taken, the last one not yet):
/// its old computer may still be texting the patients, and what arrived may fall behind, so the
/// server plans no reminders of its own until the move finishes.
pub async fn under_way(db: &impl GenericClient) -> Result<bool> {
    Ok(settings::get(db, SOURCE).await?.is_some() && settings::get(db, FINISHED).await?.is_none())
}

/// When a clinic that moved onto this server finished moving; `None` for a clinic that started
/// here. Reminders due before then were the old computer's to send.
pub async fn finished_at(db: &impl GenericClient) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(settings::get(db, FINISHED)
        .await?
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok())
        .map(|at| at.to_utc()))
}

pub async fn receive(pool: &Pool, staff: &Staff, batch: &MigrationBatch) -> Result<Value> {
    let mut client = pool.get().await?;
    staff.require(&**client, Permission::ImportRecords).await?;
    let tx = client.transaction().await?;
    // One part at a time: the check of what the server holds and the writes are one step.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('clinicdesk.migration'))", &[]).await?;
    check_source(&*tx, batch.source).await?;
    if settings::get(&*tx, FINISHED).await?.is_some() {
        // The clinic is here already: nothing more is written. Said as an answer, not a refusal,
        // so a move whose last answer was lost can be run again to mark its old folder moved.
        return Ok(json!({"already_finished": true, "doctors": 0, "patients": 0, "appointments": 0,
                         "appointments_skipped": 0, "notes": 0, "consultations": 0, "texts": 0, "replies": 0, "files": 0,
                         "audit": 0}));
    }
    let country = settings::get(&*tx, settings::COUNTRY).await?.unwrap_or_else(|| "US".into());
    check_rows(batch, &country)?;
    for (key, value) in &batch.settings {
        let here = settings::get(&*tx, key).await?;
        if key != settings::CLINIC_NAME && here.as_deref().is_some_and(|h| h != value) {
            return Err(CoreError::Conflict(format!(
                "The clinic's {key} is {value}, but this server was set up with {}: set the server up with the same one before moving the clinic.",
                here.unwrap_or_default()
            ))
            .into());
        }
    }
    let ids = users(&*tx, staff, batch).await?;
    let mapped = |id: Option<Uuid>| id.map(|id| ids.get(&id).copied().unwrap_or(id));
    let mut counts =
        json!({"doctors": 0, "patients": 0, "appointments": 0, "appointments_skipped": 0, "notes": 0, "audit": 0});
    for d in &batch.doctors {
        let added = tx
            .execute(
                "INSERT INTO doctors (id, user_id, specialization, active) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&d.id, &mapped(Some(d.user_id)), &d.specialization, &d.active],
            )
            .await?;
        if added == 1 {
            let row = json!({"id": d.id, "user_id": mapped(Some(d.user_id)), "specialization": d.specialization, "active": d.active});
            changes::record(&*tx, "doctor", d.id, "all", Some(row)).await?;
            counts["doctors"] = (counts["doctors"].as_u64().unwrap_or(0) + 1).into();
        }
    }
    for p in &batch.patients {
        let added = tx
            .execute(
                "INSERT INTO patients (id, full_name, phone, date_of_birth, sms_consent, opted_out_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING",
                &[&p.id, &p.full_name, &p.phone, &p.date_of_birth, &p.sms_consent, &p.opted_out_at, &p.created_at],
            )
            .await?;
        if added == 1 {
            let row = json!({"id": p.id, "full_name": p.full_name, "phone": p.phone, "date_of_birth": p.date_of_birth,
                             "sms_consent": p.sms_consent, "opted_out_at": p.opted_out_at, "version": 1});
            changes::record(&*tx, "patient", p.id, "all", Some(row)).await?;
            counts["patients"] = (counts["patients"].as_u64().unwrap_or(0) + 1).into();
        }
    }
    for a in &batch.appointments {
        // No conflict target: an overlap refused by the exclusion constraints is skipped too
        // (and counted), as is a row moved already.
        let added = tx
            .execute(
                "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status,
                                           cancel_reason, created_by, created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12) ON CONFLICT DO NOTHING",
                &[
                    &a.id,
                    &a.booking_ref,
                    &a.patient_id,
                    &a.doctor_id,
                    &a.starts_at,
                    &a.ends_at,
                    &a.kind,
                    &a.status,
                    &a.cancel_reason,
                    &mapped(a.created_by),
                    &a.created_at,
                    &a.version,
                ],
            )
            .await?;
        let key = if added == 1 { "appointments" } else { "appointments_skipped" };
        counts[key] = (counts[key].as_u64().unwrap_or(0) + 1).into();
        if added == 1 {
            let row = json!({"id": a.id, "booking_ref": a.booking_ref, "patient_id": a.patient_id, "doctor_id": a.doctor_id,
                             "starts_at": a.starts_at, "ends_at": a.ends_at, "kind": a.kind, "status": a.status,
                             "cancel_reason": a.cancel_reason, "version": a.version});
            changes::record(&*tx, "appointment", a.id, "all", Some(row)).await?;
        }
    }
    for n in &batch.notes {
        // Written by the appointment's doctor (only they write notes); skipped if the appointment
        // did not come (an overlap the server refused) or its notes are here already.
        let added = tx
            .query_opt(
                "INSERT INTO consultation_notes (appointment_id, notes, version, updated_at, updated_by)
                 SELECT a.id, $2, 1, $3, d.user_id FROM appointments a JOIN doctors d ON d.id = a.doctor_id
                 WHERE a.id = $1
                 ON CONFLICT DO NOTHING
                 RETURNING (SELECT doctor_id FROM appointments WHERE id = $1)",
                &[&n.appointment_id, &n.notes, &n.updated_at],
            )
            .await?;
        if let Some(row) = added {
            let doctor: Uuid = row.get(0);
            let notes =
                json!({"appointment_id": n.appointment_id, "notes": n.notes, "version": 1, "updated_at": n.updated_at});
            changes::record(&*tx, "consultation_notes", n.appointment_id, &format!("doctor:{doctor}"), Some(notes))
                .await?;
            counts["notes"] = (counts["notes"].as_u64().unwrap_or(0) + 1).into();
            // The history after the end comes too, as it was (who amended and when).
            for v in &n.versions {
                tx.execute(
                    "INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by)
                     VALUES ($1, $2, $3, $4, (SELECT id FROM users WHERE id = $5))",
                    &[&n.appointment_id, &v.version, &v.text, &v.saved_at, &mapped(v.saved_by)],
                )
                .await?;
            }
            if !n.versions.is_empty() {
                crate::consultation_notes::publish_history(&*tx, n.appointment_id, &format!("doctor:{doctor}")).await?;
            }
        }
    }
    counts["consultations"] =
        crate::migration_history::consultations(&*tx, &batch.consultations, &mapped).await?.into();
    counts["texts"] = crate::migration_history::texts(&*tx, &batch.texts).await?.into();
    counts["replies"] = crate::migration_history::replies(&*tx, &batch.replies, &mapped).await?.into();
    counts["files"] = crate::migration_history::files(&*tx, &batch.files).await?.into();
    for e in &batch.audit {
        let added = audit::insert_kept(&*tx, batch.source, e, None, mapped(e.actor_id)).await?;
        counts["audit"] = (counts["audit"].as_u64().unwrap_or(0) + added).into();
    }
    let detail = format!("from clinic {}: {counts}", batch.source);
    audit::record(&*tx, Some(staff), AuditAction::ClinicMoved, None, Some(&detail)).await?;
    if batch.finished {
        tx.execute("INSERT INTO settings (key, value) VALUES ($1, $2)", &[&FINISHED, &chrono::Utc::now().to_rfc3339()])
            .await?;
        let detail = format!("clinic {} finished moving onto this server; no further part is accepted", batch.source);
        audit::record(&*tx, Some(staff), AuditAction::ClinicMoved, None, Some(&detail)).await?;
    }
    tx.commit().await?;
    Ok(counts)
}

/// The first part claims this server for the clinic it comes from; later parts must match.
async fn check_source(tx: &impl GenericClient, source: Uuid) -> Result<()> {
    match settings::get(tx, SOURCE).await? {
        Some(kept) if kept == source.to_string() => Ok(()),
        Some(_) => Err(CoreError::Conflict("This clinic server already holds another clinic's records.".into()).into()),
        None => {
            let held: i64 = tx
                .query_one("SELECT (SELECT count(*) FROM patients) + (SELECT count(*) FROM appointments)", &[])
                .await?
                .get(0);
            if held > 0 {
                return Err(CoreError::Conflict(
                    "This clinic server already has patients or appointments: a clinic can only be moved onto an empty server.".into(),
                )
                .into());
            }
            tx.execute("INSERT INTO settings (key, value) VALUES ($1, $2)", &[&SOURCE, &source.to_string()]).await?;
            Ok(())
        }
    }
}

/// A part is checked whole before anything is written: what arrives must be what this server
/// would have accepted itself (a known role, an argon2id password hash, a patient's name and a
/// number that reads back to itself), so a damaged or hand-made file cannot slip in accounts or
/// numbers no desk could have made. The sentence names the row.
fn check_rows(batch: &MigrationBatch, country: &str) -> Result<()> {
    let refuse = |field: &'static str, message: String| Err(CoreError::invalid(field, message).into());
    for u in &batch.users {
        if Role::parse(&u.role).is_none() {
            return refuse(
                "users",
                format!("{} has the role \"{}\", which ClinicDesk does not know.", u.email, u.role),
            );
        }
        if !u.email.contains('@') || u.email.chars().count() > 254 {
            return refuse("users", format!("\"{}\" is not an email address ClinicDesk would have accepted.", u.email));
        }
        if !is_stored_password_hash(&u.password_hash) {
            return refuse(
                "users",
                format!("{}'s password is not stored the way ClinicDesk stores passwords; the clinic's data folder looks damaged.", u.email),
            );
        }
    }
    let today = chrono::Utc::now().date_naive();
    for p in &batch.patients {
        let input = PatientInput {
            full_name: p.full_name.clone(),
            phone: p.phone.clone(),
            date_of_birth: None,
            sms_consent: p.sms_consent,
        };
        let (_, phone, _) = clinicdesk_core::patients::validate(&input, country, today)
            .map_err(|err| CoreError::invalid("patients", format!("Patient {}: {err}", p.id)))?;
        if phone != p.phone {
            return refuse(
                "patients",
                format!("Patient {}: the number {} is not stored the way ClinicDesk stores numbers.", p.id, p.phone),
            );
        }
    }
    for a in &batch.appointments {
        if a.ends_at <= a.starts_at {
            return refuse("appointments", format!("Appointment {} ends before it starts.", a.booking_ref));
        }
    }
    crate::migration_history::check(&batch.consultations, &batch.texts, &batch.replies)?;
    crate::migration_history::check_files(&batch.files)?;
    for n in &batch.notes {
        clinicdesk_core::consultations::check_notes(&n.notes).map_err(|err| {
            CoreError::invalid("notes", format!("The notes of appointment {}: {err}", n.appointment_id))
        })?;
        for (i, v) in n.versions.iter().enumerate() {
            clinicdesk_core::consultations::check_notes(&v.text).map_err(|err| {
                CoreError::invalid(
                    "notes",
                    format!("The notes of appointment {} (version {}): {err}", n.appointment_id, v.version),
                )
            })?;
            if v.version != i as i64 {
                return refuse(
                    "notes",
                    format!("The notes' history of appointment {} is not numbered 0, 1, 2 …", n.appointment_id),
                );
            }
        }
    }
    Ok(())
}

/// Adds the staff the server does not know (each written to the trail, as an account added here
/// would be); returns old id -> server id for those it knew by email.
async fn users(tx: &impl GenericClient, staff: &Staff, batch: &MigrationBatch) -> Result<HashMap<Uuid, Uuid>> {
    let mut ids = HashMap::new();
    for u in &batch.users {
        let known = tx.query_opt("SELECT id FROM users WHERE lower(email) = lower($1)", &[&u.email]).await?;
        match known {
            Some(row) => {
                let id: Uuid = row.get(0);
                if id != u.id {
                    ids.insert(u.id, id);
                }
            }
            None => {
                // Checked known in check_rows; stored in the server's own spelling ("doctor").
                let role = Role::parse(&u.role).map_or_else(|| u.role.clone(), |r| r.as_str().to_owned());
                tx.execute(
                    "INSERT INTO users (id, email, full_name, role, password_hash, active, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    &[&u.id, &u.email, &u.full_name, &role, &u.password_hash, &u.active, &u.created_at],
                )
                .await?;
                let row =
                    json!({"id": u.id, "email": u.email, "full_name": u.full_name, "role": role, "active": u.active});
                changes::record(tx, "user", u.id, "all", Some(row)).await?;
                let detail = format!("{} ({}) moved with clinic {}", u.email, role, batch.source);
                let record = u.id.to_string();
                audit::record(tx, Some(staff), AuditAction::UserAdded, Some(("user", &record)), Some(&detail)).await?;
            }
        }
    }
    Ok(ids)
}
