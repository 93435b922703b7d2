//! The patient's video invite text on a one-desk clinic: a new link (made as on the clinic
//! server: patient_link.rs, read with its invariants) in the clinic's invite wording, through the
//! outbox; by hand, at the start, and with the last reminder (reminder_link.rs). And the clinic's
//! call page setting.

use super::access;
use super::invite_rule::{self, InviteBooking, InviteStore, InviteText, LinkNames};
use super::patient_link::{cannot_text_link, LinkOpens, PatientLink};
use super::reminder_link::Sender;
use super::store;
use super::words::Step;
use super::Consultations;
use crate::appointment_texts::context::{self, Ctx};
use crate::audit::{self, AuditAction};
use crate::auth::Caller;
use crate::error::{CoreError, Result};
use crate::sms::templates::{self, TemplateData};
use crate::sms::{outbox, NewText, TextKind, TextMessage};
use chrono::{DateTime, Utc};
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

/// Links and invites' [`InviteStore`] over the embedded SQLite file and its outbox, in one
/// immediate transaction.
struct SqliteInvites<'a> {
    tx: &'a Connection,
    ctx: Ctx,
    sender: Sender<'a>,
    now: DateTime<Utc>,
}

impl InviteStore for SqliteInvites<'_> {
    type Error = CoreError;

    async fn invited_since(&mut self, appointment: Uuid, since: DateTime<Utc>) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sms_notifications WHERE appointment_id = ?1 AND kind = 'invite' AND created_at > ?2)",
            )?
            .query_row(rusqlite::params![appointment.to_string(), crate::db::ts(since)], |r| r.get(0))?)
    }

    async fn booking(&mut self, appointment: Uuid) -> Result<InviteBooking> {
        let booking = access::booking(self.tx, appointment)?;
        let state = store::state(booking.status, store::load(self.tx, appointment)?.as_ref());
        let booking_ref: String = self
            .tx
            .prepare_cached("SELECT booking_ref FROM appointments WHERE id = ?1")?
            .query_row([appointment.to_string()], |r| r.get(0))?;
        Ok(InviteBooking {
            patient: booking.patient_id,
            patient_name: crate::patients::find(self.tx, booking.patient_id)?.full_name,
            doctor_name: booking.doctor_name,
            booking_ref,
            video: booking.video,
            starts_at: booking.starts_at,
            ends_at: booking.ends_at,
            state,
        })
    }

    async fn phone_for_link(&mut self, patient: Uuid) -> Result<String> {
        can_text(self.tx, &self.ctx, patient)?;
        context::patient_phone(self.tx, patient)
    }

    async fn call_page(&mut self) -> Result<String> {
        call_page_url(self.tx)?.ok_or_else(no_call_page)
    }

    async fn names(&mut self, appointment: Uuid, now: DateTime<Utc>) -> Result<LinkNames> {
        let record = store::ensure(self.tx, appointment, now)?;
        Ok(LinkNames {
            patient_identity: record.patient_identity,
            room_name: record.room_name,
            chat_service_sid: record.chat_service_sid,
        })
    }

    async fn clinic_contact(&mut self) -> Result<(String, String)> {
        Ok((self.ctx.clinic_name.clone(), self.ctx.rules.clinic_phone.clone()))
    }

    async fn render(&mut self, booking: &InviteBooking, url: &str) -> Result<String> {
        let (date, time) = templates::format_when(booking.starts_at, self.ctx.tz, &self.ctx.country);
        let data = TemplateData {
            patient_first_name: booking.patient_name.split_whitespace().next().unwrap_or("").to_owned(),
            clinic_name: self.ctx.clinic_name.clone(),
            clinic_phone: self.ctx.rules.clinic_phone.clone(),
            doctor_name: booking.doctor_name.clone(),
            date,
            time,
            booking_ref: booking.booking_ref.clone(),
            video_link: Some(url.to_owned()),
        };
        templates::render(self.tx, TextKind::Invite, &data)
    }

    async fn queue(&mut self, text: &InviteText<'_>, now: DateTime<Utc>) -> Result<Option<Uuid>> {
        let new = NewText {
            kind: TextKind::Invite,
            to: text.to.to_owned(),
            body: text.body.to_owned(),
            patient_id: Some(text.patient),
            appointment_id: Some(text.appointment),
            idempotency_key: text.key.to_owned(),
            due_at: now,
            about_starts_at: Some(text.about_starts_at),
            reminder_rule: None,
        };
        let (id, added) = outbox::enqueue(self.tx, now, self.sender.user_id(), &new, true)?;
        Ok(added.then_some(id))
    }

    async fn trail(&mut self, action: AuditAction, record: (&str, &str), patient: Uuid, detail: &str) -> Result<()> {
        audit::record_actor_for_patient(self.tx, self.now, self.sender.actor(), action, record, patient, Some(detail))
    }
}

