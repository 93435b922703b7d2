//! The patient's link, made the same way on a one-desk clinic (invite.rs) and on the clinic
//! server (`clinicdesk-server`'s consultations/invite.rs): the call page's address, then `#` and
//! a fragment carrying a token for this one consultation and what the page greets the patient with.
//!
//! Invariants:
//! - The token is the patient's own: the consultation's opaque patient identity, its room and its
//!   chat service, nothing else. It is not valid before [`EARLY_MINUTES`] ahead of the slot (or
//!   now, when the doctor has started) and expires at the slot's end plus
//!   [`TOKEN_MARGIN_MINUTES`]. Twilio refuses tokens that live over 24 hours, so a link can be
//!   made at most that long before it expires.
//! - Everything after `#` stays in the patient's browser (browsers never send the fragment to a
//!   server, so no web server's log sees the token). The page gets no patient data beyond the
//!   first name: the clinic's name and phone, the doctor's name and the appointment's time.
//! - Every link made is audited (a token was minted for the patient): the caller records
//!   [`MintedLink::detail`].

use super::join_steps::TOKEN_MARGIN_MINUTES;
use crate::error::CoreError;
use crate::twilio::config::TwilioAccount;
use crate::twilio::token::{TokenMinter, TokenRequest, TWILIO_MAX_TTL_SECONDS};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

/// A patient's link works from this many minutes before the appointment.
pub const EARLY_MINUTES: i64 = 15;

/// A link for the patient, and when it works.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PatientLink {
    pub url: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

/// When a new link starts to work: [`EARLY_MINUTES`] before the appointment, or at once (the
/// doctor has started, perhaps early).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOpens {
    OnTime,
    Now,
}

/// When a link made at `now` for a slot works: from [`EARLY_MINUTES`] before it (or now) to its
/// end plus the margin, refused when that is over or more than Twilio's 24 hours away.
pub fn link_window(
    now: DateTime<Utc>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), CoreError> {
    let valid_until = ends_at + Duration::minutes(TOKEN_MARGIN_MINUTES);
    if valid_until <= now {
        return Err(CoreError::Conflict(
            "This appointment's time is over, so a link would not work. Book a new appointment to see the patient by video.".into(),
        ));
    }
    if (valid_until - now).num_seconds() > i64::from(TWILIO_MAX_TTL_SECONDS) {
        return Err(CoreError::Conflict(
            "A patient's link can be sent from 24 hours before the appointment ends (Twilio's limit). It goes out with the last reminder, or send it on the day.".into(),
        ));
    }
    Ok(((starts_at - Duration::minutes(EARLY_MINUTES)).max(now), valid_until))
}

/// What the call page greets the patient with: no lookup, no patient data beyond the first name.
pub struct Greeting {
    pub clinic_name: String,
    pub clinic_phone: String,
    pub doctor_name: String,
    pub first_name: String,
}

impl Greeting {
    /// `t` the token, `c` clinic, `p` its phone, `d` doctor, `n` first name, `w` the start (RFC 3339).
    pub fn fragment(&self, token: &str, starts_at: DateTime<Utc>) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("t", token)
            .append_pair("c", &self.clinic_name)
            .append_pair("p", &self.clinic_phone)
            .append_pair("d", &self.doctor_name)
            .append_pair("n", &self.first_name)
            .append_pair("w", &starts_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .finish()
    }
}

/// What a link is made for: the consultation's names (drawn once, the start uses the same) and
/// the appointment's slot.
pub struct LinkPlan<'a> {
    /// The call page's address (checked when it was set).
    pub page: &'a str,
    pub patient: Uuid,
    pub patient_identity: &'a str,
    pub room_name: &'a str,
    /// The consultation's chat service, if the start recorded one (else the account's).
    pub chat_service_sid: Option<&'a str>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// A link made, with the trail's words for the token minted.
pub struct MintedLink {
    pub link: PatientLink,
    pub detail: String,
}

/// Makes the patient's link (see the module's invariants).
pub fn mint_link(
    plan: &LinkPlan<'_>,
    greeting: &Greeting,
    account: &TwilioAccount,
    opens: LinkOpens,
    now: DateTime<Utc>,
) -> Result<MintedLink, CoreError> {
    let (on_time, valid_until) = link_window(now, plan.starts_at, plan.ends_at)?;
    let valid_from = match opens {
        LinkOpens::OnTime => on_time,
        LinkOpens::Now => now,
    };
    let request = TokenRequest {
        identity: plan.patient_identity.to_owned(),
        video_room: Some(plan.room_name.to_owned()),
        chat_service_sid: plan
            .chat_service_sid
            .map(str::to_owned)
            .or_else(|| account.settings.conversations_service_sid.clone()),
        ttl_seconds: (valid_until - now).num_seconds() as u32,
    };
    let token = TokenMinter::new(&account.token_key(), TWILIO_MAX_TTL_SECONDS).mint_not_before(
        &request,
        now.timestamp(),
        valid_from.timestamp(),
    )?;
    let url = format!("{}#{}", plan.page, greeting.fragment(&token, plan.starts_at));
    let detail = format!(
        "patient {}; patient's link, identity {}, valid {} to {}",
        plan.patient,
        plan.patient_identity,
        valid_from.to_rfc3339(),
        valid_until.to_rfc3339()
    );
    Ok(MintedLink { link: PatientLink { url, valid_from, valid_until }, detail })
}

/// Reception's sentence for a patient the link cannot be texted to, from the texts' verdict
/// ("Not texted: …").
pub fn cannot_text_link(verdict: &str) -> CoreError {
    CoreError::Conflict(format!("{}.", verdict.replacen("Not texted: ", "Cannot text the link: ", 1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_link_works_from_a_quarter_before_to_half_an_hour_after_and_at_most_a_day() {
        let at = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2030, 3, d, h, m, 0).unwrap();
        // Sent the evening before a 09:00-09:30 slot: from 08:45 to 10:00.
        assert_eq!(link_window(at(4, 18, 0), at(5, 9, 0), at(5, 9, 30)).unwrap(), (at(5, 8, 45), at(5, 10, 0)));
        // Sent during the slot: from now.
        assert_eq!(link_window(at(5, 9, 10), at(5, 9, 0), at(5, 9, 30)).unwrap(), (at(5, 9, 10), at(5, 10, 0)));
        let over = link_window(at(5, 10, 0), at(5, 9, 0), at(5, 9, 30)).unwrap_err();
        assert!(over.to_string().contains("time is over"), "{over}");
        let early = link_window(at(3, 9, 0), at(5, 9, 0), at(5, 9, 30)).unwrap_err();
        assert!(early.to_string().contains("24 hours"), "{early}");
    }
}
