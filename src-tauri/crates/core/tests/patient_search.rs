//! Patient search at the desk: ranking, numbers typed any way, accents, very short texts, hostile
//! input, and the search index kept in step with every change (including patients registered
//! before the index existed).

mod common;

use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::db::migrations::{self, MIGRATIONS};
use clinicdesk_core::patients::{Patient, PatientInput};
use common::*;
use rusqlite::Connection;

struct Desk {
    t: TestClinic,
    desk: Caller,
}

impl Desk {
    fn new() -> Desk {
        let t = TestClinic::set_up();
        let desk = t.add_user("desk@clinic.example", Role::Reception);
        Desk { t, desk }
    }

    fn add(&self, name: &str, phone: &str) -> Patient {
        self.t.clinic.patients().add(&self.desk, input(name, phone)).unwrap()
    }

    fn names(&self, text: &str) -> Vec<String> {
        let found = self.t.clinic.patients().search(&self.desk, text, 50).unwrap();
        found.patients.into_iter().map(|p| p.full_name).collect()
    }
}

fn input(name: &str, phone: &str) -> PatientInput {
    PatientInput { full_name: name.into(), phone: phone.into(), date_of_birth: None, sms_consent: true }
}

#[test]
fn exact_matches_come_first_then_prefixes_then_word_starts_then_the_rest() {
    let d = Desk::new();
    for (i, name) in
        ["Anna Goldsmith", "John Smith", "Smithers Anna", "Noah Jones", "Smith", "Jane Smith"].into_iter().enumerate()
    {
        d.add(name, &format!("07400 10000{i}"));
    }
    assert_eq!(d.names("smith"), ["Smith", "Smithers Anna", "Jane Smith", "John Smith", "Anna Goldsmith"]);
    assert_eq!(d.names("SMI"), ["Smith", "Smithers Anna", "Jane Smith", "John Smith", "Anna Goldsmith"]);
    assert_eq!(d.names("oldsmit"), ["Anna Goldsmith"]);
    assert_eq!(d.names("john smith"), ["John Smith"]);
    // A whole number is an exact match, and outranks a name that merely starts with the digits.
    assert_eq!(d.names("07400 100004"), ["Smith"]);
}

#[test]
fn numbers_are_found_from_their_digits_however_they_are_typed() {
    let d = Desk::new();
    d.add("Olivia Smith", "07400 123456");
    d.add("Noah Jones", "+1 (201) 555-0123");
    for typed in
        ["07400 123456", "+44 7400 123456", "0044 7400 123456", "(07400) 123-456", "123456", "7400 12", "400123"]
    {
        assert_eq!(d.names(typed), ["Olivia Smith"], "typed {typed:?}");
    }
    for typed in ["(201) 555", "+1 201-555-0123", "555-0123", "2015550123"] {
        assert_eq!(d.names(typed), ["Noah Jones"], "typed {typed:?}");
    }
    // Fewer than three digits match no number (the trunk 0 does not count).
    assert!(d.names("12").is_empty());
    assert!(d.names("074").is_empty(), "only 74 is left after the trunk 0");
    assert_eq!(d.names("0740"), ["Olivia Smith"]);
}

#[test]
fn accents_and_case_do_not_matter() {
    let d = Desk::new();
    d.add("José Álvarez", "07400 100001");
    d.add("Zoë Brontë", "07400 100002");
    for typed in ["jose", "JOSÉ", "alvarez", "Álv", "se álv", "José Álvarez"] {
        assert_eq!(d.names(typed), ["José Álvarez"], "typed {typed:?}");
    }
    assert_eq!(d.names("zoe bronte"), ["Zoë Brontë"]);
    // Ranking sees through accents too: "jose alvarez" is the whole name.
    d.add("Jose Alvarez-Ruiz", "07400 100003");
    assert_eq!(d.names("jose alvarez"), ["José Álvarez", "Jose Alvarez-Ruiz"]);
}

#[test]
fn one_or_two_characters_find_names_and_words_that_start_with_them() {
    let d = Desk::new();
    for (i, name) in
        ["Anna Goldsmith", "John Smith", "Smithers Anna", "Sam O'Brien", "Élodie Martin"].into_iter().enumerate()
    {
        d.add(name, &format!("07400 10000{i}"));
    }
    assert_eq!(d.names("sm"), ["Smithers Anna", "John Smith"]);
    assert_eq!(d.names("S"), ["Sam O'Brien", "Smithers Anna", "John Smith"]);
    assert_eq!(d.names("br"), ["Sam O'Brien"]);
    assert_eq!(d.names("e"), ["Élodie Martin"]);
    assert_eq!(d.names("an"), ["Anna Goldsmith", "Smithers Anna"]);
    assert!(d.names("x").is_empty());
}

