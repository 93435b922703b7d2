//! A doctor's save of a consultation's notes: the rule once, for a one-desk clinic (notes.rs, over
//! SQLite) and the clinic server (`clinicdesk-server`'s consultation_notes.rs, over PostgreSQL),
//! each implementing [`NotesStore`] inside the save's own transaction.
//!
//! Rules:
//! - Only the appointment's own doctor, only a video appointment, at most [`MAX_NOTES_CHARS`]
//!   characters; the whole text as typed each time. A save that changes nothing writes nothing.
//! - Until the end the notes are simply replaced. After the end the history is kept: the notes as
//!   they stood at the end are version 0 (kept by the end, or here for a consultation whose end kept
//!   none), and each sitting of changes after it a new version with who and when. A sitting is the
//!   same doctor's saves less than [`SITTING_MINUTES`] apart (the notes save on every pause in
//!   typing). An older version is never changed.
//! - The trail: each amendment once ("notes amended after the end (version N)"), a save that set
//!   aside another computer's text (the clinic server only) every time, and otherwise one "notes
//!   saved" per doctor and consultation per [`NOTED_EVERY_MINUTES`].

use super::access::{in_person, only_their_doctor};
use crate::error::CoreError;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// About 30 pages of text: far beyond one consultation's notes, small enough to save on every
/// keystroke pause.
pub const MAX_NOTES_CHARS: usize = 100_000;

/// How a refusal to someone other than the appointment's doctor ends: "only they can {action}
/// its video consultation" (access.rs).
pub const NOTES_ACTION: &str = "write notes for";

/// An amendment is one sitting: saves by the same doctor this close to the last one continue it.
pub const SITTING_MINUTES: i64 = 10;

/// At most one "notes saved" trail entry per doctor and consultation in this many minutes.
pub const NOTED_EVERY_MINUTES: i64 = 10;

/// Notes longer than [`MAX_NOTES_CHARS`] are refused, on a desk and on the clinic server alike.
pub fn check_notes(text: &str) -> Result<(), CoreError> {
    if text.chars().count() > MAX_NOTES_CHARS {
        return Err(CoreError::invalid(
            "notes",
            format!("The notes are longer than {MAX_NOTES_CHARS} characters; shorten them to save."),
        ));
    }
    Ok(())
}

/// What the store holds about the appointment when a save arrives.
#[derive(Debug, Clone)]
pub struct NotesOnFile {
    pub patient: Uuid,
    /// The doctor's user id and name (for the refusal to anyone else).
    pub doctor_user: Uuid,
    pub doctor_name: String,
    pub video: bool,
    /// The notes as they stand ("" when none were written).
    pub text: String,
    /// When the consultation ended and who ended it; `None` while it has not.
    pub ended: Option<(DateTime<Utc>, Option<Uuid>)>,
}

/// One version of the notes' history after the end.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeptVersion {
    pub version: i64,
    pub text: String,
    pub saved_at: DateTime<Utc>,
    pub saved_by: Option<Uuid>,
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotesSaved {
    /// The text was already the notes: nothing written.
    Unchanged,
    /// Saved. `amended`: the history's version this save started (a new sitting after the end).
    Saved { amended: Option<i64> },
}

/// Where notes are kept, inside the save's transaction. The store serialises saves of one
/// consultation's notes itself (a row lock or an advisory lock), before [`NotesStore::on_file`].
#[allow(async_fn_in_trait)] // used with concrete stores only
pub trait NotesStore {
    /// The store's own error; every rule's refusal converts into it.
    type Error: From<CoreError>;
    /// The appointment as a save needs it (not found: the store's refusal in words).
    async fn on_file(&mut self, appointment: Uuid) -> Result<NotesOnFile, Self::Error>;
    /// The newest version of the history, if any is kept.
    async fn latest_version(&mut self, appointment: Uuid) -> Result<Option<KeptVersion>, Self::Error>;
    /// Keeps `version`: a new one, or the current sitting's brought up to date.
    async fn keep_version(&mut self, appointment: Uuid, version: &KeptVersion) -> Result<(), Self::Error>;
    /// Makes `text` the notes. Returns the version of another computer's text it set aside, when
    /// the save was made on an older copy (the clinic server; a one-desk clinic never does).
    async fn write(&mut self, appointment: Uuid, text: &str, now: DateTime<Utc>) -> Result<Option<i64>, Self::Error>;
    /// Whether `by` has a notes entry in the trail for the appointment at or after `since`.
    async fn noted_since(&mut self, appointment: Uuid, by: Uuid, since: DateTime<Utc>) -> Result<bool, Self::Error>;
    /// Appends the trail entry (action `consultation.note`, record the appointment) with `detail`.
    async fn trail(&mut self, appointment: Uuid, patient: Uuid, detail: &str) -> Result<(), Self::Error>;
}

