//! The list of past consultations (those that started), newest first, a page at a time.
//!
//! Invariants:
//! - Everyone who sees the schedule sees the list (`Permission::ReviewConsultations`); whether a
//!   consultation has notes or chat is shown only where the caller may read them, and the
//!   "has notes" / "has chat" filters narrow a doctor's list to their own consultations (reception
//!   cannot use them: they would tell what reception may not read).
//! - Pages are cut by (start, appointment id), so a consultation ending while someone pages is
//!   neither shown twice nor skipped.
//! - Fast at any size: the whole list walks `consultations_started` from the newest; one patient's
//!   list starts from that patient's appointments instead (migration 0013).

use super::review::{ConsultationFilter, ConsultationPage, ConsultationSummary, PAGE_SIZE};
use super::store;
use super::Consultations;
use crate::appointment_texts::when::resolve_local;
use crate::appointments::AppointmentStatus;
use crate::audit;
use crate::auth::{Caller, Permission, Role};
use crate::db::{ts, uuid_at};
use crate::error::{CoreError, Result};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;
use uuid::Uuid;

/// `after` as the list writes it: the last item's start and appointment id.
fn mark(started_at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}|{id}", ts(started_at))
}

fn read_mark(text: &str) -> Result<(String, String)> {
    let bad = || CoreError::invalid("after", "That page marker is not one the list gave; start from the first page.");
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc);
    let id: Uuid = id.parse().map_err(|_| bad())?;
    Ok((ts(at), id.to_string()))
}

impl Consultations<'_> {
    /// A page of past consultations matching `filter`, newest first. Audited with the patients shown.
    pub fn list(&self, caller: &Caller, filter: &ConsultationFilter) -> Result<ConsultationPage> {
        caller.require(Permission::ReviewConsultations)?;
        let clinical_filter = filter.has_notes || filter.has_chat;
        if clinical_filter && !Permission::ReadConsultationRecords.allows(caller.role()) {
            return Err(caller.refuse(
                Permission::ReadConsultationRecords,
                "Only doctors and administrators can filter by notes or chat.".to_owned(),
            ));
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from > to {
                return Err(CoreError::invalid("to", "The end date is before the start date."));
            }
        }
        let limit = filter.limit.unwrap_or(PAGE_SIZE).clamp(1, 500);
        let after = filter.after.as_deref().map(read_mark).transpose()?;
        let conn = self.clinic.db().conn()?;
        let tz = crate::appointment_texts::context::Ctx::read(&conn)?.tz;
        let day_start = |d: NaiveDate| ts(resolve_local(tz, d.and_hms_opt(0, 0, 0).expect("midnight exists")));
        let from = filter.from.map(day_start);
        let to = filter.to.and_then(|d| d.succ_opt()).map(day_start);
        let own = (clinical_filter && caller.role() == Role::Doctor).then(|| caller.user_id().to_string());

        // One patient's consultations are few: start from their appointments. Otherwise walk the
        // consultations by start, newest first (CROSS JOIN keeps SQLite to that order).
        // The patient is a plain equality there, so the index is searched, not scanned.
        let (from_clause, patient_clause) = if filter.patient_id.is_some() {
            (
                "appointments a INDEXED BY appointments_patient_time CROSS JOIN consultations c ON c.appointment_id = a.id",
                "a.patient_id = ?2",
            )
        } else {
            (
                "consultations c INDEXED BY consultations_started CROSS JOIN appointments a ON a.id = c.appointment_id",
                "?2 IS NULL",
            )
        };
        let sql = format!(
            "SELECT c.appointment_id, a.starts_at, p.id, p.full_name, u.full_name, a.status, c.status, c.started_at,
                    c.ended_at, d.user_id, c.notes <> '',
                    (SELECT count(*) FROM chat_messages m WHERE m.appointment_id = c.appointment_id),
                    c.record_pending_since IS NOT NULL
             FROM {from_clause}
             JOIN patients p ON p.id = a.patient_id
             JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
             WHERE c.started_at IS NOT NULL
               AND (?1 IS NULL OR a.doctor_id = ?1) AND {patient_clause}
               AND (?3 IS NULL OR c.started_at >= ?3) AND (?4 IS NULL OR c.started_at < ?4)
               AND (?5 = 0 OR c.notes <> '')
               AND (?6 = 0 OR EXISTS (SELECT 1 FROM chat_messages m WHERE m.appointment_id = c.appointment_id))
               AND (?7 IS NULL OR d.user_id = ?7)
               AND (?8 IS NULL OR (c.started_at, c.appointment_id) < (?8, ?9))
             ORDER BY c.started_at DESC, c.appointment_id DESC
             LIMIT ?10"
        );
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            params![
                filter.doctor_id.map(|d| d.to_string()),
                filter.patient_id.map(|p| p.to_string()),
                from,
                to,
                filter.has_notes,
                filter.has_chat,
                own,
                after.as_ref().map(|a| a.0.clone()),
                after.as_ref().map(|a| a.1.clone()),
                limit + 1
            ],
            |r| {
                let doctor_user = uuid_at(r, 9)?;
                let full =
                    caller.role() == Role::Admin || (caller.role() == Role::Doctor && doctor_user == caller.user_id());
                let appointment = AppointmentStatus::parse(&r.get::<_, String>(5)?);
                let consultation: String = r.get(6)?;
                Ok(ConsultationSummary {
                    appointment_id: uuid_at(r, 0)?,
                    starts_at: r.get(1)?,
                    patient_id: uuid_at(r, 2)?,
                    patient_name: r.get(3)?,
                    doctor_name: r.get(4)?,
                    state: store::state_of(appointment, Some(consultation.as_str())),
                    started_at: r.get(7)?,
                    ended_at: r.get(8)?,
                    full,
                    has_notes: if full { Some(r.get(10)?) } else { None },
                    chat_messages: if full { Some(r.get(11)?) } else { None },
                    record_pending: r.get(12)?,
                })
            },
        )?;
        let mut items = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|s| mark(s.started_at, s.appointment_id))
        } else {
            None
        };
        audit::record_screen_read(
            &conn,
            self.clinic.now(),
            caller,
            "consultation list",
            items.iter().map(|s| s.patient_id),
        )?;
        Ok(ConsultationPage { items, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_mark_reads_back_and_a_made_up_one_is_refused() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T09:30:00Z").unwrap().with_timezone(&Utc);
        let id = Uuid::new_v4();
        let (when, who) = read_mark(&mark(at, id)).unwrap();
        assert_eq!(when, ts(at));
        assert_eq!(who, id.to_string());
        assert!(read_mark("yesterday").is_err());
        assert!(read_mark("2026-03-02T09:30:00Z|not-an-id").is_err());
    }
}
