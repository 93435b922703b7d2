//! Doctors: staff accounts with the doctor role who can be booked, with their specialization.

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission, Role};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use crate::Clinic;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Doctor {
    pub id: Uuid,
    pub user_id: Uuid,
    pub full_name: String,
    pub email: String,
    pub specialization: String,
    pub active: bool,
}

const SELECT: &str = "SELECT d.id, d.user_id, u.full_name, u.email, d.specialization, d.active AND u.active
                      FROM doctors d JOIN users u ON u.id = d.user_id";

fn row_to_doctor(r: &rusqlite::Row<'_>) -> rusqlite::Result<Doctor> {
    Ok(Doctor {
        id: uuid_at(r, 0)?,
        user_id: uuid_at(r, 1)?,
        full_name: r.get(2)?,
        email: r.get(3)?,
        specialization: r.get(4)?,
        active: r.get(5)?,
    })
}

pub(crate) fn find(conn: &Connection, id: Uuid) -> Result<Doctor> {
    conn.query_row(&format!("{SELECT} WHERE d.id = ?1"), [id.to_string()], row_to_doctor)
        .optional()?
        .ok_or_else(|| CoreError::NotFound("That doctor could not be found.".into()))
}

fn check_specialization(text: &str) -> Result<String> {
    crate::text::one_line(
        text,
        "specialization",
        80,
        "Enter the specialization, for example General practice (up to 80 characters).",
    )
}

pub struct Doctors<'a> {
    pub(crate) clinic: &'a Clinic,
}

impl Doctors<'_> {
    /// Lists doctors, active ones first, by name.
    pub fn list(&self, caller: &Caller) -> Result<Vec<Doctor>> {
        caller.require(Permission::ReadSchedule)?;
        let conn = self.clinic.db().conn()?;
        let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY 6 DESC, u.full_name COLLATE NOCASE"))?;
        let doctors = stmt.query_map([], row_to_doctor)?.collect::<Result<Vec<_>, _>>()?;
        Ok(doctors)
    }

    /// Lists a staff account (which must have the doctor role) as a bookable doctor.
    pub fn add(&self, caller: &Caller, user_email: &str, specialization: &str) -> Result<Doctor> {
        caller.require(Permission::ManageDoctors)?;
        crate::sync::pending::refuse_on_desk(&*self.clinic.db().conn()?, crate::sync::pending::ServerKeeps::Doctors)?;
        let specialization = check_specialization(specialization)?;
        let user = self.clinic.users().find_by_email(caller, user_email)?;
        if user.role != Role::Doctor {
            return Err(CoreError::invalid(
                "user",
                format!("{} has the {} role. Give the account the Doctor role first.", user.email, user.role.label()),
            ));
        }
        let now = self.clinic.now();
        let conn = self.clinic.db().conn()?;
        let existing: Option<String> = conn
            .query_row("SELECT id FROM doctors WHERE user_id = ?1", [user.id.to_string()], |r| r.get(0))
            .optional()?;
        if existing.is_some() {
            return Err(CoreError::Conflict(format!("{} is already listed as a doctor.", user.full_name)));
        }
        let id = Uuid::new_v4();
        conn.execute(
            "INSERT INTO doctors (id, user_id, specialization, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id.to_string(), user.id.to_string(), specialization, ts(now)],
        )?;
        audit::record(
            &conn,
            now,
            Actor::Staff(caller),
            AuditAction::DoctorAdded,
            Some(("doctor", &id.to_string())),
            None,
        )?;
        find(&conn, id)
    }
}
