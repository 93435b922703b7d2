//! Reviewing past consultations (issue 11), from the clinic database alone: the record's timeline
//! in time order, who sees what, notes amended after the end with every version kept, an end with
//! no network finished by itself later, chat retention, the list's filters and pages, and exports.

mod common;
mod consultation_rig;

use chrono::Duration;
use clinicdesk_core::appointments::AppointmentKind;
use clinicdesk_core::consultations::{
    ConsultationFilter, ConsultationState, DeviceCheck, ExportFormat, ParticipantRole, TimelineEntry,
    KEY_CALL_PAGE_URL, KEY_CHAT_RETENTION_DAYS, PHI_NOTICE,
};
use clinicdesk_core::error::ErrorCode;
use clinicdesk_core::twilio::config::AccountState;
use clinicdesk_twilio_fake::{self as fake, Fault, Route};
use consultation_rig::*;
use uuid::Uuid;

/// The fake's clock reads the clinic's manual clock (plus the real milliseconds since).
fn same_clock(r: &Rig) {
    r.fake.set_clock_offset(r.now() - chrono::Utc::now());
}

/// The patient's page writes its attributes, as the Conversations SDK would.
async fn patient_page_says(r: &Rig, attributes: serde_json::Value) {
    let conversation = r.conversations().into_iter().last().expect("the consultation's conversation");
    let me = conversation.participants.iter().find(|p| p.identity.starts_with("p-")).expect("the patient");
    let url = format!("{}/v1/Conversations/{}/Participants/{}", r.fake.url(), conversation.sid, me.sid);
    let answer = reqwest::Client::new()
        .post(url)
        .basic_auth(fake::API_KEY_SID, Some(fake::API_KEY_SECRET))
        .form(&[("Attributes", attributes.to_string())])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
}

/// A consultation with a waiting room, both people in the room, chat both ways, consent, and an end
/// 20 minutes after the start. Returns the patient's identity.
async fn a_whole_consultation(r: &Rig) -> String {
    r.clinic().settings().set(&r.admin, KEY_CALL_PAGE_URL, "https://call.clinic.example/call.html").unwrap();
    r.clinic().patients().record_consent(&r.desk, r.patient.id, true).unwrap();
    r.t.advance(Duration::minutes(40)); // 08:40
    let c = r.clinic().consultations();
    let (_, problem) = c.invite_to_waiting_room(&r.desk, &r.http, r.appt).await.unwrap();
    assert_eq!(problem, None);
    r.t.advance(Duration::minutes(15)); // 08:55
    let since = r.now();
    patient_page_says(r, serde_json::json!({ "waiting_since": since.to_rfc3339(), "device_check": "camera_off" }))
        .await;
    r.t.advance(Duration::minutes(5)); // 09:00
    c.consent_to_recording(&r.okafor, r.appt).unwrap();
    same_clock(r);
    r.start().await.unwrap();
    let token = c.token(&r.okafor, r.appt).unwrap();
    let room = r.rooms()[0].sid.clone();
    let chat = r.conversations().into_iter().last().unwrap().sid;
    r.fake.add_participant(&room, &token.identity, 900);
    r.fake.add_participant(&room, &token.patient_identity, 600);
    c.send(&r.okafor, &r.http, r.appt, "Good morning, can you hear me?").await.unwrap();
    r.fake.add_chat_message(&chat, &token.patient_identity, "Yes — the rash is much better.");
    c.note(&r.okafor, r.appt, "Eczema improving. Continue emollient.").unwrap();
    r.t.advance(Duration::minutes(20)); // 09:20
    r.end().await.unwrap();
    token.patient_identity
}

fn kinds(timeline: &[TimelineEntry]) -> Vec<&'static str> {
    timeline
        .iter()
        .map(|e| match e {
            TimelineEntry::Text { .. } => "text",
            TimelineEntry::Waiting { .. } => "waiting",
            TimelineEntry::Started { .. } => "started",
            TimelineEntry::Joined { .. } => "joined",
            TimelineEntry::Left { .. } => "left",
            TimelineEntry::Message { .. } => "message",
            TimelineEntry::RecordingConsent { .. } => "consent",
            TimelineEntry::Recording { .. } => "recording",
            TimelineEntry::Ended { .. } => "ended",
            TimelineEntry::NotesAmended { .. } => "amended",
            TimelineEntry::ChatRemoved { .. } => "chat_removed",
        })
        .collect()
}

