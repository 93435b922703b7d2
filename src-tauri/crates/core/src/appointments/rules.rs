//! The rules for changing an appointment, as plain functions: the desk's own store and the clinic
//! server both call them, so the two modes refuse the same things in the same words.

use super::{Appointment, AppointmentStatus};
use crate::error::{CoreError, Result};

const MAX_REASON: usize = 500;

/// Refuses an edit made on a stale copy (`expected` is the version the person was looking at).
pub fn check_version(current: &Appointment, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(v) if v != current.version => Err(CoreError::Conflict(
            "Someone else changed this appointment a moment ago. Look at it again and repeat your change if it is still needed.".into(),
        )),
        _ => Ok(()),
    }
}

/// Only an appointment still to happen can be moved.
pub fn ensure_movable(current: &Appointment) -> Result<()> {
    if current.status.is_open() {
        return Ok(());
    }
    Err(CoreError::Conflict(format!(
        "This appointment is {} and can no longer be moved.",
        status_words(current.status)
    )))
}

/// Only an appointment still to happen can be cancelled.
pub fn ensure_cancellable(current: &Appointment) -> Result<()> {
    if current.status.is_open() {
        return Ok(());
    }
    Err(CoreError::Conflict(format!("This appointment is already {}.", status_words(current.status))))
}

/// The reason for a cancellation: required, one line, at most 500 characters.
pub fn check_cancel_reason(reason: &str) -> Result<String> {
    if reason.trim().is_empty() {
        return Err(CoreError::invalid(
            "reason",
            "Say why the appointment is cancelled, for example \"Patient called to cancel\".",
        ));
    }
    crate::text::one_line(
        reason,
        "reason",
        MAX_REASON,
        &format!("Keep the reason under {MAX_REASON} characters, on one line."),
    )
}

/// A status as a sentence says it ("marked as a no-show").
pub fn status_words(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Completed => "completed",
        AppointmentStatus::NoShow => "marked as a no-show",
        AppointmentStatus::Cancelled => "cancelled",
        AppointmentStatus::CheckedIn => "checked in",
        AppointmentStatus::Scheduled => "scheduled",
        AppointmentStatus::Confirmed => "confirmed",
    }
}
