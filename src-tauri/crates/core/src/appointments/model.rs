//! The appointment types shared with the UI and the CLI.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AppointmentKind {
    InPerson,
    Video,
}

impl AppointmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentKind::InPerson => "in_person",
            AppointmentKind::Video => "video",
        }
    }
    /// The stored word back to the kind (the SQLite and PostgreSQL stores keep the same words).
    pub fn parse(s: &str) -> AppointmentKind {
        if s == "video" {
            AppointmentKind::Video
        } else {
            AppointmentKind::InPerson
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    CheckedIn,
    Completed,
    NoShow,
    Cancelled,
}

impl AppointmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "scheduled",
            AppointmentStatus::Confirmed => "confirmed",
            AppointmentStatus::CheckedIn => "checked_in",
            AppointmentStatus::Completed => "completed",
            AppointmentStatus::NoShow => "no_show",
            AppointmentStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> AppointmentStatus {
        match s {
            "confirmed" => AppointmentStatus::Confirmed,
            "checked_in" => AppointmentStatus::CheckedIn,
            "completed" => AppointmentStatus::Completed,
            "no_show" => AppointmentStatus::NoShow,
            "cancelled" => AppointmentStatus::Cancelled,
            _ => AppointmentStatus::Scheduled,
        }
    }
    /// Still to happen: may be moved or cancelled.
    pub fn is_open(self) -> bool {
        matches!(self, AppointmentStatus::Scheduled | AppointmentStatus::Confirmed | AppointmentStatus::CheckedIn)
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Appointment {
    pub id: Uuid,
    /// Short code to read out over the phone, e.g. "CD-7KQ2XM".
    pub booking_ref: String,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub doctor_id: Uuid,
    pub doctor_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The clinic's wall-clock date and times ("2026-11-23", "09:30", "10:00").
    pub local_date: String,
    pub local_start: String,
    pub local_end: String,
    pub minutes: u32,
    pub kind: AppointmentKind,
    pub status: AppointmentStatus,
    pub cancel_reason: Option<String>,
    /// Bumped on every change; pass it back to refuse edits made on a stale copy.
    #[ts(type = "number")]
    pub version: i64,
}

/// A booking as reception enters it, in the clinic's wall-clock time.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BookingRequest {
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    /// YYYY-MM-DD
    pub date: String,
    /// HH:MM, 24-hour
    pub time: String,
    pub minutes: u32,
    pub kind: AppointmentKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RescheduleRequest {
    pub date: String,
    pub time: String,
    /// Keep the current length when absent.
    pub minutes: Option<u32>,
    #[ts(type = "number | null")]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct DaySchedule {
    pub date: String,
    pub time_zone: String,
    pub appointments: Vec<Appointment>,
}
