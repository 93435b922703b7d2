//! Appointments in the embedded SQLite file: the [`AppointmentStore`] a one-desk clinic and every
//! desk's cache use, inside the caller's IMMEDIATE transaction (which already holds the file's
//! write lock, so "look, then write" cannot interleave with another writer here).

use super::conflicts::{write_error, INACTIVE};
use super::store::{AppointmentStore, BookableDoctor, NewAppointment, Person, SlotWrite};
use super::{find, with_fresh_booking_ref, Appointment};
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

pub(crate) struct SqliteAppointments<'a> {
    pub tx: &'a Connection,
    pub caller: &'a Caller,
    pub now: DateTime<Utc>,
    pub tz: Tz,
}

/// A write the double-booking triggers of migration 0005 refused: here no other writer can have
/// taken the slot since the check (the transaction holds the file's write lock), so the check and
/// the triggers disagreed; said as the triggers saw it, doctor or patient (`write_error`), not as
/// "someone else booked it a moment ago".
fn slot_write(written: rusqlite::Result<usize>) -> Result<SlotWrite> {
    match written {
        Ok(_) => Ok(SlotWrite::Written),
        Err(e) => Err(write_error(e)),
    }
}

impl AppointmentStore for SqliteAppointments<'_> {
    type Error = CoreError;

    async fn patient_exists(&mut self, id: Uuid) -> Result<bool> {
        Ok(self.tx.query_row("SELECT EXISTS (SELECT 1 FROM patients WHERE id = ?1)", [id.to_string()], |r| r.get(0))?)
    }

    async fn doctor(&mut self, id: Uuid) -> Result<Option<BookableDoctor>> {
        Ok(self
            .tx
            .query_row(
                "SELECT u.full_name, d.active AND u.active FROM doctors d JOIN users u ON u.id = d.user_id WHERE d.id = ?1",
                [id.to_string()],
                |r| Ok(BookableDoctor { full_name: r.get(0)?, active: r.get(1)? }),
            )
            .optional()?)
    }

    async fn first_overlapping(
        &mut self,
        who: Person,
        person: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        except: Option<Uuid>,
    ) -> Result<Option<Appointment>> {
        let who = who.as_str();
        // By (who, ends_at): only appointments ending after `start` can clash, so a future slot
        // reads a handful of index entries instead of the person's whole history (migration 0005).
        let sql = format!(
            "SELECT a.id FROM appointments a INDEXED BY appointments_{who}_end
             WHERE a.{who}_id = ?1 AND a.status NOT IN {INACTIVE}
               AND a.starts_at < ?3 AND a.ends_at > ?2 AND a.id != ?4 ORDER BY a.starts_at LIMIT 1"
        );
        let except = except.map(|u| u.to_string()).unwrap_or_default();
        let found = self
            .tx
            .prepare_cached(&sql)?
            .query_row(params![person.to_string(), ts(start), ts(end), except], |r| uuid_at(r, 0))
            .optional()?;
        found.map(|other| find(self.tx, other, self.tz)).transpose()
    }

    async fn stored_for_change(&mut self, id: Uuid) -> Result<Option<Appointment>> {
        match find(self.tx, id, self.tz) {
            Ok(found) => Ok(Some(found)),
            Err(CoreError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn current(&mut self, id: Uuid) -> Result<Appointment> {
        find(self.tx, id, self.tz)
    }

    async fn insert(&mut self, new: &NewAppointment, by: Uuid) -> Result<SlotWrite> {
        let written = with_fresh_booking_ref(|reference| {
            self.tx.execute(
                "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status, created_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'scheduled', ?8, ?9, ?9) ON CONFLICT (id) DO NOTHING",
                params![
                    new.id.to_string(),
                    reference,
                    new.patient_id.to_string(),
                    new.doctor_id.to_string(),
                    ts(new.starts_at),
                    ts(new.ends_at),
                    new.kind.as_str(),
                    by.to_string(),
                    ts(self.now)
                ],
            )
        });
        match written {
            Ok(0) => Ok(SlotWrite::IdTaken),
            other => slot_write(other),
        }
    }

    async fn set_times(&mut self, id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<SlotWrite> {
        slot_write(self.tx.execute(
            "UPDATE appointments SET starts_at = ?2, ends_at = ?3, status = 'scheduled', version = version + 1, updated_at = ?4 WHERE id = ?1",
            params![id.to_string(), ts(start), ts(end), ts(self.now)],
        ))
    }

    async fn set_cancelled(&mut self, id: Uuid, reason: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE appointments SET status = 'cancelled', cancel_reason = ?2, cancelled_at = ?3, version = version + 1, updated_at = ?3 WHERE id = ?1",
            params![id.to_string(), reason, ts(self.now)],
        )?;
        Ok(())
    }

    async fn consultation_running(&mut self, id: Uuid) -> Result<bool> {
        crate::consultations::store::running(self.tx, id)
    }

    async fn audit(&mut self, action: AuditAction, id: Uuid, patient: Uuid, more: &str) -> Result<()> {
        // The detail starts "patient <id>": migration 0006 read that form back to link older entries.
        let detail = format!("patient {patient}{more}");
        audit::record_for_patient(
            self.tx,
            self.now,
            self.caller,
            action,
            ("appointment", &id.to_string()),
            patient,
            Some(&detail),
        )
    }
}
