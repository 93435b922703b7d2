//! Registering and editing patients: the rules once, over a small store trait.
//!
//! Two stores keep patients: the embedded SQLite file (a one-desk clinic, and every desk's cache;
//! [`SqlitePatients`] here) and the clinic server's PostgreSQL (`clinicdesk-server`'s `PgPatients`).
//! Each implements [`PatientStore`]: plain storage questions and writes, no rules. The rules (the
//! checks on what was typed, one registration per name and number, a stale edit refused, which
//! audit entries a change needs, the sentences staff read) are the functions below, written once.
//!
//! Invariant: every store method runs inside the caller's write transaction, so a change and its
//! audit entries commit together or not at all. The trait's methods are `async` for PostgreSQL;
//! the SQLite store never waits, and the core drives it with [`crate::db::at_once`].

use super::{validate, PatientInput};
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::db::ts;
use crate::error::{CoreError, Result};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use uuid::Uuid;

/// A patient as typed, after the checks: the name trimmed, the number in E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPatient {
    pub full_name: String,
    pub phone: String,
    pub date_of_birth: Option<NaiveDate>,
    pub sms_consent: bool,
}

/// What the rules need to know about a patient already stored, before changing them.
#[derive(Debug, Clone)]
pub struct StoredPatient {
    pub full_name: String,
    pub sms_consent: bool,
    pub version: i64,
}

/// Storage for patients, inside one write transaction (see the module's invariant).
#[allow(async_fn_in_trait)] // used with concrete stores only; no caller needs the futures to be Send by bound
pub trait PatientStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;

    /// The names of the patients other than `except` registered with this number (E.164). A store
    /// several writers share holds the number until the transaction ends, so two desks registering
    /// the same walk-in at once take turns and the second is refused.
    async fn names_with_number(&mut self, phone: &str, except: Uuid) -> Result<Vec<String>, Self::Error>;
    /// The patient as stored, held for the change that follows; `None` if no such patient.
    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<StoredPatient>, Self::Error>;
    /// Stores a new patient under `id`; `false` (and nothing stored) if the id is taken.
    async fn insert(&mut self, id: Uuid, patient: &CheckedPatient) -> Result<bool, Self::Error>;
    /// Replaces the patient's details and moves their version on.
    async fn update_details(&mut self, id: Uuid, patient: &CheckedPatient) -> Result<(), Self::Error>;
    /// Records the patient's answer about texts and moves their version on.
    async fn set_consent(&mut self, id: Uuid, agreed: bool) -> Result<(), Self::Error>;
    /// An entry in the clinic's audit trail about this patient, by the store's caller.
    async fn audit(&mut self, action: AuditAction, id: Uuid, detail: Option<&str>) -> Result<(), Self::Error>;
}

/// What was typed, checked with the clinic's country (for numbers without a country code) and its
/// local date today (a date of birth may not be later).
pub fn check(input: &PatientInput, country: &str, today: NaiveDate) -> Result<CheckedPatient> {
    let (full_name, phone, date_of_birth) = validate(input, country, today)?;
    Ok(CheckedPatient { full_name, phone, date_of_birth, sms_consent: input.sms_consent })
}

/// Registers a checked patient under `id`, refusing a second registration of the same name and
/// number; audited, with their answer about texts when they agreed.
pub async fn register<S: PatientStore>(store: &mut S, id: Uuid, patient: &CheckedPatient) -> Result<(), S::Error> {
    let same_name = name_key(&patient.full_name);
    let others = store.names_with_number(&patient.phone, id).await?;
    if others.iter().any(|other| name_key(other) == same_name) {
        return Err(CoreError::Conflict(format!(
            "{} is already registered with this phone number. Search for them instead of adding them again.",
            patient.full_name
        ))
        .into());
    }
    if !store.insert(id, patient).await? {
        return Err(CoreError::Conflict("A patient with that id is already registered.".into()).into());
    }
    store.audit(AuditAction::PatientCreated, id, None).await?;
    if patient.sms_consent {
        store.audit(AuditAction::ConsentRecorded, id, Some(&consent_detail(id, true))).await?;
    }
    Ok(())
}

/// Replaces a patient's details, refused if they changed since `seen_version` was read (a form
/// opened before someone else's edit, or a desk's copy older than the server's). A change of the
/// answer about texts gets its own audit entry.
pub async fn correct<S: PatientStore>(
    store: &mut S,
    id: Uuid,
    patient: &CheckedPatient,
    seen_version: Option<i64>,
) -> Result<(), S::Error> {
    let before = current(store, id, seen_version).await?;
    store.update_details(id, patient).await?;
    if before.sms_consent != patient.sms_consent {
        store.audit(AuditAction::ConsentRecorded, id, Some(&consent_detail(id, patient.sms_consent))).await?;
    }
    store.audit(AuditAction::PatientUpdated, id, None).await?;
    Ok(())
}

