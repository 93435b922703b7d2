//! `clinicdesk server migrate-from DATA_DIR`: a one-desk clinic moved onto a clinic server.
//! The clinic is read out whole by its administrator and sent in parts small enough for the
//! server's request limit; each part is idempotent on the server, so an interrupted move is
//! simply run again.

use crate::args::{ServerAddress, ServerCommand};
use crate::commands::{secret_from_env, PASSWORD_ENV};
use crate::output::show;
use clinicdesk_core::auth::Channel;
use clinicdesk_core::error::SessionEnd;
use clinicdesk_core::sync::wire::{MigratedNotes, MigrationBatch};
use clinicdesk_core::sync::{check_certificate, check_server_url, ServerLink};
use clinicdesk_core::{Clinic, CoreError, Result};

/// Rows per part: well under the server's 256 KB request limit.
const PART: usize = 300;
/// Consultation notes per part: up to 100,000 characters each, so a part stays well under the
/// server's 16 MB limit for a move's parts.
const NOTES_PART: usize = 20;

/// Bytes of notes' text per part (with their history): well under the server's 16 MB limit for a
/// move's parts, even with JSON's escapes.
const NOTES_PART_BYTES: usize = 2_000_000;

/// The notes in parts of at most [`NOTES_PART`] consultations and [`NOTES_PART_BYTES`] of text
/// (one consultation's notes and history alone may be more: then it is a part of its own).
fn notes_parts(notes: &[MigratedNotes]) -> Vec<Vec<MigratedNotes>> {
    let size = |n: &MigratedNotes| n.notes.len() + n.versions.iter().map(|v| v.text.len()).sum::<usize>();
    let (mut parts, mut part, mut used) = (Vec::new(), Vec::new(), 0);
    for n in notes {
        if !part.is_empty() && (part.len() == NOTES_PART || used + size(n) > NOTES_PART_BYTES) {
            parts.push(std::mem::take(&mut part));
            used = 0;
        }
        used += size(n);
        part.push(n.clone());
    }
    if !part.is_empty() {
        parts.push(part);
    }
    parts
}

/// Runs network work from the (synchronous) CLI.
pub fn block_on<T>(work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        tracing::error!(error = %e, "could not start the network runtime");
        CoreError::Storage
    })?;
    runtime.block_on(work)
}

fn read_certificate(path: Option<&std::path::Path>) -> Result<Option<String>> {
    path.map(|path| {
        std::fs::read_to_string(path)
            .map_err(|e| CoreError::invalid("certificate", format!("{} cannot be read: {e}", path.display())))
    })
    .transpose()
}

/// `server join`: this data folder becomes a desk (no sign-in: nobody has an account here yet).
pub fn join(clinic: &Clinic, json: bool, to: &ServerAddress) -> Result<()> {
    let pem = read_certificate(to.certificate.as_deref())?;
    let identity = block_on(clinic.desk_sync().join_checked(&to.server, &to.credential, pem.as_deref()))?;
    show(json, &serde_json::json!({ "desk": identity.desk, "clinic": identity.clinic }), |_| {
        format!(
            "This data folder is now the desk \"{}\" of {}. Sign in with your clinic server account (--as EMAIL).",
            identity.desk, identity.clinic
        )
    });
    Ok(())
}

/// `server status` on a desk.
pub fn status(clinic: &Clinic, caller: &clinicdesk_core::auth::Caller, json: bool) -> Result<()> {
    let sync = clinic.desk_sync();
    let url = sync.server_url()?.ok_or_else(|| {
        CoreError::NotFound("This data folder is a one-desk clinic, not a desk of a clinic server.".into())
    })?;
    let waiting = sync.waiting(caller)?;
    let refused = sync.needs_attention(caller)?;
    let value = serde_json::json!({ "server_url": url.as_str(), "waiting": waiting, "needs_attention": refused });
    show(json, &value, |_| {
        let mut lines = vec![format!("A desk of the clinic server at {url}.")];
        lines.push(match waiting.len() {
            0 => "No change is waiting for the server.".to_string(),
            n => format!(
                "{n} change(s) waiting for the server: {}",
                waiting.iter().map(|w| w.summary.as_str()).collect::<Vec<_>>().join("; ")
            ),
        });
        for r in &refused {
            lines.push(format!("Refused: {} — {}", r.summary, r.refusal.as_deref().unwrap_or("")));
        }
        lines.join("\n")
    });
    Ok(())
}

