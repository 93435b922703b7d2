//! What a doctor reads when Twilio cannot do its part: what happened, what it means for the
//! consultation, and what to do. Technical detail goes to the log (codes only, no patient data).

use crate::error::CoreError;
use crate::twilio::config::AccountState;
use crate::twilio::TwilioError;

/// The step Twilio failed at.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Start,
    Join,
    End,
    Send,
    Read,
    Record,
    Invite,
    WaitingRoom,
}

impl Step {
    /// What the failure means, after "…, so".
    fn consequence(self) -> &'static str {
        match self {
            Step::Start => "the video consultation has not started",
            Step::Join => "the video consultation cannot be joined from here",
            Step::End => "the consultation has not finished ending",
            Step::Send => "the message was not sent",
            Step::Read => "the chat could not be loaded",
            Step::Record => "recording was not switched",
            Step::Invite => "the patient's link could not be made",
            Step::WaitingRoom => {
                "the patient's waiting room has no chat yet and the day view cannot say when they wait"
            }
        }
    }

    /// What to do next.
    fn next(self, unknown: bool) -> &'static str {
        match (self, unknown) {
            (Step::Start, _) => {
                "Press Start again: it carries on from where it stopped. You can write your notes meanwhile."
            }
            (Step::End, _) => "Press End again: it carries on from where it stopped. Your notes are saved.",
            (Step::Send, true) => "It may still have arrived: look at the chat before sending it again.",
            (Step::Send, false) => "Send it again in a moment.",
            (Step::Read, _) => "Try again in a moment. You can write your notes meanwhile.",
            (Step::Join | Step::Record | Step::Invite, _) => "Try again in a moment.",
            (Step::WaitingRoom, _) => "The link still works: the patient joins when you press Start.",
        }
    }
}

/// Twilio is not (completely) set up on this computer.
pub(super) fn not_ready(state: &AccountState, step: Step) -> CoreError {
    let why = match state {
        AccountState::MissingSecret(why) => why,
        _ => "Twilio is not set up on this computer. An administrator can set it up in Settings (Twilio).",
    };
    let notes = match step {
        Step::Start | Step::Join | Step::Read => " You can write your notes meanwhile.",
        _ => "",
    };
    CoreError::Twilio(format!("Video consultations need Twilio, so {}. {why}{notes}", step.consequence()))
}

/// A Twilio failure, in the doctor's words.
pub fn failed(err: &TwilioError, step: Step) -> CoreError {
    tracing::warn!(step = ?step, code = ?err.code(), "Twilio failed during a consultation step");
    let unknown = err.outcome_unknown();
    let sentence = match err {
        TwilioError::NoAnswer { maybe_processed: false, .. } => format!(
            "ClinicDesk could not reach Twilio (no internet connection?), so {}. {}",
            step.consequence(),
            step.next(false)
        ),
        _ if err.is_server_error() => {
            format!("Twilio had a problem of its own, so {}. {}", step.consequence(), step.next(true))
        }
        _ if unknown => format!("Twilio did not answer in time, so {}. {}", step.consequence(), step.next(true)),
        TwilioError::Api { status: 429, .. } => {
            format!("Twilio is busy and asked ClinicDesk to wait, so {}. {}", step.consequence(), step.next(false))
        }
        TwilioError::NotConfigured => {
            return not_ready(&AccountState::NotConfigured, step);
        }
        other => {
            let mut chars = step.consequence().chars();
            let what: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            format!("{what}: {} {}", other.explain(), step.next(false))
        }
    };
    CoreError::Twilio(sentence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_says_what_happened_and_what_to_do() {
        let offline = TwilioError::NoAnswer { maybe_processed: false, detail: "refused".into() };
        assert_eq!(
            failed(&offline, Step::Start).to_string(),
            "ClinicDesk could not reach Twilio (no internet connection?), so the video consultation has not started. Press Start again: it carries on from where it stopped. You can write your notes meanwhile."
        );
        let lost = TwilioError::NoAnswer { maybe_processed: true, detail: "timeout".into() };
        assert!(failed(&lost, Step::Send).to_string().contains("look at the chat before sending it again"));
        let refused = TwilioError::from_answer(401, br#"{"code":20003,"message":"Authenticate"}"#, None);
        let words = failed(&refused, Step::End).to_string();
        assert!(
            words.starts_with("The consultation has not finished ending: Twilio refused ClinicDesk's credentials"),
            "{words}"
        );
        assert_eq!(failed(&refused, Step::End).code(), crate::error::ErrorCode::Unavailable);
    }
}
