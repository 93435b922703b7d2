//! Desks: the computers an admin has enrolled. A desk proves itself on every request with its
//! credential (a 256-bit random secret kept in that computer's keyring); the server keeps only the
//! secret's SHA-256 (the secret is random, so a slow password hash would add nothing).

use crate::audit;
use crate::error::Result;
use crate::staff::Staff;
use base64::Engine;
use chrono::{DateTime, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::Permission;
use clinicdesk_core::error::CoreError;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Desk {
    pub id: Uuid,
    pub name: String,
}

/// A new random secret, as text safe for headers and keyrings.
pub(crate) fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Enrols a desk; returns it and its credential, shown once (the desk stores it in its keyring).
pub async fn enroll(db: &impl GenericClient, admin: Option<&Staff>, name: &str) -> Result<(Desk, String)> {
    if let Some(admin) = admin {
        admin.require(db, Permission::ManageUsers).await?;
    }
    let name = clinicdesk_core::users::check_name(name)
        .map_err(|_| CoreError::invalid("name", "Give the desk a short name, such as \"Front desk\" or \"Room 2\"."))?;
    let secret = new_secret();
    let id = Uuid::new_v4();
    db.execute(
        "INSERT INTO desks (id, name, credential_hash, enrolled_by) VALUES ($1, $2, $3, $4)",
        &[&id, &name, &digest(&secret), &admin.map(|a| a.user_id)],
    )
    .await
    .map_err(|e| match e.code().map(|c| c.code()) {
        Some("23505") => CoreError::Conflict(format!(
            "A desk called \"{name}\" is already enrolled. Choose another name, or revoke that desk first."
        ))
        .into(),
        _ => crate::ServerError::from(e),
    })?;
    audit::record(db, admin, AuditAction::DeskEnrolled, Some(("desk", &id.to_string())), Some(&name)).await?;
    Ok((Desk { id, name }, secret))
}

/// The enrolled, not revoked desk this credential belongs to.
pub async fn authenticate(db: &impl GenericClient, credential: &str, now: DateTime<Utc>) -> Result<Desk> {
    let row = db
        .query_opt(
            "UPDATE desks SET last_seen_at = $2 WHERE credential_hash = $1 AND revoked_at IS NULL RETURNING id, name",
            &[&digest(credential), &now],
        )
        .await?;
    let row = row.ok_or_else(|| {
        CoreError::Forbidden(
            "This computer is not enrolled with the clinic server (or was removed). Ask an administrator to enrol it again."
                .into(),
        )
    })?;
    Ok(Desk { id: row.get(0), name: row.get(1) })
}

/// Revokes the enrolled desk of that name: its credential and its sessions stop working at once.
pub async fn revoke(db: &impl GenericClient, name: &str, now: DateTime<Utc>) -> Result<Desk> {
    let row = db
        .query_opt(
            "UPDATE desks SET revoked_at = $2 WHERE lower(name) = lower($1) AND revoked_at IS NULL RETURNING id, name",
            &[&name.trim(), &now],
        )
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("No enrolled desk is called \"{}\".", name.trim())))?;
    let desk = Desk { id: row.get(0), name: row.get(1) };
    audit::record(
        db,
        None,
        AuditAction::DeskEnrolled,
        Some(("desk", &desk.id.to_string())),
        Some(&format!("revoked: {}", desk.name)),
    )
    .await?;
    Ok(desk)
}

/// The enrolled desks and when each was last heard from.
pub async fn list(db: &impl GenericClient) -> Result<Vec<(String, Option<DateTime<Utc>>)>> {
    let rows =
        db.query("SELECT name, last_seen_at FROM desks WHERE revoked_at IS NULL ORDER BY lower(name)", &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
