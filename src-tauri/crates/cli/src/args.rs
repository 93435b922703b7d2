//! The command line, as clap reads it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "clinicdesk", version, about = "ClinicDesk from a terminal: staff, patients, doctors and appointments.")]
#[command(after_help = "Passwords come from CLINICDESK_PASSWORD (yours, with --as) and CLINICDESK_NEW_PASSWORD (for a new account), or a hidden prompt.")]
pub struct Cli {
    /// The clinic's data folder (default: $CLINICDESK_DATA_DIR, else the app's data folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Machine-readable output; errors as {"code","message"} on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// Act as this member of staff (password from CLINICDESK_PASSWORD); audited as them.
    #[arg(long = "as", global = true, value_name = "EMAIL")]
    pub as_user: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// First-time setup: create the clinic's settings and its first administrator.
    Init(InitArgs),
    /// Staff accounts (administrators only).
    #[command(subcommand)]
    User(UserCommand),
    #[command(subcommand)]
    Patient(PatientCommand),
    #[command(subcommand)]
    Doctor(DoctorCommand),
    #[command(subcommand)]
    Appointment(AppointmentCommand),
    /// Clinic settings.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Fill an empty clinic with sample doctors, patients and three months of appointments.
    DemoSeed,
    /// The audit trail, newest first (administrators).
    Audit {
        /// Only entries about this record (a patient, appointment or user id).
        #[arg(long, value_name = "ID")]
        record: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Args)]
pub struct InitArgs {
    #[arg(long, value_name = "EMAIL")]
    pub admin_email: String,
    #[arg(long, value_name = "NAME", default_value = "Administrator")]
    pub admin_name: String,
    #[arg(long, value_name = "NAME", default_value = "ClinicDesk Clinic")]
    pub clinic_name: String,
    /// IANA time zone, e.g. Europe/London (default: this computer's).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// Country for phone numbers typed without +code, e.g. GB.
    #[arg(long, value_name = "CC", default_value = "GB")]
    pub country: String,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a staff account (its password from CLINICDESK_NEW_PASSWORD).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        name: String,
    },
    List,
    /// Unlock an account locked after failed sign-ins.
    Unlock { email: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Reception,
    Doctor,
}

#[derive(Subcommand)]
pub enum PatientCommand {
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        phone: String,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD")]
        dob: Option<String>,
        /// Record that the patient does not want text messages.
        #[arg(long)]
        no_sms: bool,
    },
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    Search {
        text: String,
    },
}

#[derive(Subcommand)]
pub enum DoctorCommand {
    /// List a staff account with the doctor role as bookable.
    Add {
        #[arg(long, value_name = "EMAIL")]
        user: String,
        #[arg(long)]
        specialization: String,
    },
    List,
}

#[derive(Subcommand)]
pub enum AppointmentCommand {
    Book {
        #[arg(long, value_name = "PATIENT_ID")]
        patient: String,
        #[arg(long, value_name = "DOCTOR_ID")]
        doctor: String,
        /// Clinic-local time, "YYYY-MM-DD HH:MM".
        #[arg(long, value_name = "YYYY-MM-DD HH:MM")]
        at: String,
        #[arg(long, default_value_t = 30)]
        minutes: u32,
        /// A video consultation instead of an in-person visit.
        #[arg(long)]
        video: bool,
    },
    List {
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: String,
        #[arg(long, value_name = "DOCTOR_ID")]
        doctor: Option<String>,
    },
    /// Move an appointment (by id or booking reference).
    Reschedule {
        appointment: String,
        #[arg(long, value_name = "YYYY-MM-DD HH:MM")]
        at: String,
        #[arg(long)]
        minutes: Option<u32>,
    },
    /// Cancel an appointment (by id or booking reference).
    Cancel {
        appointment: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum SettingsCommand {
    List,
    Set { key: String, value: String },
}
