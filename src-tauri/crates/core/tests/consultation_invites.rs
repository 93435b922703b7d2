//! The patient's link and the video invite, on the manual clock against the fake Twilio: who may
//! make one, what the link carries (and does not), when its token works, and the text that carries
//! it. (Issue 10: the call page itself, the waiting room and publishing are still to come.)

mod common;
mod consultation_rig;

use clinicdesk_core::appointments::{AppointmentKind, BookingRequest};
use clinicdesk_core::consultations::{PatientLink, KEY_CALL_PAGE_URL};
use clinicdesk_core::error::ErrorCode;
use clinicdesk_core::sms::TextKind;
use clinicdesk_twilio_fake as fake;
use consultation_rig::*;
use serde_json::Value;
use std::collections::HashMap;

const PAGE: &str = "https://call.clinic.example/video/call.html";

/// The link's fragment as the page reads it, and the token's verified claims.
fn open(link: &PatientLink) -> (HashMap<String, String>, Value) {
    let (page, fragment) = link.url.split_once('#').expect("the link has a fragment");
    assert_eq!(page, PAGE);
    let fields: HashMap<String, String> = url::form_urlencoded::parse(fragment.as_bytes()).into_owned().collect();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(fake::API_KEY_SECRET.as_bytes());
    let claims = jsonwebtoken::decode::<Value>(&fields["t"], &key, &validation).unwrap().claims;
    (fields, claims)
}

fn with_call_page(r: &Rig) {
    r.clinic().settings().set(&r.admin, KEY_CALL_PAGE_URL, PAGE).unwrap();
}

#[tokio::test]
async fn without_a_call_page_a_link_is_refused_with_how_to_get_one() {
    let r = rig().await;
    let c = r.clinic().consultations();
    let err = c.patient_link(&r.okafor, r.appt).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("There is no call page for patients yet"), "{err}");
    // Only secure pages (cameras need one), set by an administrator.
    let insecure = r.clinic().settings().set(&r.admin, KEY_CALL_PAGE_URL, "http://clinic.example/call.html");
    assert_eq!(insecure.unwrap_err().field(), Some("call_page_url"));
    let by_desk = r.clinic().settings().set(&r.desk, KEY_CALL_PAGE_URL, PAGE);
    assert_eq!(by_desk.unwrap_err().code(), ErrorCode::Forbidden);
    with_call_page(&r);
    assert!(c.patient_link(&r.okafor, r.appt).is_ok());
    let changes = r.clinic().audit().recent(&r.admin, None, 50).unwrap();
    let audited = changes
        .iter()
        .any(|e| e.action == "settings.update" && e.detail.as_deref().is_some_and(|d| d.contains(KEY_CALL_PAGE_URL)));
    assert!(audited, "the change is audited: {changes:?}");
}

#[tokio::test]
async fn the_link_carries_a_token_for_this_consultation_only_and_no_more_than_the_first_name() {
    let r = rig().await;
    with_call_page(&r);
    let c = r.clinic().consultations();
    // Reception (from the appointment dialog) and the appointment's doctor; not another doctor.
    assert_eq!(c.patient_link(&r.other, r.appt).unwrap_err().code(), ErrorCode::Forbidden);
    let link = c.patient_link(&r.desk, r.appt).unwrap();
    let (fields, claims) = open(&link);
    assert_eq!(fields["n"], "Olivia");
    assert_eq!(fields["d"], r.doctor.full_name);
    assert_eq!(fields["w"], "2026-03-02T09:00:00Z");
    assert!(
        !link.url.contains("Smith") && !link.url.contains("07400") && !link.url.contains(&r.booking_ref),
        "{}",
        link.url
    );

    // 08:00 now, slot 09:00-09:30: valid from 08:45 to 10:00 (the expiry counts from now).
    let now = r.now().timestamp();
    assert_eq!(claims["nbf"].as_i64(), Some(now + 45 * 60));
    assert_eq!(claims["exp"].as_i64(), Some(now + 2 * 3600));
    assert_eq!((link.valid_from.timestamp(), link.valid_until.timestamp()), (now + 45 * 60, now + 2 * 3600));
    let identity = claims["grants"]["identity"].as_str().unwrap().to_owned();
    assert!(identity.starts_with("p-"), "{identity}");
    let room = claims["grants"]["video"]["room"].as_str().unwrap().to_owned();

    // Starting uses the same room and puts that identity in the chat.
    r.start().await.unwrap();
    assert_eq!(r.rooms()[0].unique_name, room);
    assert!(r.conversations()[0].participants.iter().any(|p| p.identity == identity));
    assert_eq!(r.status(&r.okafor).state, clinicdesk_core::consultations::ConsultationState::InProgress);
    let again = open(&c.patient_link(&r.okafor, r.appt).unwrap()).1;
    assert_eq!(again["grants"]["identity"], identity.as_str(), "a second link is for the same patient identity");

    // Another appointment's link names another room and another identity.
    let (second, _) = r.book("11:00", 30, AppointmentKind::Video);
    let other = open(&c.patient_link(&r.okafor, second).unwrap()).1;
    assert_ne!(other["grants"]["video"]["room"], room.as_str());
    assert_ne!(other["grants"]["identity"], identity.as_str());
    let minted = r.audit_actions().iter().filter(|a| *a == "twilio.token").count();
    assert_eq!(minted, 2, "every link for this appointment is audited");
}