pub fn server(as_user: Option<&str>, json: bool, command: ServerCommand) -> Result<()> {
    let ServerCommand::MigrateFrom { data_dir, to: ServerAddress { server, credential, certificate } } = command else {
        unreachable!("only migrate-from runs without this data folder's clinic")
    };
    let email = as_user.ok_or_else(|| {
        CoreError::invalid(
            "as",
            "Say which administrator moves the clinic with --as EMAIL (password in CLINICDESK_PASSWORD).",
        )
    })?;
    let url = check_server_url(&server)?;
    let pem = read_certificate(certificate.as_deref())?;
    let pem = pem.as_deref().map(check_certificate).transpose()?;
    let credential = credential.rsplit(':').next().unwrap_or(&credential).trim().to_string();
    let password = secret_from_env(PASSWORD_ENV, &format!("Password for {email}: "))?;

    let clinic = Clinic::open(&data_dir)?;
    let signed = clinic.auth().sign_in(email, &password, Channel::Cli)?;
    let to = Destination { credential: &credential, pem, email, password: &password };
    let moved = move_clinic(&clinic, &signed.caller, &url, to);
    let _ = clinic.auth().sign_out(&signed.token, SessionEnd::SignedOut);
    let totals = moved?;
    show(json, &totals, |t| {
        if t["already_finished"] == true {
            return format!("The clinic had already finished moving onto {url}; nothing more was sent. This folder is now kept to read only (its texts are sent by the server).");
        }
        format!(
            "Moved onto {url}: {} patients, {} appointments ({} skipped: already there, or overlapping), {} consultations' notes, {} video consultations ({} chat files), {} texts, {} patients' replies, {} audit entries; staff keep their passwords.\nThis folder is now kept to read only (its texts are sent by the server). Join each desk to the server from ClinicDesk's first screen (a new data folder).",
            t["patients"], t["appointments"], t["appointments_skipped"], t["notes"], t["consultations"], t["files"], t["texts"], t["replies"], t["audit"]
        )
    });
    Ok(())
}

/// Pauses changes in this folder, reads the clinic out, sends it in parts and, once the server
/// has taken the last part, marks this folder as moved. Changes go on again only when the server
/// took nothing of this move: a move that stopped after any part landed (or an earlier run left the
/// folder moving) keeps them paused, since what the server holds would fall behind this folder or
/// text patients beside it; running the move again finishes it.
fn move_clinic(
    clinic: &Clinic,
    caller: &clinicdesk_core::auth::Caller,
    url: &clinicdesk_core::sync::ServerUrl,
    to: Destination<'_>,
) -> Result<serde_json::Value> {
    let sync = clinic.desk_sync();
    let resumed_run = sync.mark_moving(caller, url.as_str())?;
    let mut parts_taken = 0;
    match send_clinic(clinic, caller, url, to, &mut parts_taken) {
        Ok(totals) => match sync.mark_moved(caller, url.as_str()) {
            Ok(()) => Ok(totals),
            Err(err) => {
                eprintln!(
                    "The clinic server has the whole clinic, but this computer could not be marked as moved, so its changes stay paused. Run the move again: it finishes here without sending anything twice."
                );
                Err(err)
            }
        },
        Err(err) if parts_taken == 0 && !resumed_run => match sync.resume_after_unfinished_move(caller) {
            Ok(()) => {
                eprintln!(
                    "The move stopped before the clinic server took any of it. This computer carries on as before (its staff can make changes); run the move again once the problem below is solved."
                );
                Err(err)
            }
            Err(resume) => {
                eprintln!(
                    "The move stopped before the clinic server took any of it, and changes on this computer could not be allowed again ({resume}). They stay paused: run the move again once the problem below is solved."
                );
                Err(err)
            }
        },
        Err(err) => {
            eprintln!(
                "The move stopped after the clinic server took part of the clinic, so changes on this computer stay paused (what the server holds must not fall behind it). Run the move again once the problem below is solved: it carries on, nothing arrives twice."
            );
            Err(err)
        }
    }
}

/// How to reach the clinic server and who signs in there.
struct Destination<'a> {
    credential: &'a str,
    pem: Option<&'a str>,
    email: &'a str,
    password: &'a str,
}

