//! The clinic-scale figures (issue 7): a clinic of 20 doctors, 50,000 patients and about 500,000
//! appointments over three years (two back, one ahead), built through the core's bulk import, then
//! the screens reception uses all day, each timed through the core's public API (p50/p99).
//!
//! `CLINICDESK_BENCH_CLINIC_SCALE` (default 1) scales the patients and the days of history; the
//! doctors and the 32 appointments per doctor per weekday stay, so a day view is the same size at
//! any scale. `CLINICDESK_BENCH_CLINIC_DIR` keeps the clinic there (for the window benchmark).

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use clinicdesk_core::appointments::{
    local_time, AppointmentKind, AppointmentStatus, BookingRequest, RescheduleRequest,
};
use clinicdesk_core::auth::{Caller, Channel, Role, SetupRequest};
use clinicdesk_core::db::ts;
use clinicdesk_core::import::{ImportedAppointment, MAX_BATCH};
use clinicdesk_core::patients::PatientInput;
use clinicdesk_core::settings::ClinicSettingsInput;
use clinicdesk_core::users::NewStaffUser;
use clinicdesk_core::Clinic;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration as Elapsed, Instant};
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "bench@clinic.example";
pub const ADMIN_PASSWORD: &str = "bench password 1";
const DOCTORS: usize = 20;
const SLOTS_PER_DAY: u32 = 32; // 08:00 to 16:00, 15 minutes each
const FIRST: [&str; 24] = [
    "Olivia", "Noah", "Amelia", "Oliver", "Isla", "George", "Ava", "Arthur", "Mia", "Leo", "Ivy", "Harry", "Grace",
    "Oscar", "Freya", "Theo", "Mohammed", "Aisha", "Tomasz", "Zoë", "José", "Chloé", "Priya", "Łukasz",
];
const SYLLABLES: [&str; 30] = [
    "ba", "ker", "son", "wil", "li", "ams", "ro", "bert", "mar", "tin", "no", "vak", "ko", "wal", "ski", "pa", "tel",
    "ng", "uy", "en", "ri", "chard", "do", "nald", "fer", "gu", "che", "mo", "reau", "si",
];

pub(crate) fn report(name: &str, samples: &mut [Elapsed], extra: serde_json::Value) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "{}",
        serde_json::json!({ "bench": name, "count": samples.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0), "detail": extra })
    );
}

pub(crate) fn figure(name: &str, value: f64, unit: &str, extra: serde_json::Value) {
    println!("{}", serde_json::json!({ "bench": name, "value": value, "unit": unit, "detail": extra }));
}

fn surname(rng: &mut StdRng) -> String {
    let n = rng.gen_range(2..=3);
    let mut s: String = (0..n).map(|_| SYLLABLES[rng.gen_range(0..SYLLABLES.len())]).collect();
    s[..1].make_ascii_uppercase();
    s
}

struct Built {
    admin: Caller,
    doctors: Vec<Uuid>,
    patients: Vec<(Uuid, String, String)>, // id, name, national digits
    first_day: NaiveDate,
    days: i64,
}

