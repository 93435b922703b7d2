//! Patients' replies to the clinic's number, read from Twilio by the elected sender about once a
//! minute, with the core's rules (`sms::reply_actions`, read with its module comment):
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
use crate::error::Result;
use crate::settings;
use crate::twilio_setup::Texting;
use chrono::{DateTime, Duration, Utc};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::sms::reply_actions::{keyword, Keyword};
use clinicdesk_core::twilio::messages;
use serde_json::json;
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
        let (Some(from), Some(body)) = (m.from.clone(), m.body.clone()) else { continue };
        let received_at = m.sent_at().unwrap_or(twilio_now);
        latest = latest.max(received_at);
        let written_at = now - (twilio_now - received_at).max(Duration::zero());
        let known: bool =
            db.query_one("SELECT EXISTS (SELECT 1 FROM sms_inbound WHERE sid = $1)", &[&m.sid]).await?.get(0);
        if known {
            continue; // listed again by an overlapping read
        }
        // The reply is kept and acted on together: a STOP is never recorded without its effect,
        // and a reply listed again rolls back whatever it would have done twice.
        let tx = db.transaction().await?;
        let reply = Reply { sid: &m.sid, from: &from, received_at, written_at };
        let (handling, patient, appointment) = match keyword(&body) {
            Some(Keyword::Confirm { yes }) => {
                let opted_in = yes && opt_in(&tx, &reply, now).await?;
                match confirm_next(&tx, &reply, now).await? {
                    Some((appointment, patient)) => ("confirmed", Some(patient), Some(appointment)),
                    None if opted_in => ("opted_in", patient_for(&tx, &from).await?, None),
                    None => ("inbox", patient_for(&tx, &from).await?, None),
                }
            }
            Some(Keyword::OptOut) => {
                opt_out(&tx, &reply, now).await?;
                ("opted_out", patient_for(&tx, &from).await?, None)
            }
            Some(Keyword::OptIn) => {
                opt_in(&tx, &reply, now).await?;
                ("opted_in", patient_for(&tx, &from).await?, None)
            }
            Some(Keyword::Help) => ("help", patient_for(&tx, &from).await?, None),
            None => ("inbox", patient_for(&tx, &from).await?, None),
        };
        let kept = tx
            .execute(
                "INSERT INTO sms_inbound (sid, from_phone, to_phone, body, received_at, handling, patient_id, appointment_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sid) DO NOTHING",
                &[&m.sid, &from, &number, &body, &received_at, &handling, &patient, &appointment],
            )
            .await?;
        if kept == 0 {
            continue; // recorded meanwhile: the transaction is dropped, so nothing is done twice
        }
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

/// The reply being handled.
struct Reply<'a> {
    sid: &'a str,
    from: &'a str,
    /// Twilio's time for it (shown to staff, and how far replies have been read).
    received_at: DateTime<Utc>,
    /// The same instant by this server's clock: compared with when reminders went and bookings
    /// were made.
    written_at: DateTime<Utc>,
}

const REPLY_ACTOR: &str = "Patient's text reply";

