//! A record's timeline in words, for the CLI's `consultation show` and the PDF export (the app's
//! screen words it in TypeScript, with the same sentences).

use super::attachments::AttachmentState;
use super::model::ParticipantRole;
use super::review::TimelineEntry;
use super::waiting::DeviceCheck;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

fn who(role: ParticipantRole) -> &'static str {
    match role {
        ParticipantRole::Doctor => "The doctor",
        ParticipantRole::Patient => "The patient",
        ParticipantRole::Other => "Someone else",
    }
}

fn text_name(kind: &str) -> &str {
    match kind {
        "confirmation" => "Confirmation text",
        "cancellation" => "Cancellation text",
        "reschedule" => "New-time text",
        "reminder" => "Reminder text",
        "invite" => "Video link text",
        "custom" => "Text from the clinic",
        other => other,
    }
}

/// "12 min 5 s", "45 s".
pub fn duration(seconds: i64) -> String {
    match seconds {
        s if s >= 3600 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s if s >= 60 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

/// "by Dr Amara Okafor", or nothing.
fn by(name: &Option<String>) -> String {
    name.as_deref().map(|n| format!(" by {n}")).unwrap_or_default()
}

/// A consultation's state as the record's reader says it.
pub fn state_name(state: super::model::ConsultationState) -> &'static str {
    use super::model::ConsultationState::*;
    match state {
        Scheduled => "Not started",
        InProgress => "In progress",
        Completed => "Ended",
        Cancelled => "Cancelled",
        NoShow => "No-show",
    }
}

/// The clinic's clock time of an instant, with the day: "Tue 3 Mar 14:05".
pub fn moment(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %-d %b %Y %H:%M").to_string()
}

/// One timeline entry: its clock time ("14:05:31") and what happened.
pub fn timeline_line(entry: &TimelineEntry, tz: Tz) -> (String, String) {
    let time = entry.at().with_timezone(&tz).format("%H:%M:%S").to_string();
    let text = match entry {
        TimelineEntry::Text { text_kind, state, body, error, .. } => {
            let fate = match (state.as_str(), error) {
                (_, Some(error)) => format!("{state}: {error}"),
                (state, None) => state.to_owned(),
            };
            format!("{} ({fate}): \"{body}\"", text_name(text_kind))
        }
        TimelineEntry::Waiting { device_check, .. } => {
            let check = match device_check {
                DeviceCheck::Passed => "camera and microphone worked",
                DeviceCheck::CameraOff => "joining without a camera",
                DeviceCheck::Failed => "the device check found a problem",
                DeviceCheck::Unknown => "no device check reported",
            };
            format!("The patient was waiting ({check})")
        }
        TimelineEntry::Started { by: name, .. } => format!("Consultation started{}", by(name)),
        TimelineEntry::Joined { role, .. } => format!("{} joined", who(*role)),
        TimelineEntry::Left { role, seconds, .. } => match seconds {
            Some(s) => format!("{} left after {}", who(*role), duration(*s)),
            None => format!("{} left", who(*role)),
        },
        TimelineEntry::Message { author, body, media, .. } => {
            let mut said: Vec<String> = body.iter().filter(|b| !b.is_empty()).cloned().collect();
            for m in media {
                let name = m.filename.as_deref().unwrap_or("file");
                said.push(match m.state {
                    AttachmentState::Kept => format!("[attachment: {name}]"),
                    other => format!("[attachment: {name}, {}]", other.in_words()),
                });
            }
            format!("{}: {}", who(*author), said.join(" "))
        }
        TimelineEntry::RecordingConsent { by: name, .. } => {
            format!("The patient agreed to recording (recorded{})", by(name))
        }
        TimelineEntry::Recording { on, by: name, .. } => {
            format!("Recording switched {}{}", if *on { "on" } else { "off" }, by(name))
        }
        TimelineEntry::Ended { by: name, .. } => format!("Consultation ended{}", by(name)),
        TimelineEntry::NotesAmended { version, by: name, .. } => {
            format!("Notes amended (amendment {version}){}", by(name))
        }
        TimelineEntry::ChatRemoved { .. } => "The chat was removed under the clinic's retention rule".to_owned(),
    };
    (time, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(725), "12 min 5 s");
        assert_eq!(duration(1020), "17 min");
        assert_eq!(duration(3 * 3600 + 120), "3 h 2 min");
    }
}
