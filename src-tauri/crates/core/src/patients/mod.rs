//! Patients: who the clinic treats and texts. Every read and write is written to the audit trail.

pub mod phone;
mod search;
pub mod store;

use crate::audit;
use crate::auth::{Caller, Permission};
use crate::db::uuid_at;
use crate::error::{CoreError, Result};
use crate::sync::wire::DeskCommand;
use crate::Clinic;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::db::at_once;
pub use search::PatientMatches;
use store::{CheckedPatient, SqlitePatients};

pub const MAX_SEARCH_RESULTS: u32 = 50;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Patient {
    pub id: Uuid,
    pub full_name: String,
    /// E.164, e.g. "+447700900123".
    pub phone: String,
    #[ts(type = "string | null")]
    pub date_of_birth: Option<NaiveDate>,
    pub sms_consent: bool,
    pub opted_out_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When the answer about texts (yes or no) was recorded, and by whom (a name on a patient's
    /// record, the user's id in search lists).
    #[ts(optional)]
    pub sms_consent_at: Option<DateTime<Utc>>,
    #[ts(optional)]
    pub sms_consent_by: Option<String>,
    /// Why texts may not reach this number: Twilio refused it, or it is a landline.
    #[ts(optional)]
    pub phone_problem: Option<String>,
    /// The record's version when it was read: an edit names it, so a form opened before someone
    /// else's change is refused instead of undoing that change (a withdrawn consent, say).
    #[ts(optional, type = "number")]
    pub version: Option<i64>,
}

/// A patient as typed at the desk, before checks.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PatientInput {
    pub full_name: String,
    pub phone: String,
    /// YYYY-MM-DD, or empty.
    pub date_of_birth: Option<String>,
    pub sms_consent: bool,
}

pub(crate) fn check_patient_name(text: &str) -> Result<String> {
    if text.trim().is_empty() {
        return Err(CoreError::invalid("full_name", "Enter the patient's full name."));
    }
    let name = crate::text::one_line(
        text,
        "full_name",
        120,
        "A name may have up to 120 characters and no symbols such as < > { }.",
    )?;
    if name.chars().any(|c| "<>{}".contains(c)) {
        return Err(CoreError::invalid(
            "full_name",
            "A name may have up to 120 characters and no symbols such as < > { }.",
        ));
    }
    Ok(name)
}

fn parse_date_of_birth(text: Option<&str>, today: NaiveDate) -> Result<Option<NaiveDate>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        CoreError::invalid("date_of_birth", "Enter the date of birth as YYYY-MM-DD, for example 1984-03-27.")
    })?;
    if date > today {
        return Err(CoreError::invalid("date_of_birth", "The date of birth cannot be in the future."));
    }
    if today.years_since(date).unwrap_or(0) > 130 {
        return Err(CoreError::invalid(
            "date_of_birth",
            "That date of birth is more than 130 years ago. Please check it.",
        ));
    }
    Ok(Some(date))
}

/// A patient as typed, checked and normalised: (name, E.164 phone, date of birth). The one set of
/// rules for the desk and for imports.
pub fn validate(
    input: &PatientInput,
    default_country: &str,
    today: NaiveDate,
) -> Result<(String, String, Option<NaiveDate>)> {
    let name = check_patient_name(&input.full_name)?;
    let phone = phone::normalise(&input.phone, default_country)?;
    let dob = parse_date_of_birth(input.date_of_birth.as_deref(), today)?;
    Ok((name, phone, dob))
}

pub(crate) const SELECT: &str =
    "SELECT id, full_name, phone_e164, date_of_birth, sms_consent, opted_out_at, created_at, sms_consent_at,
            sms_consent_by, phone_problem, version FROM patients";

pub(crate) fn row_to_patient(r: &rusqlite::Row<'_>) -> rusqlite::Result<Patient> {
    let dob: Option<String> = r.get(3)?;
    Ok(Patient {
        id: uuid_at(r, 0)?,
        full_name: r.get(1)?,
        phone: r.get(2)?,
        date_of_birth: dob.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        sms_consent: r.get(4)?,
        opted_out_at: r.get(5)?,
        created_at: r.get(6)?,
        sms_consent_at: r.get(7)?,
        sms_consent_by: r.get(8)?,
        phone_problem: r.get(9)?,
        version: r.get(10)?,
    })
}

pub(crate) fn find(conn: &Connection, id: Uuid) -> Result<Patient> {
    let mut patient = conn
        .query_row(&format!("{SELECT} WHERE id = ?1"), [id.to_string()], row_to_patient)
        .optional()?
        .ok_or_else(|| CoreError::NotFound("That patient could not be found. They may have been removed.".into()))?;
    // One patient's record: worth naming who recorded the consent and parsing the number again
    // (search lists carry the user's id and no landline check).
    if let Some(by) = &patient.sms_consent_by {
        let name: Option<String> =
            conn.query_row("SELECT full_name FROM users WHERE id = ?1", [by], |r| r.get(0)).optional()?;
        patient.sms_consent_by = name.or(patient.sms_consent_by.take());
    }
    if patient.phone_problem.is_none() {
        patient.phone_problem = phone::landline_warning(&patient.phone);
    }
    Ok(patient)
}

