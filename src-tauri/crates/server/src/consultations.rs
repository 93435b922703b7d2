//! Video consultations for doctors' desks (issue 12): the server holds the clinic's Twilio account,
//! so it makes the room and the chat, mints the doctor's tokens and ends them, by the core's rules
//! and in its words (only the appointment's own doctor, video only, scheduled → in progress →
//! completed once each), with the core's Twilio calls.
//!
//! Invariants (as on a one-desk clinic, core consultations/start.rs and end.rs):
//! - Starting is resumable, never repeated: the intent (room name, identities: random ids) is
//!   committed before the first request to Twilio and every SID as it arrives; Twilio finds the
//!   room and the conversation again by name, so a start stopped half-way (Twilio down, the server
//!   restarted, two of the doctor's computers at once) is continued by the next.
//! - No database connection is held across a request to Twilio.
//! - Start and end lock the appointment's row before deciding, as reception's changes do
//!   (appointments.rs, `stored_for_change`): a consultation never starts on an appointment
//!   cancelled a moment ago, and a running one is never cancelled or moved.
//! - The state goes to every desk's feed; who was in the room and the chat (kept at the end) only
//!   to the doctor's and administrators' desks.

use crate::audit;
use crate::changes;
use crate::error::{Result, ServerError};
use crate::settings;
use crate::staff::Staff;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::appointments::AppointmentStatus;
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::Permission;
use clinicdesk_core::consultations::{
    done_already, failed_at_twilio, in_person, kept_record, only_their_doctor, refusal, state_of, token_lifetime,
    ConsultationState, ConsultationToken, TwilioStep, CHAT_TOKEN_MAX_SECONDS, PATIENT_PERMISSIONS, PATIENT_ROLE, ROOM,
};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sync::wire::{ConsultationAnswer, ConsultationRecordRow, ConsultationRow};
use clinicdesk_core::twilio::token::{mint, TokenKey, TokenRequest, DEFAULT_MAX_TTL_SECONDS};
use clinicdesk_core::twilio::{conversations, rooms};
use deadpool_postgres::Pool;
use serde_json::json;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

