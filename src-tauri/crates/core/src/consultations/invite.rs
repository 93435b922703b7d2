//! The patient's video invite text on a one-desk clinic: a new link (made as on the clinic
//! server: patient_link.rs, read with its invariants) in the clinic's invite wording, through the
//! outbox; by hand, at the start, and with the last reminder (reminder_link.rs). And the clinic's
//! call page setting.

use super::access::{self, Booking};
use super::patient_link::{cannot_text_link, link_window, mint_link, Greeting, LinkOpens, LinkPlan, PatientLink};
use super::reminder_link::Sender;
use super::start_steps::refusal;
use super::store;
use super::words::Step;
use super::{ConsultationState, Consultations};
use crate::appointment_texts::context::{self, Ctx};
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::error::{CoreError, Result};
use crate::sms::templates::{self, TemplateData};
use crate::sms::{outbox, NewText, TextKind, TextMessage};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// The setting that holds the published call page's address (publishing fills it in; a clinic
/// hosting the page itself sets it).
pub const KEY_CALL_PAGE_URL: &str = "video.call_page_url";

/// The clinic's video settings (Settings → Video).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct VideoSettings {
    /// Where patients' links point; empty until the page is published or an address is set.
    pub call_page_url: String,
    /// When the page was last published to the clinic's Twilio account (never: `None`).
    pub published_at: Option<DateTime<Utc>>,
    /// How many days consultation chats are kept after the end; `None`: kept.
    pub chat_retention_days: Option<u32>,
}

impl Consultations<'_> {
    /// A new link for the patient of `appointment` (its doctor, or staff who send texts). Refused
    /// with a sentence when there is no call page yet, when the appointment is over or not a
    /// video one, and when it is further ahead than a link can live.
    pub fn patient_link(&self, caller: &Caller, appointment: Uuid) -> Result<PatientLink> {
        self.link_opening(Sender::Staff(caller), appointment, LinkOpens::OnTime)
    }

    fn link_opening(&self, sender: Sender<'_>, appointment: Uuid, opens: LinkOpens) -> Result<PatientLink> {
        let booking = sender.booking(self.clinic, appointment)?;
        let page = call_page_url(&*self.clinic.db().conn()?)?.ok_or_else(no_call_page)?;
        let account = self.account(Step::Invite)?;
        let now = self.clinic.now();
        // Refused before any write when the slot is over or too far ahead.
        link_window(now, booking.starts_at, booking.ends_at)?;

        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fresh = access::booking(&tx, booking.id)?;
        let state = store::state(fresh.status, store::load(&tx, booking.id)?.as_ref());
        if !matches!(state, ConsultationState::Scheduled | ConsultationState::InProgress) {
            return Err(refusal("invite the patient to", state));
        }
        // The identities and the room's name exist from the first link on; starting uses the same.
        let record = store::ensure(&tx, booking.id, now)?;
        let plan = LinkPlan {
            page: &page,
            patient: booking.patient_id,
            patient_identity: &record.patient_identity,
            room_name: &record.room_name,
            chat_service_sid: record.chat_service_sid.as_deref(),
            starts_at: booking.starts_at,
            ends_at: booking.ends_at,
        };
        let minted = mint_link(&plan, &greeting_of(&tx, &booking)?, &account, opens, now)?;
        audit::record_actor_for_patient(
            &tx,
            now,
            sender.actor(),
            AuditAction::TokenMinted,
            ("appointment", &booking.id.to_string()),
            booking.patient_id,
            Some(&minted.detail),
        )?;
        tx.commit()?;
        Ok(minted.link)
    }
}

