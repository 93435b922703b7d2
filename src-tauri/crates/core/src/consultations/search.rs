//! Full-text search over past consultations' notes and chat (issue 11), from the clinic database
//! alone: no network. The index (migration 0012) is kept in step by triggers with every write.
//!
//! Invariants:
//! - Who (`Permission::ReadConsultationRecords`): a doctor searches their own consultations; an
//!   administrator all; reception none (the notes and the chat are clinical; refusals audited).
//!   Every search is audited with the patients it showed.
//! - What staff type is never FTS5 syntax: it is cut into words (letters and digits), each quoted,
//!   the last one a prefix, all required. Quotes, `AND`, `NEAR`, `*`, `:` or brackets typed by
//!   staff are plain text and never break the query.

use crate::audit;
use crate::auth::{Caller, Permission, Role};
use crate::db::uuid_at;
use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use ts_rs::TS;
use uuid::Uuid;

use super::Consultations;

/// The most words one search looks for (the rest of what was typed is left out).
pub const MAX_WORDS: usize = 16;

/// The most hits one search returns (the newest consultations first).
pub const MAX_HITS: u32 = 50;

/// Marks around matched words in FTS5's snippet: control characters no text contains.
const OPEN: char = '\u{2}';
const CLOSE: char = '\u{3}';

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum HitSource {
    Notes,
    Chat,
}

/// A piece of a hit's context: matched words are `matched`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SnippetPart {
    pub text: String,
    pub matched: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SearchHit {
    pub appointment_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub patient_name: String,
    pub doctor_name: String,
    pub source: HitSource,
    /// The chat message's index (to open the record scrolled to it); none for the notes.
    #[ts(type = "number | null")]
    pub message_index: Option<i64>,
    pub snippet: Vec<SnippetPart>,
}

/// The FTS5 query for what staff typed, or `None` when it holds no word.
pub fn query_of(typed: &str) -> Option<String> {
    query(typed, true)
}

/// [`query_of`] with every word whole, the last one too.
pub fn whole_words_of(typed: &str) -> Option<String> {
    query(typed, false)
}

