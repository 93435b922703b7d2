//! Applying the clinic server's changes to this desk's database. Rows arrive as the server holds
//! them now; each is written whole (an upsert), so applying a change twice leaves the same row.
//!
//! Users arrive without a password hash ('!' matches no password): a desk learns a hash only when
//! that person signs in here online (sign_in.rs), which is what limits offline sign-in to them.

use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::sms::templates::TemplateName;
use crate::sync::wire::Change;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection};
use serde::Deserialize;
use uuid::Uuid;

/// The settings a clinic server may set on its desks.
const SERVER_SETTINGS: [&str; 5] = [
    crate::settings::KEY_NAME,
    crate::settings::KEY_TIME_ZONE,
    crate::settings::KEY_COUNTRY,
    // The desk removes its own copies of chats the clinic no longer keeps (sync_once).
    crate::consultations::KEY_CHAT_RETENTION_DAYS,
    // Shown in the desk's Settings (Video); links are made on the server.
    crate::consultations::KEY_CALL_PAGE_URL,
];

/// Where the clinic's text wording is kept (`TemplateName::settings_key`).
const TEMPLATE_KEYS: &str = "sms.template.";

/// No password matches it: argon2 cannot parse it.
pub(crate) const NO_PASSWORD: &str = "!";

#[derive(Deserialize)]
struct SettingRow {
    key: String,
    value: String,
}

#[derive(Deserialize)]
struct UserRow {
    id: Uuid,
    email: String,
    full_name: String,
    role: String,
    #[serde(default = "yes")]
    active: bool,
    /// An administrator set a new password then: a password this desk remembered before it
    /// must not sign anyone in offline.
    #[serde(default)]
    password_reset_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct DoctorRow {
    id: Uuid,
    user_id: Uuid,
    specialization: String,
    #[serde(default = "yes")]
    active: bool,
}

#[derive(Deserialize)]
struct PatientRow {
    id: Uuid,
    full_name: String,
    phone: String,
    date_of_birth: Option<NaiveDate>,
    #[serde(default)]
    sms_consent: bool,
    #[serde(default)]
    opted_out_at: Option<DateTime<Utc>>,
    /// Absent from rows recorded by servers older than the check: such a row always applies.
    #[serde(default)]
    version: Option<i64>,
}

#[derive(Deserialize)]
struct AppointmentRow {
    id: Uuid,
    booking_ref: String,
    patient_id: Uuid,
    doctor_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    kind: String,
    status: String,
    cancel_reason: Option<String>,
    version: i64,
}

/// A doctor's notes as the server holds them (only desks allowed to read them receive these).
#[derive(Deserialize)]
struct NotesRow {
    appointment_id: Uuid,
    notes: String,
    version: i64,
    updated_at: DateTime<Utc>,
}

/// The server's notes replace this desk's, unless this desk has newer ones of its own still queued
/// (the doctor typed on after the save the server answered: theirs go next) or already holds a
/// newer version (the feed's order is the order transactions began).
fn apply_notes(conn: &Connection, n: &NotesRow, now: DateTime<Utc>) -> Result<()> {
    let id = n.appointment_id.to_string();
    let known: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM appointments WHERE id = ?1)", [&id], |r| r.get(0))?;
    if !known {
        tracing::warn!("skipping notes for an appointment this desk does not hold");
        return Ok(());
    }
    crate::consultations::store::ensure_exists(conn, n.appointment_id, now)?;
    conn.execute(
        "UPDATE consultations SET notes = ?2, notes_updated_at = ?3, notes_version = ?4, updated_at = ?5
         WHERE appointment_id = ?1 AND coalesce(notes_version, 0) < ?4
           AND NOT EXISTS (SELECT 1 FROM desk_pending WHERE entity = 'consultation_notes' AND entity_id = ?1 AND state = 'queued')",
        params![id, n.notes, ts(n.updated_at), n.version, ts(now)],
    )?;
    Ok(())
}

fn yes() -> bool {
    true
}

fn row<T: for<'de> Deserialize<'de>>(change: &Change) -> Result<Option<T>> {
    match &change.row {
        None => Ok(None),
        Some(value) => serde_json::from_value(value.clone()).map(Some).map_err(|e| {
            tracing::error!(entity = %change.entity, error = %e, "a change from the clinic server could not be read");
            CoreError::Database(
                "A change from the clinic server could not be read. Update ClinicDesk on this computer.".into(),
            )
        }),
    }
}

