//! The clinic's texting rules, as settings: reminder rules (`sms.reminders`), quiet hours
//! (`sms.quiet_hours`), how long a change text waits for further edits (`sms.settle_seconds`), the
//! price of a segment (`sms.price_per_segment`) and the clinic's phone number for templates
//! (`clinic.phone`). Stored as rows of the `settings` table like every other setting.

use crate::audit::{self, Actor, AuditAction};
use crate::auth::{Caller, Permission};
use crate::error::{CoreError, Result};
use crate::settings;
use crate::Clinic;
use chrono::{Duration, NaiveTime};
use rusqlite::{Connection, TransactionBehavior};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub const KEY_REMINDERS: &str = "sms.reminders";
pub const KEY_QUIET_HOURS: &str = "sms.quiet_hours";
pub const KEY_SETTLE: &str = "sms.settle_seconds";
pub const KEY_PRICE: &str = "sms.price_per_segment";
pub const KEY_CLINIC_PHONE: &str = "clinic.phone";
pub const KEYS: [&str; 5] = [KEY_REMINDERS, KEY_QUIET_HOURS, KEY_SETTLE, KEY_PRICE, KEY_CLINIC_PHONE];

pub const DEFAULT_REMINDERS: &str = "24h,2h";
pub const DEFAULT_QUIET_HOURS: &str = "21:00-08:00";
/// A minute: reception moving an appointment twice while the patient is on the phone sends one text.
pub const DEFAULT_SETTLE_SECONDS: u32 = 60;
const MAX_RULES: usize = 6;

/// The texting settings, as stored (canonical text) with defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TextingSettings {
    /// "24h,2h": a reminder that long before each appointment; "" for none.
    pub reminders: String,
    /// "21:00-08:00" in the clinic's time zone, or "off".
    pub quiet_hours: String,
    /// Seconds a confirmation, reschedule or cancellation text waits before it may go, so quick
    /// successive edits of one appointment send one text about the final state (0 to 3600).
    pub settle_seconds: u32,
    /// What one segment costs the clinic, in its currency ("0.0079"), for the template preview.
    pub price_per_segment: String,
    /// The clinic's phone number as patients should see it in texts ("020 7946 0000"), or "".
    pub clinic_phone: String,
}

/// One reminder rule: how long before the appointment. Whole days ("1d", "24h", "48h") keep the
/// appointment's clock time across a DST change (the day before at the same time); other lengths
/// are elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReminderRule {
    pub minutes: i64,
}

impl ReminderRule {
    pub fn label(self) -> String {
        match self.minutes {
            m if m % 60 == 0 => format!("{}h", m / 60),
            m => format!("{m}m"),
        }
    }
    pub fn whole_days(self) -> Option<i64> {
        (self.minutes % (24 * 60) == 0).then_some(self.minutes / (24 * 60))
    }
    pub fn duration(self) -> Duration {
        Duration::minutes(self.minutes)
    }
}

/// Parses "24h, 2h" (also "1d", "90m"); returns the rules longest first, without repeats.
pub fn parse_reminders(text: &str) -> Result<Vec<ReminderRule>> {
    let bad = |part: &str| {
        CoreError::invalid(
            "reminders",
            format!("\"{part}\" is not a reminder time. Write how long before the appointment, like 24h, 2h or 30m, separated by commas (or leave it empty for no reminders)."),
        )
    };
    let mut rules = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (number, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit()).unwrap_or(part.len()));
        let n: i64 = number.parse().map_err(|_| bad(part))?;
        let minutes = match unit.trim() {
            "m" | "min" | "mins" => n,
            "h" | "hr" | "hrs" => n * 60,
            "d" | "day" | "days" => n * 24 * 60,
            _ => return Err(bad(part)),
        };
        if !(15..=14 * 24 * 60).contains(&minutes) {
            return Err(CoreError::invalid(
                "reminders",
                format!("\"{part}\": a reminder can be sent between 15 minutes and 14 days before the appointment."),
            ));
        }
        rules.push(ReminderRule { minutes });
    }
    rules.sort_by(|a, b| b.cmp(a));
    rules.dedup();
    if rules.len() > MAX_RULES {
        return Err(CoreError::invalid("reminders", format!("Up to {MAX_RULES} reminders per appointment.")));
    }
    Ok(rules)
}

pub fn reminders_text(rules: &[ReminderRule]) -> String {
    rules.iter().map(|r| r.label()).collect::<Vec<_>>().join(",")
}