#[tokio::test]
async fn links_are_refused_too_early_and_for_finished_or_in_person_appointments() {
    let r = rig().await;
    with_call_page(&r);
    let c = r.clinic().consultations();
    let (in_person, _) = r.book("12:00", 30, AppointmentKind::InPerson);
    assert_eq!(c.patient_link(&r.okafor, in_person).unwrap_err().field(), Some("appointment"));

    // Two days ahead: further than a Twilio token may live.
    let request = BookingRequest {
        patient_id: r.patient.id,
        doctor_id: r.doctor.id,
        date: "2026-03-04".into(),
        time: "09:00".into(),
        minutes: 30,
        kind: AppointmentKind::Video,
    };
    let later = r.clinic().appointments().book(&r.desk, request).unwrap();
    let early = c.patient_link(&r.okafor, later.id).unwrap_err();
    assert!(early.to_string().contains("from 24 hours before"), "{early}");

    r.start().await.unwrap();
    r.end().await.unwrap();
    let ended = c.patient_link(&r.okafor, r.appt).unwrap_err();
    assert_eq!(ended.to_string(), "Cannot invite the patient to a consultation with status: completed");
}

#[tokio::test]
async fn the_invite_is_texted_only_to_a_patient_who_agreed_and_carries_the_link() {
    let r = rig().await;
    with_call_page(&r);
    let c = r.clinic().consultations();
    let refused = c.invite(&r.desk, r.appt).unwrap_err();
    assert_eq!(refused.to_string(), "Cannot text the link: the patient has not agreed to texts.");
    assert!(!r.audit_actions().iter().any(|a| a == "twilio.token"), "no token is made for a text that cannot go");

    r.clinic().patients().record_consent(&r.desk, r.patient.id, true).unwrap();
    let text = c.invite(&r.desk, r.appt).unwrap();
    assert_eq!(text.kind, TextKind::Invite);
    assert_eq!(text.appointment_id, Some(r.appt));
    let stored: String = r
        .clinic()
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT body FROM sms_notifications WHERE id = ?1", [text.id.to_string()], |row| row.get(0))
        .unwrap();
    let link = stored.split_whitespace().find(|w| w.starts_with(PAGE)).expect("the text carries the link");
    assert!(link.contains("#t="), "the outbox keeps the key to send it: {link}");
    // Staff see the link, never the patient's key in it: as queued, and looking at the texts later.
    for shown in [
        text.body.clone(),
        r.clinic().texts().get(&r.desk, text.id).unwrap().body,
        r.clinic().texts().list(&r.desk, None, 10).unwrap().into_iter().find(|t| t.id == text.id).unwrap().body,
    ] {
        assert!(shown.contains(&format!("{PAGE}#…")) && !shown.contains("#t="), "{shown}");
    }
    assert!(text.body.starts_with("Hi Olivia,"), "{}", text.body);
    // Asking again sends another text with a new link (the receptionist pressed it again on purpose).
    let second = c.invite(&r.desk, r.appt).unwrap();
    assert_ne!(second.id, text.id);
}

#[tokio::test]
async fn after_a_reschedule_an_old_link_names_a_room_and_identity_nobody_uses() {
    let r = rig().await;
    with_call_page(&r);
    let c = r.clinic().consultations();
    c.note(&r.okafor, r.appt, "Asked for a video call.").unwrap();
    let old = open(&c.patient_link(&r.desk, r.appt).unwrap()).1;
    let version = r.clinic().appointments().get(&r.desk, r.appt).unwrap().version;
    let request = clinicdesk_core::appointments::RescheduleRequest {
        date: "2026-03-02".into(),
        time: "09:15".into(),
        minutes: None,
        expected_version: Some(version),
    };
    r.clinic().appointments().reschedule(&r.desk, r.appt, request).unwrap();
    let new = open(&c.patient_link(&r.desk, r.appt).unwrap()).1;
    assert_ne!(new["grants"]["video"]["room"], old["grants"]["video"]["room"]);
    assert_ne!(new["grants"]["identity"], old["grants"]["identity"]);
    // The doctor's notes stay, and starting uses the new names only.
    assert_eq!(r.status(&r.okafor).notes.as_deref(), Some("Asked for a video call."));
    r.start().await.unwrap();
    assert_eq!(r.rooms()[0].unique_name, new["grants"]["video"]["room"].as_str().unwrap());
    let people: Vec<String> = r.conversations()[0].participants.iter().map(|p| p.identity.clone()).collect();
    assert!(!people.contains(&old["grants"]["identity"].as_str().unwrap().to_owned()), "{people:?}");
}

