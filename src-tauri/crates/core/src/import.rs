//! Bringing a clinic's records in from its previous system, in bulk: patients, then their
//! appointments, past and future. The same rules as the desk (names, phone numbers, dates of
//! birth, no double booking — the database's triggers refuse overlaps) but one transaction and one
//! audit entry per batch instead of one per record, so a clinic's years of history load in minutes.
//!
//! Invariants: a batch is all or nothing (a refused row leaves the clinic as it was, and the
//! error names the row); imported appointments may lie in the past (they are history) but never
//! beyond the booking horizon; nothing is texted.

use crate::appointments::{AppointmentKind, AppointmentStatus};
use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::patients::PatientInput;
use crate::Clinic;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, TransactionBehavior};
use uuid::Uuid;

/// The most rows one call takes: a batch holds the write lock while it runs, and the desks wait.
pub const MAX_BATCH: usize = 20_000;

/// One appointment from the previous system, already matched to a patient and a doctor here.
#[derive(Debug, Clone)]
pub struct ImportedAppointment {
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub minutes: u32,
    pub kind: AppointmentKind,
    pub status: AppointmentStatus,
}

pub struct Import<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Import<'_> {
    /// Adds patients; returns their new ids in the order given.
    pub fn patients(&self, caller: &Caller, rows: &[PatientInput]) -> Result<Vec<Uuid>> {
        caller.require(Permission::ImportRecords)?;
        crate::sync::pending::refuse_on_desk(&*self.clinic.db().conn()?, crate::sync::pending::ServerKeeps::Imports)?;
        check_batch(rows.len())?;
        let settings = self.clinic.settings().current()?;
        let tz = crate::settings::parse_time_zone(&settings.time_zone)?;
        let now = self.clinic.now();
        let today = now.with_timezone(&tz).date_naive();
        let checked = rows
            .iter()
            .enumerate()
            .map(|(i, row)| crate::patients::validate(row, &settings.default_country, today).map_err(|e| at_row(i, e)))
            .collect::<Result<Vec<_>>>()?;
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(rows.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO patients (id, full_name, phone_e164, date_of_birth, sms_consent, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?;
            for ((name, phone, dob), row) in checked.iter().zip(rows) {
                let id = Uuid::new_v4();
                insert.execute(params![
                    id.to_string(),
                    name,
                    phone,
                    dob.map(|d| d.to_string()),
                    row.sms_consent,
                    ts(now)
                ])?;
                ids.push(id);
            }
        }
        let detail = format!("{} patients", ids.len());
        let entry = audit::record(&tx, now, Actor::Staff(caller), AuditAction::PatientsImported, None, Some(&detail))?;
        audit::link_patients(&tx, entry, &ids)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Adds appointments; returns how many. Overlapping ones are refused by the database, with the
    /// row named.
    pub fn appointments(&self, caller: &Caller, rows: &[ImportedAppointment]) -> Result<usize> {
        caller.require(Permission::ImportRecords)?;
        crate::sync::pending::refuse_on_desk(&*self.clinic.db().conn()?, crate::sync::pending::ServerKeeps::Imports)?;
        check_batch(rows.len())?;
        let now = self.clinic.now();
        // The desk's booking horizon is five years ahead (appointments/local_time.rs).
        let horizon = now + Duration::days(5 * 366);
        for (i, row) in rows.iter().enumerate() {
            crate::appointments::check_minutes(row.minutes).map_err(|e| at_row(i, e))?;
            if row.starts_at > horizon {
                return Err(at_row(i, CoreError::invalid("starts_at", "It starts more than five years from now.")));
            }
        }
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (i, row) in rows.iter().enumerate() {
            insert_appointment(&tx, caller, row, now).map_err(|e| at_row(i, e))?;
        }
        let detail = format!("{} appointments", rows.len());
        audit::record(&tx, now, Actor::Staff(caller), AuditAction::AppointmentsImported, None, Some(&detail))?;
        tx.commit()?;
        Ok(rows.len())
    }
}

fn insert_appointment(tx: &Connection, caller: &Caller, row: &ImportedAppointment, now: DateTime<Utc>) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status, cancelled_at, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
    )?;
    let end = row.starts_at + Duration::minutes(row.minutes.into());
    let cancelled_at = (row.status == AppointmentStatus::Cancelled).then(|| ts(now));
    let inserted = crate::appointments::with_fresh_booking_ref(|reference| {
        insert.execute(params![
            Uuid::new_v4().to_string(),
            reference,
            row.patient_id.to_string(),
            row.doctor_id.to_string(),
            ts(row.starts_at),
            ts(end),
            row.kind.as_str(),
            row.status.as_str(),
            cancelled_at,
            caller.user_id.to_string(),
            ts(now)
        ])
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
            Err(CoreError::invalid("patient", "Its patient or doctor is not in this clinic."))
        }
        Err(err) => Err(crate::appointments::write_error(err)),
    }
}

fn check_batch(len: usize) -> Result<()> {
    if len > MAX_BATCH {
        return Err(CoreError::invalid("rows", format!("Import at most {MAX_BATCH} rows at a time.")));
    }
    Ok(())
}

/// The same error, saying which row (counting from 1, as a spreadsheet does).
fn at_row(index: usize, err: CoreError) -> CoreError {
    match err {
        CoreError::Invalid { field, message } => {
            CoreError::Invalid { field, message: format!("Row {}: {message}", index + 1) }
        }
        CoreError::Conflict(message) => CoreError::Conflict(format!("Row {}: {message}", index + 1)),
        other => other,
    }
}
