//! Chat attachments kept with a consultation's record (issue 11): fetched after the end from the
//! (fake) Media Content Service, in the background; kept inside the encrypted database; over-size
//! files never downloaded; offline and refused fetches waiting their turn; files Twilio no longer
//! has marked so; saving one for its doctor or an administrator only, audited; removed with the chat.

mod common;
mod consultation_rig;

use chrono::Duration;
use clinicdesk_core::consultations::{AttachmentState, TimelineEntry, KEY_CHAT_RETENTION_DAYS};
use clinicdesk_core::error::ErrorCode;
use clinicdesk_core::twilio::config::TwilioAccount;
use clinicdesk_twilio_fake::{Fault, Route};
use consultation_rig::*;

/// A photo whose bytes are easy to look for in the database file.
fn photo() -> Vec<u8> {
    let mut bytes = b"\xff\xd8\xff\xe0JFIF-CLINICDESK-ATTACHMENT-MARKER-".to_vec();
    bytes.extend((0..200_000u32).map(|i| (i % 251) as u8));
    bytes
}

fn account(r: &Rig) -> TwilioAccount {
    r.clinic().twilio().account().unwrap().expect("Twilio is set up")
}

/// Starts the consultation; the patient sends `files` (name, type, bytes); ends it. Returns the media SIDs.
async fn consultation_with_files(r: &Rig, files: &[(&str, &str, Vec<u8>)]) -> Vec<String> {
    r.fake.set_clock_offset(r.now() - chrono::Utc::now());
    r.start().await.unwrap();
    let token = r.clinic().consultations().token(&r.okafor, r.appt).unwrap();
    let chat = r.conversations().into_iter().last().unwrap().sid;
    r.fake.add_chat_message(&chat, &token.patient_identity, "Here is the photo you asked for.");
    let sids = files
        .iter()
        .map(|(name, kind, bytes)| {
            r.fake.add_chat_file(&chat, &token.patient_identity, name, kind, bytes).expect("the chat is open")
        })
        .collect();
    r.t.advance(Duration::minutes(15));
    r.end().await.unwrap();
    sids
}

/// The record's attachments, in chat order, as (sid, name, state).
fn attachments(r: &Rig) -> Vec<(String, String, AttachmentState)> {
    let record = r.clinic().consultations().record(&r.okafor, r.appt).unwrap();
    record
        .timeline
        .iter()
        .filter_map(|e| match e {
            TimelineEntry::Message { media, .. } => Some(media.clone()),
            _ => None,
        })
        .flatten()
        .map(|m| (m.sid.unwrap_or_default(), m.filename.unwrap_or_default(), m.state))
        .collect()
}