/// Saves `text` as the notes of `appointment`'s consultation for the doctor `by`, typed at `now`
/// (a desk's save sent later carries when it was typed: sittings follow the doctor's typing).
pub async fn save<S: NotesStore>(
    store: &mut S,
    by: Uuid,
    appointment: Uuid,
    text: &str,
    now: DateTime<Utc>,
) -> Result<NotesSaved, S::Error> {
    let on_file = store.on_file(appointment).await?;
    if on_file.doctor_user != by {
        return Err(CoreError::Forbidden(only_their_doctor(&on_file.doctor_name, NOTES_ACTION)).into());
    }
    if !on_file.video {
        return Err(in_person().into());
    }
    check_notes(text)?;
    if on_file.text == text {
        return Ok(NotesSaved::Unchanged);
    }
    let amended = match on_file.ended {
        Some(ended) => amend(store, by, appointment, &on_file.text, ended, text, now).await?,
        None => None,
    };
    let set_aside = store.write(appointment, text, now).await?;
    let patient = on_file.patient;
    if let Some(version) = amended {
        store
            .trail(appointment, patient, &format!("patient {patient}; notes amended after the end (version {version})"))
            .await?;
    }
    if let Some(version) = set_aside {
        let detail = format!(
            "patient {patient}; notes saved on a copy older than the clinic server's; the text it replaced was set aside (version {version})"
        );
        store.trail(appointment, patient, &detail).await?;
    } else if !store.noted_since(appointment, by, now - Duration::minutes(NOTED_EVERY_MINUTES)).await? {
        store.trail(appointment, patient, &format!("patient {patient}; notes saved")).await?;
    }
    Ok(NotesSaved::Saved { amended })
}

/// Keeps the history for a save after the end; the new version's number when it starts one.
async fn amend<S: NotesStore>(
    store: &mut S,
    by: Uuid,
    appointment: Uuid,
    at_end: &str,
    (ended_at, ended_by): (DateTime<Utc>, Option<Uuid>),
    text: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, S::Error> {
    let latest = match store.latest_version(appointment).await? {
        Some(latest) => latest,
        None => {
            // Ended before the history was kept (or on a server that kept none at the end): the
            // notes as they stand are still the ones at the end, since every later save amends.
            let first = KeptVersion { version: 0, text: at_end.to_string(), saved_at: ended_at, saved_by: ended_by };
            store.keep_version(appointment, &first).await?;
            first
        }
    };
    // A save's time never goes before the history's newest (a desk's clock behind, a save typed
    // offline before an end made elsewhere): the versions stay in time order, after the end.
    let now = now.max(latest.saved_at);
    let same_sitting = latest.version > 0
        && latest.saved_by == Some(by)
        && latest.saved_at >= now - Duration::minutes(SITTING_MINUTES);
    if same_sitting {
        let continued = KeptVersion { text: text.to_string(), saved_at: now, ..latest };
        store.keep_version(appointment, &continued).await?;
        Ok(None)
    } else {
        let version = latest.version + 1;
        store
            .keep_version(
                appointment,
                &KeptVersion { version, text: text.to_string(), saved_at: now, saved_by: Some(by) },
            )
            .await?;
        Ok(Some(version))
    }
}
