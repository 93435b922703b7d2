//! Video consultations from the terminal: the same core calls (and role checks, and audit) as the
//! app's buttons. Those that talk to Twilio run on the small runtime messaging.rs keeps.

use crate::args::ConsultationCommand;
use crate::messaging::{http, runtime};
use crate::output::{show, table};
use chrono::{DateTime, Utc};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::consultations::{ChatLine, ChatView, ConsultationStatus, ParticipantRole};
use clinicdesk_core::{Clinic, Result};

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "-".into())
}

fn who(role: ParticipantRole) -> &'static str {
    match role {
        ParticipantRole::Doctor => "doctor",
        ParticipantRole::Patient => "patient",
        ParticipantRole::Other => "other",
    }
}

fn describe(s: &ConsultationStatus) -> String {
    let mut lines = vec![format!("Status: {}", s.state.label())];
    if s.starting {
        lines.push("A start did not finish: `consultation start` continues it.".into());
    }
    if s.started_at.is_some() {
        lines.push(format!("Started: {}", when(s.started_at)));
    }
    if s.ended_at.is_some() {
        lines.push(format!("Ended: {}", when(s.ended_at)));
    }
    lines.push(match s.recording_consent_at {
        Some(at) => format!("Recording consent: given, recorded {}", when(Some(at))),
        None => "Recording consent: not recorded (recording stays off)".into(),
    });
    if s.recording {
        lines.push("Recording: on".into());
    }
    if let Some(notes) = &s.notes {
        lines.push(if notes.is_empty() { "Notes: none yet".into() } else { format!("Notes:\n{notes}") });
    }
    for p in &s.participants {
        let seconds = p.seconds.map(|s| format!("{} min {} s", s / 60, s % 60)).unwrap_or_default();
        lines.push(format!("In the room: {} from {} to {} {seconds}", who(p.role), when(p.joined_at), when(p.left_at)));
    }
    lines.join("\n")
}

fn message_row(m: &ChatLine) -> Vec<String> {
    let mut text = m.body.clone().unwrap_or_default();
    for file in &m.media {
        let name = file.filename.clone().unwrap_or_else(|| "attachment".into());
        text.push_str(&format!(" [{name}]"));
    }
    vec![m.index.to_string(), m.sent_at.format("%H:%M").to_string(), who(m.author).into(), text.trim().into()]
}

fn chat(view: &ChatView) -> String {
    if view.messages.is_empty() {
        return "No messages yet.".into();
    }
    let mut out = table(&["#", "TIME (UTC)", "FROM", "MESSAGE"], view.messages.iter().map(message_row).collect());
    if let Some(read) = view.patient_read_index {
        out.push_str(&format!("\nThe patient has read up to message {read}."));
    }
    if view.closed {
        out.push_str("\nThe consultation has ended: this is the clinic's copy of the chat.");
    }
    out
}

