//! The clinic database: one SQLCipher-encrypted SQLite file, reached through a small connection pool.
//!
//! Invariants:
//! - every connection sets the key before anything else touches the file, then enables foreign keys
//!   and a busy timeout (these are per-connection in SQLite);
//! - a database written by a newer ClinicDesk is refused, never downgraded;
//! - nothing here ever deletes or recreates a database file.

pub mod migrations;

use crate::error::{CoreError, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub type PooledConnection = r2d2::PooledConnection<SqlCipherConnections>;

/// Each connection's page cache, in KiB. SQLite fills it only with pages actually read and the
/// pool hands out its most recently returned connection first (r2d2 keeps idle connections as a
/// stack), so the desk's one busy connection holds the working set (a day's appointments, their
/// patients, the indexes' upper levels) while the others stay small. Measured on a clinic of
/// 500,000 appointments (BENCHMARKS.md, "Clinic scale"): SQLCipher's default 2 MiB made every
/// day view re-read and decrypt its pages.
pub const PAGE_CACHE_KIB: u32 = 32 * 1024;

/// WAL pages (4 KiB) after which a commit checkpoints by itself: 32 MiB, ten times SQLite's default.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 8192;

/// Prepared statements kept per connection: every screen's and the outbox's queries, so none is
/// parsed and planned again while the app runs.
const STATEMENT_CACHE: usize = 64;

/// How long opening waits for another process that holds the write lock (an upgrade in progress).
const MIGRATION_WAIT: Duration = Duration::from_secs(120);

/// The 256-bit raw key, as 64 hex characters. Never logged (Debug is redacted).
#[derive(Clone)]
pub struct DatabaseKey(String);

impl DatabaseKey {
    pub fn from_hex(hex_key: &str) -> Result<Self> {
        if hex_key.len() == 64 && hex_key.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(DatabaseKey(hex_key.to_ascii_lowercase()))
        } else {
            Err(CoreError::Database(
                "The database key in the system keyring is damaged, so the clinic database cannot be opened. Contact support; do not delete the database file.".into(),
            ))
        }
    }
    fn pragma(&self) -> String {
        // Raw-key form: SQLCipher uses the bytes as-is instead of running its key derivation.
        format!("PRAGMA key = \"x'{}'\";", self.0)
    }
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(<redacted>)")
    }
}

/// Opens keyed connections for the pool (r2d2's `ManageConnection`).
#[derive(Debug, Clone)]
pub struct SqlCipherConnections {
    path: PathBuf,
    key: DatabaseKey,
}

impl SqlCipherConnections {
    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.execute_batch(&self.key.pragma())?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL + synchronous=FULL: every commit is on the disk before it returns, so what ClinicDesk
        // said was done (a booking, a text claimed before its send, Twilio's SID recorded before
        // the text counts as sent) survives a power cut or OS crash, not only a killed process.
        // With NORMAL an OS crash could forget a claim whose request reached Twilio, and the
        // text would go out twice. The price is an fsync per commit (see BENCHMARKS.md).
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
        // SQLCipher decrypts and authenticates every page it reads from the file, so a page found
        // in the cache is far cheaper than one read again. See PAGE_CACHE_KIB.
        conn.execute_batch(&format!("PRAGMA cache_size = -{PAGE_CACHE_KIB}; PRAGMA temp_store = MEMORY;"))?;
        // Checkpoints belong to the background (Clinic::housekeeping, every few seconds in the
        // app): SQLite's own, run inside whichever commit crosses the threshold, would stall a
        // click for tens of milliseconds. This threshold is only the safety net for a process
        // without that task (the CLI also checkpoints when it closes the database).
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

impl r2d2::ManageConnection for SqlCipherConnections {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> rusqlite::Result<Connection> {
        self.open()
    }
    fn is_valid(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        conn.execute_batch("SELECT 1;")
    }
    fn has_broken(&self, _conn: &mut Connection) -> bool {
        false
    }
}

#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<SqlCipherConnections>,
    opener: SqlCipherConnections,
    path: PathBuf,
}