/// Quiet hours in the clinic's local time: texts that can wait are not sent from `start` until
/// `end` (the window may cross midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    pub fn contains(self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// "21:00-08:00" or "off" (None).
pub fn parse_quiet_hours(text: &str) -> Result<Option<QuietHours>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bad = || {
        CoreError::invalid(
            "quiet_hours",
            format!("\"{text}\" is not a time range. Write it like 21:00-08:00 (24-hour clock), or off."),
        )
    };
    let (from, to) = text.split_once('-').ok_or_else(bad)?;
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
    let (start, end) = (time(from)?, time(to)?);
    if start == end {
        return Err(CoreError::invalid(
            "quiet_hours",
            "Quiet hours must start and end at different times (write off to have none).",
        ));
    }
    Ok(Some(QuietHours { start, end }))
}

fn quiet_hours_text(q: Option<QuietHours>) -> String {
    match q {
        None => "off".into(),
        Some(q) => format!("{}-{}", q.start.format("%H:%M"), q.end.format("%H:%M")),
    }
}

fn parse_price(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    match text.parse::<f64>() {
        Ok(p) if (0.0..=10.0).contains(&p) && !text.contains(['e', 'E']) => Ok(text.to_owned()),
        _ => Err(CoreError::invalid(
            "price_per_segment",
            "Enter the price of one text segment as a number, like 0.04 (or leave it empty).",
        )),
    }
}

pub fn parse_clinic_phone(text: &str) -> Result<String> {
    let text = text.trim();
    if text.chars().count() > 30 || text.chars().any(|c| !(c.is_ascii_digit() || " +-().".contains(c))) {
        return Err(CoreError::invalid(
            "clinic_phone",
            "Enter the clinic's phone number as patients should dial it (digits, spaces, + and brackets; up to 30).",
        ));
    }
    Ok(text.to_owned())
}

impl TextingSettings {
    /// Checks every field and returns the canonical form that is stored.
    pub fn validated(&self) -> Result<TextingSettings> {
        if self.settle_seconds > 3600 {
            return Err(CoreError::invalid(
                "settle_seconds",
                "Texts about a change can wait at most an hour (3600 seconds).",
            ));
        }
        Ok(TextingSettings {
            reminders: reminders_text(&parse_reminders(&self.reminders)?),
            quiet_hours: quiet_hours_text(parse_quiet_hours(&self.quiet_hours)?),
            settle_seconds: self.settle_seconds,
            price_per_segment: parse_price(&self.price_per_segment)?,
            clinic_phone: parse_clinic_phone(&self.clinic_phone)?,
        })
    }
    pub fn reminder_rules(&self) -> Vec<ReminderRule> {
        parse_reminders(&self.reminders).unwrap_or_default()
    }
    pub fn quiet(&self) -> Option<QuietHours> {
        parse_quiet_hours(&self.quiet_hours).unwrap_or(None)
    }
    pub fn settle(&self) -> Duration {
        Duration::seconds(self.settle_seconds.into())
    }
}

/// New reminder rules: waiting reminders of a rule no longer in the list are withdrawn, and the
/// planner's mark goes back to now (the next pass plans the coming day under the new rules; the
/// reminders of rules that stay keep their idempotency keys, so none is queued twice).
fn replan_reminders(tx: &Connection, new: &TextingSettings, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let keep: Vec<String> = new.reminder_rules().iter().map(|r| r.label()).collect();
    let mut stmt = tx.prepare(
        "SELECT id, reminder_rule FROM sms_notifications WHERE kind = 'reminder' AND state = 'pending' AND needs_reconcile = 0",
    )?;
    let waiting: Vec<(String, Option<String>)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<std::result::Result<_, _>>()?;
    let at = crate::db::ts(now);
    for (id, rule) in waiting.into_iter().filter(|(_, rule)| !rule.as_ref().is_some_and(|r| keep.contains(r))) {
        let reason = format!(
            "Withdrawn: the clinic's reminder times changed and {} is no longer one of them.",
            rule.as_deref().unwrap_or("this reminder")
        );
        tx.execute(
            "UPDATE sms_notifications SET state = 'skipped', error_message = ?2, final_at = ?3, updated_at = ?3, handled_at = ?3
             WHERE id = ?1 AND state = 'pending' AND needs_reconcile = 0",
            rusqlite::params![id, reason, at],
        )?;
    }
    // Back to now at the latest (never forward): if the app has been closed, the gap since its last
    // pass is still caught up, under the new rules.
    tx.execute("UPDATE reminder_plan SET planned_until = min(planned_until, ?1)", [&at])?;
    Ok(())
}

/// The stored texting settings (defaults for anything not set), read inside any transaction.
pub fn read(conn: &Connection) -> Result<TextingSettings> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM settings WHERE key IN (?1, ?2, ?3, ?4, ?5)")?;
    let stored: std::collections::HashMap<String, String> =
        stmt.query_map(KEYS, |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let text = |key: &str, default: &str| stored.get(key).cloned().unwrap_or_else(|| default.to_owned());
    Ok(TextingSettings {
        reminders: text(KEY_REMINDERS, DEFAULT_REMINDERS),
        quiet_hours: text(KEY_QUIET_HOURS, DEFAULT_QUIET_HOURS),
        settle_seconds: stored.get(KEY_SETTLE).and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_SETTLE_SECONDS),
        price_per_segment: text(KEY_PRICE, ""),
        clinic_phone: text(KEY_CLINIC_PHONE, ""),
    })
}

