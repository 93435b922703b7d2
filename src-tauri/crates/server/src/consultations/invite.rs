//! The patient's way in, made on the server: a link to the clinic's call page
//! (`video.call_page_url`) whose fragment carries a token for this consultation only (the
//! patient's random identity, its room and chat), texted with the clinic's video invite wording
//! through the server's outbox, as a one-desk clinic does (the link itself: core consultations/patient_link.rs).
//!
//! - At the start (`on_start`): the link works at once; queued once per start, and not when an
//!   invite went out in the last few minutes. It never fails the start: why not is logged.
//! - By hand (`invite`, the appointment dialog's *Text the video link*): its doctor or staff who
//!   send texts; the link works from a quarter before the slot; refusals in the core's words.
//! - A move before the start draws the consultation's names again and withdraws waiting invites
//!   (`forget_links`), so an old link never opens the new time's room.

use super::{load, opaque, publish, state, COLUMNS};
use crate::appointments;
use crate::audit;
use crate::error::{Result, ServerError};
use crate::settings;
use crate::staff::Staff;
use crate::texts;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::appointment_texts::patient_text_verdict;
use clinicdesk_core::appointment_texts::rules::{parse_reminders, DEFAULT_REMINDERS, KEY_CLINIC_PHONE, KEY_REMINDERS};
use clinicdesk_core::appointment_texts::when::quiet_until;
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::auth::Permission;
use clinicdesk_core::consultations::invite_rule::{self, InviteBooking, InviteStore, InviteText, LinkNames};
use clinicdesk_core::consultations::patient_link::{cannot_text_link, LinkOpens};
use clinicdesk_core::consultations::{KEY_CALL_PAGE_URL, TOKEN_MARGIN_MINUTES};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::sms::templates::TemplateName;
use clinicdesk_core::sms::{segments, TextKind, TextMessage, TextState};
use clinicdesk_core::twilio::token::TWILIO_MAX_TTL_SECONDS;
use deadpool_postgres::Pool;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Texts the patient their link as the doctor starts, unless an invite went out in the last few
/// minutes or it cannot go (logged, no patient data).
pub(super) async fn on_start(pool: &Pool, texting: &Texting, staff: &Staff, appointment: Uuid, now: DateTime<Utc>) {
    // A key per start, as on one desk: a start ten minutes after another texts a new link.
    let key = format!("appointment:{appointment}:invite-at-start:{}", Uuid::new_v4());
    match queue(pool, texting, Some(staff), appointment, LinkOpens::Now, &key, now).await {
        Ok(_) => {}
        Err(ServerError::Rule(e)) => tracing::info!(code = ?e.code(), "no video invite texted at the start"),
        Err(e) => tracing::warn!(error = %e, "the video invite at the start could not be queued"),
    }
}

