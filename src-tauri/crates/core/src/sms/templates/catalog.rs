//! Which templates there are, what each is for, which placeholders it may use, and its built-in
//! wording. The names are stable: they are the settings keys (`sms.template.<name>`), the CLI's KIND
//! argument and the UI's identifiers.

use super::placeholders::Placeholder;
use crate::error::{CoreError, Result};
use crate::sms::TextKind;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum TemplateName {
    #[serde(rename = "confirmation")]
    Confirmation,
    #[serde(rename = "reschedule")]
    Reschedule,
    #[serde(rename = "cancellation")]
    Cancellation,
    #[serde(rename = "reminder")]
    Reminder,
    #[serde(rename = "video_invite")]
    VideoInvite,
    #[serde(rename = "quick.running_late")]
    RunningLate,
    #[serde(rename = "quick.please_call")]
    PleaseCall,
    #[serde(rename = "quick.results_ready")]
    ResultsReady,
    #[serde(rename = "quick.missed_appointment")]
    MissedAppointment,
    #[serde(rename = "chat.one_minute")]
    ChatOneMinute,
    #[serde(rename = "chat.can_you_hear")]
    ChatCanYouHear,
    #[serde(rename = "chat.camera_off")]
    ChatCameraOff,
    #[serde(rename = "chat.details_by_text")]
    ChatDetailsByText,
}

use Placeholder::*;

/// Texts about one appointment. `{video_link}` is not among them: confirmations, reminders and the
/// rest also go to patients who come in person, for whom it would be empty and the sentence around
/// it nonsense. Only the video invite, which is sent for a video consultation, may use it.
const APPOINTMENT: &[Placeholder] = &[FirstName, ClinicName, ClinicPhone, Doctor, Date, Time, BookingRef];
const INVITE: &[Placeholder] = &[FirstName, ClinicName, ClinicPhone, Doctor, Date, Time, BookingRef, VideoLink];
/// A quick text is written to a patient, not about an appointment: only what is always known.
const QUICK: &[Placeholder] = &[FirstName, ClinicName, ClinicPhone];
/// A chat reply is written by the doctor inside one consultation, so the doctor is known too.
const CHAT: &[Placeholder] = &[FirstName, ClinicName, ClinicPhone, Doctor];