#[test]
fn an_empty_search_lists_patients_alphabetically_and_says_when_there_are_more() {
    let d = Desk::new();
    for (i, name) in ["carol", "Bob", "alice", "Dave"].into_iter().enumerate() {
        d.add(name, &format!("07400 10000{i}"));
    }
    let patients = d.t.clinic.patients();
    let all = patients.search(&d.desk, "  ", 10).unwrap();
    assert_eq!(
        all.patients.iter().map(|p| p.full_name.as_str()).collect::<Vec<_>>(),
        ["alice", "Bob", "carol", "Dave"]
    );
    assert!(!all.more);
    let first = patients.search(&d.desk, "", 3).unwrap();
    assert_eq!(first.patients.len(), 3);
    assert!(first.more, "a fourth patient is not shown");
    let narrowed = patients.search(&d.desk, "07400 1000", 2).unwrap();
    assert_eq!(narrowed.patients.len(), 2);
    assert!(narrowed.more);
}

#[test]
fn whatever_is_typed_the_search_answers_and_never_fails() {
    let d = Desk::new();
    d.add("Olivia Smith", "07400 123456");
    d.add("Anne-Marie \"Annie\" O'Neil", "07400 123457");
    let hostile = [
        "\"",
        "\"\"",
        "\"smith",
        "smith\"",
        "*",
        "smi*",
        "AND",
        "smith AND olivia",
        "OR",
        "NOT smith",
        "NEAR(",
        "NEAR(smith olivia)",
        "-",
        "-smith",
        ":",
        "name:smith",
        "digits:123",
        "{name}:smith",
        "^",
        "^smith",
        "(",
        ")",
        "()",
        "+",
        "+++",
        "\\",
        "%",
        "_",
        "%%%",
        "'; DROP TABLE patients; --",
        "0",
        "000",
        "0000000",
    ];
    for text in hostile {
        let found = d.t.clinic.patients().search(&d.desk, text, 50);
        assert!(found.is_ok(), "{text:?} gave {:?}", found.err());
    }
    // What looks like query syntax is matched as the text it is.
    assert_eq!(d.names("\"Annie\""), ["Anne-Marie \"Annie\" O'Neil"]);
    assert_eq!(d.names("-mar"), ["Anne-Marie \"Annie\" O'Neil"]);
    assert!(d.names("mi_h").is_empty(), "_ is not a wildcard");
    assert!(d.names("s%h").is_empty(), "% is not a wildcard");
    assert!(d.names("smi*").is_empty(), "* is not a wildcard");
    // The limit on length stays, explained in words.
    assert!(d.t.clinic.patients().search(&d.desk, &"a".repeat(120), 50).is_ok());
    let err = d.t.clinic.patients().search(&d.desk, &"a".repeat(121), 50).unwrap_err();
    assert_eq!(err.to_string(), "Search with up to 120 characters.");
}

#[test]
fn the_index_follows_new_patients_renames_and_new_numbers() {
    let d = Desk::new();
    let patients = d.t.clinic.patients();
    let olivia = d.add("Olivia Smith", "07400 123456");
    assert_eq!(d.names("livia"), ["Olivia Smith"]);

    patients.update(&d.desk, olivia.id, input("Olivia Hartley", "07400 123456")).unwrap();
    assert_eq!(d.names("hartl"), ["Olivia Hartley"]);
    assert!(d.names("smith").is_empty(), "the old name is gone from the index");
    assert_eq!(d.names("123456"), ["Olivia Hartley"]);

    patients.update(&d.desk, olivia.id, input("Olivia Hartley", "07400 654321")).unwrap();
    assert_eq!(d.names("654321"), ["Olivia Hartley"]);
    assert!(d.names("123456").is_empty(), "the old number is gone from the index");

    // One index entry per patient, whatever was written.
    let conn = d.t.clinic.db().conn().unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM patient_search_keys"), 1);
    assert_eq!(count("SELECT count(*) FROM patient_search_fts WHERE patient_search_fts MATCH 'olivia'"), 1);
}