fn build(clinic: &Clinic, scale: f64) -> Built {
    let setup = SetupRequest {
        clinic: ClinicSettingsInput {
            clinic_name: "Scale Clinic".into(),
            time_zone: "Europe/London".into(),
            default_country: "GB".into(),
            idle_timeout_minutes: Some(240),
            sms_messages_per_second: None,
        },
        admin_email: ADMIN_EMAIL.into(),
        admin_name: "Bench Admin".into(),
        admin_password: ADMIN_PASSWORD.into(),
    };
    clinic.auth().set_up(setup).expect("set up");
    let admin = clinic.auth().sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, Channel::Cli).expect("sign in").caller;
    let mut rng = StdRng::seed_from_u64(0x5CA1E);
    let started = Instant::now();
    let doctors: Vec<Uuid> = (0..DOCTORS)
        .map(|i| {
            let email = format!("doctor{i}@clinic.example");
            let new = NewStaffUser {
                email: email.clone(),
                full_name: format!("Dr {} {}", FIRST[i % FIRST.len()], surname(&mut rng)),
                role: Role::Doctor,
                password: ADMIN_PASSWORD.into(),
            };
            clinic.users().add(&admin, new).expect("doctor account");
            clinic.doctors().add(&admin, &email, "General practice").expect("doctor").id
        })
        .collect();
    let doctors_seconds = started.elapsed().as_secs_f64();

    let count = ((50_000.0 * scale) as usize).max(200);
    let started = Instant::now();
    let mut numbers = HashSet::new();
    let mut patients = Vec::with_capacity(count);
    let mut rows = Vec::new();
    while patients.len() + rows.len() < count {
        let national = format!("74{:08}", rng.gen_range(0..100_000_000u32));
        if !numbers.insert(national.clone()) {
            continue;
        }
        let name = format!("{} {}", FIRST[rng.gen_range(0..FIRST.len())], surname(&mut rng));
        let dob = format!("{}-{:02}-{:02}", rng.gen_range(1930..2020), rng.gen_range(1..13), rng.gen_range(1..29));
        rows.push((
            PatientInput {
                full_name: name,
                phone: format!("0{national}"),
                date_of_birth: Some(dob),
                sms_consent: true,
            },
            national,
        ));
        if rows.len() == MAX_BATCH.min(10_000) || patients.len() + rows.len() == count {
            let inputs: Vec<PatientInput> = rows.iter().map(|(p, _)| p.clone()).collect();
            let ids = clinic.import().patients(&admin, &inputs).expect("import patients");
            patients.extend(ids.into_iter().zip(rows.drain(..)).map(|(id, (p, n))| (id, p.full_name, n)));
        }
    }
    let patients_seconds = started.elapsed().as_secs_f64();

    let tz = clinic.settings().time_zone().expect("tz");
    let today = clinic.now().with_timezone(&tz).date_naive();
    let days = ((3.0 * 365.0 * scale) as i64).max(14);
    let first_day = today - Duration::days(days * 2 / 3);
    let now = clinic.now();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut total = 0usize;
    for offset in 0..days {
        let day = first_day + Duration::days(offset);
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        for slot in 0..SLOTS_PER_DAY {
            let time = NaiveTime::from_hms_opt(8 + slot / 4, (slot % 4) * 15, 0).unwrap();
            let starts_at = local_time::to_utc(day, time, tz).expect("clinic time");
            let mut busy = HashSet::new();
            for doctor in &doctors {
                let patient = loop {
                    let p = rng.gen_range(0..patients.len());
                    if busy.insert(p) {
                        break patients[p].0;
                    }
                };
                let roll: f64 = rng.r#gen();
                let status = match (starts_at < now, roll) {
                    (_, r) if r < 0.08 => AppointmentStatus::Cancelled,
                    (true, r) if r < 0.13 => AppointmentStatus::NoShow,
                    (true, _) => AppointmentStatus::Completed,
                    (false, r) if r < 0.6 => AppointmentStatus::Confirmed,
                    (false, _) => AppointmentStatus::Scheduled,
                };
                let kind = if rng.gen_bool(0.2) { AppointmentKind::Video } else { AppointmentKind::InPerson };
                let row = ImportedAppointment {
                    patient_id: patient,
                    doctor_id: *doctor,
                    starts_at,
                    minutes: 15,
                    kind,
                    status,
                };
                batch.push(row);
                if batch.len() == MAX_BATCH {
                    total += clinic.import().appointments(&admin, &batch).expect("import appointments");
                    batch.clear();
                }
            }
        }
    }
    total += clinic.import().appointments(&admin, &batch).expect("import appointments");
    let appointments_seconds = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(clinic.db().path()).map(|m| m.len()).unwrap_or(0);
    figure(
        "scale_build",
        doctors_seconds + patients_seconds + appointments_seconds,
        "s",
        serde_json::json!({
            "doctors": DOCTORS, "patients": patients.len(), "appointments": total, "days": days,
            "doctors_seconds": doctors_seconds, "patients_seconds": patients_seconds,
            "appointments_seconds": appointments_seconds, "database_mb": size as f64 / 1e6,
        }),
    );
    Built { admin, doctors, patients, first_day, days }
}

