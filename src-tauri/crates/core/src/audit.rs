//! The audit trail: an append-only record of sign-ins, staff changes and every read or write of a
//! patient's record. The table refuses UPDATE and DELETE (triggers in 0001_init.sql).

use crate::auth::{Caller, Permission};
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;
use ts_rs::TS;

/// Who did it: a signed-in member of staff, or an unauthenticated attempt under some email.
pub enum Actor<'a> {
    Staff(&'a Caller),
    Anonymous { label: &'a str, user_id: Option<&'a str> },
}

pub fn record(
    conn: &Connection,
    at: DateTime<Utc>,
    actor: Actor<'_>,
    action: &str,
    record: Option<(&str, &str)>,
    detail: Option<&str>,
) -> Result<()> {
    let (actor_id, label) = match actor {
        Actor::Staff(c) => (Some(c.user_id.to_string()), c.email.clone()),
        Actor::Anonymous { label, user_id } => (user_id.map(str::to_owned), label.to_owned()),
    };
    conn.execute(
        "INSERT INTO audit_log (at, actor_id, actor_label, action, record_type, record_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![crate::db::ts(at), actor_id, label, action, record.map(|r| r.0), record.map(|r| r.1), detail],
    )?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub detail: Option<String>,
}

pub struct AuditTrail<'a> {
    pub(crate) clinic: &'a crate::Clinic,
}

impl AuditTrail<'_> {
    /// The newest entries first, optionally only those about one record.
    pub fn recent(&self, caller: &Caller, record_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>> {
        caller.require(Permission::ReadAudit)?;
        let conn = self.clinic.db().conn()?;
        let mut stmt = conn.prepare(
            "SELECT at, actor_label, action, record_type, record_id, detail FROM audit_log
             WHERE (?1 IS NULL OR record_id = ?1) ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![record_id, limit.min(1000)], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                record_type: r.get(3)?,
                record_id: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