fn send_clinic(
    clinic: &Clinic,
    caller: &clinicdesk_core::auth::Caller,
    url: &clinicdesk_core::sync::ServerUrl,
    to: Destination<'_>,
    parts_taken: &mut usize,
) -> Result<serde_json::Value> {
    let whole = clinic.desk_sync().export_for_server(caller)?;
    block_on(async {
        let link = ServerLink::new(url, to.credential, to.pem.map(str::as_bytes))?;
        let admin = link.sign_in(to.email, to.password).await?;
        link.set_person(&admin);
        let mut totals = serde_json::json!({});
        let last = MigrationBatch { source: whole.source, finished: true, ..Default::default() };
        // The chat files the clinic kept, one a part (each up to 10 MB), read as they go.
        let files = clinic.desk_sync().kept_files_for_server(caller)?;
        let file_parts = files.into_iter().map(|(appointment, sid)| {
            clinic.desk_sync().kept_file_for_server(caller, appointment, &sid).map(|file| MigrationBatch {
                source: whole.source,
                settings: whole.settings.clone(),
                users: whole.users.clone(),
                files: vec![file],
                ..Default::default()
            })
        });
        let parts = parts(&whole).into_iter().map(Ok).chain(file_parts).chain([Ok(last)]);
        for part in parts {
            let part = part?;
            let answer = link.migrate(&part).await?;
            *parts_taken += 1;
            if answer["already_finished"] == true {
                // An earlier run's last part landed but its answer (or the marking of this
                // folder) was lost: nothing more is sent, and this folder is marked moved.
                totals["already_finished"] = true.into();
                break;
            }
            for (key, value) in answer.as_object().into_iter().flatten() {
                let sum = totals[key].as_u64().unwrap_or(0) + value.as_u64().unwrap_or(0);
                totals[key] = sum.into();
            }
        }
        link.sign_out().await;
        Ok::<_, CoreError>(totals)
    })
}

/// The clinic in parts: every part names the source and carries the staff (so ids map the same
/// way in each); rows of one kind at a time, parents before children.
fn parts(whole: &MigrationBatch) -> Vec<MigrationBatch> {
    let base = || MigrationBatch {
        source: whole.source,
        settings: whole.settings.clone(),
        users: whole.users.clone(),
        ..Default::default()
    };
    let mut parts = vec![MigrationBatch { doctors: whole.doctors.clone(), ..base() }];
    parts.extend(whole.patients.chunks(PART).map(|c| MigrationBatch { patients: c.to_vec(), ..base() }));
    parts.extend(whole.appointments.chunks(PART).map(|c| MigrationBatch { appointments: c.to_vec(), ..base() }));
    // After their appointments. Notes can be long (up to 100,000 characters each): a few per part.
    parts.extend(notes_parts(&whole.notes).into_iter().map(|notes| MigrationBatch { notes, ..base() }));
    // A consultation carries its whole chat: a few per part.
    parts
        .extend(whole.consultations.chunks(NOTES_PART).map(|c| MigrationBatch { consultations: c.to_vec(), ..base() }));
    parts.extend(whole.texts.chunks(PART).map(|c| MigrationBatch { texts: c.to_vec(), ..base() }));
    parts.extend(whole.replies.chunks(PART).map(|c| MigrationBatch { replies: c.to_vec(), ..base() }));
    parts.extend(whole.audit.chunks(PART).map(|c| MigrationBatch { audit: c.to_vec(), ..base() }));
    parts
}

/// `server sync`: one round with the server, said in figures.
pub fn sync(clinic: &Clinic, link: &ServerLink, person: uuid::Uuid, json: bool) -> Result<()> {
    if !link.has_session() {
        return Err(clinicdesk_core::sync::link_unreachable());
    }
    let round = block_on(clinic.desk_sync().sync_once(link, person, std::time::Duration::ZERO))?;
    let value =
        serde_json::json!({ "accepted": round.sent.accepted, "refused": round.sent.refused, "applied": round.applied });
    show(json, &value, |_| {
        format!(
            "Sent: {} accepted, {} refused (see `server status`). Received {} change(s) from the clinic server.",
            round.sent.accepted, round.sent.refused, round.applied
        )
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes(bytes: usize, versions: usize) -> MigratedNotes {
        let kept = |version| clinicdesk_core::consultations::notes_rule::KeptVersion {
            version,
            text: "v".repeat(bytes),
            saved_at: chrono::Utc::now(),
            saved_by: None,
        };
        MigratedNotes {
            appointment_id: uuid::Uuid::new_v4(),
            notes: "n".repeat(bytes),
            updated_at: chrono::Utc::now(),
            versions: (0..versions as i64).map(kept).collect(),
        }
    }

    #[test]
    fn notes_go_in_parts_bounded_by_count_and_by_size_with_their_history() {
        let sizes = |parts: Vec<Vec<MigratedNotes>>| parts.iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(sizes(notes_parts(&vec![notes(10, 0); 45])), [20, 20, 5]);
        // 300 kB of notes and two versions of as much each (900 kB): two fit in 2 MB, not three.
        assert_eq!(sizes(notes_parts(&vec![notes(300_000, 2); 7])), [2, 2, 2, 1]);
        // One larger than a part on its own still goes, alone.
        assert_eq!(sizes(notes_parts(&[notes(10, 0), notes(1_000_000, 2), notes(10, 0)])), [1, 1, 1]);
        assert!(notes_parts(&[]).is_empty());
    }
}
