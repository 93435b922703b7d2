//! The sample clinic's past video consultations, so the review screen (issue 11) has something to
//! show on first run: each completed video appointment gets a consultation as the end would have
//! kept it — who was in the room, a short chat (one with a photo the patient sent), the doctor's
//! notes (version 0 of their history).
//! Nothing here is real; the dialogues are written for the sample.

use crate::db::ts;
use crate::error::Result;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use rusqlite::{params, Transaction};
use uuid::Uuid;

/// (chat, the doctor speaking first and then in turn; notes). Accents kept on purpose: the search
/// finds "cafe" in "café".
const VISITS: [(&[&str], &str); 6] = [
    (
        &[
            "Good morning, can you hear me clearly?",
            "Yes, loud and clear.",
            "How has the rash been since we started the cream?",
            "Much better — only a little itching at night.",
        ],
        "Eczema improving on emollient. Continue twice daily; hydrocortisone 1% for flares. Review in 6 weeks.",
    ),
    (
        &[
            "Hello, thanks for joining.",
            "Hi doctor. The cough is still there after two weeks.",
            "Any fever or shortness of breath?",
            "No fever. A bit breathless on the stairs.",
        ],
        "Persistent cough 2/52, no fever. Mild exertional dyspnoea. Chest X-ray requested; safety-netted.",
    ),
    (
        &[
            "Good afternoon. Did the new tablets suit you?",
            "The dizziness stopped after the first week.",
            "Good. Keep taking them in the morning with food.",
        ],
        "Amlodipine 5 mg tolerated, dizziness resolved. Home BP 132/84. Continue; repeat U&E in 3 months.",
    ),
    (
        &[
            "Hello, thanks for joining. Is this a good place to talk?",
            "I'm on my phone at the café, is that okay?",
            "That's fine if you're comfortable talking.",
            "Yes, it's quiet. The migraines are less frequent now.",
        ],
        "Migraine frequency down from 6 to 2 per month on propranolol. Headache diary reviewed. Continue.",
    ),
    (
        &[
            "Morning. How is the knee after physiotherapy?",
            "Still swollen in the evenings.",
            "Can you show me on the camera where it hurts?",
            "Just below the kneecap, here.",
        ],
        "Knee: infrapatellar swelling after activity. No locking. Refer to physiotherapy again; ice and rest.",
    ),
    (
        &[
            "Hello, I have your blood results.",
            "Is everything alright?",
            "Your iron is a little low, which explains the tiredness.",
        ],
        "Ferritin 9. Start ferrous fumarate 210 mg daily; dietary advice given. Recheck FBC in 8 weeks.",
    ),
];

/// The texts such a visit got: the booking's confirmation and the video link, both delivered. The
/// link is a sample's (its key is not a token).
fn texts(tx: &Transaction<'_>, visit: &PastVisit, now: DateTime<Utc>) -> Result<()> {
    let (phone, name): (String, String) =
        tx.query_row("SELECT phone_e164, full_name FROM patients WHERE id = ?1", [&visit.patient], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let first = name.split_whitespace().next().unwrap_or("").to_owned();
    let local = &visit.local_start;
    let sent = [
        (
            "confirmation",
            visit.starts_at - Duration::days(6),
            format!("Hi {first}, your video appointment is booked for {local}. Reply C to confirm."),
        ),
        (
            "invite",
            visit.starts_at - Duration::hours(2),
            format!("Hi {first}, your video visit is at {local}. Join: https://call.clinic.example/call.html#t=sample"),
        ),
    ];
    for (kind, at, body) in sent {
        tx.execute(
            "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_e164, body, segments, encoding, idempotency_key,
                 state, twilio_sid, twilio_status, created_at, updated_at, sent_at, final_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 'gsm7', ?7, 'delivered', ?8, 'delivered', ?9, ?10, ?9, ?11)",
            params![
                Uuid::new_v4().to_string(),
                visit.appointment,
                visit.patient,
                kind,
                phone,
                body,
                format!("demo:{kind}:{}", visit.appointment),
                format!("SM{}", Uuid::new_v4().simple()),
                ts(at),
                ts(now),
                ts(at + Duration::seconds(4))
            ],
        )?;
    }
    Ok(())
}

/// The photo the rash visit's patient sends (drawn for the sample: no one's skin).
const PHOTO: &[u8] = include_bytes!("../../assets/demo/rash-photo.png");

