//! clinicdesk-core: everything the clinic does, with no knowledge of windows or IPC.
//!
//! Open a [`Clinic`] on a data directory, sign in through [`Clinic::auth`] to get a [`auth::Caller`],
//! then call the domains (`patients()`, `appointments()`, ...). Every operation checks the caller's
//! role itself, so the desktop shell and the CLI cannot disagree about who may do what.

pub mod appointment_texts;
pub mod appointments;
pub mod audit;
pub mod auth;
pub mod call_host;
pub mod call_page;
mod clinic;
pub mod clock;
pub mod consultations;
pub mod db;
pub mod demo;
pub mod doctors;
pub mod error;
pub mod import;
pub mod patients;
pub mod secrets;
pub mod settings;
pub mod sms;
pub mod sync;
pub mod text;
pub mod twilio;
pub mod users;

pub use clinic::{resolve_data_dir, Clinic, DATA_DIR_ENV};
pub use error::{CoreError, Result};
