-- 0011: video consultations (video appointments only), who was in the room, and the chat
-- transcript kept at the end, so a finished consultation can be read with no network.
--
-- Starting one talks to Twilio several times (room, conversation, participants). The intent is
-- committed first (`start_requested_at` with the room name), then each SID as Twilio gives it, so a
-- crash or a failure half-way is continued by the next start, never repeated: the room and the
-- conversation are found again by `room_name` (Twilio 53113 / 50353 mean "exists already").

CREATE TABLE consultations (
    appointment_id          TEXT PRIMARY KEY REFERENCES appointments(id),
    -- The appointment's own cancelled / no-show / completed states are read from `appointments`.
    status                  TEXT NOT NULL CHECK (status IN ('scheduled', 'in_progress', 'completed')),
    -- 'cd-' + 32 random hex digits: names both the video room and the conversation at Twilio.
    -- Twilio logs it, so it carries no patient data (no name, no booking reference).
    room_name               TEXT NOT NULL UNIQUE,
    -- Opaque Twilio identities for this consultation's doctor and patient (never names or emails).
    doctor_identity         TEXT NOT NULL,
    patient_identity        TEXT NOT NULL,
    start_requested_at      TEXT,
    room_sid                TEXT,             -- RM... the room in use
    -- Rooms of this consultation Twilio closed before the end (left empty too long, then rejoined
    -- under the same name): space-separated RM... SIDs, so the end keeps their participants too.
    earlier_room_sids       TEXT NOT NULL DEFAULT '',
    conversation_sid        TEXT,             -- CH...
    chat_service_sid        TEXT,             -- IS... the conversation lives in (for chat tokens)
    doctor_participant_sid  TEXT,             -- MB... the doctor in the conversation (read horizon)
    chat_ready_at           TEXT,             -- both participants are in the conversation
    started_at              TEXT,
    started_by              TEXT REFERENCES users(id),
    ended_at                TEXT,
    ended_by                TEXT REFERENCES users(id),
    -- The doctor's notes, saved as typed (the database file is encrypted).
    notes                   TEXT NOT NULL DEFAULT '',
    notes_updated_at        TEXT,
    recording_consent_at    TEXT,             -- when the doctor recorded the patient's agreement
    recording_consent_by    TEXT REFERENCES users(id),
    recording               INTEGER NOT NULL DEFAULT 0 CHECK (recording IN (0, 1)),  -- switched on (Recording Rules)
    doctor_read_index       INTEGER,          -- the last chat message the doctor marked read
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    CHECK (status = 'scheduled' OR (room_sid IS NOT NULL AND conversation_sid IS NOT NULL AND started_at IS NOT NULL)),
    CHECK (status <> 'completed' OR ended_at IS NOT NULL),
    CHECK (recording = 0 OR recording_consent_at IS NOT NULL)
);
CREATE INDEX consultations_status ON consultations(status) WHERE status = 'in_progress';

-- Who was in the room (from Twilio's participant list at the end), one row per connection.
CREATE TABLE consultation_participants (
    appointment_id   TEXT NOT NULL REFERENCES consultations(appointment_id),
    participant_sid  TEXT NOT NULL,                 -- PA...
    identity         TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('doctor', 'patient', 'other')),
    joined_at        TEXT,
    left_at          TEXT,
    seconds          INTEGER,
    PRIMARY KEY (appointment_id, participant_sid)
);

-- The whole chat, stored when the consultation ends (Twilio's index order).
CREATE TABLE chat_messages (
    appointment_id   TEXT NOT NULL REFERENCES consultations(appointment_id),
    message_index    INTEGER NOT NULL,
    message_sid      TEXT,                          -- IM...
    author_identity  TEXT,
    author_role      TEXT NOT NULL CHECK (author_role IN ('doctor', 'patient', 'other')),
    body             TEXT,
    media            TEXT,                          -- JSON: attachment metadata only (sid, type, name, size)
    sent_at          TEXT NOT NULL,
    PRIMARY KEY (appointment_id, message_index)
);
