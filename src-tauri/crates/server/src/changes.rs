//! The sync feed desks pull from: one row per changed record, written in the transaction that made
//! the change, read in commit-safe order.
//!
//! Invariant (why desks never skip a change): a pull returns only rows whose transaction id is
//! below the oldest transaction still running (`pg_snapshot_xmin`), ordered by (txid, seq). Every
//! transaction below that horizon has finished, so nothing can later appear behind a cursor: a
//! transaction that started first but commits last holds the horizon back until it is done, instead
//! of landing below a cursor that has already moved past it (the classic sequence-gap bug).

use crate::error::{Result, ServerError};
use clinicdesk_core::appointments::Appointment;
use std::fmt;
use std::str::FromStr;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Where a desk has read up to: the (txid, seq) of the last change it applied. Travels as "txid.seq".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    pub txid: u64,
    pub seq: i64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.txid, self.seq)
    }
}

impl FromStr for Cursor {
    type Err = ServerError;
    fn from_str(text: &str) -> Result<Cursor> {
        let bad = || ServerError::Setup(format!("'{text}' is not a sync cursor."));
        let (txid, seq) = text.split_once('.').ok_or_else(bad)?;
        Ok(Cursor { txid: txid.parse().map_err(|_| bad())?, seq: seq.parse().map_err(|_| bad())? })
    }
}

/// Who is pulling: everyone gets the schedule and the directory; clinical content goes only to
/// the desks of the doctor it belongs to, and to admins.
#[derive(Debug, Clone)]
pub enum Audience {
    Everything,
    Doctor(Uuid),
    ScheduleOnly,
}

pub use clinicdesk_core::sync::wire::Change;

/// Writes a change row in the caller's transaction.
pub async fn record(
    db: &impl GenericClient,
    entity: &str,
    id: Uuid,
    audience: &str,
    row: Option<serde_json::Value>,
) -> Result<()> {
    db.execute(
        "INSERT INTO changes (entity, entity_id, audience, row_data) VALUES ($1, $2, $3, $4)",
        &[&entity, &id, &audience, &row],
    )
    .await?;
    Ok(())
}

/// An appointment as booked or changed: schedule data, for every desk.
pub async fn appointment(db: &impl GenericClient, a: &Appointment) -> Result<()> {
    let row = serde_json::to_value(a).map_err(|e| ServerError::Setup(e.to_string()))?;
    record(db, "appointment", a.id, "all", Some(row)).await
}

/// Up to `limit` changes after `after` that `audience` may receive, oldest first.
pub async fn pull(db: &impl GenericClient, after: Cursor, audience: &Audience, limit: i64) -> Result<Vec<Change>> {
    let (everything, doctor) = match audience {
        Audience::Everything => (true, String::new()),
        Audience::Doctor(id) => (false, format!("doctor:{id}")),
        Audience::ScheduleOnly => (false, String::new()),
    };
    let rows = db
        .query(
            // `c.txid` in ORDER BY: a bare `txid` would name the output column, the id as text,
            // which sorts "10" before "9" and cannot use the index.
            "SELECT c.txid::text AS txid_text, c.seq, c.entity, c.entity_id, c.row_data FROM changes c
             WHERE (c.txid, c.seq) > ($1::text::xid8, $2)
               AND c.txid < pg_snapshot_xmin(pg_current_snapshot())
               AND ($3 OR c.audience = 'all' OR c.audience = $4)
             ORDER BY c.txid, c.seq LIMIT $5",
            &[&after.txid.to_string(), &after.seq, &everything, &doctor, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let txid: String = r.get(0);
            let cursor =
                Cursor { txid: txid.parse().map_err(|_| ServerError::Setup("bad txid".into()))?, seq: r.get(1) };
            Ok(Change { cursor: cursor.to_string(), entity: r.get(2), entity_id: r.get(3), row: r.get(4) })
        })
        .collect()
}

/// Rows removed per statement when the feed is compacted: short transactions, desks keep pulling.
const COMPACT_BATCH: usize = 10_000;

/// Removes the feed rows no desk needs any more, in batches; returns how many went.
///
/// Invariant: of each record's rows, the first and, per audience, the newest stay. The newest is
/// the record as it is now (rows arrive whole, so a desk needs no row in between): the highest
/// version for versioned rows (feed order is the order transactions began, so a newer version
/// can come first), else the last in the feed. The first keeps the record's place in the feed,
/// so a new desk still receives a patient before the appointments booked for them and an
/// appointment before its notes and texts (a desk skips a row whose parent it does not hold).
/// A desk whose cursor is anywhere receives the newest row after it, so nothing is lost to it.
/// Settings share one id: each key is its own record. Only finished transactions are looked at.
/// The rows to remove are found once (one scan), then removed by key in batches.
pub async fn compact(db: &impl GenericClient) -> Result<u64> {
    let redundant = db
        .query(
            "WITH ranked AS (
               SELECT txid, seq,
                      row_number() OVER (PARTITION BY entity, entity_id, record_key ORDER BY txid, seq) AS nth,
                      row_number() OVER (PARTITION BY entity, entity_id, record_key, audience
                                         ORDER BY version DESC NULLS LAST, txid DESC, seq DESC) AS newest
               FROM (SELECT txid, seq, entity, entity_id, audience,
                            CASE WHEN entity = 'setting' THEN row_data->>'key' END AS record_key,
                            CASE WHEN jsonb_typeof(row_data->'version') = 'number' THEN (row_data->>'version')::numeric END AS version
                     FROM changes
                     WHERE txid < pg_snapshot_xmin(pg_current_snapshot())
                       AND (entity, entity_id) IN (SELECT entity, entity_id FROM changes GROUP BY 1, 2 HAVING count(*) > 2)) c)
             SELECT txid::text, seq FROM ranked WHERE nth > 1 AND newest > 1",
            &[],
        )
        .await?;
    let keys: Vec<(String, i64)> = redundant.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut removed = 0;
    for batch in keys.chunks(COMPACT_BATCH) {
        let txids: Vec<&str> = batch.iter().map(|k| k.0.as_str()).collect();
        let seqs: Vec<i64> = batch.iter().map(|k| k.1).collect();
        removed += db
            .execute(
                "DELETE FROM changes c USING unnest($1::text[], $2::bigint[]) AS r(txid, seq)
                 WHERE c.txid = r.txid::xid8 AND c.seq = r.seq",
                &[&txids, &seqs],
            )
            .await?;
    }
    Ok(removed)
}
