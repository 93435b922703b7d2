//! The review figures (issue 11): on the clinic-scale clinic (500,000 appointments at scale 1), 100,000
//! past video consultations with notes and 2,000,000 chat messages, kept as the end keeps them (the
//! search index filled by its triggers), then the review screen's calls through the core: search
//! (p50/p99), opening a record of 200 messages, the list's first page.
//!
//! The consultations are written straight into the encrypted database in large transactions (the
//! end of 100,000 calls at Twilio cannot be replayed here); every figure is then read back through
//! `clinic.consultations()`, with its permission checks and audit entries, as the screen does.

use crate::scale::{ADMIN_EMAIL, ADMIN_PASSWORD};
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::auth::Channel;
use clinicdesk_core::consultations::ConsultationFilter;
use clinicdesk_core::db::ts;
use clinicdesk_core::Clinic;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::params;
use std::path::Path;
use std::time::{Duration as Elapsed, Instant};
use uuid::Uuid;

const COMMON: [&str; 40] = [
    "the", "and", "you", "is", "it", "to", "of", "a", "in", "that", "have", "for", "not", "with", "on", "do", "at",
    "this", "but", "from", "they", "we", "say", "her", "she", "or", "an", "will", "my", "one", "all", "would", "there",
    "their", "what", "so", "up", "out", "if", "about",
];
const CLINICAL: [&str; 30] = [
    "eczema",
    "rash",
    "itching",
    "cough",
    "fever",
    "headache",
    "migraine",
    "dizziness",
    "tablets",
    "cream",
    "inhaler",
    "wheezing",
    "breathless",
    "swelling",
    "knee",
    "physiotherapy",
    "blood",
    "pressure",
    "results",
    "iron",
    "tiredness",
    "sleep",
    "anxiety",
    "review",
    "referral",
    "x-ray",
    "antibiotics",
    "dosage",
    "allergy",
    "café",
];
const SYLLABLES: [&str; 16] =
    ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "pa", "qu", "do", "fe", "gi", "ho", "ju"];

/// A word of the made-up vocabulary: rare words, each in a few hundred messages.
fn rare(rng: &mut StdRng) -> String {
    (0..3).map(|_| SYLLABLES[rng.gen_range(0..SYLLABLES.len())]).collect()
}

fn sentence(rng: &mut StdRng, words: usize) -> String {
    (0..words)
        .map(|_| match rng.gen_range(0..10) {
            0..=5 => COMMON[rng.gen_range(0..COMMON.len())].to_owned(),
            6 | 7 => CLINICAL[rng.gen_range(0..CLINICAL.len())].to_owned(),
            _ => rare(rng),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn report(name: &str, samples: &mut [Elapsed], extra: serde_json::Value) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "{}",
        serde_json::json!({ "bench": name, "count": samples.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0), "detail": extra })
    );
}

fn time<T>(samples: &mut Vec<Elapsed>, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    samples.push(started.elapsed());
    value
}

