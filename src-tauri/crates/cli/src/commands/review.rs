//! `consultation list`, `show`, `export` and `attachment`: past consultations from the clinic database alone (no
//! network), with the same checks and audit as the review screen.

use super::appointments::parse_id;
use crate::output::{show as print, table};
use chrono::NaiveDate;
use clinicdesk_core::auth::Caller;
use clinicdesk_core::consultations::describe::{duration, moment, state_name, timeline_line};
use clinicdesk_core::consultations::{
    ConsultationFilter, ConsultationPage, ConsultationRecord, ExportFormat, ParticipantRole, TimelineEntry, PHI_NOTICE,
};
use clinicdesk_core::error::CoreError;
use clinicdesk_core::{Clinic, Result};
use std::io::Write;
use std::path::Path;

fn day(text: Option<String>, field: &'static str) -> Result<Option<NaiveDate>> {
    text.map(|t| {
        NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .map_err(|_| CoreError::invalid(field, format!("\"{t}\" is not a date; write it as YYYY-MM-DD.")))
    })
    .transpose()
}

#[allow(clippy::too_many_arguments)]
pub(super) fn filter(
    doctor: Option<String>,
    patient: Option<String>,
    from: Option<String>,
    to: Option<String>,
    has_notes: bool,
    has_chat: bool,
    after: Option<String>,
    limit: u32,
) -> Result<ConsultationFilter> {
    Ok(ConsultationFilter {
        doctor_id: doctor.map(|d| parse_id(&d, "doctor", "doctor")).transpose()?,
        patient_id: patient.map(|p| parse_id(&p, "patient", "patient")).transpose()?,
        from: day(from, "from")?,
        to: day(to, "to")?,
        has_notes,
        has_chat,
        after,
        limit: Some(limit),
    })
}

pub(super) fn list(clinic: &Clinic, caller: &Caller, json: bool, filter: &ConsultationFilter) -> Result<()> {
    let page = clinic.consultations().list(caller, filter)?;
    let tz = clinic.settings().time_zone()?;
    print(json, &page, |page: &ConsultationPage| {
        if page.items.is_empty() {
            return "No past consultations match. A consultation is listed once its doctor has started it.".into();
        }
        let rows = page
            .items
            .iter()
            .map(|s| {
                let length = match s.ended_at {
                    Some(end) => duration((end - s.started_at).num_seconds()),
                    None => "in progress".into(),
                };
                let yes_no = |b: Option<bool>| b.map_or("-", |b| if b { "yes" } else { "no" }).to_owned();
                vec![
                    moment(s.started_at, tz),
                    s.patient_name.clone(),
                    s.doctor_name.clone(),
                    length,
                    yes_no(s.has_notes),
                    s.chat_messages.map_or("-".into(), |n| n.to_string()),
                    s.appointment_id.to_string(),
                ]
            })
            .collect();
        let mut out = table(&["STARTED", "PATIENT", "DOCTOR", "LENGTH", "NOTES", "CHAT", "APPOINTMENT"], rows);
        if let Some(next) = &page.next {
            out.push_str(&format!("\nMore: --after '{next}'"));
        }
        out
    });
    Ok(())
}

fn who(role: ParticipantRole) -> &'static str {
    match role {
        ParticipantRole::Doctor => "Doctor",
        ParticipantRole::Patient => "Patient",
        ParticipantRole::Other => "Someone else",
    }
}