fn time<T>(samples: &mut Vec<Elapsed>, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    samples.push(started.elapsed());
    value
}

/// Tries to empty the OS page cache (root only), so "cold" means read from the disk.
fn drop_os_cache() -> bool {
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// The clinic a previous run built in `dir` (CLINICDESK_BENCH_CLINIC_REUSE=1), read back.
fn reopen(clinic: &Clinic) -> Built {
    let admin = clinic.auth().sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, Channel::Cli).expect("sign in").caller;
    let conn = clinic.db().conn().expect("conn");
    let doctors = conn.prepare("SELECT id FROM doctors ORDER BY created_at").unwrap();
    let doctors = collect(doctors, |r| Ok(Uuid::parse_str(&r.get::<_, String>(0)?).unwrap()));
    let patients = conn.prepare("SELECT id, full_name, substr(phone_e164, 4) FROM patients").unwrap();
    let patients = collect(patients, |r| Ok((Uuid::parse_str(&r.get::<_, String>(0)?).unwrap(), r.get(1)?, r.get(2)?)));
    let (first, last): (String, String) = conn
        .query_row("SELECT min(starts_at), max(starts_at) FROM appointments", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let day = |t: &str| NaiveDate::parse_from_str(&t[..10], "%Y-%m-%d").unwrap();
    let (first_day, days) = (day(&first), (day(&last) - day(&first)).num_days() + 1);
    Built { admin, doctors, patients, first_day, days }
}

fn collect<T>(mut stmt: rusqlite::Statement<'_>, f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>) -> Vec<T> {
    stmt.query_map([], f).unwrap().map(Result::unwrap).collect()
}

pub fn run(dir: &Path, scale: f64) {
    let clinic = Clinic::open(dir).expect("open clinic (needs the Secret Service: scripts/bench.sh)");
    let reuse = std::env::var("CLINICDESK_BENCH_CLINIC_REUSE").as_deref() == Ok("1") && !clinic.needs_setup().unwrap();
    let built = if reuse { reopen(&clinic) } else { build(&clinic, scale) };
    drop(clinic);

    let dropped = drop_os_cache();
    let started = Instant::now();
    let clinic = Clinic::open(dir).expect("reopen");
    let opened = started.elapsed();
    let admin = clinic.auth().sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, Channel::Cli).expect("sign in").caller;
    let mut first = Vec::new();
    let mut today = built.first_day + Duration::days(built.days * 2 / 3);
    while matches!(today.weekday(), Weekday::Sat | Weekday::Sun) {
        today += Duration::days(1);
    }
    time(&mut first, || clinic.appointments().day(&admin, &today.to_string(), None).expect("day"));
    figure(
        "scale_open_cold_ms",
        opened.as_secs_f64() * 1000.0,
        "ms",
        serde_json::json!({ "os_cache_dropped": dropped, "then_first_day_view_ms": first[0].as_secs_f64() * 1000.0 }),
    );
    let _ = built.admin;

    // As in the app, whose background task runs the clinic's upkeep every few seconds (the
    // audit's linking and the WAL checkpoint) beside the screens.
    let clinic = std::sync::Arc::new(clinic);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background = {
        let (clinic, stop) = (clinic.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Elapsed::from_secs(2));
                clinic.housekeeping().expect("housekeeping");
            }
        })
    };

    // Reception clicking through the days: 200 consecutive weekdays, every page new to the cache.
    let weekdays: Vec<NaiveDate> = (0..built.days)
        .map(|d| built.first_day + Duration::days(d))
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect();
    let walk = &weekdays[weekdays.len().saturating_sub(200) / 2..][..weekdays.len().min(200)];
    let (mut all, mut one, mut shown) = (Vec::new(), Vec::new(), 0);
    for (i, day) in walk.iter().enumerate() {
        let d = day.to_string();
        shown += time(&mut all, || clinic.appointments().day(&admin, &d, None).expect("day")).appointments.len();
        let doctor = built.doctors[i % built.doctors.len()];
        time(&mut one, || clinic.appointments().day(&admin, &d, Some(doctor)).expect("day"));
    }
    report("scale_day_view_all_doctors", &mut all, serde_json::json!({ "appointments_per_view": shown / walk.len() }));
    // Its parts, on the same days again: the SELECT alone, and the audit entry alone.
    let (mut select, mut audit) = (Vec::new(), Vec::new());
    let tz = clinic.settings().time_zone().unwrap();
    let later: Vec<NaiveDate> = walk.iter().map(|d| *d + Duration::days(7)).collect();
    for day in &later {
        let (from, to) = local_time::day_range(*day, tz);
        let conn = clinic.db().conn().unwrap();
        let ids: Vec<Uuid> = time(&mut select, || {
            let mut stmt = conn.prepare_cached(clinicdesk_core::appointments::DAY_OF_CLINIC).unwrap();
            let rows = stmt.query_map(rusqlite::params![ts(from), ts(to)], |r| r.get::<_, String>(2)).unwrap();
            rows.map(|r| Uuid::parse_str(&r.unwrap()).unwrap()).collect()
        });
        let now = clinic.now();
        time(&mut audit, || clinicdesk_core::audit::record_screen_read(&conn, now, &admin, "bench", ids).unwrap());
    }
    // The background linking of those screen reads to their patients (audit/reads.rs).
    let started = Instant::now();
    let mut linked = 0;
    while let n @ 1.. = clinic.housekeeping().expect("housekeeping") {
        linked += n;
    }
    figure(
        "scale_audit_linking_ms_per_view",
        started.elapsed().as_secs_f64() * 1000.0 / linked.max(1) as f64,
        "ms",
        serde_json::json!({ "entries": linked, "background": true }),
    );
    // The same day again and again (pages cached): what is left is the core's own work.
    let (mut again, mut again_select) = (Vec::new(), Vec::new());
    let (from, to) = local_time::day_range(walk[0], tz);
    for _ in 0..100 {
        time(&mut again, || clinic.appointments().day(&admin, &walk[0].to_string(), None).expect("day"));
        let conn = clinic.db().conn().unwrap();
        time(&mut again_select, || {
            let mut stmt = conn.prepare_cached(clinicdesk_core::appointments::DAY_OF_CLINIC).unwrap();
            let rows = stmt.query_map(rusqlite::params![ts(from), ts(to)], |r| r.get::<_, String>(2)).unwrap();
            rows.count()
        });
    }
    report("scale_day_view_all_doctors_same_day", &mut again, serde_json::json!({}));
    report("scale_day_view_all_doctors_same_day_select_only", &mut again_select, serde_json::json!({}));
    report("scale_day_view_all_doctors_select_only", &mut select, serde_json::json!({}));
    report("scale_day_view_all_doctors_audit_only", &mut audit, serde_json::json!({}));
    report("scale_day_view_one_doctor", &mut one, serde_json::json!({}));

    let mut rng = StdRng::seed_from_u64(7);
    let (mut prefix, mut substring, mut phone) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..200 {
        let (_, name, national) = &built.patients[rng.gen_range(0..built.patients.len())];
        let typed: String = name.chars().take(rng.gen_range(2..=4)).collect();
        time(&mut prefix, || clinic.patients().search(&admin, &typed, 50).expect("search"));
        let last: Vec<char> = name.split(' ').nth(1).unwrap_or(name).chars().collect();
        let at = rng.gen_range(0..last.len().saturating_sub(3).max(1));
        let part: String = last[at..(at + 4).min(last.len())].iter().collect();
        time(&mut substring, || clinic.patients().search(&admin, &part.to_lowercase(), 50).expect("search"));
        let digits = format!("{} {}", &national[3..6], &national[6..9]);
        time(&mut phone, || clinic.patients().search(&admin, &digits, 50).expect("search"));
    }
    report("scale_search_name_prefix", &mut prefix, serde_json::json!({ "typed": "2-4 first letters" }));
    report("scale_search_name_substring", &mut substring, serde_json::json!({ "typed": "4 letters inside a surname" }));
    report("scale_search_phone_digits", &mut phone, serde_json::json!({ "typed": "\"123 456\" from the middle" }));

    // Booking and moving: after the imported year ahead, so every slot is free.
    let (mut book, mut moves) = (Vec::new(), Vec::new());
    let beyond = today + Duration::days(built.days / 3 + 7);
    for i in 0..100i64 {
        let day = beyond + Duration::days(i);
        let request = BookingRequest {
            patient_id: built.patients[rng.gen_range(0..built.patients.len())].0,
            doctor_id: built.doctors[i as usize % built.doctors.len()],
            date: day.to_string(),
            time: "09:00".into(),
            minutes: 15,
            kind: AppointmentKind::InPerson,
        };
        let booked = time(&mut book, || clinic.appointments().book(&admin, request).expect("book"));
        let to = RescheduleRequest {
            date: day.to_string(),
            time: "10:30".into(),
            minutes: None,
            expected_version: Some(booked.version),
        };
        time(&mut moves, || clinic.appointments().reschedule(&admin, booked.id, to).expect("move"));
    }
    report("scale_book", &mut book, serde_json::json!({}));
    report("scale_move", &mut moves, serde_json::json!({}));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    background.join().expect("background");
    reminder_passes(dir, today);
    crate::review::run(dir, scale);
}