/// Writes `count` consultations (the newest with 200 messages, the rest 20 on average) onto the
/// clinic's most recent completed appointments. Returns the 200-message one.
fn build(clinic: &Clinic, count: usize, rng: &mut StdRng) -> Uuid {
    let started = Instant::now();
    let mut conn = clinic.db().conn().expect("conn");
    let past: Vec<(String, DateTime<Utc>, String)> = {
        let mut stmt = conn
            .prepare(
                "SELECT a.id, a.starts_at, d.user_id FROM appointments a JOIN doctors d ON d.id = a.doctor_id
                 WHERE a.status = 'completed' ORDER BY a.starts_at DESC LIMIT ?1",
            )
            .unwrap();
        let rows = stmt.query_map([count as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let now = ts(clinic.now());
    let mut messages = 0usize;
    for chunk in past.chunks(2_000) {
        let tx = conn.transaction().expect("tx");
        {
            let mut video = tx.prepare_cached("UPDATE appointments SET kind = 'video' WHERE id = ?1").unwrap();
            let mut consultation = tx
                .prepare_cached(
                    "INSERT INTO consultations (appointment_id, status, room_name, doctor_identity, patient_identity,
                         room_sid, conversation_sid, started_at, started_by, ended_at, ended_by, notes, created_at, updated_at)
                     VALUES (?1, 'completed', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, '', ?10, ?10)",
                )
                .unwrap();
            let mut notes = tx.prepare_cached("UPDATE consultations SET notes = ?2 WHERE appointment_id = ?1").unwrap();
            let mut version = tx
                .prepare_cached(
                    "INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by) VALUES (?1, 0, ?2, ?3, ?4)",
                )
                .unwrap();
            let mut person = tx
                .prepare_cached(
                    "INSERT INTO consultation_participants (appointment_id, participant_sid, identity, role, joined_at, left_at, seconds)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .unwrap();
            let mut message = tx
                .prepare_cached(
                    "INSERT INTO chat_messages (appointment_id, message_index, author_identity, author_role, body, sent_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .unwrap();
            for (id, starts_at, doctor) in chunk {
                let (d, p) = (format!("d-{}", Uuid::new_v4().simple()), format!("p-{}", Uuid::new_v4().simple()));
                let ended = *starts_at + Duration::minutes(12);
                video.execute([id]).unwrap();
                consultation
                    .execute(params![
                        id,
                        format!("cd-{}", Uuid::new_v4().simple()),
                        d,
                        p,
                        format!("RM{}", Uuid::new_v4().simple()),
                        format!("CH{}", Uuid::new_v4().simple()),
                        ts(*starts_at),
                        doctor,
                        ts(ended),
                        now
                    ])
                    .unwrap();
                let text = sentence(rng, 40);
                notes.execute(params![id, text]).unwrap();
                version.execute(params![id, text, ts(ended), doctor]).unwrap();
                for (role, identity) in [("doctor", &d), ("patient", &p)] {
                    person
                        .execute(params![
                            id,
                            format!("PA{}", Uuid::new_v4().simple()),
                            identity,
                            role,
                            ts(*starts_at),
                            ts(ended),
                            720
                        ])
                        .unwrap();
                }
                let n = if messages == 0 { 200 } else { rng.gen_range(5..36) };
                for i in 0..n {
                    let (role, identity) = if i % 2 == 0 { ("doctor", &d) } else { ("patient", &p) };
                    let words = rng.gen_range(4..18);
                    let at = *starts_at + Duration::seconds(20 + 3 * i as i64);
                    message.execute(params![id, i as i64, identity, role, sentence(rng, words), ts(at)]).unwrap();
                }
                messages += n;
            }
        }
        tx.commit().expect("commit");
    }
    let size = std::fs::metadata(clinic.db().path()).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({ "bench": "review_build", "value": started.elapsed().as_secs_f64(), "unit": "s",
            "detail": { "consultations": past.len(), "messages": messages, "database_mb": size as f64 / 1e6 } })
    );
    Uuid::parse_str(&past[0].0).unwrap()
}

/// The consultation with 200 messages, when an earlier run built the consultations here.
fn already_built(clinic: &Clinic) -> Option<Uuid> {
    if std::env::var("CLINICDESK_BENCH_CLINIC_REUSE").as_deref() != Ok("1") {
        return None;
    }
    let conn = clinic.db().conn().ok()?;
    let id: Option<String> = conn
        .query_row("SELECT appointment_id FROM chat_messages WHERE message_index = 199 LIMIT 1", [], |r| r.get(0))
        .ok();
    id.and_then(|id| Uuid::parse_str(&id).ok())
}

pub fn run(dir: &Path, scale: f64) {
    let clinic = Clinic::open(dir).expect("open");
    let mut rng = StdRng::seed_from_u64(11);
    let count = ((100_000.0 * scale) as usize).max(500);
    // A clinic reused from an earlier run (CLINICDESK_BENCH_CLINIC_REUSE=1) keeps its consultations.
    let long = already_built(&clinic).unwrap_or_else(|| build(&clinic, count, &mut rng));
    if std::env::var("CLINICDESK_BENCH_REVIEW_EXPERIMENTS").as_deref() == Ok("1") {
        return experiments(&clinic);
    }
    let admin = clinic.auth().sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, Channel::Cli).expect("sign in").caller;
    let doctor = clinic.auth().sign_in("doctor0@clinic.example", ADMIN_PASSWORD, Channel::Cli).expect("doctor").caller;
    let c = clinic.consultations();

    let (mut rare_word, mut clinical, mut two, mut prefix, mut as_doctor) = (vec![], vec![], vec![], vec![], vec![]);
    let mut found = 0usize;
    for i in 0..200 {
        let word = rare(&mut rng);
        found += time(&mut rare_word, || c.search(&admin, &word).expect("search")).len();
        let term = CLINICAL[i % CLINICAL.len()];
        time(&mut clinical, || c.search(&admin, term).expect("search"));
        let pair = format!("{} {}", CLINICAL[(i * 7) % CLINICAL.len()], COMMON[i % COMMON.len()]);
        time(&mut two, || c.search(&admin, &pair).expect("search"));
        let start: String = term.chars().take(3).collect();
        time(&mut prefix, || c.search(&admin, &start).expect("search"));
        time(&mut as_doctor, || c.search(&doctor, term).expect("search"));
    }
    let mut all: Vec<Elapsed> =
        [&rare_word, &clinical, &two, &prefix, &as_doctor].into_iter().flatten().copied().collect();
    report("review_search_all", &mut all, serde_json::json!({ "first_page": 50 }));
    report("review_search_rare_word", &mut rare_word, serde_json::json!({ "hits_per_search": found / 200 }));
    report("review_search_clinical_word", &mut clinical, serde_json::json!({ "in_messages": "about 1 in 3" }));
    report("review_search_two_words", &mut two, serde_json::json!({}));
    report("review_search_prefix_3_letters", &mut prefix, serde_json::json!({}));
    report("review_search_as_a_doctor", &mut as_doctor, serde_json::json!({ "their_own": "1 doctor in 20" }));

    let mut open = Vec::new();
    let mut entries = 0;
    for _ in 0..100 {
        entries = time(&mut open, || c.record(&admin, long).expect("record")).timeline.len();
    }
    report("review_open_record_200_messages", &mut open, serde_json::json!({ "timeline_entries": entries }));

    let (mut first, mut by_doctor, mut by_patient, mut with_notes) = (vec![], vec![], vec![], vec![]);
    let patients: Vec<Uuid> = {
        let conn = clinic.db().conn().unwrap();
        let mut stmt = conn.prepare("SELECT id FROM patients LIMIT 100").unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| Uuid::parse_str(&r.unwrap()).unwrap()).collect()
    };
    let doctors: Vec<Uuid> = {
        let conn = clinic.db().conn().unwrap();
        let mut stmt = conn.prepare("SELECT id FROM doctors").unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| Uuid::parse_str(&r.unwrap()).unwrap()).collect()
    };
    for i in 0..100 {
        time(&mut first, || c.list(&admin, &ConsultationFilter::default()).expect("list"));
        let filter = ConsultationFilter { doctor_id: Some(doctors[i % doctors.len()]), ..Default::default() };
        time(&mut by_doctor, || c.list(&admin, &filter).expect("list"));
        let filter = ConsultationFilter { patient_id: Some(patients[i % patients.len()]), ..Default::default() };
        time(&mut by_patient, || c.list(&admin, &filter).expect("list"));
        let filter = ConsultationFilter { has_notes: true, ..Default::default() };
        time(&mut with_notes, || c.list(&doctor, &filter).expect("list"));
    }
    report("review_list_first_page", &mut first, serde_json::json!({ "page": 50 }));
    report("review_list_one_doctor", &mut by_doctor, serde_json::json!({}));
    report("review_list_one_patient", &mut by_patient, serde_json::json!({}));
    report("review_list_own_with_notes_as_a_doctor", &mut with_notes, serde_json::json!({}));
}