impl Database {
    /// Opens (creating if absent) the encrypted database at `path` and brings its schema up to date.
    pub fn open(path: &Path, key: DatabaseKey) -> Result<Database> {
        let manager = SqlCipherConnections { path: path.to_owned(), key };
        // Probe once by hand so a wrong key gives a clear message instead of a pool timeout.
        let mut first = manager.open().map_err(open_failure)?;
        verify_key(&first)?;
        // Another process may be upgrading this database right now: wait for it (migrations take
        // the write lock) rather than fail after the usual five seconds.
        first.busy_timeout(MIGRATION_WAIT)?;
        first.pragma_update(None, "journal_mode", "WAL")?;
        migrations::migrate(&mut first)?;
        drop(first);
        let opener = manager.clone();
        // No r2d2 test query on check-out: `conn()` runs its own check (the schema version), which
        // also proves the connection works.
        let pool = r2d2::Pool::builder()
            .max_size(4)
            .connection_timeout(Duration::from_secs(10))
            .test_on_check_out(false)
            .build(manager)
            .map_err(|err| {
                tracing::error!(error = %err, "could not build the database pool");
                CoreError::Storage
            })?;
        Ok(Database { pool, opener, path: path.to_owned() })
    }

    /// A pooled connection. A newer ClinicDesk (or CLI) may have upgraded the database while this
    /// one runs; its tables may no longer be what this build's SQL expects, so every hand-out
    /// checks `user_version` (one header read) and refuses in words instead of failing oddly.
    pub fn conn(&self) -> Result<PooledConnection> {
        let conn = self.pool.get()?;
        migrations::ensure_not_newer(&conn)?;
        Ok(conn)
    }

    /// A keyed connection of its own, outside the pool, for a long-lived worker (the outbox): kept
    /// for the worker's life so its page cache stays warm (with SQLCipher every page read from
    /// disk is decrypted and authenticated).
    pub fn dedicated(&self) -> Result<Connection> {
        let conn = self.opener.open().map_err(|err| {
            tracing::error!(error = %err, "could not open a worker connection");
            CoreError::Storage
        })?;
        migrations::ensure_not_newer(&conn)?;
        Ok(conn)
    }

    /// Copies committed pages from the WAL into the database file without waiting for anyone
    /// (SQLite's PASSIVE checkpoint), so the WAL stays short and no click pays for it.
    pub fn checkpoint(&self) -> Result<()> {
        let conn = self.conn()?;
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// With a wrong key SQLCipher only notices on the first read: "file is not a database".
fn verify_key(conn: &Connection) -> Result<()> {
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get::<_, i64>(0)) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::NotADatabase => Err(CoreError::Database(
            "The clinic database cannot be unlocked with the key in this computer's keyring. It may belong to another computer or user account. Nothing was changed; contact support.".into(),
        )),
        Err(err) => Err(open_failure(err)),
    }
}

fn open_failure(err: rusqlite::Error) -> CoreError {
    tracing::error!(error = %err, "could not open the clinic database");
    CoreError::Database("The clinic database could not be opened. Check that the data folder exists and is writable; details are in the log.".into())
}

/// The one text form instants are stored in: RFC 3339, UTC, milliseconds ("2026-11-22T09:30:00.000Z").
/// Fixed width, so text order is time order and range queries can compare strings. Milliseconds
/// because the outbox schedules retries and polls less than a second apart.
pub fn ts(instant: chrono::DateTime<chrono::Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Ids are stored as UUID text (readable in a support session), so they are parsed here.
pub fn uuid_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<uuid::Uuid> {
    let text: String = row.get(index)?;
    uuid::Uuid::parse_str(&text)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(err)))
}

/// Runs a future that never waits (a SQLite store's, behind a store trait) to its answer, on the
/// calling thread. Invariant: the rules await nothing but store calls, and the SQLite stores
/// (`SqlitePatients`, `SqliteAppointments`, `SqliteReplies`…) await nothing, so the first poll finishes; a rule that
/// awaited anything else (a timer, the network) would panic here.
pub(crate) fn at_once<T>(work: impl std::future::Future<Output = T>) -> T {
    use futures_util::FutureExt;
    work.now_or_never().expect("a SQLite store answers without waiting")
}
