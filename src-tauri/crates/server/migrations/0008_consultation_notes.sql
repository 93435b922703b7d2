-- A doctor's notes for a video consultation, written on their desk and sent as a command (issue 12;
-- src/consultation_notes.rs). The whole text as last saved; `version` moves on with each save so a
-- desk never lets an older copy replace a newer one. Clinical content: the feed carries it only to
-- the desks of that doctor and of administrators (changes.audience 'doctor:<id>'), and keeps only
-- the latest row per consultation (each save carries the whole text).
CREATE TABLE consultation_notes (
  appointment_id uuid PRIMARY KEY REFERENCES appointments (id),
  notes          text NOT NULL,
  version        bigint NOT NULL DEFAULT 1,
  updated_at     timestamptz NOT NULL,
  updated_by     uuid NOT NULL REFERENCES users (id),
  -- The desk the last save came from (NULL: moved with a one-desk clinic). A desk's own earlier
  -- save (its answer lost on the way back) is not a conflict with itself.
  desk_id        uuid REFERENCES desks (id)
);
-- A save made on a copy older than the server's (the same doctor wrote on two computers, one of
-- them offline) replaces the text, as the doctor's latest words; the text it replaced is kept here,
-- never lost, and the trail says so.
CREATE TABLE consultation_notes_set_aside (
  appointment_id uuid NOT NULL REFERENCES appointments (id),
  version        bigint NOT NULL,
  notes          text NOT NULL,
  updated_at     timestamptz NOT NULL,
  updated_by     uuid NOT NULL REFERENCES users (id),
  set_aside_at   timestamptz NOT NULL,
  PRIMARY KEY (appointment_id, version)
);
GRANT SELECT, INSERT, UPDATE ON consultation_notes TO clinicdesk_writer;
GRANT SELECT, INSERT ON consultation_notes_set_aside TO clinicdesk_writer;