/// Texts the patient a new link (its doctor, or staff who send texts): a new text each time asked,
/// but once per `request` (a desk's id for one press: asked again after a lost answer, it answers
/// with the text already queued).
pub async fn invite(
    pool: &Pool,
    texting: Option<&Texting>,
    staff: &Staff,
    appointment: Uuid,
    request: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<TextMessage> {
    {
        let client = pool.get().await?;
        let doctor_user: Option<Uuid> = client
            .query_opt(
                "SELECT d.user_id FROM appointments a JOIN doctors d ON d.id = a.doctor_id WHERE a.id = $1",
                &[&appointment],
            )
            .await?
            .map(|r| r.get(0));
        if doctor_user != Some(staff.user_id) {
            staff.require(&**client, Permission::SendTexts).await?;
        }
    }
    let texting = texting.ok_or_else(|| {
        CoreError::Conflict(
            "The clinic server has no Twilio account yet, so no link can be texted. Ask your IT person to add it (README, \"Several desks\", step 8).".into(),
        )
    })?;
    let key = format!("appointment:{appointment}:invite:{}", request.unwrap_or_else(Uuid::new_v4));
    let text = match queue(pool, texting, Some(staff), appointment, LinkOpens::OnTime, &key, now).await? {
        Some(text) => text,
        None => {
            let client = pool.get().await?;
            return queued_under(&**client, &key)
                .await?
                .ok_or_else(|| ServerError::from(CoreError::Conflict("That link was already texted.".into())));
        }
    };
    // The patient may open it early: their page waits in the consultation's chat.
    super::waiting::open(pool, texting, appointment, now).await;
    Ok(text)
}

/// The automatic invite's idempotency key starts so, then names the appointment and its start.
const WITH_REMINDER_KEY: &str = "invite-with-reminder:";

/// Texts the link to every video appointment whose last reminder is due now and that has no invite
/// for its time yet (the elected sender, once a minute), as on one desk (core reminder_link.rs):
/// once per appointment time (the key names it, whatever became of that text), only with a call
/// page, never in quiet hours (it waits for the morning), only to patients who agreed to texts,
/// and only within Twilio's 24 hours. An appointment booked after its last reminder fell due gets
/// it at once. Returns how many were queued; one that cannot go is logged and left.
pub async fn send_links_with_last_reminder(pool: &Pool, texting: &Texting, now: DateTime<Utc>) -> Result<usize> {
    let due: Vec<Uuid> = {
        let client = pool.get().await?;
        let text = settings::get(&**client, KEY_REMINDERS).await?.unwrap_or_else(|| DEFAULT_REMINDERS.into());
        let Some(last) = parse_reminders(&text).unwrap_or_default().iter().map(|r| r.duration()).min() else {
            return Ok(0);
        };
        if settings::get(&**client, KEY_CALL_PAGE_URL).await?.filter(|p| !p.is_empty()).is_none() {
            return Ok(0);
        }
        let tz = settings::time_zone(&**client).await?;
        if quiet_until(texts::quiet_hours(&**client).await?, now, tz).is_some() {
            return Ok(0);
        }
        let latest_end =
            now + Duration::seconds(i64::from(TWILIO_MAX_TTL_SECONDS)) - Duration::minutes(TOKEN_MARGIN_MINUTES);
        client
            .query(
                "SELECT a.id FROM appointments a
                 JOIN patients p ON p.id = a.patient_id
                 LEFT JOIN consultations c ON c.appointment_id = a.id
                 WHERE a.kind = 'video' AND a.status IN ('scheduled', 'confirmed')
                   AND a.starts_at > $1 AND a.starts_at <= $2 AND a.ends_at <= $3
                   AND coalesce(c.status, 'scheduled') = 'scheduled'
                   AND p.sms_consent AND p.opted_out_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM sms_notifications n
                                   WHERE n.appointment_id = a.id AND n.kind = 'invite'
                                     AND n.about_starts_at = a.starts_at AND n.state <> 'skipped')
                   AND NOT EXISTS (SELECT 1 FROM sms_notifications n
                                   WHERE n.idempotency_key = $4 || a.id::text || ':' || to_char(a.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))
                 ORDER BY a.starts_at",
                &[&now, &(now + last), &latest_end, &WITH_REMINDER_KEY],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let mut queued = 0;
    for appointment in due {
        let starts_at: DateTime<Utc> = {
            let client = pool.get().await?;
            client.query_one("SELECT starts_at FROM appointments WHERE id = $1", &[&appointment]).await?.get(0)
        };
        let key = format!("{WITH_REMINDER_KEY}{appointment}:{}", starts_at.format("%Y-%m-%dT%H:%M:%SZ"));
        match queue(pool, texting, None, appointment, LinkOpens::OnTime, &key, now).await {
            Ok(Some(_)) => queued += 1,
            Ok(None) => {}
            Err(ServerError::Rule(e)) => tracing::info!(code = ?e.code(), "no video link sent with the last reminder"),
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}

/// Links and invites' [`InviteStore`] over PostgreSQL, in one transaction.
struct PgInvites<'a, C> {
    db: &'a C,
    staff: Option<&'a Staff>,
}

impl<C: GenericClient + Sync> InviteStore for PgInvites<'_, C> {
    type Error = ServerError;

    async fn invited_since(&mut self, appointment: Uuid, since: DateTime<Utc>) -> Result<bool> {
        Ok(self
            .db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM sms_notifications WHERE appointment_id = $1 AND kind = 'invite' AND created_at > $2)",
                &[&appointment, &since],
            )
            .await?
            .get(0))
    }

    async fn booking(&mut self, appointment: Uuid) -> Result<InviteBooking> {
        // Held until the text is queued: a move waits for it (and then withdraws it).
        let booking = super::booking(self.db, appointment, true).await?;
        let consultation = load(self.db, appointment).await?;
        let tz = settings::time_zone(self.db).await?;
        let a = appointments::find(self.db, appointment, tz).await?;
        Ok(InviteBooking {
            patient: a.patient_id,
            patient_name: a.patient_name,
            doctor_name: a.doctor_name,
            booking_ref: a.booking_ref,
            video: booking.video,
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            state: state(&booking, consultation.as_ref()),
        })
    }

    async fn phone_for_link(&mut self, patient: Uuid) -> Result<String> {
        let tz = settings::time_zone(self.db).await?;
        let row = self
            .db
            .query_one("SELECT phone, sms_consent, opted_out_at FROM patients WHERE id = $1", &[&patient])
            .await?;
        let (phone, consent, opted_out): (Option<String>, bool, Option<DateTime<Utc>>) =
            (row.get(0), row.get(1), row.get(2));
        if let Some(why) = patient_text_verdict(consent, opted_out, tz) {
            return Err(cannot_text_link(&why).into());
        }
        Ok(phone
            .ok_or_else(|| CoreError::Conflict("Cannot text the link: the patient has no mobile number.".into()))?)
    }

    async fn call_page(&mut self) -> Result<String> {
        Ok(settings::get(self.db, KEY_CALL_PAGE_URL).await?.filter(|p| !p.is_empty()).ok_or_else(|| {
            CoreError::Conflict(
                "There is no call page for patients yet. Ask your IT person to set it on the clinic server (clinicdesk-server settings set video.call_page_url …).".into(),
            )
        })?)
    }

    async fn names(&mut self, appointment: Uuid, now: DateTime<Utc>) -> Result<LinkNames> {
        let consultation = ensure(self.db, appointment, now).await?;
        Ok(LinkNames {
            patient_identity: consultation.row.patient_identity,
            room_name: consultation.row.room_name,
            chat_service_sid: consultation.row.chat_service_sid,
        })
    }

    async fn clinic_contact(&mut self) -> Result<(String, String)> {
        Ok((
            settings::get(self.db, settings::CLINIC_NAME).await?.unwrap_or_default(),
            settings::get(self.db, KEY_CLINIC_PHONE).await?.unwrap_or_default(),
        ))
    }

    async fn render(&mut self, booking: &InviteBooking, url: &str) -> Result<String> {
        texts::render(
            self.db,
            TemplateName::VideoInvite,
            &booking.patient_name,
            &booking.doctor_name,
            &booking.booking_ref,
            booking.starts_at,
            Some(url.to_owned()),
        )
        .await
    }

    async fn queue(&mut self, text: &InviteText<'_>, now: DateTime<Utc>) -> Result<Option<Uuid>> {
        let (segments, encoding) = texts::counted(text.body);
        Ok(self
            .db
            .query_opt(
                "INSERT INTO sms_notifications (id, appointment_id, patient_id, kind, to_phone, body, idempotency_key, state,
                                                next_attempt_at, about_starts_at, created_at, updated_at, news_before,
                                                segments, encoding)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $8, $8, $9, $10, $11)
                 ON CONFLICT (idempotency_key) DO NOTHING
                 RETURNING id",
                &[
                    &Uuid::new_v4(),
                    &text.appointment,
                    &text.patient,
                    &TextKind::Invite.as_str(),
                    &text.to,
                    &text.body,
                    &text.key,
                    &now,
                    &text.about_starts_at,
                    &segments,
                    &encoding,
                ],
            )
            .await?
            .map(|r| r.get(0)))
    }

    async fn trail(&mut self, action: AuditAction, record: (&str, &str), _patient: Uuid, detail: &str) -> Result<()> {
        audit::record(self.db, self.staff, action, Some(record), Some(detail)).await?;
        Ok(())
    }
}

