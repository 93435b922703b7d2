//! One function per command: sign in if needed, call the core, print the result. The commands
//! themselves live beside this file, one file per domain.

mod appointments;
mod audit;
pub mod call_page;
mod consultations;
mod directory;
mod review;
mod settings;
mod templates;
mod users;

use crate::args::*;
use crate::output::show;
use clinicdesk_core::auth::{Caller, Channel, SetupRequest};
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::settings::{system_time_zone, ClinicSettingsInput};
use clinicdesk_core::{resolve_data_dir, Clinic, CoreError, Result};

pub const PASSWORD_ENV: &str = "CLINICDESK_PASSWORD";
pub const NEW_PASSWORD_ENV: &str = "CLINICDESK_NEW_PASSWORD";

pub fn run(cli: Cli) -> Result<()> {
    // Exporting the call page reads only the built UI: no clinic, no sign-in.
    if let Command::CallPage(CallPageCommand::Export { dir, from }) = &cli.command {
        return call_page::export(dir, from.as_deref(), cli.json);
    }
    let clinic = Clinic::open(&resolve_data_dir(cli.data_dir.clone())?)?;
    let json = cli.json;
    if let Command::Init(args) = &cli.command {
        return init(&clinic, json, args);
    }
    let email = cli.as_user.as_deref().ok_or_else(|| {
        CoreError::invalid("as", "Say who you are with --as EMAIL (your password goes in CLINICDESK_PASSWORD).")
    })?;
    let password = secret_from_env(PASSWORD_ENV, &format!("Password for {email}: "))?;
    let signed = clinic.auth().sign_in(email, &password, Channel::Cli)?;
    let result = match cli.command {
        // The password just used to sign in is the current one the change is checked against.
        Command::Password(PasswordCommand::Change) => {
            users::change_own_password(&clinic, &signed.caller, &password, json)
        }
        command => dispatch(&clinic, &signed.caller, json, command),
    };
    // One command, one session: close it so it never lingers as an open session.
    let _ = clinic.auth().sign_out(&signed.token, SessionEnd::SignedOut);
    result
}

fn dispatch(clinic: &Clinic, caller: &Caller, json: bool, command: Command) -> Result<()> {
    match command {
        Command::Init(_) => unreachable!("handled before sign-in"),
        Command::Password(_) => unreachable!("handled with the password used to sign in"),
        Command::User(c) => users::user(clinic, caller, json, c),
        Command::Patient(c) => directory::patient(clinic, caller, json, c),
        Command::Doctor(c) => directory::doctor(clinic, caller, json, c),
        Command::Appointment(c) => appointments::appointment(clinic, caller, json, c),
        Command::Settings(c) => settings::settings_cmd(clinic, caller, json, c),
        Command::Twilio(c) => crate::messaging::twilio(clinic, caller, json, c),
        Command::Token { identity, room, chat, ttl } => {
            crate::messaging::token(clinic, caller, &identity, room.as_deref(), chat, ttl)
        }
        Command::Consultation(c) => consultations::consultation(clinic, caller, json, c),
        Command::CallPage(CallPageCommand::Publish { from }) => call_page::publish(clinic, caller, json, from),
        Command::CallPage(CallPageCommand::Export { .. }) => unreachable!("handled before sign-in"),
        Command::Sms(c) => crate::messaging::sms(clinic, caller, json, c),
        Command::Templates(c) => templates::templates(clinic, caller, json, c),
        Command::Outbox(c) => {
            caller.require(clinicdesk_core::auth::Permission::SendTexts)?;
            crate::messaging::outbox(clinic, caller, json, c)
        }
        Command::Audit { record, limit } => audit::audit(clinic, caller, json, record, limit),
        Command::DemoSeed => settings::demo_seed(clinic, caller, json),
    }
}

/// A password from the environment, or typed at a hidden prompt when a person is at the terminal.
pub fn secret_from_env(var: &str, prompt: &str) -> Result<String> {
    if let Ok(value) = std::env::var(var) {
        if !value.is_empty() {
            return Ok(value);
        }
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return rpassword::prompt_password(prompt)
            .map_err(|_| CoreError::invalid("password", "Could not read the password from the terminal."));
    }
    Err(CoreError::invalid("password", format!("Set {var} to the password (no terminal to ask on).")))
}

fn init(clinic: &Clinic, json: bool, args: &InitArgs) -> Result<()> {
    let password = secret_from_env(PASSWORD_ENV, "New administrator password: ")?;
    let profile = clinic.auth().set_up(SetupRequest {
        clinic: ClinicSettingsInput {
            clinic_name: args.clinic_name.clone(),
            time_zone: args.time_zone.clone().unwrap_or_else(system_time_zone),
            default_country: args.country.clone(),
            idle_timeout_minutes: None,
            sms_messages_per_second: None,
        },
        admin_email: args.admin_email.clone(),
        admin_name: args.admin_name.clone(),
        admin_password: password,
    })?;
    show(json, &profile, |p| {
        format!("ClinicDesk is set up in {}. Administrator: {}.", clinic.data_dir().display(), p.email)
    });
    Ok(())
}
