//! Finding a patient from what reception types: any part of the name or of the phone number,
//! served by indexes (migration 0008) so each keystroke costs the same at 500 or 50,000 patients.
//!
//! Candidates come from three bounded sources, cheapest and best first:
//! 1. names starting with the text: a range of the NOCASE name index, already in A-to-Z order;
//! 2. names with a word starting with the text: `patient_words_fts` (accents and case ignored);
//! 3. any substring of 3+ characters of the name, or of 3+ digits of the phone number:
//!    `patient_search_fts` (trigram).
//!
//! The FTS sources yield rows in key order and stop after a few hundred, so a common text ("son")
//! never sorts thousands of rows; the candidates are ranked here. A source that stopped early, or
//! more ranked matches than fit, sets `more`: the list is the best of what was read, and typing
//! more narrows it.

use super::{row_to_patient, Patient, SELECT};
use crate::error::{CoreError, Result};
use rusqlite::{params, Connection};
use serde::Serialize;
use std::collections::HashSet;
use ts_rs::TS;

/// The longest text a search accepts.
const MAX_TEXT: usize = 120;

/// Phone matching starts at this many digits: fewer match too many numbers to be useful.
const MIN_DIGITS: usize = 3;

/// The trigram index cannot look for fewer characters than this.
const MIN_SUBSTRING: usize = 3;

/// The patients a search shows, best first.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PatientMatches {
    /// Exact matches first, then those that start with the text, then those with a word that
    /// starts with it, then the rest; A to Z (ignoring case) within each group.
    pub patients: Vec<Patient>,
    /// More patients match than are listed: typing more of the name or number narrows the list.
    pub more: bool,
}

/// How well a patient matches, best first (the derived order is the ranking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Exact,
    Prefix,
    WordStart,
    Substring,
}

/// Which source found a candidate, which decides what to do when the ranking here cannot place it.
#[derive(Clone, Copy)]
enum Source {
    NamePrefix,
    /// The word index splits at punctuation ("o'br" also finds "O Brady"), so its candidates are
    /// kept only when the text really is at a word start.
    WordStart,
    /// The trigram index's own case and accent folding is the authority on substrings: a candidate
    /// it found stays, at worst as a substring match.
    Substring,
}

/// Patients matching `text`, at most `limit` of them, best first.
pub(crate) fn find(conn: &Connection, text: &str, limit: u32) -> Result<PatientMatches> {
    let text = text.trim();
    if text.chars().count() > MAX_TEXT {
        return Err(CoreError::invalid("search", "Search with up to 120 characters."));
    }
    let limit = limit.clamp(1, 500) as usize;
    if text.is_empty() {
        return alphabetical(conn, limit);
    }
    let typed = Typed::new(text);
    let mut found = Found { typed: &typed, seen: HashSet::new(), ranked: Vec::new(), more: false };
    // Each FTS source reads at most this many: a screenful after ranking, with room for overlap
    // between sources. Every candidate costs a read of its patient row (a random page to decrypt),
    // which is what a search spends most of its time on.
    let cap = limit * 2;

    found.more |= found.add(name_prefix(conn, text, limit + 1)?, limit + 1, Source::NamePrefix);
    // Word starts and name substrings rank below name prefixes: once those fill the list (and
    // say "more"), reading further sources cannot change what is shown.
    if found.ranked.len() <= limit && text.chars().any(char::is_alphanumeric) {
        let words = format!("name : {} *", fts_phrase(text));
        found.more |= found.add(fts_candidates(conn, "patient_words_fts", &words, cap)?, cap, Source::WordStart);
    }
    let name_substrings = found.ranked.len() <= limit && text.chars().count() >= MIN_SUBSTRING;
    let digits = typed.digits.len() >= MIN_DIGITS;
    if name_substrings || digits {
        let mut query = Vec::new();
        if name_substrings {
            query.push(format!("name : {}", fts_phrase(text)));
        }
        if digits {
            query.push(format!("digits : {}", fts_phrase(&typed.digits)));
        }
        let query = query.join(" OR ");
        found.more |= found.add(fts_candidates(conn, "patient_search_fts", &query, cap)?, cap, Source::Substring);
    }

    let mut ranked = found.ranked;
    ranked.sort_by_cached_key(|(rank, p)| (*rank, p.full_name.to_ascii_lowercase(), p.id));
    let more = found.more || ranked.len() > limit;
    let patients = ranked.into_iter().take(limit).map(|(_, p)| p).collect();
    Ok(PatientMatches { patients, more })
}

/// An empty search: everyone, A to Z, straight from the name index.
fn alphabetical(conn: &Connection, limit: usize) -> Result<PatientMatches> {
    let mut stmt = conn.prepare_cached(&alphabetical_sql())?;
    let mut patients = stmt.query_map([limit as i64 + 1], row_to_patient)?.collect::<Result<Vec<_>, _>>()?;
    let more = patients.len() > limit;
    patients.truncate(limit);
    Ok(PatientMatches { patients, more })
}