/// The kinds of change this desk keeps (the arms of `apply`). A kind not here is skipped and
/// remembered, and pulled again once an updated desk knows it (mod.rs, `pull`).
pub(crate) const KINDS: &[&str] = &[
    "setting",
    "user",
    "doctor",
    "patient",
    "appointment",
    "consultation_notes",
    "text",
    "text_reply",
    "consultation",
    "consultation_record",
    "consultation_note_history",
];

/// Writes one change in the caller's transaction.
pub(crate) fn apply(conn: &Connection, change: &Change, now: DateTime<Utc>) -> Result<()> {
    let at = now;
    let now = ts(now);
    match change.entity.as_str() {
        "setting" => {
            // Only the clinic-wide settings the server owns; never this desk's own (its server
            // address, idle time), whatever a server sends.
            // The wording of the clinic's texts (its quick texts and chat replies are used here);
            // an empty value is the server going back to the built-in wording.
            if let Some(t) = row::<SettingRow>(change)?.filter(|s| s.key.starts_with(TEMPLATE_KEYS)) {
                // Only the wording of a kind this ClinicDesk knows, and only wording it would accept.
                let Some(name) = TemplateName::ALL.into_iter().find(|n| n.settings_key() == t.key) else {
                    return Ok(());
                };
                if !t.value.is_empty() && crate::sms::templates::check_template(name, &t.value).is_err() {
                    tracing::warn!(template = name.as_str(), "skipping text wording this desk would not accept");
                    return Ok(());
                }
                match t.value.is_empty() {
                    true => conn.execute("DELETE FROM settings WHERE key = ?1", [&t.key])?,
                    false => conn.execute(
                        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        params![t.key, t.value, now],
                    )?,
                };
            } else if let Some(s) = row::<SettingRow>(change)?.filter(|s| SERVER_SETTINGS.contains(&s.key.as_str())) {
                conn.execute(
                    "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    params![s.key, s.value, now],
                )?;
            }
        }
        "user" => {
            if let Some(u) = row::<UserRow>(change)? {
                conn.execute(
                    "INSERT INTO users (id, email, full_name, role, password_hash, active, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                     ON CONFLICT (id) DO UPDATE SET email = excluded.email, full_name = excluded.full_name,
                       role = excluded.role, active = excluded.active, updated_at = excluded.updated_at",
                    params![u.id.to_string(), u.email, u.full_name, u.role, NO_PASSWORD, u.active, now],
                )?;
                if let Some(reset) = u.password_reset_at {
                    // Remembered before the reset (offline_sign_in_until is when it was remembered
                    // plus the offline window): forgotten. One remembered after it stays.
                    let until = ts(reset + chrono::Duration::days(crate::sync::OFFLINE_SIGN_IN_DAYS));
                    conn.execute(
                        "UPDATE users SET password_hash = ?2, offline_sign_in_until = NULL
                         WHERE id = ?1 AND offline_sign_in_until IS NOT NULL AND offline_sign_in_until <= ?3",
                        params![u.id.to_string(), NO_PASSWORD, until],
                    )?;
                }
                if !u.active {
                    // Deactivated on the server: the remembered password goes, so no offline sign-in.
                    conn.execute(
                        "UPDATE users SET password_hash = ?2, offline_sign_in_until = NULL WHERE id = ?1",
                        params![u.id.to_string(), NO_PASSWORD],
                    )?;
                }
            }
        }
        "doctor" => {
            if let Some(d) = row::<DoctorRow>(change)? {
                conn.execute(
                    "INSERT INTO doctors (id, user_id, specialization, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO UPDATE SET specialization = excluded.specialization, active = excluded.active",
                    params![d.id.to_string(), d.user_id.to_string(), d.specialization, d.active, now],
                )?;
            }
        }
        "patient" => {
            if let Some(p) = row::<PatientRow>(change)? {
                conn.execute(
                    "INSERT INTO patients (id, full_name, phone_e164, date_of_birth, sms_consent, opted_out_at, created_at, updated_at, version)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, coalesce(?8, 1))
                     ON CONFLICT (id) DO UPDATE SET full_name = excluded.full_name, phone_e164 = excluded.phone_e164,
                       date_of_birth = excluded.date_of_birth, sms_consent = excluded.sms_consent,
                       opted_out_at = excluded.opted_out_at, updated_at = excluded.updated_at,
                       version = excluded.version, provisional = NULL
                     -- As for appointments below: never an older version over a newer one, and
                     -- the server's newer copy over a provisional one.
                     WHERE ?8 IS NULL OR excluded.version >= patients.version
                        OR (patients.provisional IS NOT NULL AND excluded.version > (
                              SELECT coalesce(min(json_extract(q.before, '$.version')), 0) FROM desk_pending q
                              WHERE q.entity_id = patients.id AND q.state = 'queued'))",
                    params![
                        p.id.to_string(),
                        p.full_name,
                        p.phone,
                        p.date_of_birth.map(|d| d.format("%Y-%m-%d").to_string()),
                        p.sms_consent,
                        p.opted_out_at.map(ts),
                        now,
                        p.version
                    ],
                )?;
            }
        }
        "appointment" => {
            if let Some(a) = row::<AppointmentRow>(change)? {
                // A reference drawn on this desk for a provisional booking may (1 in ~900 million)
                // be one the server gave another booking: the provisional one steps aside.
                conn.execute(
                    "UPDATE appointments SET booking_ref = booking_ref || '-' || substr(id, 1, 4)
                     WHERE booking_ref = ?1 AND id <> ?2 AND provisional IS NOT NULL",
                    params![a.booking_ref, a.id.to_string()],
                )?;
                conn.execute(
                    "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status,
                                               cancel_reason, version, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
                     ON CONFLICT (id) DO UPDATE SET booking_ref = excluded.booking_ref, patient_id = excluded.patient_id, doctor_id = excluded.doctor_id,
                       starts_at = excluded.starts_at, ends_at = excluded.ends_at,
                       kind = excluded.kind, status = excluded.status, cancel_reason = excluded.cancel_reason,
                       version = excluded.version, updated_at = excluded.updated_at, provisional = NULL
                     -- Feed order is transaction order, not commit order: never let an older
                     -- version of a row replace a newer one. A provisional copy made here
                     -- (pending.rs) is replaced by any server row newer than the copy its queued
                     -- changes were made on: the server holds it differently now (those changes
                     -- will be refused, answers.rs), so the desk shows what the server holds. A
                     -- row it already had (another part of the feed delivers it again) is not.
                     WHERE excluded.version >= appointments.version
                        OR (appointments.provisional IS NOT NULL AND excluded.version > (
                              SELECT coalesce(min(json_extract(q.before, '$.version')), 0) FROM desk_pending q
                              WHERE q.entity_id = appointments.id AND q.state = 'queued'))",
                    params![
                        a.id.to_string(),
                        a.booking_ref,
                        a.patient_id.to_string(),
                        a.doctor_id.to_string(),
                        ts(a.starts_at),
                        ts(a.ends_at),
                        a.kind,
                        a.status,
                        a.cancel_reason,
                        a.version,
                        now
                    ],
                )?;
            }
        }
        "consultation_notes" => {
            if let Some(n) = row::<NotesRow>(change)? {
                apply_notes(conn, &n, at)?;
            }
        }
        "text" => {
            if let Some(t) = row::<super::apply_texts::TextRow>(change)? {
                super::apply_texts::apply_text(conn, &t)?;
            }
        }
        "text_reply" => {
            if let Some(r) = row::<crate::sync::wire::TextReplyRow>(change)? {
                crate::sms::inbox::keep_from_server(conn, &r)?;
            }
        }
        "consultation" => {
            if let Some(c) = row::<crate::sync::wire::ConsultationRow>(change)? {
                crate::consultations::keep_from_server(conn, &c, at)?;
            }
        }
        "consultation_record" => {
            if let Some(r) = row::<crate::sync::wire::ConsultationRecordRow>(change)? {
                crate::consultations::keep_record_from_server(conn, &r)?;
            }
        }
        "consultation_note_history" => {
            if let Some(h) = row::<crate::sync::wire::NoteHistoryRow>(change)? {
                crate::consultations::keep_history_from_server(conn, &h, at)?;
            }
        }
        // A newer server's kind of record: this desk has nowhere to keep it yet. Logged, skipped.
        other => tracing::warn!(entity = other, "skipping a kind of change this desk does not know"),
    }
    Ok(())
}
