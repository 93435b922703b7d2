-- Recording and chat attachments for consultations run through the clinic server (issue 12), as
-- on a one-desk clinic (desk migrations: consultations' recording columns, chat_attachments).
--
-- Recording: only with the patient's agreement, recorded first by the doctor (who, when);
-- switched with the room's recording rules while the consultation runs.
ALTER TABLE consultations
  ADD COLUMN recording_consent_at timestamptz,
  ADD COLUMN recording_consent_by uuid REFERENCES users (id),
  ADD COLUMN recording            boolean NOT NULL DEFAULT false;

-- The files patients sent in the chat, kept by the server (consultations/attachments.rs) so the
-- doctor's and administrators' desks can keep them too and show them with no network. Listed
-- when the chat is kept; fetched from Twilio by the elected sender; at most 10 MB a file and
-- 20 files / 50 MB a consultation (core consultations/attachments.rs).
CREATE TABLE consultation_attachments (
  media_sid      text PRIMARY KEY CHECK (media_sid ~ '^ME[0-9a-fA-F]{32}$'),
  appointment_id uuid NOT NULL REFERENCES consultations (appointment_id),
  message_index  bigint NOT NULL,
  filename       text,
  content_type   text,
  size           bigint,
  state          text NOT NULL CHECK (state IN ('waiting', 'kept', 'too_large', 'unavailable', 'over_limit')),
  content        bytea,
  fetch_attempts integer NOT NULL DEFAULT 0,
  fetch_after    timestamptz,
  kept_at        timestamptz,
  CHECK ((state = 'kept') = (content IS NOT NULL))
);
CREATE INDEX consultation_attachments_of ON consultation_attachments (appointment_id);
CREATE INDEX consultation_attachments_waiting ON consultation_attachments (fetch_after) WHERE state = 'waiting';
-- DELETE: the clinic's chat retention removes a chat's files with it.
GRANT SELECT, INSERT, UPDATE, DELETE ON consultation_attachments TO clinicdesk_writer;
