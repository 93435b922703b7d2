//! Patients and doctors.

use crate::args::{DoctorCommand, PatientCommand};
use crate::output::{show, table};
use clinicdesk_core::auth::Caller;
use clinicdesk_core::{Clinic, Result};

/// `more`: more patients match than are listed.
fn patient_rows(patients: &[clinicdesk_core::patients::Patient], more: bool) -> String {
    if patients.is_empty() {
        return "No patients found.".into();
    }
    let rows = table(
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
    );
    if more {
        format!("{rows}\nMore patients match. Search with more of the name or number to narrow the list.")
    } else {
        rows
    }
}

pub(super) fn patient(clinic: &Clinic, caller: &Caller, json: bool, command: PatientCommand) -> Result<()> {
    use clinicdesk_core::patients::PatientInput;
    match command {
        PatientCommand::Add { name, phone, dob, no_sms } => {
            let p = clinic
                .patients()
                .add(caller, PatientInput { full_name: name, phone, date_of_birth: dob, sms_consent: !no_sms })?;
            show(json, &p, |p| {
                let warning = p.phone_problem.as_deref().map(|w| format!("\nWarning: {w}")).unwrap_or_default();
                format!("Added {} ({}).\nid: {}{warning}", p.full_name, p.phone, p.id)
            });
        }
        PatientCommand::Consent { patient, sms } => {
            let id = super::appointments::parse_id(&patient, "patient", "patient")?;
            let p = clinic.patients().record_consent(caller, id, sms == "yes")?;
            show(json, &p, |p| {
                let answer = if p.sms_consent { "agrees to" } else { "does not want" };
                format!("Recorded: {} {answer} text messages.", p.full_name)
            });
        }
        PatientCommand::List { limit } => {
            // --json keeps printing the list alone, as scripts expect.
            let found = clinic.patients().search(caller, "", limit)?;
            show(json, &found.patients, |p| patient_rows(p, found.more));
        }
        PatientCommand::Search { text } => {
            let found = clinic.patients().search(caller, &text, clinicdesk_core::patients::MAX_SEARCH_RESULTS)?;
            show(json, &found.patients, |p| patient_rows(p, found.more));
        }
    }
    Ok(())
}

pub(super) fn doctor(clinic: &Clinic, caller: &Caller, json: bool, command: DoctorCommand) -> Result<()> {
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