#[tokio::test]
async fn attachments_are_kept_encrypted_after_the_end_and_only_its_doctor_or_an_admin_saves_them() {
    let r = rig().await;
    let c = r.clinic().consultations();
    let big = vec![7u8; 10 * 1024 * 1024 + 1];
    let sids = consultation_with_files(
        &r,
        &[("rash photo.jpg", "image/jpeg", photo()), ("../../scan.pdf", "application/pdf", big)],
    )
    .await;
    let (photo_sid, big_sid) = (&sids[0], &sids[1]);

    // Ending never waits for files: they are noted, not yet fetched.
    assert_eq!(
        attachments(&r),
        [
            (photo_sid.clone(), "rash photo.jpg".into(), AttachmentState::Waiting),
            (big_sid.clone(), "scan.pdf".into(), AttachmentState::TooLarge)
        ]
    );
    let early = c.attachment(&r.okafor, r.appt, photo_sid).unwrap_err();
    assert_eq!(early.code(), ErrorCode::Unavailable);
    assert!(early.to_string().contains("not been fetched from Twilio yet"), "{early}");

    assert_eq!(c.fetch_attachments(&r.http, &account(&r)).await.unwrap(), 1);
    assert_eq!(attachments(&r)[0].2, AttachmentState::Kept);
    assert_eq!(attachments(&r)[1].2, AttachmentState::TooLarge);
    let requests = r.fake.requests();
    assert!(!requests.iter().any(|q| q.contains(big_sid.as_str())), "the over-size file is never asked for");
    assert_eq!(requests.iter().filter(|q| q.starts_with("GET /fake/media-content/")).count(), 1);
    assert_eq!(c.fetch_attachments(&r.http, &account(&r)).await.unwrap(), 0, "kept once");

    // Saved by its doctor and by an administrator, with a plain file name; audited each time.
    let before = r.audit_actions().iter().filter(|a| *a == "consultation.export").count();
    let file = c.attachment(&r.okafor, r.appt, photo_sid).unwrap();
    assert_eq!((file.filename.as_str(), file.bytes == photo()), ("rash photo.jpg", true));
    assert_eq!(file.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(c.attachment(&r.admin, r.appt, photo_sid).unwrap().bytes.len(), photo().len());
    assert_eq!(r.audit_actions().iter().filter(|a| *a == "consultation.export").count(), before + 2);
    for (who, caller) in [("reception", &r.desk), ("another doctor", &r.other)] {
        let refused = c.attachment(caller, r.appt, photo_sid).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Forbidden, "{who}");
    }
    // Shown in the record as a picture, its type read from its bytes; a read of the record, audited.
    let shown = c.attachment_picture(&r.okafor, r.appt, photo_sid).unwrap();
    assert_eq!((shown.content_type.as_deref(), shown.bytes.len()), (Some("image/jpeg"), photo().len()));
    let newest = r.clinic().audit().recent(&r.admin, None, 1).unwrap().remove(0);
    assert_eq!(newest.detail.as_deref(), Some("consultation attachment (1 patient)"), "showing it is audited");
    assert_eq!(c.attachment_picture(&r.desk, r.appt, photo_sid).unwrap_err().code(), ErrorCode::Forbidden);
    let too_large = c.attachment(&r.okafor, r.appt, big_sid).unwrap_err();
    assert_eq!(too_large.to_string(), "This attachment is not kept: larger than 10 MB.");
    assert_eq!(c.attachment(&r.okafor, r.appt, "ME0").unwrap_err().code(), ErrorCode::NotFound);

    // Inside the SQLCipher file: the photo's bytes appear nowhere on the disk in the clear.
    r.clinic().db().checkpoint().unwrap();
    for entry in std::fs::read_dir(r.t.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let marker = b"CLINICDESK-ATTACHMENT-MARKER";
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker),
                "{} holds the photo in the clear",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn attachments_wait_for_the_network_back_off_when_refused_and_say_when_twilio_lost_them() {
    let r = rig().await;
    let c = r.clinic().consultations();
    let sids = consultation_with_files(
        &r,
        &[("letter.pdf", "application/pdf", b"%PDF-1.4 letter".to_vec()), ("x-ray.png", "image/png", photo())],
    )
    .await;

    let offline = http_to("http://127.0.0.1:9");
    assert_eq!(c.fetch_attachments(&offline, &account(&r)).await.unwrap(), 0, "no network: nothing fetched");
    assert!(attachments(&r).iter().all(|a| a.2 == AttachmentState::Waiting));
    // Twilio refusing the account (an outage, the key refused) is no file's fault: nothing is
    // charged with it, and the next pass tries at once.
    r.fake.inject(Route::FetchMedia, Fault::Error { status: 503, code: 20500, message: "Service unavailable".into() });
    assert_eq!(c.fetch_attachments(&r.http, &account(&r)).await.unwrap(), 0);
    assert!(attachments(&r).iter().all(|a| a.2 == AttachmentState::Waiting));

    // The first file's link is refused (an expired or bad signature), then its download breaks off
    // half-way; the second is gone from Twilio.
    r.fake.inject(Route::MediaContent, Fault::Error { status: 403, code: 0, message: "Request has expired".into() });
    r.fake.delete_chat_media(&sids[1]);
    assert_eq!(c.fetch_attachments(&r.http, &account(&r)).await.unwrap(), 0);
    let states: Vec<AttachmentState> = attachments(&r).into_iter().map(|a| a.2).collect();
    assert_eq!(states, [AttachmentState::Waiting, AttachmentState::Unavailable]);
    let lost = c.attachment(&r.okafor, r.appt, &sids[1]).unwrap_err();
    assert_eq!(lost.to_string(), "This attachment is not kept: Twilio no longer has it or would not give it.");

    assert_eq!(c.fetch_attachments(&r.http, &account(&r)).await.unwrap(), 0, "a refused file waits a while");
    r.t.advance(Duration::minutes(3));
    r.fake.set_clock_offset(r.now() - chrono::Utc::now());
    r.fake.inject(Route::MediaContent, Fault::DropAfterProcessing);
    assert_eq!(c.fetch_attachments(&r.http, &account(&r)).await.unwrap(), 0, "a download cut off waits too");
    assert_eq!(attachments(&r)[0].2, AttachmentState::Waiting);
    r.t.advance(Duration::minutes(5));
    r.fake.set_clock_offset(r.now() - chrono::Utc::now());
    assert_eq!(c.fetch_attachments(&r.http, &account(&r)).await.unwrap(), 1);
    assert_eq!(c.attachment(&r.okafor, r.appt, &sids[0]).unwrap().bytes, b"%PDF-1.4 letter");
    let not_a_picture = c.attachment_picture(&r.okafor, r.appt, &sids[0]).unwrap_err();
    assert_eq!(not_a_picture.field(), Some("media_sid"), "a PDF is saved, not shown: {not_a_picture}");

    // The record in words says which files are here.
    let record = c.record(&r.okafor, r.appt).unwrap();
    let lines: Vec<String> = record
        .timeline
        .iter()
        .map(|e| clinicdesk_core::consultations::describe::timeline_line(e, chrono_tz::Europe::London).1)
        .collect();
    assert!(lines.contains(&"The patient: [attachment: letter.pdf]".to_owned()), "{lines:#?}");
    assert!(
        lines.contains(
            &"The patient: [attachment: x-ray.png, not kept: Twilio no longer has it or would not give it]".to_owned()
        ),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn kept_attachments_go_with_the_chat_under_the_retention_rule() {
    let r = rig().await;
    let c = r.clinic().consultations();
    let sids = consultation_with_files(&r, &[("rash.jpg", "image/jpeg", photo())]).await;
    assert_eq!(c.fetch_attachments(&r.http, &account(&r)).await.unwrap(), 1);

    r.clinic().settings().set(&r.admin, KEY_CHAT_RETENTION_DAYS, "30").unwrap();
    r.t.advance(Duration::days(31));
    assert_eq!(c.remove_expired_chats().unwrap(), 1);
    assert_eq!(c.attachment(&r.okafor, r.appt, &sids[0]).unwrap_err().code(), ErrorCode::NotFound);
    assert!(attachments(&r).is_empty());
    let trail = r.clinic().audit().recent(&r.admin, Some(&r.appt.to_string()), 50).unwrap();
    let removal = trail.iter().find(|e| e.action == "consultation.chat_removed").expect("the removal is audited");
    assert!(removal.detail.as_deref().unwrap_or("").contains("1 attachment(s) removed"), "{removal:?}");
}

#[tokio::test]
async fn a_patient_sending_many_files_cannot_fill_the_clinics_disk() {
    let r = rig().await;
    let c = r.clinic().consultations();
    // 22 small files (the most kept is 20), and one with a SID that is not Twilio's shape.
    let files: Vec<(String, &str, Vec<u8>)> =
        (0..22).map(|i| (format!("page {i}.png"), "image/png", vec![i as u8; 1000])).collect();
    let files: Vec<(&str, &str, Vec<u8>)> = files.iter().map(|(n, t, b)| (n.as_str(), *t, b.clone())).collect();
    r.fake.set_clock_offset(r.now() - chrono::Utc::now());
    r.start().await.unwrap();
    let token = c.token(&r.okafor, r.appt).unwrap();
    let chat = r.conversations().into_iter().last().unwrap().sid;
    for (name, kind, bytes) in &files {
        r.fake.add_chat_file(&chat, &token.patient_identity, name, kind, bytes).unwrap();
    }
    let odd = serde_json::json!([{ "sid": "ME/../../Services", "content_type": "image/png", "filename": "odd.png", "size": 10 }]);
    assert!(r.fake.add_chat_media(&chat, &token.patient_identity, None, odd));
    r.end().await.unwrap();

    let states: Vec<AttachmentState> = attachments(&r).into_iter().map(|a| a.2).collect();
    assert_eq!(states.len(), 23);
    assert_eq!(states.iter().filter(|s| **s == AttachmentState::Waiting).count(), 20);
    assert_eq!(&states[20..], [AttachmentState::OverLimit, AttachmentState::OverLimit, AttachmentState::Unavailable]);
    let mut kept = 0;
    for _ in 0..10 {
        kept += c.fetch_attachments(&r.http, &account(&r)).await.unwrap();
    }
    assert_eq!(kept, 20, "five a pass, twenty in all");
    let asked = r.fake.requests().iter().filter(|q| q.contains("/Media/")).count();
    assert_eq!(asked, 20, "the twenty kept files only: an odd SID is never put in an address");
    let record = c.record(&r.okafor, r.appt).unwrap();
    let words: Vec<String> = record
        .timeline
        .iter()
        .map(|e| clinicdesk_core::consultations::describe::timeline_line(e, chrono_tz::Europe::London).1)
        .collect();
    assert!(
        words
            .iter()
            .any(|w| w
                .ends_with("[attachment: page 21.png, not kept: this consultation already keeps 20 files or 50 MB]")),
        "{words:#?}"
    );
}
