//! The patient's link and the video invite text that carries it: the rule once, for a one-desk
//! clinic (invite.rs, over SQLite and its outbox) and the clinic server (`clinicdesk-server`'s
//! consultations/invite.rs, over PostgreSQL and its `sms_notifications`), each implementing
//! [`InviteStore`] inside one transaction, so the token's trail entry, the text and its trail
//! entry commit together or not at all.
//!
//! Rules (the link itself: patient_link.rs):
//! - Only a video appointment whose consultation is scheduled or running ("Cannot invite the
//!   patient to a consultation with status: completed").
//! - Texted only to a patient who can be texted (consent, STOP, a mobile number), checked before a
//!   token is made for nothing; the refusal in reception's words ("Cannot text the link: …").
//! - At the start ([`LinkOpens::Now`]) nothing is texted when an invite went out in the last
//!   [`START_INVITE_QUIET_MINUTES`] (starting again, or reception's invite just before).
//! - One text per key: the caller's key names what it is for (a press of *Text the video link*, a
//!   start, the last reminder for an appointment time); a key already used queues nothing.
//! - Every link made is in the trail (a token was minted for the patient), and every text.

use super::patient_link::{mint_link, Greeting, LinkOpens, LinkPlan, MintedLink};
use super::{in_person, refusal, ConsultationState};
use crate::audit::AuditAction;
use crate::error::CoreError;
use crate::twilio::config::TwilioAccount;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// Minutes within which starting again (or a start right after reception's invite) texts nothing more.
pub const START_INVITE_QUIET_MINUTES: i64 = 10;

/// The appointment as a link needs it, read in the invite's transaction.
#[derive(Debug, Clone)]
pub struct InviteBooking {
    pub patient: Uuid,
    pub patient_name: String,
    pub doctor_name: String,
    pub booking_ref: String,
    pub video: bool,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub state: ConsultationState,
}

/// The consultation's names a link is made for: drawn once (the first link or the start makes
/// them), and the start uses the same.
#[derive(Debug, Clone)]
pub struct LinkNames {
    pub patient_identity: String,
    pub room_name: String,
    /// The consultation's chat service, if the start recorded one (else the account's).
    pub chat_service_sid: Option<String>,
}

/// An invite text as the rule has it queued.
pub struct InviteText<'a> {
    pub key: &'a str,
    pub appointment: Uuid,
    pub patient: Uuid,
    pub to: &'a str,
    pub body: &'a str,
    pub about_starts_at: DateTime<Utc>,
}

/// Where links and invites are kept, inside one transaction.
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait InviteStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;
    /// Whether an invite for the appointment was queued after `since`.
    async fn invited_since(&mut self, appointment: Uuid, since: DateTime<Utc>) -> Result<bool, Self::Error>;
    /// The appointment (not found: refused in words), held until the transaction ends.
    async fn booking(&mut self, appointment: Uuid) -> Result<InviteBooking, Self::Error>;
    /// The patient's mobile number, or the refusal in reception's words (texting not set up,
    /// no consent, STOP, no number: [`super::patient_link::cannot_text_link`]).
    async fn phone_for_link(&mut self, patient: Uuid) -> Result<String, Self::Error>;
    /// The call page's address, or the refusal saying who sets it in this mode.
    async fn call_page(&mut self) -> Result<String, Self::Error>;
    /// The consultation's names, made (scheduled) if it has none yet.
    async fn names(&mut self, appointment: Uuid, now: DateTime<Utc>) -> Result<LinkNames, Self::Error>;
    /// The clinic's name and phone, as the call page greets the patient with them.
    async fn clinic_contact(&mut self) -> Result<(String, String), Self::Error>;
    /// The invite in the clinic's wording, carrying `url`.
    async fn render(&mut self, booking: &InviteBooking, url: &str) -> Result<String, Self::Error>;
    /// Queues the text to go now under its key; `None` when a text has that key already.
    async fn queue(&mut self, text: &InviteText<'_>, now: DateTime<Utc>) -> Result<Option<Uuid>, Self::Error>;
    /// Appends a trail entry about the patient.
    async fn trail(
        &mut self,
        action: AuditAction,
        record: (&str, &str),
        patient: Uuid,
        detail: &str,
    ) -> Result<(), Self::Error>;
}

