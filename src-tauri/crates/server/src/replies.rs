//! Patients' replies to the clinic's number, read from Twilio by the elected sender about once a
//! minute. What a reply does is the core's rule (`sms::reply_actions::handle`, over the
//! [`ReplyStore`] below; the same rule a one-desk clinic runs), in short:
//! - "C" or "YES" confirms ONE appointment: the one the last reminder sent to that number before
//!   the reply was about, if it is still scheduled and has not started; with no reminder sent,
//!   the earliest scheduled one of a patient with that number that starts later and was booked
//!   before the reply. Only its status and version change. YES also lets texts go again (Twilio
//!   takes it so). Nothing to confirm: the reply waits in the inbox for a person.
//! - STOP and Twilio's other opt-out words stop every text to that number at once (the patients
//!   with it are marked opted out, their waiting texts skipped); START lifts it. HELP is recorded.
//! - Anything else waits in the inbox, tied to the patient the clinic texted last at that number.
//!
//! Every reply is kept once by its SID (an overlapping read lists it again) in the transaction
//! that does what it asks; the trigger of migration 12 hands it to every desk (reception's
//! inbox), and changes to patients and appointments go through the feed too. The trail says the
//! patient's reply did it, not a person.

use crate::audit;
use crate::changes;
use crate::error::{Result, ServerError};
use crate::settings;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::sms::reply_actions::{self, Handled, RemindedVisit, Reply, ReplyStore, REPLY_ACTOR};
use clinicdesk_core::sms::ReplyHandling;
use clinicdesk_core::twilio::messages;
use tokio_postgres::GenericClient;
use uuid::Uuid;

const READ_UNTIL: &str = "sms.replies_read_until";
/// Each read looks back this far before the last reply seen (Twilio narrows by day anyway).
const OVERLAP: Duration = Duration::hours(1);

/// Reads new replies and acts on them. Returns how many were new.
pub async fn read(db: &mut impl GenericClient, texting: &Texting, now: DateTime<Utc>) -> Result<usize> {
    let Some(number) = texting.account.settings.from.clone() else { return Ok(0) };
    let since = match settings::get(&*db, READ_UNTIL).await? {
        Some(at) => at.parse::<DateTime<Utc>>().map(|at| at - OVERLAP).unwrap_or(now - OVERLAP),
        // The first read starts now: a server set up today does not act on last year's replies.
        None => now - OVERLAP,
    };
    let listed = match messages::list_received(&texting.http, &texting.account, &number, since, 5).await {
        Ok(found) => found.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e.explain(), "patients' replies could not be read now");
            return Ok(0);
        }
    };
    let mut new = 0;
    let mut latest = since + OVERLAP;
    // Oldest first: STOP then START leaves the patient opted in. Twilio lists newest first and
    // its times are to the second: reversed first, replies within one second keep their order.
    let mut listed = listed;
    listed.reverse();
    listed.sort_by_key(|m| m.sent_at().unwrap_or(now));
    // Twilio's clock, as its last answer showed it: a reply's age by Twilio's clock, back from now
    // by ours, is compared with this server's times (right even when the two clocks disagree).
    let twilio_now = now + texting.http.twilio_clock_offset().unwrap_or_else(Duration::zero);
    for m in listed {
        let (Some(from), Some(body)) = (m.from.as_deref(), m.body.as_deref()) else { continue };
        let received_at = m.sent_at().unwrap_or(twilio_now);
        latest = latest.max(received_at);
        let reply = Reply {
            sid: &m.sid,
            from,
            to: &number,
            body,
            received_at,
            written_at: now - (twilio_now - received_at).max(Duration::zero()),
        };
        // The reply is kept and acted on together: a STOP is never recorded without its effect,
        // and a reply kept meanwhile rolls back whatever it would have done twice.
        let tx = db.transaction().await?;
        let Some(handled) = reply_actions::handle(&mut PgReplies { db: &tx, now }, &reply, now).await? else {
            // Listed again by an overlapping read, or kept meanwhile: nothing is done.
            tx.rollback().await?;
            continue;
        };
        publish(&tx, &handled).await?;
        tx.commit().await?;
        new += 1;
    }
    // The server's own bookkeeping, not a clinic setting: kept out of the desks' feed.
    db.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&READ_UNTIL, &latest.to_rfc3339()],
    )
    .await?;
    Ok(new)
}

/// What follows a reply on the server: the appointment it confirmed and the patients whose
/// opt-out it changed go to every desk's feed (the reply itself goes by migration 12's trigger).
async fn publish(db: &impl GenericClient, handled: &Handled) -> Result<()> {
    if let (ReplyHandling::Confirmed, Some(appointment)) = (handled.handling, handled.appointment) {
        let tz = settings::time_zone(db).await?;
        changes::appointment(db, &crate::appointments::find(db, appointment, tz).await?).await?;
    }
    for &patient in &handled.patients_changed {
        crate::patients::published(db, patient).await?;
    }
    Ok(())
}

/// Replies in the clinic's PostgreSQL database, in the caller's transaction.
struct PgReplies<'a, C> {
    db: &'a C,
    now: DateTime<Utc>,
}

