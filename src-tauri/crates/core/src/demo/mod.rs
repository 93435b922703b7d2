//! The sample clinic: 5 doctors, 200 patients and about three months of appointments around today,
//! so a new installation can be tried without typing a clinic in by hand. Deterministic names and
//! schedule (fixed seed) so screenshots and support sessions see the same clinic.

mod consultations;

use crate::appointments::local_time;
use crate::audit::{self, Actor, AuditAction};
use crate::auth::{hash_password, Caller, Permission};
use crate::db::ts;
use crate::error::{CoreError, Result};
use crate::Clinic;
use chrono::{Datelike, Duration, NaiveTime, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use std::collections::HashSet;
use ts_rs::TS;
use uuid::Uuid;

pub const DOCTORS: [(&str, &str, &str); 5] = [
    ("Dr Amara Okafor", "amara.okafor@clinic.example", "General practice"),
    ("Dr Lukas Brenner", "lukas.brenner@clinic.example", "Paediatrics"),
    ("Dr Sofia Marin", "sofia.marin@clinic.example", "Dermatology"),
    ("Dr James Whitfield", "james.whitfield@clinic.example", "Cardiology"),
    ("Dr Priya Raman", "priya.raman@clinic.example", "Psychiatry"),
];
pub const PATIENTS: usize = 200;
/// Days of history and of future bookings around today (together about three months).
pub const DAYS_BACK: i64 = 45;
pub const DAYS_AHEAD: i64 = 45;

const FIRST: [&str; 40] = [
    "Olivia", "Noah", "Amelia", "Oliver", "Isla", "George", "Ava", "Arthur", "Mia", "Leo", "Ivy", "Harry", "Grace",
    "Oscar", "Freya", "Theo", "Lily", "Finley", "Emily", "Jack", "Sophie", "Mohammed", "Ella", "Aisha", "Ruby",
    "Yusuf", "Chloe", "Kai", "Zara", "Ethan", "Niamh", "Liam", "Hana", "Tomasz", "Maya", "Daniel", "Elena", "Samuel",
    "Priya", "Lucas",
];
const LAST: [&str; 40] = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Khan", "Lewis",
    "Harris", "Martin", "Cooper", "King", "Lee", "Baker", "Hughes", "Kowalski", "Nguyen", "Murphy", "Ali", "Singh",
    "Okoye", "Moreau", "Rossi", "Novak", "Campbell",
];

