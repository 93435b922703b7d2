//! Twilio's errors, typed, and explained in words a receptionist can act on.
//!
//! Twilio answers errors in two JSON shapes (TWILIO.md): the classic `{code, message, more_info,
//! status}` and RFC 9457 `{type, title, status, code, detail}`. Both parse into `TwilioError::Api`.

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TwilioError {
    /// Twilio answered with an error status.
    #[error("Twilio answered {status}: {message}")]
    Api { status: u16, code: Option<u32>, message: String, retry_after: Option<Duration> },
    /// No usable answer. `maybe_processed` is true when the request may have reached Twilio (a
    /// timeout or dropped connection after sending): the outcome is unknown, not a failure.
    #[error("no answer from Twilio ({detail})")]
    NoAnswer { maybe_processed: bool, detail: String },
    /// Twilio answered 2xx with a body ClinicDesk could not read.
    #[error("unreadable answer from Twilio: {0}")]
    Unreadable(String),
    /// Twilio is not configured on this computer.
    #[error("SMS not configured")]
    NotConfigured,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<serde_json::Value>,
    message: Option<String>,
    detail: Option<String>,
    title: Option<String>,
}

impl TwilioError {
    /// Reads an error answer in either of Twilio's shapes (or neither: then the status speaks).
    pub fn from_answer(status: u16, body: &[u8], retry_after: Option<Duration>) -> TwilioError {
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let code = parsed.as_ref().and_then(|b| match &b.code {
            Some(serde_json::Value::Number(n)) => n.as_u64().map(|n| n as u32),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        });
        let message = parsed
            .as_ref()
            .and_then(|b| b.message.clone().or_else(|| b.detail.clone()).or_else(|| b.title.clone()))
            .unwrap_or_else(|| format!("HTTP {status}"));
        let code = code.or(if status == 429 { Some(20429) } else { None });
        TwilioError::Api { status, code, message, retry_after }
    }

