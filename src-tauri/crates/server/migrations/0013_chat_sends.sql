-- A chat message a doctor's desk sent through the server, by the desk's id for that press: asked
-- again after the answer was lost, the server answers with the message it posted instead of
-- posting it twice. `line` is NULL while the send is under way. Only needed while the
-- consultation runs: the end removes them (the kept chat is the record).
CREATE TABLE chat_sends (
  request_id     uuid PRIMARY KEY,
  appointment_id uuid NOT NULL REFERENCES consultations (appointment_id),
  line           jsonb,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_sends_of ON chat_sends (appointment_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON chat_sends TO clinicdesk_writer;
