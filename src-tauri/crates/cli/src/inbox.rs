//! `clinicdesk sms inbox`: the texts patients sent back that wait for a person.

use crate::output::{show as print, table};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::sms::IncomingText;
use clinicdesk_core::{Clinic, Result};

pub fn show(
    clinic: &Clinic,
    caller: &Caller,
    json: bool,
    unread_only: bool,
    mark_read: Option<&str>,
    limit: u32,
) -> Result<()> {
    if let Some(sid) = mark_read {
        clinic.inbox().mark_read(caller, sid)?;
    }
    let texts = clinic.inbox().list(caller, unread_only, limit)?;
    print(json, &texts, |texts| {
        if texts.is_empty() {
            return if unread_only { "No unread texts from patients." } else { "No texts from patients." }.into();
        }
        table(&["RECEIVED (UTC)", "FROM", "PATIENT", "READ", "TEXT", "SID"], texts.iter().map(row).collect())
    });
    Ok(())
}

fn row(t: &IncomingText) -> Vec<String> {
    vec![
        t.received_at.format("%Y-%m-%d %H:%M").to_string(),
        t.from.clone(),
        t.patient_name.clone().unwrap_or_else(|| "(no patient has this number)".into()),
        if t.read_at.is_some() { "read" } else { "UNREAD" }.into(),
        one_line(&t.body),
        t.sid.clone(),
    ]
}

/// A patient's text on one table line: line breaks and control characters (which could move the
/// terminal's cursor or change its colours) become spaces.
fn one_line(body: &str) -> String {
    body.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}
