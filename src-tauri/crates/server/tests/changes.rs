//! The sync feed: desks read changes by cursor and never skip one, whatever order transactions
//! commit in; clinical content reaches only the desks allowed to read it.

mod support;

use clinicdesk_server::changes::{self, Audience, Cursor};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;

async fn pull_all(c: &support::TestClinic, cursor: &mut Cursor, audience: &Audience) -> Vec<changes::Change> {
    let client = c.pool.get().await.unwrap();
    let mut all = Vec::new();
    loop {
        let page = changes::pull(&**client, *cursor, audience, 50).await.unwrap();
        let Some(last) = page.last() else { return all };
        *cursor = last.cursor.parse().unwrap();
        all.extend(page);
    }
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_not_jumped_over() {
    let c = support::clinic().await;
    let mut cursor = Cursor::default();
    pull_all(&c, &mut cursor, &Audience::Everything).await; // the clinic's setup rows
                                                            // A starts first (its transaction id is lower) and writes, but commits last.
    let mut slow = c.pool.get().await.unwrap();
    let slow_tx = slow.transaction().await.unwrap();
    let early = Uuid::new_v4();
    changes::record(&*slow_tx, "patient", early, "all", None).await.unwrap();
    // B starts later and commits at once.
    let late = Uuid::new_v4();
    let quick = c.pool.get().await.unwrap();
    changes::record(&**quick, "patient", late, "all", None).await.unwrap();
    // A desk pulling now must not receive B yet: its cursor would pass A's change for good.
    let now = pull_all(&c, &mut cursor, &Audience::Everything).await;
    assert!(now.is_empty(), "nothing is handed out while an older transaction is still open: {now:?}");
    slow_tx.commit().await.unwrap();
    let then: Vec<Uuid> =
        pull_all(&c, &mut cursor, &Audience::Everything).await.iter().map(|ch| ch.entity_id).collect();
    assert_eq!(then, vec![early, late], "both, in transaction order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_desk_pulling_while_others_write_gets_every_change_exactly_once() {
    let c = support::clinic().await;
    let mut cursor = Cursor::default();
    pull_all(&c, &mut cursor, &Audience::Everything).await;
    let writing = Arc::new(AtomicBool::new(true));
    // Eight writers whose transactions overlap and commit in every order (random pauses inside).
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let pool = c.pool.clone();
            tokio::spawn(async move {
                let mut written = Vec::new();
                for i in 0..25u64 {
                    let mut client = pool.get().await.unwrap();
                    let tx = client.transaction().await.unwrap();
                    let id = Uuid::new_v4();
                    changes::record(&*tx, "patient", id, "all", None).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis((w * 7 + i * 13) % 11)).await;
                    if (w + i) % 9 == 0 {
                        drop(tx); // rolled back: must never reach a desk
                    } else {
                        tx.commit().await.unwrap();
                        written.push(id);
                    }
                }
                written
            })
        })
        .collect();
    let puller = {
        let writing = writing.clone();
        let pool = c.pool.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let done = !writing.load(Ordering::SeqCst);
                let client = pool.get().await.unwrap();
                let page = changes::pull(&**client, cursor, &Audience::Everything, 7).await.unwrap();
                if let Some(last) = page.last() {
                    cursor = last.cursor.parse().unwrap();
                }
                let empty = page.is_empty();
                seen.extend(page.into_iter().map(|ch| ch.entity_id));
                if done && empty {
                    return seen;
                }
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
        })
    };
    let mut committed = HashSet::new();
    for writer in writers {
        committed.extend(writer.await.unwrap());
    }
    writing.store(false, Ordering::SeqCst);
    let seen = puller.await.unwrap();
    let unique: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no change delivered twice");
    assert_eq!(unique, committed, "every committed change delivered, no rolled-back one");
    assert!(committed.len() > 150, "the scenario wrote what it meant to ({})", committed.len());
}

#[tokio::test]
async fn clinical_content_reaches_only_its_doctor_and_admins() {
    let c = support::clinic().await;
    let (mine, theirs) = (c.doctors[0], c.doctors[1]);
    let client = c.pool.get().await.unwrap();
    let mut start = Cursor::default();
    pull_all(&c, &mut start, &Audience::Everything).await;
    let (note_mine, note_theirs, schedule) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    changes::record(&**client, "consultation_note", note_mine, &format!("doctor:{mine}"), None).await.unwrap();
    changes::record(&**client, "consultation_note", note_theirs, &format!("doctor:{theirs}"), None).await.unwrap();
    changes::record(&**client, "appointment", schedule, "all", None).await.unwrap();
    let ids = |v: Vec<changes::Change>| v.into_iter().map(|ch| ch.entity_id).collect::<Vec<_>>();
    assert_eq!(ids(pull_all(&c, &mut start.clone(), &Audience::Doctor(mine)).await), vec![note_mine, schedule]);
    assert_eq!(ids(pull_all(&c, &mut start.clone(), &Audience::ScheduleOnly).await), vec![schedule]);
    assert_eq!(
        ids(pull_all(&c, &mut start.clone(), &Audience::Everything).await),
        vec![note_mine, note_theirs, schedule]
    );
}

#[test]
fn a_cursor_reads_back_what_it_wrote_and_refuses_junk() {
    let cursor = Cursor { txid: 7_000_000_123, seq: 42 };
    assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
    for junk in ["", "12", "a.b", "1.2.3", "-1.5", "99999999999999999999999.1"] {
        assert!(junk.parse::<Cursor>().is_err(), "{junk}");
    }
}

/// Uses up transaction ids until the next one is `target` or beyond.
fn burn_xids_to(c: &support::TestClinic, target: u64) {
    let now: u64 = c.pg.psql("clinic", "SELECT pg_current_xact_id()::text").parse().unwrap();
    if now + 1 < target {
        c.pg.psql(
            "clinic",
            &format!(
                "DO $$ BEGIN FOR i IN 1..{} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$",
                target - now - 1
            ),
        );
    }
}

#[tokio::test]
async fn transaction_ids_are_ordered_as_numbers_not_as_text() {
    let c = support::clinic().await;
    let mut cursor = Cursor::default();
    pull_all(&c, &mut cursor, &Audience::Everything).await;
    // One change just below a power of ten, one just above: as text "1003" sorts before "998".
    let now: u64 = c.pg.psql("clinic", "SELECT pg_current_xact_id()::text").parse().unwrap();
    let boundary = 10u64.pow(now.to_string().len() as u32);
    burn_xids_to(&c, boundary - 3);
    let client = c.pool.get().await.unwrap();
    let (below, above) = (Uuid::new_v4(), Uuid::new_v4());
    changes::record(&**client, "patient", below, "all", None).await.unwrap();
    burn_xids_to(&c, boundary + 3);
    changes::record(&**client, "patient", above, "all", None).await.unwrap();
    let seen: Vec<Uuid> =
        pull_all(&c, &mut cursor, &Audience::Everything).await.iter().map(|ch| ch.entity_id).collect();
    assert_eq!(seen, vec![below, above]);
    assert!(pull_all(&c, &mut cursor, &Audience::Everything).await.is_empty(), "and nothing comes twice");
}
