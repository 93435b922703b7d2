//! What keeps the clinic fast as its history grows (issue 7): a screen's read is one audit entry
//! linked to its patients, the bulk import keeps the desk's rules, and the hot queries use their
//! indexes (checked with EXPLAIN QUERY PLAN, never with a stopwatch).

mod common;

use chrono::{Duration, TimeZone, Utc};
use clinicdesk_core::appointments::{AppointmentKind, AppointmentStatus, BookingRequest, DAY_OF_CLINIC, DAY_OF_DOCTOR};
use clinicdesk_core::auth::{Caller, Role};
use clinicdesk_core::import::ImportedAppointment;
use clinicdesk_core::patients::PatientInput;
use common::*;
use uuid::Uuid;

struct Clinic {
    t: TestClinic,
    admin: Caller,
    desk: Caller,
    doctors: Vec<Uuid>,
    patients: Vec<Uuid>,
}

fn patient_row(i: usize) -> PatientInput {
    PatientInput {
        full_name: format!("Patient Number{i}"),
        phone: format!("07400 1{i:05}"),
        date_of_birth: Some("1980-05-17".into()),
        sms_consent: true,
    }
}

/// Two doctors, `n` patients (imported), nothing booked.
fn clinic(n: usize) -> Clinic {
    let t = TestClinic::set_up();
    let admin = t.admin();
    let mut doctors = Vec::new();
    for email in ["okafor@clinic.example", "brenner@clinic.example"] {
        t.add_user(email, Role::Doctor);
        doctors.push(t.clinic.doctors().add(&admin, email, "General practice").unwrap().id);
    }
    let desk = t.add_user("desk@clinic.example", Role::Reception);
    let rows: Vec<PatientInput> = (0..n).map(patient_row).collect();
    let patients = t.clinic.import().patients(&admin, &rows).unwrap();
    Clinic { t, admin, desk, doctors, patients }
}

/// Monday 9 March 2026 at 09:00 London (GMT), plus `slot` quarter hours.
fn at(slot: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 9, 0, 0).unwrap() + Duration::minutes(15 * slot)
}

fn visit(patient: Uuid, doctor: Uuid, slot: i64) -> ImportedAppointment {
    ImportedAppointment {
        patient_id: patient,
        doctor_id: doctor,
        starts_at: at(slot),
        minutes: 15,
        kind: AppointmentKind::InPerson,
        status: AppointmentStatus::Scheduled,
    }
}

fn reads(c: &Clinic, patient: Uuid) -> Vec<String> {
    let entries = c.t.clinic.audit().recent(&c.admin, Some(&patient.to_string()), 100).unwrap();
    entries.into_iter().filter(|e| e.action == "patient.read").filter_map(|e| e.detail).collect()
}

fn count_entries(c: &Clinic, action: &str) -> i64 {
    let conn = c.t.clinic.db().conn().unwrap();
    conn.query_row("SELECT count(*) FROM audit_log WHERE action = ?1", [action], |r| r.get(0)).unwrap()
}

#[test]
fn a_day_view_is_one_audit_entry_and_each_patient_on_it_can_see_who_looked() {
    let c = clinic(30);
    // 24 appointments, patient 0 twice; patients 25.. are not on the day.
    let mut rows: Vec<_> = (0..12).map(|i| visit(c.patients[i], c.doctors[0], i as i64)).collect();
    rows.extend((12..24).map(|i| visit(c.patients[i], c.doctors[1], (i - 12) as i64)));
    rows.push(visit(c.patients[0], c.doctors[0], 20));
    c.t.clinic.import().appointments(&c.admin, &rows).unwrap();
    let before = count_entries(&c, "patient.read");

    let day = c.t.clinic.appointments().day(&c.desk, "2026-03-09", None).unwrap();
    assert_eq!(day.appointments.len(), 25);
    assert_eq!(count_entries(&c, "patient.read"), before + 1, "one entry for the whole screen");
    assert_eq!(reads(&c, c.patients[0]), vec!["day schedule 2026-03-09, all doctors (24 patients)"]);
    assert_eq!(reads(&c, c.patients[23]).len(), 1);
    assert!(reads(&c, c.patients[25]).is_empty(), "a patient not shown was not read");
    let entry = &c.t.clinic.audit().recent(&c.admin, Some(&c.patients[5].to_string()), 1).unwrap()[0];
    assert_eq!(entry.actor, "desk@clinic.example");

    c.t.clinic.appointments().day(&c.desk, "2026-03-09", Some(c.doctors[1])).unwrap();
    assert_eq!(reads(&c, c.patients[12]).len(), 2);
    assert_eq!(reads(&c, c.patients[0]).len(), 1, "doctor 1's day does not show patient 0");
}