impl<C: GenericClient + Sync> ReplyStore for PgReplies<'_, C> {
    type Error = ServerError;

    async fn known(&mut self, sid: &str) -> Result<bool> {
        Ok(self.db.query_one("SELECT EXISTS (SELECT 1 FROM sms_inbound WHERE sid = $1)", &[&sid]).await?.get(0))
    }

    async fn patient_texted_last(&mut self, number: &str) -> Result<Option<Uuid>> {
        Ok(self
            .db
            .query_opt(
                "SELECT p.id FROM patients p WHERE p.phone = $1
                 ORDER BY (SELECT max(n.created_at) FROM sms_notifications n WHERE n.patient_id = p.id AND n.to_phone = $1) DESC NULLS LAST,
                          p.created_at, p.id
                 LIMIT 1",
                &[&number],
            )
            .await?
            .map(|r| r.get(0)))
    }

    async fn last_reminded(&mut self, number: &str, sent_by: DateTime<Utc>) -> Result<Option<RemindedVisit>> {
        Ok(self
            .db
            .query_opt(
                "SELECT a.id, a.patient_id, a.status = 'scheduled', a.starts_at
                 FROM sms_notifications n JOIN appointments a ON a.id = n.appointment_id
                 WHERE n.to_phone = $1 AND n.kind = 'reminder' AND n.sent_at IS NOT NULL AND n.sent_at <= $2
                 ORDER BY n.sent_at DESC LIMIT 1",
                &[&number, &sent_by],
            )
            .await?
            .map(|r| RemindedVisit {
                appointment: r.get(0),
                patient: r.get(1),
                scheduled: r.get(2),
                starts_at: r.get(3),
            }))
    }

    async fn next_scheduled(
        &mut self,
        number: &str,
        after: DateTime<Utc>,
        booked_by: DateTime<Utc>,
    ) -> Result<Option<(Uuid, Uuid)>> {
        Ok(self
            .db
            .query_opt(
                "SELECT a.id, a.patient_id FROM appointments a JOIN patients p ON p.id = a.patient_id
                 WHERE p.phone = $1 AND a.status = 'scheduled' AND a.starts_at > $2 AND a.created_at <= $3
                 ORDER BY a.starts_at, a.id LIMIT 1",
                &[&number, &after, &booked_by],
            )
            .await?
            .map(|r| (r.get(0), r.get(1))))
    }

    async fn confirm(&mut self, appointment: Uuid) -> Result<bool> {
        let confirmed = self
            .db
            .execute(
                "UPDATE appointments SET status = 'confirmed', version = version + 1, updated_at = $2
                 WHERE id = $1 AND status = 'scheduled'",
                &[&appointment, &self.now],
            )
            .await?;
        Ok(confirmed == 1)
    }

    async fn opt_out(&mut self, number: &str, at: DateTime<Utc>) -> Result<Vec<Uuid>> {
        // RETURNING: exactly the patients this write changed, audited and sent to the desks.
        let mut changed: Vec<(DateTime<Utc>, Uuid)> = self
            .db
            .query(
                "UPDATE patients SET opted_out_at = $2, version = version + 1, updated_at = $3
                 WHERE phone = $1 AND opted_out_at IS NULL RETURNING created_at, id",
                &[&number, &at, &self.now],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        self.db
            .execute(
                "UPDATE sms_notifications SET state = 'skipped', error_message = 'The patient replied STOP to the clinic''s texts.', updated_at = $2
                 WHERE to_phone = $1 AND state = 'pending' AND NOT needs_reconcile",
                &[&number, &self.now],
            )
            .await?;
        changed.sort();
        Ok(changed.into_iter().map(|(_, id)| id).collect())
    }

    async fn opt_in(&mut self, number: &str) -> Result<Vec<Uuid>> {
        let mut changed: Vec<(DateTime<Utc>, Uuid)> = self
            .db
            .query(
                "UPDATE patients SET opted_out_at = NULL, version = version + 1, updated_at = $2
                 WHERE phone = $1 AND opted_out_at IS NOT NULL RETURNING created_at, id",
                &[&number, &self.now],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        changed.sort();
        Ok(changed.into_iter().map(|(_, id)| id).collect())
    }

    async fn audit(&mut self, action: AuditAction, record: (&str, Uuid), _patient: Uuid, detail: &str) -> Result<()> {
        // The server's trail names the patient in the detail (the rule's words start with it).
        audit::record_as(self.db, REPLY_ACTOR, action, Some((record.0, &record.1.to_string())), Some(detail)).await
    }

    async fn keep(&mut self, reply: &Reply<'_>, handled: &Handled) -> Result<bool> {
        let kept = self
            .db
            .execute(
                "INSERT INTO sms_inbound (sid, from_phone, to_phone, body, received_at, handling, patient_id, appointment_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sid) DO NOTHING",
                &[
                    &reply.sid,
                    &reply.from,
                    &reply.to,
                    &reply.body,
                    &reply.received_at,
                    &handled.handling.as_str(),
                    &handled.patient,
                    &handled.appointment,
                ],
            )
            .await?;
        Ok(kept == 1)
    }
}