/// Makes the link and queues the invite under `key` (invite_rule.rs), in one transaction; `None`
/// if nothing was queued (a text under that key exists already, or an invite just went out before
/// a start).
async fn queue(
    pool: &Pool,
    texting: &Texting,
    staff: Option<&Staff>,
    appointment: Uuid,
    opens: LinkOpens,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<TextMessage>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let mut store = PgInvites { db: &*tx, staff };
    let queued =
        invite_rule::text_link(&mut store, &texting.account, appointment, opens, |_| key.to_owned(), now).await?;
    if queued.is_none() {
        return Ok(None);
    }
    tx.commit().await?;
    // As staff see it, read back as a repeated request would be: the link without its key.
    queued_under(&**client, key).await
}

/// The invite queued under `key`, as staff see it (the link without its key).
async fn queued_under(db: &impl GenericClient, key: &str) -> Result<Option<TextMessage>> {
    let Some(r) = db
        .query_opt(
            "SELECT id, to_phone, body, state, twilio_sid, error_code, error_message, attempts, patient_id,
                    appointment_id, created_at, sent_at
             FROM sms_notifications WHERE idempotency_key = $1 AND kind = 'invite'",
            &[&key],
        )
        .await?
    else {
        return Ok(None);
    };
    let body: String = r.get(2);
    let count = segments::count(&body);
    Ok(Some(
        TextMessage {
            id: r.get(0),
            kind: TextKind::Invite,
            to: r.get(1),
            body,
            segments: count.segments,
            encoding: count.encoding,
            state: TextState::parse(r.get(3)).unwrap_or(TextState::Pending),
            twilio_sid: r.get(4),
            twilio_status: None,
            error_code: r.get::<_, Option<i32>>(5).and_then(|c| u32::try_from(c).ok()),
            error_message: r.get(6),
            attempts: u32::try_from(r.get::<_, i32>(7)).unwrap_or(0),
            patient_id: r.get(8),
            appointment_id: r.get(9),
            created_at: r.get(10),
            sent_at: r.get(11),
            final_at: None,
        }
        .as_shown(),
    ))
}