#[test]
fn a_search_is_one_audit_entry_linked_to_the_patients_it_showed() {
    let c = clinic(12);
    let before = count_entries(&c, "patient.read");
    let found = c.t.clinic.patients().search(&c.desk, "Number1", 50).unwrap().patients;
    assert_eq!(found.len(), 3, "Number1, Number10, Number11");
    assert_eq!(count_entries(&c, "patient.read"), before + 1);
    for p in &found {
        assert_eq!(reads(&c, p.id), vec!["patient search (3 patients)"]);
    }
    assert!(reads(&c, c.patients[2]).is_empty());
    // The typed text is not in the trail: it may be a name.
    let entry = &c.t.clinic.audit().recent(&c.admin, None, 1).unwrap()[0];
    assert!(!entry.detail.as_deref().unwrap_or_default().contains("Number1"), "{entry:?}");
}

#[test]
fn a_patients_history_has_their_changes_bookings_and_reads_newest_first() {
    let c = clinic(2);
    let p = c.patients[0];
    c.t.clinic.patients().update(&c.desk, p, patient_row(7)).unwrap();
    let request = BookingRequest {
        patient_id: p,
        doctor_id: c.doctors[0],
        date: "2026-03-10".into(),
        time: "10:00".into(),
        minutes: 20,
        kind: AppointmentKind::Video,
    };
    let booked = c.t.clinic.appointments().book(&c.desk, request).unwrap();
    c.t.clinic.appointments().get(&c.desk, booked.id).unwrap();
    c.t.clinic.appointments().cancel(&c.desk, booked.id, "Patient called", None).unwrap();
    let history = c.t.clinic.audit().recent(&c.admin, Some(&p.to_string()), 100).unwrap();
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["appointment.cancel", "patient.read", "appointment.book", "patient.update", "import.patients"],
        "{history:#?}"
    );
    assert!(reads(&c, c.patients[1]).is_empty());
    // An appointment's own trail still answers by its id.
    let by_appointment = c.t.clinic.audit().recent(&c.admin, Some(&booked.id.to_string()), 100).unwrap();
    assert_eq!(by_appointment.len(), 2, "{by_appointment:#?}");
}

