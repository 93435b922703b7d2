-- Video consultations run through the clinic server (issue 12; src/consultations.rs): the server
-- holds the clinic's Twilio account, so it makes the room and the chat, mints the doctor's tokens
-- and ends them, for the doctor's desk. The same shape and rules as a one-desk clinic's table
-- (desk migration 0011): the intent (room name, identities: random ids, nothing that names a
-- person) is committed before the first request to Twilio and each SID as it arrives, so a start
-- stopped half-way is continued by the next, never repeated.
CREATE TABLE consultations (
  appointment_id         uuid PRIMARY KEY REFERENCES appointments (id),
  status                 text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'in_progress', 'completed')),
  room_name              text NOT NULL UNIQUE,
  doctor_identity        text NOT NULL,
  patient_identity       text NOT NULL,
  start_requested_at     timestamptz,
  room_sid               text,
  -- Rooms Twilio closed before the end (left empty, then rejoined under the same name), oldest first.
  earlier_room_sids      text[] NOT NULL DEFAULT '{}',
  conversation_sid       text,
  chat_service_sid       text,
  doctor_participant_sid text,             -- the doctor in the conversation (read receipts)
  doctor_read_index      bigint,           -- the last chat message the doctor marked read
  chat_ready_at          timestamptz,
  started_at             timestamptz,
  started_by             uuid REFERENCES users (id),
  ended_at               timestamptz,
  ended_by               uuid REFERENCES users (id),
  -- Kept at the end (clinical: fed only to the doctor's and administrators' desks): who was in the
  -- room and the whole chat, as desks keep them (core KeptParticipant / KeptMessage).
  participants           jsonb,
  chat                   jsonb,
  -- Ended while Twilio could not be reached: the record is fetched by the sender later.
  record_pending_since   timestamptz,
  -- Twilio refused a late fetch: the next waits 1, 2, 4 … minutes, at most six hours.
  record_fetch_attempts  integer NOT NULL DEFAULT 0,
  record_fetch_after     timestamptz,
  -- The clinic's chat retention (consultations.chat_retention_days) removed the chat then.
  chat_removed_at        timestamptz,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  CHECK (status = 'scheduled' OR (room_sid IS NOT NULL AND conversation_sid IS NOT NULL AND started_at IS NOT NULL)),
  CHECK (status <> 'completed' OR ended_at IS NOT NULL)
);
CREATE INDEX consultations_running ON consultations (appointment_id) WHERE status = 'in_progress';
GRANT SELECT, INSERT, UPDATE ON consultations TO clinicdesk_writer;
