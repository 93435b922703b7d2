//! The words of the clinic's texts: one template per kind (confirmation, reschedule, cancellation,
//! reminder, video invite) and a few quick texts reception picks when writing to a patient. Admins
//! edit them (`Templates`, in Settings and `clinicdesk templates`); a template nobody changed is the
//! built-in wording in `catalog.rs`.
//!
//! Stored as `sms.template.<name>` rows of the `settings` table (no row: the default). A template is
//! checked when it is saved (placeholders, braces, length: `placeholders.rs`), so rendering, which
//! runs inside the transaction that books or moves an appointment, cannot fail on its wording.

mod catalog;
mod editor;
mod placeholders;
mod preview;

pub use catalog::TemplateName;
pub use editor::{checked as check_template, PlaceholderInfo, Template, Templates};
pub use placeholders::Placeholder;
pub use preview::{TemplatePreview, Ucs2Character};

use super::model::TextKind;
use super::outbox::MAX_BODY_CHARS;
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension};

/// What a template's placeholders are filled with, already written the clinic's way (dates and
/// times in the clinic's time zone: see [`format_when`]).
#[derive(Debug, Clone, Default)]
pub struct TemplateData {
    pub patient_first_name: String,
    pub clinic_name: String,
    /// Empty when the clinic has not given one.
    pub clinic_phone: String,
    pub doctor_name: String,
    /// "Tue 3 Mar" (or "Tue, Mar 3" in the US): the first half of [`format_when`].
    pub date: String,
    /// "14:05" (or "2:05 PM" where clocks are 12-hour): the second half of [`format_when`].
    pub time: String,
    pub booking_ref: String,
    /// The patient's link to a video consultation (filled by the consultation work).
    pub video_link: Option<String>,
}

/// Countries whose patients write the month before the day ("Tue, Mar 3").
const MONTH_FIRST: &[&str] = &["US", "CA", "PH"];
/// Countries where a 12-hour clock is what patients read most naturally ("2:05 PM"). Elsewhere the
/// 24-hour clock is used: it is never ambiguous, which matters more than style in a reminder.
const TWELVE_HOUR: &[&str] = &["US", "CA", "AU", "NZ", "IN", "PH", "PK", "BD", "EG", "SA", "MY"];

/// The appointment's date and time as `{date}` and `{time}` show them: in the clinic's time zone,
/// in the order and clock its country uses (`country`: the clinic's default, ISO alpha-2).
pub fn format_when(instant: DateTime<Utc>, tz: Tz, country: &str) -> (String, String) {
    let local = instant.with_timezone(&tz);
    let country = country.trim().to_ascii_uppercase();
    let date = if MONTH_FIRST.contains(&country.as_str()) { "%a, %b %-d" } else { "%a %-d %b" };
    let time = if TWELVE_HOUR.contains(&country.as_str()) { "%-I:%M %p" } else { "%H:%M" };
    (local.format(date).to_string(), local.format(time).to_string())
}

/// The text of `kind` for `data`, from the clinic's template for that kind. Staff's own texts
/// (`Custom`) have no template of their own: quick texts are rendered by name ([`render_template`]).
pub fn render(conn: &Connection, kind: TextKind, data: &TemplateData) -> Result<String> {
    let name = TemplateName::for_kind(kind).ok_or_else(|| {
        CoreError::invalid("kind", "Texts written by staff have no template of their own: pick a quick text instead.")
    })?;
    render_template(conn, name, data)
}

/// The text of template `name` for `data` (inside any transaction).
pub fn render_template(conn: &Connection, name: TemplateName, data: &TemplateData) -> Result<String> {
    render_body(stored_body(conn, name)?.as_deref(), name, data)
}

/// The text of template `name` for `data`, from the clinic's own wording `stored` (`None`: the
/// built-in one), wherever the wording is kept (a desk's settings, the clinic server's).
pub fn render_body(stored: Option<&str>, name: TemplateName, data: &TemplateData) -> Result<String> {
    let parts = match stored.map(|body| placeholders::parse(body, name)) {
        Some(Ok(parts)) => parts,
        // Only a database edited by hand (or a future version's wording) gets here: the clinic's
        // text still goes out, in the built-in wording, rather than the booking failing.
        Some(Err(_)) => {
            tracing::warn!(template = name.as_str(), "stored template is not valid; the default is used");
            placeholders::parse(name.default_body(), name)?
        }
        None => placeholders::parse(name.default_body(), name)?,
    };
    let text = placeholders::fill(&parts, data);
    // Saved templates cannot reach this (their longest render is checked); a value longer than
    // its allowed maximum could, and a clipped text is better than a booking that fails.
    Ok(match text.char_indices().nth(MAX_BODY_CHARS) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    })
}

/// The clinic's own wording for `name`, if it changed the default.
fn stored_body(conn: &Connection, name: TemplateName) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([name.settings_key()], |r| r.get(0))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_and_times_are_written_the_clinics_way_in_its_zone() {
        // 14:05 UTC on Tuesday 3 March 2026.
        let instant = Utc.with_ymd_and_hms(2026, 3, 3, 14, 5, 0).unwrap();
        assert_eq!(format_when(instant, chrono_tz::Europe::London, "GB"), ("Tue 3 Mar".into(), "14:05".into()));
        assert_eq!(format_when(instant, chrono_tz::America::New_York, "us"), ("Tue, Mar 3".into(), "9:05 AM".into()));
        assert_eq!(format_when(instant, chrono_tz::Australia::Sydney, "AU"), ("Wed 4 Mar".into(), "1:05 AM".into()));
        assert_eq!(format_when(instant, chrono_tz::Europe::Berlin, "DE"), ("Tue 3 Mar".into(), "15:05".into()));
    }
}