fn query(typed: &str, last_as_start: bool) -> Option<String> {
    // At most MAX_WORDS words of at most 64 letters: a search, not a document.
    let words: Vec<String> = typed
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(|w| w.chars().take(64).collect())
        .collect();
    let last = words.len().checked_sub(1)?;
    let typing_on = last_as_start && !typed.ends_with(|c: char| c.is_whitespace());
    Some(
        words
            .iter()
            .enumerate()
            // A one-letter word start would match most of the index: it waits for a second letter.
            .map(|(i, w)| {
                if i == last && typing_on && w.chars().count() >= 2 {
                    format!("\"{w}\"*")
                } else {
                    format!("\"{w}\"")
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// FTS5's snippet, with [`OPEN`]/[`CLOSE`] marks, as parts.
fn parts(snippet: &str) -> Vec<SnippetPart> {
    let mut out = Vec::new();
    let mut matched = false;
    let mut text = String::new();
    for c in snippet.chars() {
        if c == OPEN || c == CLOSE {
            if !text.is_empty() {
                out.push(SnippetPart { text: std::mem::take(&mut text), matched });
            }
            matched = c == OPEN;
        } else {
            text.push(c);
        }
    }
    if !text.is_empty() {
        out.push(SnippetPart { text, matched });
    }
    out
}

impl Consultations<'_> {
    /// Past consultations whose notes or chat contain every word typed (the last as a word start),
    /// the most recently written first, at most [`MAX_HITS`].
    ///
    /// Ordered by the index's own key (given as each text is first kept: chat at the end of its
    /// consultation, notes when first written), which FTS5 walks backwards and stops after the
    /// page: a word in a million messages costs what a rare one does. Sorting by appointment
    /// time instead would read every match first.
    ///
    /// The last word is first looked for whole: when that fills a page, the page is those (the
    /// newest texts with the word itself). Only a fuller search needs it as a word start, which
    /// costs more (FTS5 merges every matching word's list before its first hit, BENCHMARKS.md),
    /// and then finds the whole-word matches too, in the same order.
    pub fn search(&self, caller: &Caller, typed: &str) -> Result<Vec<SearchHit>> {
        caller.require(Permission::ReadConsultationRecords)?;
        let doctor = (caller.role() == Role::Doctor).then(|| caller.user_id().to_string());
        let query = query_of(typed).ok_or_else(|| CoreError::invalid("text", "Type a word to search for."))?;
        let whole = whole_words_of(typed).expect("a query has words");
        let conn = self.clinic.db().conn()?;
        let mut found = find(&conn, &whole, doctor.as_deref())?;
        if found.len() < MAX_HITS as usize && whole != query {
            found = find(&conn, &query, doctor.as_deref())?;
        }
        audit::record_screen_read(
            &conn,
            self.clinic.now(),
            caller,
            "consultation search",
            found.iter().map(|(patient, _)| *patient),
        )?;
        Ok(found.into_iter().map(|(_, hit)| hit).collect())
    }
}

/// The first page of texts matching the FTS5 `query`, with each hit's patient (for the audit).
fn find(conn: &rusqlite::Connection, query: &str, doctor: Option<&str>) -> Result<Vec<(Uuid, SearchHit)>> {
    let mut statement = conn.prepare_cached(
        "SELECT k.appointment_id, a.starts_at, p.id, p.full_name, u.full_name, k.message_index,
                    snippet(consultation_text_fts, 0, char(2), char(3), '…', 16)
             FROM consultation_text_fts f
             JOIN consultation_text_keys k ON k.key = f.rowid
             JOIN appointments a ON a.id = k.appointment_id
             JOIN patients p ON p.id = a.patient_id
             JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
             WHERE consultation_text_fts MATCH ?1 AND (?2 IS NULL OR d.user_id = ?2)
             ORDER BY f.rowid DESC
             LIMIT ?3",
    )?;
    let rows = statement.query_map(rusqlite::params![query, doctor, MAX_HITS], |r| {
        let index: i64 = r.get(5)?;
        Ok((
            uuid_at(r, 2)?,
            SearchHit {
                appointment_id: uuid_at(r, 0)?,
                starts_at: r.get(1)?,
                patient_name: r.get(3)?,
                doctor_name: r.get(4)?,
                source: if index < 0 { HitSource::Notes } else { HitSource::Chat },
                message_index: (index >= 0).then_some(index),
                snippet: parts(&r.get::<_, String>(6)?),
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_staff_type_becomes_quoted_words_the_last_a_prefix() {
        assert_eq!(query_of("rash bet").as_deref(), Some("\"rash\" \"bet\"*"));
        assert_eq!(query_of("rash better ").as_deref(), Some("\"rash\" \"better\""));
        assert_eq!(query_of("\"rash\" AND (NEAR x:y*)").as_deref(), Some("\"rash\" \"AND\" \"NEAR\" \"x\" \"y\""));
        assert_eq!(query_of("Ärztin café").as_deref(), Some("\"Ärztin\" \"café\"*"));
        assert_eq!(query_of("  \"*()  "), None);
        assert_eq!(query_of(""), None);
        let long = "word ".repeat(100);
        assert_eq!(query_of(&long).unwrap().matches("\"word\"").count(), MAX_WORDS);
        assert_eq!(query_of("x-r").as_deref(), Some("\"x\" \"r\""), "one letter is not a word start");
        assert_eq!(whole_words_of("rash bet").as_deref(), Some("\"rash\" \"bet\""));
    }

    #[test]
    fn a_snippet_comes_back_in_plain_and_matched_parts() {
        let raw = format!("…the {OPEN}rash{CLOSE} is {OPEN}better{CLOSE}");
        let got = parts(&raw);
        assert_eq!(
            got,
            vec![
                SnippetPart { text: "…the ".into(), matched: false },
                SnippetPart { text: "rash".into(), matched: true },
                SnippetPart { text: " is ".into(), matched: false },
                SnippetPart { text: "better".into(), matched: true },
            ]
        );
    }
}