impl Clinic {
    /// The texting settings (every signed-in member of staff may read them).
    pub fn texting_settings(&self) -> Result<TextingSettings> {
        let conn = self.db().conn()?;
        read(&conn)
    }

    /// Saves the texting settings (admins), audited with what changed.
    pub fn update_texting_settings(&self, caller: &Caller, input: &TextingSettings) -> Result<TextingSettings> {
        caller.require(Permission::ManageSettings)?;
        crate::sync::pending::refuse_on_desk(&*self.db().conn()?, crate::sync::pending::ServerKeeps::TextWording)?;
        let new = input.validated()?;
        let now = self.now();
        let mut conn = self.db().conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old = read(&tx)?;
        // Each rule setting through the one rule both kinds of clinic use (settings/store.rs: its
        // own check, stored when it differs, one trail entry "key from to"), in canonical form.
        let mut store = settings::store::SqliteSettings { conn: &tx, caller, now };
        for (key, value) in [
            (KEY_REMINDERS, new.reminders.clone()),
            (KEY_QUIET_HOURS, new.quiet_hours.clone()),
            (KEY_SETTLE, new.settle_seconds.to_string()),
            (KEY_CLINIC_PHONE, new.clinic_phone.clone()),
        ] {
            crate::db::at_once(settings::store::change(&mut store, key, &value))?;
        }
        // The price per segment is this clinic's own estimate (a one-desk screen's), not a rule.
        if old.price_per_segment != new.price_per_segment {
            settings::write(&tx, KEY_PRICE, Some(&new.price_per_segment), now)?;
            let detail = format!("{KEY_PRICE} {:?} to {:?}", old.price_per_segment, new.price_per_segment);
            audit::record(&tx, now, Actor::Staff(caller), AuditAction::SettingsUpdated, None, Some(&detail))?;
        }
        if old.reminders != new.reminders {
            replan_reminders(&tx, &new, now)?;
        }
        tx.commit()?;
        Ok(new)
    }

    /// One texting setting by its key (`clinicdesk settings set sms.reminders 24h,2h`).
    pub fn set_texting_setting(&self, caller: &Caller, key: &str, value: &str) -> Result<TextingSettings> {
        let mut s = self.texting_settings()?;
        match key {
            KEY_REMINDERS => s.reminders = value.to_owned(),
            KEY_QUIET_HOURS => s.quiet_hours = value.to_owned(),
            KEY_SETTLE => {
                s.settle_seconds = value
                    .trim()
                    .parse()
                    .map_err(|_| CoreError::invalid("settle_seconds", "Enter a whole number of seconds."))?
            }
            KEY_PRICE => s.price_per_segment = value.to_owned(),
            KEY_CLINIC_PHONE => s.clinic_phone = value.to_owned(),
            other => return Err(CoreError::invalid("key", format!("\"{other}\" is not a texting setting."))),
        }
        self.update_texting_settings(caller, &s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminder_rules_are_read_the_way_people_write_them() {
        let rules = parse_reminders(" 2h, 24h ,1d, 90m").unwrap();
        assert_eq!(reminders_text(&rules), "24h,2h,90m");
        assert_eq!(rules[0].whole_days(), Some(1));
        assert_eq!(rules[1].whole_days(), None);
        assert!(parse_reminders("").unwrap().is_empty());
        for bad in ["2", "h", "2 weeks", "-2h", "5m", "15d"] {
            let err = parse_reminders(bad).unwrap_err();
            assert_eq!(err.field(), Some("reminders"), "{bad}");
        }
    }

    #[test]
    fn quiet_hours_cross_midnight_or_not_and_can_be_off() {
        let q = parse_quiet_hours("21:00-08:00").unwrap().unwrap();
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert!(q.contains(t("21:00")) && q.contains(t("03:00")) && q.contains(t("07:59")));
        assert!(!q.contains(t("08:00")) && !q.contains(t("20:59")) && !q.contains(t("12:00")));
        let day = parse_quiet_hours("12:00-13:30").unwrap().unwrap();
        assert!(day.contains(t("12:45")) && !day.contains(t("13:30")) && !day.contains(t("11:00")));
        assert_eq!(parse_quiet_hours("off").unwrap(), None);
        for bad in ["9pm-8am", "21:00", "21:00-21:00", "25:00-08:00"] {
            assert_eq!(parse_quiet_hours(bad).unwrap_err().field(), Some("quiet_hours"), "{bad}");
        }
    }
}
