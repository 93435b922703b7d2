//! The clinic's staff on the server: staff accounts and doctors, checked by the core's own
//! validation (names, emails, passwords) before they are stored. Patients are in `patients.rs`.

use crate::changes;
use crate::error::{Result, ServerError};
use crate::staff_accounts::PgStaff;
use chrono::Utc;
use clinicdesk_core::auth::Role;
use clinicdesk_core::error::CoreError;
use clinicdesk_core::users::store;
use clinicdesk_core::users::NewStaffUser;
use serde_json::json;
use tokio_postgres::GenericClient;
use uuid::Uuid;

const UNIQUE_VIOLATION: &str = "23505";

/// Adds a staff account (the first administrator at `init`, then others by an admin), by the
/// core's rules (`clinicdesk_core::users::store`); the account goes to every desk's feed.
pub async fn add_user(
    db: &(impl GenericClient + Sync),
    email: &str,
    full_name: &str,
    role: Role,
    password: &str,
) -> Result<Uuid> {
    let new = NewStaffUser { email: email.into(), full_name: full_name.into(), role, password: password.into() };
    let account = store::check_new(&new)?;
    let id = Uuid::new_v4();
    store::add(&mut PgStaff::at_command_line(db, Utc::now()), id, &account).await.map_err(|e| {
        // Two additions of one email at once: the second waited for the first and met the index.
        if e.sql_state() == Some(UNIQUE_VIOLATION) {
            ServerError::from(CoreError::invalid(
                "email",
                format!("There is already an account for {}.", account.email),
            ))
        } else {
            e
        }
    })?;
    changes::record(
        db,
        "user",
        id,
        "all",
        Some(json!({"id": id, "email": account.email, "full_name": account.full_name, "role": role.as_str(), "active": true})),
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
