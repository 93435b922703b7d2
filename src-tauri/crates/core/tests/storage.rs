mod common;

use clinicdesk_core::db::migrations::{self, MIGRATIONS};
use clinicdesk_core::secrets::{SecretName, SecretStore};
use clinicdesk_core::Clinic;
use common::*;
use rusqlite::Connection;

fn schema(conn: &Connection) -> Vec<(String, String, String)> {
    let mut stmt = conn
        .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

fn installation_id(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("installation.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"].as_str().unwrap().to_owned()
}

#[test]
fn the_database_file_is_encrypted_and_unreadable_without_the_key() {
    let t = TestClinic::set_up();
    let path = t.dir.path().join("clinicdesk.db");
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.starts_with(b"SQLite format 3"), "a plain SQLite header means no encryption");
    let needle = ADMIN_EMAIL.as_bytes();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle), "the admin email is readable in the file");

    // Plain SQLite (no key) cannot read it...
    let plain = Connection::open(&path).unwrap();
    assert!(plain.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0)).is_err());
    // ...and neither can a wrong key.
    let wrong = Connection::open(&path).unwrap();
    wrong.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "00".repeat(32))).unwrap();
    assert!(wrong.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0)).is_err());

    // The key in the keyring opens it.
    let key =
        SecretStore::for_installation(&installation_id(t.dir.path())).get(SecretName::DatabaseKey).unwrap().unwrap();
    let keyed = Connection::open(&path).unwrap();
    keyed.execute_batch(&format!("PRAGMA key = \"x'{key}'\";")).unwrap();
    assert_eq!(keyed.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
}

#[test]
fn reopening_finds_the_same_clinic_and_keys() {
    let t = TestClinic::set_up();
    let dir = t.dir.path().to_owned();
    drop(t.clinic);
    let again = Clinic::open(&dir).unwrap();
    assert!(!again.needs_setup().unwrap());
    assert!(again.auth().sign_in(ADMIN_EMAIL, PASSWORD, clinicdesk_core::auth::Channel::Cli).is_ok());
    drop(again);
    drop(t.dir);
}

#[test]
fn a_missing_key_is_reported_and_the_database_is_left_alone() {
    let t = TestClinic::set_up();
    let dir = t.dir.path().to_owned();
    drop(t.clinic);
    let before = std::fs::read(dir.join("clinicdesk.db")).unwrap();
    let store = SecretStore::for_installation(&installation_id(&dir));
    let key = store.get(SecretName::DatabaseKey).unwrap().unwrap();
    store.delete(SecretName::DatabaseKey).unwrap();

    let err = Clinic::open(&dir).err().expect("must refuse");
    assert_eq!(err.code(), "unavailable");
    assert!(err.to_string().contains("not in this computer's keyring"), "{err}");
    assert_eq!(std::fs::read(dir.join("clinicdesk.db")).unwrap(), before, "the database must not be touched");
    store.set(SecretName::DatabaseKey, &key).unwrap();
    assert!(Clinic::open(&dir).is_ok());
}

#[test]
fn a_missing_installation_file_is_reported_not_replaced() {
    let t = TestClinic::set_up();
    let dir = t.dir.path().to_owned();
    drop(t.clinic);
    std::fs::remove_file(dir.join("installation.json")).unwrap();
    let err = Clinic::open(&dir).err().expect("must refuse");
    assert!(err.to_string().contains("installation.json is missing"), "{err}");
    assert!(!dir.join("installation.json").exists(), "must not invent a new installation over an existing database");
}

fn keyed_connection(dir: &std::path::Path) -> Connection {
    let key = SecretStore::for_installation(&installation_id(dir)).get(SecretName::DatabaseKey).unwrap().unwrap();
    let conn = Connection::open(dir.join("clinicdesk.db")).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{key}'\";")).unwrap();
    conn
}

