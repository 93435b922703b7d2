//! The schedule: booking, listing, rescheduling and cancelling appointments.

use crate::args::AppointmentCommand;
use crate::output::{show, table};
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest, RescheduleRequest};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::{Clinic, CoreError, Result};
use uuid::Uuid;

pub(super) fn parse_id(text: &str, field: &'static str, what: &str) -> Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        CoreError::invalid(field, format!("\"{text}\" is not a {what} id. Find ids with `clinicdesk {what} list`."))
    })
}

/// "YYYY-MM-DD HH:MM" into its date and time parts (checked by the core).
fn split_at(at: &str) -> Result<(String, String)> {
    let mut parts = at.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(t), None) => Ok((d.to_owned(), t.to_owned())),
        _ => Err(CoreError::invalid("at", "Give the time as \"YYYY-MM-DD HH:MM\", for example \"2026-03-14 09:30\".")),
    }
}

pub(super) fn appointment(clinic: &Clinic, caller: &Caller, json: bool, command: AppointmentCommand) -> Result<()> {
    let appointments = clinic.appointments();
    let one = |a: &clinicdesk_core::appointments::Appointment| {
        format!(
            "{} {} {}-{} {} with {} ({}, {})\nid: {}",
            a.booking_ref,
            a.local_date,
            a.local_start,
            a.local_end,
            a.patient_name,
            a.doctor_name,
            a.kind.as_str().replace('_', "-"),
            a.status.as_str().replace('_', " "),
            a.id
        )
    };
    match command {
        AppointmentCommand::Book { patient, doctor, at, minutes, video } => {
            let (date, time) = split_at(&at)?;
            let kind = if video { AppointmentKind::Video } else { AppointmentKind::InPerson };
            let request = BookingRequest {
                patient_id: parse_id(&patient, "patient", "patient")?,
                doctor_id: parse_id(&doctor, "doctor", "doctor")?,
                date,
                time,
                minutes: clinicdesk_core::appointments::parse_minutes(&minutes)?,
                kind,
            };
            let a = appointments.book(caller, request)?;
            show(json, &a, |a| format!("Booked {}\n{}", one(a), a.text.message));
        }
        AppointmentCommand::List { date, doctor } => {
            let doctor = doctor.map(|d| parse_id(&d, "doctor", "doctor")).transpose()?;
            let day = appointments.day(caller, &date, doctor)?;
            show(json, &day, |day| {
                if day.appointments.is_empty() {
                    return format!("No appointments on {}.", day.date);
                }
                table(
                    &["REF", "TIME", "PATIENT", "DOCTOR", "KIND", "STATUS", "ID"],
                    day.appointments
                        .iter()
                        .map(|a| {
                            vec![
                                a.booking_ref.clone(),
                                format!("{}-{}", a.local_start, a.local_end),
                                a.patient_name.clone(),
                                a.doctor_name.clone(),
                                a.kind.as_str().replace('_', "-"),
                                a.status.as_str().replace('_', " "),
                                a.id.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        AppointmentCommand::Reschedule { appointment, at, minutes } => {
            let id = appointments.resolve(caller, &appointment)?;
            let (date, time) = split_at(&at)?;
            let minutes = minutes.as_deref().map(clinicdesk_core::appointments::parse_minutes).transpose()?;
            let a = appointments.reschedule(
                caller,
                id,
                RescheduleRequest { date, time, minutes, expected_version: None },
            )?;
            show(json, &a, |a| format!("Moved {}\n{}", one(a), a.text.message));
        }
        AppointmentCommand::Cancel { appointment, reason } => {
            let id = appointments.resolve(caller, &appointment)?;
            let a = appointments.cancel(caller, id, &reason, None)?;
            show(json, &a, |a| format!("Cancelled {}\n{}", one(a), a.text.message));
        }
    }
    Ok(())
}
