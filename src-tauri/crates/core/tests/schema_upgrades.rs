//! Opening an old database from several places at once (the app and the CLI, two CLI commands):
//! every migration runs exactly once and nobody fails. Uses `Database` directly with a random key,
//! so no keyring is needed.

use clinicdesk_core::db::migrations;
use clinicdesk_core::db::{Database, DatabaseKey};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

const CHILD_DB: &str = "CLINICDESK_TEST_CHILD_DB";
const CHILD_KEY: &str = "CLINICDESK_TEST_CHILD_KEY";
const CHILD_GO: &str = "CLINICDESK_TEST_CHILD_GO";

fn random_key() -> String {
    uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
}

fn keyed(path: &Path, key: &str) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{key}'\";")).unwrap();
    conn
}

/// An encrypted database left at `version` by an older ClinicDesk.
fn old_database(version: u32) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinicdesk.db");
    let key = random_key();
    let mut conn = keyed(&path, &key);
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    assert_eq!(migrations::migrate_to(&mut conn, version).unwrap(), version);
    (dir, path, key)
}

fn schema(conn: &Connection) -> Vec<(String, String, String)> {
    let mut stmt = conn
        .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

fn fresh_schema() -> Vec<(String, String, String)> {
    let mut fresh = Connection::open_in_memory().unwrap();
    migrations::migrate(&mut fresh).unwrap();
    schema(&fresh)
}

fn assert_fully_migrated(path: &Path, key: &str) {
    let conn = keyed(path, key);
    assert_eq!(migrations::current_version(&conn).unwrap(), migrations::latest_version());
    assert_eq!(schema(&conn), fresh_schema());
}

#[test]
fn threads_opening_an_old_database_at_once_migrate_it_once_and_all_succeed() {
    for version in [0, 1, migrations::latest_version() - 1] {
        let (_dir, path, key) = old_database(version);
        let start = Arc::new(Barrier::new(6));
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let (path, key, start) = (path.clone(), key.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let db = Database::open(&path, DatabaseKey::from_hex(&key).unwrap())?;
                    let conn = db.conn()?;
                    migrations::current_version(&conn)
                })
            })
            .collect();
        for opener in openers {
            let opened = opener.join().expect("no panic");
            assert_eq!(opened.map_err(|e| e.to_string()), Ok(migrations::latest_version()), "from version {version}");
        }
        assert_fully_migrated(&path, &key);
    }
}

/// Not a test on its own: the body of each child process started by the test below.
#[test]
fn child_process_opens_the_database() {
    let (Ok(path), Ok(key), Ok(go)) = (std::env::var(CHILD_DB), std::env::var(CHILD_KEY), std::env::var(CHILD_GO))
    else {
        return;
    };
    while !Path::new(&go).exists() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let db = Database::open(Path::new(&path), DatabaseKey::from_hex(&key).unwrap()).expect("open");
    assert_eq!(migrations::current_version(&db.conn().unwrap()).unwrap(), migrations::latest_version());
}

#[test]
fn processes_opening_an_old_database_at_once_migrate_it_once_and_all_succeed() {
    let (dir, path, key) = old_database(1);
    let go = dir.path().join("go");
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "child_process_opens_the_database", "--test-threads=1", "--nocapture"])
                .env(CHILD_DB, &path)
                .env(CHILD_KEY, &key)
                .env(CHILD_GO, &go)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Release them together, once all have started.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(&go, b"go").unwrap();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "a process failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("1 passed"), "the child ran no test: {stdout}");
    }
    assert_fully_migrated(&path, &key);
}

#[test]
fn a_database_newer_than_this_build_is_refused_in_words_even_under_an_open_pool() {
    let (_dir, path, key) = old_database(migrations::latest_version());
    let db = Database::open(&path, DatabaseKey::from_hex(&key).unwrap()).unwrap();
    drop(db.conn().unwrap()); // a pooled connection exists and goes back to the pool
    keyed(&path, &key).pragma_update(None, "user_version", migrations::latest_version() + 1).unwrap();
    for err in [db.conn().expect_err("pooled"), db.dedicated().expect_err("dedicated")] {
        assert_eq!(err.code(), "unavailable");
        assert!(err.to_string().contains("written by a newer version of ClinicDesk"), "{err}");
    }
}