pub(super) fn consultation(clinic: &Clinic, caller: &Caller, json: bool, command: ConsultationCommand) -> Result<()> {
    let consultations = clinic.consultations();
    let resolve = |text: &str| clinic.appointments().resolve(caller, text);
    match command {
        ConsultationCommand::List { doctor, patient, from, to, has_notes, has_chat, after, limit } => {
            let filter = super::review::filter(doctor, patient, from, to, has_notes, has_chat, after, limit)?;
            super::review::list(clinic, caller, json, &filter)?;
        }
        ConsultationCommand::Show { appointment } => super::review::show(clinic, caller, json, resolve(&appointment)?)?,
        ConsultationCommand::Export { appointment, format, out } => {
            super::review::export(clinic, caller, resolve(&appointment)?, &format, &out)?
        }
        ConsultationCommand::Attachment { appointment, media, out } => {
            super::review::attachment(clinic, caller, resolve(&appointment)?, &media, &out)?
        }
        ConsultationCommand::Start { appointment } => {
            let id = resolve(&appointment)?;
            let status = runtime().block_on(consultations.start(caller, &http(), id))?;
            show(json, &status, |s| {
                format!("The video consultation is in progress.\n{}\nJoin it from the app, or get your token with `clinicdesk consultation token {appointment}`.", describe(s))
            });
        }
        ConsultationCommand::Status { appointment } => {
            let status = consultations.status(caller, resolve(&appointment)?)?;
            show(json, &status, describe);
        }
        ConsultationCommand::End { appointment } => {
            let id = resolve(&appointment)?;
            let status = runtime().block_on(consultations.end(caller, &http(), id))?;
            show(json, &status, |s| {
                format!(
                    "The consultation has ended for everyone; who was in the room and the chat are kept.\n{}",
                    describe(s)
                )
            });
        }
        ConsultationCommand::Token { appointment } => {
            // Joining from anywhere goes through rejoin: the room is opened again if Twilio closed it.
            let id = resolve(&appointment)?;
            let token = runtime().block_on(consultations.rejoin(caller, &http(), id))?;
            show(json, &token, |t| t.token.clone());
        }
        ConsultationCommand::Send { appointment, body } => {
            let id = resolve(&appointment)?;
            let sent = runtime().block_on(consultations.send(caller, &http(), id, &body))?;
            show(json, &sent, |m| format!("Sent (message {}).", m.index));
        }
        ConsultationCommand::Messages { appointment } => {
            let id = resolve(&appointment)?;
            let view = runtime().block_on(consultations.messages(caller, &http(), id))?;
            show(json, &view, chat);
        }
        ConsultationCommand::Read { appointment } => {
            let id = resolve(&appointment)?;
            let read = runtime().block_on(consultations.mark_read(caller, &http(), id))?;
            show(json, &serde_json::json!({ "read_up_to": read }), |_| match read {
                Some(index) => format!("Marked read up to message {index}."),
                None => "No messages to mark read.".into(),
            });
        }
        ConsultationCommand::Consent { appointment, recording: _ } => {
            let status = consultations.consent_to_recording(caller, resolve(&appointment)?)?;
            show(json, &status, |s| format!("Recorded: the patient agreed to be recorded.\n{}", describe(s)));
        }
        ConsultationCommand::Note { appointment, text } => {
            let status = consultations.note(caller, resolve(&appointment)?, &text)?;
            show(json, &status, |_| "Notes saved.".into());
        }
        ConsultationCommand::Invite { appointment } => {
            let id = resolve(&appointment)?;
            let (text, waiting_room) = runtime().block_on(consultations.invite_to_waiting_room(caller, &http(), id))?;
            // The body carries the patient's token: it is not printed (JSON callers get the record).
            show(json, &text, |t| {
                format!(
                    "Video invite queued to {} (text {}): the link works from 15 minutes before the appointment.",
                    t.to, t.id
                )
            });
            if let Some(problem) = waiting_room {
                eprintln!("{problem}");
            }
        }
        ConsultationCommand::Search { text } => {
            let hits = consultations.search(caller, &text)?;
            show(json, &hits, |hits| {
                if hits.is_empty() {
                    return "No consultation's notes or chat contain that.".into();
                }
                let rows = hits
                    .iter()
                    .map(|h| {
                        let place = match h.message_index {
                            Some(i) => format!("chat #{i}"),
                            None => "notes".into(),
                        };
                        // Matched words in «», as the window highlights them.
                        let context: String = h
                            .snippet
                            .iter()
                            .map(|p| if p.matched { format!("«{}»", p.text) } else { p.text.clone() })
                            .collect();
                        vec![when(Some(h.starts_at)), h.patient_name.clone(), h.doctor_name.clone(), place, context]
                    })
                    .collect();
                table(&["WHEN", "PATIENT", "DOCTOR", "WHERE", "CONTEXT"], rows)
            });
        }
        ConsultationCommand::Recordings { appointment } => {
            let id = resolve(&appointment)?;
            let listed = runtime().block_on(consultations.recordings(caller, &http(), id))?;
            show(json, &listed, |list| {
                if list.is_empty() {
                    return "No recordings (a consultation is recorded only with the patient's agreement).".into();
                }
                let rows = list
                    .iter()
                    .map(|r| {
                        let seconds = r.seconds.map(|s| format!("{s} s")).unwrap_or_else(|| "-".into());
                        vec![r.sid.clone(), r.kind.clone(), r.status.clone(), when(r.started_at), seconds]
                    })
                    .collect();
                table(&["SID", "TRACK", "STATUS", "STARTED", "LENGTH"], rows)
            });
        }
    }
    Ok(())
}