/// The consultation's row, made (scheduled, with its random names) if it has none yet: the link's
/// identity and room are the ones the start will use.
async fn ensure(db: &impl GenericClient, appointment: Uuid, now: DateTime<Utc>) -> Result<super::Stored> {
    let made = db
        .execute(
            "INSERT INTO consultations (appointment_id, room_name, doctor_identity, patient_identity, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (appointment_id) DO NOTHING",
            &[&appointment, &opaque("cd-"), &opaque("d-"), &opaque("p-"), &now],
        )
        .await?;
    let stored = load(db, appointment).await?.expect("ensured above");
    if made == 1 {
        publish(db, &stored.row).await?;
    }
    Ok(stored)
}

/// The appointment moved (in the caller's transaction): until a start made the room, the
/// consultation's names are drawn again and invites still waiting are withdrawn, so a link made
/// for the old time names a room and an identity nobody uses any more.
pub async fn forget_links(db: &impl GenericClient, appointment: Uuid, now: DateTime<Utc>) -> Result<()> {
    let redrawn = db
        .query_opt(
            &format!(
                "UPDATE consultations SET room_name = $2, doctor_identity = $3, patient_identity = $4, conversation_sid = NULL,
                        doctor_participant_sid = NULL, chat_ready_at = NULL, updated_at = $5
                 WHERE appointment_id = $1 AND status = 'scheduled' AND room_sid IS NULL
                 RETURNING {COLUMNS}"
            ),
            &[&appointment, &opaque("cd-"), &opaque("d-"), &opaque("p-"), &now],
        )
        .await?;
    if let Some(row) = redrawn {
        publish(db, &super::stored_row(&row).row).await?;
    }
    db.execute(
        "UPDATE sms_notifications SET state = 'skipped', updated_at = $2,
                error_message = 'Withdrawn: the appointment moved before this link went out. Send the link again.'
         WHERE appointment_id = $1 AND kind = 'invite' AND state = 'pending' AND NOT needs_reconcile",
        &[&appointment, &now],
    )
    .await?;
    Ok(())
}