/// On a desk of a clinic server, the patient as this desk holds them before an edit (kept with
/// the queued change); `None` on a one-desk clinic.
fn desk_copy(tx: &Connection, id: Uuid) -> Result<Option<serde_json::Value>> {
    if crate::sync::pending::is_desk(tx)? {
        crate::sync::pending::patient_before(tx, id).map(Some)
    } else {
        Ok(None)
    }
}

pub struct Patients<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Patients<'_> {
    fn checked(&self, input: &PatientInput) -> Result<CheckedPatient> {
        let settings = self.clinic.settings().current()?;
        let tz = crate::settings::parse_time_zone(&settings.time_zone)?;
        let today = self.clinic.now().with_timezone(&tz).date_naive();
        store::check(input, &settings.default_country, today)
    }

    pub fn add(&self, caller: &Caller, input: PatientInput) -> Result<Patient> {
        caller.require(Permission::WritePatients)?;
        let checked = self.checked(&input)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = Uuid::new_v4();
        at_once(store::register(&mut SqlitePatients { tx: &tx, caller, now }, id, &checked))?;
        let patient = find(&tx, id)?;
        if crate::sync::pending::is_desk(&tx)? {
            let command = DeskCommand::AddPatient { patient_id: id, patient: input };
            let summary = format!("Register {}", checked.full_name);
            crate::sync::pending::queue_patient(&tx, now, caller, id, &command, None, &summary)?;
        }
        tx.commit()?;
        Ok(patient)
    }

    pub fn update(&self, caller: &Caller, id: Uuid, input: PatientInput) -> Result<Patient> {
        self.update_seen(caller, id, input, None)
    }

    /// `update`, refused if the record changed since it was read at `seen_version` (the form's).
    pub fn update_seen(
        &self,
        caller: &Caller,
        id: Uuid,
        input: PatientInput,
        seen_version: Option<i64>,
    ) -> Result<Patient> {
        caller.require(Permission::WritePatients)?;
        let checked = self.checked(&input)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        // The change and its audit entry commit together: an edit is never unaudited.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let desk_copy = desk_copy(&tx, id)?;
        at_once(store::correct(&mut SqlitePatients { tx: &tx, caller, now }, id, &checked, seen_version))?;
        let patient = find(&tx, id)?;
        if let Some(copy) = desk_copy {
            let summary = format!("Update {}'s details", patient.full_name);
            let expected_version = copy["version"].as_i64();
            let command = DeskCommand::UpdatePatient { patient_id: id, patient: input, expected_version };
            crate::sync::pending::queue_patient(&tx, now, caller, id, &command, Some(&copy), &summary)?;
        }
        tx.commit()?;
        Ok(patient)
    }

    /// Records the patient's answer about texts (`clinicdesk patient consent ID --sms yes|no`),
    /// with when and by whom; audited.
    pub fn record_consent(&self, caller: &Caller, id: Uuid, agreed: bool) -> Result<Patient> {
        caller.require(Permission::WritePatients)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let desk_copy = desk_copy(&tx, id)?;
        at_once(store::record_consent(&mut SqlitePatients { tx: &tx, caller, now }, id, agreed, None))?;
        let patient = find(&tx, id)?;
        if let Some(copy) = desk_copy {
            let summary =
                format!("Record that {} {} texts", patient.full_name, if agreed { "agrees to" } else { "refuses" });
            let expected_version = copy["version"].as_i64();
            let command = DeskCommand::RecordConsent { patient_id: id, agreed, expected_version };
            crate::sync::pending::queue_patient(&tx, now, caller, id, &command, Some(&copy), &summary)?;
        }
        tx.commit()?;
        Ok(patient)
    }

    pub fn get(&self, caller: &Caller, id: Uuid) -> Result<Patient> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        let patient = find(&conn, id)?;
        audit::record_screen_read(&conn, self.clinic.now(), caller, "patient record", [id])?;
        Ok(patient)
    }

    /// Patients whose name contains `text`, or whose phone number contains its digits, best matches
    /// first (ranked in `patients::search`). An empty search lists patients alphabetically. The
    /// search is audited as one read of the patients shown.
    pub fn search(&self, caller: &Caller, text: &str, limit: u32) -> Result<PatientMatches> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        let PatientMatches { patients, more } = search::find(&conn, text, limit)?;
        audit::record_screen_read(&conn, self.clinic.now(), caller, "patient search", patients.iter().map(|p| p.id))?;
        Ok(PatientMatches { patients, more })
    }

    pub fn count(&self, caller: &Caller) -> Result<u64> {
        caller.require(Permission::ReadPatients)?;
        let conn = self.clinic.db().conn()?;
        Ok(conn.query_row("SELECT count(*) FROM patients", [], |r| r.get::<_, i64>(0))? as u64)
    }
}