/// [`reminder_passes`] alone on an existing clinic (its future, where appointments are open).
pub fn reminders_only(dir: &Path) {
    reminder_passes(dir, Utc::now().date_naive() + Duration::days(1));
}

/// The reminder planner with the whole clinic in the database: one pass plans a day's reminders
/// (the 24h and 2h rules over every doctor's day). Each pass starts at 06:00 on a weekday (its
/// own clock), from an empty plan; its texts are deleted afterwards, outside the timing.
fn reminder_passes(dir: &Path, from: NaiveDate) {
    let clock = std::sync::Arc::new(clinicdesk_core::clock::ManualClock::at(Utc::now()));
    let clinic = Clinic::open_with_clock(dir, clock.clone()).expect("open");
    let conn = clinic.db().conn().expect("conn");
    // Texting "set up" (identifiers only: nothing is sent here).
    conn.execute_batch(
        "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES
           ('twilio.account_sid', 'AC00000000000000000000000000000000', '2026-01-01T00:00:00Z'),
           ('twilio.api_key_sid', 'SK00000000000000000000000000000000', '2026-01-01T00:00:00Z')",
    )
    .expect("twilio ids");
    let tz: chrono_tz::Tz = clinic.settings().time_zone().expect("zone");
    let (mut passes, mut planned) = (Vec::new(), Vec::new());
    let weekdays =
        (0..60).map(|d| from + Duration::days(d)).filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun));
    for day in weekdays.take(20) {
        let morning = tz.from_local_datetime(&day.and_hms_opt(6, 0, 0).unwrap()).earliest().unwrap();
        clock.set(morning.with_timezone(&Utc));
        conn.execute("DELETE FROM reminder_plan", []).expect("reset plan");
        let done = time(&mut passes, || clinic.appointment_texts().run_upkeep().expect("upkeep"));
        planned.push(done.reminders_planned);
        conn.execute("DELETE FROM sms_notifications WHERE kind = 'reminder'", []).expect("tidy");
    }
    let texts = planned.iter().sum::<usize>() / planned.len().max(1);
    report("scale_reminder_pass", &mut passes, serde_json::json!({ "texts_per_pass": texts }));
}
