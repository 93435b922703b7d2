//! The clinic's settings an administrator changes at the server's command line
//! (`clinicdesk-server settings list / set KEY VALUE`): the core's rule over the server's store
//! (`PgSettings`, the `SettingsStore` the one-desk SQLite file also implements). The settings reach
//! desks through the feed; texting rules are the server's to apply.

use crate::error::{Result, ServerError};
use crate::settings;
use clinicdesk_core::appointment_texts::rules::{
    parse_reminders, DEFAULT_QUIET_HOURS, DEFAULT_REMINDERS, DEFAULT_SETTLE_SECONDS, KEY_CLINIC_PHONE, KEY_QUIET_HOURS,
    KEY_REMINDERS, KEY_SETTLE,
};
use clinicdesk_core::audit::AuditAction;
use clinicdesk_core::consultations::{KEY_CALL_PAGE_URL, KEY_CHAT_RETENTION_DAYS};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::settings::store::{self, SettingsStore};
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

/// The clinic server's store of settings, in the caller's transaction (the core's rule,
/// `clinicdesk_core::settings::store::change`, runs over it). Every write goes to the desks' feed;
/// removing a key reaches them as an empty value. The trail names the server's operator.
pub struct PgSettings<'a, C> {
    pub db: &'a C,
}

impl<C: GenericClient + Sync> SettingsStore for PgSettings<'_, C> {
    type Error = ServerError;

    async fn get(&mut self, key: &str) -> Result<Option<String>> {
        settings::get(self.db, key).await
    }

    async fn put(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(value) => settings::set(self.db, key, value).await,
            None => {
                self.db.execute("DELETE FROM settings WHERE key = $1", &[&key]).await?;
                let row = serde_json::json!({ "key": key, "value": "" });
                crate::changes::record(self.db, "setting", uuid::Uuid::nil(), "all", Some(row)).await
            }
        }
    }

    async fn audit(&mut self, detail: &str) -> Result<()> {
        crate::audit::record(self.db, None, AuditAction::SettingsUpdated, None, Some(detail)).await?;
        Ok(())
    }
}

/// Checks and stores one setting by the core's rule. New reminder times withdraw the waiting
/// reminders of a time no longer in the list (the planner queues the new times' reminders on its
/// next pass; those of times that stay keep their keys, so none is queued twice). Returns how many
/// were withdrawn. Run it in a transaction: the setting and the withdrawal go together.
pub async fn set(db: &(impl GenericClient + Sync), key: &str, value: &str) -> Result<u64> {
    if key == settings::TIME_ZONE {
        return Err(CoreError::invalid(
            "clinic.time_zone",
            "The time zone is set once, at init: changing it would move every booked appointment's clock time.",
        )
        .into());
    }
    if key == KEY_REMINDERS {
        crate::reminders::hold_reminder_times(db).await?;
    }
    store::change(&mut PgSettings { db }, key, value).await?;
    let checked = settings::get(db, key).await?.unwrap_or_default();
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