#[tokio::test]
async fn the_record_tells_the_whole_consultation_in_time_order_to_those_who_may_read_it() {
    let r = rig().await;
    a_whole_consultation(&r).await;
    let c = r.clinic().consultations();

    let record = c.record(&r.okafor, r.appt).unwrap();
    assert!(record.full);
    assert_eq!(record.state, ConsultationState::Completed);
    assert_eq!(record.patient_name, "Olivia Smith");
    assert_eq!(record.booking_ref, r.booking_ref);
    assert_eq!(record.notes.as_deref(), Some("Eczema improving. Continue emollient."));
    let order = kinds(&record.timeline);
    let first = |k: &str| order.iter().position(|o| *o == k).unwrap_or_else(|| panic!("{k} in {order:?}"));
    let last = |k: &str| order.iter().rposition(|o| *o == k).unwrap();
    assert!(order.iter().filter(|k| **k == "text").count() >= 2, "the booking's text and the link: {order:?}");
    assert!(first("text") < first("waiting"), "{order:?}");
    assert!(first("waiting") < first("consent") && first("consent") < first("started"), "{order:?}");
    assert!(first("started") < first("joined") && last("joined") < first("message"), "{order:?}");
    assert!(last("message") < first("left") && last("left") < first("ended"), "{order:?}");
    assert_eq!(*order.last().unwrap(), "ended");
    for pair in record.timeline.windows(2) {
        assert!(pair[0].at() <= pair[1].at(), "in time order: {pair:?}");
    }
    assert!(record.timeline.iter().any(|e| matches!(e,
        TimelineEntry::Text { text_kind, body, .. } if text_kind == "invite" && body.contains("https://call.clinic.example"))));
    assert!(
        record.timeline.iter().all(|e| !matches!(e, TimelineEntry::Text { body, .. } if body.contains("#t="))),
        "the link's key (the patient's token) is not in the record"
    );
    assert!(record
        .timeline
        .iter()
        .any(|e| matches!(e, TimelineEntry::Waiting { device_check: DeviceCheck::CameraOff, .. })));
    assert!(record.timeline.iter().any(|e| matches!(e,
        TimelineEntry::Message { author: ParticipantRole::Patient, body: Some(b), .. } if b.contains("rash is much better"))));
    assert!(record
        .timeline
        .iter()
        .any(|e| matches!(e, TimelineEntry::Left { role: ParticipantRole::Patient, seconds: Some(600), .. })));
    let doctor = record.attendance.iter().find(|a| a.role == ParticipantRole::Doctor).unwrap();
    assert_eq!((doctor.connections, doctor.seconds), (1, 900));
    assert_eq!(record.note_versions.len(), 1, "the notes at the end are version 0");
    assert_eq!(record.note_versions[0].version, 0);

    // An administrator sees it all; reception and another doctor see that it happened, and its texts.
    assert!(c.record(&r.admin, r.appt).unwrap().full);
    for who in [&r.desk, &r.other] {
        let seen = c.record(who, r.appt).unwrap();
        assert!(!seen.full);
        assert_eq!(seen.notes, None);
        assert!(seen.note_versions.is_empty() && seen.attendance.is_empty());
        let order = kinds(&seen.timeline);
        assert!(order.contains(&"text") && order.contains(&"started") && order.contains(&"ended"), "{order:?}");
        for clinical in ["message", "joined", "left", "waiting", "consent", "amended"] {
            assert!(!order.contains(&clinical), "{clinical} shown to someone who may not read it: {order:?}");
        }
    }
    let reads = r.clinic().audit().recent(&r.admin, Some(&r.patient.id.to_string()), 100).unwrap();
    let record_reads =
        reads.iter().filter(|e| e.detail.as_deref().is_some_and(|d| d.starts_with("consultation record"))).count();
    assert_eq!(record_reads, 4, "every read is audited: {reads:?}");
}