/// The patient's photo in the chat, kept with the record as the attachments fetch would keep it.
fn photo(
    tx: &Transaction<'_>,
    visit: &PastVisit,
    index: i64,
    patient_identity: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let sid = format!("ME{}", Uuid::new_v4().simple());
    let media = serde_json::json!([{ "sid": sid, "content_type": "image/png", "filename": "rash this morning.png",
                                     "size": PHOTO.len() }]);
    tx.execute(
        "INSERT INTO chat_messages (appointment_id, message_index, message_sid, author_identity, author_role, body, media, sent_at)
         VALUES (?1, ?2, ?3, ?4, 'patient', 'Here is a photo from this morning.', ?5, ?6)",
        params![visit.appointment, index, format!("IM{}", Uuid::new_v4().simple()), patient_identity, media.to_string(), ts(at)],
    )?;
    tx.execute(
        "INSERT INTO chat_attachments (media_sid, appointment_id, message_index, filename, content_type, size, state, content, kept_at)
         VALUES (?1, ?2, ?3, 'rash this morning.png', 'image/png', ?4, 'kept', ?5, ?6)",
        params![sid, visit.appointment, index, PHOTO.len() as i64, PHOTO, ts(now)],
    )?;
    Ok(())
}

/// A past, completed video appointment of the sample.
pub(super) struct PastVisit {
    pub appointment: String,
    pub patient: String,
    pub doctor: String,
    pub starts_at: DateTime<Utc>,
    /// "Fri 4 Dec at 16:30", the clinic's time.
    pub local_start: String,
}

/// Adds the consultation record of each visit. Returns how many were added.
pub(super) fn add(tx: &Transaction<'_>, rng: &mut StdRng, visits: &[PastVisit], now: DateTime<Utc>) -> Result<u32> {
    let mut added = 0;
    for visit in visits {
        let doctor_user: String =
            tx.query_row("SELECT user_id FROM doctors WHERE id = ?1", [&visit.doctor], |r| r.get(0))?;
        let (chat, notes) = VISITS[rng.gen_range(0..VISITS.len())];
        let started = visit.starts_at + Duration::seconds(rng.gen_range(-120..180));
        let minutes = rng.gen_range(8..22);
        let ended = started + Duration::minutes(minutes);
        let (doctor_identity, patient_identity) =
            (format!("d-{}", Uuid::new_v4().simple()), format!("p-{}", Uuid::new_v4().simple()));
        tx.execute(
            "INSERT INTO consultations (appointment_id, status, room_name, doctor_identity, patient_identity, start_requested_at,
                 room_sid, conversation_sid, chat_ready_at, started_at, started_by, ended_at, ended_by, notes, notes_updated_at,
                 patient_waiting_since, patient_device_check, created_at, updated_at)
             VALUES (?1, 'completed', ?2, ?3, ?4, ?5, ?6, ?7, ?5, ?5, ?8, ?9, ?8, ?10, ?9, ?11, 'passed', ?12, ?12)",
            params![
                visit.appointment,
                format!("cd-{}", Uuid::new_v4().simple()),
                doctor_identity,
                patient_identity,
                ts(started),
                format!("RM{}", Uuid::new_v4().simple()),
                format!("CH{}", Uuid::new_v4().simple()),
                doctor_user,
                ts(ended),
                notes,
                ts(started - Duration::minutes(rng.gen_range(1..6))),
                ts(now)
            ],
        )?;
        tx.execute(
            "INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by) VALUES (?1, 0, ?2, ?3, ?4)",
            params![visit.appointment, notes, ts(ended), doctor_user],
        )?;
        let seconds = (ended - started).num_seconds();
        for (role, identity, late) in [("doctor", &doctor_identity, 0), ("patient", &patient_identity, 20)] {
            tx.execute(
                "INSERT INTO consultation_participants (appointment_id, participant_sid, identity, role, joined_at, left_at, seconds)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    visit.appointment,
                    format!("PA{}", Uuid::new_v4().simple()),
                    identity,
                    role,
                    ts(started + Duration::seconds(late)),
                    ts(ended),
                    seconds - late
                ],
            )?;
        }
        for (index, body) in chat.iter().enumerate() {
            let (role, identity) =
                if index % 2 == 0 { ("doctor", &doctor_identity) } else { ("patient", &patient_identity) };
            tx.execute(
                "INSERT INTO chat_messages (appointment_id, message_index, message_sid, author_identity, author_role, body, sent_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    visit.appointment,
                    index as i64,
                    format!("IM{}", Uuid::new_v4().simple()),
                    identity,
                    role,
                    body,
                    ts(started + Duration::seconds(40 + 45 * index as i64))
                ],
            )?;
        }
        if chat.first() == VISITS[0].0.first() {
            let at = started + Duration::seconds(40 + 45 * chat.len() as i64);
            photo(tx, visit, chat.len() as i64, &patient_identity, at, now)?;
        }
        texts(tx, visit, now)?;
        added += 1;
    }
    Ok(added)
}