impl Consultations<'_> {
    /// A new link for the patient of `appointment` (its doctor, or staff who send texts). Refused
    /// with a sentence when there is no call page yet, when the appointment is over or not a
    /// video one, and when it is further ahead than a link can live (invite_rule.rs).
    pub fn patient_link(&self, caller: &Caller, appointment: Uuid) -> Result<PatientLink> {
        let sender = Sender::Staff(caller);
        sender.booking(self.clinic, appointment)?;
        let account = self.account(Step::Invite)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut store = SqliteInvites { tx: &tx, ctx: Ctx::read(&tx)?, sender, now };
        let minted =
            crate::db::at_once(invite_rule::make_link(&mut store, &account, appointment, LinkOpens::OnTime, now))?;
        tx.commit()?;
        Ok(minted.link)
    }

    /// Texts the patient a new link (the clinic's video invite template): on demand from the
    /// appointment, by its doctor or staff who send texts. Each call is a new text; it is withdrawn
    /// unsent if the appointment moves first (its link would be for the old time).
    pub fn invite(&self, caller: &Caller, appointment: Uuid) -> Result<TextMessage> {
        self.invite_opening(Sender::Staff(caller), appointment, LinkOpens::OnTime)?
            .ok_or_else(|| CoreError::Conflict("That link was already texted.".into()))
    }

    /// The invite text with a new link, by `sender` (invite_rule.rs): a new text each time staff
    /// ask; ClinicDesk's own (with the last reminder) once per appointment time. `None`: nothing
    /// was queued (that time's automatic invite exists, or one went out just before a start).
    pub(super) fn invite_opening(
        &self,
        sender: Sender<'_>,
        appointment: Uuid,
        opens: LinkOpens,
    ) -> Result<Option<TextMessage>> {
        sender.booking(self.clinic, appointment)?;
        // Refusals in the clinic server's order: Twilio, then the rule's (state, patient, page, time).
        let account = self.account(Step::Invite)?;
        let now = self.clinic.now();
        let mut conn = self.clinic.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut store = SqliteInvites { tx: &tx, ctx: Ctx::read(&tx)?, sender, now };
        let key = |starts_at| sender.idempotency_key(appointment, starts_at);
        let Some(id) = crate::db::at_once(invite_rule::text_link(&mut store, &account, appointment, opens, key, now))?
        else {
            return Ok(None);
        };
        // As staff see it: the link without its key (the outbox keeps the whole text to send).
        let queued = outbox::find(&tx, id)?.as_shown();
        tx.commit()?;
        Ok(Some(queued))
    }
}

impl Consultations<'_> {
    /// Once a start has put the consultation in progress: texts the patient the link (the video
    /// invite: the appointment and the link, working at once: a patient texted as the doctor
    /// starts must not be told the link opens later), unless an invite went out in the last few
    /// minutes. It never fails the start: a clinic without a call page, a patient who cannot be
    /// texted, are the doctor's to handle by phone; why is logged (as a code, no patient data).
    pub(super) fn invite_on_start(&self, caller: &Caller, appointment: Uuid) {
        if let Err(err) = self.invite_opening(Sender::Staff(caller), appointment, LinkOpens::Now) {
            tracing::info!(code = ?err.code(), "no video invite texted at the start");
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
