//! The clinic's settings an administrator changes at the server's command line
//! (`clinicdesk-server settings list / set KEY VALUE`), checked with the core's own rules. The
//! clinic's name reaches desks through the feed; texting rules are the server's to apply.

use crate::error::Result;
use crate::settings;
use clinicdesk_core::appointment_texts::rules::{
    parse_clinic_phone, parse_quiet_hours, parse_reminders, DEFAULT_QUIET_HOURS, DEFAULT_REMINDERS,
    DEFAULT_SETTLE_SECONDS, KEY_CLINIC_PHONE, KEY_QUIET_HOURS, KEY_REMINDERS, KEY_SETTLE,
};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{
    check_call_page_url, check_chat_retention_days, KEY_CALL_PAGE_URL, KEY_CHAT_RETENTION_DAYS,
};
use clinicdesk_core::error::CoreError;
use tokio_postgres::GenericClient;

/// What `settings set` accepts, with what each means (for `settings list`).
pub const KEYS: [(&str, &str); 8] = [
    (settings::CLINIC_NAME, "the clinic's name, as patients read it in texts"),
    (settings::TIME_ZONE, "the clinic's time zone (set at init)"),
    (KEY_CLINIC_PHONE, "the number patients call, for {clinic_phone} in texts"),
    (KEY_REMINDERS, "reminders before each appointment, e.g. 24h,2h (empty: none)"),
    (KEY_QUIET_HOURS, "no texts between, e.g. 21:00-08:00 (or off)"),
    (KEY_SETTLE, "seconds a change text waits for further edits (0-3600)"),
    (KEY_CALL_PAGE_URL, "the call page patients open from their video link (https; empty: no links are texted)"),
    (KEY_CHAT_RETENTION_DAYS, "days consultation chats are kept after the end (empty: kept)"),
];

/// Every setting with its value (or its default).
pub async fn list(db: &impl GenericClient) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (key, _) in KEYS {
        let default = match key {
            k if k == KEY_REMINDERS => DEFAULT_REMINDERS.to_string(),
            k if k == KEY_QUIET_HOURS => DEFAULT_QUIET_HOURS.to_string(),
            k if k == KEY_SETTLE => DEFAULT_SETTLE_SECONDS.to_string(),
            _ => String::new(),
        };
        out.push((key.to_string(), settings::get(db, key).await?.unwrap_or(default)));
    }
    Ok(out)
}

/// Checks and stores one setting. New reminder times withdraw the waiting reminders of a time no
/// longer in the list (the planner queues the new times' reminders on its next pass; those of
/// times that stay keep their keys, so none is queued twice). Returns how many were withdrawn.
/// Run it in a transaction: the setting and the withdrawal go together.
pub async fn set(db: &impl GenericClient, key: &str, value: &str) -> Result<u64> {
    let value = value.trim();
    let checked = match key {
        k if k == settings::CLINIC_NAME => clinicdesk_core::users::check_name(value)
            .map_err(|_| CoreError::invalid("clinic.name", "Give the clinic a name of up to 120 characters."))?,
        k if k == settings::TIME_ZONE => {
            return Err(CoreError::invalid(
                "clinic.time_zone",
                "The time zone is set once, at init: changing it would move every booked appointment's clock time.",
            )
            .into())
        }
        k if k == KEY_CLINIC_PHONE => parse_clinic_phone(value)?,
        k if k == KEY_CALL_PAGE_URL && value.is_empty() => String::new(),
        k if k == KEY_CALL_PAGE_URL => check_call_page_url(value)?,
        k if k == KEY_CHAT_RETENTION_DAYS => {
            check_chat_retention_days(value)?.map(|d| d.to_string()).unwrap_or_default()
        }
        k if k == KEY_REMINDERS => {
            parse_reminders(value)?;
            value.to_string()
        }
        k if k == KEY_QUIET_HOURS => {
            parse_quiet_hours(value)?;
            value.to_string()
        }
        k if k == KEY_SETTLE => match value.parse::<u32>() {
            Ok(seconds) if seconds <= 3600 => seconds.to_string(),
            _ => {
                return Err(
                    CoreError::invalid("sms.settle_seconds", "Enter a whole number of seconds, 0 to 3600.").into()
                )
            }
        },
        other => {
            let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
            return Err(
                CoreError::invalid("key", format!("{other} is not a setting. Known: {}.", known.join(", "))).into()
            );
        }
    };
    if key == KEY_REMINDERS {
        crate::reminders::hold_reminder_times(db).await?;
    }
    let before = settings::get(db, key).await?;
    settings::set(db, key, &checked).await?;
    if before.as_deref() != Some(checked.as_str()) {
        // As on a desk: who changed which setting from what to what (here, the server's operator).
        let detail = format!("{key} {:?} to {checked:?}", before.unwrap_or_default());
        crate::audit::record(db, None, AuditAction::SettingsUpdated, None, Some(&detail)).await?;
    }
    if key != KEY_REMINDERS {
        return Ok(0);
    }
    // The planner's idempotency key ends with the rule's label ("...:reminder:2 hours before").
    let keep: Vec<String> = parse_reminders(&checked)?.iter().map(|rule| rule.label()).collect();
    Ok(db
        .execute(
            "UPDATE sms_notifications
             SET state = 'skipped', updated_at = now(),
                 error_message = 'Withdrawn: the clinic''s reminder times changed and '
                                 || split_part(idempotency_key, ':reminder:', 2) || ' is no longer one of them.'
             WHERE kind = 'reminder' AND state = 'pending' AND NOT needs_reconcile
               AND split_part(idempotency_key, ':reminder:', 2) <> ALL($1)",
            &[&keep],
        )
        .await?)
}