/// The patient an inbox reply is about: of the patients with that number, the one the clinic
/// texted last at it, else the first added.
async fn patient_for(db: &impl GenericClient, number: &str) -> Result<Option<Uuid>> {
    Ok(db
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

/// Confirms the appointment a C/YES answers (the module's rules): (appointment, patient).
async fn confirm_next(db: &impl GenericClient, reply: &Reply<'_>, now: DateTime<Utc>) -> Result<Option<(Uuid, Uuid)>> {
    // The reminder ("reply C to confirm") sent last to this number before the reply names the
    // appointment: a parent answering their own reminder never confirms a child's visit.
    let about = db
        .query_opt(
            "SELECT a.id, a.patient_id, a.status, a.starts_at FROM sms_notifications n JOIN appointments a ON a.id = n.appointment_id
             WHERE n.to_phone = $1 AND n.kind = 'reminder' AND n.sent_at IS NOT NULL AND n.sent_at <= $2
             ORDER BY n.sent_at DESC LIMIT 1",
            &[&reply.from, &(reply.written_at + Duration::minutes(5))],
        )
        .await?;
    let next: Option<(Uuid, Uuid)> = match about {
        Some(row) => {
            let (status, starts_at): (String, DateTime<Utc>) = (row.get(2), row.get(3));
            (status == "scheduled" && starts_at > now).then(|| (row.get(0), row.get(1)))
        }
        None => db
            .query_opt(
                "SELECT a.id, a.patient_id FROM appointments a JOIN patients p ON p.id = a.patient_id
                 WHERE p.phone = $1 AND a.status = 'scheduled' AND a.starts_at > $2 AND a.created_at <= $3
                 ORDER BY a.starts_at, a.id LIMIT 1",
                &[&reply.from, &now, &reply.written_at],
            )
            .await?
            .map(|r| (r.get(0), r.get(1))),
    };
    let Some((appointment, patient)) = next else { return Ok(None) };
    // The time is left alone: texts about this appointment compare it.
    let confirmed = db
        .execute(
            "UPDATE appointments SET status = 'confirmed', version = version + 1, updated_at = $2
             WHERE id = $1 AND status = 'scheduled'",
            &[&appointment, &now],
        )
        .await?;
    if confirmed == 0 {
        return Ok(None);
    }
    let tz = settings::time_zone(db).await?;
    changes::appointment(db, &crate::appointments::find(db, appointment, tz).await?).await?;
    let detail = format!("patient {patient}; confirmed by text reply {}", reply.sid);
    audit::record_as(
        db,
        REPLY_ACTOR,
        AuditAction::AppointmentConfirmedByText,
        Some(("appointment", &appointment.to_string())),
        Some(&detail),
    )
    .await?;
    Ok(Some((appointment, patient)))
}

async fn opt_out(db: &impl GenericClient, reply: &Reply<'_>, now: DateTime<Utc>) -> Result<()> {
    let patients = db
        .query(
            "UPDATE patients SET opted_out_at = $2, version = version + 1, updated_at = $3
             WHERE phone = $1 AND opted_out_at IS NULL
             RETURNING id, full_name, phone, date_of_birth, sms_consent, opted_out_at, version",
            &[&reply.from, &reply.received_at, &now],
        )
        .await?;
    db.execute(
        "UPDATE sms_notifications SET state = 'skipped', error_message = 'The patient replied STOP to the clinic''s texts.', updated_at = $2
         WHERE to_phone = $1 AND state = 'pending' AND NOT needs_reconcile",
        &[&reply.from, &now],
    )
    .await?;
    publish(db, &patients, AuditAction::PatientOptedOut, reply).await
}

/// Clears the opt-out of every patient with the number. `true` when any was opted out.
async fn opt_in(db: &impl GenericClient, reply: &Reply<'_>, now: DateTime<Utc>) -> Result<bool> {
    let patients = db
        .query(
            "UPDATE patients SET opted_out_at = NULL, version = version + 1, updated_at = $2
             WHERE phone = $1 AND opted_out_at IS NOT NULL
             RETURNING id, full_name, phone, date_of_birth, sms_consent, opted_out_at, version",
            &[&reply.from, &now],
        )
        .await?;
    publish(db, &patients, AuditAction::PatientOptedIn, reply).await?;
    Ok(!patients.is_empty())
}

/// Desks receive the patients' rows; the trail says the patient's reply did it.
async fn publish(
    db: &impl GenericClient,
    patients: &[tokio_postgres::Row],
    action: AuditAction,
    reply: &Reply<'_>,
) -> Result<()> {
    for p in patients {
        let id: Uuid = p.get(0);
        let opted_out_at: Option<DateTime<Utc>> = p.get(5);
        let row = json!({"id": id, "full_name": p.get::<_, String>(1), "phone": p.get::<_, Option<String>>(2),
                         "date_of_birth": p.get::<_, Option<chrono::NaiveDate>>(3), "sms_consent": p.get::<_, bool>(4),
                         "opted_out_at": opted_out_at, "version": p.get::<_, i64>(6)});
        changes::record(db, "patient", id, "all", Some(row)).await?;
        let detail = format!("patient {id}; text reply {}", reply.sid);
        audit::record_as(db, REPLY_ACTOR, action, Some(("patient", &id.to_string())), Some(&detail)).await?;
    }
    Ok(())
}
