//! What desks and the clinic server say to each other (JSON over HTTPS). Shared by both ends, so a
//! field renamed on one side is a compile error on the other.

use crate::appointments::{BookingRequest, RescheduleRequest};
use crate::patients::PatientInput;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One changed record in the server's feed. `row` is the record as the server holds it now
/// (`None` when it was removed); `cursor` is where a desk has read up to once it applied it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub cursor: String,
    pub entity: String,
    pub entity_id: Uuid,
    pub row: Option<serde_json::Value>,
}

/// A page of the feed and the cursor to ask from next (unchanged when the page is empty).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub cursor: String,
}

/// The server's answer to a sign-in on a desk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSignIn {
    pub token: String,
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
    /// The doctor record of a doctor.
    pub doctor_id: Option<Uuid>,
}

/// A write a desk asks the server to make.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeskCommand {
    /// `appointment_id` is the id the desk gave the booking (it may already show it, provisional).
    Book {
        appointment_id: Uuid,
        booking: BookingRequest,
    },
    /// Moves an appointment; `change.expected_version` refuses a move made on a stale copy.
    Move {
        appointment_id: Uuid,
        change: RescheduleRequest,
    },
    Cancel {
        appointment_id: Uuid,
        reason: String,
        expected_version: Option<i64>,
    },
    /// Registers a patient under the id the desk gave them (bookings for them may follow).
    AddPatient {
        patient_id: Uuid,
        patient: PatientInput,
    },
    UpdatePatient {
        patient_id: Uuid,
        patient: PatientInput,
    },
}

/// The error body of every refusal: the core's code and sentence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: crate::error::ErrorCode,
    pub message: String,
}
