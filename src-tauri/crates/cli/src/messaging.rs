//! Twilio, texts and the outbox from the terminal. These talk to Twilio, so they run on a small
//! async runtime of their own.

use crate::args::{OutboxCommand, SmsCommand, TwilioCommand};
use crate::commands::secret_from_env;
use crate::output::{show, table};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::sms::worker::OutboxWorker;
use clinicdesk_core::sms::SendingPaused;
use clinicdesk_core::sms::{TextMessage, TextState};
use clinicdesk_core::twilio::check::{check, sending_problem, CheckItem, Health};
use clinicdesk_core::twilio::config::{AccountState, TwilioSettingsInput};
use clinicdesk_core::twilio::{Endpoints, TwilioHttp};
use clinicdesk_core::{Clinic, CoreError, Result};
use std::time::Duration;

pub const AUTH_TOKEN_ENV: &str = "TWILIO_AUTH_TOKEN";
pub const API_KEY_SECRET_ENV: &str = "TWILIO_API_KEY_SECRET";

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

pub(crate) fn http() -> TwilioHttp {
    TwilioHttp::new(Endpoints::from_env())
}

pub fn twilio(clinic: &Clinic, caller: &Caller, json: bool, command: TwilioCommand) -> Result<()> {
    match command {
        TwilioCommand::Configure {
            account_sid,
            api_key_sid,
            from,
            messaging_service,
            conversations_service,
            media_region,
        } => {
            caller.require(clinicdesk_core::auth::Permission::ManageSettings)?;
            let already = clinic.twilio().account()?.is_some();
            let api_key_secret = match std::env::var(API_KEY_SECRET_ENV).ok().filter(|v| !v.is_empty()) {
                Some(v) => Some(v),
                None if already => None,
                None => Some(secret_from_env(API_KEY_SECRET_ENV, "API Key Secret: ")?),
            };
            let auth_token = std::env::var(AUTH_TOKEN_ENV).ok().filter(|v| !v.is_empty());
            let status = clinic.twilio().configure(
                caller,
                TwilioSettingsInput {
                    account_sid,
                    api_key_sid,
                    from,
                    messaging_service_sid: messaging_service,
                    conversations_service_sid: conversations_service,
                    media_region,
                    auth_token,
                    api_key_secret,
                },
            )?;
            show(json, &status, |_| {
                "Twilio is set up. The secrets are in this computer's keyring. Run `clinicdesk twilio check` to test the connection.".into()
            });
            Ok(())
        }
        TwilioCommand::Check => {
            caller.require(clinicdesk_core::auth::Permission::ManageSettings)?;
            let account = match clinic.twilio().account_state()? {
                AccountState::Ready(account) => account,
                AccountState::MissingSecret(reason) => return Err(CoreError::Conflict(reason.into())),
                AccountState::NotConfigured => {
                    return Err(CoreError::invalid(
                        "twilio",
                        "Twilio is not set up yet. Run `clinicdesk twilio configure` first.",
                    ))
                }
            };
            let health = runtime().block_on(check(&http(), &account, clinic.now()));
            let paused = clinic.texts().sending_paused(caller)?;
            if sending_problem(&health).is_none() {
                clinic.texts().setup_checked_ok()?;
            }
            if let (None, Some(found)) =
                (&account.settings.conversations_service_sid, &health.conversations_service_sid)
            {
                clinic.twilio().remember_conversations_service(found)?;
            }
            #[derive(serde::Serialize)]
            struct CheckReport<'a> {
                #[serde(flatten)]
                health: &'a clinicdesk_core::twilio::check::TwilioHealth,
                sending_paused: &'a Option<SendingPaused>,
            }
            show(json, &CheckReport { health: &health, sending_paused: &paused }, |r| {
                let h = r.health;
                let mark = |health: Health| match health {
                    Health::Ok => "ok",
                    Health::Warning => "WARNING",
                    Health::Problem => "PROBLEM",
                };
                let mut lines: Vec<String> =
                    h.items.iter().map(|i| format!("{:<8} {:<14} {}", mark(i.health), i.part, i.message)).collect();
                if let Some(paused) = &paused {
                    lines.push(format!("PAUSED   {:<14} {}", "Sending", paused_sentence(paused, &h.items)));
                }
                lines.join("\n")
            });
            if health.overall == Health::Problem {
                return Err(CoreError::Conflict("The Twilio setup has a problem (see above).".into()));
            }
            Ok(())
        }
    }
}

/// Sending paused since when and why; and whether it resumes now.
fn paused_sentence(paused: &SendingPaused, items: &[CheckItem]) -> String {
    let since = paused.since.format("%Y-%m-%d %H:%M UTC");
    if items.iter().any(|i| i.health == Health::Problem && matches!(i.part.as_str(), "Account" | "Sender")) {
        format!("Texts have been waiting since {since}: {}", paused.reason)
    } else {
        format!("Texts have been waiting since {since}; the setup works now, so sending resumes within a minute.")
    }
}

pub fn token(
    clinic: &Clinic,
    caller: &Caller,
    identity: &str,
    room: Option<&str>,
    chat: bool,
    ttl: Option<u32>,
) -> Result<()> {
    println!("{}", clinic.twilio().access_token(caller, identity, room, chat, ttl)?);
    Ok(())
}