/// Records a patient's answer about texts (yes or no), refused like `correct` when stale.
pub async fn record_consent<S: PatientStore>(
    store: &mut S,
    id: Uuid,
    agreed: bool,
    seen_version: Option<i64>,
) -> Result<(), S::Error> {
    current(store, id, seen_version).await?;
    store.set_consent(id, agreed).await?;
    store.audit(AuditAction::ConsentRecorded, id, Some(&consent_detail(id, agreed))).await?;
    Ok(())
}

async fn current<S: PatientStore>(
    store: &mut S,
    id: Uuid,
    seen_version: Option<i64>,
) -> Result<StoredPatient, S::Error> {
    let stored = store
        .stored_for_change(id)
        .await?
        .ok_or_else(|| CoreError::NotFound("That patient could not be found. They may have been removed.".into()))?;
    if seen_version.is_some_and(|seen| seen != stored.version) {
        return Err(CoreError::Conflict(format!(
            "{}'s details were changed on another desk (or here) after you opened them. Open their record again and repeat your change if it is still needed.",
            stored.full_name
        ))
        .into());
    }
    Ok(stored)
}

/// A name as compared for "the same patient": Unicode case folded to lower case, and composed
/// (an "é" typed as one character or as "e" plus an accent is the same letter). Decided here, not
/// by a database's collation, so the desk and the server agree whatever their locale.
fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfc().flat_map(char::to_lowercase).collect()
}

fn consent_detail(id: Uuid, agreed: bool) -> String {
    format!("patient {id}; texts {}", if agreed { "agreed" } else { "refused" })
}

/// Patients in the embedded SQLite file, in the caller's write transaction.
pub(crate) struct SqlitePatients<'a> {
    pub tx: &'a Transaction<'a>,
    pub caller: &'a Caller,
    pub now: DateTime<Utc>,
}

impl PatientStore for SqlitePatients<'_> {
    type Error = CoreError;

    async fn names_with_number(&mut self, phone: &str, except: Uuid) -> Result<Vec<String>> {
        // The transaction is IMMEDIATE: it already holds the file's write lock.
        let mut stmt = self.tx.prepare_cached("SELECT full_name FROM patients WHERE phone_e164 = ?1 AND id <> ?2")?;
        let names = stmt.query_map(params![phone, except.to_string()], |r| r.get(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<StoredPatient>> {
        // The transaction is IMMEDIATE: it already holds the file's write lock.
        Ok(self
            .tx
            .query_row("SELECT full_name, sms_consent, version FROM patients WHERE id = ?1", [id.to_string()], |r| {
                Ok(StoredPatient { full_name: r.get(0)?, sms_consent: r.get(1)?, version: r.get(2)? })
            })
            .optional()?)
    }

    async fn insert(&mut self, id: Uuid, p: &CheckedPatient) -> Result<bool> {
        let added = self.tx.execute(
            "INSERT INTO patients (id, full_name, phone_e164, date_of_birth, sms_consent, created_at, updated_at, sms_consent_at, sms_consent_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7) ON CONFLICT (id) DO NOTHING",
            params![
                id.to_string(),
                p.full_name,
                p.phone,
                p.date_of_birth.map(|d| d.to_string()),
                p.sms_consent,
                ts(self.now),
                self.caller.user_id.to_string()
            ],
        )?;
        Ok(added == 1)
    }

    async fn update_details(&mut self, id: Uuid, p: &CheckedPatient) -> Result<()> {
        // The consent's provenance moves only when the answer changes; a corrected number clears
        // the problem Twilio reported with the old one.
        self.tx.execute(
            "UPDATE patients SET full_name = ?2, phone_e164 = ?3, date_of_birth = ?4, sms_consent = ?5, updated_at = ?6,
                    version = version + 1,
                    sms_consent_at = CASE WHEN sms_consent IS NOT ?5 THEN ?6 ELSE sms_consent_at END,
                    sms_consent_by = CASE WHEN sms_consent IS NOT ?5 THEN ?7 ELSE sms_consent_by END,
                    phone_problem = CASE WHEN phone_e164 IS NOT ?3 THEN NULL ELSE phone_problem END
             WHERE id = ?1",
            params![
                id.to_string(),
                p.full_name,
                p.phone,
                p.date_of_birth.map(|d| d.to_string()),
                p.sms_consent,
                ts(self.now),
                self.caller.user_id.to_string()
            ],
        )?;
        Ok(())
    }

    async fn set_consent(&mut self, id: Uuid, agreed: bool) -> Result<()> {
        self.tx.execute(
            "UPDATE patients SET sms_consent = ?2, sms_consent_at = ?3, sms_consent_by = ?4, updated_at = ?3,
                    version = version + 1 WHERE id = ?1",
            params![id.to_string(), agreed, ts(self.now), self.caller.user_id.to_string()],
        )?;
        Ok(())
    }

    async fn audit(&mut self, action: AuditAction, id: Uuid, detail: Option<&str>) -> Result<()> {
        audit::record_for_patient(self.tx, self.now, self.caller, action, ("patient", &id.to_string()), id, detail)?;
        Ok(())
    }
}
