-- Changes made on a desk of a clinic server (appointments, patients), kept until the server has answered (issue 12;
-- core/src/sync/pending.rs). A change is saved here and shown at once as "not yet confirmed by
-- the clinic server"; it is sent in `seq` order, by the person who made it, when the server can
-- be reached. Accepted: the row goes and the server's copy replaces the provisional one.
-- Refused: the row stays as 'refused' with the server's sentence ("needs attention") until
-- reception has dealt with it, and the provisional change is undone.
CREATE TABLE desk_pending (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id      TEXT NOT NULL UNIQUE,      -- the command's id: the server applies it once
    entity         TEXT NOT NULL,             -- 'appointment' or 'patient'
    entity_id      TEXT NOT NULL,
    command        TEXT NOT NULL,             -- the DeskCommand as JSON, sent exactly as saved
    summary        TEXT NOT NULL,             -- what reception did, in their words
    made_by        TEXT NOT NULL REFERENCES users(id),
    made_at        TEXT NOT NULL,
    -- The appointment as it was before this change (JSON), put back if the server refuses it;
    -- NULL for a booking, which is removed instead, and for patients (a refused patient change
    -- is listed, not undone: the desk keeps what reception typed until they deal with it).
    before         TEXT,
    state          TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'refused')),
    refusal        TEXT,
    answered_at    TEXT
);
CREATE INDEX desk_pending_by_state ON desk_pending (state, seq);

-- The pending change that last wrote this appointment on this desk; NULL for a row as the clinic
-- server holds it. Any row from the server clears it; a refusal undoes only a row still marked
-- with its own change (a newer row from the server is never replaced by an older copy).
ALTER TABLE appointments ADD COLUMN provisional TEXT;
