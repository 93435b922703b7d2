//! The words of the clinic's texts: one template per kind, with placeholders filled from the
//! appointment. (Scaffold: the built-in defaults only; stored templates, the placeholder checks,
//! the preview and the editor come with issue 8's template work.)

use super::model::TextKind;
use crate::error::Result;
use rusqlite::Connection;

/// What a template's placeholders are filled with, already written the clinic's way (dates and
/// times in the clinic's time zone).
#[derive(Debug, Clone, Default)]
pub struct TemplateData {
    pub patient_first_name: String,
    pub clinic_name: String,
    /// Empty when the clinic has not given one.
    pub clinic_phone: String,
    pub doctor_name: String,
    /// "Tue 3 Mar".
    pub date: String,
    /// "14:05".
    pub time: String,
    pub booking_ref: String,
    /// The patient's link to a video consultation (filled by the consultation work).
    pub video_link: Option<String>,
}

/// The text of `kind` for `data`, from the clinic's template for that kind.
pub fn render(_conn: &Connection, kind: TextKind, data: &TemplateData) -> Result<String> {
    let d = data;
    Ok(match kind {
        TextKind::Confirmation => format!(
            "{}: {} is booked with {} on {} at {}. Ref {}.",
            d.clinic_name, d.patient_first_name, d.doctor_name, d.date, d.time, d.booking_ref
        ),
        TextKind::Reschedule => format!(
            "{}: your appointment with {} is now on {} at {}. Ref {}.",
            d.clinic_name, d.doctor_name, d.date, d.time, d.booking_ref
        ),
        TextKind::Cancellation => format!(
            "{}: your appointment with {} on {} at {} is cancelled. Ref {}.",
            d.clinic_name, d.doctor_name, d.date, d.time, d.booking_ref
        ),
        TextKind::Reminder => format!(
            "{}: reminder, you see {} on {} at {}. Reply C to confirm. Ref {}.",
            d.clinic_name, d.doctor_name, d.date, d.time, d.booking_ref
        ),
        TextKind::Invite => format!(
            "{}: join your video appointment with {} at {}: {}",
            d.clinic_name,
            d.doctor_name,
            d.time,
            d.video_link.as_deref().unwrap_or("")
        ),
        TextKind::Custom => String::new(),
    })
}
