//! Searching past consultations' notes and chat (issue 11), from the clinic database alone: the
//! index in step with notes as typed and amended and with the chat kept at the end, accents and
//! case folded, word starts, anything staff type safe, and who may search what.

mod common;
mod consultation_rig;

use clinicdesk_core::consultations::{HitSource, SearchHit};
use clinicdesk_core::error::ErrorCode;
use consultation_rig::*;

fn words(hit: &SearchHit) -> (String, Vec<String>) {
    let text = hit.snippet.iter().map(|p| p.text.as_str()).collect::<String>();
    let matched = hit.snippet.iter().filter(|p| p.matched).map(|p| p.text.clone()).collect();
    (text, matched)
}

#[tokio::test]
async fn notes_and_the_kept_chat_are_found_by_word_start_without_accents_or_case() {
    let r = rig().await;
    let c = r.clinic().consultations();
    c.note(&r.okafor, r.appt, "Patientin klagt über Kopfschmerzen. Rash improving; review in two weeks.").unwrap();
    let hits = c.search(&r.okafor, "uber KOPF").unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!((hits[0].source, hits[0].message_index, hits[0].appointment_id), (HitSource::Notes, None, r.appt));
    assert_eq!(hits[0].patient_name, "Olivia Smith");
    let (text, matched) = words(&hits[0]);
    assert!(text.contains("Patientin klagt über Kopfschmerzen"), "{text}");
    assert_eq!(matched, vec!["über", "Kopfschmerzen"]);

    // Amended: the old words are gone from the index, the new ones there.
    c.note(&r.okafor, r.appt, "Eczema, not a rash. Cream twice daily.").unwrap();
    assert!(c.search(&r.okafor, "kopfschmerzen").unwrap().is_empty());
    assert_eq!(c.search(&r.okafor, "eczema cream").unwrap().len(), 1);

    // The chat, kept when the consultation ends, is searchable too, message by message.
    r.start().await.unwrap();
    let token = c.token(&r.okafor, r.appt).unwrap();
    let chat = r.conversations()[0].clone();
    let patient = chat.participants.iter().find(|p| p.identity != token.identity).unwrap().identity.clone();
    c.send(&r.okafor, &r.http, r.appt, "Good morning, can you hear me?").await.unwrap();
    r.fake.add_chat_message(&chat.sid, &patient, "Yes. The itching is much better at night.");
    r.end().await.unwrap();
    let hits = c.search(&r.okafor, "itch").unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!((hits[0].source, hits[0].message_index), (HitSource::Chat, Some(1)));
    assert_eq!(words(&hits[0]).1, vec!["itching"]);
    assert!(c.search(&r.okafor, "itch ").unwrap().is_empty(), "a finished word is a whole word");
}

#[tokio::test]
async fn a_full_page_of_the_word_itself_comes_first_and_word_starts_fill_a_short_one() {
    let r = rig().await;
    let c = r.clinic().consultations();
    r.start().await.unwrap();
    let token = c.token(&r.okafor, r.appt).unwrap();
    let chat = r.conversations()[0].sid.clone();
    r.fake.add_chat_message(&chat, &token.patient_identity, "The rashes came back on Sunday.");
    for i in 0..clinicdesk_core::consultations::MAX_HITS {
        r.fake.add_chat_message(&chat, &token.patient_identity, &format!("Photo {i} of the rash."));
    }
    r.fake.add_chat_message(&chat, &token.patient_identity, "Both rashes are paler today.");
    r.end().await.unwrap();

    // "rash" itself fills the page: the newest texts with the word, none with "rashes".
    let page = c.search(&r.okafor, "rash").unwrap();
    assert_eq!(page.len(), 50);
    assert!(page.iter().all(|hit| words(hit).1 == ["rash"]), "{:?}", page.iter().map(words).collect::<Vec<_>>());
    // "rashe" is no word of its own: as a word start it finds both texts, newest first.
    let start = c.search(&r.okafor, "rashe").unwrap();
    assert_eq!(start.iter().map(|hit| hit.message_index).collect::<Vec<_>>(), [Some(51), Some(0)]);
    // A rarer word: its whole-word hits and its word starts together, newest first.
    let both = c.search(&r.okafor, "paler").unwrap();
    assert_eq!(both.len(), 1);
}

#[tokio::test]
async fn whatever_staff_type_is_plain_text_and_only_the_right_people_search() {
    let r = rig().await;
    let c = r.clinic().consultations();
    c.note(&r.okafor, r.appt, "Said \"NEAR\" the window AND (the door): rash*").unwrap();
    for typed in
        ["\"", "\"near\" AND (", "rash*", "NEAR(window door)", "col:rash", "- OR NOT", "'; DROP TABLE notes; --"]
    {
        let answer = c.search(&r.okafor, typed);
        match answer {
            Ok(_) => {}
            Err(err) => assert_eq!(err.field(), Some("text"), "{typed}: {err}"),
        }
    }
    assert_eq!(c.search(&r.okafor, "\"near\" AND (").unwrap().len(), 1, "operators typed are words");
    assert_eq!(c.search(&r.okafor, "  \"*()  ").unwrap_err().field(), Some("text"), "nothing to search for");

    assert_eq!(c.search(&r.admin, "window").unwrap().len(), 1, "an administrator searches every consultation");
    assert!(c.search(&r.other, "window").unwrap().is_empty(), "another doctor does not see Dr Okafor's");
    assert_eq!(c.search(&r.desk, "window").unwrap_err().code(), ErrorCode::Forbidden, "reception never");
    assert!(r.refusals().iter().any(|p| p == "read_consultation_records"), "the refusal is audited");
    let reads = r.clinic().audit().recent(&r.admin, Some(&r.patient.id.to_string()), 50).unwrap();
    assert!(
        reads
            .iter()
            .any(|e| e.action == "patient.read"
                && e.detail.as_deref().is_some_and(|d| d.contains("consultation search"))),
        "{reads:?}"
    );
}

#[test]
fn an_upgraded_clinic_finds_the_notes_and_chat_it_kept_before() {
    use clinicdesk_core::db::migrations;
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    migrations::migrate_to(&mut conn, 11).unwrap();
    // What issue 9's schema kept, without the rest of the clinic (only the search tables read these).
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO consultations (appointment_id, status, room_name, doctor_identity, patient_identity, notes, created_at, updated_at)
           VALUES ('a1', 'scheduled', 'cd-1', 'd-1', 'p-1', 'Asthma review: inhaler technique good.', '2026-01-01T09:00:00.000Z', '2026-01-01T09:00:00.000Z');
         INSERT INTO chat_messages (appointment_id, message_index, author_role, body, sent_at)
           VALUES ('a1', 0, 'patient', 'My wheezing stopped.', '2026-01-01T09:05:00.000Z'),
                  ('a1', 1, 'doctor', NULL, '2026-01-01T09:06:00.000Z');",
    )
    .unwrap();
    migrations::migrate(&mut conn).unwrap();
    let found = |word: &str| -> Vec<i64> {
        let mut s = conn
            .prepare(
                "SELECT k.message_index FROM consultation_text_fts f JOIN consultation_text_keys k ON k.key = f.rowid
                 WHERE consultation_text_fts MATCH ?1 ORDER BY k.message_index",
            )
            .unwrap();
        s.query_map([word], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(found("inhaler"), vec![-1], "the notes, under -1");
    assert_eq!(found("wheezing"), vec![0]);
    let keys: i64 = conn.query_row("SELECT count(*) FROM consultation_text_keys", [], |r| r.get(0)).unwrap();
    assert_eq!(keys, 2, "a message without text (an attachment) is not indexed");
}