/// The appointment facts a consultation depends on.
struct Booking {
    patient_id: Uuid,
    doctor_id: Uuid,
    doctor_user: Uuid,
    doctor_name: String,
    video: bool,
    status: AppointmentStatus,
    ends_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "appointment_id, status, room_name, doctor_identity, patient_identity, start_requested_at, room_sid,
                       conversation_sid, chat_service_sid, started_at, started_by, ended_at, ended_by,
                       earlier_room_sids, chat_ready_at IS NOT NULL";

/// A row of `consultations`, and what only the server uses.
struct Stored {
    row: ConsultationRow,
    earlier_room_sids: Vec<String>,
    chat_ready: bool,
}

fn stored_row(r: &Row) -> Stored {
    Stored {
        row: ConsultationRow {
            appointment_id: r.get(0),
            status: r.get(1),
            room_name: r.get(2),
            doctor_identity: r.get(3),
            patient_identity: r.get(4),
            start_requested_at: r.get(5),
            room_sid: r.get(6),
            conversation_sid: r.get(7),
            chat_service_sid: r.get(8),
            started_at: r.get(9),
            started_by: r.get(10),
            ended_at: r.get(11),
            ended_by: r.get(12),
        },
        earlier_room_sids: r.get(13),
        chat_ready: r.get(14),
    }
}

async fn load(db: &impl GenericClient, appointment: Uuid) -> Result<Option<Stored>> {
    let row = db
        .query_opt(&format!("SELECT {COLUMNS} FROM consultations WHERE appointment_id = $1"), &[&appointment])
        .await?;
    Ok(row.as_ref().map(stored_row))
}

/// The appointment; `lock` holds its row until the transaction ends (as reception's changes do).
async fn booking(db: &impl GenericClient, id: Uuid, lock: bool) -> Result<Booking> {
    let sql = format!(
        "SELECT a.patient_id, a.doctor_id, d.user_id, u.full_name, a.kind, a.status, a.ends_at
         FROM appointments a JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
         WHERE a.id = $1{}",
        if lock { " FOR UPDATE OF a" } else { "" }
    );
    let row = db
        .query_opt(&sql, &[&id])
        .await?
        .ok_or_else(|| CoreError::NotFound("That appointment could not be found.".into()))?;
    Ok(Booking {
        patient_id: row.get(0),
        doctor_id: row.get(1),
        doctor_user: row.get(2),
        doctor_name: row.get(3),
        video: row.get::<_, String>(4) == "video",
        status: AppointmentStatus::parse(row.get(5)),
        ends_at: row.get(6),
    })
}

/// The appointment, if `staff` is its doctor and it is a video appointment (refusals audited).
async fn own(db: &impl GenericClient, staff: &Staff, appointment: Uuid, action: &str) -> Result<Booking> {
    staff.require(db, Permission::RunConsultations).await?;
    let booking = booking(db, appointment, false).await?;
    if booking.doctor_user != staff.user_id {
        let words = only_their_doctor(&booking.doctor_name, action);
        audit::record(
            db,
            Some(staff),
            AuditAction::AccessRefused,
            Some(("appointment", &appointment.to_string())),
            Some(&words),
        )
        .await?;
        return Err(CoreError::Forbidden(words).into());
    }
    if !booking.video {
        return Err(in_person().into());
    }
    Ok(booking)
}

fn state(booking: &Booking, stored: Option<&Stored>) -> ConsultationState {
    state_of(booking.status, stored.map(|s| s.row.status.as_str()))
}

/// The clinic's Twilio account on this server, or the sentence saying there is none.
fn twilio<'a>(texting: Option<&'a Texting>, step: &str) -> Result<&'a Texting> {
    texting.ok_or_else(|| {
        CoreError::Twilio(format!(
            "Video consultations need the clinic's Twilio account on the clinic server, so {step}. Ask your IT person to add it (README, \"Several desks\", step 8). You can write your notes meanwhile."
        ))
        .into()
    })
}