impl TemplateName {
    pub const ALL: [TemplateName; 13] = [
        TemplateName::Confirmation,
        TemplateName::Reschedule,
        TemplateName::Cancellation,
        TemplateName::Reminder,
        TemplateName::VideoInvite,
        TemplateName::RunningLate,
        TemplateName::PleaseCall,
        TemplateName::ResultsReady,
        TemplateName::MissedAppointment,
        TemplateName::ChatOneMinute,
        TemplateName::ChatCanYouHear,
        TemplateName::ChatCameraOff,
        TemplateName::ChatDetailsByText,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TemplateName::Confirmation => "confirmation",
            TemplateName::Reschedule => "reschedule",
            TemplateName::Cancellation => "cancellation",
            TemplateName::Reminder => "reminder",
            TemplateName::VideoInvite => "video_invite",
            TemplateName::RunningLate => "quick.running_late",
            TemplateName::PleaseCall => "quick.please_call",
            TemplateName::ResultsReady => "quick.results_ready",
            TemplateName::MissedAppointment => "quick.missed_appointment",
            TemplateName::ChatOneMinute => "chat.one_minute",
            TemplateName::ChatCanYouHear => "chat.can_you_hear",
            TemplateName::ChatCameraOff => "chat.camera_off",
            TemplateName::ChatDetailsByText => "chat.details_by_text",
        }
    }

    /// Reads a name as typed (`clinicdesk templates set reminder`); "running_late" also finds the
    /// quick text and "camera_off" the chat reply, since people will not always type the prefix,
    /// and "invite" (the outbox's name for the kind) finds the video invite.
    pub fn parse(text: &str) -> Result<TemplateName> {
        let text = text.trim().to_ascii_lowercase();
        if text == "invite" {
            return Ok(TemplateName::VideoInvite);
        }
        Self::ALL
            .into_iter()
            .find(|n| {
                let name = n.as_str();
                let short = name.strip_prefix("quick.").or_else(|| name.strip_prefix("chat."));
                name == text || short == Some(text.as_str())
            })
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|n| n.as_str()).collect();
                CoreError::invalid(
                    "name",
                    format!("\"{text}\" is not a text template. The templates are: {}.", names.join(", ")),
                )
            })
    }

    /// The template for texts of `kind`; staff's own texts (`Custom`) have none.
    pub fn for_kind(kind: TextKind) -> Option<TemplateName> {
        match kind {
            TextKind::Confirmation => Some(TemplateName::Confirmation),
            TextKind::Reschedule => Some(TemplateName::Reschedule),
            TextKind::Cancellation => Some(TemplateName::Cancellation),
            TextKind::Reminder => Some(TemplateName::Reminder),
            TextKind::Invite => Some(TemplateName::VideoInvite),
            TextKind::Custom => None,
        }
    }

    /// The kind of text this template writes: quick texts are sent as staff's own (`Custom`); chat
    /// replies are never texts, and say `Custom` only so that no appointment text uses them.
    pub fn kind(self) -> TextKind {
        match self {
            TemplateName::Confirmation => TextKind::Confirmation,
            TemplateName::Reschedule => TextKind::Reschedule,
            TemplateName::Cancellation => TextKind::Cancellation,
            TemplateName::Reminder => TextKind::Reminder,
            TemplateName::VideoInvite => TextKind::Invite,
            _ => TextKind::Custom,
        }
    }

    /// Offered to reception when texting a patient (`quick.*`).
    pub fn is_quick_text(self) -> bool {
        self.as_str().starts_with("quick.")
    }

    /// Offered to the doctor in a video consultation's chat (`chat.*`); never sent as a text.
    pub fn is_chat_reply(self) -> bool {
        self.as_str().starts_with("chat.")
    }

    /// Where a changed template is kept in the `settings` table (no row: the built-in wording).
    pub fn settings_key(self) -> String {
        format!("sms.template.{}", self.as_str())
    }

    pub fn label(self) -> &'static str {
        match self {
            TemplateName::Confirmation => "Booking confirmation",
            TemplateName::Reschedule => "Appointment moved",
            TemplateName::Cancellation => "Appointment cancelled",
            TemplateName::Reminder => "Reminder",
            TemplateName::VideoInvite => "Video invite",
            TemplateName::RunningLate => "Quick text: running late",
            TemplateName::PleaseCall => "Quick text: please call us",
            TemplateName::ResultsReady => "Quick text: results ready",
            TemplateName::MissedAppointment => "Quick text: missed appointment",
            TemplateName::ChatOneMinute => "Chat reply: with you in a minute",
            TemplateName::ChatCanYouHear => "Chat reply: can you hear me?",
            TemplateName::ChatCameraOff => "Chat reply: camera is off",
            TemplateName::ChatDetailsByText => "Chat reply: details by text",
        }
    }

    /// When the text goes out, in reception's words.
    pub fn purpose(self) -> &'static str {
        match self {
            TemplateName::Confirmation => "Sent when an appointment is booked.",
            TemplateName::Reschedule => "Sent when an appointment is moved to another time.",
            TemplateName::Cancellation => "Sent when an appointment is cancelled.",
            TemplateName::Reminder => "Sent before each appointment, at the times set in the reminder rules.",
            TemplateName::VideoInvite => "Sent by the doctor to invite the patient into a video consultation.",
            n if n.is_chat_reply() => {
                "Offered to the doctor in a video consultation's chat; it can be edited before sending."
            }
            _ => "Offered to reception when writing to a patient; it can be edited before sending.",
        }
    }

    pub fn placeholders(self) -> &'static [Placeholder] {
        match self {
            TemplateName::VideoInvite => INVITE,
            n if n.is_quick_text() => QUICK,
            n if n.is_chat_reply() => CHAT,
            _ => APPOINTMENT,
        }
    }

    /// Placeholders the template cannot do without: an invite without its link cannot be used.
    pub fn required(self) -> &'static [Placeholder] {
        match self {
            TemplateName::VideoInvite => &[VideoLink],
            _ => &[],
        }
    }

    /// The built-in wording. Each fits one GSM-7 segment (160 characters) with long but realistic
    /// names (tested in `tests/templates.rs`), uses no character outside GSM-7, and needs no setting
    /// that may be unset (the clinic's phone number is left to the clinic to add).
    pub fn default_body(self) -> &'static str {
        match self {
            TemplateName::Confirmation => {
                "Hi {first_name}, you are booked with {doctor} at {clinic_name} on {date} at {time}. Ref {booking_ref}."
            }
            TemplateName::Reschedule => {
                "Hi {first_name}, your appointment with {doctor} at {clinic_name} is now on {date} at {time}. Ref {booking_ref}."
            }
            TemplateName::Cancellation => {
                "Hi {first_name}, your appointment with {doctor} at {clinic_name} on {date} at {time} is cancelled. Ref {booking_ref}."
            }
            TemplateName::Reminder => {
                "{clinic_name}: reminder, you see {doctor} on {date} at {time}. Reply C to confirm. Ref {booking_ref}."
            }
            TemplateName::VideoInvite => {
                "Hi {first_name}, your video visit with {doctor} is on {date} at {time}. Join: {video_link}"
            }
            TemplateName::RunningLate => {
                "Hi {first_name}, {clinic_name} is running late today. Sorry for the wait, we will see you as soon as we can."
            }
            TemplateName::PleaseCall => "Hi {first_name}, please call {clinic_name} when you can. Thank you.",
            TemplateName::ResultsReady => {
                "Hi {first_name}, your results are ready at {clinic_name}. Please call us to talk them through."
            }
            TemplateName::MissedAppointment => {
                "Hi {first_name}, we missed you at {clinic_name} today. Please call us to book a new appointment."
            }
            TemplateName::ChatOneMinute => "Hello {first_name}, I will be with you in a minute.",
            TemplateName::ChatCanYouHear => "Can you hear me, {first_name}? If not, please check your sound is on.",
            TemplateName::ChatCameraOff => "Your camera seems to be off. Can you switch it on?",
            TemplateName::ChatDetailsByText => "I will send you the details by text after the call.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_quick_texts_are_found_without_their_prefix() {
        for name in TemplateName::ALL {
            assert_eq!(TemplateName::parse(name.as_str()).unwrap(), name);
            let json = serde_json::to_string(&name).unwrap();
            assert_eq!(json, format!("\"{}\"", name.as_str()), "the UI and the CLI use the same names");
        }
        assert_eq!(TemplateName::parse("Running_Late").unwrap(), TemplateName::RunningLate);
        assert_eq!(TemplateName::parse("camera_off").unwrap(), TemplateName::ChatCameraOff);
        assert_eq!(TemplateName::parse("invite").unwrap(), TemplateName::VideoInvite);
        assert_eq!(TemplateName::parse("thanks").unwrap_err().field(), Some("name"));
    }

    #[test]
    fn every_kind_with_words_of_its_own_has_a_template_of_that_kind() {
        for name in TemplateName::ALL.into_iter().filter(|n| !n.is_quick_text() && !n.is_chat_reply()) {
            assert_eq!(TemplateName::for_kind(name.kind()), Some(name));
        }
        assert_eq!(TemplateName::for_kind(TextKind::Custom), None);
    }

    #[test]
    fn quick_texts_and_chat_replies_are_separate_sets() {
        for name in TemplateName::ALL {
            assert!(!(name.is_quick_text() && name.is_chat_reply()), "{name:?}");
        }
        assert!(TemplateName::ChatCameraOff.is_chat_reply() && !TemplateName::ChatCameraOff.is_quick_text());
        assert!(TemplateName::PleaseCall.is_quick_text() && !TemplateName::PleaseCall.is_chat_reply());
    }
}