/// Variants of the search's SQL timed side by side (CLINICDESK_BENCH_REVIEW_EXPERIMENTS=1), to
/// find where its time goes. Not part of the recorded figures.
fn experiments(clinic: &Clinic) {
    let conn = clinic.db().conn().expect("conn");
    let doctor: String =
        conn.query_row("SELECT id FROM users WHERE email = 'doctor0@clinic.example'", [], |r| r.get(0)).unwrap();
    let base = |snippet: &str, limit: u32, doctor_filter: &str| {
        format!(
            "SELECT k.appointment_id, a.starts_at, p.id, p.full_name, u.full_name, k.message_index, {snippet}
             FROM consultation_text_fts f
             JOIN consultation_text_keys k ON k.key = f.rowid
             JOIN appointments a ON a.id = k.appointment_id
             JOIN patients p ON p.id = a.patient_id
             JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
             WHERE consultation_text_fts MATCH ?1 {doctor_filter}
             ORDER BY f.rowid DESC LIMIT {limit}"
        )
    };
    let snip = "snippet(consultation_text_fts, 0, char(2), char(3), '…', 16)";
    let variants: Vec<(&str, String, bool)> = vec![
        ("as_now_50", base(snip, 50, "AND (?2 IS NULL OR d.user_id = ?2)"), false),
        ("no_snippet_50", base("''", 50, "AND (?2 IS NULL OR d.user_id = ?2)"), false),
        ("as_now_25", base(snip, 25, "AND (?2 IS NULL OR d.user_id = ?2)"), false),
        ("window_50k", base(snip, 50, "AND ?2 IS NULL AND f.rowid > (SELECT max(key) - 50000 FROM consultation_text_keys)"), false),
        ("window_200k", base(snip, 50, "AND ?2 IS NULL AND f.rowid > (SELECT max(key) - 200000 FROM consultation_text_keys)"), false),
        ("fts_only_50", "SELECT rowid FROM consultation_text_fts WHERE consultation_text_fts MATCH ?1 AND ?2 IS NULL ORDER BY rowid DESC LIMIT 50".into(), false),
        ("doctor_as_now_50", base(snip, 50, "AND (?2 IS NULL OR d.user_id = ?2)"), true),
        ("doctor_as_now_25", base(snip, 25, "AND (?2 IS NULL OR d.user_id = ?2)"), true),
        ("doctor_no_snippet_50", base("''", 50, "AND (?2 IS NULL OR d.user_id = ?2)"), true),
    ];
    let shape = std::env::var("CLINICDESK_BENCH_EXPERIMENT_SHAPE").unwrap_or_default();
    let queries: Vec<String> = (0..200)
        .flat_map(|i| {
            let term = CLINICAL[i % CLINICAL.len()];
            let pair = format!("\"{}\" \"{}\"", CLINICAL[(i * 7) % CLINICAL.len()], COMMON[i % COMMON.len()]);
            match shape.as_str() {
                "prefix" => vec![format!("\"{term}\"*")],
                "prefix3" => vec![format!("\"{}\"*", term.chars().take(3).collect::<String>())],
                "exact" => vec![format!("\"{term}\"")],
                _ => vec![format!("\"{term}\""), pair],
            }
        })
        .collect();
    let admin = clinic.auth().sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, Channel::Cli).expect("sign in").caller;
    let patients: Vec<Uuid> = {
        let mut stmt = conn.prepare("SELECT id FROM patients LIMIT 50").unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| Uuid::parse_str(&r.unwrap()).unwrap()).collect()
    };
    let (mut whole, mut audit_only, mut checkout) = (vec![], vec![], vec![]);
    for i in 0..400 {
        let term = CLINICAL[i % CLINICAL.len()];
        time(&mut whole, || clinic.consultations().search(&admin, term).unwrap().len());
        time(&mut audit_only, || {
            clinicdesk_core::audit::record_screen_read(
                &conn,
                clinic.now(),
                &admin,
                "experiment",
                patients.iter().copied(),
            )
            .unwrap()
        });
        time(&mut checkout, || drop(clinic.db().conn().unwrap()));
    }
    report("experiment_search_call_clinical", &mut whole, serde_json::json!({}));
    report("experiment_audit_screen_read_50", &mut audit_only, serde_json::json!({}));
    report("experiment_connection_checkout", &mut checkout, serde_json::json!({}));
    for (name, sql, as_doctor) in variants {
        let mut stmt = conn.prepare(&sql).unwrap();
        let mut samples = Vec::new();
        for q in &queries {
            let who: Option<&str> = as_doctor.then_some(doctor.as_str());
            time(&mut samples, || {
                stmt.query_map(rusqlite::params![q, who], |r| r.get::<_, rusqlite::types::Value>(0)).unwrap().count()
            });
        }
        report(&format!("experiment_{name}"), &mut samples, serde_json::json!({}));
    }
}