/// Names that start with `text` (ASCII case ignored), A to Z: a range scan of `patients_name`.
/// Under NOCASE, a name starts with `text` exactly when it sorts between `text` and `text`
/// followed by the highest character, so no LIKE pattern (and no escaping) is needed.
fn name_prefix(conn: &Connection, text: &str, limit: usize) -> Result<Vec<Patient>> {
    let mut stmt = conn.prepare_cached(&name_prefix_sql())?;
    let upper = format!("{text}{}", char::MAX);
    let rows = stmt.query_map(params![text, upper, limit as i64], row_to_patient)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The first `cap` patients an FTS index finds for `query`, in key order (FTS stops early).
fn fts_candidates(conn: &Connection, table: &str, query: &str, cap: usize) -> Result<Vec<Patient>> {
    let mut stmt = conn.prepare_cached(&fts_sql(table))?;
    let rows = stmt.query_map(params![query, cap as i64], row_to_patient)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn alphabetical_sql() -> String {
    format!("{SELECT} ORDER BY full_name COLLATE NOCASE LIMIT ?1")
}

fn name_prefix_sql() -> String {
    format!(
        "{SELECT} WHERE full_name COLLATE NOCASE >= ?1 AND full_name COLLATE NOCASE < ?2
         ORDER BY full_name COLLATE NOCASE LIMIT ?3"
    )
}

fn fts_sql(table: &str) -> String {
    format!(
        "{SELECT} WHERE id IN (SELECT k.patient_id FROM {table} f JOIN patient_search_keys k ON k.key = f.rowid
                               WHERE {table} MATCH ?1 LIMIT ?2)"
    )
}

/// `text` as one FTS5 phrase: in double quotes, inner quotes doubled. Inside a phrase, FTS5
/// operators and punctuation (`AND`, `NEAR(`, `*`, `-`, `:`, `^`) are plain text, so whatever
/// was typed can neither break the query nor change its meaning.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

struct Found<'a> {
    typed: &'a Typed,
    seen: HashSet<uuid::Uuid>,
    ranked: Vec<(Rank, Patient)>,
    more: bool,
}

impl Found<'_> {
    /// Ranks and keeps new candidates; true when the source returned all it was allowed to, so
    /// more patients may match than it gave.
    fn add(&mut self, candidates: Vec<Patient>, asked: usize, source: Source) -> bool {
        let full = candidates.len() >= asked;
        for p in candidates {
            if self.seen.contains(&p.id) {
                continue;
            }
            let rank = match (self.typed.rank(&p), source) {
                (Some(rank), _) => rank,
                (None, Source::NamePrefix) => Rank::Prefix,
                (None, Source::Substring) => Rank::Substring,
                (None, Source::WordStart) => continue,
            };
            self.seen.insert(p.id);
            self.ranked.push((rank, p));
        }
        full
    }
}

/// What was typed, folded for comparison.
struct Typed {
    name: String,
    /// The digits typed, without the leading zeros of a national trunk prefix ("07700" is
    /// +44 7700 in E.164) or of an international prefix ("0044").
    digits: String,
}

impl Typed {
    fn new(text: &str) -> Typed {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        Typed { name: fold(text), digits: digits.trim_start_matches('0').to_owned() }
    }

    fn rank(&self, p: &Patient) -> Option<Rank> {
        let by_name = rank_name(&fold(&p.full_name), &self.name);
        let by_phone = if self.digits.len() >= MIN_DIGITS { rank_phone(&p.phone, &self.digits) } else { None };
        by_name.into_iter().chain(by_phone).min()
    }
}

fn rank_name(name: &str, typed: &str) -> Option<Rank> {
    if name == typed {
        Some(Rank::Exact)
    } else if name.starts_with(typed) {
        Some(Rank::Prefix)
    } else if word_starts(name).any(|i| name[i..].starts_with(typed)) {
        Some(Rank::WordStart)
    } else if name.contains(typed) {
        Some(Rank::Substring)
    } else {
        None
    }
}

/// Byte offsets where a word starts after the first: after a space, hyphen, apostrophe or dot.
fn word_starts(name: &str) -> impl Iterator<Item = usize> + '_ {
    name.char_indices()
        .zip(name.chars().skip(1))
        .filter(|((_, c), _)| !c.is_alphanumeric())
        .map(|((i, c), _)| i + c.len_utf8())
}

/// Exact: the whole number, with or without its country code. Prefix: the number, or its national
/// part, starts with the digits.
fn rank_phone(e164: &str, digits: &str) -> Option<Rank> {
    let all = e164.trim_start_matches('+');
    let national = national_part(all);
    if all == digits || national == digits {
        Some(Rank::Exact)
    } else if all.starts_with(digits) || national.starts_with(digits) {
        Some(Rank::Prefix)
    } else if all.contains(digits) {
        Some(Rank::Substring)
    } else {
        None
    }
}