/// Patients registered before the search index existed are found once the clinic is upgraded.
#[test]
fn upgrading_indexes_the_patients_already_registered() {
    let step = MIGRATIONS.iter().position(|(name, _)| name.ends_with("_patient_search.sql")).unwrap() as u32;
    let mut conn = Connection::open_in_memory().unwrap();
    migrations::migrate_to(&mut conn, step).unwrap();
    conn.execute_batch(
        "INSERT INTO patients (id, full_name, phone_e164, created_at, updated_at) VALUES
            ('p1', 'José Álvarez', '+447400123456', 't', 't'),
            ('p2', 'Olivia Smith', '+12015550123', 't', 't');",
    )
    .unwrap();
    migrations::migrate(&mut conn).unwrap();

    let found = |table: &str, query: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT k.patient_id FROM {table} f JOIN patient_search_keys k ON k.key = f.rowid
                 WHERE {table} MATCH ?1 ORDER BY k.patient_id"
            ))
            .unwrap();
        stmt.query_map([query], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(found("patient_search_fts", "name : \"jose\""), ["p1"]);
    assert_eq!(found("patient_search_fts", "digits : \"5550\""), ["p2"]);
    assert_eq!(found("patient_words_fts", "name : \"sm\" *"), ["p2"]);
    // A patient added after the upgrade gets the next key, and a rename keeps it.
    conn.execute_batch(
        "INSERT INTO patients (id, full_name, phone_e164, created_at, updated_at) VALUES ('p3', 'Noah Jones', '+447400123457', 't', 't');
         UPDATE patients SET full_name = 'Noah Smith' WHERE id = 'p3';",
    )
    .unwrap();
    assert_eq!(found("patient_search_fts", "name : \"smith\""), ["p2", "p3"]);
    assert!(found("patient_search_fts", "name : \"jones\"").is_empty());
    conn.execute("DELETE FROM patients WHERE id = 'p1'", []).unwrap();
    assert!(found("patient_search_fts", "name : \"jose\"").is_empty());
    assert_eq!(conn.query_row("SELECT count(*) FROM patient_search_keys", [], |r| r.get::<_, i64>(0)).unwrap(), 2);
}

/// An edit names the version its form was opened at: a form opened before a change made since
/// (a consent withdrawn at another window) is refused instead of undoing it; a fresh one saves.
#[test]
fn an_edit_from_a_form_opened_before_a_later_change_is_refused() {
    let d = Desk::new();
    let ana = d.add("Ana Lima", "07400 123456");
    let opened = d.t.clinic.patients().get(&d.desk, ana.id).unwrap();
    let withdrawn = d.t.clinic.patients().record_consent(&d.desk, ana.id, false).unwrap();
    assert_eq!(withdrawn.version, opened.version.map(|v| v + 1));
    let mut form = input("Ana Lima", "07400 123456");
    form.date_of_birth = Some("1980-04-02".into());
    let stale = d.t.clinic.patients().update_seen(&d.desk, ana.id, form.clone(), opened.version).unwrap_err();
    assert_eq!(stale.code().as_str(), "conflict");
    assert!(stale.to_string().contains("changed on another desk (or here) after you opened them"), "{stale}");
    assert!(!d.t.clinic.patients().get(&d.desk, ana.id).unwrap().sms_consent, "the withdrawal stands");
    form.sms_consent = false;
    let saved = d.t.clinic.patients().update_seen(&d.desk, ana.id, form, withdrawn.version).unwrap();
    assert_eq!(saved.date_of_birth.map(|d| d.to_string()).as_deref(), Some("1980-04-02"));
}

/// The patient rules are the core's, over this SQLite store and the server's PostgreSQL store
/// alike: the same changes leave the same trail here as in the server's tests/patients.rs.
#[test]
fn registering_and_editing_leave_the_trail_the_server_leaves() {
    let d = Desk::new();
    let mia = d.add("Mia Lima", "07400 555111");
    let mut edit = input("Mia Lima", "07400 555111");
    edit.sms_consent = false;
    d.t.clinic.patients().update_seen(&d.desk, mia.id, edit, mia.version).unwrap();
    d.t.clinic.patients().record_consent(&d.desk, mia.id, true).unwrap();
    let twice = d.t.clinic.patients().add(&d.desk, input("MIA LIMA", "+447400555111")).unwrap_err();
    assert!(twice.to_string().contains("MIA LIMA is already registered with this phone number"), "{twice}");
    // Accented capitals and an accent typed as its own mark are the same name (SQLite's NOCASE
    // alone folds only A to Z).
    d.add("Chloé Dubois", "07911 000111");
    for same in ["CHLOÉ DUBOIS", "Chloe\u{301} Dubois"] {
        let again = d.t.clinic.patients().add(&d.desk, input(same, "07911 000111")).unwrap_err();
        assert!(again.to_string().contains("already registered"), "{same}: {again}");
    }

    let admin = d.t.admin();
    let mut entries = d.t.clinic.audit().recent(&admin, Some(&mia.id.to_string()), 50).unwrap();
    entries.reverse();
    let trail: Vec<String> = entries
        .iter()
        .map(|e| match e.detail.as_deref().and_then(|d| d.split("; ").nth(1)) {
            Some(answer) => format!("{} {answer}", e.action),
            None => e.action.clone(),
        })
        .collect();
    assert_eq!(
        trail.join(", "),
        "patient.create, patient.consent texts agreed, patient.consent texts refused, patient.update, patient.consent texts agreed"
    );
}
