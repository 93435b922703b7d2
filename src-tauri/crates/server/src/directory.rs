//! The clinic's staff on the server: staff accounts and doctors, checked by the core's own
//! validation (names, emails, passwords) before they are stored. Patients are in `patients.rs`.

use crate::changes;
use crate::error::Result;
use clinicdesk_core::auth::{check_new_password, hash_password, Role};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::users::{check_name, normalise_email};
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