impl Consultations<'_> {
    /// Texts the patient a new link (the clinic's video invite template): on demand from the
    /// appointment, by its doctor or staff who send texts. Each call is a new text; it is withdrawn
    /// unsent if the appointment moves first (its link would be for the old time).
    pub fn invite(&self, caller: &Caller, appointment: Uuid) -> Result<TextMessage> {
        self.invite_opening(Sender::Staff(caller), appointment, LinkOpens::OnTime)
    }

    /// The invite text with a new link, by `sender`: a new text each time staff ask; ClinicDesk's
    /// own (with the last reminder) once per appointment time.
    pub(super) fn invite_opening(
        &self,
        sender: Sender<'_>,
        appointment: Uuid,
        opens: LinkOpens,
    ) -> Result<TextMessage> {
        // Whether the patient can be texted at all, before a token is made for nothing.
        let starts_at = {
            let conn = self.clinic.db().conn()?;
            let booking = sender.booking(self.clinic, appointment)?;
            can_text(&conn, &Ctx::read(&conn)?, booking.patient_id)?;
            booking.starts_at
        };
        let link = self.link_opening(sender, appointment, opens)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ctx = Ctx::read(&tx)?;
        let booking = access::booking(&tx, appointment)?;
        // Moved between the link and now: the link names the old time's room (a move draws new
        // names), so it is not sent.
        if booking.starts_at != starts_at {
            return Err(CoreError::Conflict(
                "The appointment moved while its link was being made. Send the link again.".into(),
            ));
        }
        can_text(&tx, &ctx, booking.patient_id)?;
        let (date, time) = templates::format_when(booking.starts_at, ctx.tz, &ctx.country);
        let greeting = greeting_of(&tx, &booking)?;
        let booking_ref: String =
            tx.query_row("SELECT booking_ref FROM appointments WHERE id = ?1", [appointment.to_string()], |r| {
                r.get(0)
            })?;
        let data = TemplateData {
            patient_first_name: greeting.first_name,
            clinic_name: greeting.clinic_name,
            clinic_phone: greeting.clinic_phone,
            doctor_name: greeting.doctor_name,
            date,
            time,
            booking_ref,
            video_link: Some(link.url),
        };
        let text = NewText {
            kind: TextKind::Invite,
            to: context::patient_phone(&tx, booking.patient_id)?,
            body: templates::render(&tx, TextKind::Invite, &data)?,
            patient_id: Some(booking.patient_id),
            appointment_id: Some(appointment),
            idempotency_key: sender.idempotency_key(appointment, booking.starts_at),
            due_at: now,
            about_starts_at: Some(booking.starts_at),
            reminder_rule: None,
        };
        let (id, _) = outbox::enqueue(&tx, now, sender.user_id(), &text, true)?;
        audit::record_actor_for_patient(
            &tx,
            now,
            sender.actor(),
            AuditAction::TextSent,
            ("sms", &id.to_string()),
            booking.patient_id,
            Some(&format!("patient {}; video invite", booking.patient_id)),
        )?;
        // As staff see it: the link without its key (the outbox keeps the whole text to send).
        let queued = outbox::find(&tx, id)?.as_shown();
        tx.commit()?;
        Ok(queued)
    }
}

/// Minutes within which starting again (or a start right after reception's invite) texts nothing more.
pub const START_INVITE_QUIET_MINUTES: i64 = 10;

impl Consultations<'_> {
    /// Once a start has put the consultation in progress: texts the patient the link (the video
    /// invite: the appointment and the link), unless an invite went out in the last
    /// few minutes. It never fails the start: a clinic without a call page, a patient who cannot be
    /// texted, are the doctor's to handle by phone; why is logged (as a code, no patient data).
    pub(super) fn invite_on_start(&self, caller: &Caller, appointment: Uuid) {
        let since = self.clinic.now() - Duration::minutes(START_INVITE_QUIET_MINUTES);
        let recent = self.clinic.db().conn().and_then(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sms_notifications
                     WHERE appointment_id = ?1 AND kind = 'invite' AND created_at > ?2)",
                )?
                .query_row(rusqlite::params![appointment.to_string(), crate::db::ts(since)], |r| r.get::<_, bool>(0))?)
        });
        match recent {
            Ok(true) => {}
            Ok(false) => {
                // The doctor is ready now, maybe well before the appointment: this link works at once
                // (a patient texted as the doctor starts must not be told the link opens later).
                if let Err(err) = self.invite_opening(Sender::Staff(caller), appointment, LinkOpens::Now) {
                    tracing::info!(code = ?err.code(), "no video invite texted at the start");
                }
            }
            Err(err) => tracing::warn!(code = ?err.code(), "could not check for a recent video invite"),
        }
    }
}

/// Refuses, with reception's sentence, a patient who cannot be texted (or texting not set up).
fn can_text(conn: &Connection, ctx: &Ctx, patient: Uuid) -> Result<()> {
    if !ctx.texting_set_up {
        return Err(CoreError::Conflict(
            "Texting is not set up yet: an administrator connects Twilio in Settings.".into(),
        ));
    }
    match context::patient_verdict(conn, patient, ctx.tz)? {
        Some(why) => Err(cannot_text_link(&why)),
        None => Ok(()),
    }
}