fn record_text(r: &ConsultationRecord, tz: chrono_tz::Tz) -> String {
    let mut lines = vec![
        format!("{} with {}, {} (booking {})", r.patient_name, r.doctor_name, moment(r.starts_at, tz), r.booking_ref),
        format!("Status: {}", state_name(r.state)),
    ];
    if let Some(at) = r.started_at {
        lines.push(format!("Started: {}", moment(at, tz)));
    }
    if let Some(at) = r.ended_at {
        lines.push(format!("Ended: {}", moment(at, tz)));
    }
    if r.record_pending {
        lines.push("Who was in the room and the chat are fetched from Twilio when the network returns.".into());
    }
    if !r.full {
        lines.push(
            "You see that this consultation happened and its texts; its notes and chat are for its doctor.".into(),
        );
    }
    for a in &r.attendance {
        lines.push(format!(
            "In the room: {} for {} ({} connection(s))",
            who(a.role),
            duration(a.seconds),
            a.connections
        ));
    }
    if let Some(notes) = &r.notes {
        lines.push(String::new());
        lines.push(if notes.is_empty() { "Notes: none written".into() } else { format!("Notes:\n{notes}") });
        for v in r.note_versions.iter().filter(|v| v.version > 0) {
            let by = v.saved_by.as_deref().unwrap_or("unknown");
            lines.push(format!("Amendment {} by {by}, {}:\n{}", v.version, moment(v.saved_at, tz), v.text));
        }
    }
    lines.push(String::new());
    lines.push("Timeline:".into());
    if r.timeline.is_empty() {
        lines.push("  nothing yet".into());
    }
    let mut day = String::new();
    for entry in &r.timeline {
        let date = entry.at().with_timezone(&tz).format("%a %-d %b %Y").to_string();
        if date != day {
            lines.push(format!("  {date}"));
            day = date;
        }
        let (time, text) = timeline_line(entry, tz);
        lines.push(format!("    {time}  {text}"));
    }
    let files: Vec<_> = r
        .timeline
        .iter()
        .filter_map(|e| match e {
            TimelineEntry::Message { media, .. } => Some(media),
            _ => None,
        })
        .flatten()
        .filter_map(|m| Some((m.sid.as_deref()?, m)))
        .collect();
    if !files.is_empty() {
        lines.push(String::new());
        lines.push("Attachments (save one with `clinicdesk consultation attachment APPT ID --out FILE`):".into());
        for (sid, m) in files {
            let size = m.size.map(|b| format!(", {}", file_size(b))).unwrap_or_default();
            let name = m.filename.as_deref().unwrap_or("file");
            lines.push(format!("  {sid}  {name}{size}: {}", m.state.in_words()));
        }
    }
    lines.join("\n")
}

/// A file's size as people say it.
fn file_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// What patients and staff wrote, safe for a terminal: control characters (escape sequences that
/// could move the cursor or retitle the window) shown as "?", line breaks and tabs kept.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { '?' } else { c }).collect()
}

pub(super) fn show(clinic: &Clinic, caller: &Caller, json: bool, appointment: uuid::Uuid) -> Result<()> {
    let record = clinic.consultations().record(caller, appointment)?;
    let tz = clinic.settings().time_zone()?;
    print(json, &record, |r| printable(&record_text(r, tz)));
    Ok(())
}

pub(super) fn export(
    clinic: &Clinic,
    caller: &Caller,
    appointment: uuid::Uuid,
    format: &str,
    out: &Path,
) -> Result<()> {
    let format = ExportFormat::parse(format)
        .ok_or_else(|| CoreError::invalid("format", format!("\"{format}\" is not a format: choose pdf or json.")))?;
    refuse_existing(out)?;
    let export = clinic.consultations().export(caller, appointment, format)?;
    write_new(out, &export.bytes)
}

pub(super) fn attachment(
    clinic: &Clinic,
    caller: &Caller,
    appointment: uuid::Uuid,
    media_sid: &str,
    out: &Path,
) -> Result<()> {
    refuse_existing(out)?;
    let file = clinic.consultations().attachment(caller, appointment, media_sid.trim())?;
    write_new(out, &file.bytes)
}

fn refuse_existing(out: &Path) -> Result<()> {
    if out.exists() {
        return Err(CoreError::invalid(
            "out",
            format!("{} already exists; choose another file name (an export never overwrites).", out.display()),
        ));
    }
    Ok(())
}

/// Writes a new file readable by its owner only (it holds health information), never over another.
fn write_new(out: &Path, bytes: &[u8]) -> Result<()> {
    let unwritable =
        |err: std::io::Error| CoreError::invalid("out", format!("{} could not be written: {err}.", out.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(out).and_then(|mut f| f.write_all(bytes)).map_err(unwritable)?;
    eprintln!("{PHI_NOTICE}");
    println!("Saved {} ({} bytes).", out.display(), bytes.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_sequences_from_a_chat_never_reach_the_terminal() {
        assert_eq!(super::printable("Hi\u{1b}]0;pwned\u{7}\nBye\tnow"), "Hi?]0;pwned?\nBye\tnow");
    }
}
