//! Thin IPC commands, one file per domain: take the state, call the core, map the error.
//! Every command is listed in build.rs (the app manifest) and allowed in capabilities/main.json.

pub mod appointment_texts;
pub mod appointments;
pub mod auth;
pub mod call_page;
pub mod consultations;
pub mod desk;
pub mod directory;
pub mod inbox;
pub mod messaging;
pub mod review;
pub mod settings;
pub mod templates;
pub mod users;
