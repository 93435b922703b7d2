//! The clinic's people on the server: staff accounts, doctors and patients, checked by the core's
//! own validation (names, emails, passwords, phone numbers) before they are stored.

use crate::audit;
use crate::changes;
use crate::error::Result;
use crate::staff::Staff;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::{check_new_password, hash_password, Permission, Role};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::patients::{validate, PatientInput};
use clinicdesk_core::users::{check_name, normalise_email};
use deadpool_postgres::Pool;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

const UNIQUE_VIOLATION: &str = "23505";

/// Adds a staff account (the first administrator at `init`, then others by an admin).
pub async fn add_user(
    db: &impl GenericClient,
    email: &str,
    full_name: &str,
    role: Role,
    password: &str,
) -> Result<Uuid> {
    let email = normalise_email(email)?;
    let name = check_name(full_name)?;
    check_new_password(password)?;
    let hash = hash_password(password)?;
    let id = Uuid::new_v4();
    db.execute(
        "INSERT INTO users (id, email, full_name, role, password_hash) VALUES ($1, $2, $3, $4, $5)",
        &[&id, &email, &name, &role.as_str(), &hash],
    )
    .await
    .map_err(|e| match e.code().map(|c| c.code()) {
        Some(UNIQUE_VIOLATION) => CoreError::Conflict(format!("There is already a staff account for {email}.")).into(),
        _ => crate::ServerError::from(e),
    })?;
    changes::record(
        db,
        "user",
        id,
        "all",
        Some(json!({"id": id, "email": email, "full_name": name, "role": role.as_str(), "active": true})),
    )
    .await?;
    Ok(id)
}

/// Makes a staff account a doctor who can be booked.
pub async fn add_doctor(db: &impl GenericClient, user_id: Uuid, specialization: &str) -> Result<Uuid> {
    let id = Uuid::new_v4();
    db.execute(
        "INSERT INTO doctors (id, user_id, specialization) VALUES ($1, $2, $3)",
        &[&id, &user_id, &specialization],
    )
    .await?;
    changes::record(
        db,
        "doctor",
        id,
        "all",
        Some(json!({"id": id, "user_id": user_id, "specialization": specialization, "active": true})),
    )
    .await?;
    Ok(id)
}

/// Adds a patient, checked with the desk's rules (name, phone in E.164 for `country`, date of birth).
pub async fn add_patient(
    pool: &Pool,
    staff: &Staff,
    input: &PatientInput,
    country: &str,
    now: DateTime<Utc>,
) -> Result<Uuid> {
    let mut client = pool.get().await?;
    staff.require(&**client, Permission::WritePatients).await?;
    let id = Uuid::new_v4();
    let tx = client.transaction().await?;
    add_patient_in(&*tx, staff, id, input, country, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Registers a patient under `id` (a desk's id for them) in the caller's transaction; returns the
/// row as the feed carries it. The caller has checked the permission.
pub async fn add_patient_in(
    db: &impl GenericClient,
    staff: &Staff,
    id: Uuid,
    input: &PatientInput,
    country: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let (name, phone, dob) = validate(input, country, now.date_naive())?;
    let added = db
        .execute(
            "INSERT INTO patients (id, full_name, phone, date_of_birth, sms_consent, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
            &[&id, &name, &phone, &dob, &input.sms_consent, &now],
        )
        .await?;
    if added == 0 {
        return Err(CoreError::Conflict("A patient with that id is already registered.".into()).into());
    }
    let row = json!({"id": id, "full_name": name, "phone": phone, "date_of_birth": dob, "sms_consent": input.sms_consent, "opted_out_at": null});
    published(db, staff, id, row, AuditAction::PatientCreated).await
}

/// Corrects a patient's details in the caller's transaction; returns the row as the feed carries
/// it. Their opt-out (a STOP reply) stays as it is. The caller has checked the permission.
pub async fn update_patient_in(
    db: &impl GenericClient,
    staff: &Staff,
    id: Uuid,
    input: &PatientInput,
    country: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let (name, phone, dob) = validate(input, country, now.date_naive())?;
    let row = db
        .query_opt(
            "UPDATE patients SET full_name = $2, phone = $3, date_of_birth = $4, sms_consent = $5, updated_at = $6,
                    version = version + 1
             WHERE id = $1 RETURNING opted_out_at",
            &[&id, &name, &phone, &dob, &input.sms_consent, &now],
        )
        .await?
        .ok_or_else(|| CoreError::NotFound("That patient is not registered on the clinic server.".into()))?;
    let opted_out_at: Option<DateTime<Utc>> = row.get(0);
    let row = json!({"id": id, "full_name": name, "phone": phone, "date_of_birth": dob, "sms_consent": input.sms_consent, "opted_out_at": opted_out_at});
    published(db, staff, id, row, AuditAction::PatientUpdated).await
}

/// A patient's row as it now stands goes to every desk's feed, and the change to the audit log.
async fn published(
    db: &impl GenericClient,
    staff: &Staff,
    id: Uuid,
    row: serde_json::Value,
    action: AuditAction,
) -> Result<serde_json::Value> {
    changes::record(db, "patient", id, "all", Some(row.clone())).await?;
    audit::record(db, Some(staff), action, Some(("patient", &id.to_string())), None).await?;
    Ok(row)
}
