//! Patients' replies to the clinic's number, read from Twilio by the elected sender about once a
//! minute (core rules, `sms::reply_actions`): STOP and Twilio's other opt-out words stop every
//! text to that number at once (the patients with it are marked opted out, their waiting texts
//! skipped, desks told through the feed, the trail written under "Patient's text reply"); START
//! lifts it. Every reply is kept once by its SID (an overlapping read lists it again).

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
    for m in listed {
        let (Some(from), Some(body)) = (m.from.clone(), m.body.clone()) else { continue };
        let received_at = m.sent_at().unwrap_or(now);
        latest = latest.max(received_at);
        let action = keyword(&body);
        let handling = match action {
            Some(Keyword::OptOut) => "opt_out",
            Some(Keyword::OptIn) => "opt_in",
            Some(Keyword::Help) => "help",
            _ => "inbox",
        };
        // The reply is kept and acted on together: a STOP is never recorded without its effect.
        let tx = db.transaction().await?;
        let kept = tx
            .execute(
                "INSERT INTO sms_inbound (sid, from_phone, to_phone, body, received_at, handling)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sid) DO NOTHING",
                &[&m.sid, &from, &number, &body, &received_at, &handling],
            )
            .await?;
        if kept == 0 {
            continue;
        }
        match action {
            Some(Keyword::OptOut) => opt_out(&tx, &from, received_at, now).await?,
            Some(Keyword::OptIn) => opt_in(&tx, &from, now).await?,
            _ => {}
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

async fn opt_out(db: &impl GenericClient, phone: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
    let patients = db
        .query(
            "UPDATE patients SET opted_out_at = $2, version = version + 1, updated_at = $3
             WHERE phone = $1 AND opted_out_at IS NULL
             RETURNING id, full_name, phone, date_of_birth, sms_consent, opted_out_at, version",
            &[&phone, &at, &now],
        )
        .await?;
    db.execute(
        "UPDATE sms_notifications SET state = 'skipped', error_message = 'The patient replied STOP to the clinic''s texts.', updated_at = $2
         WHERE to_phone = $1 AND state = 'pending' AND NOT needs_reconcile",
        &[&phone, &now],
    )
    .await?;
    publish(db, &patients, AuditAction::PatientOptedOut).await
}

async fn opt_in(db: &impl GenericClient, phone: &str, now: DateTime<Utc>) -> Result<()> {
    let patients = db
        .query(
            "UPDATE patients SET opted_out_at = NULL, version = version + 1, updated_at = $2
             WHERE phone = $1 AND opted_out_at IS NOT NULL
             RETURNING id, full_name, phone, date_of_birth, sms_consent, opted_out_at, version",
            &[&phone, &now],
        )
        .await?;
    publish(db, &patients, AuditAction::PatientOptedIn).await
}

/// Desks receive the patients' rows; the trail says the patient's reply did it.
async fn publish(db: &impl GenericClient, patients: &[tokio_postgres::Row], action: AuditAction) -> Result<()> {
    for p in patients {
        let id: uuid::Uuid = p.get(0);
        let opted_out_at: Option<DateTime<Utc>> = p.get(5);
        let row = json!({"id": id, "full_name": p.get::<_, String>(1), "phone": p.get::<_, Option<String>>(2),
                         "date_of_birth": p.get::<_, Option<chrono::NaiveDate>>(3), "sms_consent": p.get::<_, bool>(4),
                         "opted_out_at": opted_out_at, "version": p.get::<_, i64>(6)});
        changes::record(db, "patient", id, "all", Some(row)).await?;
        audit::record_as(db, "Patient's text reply", action, Some(("patient", &id.to_string()))).await?;
    }
    Ok(())
}
