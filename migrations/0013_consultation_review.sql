-- 0013: reviewing past consultations (issue 11): the notes' history after the end, what the patient's
-- page reported while waiting, a record still to be fetched from Twilio, and chat removed by the
-- clinic's retention rule.
--
-- * consultation_note_versions: the notes as they stood at the end (version 0) and each amendment
--   after it (1, 2, ...), whole texts, never changed once a later version exists. An amendment is
--   one sitting: saves by the same doctor within ten minutes of the last one update that version
--   (the notes save on every pause in typing). `consultations.notes` is always the newest text.
-- * consultations.record_pending_since: the end could not reach Twilio (network down). The
--   consultation is completed here all the same; who was in the room and the chat are fetched, the
--   room completed and the conversation closed, when the network returns (consultations/late.rs).
-- * patient_waiting_since / patient_device_check: read from the patient's participant attributes in
--   the conversation at the end, so the record shows the waiting room with no network.
-- * chat_removed_at: the chat was removed under `consultations.chat_retention_days` (the record
--   says so rather than showing an empty chat).

CREATE TABLE consultation_note_versions (
    appointment_id  TEXT NOT NULL REFERENCES consultations(appointment_id),
    version         INTEGER NOT NULL CHECK (version >= 0),
    text            TEXT NOT NULL,
    saved_at        TEXT NOT NULL,
    saved_by        TEXT REFERENCES users(id),
    PRIMARY KEY (appointment_id, version)
);

ALTER TABLE consultations ADD COLUMN record_pending_since TEXT;
-- A late fetch Twilio refused (not a network failure): tried again after a growing pause, so one
-- broken record neither holds up the others nor asks Twilio every few seconds.
ALTER TABLE consultations ADD COLUMN record_fetch_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE consultations ADD COLUMN record_fetch_after TEXT;
ALTER TABLE consultations ADD COLUMN patient_waiting_since TEXT;
ALTER TABLE consultations ADD COLUMN patient_device_check TEXT;
ALTER TABLE consultations ADD COLUMN chat_removed_at TEXT;

-- Consultations that ended before this version: their notes at the time are version 0.
INSERT INTO consultation_note_versions (appointment_id, version, text, saved_at, saved_by)
    SELECT appointment_id, 0, notes, coalesce(notes_updated_at, ended_at), ended_by
    FROM consultations WHERE status = 'completed';

CREATE INDEX consultations_record_pending ON consultations(record_pending_since) WHERE record_pending_since IS NOT NULL;
-- The retention sweep finds ended consultations by age, oldest first.
CREATE INDEX consultations_ended ON consultations(ended_at) WHERE ended_at IS NOT NULL;
-- The review list walks consultations by start, newest first (consultations/list.rs).
CREATE INDEX consultations_started ON consultations(started_at, appointment_id) WHERE started_at IS NOT NULL;