#[test]
fn the_audit_links_cannot_be_changed_or_removed() {
    let c = clinic(1);
    c.t.clinic.patients().get(&c.desk, c.patients[0]).unwrap();
    let conn = c.t.clinic.db().conn().unwrap();
    let update = conn.execute("UPDATE audit_patients SET patient_id = 'someone else'", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = conn.execute("DELETE FROM audit_patients", []);
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

#[test]
fn a_screen_read_leaves_the_connection_fsyncing_every_other_commit() {
    let c = clinic(3);
    c.t.clinic.patients().search(&c.desk, "Patient", 50).unwrap();
    // The pool hands back the most recently used connection: the one the search used.
    let conn = c.t.clinic.db().conn().unwrap();
    let level: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!(level, 2, "synchronous must be FULL (2) again after the read's own commit");
}

#[test]
fn an_import_keeps_the_desks_rules_names_the_bad_row_and_is_all_or_nothing() {
    let c = clinic(3);
    let mut rows: Vec<PatientInput> = (10..13).map(patient_row).collect();
    rows[1].phone = "12".into();
    let err = c.t.clinic.import().patients(&c.admin, &rows).unwrap_err();
    assert!(err.to_string().starts_with("Row 2: "), "{err}");
    let count = c.t.clinic.patients().count(&c.admin).unwrap();
    assert_eq!(count, 3, "nothing of the refused batch was kept");

    let overlapping = vec![
        visit(c.patients[0], c.doctors[0], 0),
        visit(c.patients[1], c.doctors[1], 0),
        visit(c.patients[2], c.doctors[0], 0),
    ];
    let err = c.t.clinic.import().appointments(&c.admin, &overlapping).unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert!(err.to_string().starts_with("Row 3: The doctor already has another appointment"), "{err}");
    let day = c.t.clinic.appointments().day(&c.admin, "2026-03-09", None).unwrap();
    assert!(day.appointments.is_empty(), "nothing of the refused batch was kept");

    let mut too_long = visit(c.patients[0], c.doctors[0], 0);
    too_long.minutes = 1000;
    let err = c.t.clinic.import().appointments(&c.admin, &[too_long]).unwrap_err();
    assert!(err.to_string().starts_with("Row 1: An appointment lasts between"), "{err}");

    let mut unknown = visit(Uuid::new_v4(), c.doctors[0], 0);
    unknown.status = AppointmentStatus::Completed;
    let err = c.t.clinic.import().appointments(&c.admin, &[unknown]).unwrap_err();
    assert!(err.to_string().contains("not in this clinic"), "{err}");

    // History in the past is what an import is for; the desk could not book it.
    let mut past = visit(c.patients[0], c.doctors[0], 0);
    past.starts_at = at(0) - Duration::days(400);
    past.status = AppointmentStatus::Completed;
    assert_eq!(c.t.clinic.import().appointments(&c.admin, &[past]).unwrap(), 1);
}

#[test]
fn only_an_administrator_imports() {
    let c = clinic(1);
    let err = c.t.clinic.import().patients(&c.desk, &[patient_row(5)]).unwrap_err();
    assert_eq!(err.code(), "forbidden");
    let err = c.t.clinic.import().appointments(&c.desk, &[visit(c.patients[0], c.doctors[0], 0)]).unwrap_err();
    assert_eq!(err.code(), "forbidden");
}

fn plan(c: &Clinic, sql: &str, args: &[&dyn rusqlite::ToSql]) -> String {
    let conn = c.t.clinic.db().conn().unwrap();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = stmt.query_map(args, |r| r.get::<_, String>(3)).unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_day_views_read_their_index_ranges_and_scan_nothing() {
    let c = clinic(1);
    let (from, to) = ("2026-03-09T00:00:00.000Z", "2026-03-10T00:00:00.000Z");
    let doctor = c.doctors[0].to_string();
    let one = plan(&c, DAY_OF_DOCTOR, &[&doctor, &from, &to]);
    assert!(
        one.contains("SEARCH a USING INDEX appointments_doctor_time (doctor_id=? AND starts_at>? AND starts_at<?)"),
        "{one}"
    );
    let all = plan(&c, DAY_OF_CLINIC, &[&from, &to]);
    assert!(all.contains("SEARCH a USING INDEX appointments_time (starts_at>? AND starts_at<?)"), "{all}");
    for p in [&one, &all] {
        assert!(!p.contains("SCAN"), "a full scan in the day view:\n{p}");
        assert!(p.contains("SEARCH p USING COVERING INDEX patients_id_name (id=?)"), "{p}");
    }
}

#[test]
fn who_saw_a_patient_reads_the_link_index_not_the_whole_trail() {
    let c = clinic(1);
    let conn = c.t.clinic.db().conn().unwrap();
    let mut stmt = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT audit_id FROM audit_patients WHERE patient_id = ?1 ORDER BY audit_id DESC LIMIT 100",
        )
        .unwrap();
    let p: Vec<String> = stmt.query_map(["x"], |r| r.get(3)).unwrap().map(Result::unwrap).collect();
    assert_eq!(p, ["SEARCH audit_patients USING PRIMARY KEY (patient_id=?)"]);
    let mut stmt = conn
        .prepare("EXPLAIN QUERY PLAN SELECT id FROM audit_log WHERE record_id = ?1 ORDER BY id DESC LIMIT 100")
        .unwrap();
    let p: Vec<String> = stmt.query_map(["x"], |r| r.get(3)).unwrap().map(Result::unwrap).collect();
    assert_eq!(p, ["SEARCH audit_log USING COVERING INDEX audit_log_record_id (record_id=?)"]);
}

#[test]
fn screen_reads_are_linked_in_the_background_in_batches_and_each_once() {
    let c = clinic(4);
    for _ in 0..600 {
        c.t.clinic.patients().get(&c.desk, c.patients[1]).unwrap();
    }
    c.t.clinic.patients().search(&c.desk, "Patient", 50).unwrap();
    let conn = c.t.clinic.db().conn().unwrap();
    assert_eq!(clinicdesk_core::audit::index_pending(&conn).unwrap(), 500, "one short transaction at a time");
    assert_eq!(clinicdesk_core::audit::index_pending(&conn).unwrap(), 101);
    assert_eq!(clinicdesk_core::audit::index_pending(&conn).unwrap(), 0);
    assert_eq!(c.t.clinic.housekeeping().unwrap(), 0, "nothing left");
    let links: i64 = conn
        .query_row("SELECT count(*) FROM audit_patients WHERE patient_id = ?1", [&c.patients[1].as_bytes()[..]], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(links, 1 + 600 + 1, "imported, 600 records opened, one search");
    let last: i64 = conn.query_row("SELECT max(id) FROM audit_log", [], |r| r.get(0)).unwrap();
    let mut shown = clinicdesk_core::audit::patients_of(&conn, last).unwrap();
    let mut expected = c.patients.clone();
    shown.sort();
    expected.sort();
    assert_eq!(shown, expected, "the search entry carries the four patients it showed");
}

#[test]
fn upgrading_links_the_entries_written_one_per_patient_before() {
    use clinicdesk_core::db::migrations::{migrate, migrate_to};
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    migrate_to(&mut conn, 5).unwrap();
    conn.execute_batch(
        "INSERT INTO audit_log (at, actor_label, action, record_type, record_id, detail) VALUES
           ('t', 'a', 'patient.read', 'patient', '11111111-2222-3333-4444-555555555555', 'day schedule'),
           ('t', 'a', 'appointment.book', 'appointment', 'x', 'patient 11111111-2222-3333-4444-555555555555'),
           ('t', 'a', 'patient.read', 'patient', 'not-a-uuid', NULL),
           ('t', 'a', 'appointment.cancel', 'appointment', 'y', 'patient 99999999-2222-3333-4444-555555555555'),
           ('t', 'a', 'auth.sign_in', 'user', 'u', NULL);",
    )
    .unwrap();
    migrate(&mut conn).unwrap();
    let mut stmt = conn.prepare("SELECT lower(hex(patient_id)), audit_id FROM audit_patients ORDER BY 1, 2").unwrap();
    let links: Vec<(String, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        links,
        [
            ("11111111222233334444555555555555".to_owned(), 1),
            ("11111111222233334444555555555555".to_owned(), 2),
            ("99999999222233334444555555555555".to_owned(), 4),
        ]
    );
    let mark: i64 = conn.query_row("SELECT indexed_through FROM audit_index_mark", [], |r| r.get(0)).unwrap();
    assert_eq!(mark, 5, "the old entries are all accounted for");
}
