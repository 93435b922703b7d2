//! One function per command: sign in if needed, call the core, print the result.

use crate::args::*;
use crate::output::{show, table};
use clinicdesk_core::appointments::{AppointmentKind, BookingRequest, RescheduleRequest};
use clinicdesk_core::auth::{Caller, Channel, Role, SetupRequest};
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::settings::{self, ClinicSettingsInput};
use clinicdesk_core::users::NewStaffUser;
use clinicdesk_core::{resolve_data_dir, Clinic, CoreError, Result};
use uuid::Uuid;

pub const PASSWORD_ENV: &str = "CLINICDESK_PASSWORD";
pub const NEW_PASSWORD_ENV: &str = "CLINICDESK_NEW_PASSWORD";

pub fn run(cli: Cli) -> Result<()> {
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
    let result = dispatch(&clinic, &signed.caller, json, cli.command);
    // One command, one session: close it so it never lingers as an open session.
    let _ = clinic.auth().sign_out(&signed.token, SessionEnd::SignedOut);
    result
}

fn dispatch(clinic: &Clinic, caller: &Caller, json: bool, command: Command) -> Result<()> {
    match command {
        Command::Init(_) => unreachable!("handled before sign-in"),
        Command::User(c) => user(clinic, caller, json, c),
        Command::Patient(c) => patient(clinic, caller, json, c),
        Command::Doctor(c) => doctor(clinic, caller, json, c),
        Command::Appointment(c) => appointment(clinic, caller, json, c),
        Command::Settings(c) => settings_cmd(clinic, caller, json, c),
        Command::Twilio(c) => crate::messaging::twilio(clinic, caller, json, c),
        Command::Token { identity, room, chat, ttl } => {
            crate::messaging::token(clinic, caller, &identity, room.as_deref(), chat, ttl)
        }
        Command::Sms(c) => crate::messaging::sms(clinic, caller, json, c),
        Command::Outbox(c) => {
            caller.require(clinicdesk_core::auth::Permission::SendTexts)?;
            crate::messaging::outbox(clinic, caller, json, c)
        }
        Command::Audit { record, limit } => {
            let entries = clinic.audit().recent(caller, record.as_deref(), limit)?;
            show(json, &entries, |entries| {
                table(
                    &["WHEN (UTC)", "WHO", "ACTION", "RECORD", "DETAIL"],
                    entries
                        .iter()
                        .map(|e| {
                            let record = match (&e.record_type, &e.record_id) {
                                (Some(t), Some(id)) => format!("{t} {id}"),
                                _ => String::new(),
                            };
                            vec![
                                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                                e.actor.clone(),
                                e.action.clone(),
                                record,
                                e.detail.clone().unwrap_or_default(),
                            ]
                        })
                        .collect(),
                )
            });
            Ok(())
        }
        Command::DemoSeed => {
            let doctor_password = std::env::var(NEW_PASSWORD_ENV).ok().filter(|p| !p.is_empty());
            let summary = clinicdesk_core::demo::seed(clinic, caller, doctor_password.as_deref())?;
            show(json, &summary, |s| {
                let login = if doctor_password.is_some() {
                    "with the password in CLINICDESK_NEW_PASSWORD"
                } else {
                    "without a known password (set one with the app's Staff screen)"
                };
                format!(
                    "Loaded the sample clinic: {} doctors ({login}), {} patients, {} appointments.",
                    s.doctors, s.patients, s.appointments
                )
            });
            Ok(())
        }
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
            time_zone: args.time_zone.clone().unwrap_or_else(settings::system_time_zone),
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

fn role(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Admin => Role::Admin,
        RoleArg::Reception => Role::Reception,
        RoleArg::Doctor => Role::Doctor,
    }
}

fn user(clinic: &Clinic, caller: &Caller, json: bool, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { email, role: r, name } => {
            caller.require(clinicdesk_core::auth::Permission::ManageUsers)?;
            let password = secret_from_env(NEW_PASSWORD_ENV, &format!("Password for the new account {email}: "))?;
            let user = clinic.users().add(caller, NewStaffUser { email, full_name: name, role: role(r), password })?;
            show(json, &user, |u| format!("Added {} ({}) as {}.\nid: {}", u.full_name, u.email, u.role.label(), u.id));
        }
        UserCommand::List => {
            let users = clinic.users().list(caller)?;
            show(json, &users, |users| {
                table(
                    &["ID", "NAME", "EMAIL", "ROLE", "STATUS"],
                    users
                        .iter()
                        .map(|u| {
                            let status = if !u.active {
                                "deactivated".into()
                            } else if let Some(t) = u.locked_until {
                                format!("locked until {}", t.format("%H:%M UTC"))
                            } else {
                                "active".into()
                            };
                            vec![u.id.to_string(), u.full_name.clone(), u.email.clone(), u.role.label().into(), status]
                        })
                        .collect(),
                )
            });
        }
        UserCommand::Unlock { email } => {
            let user = clinic.users().find_by_email(caller, &email)?;
            let user = clinic.users().unlock(caller, user.id)?;
            show(json, &user, |u| format!("Unlocked {}.", u.email));
        }
    }
    Ok(())
}

