-- A doctor's notes for a video consultation, written on their desk and sent as a command (issue 12;
-- src/consultation_notes.rs). The whole text as last saved; `version` moves on with each save so a
-- desk never lets an older copy replace a newer one. Clinical content: the feed carries it only to
-- the desks of that doctor and of administrators (changes.audience 'doctor:<id>').
CREATE TABLE consultation_notes (
  appointment_id uuid PRIMARY KEY REFERENCES appointments (id),
  notes          text NOT NULL,
  version        bigint NOT NULL DEFAULT 1,
  updated_at     timestamptz NOT NULL,
  updated_by     uuid NOT NULL REFERENCES users (id)
);
GRANT SELECT, INSERT, UPDATE ON consultation_notes TO clinicdesk_writer;