#[tokio::test]
async fn notes_amended_after_the_end_keep_every_version_and_the_search_follows() {
    let r = rig().await;
    a_whole_consultation(&r).await;
    let c = r.clinic().consultations();
    // Typing on after the end: one sitting, one amendment, saved on every pause.
    r.t.advance(Duration::minutes(30));
    c.note(&r.okafor, r.appt, "Eczema improving. Continue emollient. Add").unwrap();
    r.t.advance(Duration::minutes(2));
    c.note(&r.okafor, r.appt, "Eczema improving. Continue emollient. Add hydrocortisone 1% for flares.").unwrap();
    // The next day: a second amendment.
    r.t.advance(Duration::days(1));
    c.note(&r.okafor, r.appt, "Eczema improving. Stop emollient; hydrocortisone 1% for flares.").unwrap();

    let record = c.record(&r.okafor, r.appt).unwrap();
    let versions: Vec<(i64, &str)> = record.note_versions.iter().map(|v| (v.version, v.text.as_str())).collect();
    assert_eq!(
        versions,
        vec![
            (0, "Eczema improving. Continue emollient."),
            (1, "Eczema improving. Continue emollient. Add hydrocortisone 1% for flares."),
            (2, "Eczema improving. Stop emollient; hydrocortisone 1% for flares."),
        ]
    );
    assert!(record.note_versions.iter().all(|v| v.saved_by.is_some()), "who wrote each version");
    assert_eq!(kinds(&record.timeline).iter().filter(|k| **k == "amended").count(), 2);
    assert_eq!(record.notes.as_deref(), Some("Eczema improving. Stop emollient; hydrocortisone 1% for flares."));
    // The search has the newest words only.
    assert_eq!(c.search(&r.okafor, "stop emollient").unwrap().len(), 1);
    assert!(c.search(&r.okafor, "continue").unwrap().iter().all(|h| h.message_index.is_some()));
    let amended = r.audit_actions().iter().filter(|a| *a == "consultation.note").count();
    assert!(amended >= 2, "each amendment is in the trail");
    // Saving the same text again changes nothing.
    c.note(&r.okafor, r.appt, "Eczema improving. Stop emollient; hydrocortisone 1% for flares.").unwrap();
    assert_eq!(c.record(&r.okafor, r.appt).unwrap().note_versions.len(), 3);
}

#[tokio::test]
async fn an_end_with_no_network_completes_here_and_the_record_arrives_when_twilio_answers_again() {
    let r = rig().await;
    r.t.advance(Duration::hours(1));
    same_clock(&r);
    r.start().await.unwrap();
    let c = r.clinic().consultations();
    let token = c.token(&r.okafor, r.appt).unwrap();
    let room = r.rooms()[0].sid.clone();
    let chat = r.conversations()[0].sid.clone();
    r.fake.add_participant(&room, &token.patient_identity, 300);
    r.fake.add_chat_message(&chat, &token.patient_identity, "The connection keeps dropping");

    let offline = http_to("http://127.0.0.1:9");
    let ended = c.end(&r.okafor, &offline, r.appt).await.unwrap();
    assert_eq!(ended.state, ConsultationState::Completed, "ended here, whatever the network");
    assert!(ended.record_pending);
    let record = c.record(&r.okafor, r.appt).unwrap();
    assert!(record.record_pending && record.attendance.is_empty());
    // The doctor documents it meanwhile (an amendment of the notes at the end).
    c.note(&r.okafor, r.appt, "Call cut; advice given by phone.").unwrap();
    let AccountState::Ready(account) = r.clinic().twilio().account_state().unwrap() else { panic!("set up") };
    assert_eq!(c.fetch_late_records(&offline, &account).await.unwrap(), 0, "still offline: nothing fetched");
    assert!(c.record(&r.okafor, r.appt).unwrap().record_pending);

    // Twilio answers, refusing (an outage of its own): the record waits a while before asking again.
    r.fake.inject(Route::UpdateRoom, Fault::Unavailable);
    assert_eq!(c.fetch_late_records(&r.http, &account).await.unwrap(), 0);
    let asked = r.fake.requests().len();
    assert_eq!(c.fetch_late_records(&r.http, &account).await.unwrap(), 0, "not again at once");
    assert_eq!(r.fake.requests().len(), asked, "Twilio is not asked every pass");
    r.t.advance(Duration::minutes(3));
    assert_eq!(c.fetch_late_records(&r.http, &account).await.unwrap(), 1);
    assert_eq!(r.rooms()[0].status, "completed", "the room is completed for everyone");
    assert_eq!(r.conversations()[0].state, "closed");
    let record = c.record(&r.okafor, r.appt).unwrap();
    assert!(!record.record_pending);
    assert_eq!(record.attendance.len(), 1);
    assert!(kinds(&record.timeline).contains(&"message"));
    assert_eq!(c.search(&r.okafor, "dropping").unwrap().len(), 1, "the late chat is searchable");
    assert_eq!(record.notes.as_deref(), Some("Call cut; advice given by phone."), "the notes stand");
    assert_eq!(c.fetch_late_records(&r.http, &account).await.unwrap(), 0, "fetched once");
    let actions = r.audit_actions();
    assert_eq!(actions.iter().filter(|a| *a == "consultation.end").count(), 1);
    assert_eq!(actions.iter().filter(|a| *a == "consultation.record_fetched").count(), 1);
}