fn patient_rows(patients: &[clinicdesk_core::patients::Patient]) -> String {
    if patients.is_empty() {
        return "No patients found.".into();
    }
    table(
        &["ID", "NAME", "PHONE", "BORN", "SMS"],
        patients
            .iter()
            .map(|p| {
                vec![
                    p.id.to_string(),
                    p.full_name.clone(),
                    p.phone.clone(),
                    p.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
                    if p.sms_consent { "yes".into() } else { "no".into() },
                ]
            })
            .collect(),
    )
}

fn patient(clinic: &Clinic, caller: &Caller, json: bool, command: PatientCommand) -> Result<()> {
    use clinicdesk_core::patients::PatientInput;
    match command {
        PatientCommand::Add { name, phone, dob, no_sms } => {
            let p = clinic
                .patients()
                .add(caller, PatientInput { full_name: name, phone, date_of_birth: dob, sms_consent: !no_sms })?;
            show(json, &p, |p| format!("Added {} ({}).\nid: {}", p.full_name, p.phone, p.id));
        }
        PatientCommand::List { limit } => {
            let found = clinic.patients().search(caller, "", limit)?;
            show(json, &found, |p| patient_rows(p));
        }
        PatientCommand::Search { text } => {
            let found = clinic.patients().search(caller, &text, clinicdesk_core::patients::MAX_SEARCH_RESULTS)?;
            show(json, &found, |p| patient_rows(p));
        }
    }
    Ok(())
}

fn doctor(clinic: &Clinic, caller: &Caller, json: bool, command: DoctorCommand) -> Result<()> {
    match command {
        DoctorCommand::Add { user, specialization } => {
            let d = clinic.doctors().add(caller, &user, &specialization)?;
            show(json, &d, |d| format!("{} ({}) can now be booked.\nid: {}", d.full_name, d.specialization, d.id));
        }
        DoctorCommand::List => {
            let doctors = clinic.doctors().list(caller)?;
            show(json, &doctors, |ds| {
                if ds.is_empty() {
                    return "No doctors yet. Add one with: clinicdesk doctor add --user EMAIL --specialization TEXT"
                        .into();
                }
                table(
                    &["ID", "NAME", "SPECIALIZATION", "EMAIL"],
                    ds.iter()
                        .map(|d| vec![d.id.to_string(), d.full_name.clone(), d.specialization.clone(), d.email.clone()])
                        .collect(),
                )
            });
        }
    }
    Ok(())
}

fn parse_id(text: &str, field: &'static str, what: &str) -> Result<Uuid> {
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

fn appointment(clinic: &Clinic, caller: &Caller, json: bool, command: AppointmentCommand) -> Result<()> {
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
            show(json, &a, |a| format!("Booked {}", one(a)));
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
            show(json, &a, |a| format!("Moved {}", one(a)));
        }
        AppointmentCommand::Cancel { appointment, reason } => {
            let id = appointments.resolve(caller, &appointment)?;
            let a = appointments.cancel(caller, id, &reason, None)?;
            show(json, &a, |a| format!("Cancelled {}", one(a)));
        }
    }
    Ok(())
}

fn settings_cmd(clinic: &Clinic, caller: &Caller, json: bool, command: SettingsCommand) -> Result<()> {
    let current = match command {
        SettingsCommand::List => clinic.settings().get(caller)?,
        SettingsCommand::Set { key, value, confirm } => {
            let zone_change = settings::TimeZoneChange::confirmed_if(confirm);
            clinic.settings().set_with(caller, &key, &value, zone_change).map_err(|err| match err {
                CoreError::Unconfirmed { field, message } => CoreError::Unconfirmed {
                    field,
                    message: format!("{message} To change it anyway, run the command again with --confirm."),
                },
                other => other,
            })?
        }
    };
    show(json, &current, |s| {
        table(
            &["KEY", "VALUE"],
            vec![
                vec![settings::KEY_NAME.into(), s.clinic_name.clone()],
                vec![settings::KEY_TIME_ZONE.into(), s.time_zone.clone()],
                vec![settings::KEY_COUNTRY.into(), s.default_country.clone()],
                vec![settings::KEY_IDLE.into(), s.idle_timeout_minutes.to_string()],
                vec![settings::KEY_SMS_RATE.into(), s.sms_messages_per_second.to_string()],
            ],
        )
    });
    Ok(())
}
