//! Reads of patient data, audited per screen: the day's schedule, a search's results, a record
//! opened. One entry per screen read, naming the screen and carrying the patients it showed
//! (`audit_log.patients`, 16-byte ids); "who saw this patient" is answered by `audit_patients`,
//! an index keyed by patient (migration 0006).
//!
//! Why the index is filled after the fact: a patient-keyed index takes each screen's patients at
//! random places, so linking a day of 640 appointments dirties hundreds of pages, each encrypted
//! and written to the WAL (about 50 ms a view at 500,000 appointments, BENCHMARKS.md). The entry
//! itself is one append of a few pages. So the entry is written on the click, and `index_pending`
//! links entries past a high-water mark in the background (the app's background task) and before
//! any question about a patient's trail (`AuditTrail::recent`), so answers are always complete.
//!
//! Invariants: entries are appended in id order by one writer at a time, so everything at or
//! below `audit_index_mark.indexed_through` is linked, and nothing is linked twice.

use super::{insert_entry, record, Actor, AuditAction};
use crate::auth::Caller;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

/// The most entries, and about the most links, one `index_pending` call writes: one transaction's
/// worth, so it holds the write lock for a few milliseconds and a click waiting for it hardly
/// notices. Called again, it goes on from where it stopped.
const INDEX_BATCH: u32 = 500;
const INDEX_BATCH_LINKS: usize = 4096;

/// Appends an entry about one patient's record (created, changed, booked for) and links it to
/// the patient at once. Call inside the transaction that writes.
pub fn record_for_patient(
    conn: &Connection,
    at: DateTime<Utc>,
    caller: &Caller,
    action: AuditAction,
    about: (&str, &str),
    patient: Uuid,
    detail: Option<&str>,
) -> Result<()> {
    record_actor_for_patient(conn, at, Actor::Staff(caller), action, about, patient, detail)
}

/// [`record_for_patient`] for any actor (ClinicDesk itself, for what it does on its own).
pub fn record_actor_for_patient(
    conn: &Connection,
    at: DateTime<Utc>,
    actor: Actor<'_>,
    action: AuditAction,
    about: (&str, &str),
    patient: Uuid,
    detail: Option<&str>,
) -> Result<()> {
    let id = record(conn, at, actor, action, Some(about), detail)?;
    link_patients(conn, id, &[patient])
}

/// One screen showed these patients: one entry naming the screen, with the patients (each once).
///
/// Durability: this commit does not wait for an fsync (`synchronous = NORMAL` for this one
/// transaction; every other commit keeps FULL, see db/mod.rs). In WAL mode the entry still
/// survives the app being killed or crashing (it is in the OS's hands when the commit returns),
/// and it reaches the disk with the next fsync'd commit or checkpoint, so only an OS crash or a
/// power cut within those moments could lose it. The fsync would otherwise be most of the cost of
/// every screen reception opens (3 to 4 ms on this project's machine, BENCHMARKS.md), and a read
/// changes nothing a patient or a text depends on.
pub fn record_screen_read(
    conn: &Connection,
    at: DateTime<Utc>,
    caller: &Caller,
    screen: &str,
    patients: impl IntoIterator<Item = Uuid>,
) -> Result<()> {
    let mut patients: Vec<Uuid> = patients.into_iter().collect();
    patients.sort_unstable();
    patients.dedup();
    let detail = match patients.len() {
        1 => format!("{screen} (1 patient)"),
        n => format!("{screen} ({n} patients)"),
    };
    let packed: Vec<u8> = patients.iter().flat_map(|p| *p.as_bytes()).collect();
    let _relaxed = RelaxedSync::on(conn)?;
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    insert_entry(&tx, at, Actor::Staff(caller), AuditAction::PatientRead, None, Some(&detail), Some(&packed))?;
    tx.commit()?;
    Ok(())
}

