//! `clinicdesk-server`: the clinic server for practices with several desks.
//!
//! The only process that talks to PostgreSQL. It runs the core's rules (permission table, slot and
//! validation rules, the sentences staff read) inside PostgreSQL transactions, lets the engine
//! refuse double bookings (exclusion constraints), keeps the audit log append-only in the database,
//! feeds desks their changes in commit-safe order (changes.rs) and elects exactly one SMS sender
//! (sender.rs). See docs/ARCHITECTURE.md, "Several desks".

pub mod api;
pub mod appointments;
pub mod audit;
pub mod changes;
pub mod clinic_settings;
pub mod commands;
pub mod consultation_api;
pub mod consultation_notes;
pub mod consultations;
pub mod db;
pub mod desks;
pub mod directory;
pub mod error;
pub mod http;
pub mod inbox;
pub mod migration;
pub mod migration_history;
pub mod patients;
pub mod rate_limit;
pub mod relay;
pub mod reminders;
pub mod replies;
pub mod schema;
pub mod sender;
pub mod sending;
pub mod sessions;
pub mod settings;
pub mod staff;
pub mod staff_accounts;
pub mod testing;
pub mod text_wording;
pub mod texts;
pub mod twilio_setup;
pub mod wake;

pub use error::{Result, ServerError};
