//! The link with the last reminder: a video appointment's patient gets the video invite (their
//! link) by themselves when the clinic's last reminder before the appointment falls due, so nobody
//! at the desk has to remember to send it. The outbox worker asks each pass
//! ([`Consultations::send_links_with_last_reminder`]).
//!
//! Invariants:
//! - Once per appointment time: the text's idempotency key names the appointment and its start,
//!   and an invite already made for that time (by reception, the doctor's start, or an earlier
//!   pass) means none is made. A move makes a new time, so the moved appointment gets its own.
//! - Only when it can work and is welcome: a video appointment still to come, not started, whose
//!   patient agreed to texts and did not opt out, with a call page set, outside quiet hours (it
//!   waits for the morning, unless the appointment is before then). An appointment booked after its
//!   last reminder fell due gets it at once: its confirmation cannot carry a link.
//! - Tried once per appointment time: the key is looked for whatever became of that text (skipped,
//!   failed), so a text the outbox refused is not made again every pass.
//! - The token is minted when the text is made, never further ahead than Twilio's 24 hours (only
//!   appointments whose link would expire within them are looked at).

use super::access::{self, Booking};
use super::invite::call_page_url;
use super::patient_link::LinkOpens;
use super::Consultations;
use super::TOKEN_MARGIN_MINUTES;
use crate::appointment_texts::context::Ctx;
use crate::appointment_texts::when::quiet_until;
use crate::audit::Actor;
use crate::auth::Caller;
use crate::db::{ts, uuid_at};
use crate::error::Result;
use crate::twilio::token::TWILIO_MAX_TTL_SECONDS;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// The automatic invite's idempotency key: this, the appointment's id, ':' and its start (`ts`).
const AUTOMATIC_KEY_PREFIX: &str = "invite-with-reminder:";

/// How the audit trail names ClinicDesk acting on its own.
pub const AUTOMATIC_ACTOR: &str = "ClinicDesk (automatic)";

/// Who makes a link or an invite: a member of staff (the appointment's doctor, or staff who send
/// texts: checked), or ClinicDesk itself with the last reminder.
#[derive(Clone, Copy)]
pub(super) enum Sender<'a> {
    Staff(&'a Caller),
    Automatic,
}

impl Sender<'_> {
    /// The appointment, checked for this sender: staff by their role; ClinicDesk only for video.
    pub fn booking(&self, clinic: &crate::Clinic, appointment: Uuid) -> Result<Booking> {
        match self {
            Sender::Staff(caller) => access::inviter(clinic, caller, appointment),
            Sender::Automatic => {
                let booking = access::booking(&*clinic.db().conn()?, appointment)?;
                access::video_only(&booking)?;
                Ok(booking)
            }
        }
    }

    pub fn actor(&self) -> Actor<'_> {
        match self {
            Sender::Staff(caller) => Actor::Staff(caller),
            Sender::Automatic => Actor::Anonymous { label: AUTOMATIC_ACTOR, user_id: None },
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Sender::Staff(caller) => Some(caller.user_id()),
            Sender::Automatic => None,
        }
    }

    pub fn idempotency_key(&self, appointment: Uuid, starts_at: DateTime<Utc>) -> String {
        match self {
            Sender::Staff(_) => format!("invite:{appointment}:{}", Uuid::new_v4()),
            Sender::Automatic => format!("{AUTOMATIC_KEY_PREFIX}{appointment}:{}", ts(starts_at)),
        }
    }
}

impl Consultations<'_> {
    /// Texts the link to every video appointment whose last reminder is due now and that has no
    /// invite for its time yet. Returns how many were queued; one that cannot go (the patient
    /// cannot be texted after all, Twilio not set up) is logged by code and left.
    pub fn send_links_with_last_reminder(&self) -> Result<usize> {
        let now = self.clinic.now();
        let due = {
            let conn = self.clinic.db().conn()?;
            let ctx = Ctx::read(&conn)?;
            let Some(last) = ctx.rules.reminder_rules().into_iter().map(|r| r.duration()).min() else {
                return Ok(0);
            };
            if call_page_url(&conn)?.is_none() {
                return Ok(0);
            }
            // Not in quiet hours: the link waits for the morning (and an appointment before the
            // morning gets none: upkeep.rs treats its reminder the same way).
            if quiet_until(ctx.rules.quiet(), now, ctx.tz).is_some() {
                return Ok(0);
            }
            let mut statement = conn.prepare_cached(
                "SELECT a.id FROM appointments a
                 JOIN patients p ON p.id = a.patient_id
                 LEFT JOIN consultations c ON c.appointment_id = a.id
                 WHERE a.kind = 'video' AND a.status IN ('scheduled', 'confirmed')
                   AND a.starts_at > ?1 AND a.starts_at <= ?2 AND a.ends_at <= ?3
                   AND coalesce(c.status, 'scheduled') = 'scheduled'
                   AND p.sms_consent = 1 AND p.opted_out_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM sms_notifications n
                                   WHERE n.appointment_id = a.id AND n.kind = 'invite'
                                     AND n.about_starts_at = a.starts_at AND n.state <> 'skipped')
                   AND NOT EXISTS (SELECT 1 FROM sms_notifications n
                                   WHERE n.idempotency_key = ?4 || a.id || ':' || a.starts_at)
                 ORDER BY a.starts_at",
            )?;
            // Starting within `last` of now: its last reminder is due (or was when it was booked).
            // Ending early enough that its link lives at most Twilio's 24 hours from now.
            let latest_end =
                now + Duration::seconds(i64::from(TWILIO_MAX_TTL_SECONDS)) - Duration::minutes(TOKEN_MARGIN_MINUTES);
            let rows = statement
                .query_map(rusqlite::params![ts(now), ts(now + last), ts(latest_end), AUTOMATIC_KEY_PREFIX], |r| {
                    uuid_at(r, 0)
                })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut queued = 0;
        for appointment in due {
            match self.invite_opening(Sender::Automatic, appointment, LinkOpens::OnTime) {
                Ok(Some(_)) => queued += 1,
                Ok(None) => {}
                Err(err) => tracing::info!(code = ?err.code(), "no video link sent with the last reminder"),
            }
        }
        Ok(queued)
    }
}