/// North American 555-0100..0199 numbers are reserved for fiction in every area code: valid to
/// libphonenumber (so they pass the same checks as real numbers) yet never a real person's phone.
/// (The UK's drama range, 07700 900xxx, is rejected as invalid by libphonenumber.)
pub fn demo_phone(index: usize) -> String {
    const AREAS: [u16; 4] = [201, 212, 312, 415];
    format!("+1{}55501{:02}", AREAS[(index / 100) % AREAS.len()], index % 100)
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct DemoSummary {
    pub doctors: u32,
    pub patients: u32,
    pub appointments: u32,
}

/// Fills an empty clinic. Doctor accounts get `doctor_password` if given; otherwise a random one
/// nobody knows, so they cannot sign in until an administrator sets a password.
pub fn seed(clinic: &Clinic, caller: &Caller, doctor_password: Option<&str>) -> Result<DemoSummary> {
    caller.require(Permission::SeedDemoData)?;
    // A desk's copy is the server's: sample staff and patients made here would never reach it.
    crate::sync::pending::refuse_on_desk(&*clinic.db().conn()?, crate::sync::pending::ServerKeeps::StaffAccounts)?;
    let password = match doctor_password {
        Some(p) => {
            crate::auth::check_new_password(p)?;
            p.to_owned()
        }
        None => crate::secrets::random_key_hex(),
    };
    let hash = hash_password(&password)?;
    let tz = clinic.settings().time_zone()?;
    let now = clinic.now();
    let today = now.with_timezone(&tz).date_naive();
    let mut rng = StdRng::seed_from_u64(0xC11_41C);
    let mut conn = clinic.db().conn()?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let existing: i64 = tx.query_row("SELECT count(*) FROM patients", [], |r| r.get(0))?;
    if existing > 0 {
        return Err(CoreError::Conflict(
            "The sample clinic can only be loaded into an empty clinic, and this one already has patients.".into(),
        ));
    }

    let mut doctor_ids = Vec::new();
    for (name, email, specialization) in DOCTORS {
        let user_id: String = match tx
            .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| r.get(0))
            .optional()?
        {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4().to_string();
                tx.execute(
                    "INSERT INTO users (id, email, full_name, role, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, 'doctor', ?4, ?5, ?5)",
                    params![id, email, name, hash, ts(now)],
                )?;
                id
            }
        };
        let doctor_id: String =
            match tx.query_row("SELECT id FROM doctors WHERE user_id = ?1", [&user_id], |r| r.get(0)).optional()? {
                Some(id) => id,
                None => {
                    let id = Uuid::new_v4().to_string();
                    tx.execute(
                        "INSERT INTO doctors (id, user_id, specialization, created_at) VALUES (?1, ?2, ?3, ?4)",
                        params![id, user_id, specialization, ts(now)],
                    )?;
                    id
                }
            };
        doctor_ids.push(doctor_id);
    }

    let mut names = HashSet::new();
    let mut patient_ids = Vec::with_capacity(PATIENTS);
    while patient_ids.len() < PATIENTS {
        let name = format!("{} {}", FIRST[rng.gen_range(0..FIRST.len())], LAST[rng.gen_range(0..LAST.len())]);
        if !names.insert(name.clone()) {
            continue;
        }
        let id = Uuid::new_v4().to_string();
        let phone = demo_phone(patient_ids.len());
        let dob = today - Duration::days(rng.gen_range(365 * 2..365 * 90));
        tx.execute(
            "INSERT INTO patients (id, full_name, phone_e164, date_of_birth, sms_consent, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![id, name, phone, dob.to_string(), rng.gen_bool(0.9), ts(now)],
        )?;
        patient_ids.push(id);
    }

    let mut booked = 0u32;
    let mut patient_busy = HashSet::new();
    let mut past_visits = Vec::new();
    let mut insert = tx.prepare(
        "INSERT INTO appointments (id, booking_ref, patient_id, doctor_id, starts_at, ends_at, kind, status, cancel_reason, cancelled_at, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
    )?;
    for offset in -DAYS_BACK..=DAYS_AHEAD {
        let day = today + Duration::days(offset);
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        for doctor in &doctor_ids {
            for slot in 0..16u32 {
                let minutes = 9 * 60 + slot * 30;
                if (12 * 60 + 30..13 * 60 + 30).contains(&minutes) || !rng.gen_bool(0.55) {
                    continue; // lunch, or a free slot
                }
                let Ok(start) =
                    local_time::to_utc(day, NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).unwrap(), tz)
                else {
                    continue;
                };
                let patient = &patient_ids[rng.gen_range(0..patient_ids.len())];
                if !patient_busy.insert((patient.clone(), start)) {
                    continue;
                }
                let past = start < now;
                let roll: f64 = rng.r#gen();
                let (status, reason) = match (past, roll) {
                    (true, r) if r < 0.8 => ("completed", None),
                    (true, r) if r < 0.9 => ("no_show", None),
                    (false, r) if r < 0.6 => ("confirmed", None),
                    (false, r) if r < 0.95 => ("scheduled", None),
                    _ => ("cancelled", Some("Patient called to cancel")),
                };
                let kind = if rng.gen_bool(0.2) { "video" } else { "in_person" };
                let reference = format!("CD-D{:05}", booked);
                let id = Uuid::new_v4().to_string();
                if kind == "video" && status == "completed" {
                    past_visits.push(consultations::PastVisit {
                        appointment: id.clone(),
                        patient: patient.clone(),
                        doctor: doctor.clone(),
                        starts_at: start,
                        local_start: start.with_timezone(&tz).format("%a %-d %b at %H:%M").to_string(),
                    });
                }
                insert.execute(params![
                    id,
                    reference,
                    patient,
                    doctor,
                    ts(start),
                    ts(start + Duration::minutes(30)),
                    kind,
                    status,
                    reason,
                    reason.map(|_| ts(start - Duration::days(1))),
                    caller.user_id.to_string(),
                    ts(now)
                ])?;
                booked += 1;
            }
        }
    }
    drop(insert);
    consultations::add(&tx, &mut rng, &past_visits, now)?;
    let summary = DemoSummary { doctors: doctor_ids.len() as u32, patients: PATIENTS as u32, appointments: booked };
    audit::record(
        &tx,
        now,
        Actor::Staff(caller),
        AuditAction::SampleClinicLoaded,
        None,
        Some(&format!(
            "{} doctors, {} patients, {} appointments",
            summary.doctors, summary.patients, summary.appointments
        )),
    )?;
    tx.commit()?;
    Ok(summary)
}
