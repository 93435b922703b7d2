//! Patients on the clinic server: the core's patient rules (`clinicdesk_core::patients::store`)
//! over PostgreSQL. This module holds the PostgreSQL store and what only the server does after a
//! change: the patient's row goes to every desk's feed.

use crate::audit;
use crate::changes;
use crate::error::{Result, ServerError};
use crate::settings;
use crate::staff::Staff;
use chrono::{DateTime, NaiveDate, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::Permission;
use clinicdesk_core::patients::store::{self, CheckedPatient, PatientStore, StoredPatient};
use clinicdesk_core::patients::PatientInput;
use deadpool_postgres::Pool;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Patients in the clinic's PostgreSQL database, in the caller's transaction.
pub struct PgPatients<'a, C> {
    db: &'a C,
    staff: &'a Staff,
    now: DateTime<Utc>,
}

impl<C: GenericClient + Sync> PatientStore for PgPatients<'_, C> {
    type Error = ServerError;

    async fn names_with_number(&mut self, phone: &str, except: Uuid) -> Result<Vec<String>> {
        // Held until the transaction ends: without it, two desks registering the same walk-in at
        // once (READ COMMITTED) would each see no one and both insert.
        self.db.execute("SELECT pg_advisory_xact_lock(hashtext('patient number ' || $1))", &[&phone]).await?;
        let rows =
            self.db.query("SELECT full_name FROM patients WHERE phone = $1 AND id <> $2", &[&phone, &except]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<StoredPatient>> {
        // Locked until the transaction ends: two desks editing one patient take turns, and the
        // second is refused by version.
        let row = self
            .db
            .query_opt("SELECT full_name, sms_consent, version FROM patients WHERE id = $1 FOR UPDATE", &[&id])
            .await?;
        Ok(row.map(|r| StoredPatient { full_name: r.get(0), sms_consent: r.get(1), version: r.get(2) }))
    }

    async fn insert(&mut self, id: Uuid, p: &CheckedPatient) -> Result<bool> {
        let added = self
            .db
            .execute(
                "INSERT INTO patients (id, full_name, phone, date_of_birth, sms_consent, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
                &[&id, &p.full_name, &p.phone, &p.date_of_birth, &p.sms_consent, &self.now],
            )
            .await?;
        Ok(added == 1)
    }

    async fn update_details(&mut self, id: Uuid, p: &CheckedPatient) -> Result<()> {
        // Their opt-out (a STOP reply) is not a detail staff type: it stays as it is.
        self.db
            .execute(
                "UPDATE patients SET full_name = $2, phone = $3, date_of_birth = $4, sms_consent = $5, updated_at = $6,
                        version = version + 1
                 WHERE id = $1",
                &[&id, &p.full_name, &p.phone, &p.date_of_birth, &p.sms_consent, &self.now],
            )
            .await?;
        Ok(())
    }

    async fn set_consent(&mut self, id: Uuid, agreed: bool) -> Result<()> {
        self.db
            .execute(
                "UPDATE patients SET sms_consent = $2, updated_at = $3, version = version + 1 WHERE id = $1",
                &[&id, &agreed, &self.now],
            )
            .await?;
        Ok(())
    }

    async fn audit(&mut self, action: AuditAction, id: Uuid, detail: Option<&str>) -> Result<()> {
        audit::record(self.db, Some(self.staff), action, Some(("patient", &id.to_string())), detail).await?;
        Ok(())
    }
}

/// Adds a patient (a command from an admin tool or a test, outside a desk's queue).
pub async fn add_patient(pool: &Pool, staff: &Staff, input: &PatientInput, now: DateTime<Utc>) -> Result<Uuid> {
    let mut client = pool.get().await?;
    staff.require(&**client, Permission::WritePatients).await?;
    let id = Uuid::new_v4();
    let tx = client.transaction().await?;
    add_patient_in(&*tx, staff, id, input, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Registers a patient under `id` (a desk's id for them) in the caller's transaction; returns the
/// row as the feed carries it. The caller has checked the permission.
pub async fn add_patient_in(
    db: &(impl GenericClient + Sync),
    staff: &Staff,
    id: Uuid,
    input: &PatientInput,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let checked = checked(db, input, now).await?;
    store::register(&mut PgPatients { db, staff, now }, id, &checked).await?;
    published(db, id).await
}

/// Corrects a patient's details in the caller's transaction, refused if the desk's copy is older
/// than the server's (`expected_version`); returns the row as the feed carries it.
pub async fn update_patient_in(
    db: &(impl GenericClient + Sync),
    staff: &Staff,
    id: Uuid,
    input: &PatientInput,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let checked = checked(db, input, now).await?;
    store::correct(&mut PgPatients { db, staff, now }, id, &checked, expected_version).await?;
    published(db, id).await
}

/// Records a patient's answer about texts, given on a copy of `expected_version`.
pub async fn record_consent_in(
    db: &(impl GenericClient + Sync),
    staff: &Staff,
    id: Uuid,
    agreed: bool,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    store::record_consent(&mut PgPatients { db, staff, now }, id, agreed, expected_version).await?;
    published(db, id).await
}

/// What was typed, checked with the clinic's country and its local date today.
async fn checked(db: &impl GenericClient, input: &PatientInput, now: DateTime<Utc>) -> Result<CheckedPatient> {
    let country = settings::country(db).await?;
    let today: NaiveDate = now.with_timezone(&settings::time_zone(db).await?).date_naive();
    Ok(store::check(input, &country, today)?)
}

/// The patient's row as it now stands goes to every desk's feed; returned as sent.
pub(crate) async fn published(db: &impl GenericClient, id: Uuid) -> Result<serde_json::Value> {
    let r = db
        .query_one(
            "SELECT full_name, phone, date_of_birth, sms_consent, opted_out_at, version FROM patients WHERE id = $1",
            &[&id],
        )
        .await?;
    let row = json!({
        "id": id,
        "full_name": r.get::<_, String>(0),
        "phone": r.get::<_, Option<String>>(1),
        "date_of_birth": r.get::<_, Option<NaiveDate>>(2),
        "sms_consent": r.get::<_, bool>(3),
        "opted_out_at": r.get::<_, Option<DateTime<Utc>>>(4),
        "version": r.get::<_, i64>(5),
    });
    changes::record(db, "patient", id, "all", Some(row.clone())).await?;
    Ok(row)
}