/// A screen that refreshes itself (the texts worklist, the inbox): like [`record_screen_read`], but
/// nothing is written when this member of staff's latest screen read, within the last 10 minutes,
/// was this screen with these same patients — the refresh showed them nothing new. A change in
/// who is shown, or a pause, writes a new entry, so "who saw this patient, when" stays true.
pub fn record_polled_screen_read(
    conn: &Connection,
    at: DateTime<Utc>,
    caller: &Caller,
    screen: &str,
    patients: impl IntoIterator<Item = Uuid>,
) -> Result<()> {
    let mut patients: Vec<Uuid> = patients.into_iter().collect();
    patients.sort_unstable();
    patients.dedup();
    let packed: Vec<u8> = patients.iter().flat_map(|p| *p.as_bytes()).collect();
    let since = crate::db::ts(at - chrono::Duration::minutes(10));
    let same: bool = conn
        .prepare_cached(
            "SELECT coalesce((SELECT detail LIKE ?3 || ' (%' AND coalesce(patients, x'') = ?4
                              FROM audit_log INDEXED BY audit_log_at
                              WHERE at >= ?2 AND actor_id = ?1 AND action = 'patient.read' ORDER BY id DESC LIMIT 1), 0)",
        )?
        .query_row(params![caller.user_id.to_string(), since, screen, packed], |r| r.get(0))?;
    if same {
        return Ok(());
    }
    record_screen_read(conn, at, caller, screen, patients)
}

pub(crate) fn link_patients(conn: &Connection, audit_id: i64, patients: &[Uuid]) -> Result<()> {
    let mut insert =
        conn.prepare_cached("INSERT OR IGNORE INTO audit_patients (patient_id, audit_id) VALUES (?1, ?2)")?;
    for patient in patients {
        insert.execute(params![&patient.as_bytes()[..], audit_id])?;
    }
    Ok(())
}

/// Links screen reads not yet in `audit_patients` to their patients, up to INDEX_BATCH entries.
/// Returns how many entries it linked (0 when everything is linked).
pub fn index_pending(conn: &Connection) -> Result<u32> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let mark: i64 = tx.query_row("SELECT indexed_through FROM audit_index_mark WHERE id = 1", [], |r| r.get(0))?;
    let mut pending: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut through = mark;
    {
        let mut stmt = tx.prepare_cached(
            "SELECT id, patients FROM audit_log WHERE id > ?1 AND patients IS NOT NULL ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![mark, INDEX_BATCH], |r| Ok((r.get(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut links = 0;
        for row in rows {
            let row = row?;
            links += row.1.len() / 16;
            pending.push(row);
            if links >= INDEX_BATCH_LINKS {
                break;
            }
        }
    }
    // A full batch may have more behind it: the mark stops at its last entry. Otherwise everything
    // written so far is covered, including entries without patients.
    let links: usize = pending.iter().map(|(_, p)| p.len() / 16).sum();
    let full = pending.len() == INDEX_BATCH as usize || links >= INDEX_BATCH_LINKS;
    if !full {
        through = tx.query_row("SELECT max(id) FROM audit_log", [], |r| r.get::<_, Option<i64>>(0))?.unwrap_or(mark);
    } else if let Some((last, _)) = pending.last() {
        through = *last;
    }
    // Sorted by patient, the inserts walk the index in order: each leaf page is dirtied once.
    let mut links: Vec<(&[u8], i64)> =
        pending.iter().flat_map(|(id, packed)| packed.chunks_exact(16).map(move |p| (p, *id))).collect();
    links.sort_unstable();
    {
        let mut insert =
            tx.prepare_cached("INSERT OR IGNORE INTO audit_patients (patient_id, audit_id) VALUES (?1, ?2)")?;
        for (patient, id) in &links {
            insert.execute(params![patient, id])?;
        }
    }
    if through != mark {
        tx.prepare_cached("UPDATE audit_index_mark SET indexed_through = ?1 WHERE id = 1")?.execute([through])?;
    }
    tx.commit()?;
    Ok(pending.len() as u32)
}

/// The patients a screen-read entry showed (for tests and support).
pub fn patients_of(conn: &Connection, audit_id: i64) -> Result<Vec<Uuid>> {
    let packed: Option<Vec<u8>> =
        conn.query_row("SELECT patients FROM audit_log WHERE id = ?1", [audit_id], |r| r.get(0)).optional()?.flatten();
    Ok(packed.unwrap_or_default().chunks_exact(16).filter_map(|c| Uuid::from_slice(c).ok()).collect())
}

/// `synchronous = NORMAL` on a connection until dropped, then FULL again — also when the
/// transaction fails — so a pooled connection never goes back to the pool relaxed.
struct RelaxedSync<'c>(&'c Connection);

impl<'c> RelaxedSync<'c> {
    fn on(conn: &'c Connection) -> Result<Self> {
        conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        Ok(RelaxedSync(conn))
    }
}

impl Drop for RelaxedSync<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.0.execute_batch("PRAGMA synchronous = FULL") {
            // Never expected (a pragma on an open connection); logged, and the next check-out's
            // commits would merely skip their fsync until the connection is replaced.
            tracing::error!(error = %err, "could not restore synchronous = FULL");
        }
    }
}