fn describe(t: &TextMessage) -> String {
    let what = match t.state {
        TextState::Pending if t.attempts == 0 => "Queued; it will be sent shortly.".to_owned(),
        TextState::Pending => format!("Not sent yet; will try again. {}", t.error_message.clone().unwrap_or_default()),
        TextState::Sending => "Being sent.".to_owned(),
        TextState::Sent => {
            format!("Accepted by Twilio ({}); delivery is being followed up.", t.twilio_sid.clone().unwrap_or_default())
        }
        TextState::Delivered => "Delivered.".to_owned(),
        TextState::Undelivered | TextState::Failed => {
            format!("Not delivered: {}", t.error_message.clone().unwrap_or_default())
        }
        TextState::Skipped => format!("Not sent: {}", t.error_message.clone().unwrap_or_default()),
    };
    format!("{what}\n{} segment(s), {}; id {}", t.segments, t.encoding.as_str().to_uppercase(), t.id)
}

pub fn sms(clinic: &Clinic, caller: &Caller, json: bool, command: SmsCommand) -> Result<()> {
    match command {
        SmsCommand::Send { to, body, no_wait } => {
            let queued = clinic.texts().send(caller, &to, &body)?;
            let text = if no_wait || queued.state != TextState::Pending {
                queued
            } else {
                let http = http();
                let config = clinic.texts().worker_config()?;
                runtime().block_on(async { OutboxWorker::new(clinic, &http, config)?.run_once().await })?;
                clinic.texts().get(caller, queued.id)?
            };
            show(json, &text, describe);
            if matches!(text.state, TextState::Failed | TextState::Undelivered) {
                return Err(CoreError::Conflict(
                    text.error_message.unwrap_or_else(|| "The text was not delivered.".into()),
                ));
            }
            Ok(())
        }
        SmsCommand::List { status, limit } => {
            let state = status
                .as_deref()
                .map(|s| TextState::parse(s).ok_or_else(|| CoreError::invalid("status", format!("\"{s}\" is not a text status: use pending, sending, sent, delivered, undelivered, failed or skipped."))))
                .transpose()?;
            let texts = clinic.texts().list(caller, state, limit)?;
            show(json, &texts, |texts| {
                if texts.is_empty() {
                    return "No texts.".into();
                }
                table(
                    &["CREATED (UTC)", "TO", "KIND", "STATUS", "SEGMENTS", "DETAIL"],
                    texts
                        .iter()
                        .map(|t| {
                            vec![
                                t.created_at.format("%Y-%m-%d %H:%M").to_string(),
                                t.to.clone(),
                                t.kind.as_str().into(),
                                t.state.as_str().into(),
                                t.segments.to_string(),
                                t.error_message.clone().unwrap_or_default(),
                            ]
                        })
                        .collect(),
                )
            });
            Ok(())
        }
        SmsCommand::Inbox { unread, mark_read, limit } => {
            crate::inbox::show(clinic, caller, json, unread, mark_read.as_deref(), limit)
        }
    }
}

pub fn outbox(clinic: &Clinic, caller: &Caller, json: bool, command: OutboxCommand) -> Result<()> {
    let OutboxCommand::Run { until_empty, max_wait } = command;
    let http = http();
    let config = clinic.texts().worker_config()?;
    let report = runtime().block_on(async {
        let mut worker = OutboxWorker::new(clinic, &http, config)?;
        if !worker.acquire()? {
            return Err(CoreError::Conflict(
                "Another ClinicDesk (probably the app) is sending texts right now; it will send these too.".into(),
            ));
        }
        let report = if until_empty {
            worker.run_until_empty(Duration::from_secs(max_wait)).await?
        } else {
            worker.run_once().await?
        };
        // Then the files patients sent in consultation chats, after the texts (never before them),
        // with the outbox's lock released so the app's texts do not wait behind the downloads.
        drop(worker);
        let files = match clinic.twilio().account()? {
            Some(account) => clinic.consultations().fetch_attachments(&http, &account).await?,
            None => 0,
        };
        Ok((report, files))
    })?;
    let (report, files) = report;
    let left = clinic.texts().list_unfinished_count()?;
    let paused = clinic.texts().sending_paused(caller)?;
    let summary = serde_json::json!({ "report": report, "unfinished": left, "sending_paused": paused, "attachments_kept": files });
    show(json, &summary, |_| {
        let mut line = format!(
            "Sent {}, found already sent {}, to retry {}, failed {}, not sent {}, delivery checks {}, finished {}, replies read {}. Still on their way: {left}.",
            report.sent, report.adopted, report.retrying, report.failed, report.skipped, report.polled, report.finished, report.replies
        );
        if let Some(paused) = &paused {
            line.push_str(&format!("\nSending is paused: {}", paused.reason));
        }
        if files > 0 {
            line.push_str(&format!("\nChat attachments kept: {files}."));
        }
        line
    });
    if until_empty && left > 0 {
        return Err(CoreError::Conflict(format!("{left} text(s) are still on their way after {max_wait} seconds.")));
    }
    Ok(())
}