#[tokio::test]
async fn starting_texts_the_patient_the_link_once_and_never_fails_for_it() {
    let r = rig().await;
    // No call page yet: the start goes ahead without a text.
    r.start().await.unwrap();
    let invites = |r: &Rig, appointment| {
        let timeline = r.clinic().appointment_texts().timeline(&r.desk, appointment).unwrap();
        timeline.texts.into_iter().map(|t| t.text).filter(|t| t.kind == TextKind::Invite).collect::<Vec<_>>()
    };
    assert!(invites(&r, r.appt).is_empty());

    with_call_page(&r);
    r.clinic().patients().record_consent(&r.desk, r.patient.id, true).unwrap();
    let (second, _) = r.book("11:00", 30, AppointmentKind::Video);
    r.clinic().consultations().start(&r.okafor, &r.http, second).await.unwrap();
    let sent = invites(&r, second);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].body.contains(&format!("{PAGE}#…")), "shown without its key: {}", sent[0].body);
    // Started at 08:00 for 11:00: texted as the doctor starts, with a link that works now, not from 10:45.
    // The outbox keeps the whole link, key included, to send it.
    let stored: String = r
        .clinic()
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT body FROM sms_notifications WHERE appointment_id = ?1 AND kind = 'invite'",
            [second.to_string()],
            |row| row.get(0),
        )
        .unwrap();
    let link = PatientLink {
        url: stored.split_whitespace().find(|w| w.starts_with(PAGE)).unwrap().to_owned(),
        valid_from: r.now(),
        valid_until: r.now(),
    };
    assert_eq!(
        open(&link).1["nbf"].as_i64(),
        Some(r.now().timestamp()),
        "the started consultation's link opens at once"
    );
    let on_demand = open(&r.clinic().consultations().patient_link(&r.desk, second).unwrap()).1;
    assert_eq!(
        on_demand["nbf"].as_i64(),
        Some(r.now().timestamp() + (2 * 60 + 45) * 60),
        "reception's link: from 10:45"
    );
    // Reception's invite a moment ago means the start does not text again.
    let (third, _) = r.book("12:00", 30, AppointmentKind::Video);
    r.clinic().consultations().invite(&r.desk, third).unwrap();
    r.clinic().consultations().start(&r.okafor, &r.http, third).await.unwrap();
    assert_eq!(invites(&r, third).len(), 1);
}

#[tokio::test]
async fn a_running_consultation_cannot_be_cancelled_or_moved_under_the_doctor() {
    let r = rig().await;
    r.start().await.unwrap();
    let appointments = r.clinic().appointments();
    let version = appointments.get(&r.desk, r.appt).unwrap().version;
    let cancel = appointments.cancel(&r.desk, r.appt, "Patient called", Some(version)).unwrap_err();
    assert_eq!(cancel.code(), ErrorCode::Conflict);
    assert_eq!(
        cancel.to_string(),
        "The video consultation of this appointment is in progress. The doctor ends it first; then it can be cancelled."
    );
    let request = clinicdesk_core::appointments::RescheduleRequest {
        date: "2026-03-02".into(),
        time: "10:00".into(),
        minutes: None,
        expected_version: Some(version),
    };
    assert!(appointments
        .reschedule(&r.desk, r.appt, request)
        .unwrap_err()
        .to_string()
        .contains("then it can be moved"));
}

/// A doctor may invite the patient of their own appointment without the permission reception
/// needs; in a folder whose clinic moved onto a clinic server that is refused too (the server
/// sends the clinic's texts now, and the folder is kept to read).
#[tokio::test]
async fn a_doctor_cannot_invite_from_a_clinic_that_moved_onto_a_server() {
    let r = rig().await;
    with_call_page(&r);
    r.clinic().patients().record_consent(&r.desk, r.patient.id, true).unwrap();
    r.clinic().desk_sync().mark_moved(&r.admin, "https://clinic-server.example:8640/").unwrap();
    let okafor = r.t.sign_in(OKAFOR);
    let refused = r.clinic().consultations().invite(&okafor, r.appt).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden);
    assert!(refused.to_string().contains("kept to read only"), "{refused}");
    assert!(r
        .clinic()
        .consultations()
        .patient_link(&okafor, r.appt)
        .unwrap_err()
        .to_string()
        .contains("kept to read only"));
}
