-- 0014: chat attachments kept in the clinic database (issue 11), so a record shows them with no network.
--
-- A kept chat message lists its attachments' metadata (chat_messages.media); the files themselves
-- stay at Twilio's Media Content Service until consultations/attachment_fetch.rs fetches them, after
-- the end, one by one, in the background. Rows are made in the same transaction that keeps the chat.
--
-- * state: waiting (to fetch), kept (content holds the file), too_large (over the size limit: never
--   downloaded), unavailable (Twilio no longer has it, or refused it too often), over_limit (past the
--   20 files or 50 MB one consultation keeps: a patient decides what they send, not what the clinic keeps).
-- * The file lives in this (SQLCipher-encrypted) database, never as a loose file on the disk.
-- * Removed with the chat under the retention rule (consultations/retention.rs).

CREATE TABLE chat_attachments (
    media_sid       TEXT PRIMARY KEY,               -- ME...
    appointment_id  TEXT NOT NULL REFERENCES consultations(appointment_id),
    message_index   INTEGER NOT NULL,
    filename        TEXT,
    content_type    TEXT,
    size            INTEGER,                        -- bytes, as Twilio reported it
    state           TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'kept', 'too_large', 'unavailable', 'over_limit')),
    content         BLOB,
    kept_at         TEXT,
    fetch_attempts  INTEGER NOT NULL DEFAULT 0,
    fetch_after     TEXT,
    CHECK ((state = 'kept') = (content IS NOT NULL))
);
CREATE INDEX chat_attachments_of ON chat_attachments(appointment_id, message_index);
CREATE INDEX chat_attachments_waiting ON chat_attachments(fetch_after) WHERE state = 'waiting';

-- Chats kept before this version: their attachments are fetched now, if Twilio still has them.
INSERT OR IGNORE INTO chat_attachments (media_sid, appointment_id, message_index, filename, content_type, size, state)
    SELECT json_extract(j.value, '$.sid'), m.appointment_id, m.message_index,
           json_extract(j.value, '$.filename'), json_extract(j.value, '$.content_type'), json_extract(j.value, '$.size'),
           CASE WHEN coalesce(json_extract(j.value, '$.size'), 0) > 10485760 THEN 'too_large' ELSE 'waiting' END
    FROM chat_messages m, json_each(m.media) j
    WHERE m.media IS NOT NULL AND json_valid(m.media)
      AND substr(json_extract(j.value, '$.sid'), 1, 2) = 'ME'
      AND length(json_extract(j.value, '$.sid')) = 34
      AND NOT substr(json_extract(j.value, '$.sid'), 3) GLOB '*[^0-9a-fA-F]*';