/// A random id Twilio may see and log: it says nothing about anyone.
fn opaque(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

/// The consultation's state, for every desk.
async fn publish(db: &impl GenericClient, row: &ConsultationRow) -> Result<()> {
    let value = serde_json::to_value(row).map_err(|e| ServerError::Setup(e.to_string()))?;
    changes::record(db, "consultation", row.appointment_id, "all", Some(value)).await
}

/// Starts (or continues starting) the consultation: only its doctor.
pub async fn start(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
) -> Result<ConsultationAnswer> {
    let not_started = "the video consultation has not started";
    let stored = {
        let mut client = pool.get().await?;
        own(&**client, staff, appointment, "start").await?;
        let texting_ok = twilio(texting, not_started).map(drop);
        let tx = client.transaction().await?;
        let booking = booking(&*tx, appointment, true).await?;
        let found = load(&*tx, appointment).await?;
        let state = state(&booking, found.as_ref());
        if state != ConsultationState::Scheduled {
            return Err(refusal("start", state).into());
        }
        texting_ok?;
        tx.execute(
            "INSERT INTO consultations (appointment_id, room_name, doctor_identity, patient_identity, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (appointment_id) DO NOTHING",
            &[&appointment, &opaque("cd-"), &opaque("d-"), &opaque("p-"), &now],
        )
        .await?;
        tx.execute(
            "UPDATE consultations SET start_requested_at = coalesce(start_requested_at, $2), updated_at = $2 WHERE appointment_id = $1",
            &[&appointment, &now],
        )
        .await?;
        let stored = load(&*tx, appointment).await?.expect("ensured above");
        // Desks show "starting" meanwhile.
        publish(&*tx, &stored.row).await?;
        tx.commit().await?;
        stored
    };
    let Texting { http, account } = twilio(texting, not_started)?;
    let failed =
        |err: clinicdesk_core::twilio::TwilioError| ServerError::from(failed_at_twilio(&err, TwilioStep::Start));
    let room = rooms::create_or_reuse(http, account, &stored.row.room_name, &ROOM).await.map_err(failed)?;
    remember(
        pool,
        "UPDATE consultations SET room_sid = $2, updated_at = $3 WHERE appointment_id = $1 AND status = 'scheduled'",
        &[&appointment, &room.sid, &now],
    )
    .await?;

    let attributes = json!({ "consultation": stored.row.room_name });
    let chat = conversations::ensure(http, account, &stored.row.room_name, "Consultation", &attributes)
        .await
        .map_err(failed)?;
    remember(
        pool,
        "UPDATE consultations SET conversation_sid = $2, chat_service_sid = coalesce($3, chat_service_sid), updated_at = $4
         WHERE appointment_id = $1 AND status = 'scheduled'",
        &[&appointment, &chat.sid, &chat.chat_service_sid, &now],
    )
    .await?;
    if !(stored.chat_ready && stored.row.conversation_sid.as_deref() == Some(chat.sid.as_str())) {
        // The patient's page writes its own attributes (the waiting room) and chats; nothing more.
        let patient_role =
            conversations::ensure_role(http, account, PATIENT_ROLE, PATIENT_PERMISSIONS).await.map_err(failed)?;
        let doctor = json!({ "role": "doctor" });
        let patient = json!({ "role": "patient" });
        conversations::join(http, account, &chat.sid, &stored.row.doctor_identity, Some(&doctor), None)
            .await
            .map_err(failed)?;
        conversations::join(
            http,
            account,
            &chat.sid,
            &stored.row.patient_identity,
            Some(&patient),
            Some(&patient_role),
        )
        .await
        .map_err(failed)?;
        remember(
            pool,
            "UPDATE consultations SET chat_ready_at = $2, updated_at = $2 WHERE appointment_id = $1 AND status = 'scheduled'",
            &[&appointment, &now],
        )
        .await?;
    }
    mark_started(pool, staff, appointment, now).await
}

/// Records what Twilio gave at once (only while the consultation is still being started): the
/// next step may fail, and the next start must find this one done.
async fn remember(pool: &Pool, sql: &str, values: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<()> {
    pool.get().await?.execute(sql, values).await?;
    Ok(())
}

/// Everything is in place at Twilio: in progress. A start running beside this one (the doctor's
/// other computer) may have got here first; then this one reports the state.
async fn mark_started(pool: &Pool, staff: &Staff, appointment: Uuid, now: DateTime<Utc>) -> Result<ConsultationAnswer> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let booking = booking(&*tx, appointment, true).await?;
    let found = load(&*tx, appointment).await?;
    let state = state(&booking, found.as_ref());
    if state != ConsultationState::Scheduled && state != ConsultationState::InProgress {
        return Err(refusal("start", state).into());
    }
    let changed = tx
        .execute(
            "UPDATE consultations SET status = 'in_progress', started_at = $2, started_by = $3, updated_at = $2
             WHERE appointment_id = $1 AND status = 'scheduled' AND room_sid IS NOT NULL AND conversation_sid IS NOT NULL",
            &[&appointment, &now, &staff.user_id],
        )
        .await?;
    let stored = load(&*tx, appointment).await?.expect("a started consultation has a row");
    if changed == 1 {
        let detail = format!("patient {}; room {}", booking.patient_id, stored.row.room_name);
        audit::record(
            &*tx,
            Some(staff),
            AuditAction::ConsultationStarted,
            Some(("appointment", &appointment.to_string())),
            Some(&detail),
        )
        .await?;
        publish(&*tx, &stored.row).await?;
    }
    tx.commit().await?;
    Ok(ConsultationAnswer { consultation: stored.row, record: None })
}

/// The doctor's token for the running consultation: the room and the chat (`video`; the room is
/// opened again if Twilio closed it), or the chat only (at most an hour). Audited on every mint.
pub async fn token(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    video: bool,
    now: DateTime<Utc>,
) -> Result<ConsultationToken> {
    let (booking, stored) = {
        let client = pool.get().await?;
        let booking = own(&**client, staff, appointment, "join").await?;
        let found = load(&**client, appointment).await?;
        match found {
            Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => (booking, stored),
            other => return Err(refusal("join", state(&booking, other.as_ref())).into()),
        }
    };
    let Texting { http, account } = twilio(texting, "the video consultation cannot be joined from here")?;
    if video {
        let room = rooms::create_or_reuse(http, account, &stored.row.room_name, &ROOM)
            .await
            .map_err(|err| failed_at_twilio(&err, TwilioStep::Join))?;
        if stored.row.room_sid.as_deref() != Some(room.sid.as_str()) {
            // Only if nobody recorded a newer room meanwhile (the SID it replaces is checked).
            let client = pool.get().await?;
            let moved = client
                .query_opt(
                    &format!(
                        "UPDATE consultations SET earlier_room_sids = earlier_room_sids || room_sid, room_sid = $2, updated_at = $4
                         WHERE appointment_id = $1 AND status = 'in_progress' AND room_sid IS NOT DISTINCT FROM $3
                         RETURNING {COLUMNS}"
                    ),
                    &[&appointment, &room.sid, &stored.row.room_sid, &now],
                )
                .await?;
            if let Some(moved) = moved {
                publish(&**client, &stored_row(&moved).row).await?;
            }
        }
    }
    let chat_service_sid =
        stored.row.chat_service_sid.clone().or_else(|| account.settings.conversations_service_sid.clone());
    let ttl_seconds = match video {
        true => token_lifetime(now, booking.ends_at),
        false => token_lifetime(now, booking.ends_at).min(CHAT_TOKEN_MAX_SECONDS),
    };
    let key = TokenKey {
        account_sid: &account.settings.account_sid,
        api_key_sid: &account.settings.api_key_sid,
        api_key_secret: &account.api_key_secret,
        region: None,
    };
    let request = TokenRequest {
        identity: stored.row.doctor_identity.clone(),
        video_room: video.then(|| stored.row.room_name.clone()),
        chat_service_sid: chat_service_sid.clone(),
        ttl_seconds,
    };
    let token = mint(&key, &request, now.timestamp(), DEFAULT_MAX_TTL_SECONDS)?;
    let detail = format!(
        "patient {}; {} token, identity {}, {ttl_seconds} s",
        booking.patient_id,
        if video { "consultation" } else { "chat-only" },
        stored.row.doctor_identity
    );
    let client = pool.get().await?;
    audit::record(
        &**client,
        Some(staff),
        AuditAction::TokenMinted,
        Some(("appointment", &appointment.to_string())),
        Some(&detail),
    )
    .await?;
    Ok(ConsultationToken {
        token,
        identity: stored.row.doctor_identity,
        room: stored.row.room_name,
        patient_identity: stored.row.patient_identity,
        chat_service_sid,
        conversation_sid: stored.row.conversation_sid,
        expires_at: now + Duration::seconds(i64::from(ttl_seconds)),
        ttl_seconds,
    })
}

/// Ends the consultation for everyone and keeps its record (who was in every room it had, the
/// whole chat): only its doctor, only while it runs. Until the last transaction commits it stays
/// in progress, so an end stopped half-way is simply asked for again (every step is harmless to
/// repeat). Unlike a one-desk clinic, a server that cannot reach Twilio does not end it without
/// its record: the doctor presses End again (the words say so).
pub async fn end(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    now: DateTime<Utc>,
) -> Result<ConsultationAnswer> {
    let stored = {
        let client = pool.get().await?;
        let booking = own(&**client, staff, appointment, "end").await?;
        match load(&**client, appointment).await? {
            Some(stored) if state(&booking, Some(&stored)) == ConsultationState::InProgress => stored,
            other => return Err(refusal("end", state(&booking, other.as_ref())).into()),
        }
    };
    let Texting { http, account } = twilio(texting, "the consultation has not finished ending")?;
    let failed = |err: clinicdesk_core::twilio::TwilioError| ServerError::from(failed_at_twilio(&err, TwilioStep::End));
    let room_sid = stored.row.room_sid.clone().unwrap_or_default();
    let chat_sid = stored.row.conversation_sid.clone().unwrap_or_default();
    done_already(rooms::complete(http, account, &room_sid).await).map_err(failed)?;
    done_already(conversations::close(http, account, &chat_sid).await).map_err(failed)?;
    let mut people = Vec::new();
    for sid in stored.earlier_room_sids.iter().chain([&room_sid]) {
        people.extend(rooms::participants(http, account, sid).await.map_err(failed)?);
    }
    let transcript = conversations::transcript(http, account, &chat_sid).await.map_err(failed)?;
    let (participants, chat) =
        kept_record(&stored.row.doctor_identity, &stored.row.patient_identity, &people, &transcript, now);
    let record = ConsultationRecordRow { appointment_id: appointment, participants, chat };
    let to_json = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| ServerError::Setup(e.to_string()));
    let (participants, chat) =
        (to_json(serde_json::to_value(&record.participants))?, to_json(serde_json::to_value(&record.chat))?);

    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let booking = booking(&*tx, appointment, true).await?;
    let ended = tx
        .execute(
            "UPDATE consultations SET status = 'completed', ended_at = $2, ended_by = $3, updated_at = $2,
                    participants = $4, chat = $5
             WHERE appointment_id = $1 AND status = 'in_progress'",
            &[&appointment, &now, &staff.user_id, &participants, &chat],
        )
        .await?;
    if ended == 1 {
        // The visit happened: the appointment is completed too (its waiting texts are then skipped).
        let completed = tx
            .execute(
                "UPDATE appointments SET status = 'completed', version = version + 1, updated_at = $2
                 WHERE id = $1 AND status IN ('scheduled', 'confirmed', 'checked_in')",
                &[&appointment, &now],
            )
            .await?;
        if completed == 1 {
            let tz = settings::time_zone(&*tx).await?;
            changes::appointment(&*tx, &crate::appointments::find(&*tx, appointment, tz).await?).await?;
        }
        let detail = format!(
            "patient {}; {} participant connection(s), {} chat message(s) kept",
            booking.patient_id,
            record.participants.len(),
            record.chat.len()
        );
        audit::record(
            &*tx,
            Some(staff),
            AuditAction::ConsultationEnded,
            Some(("appointment", &appointment.to_string())),
            Some(&detail),
        )
        .await?;
    }
    let stored = load(&*tx, appointment).await?.expect("an ended consultation has a row");
    let kept = kept_of(&*tx, appointment).await?;
    if ended == 1 {
        publish(&*tx, &stored.row).await?;
        if let Some(kept) = &kept {
            let value = serde_json::to_value(kept).map_err(|e| ServerError::Setup(e.to_string()))?;
            changes::record(
                &*tx,
                "consultation_record",
                appointment,
                &format!("doctor:{}", booking.doctor_id),
                Some(value),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(ConsultationAnswer { consultation: stored.row, record: kept })
}

/// The record kept at the end, as stored (another end may have kept it first).
async fn kept_of(db: &impl GenericClient, appointment: Uuid) -> Result<Option<ConsultationRecordRow>> {
    let row = db
        .query_opt(
            "SELECT participants, chat FROM consultations WHERE appointment_id = $1 AND status = 'completed'",
            &[&appointment],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    fn read<T: serde::de::DeserializeOwned>(v: Option<serde_json::Value>) -> Result<Vec<T>> {
        serde_json::from_value(v.unwrap_or(json!([]))).map_err(|e| ServerError::Setup(e.to_string()))
    }
    Ok(Some(ConsultationRecordRow {
        appointment_id: appointment,
        participants: read(row.get(0))?,
        chat: read(row.get(1))?,
    }))
}

/// Whether the appointment's consultation is running (reception may not cancel or move it).
pub async fn running(db: &impl GenericClient, appointment: Uuid) -> Result<bool> {
    Ok(db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM consultations WHERE appointment_id = $1 AND status = 'in_progress')",
            &[&appointment],
        )
        .await?
        .get(0))
}
