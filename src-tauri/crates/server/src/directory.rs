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
    let (name, phone, dob) = validate(input, country, now.date_naive())?;
    let id = Uuid::new_v4();
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO patients (id, full_name, phone, date_of_birth, sms_consent, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &[&id, &name, &phone, &dob, &input.sms_consent, &now],
    )
    .await?;
    changes::record(
        &*tx,
        "patient",
        id,
        "all",
        Some(json!({"id": id, "full_name": name, "phone": phone, "date_of_birth": dob, "sms_consent": input.sms_consent, "opted_out_at": null})),
    )
    .await?;
    audit::record(&*tx, Some(staff), AuditAction::PatientCreated, Some(("patient", &id.to_string())), None).await?;
    tx.commit().await?;
    Ok(id)
}