/// A new link for the patient of `appointment`, audited (no text).
pub async fn make_link<S: InviteStore>(
    store: &mut S,
    account: &TwilioAccount,
    appointment: Uuid,
    opens: LinkOpens,
    now: DateTime<Utc>,
) -> Result<MintedLink, S::Error> {
    let booking = invitable(store, appointment).await?;
    let minted = mint(store, account, appointment, &booking, opens, now).await?;
    let id = appointment.to_string();
    store.trail(AuditAction::TokenMinted, ("appointment", &id), booking.patient, &minted.detail).await?;
    Ok(minted)
}

/// Texts the patient of `appointment` a new link under the key `key(starts_at)`. Returns the
/// text's id; `None` when nothing was queued (an invite at the start just after another, or the
/// key used already).
pub async fn text_link<S: InviteStore>(
    store: &mut S,
    account: &TwilioAccount,
    appointment: Uuid,
    opens: LinkOpens,
    key: impl FnOnce(DateTime<Utc>) -> String,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, S::Error> {
    // The booking first: a store holds the appointment from here (the server locks its row), so
    // two starts, or a start and reception's press, look for each other's invite in turn.
    let booking = invitable(store, appointment).await?;
    if opens == LinkOpens::Now
        && store.invited_since(appointment, now - Duration::minutes(START_INVITE_QUIET_MINUTES)).await?
    {
        return Ok(None);
    }
    let to = store.phone_for_link(booking.patient).await?;
    let minted = mint(store, account, appointment, &booking, opens, now).await?;
    let body = store.render(&booking, &minted.link.url).await?;
    let key = key(booking.starts_at);
    let text = InviteText {
        key: &key,
        appointment,
        patient: booking.patient,
        to: &to,
        body: &body,
        about_starts_at: booking.starts_at,
    };
    let Some(text_id) = store.queue(&text, now).await? else { return Ok(None) };
    let id = appointment.to_string();
    store.trail(AuditAction::TokenMinted, ("appointment", &id), booking.patient, &minted.detail).await?;
    let detail = format!("patient {}; video invite", booking.patient);
    store.trail(AuditAction::TextSent, ("sms", &text_id.to_string()), booking.patient, &detail).await?;
    Ok(Some(text_id))
}

/// The appointment, if a link can be made for it.
async fn invitable<S: InviteStore>(store: &mut S, appointment: Uuid) -> Result<InviteBooking, S::Error> {
    let booking = store.booking(appointment).await?;
    if !booking.video {
        return Err(in_person().into());
    }
    if !matches!(booking.state, ConsultationState::Scheduled | ConsultationState::InProgress) {
        return Err(refusal("invite the patient to", booking.state).into());
    }
    Ok(booking)
}

async fn mint<S: InviteStore>(
    store: &mut S,
    account: &TwilioAccount,
    appointment: Uuid,
    booking: &InviteBooking,
    opens: LinkOpens,
    now: DateTime<Utc>,
) -> Result<MintedLink, S::Error> {
    let page = store.call_page().await?;
    // Refused before the consultation's names are drawn when the slot is over or too far ahead.
    super::patient_link::link_window(now, booking.starts_at, booking.ends_at)?;
    let names = store.names(appointment, now).await?;
    let (clinic_name, clinic_phone) = store.clinic_contact().await?;
    let greeting = Greeting {
        clinic_name,
        clinic_phone,
        doctor_name: booking.doctor_name.clone(),
        first_name: booking.patient_name.split_whitespace().next().unwrap_or("").to_owned(),
    };
    let plan = LinkPlan {
        page: &page,
        patient: booking.patient,
        patient_identity: &names.patient_identity,
        room_name: &names.room_name,
        chat_service_sid: names.chat_service_sid.as_deref(),
        starts_at: booking.starts_at,
        ends_at: booking.ends_at,
    };
    Ok(mint_link(&plan, &greeting, account, opens, now)?)
}