    pub fn code(&self) -> Option<u32> {
        match self {
            TwilioError::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// True when Twilio certainly did not act on the request, so sending it again is safe: it
    /// refused it for load (429 / 20429) or the connection was never made. A 5xx is NOT such an
    /// answer: a gateway can lose Twilio's "201 Created" and answer 500-504 instead.
    pub fn is_retryable(&self) -> bool {
        match self {
            TwilioError::Api { status, code, .. } => *status == 429 || *code == Some(20429),
            TwilioError::NoAnswer { maybe_processed, .. } => !maybe_processed,
            TwilioError::Unreadable(_) | TwilioError::NotConfigured => false,
        }
    }

    /// True for Twilio's (or a gateway's) own failures, 500-599.
    pub fn is_server_error(&self) -> bool {
        matches!(self, TwilioError::Api { status, .. } if (500..600).contains(status))
    }

    /// True when a request that creates something may or may not have been acted on: a 5xx, a
    /// timeout or dropped connection after sending, an unreadable answer. Such a create must be
    /// reconciled against Twilio's records, never simply sent again.
    pub fn outcome_unknown(&self) -> bool {
        self.is_server_error()
            || matches!(self, TwilioError::NoAnswer { maybe_processed: true, .. } | TwilioError::Unreadable(_))
    }

    /// True when the problem is the clinic's Twilio setup, not this text: refused credentials,
    /// an inactive or suspended account, a sender the account does not own. Sending pauses (the
    /// texts wait, none fails) until the setup works again.
    pub fn is_setup_problem(&self) -> bool {
        match self {
            TwilioError::Api { status, code, .. } => {
                matches!(status, 401 | 403) || code.is_some_and(|c| SETUP_CODES.contains(&c))
            }
            TwilioError::NotConfigured => true,
            _ => false,
        }
    }

    /// What happened, for staff: a sentence naming the Twilio code and what to do.
    pub fn explain(&self) -> String {
        match self {
            TwilioError::Api { code: Some(code), message, .. } => {
                explain_code(*code).map(str::to_owned).unwrap_or_else(|| {
                    format!("Twilio refused the request (Twilio {code}): {}", message.trim_end_matches('.'))
                })
            }
            TwilioError::Api { status, .. } if *status >= 500 => format!(
                "Twilio had a problem of its own (HTTP {status}). ClinicDesk will check whether the text went out before trying again."
            ),
            TwilioError::Api { status, message, .. } => {
                format!("Twilio refused the request (HTTP {status}): {message}")
            }
            TwilioError::NoAnswer { maybe_processed: true, .. } => {
                "Twilio did not answer in time. ClinicDesk will check whether the text went out before trying again."
                    .into()
            }
            TwilioError::NoAnswer { .. } => {
                "ClinicDesk could not reach Twilio (no internet connection?). It will try again.".into()
            }
            TwilioError::Unreadable(_) => {
                "Twilio's answer could not be read. ClinicDesk will check whether the text went out.".into()
            }
            TwilioError::NotConfigured => "SMS not configured".into(),
        }
    }
}

/// Twilio codes that mean the clinic's setup is wrong, whatever the text: 20003 authentication,
/// 10001 / 20005 account not active, 21606 / 21212 a sender the account cannot use, 21603 no
/// sender at all.
pub const SETUP_CODES: [u32; 6] = [20003, 10001, 20005, 21606, 21212, 21603];

/// Staff-facing sentences for the error codes in TWILIO.md.
pub fn explain_code(code: u32) -> Option<&'static str> {
    Some(match code {
        20003 => "Twilio refused ClinicDesk's credentials (Twilio 20003). An administrator should check the Account SID, API key and secrets in Settings.",
        10001 => "The clinic's Twilio account is not active (suspended or closed), so Twilio refuses to send (Twilio 10001). An administrator should contact Twilio.",
        20005 => "The clinic's Twilio account is not active (suspended or closed), so Twilio refuses to send (Twilio 20005). An administrator should contact Twilio.",
        21606 => "Twilio will not send from the clinic's sending number: the account does not own it or it cannot send texts (Twilio 21606). An administrator should choose a number listed in the Twilio Console.",
        21212 => "The clinic's sending number is not a valid number (Twilio 21212). An administrator should correct it in Settings.",
        21603 => "No sending number or Messaging Service is set (Twilio 21603). An administrator should set one in Settings.",
        20404 => "Twilio could not find that item (Twilio 20404). It may have been deleted, or the settings point at another account.",
        20429 => "Twilio asked ClinicDesk to slow down (Twilio 20429). The text will be retried automatically.",
        20157 => "Twilio refused an access token that lives longer than a day (Twilio 20157).",
        21211 => "This phone number is not valid for texting (Twilio 21211). Check the patient's number.",
        21408 => "Texts to this country are not enabled on the clinic's Twilio account (Twilio 21408). An administrator can enable it in Twilio's Geo Permissions.",
        21608 => "The clinic's Twilio account is a trial account and can only text verified numbers (Twilio 21608). Verify this number in Twilio, or upgrade the account.",
        21610 => "The patient replied STOP to the clinic's texts (Twilio 21610). No more texts are sent until they reply START.",
        21614 => "This number is not a mobile phone, so it cannot receive texts (Twilio 21614). Ask the patient for a mobile number.",
        30003 => "The patient's phone could not be reached (Twilio 30003): it may be switched off or out of coverage.",
        30004 => "The text was blocked by the patient's phone or network (Twilio 30004).",
        30005 => "The mobile number does not exist (Twilio 30005). Check the patient's number.",
        30006 => "The number is a landline or its network cannot receive texts (Twilio 30006). Ask the patient for a mobile number.",
        30007 => "The patient's network filtered the text as unwanted (Twilio 30007).",
        30008 => "The text could not be delivered for an unknown reason (Twilio 30008). Try again later or call the patient.",
        53113 => "A video room with that name is already in progress (Twilio 53113).",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_parse_to_the_same_code() {
        let classic = TwilioError::from_answer(400, br#"{"code":21211,"message":"The 'To' number +1555 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#, None);
        let rfc9457 = TwilioError::from_answer(400, br#"{"type":"https://www.twilio.com/docs/errors/21211","title":"Invalid 'To' Phone Number","status":400,"code":21211,"detail":"The 'To' number is not valid."}"#, None);
        assert_eq!(classic.code(), Some(21211));
        assert_eq!(rfc9457.code(), Some(21211));
        assert!(classic.explain().contains("not valid for texting (Twilio 21211)"));
        assert!(!classic.is_retryable() && !rfc9457.is_retryable());
    }

    #[test]
    fn throttling_is_safe_to_retry_but_a_server_error_is_an_unknown_outcome() {
        let throttled = TwilioError::from_answer(429, b"", Some(Duration::from_secs(3)));
        assert_eq!(throttled.code(), Some(20429));
        assert!(throttled.is_retryable() && !throttled.outcome_unknown());
        for status in [500, 502, 503, 504] {
            let gateway = TwilioError::from_answer(status, b"<html>busy</html>", None);
            assert!(!gateway.is_retryable(), "{status}: Twilio may have created the message before the gateway failed");
            assert!(gateway.outcome_unknown(), "{status}");
            assert!(gateway.explain().contains("check whether the text went out"), "{status}");
        }
    }

    #[test]
    fn setup_problems_are_told_apart_from_problems_with_one_text() {
        for (status, code) in [(401, 20003), (401, 10001), (400, 21606), (400, 21212), (403, 20005)] {
            assert!(TwilioError::from_answer(status, format!(r#"{{"code":{code},"message":"x"}}"#).as_bytes(), None)
                .is_setup_problem());
        }
        for (status, code) in [(400, 21211), (400, 21614), (400, 21610), (400, 21608), (429, 20429)] {
            assert!(!TwilioError::from_answer(status, format!(r#"{{"code":{code},"message":"x"}}"#).as_bytes(), None)
                .is_setup_problem());
        }
    }

    #[test]
    fn an_unanswered_send_is_unknown_not_failed() {
        let timeout = TwilioError::NoAnswer { maybe_processed: true, detail: "timed out".into() };
        assert!(!timeout.is_retryable(), "resending could text the patient twice");
        assert!(timeout.outcome_unknown());
        let refused = TwilioError::NoAnswer { maybe_processed: false, detail: "connection refused".into() };
        assert!(refused.is_retryable());
    }

    #[test]
    fn every_code_in_the_contract_has_a_sentence() {
        for code in [20003, 20404, 20429, 21211, 21408, 21608, 21610, 21614, 30003, 30004, 30005, 30006, 30007, 30008] {
            let sentence = explain_code(code).unwrap();
            assert!(sentence.contains(&format!("(Twilio {code})")), "{code}: {sentence}");
        }
        let unknown = TwilioError::from_answer(400, br#"{"code":12345,"message":"Something odd."}"#, None);
        assert_eq!(unknown.explain(), "Twilio refused the request (Twilio 12345): Something odd");
    }
}