#[tokio::test]
async fn chats_older_than_the_retention_go_from_the_record_and_the_search_and_the_removal_is_audited() {
    let r = rig().await;
    a_whole_consultation(&r).await;
    let c = r.clinic().consultations();
    let settings = r.clinic().settings();
    assert_eq!(settings.set(&r.desk, KEY_CHAT_RETENTION_DAYS, "30").unwrap_err().code(), ErrorCode::Forbidden);
    for bad in ["0", "thirty", "-1"] {
        assert_eq!(
            settings.set(&r.admin, KEY_CHAT_RETENTION_DAYS, bad).unwrap_err().field(),
            Some("chat_retention_days")
        );
    }
    settings.set(&r.admin, KEY_CHAT_RETENTION_DAYS, "30").unwrap();
    assert_eq!(c.remove_expired_chats().unwrap(), 0, "ended today: kept");
    assert_eq!(c.search(&r.okafor, "rash").unwrap().len(), 1);

    r.t.advance(Duration::days(31));
    assert_eq!(c.remove_expired_chats().unwrap(), 1);
    let record = c.record(&r.okafor, r.appt).unwrap();
    assert!(record.chat_removed_at.is_some());
    let order = kinds(&record.timeline);
    assert!(!order.contains(&"message") && order.contains(&"chat_removed"), "{order:?}");
    assert!(order.contains(&"joined") && record.notes.is_some(), "the rest of the record stays");
    assert!(c.search(&r.okafor, "rash").unwrap().is_empty(), "gone from the index");
    assert_eq!(c.search(&r.okafor, "emollient").unwrap().len(), 1, "the notes stay searchable");
    assert_eq!(r.audit_actions().iter().filter(|a| *a == "consultation.chat_removed").count(), 1);
    assert_eq!(c.remove_expired_chats().unwrap(), 0, "removed once");
    // Back to keeping: nothing more goes.
    settings.set(&r.admin, KEY_CHAT_RETENTION_DAYS, "").unwrap();
    assert_eq!(c.remove_expired_chats().unwrap(), 0);
}