/// The digits after the country calling code. Calling codes are prefix-free (no code is the start
/// of another), so the first of 1 to 3 leading digits that is a known code is the one.
fn national_part(all: &str) -> &str {
    (1..=3.min(all.len()))
        .find(|&n| all[..n].parse::<u16>().is_ok_and(|code| phonenumber::metadata::DATABASE.by_code(&code).is_some()))
        .map_or(all, |n| &all[n..])
}

/// Lower case without accents, close to what the FTS indexes do with `remove_diacritics`; used
/// only to rank candidates the indexes found, never to decide who is found.
fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).map(strip_accent).collect()
}

fn strip_accent(c: char) -> char {
    const ACCENTED: [(&str, char); 19] = [
        ("àáâãäåāăą", 'a'),
        ("çćĉċč", 'c'),
        ("ďđ", 'd'),
        ("èéêëēĕėęě", 'e'),
        ("ĝğġģ", 'g'),
        ("ĥħ", 'h'),
        ("ìíîïĩīĭįı", 'i'),
        ("ĵ", 'j'),
        ("ķ", 'k'),
        ("ĺļľŀł", 'l'),
        ("ñńņňŉ", 'n'),
        ("òóôõöøōŏő", 'o'),
        ("ŕŗř", 'r'),
        ("śŝşšș", 's'),
        ("ţťŧț", 't'),
        ("ùúûüũūŭůűų", 'u'),
        ("ŵ", 'w'),
        ("ýÿŷ", 'y'),
        ("źżž", 'z'),
    ];
    if c.is_ascii() {
        return c;
    }
    ACCENTED.iter().find(|(from, _)| from.contains(c)).map_or(c, |&(_, to)| to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_rank_exact_then_prefix_then_word_start_then_substring() {
        assert_eq!(rank_name("smith", "smith"), Some(Rank::Exact));
        assert_eq!(rank_name("smithson", "smith"), Some(Rank::Prefix));
        assert_eq!(rank_name("john smith", "smi"), Some(Rank::WordStart));
        assert_eq!(rank_name("mary-jo o'brien", "brien"), Some(Rank::WordStart));
        assert_eq!(rank_name("goldsmith", "smi"), Some(Rank::Substring));
        assert_eq!(rank_name("jones", "smi"), None);
    }

    #[test]
    fn accents_and_case_fold_away() {
        assert_eq!(fold("José ÁLVAREZ Çelik"), "jose alvarez celik");
    }

    #[test]
    fn phones_rank_on_the_whole_number_or_its_national_part() {
        assert_eq!(rank_phone("+447700900123", "7700900123"), Some(Rank::Exact));
        assert_eq!(rank_phone("+447700900123", "447700900123"), Some(Rank::Exact));
        assert_eq!(rank_phone("+447700900123", "7700"), Some(Rank::Prefix));
        assert_eq!(rank_phone("+12125550123", "212555"), Some(Rank::Prefix));
        assert_eq!(rank_phone("+353851234567", "85123"), Some(Rank::Prefix));
        assert_eq!(rank_phone("+447700900123", "900123"), Some(Rank::Substring));
        assert_eq!(rank_phone("+447700900123", "555"), None);
    }

    /// Every statement a search runs reads an index and sorts nothing: none walks the patients
    /// table, whose rows are decrypted page by page. (An empty search walks the name index in
    /// order and stops at the limit.)
    #[test]
    fn searches_read_indexes_not_the_whole_patients_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrations::migrate(&mut conn).unwrap();
        let plan = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Vec<String> {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map(args, |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect()
        };
        let names = plan(&name_prefix_sql(), &[&"smi", &"smi\u{10FFFF}", &51]);
        assert_eq!(names, ["SEARCH patients USING INDEX patients_name (full_name>? AND full_name<?)"]);
        let everyone = plan(&alphabetical_sql(), &[&51]);
        assert_eq!(everyone, ["SCAN patients USING INDEX patients_name"]);
        for (table, query) in
            [("patient_search_fts", "digits : \"7700900\""), ("patient_words_fts", "name : \"smi\" *")]
        {
            let fts = plan(&fts_sql(table), &[&query, &200]);
            assert!(fts.iter().any(|step| step.starts_with("SCAN f VIRTUAL TABLE INDEX")), "{fts:?}");
            assert!(fts.contains(&"SEARCH k USING INTEGER PRIMARY KEY (rowid=?)".to_owned()), "{fts:?}");
            assert!(
                fts.contains(&"SEARCH patients USING INDEX sqlite_autoindex_patients_1 (id=?)".to_owned()),
                "{fts:?}"
            );
            assert!(!fts.iter().any(|step| step.contains("SCAN patients") || step.contains("TEMP B-TREE")), "{fts:?}");
        }
    }

    #[test]
    fn typed_text_becomes_one_quoted_phrase() {
        assert_eq!(fts_phrase(r#"a "b" NEAR(c*"#), r#""a ""b"" NEAR(c*""#);
    }
}