#[test]
fn a_database_from_a_newer_clinicdesk_is_refused_unchanged() {
    let t = TestClinic::set_up();
    let dir = t.dir.path().to_owned();
    drop(t.clinic);
    let conn = keyed_connection(&dir);
    conn.pragma_update(None, "user_version", migrations::latest_version() + 1).unwrap();
    drop(conn);
    let err = Clinic::open(&dir).err().expect("must refuse");
    assert!(err.to_string().contains("newer version of ClinicDesk"), "{err}");
    let conn = keyed_connection(&dir);
    assert_eq!(migrations::current_version(&conn).unwrap(), migrations::latest_version() + 1);
}

#[test]
fn a_running_clinic_whose_database_a_newer_clinicdesk_upgraded_says_so_in_words() {
    let t = TestClinic::set_up();
    let admin = t.admin();
    assert!(t.clinic.settings().get(&admin).is_ok());
    // A newer binary (the CLI, say) upgrades the database while this clinic is open.
    keyed_connection(t.dir.path()).pragma_update(None, "user_version", migrations::latest_version() + 1).unwrap();
    let err = t.clinic.settings().get(&admin).unwrap_err();
    assert_eq!(err.code(), "unavailable");
    assert!(err.to_string().contains("written by a newer version of ClinicDesk"), "{err}");
    let err = t.clinic.auth().sign_in(ADMIN_EMAIL, PASSWORD, clinicdesk_core::auth::Channel::Cli).err().unwrap();
    assert!(err.to_string().contains("written by a newer version of ClinicDesk"), "{err}");
}

#[test]
fn upgrading_from_every_earlier_version_gives_the_same_schema_as_a_fresh_database() {
    let mut fresh = Connection::open_in_memory().unwrap();
    migrations::migrate(&mut fresh).unwrap();
    let expected = schema(&fresh);
    assert!(expected.iter().any(|(_, name, _)| name == "appointments"));
    for start in 0..migrations::latest_version() {
        let mut old = Connection::open_in_memory().unwrap();
        assert_eq!(migrations::migrate_to(&mut old, start).unwrap(), start);
        assert_eq!(migrations::migrate(&mut old).unwrap(), migrations::latest_version(), "from version {start}");
        assert_eq!(schema(&old), expected, "upgrading from version {start} differs from a fresh database");
    }
}

#[test]
fn every_migration_file_is_compiled_in_and_in_order() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../migrations");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let compiled: Vec<&str> = MIGRATIONS.iter().map(|(name, _)| *name).collect();
    assert_eq!(files, compiled);
    for (i, name) in compiled.iter().enumerate() {
        assert!(name.starts_with(&format!("{:04}_", i + 1)), "{name} is out of sequence");
    }
}

#[test]
fn the_audit_log_cannot_be_edited_or_deleted() {
    let t = TestClinic::set_up();
    let conn = t.clinic.db().conn().unwrap();
    let count = |c: &Connection| c.query_row("SELECT count(*) FROM audit_log", [], |r| r.get::<_, i64>(0)).unwrap();
    let before = count(&conn);
    assert!(before > 0);
    assert!(conn.execute("UPDATE audit_log SET action = 'nothing'", []).is_err());
    assert!(conn.execute("DELETE FROM audit_log", []).is_err());
    assert_eq!(count(&conn), before);
}

#[test]
fn no_password_or_secret_is_stored_in_the_database() {
    let t = TestClinic::set_up();
    let conn = t.clinic.db().conn().unwrap();
    let key =
        SecretStore::for_installation(&installation_id(t.dir.path())).get(SecretName::DatabaseKey).unwrap().unwrap();
    let mut stmt = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts%'").unwrap();
    let tables: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                if let Ok(Some(text)) = row.get::<_, Option<String>>(i) {
                    assert!(!text.contains(PASSWORD), "password in {table}");
                    assert!(!text.contains(&key), "database key in {table}");
                }
            }
        }
    }
}