#[tokio::test]
async fn the_list_is_newest_first_paged_and_filtered_and_never_tells_reception_what_it_may_not_read() {
    let r = rig().await;
    let c = r.clinic().consultations();
    // Three consultations of Dr Okafor's today at 09:00, 10:00 and 11:00; notes on the middle one.
    let mut booked = vec![r.appt];
    booked.push(r.book("10:00", 30, AppointmentKind::Video).0);
    booked.push(r.book("11:00", 30, AppointmentKind::Video).0);
    r.book("12:00", 30, AppointmentKind::Video); // never started: not a past consultation
    for (i, appt) in booked.iter().enumerate() {
        r.t.advance(Duration::minutes(if i == 0 { 60 } else { 45 }));
        c.start(&r.okafor, &r.http, *appt).await.unwrap();
        if i == 1 {
            c.note(&r.okafor, *appt, "Follow-up in six weeks.").unwrap();
        }
        r.t.advance(Duration::minutes(15));
        c.end(&r.okafor, &r.http, *appt).await.unwrap();
    }
    let all = c.list(&r.desk, &ConsultationFilter::default()).unwrap();
    let ids: Vec<Uuid> = all.items.iter().map(|s| s.appointment_id).collect();
    assert_eq!(ids, vec![booked[2], booked[1], booked[0]], "newest first, started ones only");
    assert!(all.next.is_none());
    assert!(all.items.iter().all(|s| !s.full && s.has_notes.is_none() && s.chat_messages.is_none()));
    let own = c.list(&r.okafor, &ConsultationFilter::default()).unwrap();
    assert_eq!(own.items[1].has_notes, Some(true));
    assert_eq!(own.items[0].has_notes, Some(false));

    // Pages of one: each once, in order.
    let mut seen = Vec::new();
    let mut filter = ConsultationFilter { limit: Some(1), ..Default::default() };
    loop {
        let page = c.list(&r.admin, &filter).unwrap();
        seen.extend(page.items.iter().map(|s| s.appointment_id));
        match page.next {
            Some(next) => filter.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let bad = ConsultationFilter { after: Some("page two".into()), ..Default::default() };
    assert_eq!(c.list(&r.admin, &bad).unwrap_err().field(), Some("after"));

    let with_notes = ConsultationFilter { has_notes: true, ..Default::default() };
    let listed = c.list(&r.okafor, &with_notes).unwrap();
    assert_eq!(listed.items.iter().map(|s| s.appointment_id).collect::<Vec<_>>(), vec![booked[1]]);
    assert!(c.list(&r.other, &with_notes).unwrap().items.is_empty(), "another doctor's notes are not theirs to find");
    assert_eq!(c.list(&r.desk, &with_notes).unwrap_err().code(), ErrorCode::Forbidden);

    let by_patient = ConsultationFilter { patient_id: Some(r.patient.id), ..Default::default() };
    assert_eq!(c.list(&r.desk, &by_patient).unwrap().items.len(), 3);
    let by_doctor = ConsultationFilter { doctor_id: Some(r.doctor.id), ..Default::default() };
    assert_eq!(c.list(&r.desk, &by_doctor).unwrap().items.len(), 3);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let today = ConsultationFilter { from: Some(day), to: Some(day), ..Default::default() };
    assert_eq!(c.list(&r.desk, &today).unwrap().items.len(), 3);
    let tomorrow = ConsultationFilter { from: day.succ_opt(), ..Default::default() };
    assert!(c.list(&r.desk, &tomorrow).unwrap().items.is_empty());
    let backwards = ConsultationFilter { from: day.succ_opt(), to: Some(day), ..Default::default() };
    assert_eq!(c.list(&r.desk, &backwards).unwrap_err().field(), Some("to"));
}

#[tokio::test]
async fn an_export_says_it_holds_health_information_shows_what_the_exporter_may_see_and_is_audited() {
    let r = rig().await;
    a_whole_consultation(&r).await;
    let c = r.clinic().consultations();
    let json = c.export(&r.okafor, r.appt, ExportFormat::Json).unwrap().bytes;
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["notice"], PHI_NOTICE);
    assert_eq!(value["record"]["notes"], "Eczema improving. Continue emollient.");
    assert!(value["record"]["timeline"].as_array().unwrap().len() > 5);

    let desk = c.export(&r.desk, r.appt, ExportFormat::Json).unwrap().bytes;
    let desk: serde_json::Value = serde_json::from_slice(&desk).unwrap();
    assert!(desk["record"]["notes"].is_null(), "reception's copy has no notes");
    assert!(!String::from_utf8_lossy(&serde_json::to_vec(&desk).unwrap()).contains("rash is much better"));

    let pdf = c.export(&r.okafor, r.appt, ExportFormat::Pdf).unwrap();
    assert_eq!(pdf.file_stem, format!("consultation-{}-2026-03-02", r.booking_ref), "no name in the file's name");
    let pdf = pdf.bytes;
    assert!(pdf.starts_with(b"%PDF-"), "a PDF file");
    assert!(pdf.len() > 2_000 && pdf.len() < 400_000, "fonts subset: {} bytes", pdf.len());
    let exports = r.audit_actions().iter().filter(|a| *a == "consultation.export").count();
    assert_eq!(exports, 3);
    // Printing from the screen is an export on paper: audited too, for whoever may read the record.
    c.printed(&r.desk, r.appt).unwrap();
    let exports = r.audit_actions().iter().filter(|a| *a == "consultation.export").count();
    assert_eq!(exports, 4);
    let newest = r.clinic().audit().recent(&r.admin, Some(&r.appt.to_string()), 1).unwrap().remove(0);
    assert!(newest.detail.unwrap_or_default().ends_with("printed (texts only)"));
}