impl Consultations<'_> {
    /// The video settings: everyone signed in may read them (the dialog says whether links can go).
    pub fn video_settings(&self, _caller: &Caller) -> Result<VideoSettings> {
        let conn = self.clinic.db().conn()?;
        let published_at = conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([crate::call_page::KEY_PUBLISHED_AT], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.with_timezone(&Utc));
        Ok(VideoSettings {
            call_page_url: call_page_url(&conn)?.unwrap_or_default(),
            published_at,
            chat_retention_days: super::retention::chat_retention_days(&conn)?,
        })
    }

    /// Sets the call page's address (administrators; checked and audited).
    pub fn update_video_settings(&self, caller: &Caller, call_page_url: &str) -> Result<VideoSettings> {
        set_call_page_url(self.clinic, caller, call_page_url)?;
        self.video_settings(caller)
    }
}

/// What the call page greets the patient with, from the clinic's settings and the patient.
fn greeting_of(conn: &Connection, booking: &Booking) -> Result<Greeting> {
    let ctx = Ctx::read(conn)?;
    let patient = crate::patients::find(conn, booking.patient_id)?;
    Ok(Greeting {
        clinic_name: ctx.clinic_name,
        clinic_phone: ctx.rules.clinic_phone,
        doctor_name: booking.doctor_name.clone(),
        first_name: patient.full_name.split_whitespace().next().unwrap_or("").to_owned(),
    })
}

/// Sets (or, empty, clears) the call page's address: administrators only, audited.
pub(crate) fn set_call_page_url(clinic: &crate::Clinic, caller: &Caller, value: &str) -> Result<()> {
    caller.require(crate::auth::Permission::ManageSettings)?;
    // A desk's copy is the clinic server's (links are made there).
    crate::sync::pending::refuse_on_desk(&*clinic.db().conn()?, crate::sync::pending::ServerKeeps::VideoSettings)?;
    let now = clinic.now();
    let mut conn = clinic.db().conn()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut store = crate::settings::store::SqliteSettings { conn: &tx, caller, now };
    crate::db::at_once(crate::settings::store::change(&mut store, KEY_CALL_PAGE_URL, value))?;
    tx.commit()?;
    Ok(())
}

/// The call page's address, if the clinic has one.
pub(crate) fn call_page_url(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([KEY_CALL_PAGE_URL], |r| r.get::<_, String>(0))
        .optional()?
        .filter(|url| !url.is_empty()))
}

fn no_call_page() -> CoreError {
    CoreError::Conflict(
        "There is no call page for patients yet. An administrator publishes it in Settings (Video), or runs 'clinicdesk call-page publish'.".into(),
    )
}

/// Checks an address for the call page: https (cameras need a secure page), or http on this
/// computer for testing; no query or fragment (the link's fragment is added to it).
pub fn check_call_page_url(text: &str) -> Result<String> {
    let bad = |why: &str| CoreError::invalid("call_page_url", why.to_owned());
    let text = text.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    let url =
        url::Url::parse(text).map_err(|_| bad("Enter the full address of the call page, starting with https://."))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return Err(bad("The call page must be on https://: browsers only give a secure page the camera.")),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("Enter the page's address without anything after ? or #, and without a user name."));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_page_must_be_secure_and_plain() {
        assert_eq!(check_call_page_url(" https://clinic.example/video/ ").unwrap(), "https://clinic.example/video/");
        assert_eq!(check_call_page_url("http://127.0.0.1:8080/call.html").unwrap(), "http://127.0.0.1:8080/call.html");
        assert_eq!(check_call_page_url("").unwrap(), "", "empty clears it");
        for bad in [
            "http://clinic.example/call.html",
            "ftp://clinic.example/",
            "clinic.example",
            "https://clinic.example/call.html?x=1",
            "https://clinic.example/call.html#t=1",
            "https://user:pw@clinic.example/",
            "javascript:alert(1)",
        ] {
            assert_eq!(check_call_page_url(bad).unwrap_err().field(), Some("call_page_url"), "{bad}");
        }
    }
}
